//! The staged engine: the token pipeline on N worker threads. The calling thread only collects
//! outcomes (progress, error lines), so a run at `--workers N` has N threads doing work.

use super::scheduler::Pipeline;
use super::stats::StageStats;
use super::{merge_stats, CancelToken, EngineConfig, Outcome, Settings};
use crate::batch::Job;
use crate::error::Stage;

/// What the engine did: per-stage figures, threads that ran, peak files alive and memory
/// admitted, engine error.
pub(super) struct StagedRun {
    pub stages: [StageStats; 5],
    pub workers: usize,
    pub peak_in_flight: usize,
    pub peak_admitted: u64,
    pub error: Option<String>,
}

pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> StagedRun {
    let n = config.workers.max(1);
    let limits = Stage::ALL.map(|s| config.stage_caps.limit(s, n));
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
    let mut stages: [StageStats; 5] = Default::default();
    let mut error = None;
    let mut started = 0;
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let mut sink = tx.clone();
            let pipeline = &pipeline;
            let spawned = std::thread::Builder::new()
                .name(format!("graypipe-worker-{i}"))
                .spawn_scoped(s, move || pipeline.work(&mut sink));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    if handles.is_empty() {
                        // Nothing can run; stop the pipeline so no file is left half-started.
                        cancel.cancel();
                        error = Some(format!(
                            "cannot start worker threads ({}): is a process or thread limit (ulimit -u) reached?",
                            crate::error::io_reason(&e)
                        ));
                    }
                    break;
                }
            }
        }
        started = handles.len();
        drop(tx);
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
