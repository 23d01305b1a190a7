//! The pipeline: read -> decode -> process -> encode -> write, run by one of three engines.
//! It knows stages, channels and threads, and calls `codec` and `ops` for everything else.

mod engine_rayon;
mod engine_serial;
mod engine_staged;
pub mod stages;
pub mod stats;
pub mod workers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::batch::Job;
pub use stages::{convert_file, Settings, Written};
pub use stats::{peak_rss_bytes, EngineStats, StageStats};
pub use workers::{Engine, StageWorkers};

use crate::error::FileError;

/// How a run is executed (never what it computes: every choice gives the same bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Which engine.
    pub engine: Engine,
    /// Threads per stage (the rayon engine uses `workers.decode` as its pool size).
    pub workers: StageWorkers,
    /// Capacity of each channel between stages, in files.
    pub queue: usize,
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

/// The end of one file's journey.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The job's index in the plan.
    pub index: usize,
    /// What was written, or why not.
    pub result: Result<Written, FileError>,
}

/// Runs `jobs` with `config`, calling `on_outcome` on the calling thread once per finished
/// file, in completion order. Files not started because of `cancel` get no outcome.
pub fn run(
    jobs: &[Job],
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> EngineStats {
    let start = Instant::now();
    let stages = match config.engine {
        Engine::Serial => engine_serial::run(jobs, settings, cancel, on_outcome),
        Engine::Rayon => {
            engine_rayon::run(jobs, settings, config.workers.decode, cancel, on_outcome)
        }
        Engine::Staged => engine_staged::run(jobs, settings, config, cancel, on_outcome),
    };
    EngineStats {
        engine: config.engine,
        wall: start.elapsed(),
        stages,
    }
}
