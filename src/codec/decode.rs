//! Decoding with `cv2.imread`'s default semantics: 8-bit samples, 16-bit reduced as OpenCV's
//! decoder for the format does it (`>> 8` for PNG, PNM and gray TIFF, `round(v / 257)` for
//! colour TIFF), alpha
//! dropped (here: left for the gray kernel to skip), EXIF orientation applied, and a pixel
//! limit checked from the header before any pixel memory is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::ops::ChannelLayout;

/// Limits that keep a hostile file from exhausting memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted `width * height`.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 16384 * 16384,
        }
    }
}

/// How a file is read: `cv2.imread`'s `IMREAD_COLOR` (the default, followed by the gray
/// conversion of the process stage, as the book does) or `IMREAD_GRAYSCALE`, where the decoder
/// itself produces gray with its own arithmetic (libjpeg's luma channel for JPEG, libpng's
/// weights for PNG, in linear light when the file has a gamma; imgcodecs' own 14-bit weights
/// for BMP, PNM and TIFF; `cvtColor`'s for WebP and GIF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "binary", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    /// `cv2.imread(path)`: colour, then `cvtColor(.., COLOR_BGR2GRAY)`.
    #[default]
    Color,
    /// `cv2.imread(path, cv2.IMREAD_GRAYSCALE)`.
    Gray,
}

/// An upright 8-bit image as `cv2.imread` would see it, alpha possibly still interleaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedImage {
    /// Width in pixels (after orientation).
    pub width: u32,
    /// Height in pixels (after orientation).
    pub height: u32,
    /// Sample layout of `data`.
    pub layout: ChannelLayout,
    /// `width * height * layout.channels()` samples.
    pub data: Vec<u8>,
    /// The decoder's warnings (libjpeg's "premature end of data segment" and the like, where
    /// missing data was filled with grey): the image is usable but probably damaged. A
    /// bounded number of texts; when more were raised, the last entry says how many more
    /// (see [`warning_count`]).
    pub warnings: Vec<String>,
}

/// An empty buffer with room for `len` bytes, or the error naming `what` when the process
/// cannot have them.
pub(crate) fn try_capacity(len: usize, what: &'static str) -> Result<Vec<u8>, DecodeError> {
    try_reserve_probe(len, what)
}

/// Reserves `len` bytes without touching them (an address-space check).
fn try_reserve_probe(len: usize, what: &'static str) -> Result<Vec<u8>, DecodeError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| DecodeError::OutOfMemory {
            what,
            bytes: len as u64,
        })?;
    Ok(v)
}

/// Ends the line that stands for the warnings whose texts were not kept: `"{n}{MORE}"`.
const MORE_WARNINGS: &str = " more warnings from the decoder";

/// The line that stands for `n` warnings whose texts were not kept.
// Only the libjpeg path drops warning texts; the pure-Rust build has no caller.
#[cfg_attr(not(feature = "libjpeg-turbo"), allow(dead_code))]
pub(crate) fn more_warnings_line(n: u64) -> String {
    format!("{n}{MORE_WARNINGS}")
}

/// How many warnings the decoder raised, from [`DecodedImage::warnings`]: the texts kept plus
/// the number their closing "N more" line stands for. (libjpeg may warn thousands of times on
/// one damaged file; only a few texts are kept, every one is counted.)
pub fn warning_count(warnings: &[String]) -> u64 {
    let more = warnings
        .last()
        .and_then(|w| w.strip_suffix(MORE_WARNINGS))
        .and_then(|n| n.parse::<u64>().ok());
    match more {
        Some(n) => (warnings.len() as u64 - 1).saturating_add(n),
        None => warnings.len() as u64,
    }
}

impl DecodedImage {
    /// Number of pixels.
    pub fn pixel_count(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// Why a file could not be decoded. The text is written for the person running the batch.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file has no bytes.
    #[error("empty file (0 bytes)")]
    Empty,
    /// The content is no format graypipe reads.
    #[error("not a supported image (content is not JPEG, PNG, BMP, TIFF, WebP, GIF or PNM)")]
    UnknownFormat,
    /// The header declares more pixels than allowed.
    #[error("{width} x {height} pixels is over the decode limit of {max} pixels (--max-pixels)")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit.
        max: u64,
    },
    /// The header declares an empty image.
    #[error("image has zero width or height")]
    ZeroSized,
    /// The process could not get the memory for a buffer this image needs (an address-space
    /// limit such as `ulimit -v`, or memory exhausted): this file fails, the run goes on.
    #[error("not enough memory for the {what} ({bytes} bytes; a memory limit such as ulimit -v?)")]
    OutOfMemory {
        /// The buffer, in words.
        what: &'static str,
        /// Its size.
        bytes: u64,
    },
    /// The decoder rejected the data.
    #[error("cannot decode {format}: {reason}")]
    Corrupt {
        /// Format name.
        format: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Pnm => "PNM",
        _ => "image",
    }
}

/// Turns the `image` crate's error into a sentence naming the format. `cut` says the file is
/// known to stop early whatever the error (see [`pam_header_is_cut`]).
fn describe(format: &'static str, e: ImageError, cut: bool) -> DecodeError {
    let reason = match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "file is truncated (unexpected end of data)".to_string()
        }
        ImageError::Limits(l) => format!("over the decoder's memory limit ({l})"),
        ImageError::Unsupported(u) => format!("unsupported variant ({u})"),
        other if cut || ends_early(&other) => format!("file is truncated ({other})"),
        other => other.to_string(),
    };
    DecodeError::Corrupt { format, reason }
}

/// Whether a decoder failed because the data ran out, from the error kinds in its chain: an
/// I/O `UnexpectedEof` (the PNG, BMP, TIFF, WebP and PNM readers) or GIF's own end-of-file
/// kind.
fn ends_early(e: &ImageError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                return true;
            }
        }
        if let Some(gif::DecodingError::UnexpectedEof) = e.downcast_ref::<gif::DecodingError>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether a PAM (`P7`) file stops before the `ENDHDR` line that ends its header. The PAM
/// reader says so only with a kind private to the `image` crate ("unexpected end of PNM
/// header"), which a blank header line raises too; the file itself tells the two apart.
fn pam_header_is_cut(bytes: &[u8]) -> bool {
    bytes.starts_with(b"P7") && !bytes.windows(6).any(|w| w == b"ENDHDR")
}

/// Bytes the decoders may allocate besides the pixels of the image the header declares: room
/// for metadata (an ICC profile is decompressed only up to what is left of the cap, and OpenCV
/// ignores it anyway), text chunks and the decoders' tables.
pub const METADATA_ALLOWANCE: u64 = 16 << 20;

/// Decodes an image file's bytes as `cv2.imread(path)` does. The format is taken from the
/// content, as OpenCV does, not from the file name.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage, DecodeError> {
    decode_as(bytes, limits, ReadMode::Color)
}

/// Decodes an image file's bytes as `cv2.imread(path, flags)` does for `mode`.
pub fn decode_as(
    bytes: &[u8],
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    decode_file(bytes, limits, mode, Palette::Route, None)
}

/// [`decode_as`] with [`ReadMode::Color`], then gray with `luma` (`cvtColor`) wherever the
/// decoder can convert rows as it decodes them, so that the full-colour picture never exists:
/// JPEG (libjpeg's scanlines, 16 rows at a time) and non-interlaced 8- and 16-bit RGB and RGBA
/// PNG without transparency chunk or EXIF (row by row). Those come back gray; every other file
/// comes back as [`decode_as`] gives it, for the caller to convert. The pixels are the same
/// either way.
pub fn decode_color_to_gray(
    bytes: &[u8],
    limits: &DecodeLimits,
    luma: crate::ops::Luma,
) -> Result<DecodedImage, DecodeError> {
    decode_file(bytes, limits, ReadMode::Color, Palette::Route, Some(luma))
}

/// Whether a palette TIFF takes the palette route ([`tiff_palette`]), or is the patched copy
/// that route decodes, which must not take it again: a patch can turn a later entry of the
/// directory into the Photometric one, and each turn would copy the file and recurse.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Palette {
    Route,
    Patched,
}

fn decode_file(
    bytes: &[u8],
    limits: &DecodeLimits,
    mode: ReadMode,
    palette_route: Palette,
    gray: Option<crate::ops::Luma>,
) -> Result<DecodedImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| DecodeError::UnknownFormat)?;
    let format = reader.format().ok_or(DecodeError::UnknownFormat)?;
    if !matches!(
        format,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::Bmp
            | ImageFormat::Tiff
            | ImageFormat::WebP
            | ImageFormat::Gif
            | ImageFormat::Pnm
    ) {
        return Err(DecodeError::UnknownFormat);
    }
    let name = format_name(format);
    // PNG's size sits at a fixed place in its header: check it before the decoder reads on.
    let png_size = png_header_size(bytes);
    if let Some((width, height)) = png_size {
        check_size(width, height, limits)?;
    }
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // libjpeg (and so OpenCV) would hand back a partly grey picture with a warning; a
        // batch tool says the file is damaged instead.
        return Err(DecodeError::Corrupt {
            format: name,
            reason: "file is truncated (no end-of-image marker after the last scan)".into(),
        });
    }
    if format == ImageFormat::Jpeg {
        let scans = jpeg_scan_count(bytes);
        if scans > MAX_JPEG_SCANS {
            // Each scan of a progressive JPEG makes the decoder pass over the whole picture's
            // coefficients again: thousands of empty scans in a small file take minutes.
            return Err(DecodeError::Corrupt {
                format: name,
                reason: format!(
                    "{scans} scans, more than the {MAX_JPEG_SCANS} any real progressive JPEG uses (a decoder-stalling file)"
                ),
            });
        }
    }
    #[cfg(feature = "libjpeg-turbo")]
    if format == ImageFormat::Jpeg {
        return decode_jpeg(
            bytes,
            limits,
            mode,
            gray.filter(|_| mode == ReadMode::Color),
        );
    }
    if format == ImageFormat::Gif {
        super::gif::check_first_frame(bytes)?;
    }
    // 16- and 32-bit BMPs are read as OpenCV's own reader does (the `image` crate rescales
    // their channels differently); the rest, once the header passes OpenCV's checks, below.
    if format == ImageFormat::Bmp {
        if let Some(img) = super::bmp::decode(bytes, limits, mode)? {
            return Ok(img);
        }
        // The `image` crate refuses a planes field other than 1, which OpenCV never reads: it
        // reads a copy saying 1 (after which this branch is not taken again).
        if let Some(at) = super::bmp::odd_planes_at(bytes) {
            let mut copy = try_capacity(bytes.len(), "BMP copy with one plane")?;
            copy.extend_from_slice(bytes);
            copy[at..at + 2].copy_from_slice(&1u16.to_le_bytes());
            return decode_file(&copy, limits, mode, palette_route, gray);
        }
    }
    if format == ImageFormat::Tiff {
        super::tiff::check_tag_sizes(bytes)?;
        if let Some((at, palette)) = super::tiff::palette8(bytes) {
            if palette_route == Palette::Patched {
                return Err(DecodeError::Corrupt {
                    format: name,
                    reason: "more than one Photometric entry says palette (a directory \
                             built to make the palette reader loop)"
                        .into(),
                });
            }
            return tiff_palette(bytes, at, &palette, limits, mode);
        }
        // Only once: the patched copy decoded below must not take this route again.
        if palette_route == Palette::Route {
            if let Some(at) = super::tiff::signed8(bytes) {
                return tiff_signed8(bytes, at, limits, mode);
            }
            if let Some(layout) = super::tiff::gray_alpha8(bytes) {
                return tiff_gray_alpha8(bytes, layout, limits);
            }
            if let Some(found) = super::tiff::palette4(bytes) {
                return tiff_palette4(bytes, found, limits, mode);
            }
            if let Some(found) = super::tiff::ycbcr8(bytes) {
                return tiff_ycbcr(bytes, found, limits, mode);
            }
            if let Some(found) = super::tiff::cmyk8(bytes) {
                return tiff_cmyk8(bytes, found, limits, mode);
            }
            #[cfg(feature = "libjpeg-turbo")]
            if let Some(found) = super::tiff::jpeg_ycbcr(bytes) {
                return tiff_jpeg_ycbcr(bytes, found, limits, mode);
            }
        }
    }
    if let (Some(luma), ReadMode::Color, ImageFormat::Png) = (gray, mode, format) {
        if let Some(img) = png_rows_to_gray(bytes, limits, luma)? {
            return Ok(img);
        }
    }
    // P1-P6 as OpenCV's own reader does (the `image` crate rescales samples to the maximum
    // value; OpenCV scales only ASCII 8-bit ones); PAM below.
    if format == ImageFormat::Pnm {
        if let Some(img) = super::pnm::decode(bytes, limits, mode)? {
            return Ok(img);
        }
    }
    // The decoder's own allocation cap: what this header's image needs at 16-bit RGBA, twice
    // (decoder buffer and conversion), plus a small allowance for metadata. Before the size is
    // known (formats other than PNG) the largest accepted image's.
    let cap = decoder_cap;
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc =
        Some(cap(png_size.map_or(limits.max_pixels, |(w, h)| {
            u64::from(w) * u64::from(h)
        })));
    reader.limits(decoder_limits);
    let fail = |e| {
        let cut = format == ImageFormat::Pnm && pam_header_is_cut(bytes);
        describe(name, e, cut)
    };
    let mut decoder = reader.into_decoder().map_err(fail)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, limits)?;
    let mut sized = Limits::default();
    sized.max_alloc = Some(cap(u64::from(width) * u64::from(height)));
    decoder.set_limits(sized).map_err(fail)?;
    // A broken EXIF block is not worth failing the file: OpenCV ignores it too.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // `from_decoder` allocates the pixel buffer infallibly inside the `image` crate: make sure
    // the address space can hold it first (a check, not a guarantee: the buffer is asked for
    // again just after).
    let total = usize::try_from(decoder.total_bytes()).unwrap_or(usize::MAX);
    drop(try_reserve_probe(total, "decoded pixels")?);
    let mut img = DynamicImage::from_decoder(decoder).map_err(fail)?;
    img.apply_orientation(orientation);
    if format == ImageFormat::Tiff
        && matches!(
            img,
            DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_)
        )
    {
        return Err(DecodeError::Corrupt {
            format: name,
            reason: "32-bit float colour samples (OpenCV's 8-bit read, through libtiff's RGBA \
                     interface, refuses them)"
                .into(),
        });
    }
    Ok(match (mode, format) {
        (ReadMode::Gray, ImageFormat::Png) => {
            png_gray(img, super::libpng_gray::LinearGray::for_png(bytes).as_ref())
        }
        // OpenCV reads 8-bit TIFF through libtiff's RGBA interface, which rounds 16-bit colour
        // samples (`(v + 128) / 257`) but takes the high byte of 16-bit gray ones
        // (`put16bitbwtile`); libpng and the PNM reader cut.
        (_, ImageFormat::Tiff) => {
            let img = if super::tiff::unassociated_alpha(bytes) {
                premultiply_tiff(img)
            } else {
                img
            };
            let gray16 = matches!(
                img,
                DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_)
            );
            let reduce: fn(u16) -> u8 = if gray16 {
                |s| (s >> 8) as u8
            } else {
                |s| ((u32::from(s) * 255 + 32767) / 65535) as u8
            };
            finish(to_eight_bit(img, reduce), mode, GrayWeights::Utils)
        }
        (_, ImageFormat::Bmp | ImageFormat::Pnm) => finish(
            to_eight_bit(img, |s: u16| (s >> 8) as u8),
            mode,
            GrayWeights::Utils,
        ),
        (_, ImageFormat::Gif) => finish(
            to_eight_bit(gif_background(img, bytes)?, |s: u16| (s >> 8) as u8),
            mode,
            GrayWeights::CvtColor,
        ),
        _ => finish(
            to_eight_bit(img, |s: u16| (s >> 8) as u8),
            mode,
            GrayWeights::CvtColor,
        ),
    })
}

/// A PNG row reader, the rows' layout, and whether samples are 16-bit.
type PngRows<'a> = (png::Reader<Cursor<&'a [u8]>>, ChannelLayout, bool);

/// A reader of the rows of a PNG [`png_rows_to_gray`] takes, after its header and the chunks
/// before the image data: with the rows' layout and whether samples are 16-bit.
fn png_row_reader(bytes: &[u8]) -> Option<PngRows<'_>> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let reader = decoder.read_info().ok()?;
    let info = reader.info();
    let layout = match info.color_type {
        png::ColorType::Rgb => ChannelLayout::Rgb,
        png::ColorType::Rgba => ChannelLayout::Rgba,
        _ => return None,
    };
    let wide = match info.bit_depth {
        png::BitDepth::Eight => false,
        png::BitDepth::Sixteen => true,
        _ => return None,
    };
    let plain = !info.interlaced
        && info.trns.is_none()
        && info.exif_metadata.is_none()
        && info.animation_control.is_none();
    plain.then_some((reader, layout, wide))
}

/// Whether [`decode_color_to_gray`] converts this file as it decodes it (so that the colour
/// picture never exists), from its header and the chunks before its image data.
pub fn decodes_to_gray(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return cfg!(feature = "libjpeg-turbo")
            && super::probe(bytes).is_ok_and(|info| info.channels == 3);
    }
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") && png_row_reader(bytes).is_some()
}

/// A non-interlaced 8- or 16-bit RGB or RGBA PNG without `tRNS`, `eXIf` or animation, read row
/// by row and made gray with `luma` as the rows come: what the `image` crate's decoder, then
/// [`to_eight_bit`] (the high byte of 16-bit samples, alpha dropped) and the gray kernel give,
/// without the full-colour picture. `None` for every other PNG, and for any PNG the rows cannot
/// be read from (the whole-picture route then reads it again and reports what is wrong).
fn png_rows_to_gray(
    bytes: &[u8],
    limits: &DecodeLimits,
    luma: crate::ops::Luma,
) -> Result<Option<DecodedImage>, DecodeError> {
    let Some((mut reader, layout, wide)) = png_row_reader(bytes) else {
        return Ok(None);
    };
    let (width, height) = (reader.info().width, reader.info().height);
    check_size(width, height, limits)?;
    let (w, h) = (width as usize, height as usize);
    let mut gray = try_capacity(w * h, "gray picture")?;
    let mut narrow = vec![0u8; if wide { w * layout.channels() } else { 0 }];
    loop {
        let row = match reader.next_row() {
            Ok(Some(row)) => row.data(),
            Ok(None) => break,
            Err(_) => return Ok(None),
        };
        let samples = if wide {
            for (n, s) in narrow.iter_mut().zip(row.chunks_exact(2)) {
                *n = s[0];
            }
            &narrow[..]
        } else {
            row
        };
        if gray.len() + w > w * h || samples.len() != w * layout.channels() {
            return Ok(None);
        }
        let start = gray.len();
        gray.resize(start + w, 0);
        crate::ops::to_gray_into(samples, layout, luma, &mut gray[start..]);
    }
    if gray.len() != w * h {
        return Ok(None);
    }
    Ok(Some(gray_image(width, height, gray)))
}

/// OpenCV's GIF reader (`grfmt_gif.cpp`, its own since OpenCV 4.11) draws the first frame on a
/// canvas of the logical screen filled with the global colour table's background entry (black
/// without a global table), skipping transparent pixels, then drops alpha: every pixel the
/// `image` crate leaves fully transparent (outside the frame, or the transparent index) is that
/// background colour. A background index past the global table makes OpenCV refuse the file.
fn gif_background(img: DynamicImage, bytes: &[u8]) -> Result<DynamicImage, DecodeError> {
    let (flags, bg) = match bytes.get(10..12) {
        Some(&[flags, bg]) => (flags, usize::from(bg)),
        _ => return Ok(img),
    };
    let colour = if flags & 0x80 != 0 {
        let entries = 1usize << ((flags & 7) + 1);
        if bg >= entries {
            return Err(DecodeError::Corrupt {
                format: "GIF",
                reason: format!(
                    "background colour {bg} is past the {entries}-entry global colour table \
                     (OpenCV refuses it)"
                ),
            });
        }
        match bytes.get(13 + 3 * bg..16 + 3 * bg) {
            Some(&[r, g, b]) => [r, g, b],
            _ => return Ok(img),
        }
    } else {
        [0, 0, 0]
    };
    Ok(match img {
        DynamicImage::ImageRgba8(mut b) => {
            for p in b.pixels_mut().filter(|p| p[3] == 0) {
                p.0 = [colour[0], colour[1], colour[2], 0];
            }
            DynamicImage::ImageRgba8(b)
        }
        other => other,
    })
}

/// The allocation cap given to the `image` crate's decoders for a picture of `pixels`: its
/// samples at 16-bit RGBA twice, plus [`METADATA_ALLOWANCE`].
fn decoder_cap(pixels: u64) -> u64 {
    pixels.saturating_mul(16).saturating_add(METADATA_ALLOWANCE)
}

/// The error of a TIFF read through a patched copy.
fn tiff_corrupt(reason: &str) -> DecodeError {
    DecodeError::Corrupt {
        format: "TIFF",
        reason: reason.into(),
    }
}

/// A copy of the TIFF `bytes` (asked for fallibly, named `what`) with `values` written into
/// its directory: what the readers below hand the `image` crate for the TIFF kinds it refuses.
fn patched_tiff(
    bytes: &[u8],
    what: &'static str,
    values: &[(usize, super::tiff::Value)],
) -> Result<Vec<u8>, DecodeError> {
    let mut copy = try_capacity(bytes.len(), what)?;
    copy.extend_from_slice(bytes);
    for &(at, value) in values {
        value
            .write(&mut copy, at)
            .ok_or_else(|| tiff_corrupt("directory entry outside the file"))?;
    }
    Ok(copy)
}

/// Palette `indices` as `cv2.imread` gives them in `mode`: RGB, or gray with imgcodecs' 14-bit
/// weights (OpenCV converts libtiff's RGBA).
fn from_palette(
    indices: impl Iterator<Item = usize>,
    colours: &[[u8; 3]],
    mode: ReadMode,
) -> (ChannelLayout, Vec<u8>) {
    match mode {
        ReadMode::Color => (
            ChannelLayout::Rgb,
            indices.flat_map(|i| colours[i]).collect(),
        ),
        ReadMode::Gray => {
            let gray: Vec<u8> = colours
                .iter()
                .map(|&[r, g, b]| super::opencv_color::utils_gray8(r, g, b))
                .collect();
            (ChannelLayout::Gray, indices.map(|i| gray[i]).collect())
        }
    }
}

/// An 8-bit palette TIFF: its indices read by the `image` crate from a copy whose Photometric
/// value (at `at`) says gray, then looked up in `palette` (`tiff.rs`); gray with imgcodecs'
/// 14-bit weights, as OpenCV converts libtiff's RGBA.
fn tiff_palette(
    bytes: &[u8],
    at: usize,
    palette: &[[u8; 3]],
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    // Photometric 1: BlackIsZero.
    let patched = patched_tiff(
        bytes,
        "palette TIFF copy",
        &[(at, super::tiff::Value::Short(1))],
    )?;
    let idx = decode_file(&patched, limits, ReadMode::Color, Palette::Patched, None)?;
    if idx.layout != ChannelLayout::Gray {
        return Err(tiff_corrupt(
            "palette image with other than one sample per pixel",
        ));
    }
    let indices = idx.data.iter().map(|&i| usize::from(i));
    let (layout, data) = from_palette(indices, palette, mode);
    Ok(DecodedImage {
        layout,
        data,
        ..idx
    })
}

/// A signed 8-bit gray TIFF as libtiff's RGBA interface reads it (`tiff.rs`): the stored
/// bytes as unsigned levels, read by the `image` crate from a copy whose SampleFormat value
/// (at `at`) says unsigned.
fn tiff_signed8(
    bytes: &[u8],
    at: usize,
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    // SampleFormat 1: unsigned integer.
    let patched = patched_tiff(
        bytes,
        "signed TIFF copy",
        &[(at, super::tiff::Value::Short(1))],
    )?;
    decode_file(&patched, limits, mode, Palette::Patched, None)
}

/// An 8-bit gray+alpha TIFF as libtiff's RGBA interface reads it (`tiff.rs`): the gray samples
/// as stored, alpha dropped, in both read modes. The `image` crate reads a copy that says one
/// sample per pixel and twice the width (the same strip bytes); every other byte is gray.
fn tiff_gray_alpha8(
    bytes: &[u8],
    found: super::tiff::GrayAlpha,
    limits: &DecodeLimits,
) -> Result<DecodedImage, DecodeError> {
    let super::tiff::GrayAlpha {
        width,
        height,
        spp_at,
        width_at,
        width_type,
        bps_count_at,
    } = found;
    check_size(width, height, limits)?;
    use super::tiff::Value;
    let wide = width
        .checked_mul(2)
        .ok_or_else(|| tiff_corrupt("gray+alpha width too large"))?;
    let new_width =
        Value::width(width_type, wide).ok_or_else(|| tiff_corrupt("gray+alpha width too large"))?;
    let patched = patched_tiff(
        bytes,
        "gray+alpha TIFF copy",
        &[
            (width_at, new_width),
            (spp_at, Value::Short(1)),
            (bps_count_at, Value::Long(1)),
        ],
    )?;
    // The copy's pixels are twice the file's, already checked against the limit above.
    let wide_limits = DecodeLimits {
        max_pixels: limits.max_pixels.saturating_mul(2),
    };
    let img = decode_file(
        &patched,
        &wide_limits,
        ReadMode::Gray,
        Palette::Patched,
        None,
    )?;
    if img.layout != ChannelLayout::Gray
        || img.data.len() as u64 != u64::from(wide) * u64::from(height)
    {
        return Err(tiff_corrupt("gray+alpha image read with another layout"));
    }
    Ok(DecodedImage {
        layout: ChannelLayout::Gray,
        data: img.data.iter().step_by(2).copied().collect(),
        width,
        height,
        ..img
    })
}

/// RGB `pixels` as `cv2.imread` hands them over in `mode` after libtiff's RGBA interface: as
/// they are, or gray with imgcodecs' 14-bit weights.
fn rgb_in_mode(width: u32, height: u32, pixels: Vec<u8>, mode: ReadMode) -> DecodedImage {
    let (layout, data) = match mode {
        ReadMode::Color => (ChannelLayout::Rgb, pixels),
        ReadMode::Gray => (
            ChannelLayout::Gray,
            pixels
                .chunks_exact(3)
                .map(|p| super::opencv_color::utils_gray8(p[0], p[1], p[2]))
                .collect(),
        ),
    };
    DecodedImage {
        width,
        height,
        layout,
        data,
        warnings: Vec::new(),
    }
}

/// A JPEG-compressed YCbCr TIFF as libtiff's RGBA interface reads it (`tiff.rs`): each strip
/// is a JPEG stream of its own, completed with the JPEGTables (their end marker dropped, the
/// strip's start marker dropped), decoded to RGB by libjpeg-turbo as a JPEG file is; the rows
/// of each strip placed one after another.
#[cfg(feature = "libjpeg-turbo")]
fn tiff_jpeg_ycbcr(
    bytes: &[u8],
    found: super::tiff::JpegYCbCr,
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    let (width, height) = (found.width, found.height);
    check_size(width, height, limits)?;
    let tables: &[u8] = match found.tables {
        Some((at, count)) => bytes
            .get(at..at.saturating_add(count))
            .ok_or_else(|| tiff_corrupt("JPEGTables outside the file"))?,
        None => &[],
    };
    let tables = tables.strip_suffix(&[0xFF, 0xD9]).unwrap_or(tables);
    let (w, h) = (width as usize, height as usize);
    let mut pixels = try_capacity(w.saturating_mul(h).saturating_mul(3), "YCbCr TIFF pixels")?;
    let mut stream = Vec::new();
    let mut rows_done = 0usize;
    for &(offset, count) in &found.strips {
        if rows_done >= h {
            break;
        }
        let strip = bytes
            .get(offset as usize..(offset as usize).saturating_add(count as usize))
            .ok_or_else(|| tiff_corrupt("strip outside the file"))?;
        stream.clear();
        if tables.is_empty() {
            stream.extend_from_slice(strip);
        } else {
            stream.extend_from_slice(tables);
            stream.extend_from_slice(strip.strip_prefix(&[0xFF, 0xD8]).unwrap_or(strip));
        }
        let px = super::jpeg_turbo::decode(&stream, limits, ReadMode::Color, None)?;
        let rows = (found.rows_per_strip as usize).min(h - rows_done);
        if px.channels != 3 || (px.width as usize) < w || (px.height as usize) < rows {
            return Err(tiff_corrupt(&format!(
                "a JPEG strip of {} x {} with {} channels, for {w} x {rows} RGB",
                px.width, px.height, px.channels
            )));
        }
        let stride = px.width as usize * 3;
        for row in px.data.chunks_exact(stride).take(rows) {
            pixels.extend_from_slice(&row[..w * 3]);
        }
        rows_done += rows;
    }
    if rows_done < h {
        return Err(tiff_corrupt("the strips end before the last row"));
    }
    Ok(rgb_in_mode(width, height, pixels, mode))
}

/// An 8-bit CMYK TIFF as libtiff's RGBA interface reads it (`tiff.rs`): the `image` crate reads
/// the stored samples from a copy that says 8-bit gray four times as wide; each pixel is then
/// converted with libtiff's truncating integer formula.
fn tiff_cmyk8(
    bytes: &[u8],
    found: super::tiff::Cmyk,
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    use super::tiff::Value;
    let (width, height) = (found.width, found.height);
    check_size(width, height, limits)?;
    let too_large = || tiff_corrupt("CMYK width too large");
    let wide = width.checked_mul(4).ok_or_else(too_large)?;
    let patched = patched_tiff(
        bytes,
        "CMYK TIFF copy",
        &[
            (found.photometric_at, Value::Short(1)),
            (found.spp_at, Value::Short(1)),
            (found.bps_entry + 4, Value::Long(1)),
            (found.bps_entry + 8, Value::Short(8)),
            (
                found.width_at,
                Value::width(found.width_type, wide).ok_or_else(too_large)?,
            ),
        ],
    )?;
    let wide_limits = DecodeLimits {
        max_pixels: limits.max_pixels.saturating_mul(4),
    };
    let img = decode_file(
        &patched,
        &wide_limits,
        ReadMode::Gray,
        Palette::Patched,
        None,
    )?;
    if img.layout != ChannelLayout::Gray
        || img.data.len() as u64 != u64::from(wide) * u64::from(height)
    {
        return Err(tiff_corrupt("CMYK image read with another layout"));
    }
    let mut pixels = try_capacity(img.data.len() / 4 * 3, "CMYK TIFF pixels")?;
    for p in img.data.chunks_exact(4) {
        pixels.extend_from_slice(&super::tiff::cmyk_to_rgb(p[0], p[1], p[2], p[3]));
    }
    Ok(rgb_in_mode(width, height, pixels, mode))
}

/// An 8-bit YCbCr TIFF (not JPEG-compressed) as libtiff's RGBA interface reads it (`tiff.rs`):
/// the `image` crate reads the stored samples from a copy that says RGB (no subsampling), or
/// 8-bit gray one subsampling block row a row and one byte a sample (subsampled: each block is
/// its Y samples row by row, then Cb and Cr); each pixel then goes through libtiff's tables
/// with its block's chroma. Gray with imgcodecs' 14-bit weights, as OpenCV converts RGBA.
fn tiff_ycbcr(
    bytes: &[u8],
    found: super::tiff::YCbCr,
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    use super::tiff::Value;
    let (width, height) = (found.width, found.height);
    check_size(width, height, limits)?;
    let tables = super::tiff::YCbCrTables::new(found.luma, found.reference)
        .map_err(|why| tiff_corrupt(&format!("YCbCr: {why} (libtiff refuses it)")))?;
    let (sub_h, sub_v) = found.subsampling;
    if !matches!(
        (sub_h, sub_v),
        (1, 1) | (2, 1) | (2, 2) | (4, 1) | (4, 2) | (4, 4) | (1, 2)
    ) {
        return Err(tiff_corrupt(&format!(
            "YCbCr subsampling {sub_h} x {sub_v} (libtiff's RGBA interface reads 1x1, 1x2, 2x1,              2x2, 4x1, 4x2 and 4x4)"
        )));
    }
    if width < u32::from(sub_h) || height < u32::from(sub_v) {
        return Err(tiff_corrupt(&format!(
            "YCbCr subsampling {sub_h} x {sub_v} is larger than the {width} x {height} image              (libtiff refuses it)"
        )));
    }
    let mut pixels = try_capacity(
        (width as usize)
            .saturating_mul(height as usize)
            .saturating_mul(3),
        "YCbCr TIFF pixels",
    )?;
    if (sub_h, sub_v) == (1, 1) {
        // Photometric 2: RGB, the same three samples a pixel.
        let patched = patched_tiff(
            bytes,
            "YCbCr TIFF copy",
            &[(found.photometric_at, Value::Short(2))],
        )?;
        let img = decode_file(&patched, limits, ReadMode::Color, Palette::Patched, None)?;
        if img.layout != ChannelLayout::Rgb
            || img.data.len() as u64 != u64::from(width) * u64::from(height) * 3
        {
            return Err(tiff_corrupt("YCbCr image read with another layout"));
        }
        for p in img.data.chunks_exact(3) {
            pixels.extend_from_slice(&tables.rgb(p[0], p[1], p[2]));
        }
    } else {
        if found.tiled || !found.plain {
            return Err(tiff_corrupt(
                "subsampled YCbCr in tiles, with a predictor or an orientation (not read by                  graypipe)",
            ));
        }
        let (h, v) = (u32::from(sub_h), u32::from(sub_v));
        let block = (h * v + 2) as usize;
        let blocks_across = width.div_ceil(h);
        let block_rows = height.div_ceil(v);
        let too_large = || tiff_corrupt("YCbCr image too large");
        let row_bytes = blocks_across.checked_mul(h * v + 2).ok_or_else(too_large)?;
        let mut values = vec![
            (found.photometric_at, Value::Short(1)),
            (found.spp_at, Value::Short(1)),
            (found.bps_entry + 4, Value::Long(1)),
            (found.bps_entry + 8, Value::Short(8)),
            (
                found.width_at,
                Value::width(found.width_type, row_bytes).ok_or_else(too_large)?,
            ),
            (
                found.height_at,
                Value::width(found.height_type, block_rows).ok_or_else(too_large)?,
            ),
        ];
        if let Some((at, kind, rows)) = found.rows_per_strip {
            if rows < height && rows % v != 0 {
                return Err(tiff_corrupt(&format!(
                    "RowsPerStrip {rows} is not a multiple of the vertical YCbCr subsampling {v}"
                )));
            }
            let strip_rows = rows.div_ceil(v);
            values.push((at, Value::width(kind, strip_rows).ok_or_else(too_large)?));
        }
        let patched = patched_tiff(bytes, "YCbCr TIFF copy", &values)?;
        let copy_limits = DecodeLimits {
            max_pixels: limits.max_pixels.saturating_mul(3),
        };
        let img = decode_file(
            &patched,
            &copy_limits,
            ReadMode::Gray,
            Palette::Patched,
            None,
        )?;
        if img.layout != ChannelLayout::Gray
            || img.data.len() as u64 != u64::from(row_bytes) * u64::from(block_rows)
        {
            return Err(tiff_corrupt("YCbCr image read with another layout"));
        }
        let (width, row_bytes) = (width as usize, row_bytes as usize);
        let (h, v) = (h as usize, v as usize);
        for y in 0..height as usize {
            let row = &img.data[(y / v) * row_bytes..][..row_bytes];
            for x in 0..width {
                let b = &row[(x / h) * block..][..block];
                let luma = b[(y % v) * h + x % h];
                pixels.extend_from_slice(&tables.rgb(luma, b[block - 2], b[block - 1]));
            }
        }
    }
    Ok(rgb_in_mode(width, height, pixels, mode))
}

/// A 4-bit palette TIFF as libtiff's RGBA interface reads it (`tiff.rs`): the `image` crate
/// reads a copy that says 8-bit gray, half as wide (the same strip bytes); each byte holds two
/// indices, high nibble first, looked up in the colours; gray with imgcodecs' 14-bit weights.
fn tiff_palette4(
    bytes: &[u8],
    found: super::tiff::Palette4,
    limits: &DecodeLimits,
    mode: ReadMode,
) -> Result<DecodedImage, DecodeError> {
    let super::tiff::Palette4 {
        width,
        height,
        photometric_at,
        bps_at,
        width_at,
        width_type,
        rgb,
    } = found;
    check_size(width, height, limits)?;
    use super::tiff::Value;
    let half = width.div_ceil(2);
    let new_width =
        Value::width(width_type, half).ok_or_else(|| tiff_corrupt("palette width too large"))?;
    let patched = patched_tiff(
        bytes,
        "palette TIFF copy",
        &[
            (width_at, new_width),
            (photometric_at, Value::Short(1)),
            (bps_at, Value::Short(8)),
        ],
    )?;
    let img = decode_file(&patched, limits, ReadMode::Gray, Palette::Patched, None)?;
    if img.layout != ChannelLayout::Gray
        || img.data.len() as u64 != u64::from(half) * u64::from(height)
    {
        return Err(tiff_corrupt("4-bit palette image read with another layout"));
    }
    let w = width as usize;
    let indices = img.data.chunks(half as usize).flat_map(|row| {
        row.iter()
            .flat_map(|&b| [usize::from(b >> 4), usize::from(b & 15)])
            .take(w)
    });
    let (layout, data) = from_palette(indices, &rgb, mode);
    Ok(DecodedImage {
        layout,
        data,
        width,
        height,
        ..img
    })
}

/// A TIFF's colour premultiplied by its unassociated alpha as libtiff's RGBA read does it
/// (`tiff.rs`); 16-bit samples are rounded to 8 bits first. Other layouts are returned as
/// they are.
fn premultiply_tiff(img: DynamicImage) -> DynamicImage {
    use super::tiff::premultiply;
    let round = |s: u16| ((u32::from(s) + 128) / 257) as u8;
    match img {
        DynamicImage::ImageRgba8(mut b) => {
            for p in b.pixels_mut() {
                let a = p[3];
                for v in &mut p.0[..3] {
                    *v = premultiply(*v, a);
                }
            }
            DynamicImage::ImageRgba8(b)
        }
        DynamicImage::ImageRgba16(b) => {
            let (w, h) = b.dimensions();
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
                let p = b.get_pixel(x, y).0;
                let a = round(p[3]);
                image::Rgb([0, 1, 2].map(|c| premultiply(round(p[c]), a)))
            }))
        }
        other => other,
    }
}

/// Which arithmetic OpenCV's decoder for a format uses to make gray from colour.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GrayWeights {
    /// `cvtColor(.., COLOR_BGR2GRAY)` (WebP, GIF).
    CvtColor,
    /// imgcodecs' own `icvCvt_BGR2Gray_8u_C3C1R` / `icvCvt_BGRA2Gray_8u_C4C1R` (BMP up to 24
    /// bits, PNM, and TIFF after libtiff's RGBA read): 14-bit weights, rounded, on the 8-bit
    /// colour samples. (16- and 32-bit BMPs: `bmp.rs`.)
    Utils,
}

/// In gray mode, the decoders other than PNG's and JPEG's read colour and convert it with
/// `weights` (alpha dropped).
fn finish(img: DecodedImage, mode: ReadMode, weights: GrayWeights) -> DecodedImage {
    if mode == ReadMode::Color || img.layout == ChannelLayout::Gray {
        return img;
    }
    let mut gray = Vec::new();
    match (weights, img.layout) {
        (GrayWeights::Utils, ChannelLayout::Rgb | ChannelLayout::Rgba) => {
            let channels = img.layout.channels();
            gray = img
                .data
                .chunks_exact(channels)
                .map(|p| super::opencv_color::utils_gray8(p[0], p[1], p[2]))
                .collect();
        }
        _ => crate::ops::to_gray(&img.data, img.layout, crate::ops::Luma::Bt601, &mut gray),
    }
    DecodedImage {
        layout: ChannelLayout::Gray,
        data: gray,
        ..img
    }
}

/// A gray picture the decoder raised no warning for.
fn gray_image(width: u32, height: u32, data: Vec<u8>) -> DecodedImage {
    DecodedImage {
        width,
        height,
        layout: ChannelLayout::Gray,
        data,
        warnings: Vec::new(),
    }
}

/// A PNG read with `IMREAD_GRAYSCALE`: libpng's own RGB to gray, at the file's bit depth, in
/// linear light through libpng's gamma tables when the file's gamma asks for it (`linear`).
fn png_gray(img: DynamicImage, linear: Option<&super::libpng_gray::LinearGray>) -> DecodedImage {
    use super::opencv_color::{png_gray16, png_gray8};
    if let Some(linear) = linear {
        return png_linear_gray(img, linear);
    }
    let (width, height) = (img.width(), img.height());
    let data = match img {
        DynamicImage::ImageLuma8(b) => b.into_raw(),
        DynamicImage::ImageLumaA8(b) => b.as_raw().chunks_exact(2).map(|p| p[0]).collect(),
        DynamicImage::ImageRgb8(b) => gray8(b.as_raw(), 3, png_gray8),
        DynamicImage::ImageRgba8(b) => gray8(b.as_raw(), 4, png_gray8),
        DynamicImage::ImageLuma16(b) => b.as_raw().iter().map(|&s| (s >> 8) as u8).collect(),
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .map(|p| (p[0] >> 8) as u8)
            .collect(),
        DynamicImage::ImageRgb16(b) => gray16(b.as_raw(), 3, png_gray16),
        DynamicImage::ImageRgba16(b) => gray16(b.as_raw(), 4, png_gray16),
        other => gray8(other.to_rgb8().as_raw(), 3, png_gray8),
    };
    gray_image(width, height, data)
}

/// [`png_gray`] through libpng's gamma tables: only colour pixels change; gray files never
/// reach libpng's RGB to gray.
fn png_linear_gray(img: DynamicImage, linear: &super::libpng_gray::LinearGray) -> DecodedImage {
    let (width, height) = (img.width(), img.height());
    let g8 = |s: &[u8], n: usize| -> Vec<u8> {
        s.chunks_exact(n)
            .map(|p| linear.gray8(p[0], p[1], p[2]))
            .collect()
    };
    let g16 = |s: &[u16], n: usize| -> Vec<u8> {
        s.chunks_exact(n)
            .map(|p| linear.gray16(p[0], p[1], p[2]))
            .collect()
    };
    let data = match img {
        DynamicImage::ImageRgb8(b) => g8(b.as_raw(), 3),
        DynamicImage::ImageRgba8(b) => g8(b.as_raw(), 4),
        DynamicImage::ImageRgb16(b) => g16(b.as_raw(), 3),
        DynamicImage::ImageRgba16(b) => g16(b.as_raw(), 4),
        other => return png_gray(other, None),
    };
    gray_image(width, height, data)
}

fn gray8(samples: &[u8], channels: usize, f: fn(u8, u8, u8) -> u8) -> Vec<u8> {
    samples
        .chunks_exact(channels)
        .map(|p| f(p[0], p[1], p[2]))
        .collect()
}

fn gray16(samples: &[u16], channels: usize, f: fn(u16, u16, u16) -> u8) -> Vec<u8> {
    samples
        .chunks_exact(channels)
        .map(|p| f(p[0], p[1], p[2]))
        .collect()
}

/// JPEG through libjpeg-turbo with OpenCV's settings, then EXIF orientation as OpenCV applies
/// it.
#[cfg(feature = "libjpeg-turbo")]
fn decode_jpeg(
    bytes: &[u8],
    limits: &DecodeLimits,
    mode: ReadMode,
    gray: Option<crate::ops::Luma>,
) -> Result<DecodedImage, DecodeError> {
    use image::metadata::Orientation;
    use image::{GrayImage, RgbImage};
    let px = super::jpeg_turbo::decode(bytes, limits, mode, gray)?;
    let orientation = px
        .exif
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let inconsistent = || DecodeError::Corrupt {
        format: "JPEG",
        reason: "decoder returned an inconsistent buffer".into(),
    };
    let (layout, mut img) = if px.channels == 1 {
        let b = GrayImage::from_raw(px.width, px.height, px.data).ok_or_else(inconsistent)?;
        (ChannelLayout::Gray, DynamicImage::ImageLuma8(b))
    } else {
        let b = RgbImage::from_raw(px.width, px.height, px.data).ok_or_else(inconsistent)?;
        (ChannelLayout::Rgb, DynamicImage::ImageRgb8(b))
    };
    if orientation != Orientation::NoTransforms {
        img.apply_orientation(orientation);
    }
    let (width, height) = (img.width(), img.height());
    let data = match img {
        DynamicImage::ImageLuma8(b) => b.into_raw(),
        other => other.into_rgb8().into_raw(),
    };
    Ok(DecodedImage {
        width,
        height,
        layout,
        data,
        warnings: px.warnings,
    })
}

pub(crate) fn check_size(
    width: u32,
    height: u32,
    limits: &DecodeLimits,
) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::ZeroSized);
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(DecodeError::TooLarge {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    Ok(())
}

/// Width and height from a PNG's IHDR chunk, which must come first.
fn png_header_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}

/// The most start-of-scan markers a JPEG may have (libjpeg-turbo's own tools suggest a limit of
/// 500 for untrusted files; real progressive files use about 10).
const MAX_JPEG_SCANS: usize = 1000;

/// Start-of-scan markers (FF DA) in a JPEG. Inside entropy-coded data 0xFF is always followed
/// by 0x00 or a restart marker, so only metadata (an embedded thumbnail, say) can add a few.
fn jpeg_scan_count(bytes: &[u8]) -> usize {
    // Pairs are only looked for in 32-byte blocks holding a 0xFF (the block test vectorises;
    // entropy-coded data has a 0xFF every few hundred bytes): 4-5x faster than testing every
    // pair, which was 3% of a photo's decode. A pair may straddle two blocks.
    const BLOCK: usize = 32;
    let mut count = 0;
    // Pairs starting before `done` have been looked at.
    let mut done = 0;
    for (k, block) in bytes.chunks(BLOCK).enumerate() {
        if !block.iter().fold(false, |any, &b| any | (b == 0xFF)) {
            continue;
        }
        let start = (k * BLOCK).max(done);
        let end = (k * BLOCK + BLOCK).min(bytes.len().saturating_sub(1));
        count += (start..end)
            .filter(|&i| bytes[i] == 0xFF && bytes[i + 1] == 0xDA)
            .count();
        done = done.max(end);
    }
    count
}

/// Whether a JPEG ends its last scan with an end-of-image marker. Inside entropy-coded data
/// 0xFF is always followed by 0x00 or a restart marker, so FF D9 after the last start-of-scan
/// (FF DA) can only be the real end; an embedded thumbnail's own end marker comes before.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let is = |marker: u8| move |w: &[u8]| w[0] == 0xFF && w[1] == marker;
    // Searched from the end, so a whole file is only read backwards as far as its last end
    // marker, which for a good file is its last two bytes or close to them.
    match bytes.windows(2).rposition(is(0xD9)) {
        Some(eoi) => !bytes[eoi..].windows(2).any(is(0xDA)),
        // No end marker at all: damaged if it has a scan; with no scan let the decoder say.
        None => !bytes.windows(2).any(is(0xDA)),
    }
}

/// Reduces 16-bit samples with `reduce` and keeps 8-bit data as is.
fn to_eight_bit(img: DynamicImage, reduce: fn(u16) -> u8) -> DecodedImage {
    let (width, height) = (img.width(), img.height());
    let shift = |v: &[u16], channels: usize, keep: usize| -> Vec<u8> {
        v.chunks_exact(channels)
            .flat_map(|p| p[..keep].iter().map(|&s| reduce(s)))
            .collect()
    };
    let (layout, data) = match img {
        DynamicImage::ImageLuma8(b) => (ChannelLayout::Gray, b.into_raw()),
        DynamicImage::ImageLumaA8(b) => (ChannelLayout::GrayAlpha, b.into_raw()),
        DynamicImage::ImageRgb8(b) => (ChannelLayout::Rgb, b.into_raw()),
        DynamicImage::ImageRgba8(b) => (ChannelLayout::Rgba, b.into_raw()),
        DynamicImage::ImageLuma16(b) => (ChannelLayout::Gray, shift(b.as_raw(), 1, 1)),
        DynamicImage::ImageLumaA16(b) => (ChannelLayout::Gray, shift(b.as_raw(), 2, 1)),
        DynamicImage::ImageRgb16(b) => (ChannelLayout::Rgb, shift(b.as_raw(), 3, 3)),
        DynamicImage::ImageRgba16(b) => (ChannelLayout::Rgb, shift(b.as_raw(), 4, 3)),
        // Float TIFFs and anything newer: the `image` crate's own conversion (scaled to 0..255).
        other => (ChannelLayout::Rgb, other.to_rgb8().into_raw()),
    };
    DecodedImage {
        width,
        height,
        layout,
        data,
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(data).unwrap();
        wr.finish().unwrap();
        out
    }

    #[test]
    fn sixteen_bit_samples_are_shifted_not_rounded() {
        // 0x12FF would round to 0x13 but shifts to 0x12.
        let bytes = png(
            2,
            1,
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            &[0x12, 0xFF, 0xFF, 0x80],
        );
        let img = decode(&bytes, &DecodeLimits::default()).unwrap();
        assert_eq!(
            (img.layout, img.data),
            (ChannelLayout::Gray, vec![0x12, 0xFF])
        );
    }

    #[test]
    fn sixteen_bit_rgba_drops_alpha() {
        let px = [1, 0, 2, 0, 3, 0, 9, 9];
        let bytes = png(1, 1, png::ColorType::Rgba, png::BitDepth::Sixteen, &px);
        let img = decode(&bytes, &DecodeLimits::default()).unwrap();
        assert_eq!((img.layout, img.data), (ChannelLayout::Rgb, vec![1, 2, 3]));
    }

    #[test]
    fn refuses_over_the_pixel_limit_from_the_header() {
        let bytes = png(
            4,
            4,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &[0; 16],
        );
        let limits = DecodeLimits { max_pixels: 15 };
        assert!(matches!(
            decode(&bytes, &limits),
            Err(DecodeError::TooLarge {
                width: 4,
                height: 4,
                ..
            })
        ));
    }

    #[test]
    fn a_truncated_jpeg_is_refused_but_a_complete_one_with_a_thumbnail_is_not() {
        let jpg = gradient_jpeg(32);
        assert!(jpeg_is_complete(&jpg));
        assert!(decode(&jpg, &DecodeLimits::default()).is_ok());
        let cut = &jpg[..jpg.len() - 40];
        assert!(!jpeg_is_complete(cut));
        let e = decode(cut, &DecodeLimits::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        // A whole JPEG first (as an embedded thumbnail is), then a picture cut short.
        assert!(!jpeg_is_complete(&[&jpg[..], cut].concat()));
    }

    #[test]
    fn a_file_cut_in_its_pixels_is_called_truncated_in_every_format() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(37, 29, |x, y| {
            image::Rgba([(x * 7 + y) as u8, (y * 5) as u8, (x ^ y) as u8, 255])
        }));
        for format in [
            ImageFormat::Png,
            ImageFormat::Bmp,
            ImageFormat::Tiff,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Pnm,
        ] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            img.write_to(&mut bytes, format).unwrap();
            let bytes = bytes.into_inner();
            // WebP's lossless bit reader running dry is an error kind it shares with bad data
            // ("corrupt bitstream"): its cut is in a chunk header.
            let cut = match format {
                ImageFormat::WebP => &bytes[..16],
                _ => &bytes[..bytes.len() * 3 / 4],
            };
            for mode in [ReadMode::Color, ReadMode::Gray] {
                let e = decode_as(cut, &DecodeLimits::default(), mode)
                    .unwrap_err()
                    .to_string();
                let name = format_name(format);
                assert!(
                    e.starts_with(&format!("cannot decode {name}: file is truncated (")),
                    "{e}"
                );
            }
            // A complete file is not.
            assert!(
                decode(&bytes, &DecodeLimits::default()).is_ok(),
                "{format:?}"
            );
        }
    }

    #[test]
    fn a_pam_cut_in_its_header_is_called_truncated_and_a_blank_header_line_is_not() {
        let pam =
            b"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n\x07\x09";
        assert_eq!(decode(pam, &DecodeLimits::default()).unwrap().data, [7, 9]);
        let header_end = pam.len() - 9;
        for cut in [10, 18, header_end] {
            let e = decode(&pam[..cut], &DecodeLimits::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("cannot decode PNM: file is truncated ("),
                "{cut}: {e}"
            );
        }
        // The same message text from a complete header with a blank line is no truncation.
        let blank = [&pam[..11], b"\n", &pam[11..]].concat();
        let e = decode(&blank, &DecodeLimits::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot decode PNM: ") && !e.contains("truncated"),
            "{e}"
        );
    }

    #[test]
    fn a_small_png_with_a_huge_icc_profile_decodes_within_a_small_cap() {
        // 8 x 8 pixels with a 64 MiB (compressed: a few dozen KiB) ICC profile. The decoder may
        // allocate what the header's picture needs plus the metadata allowance, not the
        // largest picture's 4 GiB: the profile is dropped (OpenCV ignores it too).
        let mut info = png::Info::with_size(8, 8);
        info.color_type = png::ColorType::Grayscale;
        info.bit_depth = png::BitDepth::Eight;
        info.icc_profile = Some(std::borrow::Cow::Owned(vec![0u8; 64 << 20]));
        let mut bytes = Vec::new();
        let mut w = png::Encoder::with_info(&mut bytes, info)
            .unwrap()
            .write_header()
            .unwrap();
        w.write_image_data(&[77; 64]).unwrap();
        w.finish().unwrap();
        assert!(bytes.len() < 1 << 20, "{}", bytes.len());
        assert!(decoder_cap(64) < METADATA_ALLOWANCE + 4096);
        assert!(decoder_cap(64) < 64 << 20);
        let img = decode(&bytes, &DecodeLimits::default()).unwrap();
        assert_eq!((img.width, img.height, img.data), (8, 8, vec![77; 64]));
    }

    fn jpeg(img: image::RgbImage) -> Vec<u8> {
        let mut jpg = std::io::Cursor::new(Vec::new());
        img.write_to(&mut jpg, image::ImageFormat::Jpeg).unwrap();
        jpg.into_inner()
    }

    fn small_jpeg() -> Vec<u8> {
        jpeg(image::RgbImage::from_fn(16, 16, |x, y| {
            image::Rgb([x as u8 * 9, y as u8, 40])
        }))
    }

    /// A `size` x `size` JPEG of two gradients.
    fn gradient_jpeg(size: u32) -> Vec<u8> {
        jpeg(image::RgbImage::from_fn(size, size, |x, y| {
            image::Rgb([x as u8 * 8, y as u8 * 8, 7])
        }))
    }

    #[cfg(feature = "libjpeg-turbo")]
    #[test]
    fn a_tiny_jpeg_claiming_a_big_picture_decodes_with_warnings_not_silently() {
        // The header says 2000 x 2000, the scan holds 16 x 16 pixels: libjpeg fills the rest
        // with grey and warns, as OpenCV does; the warning comes back with the image.
        let mut jpg = small_jpeg();
        let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpg[sof + 5..sof + 9].copy_from_slice(&[0x07, 0xD0, 0x07, 0xD0]);
        let img = decode(&jpg, &DecodeLimits::default()).unwrap();
        assert_eq!((img.width, img.height), (2000, 2000));
        assert!(
            img.warnings.iter().any(|w| w.contains("premature end")),
            "{:?}",
            img.warnings
        );
        assert!(decode(&small_jpeg(), &DecodeLimits::default())
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn a_buffer_the_process_cannot_have_is_an_error_not_an_abort() {
        let e = try_capacity(usize::MAX, "decoded pixels").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("not enough memory for the decoded pixels"),
            "{e}"
        );
        assert!(try_capacity(5, "x").unwrap().capacity() >= 5);
    }

    #[test]
    fn the_warning_count_includes_the_warnings_whose_texts_were_dropped() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(warning_count(&[]), 0);
        assert_eq!(warning_count(&t(&["a", "b"])), 2);
        assert_eq!(warning_count(&t(&["a", &more_warnings_line(40)])), 41);
        // Only a closing line of exactly that form counts as more than one.
        assert_eq!(warning_count(&t(&["x more warnings from the decoder"])), 1);
        assert_eq!(warning_count(&t(&[&more_warnings_line(3), "a"])), 2);
    }

    #[test]
    fn libjpeg_errors_become_errors_not_crashes() {
        let good = small_jpeg();
        let sos = good.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        // A start of scan naming a component that does not exist, and a frame with 0 components.
        let mut bad_scan = good.clone();
        bad_scan[sos + 5] = 9;
        let sof = good.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let mut bad_frame = good.clone();
        bad_frame[sof + 4] = 13; // 13-bit precision
        for bad in [bad_scan, bad_frame] {
            for mode in [ReadMode::Color, ReadMode::Gray] {
                match decode_as(&bad, &DecodeLimits::default(), mode) {
                    Err(DecodeError::Corrupt { format: "JPEG", .. }) => {}
                    other => panic!("{other:?}"),
                }
            }
        }
        // The decoder is still usable afterwards, on this thread.
        assert!(decode(&good, &DecodeLimits::default()).is_ok());
        // The pixel limit is checked from the header, before decoding.
        assert!(matches!(
            decode(&good, &DecodeLimits { max_pixels: 255 }),
            Err(DecodeError::TooLarge { width: 16, .. })
        ));
    }

    #[test]
    fn the_scan_count_counts_every_pair_at_block_edges_too() {
        let naive = |b: &[u8]| b.windows(2).filter(|w| w == &[0xFF, 0xDA]).count();
        // Pairs at every offset around the 32-byte block edges, runs of 0xFF, a last lone 0xFF.
        for at in 0..70 {
            let mut b = vec![0u8; 100];
            b[at] = 0xFF;
            b[at + 1] = 0xDA;
            b[99] = 0xFF;
            assert_eq!(jpeg_scan_count(&b), naive(&b), "pair at {at}");
            b[at + 2] = 0xFF;
            b[at + 3] = 0xDA;
            assert_eq!(jpeg_scan_count(&b), naive(&b), "pairs at {at}");
        }
        let ff = [0xFF, 0xDA, 0xFF, 0xFF, 0xDA, 0xFF].repeat(40);
        assert_eq!(jpeg_scan_count(&ff), naive(&ff));
        assert_eq!(jpeg_scan_count(&[]), 0);
        assert_eq!(jpeg_scan_count(&[0xFF]), 0);
        assert_eq!(jpeg_scan_count(&[0xFF, 0xDA]), 1);
    }

    #[test]
    fn a_jpeg_with_thousands_of_scans_is_refused_before_decoding() {
        let jpg = gradient_jpeg(16);
        assert_eq!(jpeg_scan_count(&jpg), 1);
        // 1001 empty scans (an SOS segment with no data) before the end marker.
        let sos = [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00];
        let mut bomb = jpg[..jpg.len() - 2].to_vec();
        for _ in 0..1001 {
            bomb.extend_from_slice(&sos);
        }
        bomb.extend_from_slice(&[0xFF, 0xD9]);
        let started = std::time::Instant::now();
        let e = decode(&bomb, &DecodeLimits::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("1002 scans"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn names_the_problem() {
        let lim = DecodeLimits::default();
        assert!(matches!(decode(b"", &lim), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"hello, not an image", &lim),
            Err(DecodeError::UnknownFormat)
        ));
        let bytes = png(8, 8, png::ColorType::Rgb, png::BitDepth::Eight, &[7; 192]);
        let err = decode(&bytes[..bytes.len() / 2], &lim)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot decode PNG"), "{err}");
    }
}

#[cfg(test)]
mod hostile_tiff_tests {
    use super::*;

    /// A little-endian TIFF whose directory holds `chains` Photometric entries of type SHORT,
    /// count 3, each pointing at its own type field (which holds 3, "palette"), then
    /// BitsPerSample 8 and a 768-entry ColorMap. Patching the first Photometric value to 1
    /// turns its entry into type BYTE, so the next one is found: one more palette file.
    fn self_patching_palette_tiff(chains: usize) -> Vec<u8> {
        let entries = chains + 2;
        let map_at = 8 + 2 + 12 * entries + 4;
        let mut out = b"II*\0".to_vec();
        out.extend(8u32.to_le_bytes());
        out.extend((entries as u16).to_le_bytes());
        let entry = |out: &mut Vec<u8>, tag: u16, count: u32, value: u32| {
            out.extend(tag.to_le_bytes());
            out.extend(3u16.to_le_bytes());
            out.extend(count.to_le_bytes());
            out.extend(value.to_le_bytes());
        };
        for k in 0..chains {
            let own_type_field = 8 + 2 + 12 * k + 2;
            entry(&mut out, 262, 3, own_type_field as u32);
        }
        entry(&mut out, 258, 1, 8);
        entry(&mut out, 320, 768, map_at as u32);
        out.extend(0u32.to_le_bytes());
        out.extend(std::iter::repeat_n(0u8, 768 * 2));
        out
    }

    #[test]
    fn a_palette_tiff_whose_patch_makes_another_palette_tiff_is_decoded_once() {
        // Before: every level copied the file and decoded the copy again, 20000 levels deep
        // (a stack overflow, and 20000 copies of a 240 KB file).
        let file = self_patching_palette_tiff(20_000);
        assert!(super::super::tiff::palette8(&file).is_some());
        for mode in [ReadMode::Color, ReadMode::Gray] {
            let e = decode_as(&file, &DecodeLimits::default(), mode).unwrap_err();
            assert!(matches!(e, DecodeError::Corrupt { .. }), "{e}");
        }
    }
}
