//! From timing records to the sweep's conclusions: rows ([`rows`]), per-stage figures
//! ([`stages`]), the bigger machine checked against every measured point ([`bigger`]),
//! warnings ([`warnings`]) and, per engine, the Amdahl fit with its interval, the
//! USL, recommendations and predictions. Pure functions: no clocks, no I/O. `graypipe amdahl
//! --from` calls [`analyse`] on a sweep's exported runs and gets the sweep's own analysis.

pub mod bigger;
pub mod decide;
pub mod gate;
pub mod robust;
pub mod rows;
pub mod samples;
pub mod stages;
pub mod warnings;

use serde::{Deserialize, Serialize};

pub use bigger::{BiggerMachine, Verdict};
pub use decide::{decide, Candidate, Decision, Standing, WITHIN_OF_BEST};
pub use gate::{Gate, Holdout};
pub use robust::median;
pub use rows::PointRow;
pub use samples::{processors, Baseline, PointSamples, RunSample};
pub use stages::{split_by_share, StageClock, StageFigures};

use super::amdahl::{self, AmdahlFit, Prediction};
use super::bootstrap::{self, group_by_n, Interval};
use super::usl::{self, UslFit};
use crate::pipeline::{Engine, StageWorkers};

/// The ceiling `1/(1 - P)` with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ceiling {
    /// `1/(1 - P)`; None when unbounded (P = 1).
    pub speedup: Option<f64>,
    /// At the low end of P's interval.
    pub low: f64,
    /// At the high end of P's interval; None when unbounded.
    pub high: Option<f64>,
}

/// Per-engine conclusions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineSummary {
    /// Engine.
    pub engine: Engine,
    /// What T1 is.
    pub baseline: Baseline,
    /// T1, median seconds (None when no baseline point ran).
    pub baseline_seconds: Option<f64>,
    /// Distinct processor counts measured.
    pub processor_counts: usize,
    /// Largest processor count measured.
    pub max_processors: usize,
    /// `T(n) = a + b/n` over every counted run that got its processors, n = processors
    /// allowed (None below two counts).
    pub fit: Option<AmdahlFit>,
    /// Shown only when P is in [0, 1] with a narrow interval and the Amdahl gate passes.
    pub ceiling: Option<Ceiling>,
    /// Extrapolated speedups at 2x and 4x the processors measured, with sampling intervals
    /// (same conditions as the ceiling).
    pub predictions: Vec<Prediction>,
    /// Universal Scalability Law on throughput over processors (None below four counts);
    /// its `peak_processors` only when the USL gate passes.
    pub usl: Option<UslFit>,
    /// The USL over worker counts, oversubscribed points included (None below four counts);
    /// its `peak_processors` (in workers) only when its gate passes.
    #[serde(default)]
    pub usl_workers: Option<UslFit>,
    /// Beyond this many workers throughput falls (from `usl_workers`, gated).
    #[serde(default)]
    pub throughput_falls_beyond_workers: Option<usize>,
    /// The recommended worker count; None: the data cannot decide (see `decision`).
    pub recommended_workers: Option<usize>,
    /// How the recommendation was decided.
    #[serde(default)]
    pub decision: Decision,
    /// For the staged engine: threads per stage by share of stage time at the largest point,
    /// only where a stage's queue shows it is the bottleneck.
    pub recommended_stage_workers: Option<StageWorkers>,
    /// A bigger machine predicted from per-stage times; its predicted points only when its
    /// gate passes.
    pub bigger_machine: Option<BiggerMachine>,
    /// The gates of the inferences: Amdahl ceiling and predictions, USL peak, USL over
    /// workers, bigger machine.
    #[serde(default)]
    pub gates: Gates,
}

/// The gate of each inference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    /// The Amdahl ceiling and predictions.
    pub amdahl: Gate,
    /// The USL's peak N*.
    pub usl: Gate,
    /// The USL over workers ("beyond W workers throughput falls").
    pub usl_workers: Gate,
    /// The bigger machine.
    pub bigger_machine: Gate,
}

/// How the intervals were drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapInfo {
    /// Resamples per interval.
    pub resamples: usize,
    /// Seed of the resampling.
    pub seed: u64,
    /// Confidence level, percent.
    pub confidence_percent: u32,
}

/// The whole analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepAnalysis {
    /// A row per point.
    pub rows: Vec<PointRow>,
    /// A summary per engine.
    pub engines: Vec<EngineSummary>,
    /// How intervals were drawn.
    pub bootstrap: BootstrapInfo,
    /// Everything a reader should be wary of.
    pub warnings: Vec<String>,
    /// The closing decision across engines (every engine's points together).
    #[serde(default)]
    pub overall: Decision,
}

/// The baseline's runs for `engine`: the serial engine's, or the engine's own one-worker point
/// on the fewest cores.
fn baseline_runs<'a>(
    engine: Engine,
    pts: &[&'a PointSamples],
    baseline: Baseline,
    serial: Option<&'a PointSamples>,
) -> (Baseline, Option<&'a PointSamples>) {
    let own = pts
        .iter()
        .filter(|p| p.workers == 1 && p.processors() == 1)
        .min_by_key(|p| p.cores_allowed)
        .copied();
    match (baseline, serial, own) {
        (Baseline::Serial, Some(s), _) if engine != Engine::Serial => (Baseline::Serial, Some(s)),
        (_, _, Some(o)) => (Baseline::Same, Some(o)),
        (_, Some(s), None) => (Baseline::Serial, Some(s)),
        (b, None, None) => (b, None),
    }
}

/// Analyses a sweep. `serial` holds the serial engine's runs when `baseline` is
/// [`Baseline::Serial`]. Engine by engine, in the order they first appear: T1
/// ([`engine_baseline`]), the rows ([`engine_rows`]), the Amdahl fit ([`amdahl_part`]), the
/// USL and the recommendations ([`analyse_engine`]).
pub fn analyse(
    points: &[PointSamples],
    baseline: Baseline,
    serial: Option<&PointSamples>,
) -> SweepAnalysis {
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    let mut engines = Vec::new();
    let mut order: Vec<Engine> = Vec::new();
    for p in points {
        if !order.contains(&p.engine) {
            order.push(p.engine);
        }
    }
    for engine in order {
        let (summary, engine_rows) =
            analyse_engine(engine, points, baseline, serial, &mut warnings);
        engines.push(summary);
        rows.extend(engine_rows);
    }
    warnings.extend(warnings::outlier_warning(&rows));
    let overall = decide(&rows.iter().collect::<Vec<_>>());
    SweepAnalysis {
        rows,
        engines,
        bootstrap: BootstrapInfo {
            resamples: bootstrap::RESAMPLES,
            seed: bootstrap::SEED,
            confidence_percent: 95,
        },
        warnings,
        overall,
    }
}

/// One engine's summary and rows; its warnings are appended to `warnings`.
fn analyse_engine(
    engine: Engine,
    points: &[PointSamples],
    baseline: Baseline,
    serial: Option<&PointSamples>,
    warnings: &mut Vec<String>,
) -> (EngineSummary, Vec<PointRow>) {
    let mut pts: Vec<&PointSamples> = points
        .iter()
        .filter(|p| p.engine == engine && !p.runs.is_empty())
        .collect();
    pts.sort_by_key(|p| (p.processors(), p.cores_allowed, p.workers));
    let (used, base, t1_runs, t1) = engine_baseline(engine, &pts, baseline, serial, warnings);
    let mut rows = engine_rows(engine, &pts, base, &t1_runs, warnings);
    // Fits see only the points where the job got its processors.
    let (fit_pts, fit_rows): (Vec<&PointSamples>, Vec<&PointRow>) = pts
        .iter()
        .zip(rows.iter())
        .filter(|(_, r)| !r.starved)
        .map(|(p, r)| (*p, r))
        .unzip();
    let common = gate::common_conditions(&rows.iter().collect::<Vec<_>>());
    let fit_rows: Vec<PointRow> = fit_rows.into_iter().cloned().collect();
    let mut amdahl = amdahl_part(engine, &fit_pts, &mut rows, t1, warnings);
    let time_groups = groups_of(
        &fit_pts,
        |p| p.processors() as f64,
        |r| Some(r.wall_seconds),
    );
    let amdahl_gate = gate::gate(
        common.as_ref(),
        gate::holdout(&time_groups, |g, n| amdahl::fit_line(g).map(|l| l.time(n))),
        "Amdahl fit",
    );
    if !amdahl_gate.passed {
        amdahl.ceiling = None;
        amdahl.predictions.clear();
    }
    let throughput =
        |r: &RunSample| (r.wall_seconds > 0.0).then(|| r.files as f64 / r.wall_seconds);
    let (usl, usl_gate) = usl_part(
        &groups_of(&fit_pts, |p| p.processors() as f64, throughput),
        common.as_ref(),
        "USL",
    );
    let (usl_workers, usl_workers_gate) = usl_part(
        &groups_of(&fit_pts, |p| p.workers as f64, throughput),
        common.as_ref(),
        "USL over workers",
    );
    let throughput_falls_beyond_workers = usl_workers
        .as_ref()
        .and_then(|u| u.peak_processors)
        .map(|w| w.floor().max(1.0) as usize);
    let decision = decide(&rows.iter().collect::<Vec<_>>());
    let recommended_workers = decision.choice.map(|(_, w)| w);
    let largest = rows.iter().max_by_key(|r| (r.processors, r.workers));
    // A split by share of time is recommended only where a queue shows the bottleneck.
    let recommended_stage_workers = (engine == Engine::Staged)
        .then_some(largest)
        .flatten()
        .filter(|r| r.stages.bottleneck.is_some() && !r.starved)
        .map(|r| split_by_share(&r.stages.share, r.processors));
    let (bigger_machine, bigger_gate) = bigger_machine_part(
        engine,
        &fit_pts,
        &fit_rows,
        t1,
        amdahl.max_processors,
        common.as_ref(),
    );
    warnings.extend(
        bigger_machine
            .as_ref()
            .filter(|_| bigger_gate.passed)
            .and_then(|b| bigger::bigger_machine_warning(engine, b)),
    );
    let summary = EngineSummary {
        engine,
        baseline: used,
        baseline_seconds: t1,
        processor_counts: amdahl.counts,
        max_processors: amdahl.max_processors,
        fit: amdahl.fit,
        ceiling: amdahl.ceiling,
        predictions: amdahl.predictions,
        usl,
        usl_workers,
        throughput_falls_beyond_workers,
        recommended_workers,
        decision,
        recommended_stage_workers,
        bigger_machine,
        gates: Gates {
            amdahl: amdahl_gate,
            usl: usl_gate,
            usl_workers: usl_workers_gate,
            bigger_machine: bigger_gate,
        },
    };
    (summary, rows)
}

/// Groups of a per-run value by an abscissa of the point, in increasing abscissa.
fn groups_of(
    pts: &[&PointSamples],
    x: impl Fn(&PointSamples) -> f64,
    value: impl Fn(&RunSample) -> Option<f64>,
) -> Vec<bootstrap::Group> {
    let pairs: Vec<(f64, f64)> = pts
        .iter()
        .flat_map(|p| {
            let n = x(p);
            p.runs.iter().filter_map(&value).map(move |v| (n, v))
        })
        .collect();
    group_by_n(&pairs)
}

/// The baseline used, its runs' wall times and T1 (their median; None, with a warning, when
/// there is no baseline run).
fn engine_baseline<'a>(
    engine: Engine,
    pts: &[&'a PointSamples],
    baseline: Baseline,
    serial: Option<&'a PointSamples>,
    warnings: &mut Vec<String>,
) -> (Baseline, Option<&'a PointSamples>, Vec<f64>, Option<f64>) {
    let (used, base) = baseline_runs(engine, pts, baseline, serial);
    let t1_runs: Vec<f64> = base.map_or_else(Vec::new, |b| {
        b.runs.iter().map(|r| r.wall_seconds).collect()
    });
    let t1 = (!t1_runs.is_empty()).then(|| median(&t1_runs));
    if t1.is_none() {
        warnings.push(format!(
            "{engine}: no one-worker, one-processor run to take T1 from; no speedups"
        ));
    }
    (used, base, t1_runs, t1)
}

/// A row per point, with the rows' warnings and the points where files failed.
fn engine_rows(
    engine: Engine,
    pts: &[&PointSamples],
    base: Option<&PointSamples>,
    t1_runs: &[f64],
    warnings: &mut Vec<String>,
) -> Vec<PointRow> {
    let engine_rows: Vec<PointRow> = pts
        .iter()
        .map(|p| rows::build_row(p, t1_runs, base.is_some_and(|b| std::ptr::eq(b, *p))))
        .collect();
    let discarded = pts.iter().map(|p| p.discarded_loaded_runs).sum();
    warnings.extend(warnings::row_warnings(
        engine,
        &engine_rows.iter().collect::<Vec<_>>(),
        discarded,
    ));
    let failed: Vec<String> = pts
        .iter()
        .filter(|p| p.runs.iter().any(|r| r.failed > 0))
        .map(|p| p.workers.to_string())
        .collect();
    if !failed.is_empty() {
        warnings.push(format!(
            "{engine}: some files failed at {} workers; timings cover the others",
            failed.join(", ")
        ));
    }
    engine_rows
}

/// One engine's Amdahl fit and what follows from it.
struct AmdahlPart {
    fit: Option<AmdahlFit>,
    ceiling: Option<Ceiling>,
    predictions: Vec<Prediction>,
    /// Distinct processor counts.
    counts: usize,
    max_processors: usize,
}

/// The fit over every counted run, at the processors it actually had; fills in the rows'
/// `amdahl_speedup` and says what the fit cannot support.
fn amdahl_part(
    engine: Engine,
    pts: &[&PointSamples],
    engine_rows: &mut [PointRow],
    t1: Option<f64>,
    warnings: &mut Vec<String>,
) -> AmdahlPart {
    let time_pairs: Vec<(f64, f64)> = pts
        .iter()
        .flat_map(|p| {
            p.runs
                .iter()
                .map(move |r| (p.processors() as f64, r.wall_seconds))
        })
        .collect();
    let time_groups = group_by_n(&time_pairs);
    let counts = time_groups.len();
    let max_processors = pts.iter().map(|p| p.processors()).max().unwrap_or(1);
    let fit = amdahl::fit(&time_groups, bootstrap::RESAMPLES, bootstrap::SEED);
    let mut ceiling = None;
    let mut predictions = Vec::new();
    match &fit {
        Some(f) => {
            for r in engine_rows.iter_mut() {
                r.amdahl_speedup = t1.map(|t| t / f.time(r.processors as f64));
            }
            if f.r_squared.is_none() {
                warnings.push(format!(
                    "{engine}: R^2 not shown: {counts} distinct processor count(s), and a two-parameter fit through fewer than {} says nothing about the model",
                    amdahl::MIN_COUNTS_FOR_R2
                ));
            }
            if !(0.0..=1.0).contains(&f.parallel_fraction) {
                warnings.push(format!(
                    "{engine}: fitted parallel fraction {:.4} lies outside [0, 1]: {}; no ceiling or prediction",
                    f.parallel_fraction,
                    if f.parallel_fraction > 1.0 {
                        "the runs speed up faster than Amdahl allows (caches, a slow one-processor point, or noise)"
                    } else {
                        "more processors made it slower (contention, oversubscription or noise)"
                    }
                ));
            } else if !f.trustworthy() {
                warnings.push(format!(
                    "{engine}: P's 95% interval is {}: too uncertain for a ceiling or predictions (more runs, more processor counts, or a quieter machine)",
                    f.parallel_fraction_interval.map_or_else(
                        || "unknown (one run per point)".to_string(),
                        |i| format!("{:.3} to {:.3}, wider than {}", i.low, i.high, amdahl::NARROW_P_WIDTH)
                    )
                ));
            }
            if let Some((c, civ, preds)) = amdahl::ceiling_and_predictions(f, max_processors) {
                let finite = |x: f64| x.is_finite().then_some(x);
                ceiling = Some(Ceiling {
                    speedup: finite(c),
                    low: civ.low,
                    high: finite(civ.high),
                });
                predictions = preds;
            }
        }
        None if !engine_rows.is_empty() => warnings.push(if engine_rows.iter().any(|r| r.starved) {
            format!(
                "{engine}: {counts} processor count(s) left to fit once the starved rows are left out, so no Amdahl fit (re-run on a quiet machine)"
            )
        } else {
            format!(
                "{engine}: one processor count only, so no Amdahl fit (sweep more --workers or --cores)"
            )
        }),
        None => {}
    }
    AmdahlPart {
        fit,
        ceiling,
        predictions,
        counts,
        max_processors,
    }
}

/// The Universal Scalability Law on throughput groups (one value per run) with its gate: the
/// peak is kept only when the gate passes.
fn usl_part(
    groups: &[bootstrap::Group],
    common: Option<&String>,
    what: &str,
) -> (Option<UslFit>, Gate) {
    let mut fit = usl::fit(groups, bootstrap::RESAMPLES, bootstrap::SEED);
    let check = (groups.len() > usl::MIN_COUNTS)
        .then(|| gate::holdout(groups, |g, n| usl::fit_params(g).map(|p| p.throughput(n))))
        .flatten();
    let g = match &fit {
        None => Gate::closed(
            format!(
                "{} count(s) measured; the {what} needs {}",
                groups.len(),
                usl::MIN_COUNTS
            ),
            None,
        ),
        Some(_) if check.is_none() && common.is_none() => Gate::closed(
            format!(
                "the {what}'s hold-out check needs {} counts (four to fit, one to check)",
                usl::MIN_COUNTS + 1
            ),
            None,
        ),
        Some(_) => gate::gate(common, check, what),
    };
    if let Some(f) = fit.as_mut().filter(|_| !g.passed) {
        f.peak_processors = None;
    }
    (fit, g)
}

/// A machine with 2x and 4x the processors, predicted from the per-stage times of the first
/// point with the fixed time from every point but the largest; the largest is the hold-out
/// check. The points are those where the job got its processors, so the fixed time holds no
/// time taken by other processes (with any loaded point the gate is closed anyway).
fn bigger_machine_part(
    engine: Engine,
    pts: &[&PointSamples],
    engine_rows: &[PointRow],
    t1: Option<f64>,
    max_processors: usize,
    common: Option<&String>,
) -> (Option<BiggerMachine>, Gate) {
    let mut measured: Vec<bigger::MeasuredPoint> = Vec::new();
    for row in engine_rows {
        if !measured.iter().any(|m| m.processors == row.processors) {
            let m = row.median_seconds;
            measured.push(bigger::MeasuredPoint {
                processors: row.processors,
                stage_workers: row.stage_workers,
                median_seconds: m,
                low_seconds: row.median_interval.map_or(m, |i| i.low),
                high_seconds: row.median_interval.map_or(m, |i| i.high),
            });
        }
    }
    let held = measured
        .iter()
        .copied()
        .max_by_key(|m| m.processors)
        .filter(|_| measured.len() >= gate::MIN_COUNTS);
    let fit_points: Vec<bigger::MeasuredPoint> = measured
        .iter()
        .copied()
        .filter(|m| Some(m.processors) != held.map(|h| h.processors))
        .collect();
    let targets: Vec<usize> = [2, amdahl::MAX_EXTRAPOLATION]
        .iter()
        .map(|k| max_processors * k)
        .collect();
    let Some(mut b) = pts
        .first()
        .zip(engine_rows.first())
        .and_then(|(p, r)| bigger::bigger_machine(engine, p, &r.stages, t1, &targets, &fit_points))
    else {
        return (
            None,
            Gate::closed("no per-stage times to predict from".into(), None),
        );
    };
    let check = held.map(|h| {
        let staged = engine == Engine::Staged;
        let first = &engine_rows[0].stages;
        let predicted = b.fixed_seconds
            + stages::stage_bound(
                &first.seconds,
                staged.then_some(&h.stage_workers),
                h.processors,
            );
        let iv = (h.low_seconds < h.high_seconds).then_some(Interval {
            low: h.low_seconds,
            high: h.high_seconds,
        });
        gate::judge(h.processors, predicted, None, h.median_seconds, iv)
    });
    let g = if b.verdict == Verdict::Contradicted && common.is_none() {
        Gate::closed(
            "the measured points contradict the per-stage model".into(),
            check,
        )
    } else {
        gate::gate(common, check, "per-stage model")
    };
    if !g.passed {
        b.points.clear();
    }
    (Some(b), g)
}

#[cfg(test)]
mod tests;
