//! The staged engine: the token pipeline on N workers. The calling thread is worker 0 (it also
//! hands every outcome to the caller, between its own tasks); N - 1 more threads are started, so
//! a run at `--workers N` has exactly N threads, and at `--workers 1` no thread but the caller's.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crossbeam_channel::Receiver;

use super::scheduler::{Pipeline, Sink};
use super::stats::StageStats;
use super::PerStage;
use super::{merge_stats, CancelToken, EngineConfig, Outcome, Settings};
use crate::batch::Job;
use crate::trace::Tracer;

/// What the engine did: per-stage figures, threads that ran, peak files alive and memory
/// admitted, engine error.
pub(super) struct StagedRun {
    pub stages: PerStage<StageStats>,
    pub workers: usize,
    pub peak_in_flight: usize,
    pub peak_admitted: u64,
    pub error: Option<String>,
}

/// Worker 0's sink: its own outcomes go straight to the caller, and after each one (and
/// whenever worker 0 would otherwise wait for work) the outcomes the other workers sent.
struct CallerSink<'a, 'f> {
    jobs: &'a [Job],
    others: &'a Receiver<(usize, Outcome)>,
    on_outcome: &'a mut (dyn FnMut(&Job, &Outcome) + 'f),
    callback: CallbackGuard<'a>,
}

/// A panic in the caller's callback must not unwind through worker 0's pipeline loop: the
/// other workers would wait for it for ever. It is caught, the run is cancelled (no new file
/// starts), later outcomes are dropped, and the panic goes on to the caller once every worker
/// has stopped.
struct CallbackGuard<'a> {
    cancel: &'a CancelToken,
    panic: Option<Box<dyn Any + Send>>,
}

impl CallbackGuard<'_> {
    fn call(&mut self, on_outcome: &mut dyn FnMut(&Job, &Outcome), job: &Job, outcome: &Outcome) {
        if self.panic.is_some() {
            return;
        }
        let called = panic::catch_unwind(AssertUnwindSafe(|| on_outcome(job, outcome)));
        if let Err(p) = called {
            self.panic = Some(p);
            self.cancel.cancel();
        }
    }
}

impl Sink for CallerSink<'_, '_> {
    fn emit(&mut self, pos: usize, outcome: Outcome) {
        self.callback
            .call(&mut *self.on_outcome, &self.jobs[pos], &outcome);
        self.drain();
    }

    fn pending(&self) -> bool {
        !self.others.is_empty()
    }

    fn drain(&mut self) {
        while let Ok((pos, outcome)) = self.others.try_recv() {
            self.callback
                .call(&mut *self.on_outcome, &self.jobs[pos], &outcome);
        }
    }
}

pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    trace: Option<&Tracer>,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> StagedRun {
    let n = config.workers.max(1);
    let limits = PerStage::from_fn(|s| config.stage_caps.limit(s, n));
    let pipeline = Pipeline::new(
        jobs,
        settings,
        n,
        config.in_flight,
        config.max_memory,
        limits,
        cancel,
    )
    .traced(trace);
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Outcome)>();
    let mut stages: PerStage<StageStats> = Default::default();
    let mut error = None;
    let mut started = 1;
    let mut callback_panic = None;
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(n - 1);
        for i in 1..n {
            let mut sink = tx.clone();
            let pipeline = &pipeline;
            let spawned = std::thread::Builder::new()
                .name(format!("graypipe-worker-{i}"))
                .spawn_scoped(s, move || pipeline.work(i, &mut sink));
            match spawned {
                Ok(h) => handles.push(h),
                // Fewer workers than asked: the run goes on with those there are (the caller
                // is told through `workers`).
                Err(_) => break,
            }
        }
        started += handles.len();
        drop(tx);
        let mut sink = CallerSink {
            jobs,
            others: &rx,
            on_outcome: &mut *on_outcome,
            callback: CallbackGuard {
                cancel,
                panic: None,
            },
        };
        let own = pipeline.work(0, &mut sink);
        merge_stats(&mut stages, &own);
        // The other workers' last outcomes, until the last of them has finished.
        for (pos, outcome) in rx.iter() {
            sink.callback
                .call(&mut *sink.on_outcome, &jobs[pos], &outcome);
        }
        callback_panic = sink.callback.panic.take();
        for h in handles {
            match h.join() {
                Ok(st) => merge_stats(&mut stages, &st),
                Err(_) => {
                    error.get_or_insert_with(|| {
                        "a worker thread failed outside any file (a bug in graypipe); files without an outcome were not converted".into()
                    });
                }
            }
        }
    });
    if let Some(p) = callback_panic {
        panic::resume_unwind(p);
    }
    let (peak_in_flight, peak_admitted) = pipeline.peaks();
    StagedRun {
        stages,
        workers: started,
        peak_in_flight,
        peak_admitted,
        error,
    }
}
