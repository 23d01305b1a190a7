//! One table row per point: medians with bootstrap intervals, CPU and load, speedup,
//! efficiency and Karp-Flatt on the processors actually available.

use serde::{Deserialize, Serialize};

use super::robust::{mad_outliers, median};
use super::samples::{PointSamples, RunSample};
use super::stages::{stage_figures, StageFigures};
use super::warnings::BUSY_MACHINE;
use crate::pipeline::{Engine, StageWorkers};
use crate::sweep::amdahl;
use crate::sweep::bootstrap::{self, Group, Interval};

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointRow {
    /// Engine.
    pub engine: Engine,
    /// Worker count.
    pub workers: usize,
    /// Cores the runs were allowed.
    pub cores_allowed: usize,
    /// Amdahl's `n`: `min(workers, cores_allowed)` (1 for serial).
    pub processors: usize,
    /// More workers than allowed cores.
    pub oversubscribed: bool,
    /// Threads per stage.
    pub stage_workers: StageWorkers,
    /// Every counted run's wall seconds.
    pub runs_seconds: Vec<f64>,
    /// Indices into `runs_seconds` of runs flagged as outliers (more than 10 robust standard
    /// deviations from the median, as hyperfine flags them); kept in every figure.
    pub outlier_runs: Vec<usize>,
    /// Median wall seconds.
    pub median_seconds: f64,
    /// Bootstrap 95% interval of the median (None with one run).
    pub median_interval: Option<Interval>,
    /// Fastest run.
    pub min_seconds: f64,
    /// Slowest run.
    pub max_seconds: f64,
    /// (max - min) / median.
    pub spread: f64,
    /// Half the width of the median's interval over the median: the noise that matters.
    #[serde(default)]
    pub relative_half_width: Option<f64>,
    /// Median user + system CPU seconds of the process per run.
    pub cpu_seconds: f64,
    /// Median cores used per run (CPU / wall).
    pub cores_used: f64,
    /// Median share of the run's CPUs other processes took during the runs.
    pub other_load: Option<f64>,
    /// Median share of the threads' runnable time spent waiting for a CPU.
    #[serde(default)]
    pub wait_share: Option<f64>,
    /// Other load over [`BUSY_MACHINE`] on the run's CPUs.
    #[serde(default)]
    pub loaded: bool,
    /// The job did not get its processors: its threads waited for a CPU more than
    /// [`STARVED_WAIT_SHARE`] of their runnable time (or, where waiting is not measured,
    /// other processes were busy and it used under half of n). Left out of every fit.
    #[serde(default)]
    pub starved: bool,
    /// Files per second at the median.
    pub images_per_second: f64,
    /// Interval of the throughput (from the median's interval).
    pub images_per_second_interval: Option<Interval>,
    /// Megapixels per second at the median.
    pub megapixels_per_second: f64,
    /// S = T1 / Tn (medians); None without a T1.
    pub speedup: Option<f64>,
    /// Bootstrap 95% interval of the speedup (T1's runs and these resampled); None on the
    /// baseline's own row (T1 against itself).
    pub speedup_interval: Option<Interval>,
    /// S / processors.
    pub efficiency: Option<f64>,
    /// The speedup interval over processors.
    pub efficiency_interval: Option<Interval>,
    /// Karp-Flatt serial fraction on processors; None at one processor.
    pub karp_flatt: Option<f64>,
    /// T1 over the fitted `T(n)`, at this point's processors.
    pub amdahl_speedup: Option<f64>,
    /// Per-stage time, share, heaviest stage and queue evidence.
    pub stages: StageFigures,
}

/// Threads waiting for a CPU more than this share of their runnable time: starved.
pub const STARVED_WAIT_SHARE: f64 = 0.10;

/// Builds the row of `p`; `t1_runs` are the baseline's wall seconds (empty without one), and
/// `is_baseline` says they are this point's own runs.
pub fn build_row(p: &PointSamples, t1_runs: &[f64], is_baseline: bool) -> PointRow {
    let walls: Vec<f64> = p.runs.iter().map(|r| r.wall_seconds).collect();
    let med = median(&walls);
    let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
    let max = walls.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let n = p.processors();
    let files = p.runs.first().map_or(0, |r| r.files) as f64;
    let mp = median(&p.runs.iter().map(|r| r.megapixels).collect::<Vec<_>>());
    let per_sec = |x: f64, t: f64| if t > 0.0 { x / t } else { 0.0 };
    let median_interval = bootstrap::intervals(
        &[Group {
            n: n as f64,
            values: walls.clone(),
        }],
        bootstrap::RESAMPLES,
        bootstrap::SEED,
        |g| Some(vec![median(&g[0].values)]),
    )
    .map(|v| v[0]);
    let t1 = (!t1_runs.is_empty()).then(|| median(t1_runs));
    let speedup = t1.map(|t| t / med);
    let speedup_interval = t1.filter(|_| !is_baseline).and_then(|_| {
        bootstrap::intervals(
            &[
                Group {
                    n: 1.0,
                    values: t1_runs.to_vec(),
                },
                Group {
                    n: n as f64,
                    values: walls.clone(),
                },
            ],
            bootstrap::RESAMPLES,
            bootstrap::SEED,
            |g| Some(vec![median(&g[0].values) / median(&g[1].values)]),
        )
        .map(|v| v[0])
    });
    let loads: Vec<f64> = p.runs.iter().filter_map(|r| r.other_load).collect();
    let other_load = (!loads.is_empty()).then(|| median(&loads));
    let waits: Vec<f64> = p.runs.iter().filter_map(RunSample::wait_share).collect();
    let wait_share = (!waits.is_empty()).then(|| median(&waits));
    let cores_used = median(&p.runs.iter().map(|r| r.cores_used()).collect::<Vec<_>>());
    let loaded = other_load.is_some_and(|l| l > BUSY_MACHINE);
    // Cores used below n is no sign of starving by itself (an Amdahl-limited job uses few), so
    // it counts only where waiting was not measured and other processes were busy.
    let starved = match wait_share {
        Some(w) => w > STARVED_WAIT_SHARE,
        None => loaded && cores_used < 0.5 * n as f64,
    };
    PointRow {
        engine: p.engine,
        workers: p.workers,
        cores_allowed: p.cores_allowed,
        processors: n,
        oversubscribed: p.engine != Engine::Serial && p.workers > p.cores_allowed,
        stage_workers: p.stage_workers,
        outlier_runs: mad_outliers(&walls),
        median_seconds: med,
        median_interval,
        min_seconds: min,
        max_seconds: max,
        spread: if med > 0.0 { (max - min) / med } else { 0.0 },
        relative_half_width: median_interval
            .filter(|_| med > 0.0)
            .map(|i| i.width() / 2.0 / med),
        cpu_seconds: median(&p.runs.iter().map(|r| r.cpu_seconds()).collect::<Vec<_>>()),
        cores_used,
        other_load,
        wait_share,
        loaded,
        starved,
        images_per_second: per_sec(files, med),
        images_per_second_interval: median_interval.map(|i| Interval {
            low: per_sec(files, i.high),
            high: per_sec(files, i.low),
        }),
        megapixels_per_second: per_sec(mp, med),
        speedup,
        speedup_interval,
        efficiency: speedup.map(|s| s / n as f64),
        efficiency_interval: speedup_interval.map(|i| Interval {
            low: i.low / n as f64,
            high: i.high / n as f64,
        }),
        karp_flatt: speedup.and_then(|s| amdahl::karp_flatt(s, n as f64)),
        amdahl_speedup: None,
        stages: stage_figures(p),
        runs_seconds: walls,
    }
}
