//! `graypipe amdahl`: the theoretical table, or a refit of a saved sweep.

use std::fmt::Write;

use super::args::AmdahlArgs;
use super::{EXIT_OK, EXIT_USAGE};
use crate::sweep::amdahl::{amdahl_speedup, ceiling, fit, karp_flatt};
use crate::sweep::SweepRecord;

/// Runs the command; returns the exit status.
pub fn execute(args: &AmdahlArgs) -> i32 {
    match (&args.from, args.parallel_fraction) {
        (Some(path), _) => match refit(path) {
            Ok(text) => {
                // A reader that went away ends the output quietly.
                let _ = super::output::stdout_text(&text);
                EXIT_OK
            }
            Err(e) => {
                eprintln!("graypipe: {e}");
                EXIT_USAGE
            }
        },
        (None, Some(p)) => {
            let _ = super::output::stdout_text(&theory(p, &args.workers.0));
            EXIT_OK
        }
        (None, None) => EXIT_USAGE,
    }
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

/// Refits every engine of a saved sweep from its median times.
fn refit(path: &std::path::Path) -> Result<String, String> {
    // Bounded like every other read: a sweep export is kilobytes, never a device or a FIFO.
    let bytes = crate::input::read_input(path, MAX_SWEEP_EXPORT_BYTES)
        .map_err(|e| format!("cannot read {}: {e}", crate::error::printable_path(path)))?;
    let record: SweepRecord = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a graypipe sweep export: {e}", path.display()))?;
    let mut s = format!(
        "sweep of {} files ({}) on {} logical cores, {}\n",
        record.job.files, record.job.operation, record.machine.logical_cores, record.machine.cpu
    );
    for e in &record.analysis.engines {
        let rows: Vec<_> = record
            .analysis
            .rows
            .iter()
            .filter(|r| r.engine == e.engine)
            .collect();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .map(|r| (r.workers as f64, e.baseline_seconds / r.median_seconds))
            .collect();
        let _ = writeln!(s, "\n{} (T1 = {:.4} s)", e.engine, e.baseline_seconds);
        let _ = writeln!(
            s,
            "{:>8}  {:>10}  {:>8}  {:>10}  {:>10}  {:>10}",
            "workers", "median s", "speedup", "efficiency", "Karp-Flatt", "Amdahl fit"
        );
        let f = fit(&points);
        for (r, &(n, sp)) in rows.iter().zip(&points) {
            let kf = karp_flatt(sp, n).map_or_else(|| "-".into(), |k| format!("{k:.3}"));
            let fitted = f.map_or_else(
                || "-".into(),
                |f| format!("{:.3}", amdahl_speedup(f.parallel_fraction, n)),
            );
            let _ = writeln!(
                s,
                "{:>8}  {:>10.4}  {sp:>8.3}  {:>9.1}%  {kf:>10}  {fitted:>10}",
                r.workers,
                r.median_seconds,
                sp / n * 100.0
            );
        }
        match f {
            Some(f) => {
                let _ = writeln!(
                    s,
                    "parallel fraction P = {:.4}{}; ceiling 1/(1-P) = {}",
                    f.parallel_fraction,
                    if f.clamped {
                        format!(
                            " (fitted {:.4}, clamped to [0, 1])",
                            f.parallel_fraction_raw
                        )
                    } else {
                        String::new()
                    },
                    fmt_ceiling(f.parallel_fraction)
                );
            }
            None => s.push_str("no fit: no point above one worker\n"),
        }
    }
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
