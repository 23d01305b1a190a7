//! File-level data parallelism: a rayon pool of N threads, each task one whole file through
//! every stage (the book's `multiprocessing.Pool.map`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use super::bands::Bands;
use super::memory::MemoryBudget;
use super::stages::StageRunner;
use super::stats::StageStats;
use super::{merge_stats, CancelToken, Outcome, PerStage, Settings};
use crate::batch::Job;
use crate::trace::Tracer;

/// One rayon worker's runner; its figures join the totals when rayon drops it.
struct Local<'a> {
    runner: StageRunner<'a>,
    tx: crossbeam_channel::Sender<(usize, Outcome)>,
    totals: &'a Mutex<PerStage<StageStats>>,
}

impl Drop for Local<'_> {
    fn drop(&mut self) {
        let mut t = self
            .totals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        merge_stats(&mut t, &self.runner.stats);
    }
}

/// Runs the jobs; returns the figures and the most memory admitted at once, or `Err` when the
/// pool could not be built (nothing ran then).
pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    threads: usize,
    max_memory: u64,
    cancel: &CancelToken,
    trace: Option<&Tracer>,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> Result<(PerStage<StageStats>, u64), String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("graypipe-rayon-{i}"))
        .build()
        .map_err(|e| {
            format!("cannot start the rayon pool ({e}): is a process or thread limit (ulimit -u) reached?")
        })?;
    let totals: Mutex<PerStage<StageStats>> = Mutex::new(Default::default());
    let budget = &MemoryBudget::new(max_memory);
    let bands = &Bands::new(threads);
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Outcome)>();
    // Files being carried, for the timeline's counter (only touched when traced).
    let carried = &AtomicUsize::new(0);
    std::thread::scope(|s| {
        let totals = &totals;
        s.spawn(move || {
            pool.install(|| {
                jobs.par_iter().enumerate().for_each_init(
                    || Local {
                        runner: StageRunner::new(settings, max_memory)
                            .with_bands(bands.clone())
                            .traced(
                                trace.map(|t| {
                                    t.recorder(rayon::current_thread_index().unwrap_or(0))
                                }),
                            ),
                        tx: tx.clone(),
                        totals,
                    },
                    |local, (pos, job)| {
                        if cancel.is_cancelled() {
                            if let Some(t) = trace {
                                t.mark_cancel();
                            }
                            return;
                        }
                        if let Some(t) = trace {
                            let n = carried.fetch_add(1, Ordering::Relaxed) + 1;
                            t.sample(n, budget.held(), None);
                        }
                        let result = local.runner.carry(pos, job, Some(budget));
                        if let Some(t) = trace {
                            let n = carried.fetch_sub(1, Ordering::Relaxed) - 1;
                            t.sample(n, budget.held(), None);
                        }
                        // The receiver outlives the pool, so a send cannot fail.
                        let _ = local.tx.send((pos, Outcome { result }));
                    },
                )
            });
            drop(tx);
        });
        for (pos, outcome) in rx.iter() {
            on_outcome(&jobs[pos], &outcome);
        }
    });
    let stages = totals
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((stages, budget.peak()))
}
