//! Inputs shared by the benches: real pictures at the three sizes the benches report.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, RgbImage};

/// (label, width, height): the book's tile, full HD, a 12-megapixel photo.
pub const SIZES: [(&str, u32, u32); 3] = [
    ("78x55", 78, 55),
    ("1920x1080", 1920, 1080),
    ("4000x3000", 4000, 3000),
];

/// The project root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The book's ship picture (lossless copy), resized to `w` x `h`.
pub fn ship_rgb(w: u32, h: u32) -> RgbImage {
    let src = image::open(root().join("tests/fixtures/book/ship.png"))
        .expect("ship.png is in the repository")
        .to_rgb8();
    image::imageops::resize(&src, w, h, FilterType::Triangle)
}

/// Gray version of `ship_rgb`.
pub fn ship_gray(w: u32, h: u32) -> Vec<u8> {
    let rgb = ship_rgb(w, h);
    let mut g = Vec::new();
    graypipe::ops::to_gray(
        rgb.as_raw(),
        graypipe::ops::ChannelLayout::Rgb,
        graypipe::ops::Luma::Bt601,
        &mut g,
    );
    g
}
