//! The raw timing records a sweep collects: one [`RunSample`] per counted run, grouped into
//! [`PointSamples`] per engine, worker count and allowed cores.

use serde::{Deserialize, Serialize};

use crate::pipeline::{Engine, PerStage, StageWorkers};

/// One counted run of the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSample {
    /// Wall-clock seconds of the run (the job, from the engine's start to its last file),
    /// the window the CPU and load figures cover too.
    pub wall_seconds: f64,
    /// User CPU seconds of the whole process during the run (getrusage deltas).
    pub user_seconds: f64,
    /// System CPU seconds of the whole process during the run.
    pub system_seconds: f64,
    /// CPU seconds every other process on the machine took during the run (the machine's busy
    /// time from /proc/stat minus ours); None where /proc/stat is unavailable.
    pub other_cpu_seconds: Option<f64>,
    /// `other_cpu_seconds` as a fraction of the machine (wall x every CPU /proc/stat lists).
    pub other_load: Option<f64>,
    /// Wall seconds per stage (read, decode, process, encode, write), summed over workers;
    /// includes time waiting for a core.
    pub stage_busy_seconds: PerStage<f64>,
    /// Thread CPU seconds per stage, summed over workers (all zero when the engine does not
    /// measure them).
    pub stage_cpu_seconds: PerStage<f64>,
    /// Seconds files waited, ready, in front of each stage for a worker (the staged engine's
    /// queue evidence: non-zero only where a stage is capped).
    pub stage_wait_seconds: PerStage<f64>,
    /// Files written.
    pub files: usize,
    /// Files that failed.
    pub failed: usize,
    /// Megapixels written.
    pub megapixels: f64,
    /// Seconds the job's threads were runnable but waiting for a CPU, summed over threads
    /// (Linux: `/proc/self/task/*/schedstat`); None where not measured.
    #[serde(default)]
    pub cpu_wait_seconds: Option<f64>,
    /// Seconds the job's threads ran on a CPU, by the same counters.
    #[serde(default)]
    pub cpu_run_seconds: Option<f64>,
    /// The CPUs the run was allowed (its affinity); empty where not known.
    #[serde(default)]
    pub cpus: Vec<usize>,
}

impl RunSample {
    /// User plus system CPU seconds.
    pub fn cpu_seconds(&self) -> f64 {
        self.user_seconds + self.system_seconds
    }

    /// The share of the threads' runnable time spent waiting for a CPU: wait / (run + wait);
    /// None where not measured.
    pub fn wait_share(&self) -> Option<f64> {
        let (w, r) = (self.cpu_wait_seconds?, self.cpu_run_seconds?);
        (w + r > 0.0).then(|| w / (w + r))
    }

    /// Cores the process kept busy on average: CPU / wall.
    pub fn cores_used(&self) -> f64 {
        if self.wall_seconds > 0.0 {
            self.cpu_seconds() / self.wall_seconds
        } else {
            0.0
        }
    }
}

/// All counted runs of one engine at one worker count on one set of allowed cores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointSamples {
    /// Engine.
    pub engine: Engine,
    /// Worker count.
    pub workers: usize,
    /// Cores the run was allowed to use (CPU affinity with `--cores`, else all available).
    pub cores_allowed: usize,
    /// Threads per stage that the worker count meant.
    pub stage_workers: StageWorkers,
    /// The counted runs, in the order they ran.
    pub runs: Vec<RunSample>,
    /// Runs measured but discarded because other processes were busy (older versions of
    /// `--quiet-machine`; it now waits for quiet before each run and keeps every run).
    #[serde(default)]
    pub discarded_loaded_runs: usize,
}

impl PointSamples {
    /// Amdahl's `n`, the processors allowed: `min(workers, cores allowed)` (1 for the serial
    /// engine). Whether the job got them is measured per run (`cpu_wait_seconds`).
    pub fn processors(&self) -> usize {
        processors(self.engine, self.workers, self.cores_allowed)
    }
}

/// `min(workers, cores allowed)`, 1 for the serial engine.
pub fn processors(engine: Engine, workers: usize, cores_allowed: usize) -> usize {
    if engine == Engine::Serial {
        1
    } else {
        workers.min(cores_allowed).max(1)
    }
}

/// Where T1 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "binary", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Baseline {
    /// The one-worker run of the same engine (on the fewest cores swept).
    Same,
    /// The serial engine (one thread, no channels).
    Serial,
}
