//! Per-stage figures gathered while a run goes on.

use std::time::Duration;

use super::cpu_time::ProcessCpu;
use super::workers::Engine;

/// What one stage did over a run, summed over the workers that ran it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageStats {
    /// Files that passed through successfully.
    pub items: u64,
    /// Files that failed in this stage.
    pub failed: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes produced.
    pub bytes_out: u64,
    /// Wall time inside the stage's tasks (includes any time a worker waited for a core).
    pub busy: Duration,
    /// CPU time of the threads while they ran the stage's tasks (excludes waiting for a core).
    pub cpu: Duration,
    /// Time files spent ready for this stage before a worker took them up.
    pub wait: Duration,
}

impl StageStats {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &StageStats) {
        self.items += other.items;
        self.failed += other.failed;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.busy += other.busy;
        self.cpu += other.cpu;
        self.wait += other.wait;
    }

    /// Mean number of workers inside the stage over a run of `wall`: busy / wall.
    pub fn mean_concurrency(&self, wall: Duration) -> f64 {
        let w = wall.as_secs_f64();
        if w > 0.0 {
            self.busy.as_secs_f64() / w
        } else {
            0.0
        }
    }
}

/// The figures of one engine run.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStats {
    /// The engine that ran.
    pub engine: Engine,
    /// Worker threads that did the work (N; fewer only if the system refused threads).
    pub workers: usize,
    /// The most files that may be alive at once (the token limit).
    pub in_flight: usize,
    /// The most files that were alive at once (counted by the staged and serial engines).
    pub peak_in_flight: Option<usize>,
    /// The memory budget the run had (bytes).
    pub max_memory: u64,
    /// The most budget bytes held at once: sizes of files being read or waiting to be decoded,
    /// and working sets (header estimates) of files admitted to decoding.
    pub peak_admitted_bytes: u64,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// User and system CPU time of the whole process during the run, where the OS tells it.
    pub process_cpu: Option<ProcessCpu>,
    /// Per stage, in pipeline order.
    pub stages: super::PerStage<StageStats>,
    /// Set when the engine itself failed (could not start threads, or broke): files without an
    /// outcome were then never run, and the run must not count as a success.
    pub engine_error: Option<String>,
    /// The run's timeline, when it was traced ([`super::run_traced`]).
    pub timeline: Option<crate::trace::Timeline>,
}

impl EngineStats {
    /// Cores used on average: process CPU time over wall time.
    pub fn cores_used(&self) -> Option<f64> {
        let w = self.wall.as_secs_f64();
        self.process_cpu
            .filter(|_| w > 0.0)
            .map(|c| c.total().as_secs_f64() / w)
    }
}

/// The process's peak resident set size so far, where the platform tells it (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
