//! The timeline of one run: which file was in which stage on which worker, and how the files in
//! flight, the memory budget held and the queues in front of the stages moved
//! (`graypipe run --trace`, the HTML report's timeline).
//!
//! Recording is opt-in per run and costs nothing when off: the engines hold an
//! `Option<&Tracer>` and each worker an `Option<Recorder>`, so the hot path with tracing off is
//! one branch on `None`, with no allocation, lock or clock read. With tracing on, each worker
//! appends its slices to its own buffer (reusing the clock readings the stage figures already
//! take) and hands the buffer over once, when it stops; counters are sampled where the
//! scheduler already holds its lock.
//!
//! What is recorded is plain data ([`Timeline`]); [`chrome`] writes it as Chrome Trace Event
//! JSON and [`summary`] bins it for the HTML report. Neither does I/O.

pub mod chrome;
pub mod summary;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::pipeline::{PerStage, Stage};

/// One stage of one file on one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// The worker (0-based; the rayon engine's pool index).
    pub worker: usize,
    /// The file: its position in the engine's job slice.
    pub file: usize,
    /// The stage.
    pub stage: Stage,
    /// Start, nanoseconds from the start of the run.
    pub start_ns: u64,
    /// Duration, nanoseconds.
    pub dur_ns: u64,
    /// The input file's size in bytes (0 when it was never opened).
    pub bytes: u64,
    /// Whether the file failed in this stage.
    pub failed: bool,
}

/// What a [`Mark`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A file failed in a stage.
    Failure,
    /// A file was refused (its working set is over the memory budget).
    Refusal,
    /// The run was cancelled (fail-fast, Ctrl-C): no new file starts.
    Cancel,
}

impl MarkKind {
    /// The mark's name in the trace and the report.
    pub fn name(self) -> &'static str {
        match self {
            MarkKind::Failure => "failure",
            MarkKind::Refusal => "refusal",
            MarkKind::Cancel => "cancelled",
        }
    }
}

/// A moment worth seeing on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// What happened.
    pub kind: MarkKind,
    /// When, nanoseconds from the start of the run.
    pub at_ns: u64,
    /// The worker it happened on (None for the whole run: cancellation).
    pub worker: Option<usize>,
    /// The file (position in the engine's job slice).
    pub file: Option<usize>,
    /// The stage.
    pub stage: Option<Stage>,
    /// Why.
    pub reason: String,
}

/// The run's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When, nanoseconds from the start of the run.
    pub at_ns: u64,
    /// Files between the start of their read and the end of their write.
    pub in_flight: usize,
    /// Memory budget bytes held.
    pub memory: u64,
    /// Files waiting in front of each stage (the token pipeline's engines; the rayon engine
    /// has no queues).
    pub queues: Option<PerStage<usize>>,
}

/// Everything recorded over one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Worker threads of the run (one track each).
    pub workers: usize,
    /// Wall time of the run, nanoseconds.
    pub wall_ns: u64,
    /// Slices, by worker, then start.
    pub slices: Vec<Slice>,
    /// Marks, by time.
    pub marks: Vec<Mark>,
    /// Counter samples, by time.
    pub samples: Vec<Sample>,
}

/// Collects a run's timeline from its workers.
#[derive(Debug)]
pub struct Tracer {
    origin: Instant,
    parts: Mutex<Timeline>,
    cancel_marked: AtomicBool,
}

impl Default for Tracer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracer {
    /// A tracer whose clock starts now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            parts: Mutex::new(Timeline::default()),
            cancel_marked: AtomicBool::new(false),
        }
    }

    /// `t` in nanoseconds from the start (0 before it).
    pub fn ns(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn parts(&self) -> std::sync::MutexGuard<'_, Timeline> {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A buffer for worker `worker`'s slices and marks.
    pub fn recorder(&self, worker: usize) -> Recorder<'_> {
        Recorder {
            tracer: self,
            worker,
            slices: Vec::new(),
            marks: Vec::new(),
        }
    }

    /// Records the counters now, unless they are what was last recorded.
    pub fn sample(&self, in_flight: usize, memory: u64, queues: Option<PerStage<usize>>) {
        let at_ns = self.ns(Instant::now());
        let mut parts = self.parts();
        let same = parts
            .samples
            .last()
            .is_some_and(|l| (l.in_flight, l.memory, l.queues) == (in_flight, memory, queues));
        if !same {
            parts.samples.push(Sample {
                at_ns,
                in_flight,
                memory,
                queues,
            });
        }
    }

    /// Marks the moment the run was first seen cancelled (once).
    pub fn mark_cancel(&self) {
        if self.cancel_marked.swap(true, Ordering::Relaxed) {
            return;
        }
        let at_ns = self.ns(Instant::now());
        self.parts().marks.push(Mark {
            kind: MarkKind::Cancel,
            at_ns,
            worker: None,
            file: None,
            stage: None,
            reason: "no new file starts".into(),
        });
    }

    /// The timeline of a run of `workers` threads, ordered (every recorder must be dropped).
    pub fn finish(self, workers: usize) -> Timeline {
        let wall_ns = self.ns(Instant::now());
        let mut t = self
            .parts
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        t.workers = workers.max(t.slices.iter().map(|s| s.worker + 1).max().unwrap_or(0));
        t.wall_ns = wall_ns;
        t.slices
            .sort_by_key(|s| (s.worker, s.start_ns, s.stage.index()));
        t.marks.sort_by_key(|m| m.at_ns);
        t.samples.sort_by_key(|s| s.at_ns);
        t
    }
}

/// One worker's slices and marks, handed to the [`Tracer`] when dropped (one lock per worker,
/// none per file).
#[derive(Debug)]
pub struct Recorder<'a> {
    tracer: &'a Tracer,
    worker: usize,
    slices: Vec<Slice>,
    marks: Vec<Mark>,
}

impl Recorder<'_> {
    /// Records `stage` of `file` from `t0` to `t1`.
    pub fn slice(&mut self, stage: Stage, file: usize, t0: Instant, t1: Instant, bytes: u64) {
        let start_ns = self.tracer.ns(t0);
        self.slices.push(Slice {
            worker: self.worker,
            file,
            stage,
            start_ns,
            dur_ns: self.tracer.ns(t1).saturating_sub(start_ns),
            bytes,
            failed: false,
        });
    }

    /// Marks `file` failing (or refused) in `stage` at `at`; a failure also flags the slice
    /// just recorded for it.
    pub fn mark(&mut self, kind: MarkKind, file: usize, stage: Stage, at: Instant, reason: &str) {
        if kind == MarkKind::Failure {
            if let Some(last) = self
                .slices
                .last_mut()
                .filter(|s| s.file == file && s.stage == stage)
            {
                last.failed = true;
            }
        }
        self.marks.push(Mark {
            kind,
            at_ns: self.tracer.ns(at),
            worker: Some(self.worker),
            file: Some(file),
            stage: Some(stage),
            reason: reason.to_string(),
        });
    }
}

impl Drop for Recorder<'_> {
    fn drop(&mut self) {
        if self.slices.is_empty() && self.marks.is_empty() {
            return;
        }
        let mut parts = self.tracer.parts();
        parts.slices.append(&mut self.slices);
        parts.marks.append(&mut self.marks);
    }
}
