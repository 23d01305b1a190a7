//! RLE4 and RLE8 BMPs as OpenCV's reader (`imgcodecs/src/grfmt_bmp.cpp`) decodes them. The
//! `image` crate leaves the pixels that runs skip (end of line, delta, end of bitmap) black or
//! transparent; OpenCV fills them with palette entry 0. OpenCV's rules, each checked against
//! `cv2.imread` by `tools/diff_formats.py`:
//! - Skipped pixels are filled, row after row, with palette entry 0: to the end of the row
//!   (end of line), `dx + dy * width` pixels (delta), to the end of the picture (end of
//!   bitmap). In RLE4, a delta fills only `dx` pixels and an end of bitmap only the rest of its
//!   row (OpenCV computes the longer count there and does not use it).
//! - RLE8: a run that ends a row moves on to the next, and an end of line right after it is
//!   then no-op; an absolute block never moves on by itself. RLE4: neither does.
//! - A run or block that would pass its row's end makes the file unreadable; so does data
//!   ending before the last row is done.
//! - Palette entries past the ones stored are black; gray is imgcodecs' 14-bit weights of the
//!   palette colour.

use crate::ops::ChannelLayout;

use super::bmp::refuse;
use super::decode::{check_size, try_capacity, DecodeError, DecodeLimits, DecodedImage, ReadMode};
use super::opencv_color::utils_gray8;

/// What OpenCV's header reading keeps of an RLE file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RleHeader {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether the first stored row is the top one (negative height).
    pub top_down: bool,
    /// Where the runs start.
    pub offset: u64,
    /// 4 or 8.
    pub bpp: u8,
    /// Where the palette starts (right after the info header).
    pub palette_at: usize,
    /// Palette entries stored (`clrUsed`, or `1 << bpp` when 0).
    pub entries: usize,
}

fn truncated() -> DecodeError {
    refuse("file is truncated (the run-length data ends before the last row)")
}

/// The pixel indices, stored-row order, and where the next one goes.
struct Canvas {
    idx: Vec<u8>,
    width: usize,
    height: usize,
    x: usize,
    y: usize,
}

impl Canvas {
    fn put(&mut self, v: u8) {
        self.idx[self.y * self.width + self.x] = v;
        self.x += 1;
    }

    /// OpenCV's `FillUniColor`: `count` pixels of `v`, moving on to the next row whenever one
    /// is full (even when `count` is 0 and the row already is), stopping after the last.
    fn fill(&mut self, mut count: usize, v: u8) {
        loop {
            let end = (self.x + count).min(self.width);
            count -= end - self.x;
            while self.x < end {
                self.put(v);
            }
            if self.x >= self.width {
                self.x = 0;
                self.y += 1;
                if self.y >= self.height {
                    break;
                }
            }
            if count == 0 {
                break;
            }
        }
    }
}

/// Decodes an RLE4 or RLE8 BMP whose header OpenCV accepted.
pub(crate) fn decode(
    bytes: &[u8],
    h: &RleHeader,
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    check_size(h.width, h.height, limits)?;
    let stored = bytes
        .get(h.palette_at..)
        .and_then(|p| p.get(..h.entries * 4))
        .ok_or_else(|| refuse("file is truncated (the palette ends early)"))?;
    let mut palette = [[0u8; 3]; 256];
    for (entry, bgra) in palette.iter_mut().zip(stored.chunks_exact(4)) {
        *entry = [bgra[2], bgra[1], bgra[0]];
    }
    let (width, height) = (h.width as usize, h.height as usize);
    let mut c = Canvas {
        idx: try_capacity(width * height, "decoded pixels")?,
        width,
        height,
        x: 0,
        y: 0,
    };
    c.idx.resize(width * height, 0);
    let offset = usize::try_from(h.offset).unwrap_or(usize::MAX);
    let mut data = bytes.get(offset..).unwrap_or(&[]).iter().copied();
    let mut byte = || data.next().ok_or_else(truncated);
    let past_row = || refuse("a run passes the end of its row (OpenCV reads nothing)");
    let mut line_end_flag = false;
    loop {
        let len = usize::from(byte()?);
        let code = byte()?;
        if len != 0 {
            if c.x + len > width {
                return Err(past_row());
            }
            if h.bpp == 8 {
                let y = c.y;
                c.fill(len, code);
                line_end_flag = c.y != y;
                if c.y >= height {
                    break;
                }
            } else {
                for t in 0..len {
                    c.put(if t % 2 == 0 { code >> 4 } else { code & 15 });
                }
            }
        } else if code > 2 {
            let n = usize::from(code);
            if c.x + n > width {
                return Err(past_row());
            }
            // Blocks are padded to 16 bits.
            let size = if h.bpp == 8 {
                (n + 1) & !1
            } else {
                (n.div_ceil(2) + 1) & !1
            };
            let mut block = [0u8; 256];
            for b in block.iter_mut().take(size) {
                *b = byte()?;
            }
            for i in 0..n {
                c.put(if h.bpp == 8 {
                    block[i]
                } else if i % 2 == 0 {
                    block[i / 2] >> 4
                } else {
                    block[i / 2] & 15
                });
            }
            line_end_flag = false;
        } else if h.bpp == 8 {
            let mut shift = width - c.x;
            if code != 0 || !line_end_flag || shift < width {
                let mut rows = height - c.y;
                if code == 2 {
                    shift = usize::from(byte()?);
                    rows = usize::from(byte()?);
                }
                if code != 0 {
                    shift += rows * width;
                }
                c.fill(shift, 0);
                if c.y >= height {
                    break;
                }
            }
            line_end_flag = false;
        } else {
            let mut shift = width - c.x;
            if code == 2 {
                shift = usize::from(byte()?);
                byte()?;
            }
            c.fill(shift, 0);
            if c.y >= height {
                break;
            }
        }
    }
    let (layout, channels) = match mode {
        ReadMode::Color => (ChannelLayout::Rgb, 3),
        ReadMode::Gray => (ChannelLayout::Gray, 1),
    };
    let gray = palette.map(|[r, g, b]| utils_gray8(r, g, b));
    let mut out = try_capacity(width * height * channels, "decoded pixels")?;
    for y in 0..height {
        let row = if h.top_down { y } else { height - 1 - y };
        let row = &c.idx[row * width..(row + 1) * width];
        match mode {
            ReadMode::Color => row
                .iter()
                .for_each(|&i| out.extend_from_slice(&palette[usize::from(i)])),
            ReadMode::Gray => out.extend(row.iter().map(|&i| gray[usize::from(i)])),
        }
    }
    Ok(DecodedImage {
        width: h.width,
        height: h.height,
        layout,
        data: out,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bottom-up RLE BMP, 4 palette entries (0 is red, 1 green, 2 blue, 3 white).
    fn rle(w: i32, h: i32, bpp: u16, runs: &[u8]) -> Vec<u8> {
        let mut info = Vec::new();
        info.extend_from_slice(&40u32.to_le_bytes());
        info.extend_from_slice(&w.to_le_bytes());
        info.extend_from_slice(&h.to_le_bytes());
        info.extend_from_slice(&1u16.to_le_bytes());
        info.extend_from_slice(&bpp.to_le_bytes());
        info.extend_from_slice(&(if bpp == 8 { 1u32 } else { 2 }).to_le_bytes());
        info.resize(32, 0);
        info.extend_from_slice(&4u32.to_le_bytes());
        info.resize(40, 0);
        info.extend_from_slice(&[0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]);
        let offset = 14 + info.len() as u32;
        let mut out = b"BM".to_vec();
        out.extend_from_slice(&(offset + runs.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&info);
        out.extend_from_slice(runs);
        out
    }

    fn read(file: &[u8]) -> Result<Vec<u8>, DecodeError> {
        super::super::bmp::decode(file, &DecodeLimits::default(), ReadMode::Color)
            .map(|i| i.expect("an RLE file is read here").data)
    }

    const RED: [u8; 3] = [255, 0, 0];
    const GREEN: [u8; 3] = [0, 255, 0];
    const BLUE: [u8; 3] = [0, 0, 255];

    #[test]
    fn skipped_pixels_are_palette_entry_zero() {
        // 3 x 2, bottom-up: one green then end of line; then end of bitmap.
        let px = read(&rle(3, 2, 8, &[1, 1, 0, 0, 0, 1])).unwrap();
        assert_eq!(px, [RED, RED, RED, GREEN, RED, RED].concat());
        // Delta (1, 1) from (0, 0) after one blue fills 1 + 3 pixels, then one green.
        let px = read(&rle(3, 2, 8, &[1, 2, 0, 2, 1, 1, 1, 1, 0, 1])).unwrap();
        assert_eq!(px, [RED, RED, GREEN, BLUE, RED, RED].concat());
    }

    #[test]
    fn an_rle4_delta_fills_only_its_columns() {
        // Blue, then delta (1, 1), which in RLE4 fills one pixel and stays on the row; end of
        // line; green and blue; end of bitmap, which fills the rest of that row.
        let runs = [1, 0x20, 0, 2, 1, 1, 0, 0, 2, 0x12, 0, 1];
        let px = read(&rle(3, 2, 4, &runs)).unwrap();
        assert_eq!(px, [GREEN, BLUE, RED, BLUE, RED, RED].concat());
    }

    #[test]
    fn a_run_past_the_row_or_data_ending_early_is_refused() {
        assert!(read(&rle(3, 2, 8, &[4, 1, 0, 1])).is_err());
        assert!(read(&rle(3, 2, 8, &[3, 1])).is_err());
        assert!(read(&rle(3, 2, 4, &[0, 4, 0x12, 0x12, 0, 1])).is_err());
    }
}
