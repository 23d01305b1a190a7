//! The staged engine: the token pipeline on N workers. The calling thread is worker 0 (it also
//! hands every outcome to the caller, between its own tasks); N - 1 more threads are started, so
//! a run at `--workers N` has exactly N threads, and at `--workers 1` no thread but the caller's.

use crossbeam_channel::Receiver;

use super::scheduler::{Pipeline, Sink};
use super::stats::StageStats;
use super::PerStage;
use super::{merge_stats, CancelToken, EngineConfig, Outcome, Settings};
use crate::batch::Job;

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
}

impl Sink for CallerSink<'_, '_> {
    fn emit(&mut self, pos: usize, outcome: Outcome) {
        (self.on_outcome)(&self.jobs[pos], &outcome);
        self.drain();
    }

    fn pending(&self) -> bool {
        !self.others.is_empty()
    }

    fn drain(&mut self) {
        while let Ok((pos, outcome)) = self.others.try_recv() {
            (self.on_outcome)(&self.jobs[pos], &outcome);
        }
    }
}

pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
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
    );
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Outcome)>();
    let mut stages: PerStage<StageStats> = Default::default();
    let mut error = None;
    let mut started = 1;
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(n - 1);
        for i in 1..n {
            let mut sink = tx.clone();
            let pipeline = &pipeline;
            let spawned = std::thread::Builder::new()
                .name(format!("graypipe-worker-{i}"))
                .spawn_scoped(s, move || pipeline.work(&mut sink));
            match spawned {
                Ok(h) => handles.push(h),
                // Fewer workers than asked: the run goes on with those there are (the caller
                // is told through `workers`).
                Err(_) => break,
            }
        }
        started += handles.len();
        drop(tx);
        let own = pipeline.work(&mut CallerSink {
            jobs,
            others: &rx,
            on_outcome: &mut *on_outcome,
        });
        merge_stats(&mut stages, &own);
        // The other workers' last outcomes, until the last of them has finished.
        for (pos, outcome) in rx.iter() {
            on_outcome(&jobs[pos], &outcome);
        }
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
    let (peak_in_flight, peak_admitted) = pipeline.peaks();
    StagedRun {
        stages,
        workers: started,
        peak_in_flight,
        peak_admitted,
        error,
    }
}
