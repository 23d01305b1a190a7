//! `graypipe compare A.json B.json`: reads two sweep exports, compares them
//! ([`graypipe::sweep::compare`]) and prints the comparison.

use std::path::Path;

use super::args::CompareArgs;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use graypipe::report::compare_table::compare_text;
use graypipe::sweep::compare::{compare, ComparedSweep, Comparison};

/// The exit status table of `graypipe compare`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0    compared (and, with --fail-if-slower, no point is slower beyond PCT)
  1    --fail-if-slower: a point of B is slower than A by more than PCT percent with
       95% confidence, or no point could be compared
  2    usage error, or a file is not a readable sweep export";

/// The largest sweep export read (as `amdahl --from`).
const MAX_SWEEP_EXPORT_BYTES: u64 = 256 << 20;

/// Reads a sweep export as a comparison sees it.
pub fn read_sweep(path: &Path) -> Result<ComparedSweep, String> {
    let shown = graypipe::error::printable_path(path);
    let bytes = graypipe::input::read_input(path, MAX_SWEEP_EXPORT_BYTES)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("{shown} is not a graypipe sweep export: {e}"))
}

/// The exit status `--fail-if-slower PCT` asks for, with the lines that explain it (stderr).
pub fn regression_check(c: &Comparison, fail_if_slower: Option<f64>) -> (i32, Vec<String>) {
    let Some(pct) = fail_if_slower else {
        return (EXIT_OK, Vec::new());
    };
    if c.points.is_empty() {
        return (
            EXIT_FAILED,
            vec!["graypipe: --fail-if-slower: no point was measured in both sweeps, so nothing was checked".into()],
        );
    }
    let slower = c.slower_than(pct);
    if slower.is_empty() {
        return (EXIT_OK, Vec::new());
    }
    let lines = slower
        .iter()
        .map(|p| {
            let i = p.interval.map_or((0.0, 0.0), |i| (i.low, i.high));
            format!(
                "graypipe: --fail-if-slower {pct}: {} at {} workers on {} cores is {:.1}% slower [95% {:.1}%, {:.1}%]",
                p.engine,
                p.workers,
                p.cores_allowed,
                (p.ratio - 1.0) * 100.0,
                (i.0 - 1.0) * 100.0,
                (i.1 - 1.0) * 100.0
            )
        })
        .collect();
    (EXIT_FAILED, lines)
}

/// Runs the command; returns the exit status.
pub fn execute(args: &CompareArgs) -> i32 {
    let (a, b) = match (read_sweep(&args.a), read_sweep(&args.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            super::output::stderr_line(&format!("graypipe: {e}"));
            return EXIT_USAGE;
        }
    };
    let c = compare(&a, &b, args.threshold / 100.0);
    let text = if args.json {
        match serde_json::to_string_pretty(&c) {
            Ok(mut s) => {
                s.push('\n');
                s
            }
            Err(e) => {
                super::output::stderr_line(&format!("graypipe: {e}"));
                return EXIT_USAGE;
            }
        }
    } else {
        let (na, nb) = (args.a.display().to_string(), args.b.display().to_string());
        compare_text(&c, (&na, &nb))
    };
    let printed = super::output::print_or_fail(&text);
    let (status, lines) = regression_check(&c, args.fail_if_slower);
    for l in lines {
        super::output::stderr_line(&l);
    }
    if printed != EXIT_OK {
        return printed;
    }
    status
}
