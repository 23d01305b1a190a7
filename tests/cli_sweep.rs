//! `graypipe sweep` and `graypipe amdahl` end to end: structure and exports, never timing values.

mod common;
use common::*;

use std::fs;
use std::path::Path;

/// A few of the book's tiles, copied into a temporary folder.
fn tiles(dir: &Path, count: usize) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_images/book/tiles");
    let dst = dir.join("tiles");
    fs::create_dir_all(&dst).unwrap();
    let mut names: Vec<_> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names.iter().take(count) {
        fs::copy(p, dst.join(p.file_name().unwrap())).unwrap();
    }
    dst
}

#[test]
fn a_small_sweep_has_a_row_per_point_and_engine_and_every_export() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 12);
    let (json, csv, md, svg) = (
        t.path().join("s.json"),
        t.path().join("s.csv"),
        t.path().join("s.md"),
        t.path().join("s.svg"),
    );
    let keep = t.path().join("kept");
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--threshold",
        "adaptive-gaussian:11:2",
        "--workers",
        "1,2",
        "--engine",
        "staged,rayon",
        "--warmup",
        "0",
        "--repeat",
        "2",
        "--keep-output",
        s(&keep),
        "--export-json",
        s(&json),
        "--export-csv",
        s(&csv),
        "--export-markdown",
        s(&md),
        "--plot",
        s(&svg),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let table = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "speedup",
        "efficiency",
        "Karp-Flatt",
        "Amdahl fit",
        "parallel fraction P",
        "bottleneck",
        "recommended",
        "machine:",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }

    let r: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    let rows = r["analysis"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let keys: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["engine"].as_str().unwrap().into(),
                r["workers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("staged".into(), 1),
            ("staged".into(), 2),
            ("rayon".into(), 1),
            ("rayon".into(), 2)
        ]
    );
    for row in rows {
        for field in [
            "median_seconds",
            "min_seconds",
            "max_seconds",
            "images_per_second",
            "megapixels_per_second",
            "speedup",
            "efficiency",
            "karp_flatt",
            "amdahl_speedup",
            "stage_share",
            "bottleneck",
            "runs_seconds",
            "stage_workers",
        ] {
            assert!(row.get(field).is_some(), "row lacks {field}");
        }
        assert_eq!(row["runs_seconds"].as_array().unwrap().len(), 2);
        if row["workers"] == 1 {
            assert_eq!(row["speedup"].as_f64(), Some(1.0));
            assert!(row["karp_flatt"].is_null());
        }
    }
    for e in r["analysis"]["engines"].as_array().unwrap() {
        let p = e["fit"]["parallel_fraction"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(e["predictions"].as_array().unwrap().len(), 3);
        assert!(e["recommended_workers"].as_u64().unwrap() >= 1);
    }
    assert_eq!(r["job"]["files"], 12);
    assert_eq!(r["points"].as_array().unwrap().len(), 4);
    assert!(r["machine"]["logical_cores"].as_u64().unwrap() >= 1);

    let csv_text = fs::read_to_string(&csv).unwrap();
    let mut lines = csv_text.lines();
    assert!(lines.next().unwrap().starts_with(
        "engine,workers,median_seconds,min_seconds,max_seconds,spread,images_per_second"
    ));
    assert_eq!(lines.filter(|l| !l.is_empty()).count(), 4);

    let md_text = fs::read_to_string(&md).unwrap();
    assert!(md_text.contains("| engine | workers |"), "{md_text}");
    assert_eq!(
        md_text
            .lines()
            .filter(|l| l.starts_with("| staged") || l.starts_with("| rayon"))
            .count(),
        4
    );

    let svg_text = fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&svg_text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(svg_text.contains("Amdahl fit"));

    assert_eq!(
        fs::read_dir(&keep).unwrap().count(),
        12,
        "--keep-output keeps the last run's files"
    );

    let refit = graypipe(&["amdahl", "--from", s(&json)]);
    assert_eq!(refit.status.code(), Some(0));
    let text = String::from_utf8(refit.stdout).unwrap();
    assert!(
        text.contains("staged") && text.contains("rayon") && text.contains("parallel fraction P"),
        "{text}"
    );
}

#[test]
fn serial_baseline_adds_a_serial_point() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 4);
    let json = t.path().join("s.json");
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--workers",
        "2",
        "--baseline",
        "serial",
        "--warmup",
        "0",
        "--repeat",
        "1",
        "--export-json",
        s(&json),
        "-q",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["serial_baseline"]["engine"], "serial");
    assert_eq!(r["analysis"]["engines"][0]["baseline"], "serial");
    assert_eq!(r["analysis"]["rows"].as_array().unwrap().len(), 1);
}

#[test]
fn amdahl_theory_and_bad_input() {
    let o = graypipe(&["amdahl", "--parallel-fraction", "0.9", "--workers", "1..4"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count(),
        4
    );
    assert!(text.contains("10.00x"));
    assert_eq!(
        graypipe(&["amdahl", "--parallel-fraction", "1.5"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(graypipe(&["amdahl"]).status.code(), Some(2));
    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("x.json");
    fs::write(&bad, "{}").unwrap();
    let o = graypipe(&["amdahl", "--from", s(&bad)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a graypipe sweep export"));
}
