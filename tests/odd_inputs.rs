//! Odd but valid inputs, compared with what OpenCV reads from them (fixtures made by
//! `tools/gen_odd_fixtures.py`): CMYK JPEG, interlaced PNG, animated GIF (first frame),
//! multi-page TIFF (first page), and the 8 EXIF orientations.

use std::path::{Path, PathBuf};

use graypipe::codec::{decode, DecodeLimits};
use graypipe::ops::{to_gray, Luma};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odd")
}

/// Width, height and gray samples.
type Gray = (u32, u32, Vec<u8>);

/// graypipe's gray image of `name`, and OpenCV's.
fn both(name: &str) -> (Gray, Gray) {
    let img = decode(
        &std::fs::read(dir().join(name)).unwrap(),
        &DecodeLimits::default(),
    )
    .unwrap();
    let mut g = Vec::new();
    to_gray(&img.data, img.layout, Luma::Bt601, &mut g);
    let want = image::open(dir().join(format!("{name}.opencv.png")))
        .unwrap()
        .to_luma8();
    (
        (img.width, img.height, g),
        (want.width(), want.height(), want.into_raw()),
    )
}

/// Mean and largest absolute difference.
fn diff(a: &[u8], b: &[u8]) -> (f64, u8) {
    let total: u64 = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum();
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0);
    (total as f64 / a.len() as f64, max)
}

#[test]
fn lossless_odd_formats_equal_opencv_exactly() {
    for name in ["interlaced.png", "animated.gif", "multipage.tif"] {
        let ((w, h, got), (ew, eh, want)) = both(name);
        assert_eq!((w, h), (ew, eh), "{name}");
        assert!(got == want, "{name}: {:?}", diff(&got, &want));
    }
}

#[test]
fn every_exif_orientation_is_applied_as_opencv_does() {
    for o in 1..=8 {
        let name = format!("exif_orientation_{o}.jpg");
        let ((w, h, got), (ew, eh, want)) = both(&name);
        assert_eq!((w, h), (ew, eh), "{name}: size");
        // With libjpeg-turbo (the default build) the same pixels; the pure-Rust decoder is a
        // level or two apart, never a different arrangement (a wrong rotation would move the
        // black bar and differ by ~100 on average).
        let (mean, max) = diff(&got, &want);
        if cfg!(feature = "libjpeg-turbo") {
            assert_eq!(max, 0, "{name}: mean difference {mean}");
        }
        assert!(mean < 1.0, "{name}: mean difference {mean}");
    }
}

#[test]
fn cmyk_jpeg_reads_like_opencv() {
    let ((w, h, got), (ew, eh, want)) = both("cmyk.jpg");
    assert_eq!((w, h), (ew, eh));
    let (mean, max) = diff(&got, &want);
    if cfg!(feature = "libjpeg-turbo") {
        assert_eq!(max, 0, "mean {mean}");
    }
    assert!(mean < 1.5 && max <= 8, "mean {mean}, max {max}");
}
