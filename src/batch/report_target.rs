//! Where `--report FILE` goes, decided with the plan: never onto an input or an output of the
//! run, never over something that is not a regular file, and through symbolic links the way a
//! shell's `>` writes (the link stays, its target gets the report).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::plan::{file_id, resolve, Plan, PlanError};

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

/// Links followed before giving up, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// Follows `path` through symbolic links (dangling ones included: the report is then created
/// where the link points) and resolves the result.
pub fn follow(path: &Path) -> Result<PathBuf, PlanError> {
    let mut p = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p).map_err(|e| PlanError::ReportUnusable {
                    path: path.to_path_buf(),
                    reason: crate::error::io_reason(&e),
                })?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(resolve(&p)),
        }
    }
    Err(PlanError::ReportUnusable {
        path: path.to_path_buf(),
        reason: "too many levels of symbolic links".into(),
    })
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
    let target = follow(report)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        if let Some(kind) = crate::input::kind_of(&meta) {
            return Err(PlanError::ReportUnusable {
                path: report.to_path_buf(),
                reason: format!("{kind}; use --report - for standard output"),
            });
        }
    }
    let jobs = plan.jobs.iter().chain(&plan.skipped);
    let id = file_id(&target);
    if let Some(id) = id {
        let inputs: HashSet<_> = jobs
            .clone()
            .map(|j| j.input.as_path())
            .chain(lists.iter().copied())
            .filter_map(file_id)
            .collect();
        if inputs.contains(&id) {
            return Err(PlanError::ReportIsInput(report.to_path_buf()));
        }
        if jobs.clone().any(|j| file_id(&j.output) == Some(id)) {
            return Err(PlanError::ReportIsOutput(report.to_path_buf()));
        }
    }
    // By path too, for outputs that do not exist yet, and the output folder itself (or one
    // holding it), which the run creates.
    let out_resolved = resolve(out_dir);
    if out_resolved.starts_with(&target) {
        return Err(PlanError::ReportIsOutput(report.to_path_buf()));
    }
    for j in jobs {
        let output = match j.output.strip_prefix(out_dir) {
            Ok(rel) => out_resolved.join(rel),
            Err(_) => resolve(&j.output),
        };
        if output == target {
            return Err(PlanError::ReportIsOutput(report.to_path_buf()));
        }
    }
    // A missing folder is created only inside the output folder (which the run makes anyway);
    // anywhere else, as with a shell's `>`, the folder must exist: a typo must not plant
    // folders (or a report named like a picture) in an input tree.
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() && !resolve(parent).starts_with(&out_resolved) {
            return Err(PlanError::ReportUnusable {
                path: report.to_path_buf(),
                reason: format!(
                    "its folder {} does not exist (graypipe creates folders only inside the output folder)",
                    crate::error::printable_path(parent)
                ),
            });
        }
    }
    if let Some(dir) = unwritable_folder(&target) {
        return Err(PlanError::ReportUnusable {
            path: report.to_path_buf(),
            reason: format!(
                "permission denied: cannot create files in {}",
                crate::error::printable_path(&dir)
            ),
        });
    }
    Ok(ReportTarget::File(target))
}

/// The folder that would have to take the report (the nearest existing one above `target`:
/// the report is written under a temporary name there and renamed) when this user cannot
/// create files in it. Checked now so that a long run does not end with nowhere to put its
/// record.
#[cfg(unix)]
fn unwritable_folder(target: &Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let dir = target.ancestors().skip(1).find(|d| d.is_dir())?;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; access only inspects it.
    let ok = unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    (!ok).then(|| dir.to_path_buf())
}

#[cfg(not(unix))]
fn unwritable_folder(_: &Path) -> Option<PathBuf> {
    None
}
