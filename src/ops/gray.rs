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
#[serde(rename_all = "lowercase")]
pub enum Luma {
    /// BT.601 (0.299, 0.587, 0.114): what OpenCV uses. Bit-exact with `COLOR_BGR2GRAY`.
    #[default]
    Bt601,
    /// BT.709 (0.2126, 0.7152, 0.0722), same fixed-point rounding.
    Bt709,
}

impl Luma {
    /// Red, green and blue weights with 15 fraction bits; each set sums to 2^15 so that a gray
    /// pixel (r = g = b) maps to itself.
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

/// Converts an 8-bit buffer of `layout` pixels to gray, writing one sample per pixel into `out`
/// (cleared first). Alpha is ignored, as `cv2.imread` drops it; gray input is copied unchanged.
pub fn to_gray(src: &[u8], layout: ChannelLayout, luma: Luma, out: &mut Vec<u8>) {
    out.clear();
    let [wr, wg, wb] = luma.weights();
    match layout {
        ChannelLayout::Gray => out.extend_from_slice(src),
        ChannelLayout::GrayAlpha => out.extend(src.chunks_exact(2).map(|p| p[0])),
        ChannelLayout::Rgb => out.extend(src.chunks_exact(3).map(|p| {
            ((wr * p[0] as u32 + wg * p[1] as u32 + wb * p[2] as u32 + ROUND) >> SHIFT) as u8
        })),
        ChannelLayout::Rgba => out.extend(src.chunks_exact(4).map(|p| {
            ((wr * p[0] as u32 + wg * p[1] as u32 + wb * p[2] as u32 + ROUND) >> SHIFT) as u8
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
