//! A whole batch: run a plan on an engine and gather what happened to every file.

use crate::batch::{Job, Plan};
use crate::error::FileError;
use crate::pipeline::{
    self, peak_rss_bytes, CancelToken, EngineConfig, EngineStats, Outcome, Settings, Written,
};

/// What happened to one planned file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileStatus {
    /// Converted and written.
    Written(Written),
    /// Not converted.
    Failed(FileError),
    /// Output already existed (`--skip-existing`).
    Skipped,
    /// Never started: the run was cancelled first.
    NotStarted,
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Engine figures: wall time and per-stage counters.
    pub stats: EngineStats,
    /// Status of each job in plan order, then each skipped file.
    pub files: Vec<(Job, FileStatus)>,
    /// Paths that could not be listed.
    pub discovery_errors: Vec<FileError>,
    /// Peak resident memory of the process at the end of the run.
    pub peak_rss_bytes: Option<u64>,
}

impl RunSummary {
    /// Files written.
    pub fn written(&self) -> usize {
        self.files
            .iter()
            .filter(|(_, s)| matches!(s, FileStatus::Written(_)))
            .count()
    }
    /// Files that failed, listing errors included.
    pub fn failed(&self) -> usize {
        self.discovery_errors.len()
            + self
                .files
                .iter()
                .filter(|(_, s)| matches!(s, FileStatus::Failed(_)))
                .count()
    }
    /// Decoder warnings over all written files: every warning raised, not only the texts kept.
    pub fn warnings(&self) -> u64 {
        self.files
            .iter()
            .map(|(_, s)| match s {
                FileStatus::Written(w) => crate::codec::warning_count(&w.warnings),
                _ => 0,
            })
            .sum()
    }
    /// Files skipped because their output existed.
    pub fn skipped(&self) -> usize {
        self.files
            .iter()
            .filter(|(_, s)| matches!(s, FileStatus::Skipped))
            .count()
    }
    /// Files never started.
    pub fn not_started(&self) -> usize {
        self.files
            .iter()
            .filter(|(_, s)| matches!(s, FileStatus::NotStarted))
            .count()
    }
    /// Every failure, listing errors first, then files in plan order.
    pub fn failures(&self) -> impl Iterator<Item = &FileError> {
        self.discovery_errors
            .iter()
            .chain(self.files.iter().filter_map(|(_, s)| match s {
                FileStatus::Failed(e) => Some(e),
                _ => None,
            }))
    }
    /// Megapixels decoded and written.
    pub fn megapixels(&self) -> f64 {
        self.files
            .iter()
            .filter_map(|(_, s)| match s {
                FileStatus::Written(w) => Some(f64::from(w.width) * f64::from(w.height)),
                _ => None,
            })
            // + 0.0: an empty float sum is -0.0, which would print as "-0.00".
            .sum::<f64>()
            / 1e6
            + 0.0
    }

    /// The name of file `i` of the run (its position in the plan's jobs) on a timeline.
    pub fn file_name(&self, i: usize) -> String {
        self.files
            .get(i)
            .map_or_else(String::new, |(j, _)| j.input.to_string_lossy().into_owned())
    }

    /// The run's timeline binned for a page, when it was traced.
    pub fn timeline_summary(&self) -> Option<crate::trace::summary::TimelineSummary> {
        let t = self.stats.timeline.as_ref()?;
        Some(crate::trace::summary::TimelineSummary::of(t, &|i| {
            self.file_name(i)
        }))
    }
}

/// Runs `plan`: every job through the pipeline with `config`. `on_outcome` sees each file as
/// it finishes (for progress and live error lines); when `fail_fast` is set the first failure
/// cancels the rest.
pub fn run(
    plan: &Plan,
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    fail_fast: bool,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> RunSummary {
    run_traced(plan, settings, config, cancel, fail_fast, false, on_outcome)
}

/// [`run`], recording the run's timeline (`stats.timeline`) when `trace` is set.
pub fn run_traced(
    plan: &Plan,
    settings: &Settings,
    config: &EngineConfig,
    cancel: &CancelToken,
    fail_fast: bool,
    trace: bool,
    on_outcome: &mut dyn FnMut(&Job, &Outcome),
) -> RunSummary {
    let discovery_errors: Vec<FileError> = plan
        .discovery_errors
        .iter()
        .map(|d| FileError {
            input: d.path.clone(),
            stage: None,
            reason: d.reason.clone(),
        })
        .collect();
    if fail_fast && !discovery_errors.is_empty() {
        cancel.cancel();
    }
    let mut statuses: Vec<FileStatus> = vec![FileStatus::NotStarted; plan.jobs.len()];
    let stats = pipeline::run_traced(
        &plan.jobs,
        settings,
        config,
        cancel,
        trace,
        &mut |job, outcome| {
            if fail_fast && outcome.result.is_err() {
                cancel.cancel();
            }
            statuses[job.index] = match &outcome.result {
                Ok(w) => FileStatus::Written(w.clone()),
                Err(e) => FileStatus::Failed(e.clone()),
            };
            on_outcome(job, outcome);
        },
    );
    let mut files: Vec<(Job, FileStatus)> = plan.jobs.iter().cloned().zip(statuses).collect();
    files.extend(
        plan.skipped
            .iter()
            .map(|j| (j.clone(), FileStatus::Skipped)),
    );
    RunSummary {
        stats,
        files,
        discovery_errors,
        peak_rss_bytes: peak_rss_bytes(),
    }
}
