//! Codecs: bytes to pixels and pixels to bytes, free of pipeline logic.

mod bgr;
pub mod decode;
pub mod encode;
pub mod format;

pub use decode::{decode, DecodeError, DecodeLimits, DecodedImage};
pub use encode::{encode, EncodeError, PngCompression};
pub use format::{FormatChoice, InputFormat, OutputFormat};
