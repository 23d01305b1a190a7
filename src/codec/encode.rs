//! Encoding of 8-bit gray results. PNG and GIF are written directly (1-bit PNG for two-valued
//! results, chosen deflate level); the other formats go through the `image` crate's encoders.

use std::io::Cursor;

use image::{ExtendedColorType, ImageEncoder};

use super::format::OutputFormat;

/// Deflate effort for PNG output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
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

/// An encoder failed (only on encoder bugs or impossible sizes: the input is always valid).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {format}: {reason}")]
pub struct EncodeError {
    format: OutputFormat,
    reason: String,
}

/// Encodes the `width` x `height` gray image `gray` as `format` into `out` (cleared first).
/// `one_bit` stores a PNG in one bit per pixel: every sample must then be 0 or 255.
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
pub fn pack_bits(gray: &[u8], width: usize) -> Vec<u8> {
    let row_bytes = width.div_ceil(8);
    let mut packed = Vec::with_capacity(row_bytes * gray.len() / width.max(1));
    for row in gray.chunks_exact(width) {
        for group in row.chunks(8) {
            let mut byte = 0u8;
            for (i, &v) in group.iter().enumerate() {
                byte |= u8::from(v != 0) << (7 - i);
            }
            packed.push(byte);
        }
    }
    packed
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
    fn jpeg_is_close() {
        let gray = vec![128u8; 64];
        let back = roundtrip(OutputFormat::Jpeg, false, &gray, 8, 8);
        assert!(back.iter().all(|&v| v.abs_diff(128) <= 1));
    }
}
