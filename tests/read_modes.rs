//! Both read modes against OpenCV, bit for bit: `cv2.imread` + `cvtColor` (`--read color`) and
//! `cv2.imread(.., IMREAD_GRAYSCALE)` (`--read gray`), on JPEGs of every sampling OpenCV writes,
//! progressive, grayscale, restart markers, odd sizes, Adobe CMYK and a scan cut short, and on
//! every input of the other fixture sets (16-bit BMPs and 32-bit BMPs with bit-field masks of
//! every width among them), and on the BMP, PNM, TIFF and GIF variants of
//! `tools/diff_formats.py` (palettes, RLE, every PNM maxval, TIFF alpha and palettes, GIF
//! backgrounds and first frames outside the screen; YCbCr and CMYK TIFF; BMP planes fields) and
//! flat and stepped histograms where Otsu ties; each under one operation of every threshold
//! family and Otsu/Triangle under the other threshold types. Files OpenCV refuses are
//! refused too.
//! Fixtures made by `tools/gen_read_fixtures.py`.

use std::path::{Path, PathBuf};

use graypipe::codec::{decode_as, DecodeLimits, ReadMode};
use graypipe::ops::{apply, to_gray, Luma, Operation};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn gray_png(path: &Path) -> (usize, usize, Vec<u8>) {
    let img = image::open(path).unwrap().to_luma8();
    (img.width() as usize, img.height() as usize, img.into_raw())
}

/// Whether graypipe promises OpenCV's pixels for this file in this build and mode.
fn exact_in_this_build(file: &str, _mode: ReadMode) -> bool {
    // JPEG, and JPEG inside YCbCr TIFF, go through libjpeg-turbo.
    cfg!(feature = "libjpeg-turbo") || !(file.ends_with(".jpg") || file.contains("ycbcr_jpeg"))
}

fn check_mode(mode: ReadMode, key: &str) {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("read_modes/manifest.json")).unwrap(),
    )
    .unwrap();
    let ops: Vec<(String, Operation)> = manifest["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let spec = o["spec"].as_str().unwrap().to_string();
            let maxval = o["maxval"].as_f64().unwrap();
            let op = Operation::parse(&spec, maxval).unwrap();
            (spec, op)
        })
        .collect();
    let inputs = manifest["inputs"].as_array().unwrap();
    assert!(inputs.len() >= 60 && ops.len() >= 11);
    let (mut failures, mut checked, mut files) = (Vec::new(), 0usize, 0usize);
    for input in inputs {
        let file = input["file"].as_str().unwrap();
        if !exact_in_this_build(file, mode) {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        let img = decode_as(&bytes, &DecodeLimits::default(), mode)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let (w, h) = (img.width as usize, img.height as usize);
        assert_eq!(
            (w as u64, h as u64),
            (
                input["width"].as_u64().unwrap(),
                input["height"].as_u64().unwrap()
            ),
            "{file}: size"
        );
        let mut gray = Vec::new();
        to_gray(&img.data, img.layout, Luma::Bt601, &mut gray);
        let (_, _, expected) = gray_png(
            &fixtures()
                .join("read_modes/expected")
                .join(input[key].as_str().unwrap()),
        );
        assert_eq!(expected.len(), w * h * ops.len(), "{file}: expected stack");
        for (k, (label, op)) in ops.iter().enumerate() {
            let want = &expected[k * w * h..(k + 1) * w * h];
            let mut got = gray.clone();
            apply(op, w, h, &mut got, &mut Vec::new()).expect("the size matches the samples");
            checked += got.len();
            let diff: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
            if let Some(&i) = diff.first() {
                failures.push(format!(
                    "{file} / {label}: {} of {} pixels differ; first at (x {}, y {}): got {}, OpenCV {}",
                    diff.len(),
                    got.len(),
                    i % w,
                    i / w,
                    got[i],
                    want[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches ({mode:?}):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(files >= 40 && checked > 500_000, "only {checked} pixels");
}

#[test]
fn read_color_matches_imread_then_cvtcolor() {
    check_mode(ReadMode::Color, "color");
}

#[test]
fn read_gray_matches_imread_grayscale() {
    check_mode(ReadMode::Gray, "gray");
}

#[test]
fn a_scan_cut_short_is_read_like_opencv_with_a_warning() {
    let bytes = std::fs::read(fixtures().join("read_modes/inputs/cut_scan.jpg")).unwrap();
    let img = decode_as(&bytes, &DecodeLimits::default(), ReadMode::Color).unwrap();
    assert!(
        img.warnings
            .iter()
            .any(|w| w.contains("premature end of data")),
        "{:?}",
        img.warnings
    );
    let whole = std::fs::read(fixtures().join("read_modes/inputs/photo_160x120_420.jpg")).unwrap();
    let clean = decode_as(&whole, &DecodeLimits::default(), ReadMode::Color).unwrap();
    assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
}

#[test]
fn files_opencv_refuses_are_refused_with_a_reason() {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("read_modes/manifest.json")).unwrap(),
    )
    .unwrap();
    let refused = manifest["refused"].as_array().unwrap();
    assert!(refused.len() >= 17, "{} refused fixtures", refused.len());
    for file in refused {
        let file = file.as_str().unwrap();
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        for mode in [ReadMode::Color, ReadMode::Gray] {
            match decode_as(&bytes, &DecodeLimits::default(), mode) {
                Ok(img) => panic!(
                    "{file} ({mode:?}): decoded {} x {}, OpenCV refuses it",
                    img.width, img.height
                ),
                Err(e) => assert!(e.to_string().starts_with("cannot decode "), "{file}: {e}"),
            }
        }
    }
}
