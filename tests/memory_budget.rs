//! `--max-memory`: a file's bytes count from the start of its read, and files are admitted to
//! decoding only while the working sets their headers announce fit in the budget together; a
//! file over the whole budget fails alone.

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
        // One file decoded at a time (two would take 2 x need); the rest of the peak is the
        // bytes of files read meanwhile, which the budget counts from the start of a read.
        let peak = s.stats.peak_admitted_bytes;
        assert!(
            need <= peak && peak <= budget,
            "{engine}: peak {peak}, need {need}, budget {budget}"
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
        // Only the files' bytes were ever held: no working set was admitted.
        assert!(s.stats.peak_admitted_bytes < need - 1);
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

/// A tiny JPEG followed by `extra` bytes of padding after its end: many bytes, few pixels.
fn padded_jpeg(path: &Path, extra: usize) {
    let img = image::RgbImage::from_fn(16, 16, |x, y| {
        image::Rgb([(x * 15) as u8, (y * 15) as u8, 90])
    });
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    bytes.resize(bytes.len() + extra, 0);
    fs::write(path, bytes).unwrap();
}

/// An 8-bit colour PNG of noise: it compresses badly, so its bytes are a fair part of its
/// working set.
fn noise_png(path: &Path, w: u32, h: u32, seed: u32) {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    img.save(path).unwrap();
}

#[test]
fn files_being_read_count_against_the_budget() {
    // Six files of 40 MB each whose pictures are 16 x 16: before reads were counted, eight
    // workers held all six files' bytes at once (240 MB) under a 100 MB budget. (40 MB is
    // over glibc's largest mmap threshold, so a freed buffer goes back to the system and the
    // peak RSS shows what was held at once, not what the allocator kept for reuse.)
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    padded_jpeg(&input.join("p0.jpg"), 40 << 20);
    for i in 1..6 {
        fs::copy(input.join("p0.jpg"), input.join(format!("p{i}.jpg"))).unwrap();
    }
    let budget: u64 = 100 << 20;
    for engine in ["staged", "rayon", "serial"] {
        let report = t.path().join(format!("r-{engine}.json"));
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&t.path().join(format!("out-{engine}"))),
            "--engine",
            engine,
            "--workers",
            "8",
            "--max-memory",
            &budget.to_string(),
            "--report",
            s(&report),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{engine}: {}", stderr(&o));
        let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["files"]["written"], 6, "{engine}");
        let peak = r["peak_admitted_bytes"].as_u64().unwrap();
        assert!(
            (40 << 20..=budget).contains(&peak),
            "{engine}: peak admitted {peak}"
        );
        if let Some(rss) = r["peak_rss_bytes"].as_u64() {
            // At most two files' bytes at once (three would be 120 MB, over the budget), plus
            // the program itself.
            assert!(
                rss < budget + (30 << 20),
                "{engine}: peak RSS {rss} over budget {budget} + 30 MiB"
            );
        }
    }
}

#[test]
fn files_waiting_for_memory_never_block_each_other() {
    // Two files' bytes fit the budget together, but neither file's working set fits beside
    // the other's bytes: each waiting file would hold what the other needs. Waiting files let
    // their bytes go and read them again, so the run finishes, within the budget, with the
    // same bytes as a run without a budget.
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    for i in 0..6 {
        noise_png(&input.join(format!("n{i}.png")), 600, 600, i + 1);
    }
    let size = fs::metadata(input.join("n0.png")).unwrap().len();
    let need = need_of(&input.join("n0.png"));
    let budget = need + size / 2;
    assert!(2 * size <= budget && size + need > budget);
    let reference = t.path().join("reference");
    let o = graypipe(&["run", s(&input), "-o", s(&reference), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for engine in [Engine::Staged, Engine::Rayon] {
        for workers in [2, 3] {
            let out = t.path().join(format!("out-{engine}-{workers}"));
            let batch = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
            let config = EngineConfig {
                max_memory: budget,
                ..EngineConfig::new(engine, workers)
            };
            // A deadlock would hang here: the run goes on a thread watched by a timeout.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let s = graypipe::run(
                    &batch,
                    &Settings::default(),
                    &config,
                    &CancelToken::new(),
                    false,
                    &mut |_, _| {},
                );
                let _ = tx.send((s.written(), s.stats.peak_admitted_bytes));
            });
            let (written, peak) = rx
                .recv_timeout(std::time::Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("{engine} x {workers}: no end within 120 s"));
            assert_eq!(written, 6, "{engine} x {workers}");
            assert!(peak <= budget, "{engine} x {workers}: {peak} > {budget}");
            assert_eq!(tree(&out), tree(&reference), "{engine} x {workers}");
        }
    }
}

#[test]
fn fail_fast_stops_soon_though_most_workers_wait_for_memory() {
    // Under a tight budget most workers wait for memory; the worker that hands outcomes to the
    // caller must still pass a failure on while it waits, or --fail-fast comes dozens of files
    // late (it did: 25-30 of these 61 files were written).
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    png16(&input.join("b00.png"), 1500, 2000);
    for i in 1..30 {
        fs::copy(input.join("b00.png"), input.join(format!("b{i:02}.png"))).unwrap();
    }
    for i in 0..30 {
        padded_jpeg(&input.join(format!("j{i:02}.jpg")), (2 + i % 8) << 20);
    }
    // Not a picture, sorted seventh: it fails as soon as it is decoded.
    let mut x = 12345u32;
    let junk: Vec<u8> = (0..3_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    fs::write(input.join("b05x.png"), junk).unwrap();
    let need = need_of(&input.join("b00.png"));
    let out = t.path().join("out");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--engine",
        "staged",
        "--workers",
        "8",
        "--fail-fast",
        "--max-memory",
        &(need + (1 << 20)).to_string(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let written = files_below(&out).len();
    // At most the 16 files alive when the failure came, and a few started before it was
    // passed on; never most of the batch.
    assert!(
        written <= 20,
        "{written} of 61 files written after --fail-fast"
    );
}

/// A `--files-from` list of many entries: held within `--max-memory` or refused with one
/// line before any work, never an abort.
#[test]
fn a_huge_file_list_is_refused_before_work_under_a_small_budget() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir_all(&input).unwrap();
    image::GrayImage::from_pixel(2, 2, image::Luma([9]))
        .save(input.join("a.png"))
        .unwrap();
    // 300,000 entries naming the one file (about 8 MB of list).
    let entry = format!("{}\n", input.join("a.png").display());
    let list = t.path().join("list.txt");
    fs::write(&list, entry.repeat(300_000)).unwrap();
    let out = t.path().join("out");
    let run = |budget: &str| {
        graypipe(&[
            "run",
            "--files-from",
            s(&list),
            "-o",
            s(&out),
            "-q",
            "--max-memory",
            budget,
        ])
    };
    let o = run("64M");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("the file list {}", list.display())),
        "{err}"
    );
    assert!(err.contains("--max-memory"), "{err}");
    assert!(!out.exists());
    // A list longer than a budget allows is refused without being read whole.
    let o = run("1M");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than that"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// The same list under an address-space limit (`ulimit -v`), where a failed allocation would
/// abort: the default budget follows the limit, so the list is refused with one line.
#[cfg(target_os = "linux")]
#[test]
fn a_huge_file_list_under_ulimit_v_is_refused_not_aborted() {
    let t = tempfile::tempdir().unwrap();
    let list = t.path().join("list.txt");
    let entry = format!("{}/in/{}.png\n", t.path().display(), "x".repeat(30));
    fs::write(&list, entry.repeat(1_000_000)).unwrap();
    let out = t.path().join("out");
    let script = format!(
        "ulimit -v 1000000 && exec '{}' run --files-from '{}' -o '{}' -q",
        env!("CARGO_BIN_EXE_graypipe"),
        list.display(),
        out.display()
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("the file list"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-memory"), "{}", stderr(&o));
    assert!(!out.exists());
}
