//! PNG written in bands of rows that are filtered and compressed apart, so that the bands of one
//! big picture can be encoded by several workers at once (the caller decides who runs
//! [`encode_band`]; this module has no threads).
//!
//! The band split depends only on the picture's width, height and bit depth ([`band_rows`]),
//! never on how many workers there are, and each band's bytes depend only on its own rows and
//! the row above it: the file is byte-identical whatever runs the bands.
//!
//! The stream: one zlib header, then each band as fdeflate's one dynamic-Huffman block (made
//! non-final) followed by an empty stored block that brings it to a byte boundary (a "sync
//! flush", so bands are joined as bytes, not bits), then an empty final block and the Adler-32
//! of all the filtered bytes, combined from the bands' own. A band that fdeflate would make
//! larger than stored blocks is written stored (as the `png` crate does for a whole picture).
//! Rows are filtered with the usual adaptive rule (the filter whose output has the smallest sum
//! of absolute signed bytes), each against the real row above, also across band edges.

use super::encode::{pack_bits_into, PngCompression};
use super::format::OutputFormat;

/// Raw (filtered) bytes aimed at per band: large enough that per-band costs (a 54-byte block
/// header, a task) vanish, small enough that a 100-megapixel picture gives about a hundred.
const BAND_BYTES: usize = 1 << 20;

/// Most data bytes per IDAT chunk (the format allows 2^31 - 1).
const MAX_CHUNK: usize = 1 << 30;

/// Pictures from this many pixels on are written in bands (smaller ones as one stream, the
/// `png` crate's way, where bands would only cost).
pub const BANDED_PIXELS: u64 = 4 << 20;

/// Whether a `width` x `height` picture written as `format` is written in bands: big PNGs at
/// the fast deflate level (the other levels keep zlib's one stream, whose size they are for).
pub fn banded(format: OutputFormat, compression: PngCompression, width: u32, height: u32) -> bool {
    format == OutputFormat::Png
        && compression == PngCompression::Fast
        && u64::from(width) * u64::from(height) >= BANDED_PIXELS
}

/// Rows per band for a `width`-pixel picture (`one_bit`: one bit per pixel), at least 1.
pub fn band_rows(width: u32, one_bit: bool) -> usize {
    (BAND_BYTES / (row_bytes(width, one_bit) + 1)).max(1)
}

/// Bytes of one unfiltered row.
fn row_bytes(width: u32, one_bit: bool) -> usize {
    if one_bit {
        (width as usize).div_ceil(8)
    } else {
        width as usize
    }
}

/// One band's share of the file: its IDAT chunk(s), and what the zlib trailer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBand {
    /// Complete IDAT chunks (length, type, data, CRC).
    chunks: Vec<u8>,
    /// Adler-32 of the band's filtered bytes.
    adler: u32,
    /// Filtered bytes in the band.
    raw_len: u64,
}

/// Filters and compresses the band of rows `gray` (whole rows of the `width`-pixel picture, 8-bit
/// samples; with `one_bit` every sample 0 or 255, stored in one bit), whose row above is
/// `above` (`None` for the picture's first band). `first` puts the zlib header in front.
pub fn encode_band(
    gray: &[u8],
    above: Option<&[u8]>,
    width: u32,
    one_bit: bool,
    first: bool,
) -> EncodedBand {
    let w = width as usize;
    let rb = row_bytes(width, one_bit);
    let pack = |row: &[u8], dst: &mut Vec<u8>| {
        dst.clear();
        if one_bit {
            pack_bits_into(row, w, dst);
        } else {
            dst.extend_from_slice(row);
        }
    };
    let rows = gray.len().checked_div(w).unwrap_or(0);
    let mut filtered = Vec::with_capacity(rows * (rb + 1));
    let (mut prev, mut cur) = (Vec::with_capacity(rb), Vec::with_capacity(rb));
    match above {
        Some(row) => pack(row, &mut prev),
        None => prev.resize(rb, 0),
    }
    let mut trial = Filters::new(rb);
    for row in gray.chunks_exact(w.max(1)).take(rows) {
        pack(row, &mut cur);
        trial.best(&cur, &prev, &mut filtered);
        std::mem::swap(&mut prev, &mut cur);
    }
    let deflated = deflate_block(&filtered);
    let mut data = Vec::with_capacity(deflated.0.len() + 2);
    if first {
        data.extend_from_slice(&[0x78, 0x01]);
    }
    data.extend_from_slice(&deflated.0);
    EncodedBand {
        chunks: idat_chunks(&data),
        adler: deflated.1,
        raw_len: filtered.len() as u64,
    }
}

/// Writes the whole PNG: signature, IHDR, the bands' chunks in order, the zlib trailer, IEND.
/// `bands` must be [`encode_band`]'s results for the bands of [`band_rows`] rows from the top,
/// the first made with `first`.
pub fn assemble(
    width: u32,
    height: u32,
    one_bit: bool,
    bands: Vec<EncodedBand>,
    out: &mut Vec<u8>,
) {
    // Each band is let go once copied: the file and the bands never exist twice over.
    let total: usize = bands.iter().map(|b| b.chunks.len()).sum();
    out.reserve_exact(total + 8 + 25 + 18 + 12);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth, colour type 0 (gray), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[if one_bit { 1 } else { 8 }, 0, 0, 0, 0]);
    chunk(b"IHDR", &ihdr, out);
    let mut adler = 1u32;
    for band in bands {
        out.extend_from_slice(&band.chunks);
        drop(band.chunks);
        adler = adler32_combine(adler, band.adler, band.raw_len);
    }
    // An empty final block with fixed codes (BFINAL 1, BTYPE 01, end of block), then Adler-32.
    let mut tail = vec![0x03, 0x00];
    tail.extend_from_slice(&adler.to_be_bytes());
    chunk(b"IDAT", &tail, out);
    chunk(b"IEND", &[], out);
}

/// `data` as IDAT chunks of at most [`MAX_CHUNK`] bytes.
fn idat_chunks(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12 * (1 + data.len() / MAX_CHUNK));
    for part in data.chunks(MAX_CHUNK) {
        chunk(b"IDAT", part, &mut out);
    }
    out
}

/// One PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(kind: &[u8; 4], data: &[u8], out: &mut Vec<u8>) {
    // Callers keep every chunk below 2^31 bytes.
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// `raw` as deflate blocks, none final, ending on a byte boundary; and its Adler-32.
fn deflate_block(raw: &[u8]) -> (Vec<u8>, u32) {
    let mut z = Vec::with_capacity(raw.len() / 2 + 64);
    let compressed = fdeflate::Compressor::new(&mut z)
        .and_then(|mut c| {
            c.write_data(raw)?;
            c.finish()
        })
        .is_ok();
    // fdeflate writes a zlib stream: a 2-byte header, one dynamic block marked final whose
    // end-of-block code ends in a 1 bit, zero bits to the next byte, and the Adler-32.
    let body = z
        .len()
        .checked_sub(4)
        .filter(|_| compressed)
        .map(|end| (&z[2..end], end));
    let adler = match body {
        Some((_, end)) => u32::from_be_bytes([z[end], z[end + 1], z[end + 2], z[end + 3]]),
        None => adler32(raw),
    };
    let stored_size = raw.len() + 5 * raw.len().div_ceil(0xffff).max(1);
    match body {
        Some((body, _))
            if body.len() + 5 <= stored_size && body.last().is_some_and(|&b| b != 0) =>
        {
            let mut out = Vec::with_capacity(body.len() + 5);
            out.extend_from_slice(body);
            out[0] &= !1; // not the final block
                          // An empty stored block (3 header bits, zero bits to the byte, LEN 0, NLEN !0): the
                          // free bits after the end-of-block code hold its header when there are 3 of them.
            let free = body.last().map_or(0, |b| b.leading_zeros());
            if free < 3 {
                out.push(0);
            }
            out.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
            (out, adler)
        }
        _ => (stored(raw), adler),
    }
}

/// `raw` in stored blocks, none final.
fn stored(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 5 * (raw.len() / 0xffff + 1));
    for part in raw.chunks(0xffff) {
        let len = part.len() as u16;
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

const ADLER_MOD: u64 = 65521;

/// Adler-32 of `data` (only for a band fdeflate could not compress, which does not happen with
/// an in-memory writer).
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u64, 0u64);
    for part in data.chunks(5552) {
        for &x in part {
            a += u64::from(x);
            b += a;
        }
        a %= ADLER_MOD;
        b %= ADLER_MOD;
    }
    ((b << 16) | a) as u32
}

/// The Adler-32 of two pieces joined, from theirs and the second's length (zlib's
/// `adler32_combine`).
fn adler32_combine(first: u32, second: u32, second_len: u64) -> u32 {
    let rem = second_len % ADLER_MOD;
    let (a1, b1) = (u64::from(first & 0xffff), u64::from(first >> 16));
    let (a2, b2) = (u64::from(second & 0xffff), u64::from(second >> 16));
    let a = (a1 + a2 + ADLER_MOD - 1) % ADLER_MOD;
    let b = (rem * a1 + b1 + b2 + ADLER_MOD - rem) % ADLER_MOD;
    ((b << 16) | a) as u32
}

/// Working rows for choosing each row's filter.
struct Filters {
    out: [Vec<u8>; 5],
}

impl Filters {
    fn new(len: usize) -> Self {
        Self {
            out: std::array::from_fn(|_| vec![0; len]),
        }
    }

    /// Appends the filter type and `row` filtered (one byte per pixel, against `prev`) with the
    /// filter whose output has the smallest sum of absolute signed bytes (the lowest type on a
    /// tie).
    fn best(&mut self, row: &[u8], prev: &[u8], dst: &mut Vec<u8>) {
        let [none, sub, up, avg, paeth] = &mut self.out;
        none.copy_from_slice(row);
        sub_filter(row, sub);
        up_filter(row, prev, up);
        avg_filter(row, prev, avg);
        paeth_filter(row, prev, paeth);
        let mut best = (u64::MAX, 0);
        for (kind, f) in self.out.iter().enumerate() {
            let cost = abs_sum(f);
            if cost < best.0 {
                best = (cost, kind);
            }
        }
        dst.push(best.1 as u8);
        dst.extend_from_slice(&self.out[best.1]);
    }
}

fn abs_sum(f: &[u8]) -> u64 {
    f.iter().map(|&b| u64::from((b as i8).unsigned_abs())).sum()
}

fn sub_filter(row: &[u8], out: &mut [u8]) {
    if let (Some(o), Some(&x)) = (out.first_mut(), row.first()) {
        *o = x;
    }
    for ((o, &x), &a) in out[1..].iter_mut().zip(&row[1..]).zip(row) {
        *o = x.wrapping_sub(a);
    }
}

fn up_filter(row: &[u8], prev: &[u8], out: &mut [u8]) {
    for ((o, &x), &b) in out.iter_mut().zip(row).zip(prev) {
        *o = x.wrapping_sub(b);
    }
}

fn avg_filter(row: &[u8], prev: &[u8], out: &mut [u8]) {
    if let (Some(o), Some(&x), Some(&b)) = (out.first_mut(), row.first(), prev.first()) {
        *o = x.wrapping_sub(b / 2);
    }
    for (((o, &x), &a), &b) in out[1..].iter_mut().zip(&row[1..]).zip(row).zip(&prev[1..]) {
        *o = x.wrapping_sub(((u16::from(a) + u16::from(b)) / 2) as u8);
    }
}

fn paeth_filter(row: &[u8], prev: &[u8], out: &mut [u8]) {
    if let (Some(o), Some(&x), Some(&b)) = (out.first_mut(), row.first(), prev.first()) {
        *o = x.wrapping_sub(b); // a = c = 0: Paeth picks b
    }
    for ((((o, &x), &a), &b), &c) in out[1..]
        .iter_mut()
        .zip(&row[1..])
        .zip(row)
        .zip(&prev[1..])
        .zip(prev)
    {
        *o = x.wrapping_sub(paeth(a, b, c));
    }
}

#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia + ib - ic;
    let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_all(gray: &[u8], w: u32, h: u32, one_bit: bool) -> Vec<u8> {
        let rows = band_rows(w, one_bit);
        let bands: Vec<EncodedBand> = gray
            .chunks(rows * w as usize)
            .enumerate()
            .map(|(i, band)| {
                let above = (i > 0).then(|| {
                    let start = i * rows * w as usize - w as usize;
                    &gray[start..start + w as usize]
                });
                encode_band(band, above, w, one_bit, i == 0)
            })
            .collect();
        assert_eq!(bands.len(), (h as usize).div_ceil(rows));
        let mut out = Vec::new();
        assemble(w, h, one_bit, bands, &mut out);
        out
    }

    fn decode(png_bytes: &[u8]) -> (u32, u32, png::BitDepth, Vec<u8>) {
        let mut dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        dec.set_transformations(png::Transformations::EXPAND);
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        let depth = reader.info().bit_depth;
        (info.width, info.height, depth, buf)
    }

    fn picture(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..w * h)
            .map(|i| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                // Smooth areas (which compress) and noise (which does not).
                if (i / w) % 3 == 0 {
                    (s >> 24) as u8
                } else {
                    ((i % w) * 3 + (i / w)) as u8
                }
            })
            .collect()
    }

    #[test]
    fn many_bands_decode_to_the_same_pixels_with_a_valid_stream() {
        // 1500 pixels wide: 698 rows a band at 8 bits, 5577 at 1 bit.
        for (w, h) in [(1500u32, 1400u32), (1, 3), (7, 2), (1500, 5600)] {
            let gray = picture(w as usize, h as usize, w ^ h);
            let png8 = encode_all(&gray, w, h, false);
            let (dw, dh, depth, pixels) = decode(&png8);
            assert_eq!((dw, dh, depth), (w, h, png::BitDepth::Eight));
            assert_eq!(pixels, gray, "{w}x{h} 8-bit");
            let two: Vec<u8> = gray
                .iter()
                .map(|&v| if v > 127 { 255 } else { 0 })
                .collect();
            let png1 = encode_all(&two, w, h, true);
            let (_, _, depth, pixels) = decode(&png1);
            assert_eq!(depth, png::BitDepth::One);
            // EXPAND gives 1-bit gray as 0/1 samples.
            let back: Vec<u8> = pixels
                .iter()
                .map(|&v| if v != 0 { 255 } else { 0 })
                .collect();
            assert_eq!(back, two, "{w}x{h} 1-bit");
        }
    }

    #[test]
    fn incompressible_bands_are_stored_and_still_decode() {
        let (w, h) = (4000u32, 600u32);
        let mut s = 7u64;
        let noise: Vec<u8> = (0..w * h)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 56) as u8
            })
            .collect();
        let png8 = encode_all(&noise, w, h, false);
        assert!(
            png8.len() < noise.len() + noise.len() / 50,
            "{}",
            png8.len()
        );
        assert_eq!(decode(&png8).3, noise);
    }

    #[test]
    fn adler_combine_equals_adler_of_the_whole() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for cut in [0, 1, 5552, 65521, 100_000, 200_000] {
            let (x, y) = data.split_at(cut);
            assert_eq!(
                adler32_combine(adler32(x), adler32(y), y.len() as u64),
                adler32(&data),
                "cut {cut}"
            );
        }
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn the_bands_follow_the_width_only() {
        assert_eq!(band_rows(1500, false), (1 << 20) / 1501);
        assert_eq!(band_rows(1500, true), (1 << 20) / 189);
        assert_eq!(band_rows(u32::MAX, false), 1);
    }
}
