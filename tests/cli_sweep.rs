//! `graypipe sweep` and `graypipe amdahl` end to end: structure, exports, the arithmetic that
//! ties the exported numbers together, and the refit; never timing values themselves. Every
//! test holds on a machine with any number of cores (expectations follow the cores available).

mod common;
use common::*;

use std::fs;
use std::path::Path;

use serde_json::Value;

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

/// CPUs this test process may use (the sweep it starts inherits the same set).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn a_small_sweep_ties_its_numbers_together_and_amdahl_from_reproduces_it_exactly() {
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
        "3",
        "--min-time",
        "0",
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
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "cores used",
        "other load",
        "speedup [95%]",
        "Karp-Flatt",
        "heaviest stage",
        "bottleneck (queue evidence)",
        "recommended",
        "machine:",
        "USL: too few points",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
    assert!(
        !table.contains("R^2 1.0000") && !table.contains("R^2 -"),
        "{table}"
    );

    let r: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    let c = cores();
    assert_eq!(r["machine"]["logical_cores"].as_u64(), Some(c as u64));
    let rows = r["analysis"]["rows"].as_array().unwrap();
    let keys: Vec<(String, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["engine"].as_str().unwrap().into(),
                r["workers"].as_u64().unwrap(),
                r["processors"].as_u64().unwrap(),
            )
        })
        .collect();
    let n2 = 2.min(c) as u64;
    assert_eq!(
        keys,
        [
            ("staged".into(), 1, 1),
            ("staged".into(), 2, n2),
            ("rayon".into(), 1, 1),
            ("rayon".into(), 2, n2)
        ]
    );
    for (row, point) in rows.iter().zip(r["points"].as_array().unwrap()) {
        let runs: Vec<f64> = point["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| f(&x["wall_seconds"]))
            .collect();
        assert_eq!(runs.len(), 3, "--repeat 3 with --min-time 0");
        assert_eq!(f(&row["median_seconds"]), median(&runs));
        let n = f(&row["processors"]);
        let sp = f(&row["speedup"]);
        assert!(
            close(f(&row["efficiency"]), sp / n),
            "efficiency on processors: {row}"
        );
        assert_eq!(
            row["oversubscribed"],
            Value::Bool(row["workers"].as_u64().unwrap() as usize > c)
        );
        if n == 1.0 {
            assert!(row["karp_flatt"].is_null());
        } else {
            let kf = (1.0 / sp - 1.0 / n) / (1.0 - 1.0 / n);
            assert!(close(f(&row["karp_flatt"]), kf), "{row}");
        }
        let cpu: Vec<f64> = point["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| f(&x["user_seconds"]) + f(&x["system_seconds"]))
            .collect();
        assert!(close(f(&row["cpu_seconds"]), median(&cpu)));
        assert!(f(&row["cores_used"]) > 0.0, "the runs used CPU: {row}");
        let share: f64 = row["stages"]["share"]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .sum();
        assert!((share - 1.0).abs() < 1e-9, "{row}");
        if let Some(iv) = row["median_interval"].as_object() {
            assert!(
                f(&iv["low"]) <= f(&row["median_seconds"])
                    && f(&row["median_seconds"]) <= f(&iv["high"])
            );
        }
    }
    // The rayon engine carries files on `carry`, which measures thread CPU time per stage.
    let rayon_row = rows.iter().find(|r| r["engine"] == "rayon").unwrap();
    if cfg!(target_os = "linux") {
        assert_eq!(rayon_row["stages"]["clock"], "cpu");
    }
    for (e, first) in r["analysis"]["engines"]
        .as_array()
        .unwrap()
        .iter()
        .zip([&rows[0], &rows[2]])
    {
        assert!(close(f(&first["speedup"]), 1.0));
        assert_eq!(e["baseline"], "same");
        // Starved rows (a busy machine) are left out of the fit: with one left, there is none.
        let starved = rows
            .iter()
            .any(|row| row["engine"] == e["engine"] && row["starved"] == true);
        if c >= 2 && !(starved && e["fit"].is_null()) {
            let fit = &e["fit"];
            assert!(fit["r_squared"].is_null(), "two processor counts: no R^2");
            let (a, b) = (f(&fit["serial_seconds"]), f(&fit["parallel_seconds"]));
            assert!(close(f(&fit["parallel_fraction"]), b / (a + b)));
            let t1 = f(&e["baseline_seconds"]);
            for row in rows.iter().filter(|row| row["engine"] == e["engine"]) {
                let n = f(&row["processors"]);
                assert!(close(f(&row["amdahl_speedup"]), t1 / (a + b / n)));
            }
            let preds = e["predictions"].as_array().unwrap();
            assert_eq!(preds.is_empty(), e["ceiling"].is_null());
            for p in preds {
                assert!(p["extrapolation"].as_bool().unwrap());
                assert!(
                    p["processors"].as_u64().unwrap() <= 4 * e["max_processors"].as_u64().unwrap()
                );
            }
        } else {
            assert!(e["fit"].is_null(), "one count fitted: no fit");
        }
        assert!(e["usl"].is_null());
    }
    assert_eq!(r["job"]["files"], 12);

    // The refit: the same analysis, exactly, from the file's runs.
    let refit = graypipe(&["amdahl", "--from", s(&json), "--json"]);
    assert_eq!(refit.status.code(), Some(0), "{}", stderr(&refit));
    let again: Value = serde_json::from_slice(&refit.stdout).unwrap();
    assert_eq!(again, r["analysis"]);
    let text = graypipe(&["amdahl", "--from", s(&json)]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(!text.contains("differs"), "{text}");
    let fit_lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.contains("Amdahl fit T(n)") || l.starts_with("  no Amdahl fit"))
            .map(String::from)
            .collect()
    };
    assert_eq!(fit_lines(&text), fit_lines(&table));
    assert_eq!(fit_lines(&table).len(), 2);

    let csv_text = fs::read_to_string(&csv).unwrap();
    let mut lines = csv_text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("engine,workers,cores_allowed,processors,oversubscribed,runs"));
    assert_eq!(lines.filter(|l| !l.is_empty()).count(), 4);

    let md_text = fs::read_to_string(&md).unwrap();
    assert!(
        md_text.contains("| engine | workers | cores | n |"),
        "{md_text}"
    );
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
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    for panel in [
        "Speedup",
        "Throughput",
        "Efficiency",
        "Per-stage time per run",
    ] {
        assert!(
            texts.iter().any(|t| t.trim() == panel),
            "panel {panel} missing"
        );
    }
    assert!(texts.iter().any(|t| t.contains("machine:")));
    assert!(texts.iter().any(|t| t.contains("counted runs per point")));
    assert!(
        texts.iter().any(|t| t.contains("T1 = ")),
        "baseline named on the axis"
    );
    for stage in ["read", "decode", "process", "encode", "write"] {
        assert!(
            texts.iter().any(|t| t.trim() == stage),
            "stage {stage} missing"
        );
    }
    if c < 2 {
        assert!(texts.iter().any(|t| t.contains("oversubscribed")));
    }

    assert_eq!(
        fs::read_dir(&keep).unwrap().count(),
        12,
        "--keep-output keeps a run's files"
    );
}

/// Every key of `v` (objects inside arrays included), with its path.
fn keys(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn cores_sweep_pins_the_processors_and_every_export_field_is_documented() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 4);
    let json = t.path().join("s.json");
    let list = if cores() >= 2 { "1,2" } else { "1" };
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--cores",
        list,
        "--engine",
        "rayon",
        "--warmup",
        "0",
        "--repeat",
        "2",
        "--min-time",
        "0",
        "--export-json",
        s(&json),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    let rows = r["analysis"]["rows"].as_array().unwrap();
    let got: Vec<(u64, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["workers"].as_u64().unwrap(),
                r["cores_allowed"].as_u64().unwrap(),
                r["processors"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(u64, u64, u64)> = if cores() >= 2 {
        vec![(1, 1, 1), (2, 2, 2)]
    } else {
        vec![(1, 1, 1)]
    };
    assert_eq!(got, want);
    #[cfg(target_os = "linux")]
    {
        // Pinned to one core, a one-worker run cannot keep more than one core busy.
        assert!(f(&rows[0]["cores_used"]) <= 1.05, "{}", rows[0]);
    }

    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("### Sweep export fields")
        .expect("README has the section");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n## ").map_or(section.len(), |e| e + 4)];
    let mut all = std::collections::BTreeSet::new();
    keys(&r, &mut all);
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| {
            ![
                format!("`{k}`"),
                format!("`{k}[]`"),
                format!("`{k}."),
                format!(".{k}`"),
                format!(".{k}[]`"),
            ]
            .iter()
            .any(|form| section.contains(form.as_str()))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "README's Sweep export fields lacks {missing:?}"
    );

    let too_many = (cores() + 1).to_string();
    let o = graypipe(&["sweep", s(&input), "--cores", &too_many, "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("available to this process"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn serial_baseline_is_not_forced_into_the_fit() {
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
        "2",
        "--min-time",
        "0",
        "--export-json",
        s(&json),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["serial_baseline"]["engine"], "serial");
    let e = &r["analysis"]["engines"][0];
    assert_eq!(e["baseline"], "serial");
    let serial_runs: Vec<f64> = r["serial_baseline"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| f(&x["wall_seconds"]))
        .collect();
    assert_eq!(f(&e["baseline_seconds"]), median(&serial_runs));
    let rows = r["analysis"]["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        1,
        "no 1-worker point of the staged engine is added"
    );
    assert!(close(
        f(&rows[0]["speedup"]),
        median(&serial_runs) / f(&rows[0]["median_seconds"])
    ));
    // One processor count of the staged engine: no fit, rather than one forced through S(1)=1.
    assert!(e["fit"].is_null());
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

/// A CPU hog pinned to CPU 1 (`taskset -c 1 sh -c 'while :; do :; done'`), killed on drop.
struct Hog(std::process::Child);

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The check: with a hog on one core the sweep prints no ceiling, prediction or
/// bigger-machine figure, flags the starved rows, and recommends what the quiet machine does
/// or says "cannot decide". Ignored by default: it runs two sweeps of the photos' size (about
/// a minute); `cargo test --test cli_sweep -- --ignored hog` runs it on a Linux machine with
/// at least two CPUs and `taskset`.
#[test]
#[ignore]
fn a_cpu_hog_closes_the_gates_and_flags_starved_rows() {
    assert!(cores() >= 2, "needs two CPUs: one for the hog, one free");
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 120);
    let sweep = |json: &Path| {
        let o = graypipe(&[
            "sweep",
            s(&input),
            "--workers",
            "1,2",
            "--engine",
            "rayon",
            "--warmup",
            "1",
            "--repeat",
            "5",
            "--min-time",
            "0",
            "--export-json",
            s(json),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = String::from_utf8(o.stdout).unwrap();
        let r: Value = serde_json::from_slice(&fs::read(json).unwrap()).unwrap();
        (text, r)
    };
    let (quiet_text, quiet) = sweep(&t.path().join("quiet.json"));
    let hog = Hog(std::process::Command::new("taskset")
        .args(["-c", "1", "sh", "-c", "while :; do :; done"])
        .spawn()
        .expect("taskset runs"));
    let (text, r) = sweep(&t.path().join("hog.json"));
    drop(hog);
    println!("--- quiet machine ---\n{quiet_text}\n--- hog on CPU 1 ---\n{text}");
    for banned in [
        "ceiling 1/(1-P)",
        "predicted speedup",
        "prediction for a bigger machine from",
        "throughput peaks at N*",
    ] {
        assert!(!text.contains(banned), "{banned}: {text}");
    }
    let rows = r["analysis"]["rows"].as_array().unwrap();
    let two = rows.iter().find(|r| r["workers"] == 2).unwrap();
    assert_eq!(two["starved"], true, "{two}");
    assert!(f(&two["wait_share"]) > 0.10, "{two}");
    let quiet_choice = &quiet["analysis"]["engines"][0]["recommended_workers"];
    let choice = &r["analysis"]["engines"][0]["recommended_workers"];
    assert!(
        choice.is_null() || choice == quiet_choice,
        "hog: {choice}, quiet: {quiet_choice}"
    );
    assert!(text.contains("starved"));
}
