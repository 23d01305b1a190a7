//! A cheap look at a file's header: its size, samples and format, and an honest upper estimate
//! of the memory converting it will take, without decoding any pixel (for admission against a
//! memory budget).

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use super::decode::{DecodeError, METADATA_ALLOWANCE};
use super::format::InputFormat;

/// What a file's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// The format, from the content.
    pub format: InputFormat,
    /// Width in pixels as stored (before EXIF orientation, which does not change the memory).
    pub width: u32,
    /// Height in pixels as stored.
    pub height: u32,
    /// Samples per pixel the decoder produces (palette PNG: 4, the most it can expand to;
    /// CMYK JPEG: 4).
    pub channels: u8,
    /// Bytes per sample the decoder produces (2 for 16-bit files).
    pub bytes_per_sample: u8,
    /// A progressive JPEG (its decoder keeps every coefficient of the picture).
    pub progressive: bool,
    /// The file's own size, which stays in memory while it is decoded.
    pub file_bytes: u64,
}

impl ImageInfo {
    /// Number of pixels.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// An upper estimate of the bytes held at once while this file is decoded, made gray,
    /// thresholded (the worst case over operations: an adaptive Gaussian whose block spans the
    /// picture) and encoded, with each buffer freed after its stage as the engines do. The
    /// largest of the stages' peaks:
    /// - decode: the file, the decoder's own buffers (every DCT coefficient for a progressive
    ///   JPEG; the metadata allowance for the other formats), the decoded samples twice (a
    ///   rotation by EXIF orientation copies them) and an 8-bit copy;
    /// - process: the 8-bit samples, the gray picture, the result and the Gaussian's f64 rows;
    /// - encode: the result and an encoded file a little larger than the raw gray.
    pub fn working_set_bytes(&self) -> u64 {
        let px = self.pixels();
        let ch = u64::from(self.channels);
        let decoded = px
            .saturating_mul(ch)
            .saturating_mul(u64::from(self.bytes_per_sample));
        let decoder_own = match self.format {
            InputFormat::Jpeg if self.progressive => px.saturating_mul(ch * 2) + (1 << 20),
            InputFormat::Jpeg => 1 << 20,
            _ => METADATA_ALLOWANCE,
        };
        let decode = self
            .file_bytes
            .saturating_add(decoder_own)
            .saturating_add(decoded.saturating_mul(2))
            .saturating_add(px.saturating_mul(ch));
        let process = px.saturating_mul(ch + 1 + 1 + 8);
        let encode = px.saturating_add(px + px / 8 + (64 << 10));
        decode.max(process).max(encode)
    }

    /// [`ImageInfo::working_set_bytes`] for a picture decoded straight to gray
    /// ([`super::decode_color_to_gray`] on a file [`super::decodes_to_gray`] accepts), whose
    /// operation's own working memory besides the result is `process_extra` bytes (an adaptive
    /// Gaussian's rows): no colour copy at any stage. The largest of:
    /// - decode: the file, the decoder's own buffers (as above) and the gray picture twice (a
    ///   rotation by EXIF orientation copies it);
    /// - process: the gray picture, the result and `process_extra`;
    /// - encode: the result and an encoded file a little larger than the raw gray.
    pub fn working_set_gray_bytes(&self, process_extra: u64) -> u64 {
        let px = self.pixels();
        let ch = u64::from(self.channels);
        let decoder_own = match self.format {
            InputFormat::Jpeg if self.progressive => px.saturating_mul(ch * 2) + (1 << 20),
            InputFormat::Jpeg => 1 << 20,
            _ => METADATA_ALLOWANCE,
        };
        let decode = self
            .file_bytes
            .saturating_add(decoder_own)
            .saturating_add(px.saturating_mul(2));
        let process = px.saturating_mul(2).saturating_add(process_extra);
        let encode = px.saturating_add(px + px / 8 + (64 << 10));
        decode.max(process).max(encode)
    }
}

/// Reads only the header of an image file's bytes.
pub fn probe(bytes: &[u8]) -> Result<ImageInfo, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let file_bytes = bytes.len() as u64;
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return jpeg_info(bytes).map(|(width, height, channels, progressive)| ImageInfo {
            format: InputFormat::Jpeg,
            width,
            height,
            channels,
            bytes_per_sample: 1,
            progressive,
            file_bytes,
        });
    }
    if let Some(info) = png_info(bytes) {
        return info;
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| DecodeError::UnknownFormat)?;
    let format = match reader.format() {
        Some(ImageFormat::Bmp) => InputFormat::Bmp,
        Some(ImageFormat::Tiff) => InputFormat::Tiff,
        Some(ImageFormat::WebP) => InputFormat::WebP,
        Some(ImageFormat::Gif) => InputFormat::Gif,
        Some(ImageFormat::Pnm) => InputFormat::Pnm,
        _ => return Err(DecodeError::UnknownFormat),
    };
    if format == InputFormat::Bmp {
        // 16- and 32-bit and RLE BMPs are read by graypipe's own readers, as OpenCV reads them
        // (the `image` crate may not even accept their header): 8-bit RGB out.
        let size = match super::bmp::header(bytes)? {
            super::bmp::Route::Own(h) => Some((h.width, h.height)),
            super::bmp::Route::Rle(h) => Some((h.width, h.height)),
            super::bmp::Route::Other => None,
        };
        if let Some((width, height)) = size {
            return Ok(ImageInfo {
                format,
                width,
                height,
                channels: 3,
                bytes_per_sample: 1,
                progressive: false,
                file_bytes,
            });
        }
        // A planes field other than 1 (which OpenCV never reads): probed as decoded, through
        // a copy saying 1.
        if let Some(at) = super::bmp::odd_planes_at(bytes) {
            let mut copy = super::decode::try_capacity(bytes.len(), "BMP copy with one plane")?;
            copy.extend_from_slice(bytes);
            copy[at..at + 2].copy_from_slice(&1u16.to_le_bytes());
            return probe(&copy);
        }
    }
    if format == InputFormat::Pnm {
        // P1-P6 are read by graypipe's own reader, whose header rules are OpenCV's (a number
        // may end with any byte, for one): 8-bit gray or RGB out. PAM: the `image` crate.
        if let Some(h) = super::pnm::header(bytes)? {
            return Ok(ImageInfo {
                format,
                width: h.width,
                height: h.height,
                channels: h.channels,
                bytes_per_sample: 1,
                progressive: false,
                file_bytes,
            });
        }
    }
    if format == InputFormat::Tiff {
        // Before the tiff crate reads the directory: a tag announcing more values than the
        // file holds made it take up to 256 MiB.
        super::tiff::check_tag_sizes(bytes)?;
        // 8-bit palette TIFFs are read by graypipe (`tiff_palette`): RGB out.
        if let Some((width, height)) = super::tiff::palette8_size(bytes) {
            return Ok(ImageInfo {
                format,
                width,
                height,
                channels: 3,
                bytes_per_sample: 1,
                progressive: false,
                file_bytes,
            });
        }
        // 8-bit gray+alpha TIFFs are read by graypipe (`tiff_gray_alpha8`): a two-sample copy
        // decoded, then gray out; three bytes a pixel in all, RGB-sized.
        if let Some(found) = super::tiff::gray_alpha8(bytes) {
            return Ok(ImageInfo {
                format,
                width: found.width,
                height: found.height,
                channels: 3,
                bytes_per_sample: 1,
                progressive: false,
                file_bytes,
            });
        }
        // 4-bit palette TIFFs are read by graypipe (`tiff_palette4`): RGB out.
        if let Some(found) = super::tiff::palette4(bytes) {
            return Ok(ImageInfo {
                format,
                width: found.width,
                height: found.height,
                channels: 3,
                bytes_per_sample: 1,
                progressive: false,
                file_bytes,
            });
        }
        // 8-bit YCbCr and CMYK TIFFs are read by graypipe (`tiff_ycbcr`, `tiff_cmyk8`): RGB out.
        let own = super::tiff::ycbcr8(bytes)
            .map(|f| (f.width, f.height))
            .or_else(|| super::tiff::cmyk8(bytes).map(|f| (f.width, f.height)))
            .or_else(|| super::tiff::jpeg_ycbcr(bytes).map(|f| (f.width, f.height)));
        if let Some((width, height)) = own {
            return Ok(ImageInfo {
                format,
                width,
                height,
                channels: 3,
                bytes_per_sample: 1,
                progressive: false,
                file_bytes,
            });
        }
        // Signed 8-bit gray TIFFs are read by graypipe (`tiff_signed8`): gray out, as an
        // unsigned one.
        if let Some((width, height)) = super::tiff::signed8_size(bytes) {
            return Ok(ImageInfo {
                format,
                width,
                height,
                channels: 1,
                bytes_per_sample: 1,
                progressive: false,
                file_bytes,
            });
        }
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(METADATA_ALLOWANCE);
    let mut reader = reader;
    reader.limits(limits);
    let corrupt = |e: image::ImageError| DecodeError::Corrupt {
        format: "image",
        reason: e.to_string(),
    };
    let decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    let color = image::ImageDecoder::color_type(&decoder);
    let channels = color.channel_count();
    Ok(ImageInfo {
        format,
        width,
        height,
        channels,
        bytes_per_sample: color.bytes_per_pixel() / channels.max(1),
        progressive: false,
        file_bytes,
    })
}

/// PNG's IHDR: size, colour type and depth.
fn png_info(bytes: &[u8]) -> Option<Result<ImageInfo, DecodeError>> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let corrupt = |reason: &str| DecodeError::Corrupt {
        format: "PNG",
        reason: reason.into(),
    };
    if bytes.len() < 29 || &bytes[12..16] != b"IHDR" {
        return Some(Err(corrupt("no IHDR header chunk")));
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (width, height, depth, color) =
        (be(&bytes[16..20]), be(&bytes[20..24]), bytes[24], bytes[25]);
    let channels = match color {
        0 => 1,
        2 => 3,
        // A palette expands to RGB, or RGBA with a tRNS chunk.
        3 => 4,
        4 => 2,
        6 => 4,
        _ => return Some(Err(corrupt("invalid colour type"))),
    };
    Some(Ok(ImageInfo {
        format: InputFormat::Png,
        width,
        height,
        channels,
        bytes_per_sample: if depth == 16 { 2 } else { 1 },
        progressive: false,
        file_bytes: bytes.len() as u64,
    }))
}

/// Walks a JPEG's markers to its frame header (SOFn): width, height, components, progressive.
fn jpeg_info(bytes: &[u8]) -> Result<(u32, u32, u8, bool), DecodeError> {
    let corrupt = |reason: &str| DecodeError::Corrupt {
        format: "JPEG",
        reason: reason.into(),
    };
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while bytes.get(i) == Some(&0xFF) && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(i), bytes.get(i + 1)) else {
            return Err(corrupt(
                "file is truncated or damaged before its frame header",
            ));
        };
        i += 2;
        // Stand-alone markers carry no length.
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        if matches!(marker, 0xD9 | 0xDA) {
            return Err(corrupt("no frame header before the image data"));
        }
        let len = match (bytes.get(i), bytes.get(i + 1)) {
            (Some(&h), Some(&l)) => usize::from(u16::from_be_bytes([h, l])),
            _ => return Err(corrupt("file is truncated in a header segment")),
        };
        if len < 2 {
            return Err(corrupt("invalid segment length"));
        }
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let seg = bytes
                .get(i + 2..i + len)
                .filter(|s| s.len() >= 6)
                .ok_or_else(|| corrupt("file is truncated in its frame header"))?;
            let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
            return Ok((width, height, seg[5], progressive));
        }
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32, gray: bool) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        if gray {
            image::GrayImage::from_pixel(w, h, image::Luma([90]))
                .write_to(&mut out, ImageFormat::Jpeg)
                .unwrap();
        } else {
            image::RgbImage::from_pixel(w, h, image::Rgb([90, 10, 200]))
                .write_to(&mut out, ImageFormat::Jpeg)
                .unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn reads_jpeg_and_png_headers() {
        let info = probe(&jpeg(37, 21, false)).unwrap();
        assert_eq!(
            (info.format, info.width, info.height, info.channels),
            (InputFormat::Jpeg, 37, 21, 3)
        );
        assert!(!info.progressive);
        assert_eq!(probe(&jpeg(5, 3, true)).unwrap().channels, 1);

        let mut png = Vec::new();
        let mut enc = png::Encoder::new(&mut png, 3, 2);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Sixteen);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[0; 48]).unwrap();
        w.finish().unwrap();
        let info = probe(&png).unwrap();
        assert_eq!(
            (
                info.width,
                info.height,
                info.channels,
                info.bytes_per_sample
            ),
            (3, 2, 4, 2)
        );
    }

    #[test]
    fn reads_other_formats_through_their_decoders_headers() {
        let mut bmp = Cursor::new(Vec::new());
        image::RgbImage::new(6, 4)
            .write_to(&mut bmp, ImageFormat::Bmp)
            .unwrap();
        let info = probe(bmp.get_ref()).unwrap();
        assert_eq!(
            (info.format, info.width, info.height, info.channels),
            (InputFormat::Bmp, 6, 4, 3)
        );
    }

    #[test]
    fn a_progressive_jpeg_is_recognised() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/read_modes/inputs/progressive_420.jpg"
        );
        let info = probe(&std::fs::read(path).unwrap()).unwrap();
        assert!(info.progressive);
        let baseline = ImageInfo {
            progressive: false,
            ..info
        };
        assert!(info.working_set_bytes() > baseline.working_set_bytes());
    }

    #[test]
    fn a_tiny_file_claiming_a_huge_picture_gets_a_huge_estimate_without_decoding() {
        // 16000 x 16000 RGB in a header of a few dozen bytes.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&16000u32.to_be_bytes());
        png.extend_from_slice(&16000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        let info = probe(&png).unwrap();
        let decoded = 16000u64 * 16000 * 3;
        assert!(info.working_set_bytes() >= 2 * decoded);
        assert!(info.working_set_bytes() < 20 * decoded);
    }

    #[test]
    fn the_estimate_covers_the_decoded_samples_and_grows_with_depth() {
        let info = ImageInfo {
            format: InputFormat::Tiff,
            width: 1000,
            height: 500,
            channels: 3,
            bytes_per_sample: 1,
            progressive: false,
            file_bytes: 10_000,
        };
        let deep = ImageInfo {
            bytes_per_sample: 2,
            ..info
        };
        assert!(info.working_set_bytes() >= 500_000 * 3 * 2);
        assert!(deep.working_set_bytes() > info.working_set_bytes());
    }

    #[test]
    fn damaged_headers_are_errors() {
        assert!(matches!(probe(b""), Err(DecodeError::Empty)));
        assert!(matches!(
            probe(b"nonsense!"),
            Err(DecodeError::UnknownFormat)
        ));
        let j = jpeg(8, 8, false);
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        assert!(probe(&j[..sof + 5]).is_err());
        assert!(probe(&j[..sof]).is_err());
    }

    #[test]
    fn a_palette_tiff_is_probed_at_its_size_as_rgb() {
        // The `image` crate refuses palette TIFFs, which graypipe reads itself: the probe failed
        // and the memory budget admitted the file at its own size (a 94 KiB deflated 8192 x
        // 8192 palette TIFF then decoded to 192 MiB of RGB).
        let file =
            include_bytes!("../../tests/fixtures/read_modes/inputs/tif_hand_palette8_21x9.tif");
        let info = probe(file).unwrap();
        assert_eq!(
            (
                info.format,
                info.width,
                info.height,
                info.channels,
                info.bytes_per_sample
            ),
            (InputFormat::Tiff, 21, 9, 3, 1)
        );
        let img = super::super::decode::decode(file, &Default::default()).unwrap();
        assert_eq!(img.data.len() as u64, info.pixels() * 3);
    }

    #[test]
    fn a_gray_alpha_tiff_is_probed_at_its_size_as_rgb() {
        // The `image` crate refuses gray+alpha TIFFs, which graypipe reads itself through a
        // two-sample copy (two bytes a pixel) then a gray output: RGB-sized covers both.
        let file = include_bytes!("../../tests/fixtures/read_modes/inputs/tif_pil_LA_37x23.tif");
        let info = probe(file).unwrap();
        assert_eq!(
            (
                info.width,
                info.height,
                info.channels,
                info.bytes_per_sample
            ),
            (37, 23, 3, 1)
        );
        let img = super::super::decode::decode(file, &Default::default()).unwrap();
        assert_eq!(img.data.len() as u64, info.pixels());
        // Over the pixel limit by its own size (the copy is twice as wide, but its limit is
        // doubled only after this check).
        let small = super::super::decode::DecodeLimits {
            max_pixels: 37 * 23 - 1,
        };
        assert!(super::super::decode::decode(file, &small).is_err());
        let exact = super::super::decode::DecodeLimits {
            max_pixels: 37 * 23,
        };
        assert!(super::super::decode::decode(file, &exact).is_ok());
    }

    #[test]
    fn a_4_bit_palette_tiff_is_probed_at_its_size_as_rgb() {
        let file =
            include_bytes!("../../tests/fixtures/read_modes/inputs/tif_hand_palette4_21x9.tif");
        let info = probe(file).unwrap();
        assert_eq!(
            (
                info.width,
                info.height,
                info.channels,
                info.bytes_per_sample
            ),
            (21, 9, 3, 1)
        );
        let img = super::super::decode::decode(file, &Default::default()).unwrap();
        assert_eq!(img.data.len() as u64, info.pixels() * 3);
    }

    #[test]
    fn a_signed_8_bit_tiff_is_probed_at_its_size_as_gray() {
        // The `image` crate refuses signed samples, which graypipe reads itself as unsigned
        // bytes (libtiff's RGBA read): the probe must not fail and admit it at its file size.
        let file =
            include_bytes!("../../tests/fixtures/read_modes/inputs/tif_tf_int8_gray_37x23.tif");
        let info = probe(file).unwrap();
        assert_eq!(
            (
                info.format,
                info.width,
                info.height,
                info.channels,
                info.bytes_per_sample
            ),
            (InputFormat::Tiff, 37, 23, 1, 1)
        );
        let img = super::super::decode::decode(file, &Default::default()).unwrap();
        assert_eq!(img.data.len() as u64, info.pixels());
    }

    #[test]
    fn an_rle_bmp_the_image_crate_refuses_is_probed_at_its_size_as_rgb() {
        // A top-down RLE8 file (OpenCV reads it; the `image` crate refuses its header), 3 x 2
        // announced as 16384 x 16384: before, the probe failed and the budget admitted it at
        // its 72 bytes, then its decode took 1 GiB.
        let mut file = b"BM".to_vec();
        for v in [72u32, 0, 70, 40] {
            file.extend(v.to_le_bytes());
        }
        for v in [16384i32, -16384] {
            file.extend(v.to_le_bytes());
        }
        file.extend([1, 0, 8, 0]);
        for v in [1u32, 0, 0, 0, 4, 0] {
            file.extend(v.to_le_bytes());
        }
        file.extend([0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]);
        file.extend([0, 1]);
        assert_eq!(file.len(), 72);
        let info = probe(&file).unwrap();
        assert_eq!(
            (info.format, info.width, info.height, info.channels),
            (InputFormat::Bmp, 16384, 16384, 3)
        );
    }

    #[test]
    fn every_pnm_graypipe_reads_is_probed_at_its_size() {
        // OpenCV's number reader ends a number with any one byte, and takes comments and white
        // space where the `image` crate may not: a header only graypipe reads must still be
        // sized for the memory budget.
        for (file, w, h, ch) in [
            (&b"P5 3 2 255 \0\0\0\0\0\0"[..], 3, 2, 1),
            (b"P4 16x2x\0\0\0\0", 16, 2, 1),
            (b"P5\n3 #c\n 2 255x\0\0\0\0\0\0", 3, 2, 1),
            (b"P6 1 2 255x\0\0\0\0\0\0", 1, 2, 3),
            (b"P1 3 2 010101", 3, 2, 1),
            (b"P2 1 1 65535 7 ", 1, 1, 1),
        ] {
            let text = String::from_utf8_lossy(file);
            let img = super::super::decode::decode_as(
                file,
                &Default::default(),
                super::super::decode::ReadMode::Color,
            )
            .unwrap_or_else(|e| panic!("{text}: {e}"));
            let info = probe(file).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!((info.width, info.height), (w, h), "{text}");
            assert!(
                info.channels >= ch
                    && img.data.len() as u64 <= info.pixels() * u64::from(info.channels),
                "{text}"
            );
        }
    }
}
