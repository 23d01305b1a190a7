//! `graypipe amdahl`: the theoretical table, or a refit of a saved sweep.

use std::fmt::Write;

use super::args::AmdahlArgs;
use super::EXIT_USAGE;
use crate::report::sweep_table::sweep_text;
use crate::sweep::amdahl::{amdahl_speedup, ceiling};
use crate::sweep::{reanalyse, SweepRecord};

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
        (None, Some(p)) => print(&theory(p, &args.workers.0)),
        (None, None) => EXIT_USAGE,
    }
}

/// Prints `text`; a reader that went away ends the output quietly, any other failure (a full
/// disk) is an error, not a silent success.
fn print(text: &str) -> i32 {
    super::output::print_or_fail(text)
}

fn fmt_ceiling(p: f64) -> String {
    let c = ceiling(p);
    if c.is_finite() {
        format!("{c:.2}x")
    } else {
        "unbounded".into()
    }
}

/// Amdahl's table for parallel fraction `p`, as chapter 2 of the book computes it.
pub fn theory(p: f64, workers: &[usize]) -> String {
    let mut s =
        format!("Amdahl's law, parallel fraction P = {p}: speedup = 1 / ((1 - P) + P / n)\n\n");
    let _ = writeln!(
        s,
        "{:>8}  {:>8}  {:>10}",
        "workers", "speedup", "efficiency"
    );
    for &n in workers {
        let sp = amdahl_speedup(p, n as f64);
        let _ = writeln!(s, "{n:>8}  {sp:>8.3}  {:>9.1}%", sp / n as f64 * 100.0);
    }
    let _ = writeln!(
        s,
        "\nceiling (n -> infinity): 1 / (1 - P) = {}",
        fmt_ceiling(p)
    );
    s
}

/// The largest sweep export `--from` reads.
const MAX_SWEEP_EXPORT_BYTES: u64 = 256 << 20;

/// Refits a saved sweep: the same library function ([`reanalyse`]) on the file's runs, so the
/// result is the sweep's own analysis; printed as the sweep prints it, or as JSON.
fn refit(path: &std::path::Path, json: bool) -> Result<String, String> {
    // Bounded like every other read: a sweep export is kilobytes, never a device or a FIFO.
    let bytes = crate::input::read_input(path, MAX_SWEEP_EXPORT_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", crate::error::printable_path(path)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theory_table_matches_the_book_formula() {
        let t = theory(0.95, &[1, 2, 64]);
        assert!(t.contains("       1     1.000"), "{t}");
        assert!(t.contains("       2     1.905"), "{t}");
        assert!(t.contains("      64    15.422"), "{t}");
        assert!(t.contains("= 20.00x"), "{t}");
        assert!(theory(1.0, &[4]).contains("unbounded"));
    }
}
