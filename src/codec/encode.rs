//! Encoding of 8-bit gray results. PNG and GIF are written directly (1-bit PNG for two-valued
//! results, chosen deflate level); the other formats go through the `image` crate's encoders.
//!
//! Whether a result is stored as a 1-bit PNG is decided here, in [`one_bit_png`], and only
//! here: its inputs are the output format, the user's `--bit-depth` ([`crate::Settings`]'s
//! `one_bit_png`) and whether the operation's outputs are all 0 or 255
//! ([`crate::ops::Operation::is_two_valued`]).

use std::io::Cursor;

use image::{ExtendedColorType, ImageEncoder};

use super::format::OutputFormat;

/// Deflate effort for PNG output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "binary", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum PngCompression {
    /// fdeflate: several times faster than zlib's level 1, somewhat larger files.
    #[default]
    Fast,
    /// zlib-like balanced level.
    Balanced,
    /// Smallest files, slowest.
    High,
}

impl From<PngCompression> for png::Compression {
    fn from(c: PngCompression) -> Self {
        match c {
            PngCompression::Fast => png::Compression::Fast,
            PngCompression::Balanced => png::Compression::Balanced,
            PngCompression::High => png::Compression::High,
        }
    }
}

/// The 1-bit PNG decision: a result is stored in one bit per pixel when the output is PNG,
/// the user allows it (`--bit-depth auto`, the default) and every pixel the operation can give
/// is 0 or 255 (`two_valued`: the fixed binary types and the adaptive ones with maxval 0 or
/// 255). The pixels read back the same; the file is about eight times smaller.
pub fn one_bit_png(format: OutputFormat, allowed: bool, two_valued: bool) -> bool {
    format == OutputFormat::Png && allowed && two_valued
}

/// An encoder failed (only on encoder bugs or impossible sizes: the input is always valid).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {format}: {reason}")]
pub struct EncodeError {
    format: OutputFormat,
    reason: String,
}

/// Encodes the `width` x `height` gray image `gray` as `format` into `out` (cleared first).
/// `one_bit` ([`one_bit_png`]'s answer) stores a PNG in one bit per pixel: every sample must
/// then be 0 or 255; other formats ignore it.
pub fn encode(
    gray: &[u8],
    width: u32,
    height: u32,
    format: OutputFormat,
    one_bit: bool,
    compression: PngCompression,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    out.clear();
    let fail = |reason: String| EncodeError { format, reason };
    // Checked here, for every format: some encoders (and `pack_bits`) assume a picture of at
    // least one pixel whose samples fill it exactly.
    if width == 0 || height == 0 {
        return Err(fail(format!("{width} x {height} has no pixels")));
    }
    if gray.len() as u64 != u64::from(width) * u64::from(height) {
        return Err(fail(format!(
            "{} samples for {width} x {height} pixels",
            gray.len()
        )));
    }
    // Room for the whole output asked for fallibly up front (an address-space limit fails the
    // file, not the process); the encoders then write within it. The bound covers every
    // format's worst case: row padding or filter bytes, stored deflate blocks, headers.
    let raw = (u64::from(width) + 4) * u64::from(height);
    let bound = raw + raw / 16 + (64 << 10);
    usize::try_from(bound)
        .ok()
        .and_then(|n| out.try_reserve_exact(n).ok())
        .ok_or_else(|| {
            fail(format!(
                "not enough memory for the output ({bound} bytes; a memory limit such as ulimit -v?)"
            ))
        })?;
    match format {
        OutputFormat::Png => encode_png(gray, width, height, one_bit, compression, out)
            .map_err(|e| fail(e.to_string())),
        OutputFormat::Gif => encode_gif(gray, width, height, out).map_err(fail),
        OutputFormat::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut *out, 95)
            .write_image(gray, width, height, ExtendedColorType::L8)
            .map_err(|e| fail(e.to_string())),
        OutputFormat::Bmp => image::codecs::bmp::BmpEncoder::new(&mut *out)
            .write_image(gray, width, height, ExtendedColorType::L8)
            .map_err(|e| fail(e.to_string())),
        OutputFormat::Tiff => image::codecs::tiff::TiffEncoder::new(Cursor::new(&mut *out))
            .write_image(gray, width, height, ExtendedColorType::L8)
            .map_err(|e| fail(e.to_string())),
        OutputFormat::WebP => image::codecs::webp::WebPEncoder::new_lossless(&mut *out)
            .write_image(gray, width, height, ExtendedColorType::L8)
            .map_err(|e| fail(e.to_string())),
        OutputFormat::Pnm => {
            use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
            PnmEncoder::new(&mut *out)
                .with_subtype(PnmSubtype::Graymap(SampleEncoding::Binary))
                .write_image(gray, width, height, ExtendedColorType::L8)
                .map_err(|e| fail(e.to_string()))
        }
    }
}

fn encode_png(
    gray: &[u8],
    width: u32,
    height: u32,
    one_bit: bool,
    compression: PngCompression,
    out: &mut Vec<u8>,
) -> Result<(), png::EncodingError> {
    let mut enc = png::Encoder::new(&mut *out, width, height);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_compression(compression.into());
    if one_bit {
        enc.set_depth(png::BitDepth::One);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&pack_bits(gray, width as usize))?;
        writer.finish()
    } else {
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(gray)?;
        writer.finish()
    }
}

/// Packs 0/255 samples into rows of bits, most significant bit first, each row padded to a byte.
/// A sample is on when it is not 0.
pub fn pack_bits(gray: &[u8], width: usize) -> Vec<u8> {
    let mut packed = Vec::new();
    pack_bits_into(gray, width, &mut packed);
    packed
}

/// [`pack_bits`], appending to `packed`.
pub fn pack_bits_into(gray: &[u8], width: usize, packed: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let row_bytes = width.div_ceil(8);
    packed.reserve(row_bytes * (gray.len() / width));
    for row in gray.chunks_exact(width) {
        let mut groups = row.chunks_exact(8);
        for group in &mut groups {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(group);
            packed.push(pack8(u64::from_le_bytes(eight)));
        }
        let rest = groups.remainder();
        if !rest.is_empty() {
            let mut eight = [0u8; 8];
            eight[..rest.len()].copy_from_slice(rest);
            packed.push(pack8(u64::from_le_bytes(eight)));
        }
    }
}

/// Eight samples (the first in the lowest byte) to one byte, the first in the highest bit,
/// without a branch or a loop: a sample-by-sample loop was 8% of a `--read gray` run.
#[inline(always)]
fn pack8(x: u64) -> u8 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // 0x80 in every byte that is not 0 (no carry crosses a byte: 0x7f + 0x7f < 0x100).
    let on = (x | ((x & LOW7) + LOW7)) & !LOW7;
    // Bit 8i moves to bit 63 - i; no two products meet below bit 64.
    ((on >> 7).wrapping_mul(0x8040_2010_0804_0201) >> 56) as u8
}

fn encode_gif(gray: &[u8], width: u32, height: u32, out: &mut Vec<u8>) -> Result<(), String> {
    let (w, h) = match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err(format!("{width} x {height} exceeds GIF's 65535 limit")),
    };
    let palette: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v]).collect();
    let mut encoder = gif::Encoder::new(&mut *out, w, h, &palette).map_err(|e| e.to_string())?;
    let frame = gif::Frame {
        width: w,
        height: h,
        buffer: std::borrow::Cow::Borrowed(gray),
        ..gif::Frame::default()
    };
    encoder.write_frame(&frame).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode::{decode, DecodeLimits};

    fn roundtrip(format: OutputFormat, one_bit: bool, gray: &[u8], w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode(gray, w, h, format, one_bit, PngCompression::Fast, &mut out).unwrap();
        let img = decode(&out, &DecodeLimits::default()).unwrap();
        assert_eq!((img.width, img.height), (w, h));
        let mut g = Vec::new();
        crate::ops::to_gray(&img.data, img.layout, crate::ops::Luma::Bt601, &mut g);
        g
    }

    #[test]
    fn lossless_formats_round_trip_exactly() {
        let gray: Vec<u8> = (0..13 * 7).map(|i| (i * 37 % 256) as u8).collect();
        for f in [
            OutputFormat::Png,
            OutputFormat::Bmp,
            OutputFormat::Tiff,
            OutputFormat::WebP,
            OutputFormat::Pnm,
            OutputFormat::Gif,
        ] {
            assert_eq!(roundtrip(f, false, &gray, 13, 7), gray, "{f}");
        }
    }

    #[test]
    fn one_bit_png_reads_back_as_0_and_255() {
        let gray: Vec<u8> = (0..11 * 3)
            .map(|i| if i % 3 == 0 { 255 } else { 0 })
            .collect();
        assert_eq!(roundtrip(OutputFormat::Png, true, &gray, 11, 3), gray);
    }

    #[test]
    fn empty_or_mismatched_pictures_are_errors_not_panics() {
        let mut out = Vec::new();
        for one_bit in [false, true] {
            for (w, h, n) in [(0, 5, 0), (5, 0, 0), (0, 0, 0), (4, 4, 15), (4, 4, 17)] {
                let gray = vec![255u8; n];
                let e = encode(
                    &gray,
                    w,
                    h,
                    OutputFormat::Png,
                    one_bit,
                    PngCompression::Fast,
                    &mut out,
                );
                assert!(e.is_err(), "{w} x {h} with {n} samples");
            }
        }
        assert!(pack_bits(&[], 0).is_empty());
    }

    #[test]
    fn bits_are_packed_first_sample_highest_and_rows_padded() {
        // Against the definition, on every width up to 40 and samples of every value.
        let samples: Vec<u8> = (0..40 * 7)
            .map(|i| ((i * 37 + i / 3) % 7 * 50) as u8)
            .collect();
        for width in 1..=40usize {
            let gray = &samples[..width * 7];
            let want: Vec<u8> = gray
                .chunks_exact(width)
                .flat_map(|row| {
                    row.chunks(8).map(|g| {
                        g.iter()
                            .enumerate()
                            .fold(0u8, |b, (i, &v)| b | (u8::from(v != 0) << (7 - i)))
                    })
                })
                .collect();
            assert_eq!(pack_bits(gray, width), want, "width {width}");
        }
        assert_eq!(
            pack8(u64::from_le_bytes([255, 0, 1, 0, 0, 0, 0, 128])),
            0b1010_0001
        );
    }

    #[test]
    fn jpeg_is_close() {
        let gray = vec![128u8; 64];
        let back = roundtrip(OutputFormat::Jpeg, false, &gray, 8, 8);
        assert!(back.iter().all(|&v| v.abs_diff(128) <= 1));
    }
}
