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
        "--wide",
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
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sweep-reference.md"))
            .unwrap();
    let start = readme
        .find("## Sweep export fields")
        .expect("the sweep reference has the section");
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
        "docs/sweep-reference.md's Sweep export fields lacks {missing:?}"
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

/// A one-point sweep of `input` exported to `json`, with extra options.
fn small_sweep(input: &Path, json: &Path, extra: &[&str]) {
    let mut args = vec![
        "sweep",
        s(input),
        "--workers",
        "1",
        "--warmup",
        "1",
        "--repeat",
        "20",
        "--min-time",
        "0",
        "--export-json",
        s(json),
        "-q",
    ];
    args.extend_from_slice(extra);
    let o = graypipe(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn compare_finds_a_real_slowdown_and_not_a_rerun_of_the_same_build() {
    let t = tempfile::tempdir().unwrap();
    // Runs of some tens of milliseconds: a scheduler stall on this shared machine must not
    // outweigh them.
    let input = tiles(t.path(), 48);
    let (a, b, slow) = (
        t.path().join("a.json"),
        t.path().join("b.json"),
        t.path().join("slow.json"),
    );
    small_sweep(&input, &a, &["--png-compression", "fast"]);
    small_sweep(&input, &slow, &["--png-compression", "high"]);

    // The strongest deflate level is several times slower than the fastest: found, with its
    // interval, and the regression check fails.
    let o = graypipe(&["compare", s(&a), s(&slow), "--fail-if-slower", "5"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains("SLOWER: B takes"), "{out}");
    assert!(
        stderr(&o).contains("--fail-if-slower 5: staged at 1 workers"),
        "{}",
        stderr(&o)
    );
    let o = graypipe(&["compare", s(&a), s(&slow), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &c["points"][0];
    assert_eq!(p["verdict"], "slower");
    assert_eq!(p["runs"], serde_json::json!([20, 20]));
    let (low, ratio, high) = (
        f(&p["interval"]["low"]),
        f(&p["ratio"]),
        f(&p["interval"]["high"]),
    );
    assert!(1.05 < low && low <= ratio && ratio <= high, "{p}");
    // The ratio is the ratio of the exported medians.
    let walls = |path: &Path| -> Vec<f64> {
        let r: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        r["points"][0]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| f(&r["wall_seconds"]))
            .collect()
    };
    assert!(close(ratio, median(&walls(&slow)) / median(&walls(&a))));
    // Backwards it is a speed-up, and no regression.
    let o = graypipe(&["compare", s(&slow), s(&a), "--fail-if-slower", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("FASTER"));

    // The same build and job, measured interleaved: A's runs split into its odd and even runs
    // (two sweeps run one after the other on this shared machine differ by whatever else ran
    // meanwhile, which compare rightly reports; interleaving takes that out). No verdict.
    let r: Value = serde_json::from_slice(&fs::read(&a).unwrap()).unwrap();
    let half = |parity: usize, path: &Path| {
        let mut h = r.clone();
        let runs: Vec<Value> = r["points"][0]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, v)| v.clone())
            .collect();
        h["points"][0]["runs"] = Value::Array(runs);
        fs::write(path, serde_json::to_vec(&h).unwrap()).unwrap();
    };
    let odd = t.path().join("odd.json");
    half(0, &b);
    half(1, &odd);
    let o = graypipe(&[
        "compare",
        s(&b),
        s(&odd),
        "--threshold",
        "15",
        "--fail-if-slower",
        "15",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("no difference"), "{out}");
    assert!(!out.contains("SLOWER") && !out.contains("FASTER"), "{out}");

    // sweep --compare: the same comparison after the sweep's own table.
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--workers",
        "1",
        "--warmup",
        "0",
        "--repeat",
        "10",
        "--min-time",
        "0",
        "--png-compression",
        "high",
        "--compare",
        s(&a),
        "--fail-if-slower",
        "5",
        "-q",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(
        out.contains("B = this sweep") && out.contains("SLOWER"),
        "{out}"
    );
}

#[test]
fn compare_refuses_what_is_not_a_sweep_and_points_it_cannot_match() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 2);
    let a = t.path().join("a.json");
    small_sweep(&input, &a, &[]);
    let junk = t.path().join("junk.json");
    fs::write(&junk, "{\"points\": 3}").unwrap();
    for bad in [s(&junk), "/dev/zero", s(t.path())] {
        let o = graypipe(&["compare", s(&a), bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("graypipe: "), "{}", stderr(&o));
    }
    // A bad reference is refused before any run.
    let o = graypipe(&["sweep", s(&input), "--compare", s(&junk), "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--compare") && o.stdout.is_empty());
    // Nothing in common: a regression check that checked nothing fails.
    let other = t.path().join("other.json");
    let mut r: Value = serde_json::from_slice(&fs::read(&a).unwrap()).unwrap();
    r["points"][0]["workers"] = 7.into();
    fs::write(&other, serde_json::to_vec(&r).unwrap()).unwrap();
    let o = graypipe(&["compare", s(&a), s(&other), "--fail-if-slower", "5"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("no point was measured in both sweeps"),
        "{out}"
    );
    assert!(
        out.contains("in A only") && out.contains("in B only"),
        "{out}"
    );
    let o = graypipe(&["compare", s(&a), s(&a), "--threshold", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Entries of `dir` (none when it is missing).
fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir).map_or_else(
        |_| Vec::new(),
        |d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        },
    )
}

#[test]
fn bad_keep_output_and_scratch_folders_are_refused_before_any_run() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 2);
    let scratch = t.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    let picture = input.join(entries(&input)[0].clone());
    let inside = input.join("kept");
    let cases: [(&str, &str, &str); 5] = [
        ("--keep-output", s(&inside), "is inside input folder"),
        ("--keep-output", s(&picture), "is a file, not a folder"),
        ("--scratch", s(&input), "is inside input folder"),
        (
            "--scratch",
            "/nonexistent-graypipe-scratch",
            "no such file or folder",
        ),
        ("--scratch", s(&picture), "--scratch"),
    ];
    for (option, value, says) in cases {
        let o = graypipe(&[
            "sweep",
            s(&input),
            "--workers",
            "1",
            "--repeat",
            "1000",
            "--min-time",
            "1000",
            option,
            value,
            "--export-json",
            s(&t.path().join("s.json")),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(2), "{option} {value}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(says),
            "{option} {value}: {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "no table: nothing was measured");
        assert!(!t.path().join("s.json").exists());
    }
    // Nothing was written into the input, nor left in the scratch folder.
    assert_eq!(entries(&input).len(), 2);
    assert!(entries(&scratch).is_empty());
    assert!(!inside.exists());
}

#[test]
fn a_run_that_fails_a_file_is_no_sample_and_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 3);
    fs::write(input.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let json = t.path().join("s.json");
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--workers",
        "1",
        "--warmup",
        "0",
        "--repeat",
        "5",
        "--min-time",
        "0",
        "--export-json",
        s(&json),
        "-q",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("broken.png: "), "{err}");
    assert!(err.contains("sweep stopped: run 1"), "{err}");
    let r: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    let failed = &r["failed_run"];
    assert_eq!(failed["failed"], 1, "{failed}");
    assert_eq!(failed["run"], 1);
    assert!(failed["failures"][0]["input"]
        .as_str()
        .unwrap()
        .ends_with("broken.png"));
    // The failed run is no timing sample.
    assert!(r["points"][0]["runs"].as_array().unwrap().is_empty());
    assert!(String::from_utf8_lossy(&o.stdout).contains("sweep stopped at run 1"));
}

/// A full scratch disk: a 256 KiB tmpfs (mounting needs root; as root a failed mount fails
/// the test; without root the case is reported as not run and the damaged-file case above
/// covers the same path).
#[cfg(target_os = "linux")]
#[test]
fn a_full_scratch_disk_stops_the_sweep_and_says_no_space_left() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let ship = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_images/book/ship.jpg");
    fs::copy(&ship, input.join("ship.jpg")).unwrap();
    let full = t.path().join("full");
    fs::create_dir(&full).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs", s(&full)])
        .status()
        .is_ok_and(|st| st.success());
    // CI runs as root, where the mount must work: there a failed mount fails the test rather
    // than passing it unchecked. Elsewhere (no root) the case cannot be set up and says so.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        mounted || !root,
        "as root, a 256 KiB tmpfs must mount for this test"
    );
    if !mounted {
        eprintln!("not run: cannot mount a tmpfs here (needs root)");
        return;
    }
    let json = t.path().join("s.json");
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--workers",
        "1",
        "--repeat",
        "3",
        "--min-time",
        "0",
        "--scratch",
        s(&full),
        "--export-json",
        s(&json),
        "-q",
    ]);
    let left = entries(&full);
    let _ = std::process::Command::new("umount").arg(&full).status();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no space left"), "{err}");
    assert!(err.contains("ship.jpg"), "{err}");
    let r: Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    assert!(r["failed_run"]["failures"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no space left"));
    assert!(r["points"][0]["runs"].as_array().unwrap().is_empty());
    assert!(left.is_empty(), "scratch folders left: {left:?}");
}

#[cfg(unix)]
#[test]
fn sighup_during_a_sweep_removes_its_scratch_folders() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 6);
    let scratch = t.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .args([
            "sweep",
            s(&input),
            "--workers",
            "1",
            "--repeat",
            "100000",
            "--min-time",
            "100000",
            "--scratch",
            s(&scratch),
            "-q",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until runs have left outputs in the scratch folder.
    let started = std::time::Instant::now();
    while entries(&scratch).len() < 3 {
        assert!(
            started.elapsed().as_secs() < 120,
            "no scratch folders appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill has no memory preconditions; the pid is our running child's.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGHUP) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(129), "{}", stderr(&out));
    assert!(stderr(&out).contains("temporary folders are removed"));
    assert!(entries(&scratch).is_empty(), "{:?}", entries(&scratch));
}

#[test]
fn the_table_fits_120_columns_unless_wide() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 3);
    let run = |wide: bool| {
        let mut args = vec![
            "sweep",
            s(&input),
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
            "-q",
        ];
        if wide {
            args.push("--wide");
        }
        let o = graypipe(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let narrow = run(false);
    let table: Vec<&str> = narrow
        .lines()
        .skip_while(|l| !l.starts_with("engine"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(table.len() >= 5, "{narrow}");
    for l in &table {
        assert!(l.chars().count() <= 120, "{} wide: {l}", l.chars().count());
    }
    assert!(
        table.iter().any(|l| l.contains("--wide for all")),
        "{narrow}"
    );
    let wide = run(true);
    let head = wide.lines().find(|l| l.starts_with("engine")).unwrap();
    assert!(
        head.contains("Karp-Flatt") && head.contains("Amdahl fit"),
        "{head}"
    );
    assert!(!wide.contains("--wide for all"));
}

#[test]
fn the_plot_shows_the_load_each_run_and_no_red_green_pair() {
    let t = tempfile::tempdir().unwrap();
    let input = tiles(t.path(), 3);
    let svg = t.path().join("s.svg");
    let o = graypipe(&[
        "sweep",
        s(&input),
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
        "--plot",
        s(&svg),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let words: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(words.contains("other load"), "the caption names the load");
    assert!(words.contains("faint: each run"));
    assert!(words.contains("outside stages"));
    let fills: std::collections::BTreeSet<String> = doc
        .descendants()
        .filter_map(|n| n.attribute("fill").or(n.attribute("stroke")))
        .map(str::to_uppercase)
        .collect();
    // Okabe-Ito blue and orange for the two engines; none of plotters' default red and green.
    assert!(
        fills.contains("#0072B2") && fills.contains("#E69F00"),
        "{fills:?}"
    );
    for red_or_green in ["#FF0000", "#00FF00", "#E6194B", "#3CB44B"] {
        assert!(!fills.contains(red_or_green), "{red_or_green} in {fills:?}");
    }
    // Every run is drawn: at least as many faint markers as counted runs (2 engines x 2
    // points x 3 runs, on three panels).
    let faint = doc
        .descendants()
        .filter(|n| n.attribute("opacity").is_some_and(|o| o.starts_with("0.3")))
        .count();
    assert!(faint >= 3 * 12, "{faint} faint markers");

    // --plot-scale log: the first panel is the time per run on log-log axes.
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--workers",
        "1,2",
        "--warmup",
        "0",
        "--repeat",
        "2",
        "--min-time",
        "0",
        "--plot",
        s(&svg),
        "--plot-scale",
        "log",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = fs::read_to_string(&svg).unwrap();
    assert!(text.contains("Time per run (log-log)") && text.contains("ideal T1/n"));
    assert!(!text.contains(">Speedup<"));
}
