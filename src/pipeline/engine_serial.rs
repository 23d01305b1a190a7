//! One thread, no channels: every file through every stage in turn.

use super::stages::{carry, Scratch, Trace};
use super::stats::{add_trace, StageStats};
use super::{CancelToken, Outcome, Settings};
use crate::batch::Job;

pub(super) fn run(
    jobs: &[Job],
    settings: &Settings,
    cancel: &CancelToken,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> [StageStats; 5] {
    let mut stages: [StageStats; 5] = Default::default();
    for st in &mut stages {
        st.workers = 1;
    }
    let mut scratch = Scratch::default();
    for job in jobs {
        if cancel.is_cancelled() {
            break;
        }
        let mut trace = Trace::default();
        let result = carry(
            &job.input,
            &job.output,
            job.format,
            settings,
            &mut scratch,
            &mut trace,
        );
        add_trace(&mut stages, &trace);
        on_outcome(
            job,
            &Outcome {
                index: job.index,
                result,
            },
        );
    }
    stages
}
