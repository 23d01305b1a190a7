//! The sweep's text table and conclusions (stdout), also the body of the Markdown export.

use std::fmt::Write;

use crate::pipeline::Engine;
use crate::pipeline::Stage;
use crate::sweep::analysis::{BiggerMachine, EngineSummary, PointRow, StageClock, Verdict};
use crate::sweep::bootstrap::Interval;
use crate::sweep::{amdahl, usl, Baseline, SweepRecord};

/// Formats a number of seconds with 4 decimals, as the book prints them.
fn secs(s: f64) -> String {
    format!("{s:.4}")
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

fn iv(i: Option<Interval>, f: impl Fn(f64) -> String) -> String {
    i.map_or_else(String::new, |i| format!(" [{}, {}]", f(i.low), f(i.high)))
}

/// The header lines: what ran where, and how often.
pub fn header(r: &SweepRecord) -> Vec<String> {
    let s = &r.schedule;
    vec![
        format!(
            "graypipe sweep: {} files, {:.2} MP per run, {} -> {}; {} warm-up round(s), then at least {} counted runs and {} s per point (at most {}), interleaved{}{}",
            r.job.files,
            r.job.megapixels,
            r.job.operation,
            r.job.format,
            s.warmup,
            s.min_runs,
            s.min_time_seconds,
            s.max_runs,
            s.cores.as_ref().map_or_else(String::new, |c| format!("; cores swept by CPU affinity: {}", list(c))),
            if s.quiet_machine { "; --quiet-machine" } else { "" }
        ),
        format!(
            "machine: {} logical cores, {}, {}",
            r.machine.logical_cores, r.machine.cpu, r.machine.os
        ),
        "n = processors actually available = min(workers, cores allowed); intervals are bootstrap 95% over runs".into(),
    ]
}

fn times_or_unbounded(x: Option<f64>) -> String {
    x.map_or_else(|| "unbounded".into(), |x| format!("{x:.1}x"))
}

fn list(v: &[usize]) -> String {
    v.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

/// Column titles of the table.
pub const COLUMNS: [&str; 13] = [
    "engine",
    "workers",
    "cores",
    "n",
    "median s [95%]",
    "runs",
    "cores used",
    "other load",
    "images/s",
    "speedup [95%]",
    "efficiency",
    "Karp-Flatt",
    "Amdahl fit",
];

/// One row's cells.
pub fn cells(row: &PointRow) -> [String; 13] {
    let outliers = if row.outlier_runs.is_empty() {
        String::new()
    } else {
        format!(" ({} outlier)", row.outlier_runs.len())
    };
    [
        row.engine.to_string(),
        row.workers.to_string(),
        row.cores_allowed.to_string(),
        format!(
            "{}{}",
            row.processors,
            if row.oversubscribed { "*" } else { "" }
        ),
        format!(
            "{}{}",
            secs(row.median_seconds),
            iv(row.median_interval, secs)
        ),
        format!("{}{outliers}", row.runs_seconds.len()),
        format!("{:.2}", row.cores_used),
        opt(row.other_load, |l| format!("{:.0}%", l * 100.0)),
        format!("{:.1}", row.images_per_second),
        opt(row.speedup, |s| {
            format!("{s:.2}{}", iv(row.speedup_interval, |x| format!("{x:.2}")))
        }),
        opt(row.efficiency, |e| format!("{:.1}%", e * 100.0)),
        opt(row.karp_flatt, |e| format!("{e:.3}")),
        opt(row.amdahl_speedup, |s| format!("{s:.2}")),
    ]
}

fn baseline_name(e: &EngineSummary) -> &'static str {
    match e.baseline {
        Baseline::Same => "its own 1-worker run on 1 processor",
        Baseline::Serial => "the serial engine",
    }
}

/// The axis name of the speedup's baseline (also used by the plot).
pub fn baseline_label(e: &EngineSummary) -> String {
    format!(
        "T1 = {} ({})",
        opt(e.baseline_seconds, |t| format!("{} s", secs(t))),
        baseline_name(e)
    )
}

/// The conclusions for one engine, one line each.
pub fn conclusions(e: &EngineSummary, rows: &[PointRow]) -> Vec<String> {
    let mut out = Vec::new();
    let engine = e.engine;
    out.push(format!("{engine}: {}", baseline_label(e)));
    match &e.fit {
        Some(f) => {
            let r2 = match f.r_squared {
                Some(r) => format!("R^2 {r:.4}"),
                None => format!(
                    "R^2 not shown ({} processor counts; needs {})",
                    f.processor_counts,
                    amdahl::MIN_COUNTS_FOR_R2
                ),
            };
            out.push(format!(
                "  Amdahl fit T(n) = a + b/n over {} runs at {} processor counts: a = {} s, b = {} s, fitted T(1) = {} s; P = b/(a+b) = {:.4}{}; {r2}; rmse {} s",
                f.runs,
                f.processor_counts,
                secs(f.serial_seconds),
                secs(f.parallel_seconds),
                secs(f.fitted_t1_seconds),
                f.parallel_fraction,
                f.parallel_fraction_interval
                    .map_or_else(|| " (no interval: one run per point)".into(), |i| format!(" [95% {:.4}, {:.4}]", i.low, i.high)),
                secs(f.rmse_seconds),
            ));
            match &e.ceiling {
                Some(c) => {
                    let preds: Vec<String> = e
                        .predictions
                        .iter()
                        .map(|p| format!("{}: {:.2}x [{:.2}, {:.2}]", p.processors, p.speedup, p.interval.low, p.interval.high))
                        .collect();
                    out.push(format!(
                        "  extrapolation (nothing measured beyond n = {}): ceiling 1/(1-P) = {} [95% {:.1}x, {}]; predicted speedup over the fitted T(1): {}",
                        e.max_processors,
                        times_or_unbounded(c.speedup),
                        c.low,
                        times_or_unbounded(c.high),
                        preds.join(", ")
                    ));
                }
                None => out.push(format!(
                    "  no ceiling or predictions: P must lie in [0, 1] with a 95% interval at most {} wide",
                    amdahl::NARROW_P_WIDTH
                )),
            }
        }
        None => out.push("  no Amdahl fit: one processor count only".into()),
    }
    match &e.usl {
        Some(u) => {
            let p = u.params;
            out.push(format!(
                "  USL on throughput: lambda = {:.2} files/s{}, sigma = {:.4}{}, kappa = {:.5}{}; {}",
                p.lambda,
                iv(u.lambda_interval, |x| format!("{x:.2}")),
                p.sigma,
                iv(u.sigma_interval, |x| format!("{x:.4}")),
                p.kappa,
                iv(u.kappa_interval, |x| format!("{x:.5}")),
                match u.peak_processors {
                    Some(n) => format!("throughput peaks at N* = sqrt((1 - sigma)/kappa) = {n:.1} processors"),
                    None => "no peak: kappa's interval does not exclude 0".into(),
                }
            ));
        }
        None => out.push(format!(
            "  USL: too few points ({} processor count(s); the USL needs {}: sweep --cores on a machine with more cores)",
            e.processor_counts,
            usl::MIN_COUNTS
        )),
    }
    for r in rows.iter().filter(|r| r.engine == engine) {
        let shares: Vec<String> = r
            .stages
            .share
            .stages()
            .map(|(s, v)| format!("{} {:.0}%", s.name(), v * 100.0))
            .collect();
        let clock = match r.stages.clock {
            StageClock::Cpu => "CPU time",
            StageClock::BusyWall => "busy wall time",
        };
        let mut line = format!(
            "  n={} ({} worker(s)): {clock} {}; heaviest stage: {}",
            r.processors,
            r.workers,
            shares.join(", "),
            r.stages.heaviest.name()
        );
        if engine == Engine::Staged {
            let _ = write!(
                line,
                "; bottleneck (queue evidence): {}",
                r.stages.bottleneck.map_or("none seen", Stage::name)
            );
        }
        out.push(line);
    }
    let mut rec = format!(
        "  recommended: --engine {engine} --workers {} (the fewest workers whose throughput interval reaches within 5% of the best)",
        e.recommended_workers
    );
    if let Some(w) = e.recommended_stage_workers {
        let _ = write!(rec, "; per-stage split by share of stage time (ceil, at most the cores each): --stage-workers {w}");
    }
    out.push(rec);
    if let Some(b) = &e.bigger_machine {
        out.extend(bigger_machine_lines(b));
    }
    out
}

/// The bigger machine: first its checks against every measured n and what they decide, then
/// the prediction, or why there is none.
pub fn bigger_machine_lines(b: &BiggerMachine) -> Vec<String> {
    let checks: Vec<String> = b
        .checks
        .iter()
        .map(|c| {
            let p = c.predicted_seconds;
            let (interval, place) = if c.measured_low_seconds < c.measured_high_seconds {
                (
                    format!(
                        " [{}, {}]",
                        secs(c.measured_low_seconds),
                        secs(c.measured_high_seconds)
                    ),
                    if p > c.measured_high_seconds {
                        ", slower than its interval"
                    } else if p < c.measured_low_seconds {
                        ", faster than its interval"
                    } else {
                        ", inside its interval"
                    },
                )
            } else {
                (String::new(), "")
            };
            format!(
                "n = {}: {} s predicted, {} s{interval} measured ({:+.1}%{place})",
                c.processors,
                secs(p),
                secs(c.measured_seconds),
                c.miss * 100.0
            )
        })
        .collect();
    let verdict = match (b.verdict, b.contradiction) {
        (Verdict::Contradicted, Some(c)) => format!(
            "contradicted: n = {} needs at least {} s outside the stages (low end of its interval minus its stage bound), n = {} allows at most {} s (high end, plus {:.0}% leeway): the time that does not shrink grew with the cores (contention, other processes' load, or a one-processor point that used more than one core), which the model cannot follow",
            c.processors,
            secs(c.needs_fixed_seconds),
            c.against_processors,
            secs(c.allows_fixed_seconds),
            crate::sweep::analysis::bigger::CONSISTENCY_SLACK * 100.0
        ),
        (Verdict::Unchecked, _) => {
            "unchecked: one processor count measured, nothing to check the model against".into()
        }
        _ => "consistent: no two measured points contradict the model within their intervals, and it is never faster than a measured median (+ = the model is slower than measured)".into(),
    };
    let mut out = vec![format!(
        "  bigger machine from per-stage times at n = {}, checked against every n measured: {}; {verdict}",
        b.from_processors,
        checks.join(", ")
    )];
    if b.verdict == Verdict::Contradicted {
        out.push(
            "  no prediction for a bigger machine: the measured points contradict the per-stage model (above), so it cannot say how more cores would do"
                .into(),
        );
        return out;
    }
    let pts: Vec<String> = b
        .points
        .iter()
        .map(|p| {
            format!(
                "{} cores: {} s{}",
                p.processors,
                secs(p.seconds),
                opt(p.speedup, |s| format!(" ({s:.2}x)"))
            )
        })
        .collect();
    out.push(format!(
        "  prediction for a bigger machine from per-stage times at n = {}{}: {}; assumes {}",
        b.from_processors,
        if b.verdict == Verdict::Unchecked {
            " (unchecked)"
        } else {
            ""
        },
        pts.join(", "),
        b.assumptions.join("; ")
    ));
    out
}

/// The default width of the text table, in columns (characters).
pub const TABLE_WIDTH: usize = 120;

/// How a table is narrowed to fit, step by step, until it fits: what each step leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Narrowing {
    /// Drop a column (index into [`COLUMNS`]).
    Drop(usize),
    /// Drop a column when every row has the same value in it.
    DropIfUniform(usize),
    /// Show a column's value without its interval.
    NoInterval(usize),
}

const NARROWING: [Narrowing; 7] = [
    Narrowing::Drop(12),
    Narrowing::Drop(11),
    Narrowing::DropIfUniform(2),
    Narrowing::NoInterval(9),
    Narrowing::NoInterval(4),
    Narrowing::Drop(2),
    Narrowing::Drop(10),
];

/// `cell` without a trailing ` [low, high]` interval.
fn without_interval(cell: &str) -> String {
    cell.split(" [").next().unwrap_or(cell).to_string()
}

fn layout(titles: &[String], cells: &[Vec<String>]) -> (String, usize) {
    let widths: Vec<usize> = (0..titles.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([titles[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |c: &[String]| {
        c.iter()
            .enumerate()
            .map(|(i, v)| {
                if i == 0 {
                    format!("{v:<w$}", w = widths[i])
                } else {
                    format!("{v:>w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut s = String::new();
    let _ = writeln!(s, "{}", line(titles));
    for c in cells {
        let _ = writeln!(s, "{}", line(c));
    }
    let width = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    (s, width)
}

/// The table rows laid out in columns: every column with `max_width` None (`--wide`), else
/// narrowed step by step (the Amdahl-fit and Karp-Flatt columns first, then intervals) until
/// it fits in `max_width` characters, with a line saying what was left out.
pub fn table(rows: &[PointRow], max_width: Option<usize>) -> String {
    let full: Vec<Vec<String>> = rows.iter().map(|r| cells(r).to_vec()).collect();
    let mut keep: Vec<bool> = vec![true; COLUMNS.len()];
    let mut bare: Vec<bool> = vec![false; COLUMNS.len()];
    let build = |keep: &[bool], bare: &[bool]| {
        let titles: Vec<String> = (0..COLUMNS.len())
            .filter(|&i| keep[i])
            .map(|i| {
                if bare[i] {
                    without_interval(COLUMNS[i])
                } else {
                    COLUMNS[i].to_string()
                }
            })
            .collect();
        let cells: Vec<Vec<String>> = full
            .iter()
            .map(|c| {
                (0..COLUMNS.len())
                    .filter(|&i| keep[i])
                    .map(|i| {
                        if bare[i] {
                            without_interval(&c[i])
                        } else {
                            c[i].clone()
                        }
                    })
                    .collect()
            })
            .collect();
        layout(&titles, &cells)
    };
    let (mut text, mut width) = build(&keep, &bare);
    let mut left_out: Vec<String> = Vec::new();
    if let Some(max) = max_width {
        for step in NARROWING {
            if width <= max {
                break;
            }
            match step {
                Narrowing::Drop(i) => {
                    keep[i] = false;
                    left_out.push(without_interval(COLUMNS[i]));
                }
                Narrowing::DropIfUniform(i) => {
                    if full.windows(2).all(|w| w[0][i] == w[1][i]) {
                        keep[i] = false;
                        left_out.push(format!(
                            "{} = {}",
                            COLUMNS[i],
                            full.first().map_or("-", |c| c[i].as_str())
                        ));
                    }
                }
                Narrowing::NoInterval(i) => {
                    bare[i] = true;
                    left_out.push(format!("{} intervals", without_interval(COLUMNS[i])));
                }
            }
            (text, width) = build(&keep, &bare);
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            text,
            "(not shown, to fit {} columns: {}; --wide for all)",
            max_width.unwrap_or(TABLE_WIDTH),
            left_out.join(", ")
        );
    }
    if rows.iter().any(|r| r.oversubscribed) {
        text.push_str("* oversubscribed: more workers than cores allowed\n");
    }
    text
}

/// The whole text report, the table narrowed to [`TABLE_WIDTH`] columns.
pub fn sweep_text(r: &SweepRecord) -> String {
    sweep_text_fitting(r, Some(TABLE_WIDTH))
}

/// The whole text report; the table fits `max_width` columns (None: every column).
pub fn sweep_text_fitting(r: &SweepRecord, max_width: Option<usize>) -> String {
    let mut s = header(r).join("\n");
    s.push_str("\n\n");
    s.push_str(&table(&r.analysis.rows, max_width));
    s.push('\n');
    if let Some(f) = &r.failed_run {
        let _ = writeln!(
            s,
            "sweep stopped at run {} ({} engine, {} workers, {} cores allowed): {} file(s) failed, named on stderr and in the JSON export's failed_run; that run is no sample",
            f.run, f.engine, f.workers, f.cores_allowed, f.failed
        );
    }
    for e in &r.analysis.engines {
        for l in conclusions(e, &r.analysis.rows) {
            let _ = writeln!(s, "{l}");
        }
    }
    if !r.analysis.warnings.is_empty() {
        s.push_str("warnings:\n");
        for w in &r.analysis.warnings {
            let _ = writeln!(s, "  - {w}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::analysis::bigger::{Contradiction, MachineCheck, MachinePoint};
    use crate::sweep::analysis::StageClock;

    fn machine(verdict: Verdict) -> BiggerMachine {
        BiggerMachine {
            from_processors: 1,
            clock: StageClock::Cpu,
            fixed_seconds: 0.1,
            fixed_from_processors: Some(2),
            verdict,
            contradiction: (verdict == Verdict::Contradicted).then_some(Contradiction {
                processors: 2,
                needs_fixed_seconds: 0.095,
                against_processors: 1,
                allows_fixed_seconds: 0.013,
            }),
            points: if verdict == Verdict::Contradicted {
                Vec::new()
            } else {
                vec![MachinePoint {
                    processors: 4,
                    stage_workers: None,
                    seconds: 0.2,
                    speedup: Some(2.0),
                }]
            },
            checks: vec![MachineCheck {
                processors: 2,
                predicted_seconds: 0.3,
                measured_seconds: 0.3,
                measured_low_seconds: 0.28,
                measured_high_seconds: 0.32,
                implied_fixed_seconds: 0.1,
                miss: 0.0,
            }],
            assumptions: vec!["stages overlap perfectly".into()],
        }
    }

    #[test]
    fn the_checks_come_first_and_a_contradiction_prints_no_speedups() {
        let ok = bigger_machine_lines(&machine(Verdict::Consistent));
        assert_eq!(ok.len(), 2);
        assert!(ok[0].contains(
            "n = 2: 0.3000 s predicted, 0.3000 s [0.2800, 0.3200] measured (+0.0%, inside its interval)"
        ));
        assert!(ok[0].contains("consistent"));
        assert!(ok[1].contains("4 cores: 0.2000 s (2.00x)"), "{ok:?}");
        let no = bigger_machine_lines(&machine(Verdict::Contradicted));
        assert!(no[0].contains("contradicted: n = 2 needs at least 0.0950 s"));
        assert!(no[1].starts_with("  no prediction for a bigger machine"));
        assert!(no
            .iter()
            .all(|l| !l.contains("cores:") && !l.contains("x)")));
        let one = bigger_machine_lines(&machine(Verdict::Unchecked));
        assert!(one[1].contains("(unchecked)"));
    }
}
