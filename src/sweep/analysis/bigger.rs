//! A machine with more cores, predicted from measured per-stage times and checked against
//! every processor count measured. Pure functions over timing records.
//!
//! The model: `T(C) = fixed + max(max_s B_s / w_s, sum B / C)`, with `B` the per-stage times
//! of the point with the fewest processors. The fixed time (start-up, listing, waiting: what
//! does not shrink with cores) is not taken from one point: every measured point implies one
//! (its median minus its stage bound) and the largest is used, so the prediction at a measured
//! count is never faster than the median measured there. When the points contradict the
//! model (a point with more processors needs more fixed time than a point with fewer allows,
//! within their 95% intervals), no prediction is made: the model would claim more than the
//! measurements support.

use serde::{Deserialize, Serialize};

use super::robust::median;
use super::samples::PointSamples;
use super::stages::{split_by_share, stage_bound, StageClock, StageFigures};
use crate::pipeline::{Engine, StageWorkers};

/// Leeway, as a share of a point's median, before two points count as contradicting the
/// model: thread CPU clocks and the wall clock are read at slightly different moments, and a
/// point measured once has no interval.
pub const CONSISTENCY_SLACK: f64 = 0.02;

/// A measured point the prediction is checked against: one per processor count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasuredPoint {
    /// Processors (Amdahl's n).
    pub processors: usize,
    /// Threads per stage the runs had (used for the staged engine's bound).
    pub stage_workers: StageWorkers,
    /// Median wall seconds.
    pub median_seconds: f64,
    /// Low end of the median's 95% interval (the median itself without an interval).
    pub low_seconds: f64,
    /// High end of that interval (the median itself without one).
    pub high_seconds: f64,
}

/// How the prediction fared against the measured points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Checked against two or more processor counts; none contradicts the model.
    Consistent,
    /// One processor count measured: nothing to check the model against.
    #[default]
    Unchecked,
    /// Two measured points contradict the model: no prediction is made.
    Contradicted,
}

/// Two measured points the model cannot both explain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Contradiction {
    /// The point with more processors, slower than the model allows.
    pub processors: usize,
    /// The least fixed time it needs: the low end of its interval minus its stage bound.
    pub needs_fixed_seconds: f64,
    /// The point with fewer processors.
    pub against_processors: usize,
    /// The most fixed time that one allows: the high end of its interval, plus
    /// [`CONSISTENCY_SLACK`] of its median, minus its stage bound.
    pub allows_fixed_seconds: f64,
}

/// A prediction for a machine with more cores, from measured per-stage times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiggerMachine {
    /// Processors of the point the stage times come from.
    pub from_processors: usize,
    /// The clock of those stage times.
    pub clock: StageClock,
    /// Time outside the stages, kept fixed: the most any measured point leaves beyond its
    /// stage bound, 0 when none leaves any.
    pub fixed_seconds: f64,
    /// The processors of the point that set `fixed_seconds`; None when it is 0 because at
    /// every measured point the stage times cover the whole wall time (not measured, assumed).
    #[serde(default)]
    pub fixed_from_processors: Option<usize>,
    /// How the model fared against the measured points.
    #[serde(default)]
    pub verdict: Verdict,
    /// The two points that contradict the model, when they do.
    #[serde(default)]
    pub contradiction: Option<Contradiction>,
    /// The predicted points; empty when the measured points contradict the model.
    pub points: Vec<MachinePoint>,
    /// The model at every processor count measured, beside the measurement.
    pub checks: Vec<MachineCheck>,
    /// What the prediction takes for granted.
    pub assumptions: Vec<String>,
}

/// One predicted machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachinePoint {
    /// Cores.
    pub processors: usize,
    /// Threads per stage assumed (staged engine).
    pub stage_workers: Option<StageWorkers>,
    /// Predicted wall seconds.
    pub seconds: f64,
    /// T1 over the predicted seconds.
    pub speedup: Option<f64>,
}

/// The model at a measured processor count, beside the measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MachineCheck {
    /// Processors.
    pub processors: usize,
    /// What the model predicts there (with the threads per stage the runs had).
    pub predicted_seconds: f64,
    /// The measured median there.
    pub measured_seconds: f64,
    /// Low end of the median's 95% interval (the median without one).
    #[serde(default)]
    pub measured_low_seconds: f64,
    /// High end of that interval.
    #[serde(default)]
    pub measured_high_seconds: f64,
    /// The fixed time this point implies: its median minus its stage bound (negative when
    /// the stage times exceed the wall: stages overlapped on more cores than n).
    #[serde(default)]
    pub implied_fixed_seconds: f64,
    /// `predicted / measured - 1`: negative when the model is faster than the measurement.
    #[serde(default)]
    pub miss: f64,
}

/// The pair (fewer processors `i`, more processors `j`) where `j` needs more fixed time
/// than `i` allows, the largest such excess: the time outside the stages grew with the cores
/// beyond the points' spread, which a fixed time cannot explain.
fn contradiction(measured: &[MeasuredPoint], bounds: &[f64]) -> Option<Contradiction> {
    let mut worst: Option<(f64, Contradiction)> = None;
    for (i, a) in measured.iter().enumerate() {
        let allows = a.high_seconds + CONSISTENCY_SLACK * a.median_seconds - bounds[i];
        for (j, b) in measured.iter().enumerate().skip(i + 1) {
            let needs = b.low_seconds - bounds[j];
            let excess = needs - allows;
            if b.processors > a.processors
                && excess > 0.0
                && worst.as_ref().map_or(true, |(e, _)| excess > *e)
            {
                worst = Some((
                    excess,
                    Contradiction {
                        processors: b.processors,
                        needs_fixed_seconds: needs,
                        against_processors: a.processors,
                        allows_fixed_seconds: allows,
                    },
                ));
            }
        }
    }
    worst.map(|(_, c)| c)
}

/// Predicts `targets` cores from the stage times of `from` (the point with the fewest
/// processors), with the fixed time taken from every point in `measured` (one per processor
/// count; `from`'s own median is added when missing) and checked against them. None for the
/// serial engine or without stage times.
pub fn bigger_machine(
    engine: Engine,
    from: &PointSamples,
    figures: &StageFigures,
    t1: Option<f64>,
    targets: &[usize],
    measured: &[MeasuredPoint],
) -> Option<BiggerMachine> {
    if engine == Engine::Serial || figures.seconds.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    let n = from.processors();
    let staged = engine == Engine::Staged;
    let bound = |w: &StageWorkers, c: usize| stage_bound(&figures.seconds, staged.then_some(w), c);

    let mut points: Vec<MeasuredPoint> = Vec::new();
    for m in measured.iter().filter(|m| m.median_seconds.is_finite()) {
        if !points.iter().any(|p| p.processors == m.processors) {
            points.push(MeasuredPoint {
                low_seconds: m.low_seconds.min(m.median_seconds),
                high_seconds: m.high_seconds.max(m.median_seconds),
                ..*m
            });
        }
    }
    if !points.iter().any(|p| p.processors == n) {
        let wall = median(&from.runs.iter().map(|r| r.wall_seconds).collect::<Vec<_>>());
        if wall.is_finite() {
            points.push(MeasuredPoint {
                processors: n,
                stage_workers: from.stage_workers,
                median_seconds: wall,
                low_seconds: wall,
                high_seconds: wall,
            });
        }
    }
    points.sort_by_key(|p| p.processors);
    let bounds: Vec<f64> = points
        .iter()
        .map(|p| bound(&p.stage_workers, p.processors))
        .collect();
    let implied: Vec<f64> = points
        .iter()
        .zip(&bounds)
        .map(|(p, b)| p.median_seconds - b)
        .collect();
    // The largest implied fixed time: the model is then never faster than a measured median.
    let largest = implied
        .iter()
        .zip(&points)
        .max_by(|a, b| a.0.total_cmp(b.0))
        .map(|(&f, p)| (f, p.processors));
    let (fixed, fixed_from) = match largest {
        Some((f, c)) if f > 0.0 => (f, Some(c)),
        _ => (0.0, None),
    };
    let contradiction = contradiction(&points, &bounds);
    let verdict = match (contradiction, points.len()) {
        (Some(_), _) => Verdict::Contradicted,
        (None, 0 | 1) => Verdict::Unchecked,
        (None, _) => Verdict::Consistent,
    };
    let checks = points
        .iter()
        .zip(&bounds)
        .zip(&implied)
        .map(|((p, &b), &f)| {
            let predicted = fixed + b;
            MachineCheck {
                processors: p.processors,
                predicted_seconds: predicted,
                measured_seconds: p.median_seconds,
                measured_low_seconds: p.low_seconds,
                measured_high_seconds: p.high_seconds,
                implied_fixed_seconds: f,
                miss: if p.median_seconds > 0.0 {
                    predicted / p.median_seconds - 1.0
                } else {
                    0.0
                },
            }
        })
        .collect();
    let predicted = if verdict == Verdict::Contradicted {
        Vec::new()
    } else {
        targets
            .iter()
            .map(|&c| {
                let w = staged.then(|| split_by_share(&figures.share, c));
                let seconds = fixed + stage_bound(&figures.seconds, w.as_ref(), c);
                MachinePoint {
                    processors: c,
                    stage_workers: w,
                    seconds,
                    speedup: t1.map(|t| t / seconds),
                }
            })
            .collect()
    };
    Some(BiggerMachine {
        from_processors: n,
        clock: figures.clock,
        fixed_seconds: fixed,
        fixed_from_processors: fixed_from,
        verdict,
        contradiction,
        points: predicted,
        checks,
        assumptions: assumptions(engine, figures.clock, n, fixed, fixed_from),
    })
}

fn assumptions(
    engine: Engine,
    clock: StageClock,
    n: usize,
    fixed: f64,
    fixed_from: Option<usize>,
) -> Vec<String> {
    let mut a = vec![
        format!(
            "each stage's total {} time stays what it was at {n} processor(s): no contention for memory bandwidth, caches or the disk as cores grow",
            match clock {
                StageClock::Cpu => "CPU",
                StageClock::BusyWall => "busy wall",
            }
        ),
        "stages overlap perfectly: wall = max(max_s B_s / w_s, sum B / C) plus the fixed time".into(),
        match fixed_from {
            Some(c) => format!(
                "the {fixed:.4} s outside the stages (start-up, listing, waiting; the most any measured n leaves beyond its stage bound, here n = {c}) does not shrink"
            ),
            None => "no time outside the stages: taken as 0, not measured (at every n measured the stage times cover the whole wall time; they overlapped)".into(),
        },
    ];
    if engine == Engine::Staged {
        a.push("the staged engine gets the per-stage split by share of time at each size".into());
    }
    a
}

/// The warning to add for `b`, if any: a withheld prediction, or one that rests on a single
/// processor count with no measurable time outside the stages.
pub fn bigger_machine_warning(engine: Engine, b: &BiggerMachine) -> Option<String> {
    match (b.verdict, b.contradiction, b.fixed_from_processors) {
        (Verdict::Contradicted, Some(c), _) => Some(format!(
            "{engine}: no prediction for a bigger machine: the measured points contradict the per-stage model (n = {} needs at least {:.4} s outside the stages, n = {} allows at most {:.4} s): the time that does not shrink grew with the cores (contention, other processes' load, or a one-processor point that used more than one core)",
            c.processors, c.needs_fixed_seconds, c.against_processors, c.allows_fixed_seconds
        )),
        (Verdict::Unchecked, _, None) => Some(format!(
            "{engine}: the prediction for a bigger machine is unchecked (one processor count) and no time outside the stages was measurable, so it scales the stage times alone; sweep more processor counts to check it"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::PerStage;
    use crate::sweep::analysis::{stages::stage_figures, RunSample};

    /// A point whose every run has wall `wall` and per-stage CPU `cpu`.
    fn point(engine: Engine, workers: usize, walls: &[f64], cpu: PerStage<f64>) -> PointSamples {
        PointSamples {
            engine,
            workers,
            cores_allowed: 64,
            stage_workers: StageWorkers::uniform(workers),
            runs: walls
                .iter()
                .map(|&w| RunSample {
                    wall_seconds: w,
                    user_seconds: w,
                    system_seconds: 0.0,
                    other_cpu_seconds: Some(0.0),
                    other_load: Some(0.0),
                    stage_busy_seconds: cpu,
                    stage_cpu_seconds: cpu,
                    stage_wait_seconds: PerStage::default(),
                    files: 40,
                    failed: 0,
                    megapixels: 80.0,
                    cpu_wait_seconds: None,
                    cpu_run_seconds: None,
                    cpus: Vec::new(),
                })
                .collect(),
            discarded_loaded_runs: 0,
        }
    }

    fn measured(processors: usize, median: f64, low: f64, high: f64) -> MeasuredPoint {
        MeasuredPoint {
            processors,
            stage_workers: StageWorkers::uniform(processors),
            median_seconds: median,
            low_seconds: low,
            high_seconds: high,
        }
    }

    /// Stage CPU summing to 0.4 s, decode three quarters of it.
    const CPU: PerStage<f64> = PerStage([0.01, 0.3, 0.03, 0.05, 0.01]);

    fn predict(engine: Engine, wall1: f64, m: &[MeasuredPoint]) -> BiggerMachine {
        let p = point(engine, 1, &[wall1; 3], CPU);
        let f = stage_figures(&p);
        bigger_machine(engine, &p, &f, Some(wall1), &[4, 8], m).unwrap()
    }

    #[test]
    fn a_clamped_fixed_time_with_a_tight_slower_second_point_is_a_contradiction_not_linear_scaling()
    {
        // The staged engine's symptom: at n = 1 the stage CPU (0.40 s) covers the whole wall
        // (0.40 s), so the old rule took 0 s of fixed time and printed 4.00x and 8.00x; n = 2
        // took 0.30 s (1.33x), far more than the 0.20 s that scaling allows.
        let m = [
            measured(1, 0.40, 0.395, 0.405),
            measured(2, 0.30, 0.295, 0.305),
        ];
        let b = predict(Engine::Staged, 0.40, &m);
        assert_eq!(b.verdict, Verdict::Contradicted);
        assert!(b.points.is_empty(), "no speedups: {b:?}");
        let c = b.contradiction.unwrap();
        assert_eq!((c.processors, c.against_processors), (2, 1));
        assert!((c.needs_fixed_seconds - 0.095).abs() < 1e-9, "{c:?}");
        assert!((c.allows_fixed_seconds - (0.405 + 0.008 - 0.40)).abs() < 1e-9);
        // The checks are still there, at both n, and never faster than measured.
        assert_eq!(
            b.checks.iter().map(|c| c.processors).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(b
            .checks
            .iter()
            .all(|c| c.predicted_seconds >= c.measured_seconds - 1e-12));
        assert!(bigger_machine_warning(Engine::Staged, &b)
            .unwrap()
            .contains("no prediction for a bigger machine"));
    }

    #[test]
    fn a_clamped_fixed_time_within_the_spread_takes_the_fixed_time_from_the_other_point() {
        // Same stage times, but n = 1 is noisy enough to allow 0.10 s outside the stages: the
        // fixed time comes from n = 2 and the prediction is bounded, not 4x and 8x.
        let m = [measured(1, 0.40, 0.38, 0.55), measured(2, 0.30, 0.28, 0.32)];
        let b = predict(Engine::Staged, 0.40, &m);
        assert_eq!(b.verdict, Verdict::Consistent);
        assert_eq!(b.fixed_from_processors, Some(2));
        assert!((b.fixed_seconds - 0.10).abs() < 1e-9);
        let s: Vec<f64> = b.points.iter().map(|p| p.speedup.unwrap()).collect();
        // 4 cores: 0.10 + 0.40/4; 8 cores: 0.10 + 0.40/8 (decode split 3 of 4, 6 of 8).
        assert!((s[0] - 0.40 / 0.20).abs() < 1e-9, "{s:?}");
        assert!((s[1] - 0.40 / 0.15).abs() < 1e-9, "{s:?}");
        for c in &b.checks {
            assert!(c.predicted_seconds >= c.measured_seconds - 1e-12, "{c:?}");
        }
        let two = b.checks.iter().find(|c| c.processors == 2).unwrap();
        assert!(two.miss.abs() < 1e-9);
        assert!(bigger_machine_warning(Engine::Staged, &b).is_none());
    }

    #[test]
    fn consistent_points_still_predict_with_their_common_fixed_time() {
        // T(n) = 0.1 + 0.4/n exactly, with the stage times summing to 0.4 s.
        let m: Vec<MeasuredPoint> = [1, 2, 4]
            .iter()
            .map(|&n| {
                let t = 0.1 + 0.4 / n as f64;
                measured(n, t, t * 0.99, t * 1.01)
            })
            .collect();
        let b = predict(Engine::Rayon, 0.5, &m);
        assert_eq!(b.verdict, Verdict::Consistent);
        assert!((b.fixed_seconds - 0.1).abs() < 1e-9);
        let p8 = &b.points[1];
        assert_eq!((p8.processors, p8.stage_workers), (8, None));
        assert!((p8.seconds - 0.15).abs() < 1e-9);
        assert!((p8.speedup.unwrap() - 0.5 / 0.15).abs() < 1e-9);
        assert!(b.checks.iter().all(|c| c.miss.abs() < 1e-9));
    }

    #[test]
    fn a_point_faster_than_the_model_does_not_contradict_it_but_shows_the_miss() {
        // n = 2 ran faster than 0.1 s + 0.2 s (caches): the model stays conservative there.
        let m = [measured(1, 0.5, 0.5, 0.5), measured(2, 0.25, 0.25, 0.25)];
        let b = predict(Engine::Rayon, 0.5, &m);
        assert_eq!(b.verdict, Verdict::Consistent);
        assert_eq!(b.fixed_from_processors, Some(1));
        let two = b.checks[1];
        assert!((two.miss - 0.2).abs() < 1e-9, "{two:?}");
    }

    #[test]
    fn one_processor_count_is_unchecked_and_a_clamped_fixed_time_says_it_was_not_measured() {
        let b = predict(Engine::Staged, 0.39, &[]);
        assert_eq!(b.verdict, Verdict::Unchecked);
        assert_eq!((b.fixed_seconds, b.fixed_from_processors), (0.0, None));
        assert_eq!(b.checks.len(), 1, "its own point is still shown");
        assert!(b.assumptions.iter().any(|a| a.contains("not measured")));
        assert!(bigger_machine_warning(Engine::Staged, &b)
            .unwrap()
            .contains("unchecked"));
        let b = predict(Engine::Rayon, 0.5, &[]);
        assert_eq!(b.fixed_from_processors, Some(1));
        assert!(bigger_machine_warning(Engine::Rayon, &b).is_none());
    }

    #[test]
    fn serial_or_no_stage_times_predict_nothing() {
        let p = point(Engine::Serial, 1, &[1.0], CPU);
        let f = stage_figures(&p);
        assert!(bigger_machine(Engine::Serial, &p, &f, Some(1.0), &[4], &[]).is_none());
        let p = point(Engine::Rayon, 1, &[1.0], PerStage::default());
        let f = stage_figures(&p);
        assert!(bigger_machine(Engine::Rayon, &p, &f, Some(1.0), &[4], &[]).is_none());
    }
}
