//! `graypipe report FILE.json --html OUT`: a saved run record or sweep export as a page.

use std::path::{Path, PathBuf};

use super::args::ReportArgs;
use super::output::stderr_line;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use graypipe::error::{printable, printable_path};
use graypipe::report::html::{run_page, sweep_page};
use graypipe::sweep::SweepRecord;

/// Largest record read (a run record lists every file: this allows some millions).
const MAX_RECORD_BYTES: u64 = 2 << 30;

/// Runs the command; returns the exit status.
pub fn execute(args: &ReportArgs) -> i32 {
    let target = match page_target(&args.html, &args.record) {
        Ok(t) => t,
        Err(e) => {
            stderr_line(&format!(
                "graypipe: refused: --html {}: {}",
                printable_path(&args.html),
                printable(&e)
            ));
            return EXIT_USAGE;
        }
    };
    let page = match read_record(&args.record) {
        Ok(p) => p,
        Err(e) => {
            stderr_line(&format!(
                "graypipe: error: {}: {}",
                printable_path(&args.record),
                printable(&e)
            ));
            return EXIT_FAILED;
        }
    };
    if let Err(e) = graypipe::write_target::write_record(&target, page.as_bytes()) {
        stderr_line(&format!(
            "graypipe: error: cannot write {}: {}",
            printable_path(&args.html),
            printable(&e)
        ));
        return EXIT_FAILED;
    }
    EXIT_OK
}

/// Where the page goes, by the rule of every record ([`graypipe::write_target`]): never
/// onto the record being read, a folder or a special file.
fn page_target(out: &Path, record: &Path) -> Result<PathBuf, String> {
    graypipe::write_target::record_target(out, [record], std::iter::empty(), None)
        .map_err(|e| e.to_string())
}

/// The page for the record at `path`: a sweep export (it has `points` and `analysis`) or a
/// run record (it has `engine` and `stages`).
fn read_record(path: &Path) -> Result<String, String> {
    let bytes = graypipe::input::read_input(path, MAX_RECORD_BYTES).map_err(|e| e.to_string())?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("points").is_some() && value.get("analysis").is_some() {
        let record: SweepRecord = serde_json::from_value(value)
            .map_err(|e| format!("not a graypipe sweep export: {e}"))?;
        return Ok(sweep_page(&record));
    }
    if value.get("engine").is_some() && value.get("stages").is_some() {
        return Ok(run_page(&value));
    }
    Err(
        "neither a graypipe run record (run --report) nor a sweep export (sweep --export-json)"
            .into(),
    )
}
