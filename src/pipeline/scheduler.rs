//! The token pipeline every engine but rayon runs on (oneTBB's `parallel_pipeline` model).
//!
//! N workers share the five stages. A free worker takes the ready task furthest downstream
//! (write before encode before ... before read), so the pipeline drains before it fills; a
//! worker that finishes a stage carries the same file straight on to the next one when that
//! stage has room, so a file tends to stay on one core. At most `in_flight` files are alive
//! between the start of their read and the end of their write, so memory is bounded by that
//! number, not by the batch. A stage may be capped (`read=1` for a spinning disk); tokens then
//! queue in front of it, and the time they wait there is the bottleneck evidence.
//!
//! The scheduler knows tokens and stages, never pixels: each stage's work is
//! [`StageRunner::run`].

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::stages::{Settings, StageRunner, Token};
use super::stats::StageStats;
use super::{CancelToken, Outcome};
use crate::batch::Job;
use crate::error::Stage;

/// Where a worker hands each finished file.
pub(super) trait Sink {
    /// `pos` (the job's position in the engine's slice) finished with `outcome`.
    fn emit(&mut self, pos: usize, outcome: Outcome);
}

/// The shared state of one run.
pub(super) struct Pipeline<'a> {
    jobs: &'a [Job],
    settings: &'a Settings,
    /// Most workers in each stage at once.
    limits: [usize; 5],
    /// Most files alive at once.
    in_flight: usize,
    cancel: &'a CancelToken,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// The next job to start reading.
    next_job: usize,
    /// Files between the start of their read and the end of their write (or failure).
    live: usize,
    /// The most that were ever live.
    peak_live: usize,
    /// Tokens waiting for a free slot in each stage (read's queue stays empty: reading starts
    /// from `next_job`).
    ready: [VecDeque<Token>; 5],
    /// Workers inside each stage.
    running: [usize; 5],
    /// Workers waiting for something to do.
    idle: usize,
}

impl State {
    /// The stage a free worker should run now, furthest downstream first; `Read` means start a
    /// new file.
    fn runnable(&self, p: &Pipeline<'_>, cancelled: bool) -> Option<Stage> {
        for s in Stage::ALL.into_iter().rev() {
            if s != Stage::Read && !self.ready[s.index()].is_empty() && self.has_room(p, s) {
                return Some(s);
            }
        }
        let can_read = !cancelled
            && self.next_job < p.jobs.len()
            && self.live < p.in_flight
            && self.has_room(p, Stage::Read);
        can_read.then_some(Stage::Read)
    }

    fn has_room(&self, p: &Pipeline<'_>, s: Stage) -> bool {
        self.running[s.index()] < p.limits[s.index()]
    }

    fn finished(&self, p: &Pipeline<'_>, cancelled: bool) -> bool {
        self.live == 0 && (cancelled || self.next_job >= p.jobs.len())
    }
}

impl<'a> Pipeline<'a> {
    /// A run of `jobs` by `workers` workers, at most `in_flight` files alive, each stage
    /// limited to `limits` workers at once.
    pub fn new(
        jobs: &'a [Job],
        settings: &'a Settings,
        workers: usize,
        in_flight: usize,
        limits: [usize; 5],
        cancel: &'a CancelToken,
    ) -> Self {
        let workers = workers.max(1);
        Self {
            jobs,
            settings,
            limits: limits.map(|l| l.clamp(1, workers)),
            in_flight: in_flight.max(1),
            cancel,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }
    }

    /// The most files that were alive at once.
    pub fn peak_in_flight(&self) -> usize {
        self.lock().peak_live
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker panicking outside a stage (a bug) must not take the others down with it:
        // the state is only ever changed in small steps that leave it consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One worker's life: take tasks until the run is over, hand finished files to `sink`.
    /// Returns the worker's per-stage figures.
    pub fn work(&self, sink: &mut dyn Sink) -> [StageStats; 5] {
        let mut runner = StageRunner::new(self.settings);
        let mut finished: Option<(Stage, Option<Token>)> = None;
        while let Some((mut tok, carried)) = self.next_task(finished.take()) {
            let stage = tok.next;
            let job = &self.jobs[tok.pos];
            match runner.run(&mut tok, job, carried) {
                Ok(()) if stage == Stage::Write => {
                    sink.emit(
                        tok.pos,
                        Outcome {
                            index: job.index,
                            result: Ok(tok.written()),
                        },
                    );
                    finished = Some((stage, None));
                }
                Ok(()) => finished = Some((stage, Some(tok))),
                Err(e) => {
                    sink.emit(
                        tok.pos,
                        Outcome {
                            index: job.index,
                            result: Err(e),
                        },
                    );
                    finished = Some((stage, None));
                }
            }
        }
        runner.stats
    }

    /// Accounts for the task just finished (its stage, and its token if it goes on), then
    /// picks the next task: `(token, carried)`, or `None` when the run is over.
    fn next_task(&self, finished: Option<(Stage, Option<Token>)>) -> Option<(Token, bool)> {
        let mut st = self.lock();
        let mut cancelled = self.cancel.is_cancelled();
        if let Some((stage, tok)) = finished {
            st.running[stage.index()] -= 1;
            match tok {
                None => st.live -= 1,
                Some(_) if cancelled => st.live -= 1,
                Some(tok) => {
                    let s = tok.next;
                    // Carry the file on when its next stage has room and nothing further
                    // downstream is waiting for a worker.
                    let downstream_first = st.runnable(self, cancelled);
                    if st.has_room(self, s)
                        && downstream_first.map_or(true, |d| d.index() <= s.index())
                    {
                        st.running[s.index()] += 1;
                        self.wake_others(&st, cancelled);
                        return Some((tok, true));
                    }
                    st.ready[s.index()].push_back(tok);
                }
            }
        }
        loop {
            if cancelled {
                // Files not yet in a stage are dropped: nothing of theirs was written.
                let st = &mut *st;
                for q in st.ready.iter_mut() {
                    st.live -= q.len();
                    q.clear();
                }
            }
            match st.runnable(self, cancelled) {
                Some(Stage::Read) => {
                    let pos = st.next_job;
                    st.next_job += 1;
                    st.live += 1;
                    st.peak_live = st.peak_live.max(st.live);
                    st.running[Stage::Read.index()] += 1;
                    self.wake_others(&st, cancelled);
                    return Some((Token::new(pos), false));
                }
                Some(s) => {
                    if let Some(tok) = st.ready[s.index()].pop_front() {
                        st.running[s.index()] += 1;
                        self.wake_others(&st, cancelled);
                        return Some((tok, false));
                    }
                }
                None if st.finished(self, cancelled) => {
                    self.wake.notify_all();
                    return None;
                }
                None => {
                    st.idle += 1;
                    // The timeout only guards against a missed wake-up; every state change
                    // that can give an idle worker something to do wakes one.
                    st = self
                        .wake
                        .wait_timeout(st, Duration::from_millis(100))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                    st.idle -= 1;
                    cancelled = self.cancel.is_cancelled();
                }
            }
        }
    }

    /// Wakes one idle worker when there is work it could take.
    fn wake_others(&self, st: &State, cancelled: bool) {
        if st.idle > 0 && (st.runnable(self, cancelled).is_some() || st.finished(self, cancelled)) {
            self.wake.notify_one();
        }
    }
}

/// A sink that calls a closure (the serial engine, which works on the calling thread).
pub(super) struct CallSink<F: FnMut(usize, Outcome)>(pub F);

impl<F: FnMut(usize, Outcome)> Sink for CallSink<F> {
    fn emit(&mut self, pos: usize, outcome: Outcome) {
        (self.0)(pos, outcome)
    }
}

/// A sink that sends to the thread collecting outcomes (the staged engine).
impl Sink for crossbeam_channel::Sender<(usize, Outcome)> {
    fn emit(&mut self, pos: usize, outcome: Outcome) {
        // The collector outlives every worker, so a send cannot fail.
        let _ = self.send((pos, outcome));
    }
}
