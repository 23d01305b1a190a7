//! `--trace`: the run's timeline as Chrome Trace Event JSON, checked against the format on
//! every engine: one track per worker, one complete slice per file per stage, timestamps
//! ordered per track, counters numeric, markers for failures and cancellation; and the trace
//! file follows the report's writer rules.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use graypipe::batch::{plan, PlanOptions};
use graypipe::pipeline::Stage;
use graypipe::run::run_traced;
use graypipe::trace::chrome::chrome_trace;
use graypipe::trace::MarkKind;
use graypipe::{CancelToken, Engine, EngineConfig, Settings};
use serde_json::Value;

fn png(path: &Path, w: u32, h: u32, seed: u32) {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([((x * 7 + y * 13 + seed) % 251) as u8])
    });
    img.save(path).unwrap();
}

/// `n` small PNGs, and one file that fails to decode, in `dir/in`.
fn inputs(dir: &Path, n: u32) -> std::path::PathBuf {
    let input = dir.join("in");
    fs::create_dir_all(&input).unwrap();
    for i in 0..n {
        png(&input.join(format!("f{i:02}.png")), 40, 30, i);
    }
    fs::write(input.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    input
}

/// Checks `doc` against the Trace Event format and returns, per worker track, its slices as
/// (file, stage) pairs.
fn check_format(doc: &Value, workers: usize) -> BTreeMap<u64, Vec<(String, String)>> {
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    let mut last_ts: HashMap<u64, f64> = HashMap::new();
    let mut per_track: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
    let mut track_names = HashSet::new();
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        let tid = e["tid"].as_u64().expect("tid");
        assert_eq!(e["pid"], 1);
        match ph {
            "M" => {
                if e["name"] == "thread_name" && tid > 0 {
                    track_names.insert(tid);
                }
                continue;
            }
            "X" => {
                let dur = e["dur"].as_f64().expect("X has a numeric dur");
                assert!(dur >= 0.0, "{e}");
                assert!(
                    (1..=workers as u64).contains(&tid),
                    "slice off the worker tracks: {e}"
                );
                per_track.entry(tid).or_default().push((
                    e["args"]["file"].as_str().unwrap().to_string(),
                    e["name"].as_str().unwrap().to_string(),
                ));
            }
            "C" => {
                let args = e["args"].as_object().expect("counter args");
                assert!(!args.is_empty());
                assert!(
                    args.values().all(Value::is_number),
                    "counter not numeric: {e}"
                );
            }
            "i" => assert!(["t", "g"].contains(&e["s"].as_str().unwrap()), "{e}"),
            other => panic!("unexpected phase {other}: {e}"),
        }
        let ts = e["ts"].as_f64().expect("numeric ts");
        let prev = last_ts.insert(tid, ts).unwrap_or(f64::MIN);
        assert!(
            ts >= prev,
            "timestamps out of order on track {tid}: {prev} then {ts}"
        );
    }
    assert_eq!(
        track_names,
        (1..=workers as u64).collect::<HashSet<_>>(),
        "one named track per worker"
    );
    per_track
}

#[test]
fn every_engine_traces_one_slice_per_file_per_stage_on_its_worker_tracks() {
    let t = tempfile::tempdir().unwrap();
    let input = inputs(t.path(), 30);
    let settings = Settings::default();
    for (k, (engine, workers)) in [
        (Engine::Staged, 3),
        (Engine::Rayon, 3),
        (Engine::Serial, 1),
        (Engine::Staged, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let what = format!("{engine} at {workers}");
        let out = t.path().join(format!("out{k}"));
        let batch = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
        let summary = run_traced(
            &batch,
            &settings,
            &EngineConfig::new(engine, workers),
            &CancelToken::new(),
            false,
            true,
            &mut |_, _| {},
        );
        assert_eq!((summary.written(), summary.failed()), (30, 1), "{what}");
        let timeline = summary.stats.timeline.as_ref().expect("a timeline");
        assert_eq!(timeline.workers, workers, "{what}");
        let doc: Value =
            serde_json::from_str(&chrome_trace(timeline, "test", &|i| summary.file_name(i)))
                .unwrap();
        let tracks = check_format(&doc, workers);
        let mut pairs: Vec<(String, String)> = tracks.into_values().flatten().collect();
        let n = pairs.len();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), n, "{what}: a file's stage sliced twice");
        for (file, _) in &pairs {
            let stages: Vec<&str> = pairs
                .iter()
                .filter(|(f, _)| f == file)
                .map(|(_, s)| s.as_str())
                .collect();
            if file.ends_with("broken.png") {
                assert_eq!(stages.len(), 2, "{what}: read, then the failed decode");
            } else {
                assert_eq!(stages.len(), 5, "{what}: {file}: {stages:?}");
            }
        }
        assert_eq!(n, 30 * 5 + 2, "{what}");
        let failures: Vec<_> = timeline
            .marks
            .iter()
            .filter(|m| m.kind == MarkKind::Failure)
            .collect();
        assert_eq!(failures.len(), 1, "{what}");
        assert_eq!(failures[0].stage, Some(Stage::Decode), "{what}");
        let failed_slices = timeline.slices.iter().filter(|s| s.failed).count();
        assert_eq!(failed_slices, 1, "{what}");
        let events = doc["traceEvents"].as_array().unwrap();
        let counters: HashSet<&str> = events
            .iter()
            .filter(|e| e["ph"] == "C")
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert!(counters.contains("files in flight"), "{what}");
        assert!(counters.contains("memory held (bytes)"), "{what}");
        assert_eq!(
            counters.contains("queue depth"),
            engine != Engine::Rayon,
            "{what}: the token pipeline has queues, rayon none"
        );
    }
}

#[test]
fn tracing_off_records_nothing_and_cancelling_is_marked() {
    let t = tempfile::tempdir().unwrap();
    let input = inputs(t.path(), 6);
    let batch = plan(
        std::slice::from_ref(&input),
        &t.path().join("out"),
        &PlanOptions::default(),
    )
    .unwrap();
    let config = EngineConfig::new(Engine::Staged, 2);
    let settings = Settings::default();
    let off = graypipe::run(
        &batch,
        &settings,
        &config,
        &CancelToken::new(),
        false,
        &mut |_, _| {},
    );
    assert!(off.stats.timeline.is_none());
    for engine in [Engine::Staged, Engine::Rayon, Engine::Serial] {
        let cancel = CancelToken::new();
        cancel.cancel();
        let cancelled = run_traced(
            &batch,
            &settings,
            &EngineConfig::new(engine, 2),
            &cancel,
            false,
            true,
            &mut |_, _| {},
        );
        let marks = &cancelled.stats.timeline.as_ref().unwrap().marks;
        assert!(
            marks.iter().any(|m| m.kind == MarkKind::Cancel),
            "{engine}: {marks:?}"
        );
    }
}

#[test]
fn the_cli_writes_a_trace_and_refuses_to_put_it_on_an_input() {
    let t = tempfile::tempdir().unwrap();
    let input = inputs(t.path(), 8);
    let bin = env!("CARGO_BIN_EXE_graypipe");
    let trace = t.path().join("run.trace.json");
    let status = Command::new(bin)
        .args(["run", "-q", "-w", "2", "--trace"])
        .arg(&trace)
        .arg(&input)
        .arg("-o")
        .arg(t.path().join("out"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "the broken file fails");
    let doc: Value = serde_json::from_slice(&fs::read(&trace).unwrap()).unwrap();
    let tracks = check_format(&doc, 2);
    assert_eq!(tracks.values().map(Vec::len).sum::<usize>(), 8 * 5 + 2);
    // Onto an input: refused before any work, the input untouched.
    let victim = input.join("f00.png");
    let before = fs::read(&victim).unwrap();
    let out = Command::new(bin)
        .args(["run", "-q", "--trace"])
        .arg(&victim)
        .arg(&input)
        .arg("-o")
        .arg(t.path().join("out2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trace"));
    assert_eq!(fs::read(&victim).unwrap(), before);
    assert!(!t.path().join("out2").exists());
    // The same file for two of --report, --trace and --html: refused.
    let out = Command::new(bin)
        .args(["run", "-q", "--trace"])
        .arg(t.path().join("x.json"))
        .arg("--report")
        .arg(t.path().join("x.json"))
        .arg(&input)
        .arg("-o")
        .arg(t.path().join("out3"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
