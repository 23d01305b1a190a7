//! `--max-memory`: files are admitted to decoding only while the working sets their headers
//! announce fit in the budget together; a file over the whole budget fails alone.

mod common;
use common::*;

use std::fs;
use std::path::Path;

use graypipe::batch::{plan, PlanOptions};
use graypipe::{CancelToken, Engine, EngineConfig, Settings};

/// A 16-bit gray PNG (cheap to store, 2 bytes a pixel once decoded).
fn png16(path: &Path, w: u32, h: u32) {
    let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(w, h, |x, y| {
        image::Luma([((x * 16 + y * 8) % 65536) as u16])
    });
    img.save(path).unwrap();
}

fn need_of(path: &Path) -> u64 {
    graypipe::codec::probe(&fs::read(path).unwrap())
        .unwrap()
        .working_set_bytes()
}

#[test]
fn the_budget_bounds_what_is_admitted_and_a_file_over_it_fails_alone() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    png16(&input.join("a.png"), 1200, 900);
    for i in 1..8 {
        fs::copy(input.join("a.png"), input.join(format!("f{i}.png"))).unwrap();
    }
    let need = need_of(&input.join("a.png"));
    // Room for one file at a time, not two.
    let budget = need + need / 2;
    for engine in [Engine::Staged, Engine::Rayon, Engine::Serial] {
        let out = t.path().join(format!("out-{engine}"));
        let batch = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
        let config = EngineConfig {
            max_memory: budget,
            ..EngineConfig::new(engine, 4)
        };
        let s = graypipe::run(
            &batch,
            &Settings::default(),
            &config,
            &CancelToken::new(),
            false,
            &mut |_, _| {},
        );
        assert_eq!(s.written(), 8, "{engine}");
        assert_eq!(
            s.stats.peak_admitted_bytes, need,
            "{engine}: one file at a time"
        );
        assert_eq!(s.stats.max_memory, budget);

        // One byte less than one file's working set: every file fails, named, at decoding.
        let out = t.path().join(format!("small-{engine}"));
        let batch = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
        let config = EngineConfig {
            max_memory: need - 1,
            ..EngineConfig::new(engine, 4)
        };
        let s = graypipe::run(
            &batch,
            &Settings::default(),
            &config,
            &CancelToken::new(),
            false,
            &mut |_, _| {},
        );
        assert_eq!((s.written(), s.failed()), (0, 8), "{engine}");
        for f in s.failures() {
            assert_eq!(f.stage, Some(graypipe::error::Stage::Decode));
            assert!(f.reason.contains("--max-memory"), "{}", f.reason);
        }
        assert_eq!(s.stats.peak_admitted_bytes, 0);
        assert!(!out.exists() || files_below(&out).is_empty());
    }
}

#[test]
fn many_large_files_at_once_stay_within_the_budget_from_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    // A small picture that must still go through while the big ones queue.
    png16(&input.join("big0.png"), 4000, 3000);
    for i in 1..8 {
        fs::copy(input.join("big0.png"), input.join(format!("big{i}.png"))).unwrap();
    }
    png16(&input.join("small.png"), 40, 30);
    let need = need_of(&input.join("big0.png"));
    let budget = 2 * need;
    let report = t.path().join("r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&t.path().join("out")),
        "--workers",
        "8",
        "--max-memory",
        &budget.to_string(),
        "--report",
        s(&report),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["files"]["written"], 9);
    assert_eq!(r["max_memory_bytes"], budget);
    let peak_admitted = r["peak_admitted_bytes"].as_u64().unwrap();
    assert!(peak_admitted <= budget, "{peak_admitted} > {budget}");
    if let Some(rss) = r["peak_rss_bytes"].as_u64() {
        // Eight workers, but at most two big pictures decoded at once: the process stays near
        // the budget (the estimates are upper bounds), far below eight pictures' worth.
        assert!(
            rss < budget + (80 << 20),
            "peak RSS {rss} over budget {budget} + 80 MiB"
        );
    }
    // A file over the whole budget fails alone, with the reason; the batch goes on.
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&t.path().join("out2")),
        "--max-memory",
        &(need / 2).to_string(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("--max-memory").count(), 8, "{err}");
    assert!(t.path().join("out2/small.png").is_file());
    // Sizes with units are accepted, nonsense is refused before any work.
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&t.path().join("o3")),
        "--max-memory",
        "lots",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
