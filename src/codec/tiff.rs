//! What OpenCV's TIFF reader does beyond the `image` crate's decoding. `cv2.imread` reads every
//! 8-bit-output TIFF through libtiff's RGBA interface (`TIFFReadRGBAStrip`/`Tile`), which
//! premultiplies colour by an *unassociated* alpha (`ExtraSamples` = 2) before OpenCV drops
//! the alpha: `(v * a + 127) / 255` on 8-bit samples, with 16-bit ones first rounded to 8 bits
//! (`(v + 128) / 257`). Associated alpha (1), an unspecified extra sample (0) and no
//! `ExtraSamples` tag leave the colour as stored. Checked by `tools/diff_formats.py`.

/// The first directory of a classic (not Big-) TIFF, read just enough for the tags below.
struct Ifd<'a> {
    bytes: &'a [u8],
    big_endian: bool,
    at: usize,
    entries: usize,
}

impl<'a> Ifd<'a> {
    fn first(bytes: &'a [u8]) -> Option<Self> {
        let big_endian = match bytes.get(..4)? {
            b"II*\0" => false,
            b"MM\0*" => true,
            _ => return None,
        };
        let mut ifd = Self {
            bytes,
            big_endian,
            at: 0,
            entries: 0,
        };
        ifd.at = usize::try_from(ifd.u32_at(4)?).ok()?;
        ifd.entries = usize::from(ifd.u16_at(ifd.at)?);
        Some(ifd)
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b = self.bytes.get(at..at.checked_add(2)?)?;
        Some(if self.big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b = self.bytes.get(at..at.checked_add(4)?)?;
        Some(if self.big_endian {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    }

    /// Where the SHORT values of `tag` start, and how many there are.
    fn shorts(&self, tag: u16) -> Option<(usize, usize)> {
        (0..self.entries).find_map(|k| {
            let entry = self.at + 2 + 12 * k;
            if self.u16_at(entry)? != tag || self.u16_at(entry + 2)? != 3 {
                return None;
            }
            let count = usize::try_from(self.u32_at(entry + 4)?).ok()?;
            // Up to two SHORTs sit in the entry itself; more, at the offset it holds.
            let at = if count <= 2 {
                entry + 8
            } else {
                usize::try_from(self.u32_at(entry + 8)?).ok()?
            };
            Some((at, count))
        })
    }

    fn short(&self, tag: u16) -> Option<u16> {
        let (at, count) = self.shorts(tag)?;
        if count == 0 {
            return None;
        }
        self.u16_at(at)
    }
}

impl Ifd<'_> {
    /// The directory entry of `tag` (its offset in the file), the first one.
    fn entry(&self, tag: u16) -> Option<usize> {
        (0..self.entries)
            .map(|k| self.at + 2 + 12 * k)
            .find(|&entry| self.u16_at(entry) == Some(tag))
    }

    /// The RATIONAL values of `tag` as libtiff hands them to its readers (`(float)(num /
    /// den)` in double, 0 for a zero denominator); `None` when missing, of another type or
    /// count, or not inside the file.
    fn rationals(&self, tag: u16, count: usize) -> Option<Vec<f32>> {
        let entry = self.entry(tag)?;
        if self.u16_at(entry + 2)? != 5 || usize::try_from(self.u32_at(entry + 4)?).ok()? != count {
            return None;
        }
        let at = usize::try_from(self.u32_at(entry + 8)?).ok()?;
        (0..count)
            .map(|i| {
                let num = self.u32_at(at.checked_add(8 * i)?)?;
                let den = self.u32_at(at.checked_add(8 * i + 4)?)?;
                Some(if den == 0 {
                    0.0
                } else {
                    (f64::from(num) / f64::from(den)) as f32
                })
            })
            .collect()
    }
}

/// An 8-bit YCbCr TIFF (Photometric 6, three samples, contiguous, not JPEG-compressed), which
/// the `image` crate refuses: libtiff's RGBA interface (so OpenCV) reads it with
/// [`YCbCrTables`], each pixel's chroma the one of its subsampling block (no interpolation,
/// YCbCrPositioning ignored). `None` for any other file.
pub(crate) fn ycbcr8(bytes: &[u8]) -> Option<YCbCr> {
    let ifd = Ifd::first(bytes)?;
    let (photometric_at, _) = ifd.shorts(262)?;
    let (bps_at, bps_count) = ifd.shorts(258)?;
    let (spp_at, spp_count) = ifd.shorts(277)?;
    let compression = ifd.short(259).unwrap_or(1);
    if ifd.u16_at(photometric_at)? != 6
        || spp_count != 1
        || ifd.u16_at(spp_at)? != 3
        || bps_count != 3
        || (0..3).any(|i| ifd.u16_at(bps_at + 2 * i) != Some(8))
        || ifd.short(284).unwrap_or(1) != 1
        || matches!(compression, 6 | 7)
        || ifd.short(339).unwrap_or(1) != 1
    {
        return None;
    }
    let subsampling = match ifd.shorts(530) {
        Some((at, 2)) => (ifd.u16_at(at)?, ifd.u16_at(at + 2)?),
        _ => (2, 2),
    };
    let luma = ifd
        .rationals(529, 3)
        .unwrap_or_else(|| vec![0.299, 0.587, 0.114]);
    let reference = ifd
        .rationals(532, 6)
        .unwrap_or_else(|| vec![0.0, 255.0, 128.0, 255.0, 128.0, 255.0]);
    let (width, height) = size(bytes)?;
    let (width_at, width_type) = width_entry(&ifd)?;
    let height_entry = ifd.entry(257)?;
    let rows_per_strip = ifd.entry(278).and_then(|entry| {
        let kind = ifd.u16_at(entry + 2)?;
        let value = match kind {
            3 => u32::from(ifd.u16_at(entry + 8)?),
            4 => ifd.u32_at(entry + 8)?,
            _ => return None,
        };
        Some((entry + 8, kind, value))
    });
    Some(YCbCr {
        width,
        height,
        subsampling,
        luma: [luma[0], luma[1], luma[2]],
        reference: [
            reference[0],
            reference[1],
            reference[2],
            reference[3],
            reference[4],
            reference[5],
        ],
        photometric_at,
        spp_at,
        bps_entry: ifd.entry(258)?,
        width_at,
        width_type,
        height_at: height_entry + 8,
        height_type: ifd.u16_at(height_entry + 2)?,
        rows_per_strip,
        tiled: ifd.entry(322).is_some(),
        plain: ifd.short(317).unwrap_or(1) == 1 && ifd.short(274).unwrap_or(1) == 1,
    })
}

/// An 8-bit CMYK TIFF (Photometric 5, four samples, contiguous strips, no predictor, default
/// orientation): its strips hold the same bytes as an 8-bit gray image four times as wide,
/// which the decoder reads and converts as libtiff's RGBA interface does
/// (`putRGBcontig8bitCMYKtile`: `(255 - k) * (255 - c) / 255`, truncated; the `image` crate's
/// own conversion lands one level lower on some pixels). `None` for any other file.
pub(crate) fn cmyk8(bytes: &[u8]) -> Option<Cmyk> {
    let ifd = Ifd::first(bytes)?;
    let (photometric_at, _) = ifd.shorts(262)?;
    let (bps_at, bps_count) = ifd.shorts(258)?;
    let (spp_at, spp_count) = ifd.shorts(277)?;
    if ifd.u16_at(photometric_at)? != 5
        || spp_count != 1
        || ifd.u16_at(spp_at)? != 4
        || bps_count != 4
        || (0..4).any(|i| ifd.u16_at(bps_at + 2 * i) != Some(8))
        || ifd.short(284).unwrap_or(1) != 1
        || ifd.short(317).unwrap_or(1) != 1
        || ifd.short(274).unwrap_or(1) != 1
        || ifd.short(339).unwrap_or(1) != 1
        || ifd.short(332).unwrap_or(1) != 1
        || ifd.entry(322).is_some()
    {
        return None;
    }
    let (width, height) = size(bytes)?;
    let (width_at, width_type) = width_entry(&ifd)?;
    Some(Cmyk {
        width,
        height,
        photometric_at,
        spp_at,
        bps_entry: ifd.entry(258)?,
        width_at,
        width_type,
    })
}

/// What [`cmyk8`] found.
pub(crate) struct Cmyk {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The Photometric value.
    pub(crate) photometric_at: usize,
    /// The SamplesPerPixel value.
    pub(crate) spp_at: usize,
    /// The BitsPerSample entry.
    pub(crate) bps_entry: usize,
    /// The ImageWidth value, of `width_type` (3 SHORT, 4 LONG).
    pub(crate) width_at: usize,
    pub(crate) width_type: u16,
}

/// libtiff's 8-bit CMYK to RGB (`putRGBcontig8bitCMYKtile`).
pub(crate) fn cmyk_to_rgb(c: u8, m: u8, y: u8, k: u8) -> [u8; 3] {
    let k = 255 - u32::from(k);
    [c, m, y].map(|v| (k * (255 - u32::from(v)) / 255) as u8)
}

/// A JPEG-compressed 8-bit YCbCr TIFF in strips (Compression 7, Photometric 6, contiguous,
/// default orientation): libtiff's RGBA interface has libjpeg convert each strip to RGB
/// (`JPEGCOLORMODE_RGB`: libjpeg's own upsampling and colour conversion, as for a JPEG file).
/// `None` for any other file.
pub(crate) fn jpeg_ycbcr(bytes: &[u8]) -> Option<JpegYCbCr> {
    let ifd = Ifd::first(bytes)?;
    let (bps_at, bps_count) = ifd.shorts(258)?;
    if ifd.short(262)? != 6
        || ifd.short(259)? != 7
        || ifd.short(277)? != 3
        || bps_count != 3
        || (0..3).any(|i| ifd.u16_at(bps_at + 2 * i) != Some(8))
        || ifd.short(284).unwrap_or(1) != 1
        || ifd.short(274).unwrap_or(1) != 1
        || ifd.entry(322).is_some()
    {
        return None;
    }
    let (width, height) = size(bytes)?;
    let rows_per_strip = ifd
        .longs(278)
        .and_then(|v| v.first().copied())
        .unwrap_or(u32::MAX);
    let offsets = ifd.longs(273)?;
    let counts = ifd.longs(279)?;
    if offsets.len() != counts.len() {
        return None;
    }
    // JPEGTables: the quantisation and Huffman tables the strips leave out.
    let tables = ifd.entry(347).and_then(|entry| {
        let count = usize::try_from(ifd.u32_at(entry + 4)?).ok()?;
        let at = if count <= 4 {
            entry + 8
        } else {
            usize::try_from(ifd.u32_at(entry + 8)?).ok()?
        };
        Some((at, count))
    });
    Some(JpegYCbCr {
        width,
        height,
        rows_per_strip: rows_per_strip.max(1),
        strips: offsets.into_iter().zip(counts).collect(),
        tables,
    })
}

/// What [`jpeg_ycbcr`] found (without libjpeg-turbo only its size is used, by the probe).
#[cfg_attr(not(feature = "libjpeg-turbo"), allow(dead_code))]
pub(crate) struct JpegYCbCr {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) rows_per_strip: u32,
    /// Each strip's offset and byte count.
    pub(crate) strips: Vec<(u32, u32)>,
    /// Where the JPEGTables bytes are, and how many.
    pub(crate) tables: Option<(usize, usize)>,
}

impl Ifd<'_> {
    /// The SHORT or LONG values of `tag` as u32 (at most as many as the file could hold).
    fn longs(&self, tag: u16) -> Option<Vec<u32>> {
        let entry = self.entry(tag)?;
        let kind = self.u16_at(entry + 2)?;
        let count = usize::try_from(self.u32_at(entry + 4)?).ok()?;
        let size = match kind {
            3 => 2,
            4 => 4,
            _ => return None,
        };
        if count.checked_mul(size)? > self.bytes.len() {
            return None;
        }
        let at = if count * size <= 4 {
            entry + 8
        } else {
            usize::try_from(self.u32_at(entry + 8)?).ok()?
        };
        (0..count)
            .map(|i| {
                if kind == 3 {
                    self.u16_at(at.checked_add(2 * i)?).map(u32::from)
                } else {
                    self.u32_at(at.checked_add(4 * i)?)
                }
            })
            .collect()
    }
}

/// What [`ycbcr8`] found.
pub(crate) struct YCbCr {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// YCbCrSubsampling: horizontal, vertical (default 2, 2).
    pub(crate) subsampling: (u16, u16),
    /// YCbCrCoefficients (default 0.299, 0.587, 0.114).
    pub(crate) luma: [f32; 3],
    /// ReferenceBlackWhite (default 0, 255, 128, 255, 128, 255).
    pub(crate) reference: [f32; 6],
    /// The Photometric value.
    pub(crate) photometric_at: usize,
    /// The SamplesPerPixel value.
    pub(crate) spp_at: usize,
    /// The BitsPerSample entry.
    pub(crate) bps_entry: usize,
    /// The ImageWidth value, of `width_type` (3 SHORT, 4 LONG).
    pub(crate) width_at: usize,
    pub(crate) width_type: u16,
    /// The ImageLength value, of `height_type`.
    pub(crate) height_at: usize,
    pub(crate) height_type: u16,
    /// The RowsPerStrip value: where, its type, the value.
    pub(crate) rows_per_strip: Option<(usize, u16, u32)>,
    /// Whether the image is stored in tiles.
    pub(crate) tiled: bool,
    /// No predictor and the default orientation.
    pub(crate) plain: bool,
}

/// libtiff's YCbCr to RGB conversion (`TIFFYCbCrToRGBInit` and `TIFFYCbCrtoRGB` in
/// `tif_color.c`): tables built in f32 and 16-bit fixed point from the coefficients and the
/// reference black and white, then integer sums clamped to 0..=255.
pub(crate) struct YCbCrTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
    y: [i32; 256],
}

impl YCbCrTables {
    /// The tables, or why libtiff refuses the values (so OpenCV reads nothing).
    pub(crate) fn new(luma: [f32; 3], reference: [f32; 6]) -> Result<Self, &'static str> {
        if luma.iter().any(|v| v.is_nan()) || luma[1] == 0.0 {
            return Err("invalid YCbCrCoefficients");
        }
        // isInRefBlackWhiteRange.
        if !reference
            .iter()
            .all(|&f| f > (-0x7FFF_FFFF + 128) as f32 && f < 0x7FFF_FFFF as f32)
        {
            return Err("invalid ReferenceBlackWhite");
        }
        const SHIFT: u32 = 16;
        const ONE_HALF: i32 = 1 << (SHIFT - 1);
        let fix = |x: f32| (f64::from(x) * f64::from(1u32 << SHIFT) + 0.5) as i32;
        // CLAMP: !(f >= min) gives min (NaN too).
        let clamp = |f: f32, min: f32, max: f32| {
            if matches!(f.partial_cmp(&min), None | Some(std::cmp::Ordering::Less)) {
                min
            } else if f > max {
                max
            } else {
                f
            }
        };
        let code2v = |c: i32, rb: f32, rw: f32, cr: f32| {
            // TIFF_FLOAT_EQ: equal unless the difference is above 0 (NaN counts as equal).
            let den = if (rw - rb).abs() > 0.0 { rw - rb } else { 1.0 };
            ((c - rb as i32) as f32 * cr) / den
        };
        let [lr, lg, lb] = luma;
        let f1 = 2.0 - 2.0 * lr;
        let d1 = fix(clamp(f1, 0.0, 2.0));
        let f2 = lr * f1 / lg;
        let d2 = -fix(clamp(f2, 0.0, 2.0));
        let f3 = 2.0 - 2.0 * lb;
        let d3 = fix(clamp(f3, 0.0, 2.0));
        let f4 = lb * f3 / lg;
        let d4 = -fix(clamp(f4, 0.0, 2.0));
        let mut t = Self {
            cr_r: [0; 256],
            cb_b: [0; 256],
            cr_g: [0; 256],
            cb_g: [0; 256],
            y: [0; 256],
        };
        // CLAMPw, for the table entries (NaN passes).
        let clamp_w = |v: f32, min: f32, max: f32| {
            if v < min {
                min
            } else if v > max {
                max
            } else {
                v
            }
        };
        let r = reference;
        let lim = 128.0 * 32.0;
        for i in 0..256 {
            let x = i as i32 - 128;
            let cr = clamp_w(code2v(x, r[4] - 128.0, r[5] - 128.0, 127.0), -lim, lim) as i32;
            let cb = clamp_w(code2v(x, r[2] - 128.0, r[3] - 128.0, 127.0), -lim, lim) as i32;
            t.cr_r[i] = (d1.wrapping_mul(cr).wrapping_add(ONE_HALF)) >> SHIFT;
            t.cb_b[i] = (d3.wrapping_mul(cb).wrapping_add(ONE_HALF)) >> SHIFT;
            t.cr_g[i] = d2.wrapping_mul(cr);
            t.cb_g[i] = d4.wrapping_mul(cb).wrapping_add(ONE_HALF);
            t.y[i] = clamp_w(code2v(x + 128, r[0], r[1], 255.0), -lim, lim) as i32;
        }
        Ok(t)
    }

    /// RGB of one stored Y, Cb, Cr.
    pub(crate) fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let (y, cb, cr) = (self.y[usize::from(y)], usize::from(cb), usize::from(cr));
        let clamp = |i: i32| i.clamp(0, 255) as u8;
        [
            clamp(y + self.cr_r[cr]),
            clamp(y + (self.cb_g[cb].wrapping_add(self.cr_g[cr]) >> 16)),
            clamp(y + self.cb_b[cb]),
        ]
    }
}

/// Whether the first image of a classic TIFF says its first extra sample is unassociated
/// alpha. A directory that cannot be read says no (the decoder will tell).
pub(crate) fn unassociated_alpha(bytes: &[u8]) -> bool {
    Ifd::first(bytes).and_then(|ifd| ifd.short(338)) == Some(2)
}

/// An 8-bit palette TIFF (which the `image` crate does not read) as libtiff's RGBA interface
/// reads it: `(where the Photometric value sits, the palette as 8-bit RGB)`. The colour map's
/// 16-bit entries are cut with `>> 8`, unless every one is below 256: libtiff then takes it
/// for an old 8-bit map and uses the entries as they are; without a readable map, the indices
/// are gray levels. `None` for any other file.
pub(crate) fn palette8(bytes: &[u8]) -> Option<(usize, Vec<[u8; 3]>)> {
    let ifd = Ifd::first(bytes)?;
    let (photometric_at, _) = ifd.shorts(262)?;
    if ifd.u16_at(photometric_at)? != 3 || ifd.short(258)? != 8 || ifd.short(277).unwrap_or(1) != 1
    {
        return None;
    }
    // A ColorMap that is missing, of another length or not inside the file is dropped by
    // libtiff, which then reads the file as gray (TIFFReadDirectory): indices as gray levels.
    let map: Vec<u16> = ifd
        .shorts(320)
        .filter(|&(_, count)| count == 768)
        .and_then(|(map_at, _)| {
            (0..768)
                .map(|i| ifd.u16_at(map_at + 2 * i))
                .collect::<Option<_>>()
        })
        .unwrap_or_else(|| (0..768).map(|i| (i % 256) as u16).collect());
    Some((photometric_at, colours(&map)))
}

/// A ColorMap (all reds, then all greens, then all blues) as 8-bit RGB, as libtiff's RGBA
/// interface takes it: 16-bit entries cut with `>> 8`, unless every one is below 256 (an old
/// 8-bit map, used as it is).
fn colours(map: &[u16]) -> Vec<[u8; 3]> {
    let n = map.len() / 3;
    let sixteen = map.iter().any(|&v| v >= 256);
    let eight = |v: u16| if sixteen { (v >> 8) as u8 } else { v as u8 };
    (0..n)
        .map(|i| [eight(map[i]), eight(map[n + i]), eight(map[2 * n + i])])
        .collect()
}

/// A value written into a copy of a TIFF's directory, in the file's byte order.
#[derive(Clone, Copy)]
pub(crate) enum Value {
    Short(u16),
    Long(u32),
}

impl Value {
    /// An ImageWidth of `width` in an entry of `width_type` (3 SHORT, otherwise LONG); None
    /// when it does not fit a SHORT.
    pub(crate) fn width(width_type: u16, width: u32) -> Option<Self> {
        Some(if width_type == 3 {
            Value::Short(u16::try_from(width).ok()?)
        } else {
            Value::Long(width)
        })
    }

    /// Writes the value at `at` of `file` (a TIFF: its byte order is read from its header);
    /// None when that is outside the file.
    pub(crate) fn write(self, file: &mut [u8], at: usize) -> Option<()> {
        let big = file.starts_with(b"MM");
        let (bytes, len) = match self {
            Value::Short(v) => {
                let b = if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                ([b[0], b[1], 0, 0], 2)
            }
            Value::Long(v) => (
                if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                },
                4,
            ),
        };
        file.get_mut(at..at.checked_add(len)?)?
            .copy_from_slice(&bytes[..len]);
        Some(())
    }
}

/// Width and height of a TIFF that [`palette8`] reads (the `image` crate, which reads the
/// header of every other TIFF for the probe, refuses palette ones): ImageWidth and ImageLength,
/// SHORT or LONG.
pub(crate) fn palette8_size(bytes: &[u8]) -> Option<(u32, u32)> {
    palette8(bytes)?;
    size(bytes)
}

/// Where the SampleFormat value of a one-sample, 8-bit, BlackIsZero TIFF that says signed
/// integers (2) sits. The `image` crate refuses such a file; libtiff's RGBA interface, which
/// OpenCV reads it through, ignores SampleFormat and takes the stored bytes as unsigned levels
/// (-128 reads 128), so the file reads as the same bytes marked unsigned. `None` for any other file.
pub(crate) fn signed8(bytes: &[u8]) -> Option<usize> {
    let ifd = Ifd::first(bytes)?;
    let (at, count) = ifd.shorts(339)?;
    if count != 1
        || ifd.u16_at(at)? != 2
        || ifd.short(262)? != 1
        || ifd.short(258)? != 8
        || ifd.short(277).unwrap_or(1) != 1
    {
        return None;
    }
    Some(at)
}

/// Width and height of a TIFF that [`signed8`] reads (the `image` crate refuses its header).
pub(crate) fn signed8_size(bytes: &[u8]) -> Option<(u32, u32)> {
    signed8(bytes)?;
    size(bytes)
}

/// An 8-bit gray+alpha TIFF (two samples, BlackIsZero, contiguous strips, no predictor), which
/// the `image` crate refuses: `(width, height, where SamplesPerPixel sits, where ImageWidth
/// sits and its type, in a [`GrayAlpha`])`. libtiff's RGBA interface (so OpenCV) reads the gray sample as it is,
/// whatever ExtraSamples says (no premultiplying), and OpenCV drops the alpha. Such strips hold
/// the same bytes as a one-sample image twice as wide. `None` for any other file.
pub(crate) fn gray_alpha8(bytes: &[u8]) -> Option<GrayAlpha> {
    let ifd = Ifd::first(bytes)?;
    let (bps_at, bps_count) = ifd.shorts(258)?;
    let (spp_at, spp_count) = ifd.shorts(277)?;
    if spp_count != 1
        || ifd.u16_at(spp_at)? != 2
        || ifd.short(262)? != 1
        || !(1..=2).contains(&bps_count)
        || (0..bps_count).any(|i| ifd.u16_at(bps_at + 2 * i) != Some(8))
        || ifd.short(284).unwrap_or(1) != 1
        || ifd.short(317).unwrap_or(1) != 1
        || ifd.short(339).unwrap_or(1) != 1
        || ifd.short(274).unwrap_or(1) != 1
        || (0..ifd.entries).any(|k| ifd.u16_at(ifd.at + 2 + 12 * k) == Some(322))
    {
        return None;
    }
    let (width, height) = size(bytes)?;
    let (width_at, width_type) = width_entry(&ifd)?;
    // BitsPerSample's count, made 1 in the copy (two values for one sample are refused).
    let bps_count_at = (0..ifd.entries).find_map(|k| {
        let entry = ifd.at + 2 + 12 * k;
        (ifd.u16_at(entry)? == 258).then_some(entry + 4)
    })?;
    Some(GrayAlpha {
        width,
        height,
        spp_at,
        width_at,
        width_type,
        bps_count_at,
    })
}

/// Where [`gray_alpha8`] found what the decoder patches in its one-sample copy.
pub(crate) struct GrayAlpha {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The SamplesPerPixel value.
    pub(crate) spp_at: usize,
    /// The ImageWidth value, of `width_type` (3 SHORT, 4 LONG).
    pub(crate) width_at: usize,
    pub(crate) width_type: u16,
    /// The BitsPerSample count (a LONG).
    pub(crate) bps_count_at: usize,
}

/// A 4-bit palette TIFF (contiguous strips, no predictor, MSB-first), which the `image` crate
/// refuses: its 16 colours as libtiff's RGBA interface reads them (the rules of [`palette8`]),
/// and where its Photometric, BitsPerSample and ImageWidth values sit. Its rows hold the same
/// bytes as an 8-bit gray image half as wide (rounded up), two indices a byte, high nibble first.
/// `None` for any other file, or one without a readable 48-entry colour map.
pub(crate) fn palette4(bytes: &[u8]) -> Option<Palette4> {
    let ifd = Ifd::first(bytes)?;
    let (photometric_at, _) = ifd.shorts(262)?;
    let (bps_at, bps_count) = ifd.shorts(258)?;
    if ifd.u16_at(photometric_at)? != 3
        || bps_count != 1
        || ifd.u16_at(bps_at)? != 4
        || ifd.short(277).unwrap_or(1) != 1
        || ifd.short(284).unwrap_or(1) != 1
        || ifd.short(317).unwrap_or(1) != 1
        || ifd.short(266).unwrap_or(1) != 1
        || ifd.short(274).unwrap_or(1) != 1
        || (0..ifd.entries).any(|k| ifd.u16_at(ifd.at + 2 + 12 * k) == Some(322))
    {
        return None;
    }
    let (map_at, count) = ifd.shorts(320)?;
    if count != 48 {
        return None;
    }
    let map: Vec<u16> = (0..48)
        .map(|i| ifd.u16_at(map_at + 2 * i))
        .collect::<Option<_>>()?;
    let rgb = colours(&map);
    let (width, height) = size(bytes)?;
    let (width_at, width_type) = width_entry(&ifd)?;
    Some(Palette4 {
        width,
        height,
        photometric_at,
        bps_at,
        width_at,
        width_type,
        rgb,
    })
}

/// What [`palette4`] found.
pub(crate) struct Palette4 {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The Photometric value.
    pub(crate) photometric_at: usize,
    /// The BitsPerSample value.
    pub(crate) bps_at: usize,
    /// The ImageWidth value, of `width_type` (3 SHORT, 4 LONG).
    pub(crate) width_at: usize,
    pub(crate) width_type: u16,
    /// The 16 colours, as 8-bit RGB.
    pub(crate) rgb: Vec<[u8; 3]>,
}

/// Where the ImageWidth value that [`size`] reads sits, and its type (3 SHORT, 4 LONG): the
/// same entry, so a directory with two ImageWidth entries is patched where it is read.
fn width_entry(ifd: &Ifd) -> Option<(usize, u16)> {
    (0..ifd.entries).find_map(|k| {
        let entry = ifd.at + 2 + 12 * k;
        if ifd.u16_at(entry)? != 256 || ifd.u32_at(entry + 4)? == 0 {
            return None;
        }
        let kind = ifd.u16_at(entry + 2)?;
        matches!(kind, 3 | 4).then_some((entry + 8, kind))
    })
}

/// ImageWidth and ImageLength of a classic TIFF's first directory, SHORT or LONG.
fn size(bytes: &[u8]) -> Option<(u32, u32)> {
    let ifd = Ifd::first(bytes)?;
    let dimension = |tag: u16| {
        (0..ifd.entries).find_map(|k| {
            let entry = ifd.at + 2 + 12 * k;
            if ifd.u16_at(entry)? != tag || ifd.u32_at(entry + 4)? == 0 {
                return None;
            }
            match ifd.u16_at(entry + 2)? {
                3 => ifd.u16_at(entry + 8).map(u32::from),
                4 => ifd.u32_at(entry + 8),
                _ => None,
            }
        })
    };
    Some((dimension(256)?, dimension(257)?))
}

/// The first tag of a classic TIFF's first directory, among those every reader needs, whose
/// values could not fit in the whole file (`count` times the size of its type), with that size: the tiff crate reads such a
/// tag's values into a `Vec` sized from the count before finding the data missing (up to its
/// own 256 MiB cap, in the probe and again in the decode).
pub(crate) fn tag_larger_than_file(bytes: &[u8]) -> Option<(u16, u64)> {
    let ifd = Ifd::first(bytes)?;
    // Only the tags the decoder cannot do without: libtiff (so OpenCV) skips a broken optional
    // one (a Software string of 8 MiB not in the file), and the tiff crate reads those lazily.
    const NEEDED: [u16; 16] = [
        256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 339,
    ];
    (0..ifd.entries).find_map(|k| {
        let entry = ifd.at + 2 + 12 * k;
        if !NEEDED.contains(&ifd.u16_at(entry)?) {
            return None;
        }
        let size: u64 = match ifd.u16_at(entry + 2)? {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 | 16..=18 => 8,
            _ => return None,
        };
        let total = u64::from(ifd.u32_at(entry + 4)?) * size;
        (total > bytes.len() as u64).then(|| (ifd.u16_at(entry).unwrap_or(0), total))
    })
}

/// Refuses a TIFF with a tag [`tag_larger_than_file`] finds, before the tiff crate reads it.
pub(crate) fn check_tag_sizes(bytes: &[u8]) -> Result<(), super::decode::DecodeError> {
    match tag_larger_than_file(bytes) {
        Some((tag, total)) => Err(super::decode::DecodeError::Corrupt {
            format: "TIFF",
            reason: format!(
                "tag {tag} announces {total} bytes of values, more than the whole file ({} bytes)",
                bytes.len()
            ),
        }),
        None => Ok(()),
    }
}

/// libtiff's `UaToAa` table entry: a colour sample premultiplied by an 8-bit alpha.
pub(crate) fn premultiply(v: u8, a: u8) -> u8 {
    ((u32::from(v) * u32::from(a) + 127) / 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic TIFF header and a one-entry directory holding ExtraSamples = `value`.
    fn with_extra_sample(big_endian: bool, value: u16) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if big_endian { b"MM\0*" } else { b"II*\0" });
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        out.extend_from_slice(&u32b(8));
        out.extend_from_slice(&u16b(1));
        out.extend_from_slice(&u16b(338));
        out.extend_from_slice(&u16b(3));
        out.extend_from_slice(&u32b(1));
        out.extend_from_slice(&u16b(value));
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        out
    }

    #[test]
    fn finds_unassociated_alpha_in_either_byte_order() {
        assert!(unassociated_alpha(&with_extra_sample(false, 2)));
        assert!(unassociated_alpha(&with_extra_sample(true, 2)));
        assert!(!unassociated_alpha(&with_extra_sample(false, 1)));
        assert!(!unassociated_alpha(&with_extra_sample(true, 0)));
        // Cut inside the value (bytes 18 and 19): no.
        assert!(!unassociated_alpha(&with_extra_sample(false, 2)[..19]));
    }

    #[test]
    fn ycbcr_tables_give_libtiffs_rgb() {
        // Values from libtiff 4.7 through cv2.imread (opencv-python 5.1), default tags.
        let t = YCbCrTables::new(
            [0.299, 0.587, 0.114],
            [0.0, 255.0, 128.0, 255.0, 128.0, 255.0],
        )
        .unwrap();
        for (ycc, rgb) in [
            ([0, 0, 0], [0, 135, 0]),
            ([255, 255, 255], [255, 121, 255]),
            ([128, 128, 128], [128, 128, 128]),
            ([76, 85, 255], [254, 0, 0]),
            ([200, 30, 220], [255, 168, 26]),
            ([17, 250, 3], [0, 64, 233]),
        ] {
            assert_eq!(t.rgb(ycc[0], ycc[1], ycc[2]), rgb, "{ycc:?}");
        }
        // BT.709 coefficients, studio-range reference.
        let ref_bw = [16.0, 235.0, 128.0, 240.0, 128.0, 240.0];
        let t = YCbCrTables::new([0.2126, 0.7152, 0.0722], ref_bw).unwrap();
        assert_eq!(t.rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(t.rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(t.rgb(100, 50, 200), [225, 76, 0]);
        // libtiff refuses a zero green coefficient.
        assert!(YCbCrTables::new([0.3, 0.0, 0.1], ref_bw).is_err());
    }

    #[test]
    fn cmyk_truncates_as_libtiff() {
        assert_eq!(cmyk_to_rgb(0, 0, 0, 0), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(255, 0, 128, 255), [0, 0, 0]);
        // 127 * 127 / 255 = 63.25 and 254 * 128 / 255 = 127.5: truncated, not rounded.
        assert_eq!(cmyk_to_rgb(128, 1, 128, 128), [63, 126, 63]);
    }

    #[test]
    fn premultiplies_as_libtiff() {
        assert_eq!(premultiply(255, 255), 255);
        assert_eq!(premultiply(200, 0), 0);
        // (200 * 128 + 127) / 255 = 100.89 -> 100.
        assert_eq!(premultiply(200, 128), 100);
    }
}
