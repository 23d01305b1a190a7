//! Colour to gray conversion (`cv2.cvtColor(.., COLOR_BGR2GRAY)`).

/// How the samples of one pixel are laid out in a decoded 8-bit buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelLayout {
    /// One gray sample per pixel.
    Gray,
    /// Gray then alpha.
    GrayAlpha,
    /// Red, green, blue.
    Rgb,
    /// Red, green, blue, alpha.
    Rgba,
}

impl ChannelLayout {
    /// Samples per pixel.
    pub fn channels(self) -> usize {
        match self {
            ChannelLayout::Gray => 1,
            ChannelLayout::GrayAlpha => 2,
            ChannelLayout::Rgb => 3,
            ChannelLayout::Rgba => 4,
        }
    }
}

/// The luma weights used to turn colour into gray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "binary", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Luma {
    /// BT.601 (0.299, 0.587, 0.114): what OpenCV uses. Bit-exact with `COLOR_BGR2GRAY`.
    #[default]
    #[cfg_attr(feature = "binary", value(help = "BT.601, OpenCV's COLOR_BGR2GRAY"))]
    Bt601,
    /// BT.709 (0.2126, 0.7152, 0.0722), same fixed-point rounding.
    #[cfg_attr(feature = "binary", value(help = "BT.709"))]
    Bt709,
}

impl Luma {
    /// Red, green and blue weights with 15 fraction bits; each set sums to 2^15 so that a gray
    /// pixel (r = g = b) maps to itself. Each fits in an i16, which the SIMD path relies on.
    pub const fn weights(self) -> [u32; 3] {
        match self {
            // OpenCV's own fixed-point weights: equal to its output for all 2^24 colours.
            Luma::Bt601 => [9798, 19235, 3735],
            Luma::Bt709 => [6966, 23436, 2366],
        }
    }
}

const ROUND: u32 = 1 << 14;
const SHIFT: u32 = 15;

#[inline(always)]
fn luma_of(p: &[u8], [wr, wg, wb]: [u32; 3]) -> u8 {
    ((wr * p[0] as u32 + wg * p[1] as u32 + wb * p[2] as u32 + ROUND) >> SHIFT) as u8
}

/// Converts an 8-bit buffer of `layout` pixels to gray, writing one sample per pixel into `out`
/// (resized to fit). Alpha is ignored, as `cv2.imread` drops it; gray input is copied unchanged.
pub fn to_gray(src: &[u8], layout: ChannelLayout, luma: Luma, out: &mut Vec<u8>) {
    let pixels = src.len() / layout.channels();
    out.clear();
    out.resize(pixels, 0);
    to_gray_into(src, layout, luma, out);
}

/// [`to_gray`] into a slice: converts the first `out.len()` pixels of `src` (fewer when `src`
/// holds fewer whole pixels; the rest of `out` is left as it was). A band of pixels converts
/// alone to what the whole conversion gives there.
pub fn to_gray_into(src: &[u8], layout: ChannelLayout, luma: Luma, out: &mut [u8]) {
    let pixels = (src.len() / layout.channels()).min(out.len());
    let out = &mut out[..pixels];
    let src = &src[..pixels * layout.channels()];
    let w = luma.weights();
    match layout {
        ChannelLayout::Gray => out.copy_from_slice(&src[..pixels]),
        ChannelLayout::GrayAlpha => {
            for (o, p) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = p[0];
            }
        }
        ChannelLayout::Rgb | ChannelLayout::Rgba => {
            let stride = layout.channels();
            let done = simd_prefix(src, stride, w, out);
            for (o, p) in out[done..]
                .iter_mut()
                .zip(src[done * stride..].chunks_exact(stride))
            {
                *o = luma_of(p, w);
            }
        }
    }
}

/// [`to_gray`], with `out`'s memory asked for fallibly: when the process cannot have it (an
/// address-space limit such as `ulimit -v`) the error comes back instead of an abort, and
/// `out` is left empty.
pub fn try_to_gray(
    src: &[u8],
    layout: ChannelLayout,
    luma: Luma,
    out: &mut Vec<u8>,
) -> Result<(), std::collections::TryReserveError> {
    out.clear();
    out.try_reserve_exact(src.len() / layout.channels())?;
    // Resizes within the capacity just reserved.
    to_gray(src, layout, luma, out);
    Ok(())
}

/// Converts an 8-bit BGR (`channels` = 3) or BGRA (`channels` = 4) buffer, OpenCV's own
/// sample order, to gray, one sample per pixel into `out` (resized to fit): bit-exact with
/// `cv2.cvtColor(.., COLOR_BGR2GRAY)` / `COLOR_BGRA2GRAY` under [`Luma::Bt601`]. For callers
/// holding OpenCV-style arrays (the Python bindings); the same kernel as [`to_gray`] with the
/// weights in blue, green, red order. Any other `channels` leaves `out` empty.
pub fn bgr_to_gray(src: &[u8], channels: usize, luma: Luma, out: &mut Vec<u8>) {
    out.clear();
    if !matches!(channels, 3 | 4) {
        return;
    }
    let pixels = src.len() / channels;
    out.resize(pixels, 0);
    let [wr, wg, wb] = luma.weights();
    let w = [wb, wg, wr];
    let done = simd_prefix(src, channels, w, out);
    for (o, p) in out[done..]
        .iter_mut()
        .zip(src[done * channels..].chunks_exact(channels))
    {
        *o = luma_of(p, w);
    }
}

/// Converts as many whole 16-pixel blocks as the SIMD path can; returns the pixels done.
fn simd_prefix(src: &[u8], stride: usize, w: [u32; 3], out: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("ssse3") {
            // SAFETY: SSSE3 is present, checked just above; the function reads and writes only
            // whole blocks inside `src` and `out`.
            return unsafe { x86::gray_blocks(src, stride, w, out) };
        }
    }
    let _ = (src, stride, w, out);
    0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Four pixels to four i32 lumas: `pmaddwd` of (R, G) pairs with (wr, wg) plus (B, 1) pairs
    /// with (wb, 2^14), shifted by 15: the scalar formula, exactly.
    #[inline(always)]
    unsafe fn four(v: __m128i, rg: __m128i, b: __m128i, w_rg: __m128i, w_b1: __m128i) -> __m128i {
        let one_hi = _mm_set1_epi32(1 << 16);
        let rg = _mm_madd_epi16(_mm_shuffle_epi8(v, rg), w_rg);
        let b1 = _mm_madd_epi16(_mm_or_si128(_mm_shuffle_epi8(v, b), one_hi), w_b1);
        _mm_srli_epi32(_mm_add_epi32(rg, b1), 15)
    }

    /// Shuffle masks taking (R, G) and B of four pixels `stride` bytes apart from byte `at`.
    fn masks(stride: usize, at: usize) -> (__m128i, __m128i) {
        let mut rg = [-1i8; 16];
        let mut b = [-1i8; 16];
        for i in 0..4 {
            let p = (at + i * stride) as i8;
            rg[i * 4] = p;
            rg[i * 4 + 2] = p + 1;
            b[i * 4] = p + 2;
        }
        // SAFETY: plain loads of 16-byte arrays.
        unsafe {
            (
                _mm_loadu_si128(rg.as_ptr() as *const __m128i),
                _mm_loadu_si128(b.as_ptr() as *const __m128i),
            )
        }
    }

    /// Converts `out.len() / 16` whole blocks of 16 pixels (3 or 4 bytes each).
    #[target_feature(enable = "ssse3")]
    pub(super) unsafe fn gray_blocks(
        src: &[u8],
        stride: usize,
        w: [u32; 3],
        out: &mut [u8],
    ) -> usize {
        let blocks = (src.len() / (16 * stride)).min(out.len() / 16);
        let w_rg = _mm_set1_epi32(((w[1] as i32) << 16) | w[0] as i32);
        let w_b1 = _mm_set1_epi32((1 << 14 << 16) | w[2] as i32);
        // Where each group of four pixels is loaded from, and where it starts in the load.
        let (loads, starts): ([usize; 4], [usize; 4]) = if stride == 3 {
            ([0, 12, 24, 32], [0, 0, 0, 4])
        } else {
            ([0, 16, 32, 48], [0, 0, 0, 0])
        };
        let m0 = masks(stride, 0);
        let m4 = masks(stride, 4);
        let pick = |s: usize| if s == 0 { m0 } else { m4 };
        let block_bytes = 16 * stride;
        for k in 0..blocks {
            let p = src.as_ptr().add(k * block_bytes);
            let mut g = [_mm_setzero_si128(); 4];
            for j in 0..4 {
                let (rg, b) = pick(starts[j]);
                let v = _mm_loadu_si128(p.add(loads[j]) as *const __m128i);
                g[j] = four(v, rg, b, w_rg, w_b1);
            }
            let lo = _mm_packs_epi32(g[0], g[1]);
            let hi = _mm_packs_epi32(g[2], g[3]);
            _mm_storeu_si128(
                out.as_mut_ptr().add(k * 16) as *mut __m128i,
                _mm_packus_epi16(lo, hi),
            );
        }
        blocks * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgr_order_gives_the_rgb_result_of_the_swapped_pixels() {
        // 37 pixels: two SIMD blocks and a scalar tail, in both 3 and 4 channel layouts.
        let rgb: Vec<[u8; 3]> = (0..37u32)
            .map(|i| [(i * 7) as u8, (i * 31 + 5) as u8, (255 - i * 3) as u8])
            .collect();
        for luma in [Luma::Bt601, Luma::Bt709] {
            let flat_rgb: Vec<u8> = rgb.iter().flatten().copied().collect();
            let mut want = Vec::new();
            to_gray(&flat_rgb, ChannelLayout::Rgb, luma, &mut want);
            let bgr: Vec<u8> = rgb.iter().flat_map(|p| [p[2], p[1], p[0]]).collect();
            let bgra: Vec<u8> = rgb.iter().flat_map(|p| [p[2], p[1], p[0], 9]).collect();
            let mut got = Vec::new();
            bgr_to_gray(&bgr, 3, luma, &mut got);
            assert_eq!(got, want);
            bgr_to_gray(&bgra, 4, luma, &mut got);
            assert_eq!(got, want);
        }
        let mut out = vec![1];
        bgr_to_gray(&[1, 2], 2, Luma::Bt601, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn gray_pixels_map_to_themselves_under_both_weight_sets() {
        for luma in [Luma::Bt601, Luma::Bt709] {
            let src: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v]).collect();
            let mut out = Vec::new();
            to_gray(&src, ChannelLayout::Rgb, luma, &mut out);
            assert_eq!(out, (0..=255u8).collect::<Vec<_>>());
        }
    }

    #[test]
    fn matches_opencv_formula_on_known_colours() {
        // (R, G, B) -> Y as OpenCV gives them (COLOR_RGB2GRAY).
        let cases = [
            ([255, 0, 0], 76),
            ([0, 255, 0], 150),
            ([0, 0, 255], 29),
            ([12, 200, 77], 130),
        ];
        for (rgb, y) in cases {
            let mut out = Vec::new();
            to_gray(&rgb, ChannelLayout::Rgb, Luma::Bt601, &mut out);
            assert_eq!(out, [y], "{rgb:?}");
        }
    }

    #[test]
    fn simd_path_equals_the_formula_for_every_colour_and_length() {
        // Every (r, g, b) with r, g, b in steps of 5, plus odd lengths for the scalar tail.
        let mut rgb = Vec::new();
        for r in (0..=255u32).step_by(5) {
            for g in (0..=255u32).step_by(5) {
                for b in (0..=255u32).step_by(3) {
                    rgb.extend([r as u8, g as u8, b as u8]);
                }
            }
        }
        for luma in [Luma::Bt601, Luma::Bt709] {
            for len in [rgb.len() / 3, 1, 15, 16, 17, 33] {
                let src = &rgb[..len * 3];
                let mut out = Vec::new();
                to_gray(src, ChannelLayout::Rgb, luma, &mut out);
                let want: Vec<u8> = src
                    .chunks_exact(3)
                    .map(|p| luma_of(p, luma.weights()))
                    .collect();
                assert_eq!(out, want, "{luma:?} rgb len {len}");
                let rgba: Vec<u8> = src
                    .chunks_exact(3)
                    .flat_map(|p| [p[0], p[1], p[2], 77])
                    .collect();
                to_gray(&rgba, ChannelLayout::Rgba, luma, &mut out);
                assert_eq!(out, want, "{luma:?} rgba len {len}");
            }
        }
    }

    #[test]
    fn alpha_is_ignored() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        to_gray(
            &[10, 20, 30, 0, 10, 20, 30, 255],
            ChannelLayout::Rgba,
            Luma::Bt601,
            &mut a,
        );
        to_gray(&[10, 20, 30], ChannelLayout::Rgb, Luma::Bt601, &mut b);
        assert_eq!(a, [b[0], b[0]]);
        to_gray(
            &[7, 0, 9, 255],
            ChannelLayout::GrayAlpha,
            Luma::Bt601,
            &mut a,
        );
        assert_eq!(a, [7, 9]);
    }
}
