//! File-level data parallelism: a rayon pool of N threads, each task one whole file (the
//! book's `multiprocessing.Pool.map`).

use std::sync::Mutex;

use rayon::prelude::*;

use super::stages::{carry, Scratch, Trace};
use super::stats::{add_trace, StageStats};
use super::{CancelToken, Outcome, Settings};
use crate::batch::Job;

pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    threads: usize,
    cancel: &CancelToken,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> [StageStats; 5] {
    let threads = threads.max(1);
    let totals: Mutex<[StageStats; 5]> = Mutex::new(Default::default());
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Outcome)>();
    std::thread::scope(|s| {
        s.spawn(|| {
            let body = || {
                jobs.par_iter().enumerate().for_each_init(
                    || (tx.clone(), Scratch::default()),
                    |(tx, scratch), (pos, job)| {
                        if cancel.is_cancelled() {
                            return;
                        }
                        let mut trace = Trace::default();
                        let result = carry(
                            &job.input,
                            &job.output,
                            job.format,
                            settings,
                            scratch,
                            &mut trace,
                        );
                        if let Ok(mut t) = totals.lock() {
                            add_trace(&mut t, &trace);
                        }
                        // The receiver outlives the pool, so a send cannot fail.
                        let _ = tx.send((
                            pos,
                            Outcome {
                                index: job.index,
                                result,
                            },
                        ));
                    },
                )
            };
            match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                Ok(pool) => pool.install(body),
                // Could not start threads: run on the global pool rather than not at all.
                Err(_) => body(),
            }
            drop(tx);
        });
        for (pos, outcome) in rx.iter() {
            on_outcome(&jobs[pos], &outcome);
        }
    });
    let mut stages = totals.into_inner().unwrap_or_else(|p| p.into_inner());
    for st in &mut stages {
        st.workers = threads;
    }
    stages
}
