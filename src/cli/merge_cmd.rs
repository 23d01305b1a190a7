//! `graypipe merge`: read shard reports, join and check them, write the merged record.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::args::MergeArgs;
use super::output::stderr_line;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use graypipe::report::merge::{merge, MergedReport, ShardReport};

/// Largest report read: a report lists every file, so this allows some millions of files.
const MAX_REPORT_BYTES: u64 = 2 << 30;

/// Runs the command; returns the exit status (1 when a report is unreadable or a check fails).
pub fn execute(args: &MergeArgs) -> i32 {
    let refuse = |e: String| {
        stderr_line(&format!(
            "graypipe: refused: -o {}: {e}",
            graypipe::error::printable_path(&args.output)
        ));
        EXIT_USAGE
    };
    // The cheap checks first: -o must not be a report or a special file.
    if let Err(e) = output_target(&args.output, &args.reports, &[]) {
        return refuse(e);
    }
    let mut reports = Vec::with_capacity(args.reports.len());
    let mut unreadable = false;
    for path in &args.reports {
        match read_report(path) {
            Ok(r) => reports.push((path.display().to_string(), r)),
            Err(e) => {
                stderr_line(&format!("graypipe: error: {}: {e}", path.display()));
                unreadable = true;
            }
        }
    }
    // Then against the files the reports list, before anything is written.
    let target = match output_target(&args.output, &args.reports, &reports) {
        Ok(t) => t,
        Err(e) => return refuse(e),
    };
    // Every shard carries the whole listing; the first one found names a missing shard's files.
    let listing = reports
        .iter_mut()
        .find_map(|(_, r)| r.listing.take())
        .unwrap_or_default();
    let merged = merge(reports);
    print_summary(&merged);
    let json = match serde_json::to_vec_pretty(&merged) {
        Ok(j) => j,
        Err(e) => {
            stderr_line(&format!(
                "graypipe: error: cannot encode the merged report: {e}"
            ));
            return EXIT_FAILED;
        }
    };
    if let Err(e) = write_merged(&target, &json) {
        stderr_line(&format!(
            "graypipe: error: cannot write {}: {e}",
            args.output.display()
        ));
        return EXIT_FAILED;
    }
    if let Some(list) = &args.failed_list {
        let mut others = args.reports.clone();
        others.push(args.output.clone());
        if let Err(e) = write_failed_list(list, &others, &merged, &listing, args.null) {
            stderr_line(&format!(
                "graypipe: error: cannot write the failed list {}: {e}",
                graypipe::error::printable_path(list)
            ));
            return EXIT_FAILED;
        }
    }
    if unreadable || !merged.complete {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Where the merged record goes, by the rule of every record ([`graypipe::write_target`]):
/// through its symbolic links (the link stays, as with a shell's `>`), never onto one of the
/// reports being merged, a file they list as an input or an output (relative paths taken from
/// the current folder), or an existing folder, FIFO, device or socket.
fn output_target(
    output: &Path,
    reports: &[PathBuf],
    read: &[(String, ShardReport)],
) -> Result<PathBuf, String> {
    use graypipe::write_target::{record_target, TargetError};
    let report_paths = reports.iter().map(PathBuf::as_path);
    match record_target(output, report_paths, std::iter::empty(), None) {
        Err(TargetError::IsInput) => {
            let target = graypipe::write_target::follow(output).map_err(|e| e.to_string())?;
            let id = graypipe::batch::plan::file_id(&target);
            let report = reports
                .iter()
                .find(|r| id.is_some() && graypipe::batch::plan::file_id(r) == id)
                .or_else(|| {
                    reports
                        .iter()
                        .find(|r| graypipe::batch::plan::resolve(r) == target)
                });
            return Err(match report {
                Some(r) => format!(
                    "is {}, one of the reports being merged",
                    graypipe::error::printable_path(r)
                ),
                None => "is one of the reports being merged".to_string(),
            });
        }
        Err(e) => return Err(e.to_string()),
        Ok(target) if read.is_empty() => return Ok(target),
        Ok(_) => {}
    }
    let results = read.iter().flat_map(|(_, r)| &r.results);
    let inputs = results.clone().map(|f| Path::new(f.input.as_str()));
    let outputs = results.map(|f| Path::new(f.output.as_str()));
    record_target(output, inputs, outputs, None).map_err(|e| match e {
        TargetError::IsInput => "is an input listed in the reports being merged".to_string(),
        TargetError::IsOutput => "is an output listed in the reports being merged".to_string(),
        other => other.to_string(),
    })
}

/// Writes the record atomically at `target`, if what is there now is still a regular file
/// or nothing (never renamed over a device, FIFO or folder that appeared since the check).
fn write_merged(target: &Path, json: &[u8]) -> Result<(), String> {
    graypipe::write_target::write_record(target, json)
}

fn read_report(path: &Path) -> Result<ShardReport, String> {
    let meta = std::fs::metadata(path).map_err(|e| graypipe::error::io_reason(&e))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let file = std::fs::File::open(path).map_err(|e| graypipe::error::io_reason(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| graypipe::error::io_reason(&e))?;
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(format!("larger than {MAX_REPORT_BYTES} bytes"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("not a graypipe run report: {e}"))
}

fn print_summary(m: &MergedReport) {
    stderr_line(&format!(
        "graypipe merge: {} report(s), {} shard(s) expected, strategy {}, listing {} files ({})",
        m.shards.len(),
        m.shard_count,
        m.strategy.as_deref().unwrap_or("-"),
        m.listing_files
            .map_or_else(|| "-".into(), |n| n.to_string()),
        m.listing_fingerprint.as_deref().unwrap_or("-"),
    ));
    for s in &m.shards {
        stderr_line(&format!(
            "  shard {}/{} {:<20} wall {:>8.2} s  cpu {:>8}  written {:>6}  failed {:>4}  skipped {:>5}  {}",
            s.index,
            s.count,
            s.host.as_deref().unwrap_or("?"),
            s.wall_seconds,
            s.cpu_seconds
                .map_or_else(|| "?".into(), |c| format!("{c:.2} s")),
            s.files.written,
            s.files.failed,
            s.files.skipped,
            s.report
        ));
    }
    stderr_line(&format!(
        "  total: written {}, failed {}, skipped {}, not started {}",
        m.files.written, m.files.failed, m.files.skipped, m.files.not_started
    ));
    stderr_line(&format!(
        "  imbalance (slowest shard's wall time over the mean): {:.2} (slowest {:.2} s, mean {:.2} s)",
        m.imbalance, m.wall_seconds_max, m.wall_seconds_mean
    ));
    if let Some(c) = m.cpu_imbalance {
        stderr_line(&format!(
            "  CPU imbalance (busiest shard's CPU time over the mean): {c:.2}"
        ));
    }
    for f in &m.failures {
        let input = f.get("input").and_then(|v| v.as_str()).unwrap_or("?");
        let reason = f.get("reason").and_then(|v| v.as_str()).unwrap_or("?");
        stderr_line(&format!("  failed: {input}: {reason}"));
    }
    for p in &m.problems {
        stderr_line(&format!("graypipe merge: error: {p}"));
    }
    if m.complete {
        stderr_line("graypipe merge: complete");
    }
}

/// `--failed-list`: the inputs to convert again, written atomically where `-o` would be
/// (never over one of the reports or the merged record).
fn write_failed_list(
    list: &Path,
    others: &[PathBuf],
    merged: &MergedReport,
    listing: &[graypipe::report::retry::ListedInput],
    null: bool,
) -> Result<(), String> {
    use graypipe::report::retry::{list_bytes, retry_list};
    let target = output_target(list, others, &[])?;
    let retry = retry_list(merged, listing);
    let (bytes, unlistable) = list_bytes(&retry, null);
    for p in &unlistable {
        stderr_line(&format!(
            "graypipe merge: warning: {} holds a line break: left out of the list (use --null)",
            graypipe::error::printable(&String::from_utf8_lossy(p))
        ));
    }
    for (k, n) in &retry.unknown_shards {
        stderr_line(&format!(
            "graypipe merge: warning: shard {k}/{n} has no report, so its files are not in the list: run it again with --shard {k}/{n}"
        ));
    }
    write_merged(&target, &bytes)?;
    // One input folder: --relative-to names the files as the folder run did.
    let relative_to = match retry.roots.as_slice() {
        [root] => format!(" --relative-to {}", graypipe::error::printable(root)),
        _ => String::new(),
    };
    stderr_line(&format!(
        "graypipe merge: {} input(s) to convert again written to {}: graypipe run --files-from {}{}{} -o OUTPUT (and the run's other options)",
        retry.inputs.len() - unlistable.len(),
        graypipe::error::printable_path(list),
        graypipe::error::printable_path(list),
        if null { " --null" } else { "" },
        relative_to,
    ));
    Ok(())
}
