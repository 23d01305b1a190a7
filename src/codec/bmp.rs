//! OpenCV's own BMP reader (`imgcodecs/src/grfmt_bmp.cpp`, as opencv-python 5.0 builds it),
//! reproduced for the files whose pixels the `image` crate would make differently: every 16-
//! and 32-bit BMP. The rules, each checked against `cv2.imread` with files made by
//! `tools/gen_read_fixtures.py`:
//! - The header is read as OpenCV reads it, and refused where OpenCV refuses it: a header size
//!   other than 12 or at least 36, a compression other than 0-3 (BI_ALPHABITFIELDS, JPEG and PNG
//!   inside a BMP), a width not above 0, a height of 0, and combinations other than 1/4/8/24/32
//!   bits with BI_RGB, 16/32 bits with BI_BITFIELDS, 4 bits RLE4 and 8 bits RLE8.
//! - 16 bits: BI_RGB is 5-5-5; BI_BITFIELDS must have exactly the 5-5-5 or 5-6-5 masks, read
//!   from right after the header (so a 16-bit file with a V4 or V5 header, whose masks sit inside
//!   it, is refused). Each channel is its bits shifted to the top of the byte, not rescaled
//!   (31 becomes 248); gray is imgcodecs' 14-bit weights on those.
//! - 32 bits with BI_BITFIELDS and a header of at least 56 bytes (masks inside it), all three
//!   colour masks non-zero: each channel is `(uchar)(v * (255.0f / max))` in f32, truncated, and
//!   gray `(uchar)(0.299f R + 0.587f G + 0.114f B)` in f32, in that order, on those.
//! - Other 32-bit files (BI_RGB, or BI_BITFIELDS with a 40- or 52-byte header, whose masks OpenCV
//!   never reads): the bytes are B, G, R, A whatever the masks say; gray the 14-bit weights.
//! - The planes field is never looked at (OpenCV reads it and the bit count as one DWORD and
//!   keeps the bit count): any value reads as 1 would ([`odd_planes_at`]).
//! - The pixel data starts at the file header's offset (even one inside the header) and every
//!   row, padding included, must be in the file: one byte short and OpenCV reads nothing.

use crate::ops::ChannelLayout;

use super::decode::{check_size, try_capacity, DecodeError, DecodeLimits, DecodedImage, ReadMode};
use super::opencv_color::utils_gray8;

/// How a 16- or 32-bit BMP's pixels become 8-bit colour samples.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pixels {
    /// 16 bits, 5-5-5 (BI_RGB, or these masks).
    Rgb555,
    /// 16 bits, 5-6-5 masks.
    Rgb565,
    /// 32 bits read as the bytes B, G, R, A.
    Bgra,
    /// 32 bits through the red, green and blue masks.
    Masked([Channel; 3]),
}

/// One colour mask of a 32-bit BI_BITFIELDS file, as OpenCV prepares it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Channel {
    mask: u32,
    shift: u32,
    /// `255.0f / (mask >> shift)`, in f32 as OpenCV computes it.
    scale: f32,
}

impl Channel {
    /// `None` for an empty mask: OpenCV then ignores all the masks.
    fn new(mask: u32) -> Option<Self> {
        (mask != 0).then(|| {
            let shift = mask.trailing_zeros();
            Self {
                mask,
                shift,
                scale: 255.0f32 / (mask >> shift) as f32,
            }
        })
    }

    fn sample(&self, data: u32) -> u8 {
        // The product never reaches 256: the value is at most the mask's, and the scale takes
        // that to 255 (give or take f32's rounding); `as` truncates as C's conversion does.
        (((data & self.mask) >> self.shift) as f32 * self.scale) as u8
    }
}

/// A 16- or 32-bit BMP as OpenCV reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Header {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    top_down: bool,
    /// Where the first stored row starts.
    offset: u64,
    pixels: Pixels,
}

/// What OpenCV makes of a BMP's header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Route {
    /// A 16- or 32-bit file: read here.
    Own(Header),
    /// An RLE4 or RLE8 file: read here (`bmp_rle.rs`), for the pixels the runs skip.
    Rle(super::bmp_rle::RleHeader),
    /// A 1-, 4-, 8- or 24-bit file OpenCV accepts: left to the `image` crate, whose pixels
    /// match OpenCV's there.
    Other,
}

pub(super) fn refuse(reason: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt {
        format: "BMP",
        reason: reason.into(),
    }
}

fn truncated_header() -> DecodeError {
    refuse("file is truncated (the header ends early)")
}

/// Reads a BMP's header (`bytes` starts with `BM`) the way OpenCV's `BmpDecoder::readHeader`
/// does, refusing what it refuses.
pub(crate) fn header(bytes: &[u8]) -> Result<Route, DecodeError> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(truncated_header)
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(truncated_header)
    };
    let offset = u32_at(10)? as i32;
    let size = u32_at(14)? as i32;
    let (width, height, bpp, compression, masks32) = if size >= 36 {
        let compression = u32_at(30)? as i32;
        if !(0..=3).contains(&compression) {
            return Err(refuse(format!(
                "compression {compression} (OpenCV reads only BI_RGB, RLE8, RLE4 and BI_BITFIELDS)"
            )));
        }
        let clr_used = u32_at(46)? as i32;
        let bpp = u16_at(28)?;
        if bpp <= 8 && !(0..=256).contains(&clr_used) {
            return Err(refuse(format!("{clr_used} palette entries (at most 256)")));
        }
        // The 32-bit masks are read only from a header long enough to hold them.
        let masks32 = if bpp == 32 && compression == 3 && size >= 56 {
            Some([u32_at(54)?, u32_at(58)?, u32_at(62)?])
        } else {
            None
        };
        let (width, height) = (u32_at(18)? as i32, u32_at(22)? as i32);
        (width, height, bpp, compression, masks32)
    } else if size == 12 {
        // The OS/2 core header: unsigned 16-bit sizes, no compression.
        let (width, height) = (i32::from(u16_at(18)?), i32::from(u16_at(20)?));
        (width, height, u16_at(24)?, 0, None)
    } else {
        return Err(refuse(format!(
            "a {size}-byte info header (OpenCV reads 12 bytes or at least 36)"
        )));
    };
    let accepted = width > 0
        && height != 0
        && match (bpp, compression) {
            (1 | 4 | 8 | 24 | 32, 0) | (4, 2) | (8, 1) => true,
            // The core header has no compression field and no 16-bit pixels.
            (16, 0 | 3) | (32, 3) => size >= 36,
            _ => false,
        };
    if !accepted {
        return Err(refuse(format!(
            "{width} x {height} pixels at {bpp} bits per pixel with compression {compression}, \
             a combination OpenCV does not read"
        )));
    }
    if offset < 0 {
        return Err(refuse(format!("pixel data offset {offset}")));
    }
    let pixels = match (bpp, compression) {
        (16, 0) => Pixels::Rgb555,
        (16, _) => {
            // Right after the header, whatever its size.
            let at = 14 + size as usize;
            match [u32_at(at)?, u32_at(at + 4)?, u32_at(at + 8)?] {
                [0x7C00, 0x3E0, 0x1F] => Pixels::Rgb555,
                [0xF800, 0x7E0, 0x1F] => Pixels::Rgb565,
                [r, g, b] => {
                    return Err(refuse(format!(
                        "16-bit with bit-field masks {r:#x}, {g:#x}, {b:#x} (OpenCV reads them \
                         from right after the {size}-byte header and takes only 5-5-5 and 5-6-5)"
                    )))
                }
            }
        }
        (32, _) => match masks32.map(|m| m.map(Channel::new)) {
            Some([Some(r), Some(g), Some(b)]) => Pixels::Masked([r, g, b]),
            _ => Pixels::Bgra,
        },
        (4, 2) | (8, 1) => {
            let clr_used = u32_at(46)? as usize;
            return Ok(Route::Rle(super::bmp_rle::RleHeader {
                width: width as u32,
                height: height.unsigned_abs(),
                top_down: height < 0,
                offset: offset as u64,
                bpp: bpp as u8,
                palette_at: 14 + size as usize,
                entries: if clr_used == 0 { 1 << bpp } else { clr_used },
            }));
        }
        _ => return Ok(Route::Other),
    };
    Ok(Route::Own(Header {
        width: width as u32,
        height: height.unsigned_abs(),
        top_down: height < 0,
        offset: offset as u64,
        pixels,
    }))
}

impl Header {
    fn bytes_per_pixel(&self) -> u64 {
        match self.pixels {
            Pixels::Rgb555 | Pixels::Rgb565 => 2,
            Pixels::Bgra | Pixels::Masked(_) => 4,
        }
    }

    /// One stored row, padded to 4 bytes.
    fn pitch(&self) -> u64 {
        (u64::from(self.width) * self.bytes_per_pixel() + 3) & !3
    }

    /// Red, green and blue of the pixel stored at `p` (its 2 or 4 bytes).
    fn rgb(&self, p: &[u8]) -> [u8; 3] {
        match self.pixels {
            Pixels::Rgb555 | Pixels::Rgb565 => {
                let t = u16::from_le_bytes([p[0], p[1]]);
                let b = (t << 3) as u8 & 0xF8;
                if self.pixels == Pixels::Rgb555 {
                    [(t >> 7) as u8 & 0xF8, (t >> 2) as u8 & 0xF8, b]
                } else {
                    [(t >> 8) as u8 & 0xF8, (t >> 3) as u8 & 0xFC, b]
                }
            }
            Pixels::Bgra => [p[2], p[1], p[0]],
            Pixels::Masked([r, g, b]) => {
                let data = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                [r.sample(data), g.sample(data), b.sample(data)]
            }
        }
    }

    /// The gray OpenCV's reader makes of the pixel stored at `p` with `IMREAD_GRAYSCALE`.
    fn gray(&self, p: &[u8]) -> u8 {
        let [r, g, b] = self.rgb(p);
        match self.pixels {
            Pixels::Masked(_) => {
                (0.299f32 * f32::from(r) + 0.587f32 * f32::from(g) + 0.114f32 * f32::from(b)) as u8
            }
            _ => utils_gray8(r, g, b),
        }
    }
}

/// Where a BMP's planes field is (`bytes` starts with `BM`), when it holds anything but 1.
/// OpenCV reads the planes and bit-count fields as one DWORD and keeps only the bit count, so
/// it reads such a file as if the field said 1; the `image` crate refuses it.
pub(crate) fn odd_planes_at(bytes: &[u8]) -> Option<usize> {
    let size = u32::from_le_bytes(bytes.get(14..18)?.try_into().ok()?);
    // After width and height: 16-bit ones in the 12-byte core header, 32-bit ones otherwise.
    let at = if size == 12 { 22 } else { 26 };
    let planes = u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?);
    (planes != 1).then_some(at)
}

/// Decodes a BMP as `cv2.imread` does, or `Ok(None)` for the 1- to 24-bit files OpenCV accepts,
/// which the `image` crate reads.
pub(crate) fn decode(
    bytes: &[u8],
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<Option<DecodedImage>, DecodeError> {
    let h = match header(bytes)? {
        Route::Own(h) => h,
        Route::Rle(h) => return super::bmp_rle::decode(bytes, &h, limits, mode).map(Some),
        Route::Other => return Ok(None),
    };
    check_size(h.width, h.height, limits)?;
    let pitch = h.pitch();
    // Checked: with a large --max-pixels the product could pass u64 (it is then too long).
    let fits = pitch
        .checked_mul(u64::from(h.height))
        .and_then(|n| n.checked_add(h.offset))
        .is_some_and(|end| end <= bytes.len() as u64);
    if !fits {
        return Err(refuse(format!(
            "file is truncated ({} rows of {pitch} bytes from byte {} are more than the {} bytes \
             of the file)",
            h.height,
            h.offset,
            bytes.len()
        )));
    }
    let (width, height) = (h.width as usize, h.height as usize);
    // Both within the file's length, checked just above.
    let (pitch, offset) = (pitch as usize, h.offset as usize);
    let bpp = h.bytes_per_pixel() as usize;
    let (layout, channels) = match mode {
        ReadMode::Color => (ChannelLayout::Rgb, 3),
        ReadMode::Gray => (ChannelLayout::Gray, 1),
    };
    let mut data = try_capacity(width * height * channels, "decoded pixels")?;
    for y in 0..height {
        let stored = if h.top_down { y } else { height - 1 - y };
        let start = offset + stored * pitch;
        let row = bytes[start..start + width * bpp].chunks_exact(bpp);
        match mode {
            ReadMode::Color => row.for_each(|p| data.extend_from_slice(&h.rgb(p))),
            ReadMode::Gray => data.extend(row.map(|p| h.gray(p))),
        }
    }
    Ok(Some(DecodedImage {
        width: h.width,
        height: h.height,
        layout,
        data,
        warnings: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_other_than_one_are_found_in_both_header_kinds() {
        let mut info = b"BM".to_vec();
        info.resize(14, 0);
        info.extend_from_slice(&40u32.to_le_bytes());
        info.resize(30, 0);
        for (planes, want) in [
            (1u16, None),
            (0, Some(26)),
            (2, Some(26)),
            (0xFFFF, Some(26)),
        ] {
            info[26..28].copy_from_slice(&planes.to_le_bytes());
            assert_eq!(odd_planes_at(&info), want, "{planes}");
        }
        let mut core = b"BM".to_vec();
        core.resize(14, 0);
        core.extend_from_slice(&12u32.to_le_bytes());
        core.extend_from_slice(&[3, 0, 2, 0, 3, 0, 24, 0]);
        assert_eq!(odd_planes_at(&core), Some(22));
        core[22] = 1;
        assert_eq!(odd_planes_at(&core), None);
        // Cut before the field: nothing to patch (the header check refuses it).
        assert_eq!(odd_planes_at(&info[..27]), None);
    }

    /// A BMP with a `hsize`-byte info header (the masks inside it, or right after a 40-byte
    /// one) and `rows` as stored.
    fn bmp(
        hsize: u32,
        w: i32,
        h: i32,
        bpp: u16,
        comp: u32,
        masks: [u32; 3],
        rows: &[u8],
    ) -> Vec<u8> {
        let mut info = Vec::new();
        info.extend_from_slice(&hsize.to_le_bytes());
        info.extend_from_slice(&w.to_le_bytes());
        info.extend_from_slice(&h.to_le_bytes());
        info.extend_from_slice(&1u16.to_le_bytes());
        info.extend_from_slice(&bpp.to_le_bytes());
        info.extend_from_slice(&comp.to_le_bytes());
        info.resize(40, 0);
        for m in masks {
            info.extend_from_slice(&m.to_le_bytes());
        }
        info.resize(hsize.max(40) as usize + if hsize == 40 { 12 } else { 0 }, 0);
        let offset = 14 + info.len() as u32;
        let mut out = b"BM".to_vec();
        out.extend_from_slice(&(offset + rows.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&info);
        out.extend_from_slice(rows);
        out
    }

    fn read(bytes: &[u8], mode: ReadMode) -> Result<Option<DecodedImage>, DecodeError> {
        decode(bytes, &DecodeLimits::default(), mode)
    }

    #[test]
    fn five_bit_channels_are_shifted_not_rescaled() {
        // 0x7FFF: white in 5-5-5 reads as 248, 248, 248; 0xFFFF in 5-6-5 as 248, 252, 248.
        let rows = [0xFF, 0x7F, 0, 0];
        let img = read(&bmp(40, 1, 1, 16, 0, [0; 3], &rows), ReadMode::Color).unwrap();
        assert_eq!(img.unwrap().data, [248, 248, 248]);
        let rows = [0xFF, 0xFF, 0, 0];
        let file = bmp(40, 1, 1, 16, 3, [0xF800, 0x7E0, 0x1F], &rows);
        assert_eq!(
            read(&file, ReadMode::Color).unwrap().unwrap().data,
            [248, 252, 248]
        );
        // (1868 * 248 + 9617 * 252 + 4899 * 248 + 8192) >> 14 = 250.
        assert_eq!(read(&file, ReadMode::Gray).unwrap().unwrap().data, [250]);
    }

    #[test]
    fn ten_bit_masks_scale_in_f32_and_truncate() {
        // Red 1023, green 512, blue 1 under 10-10-10 masks in a 56-byte header.
        let px: u32 = (1023 << 20) | (512 << 10) | 1;
        let file = bmp(
            56,
            1,
            1,
            32,
            3,
            [0x3FF0_0000, 0xF_FC00, 0x3FF],
            &px.to_le_bytes(),
        );
        // 512 * (255 / 1023) = 127.6 -> 127; 1 * 0.249 -> 0.
        assert_eq!(
            read(&file, ReadMode::Color).unwrap().unwrap().data,
            [255, 127, 0]
        );
        // 0.299 * 255 + 0.587 * 127 = 150.8 -> 150.
        assert_eq!(read(&file, ReadMode::Gray).unwrap().unwrap().data, [150]);
        // The same file with a 40-byte header: the masks are never read, the bytes are B, G, R.
        let file = bmp(
            40,
            1,
            1,
            32,
            3,
            [0x3FF0_0000, 0xF_FC00, 0x3FF],
            &px.to_le_bytes(),
        );
        let [b, g, r, _] = px.to_le_bytes();
        assert_eq!(
            read(&file, ReadMode::Color).unwrap().unwrap().data,
            [r, g, b]
        );
    }

    #[test]
    fn what_opencv_refuses_is_refused_with_a_reason() {
        let two = [0u8; 4];
        let cases = [
            (
                bmp(40, 1, 1, 16, 3, [0xF00, 0xF0, 0xF], &two),
                "0xf00, 0xf0, 0xf",
            ),
            (
                bmp(108, 1, 1, 16, 3, [0xF800, 0x7E0, 0x1F], &[0; 12]),
                "108-byte header",
            ),
            (bmp(40, 1, 1, 32, 6, [0; 3], &two), "compression 6"),
            (bmp(40, -1, 1, 32, 0, [0; 3], &two), "-1 x 1 pixels"),
            (
                bmp(40, 1, 1, 16, 1, [0; 3], &two),
                "16 bits per pixel with compression 1",
            ),
            (bmp(40, 3, 1, 16, 0, [0; 3], &[0; 7]), "truncated"),
        ];
        for (file, words) in cases {
            let e = read(&file, ReadMode::Gray).unwrap_err().to_string();
            assert!(e.contains(words), "{e}");
        }
    }

    #[test]
    fn rows_are_padded_and_bottom_up_unless_the_height_is_negative() {
        // 3 x 2 at 16 bits: 6 bytes a row, padded to 8. Stored rows: 0x001F (blue) then 0x7C00.
        let rows = [
            0x1F, 0, 0x1F, 0, 0x1F, 0, 9, 9, 0, 0x7C, 0, 0x7C, 0, 0x7C, 9, 9,
        ];
        let up = read(&bmp(40, 3, 2, 16, 0, [0; 3], &rows), ReadMode::Color)
            .unwrap()
            .unwrap();
        assert_eq!(&up.data[..3], [248, 0, 0]);
        assert_eq!(&up.data[9..12], [0, 0, 248]);
        let down = read(&bmp(40, 3, -2, 16, 0, [0; 3], &rows), ReadMode::Color)
            .unwrap()
            .unwrap();
        assert_eq!(&down.data[..3], [0, 0, 248]);
    }

    #[test]
    fn the_probe_reads_the_same_header() {
        // A 56-byte header with masks the `image` crate refuses (holes): OpenCV reads it.
        let file = bmp(56, 3, 2, 32, 3, [0x5, 0x50, 0x500], &[0; 24]);
        let info = crate::codec::probe(&file).unwrap();
        assert_eq!((info.width, info.height, info.channels), (3, 2, 3));
        assert!(read(&file, ReadMode::Color).unwrap().is_some());
    }

    #[test]
    fn eight_and_twenty_four_bit_files_are_left_to_the_image_crate() {
        let file = bmp(40, 1, 1, 24, 0, [0; 3], &[1, 2, 3, 0]);
        assert_eq!(header(&file).unwrap(), Route::Other);
    }
}
