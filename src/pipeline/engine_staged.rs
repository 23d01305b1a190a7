//! The staged engine: a pool of threads per stage, joined by bounded channels so that at most
//! `queue` files wait between any two stages, whatever the size of the batch.

use std::time::Instant;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::stages::{self, GrayResult, Scratch};
use super::stats::StageStats;
use super::{CancelToken, EngineConfig, Outcome, Settings, Written};
use crate::batch::Job;
use crate::codec::DecodedImage;
use crate::error::{FileError, Stage};

/// A file on its way through the pipeline.
struct Item<T> {
    pos: usize,
    width: u32,
    height: u32,
    level: Option<f64>,
    /// The decoder's warnings, carried to the outcome.
    warnings: Vec<String>,
    payload: T,
}

/// Anything that travels between stages, with its size for the byte counters.
trait Payload {
    fn byte_len(&self) -> u64;
}
impl Payload for () {
    fn byte_len(&self) -> u64 {
        0
    }
}
impl Payload for Vec<u8> {
    fn byte_len(&self) -> u64 {
        self.len() as u64
    }
}
impl Payload for DecodedImage {
    fn byte_len(&self) -> u64 {
        self.data.len() as u64
    }
}
impl Payload for GrayResult {
    fn byte_len(&self) -> u64 {
        self.data.len() as u64
    }
}
impl Payload for u64 {
    fn byte_len(&self) -> u64 {
        *self
    }
}

/// Where a stage sends its results: the next stage's channel, or the outcome collector.
enum Next<'a, O> {
    Stage(Sender<Item<O>>),
    Done(Sender<(usize, Outcome)>, &'a [Job]),
}

/// Everything one stage worker needs besides its function.
struct StageIo<'a, I, O> {
    stage: Stage,
    input: Receiver<Item<I>>,
    next: Next<'a, O>,
    failures: Sender<(usize, Outcome)>,
    jobs: &'a [Job],
    cancel: &'a CancelToken,
}

/// What every worker shares; hands out each worker's channel ends.
struct Shared<'a> {
    failures: Sender<(usize, Outcome)>,
    jobs: &'a [Job],
    cancel: &'a CancelToken,
}

impl<'a> Shared<'a> {
    fn io<I, O>(
        &self,
        stage: Stage,
        input: Receiver<Item<I>>,
        next: Next<'a, O>,
    ) -> StageIo<'a, I, O> {
        StageIo {
            stage,
            input,
            next,
            failures: self.failures.clone(),
            jobs: self.jobs,
            cancel: self.cancel,
        }
    }
}

/// One worker's loop: receive, work, forward; time spent in each is counted.
fn stage_worker<I: Payload, O: Payload>(
    io: StageIo<'_, I, O>,
    mut work: impl FnMut(&Job, &mut Item<I>) -> Result<O, String>,
) -> StageStats {
    let mut st = StageStats {
        workers: 1,
        ..StageStats::default()
    };
    loop {
        let waited = Instant::now();
        let received = io.input.recv();
        st.starved += waited.elapsed();
        let Ok(mut item) = received else { break };
        if io.cancel.is_cancelled() {
            // Drain without working, so upstream never blocks on a full queue.
            continue;
        }
        let job = &io.jobs[item.pos];
        let started = Instant::now();
        st.bytes_in += item.payload.byte_len();
        let result = work(job, &mut item);
        st.busy += started.elapsed();
        match result {
            Ok(out) => {
                st.items += 1;
                st.bytes_out += out.byte_len();
                let sent = Instant::now();
                match &io.next {
                    Next::Stage(tx) => {
                        let forwarded = Item {
                            pos: item.pos,
                            width: item.width,
                            height: item.height,
                            level: item.level,
                            warnings: std::mem::take(&mut item.warnings),
                            payload: out,
                        };
                        if tx.send(forwarded).is_err() {
                            break;
                        }
                    }
                    Next::Done(tx, jobs) => {
                        let written = Written {
                            bytes: out.byte_len(),
                            width: item.width,
                            height: item.height,
                            level: item.level,
                            warnings: std::mem::take(&mut item.warnings),
                        };
                        let _ = tx.send((
                            item.pos,
                            Outcome {
                                index: jobs[item.pos].index,
                                result: Ok(written),
                            },
                        ));
                    }
                }
                st.blocked += sent.elapsed();
            }
            Err(reason) => {
                st.failed += 1;
                let error = FileError {
                    input: job.input.clone(),
                    stage: Some(io.stage),
                    reason,
                };
                let _ = io.failures.send((
                    item.pos,
                    Outcome {
                        index: job.index,
                        result: Err(error),
                    },
                ));
            }
        }
    }
    st
}

pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> [StageStats; 5] {
    let q = config.queue.max(1);
    let w = config.workers;
    // The list of work is tiny (indices), so it is queued whole; the bounded channels are the
    // ones that carry file data.
    let (todo_tx, todo_rx) = unbounded::<Item<()>>();
    for pos in 0..jobs.len() {
        let _ = todo_tx.send(Item {
            pos,
            width: 0,
            height: 0,
            level: None,
            warnings: Vec::new(),
            payload: (),
        });
    }
    drop(todo_tx);
    let (read_tx, read_rx) = bounded::<Item<Vec<u8>>>(q);
    let (dec_tx, dec_rx) = bounded::<Item<DecodedImage>>(q);
    let (proc_tx, proc_rx) = bounded::<Item<GrayResult>>(q);
    let (enc_tx, enc_rx) = bounded::<Item<Vec<u8>>>(q);
    let (done_tx, done_rx) = unbounded::<(usize, Outcome)>();

    let mut stages: [StageStats; 5] = Default::default();
    std::thread::scope(|s| {
        let mut handles: Vec<(Stage, std::thread::ScopedJoinHandle<'_, StageStats>)> = Vec::new();
        let shared = Shared {
            failures: done_tx.clone(),
            jobs,
            cancel,
        };

        for _ in 0..w.read.max(1) {
            let io = shared.io(Stage::Read, todo_rx.clone(), Next::Stage(read_tx.clone()));
            handles.push((
                Stage::Read,
                s.spawn(move || {
                    stage_worker(io, |job, _item: &mut Item<()>| {
                        stages::read(&job.input, &settings.limits)
                    })
                }),
            ));
        }
        for _ in 0..w.decode.max(1) {
            let io = shared.io(Stage::Decode, read_rx.clone(), Next::Stage(dec_tx.clone()));
            handles.push((
                Stage::Decode,
                s.spawn(move || {
                    stage_worker(io, |_job, item: &mut Item<Vec<u8>>| {
                        let mut img = stages::decode(&item.payload, settings)?;
                        item.warnings = std::mem::take(&mut img.warnings);
                        item.payload = Vec::new();
                        item.width = img.width;
                        item.height = img.height;
                        Ok(img)
                    })
                }),
            ));
        }
        for _ in 0..w.process.max(1) {
            let io = shared.io(Stage::Process, dec_rx.clone(), Next::Stage(proc_tx.clone()));
            handles.push((
                Stage::Process,
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    stage_worker(io, move |_job, item: &mut Item<DecodedImage>| {
                        let gray = stages::process(&item.payload, settings, &mut scratch);
                        item.level = gray.level;
                        Ok(gray)
                    })
                }),
            ));
        }
        for _ in 0..w.encode.max(1) {
            let io = shared.io(Stage::Encode, proc_rx.clone(), Next::Stage(enc_tx.clone()));
            handles.push((
                Stage::Encode,
                s.spawn(move || {
                    stage_worker(io, |job, item: &mut Item<GrayResult>| {
                        stages::encode(&item.payload, job.format, settings)
                    })
                }),
            ));
        }
        for _ in 0..w.write.max(1) {
            let io = shared.io(
                Stage::Write,
                enc_rx.clone(),
                Next::Done(done_tx.clone(), jobs),
            );
            handles.push((
                Stage::Write,
                s.spawn(move || {
                    stage_worker(io, |job, item: &mut Item<Vec<u8>>| {
                        stages::write(&job.output, &item.payload)
                    })
                }),
            ));
        }
        // Only workers hold channel ends now: each stage's input closes when the stage before
        // it has finished, and the outcome channel when the last writer has.
        drop((
            shared, todo_rx, read_tx, read_rx, dec_tx, dec_rx, proc_tx, proc_rx, enc_tx, enc_rx,
            done_tx,
        ));
        for (pos, outcome) in done_rx.iter() {
            on_outcome(&jobs[pos], &outcome);
        }
        for (stage, h) in handles {
            if let Ok(st) = h.join() {
                stages[stage.index()].merge(&st);
            }
        }
    });
    stages
}
