//! OpenCV's own PBM/PGM/PPM reader (`imgcodecs/src/grfmt_pxm.cpp`), reproduced because its
//! sample values are not the `image` crate's whenever the maximum value is not 255 or 65535.
//! The rules, each checked against `cv2.imread` by `tools/diff_formats.py` and the fixtures of
//! `tools/gen_read_fixtures.py`:
//! - The signature is `P1` to `P6` followed by white space (`P7`, PAM, is left to the `image`
//!   crate). Numbers are decimal digits; white space and `#` comments (to the end of the line)
//!   may come before each; anything else there is an error. Each number is ended by one byte,
//!   which is consumed (so binary data starts right after the one byte ending the maximum
//!   value, and an ASCII file whose last number ends the file is refused). Width, height and
//!   the maximum value must be above 0, the maximum at most 65535.
//! - A maximum up to 255 is 8-bit: ASCII samples are clamped to it and scaled to
//!   `v * 255 / max` (truncated); binary samples are taken as they are, NOT scaled, even above
//!   the maximum.
//! - A maximum above 255 is 16-bit: ASCII samples are clamped to it, binary ones taken as they
//!   are (big-endian); both are then cut to 8 bits with `>> 8`, NOT scaled to the maximum.
//! - P1 reads one digit per pixel (white space optional), non-zero is black; P4 is packed bits,
//!   1 is black, rows padded to bytes.
//! - Gray files give gray in both read modes; colour files give RGB, or imgcodecs' 14-bit
//!   weighted gray with `IMREAD_GRAYSCALE`.

use crate::ops::ChannelLayout;

use super::decode::{check_size, try_capacity, DecodeError, DecodeLimits, DecodedImage, ReadMode};
use super::opencv_color::utils_gray8;

fn refuse(reason: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt {
        format: "PNM",
        reason: reason.into(),
    }
}

fn truncated() -> DecodeError {
    refuse("file is truncated (unexpected end of data)")
}

/// C's `isspace` in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// A read position in the file, as OpenCV's byte stream.
struct Stream<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Stream<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// OpenCV's `ReadNumber`: skips white space and comments, reads digits (at most
    /// `max_digits` when not 0) and consumes the byte after the last digit unless the digit
    /// limit stopped it.
    fn number(&mut self, max_digits: u32) -> Result<u32, DecodeError> {
        let mut code = self.byte()?;
        while !code.is_ascii_digit() {
            if code == b'#' {
                while !matches!(code, b'\n' | b'\r') {
                    code = self.byte()?;
                }
                code = self.byte()?;
            } else if is_space(code) {
                while is_space(code) {
                    code = self.byte()?;
                }
            } else {
                return Err(refuse(format!(
                    "unexpected byte {code:#04x} where a number should be"
                )));
            }
        }
        let mut val: u64 = 0;
        let mut digits = 0;
        loop {
            val = val * 10 + u64::from(code - b'0');
            if val > i32::MAX as u64 {
                return Err(refuse("a number in the file is too large"));
            }
            digits += 1;
            if max_digits != 0 && digits >= max_digits {
                break;
            }
            code = self.byte()?;
            if !code.is_ascii_digit() {
                break;
            }
        }
        Ok(val as u32)
    }
}

/// What a P1-P6 header says, and where its data starts.
pub(crate) struct Header {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 3 for P3 and P6, else 1.
    pub channels: u8,
    kind: u8,
    maxval: u32,
    data_at: usize,
}

/// Reads a P1-P6 header as OpenCV does (for the decoder, and for the probe: the `image` crate
/// refuses headers OpenCV reads), or `Ok(None)` for a PAM (`P7`).
pub(crate) fn header(bytes: &[u8]) -> Result<Option<Header>, DecodeError> {
    let kind = match bytes {
        [b'P', k @ b'1'..=b'6', s, ..] if is_space(*s) => *k,
        [b'P', b'7', ..] => return Ok(None),
        _ => {
            return Err(refuse(
                "not a P1-P6 header (OpenCV wants white space after it)",
            ))
        }
    };
    let mut s = Stream { bytes, pos: 2 };
    let bilevel = matches!(kind, b'1' | b'4');
    let width = s.number(0)?;
    let height = s.number(0)?;
    let maxval = if bilevel { 1 } else { s.number(0)? };
    if maxval == 0 || maxval > 65535 {
        return Err(refuse(format!(
            "maximum value {maxval} (OpenCV reads 1 to 65535)"
        )));
    }
    Ok(Some(Header {
        width,
        height,
        channels: if matches!(kind, b'3' | b'6') { 3 } else { 1 },
        kind,
        maxval,
        data_at: s.pos,
    }))
}

/// Decodes a P1-P6 file as `cv2.imread` does, or `Ok(None)` for a PAM (`P7`), which the `image`
/// crate reads.
pub(crate) fn decode(
    bytes: &[u8],
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<Option<DecodedImage>, DecodeError> {
    let Some(Header {
        width,
        height,
        channels,
        kind,
        maxval,
        data_at,
    }) = header(bytes)?
    else {
        return Ok(None);
    };
    let channels = usize::from(channels);
    let binary = kind >= b'4';
    let bilevel = matches!(kind, b'1' | b'4');
    let mut s = Stream {
        bytes,
        pos: data_at,
    };
    check_size(width, height, limits)?;
    let (w, h) = (width as usize, height as usize);
    let wide = maxval > 255;
    let left = bytes.len() - s.pos;
    // Bounded reads: what the header announces must be in the file before any pixel memory is
    // taken (an ASCII sample takes at least a digit and the byte ending it; P1's one digit).
    // In u128: with a large --max-pixels the products may pass u64.
    let all = u128::from(width) * u128::from(height) * channels as u128;
    let needed = match (binary, bilevel) {
        (true, true) => u128::from(width.div_ceil(8)) * u128::from(height),
        (true, false) => all * if wide { 2 } else { 1 },
        (false, true) => all,
        (false, false) => all * 2,
    };
    if needed > left as u128 {
        return Err(refuse(format!(
            "file is truncated ({w} x {h} pixels need at least {needed} bytes of data, {left} left)"
        )));
    }
    let samples = usize::try_from(all).map_err(|_| DecodeError::OutOfMemory {
        what: "decoded pixels",
        bytes: u64::try_from(all).unwrap_or(u64::MAX),
    })?;
    let mut data = try_capacity(samples, "decoded pixels")?;
    // 8-bit ASCII samples: clamped, then `v * 255 / max`; P1's 1 is black.
    let scale = |v: u32| (v.min(maxval) * 255 / maxval) as u8;
    match (binary, bilevel) {
        (false, true) => {
            for _ in 0..samples {
                data.push(if s.number(1)? != 0 { 0 } else { 255 });
            }
        }
        (true, true) => {
            let pitch = w.div_ceil(8);
            for row in bytes[s.pos..s.pos + pitch * h].chunks_exact(pitch) {
                data.extend((0..w).map(|x| {
                    if row[x / 8] & (0x80 >> (x % 8)) != 0 {
                        0
                    } else {
                        255
                    }
                }));
            }
        }
        (false, false) => {
            for _ in 0..samples {
                let v = s.number(0)?;
                data.push(if wide {
                    (v.min(maxval) >> 8) as u8
                } else {
                    scale(v)
                });
            }
        }
        (true, false) if wide => data.extend(
            bytes[s.pos..s.pos + samples * 2]
                .chunks_exact(2)
                .map(|p| p[0]),
        ),
        (true, false) => data.extend_from_slice(&bytes[s.pos..s.pos + samples]),
    }
    let (layout, data) = match (channels, mode) {
        (1, _) => (ChannelLayout::Gray, data),
        (_, ReadMode::Color) => (ChannelLayout::Rgb, data),
        (_, ReadMode::Gray) => (
            ChannelLayout::Gray,
            data.chunks_exact(3)
                .map(|p| utils_gray8(p[0], p[1], p[2]))
                .collect(),
        ),
    };
    Ok(Some(DecodedImage {
        width,
        height,
        layout,
        data,
        warnings: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
        decode(bytes, &DecodeLimits::default(), ReadMode::Gray).map(|i| i.unwrap().data)
    }

    #[test]
    fn ascii_samples_are_scaled_binary_ones_are_not() {
        // 50 of 100 is 127 in ASCII (50 * 255 / 100 = 127.5, truncated); 200 is clamped.
        assert_eq!(gray(b"P2\n3 1\n100\n50 200 0\n").unwrap(), [127, 255, 0]);
        // Binary: taken as they are, above the maximum too.
        assert_eq!(gray(b"P5\n3 1\n100\n\x32\xC8\x00").unwrap(), [50, 200, 0]);
        // 16-bit: cut to 8 bits, not scaled to the maximum.
        assert_eq!(gray(b"P5 1 1 1000 \x03\xE8").unwrap(), [3]);
        assert_eq!(gray(b"P2 2 1 1000 1000 4000\n").unwrap(), [3, 3]);
    }

    #[test]
    fn bilevel_one_is_black() {
        assert_eq!(gray(b"P1\n# c\n3 1\n1 01").unwrap(), [0, 255, 0]);
        assert_eq!(gray(b"P4\n3 1\n\xA0").unwrap(), [0, 255, 0]);
    }

    #[test]
    fn refuses_what_opencv_refuses() {
        for bad in [
            &b"P2\n2 1\n255\n7 9"[..],
            b"P5\n2 1\n255\n\x07",
            b"P2\n2 1\n255\n7 -9\n",
            b"P5\n2 1\n0\n\x07\x09",
            b"P5\n2 1\n65536\n\x07\x09",
            b"P5x2 1 255 \x07\x09",
        ] {
            assert!(gray(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(gray(b"P5 2 1 255 \x07\x09").unwrap(), [7, 9]);
    }

    #[test]
    fn a_huge_header_on_a_tiny_file_is_refused_before_any_allocation() {
        let no_limit = DecodeLimits {
            max_pixels: u64::MAX,
        };
        for file in [
            &b"P6 2147483647 2147483647 65535 \x00"[..],
            b"P3 2147483647 2147483647 9 ",
        ] {
            let e = decode(file, &no_limit, ReadMode::Color)
                .unwrap_err()
                .to_string();
            assert!(e.contains("file is truncated"), "{e}");
        }
    }
}
