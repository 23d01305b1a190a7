//! libpng's RGB to gray for a PNG whose colour chunks give it a gamma (OpenCV's
//! `IMREAD_GRAYSCALE`: `png_set_rgb_to_gray(png, 1, 0.299, 0.587)` and no `png_set_gamma`).
//!
//! With a file gamma that is not within 5% of 1.0 (a `gAMA` chunk, or `sRGB`, which counts as
//! 1/2.2), libpng 1.6 converts in linear light: each sample goes through a `gamma_to_1` table,
//! the weighted sum is rounded, and the result goes back through `gamma_from_1`. The tables
//! are built with the C library's `pow` exactly as `png.c` builds them (`png_build_gamma_table`
//! and helpers, libpng 1.6.58, the version opencv-python 5.0 ships); the chunk precedence is
//! `pngrutil.c`'s (sRGB over gAMA unless a cICP came first; only the first of each, before PLTE
//! and IDAT, with a good CRC). 16-bit files use libpng's segmented tables, whose precision
//! (`gamma_shift`) follows `sBIT` and OpenCV's `png_set_strip_16`.

// The weights `png_set_rgb_to_gray(png, 1, 0.299, 0.587)` sets, in 15 bits: the same as the
// gray read without gamma.
use super::opencv_color::{B15, G15, R15};

/// libpng's fixed-point 1.0.
const FP_1: i32 = 100_000;
/// `PNG_GAMMA_sRGB_INVERSE`: the file gamma an `sRGB` chunk stands for.
const SRGB_GAMMA: i32 = 45_455;
/// `PNG_MAX_GAMMA_8`: significant input bits kept when 16-bit data ends as 8 bits.
const MAX_GAMMA_8: u32 = 11;

/// What libpng takes from a PNG's chunks before the image data for RGB to gray.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ColourChunks {
    bit_depth: u8,
    /// The file gamma (`png_struct::chunk_gamma`), 0 when none.
    gamma: i32,
    /// The largest of `sBIT`'s red, green and blue, 0 without one.
    sig_bit: u8,
}

/// The standard CRC-32 of PNG chunks, bit by bit (only the few bytes of colour chunks pass).
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for part in parts {
        for &b in *part {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
    }
    !crc
}

/// Reads IHDR and the chunks up to the first IDAT. `None` when the file is not such a PNG
/// (the decoder then reports it) or is not a colour type that libpng converts to gray.
fn colour_chunks(bytes: &[u8]) -> Option<ColourChunks> {
    if bytes.len() < 33 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let (bit_depth, color_type) = (bytes[24], bytes[25]);
    // RGB, palette, RGBA: the types with colour.
    if !matches!(color_type, 2 | 3 | 6) {
        return None;
    }
    let (mut srgb, mut gama, mut sbit, mut cicp) = (false, false, false, false);
    let (mut plte, mut chunk_gamma, mut sig_bit) = (false, 0i32, 0u8);
    let mut at = 33; // after the signature and IHDR (8 + 4 + 4 + 13 + 4)
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let len = usize::try_from(len).ok()?;
        let kind = &bytes[at + 4..at + 8];
        let end = at.checked_add(12)?.checked_add(len)?;
        if kind == b"IDAT" || end > bytes.len() {
            break;
        }
        let data = &bytes[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes([
            bytes[end - 4],
            bytes[end - 3],
            bytes[end - 2],
            bytes[end - 1],
        ]);
        // libpng drops an ancillary chunk with a bad CRC (with a warning), and takes the
        // colour chunks only before PLTE, once each.
        let good = crc32(&[kind, data]) == crc && !plte;
        match kind {
            b"PLTE" => plte = true,
            b"cICP" if good && !cicp && len == 4 => cicp = true,
            b"sRGB" if good && !srgb && len == 1 => {
                srgb = true;
                if data[0] <= 3 && (!cicp || chunk_gamma == 0) {
                    chunk_gamma = SRGB_GAMMA;
                }
            }
            b"gAMA" if good && !gama && len == 4 => {
                gama = true;
                let g = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                if chunk_gamma == 0 {
                    if let Ok(g) = i32::try_from(g) {
                        chunk_gamma = g;
                    }
                }
            }
            b"sBIT" if good && !sbit => {
                sbit = true;
                let (truelen, depth) = match color_type {
                    3 => (3, 8),
                    2 => (3, bit_depth),
                    _ => (4, bit_depth),
                };
                if len == truelen && data.iter().all(|&b| b != 0 && b <= depth) {
                    sig_bit = data[0].max(data[1]).max(data[2]);
                }
            }
            _ => {}
        }
        at = end;
    }
    Some(ColourChunks {
        bit_depth,
        gamma: chunk_gamma,
        sig_bit,
    })
}

/// `png_reciprocal`: 1/a in fixed point, 0 on overflow.
fn reciprocal(a: i32) -> i32 {
    let r = (1e10 / f64::from(a) + 0.5).floor();
    if (-2147483648.0..=2147483647.0).contains(&r) {
        r as i32
    } else {
        0
    }
}

/// `png_reciprocal2`: 1/(a*b) in fixed point, 0 on overflow.
fn reciprocal2(a: i32, b: i32) -> i32 {
    if a == 0 || b == 0 {
        return 0;
    }
    let r = ((1e15 / f64::from(a)) / f64::from(b) + 0.5).floor();
    if (-2147483648.0..=2147483647.0).contains(&r) {
        r as i32
    } else {
        0
    }
}

/// `png_gamma_significant`: more than 5% away from 1.0.
fn significant(g: i32) -> bool {
    !(FP_1 - 5000..=FP_1 + 5000).contains(&g)
}

/// `png_build_8bit_table`.
fn table8(g: i32) -> [u8; 256] {
    let mut t = [0u8; 256];
    for (i, v) in t.iter_mut().enumerate() {
        *v = if significant(g) && i > 0 && i < 255 {
            (255.0 * (i as f64 / 255.0).powf(f64::from(g) * 0.00001) + 0.5).floor() as u8
        } else {
            i as u8
        };
    }
    t
}

/// `png_build_16bit_table`, flattened: indexed by `v >> shift` (which is what libpng's
/// `table[(v & 0xff) >> shift][v >> 8]` selects).
fn table16(shift: u32, g: i32) -> Vec<u16> {
    let max = (1u32 << (16 - shift)) - 1;
    let fmax = 1.0 / f64::from(max);
    (0..=max)
        .map(|ig| {
            if significant(g) {
                (65535.0 * (f64::from(ig) * fmax).powf(f64::from(g) * 0.00001) + 0.5).floor() as u16
            } else if shift != 0 {
                ((ig * 65535 + (1 << (15 - shift))) / max) as u16
            } else {
                ig as u16
            }
        })
        .collect()
}

/// `png_gamma_16bit_correct`.
fn correct16(v: u32, g: i32) -> u32 {
    if v > 0 && v < 65535 {
        (65535.0 * (f64::from(v) / 65535.0).powf(f64::from(g) * 0.00001) + 0.5).floor() as u32
    } else {
        v
    }
}

/// `png_build_16to8_table`, flattened like [`table16`].
fn table16to8(shift: u32, g: i32) -> Vec<u16> {
    let max = (1u32 << (16 - shift)) - 1;
    let mut t = vec![65535u16; max as usize + 1];
    let mut last = 0u32;
    for i in 0..255u32 {
        let out = i * 257;
        let bound = (correct16(out + 128, g) * max + 32768) / 65535 + 1;
        while last < bound {
            t[last as usize] = out as u16;
            last += 1;
        }
    }
    t
}

/// RGB to gray as libpng does it for one PNG read by OpenCV with `IMREAD_GRAYSCALE`, when the
/// file's gamma makes libpng work in linear light.
pub enum LinearGray {
    /// Files of 8 bits or fewer per sample (palette entries included).
    Eight {
        gamma: Box<[u8; 256]>,
        to_1: Box<[u8; 256]>,
        from_1: Box<[u8; 256]>,
    },
    /// 16-bit files, cut to 8 bits afterwards.
    Sixteen {
        shift: u32,
        gamma: Vec<u16>,
        to_1: Vec<u16>,
        from_1: Vec<u16>,
    },
}

impl LinearGray {
    /// The conversion for this PNG's bytes, or `None` when libpng converts without gamma
    /// tables (no usable gamma, one within 5% of 1.0, or no colour).
    pub fn for_png(bytes: &[u8]) -> Option<Self> {
        let c = colour_chunks(bytes)?;
        let file_gamma = c.gamma;
        if file_gamma <= 0 {
            return None;
        }
        // png_init_gamma_values: no screen gamma set, so the output matches the input.
        let screen_gamma = reciprocal(file_gamma);
        if !significant(file_gamma) && !significant(screen_gamma) {
            return None;
        }
        // png_build_gamma_table.
        let file_to_linear = reciprocal(file_gamma);
        let (linear_to_screen, correction) = if screen_gamma > 0 {
            (
                reciprocal(screen_gamma),
                reciprocal2(screen_gamma, file_gamma),
            )
        } else {
            (file_gamma, FP_1)
        };
        if c.bit_depth <= 8 {
            return Some(LinearGray::Eight {
                gamma: Box::new(table8(correction)),
                to_1: Box::new(table8(file_to_linear)),
                from_1: Box::new(table8(linear_to_screen)),
            });
        }
        let mut shift = if c.sig_bit > 0 && c.sig_bit < 16 {
            16 - u32::from(c.sig_bit)
        } else {
            0
        };
        // OpenCV asks for png_set_strip_16, so only PNG_MAX_GAMMA_8 bits count.
        shift = shift.clamp(16 - MAX_GAMMA_8, 8);
        Some(LinearGray::Sixteen {
            shift,
            gamma: table16to8(shift, reciprocal(correction)),
            to_1: table16(shift, file_to_linear),
            from_1: table16(shift, linear_to_screen),
        })
    }

    /// One 8-bit pixel (the `Eight` tables; a `Sixteen` conversion scales it up first).
    pub fn gray8(&self, r: u8, g: u8, b: u8) -> u8 {
        match self {
            LinearGray::Eight {
                gamma,
                to_1,
                from_1,
            } => {
                if r == g && r == b {
                    return gamma[usize::from(r)];
                }
                let lin = R15 * u32::from(to_1[usize::from(r)])
                    + G15 * u32::from(to_1[usize::from(g)])
                    + B15 * u32::from(to_1[usize::from(b)]);
                from_1[((lin + 16384) >> 15) as usize]
            }
            LinearGray::Sixteen { .. } => {
                self.gray16(u16::from(r) * 257, u16::from(g) * 257, u16::from(b) * 257)
            }
        }
    }

    /// One 16-bit pixel, then OpenCV's cut to 8 bits.
    pub fn gray16(&self, r: u16, g: u16, b: u16) -> u8 {
        match self {
            LinearGray::Sixteen {
                shift,
                gamma,
                to_1,
                from_1,
            } => {
                let at = |t: &[u16], v: u16| u32::from(t[usize::from(v >> shift)]);
                let w = if r == g && r == b {
                    at(gamma, r)
                } else {
                    let lin = R15 * at(to_1, r) + G15 * at(to_1, g) + B15 * at(to_1, b);
                    at(from_1, ((lin + 16384) >> 15) as u16)
                };
                (w >> 8) as u8
            }
            LinearGray::Eight { .. } => self.gray8((r >> 8) as u8, (g >> 8) as u8, (b >> 8) as u8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_iend_is_the_known_value() {
        assert_eq!(crc32(&[b"IEND", b""]), 0xAE42_6082);
    }

    #[test]
    fn libpng_fixed_point_helpers() {
        // 1 / 0.45455 = 2.19998.
        assert_eq!(reciprocal(45_455), 219_998);
        assert_eq!(reciprocal(219_998), 45_455);
        assert_eq!(reciprocal(0), 0);
        assert_eq!(reciprocal2(219_998, 45_455), 100_000);
        assert!(!significant(100_000) && !significant(95_000) && significant(94_999));
        // Gamma 1.0 leaves every value; 0 and 255 are always kept.
        assert!(table8(FP_1)
            .iter()
            .enumerate()
            .all(|(i, &v)| v as usize == i));
        let t = table8(219_998);
        assert_eq!((t[0], t[255]), (0, 255));
        assert!(t[128] < 128);
    }

    #[test]
    fn sixteen_bit_tables_keep_the_ends() {
        let to_1 = table16(5, 219_998);
        assert_eq!((to_1[0], to_1[2047]), (0, 65535));
        let g = table16to8(5, 100_000);
        // Near-identity 16 -> 8 table: rounds to the nearest multiple of 257.
        assert_eq!(g[0], 0);
        assert_eq!(g[2047], 65535);
        assert_eq!(g[(0x8080u16 >> 5) as usize], 0x80 * 257);
    }
}
