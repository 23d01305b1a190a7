//! The engines as a library user drives them: how many threads do the work, how many files are
//! alive at once, and what a run records. One test function, so no other test of this binary
//! starts threads while threads are counted.

mod common;

use std::fs;
use std::path::Path;

use graypipe::batch::{plan, PlanOptions};
use graypipe::{CancelToken, Engine, EngineConfig, Settings, StageCaps};

fn png(path: &Path, w: u32, h: u32, seed: u32) {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([((x * 7 + y * 13 + seed) % 251) as u8])
    });
    img.save(path).unwrap();
}

/// The first item that satisfies `ok`, or else the last item (whose failure the caller then
/// reports).
trait FindMapLast: Iterator + Sized {
    fn find_map_last(mut self, ok: impl Fn(&Self::Item) -> bool) -> Self::Item {
        let mut last = self.next().expect("at least one attempt");
        while !ok(&last) {
            match self.next() {
                Some(next) => last = next,
                None => break,
            }
        }
        last
    }
}

impl<I: Iterator> FindMapLast for I {}

/// Names of this process's threads whose name starts with `prefix`.
#[cfg(target_os = "linux")]
fn threads_named(prefix: &str) -> usize {
    fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

#[test]
fn worker_threads_and_files_alive_are_what_was_asked() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    for i in 0..40 {
        png(&input.join(format!("f{i:02}.png")), 300, 200, i);
    }
    let settings = Settings {
        operation: "adaptive-gaussian:11:2".parse().unwrap(),
        ..Settings::default()
    };
    // engine, workers, --in-flight, caps, thread name prefix, threads started (the staged
    // engine's worker 0 is the calling thread, so N workers start N - 1 threads)
    type Case = (Engine, usize, Option<usize>, StageCaps, &'static str, usize);
    let cases: &[Case] = &[
        (
            Engine::Staged,
            1,
            None,
            StageCaps::NONE,
            "graypipe-worker",
            0,
        ),
        (
            Engine::Staged,
            3,
            None,
            StageCaps::NONE,
            "graypipe-worker",
            2,
        ),
        (
            Engine::Staged,
            3,
            Some(2),
            StageCaps {
                write: Some(1),
                ..StageCaps::NONE
            },
            "graypipe-worker",
            2,
        ),
        (Engine::Rayon, 3, None, StageCaps::NONE, "graypipe-rayon", 3),
        // The serial engine works on the calling thread: no thread of its own; nor does the
        // staged engine at one worker (checked with every graypipe thread name).
        (Engine::Serial, 1, None, StageCaps::NONE, "graypipe-", 0),
        (Engine::Staged, 1, None, StageCaps::NONE, "graypipe-", 0),
    ];
    for (k, &(engine, workers, in_flight, caps, prefix, want_threads)) in cases.iter().enumerate() {
        let config = EngineConfig {
            in_flight: in_flight.unwrap_or(EngineConfig::default_in_flight(workers)),
            stage_caps: caps,
            ..EngineConfig::new(engine, workers)
        };
        // On a loaded machine a worker may start only after the 40 small files are done: such
        // a run says nothing about the count, so it is tried again (at most 3 times).
        let (summary, seen_threads) = (0..3)
            .map(|_| {
                let out = t.path().join(format!("out{k}"));
                let batch =
                    plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
                let mut seen_threads = Vec::new();
                let summary = graypipe::run(
                    &batch,
                    &settings,
                    &config,
                    &CancelToken::new(),
                    false,
                    &mut |_, _| {
                        #[cfg(target_os = "linux")]
                        seen_threads.push(threads_named(prefix));
                    },
                );
                (summary, seen_threads)
            })
            .find_map_last(|(_, seen): &(_, Vec<usize>)| {
                !cfg!(target_os = "linux") || seen.iter().max() == Some(&want_threads)
            });
        let what = format!("{engine} --workers {workers} caps {caps}");
        assert_eq!(summary.written(), 40, "{what}");
        assert_eq!(summary.stats.engine_error, None, "{what}");
        assert_eq!(
            summary.stats.workers,
            if engine == Engine::Serial { 1 } else { workers },
            "{what}"
        );
        if cfg!(target_os = "linux") {
            // While files are coming out the pool is all there (on a loaded machine the last
            // worker may start after the first file is done, and a worker may have exited by
            // the time the last outcome is read); never more threads than asked.
            assert_eq!(seen_threads.len(), 40, "{what}");
            assert_eq!(
                seen_threads.iter().max(),
                Some(&want_threads),
                "{what}: {seen_threads:?}"
            );
        }
        // Files alive at once never exceed the token limit.
        match engine {
            Engine::Rayon => assert_eq!(summary.stats.peak_in_flight, None),
            _ => {
                let peak = summary.stats.peak_in_flight.unwrap();
                let limit = summary.stats.in_flight;
                assert!(
                    peak >= 1 && peak <= limit,
                    "{what}: peak {peak} over limit {limit}"
                );
                if engine == Engine::Staged && in_flight.is_none() {
                    assert_eq!(limit, 2 * workers, "{what}");
                }
            }
        }
        // Every stage saw every file; thread CPU time is counted and never exceeds wall time
        // in the stage by more than clock granularity.
        for (i, st) in summary.stats.stages.iter().enumerate() {
            assert_eq!(st.items, 40, "{what} stage {i}");
            assert!(
                st.cpu <= st.busy + std::time::Duration::from_millis(5),
                "{what} stage {i}: {st:?}"
            );
        }
        let process = summary.stats.stages[graypipe::pipeline::Stage::Process].cpu;
        assert!(process > std::time::Duration::ZERO || !cfg!(unix), "{what}");
    }
    // A cap of one writer with one file alive: the strictest pipeline still finishes, in order.
    let out = t.path().join("strict");
    let batch = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
    let config = EngineConfig {
        in_flight: 1,
        stage_caps: StageCaps {
            read: Some(1),
            write: Some(1),
            ..StageCaps::NONE
        },
        ..EngineConfig::new(Engine::Staged, 4)
    };
    let mut order = Vec::new();
    let summary = graypipe::run(
        &batch,
        &settings,
        &config,
        &CancelToken::new(),
        false,
        &mut |job, _| order.push(job.index),
    );
    assert_eq!(summary.written(), 40);
    assert_eq!(summary.stats.peak_in_flight, Some(1));
    assert_eq!(
        order,
        (0..40).collect::<Vec<_>>(),
        "one file alive at a time finishes in plan order"
    );
    assert_eq!(common::tree(&out), common::tree(&t.path().join("out0")));
}
