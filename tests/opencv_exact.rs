//! Bit-exactness against OpenCV: fixtures made by `tools/gen_fixtures.py` (OpenCV 5.0), and the
//! book's `ship.png` reference values.

use std::path::{Path, PathBuf};

use graypipe::codec::{decode, DecodeLimits};
use graypipe::ops::{apply, to_gray, Luma, Operation};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn gray_of(path: &Path) -> (usize, usize, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let img = decode(&bytes, &DecodeLimits::default()).unwrap();
    let mut g = Vec::new();
    to_gray(&img.data, img.layout, Luma::Bt601, &mut g);
    (img.width as usize, img.height as usize, g)
}

fn run(op: &Operation, w: usize, h: usize, gray: &[u8]) -> Vec<u8> {
    let mut out = gray.to_vec();
    apply(op, w, h, &mut out, &mut Vec::new()).expect("the size matches the samples");
    out
}

#[test]
fn every_layout_and_operation_matches_opencv() {
    let checked = check_fixture_set("opencv", 25, 40);
    assert!(checked > 1_000_000, "only {checked} pixels compared");
}

/// Blocks of several thousand on pictures far smaller (`tools/gen_block_fixtures.py`): the
/// replicated border dominates and the box sum passes 2^32.
#[test]
fn huge_adaptive_blocks_on_small_pictures_match_opencv() {
    let checked = check_fixture_set("opencv_blocks", 7, 30);
    assert!(checked > 50_000, "only {checked} pixels compared");
}

/// Compares every input and operation of one fixture set; returns the pixels compared.
fn check_fixture_set(set: &str, min_inputs: usize, min_ops: usize) -> usize {
    let dir = fixtures().join(set);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let ops: Vec<(String, Operation)> = manifest["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let spec = o["spec"].as_str().unwrap().to_string();
            let maxval = o["maxval"].as_f64().unwrap();
            let op = Operation::parse(&spec, maxval).unwrap();
            (format!("{spec} (maxval {maxval})"), op)
        })
        .collect();
    let inputs = manifest["inputs"].as_array().unwrap();
    assert!(inputs.len() >= min_inputs && ops.len() >= min_ops);
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for input in inputs {
        let name = input["file"].as_str().unwrap();
        let (w, h, gray) = gray_of(&dir.join("inputs").join(name));
        assert_eq!(
            (w as u64, h as u64),
            (
                input["width"].as_u64().unwrap(),
                input["height"].as_u64().unwrap()
            ),
            "{name}: size"
        );
        let (ew, eh, expected) = gray_of(
            &dir.join("expected")
                .join(input["expected"].as_str().unwrap()),
        );
        assert_eq!((ew, eh), (w, h * ops.len()), "{name}: expected stack size");
        for (k, (label, op)) in ops.iter().enumerate() {
            let want = &expected[k * w * h..(k + 1) * w * h];
            let got = run(op, w, h, &gray);
            checked += got.len();
            let diff: Vec<usize> = (0..got.len()).filter(|&i| got[i] != want[i]).collect();
            if let Some(&i) = diff.first() {
                failures.push(format!(
                    "{name} / {label}: {} of {} pixels differ; first at (x {}, y {}): got {}, OpenCV {}",
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
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    checked
}

fn ship() -> (usize, usize, Vec<u8>) {
    gray_of(&fixtures().join("book/ship.png"))
}

fn white(op: &str) -> usize {
    let (w, h, g) = ship();
    run(&op.parse().unwrap(), w, h, &g)
        .iter()
        .filter(|&&v| v == 255)
        .count()
}

#[test]
fn ship_gray_sum_matches_opencv() {
    let (w, h, g) = ship();
    assert_eq!((w, h), (1577, 1118));
    assert_eq!(g.iter().map(|&v| v as u64).sum::<u64>(), 148_847_651);
}

#[test]
fn ship_otsu_and_triangle_levels_match_opencv() {
    let (_, _, g) = ship();
    let hist = graypipe::ops::histogram(&g);
    assert_eq!(graypipe::ops::otsu_threshold(&hist), 93);
    assert_eq!(graypipe::ops::triangle_threshold(&hist), 79);
}

#[test]
fn ship_binary_127_white_count_matches_opencv() {
    assert_eq!(white("binary:127"), 479_293);
}

#[test]
fn ship_adaptive_mean_white_count_matches_opencv() {
    assert_eq!(white("adaptive-mean:11:2"), 1_177_994);
}

#[test]
fn ship_adaptive_gaussian_white_count_matches_opencv() {
    assert_eq!(white("adaptive-gaussian:11:2"), 1_234_760);
}
