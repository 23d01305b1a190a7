//! From timing records to the sweep table: medians, speedup, efficiency, Karp-Flatt, the Amdahl
//! fit, the bottleneck stage, recommendations and warnings. Pure functions: no clocks, no I/O.

use serde::{Deserialize, Serialize};

use super::amdahl::{self, AmdahlFit};
use crate::error::Stage;
use crate::pipeline::{Engine, StageWorkers};

/// One counted run of the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSample {
    /// Wall-clock seconds of the pipeline.
    pub wall_seconds: f64,
    /// Busy seconds per stage (read, decode, process, encode, write), summed over workers.
    pub stage_busy_seconds: [f64; 5],
    /// Files written.
    pub files: usize,
    /// Files that failed.
    pub failed: usize,
    /// Megapixels written.
    pub megapixels: f64,
}

/// All counted runs of one engine at one worker count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointSamples {
    /// Engine.
    pub engine: Engine,
    /// Worker count `n`.
    pub workers: usize,
    /// Threads per stage that `n` meant.
    pub stage_workers: StageWorkers,
    /// The counted runs, in the order they ran.
    pub runs: Vec<RunSample>,
}

/// Where T1 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Baseline {
    /// The one-worker run of the same engine.
    Same,
    /// The serial engine (one thread, no channels).
    Serial,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointRow {
    /// Engine.
    pub engine: Engine,
    /// Worker count.
    pub workers: usize,
    /// Threads per stage.
    pub stage_workers: StageWorkers,
    /// Every counted run's wall seconds.
    pub runs_seconds: Vec<f64>,
    /// Median wall seconds.
    pub median_seconds: f64,
    /// Fastest run.
    pub min_seconds: f64,
    /// Slowest run.
    pub max_seconds: f64,
    /// (max - min) / median.
    pub spread: f64,
    /// Files per second at the median.
    pub images_per_second: f64,
    /// Megapixels per second at the median.
    pub megapixels_per_second: f64,
    /// S = T1 / Tn.
    pub speedup: f64,
    /// S / n.
    pub efficiency: f64,
    /// Karp-Flatt serial fraction; None at n = 1.
    pub karp_flatt: Option<f64>,
    /// Speedup the engine's Amdahl fit predicts at this n (on min(n, cores) processors).
    pub amdahl_speedup: Option<f64>,
    /// Share of summed busy time per stage (read..write), median run.
    pub stage_share: [f64; 5],
    /// The stage whose workers were busiest (busy time per worker).
    pub bottleneck: Stage,
}

/// Per-engine conclusions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineSummary {
    /// Engine.
    pub engine: Engine,
    /// What T1 is.
    pub baseline: Baseline,
    /// T1, median seconds.
    pub baseline_seconds: f64,
    /// The Amdahl fit over min(n, logical cores) processors (None with no point above one).
    pub fit: Option<AmdahlFit>,
    /// 1 / (1 - P); None when unbounded or unfitted.
    pub ceiling: Option<f64>,
    /// Predicted speedups at 2x, 4x and 8x the largest n measured, given that many cores.
    pub predictions: Vec<Prediction>,
    /// The smallest n within 5% of the best throughput.
    pub recommended_workers: usize,
    /// For the staged engine: threads per stage in proportion to each stage's busy time.
    pub recommended_stage_workers: Option<StageWorkers>,
}

/// A predicted speedup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Worker count.
    pub workers: usize,
    /// Predicted speedup.
    pub speedup: f64,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepAnalysis {
    /// A row per engine and worker count.
    pub rows: Vec<PointRow>,
    /// A summary per engine.
    pub engines: Vec<EngineSummary>,
    /// Everything a reader should be wary of.
    pub warnings: Vec<String>,
}

/// Median of `xs` (mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The run whose wall time is the median (the lower middle for an even count).
fn median_run(runs: &[RunSample]) -> Option<&RunSample> {
    let mut idx: Vec<usize> = (0..runs.len()).collect();
    idx.sort_by(|&a, &b| runs[a].wall_seconds.total_cmp(&runs[b].wall_seconds));
    idx.get((runs.len().saturating_sub(1)) / 2)
        .map(|&i| &runs[i])
}

/// Spread over which the machine counts as noisy.
pub const NOISY_SPREAD: f64 = 0.10;
/// Runs shorter than this are too short to time well.
pub const SHORT_RUN_SECONDS: f64 = 0.2;

/// Points of one engine that deserve a warning, gathered so each kind is said once.
#[derive(Default)]
struct PointIssues {
    oversubscribed: Vec<String>,
    noisy: Vec<String>,
    short: Vec<String>,
    failed: Vec<String>,
}

impl PointIssues {
    fn report(&self, engine: Engine, cores: usize, warnings: &mut Vec<String>) {
        let list = |v: &[String]| v.join(", ");
        if !self.oversubscribed.is_empty() {
            warnings.push(format!(
                "{engine}: n = {} is more than the {cores} logical cores (oversubscribed): no speedup is expected past {cores}",
                list(&self.oversubscribed)
            ));
        }
        if !self.noisy.is_empty() {
            warnings.push(format!(
                "{engine}: runs spread over {:.0}% (max-min over median) at n = {}: noisy machine; use more --repeat or a quieter machine",
                NOISY_SPREAD * 100.0,
                list(&self.noisy)
            ));
        }
        if !self.short.is_empty() {
            warnings.push(format!(
                "{engine}: median runs under {SHORT_RUN_SECONDS} s at n = {}: too little work to time well; add files",
                list(&self.short)
            ));
        }
        if !self.failed.is_empty() {
            warnings.push(format!(
                "{engine}: some files failed at n = {}; timings cover the others",
                list(&self.failed)
            ));
        }
    }
}

/// Analyses the sweep. `serial` holds the serial engine's runs when `baseline` is
/// [`Baseline::Serial`]; `logical_cores` drives the oversubscription warning and the
/// per-stage recommendation.
pub fn analyse(
    points: &[PointSamples],
    baseline: Baseline,
    serial: Option<&PointSamples>,
    logical_cores: usize,
) -> SweepAnalysis {
    let mut warnings = Vec::new();
    let mut rows = Vec::new();
    let mut engines = Vec::new();
    let mut engine_order: Vec<Engine> = Vec::new();
    for p in points {
        if !engine_order.contains(&p.engine) {
            engine_order.push(p.engine);
        }
    }
    let serial_t1 =
        serial.map(|s| median(&s.runs.iter().map(|r| r.wall_seconds).collect::<Vec<_>>()));

    for engine in engine_order {
        let mut pts: Vec<&PointSamples> = points
            .iter()
            .filter(|p| p.engine == engine && !p.runs.is_empty())
            .collect();
        pts.sort_by_key(|p| p.workers);
        let own_t1 = pts
            .iter()
            .find(|p| p.workers == 1)
            .map(|p| median(&p.runs.iter().map(|r| r.wall_seconds).collect::<Vec<_>>()));
        let (t1, used) = match (baseline, serial_t1, own_t1) {
            (Baseline::Serial, Some(t), _) => (t, Baseline::Serial),
            (_, _, Some(t)) => (t, Baseline::Same),
            (_, Some(t), None) => (t, Baseline::Serial),
            (_, None, None) => {
                warnings.push(format!(
                    "{engine}: no one-worker run to take T1 from; no speedups"
                ));
                (f64::NAN, Baseline::Same)
            }
        };
        let mut engine_rows = Vec::new();
        let mut issues = PointIssues::default();
        for p in &pts {
            let walls: Vec<f64> = p.runs.iter().map(|r| r.wall_seconds).collect();
            let med = median(&walls);
            let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
            let max = walls.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let spread = if med > 0.0 { (max - min) / med } else { 0.0 };
            let mr = median_run(&p.runs)
                .cloned()
                .unwrap_or_else(|| p.runs[0].clone());
            let n = p.workers as f64;
            let speedup = t1 / med;
            let busy_total: f64 = mr.stage_busy_seconds.iter().sum();
            let mut share = [0.0; 5];
            for (s, b) in share.iter_mut().zip(mr.stage_busy_seconds) {
                *s = if busy_total > 0.0 {
                    b / busy_total
                } else {
                    0.0
                };
            }
            let bottleneck = Stage::ALL
                .into_iter()
                .max_by(|&a, &b| {
                    let per = |s: Stage| {
                        mr.stage_busy_seconds[s.index()] / p.stage_workers.get(s).max(1) as f64
                    };
                    per(a).total_cmp(&per(b))
                })
                .unwrap_or(Stage::Process);
            if p.workers > logical_cores {
                issues.oversubscribed.push(p.workers.to_string());
            }
            if spread > NOISY_SPREAD && walls.len() > 1 {
                issues
                    .noisy
                    .push(format!("{} ({:.0}%)", p.workers, spread * 100.0));
            }
            if med < SHORT_RUN_SECONDS {
                issues.short.push(format!("{} ({:.3} s)", p.workers, med));
            }
            if p.runs.iter().any(|r| r.failed > 0) {
                issues.failed.push(p.workers.to_string());
            }
            engine_rows.push(PointRow {
                engine,
                workers: p.workers,
                stage_workers: p.stage_workers,
                runs_seconds: walls,
                median_seconds: med,
                min_seconds: min,
                max_seconds: max,
                spread,
                images_per_second: if med > 0.0 {
                    mr.files as f64 / med
                } else {
                    0.0
                },
                megapixels_per_second: if med > 0.0 { mr.megapixels / med } else { 0.0 },
                speedup,
                efficiency: speedup / n,
                karp_flatt: amdahl::karp_flatt(speedup, n),
                amdahl_speedup: None,
                stage_share: share,
                bottleneck,
            });
        }
        issues.report(engine, logical_cores, &mut warnings);
        // Amdahl's n is processors: workers beyond the cores add none, so the fit and its
        // predictions use min(n, cores).
        let processors = |n: usize| n.min(logical_cores.max(1)) as f64;
        let fit = amdahl::fit(
            &engine_rows
                .iter()
                .map(|r| (processors(r.workers), r.speedup))
                .collect::<Vec<_>>(),
        );
        if let Some(f) = &fit {
            for r in &mut engine_rows {
                r.amdahl_speedup = Some(amdahl::amdahl_speedup(
                    f.parallel_fraction,
                    processors(r.workers),
                ));
            }
            if f.clamped {
                warnings.push(format!(
                    "{engine}: fitted parallel fraction {:.4} lies outside [0, 1] and is shown clamped to {}; {}",
                    f.parallel_fraction_raw,
                    f.parallel_fraction,
                    if f.parallel_fraction_raw > 1.0 {
                        "superlinear speedups (caches, or noise) do not fit Amdahl's law"
                    } else {
                        "more workers made it slower (oversubscription, contention or noise)"
                    }
                ));
            }
        } else if !engine_rows.is_empty() {
            warnings.push(format!(
                "{engine}: no worker count above 1, so no Amdahl fit"
            ));
        }
        let largest = engine_rows.iter().map(|r| r.workers).max().unwrap_or(1);
        let predictions = fit
            .map(|f| {
                [2, 4, 8]
                    .iter()
                    .map(|k| Prediction {
                        workers: largest * k,
                        speedup: amdahl::amdahl_speedup(f.parallel_fraction, (largest * k) as f64),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let best = engine_rows
            .iter()
            .map(|r| r.images_per_second)
            .fold(0.0, f64::max);
        let recommended_workers = engine_rows
            .iter()
            .filter(|r| r.images_per_second >= 0.95 * best)
            .map(|r| r.workers)
            .min()
            .unwrap_or(1);
        let recommended_stage_workers = (engine == Engine::Staged)
            .then(|| engine_rows.iter().max_by_key(|r| r.workers))
            .flatten()
            .map(|r| split_by_busy_share(&r.stage_share, logical_cores));
        engines.push(EngineSummary {
            engine,
            baseline: used,
            baseline_seconds: t1,
            ceiling: fit
                .and_then(|f| Some(amdahl::ceiling(f.parallel_fraction)).filter(|c| c.is_finite())),
            fit,
            predictions,
            recommended_workers,
            recommended_stage_workers,
        });
        rows.extend(engine_rows);
    }
    SweepAnalysis {
        rows,
        engines,
        warnings,
    }
}

/// Threads per stage in proportion to each stage's share of busy time, `cores` in all for the
/// compute stages, at least one each: a stage that needs twice the time gets twice the threads.
pub fn split_by_busy_share(share: &[f64; 5], cores: usize) -> StageWorkers {
    let cores = cores.max(1) as f64;
    let w = |s: Stage| ((share[s.index()] * cores).round() as usize).max(1);
    StageWorkers {
        read: w(Stage::Read),
        decode: w(Stage::Decode),
        process: w(Stage::Process),
        encode: w(Stage::Encode),
        write: w(Stage::Write),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(engine: Engine, n: usize, walls: &[f64]) -> PointSamples {
        PointSamples {
            engine,
            workers: n,
            stage_workers: StageWorkers::uniform(n),
            runs: walls
                .iter()
                .map(|&w| RunSample {
                    wall_seconds: w,
                    stage_busy_seconds: [0.1, 0.5, 1.0, 0.3, 0.1],
                    files: 100,
                    failed: 0,
                    megapixels: 50.0,
                })
                .collect(),
        }
    }

    fn amdahl_points(engine: Engine, p: f64, t1: f64, ns: &[usize]) -> Vec<PointSamples> {
        ns.iter()
            .map(|&n| {
                let t = t1 * ((1.0 - p) + p / n as f64);
                point(engine, n, &[t, t * 1.01, t * 0.99])
            })
            .collect()
    }

    #[test]
    fn speedup_is_one_at_the_baseline_and_p_fits_back() {
        let pts = amdahl_points(Engine::Staged, 0.9, 4.0, &[1, 2, 3, 4]);
        let a = analyse(&pts, Baseline::Same, None, 4);
        assert_eq!(a.rows.len(), 4);
        assert!((a.rows[0].speedup - 1.0).abs() < 1e-12);
        assert_eq!(a.rows[0].karp_flatt, None);
        let f = a.engines[0].fit.unwrap();
        assert!((f.parallel_fraction - 0.9).abs() < 1e-9);
        assert!((a.engines[0].ceiling.unwrap() - 10.0).abs() < 1e-6);
        assert_eq!(
            a.engines[0]
                .predictions
                .iter()
                .map(|p| p.workers)
                .collect::<Vec<_>>(),
            [8, 16, 32]
        );
        assert!(a
            .rows
            .iter()
            .all(|r| (r.karp_flatt.unwrap_or(0.1) - 0.1).abs() < 1e-9));
    }

    #[test]
    fn recommends_the_smallest_n_within_5_percent_of_the_best() {
        let pts = vec![
            point(Engine::Rayon, 1, &[2.0]),
            point(Engine::Rayon, 2, &[1.02]),
            point(Engine::Rayon, 3, &[1.0]),
            point(Engine::Rayon, 4, &[1.0]),
        ];
        let a = analyse(&pts, Baseline::Same, None, 4);
        assert_eq!(a.engines[0].recommended_workers, 2);
    }

    #[test]
    fn warns_about_oversubscription_noise_short_runs_and_clamping() {
        let pts = vec![
            point(Engine::Staged, 1, &[0.1, 0.15]),
            point(Engine::Staged, 8, &[0.2, 0.2]),
        ];
        let a = analyse(&pts, Baseline::Same, None, 2);
        let all = a.warnings.join("\n");
        assert!(all.contains("oversubscribed"), "{all}");
        assert!(all.contains("noisy"), "{all}");
        assert!(all.contains("too little work"), "{all}");
        assert!(all.contains("clamped"), "{all}");
        assert_eq!(a.engines[0].fit.unwrap().parallel_fraction, 0.0);
    }

    #[test]
    fn serial_baseline_and_several_engines() {
        let mut pts = amdahl_points(Engine::Staged, 0.8, 2.0, &[1, 2]);
        pts.extend(amdahl_points(Engine::Rayon, 0.8, 2.0, &[1, 2]));
        let serial = point(Engine::Serial, 1, &[1.0]);
        let a = analyse(&pts, Baseline::Serial, Some(&serial), 2);
        assert_eq!(a.engines.len(), 2);
        assert!(a
            .engines
            .iter()
            .all(|e| e.baseline == Baseline::Serial && e.baseline_seconds == 1.0));
        assert!((a.rows[0].speedup - 0.5).abs() < 1e-12);
    }

    #[test]
    fn workers_beyond_the_cores_count_as_the_cores_in_the_fit() {
        // Perfect scaling to 2 cores, flat after: P = 1 on 2 processors, not a poor fit.
        let pts = vec![
            point(Engine::Rayon, 1, &[2.0]),
            point(Engine::Rayon, 2, &[1.0]),
            point(Engine::Rayon, 4, &[1.0]),
            point(Engine::Rayon, 6, &[1.0]),
        ];
        let a = analyse(&pts, Baseline::Same, None, 2);
        let f = a.engines[0].fit.unwrap();
        assert!((f.parallel_fraction - 1.0).abs() < 1e-12, "{f:?}");
        assert!((a.rows[3].amdahl_speedup.unwrap() - 2.0).abs() < 1e-12);
        assert!((a.rows[3].efficiency - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn one_point_has_rows_but_no_fit() {
        let a = analyse(&[point(Engine::Staged, 1, &[1.0])], Baseline::Same, None, 2);
        assert_eq!(a.rows.len(), 1);
        assert!(a.engines[0].fit.is_none());
        assert!(a.warnings.iter().any(|w| w.contains("no Amdahl fit")));
    }

    #[test]
    fn bottleneck_is_busiest_per_worker_and_split_follows_share() {
        let a = analyse(
            &amdahl_points(Engine::Staged, 0.9, 1.0, &[1, 2]),
            Baseline::Same,
            None,
            4,
        );
        assert_eq!(a.rows[0].bottleneck, Stage::Process);
        let w = a.engines[0].recommended_stage_workers.unwrap();
        assert!(w.process >= w.decode && w.decode >= w.read && w.read >= 1);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
