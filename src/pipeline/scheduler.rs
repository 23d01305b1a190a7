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
//! Memory (`--max-memory`, see [`super::memory`]): a read is admitted for the file's size
//! before any byte is read, and decoding for the rest of the working set its header announces.
//! A read that does not fit waits in front of the read stage holding nothing; no new file
//! starts while the oldest file waiting to be decoded does not fit (it would starve). When
//! nothing runs and the oldest waiting file still does not fit, the budget is all held by
//! the bytes of files waiting to be decoded: they let their bytes go (and read them again
//! when admitted), so waiting files never block each other.
//!
//! The scheduler knows tokens and stages, never pixels: each stage's work is
//! [`StageRunner::run`].

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::bands::Bands;
use super::stages::{Settings, StageRunner, Token};
use super::stats::StageStats;
use super::{CancelToken, Outcome, PerStage};
use crate::batch::Job;
use crate::error::Stage;
use crate::trace::Tracer;

/// Where a worker hands each finished file.
pub(super) trait Sink {
    /// `pos` (the job's position in the engine's slice) finished with `outcome`.
    fn emit(&mut self, pos: usize, outcome: Outcome);

    /// Whether outcomes of other workers wait to be handed on (see [`Sink::drain`]).
    fn pending(&self) -> bool {
        false
    }

    /// Hands on the outcomes other workers sent (the worker that reports to the caller does
    /// this when it has nothing else to do, so that `--fail-fast` and the progress line do
    /// not wait for its next file).
    fn drain(&mut self) {}
}

/// What became of a token after a task.
enum Done {
    /// It goes on to its next stage.
    Next(Token),
    /// It left the pipeline (written or failed); the memory it was admitted with goes back.
    Left { admitted: u64 },
}

/// The shared state of one run.
pub(super) struct Pipeline<'a> {
    jobs: &'a [Job],
    settings: &'a Settings,
    /// Most workers in each stage at once.
    limits: PerStage<usize>,
    /// Most files alive at once.
    in_flight: usize,
    /// The memory budget: bytes of working set admitted to decoding at once.
    max_memory: u64,
    cancel: &'a CancelToken,
    state: Mutex<State>,
    wake: Condvar,
    /// Who computes a big picture's bands (a pool as large as the workers).
    bands: Bands,
    /// Where slices and counters go when the run is traced.
    trace: Option<&'a Tracer>,
}

#[derive(Default)]
struct State {
    /// The next job to start reading.
    next_job: usize,
    /// Files between the start of their read and the end of their write (or failure).
    live: usize,
    /// The most that were ever live.
    peak_live: usize,
    /// Tokens waiting for a free slot in each stage (read's holds files whose read waits for
    /// memory; other reads start from `next_job`).
    ready: PerStage<VecDeque<Token>>,
    /// Workers inside each stage.
    running: PerStage<usize>,
    /// Workers waiting for something to do.
    idle: usize,
    /// Budget bytes held: the bytes of files read and not yet decoded, and the working sets of
    /// files admitted to decoding and not yet gone.
    memory: u64,
    /// The most that were ever admitted at once.
    peak_memory: u64,
}

impl State {
    /// The stage a free worker should run now, furthest downstream first; `Read` means start a
    /// new file.
    fn runnable(&self, p: &Pipeline<'_>, cancelled: bool) -> Option<Stage> {
        for s in Stage::ALL.into_iter().rev() {
            let admissible = |tok: &Token| s != Stage::Decode || self.fits(p, tok);
            if s != Stage::Read
                && self.ready[s].front().is_some_and(admissible)
                && self.has_room(p, s)
            {
                return Some(s);
            }
        }
        let can_read = !cancelled
            && self.has_room(p, Stage::Read)
            && match self.ready[Stage::Read].front() {
                Some(waiting) => self.read_fits(p, waiting.facts.size),
                None => {
                    !self.decode_starved(p)
                        && self.next_job < p.jobs.len()
                        && self.live < p.in_flight
                }
            };
        can_read.then_some(Stage::Read)
    }

    /// Whether the oldest file waiting to be decoded does not fit the budget now (new reads
    /// then wait, so that the memory freed goes to it).
    fn decode_starved(&self, p: &Pipeline<'_>) -> bool {
        self.ready[Stage::Decode]
            .front()
            .is_some_and(|tok| !self.fits(p, tok))
    }

    /// Whether a read of `size` bytes may take them now: they fit, and no file waiting to be
    /// decoded is starved of them.
    fn read_fits(&self, p: &Pipeline<'_>, size: u64) -> bool {
        !self.decode_starved(p) && self.memory + size <= p.max_memory
    }

    /// Nothing runs and the oldest file waiting to be decoded does not fit: the budget is held
    /// by the bytes of files waiting to be decoded. They let their bytes go (each reads them
    /// again once admitted), which frees the whole budget for the oldest.
    fn unblock(&mut self) -> bool {
        if self.running.iter().any(|&r| r > 0) || self.ready[Stage::Decode].is_empty() {
            return false;
        }
        for tok in self.ready[Stage::Decode].iter_mut() {
            self.memory -= tok.admitted;
            tok.admitted = 0;
            tok.payload = super::stages::Payload::Start;
        }
        true
    }

    /// A file left the pipeline: its slot and its admitted memory are free again.
    fn leave(&mut self, admitted: u64) {
        self.live -= 1;
        self.memory -= admitted;
    }

    fn has_room(&self, p: &Pipeline<'_>, s: Stage) -> bool {
        self.running[s] < p.limits[s]
    }

    /// Whether `tok`'s working set fits what the files admitted leave of the budget (one over
    /// the whole budget never waits here: it is failed before it queues).
    fn fits(&self, p: &Pipeline<'_>, tok: &Token) -> bool {
        self.memory + tok.facts.need.saturating_sub(tok.admitted) <= p.max_memory
    }

    /// Takes `tok` into `stage` (a worker will run it now).
    fn enter(&mut self, stage: Stage, tok: &mut Token) {
        self.running[stage] += 1;
        if stage == Stage::Decode {
            // The file's bytes are already counted; the rest of its working set joins them.
            let more = tok.facts.need.saturating_sub(tok.admitted);
            tok.admitted += more;
            self.memory += more;
            self.peak_memory = self.peak_memory.max(self.memory);
        }
    }

    fn finished(&self, p: &Pipeline<'_>, cancelled: bool) -> bool {
        self.live == 0 && (cancelled || self.next_job >= p.jobs.len())
    }
}

impl<'a> Pipeline<'a> {
    /// A run of `jobs` by `workers` workers, at most `in_flight` files alive and `max_memory`
    /// bytes of working set admitted to decoding, each stage limited to `limits` workers.
    pub fn new(
        jobs: &'a [Job],
        settings: &'a Settings,
        workers: usize,
        in_flight: usize,
        max_memory: u64,
        limits: PerStage<usize>,
        cancel: &'a CancelToken,
    ) -> Self {
        let workers = workers.max(1);
        Self {
            jobs,
            settings,
            limits: limits.map(|l| l.clamp(1, workers)),
            in_flight: in_flight.max(1),
            max_memory,
            cancel,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            bands: Bands::new(workers),
            trace: None,
        }
    }

    /// This pipeline, recording its timeline into `trace` (when the run is traced).
    pub fn traced(mut self, trace: Option<&'a Tracer>) -> Self {
        self.trace = trace;
        self
    }

    /// The most files that were alive at once, and the most working-set bytes admitted.
    pub fn peaks(&self) -> (usize, u64) {
        let st = self.lock();
        (st.peak_live, st.peak_memory)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker panicking outside a stage (a bug) must not take the others down with it:
        // the state is only ever changed in small steps that leave it consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One worker's life (worker `worker`, for the timeline): take tasks until the run is
    /// over, hand finished files to `sink`. Returns the worker's per-stage figures.
    pub fn work(&self, worker: usize, sink: &mut dyn Sink) -> PerStage<StageStats> {
        let mut runner = StageRunner::new(self.settings, self.max_memory)
            .with_bands(self.bands.clone())
            .traced(self.trace.map(|t| t.recorder(worker)));
        let mut finished: Option<(Stage, Done)> = None;
        while let Some((mut tok, carried)) = self.next_task(finished.take(), sink) {
            let stage = tok.next;
            let job = &self.jobs[tok.pos];
            let mut charged = 0;
            let result = runner.run(&mut tok, job, carried, &mut |size| {
                let ok = self.admit_read(size);
                if ok {
                    charged = size;
                }
                ok
            });
            tok.admitted += charged;
            let result = result.and_then(|()| {
                // A file whose working set alone is over the budget would wait for ever.
                if tok.next == Stage::Decode && tok.facts.need > self.max_memory {
                    let reason = super::memory::over_budget(tok.facts.need, self.max_memory);
                    return Err(runner.refuse(tok.pos, job, reason));
                }
                Ok(())
            });
            let admitted = tok.admitted;
            let done = match result {
                Ok(()) if stage == Stage::Write => {
                    let written = tok.written();
                    sink.emit(
                        tok.pos,
                        Outcome {
                            result: Ok(written),
                        },
                    );
                    Done::Left { admitted }
                }
                Ok(()) => Done::Next(tok),
                Err(e) => {
                    sink.emit(tok.pos, Outcome { result: Err(e) });
                    Done::Left { admitted }
                }
            };
            finished = Some((stage, done));
        }
        runner.stats
    }

    /// Takes `size` bytes of budget for a read if they fit and no file waiting to be decoded
    /// is starved of them.
    fn admit_read(&self, size: u64) -> bool {
        let mut st = self.lock();
        if !st.read_fits(self, size) {
            return false;
        }
        st.memory += size;
        st.peak_memory = st.peak_memory.max(st.memory);
        true
    }

    /// [`Pipeline::pick_task`], then (when traced) the counters as it left them.
    fn next_task(
        &self,
        finished: Option<(Stage, Done)>,
        sink: &mut dyn Sink,
    ) -> Option<(Token, bool)> {
        let task = self.pick_task(finished, sink);
        if let Some(t) = self.trace {
            let st = self.lock();
            if self.cancel.is_cancelled() {
                t.mark_cancel();
            }
            t.sample(st.live, st.memory, Some(st.ready.map_ref(VecDeque::len)));
        }
        task
    }

    /// Accounts for the task just finished (its stage, and its token if it goes on), then
    /// picks the next task: `(token, carried)`, or `None` when the run is over.
    fn pick_task(
        &self,
        finished: Option<(Stage, Done)>,
        sink: &mut dyn Sink,
    ) -> Option<(Token, bool)> {
        let mut st = self.lock();
        let mut cancelled = self.cancel.is_cancelled();
        if let Some((stage, done)) = finished {
            st.running[stage] -= 1;
            match done {
                Done::Left { admitted } => st.leave(admitted),
                Done::Next(tok) if cancelled => st.leave(tok.admitted),
                // Its read was not admitted: it waits, holding nothing, for budget.
                Done::Next(tok) if tok.next == Stage::Read => {
                    st.ready[Stage::Read].push_back(tok);
                }
                Done::Next(mut tok) => {
                    let s = tok.next;
                    // Carry the file on when its next stage has room (and, for decoding, its
                    // working set fits) and nothing further downstream is waiting for a worker.
                    let downstream_first = st.runnable(self, cancelled);
                    if st.has_room(self, s)
                        && (s != Stage::Decode || st.fits(self, &tok))
                        && downstream_first.map_or(true, |d| d.index() <= s.index())
                    {
                        st.enter(s, &mut tok);
                        self.wake_others(&st, cancelled);
                        return Some((tok, true));
                    }
                    st.ready[s].push_back(tok);
                }
            }
        }
        loop {
            if cancelled {
                // Files not yet in a stage are dropped: nothing of theirs was written.
                let dropped: Vec<Token> = st.ready.iter_mut().flat_map(|q| q.drain(..)).collect();
                for tok in dropped {
                    st.leave(tok.admitted);
                }
            }
            match st.runnable(self, cancelled) {
                Some(Stage::Read) => {
                    let mut tok = match st.ready[Stage::Read].pop_front() {
                        Some(waiting) => waiting,
                        None => {
                            let pos = st.next_job;
                            st.next_job += 1;
                            st.live += 1;
                            st.peak_live = st.peak_live.max(st.live);
                            Token::new(pos)
                        }
                    };
                    st.enter(Stage::Read, &mut tok);
                    self.wake_others(&st, cancelled);
                    return Some((tok, false));
                }
                Some(s) => {
                    if let Some(mut tok) = st.ready[s].pop_front() {
                        st.enter(s, &mut tok);
                        self.wake_others(&st, cancelled);
                        return Some((tok, false));
                    }
                }
                None if st.finished(self, cancelled) => {
                    self.wake.notify_all();
                    return None;
                }
                None if st.unblock() => {}
                None if sink.pending() => {
                    // Hand on the other workers' outcomes before waiting (outside the lock:
                    // the caller's callback may print or cancel the run).
                    drop(st);
                    sink.drain();
                    st = self.lock();
                    cancelled = self.cancel.is_cancelled();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OutputFormat;
    use crate::pipeline::stages::Payload;

    fn job(i: usize) -> Job {
        Job {
            index: i,
            input: format!("in{i}.png").into(),
            output: format!("out{i}.png").into(),
            format: OutputFormat::Png,
            existing_output: None,
            input_folders: Default::default(),
        }
    }

    /// Three jobs, two of them started (alive), `memory` bytes of a 100-byte budget held;
    /// `check` sees the state and a pipeline of 2 workers over it.
    fn with_two_alive(memory: u64, check: impl FnOnce(&Pipeline<'_>, State)) {
        let jobs: Vec<Job> = (0..3).map(job).collect();
        let settings = Settings::default();
        let cancel = CancelToken::new();
        let p = Pipeline::new(&jobs, &settings, 2, 4, 100, PerStage([2; 5]), &cancel);
        let st = State {
            next_job: 2,
            live: 2,
            memory,
            ..State::default()
        };
        check(&p, st);
    }

    /// A file read (holding `bytes` of budget) and waiting to be decoded with `need`.
    fn read_token(pos: usize, bytes: u64, need: u64) -> Token {
        let mut tok = Token::new(pos);
        tok.next = Stage::Decode;
        tok.payload = Payload::Bytes(vec![0; 4]);
        tok.admitted = bytes;
        tok.facts.need = need;
        tok
    }

    #[test]
    fn files_waiting_to_be_decoded_let_their_bytes_go_when_nothing_else_can_free_memory() {
        // Two files of 30 bytes read; each needs 80 to decode; the budget is 100.
        with_two_alive(60, |p, mut st| {
            st.ready[Stage::Decode].push_back(read_token(0, 30, 80));
            st.ready[Stage::Decode].push_back(read_token(1, 30, 80));
            // 60 + (80 - 30) > 100: the oldest cannot be decoded, and no new read may start
            // (it would take what the oldest waits for).
            assert!(st.decode_starved(p));
            assert_eq!(st.runnable(p, false), None);
            // A task still running could free memory: nothing is let go yet.
            st.running[Stage::Encode] = 1;
            assert!(!st.unblock());
            assert_eq!(st.memory, 60);
            // Nothing runs: both let their bytes go, and the oldest fits the whole budget.
            st.running[Stage::Encode] = 0;
            assert!(st.unblock());
            assert_eq!(st.memory, 0);
            for tok in &st.ready[Stage::Decode] {
                assert_eq!(tok.admitted, 0);
                assert!(matches!(tok.payload, Payload::Start));
            }
            assert_eq!(st.runnable(p, false), Some(Stage::Decode));
            let mut oldest = st.ready[Stage::Decode].pop_front().unwrap();
            st.enter(Stage::Decode, &mut oldest);
            assert_eq!((oldest.admitted, st.memory), (80, 80));
            // The second (80 more) and a new read of the third wait for the first to leave.
            assert_eq!(st.runnable(p, false), None);
            st.running[Stage::Decode] -= 1;
            st.leave(oldest.admitted);
            assert_eq!(st.runnable(p, false), Some(Stage::Decode));
        });
    }

    #[test]
    fn a_read_waiting_for_memory_goes_before_new_files() {
        with_two_alive(50, |p, mut st| {
            let mut waiting = Token::new(1);
            waiting.facts.size = 60;
            st.ready[Stage::Read].push_back(waiting);
            // 50 + 60 > 100: the waiting read does not fit, and the third file may not jump it.
            assert_eq!(st.runnable(p, false), None);
            st.memory = 40;
            assert_eq!(st.runnable(p, false), Some(Stage::Read));
        });
    }
}
