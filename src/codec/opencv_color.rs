//! The colour arithmetic OpenCV's decoders do themselves (as opposed to `cvtColor`), needed to
//! read files the way `cv2.imread` does:
//! - CMYK JPEG to BGR and to gray (`icvCvt_CMYK2BGR_8u_C4C3R`, `icvCvt_CMYK2Gray_8u_C4C1R` in
//!   `imgcodecs/src/utils.cpp`), for Adobe's inverted CMYK as libjpeg hands it over;
//! - PNG read with `IMREAD_GRAYSCALE`, which OpenCV leaves to libpng's
//!   `png_set_rgb_to_gray(png, 1, 0.299, 0.587)`: 15-bit weights, truncated at 8 bits, rounded at
//!   16 bits (before the cut to 8 bits), and gray pixels passed through.

/// OpenCV's `descale` weights with 14 fractional bits (R, G, B); the same as `cvtColor`'s.
const R14: u32 = 4899;
const G14: u32 = 9617;
const B14: u32 = 1868;

/// libpng's weights for red 0.299 and green 0.587 in 15 bits: `29900 * 32768 / 100000` and
/// `58700 * 32768 / 100000` truncated; blue takes the rest of 32768.
pub(super) const R15: u32 = 9797;
pub(super) const G15: u32 = 19234;
pub(super) const B15: u32 = 32768 - R15 - G15;

/// One inverted-CMYK channel with its black: `k - ((255 - v) * k >> 8)`.
fn cmyk_channel(v: u8, k: u8) -> u32 {
    let (v, k) = (u32::from(v), u32::from(k));
    k - (((255 - v) * k) >> 8)
}

/// CMYK samples (4 per pixel) to RGB (3 per pixel) as OpenCV's JPEG reader does.
pub fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            [
                cmyk_channel(p[0], p[3]) as u8,
                cmyk_channel(p[1], p[3]) as u8,
                cmyk_channel(p[2], p[3]) as u8,
            ]
        })
        .collect()
}

/// CMYK samples to gray as OpenCV's JPEG reader does with `IMREAD_GRAYSCALE`.
pub fn cmyk_to_gray(cmyk: &[u8]) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .map(|p| {
            let (r, g, b) = (
                cmyk_channel(p[0], p[3]),
                cmyk_channel(p[1], p[3]),
                cmyk_channel(p[2], p[3]),
            );
            ((b * B14 + g * G14 + r * R14 + (1 << 13)) >> 14) as u8
        })
        .collect()
}

/// imgcodecs' own colour to gray (`icvCvt_BGR2Gray_8u_C3C1R` in `utils.cpp`), used by its BMP,
/// PNM and TIFF readers with `IMREAD_GRAYSCALE`: 14-bit weights, rounded. It differs from
/// `cvtColor`'s 15-bit weights on about 1% of colours, by one level.
pub fn utils_gray8(r: u8, g: u8, b: u8) -> u8 {
    let (r, g, b) = (u32::from(r), u32::from(g), u32::from(b));
    ((b * B14 + g * G14 + r * R14 + (1 << 13)) >> 14) as u8
}

/// libpng's 8-bit RGB to gray.
pub fn png_gray8(r: u8, g: u8, b: u8) -> u8 {
    if r == g && r == b {
        return r;
    }
    ((R15 * u32::from(r) + G15 * u32::from(g) + B15 * u32::from(b)) >> 15) as u8
}

/// libpng's 16-bit RGB to gray (rounded), then OpenCV's cut to 8 bits (`png_set_strip_16`).
pub fn png_gray16(r: u16, g: u16, b: u16) -> u8 {
    if r == g && r == b {
        return (r >> 8) as u8;
    }
    let w = (R15 * u32::from(r) + G15 * u32::from(g) + B15 * u32::from(b) + (1 << 14)) >> 15;
    (w >> 8) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_without_ink_is_white_and_full_black_is_black() {
        // Adobe CMYK is stored inverted: 255 means no ink.
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 255]), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 0]), [0, 0, 0]);
        assert_eq!(cmyk_to_gray(&[255, 255, 255, 255]), [255]);
        // 200 - (255 * 200 >> 8) = 1; 200 - (127 * 200 >> 8) = 101.
        assert_eq!(cmyk_to_rgb(&[0, 255, 128, 200]), [1, 200, 101]);
    }

    #[test]
    fn libpng_gray_truncates_at_8_bits_and_rounds_at_16() {
        assert_eq!(png_gray8(7, 7, 7), 7);
        // (9797 * 10 + 19234 * 200 + 3737 * 30) >> 15 = 4055768 >> 15 = 123.77 -> 123.
        assert_eq!(png_gray8(10, 200, 30), 123);
        assert_eq!(png_gray16(0x1234, 0x1234, 0x1234), 0x12);
        assert_eq!(png_gray16(0xFFFF, 0xFFFF, 0), 226);
    }
}
