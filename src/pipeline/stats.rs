//! Per-stage figures gathered while a run goes on.

use std::time::Duration;

use super::stages::Trace;
use super::workers::Engine;

/// What one stage did over a run, summed over its workers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageStats {
    /// Worker threads in the stage.
    pub workers: usize,
    /// Files that passed through successfully.
    pub items: u64,
    /// Files that failed in this stage.
    pub failed: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes produced.
    pub bytes_out: u64,
    /// Time spent working (wall clock: includes time waiting for a core).
    pub busy: Duration,
    /// Thread CPU time spent working (CLOCK_THREAD_CPUTIME_ID around each stage), summed over
    /// workers; zero where the platform or the engine does not measure it.
    pub cpu: Duration,
    /// Time spent waiting for input.
    pub starved: Duration,
    /// Time spent waiting for room downstream.
    pub blocked: Duration,
}

impl StageStats {
    /// Adds `other` into `self` (workers are added too).
    pub fn merge(&mut self, other: &StageStats) {
        self.workers += other.workers;
        self.items += other.items;
        self.failed += other.failed;
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.busy += other.busy;
        self.cpu += other.cpu;
        self.starved += other.starved;
        self.blocked += other.blocked;
    }
}

/// Adds one file's trace into per-stage totals.
pub fn add_trace(stages: &mut [StageStats; 5], trace: &Trace) {
    let reached = trace.failed_at.map_or(5, |s| s.index() + 1);
    for (i, st) in stages.iter_mut().enumerate().take(reached) {
        st.busy += trace.busy[i];
        st.cpu += trace.cpu[i];
        st.bytes_in += trace.bytes_in[i];
        st.bytes_out += trace.bytes_out[i];
        if trace.failed_at.map(|s| s.index()) == Some(i) {
            st.failed += 1;
        } else {
            st.items += 1;
        }
    }
}

/// The figures of one engine run.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStats {
    /// The engine that ran.
    pub engine: Engine,
    /// Wall-clock time of the run.
    pub wall: Duration,
    /// Per stage, in pipeline order.
    pub stages: [StageStats; 5],
}

/// The process's peak resident set size so far, where the platform tells it (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time consumed so far by the calling thread (CLOCK_THREAD_CPUTIME_ID); None where the
/// platform does not tell it.
pub fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the
        // platform defines; clock_gettime writes only into `ts`.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc != 0 {
            return None;
        }
        Some(Duration::new(
            u64::try_from(ts.tv_sec).ok()?,
            u32::try_from(ts.tv_nsec).ok()?,
        ))
    }
    #[cfg(not(unix))]
    {
        None
    }
}
