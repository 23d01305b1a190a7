//! JPEG through libjpeg-turbo (the decoder vendored by `mozjpeg-sys`), called exactly as
//! OpenCV's `grfmt_jpeg.cpp` calls it, so the pixels are `cv2.imread`'s:
//! - files with other than 4 components are decoded to RGB (OpenCV asks for BGR: the same
//!   samples in another order); with `IMREAD_GRAYSCALE` to `JCS_GRAYSCALE` (luma only);
//! - 4-component files (Adobe CMYK / YCCK) are decoded to `JCS_CMYK` and converted with
//!   OpenCV's own formulas ([`super::opencv_color`]);
//! - DCT method, fancy upsampling and block smoothing stay at the library's defaults.
//!
//! libjpeg reports a fatal error by calling `error_exit`, which must not return. Ours unwinds
//! (`resume_unwind`, so no panic message is printed) back through the C frames, which
//! `mozjpeg-sys` compiles with `-fexceptions` for exactly this; the unwind is caught in
//! [`decode`] and becomes a [`DecodeError`]. Warnings (corrupt or missing data, which libjpeg
//! fills with grey) are collected instead of printed and returned with the image.

use std::ffi::{c_int, c_long, c_ulong, c_void, CStr};
use std::panic::{self, AssertUnwindSafe};

use mozjpeg_sys::{
    boolean, jpeg_common_struct, jpeg_create_decompress, jpeg_decompress_struct,
    jpeg_destroy_decompress, jpeg_error_mgr, jpeg_finish_decompress, jpeg_mem_src,
    jpeg_read_header, jpeg_read_scanlines, jpeg_save_markers, jpeg_start_decompress,
    jpeg_std_error, JERR_NO_BACKING_STORE, JERR_OUT_OF_MEMORY, J_COLOR_SPACE,
};

use super::decode::{check_size, DecodeError, DecodeLimits, ReadMode};
use super::opencv_color;
use crate::ops::{ChannelLayout, Luma};

/// Most warning texts kept per file (the count goes on).
const MAX_WARNING_TEXTS: usize = 8;

/// Room libjpeg's `format_message` may write (its `JMSG_LENGTH_MAX`).
const MESSAGE_BUFFER: usize = 200;

/// What libjpeg decoded, before orientation: samples in `layout`'s order.
pub(crate) struct JpegPixels {
    /// Width in pixels as stored.
    pub width: u32,
    /// Height in pixels as stored.
    pub height: u32,
    /// 1 (gray) or 3 (RGB) samples per pixel.
    pub channels: usize,
    /// `width * height * channels` samples.
    pub data: Vec<u8>,
    /// The first APP1 "Exif" segment's payload (after `Exif\0\0`), for orientation.
    pub exif: Option<Vec<u8>>,
    /// libjpeg's warnings, worded by libjpeg.
    pub warnings: Vec<String>,
}

/// The payload our `error_exit` unwinds with: libjpeg's message code and its text.
struct Fatal {
    code: c_int,
    text: String,
}

/// Collected through `client_data` by `emit_message`.
#[derive(Default)]
struct Warnings {
    texts: Vec<String>,
    total: u64,
}

/// libjpeg's message for the error or warning just raised.
///
/// # Safety
/// `cinfo.err` must point to an initialised error manager.
unsafe fn message(cinfo: &mut jpeg_common_struct) -> String {
    let mut buffer = [0u8; MESSAGE_BUFFER];
    // SAFETY: the caller guarantees `err`; `jpeg_std_error` set `format_message`.
    let format = unsafe { (*cinfo.err).format_message };
    if let Some(format) = format {
        // The binding declares the buffer `&[u8; 80]`, a read-only reference the compiler may
        // assume unchanged; libjpeg writes up to JMSG_LENGTH_MAX (200) bytes into it. Called as
        // what it is at the ABI level: a function taking a writable pointer.
        type Writing = unsafe extern "C-unwind" fn(&mut jpeg_common_struct, *mut u8);
        // SAFETY: same ABI (a reference and a raw pointer are both one pointer argument).
        let format: Writing = unsafe { std::mem::transmute(format) };
        // SAFETY: `buffer` has the 200 bytes libjpeg may write, NUL included.
        unsafe { format(cinfo, buffer.as_mut_ptr()) };
    }
    match CStr::from_bytes_until_nul(&buffer) {
        Ok(text) => text.to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(&buffer).into_owned(),
    }
}

/// Fatal errors: unwind to [`decode`] instead of libjpeg's default `exit()`.
unsafe extern "C-unwind" fn error_exit(cinfo: &mut jpeg_common_struct) {
    // SAFETY: libjpeg calls this with its own, initialised error manager.
    let text = unsafe { message(cinfo) };
    // SAFETY: as above.
    let code = unsafe { (*cinfo.err).msg_code };
    panic::resume_unwind(Box::new(Fatal { code, text }));
}

/// Warnings (`msg_level` -1) are kept; trace messages (0 and up) are dropped.
unsafe extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, msg_level: c_int) {
    if msg_level >= 0 {
        return;
    }
    // SAFETY: `client_data` is the `Warnings` that `decode` set and keeps alive for the whole
    // session; libjpeg calls back on the decoding thread only.
    let warnings = unsafe { &mut *(cinfo.client_data as *mut Warnings) };
    warnings.total += 1;
    if warnings.texts.len() < MAX_WARNING_TEXTS {
        // SAFETY: as for `error_exit`.
        let text = unsafe { message(cinfo) };
        if !warnings.texts.contains(&text) {
            warnings.texts.push(text);
        }
    }
}

/// Nothing is printed: warnings are returned, errors become `DecodeError`s.
unsafe extern "C-unwind" fn output_message(_cinfo: &mut jpeg_common_struct) {}

/// Owns libjpeg's state and frees it on every path, unwinding included.
struct Session {
    cinfo: Box<jpeg_decompress_struct>,
    // Boxed so their addresses stay fixed while libjpeg holds pointers to them.
    _err: Box<jpeg_error_mgr>,
    warnings: Box<Warnings>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: `jpeg_destroy_decompress` accepts a created, a failed and a never-created
        // (zeroed, `mem` null) object alike; a libjpeg error in it is impossible (it only
        // frees memory), so nothing unwinds out of `drop`.
        unsafe { jpeg_destroy_decompress(&mut self.cinfo) };
    }
}

/// Decodes a JPEG with OpenCV's settings. The size is checked against `limits` from the header,
/// before any pixel memory is allocated.
pub(crate) fn decode(
    bytes: &[u8],
    limits: &DecodeLimits,
    mode: ReadMode,
    gray: Option<Luma>,
) -> Result<JpegPixels, DecodeError> {
    let corrupt = |reason: String| DecodeError::Corrupt {
        format: "JPEG",
        reason,
    };
    let len = c_ulong::try_from(bytes.len()).map_err(|_| corrupt("file too large".into()))?;
    // SAFETY: all-zero is a valid value for these plain C structs (null pointers, `None`
    // callbacks, zero numbers, JCS_UNKNOWN); libjpeg initialises them before use.
    let mut session = unsafe {
        Session {
            cinfo: Box::new(std::mem::zeroed()),
            _err: Box::new(std::mem::zeroed()),
            warnings: Box::default(),
        }
    };
    let err_ptr: *mut jpeg_error_mgr = &mut *session._err;
    let warnings_ptr: *mut Warnings = &mut *session.warnings;
    let cinfo: &mut jpeg_decompress_struct = &mut session.cinfo;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `err_ptr` points into `session`, alive until after this closure.
        let err = unsafe { jpeg_std_error(&mut *err_ptr) };
        err.error_exit = Some(error_exit);
        err.emit_message = Some(emit_message);
        err.output_message = Some(output_message);
        cinfo.common.err = err;
        // SAFETY: `cinfo` is zeroed with its error manager set, as libjpeg requires; errors
        // unwind through the C frames (compiled with -fexceptions) to the catch_unwind here.
        unsafe { jpeg_create_decompress(&mut *cinfo) };
        cinfo.common.client_data = warnings_ptr as *mut c_void;
        // SAFETY: `bytes` outlives the session (it is dropped at the end of this function's
        // caller's borrow, after `session`).
        unsafe { jpeg_mem_src(cinfo, bytes.as_ptr(), len) };
        // SAFETY: a created decompressor with a source; APP1 = 0xE1.
        unsafe { jpeg_save_markers(cinfo, 0xE1, 0xFFFF) };
        // SAFETY: as above; `true` asks for an image (tables-only files are an error).
        unsafe { jpeg_read_header(cinfo, true as boolean) };
        let (width, height) = (cinfo.image_width, cinfo.image_height);
        check_size(width, height, limits)?;
        // Saved markers live in the image pool, which jpeg_finish_decompress frees.
        let exif = exif_payload(cinfo);
        let components = cinfo.num_components;
        let cmyk = components == 4;
        cinfo.out_color_space = match (cmyk, mode) {
            (true, _) => J_COLOR_SPACE::JCS_CMYK,
            (false, ReadMode::Gray) => J_COLOR_SPACE::JCS_GRAYSCALE,
            // One component: libjpeg would replicate it into three equal samples, whose gray
            // (OpenCV's weights sum to exactly 1) is the sample itself; keep one.
            (false, ReadMode::Color) if components == 1 => J_COLOR_SPACE::JCS_GRAYSCALE,
            (false, ReadMode::Color) => J_COLOR_SPACE::JCS_RGB,
        };
        // libjpeg's large buffers (whole-image coefficients of progressive files) may not
        // exceed what this header's real size needs.
        // SAFETY: `mem` was set by jpeg_create_decompress.
        unsafe {
            (*cinfo.common.mem).max_memory_to_use =
                c_long::try_from(coefficient_bytes(width, height, components))
                    .unwrap_or(c_long::MAX)
        };
        // SAFETY: header read, parameters set.
        unsafe { jpeg_start_decompress(cinfo) };
        let out_channels = usize::try_from(cinfo.output_components).unwrap_or(0);
        let (w, h) = (cinfo.output_width as usize, cinfo.output_height as usize);
        if !matches!(out_channels, 1 | 3 | 4) || w != width as usize || h != height as usize {
            return Err(corrupt(format!(
                "unexpected decoder output ({w} x {h}, {out_channels} channels)"
            )));
        }
        if let (Some(luma), 3) = (gray, out_channels) {
            return read_gray(cinfo, w, h, luma).map(|data| JpegPixels {
                width,
                height,
                channels: 1,
                data,
                exif,
                warnings: Vec::new(),
            });
        }
        let row = w * out_channels;
        // Not zeroed first: libjpeg writes every byte of every row it returns, and zeroing a
        // picture's worth of memory (the allocator reuses freed heap, so calloc must clear it)
        // cost 6% of a photo's decode. The length only grows over rows already written. Asked
        // for fallibly: an address-space limit fails this file, not the process.
        let mut data = super::decode::try_capacity(row * h, "decoded pixels")?;
        while (cinfo.output_scanline as usize) < h {
            let first = cinfo.output_scanline as usize;
            if data.len() != first * row {
                return Err(corrupt("decoder skipped rows".into()));
            }
            let mut rows: Vec<*mut u8> = data
                .spare_capacity_mut()
                .chunks_exact_mut(row)
                .take(16)
                .map(|r| r.as_mut_ptr().cast::<u8>())
                .collect();
            // SAFETY: each pointer addresses a whole row of `data`'s allocated capacity (`row`
            // bytes, what libjpeg writes per scanline for this output), and at most
            // `rows.len()` rows are written.
            let got = unsafe { jpeg_read_scanlines(cinfo, rows.as_mut_ptr(), rows.len() as u32) };
            if got == 0 {
                // Cannot happen with a memory source (it pads missing data and warns);
                // refuse rather than loop.
                return Err(corrupt("decoder stopped before the last row".into()));
            }
            let written = (got as usize).min(rows.len());
            // SAFETY: libjpeg has just written `written` whole rows after the first `first`
            // rows, within the capacity (`first + written <= h`).
            unsafe { data.set_len((first + written) * row) };
        }
        // SAFETY: all scanlines read.
        unsafe { jpeg_finish_decompress(cinfo) };
        let (data, channels) = match (cmyk, mode) {
            (true, ReadMode::Color) => (opencv_color::cmyk_to_rgb(&data), 3),
            (true, ReadMode::Gray) => (opencv_color::cmyk_to_gray(&data), 1),
            (false, _) => (data, out_channels),
        };
        Ok(JpegPixels {
            width,
            height,
            channels,
            data,
            exif,
            warnings: Vec::new(),
        })
    }));
    let mut pixels = match outcome {
        Ok(result) => result?,
        Err(payload) => {
            return Err(match payload.downcast::<Fatal>() {
                Ok(fatal) => corrupt(describe_fatal(*fatal)),
                // A Rust panic inside the session (a bug): pass it on unchanged.
                Err(other) => panic::resume_unwind(other),
            });
        }
    };
    let warnings = &session.warnings;
    pixels.warnings = warnings.texts.clone();
    // Texts are kept once each and at most MAX_WARNING_TEXTS of them; every other warning
    // (repeats included) is counted in one closing line, so `warning_count` gives the total.
    let listed = warnings.texts.len() as u64;
    if warnings.total > listed {
        pixels
            .warnings
            .push(super::decode::more_warnings_line(warnings.total - listed));
    }
    Ok(pixels)
}

/// Reads every scanline of a started RGB decompression through a band of [`GRAY_BAND`] rows,
/// converting each band to gray with `luma` as it comes (`cvtColor` after `imread`, the same
/// kernel as the process stage's): the full-colour picture never exists. Finishes the
/// decompression.
fn read_gray(
    cinfo: &mut jpeg_decompress_struct,
    w: usize,
    h: usize,
    luma: Luma,
) -> Result<Vec<u8>, DecodeError> {
    let corrupt = |reason: &str| DecodeError::Corrupt {
        format: "JPEG",
        reason: reason.into(),
    };
    let row = w * 3;
    let mut data = super::decode::try_capacity(w * h, "gray picture")?;
    let mut band = super::decode::try_capacity(row * GRAY_BAND, "decoded rows")?;
    band.resize(row * GRAY_BAND, 0);
    while (cinfo.output_scanline as usize) < h {
        let mut rows: Vec<*mut u8> = band.chunks_exact_mut(row).map(|r| r.as_mut_ptr()).collect();
        // SAFETY: each pointer addresses a whole row of `band` (`row` bytes, what libjpeg
        // writes per scanline of RGB output), and at most `rows.len()` rows are written.
        let got = unsafe { jpeg_read_scanlines(cinfo, rows.as_mut_ptr(), rows.len() as u32) };
        if got == 0 {
            // As in `decode`: cannot happen with a memory source.
            return Err(corrupt("decoder stopped before the last row"));
        }
        let got = (got as usize).min(GRAY_BAND);
        let start = data.len();
        data.resize(start + got * w, 0);
        crate::ops::to_gray_into(
            &band[..got * row],
            ChannelLayout::Rgb,
            luma,
            &mut data[start..],
        );
    }
    if data.len() != w * h {
        return Err(corrupt("decoder returned an inconsistent number of rows"));
    }
    // SAFETY: all scanlines read.
    unsafe { jpeg_finish_decompress(cinfo) };
    Ok(data)
}

/// Rows decoded at once when converting to gray as decoded: a few hundred KB for the widest
/// pictures, so they stay in cache between libjpeg's colour conversion and the gray one.
const GRAY_BAND: usize = 16;

/// Words the cases users meet in graypipe's terms, by libjpeg's message code; the rest in
/// libjpeg's words.
fn describe_fatal(fatal: Fatal) -> String {
    match fatal.code {
        // `max_memory_to_use` reached: libjpeg would need a temporary file ("backing store").
        JERR_NO_BACKING_STORE => "over the decoder's memory limit for this image's size".into(),
        // libjpeg's own malloc failed (its limit is checked first, as the case above).
        JERR_OUT_OF_MEMORY => {
            "not enough memory for the decoder's buffers (a memory limit such as ulimit -v?)".into()
        }
        _ => fatal.text,
    }
}

/// Upper bound of libjpeg's whole-image buffers for this header: a progressive file keeps every
/// DCT coefficient (64 x 2 bytes per 8x8 block, per component at full size at most), plus
/// room for the row buffers and tables.
fn coefficient_bytes(width: u32, height: u32, components: c_int) -> u64 {
    let blocks = (u64::from(width).div_ceil(8) + 2) * (u64::from(height).div_ceil(8) + 2);
    blocks * 128 * u64::try_from(components.max(1)).unwrap_or(1) + (16 << 20)
}

/// The payload of the first saved APP1 segment that is EXIF.
fn exif_payload(cinfo: &jpeg_decompress_struct) -> Option<Vec<u8>> {
    let mut marker = cinfo.marker_list;
    while !marker.is_null() {
        // SAFETY: libjpeg's saved-marker list: each node and its `data_length` bytes stay
        // valid until `jpeg_finish_decompress` or the decompressor's destruction, both after this returns.
        let m = unsafe { &*marker };
        if m.marker == 0xE1 && !m.data.is_null() {
            // SAFETY: as above.
            let data = unsafe { std::slice::from_raw_parts(m.data, m.data_length as usize) };
            if let Some(payload) = data.strip_prefix(b"Exif\0\0") {
                return Some(payload.to_vec());
            }
        }
        marker = m.next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libjpeg's own text for `code`, as `error_exit` would read it.
    fn text_of(code: c_int) -> String {
        // SAFETY: zeroed plain C structs, then initialised by `jpeg_std_error`; the common
        // struct only lends `format_message` its error manager.
        let mut err: Box<jpeg_error_mgr> = Box::new(unsafe { std::mem::zeroed() });
        let mut common: jpeg_common_struct = unsafe { std::mem::zeroed() };
        // SAFETY: `err` is a valid, writable error manager.
        common.err = unsafe { jpeg_std_error(&mut err) };
        err.msg_code = code;
        // SAFETY: `common.err` points to the initialised `err`, alive for the call.
        unsafe { message(&mut common) }
    }

    #[test]
    fn the_fatal_errors_worded_by_graypipe_are_found_by_libjpegs_codes() {
        // The codes are the ones the compiled library raises for these texts.
        assert!(text_of(JERR_NO_BACKING_STORE).starts_with("Backing store not supported"));
        assert!(text_of(JERR_OUT_OF_MEMORY).starts_with("Insufficient memory"));
        let fatal = |code| Fatal {
            code,
            text: text_of(code),
        };
        assert_eq!(
            describe_fatal(fatal(JERR_NO_BACKING_STORE)),
            "over the decoder's memory limit for this image's size"
        );
        assert!(describe_fatal(fatal(JERR_OUT_OF_MEMORY)).starts_with("not enough memory"));
        // Any other error keeps libjpeg's words.
        let other = fatal(mozjpeg_sys::JERR_NO_SOI);
        assert_eq!(describe_fatal(other), text_of(mozjpeg_sys::JERR_NO_SOI));
    }
}
