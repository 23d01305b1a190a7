//! Pixel kernels: pure functions over 8-bit buffers, free of I/O and threads.
//!
//! Every kernel reproduces OpenCV's arithmetic bit for bit; the rules are written out in
//! `docs/opencv-semantics.md` and each module cites the part it implements.

pub mod adaptive;
pub mod gray;
pub mod histogram;
pub mod operation;
pub mod otsu;
mod simd;
pub mod threshold;
pub mod triangle;

pub use adaptive::{adaptive_threshold, adaptive_threshold_rows, AdaptiveMethod};
pub use gray::{bgr_to_gray, to_gray, to_gray_into, try_to_gray, ChannelLayout, Luma};
pub use histogram::histogram;
pub use operation::{
    apply, apply_into, Level, Operation, ParseOperationError, Processed, SizeMismatch,
    ThresholdType,
};
pub use otsu::otsu_threshold;
pub use threshold::{threshold, threshold_in_place};
pub use triangle::triangle_threshold;

/// A borrowed single-channel 8-bit image, rows stored contiguously without padding.
#[derive(Debug, Clone, Copy)]
pub struct GrayView<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` samples, row by row.
    pub data: &'a [u8],
}

impl<'a> GrayView<'a> {
    /// Wraps `data` as a `width` x `height` image; `None` when the length does not match.
    pub fn new(width: usize, height: usize, data: &'a [u8]) -> Option<Self> {
        (width.checked_mul(height)? == data.len()).then_some(Self {
            width,
            height,
            data,
        })
    }
}
