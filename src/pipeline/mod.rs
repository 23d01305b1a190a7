//! The pipeline: read -> decode -> process -> encode -> write, run by one of three engines.
//! It knows stages, tokens and threads, and calls `codec` and `ops` for everything else.
//!
//! The staged and serial engines are two policies over one mechanism, the token pipeline in
//! [`scheduler`] (N workers and a limit on files alive; the serial engine is one worker on the
//! calling thread). The rayon engine hands whole files to a rayon pool. All three run each
//! stage through the same [`stages::StageRunner`], so they time and fail files alike.

pub mod bands;
pub mod cpu_time;
mod engine_rayon;
mod engine_serial;
mod engine_staged;
mod failure;
pub mod memory;
mod scheduler;
pub mod stage;
pub mod stages;
pub mod stats;
pub mod workers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::batch::Job;
use cpu_time::ProcessCpu;
pub use failure::Failure;
pub use stage::{PerStage, Stage};
pub use stages::{convert_file, Settings, Written};
pub use stats::{peak_rss_bytes, EngineStats, StageStats};
pub use workers::{logical_cores, Engine, StageCaps, StageTable, StageWorkers, UnknownEngine};

use crate::error::FileError;

/// How a run is executed (never what it computes: every choice gives the same bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Which engine.
    pub engine: Engine,
    /// N: threads doing the work (the staged engine's workers, the rayon pool's size; the
    /// serial engine always uses one).
    pub workers: usize,
    /// Most files alive at once in the staged engine, from the start of their read to the end
    /// of their write (the token limit; memory is bounded by it).
    pub in_flight: usize,
    /// Most workers in each stage at once (staged engine).
    pub stage_caps: StageCaps,
    /// The memory budget in bytes: files are admitted to decoding only while their header's
    /// working sets fit in it together (`--max-memory`; every engine).
    pub max_memory: u64,
}

impl EngineConfig {
    /// Files alive at once by default: twice the workers, so a capped stage has a file ready
    /// while another waits.
    pub fn default_in_flight(workers: usize) -> usize {
        2 * workers.max(1)
    }

    /// `engine` with `workers` threads, the default in-flight limit and memory budget, and no
    /// stage caps.
    pub fn new(engine: Engine, workers: usize) -> Self {
        Self {
            engine,
            workers: workers.max(1),
            in_flight: Self::default_in_flight(workers),
            stage_caps: StageCaps::NONE,
            max_memory: memory::default_budget(),
        }
    }

    /// Threads that will do work: 1 for the serial engine, N otherwise.
    pub fn threads(&self) -> usize {
        match self.engine {
            Engine::Serial => 1,
            _ => self.workers.max(1),
        }
    }
}

/// Adds one worker's per-stage figures into the totals.
pub(crate) fn merge_stats(totals: &mut PerStage<StageStats>, worker: &PerStage<StageStats>) {
    for (t, w) in totals.iter_mut().zip(worker) {
        t.merge(w);
    }
}

/// A shared flag that asks a run to stop taking new files (fail-fast, Ctrl-C).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks the run to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether stop was asked.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// The shared flag itself, for signal handlers that set it.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// The end of one file's journey. It comes with its [`Job`] (`on_outcome(&job, &outcome)`),
/// whose `index` names the file in the plan: the outcome does not repeat it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What was written, or why not.
    pub result: Result<Written, FileError>,
}

/// Runs `jobs` with `config`, calling `on_outcome` on the calling thread once per finished
/// file, in completion order. Files not started because of `cancel` (or because the engine
/// could not run: see [`EngineStats::engine_error`]) get no outcome.
pub fn run(
    jobs: &[Job],
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> EngineStats {
    run_traced(jobs, settings, config, cancel, false, on_outcome)
}

/// [`run`], recording the run's [`Timeline`](crate::trace::Timeline) into
/// [`EngineStats::timeline`] when `trace` is set.
pub fn run_traced(
    jobs: &[Job],
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    trace: bool,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> EngineStats {
    let tracer = trace.then(crate::trace::Tracer::new);
    let trace = tracer.as_ref();
    let cpu_before = ProcessCpu::now();
    let start = Instant::now();
    let threads = config.threads();
    let mut in_flight = threads;
    let mut peak_in_flight = None;
    let mut workers = threads;
    let mut engine_error = None;
    let mut peak_admitted = 0;
    let stages = match config.engine {
        Engine::Serial => {
            in_flight = 1;
            let (stages, peak) = engine_serial::run(
                jobs,
                settings,
                config.max_memory,
                cancel,
                trace,
                &mut |job, o| {
                    peak_in_flight = Some(1);
                    on_outcome(job, o)
                },
            );
            peak_admitted = peak;
            stages
        }
        Engine::Rayon => match engine_rayon::run(
            jobs,
            settings,
            threads,
            config.max_memory,
            cancel,
            trace,
            on_outcome,
        ) {
            Ok((stages, peak)) => {
                peak_admitted = peak;
                stages
            }
            Err(e) => {
                workers = 0;
                engine_error = Some(e);
                Default::default()
            }
        },
        Engine::Staged => {
            in_flight = config.in_flight.max(1);
            let r = engine_staged::run(jobs, settings, config, cancel, trace, on_outcome);
            workers = r.workers;
            peak_in_flight = Some(r.peak_in_flight);
            peak_admitted = r.peak_admitted;
            engine_error = r.error;
            r.stages
        }
    };
    let wall = start.elapsed();
    let process_cpu = ProcessCpu::now()
        .zip(cpu_before)
        .map(|(after, before)| after.since(before));
    EngineStats {
        engine: config.engine,
        workers,
        in_flight,
        peak_in_flight,
        max_memory: config.max_memory,
        peak_admitted_bytes: peak_admitted,
        wall,
        process_cpu,
        stages,
        engine_error,
        timeline: tracer.map(|t| t.finish(workers)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OutputFormat;

    /// Jobs over `n` small PNGs in `dir`; the one at `panic_at` has a name that makes the
    /// decode stage panic (a hook compiled into test builds only).
    fn jobs(dir: &std::path::Path, n: usize, panic_at: usize) -> Vec<Job> {
        (0..n)
            .map(|i| {
                let name = if i == panic_at {
                    format!("graypipe-test-panic-{i}.png")
                } else {
                    format!("f{i}.png")
                };
                let input = dir.join(&name);
                image::GrayImage::from_pixel(9, 7, image::Luma([i as u8]))
                    .save(&input)
                    .unwrap();
                Job {
                    index: i,
                    input,
                    output: dir.join("out").join(name),
                    format: OutputFormat::Png,
                    existing_output: None,
                    input_folders: Default::default(),
                }
            })
            .collect()
    }

    #[test]
    fn a_panic_in_a_stage_fails_its_file_on_every_engine_and_the_rest_are_written() {
        let t = tempfile::tempdir().unwrap();
        let jobs = jobs(t.path(), 12, 5);
        for engine in [Engine::Serial, Engine::Rayon, Engine::Staged] {
            let _ = std::fs::remove_dir_all(t.path().join("out"));
            let mut outcomes = Vec::new();
            let stats = run(
                &jobs,
                &Settings::default(),
                &EngineConfig::new(engine, 2),
                &CancelToken::new(),
                &mut |job, o| outcomes.push((job.index, o.clone())),
            );
            assert_eq!(stats.engine_error, None, "{engine}");
            assert_eq!(outcomes.len(), 12, "{engine}: every file has an outcome");
            let failed: Vec<&(usize, Outcome)> =
                outcomes.iter().filter(|o| o.1.result.is_err()).collect();
            assert_eq!(failed.len(), 1, "{engine}");
            assert_eq!(failed[0].0, 5, "{engine}");
            let e = failed[0].1.result.as_ref().unwrap_err();
            assert_eq!(e.stage, Some(Stage::Decode), "{engine}");
            assert!(e.reason.contains("panicked"), "{engine}: {}", e.reason);
            assert_eq!(stats.stages[Stage::Decode].failed, 1, "{engine}");
            assert_eq!(stats.stages[Stage::Write].items, 11, "{engine}");
            assert!(!jobs[5].output.exists(), "{engine}");
        }
    }

    #[test]
    fn a_panic_in_the_callers_first_or_last_callback_reaches_the_caller_at_many_workers() {
        let t = tempfile::tempdir().unwrap();
        let jobs = jobs(t.path(), 24, usize::MAX);
        for engine in [Engine::Serial, Engine::Rayon, Engine::Staged] {
            for workers in [1, 4, 8] {
                for panic_at in [1, 12, 24] {
                    let _ = std::fs::remove_dir_all(t.path().join("out"));
                    let (done_tx, done_rx) = std::sync::mpsc::channel();
                    let jobs = jobs.clone();
                    // On its own thread, so that a hang fails the test instead of stalling it.
                    std::thread::spawn(move || {
                        let mut seen = 0;
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run(
                                &jobs,
                                &Settings::default(),
                                &EngineConfig::new(engine, workers),
                                &CancelToken::new(),
                                &mut |_, _| {
                                    seen += 1;
                                    if seen == panic_at {
                                        // A payload that is not a string.
                                        std::panic::panic_any(panic_at);
                                    }
                                },
                            )
                        }));
                        let payload = r.err().and_then(|p| p.downcast::<usize>().ok());
                        let _ = done_tx.send((payload.map(|p| *p), seen));
                    });
                    let (payload, seen) = done_rx
                        .recv_timeout(std::time::Duration::from_secs(60))
                        .unwrap_or_else(|_| {
                            panic!("{engine} at {workers}, panic at {panic_at}: the run hung")
                        });
                    let what = format!("{engine} at {workers}, panic at {panic_at}");
                    assert_eq!(
                        payload,
                        Some(panic_at),
                        "{what}: the panic changed or was lost"
                    );
                    // Nothing is handed to the callback after its panic.
                    assert_eq!(seen, panic_at, "{what}");
                }
            }
        }
    }

    #[test]
    fn cancelling_stops_new_files_and_leaves_no_outcome_for_them() {
        let t = tempfile::tempdir().unwrap();
        let jobs = jobs(t.path(), 30, usize::MAX);
        for engine in [Engine::Serial, Engine::Rayon, Engine::Staged] {
            let _ = std::fs::remove_dir_all(t.path().join("out"));
            // Cancelled before the start: nothing runs, nothing is reported.
            let cancel = CancelToken::new();
            cancel.cancel();
            let mut seen = 0;
            let stats = run(
                &jobs,
                &Settings::default(),
                &EngineConfig::new(engine, 2),
                &cancel,
                &mut |_, _| seen += 1,
            );
            assert_eq!((seen, stats.stages[Stage::Read].items), (0, 0), "{engine}");
            // Cancelled mid-run: every outcome is a file written, and the count of outcomes
            // is what the write stage counted.
            let cancel = CancelToken::new();
            let mut seen = 0;
            let stats = run(
                &jobs,
                &Settings::default(),
                &EngineConfig::new(engine, 1),
                &cancel,
                &mut |_, o| {
                    assert!(o.result.is_ok());
                    seen += 1;
                    if seen == 3 {
                        cancel.cancel();
                    }
                },
            );
            assert!(seen >= 3, "{engine}: {seen}");
            assert_eq!(stats.stages[Stage::Write].items as usize, seen, "{engine}");
            if engine == Engine::Serial {
                // Outcomes are delivered on the working thread: it stops right there.
                assert_eq!(seen, 3);
            }
        }
    }
}
