//! The sweep's text table and conclusions (stdout), also the body of the Markdown export.

use std::fmt::Write;

use crate::pipeline::Engine;
use crate::pipeline::Stage;
use crate::sweep::analysis::{
    BiggerMachine, Decision, EngineSummary, Gate, Holdout, PointRow, StageClock, Verdict,
};
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
    let mut out = vec![
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
        "n = processors allowed = min(workers, cores allowed); whether the job got them is measured per run (a row marked starved did not); intervals are bootstrap 95% sampling intervals over runs (they do not include model error)".into(),
    ];
    if !s.cpu_order.is_empty() {
        out.push(format!(
            "CPUs: {} usable, taken in the order {} (one per physical core before SMT siblings){}",
            s.cpu_order.len(),
            list(&s.cpu_order),
            s.cpu_quota
                .map_or_else(String::new, |q| format!("; cgroup CPU quota {q:.2} CPU(s)"))
        ));
    }
    if let Some(q) = &s.quiet {
        out.push(if q.gave_up_runs == 0 && q.loaded_runs.is_empty() {
            format!("--quiet-machine: waited {:.0} s in all for quiet CPUs; every counted run started on quiet CPUs and stayed under the load threshold", q.waited_seconds)
        } else {
            format!(
                "--quiet-machine: waited {:.0} s in all; gave up waiting before {} run(s) (the CPUs never stayed quiet long enough); loaded runs: {}",
                q.waited_seconds,
                q.gave_up_runs,
                if q.loaded_runs.is_empty() { "none".to_string() } else { q.loaded_runs.join(", ") }
            )
        });
    }
    out
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
        format!(
            "{:.2}{}",
            row.cores_used,
            if row.starved { " starved" } else { "" }
        ),
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
                None => out.push(match &e.gates.amdahl.reason {
                    Some(why) => format!("  no ceiling or predictions: {why}"),
                    None => format!(
                        "  no ceiling or predictions: P must lie in [0, 1] with a 95% interval at most {} wide",
                        amdahl::NARROW_P_WIDTH
                    ),
                }),
            }
            out.extend(holdout_line("Amdahl fit", &e.gates.amdahl, secs));
        }
        None => out.push(
            "  no Amdahl fit: fewer than two processor counts to fit (starved rows are left out)"
                .into(),
        ),
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
                match (u.peak_processors, &e.gates.usl.reason) {
                    (Some(n), _) => format!("throughput peaks at N* = sqrt((1 - sigma)/kappa) = {n:.1} processors"),
                    (None, Some(why)) => format!("no N*: {why}"),
                    (None, None) => "no peak: kappa's interval does not exclude 0".into(),
                }
            ));
            out.extend(holdout_line("USL", &e.gates.usl, |x| format!("{x:.2} files/s")));
        }
        None => out.push(format!(
            "  USL: too few points ({} processor count(s) to fit; the USL needs {}: sweep --cores on a machine with more cores)",
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
    if let Some(u) = &e.usl_workers {
        out.push(match (e.throughput_falls_beyond_workers, &e.gates.usl_workers.reason) {
            (Some(w), _) => format!(
                "  USL over workers (oversubscribed points included): beyond {w} workers throughput falls (kappa {:.5}{})",
                u.params.kappa,
                iv(u.kappa_interval, |x| format!("{x:.5}"))
            ),
            (None, Some(why)) => format!("  USL over workers: no peak stated: {why}"),
            (None, None) => "  USL over workers: no fall in throughput seen (kappa's interval does not exclude 0)".into(),
        });
    }
    let mut rec = format!("  {}", decision_line(&e.decision, Some(engine)));
    match e.recommended_stage_workers {
        Some(w) => {
            let _ = write!(rec, "; the queues show a bottleneck, so a per-stage split by share of stage time (ceil, at most the cores each): --stage-workers {w}");
        }
        None if engine == Engine::Staged => {
            rec.push_str("; no per-stage split: no queue shows a bottleneck at the largest point");
        }
        None => {}
    }
    out.push(rec);
    if let Some(b) = &e.bigger_machine {
        out.extend(bigger_machine_lines(b, &e.gates.bigger_machine));
    }
    out
}

/// The hold-out check of a model, when it ran.
fn holdout_line(what: &str, g: &Gate, unit: impl Fn(f64) -> String) -> Option<String> {
    let h: &Holdout = g.holdout.as_ref()?;
    Some(format!(
        "  hold-out check of the {what}: fitted without n = {}, it predicts {}{} there; measured {}{} (miss {:+.1}%): {}",
        h.processors,
        unit(h.predicted),
        iv(h.predicted_interval, &unit),
        unit(h.measured),
        iv(h.measured_interval, &unit),
        h.miss * 100.0,
        if h.passed { "passed" } else { "failed" }
    ))
}

/// The recommendation, or why the data cannot decide; `engine` None for the closing line
/// across engines.
pub fn decision_line(d: &Decision, engine: Option<Engine>) -> String {
    let what = if engine.is_some() {
        "recommended"
    } else {
        "overall"
    };
    match (d.choice, &d.cannot_decide) {
        (Some((e, w)), _) => {
            let best = d
                .candidates
                .iter()
                .find(|c| c.interval.is_none() && c.ratio == 1.0)
                .map_or_else(String::new, |c| format!("{} worker(s)", c.workers));
            let chosen = d
                .candidates
                .iter()
                .find(|c| c.engine == e && c.workers == w);
            format!(
                "{what}: --engine {e} --workers {w} (the fewest workers whose throughput is within 5% of the best, {best}, with 95% confidence{})",
                chosen
                    .and_then(|c| c.interval)
                    .map_or_else(String::new, |i| format!(": {:.2} of the best [{:.2}, {:.2}]", chosen.map_or(1.0, |c| c.ratio), i.low, i.high))
            )
        }
        (None, Some(why)) => format!("{what}: {why}"),
        (None, None) => format!("{what}: nothing measured to decide from"),
    }
}

/// The bigger machine: the model against the points it was fitted on, its hold-out check,
/// then the prediction, or why there is none.
pub fn bigger_machine_lines(b: &BiggerMachine, gate: &Gate) -> Vec<String> {
    let checks: Vec<String> = b
        .checks
        .iter()
        .map(|c| {
            format!(
                "n = {}: {} s predicted, {} s measured ({:+.1}%)",
                c.processors,
                secs(c.predicted_seconds),
                secs(c.measured_seconds),
                c.miss * 100.0
            )
        })
        .collect();
    let mut out = vec![format!(
        "  bigger machine from per-stage times at n = {}, fixed time {} s{} taken from the points fitted: {}",
        b.from_processors,
        secs(b.fixed_seconds),
        b.fixed_from_processors
            .map_or_else(|| " (none measurable)".into(), |c| format!(" (n = {c})")),
        checks.join(", ")
    )];
    out.extend(holdout_line("per-stage model", gate, |x| {
        format!("{} s", secs(x))
    }));
    if !gate.passed || b.points.is_empty() {
        let why = match (&gate.reason, b.verdict, b.contradiction) {
            (Some(r), _, _) => r.clone(),
            (None, Verdict::Contradicted, Some(c)) => format!(
                "n = {} needs at least {} s outside the stages, n = {} allows at most {} s",
                c.processors,
                secs(c.needs_fixed_seconds),
                c.against_processors,
                secs(c.allows_fixed_seconds)
            ),
            _ => "nothing to predict".into(),
        };
        out.push(format!("  no prediction for a bigger machine: {why}"));
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
        "  prediction for a bigger machine from per-stage times at n = {}: {}; assumes {}",
        b.from_processors,
        pts.join(", "),
        b.assumptions.join("; ")
    ));
    out
}

/// The table rows laid out in columns.
pub fn table(rows: &[PointRow]) -> String {
    let cells: Vec<[String; 13]> = rows.iter().map(cells).collect();
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain([COLUMNS[i].len()])
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
    let _ = writeln!(s, "{}", line(&COLUMNS.map(String::from)));
    for c in &cells {
        let _ = writeln!(s, "{}", line(c));
    }
    if rows.iter().any(|r| r.oversubscribed) {
        s.push_str("* oversubscribed: more workers than cores allowed\n");
    }
    s
}

/// The whole text report.
pub fn sweep_text(r: &SweepRecord) -> String {
    let mut s = header(r).join("\n");
    s.push_str("\n\n");
    s.push_str(&table(&r.analysis.rows));
    s.push('\n');
    for e in &r.analysis.engines {
        for l in conclusions(e, &r.analysis.rows) {
            let _ = writeln!(s, "{l}");
        }
    }
    let _ = writeln!(s, "{}", decision_line(&r.analysis.overall, None));
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
    fn a_closed_gate_prints_its_reason_and_no_speedups() {
        let open = Gate {
            passed: true,
            reason: None,
            holdout: None,
        };
        let ok = bigger_machine_lines(&machine(Verdict::Consistent), &open);
        assert_eq!(ok.len(), 2);
        assert!(ok[0].contains("n = 2: 0.3000 s predicted, 0.3000 s measured (+0.0%)"));
        assert!(ok[1].contains("4 cores: 0.2000 s (2.00x)"), "{ok:?}");
        let shut = Gate::closed("other processes took more than 10%".into(), None);
        let no = bigger_machine_lines(&machine(Verdict::Consistent), &shut);
        assert_eq!(
            no[1],
            "  no prediction for a bigger machine: other processes took more than 10%"
        );
        assert!(no
            .iter()
            .all(|l| !l.contains("cores:") && !l.contains("x)")));
        let no = bigger_machine_lines(&machine(Verdict::Contradicted), &open);
        assert!(no[1].contains("n = 2 needs at least 0.0950 s"), "{no:?}");
    }
}
