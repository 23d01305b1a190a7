//! Codecs: bytes to pixels and pixels to bytes, free of pipeline logic.

mod bgr;
mod bmp;
mod bmp_rle;
pub mod decode;
pub mod encode;
pub mod format;
mod gif;
#[cfg(feature = "libjpeg-turbo")]
mod jpeg_turbo;
mod libpng_gray;
pub mod opencv_color;
pub mod png_bands;
mod pnm;
pub mod probe;
mod tiff;

pub use decode::{
    decode, decode_as, decode_color_to_gray, decodes_to_gray, warning_count, DecodeError,
    DecodeLimits, DecodedImage, ReadMode,
};
pub use encode::{encode, one_bit_png, EncodeError, PngCompression};
pub use format::{FormatChoice, InputFormat, OutputFormat};
pub use probe::{probe, ImageInfo};
