//! `graypipe merge`: read shard reports, join and check them, write the merged record.

use std::io::Read;
use std::path::Path;

use super::args::MergeArgs;
use super::{EXIT_FAILED, EXIT_OK};
use graypipe::report::merge::{merge, MergedReport, ShardReport};

/// Largest report read: a report lists every file, so this allows some millions of files.
const MAX_REPORT_BYTES: u64 = 2 << 30;

/// Runs the command; returns the exit status (1 when a report is unreadable or a check fails).
pub fn execute(args: &MergeArgs) -> i32 {
    let mut reports = Vec::with_capacity(args.reports.len());
    let mut unreadable = false;
    for path in &args.reports {
        match read_report(path) {
            Ok(r) => reports.push((path.display().to_string(), r)),
            Err(e) => {
                eprintln!("graypipe: error: {}: {e}", path.display());
                unreadable = true;
            }
        }
    }
    let merged = merge(reports);
    print_summary(&merged);
    let json = match serde_json::to_vec_pretty(&merged) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("graypipe: error: cannot encode the merged report: {e}");
            return EXIT_FAILED;
        }
    };
    if let Err(e) = graypipe::atomic_write::write_atomic(&args.output, &json) {
        eprintln!(
            "graypipe: error: cannot write {}: {e}",
            args.output.display()
        );
        return EXIT_FAILED;
    }
    if unreadable || !merged.complete {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
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
    eprintln!(
        "graypipe merge: {} report(s), {} shard(s) expected, strategy {}, listing {} files ({})",
        m.shards.len(),
        m.shard_count,
        m.strategy.as_deref().unwrap_or("-"),
        m.listing_files
            .map_or_else(|| "-".into(), |n| n.to_string()),
        m.listing_fingerprint.as_deref().unwrap_or("-"),
    );
    for s in &m.shards {
        eprintln!(
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
        );
    }
    eprintln!(
        "  total: written {}, failed {}, skipped {}, not started {}",
        m.files.written, m.files.failed, m.files.skipped, m.files.not_started
    );
    eprintln!(
        "  imbalance (slowest shard's wall time over the mean): {:.2} (slowest {:.2} s, mean {:.2} s)",
        m.imbalance, m.wall_seconds_max, m.wall_seconds_mean
    );
    for f in &m.failures {
        let input = f.get("input").and_then(|v| v.as_str()).unwrap_or("?");
        let reason = f.get("reason").and_then(|v| v.as_str()).unwrap_or("?");
        eprintln!("  failed: {input}: {reason}");
    }
    for p in &m.problems {
        eprintln!("graypipe merge: error: {p}");
    }
    if m.complete {
        eprintln!("graypipe merge: complete");
    }
}
