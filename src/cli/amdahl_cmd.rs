//! `graypipe amdahl`: the theoretical table, or a refit of a saved sweep.

use super::args::AmdahlArgs;
use super::EXIT_USAGE;
use graypipe::report::amdahl_theory::amdahl_theory_text;
use graypipe::report::sweep_table::sweep_text;
use graypipe::sweep::{reanalyse, SweepRecord};

/// Runs the command; returns the exit status.
pub fn execute(args: &AmdahlArgs) -> i32 {
    match (&args.from, args.parallel_fraction) {
        (Some(path), _) => match refit(path, args.json) {
            Ok(text) => print(&text),
            Err(e) => {
                super::output::stderr_line(&format!("graypipe: {e}"));
                EXIT_USAGE
            }
        },
        (None, Some(p)) => print(&amdahl_theory_text(p, &args.workers.0)),
        (None, None) => EXIT_USAGE,
    }
}

/// Prints `text`; a reader that went away ends the output quietly, any other failure (a full
/// disk) is an error, not a silent success.
fn print(text: &str) -> i32 {
    super::output::print_or_fail(text)
}

/// The largest sweep export `--from` reads.
const MAX_SWEEP_EXPORT_BYTES: u64 = 256 << 20;

/// Refits a saved sweep: the same library function ([`reanalyse`]) on the file's runs, so the
/// result is the sweep's own analysis; printed as the sweep prints it, or as JSON.
fn refit(path: &std::path::Path, json: bool) -> Result<String, String> {
    // Bounded like every other read: a sweep export is kilobytes, never a device or a FIFO.
    let bytes = graypipe::input::read_input(path, MAX_SWEEP_EXPORT_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", graypipe::error::printable_path(path)))?;
    let record: SweepRecord = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a graypipe sweep export: {e}", path.display()))?;
    let analysis = reanalyse(&record);
    if json {
        let mut s = serde_json::to_string_pretty(&analysis).map_err(|e| e.to_string())?;
        s.push('\n');
        return Ok(s);
    }
    let mut s = String::new();
    if analysis != record.analysis {
        s.push_str("note: this refit differs from the analysis stored in the file (edited, or written by another graypipe version); the refit is shown\n");
    }
    let refitted = SweepRecord { analysis, ..record };
    s.push_str(&sweep_text(&refitted));
    Ok(s)
}
