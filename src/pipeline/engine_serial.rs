//! The serial engine: the token pipeline with one worker, the calling thread, and one file
//! alive at a time. The honest one-processor baseline. Returns its figures and the most memory
//! it admitted.

use super::scheduler::{CallSink, Pipeline};
use super::stats::StageStats;
use super::{CancelToken, Outcome, PerStage, Settings};
use crate::batch::Job;
use crate::trace::Tracer;

pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    max_memory: u64,
    cancel: &CancelToken,
    trace: Option<&Tracer>,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> (PerStage<StageStats>, u64) {
    let pipeline =
        Pipeline::new(jobs, settings, 1, 1, max_memory, PerStage([1; 5]), cancel).traced(trace);
    let stages = pipeline.work(
        0,
        &mut CallSink(|pos, outcome: Outcome| on_outcome(&jobs[pos], &outcome)),
    );
    (stages, pipeline.peaks().1)
}
