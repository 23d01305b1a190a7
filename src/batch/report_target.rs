//! Where `--report FILE` goes, decided with the plan by the rule every record follows
//! ([`crate::write_target`]): never onto an input, a list or an output of the run, never over
//! something that is not a regular file, and through symbolic links the way a shell's `>`
//! writes (the link stays, its target gets the report).

use std::path::{Path, PathBuf};

use super::plan::{Plan, PlanError};
use crate::write_target::{record_target, TargetError};

/// The name that sends the report to standard output.
pub const STDOUT: &str = "-";

/// Where the report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// `--report -`.
    Stdout,
    /// A regular file (existing or not) at this resolved path.
    File(PathBuf),
}

/// Decides where `report` goes for `plan`, whose outputs go under `out_dir`; `lists` are the
/// other files the run reads (the `--files-from` list). Refused: a path that is (by resolved
/// path or by device and inode) an input, a list or an output of the run, and an existing
/// folder, FIFO, device or socket.
pub fn report_target(
    report: &Path,
    plan: &Plan,
    out_dir: &Path,
    lists: &[&Path],
) -> Result<ReportTarget, PlanError> {
    if report.as_os_str() == STDOUT {
        return Ok(ReportTarget::Stdout);
    }
    let jobs = plan.jobs.iter().chain(&plan.skipped);
    let reads = jobs
        .clone()
        .map(|j| j.input.as_path())
        .chain(lists.iter().copied());
    let writes = jobs.map(|j| j.output.as_path());
    match record_target(report, reads, writes, Some(out_dir)) {
        Ok(target) => Ok(ReportTarget::File(target)),
        Err(TargetError::IsInput) => Err(PlanError::ReportIsInput(report.to_path_buf())),
        Err(TargetError::IsOutput) => Err(PlanError::ReportIsOutput(report.to_path_buf())),
        Err(TargetError::NotRegular(kind)) => Err(PlanError::ReportUnusable {
            path: report.to_path_buf(),
            reason: format!("{kind}; use --report - for standard output"),
        }),
        Err(TargetError::Unusable(reason)) => Err(PlanError::ReportUnusable {
            path: report.to_path_buf(),
            reason,
        }),
    }
}
