//! Runs a sweep: every engine and worker count, warm-up rounds then counted rounds, interleaved
//! (1, 2, 4, 1, 2, 4, ...) so that a drifting machine affects every point alike. Each run is
//! the real job, written into a fresh temporary folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::analysis::{analyse, Baseline, PointSamples, RunSample, SweepAnalysis};
use super::machine::Machine;
use crate::batch::{plan, PlanOptions};
use crate::pipeline::workers::StageOverrides;
use crate::pipeline::{CancelToken, Engine, EngineConfig, Settings, StageCaps, StageWorkers};

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    /// Files and folders, as for `run`.
    pub inputs: Vec<PathBuf>,
    /// Listing and naming options.
    pub plan_options: PlanOptions,
    /// What each file gets.
    pub settings: Settings,
    /// Engines to compare.
    pub engines: Vec<Engine>,
    /// Worker counts.
    pub workers: Vec<usize>,
    /// Per-stage overrides applied at every point (staged engine).
    pub overrides: StageOverrides,
    /// Most files alive at once (staged engine); None: the default for each worker count.
    pub in_flight: Option<usize>,
    /// The memory budget in bytes.
    pub max_memory: u64,
    /// Uncounted rounds first.
    pub warmup: usize,
    /// Counted rounds.
    pub repeat: usize,
    /// Where T1 comes from.
    pub baseline: Baseline,
    /// Keep the last run's output here.
    pub keep_output: Option<PathBuf>,
    /// Folder in which each run's temporary output folder is made (the system's temporary
    /// folder when None).
    pub scratch: Option<PathBuf>,
}

/// The job a sweep measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    /// Inputs as given.
    pub inputs: Vec<String>,
    /// The operation as a SPEC.
    pub operation: String,
    /// Output format.
    pub format: String,
    /// Files per run.
    pub files: usize,
    /// Megapixels per run.
    pub megapixels: f64,
}

/// Everything a sweep measured and concluded: the `--export-json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// graypipe's version.
    pub graypipe_version: String,
    /// The machine.
    pub machine: Machine,
    /// The job.
    pub job: JobInfo,
    /// Uncounted rounds.
    pub warmup: usize,
    /// Counted rounds.
    pub repeat: usize,
    /// How runs were ordered.
    pub order: String,
    /// Raw counted runs per point.
    pub points: Vec<PointSamples>,
    /// The serial engine's runs when it is the baseline.
    pub serial_baseline: Option<PointSamples>,
    /// The table, fits and recommendations.
    pub analysis: SweepAnalysis,
}

/// Progress of a sweep: run `done` of `total`, with the time so far.
#[derive(Debug, Clone, Copy)]
pub struct SweepProgress {
    /// Runs finished.
    pub done: usize,
    /// Runs in all.
    pub total: usize,
    /// Seconds since the sweep started.
    pub elapsed: f64,
}

struct Point {
    engine: Engine,
    workers: usize,
    stage_workers: StageWorkers,
    runs: Vec<RunSample>,
}

fn points_for(p: &SweepPlan) -> (Vec<Point>, Option<Point>) {
    let mut counts = p.workers.clone();
    if p.baseline == Baseline::Same && !counts.contains(&1) {
        counts.insert(0, 1);
    }
    let point = |engine, n: usize| Point {
        engine,
        workers: n,
        stage_workers: StageWorkers::uniform(n).with_overrides(&p.overrides),
        runs: Vec::new(),
    };
    let mut points = Vec::new();
    for &engine in &p.engines {
        if engine == Engine::Serial {
            points.push(point(engine, 1));
            continue;
        }
        points.extend(counts.iter().map(|&n| point(engine, n)));
    }
    let serial = (p.baseline == Baseline::Serial && !p.engines.contains(&Engine::Serial))
        .then(|| point(Engine::Serial, 1));
    (points, serial)
}

fn empty_or_missing(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Runs the sweep. `on_progress` is called after every run.
pub fn run_sweep(
    p: &SweepPlan,
    on_progress: &mut dyn FnMut(SweepProgress),
) -> Result<SweepRecord, String> {
    if let Some(k) = &p.keep_output {
        if !empty_or_missing(k) {
            return Err(format!(
                "--keep-output {} exists and is not empty",
                k.display()
            ));
        }
    }
    let (mut points, mut serial) = points_for(p);
    let rounds = p.warmup + p.repeat.max(1);
    let per_round = points.len() + usize::from(serial.is_some());
    let total = rounds * per_round;
    let started = Instant::now();
    let cancel = CancelToken::new();
    let mut done = 0;
    let mut job = None;
    // Every run's output is kept until the sweep ends: deleting 400 files just before the next
    // run made that run 3 to 5 times slower on ext4 (the deletions compete with its writes).
    let mut finished_outputs = Vec::new();
    for round in 0..rounds {
        let counted = round >= p.warmup;
        let last_round = round + 1 == rounds;
        for (i, pt) in serial.iter_mut().chain(points.iter_mut()).enumerate() {
            let is_last = last_round && i + 1 == per_round;
            let mut builder = tempfile::Builder::new();
            builder.prefix("graypipe-sweep-");
            let tmp = match &p.scratch {
                Some(dir) => builder.tempdir_in(dir),
                None => builder.tempdir(),
            }
            .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
            let out_dir = match (&p.keep_output, is_last) {
                (Some(k), true) => k.clone(),
                _ => tmp.path().to_path_buf(),
            };
            let batch = plan(&p.inputs, &out_dir, &p.plan_options).map_err(|e| e.to_string())?;
            let config = EngineConfig {
                engine: pt.engine,
                workers: pt.workers,
                in_flight: p
                    .in_flight
                    .unwrap_or_else(|| EngineConfig::default_in_flight(pt.workers)),
                stage_caps: StageCaps::from_overrides(&p.overrides),
                max_memory: p.max_memory,
            };
            let summary = crate::run(&batch, &p.settings, &config, &cancel, false, &mut |_, _| {});
            let sample = RunSample {
                wall_seconds: summary.stats.wall.as_secs_f64(),
                stage_busy_seconds: std::array::from_fn(|s| {
                    summary.stats.stages[s].busy.as_secs_f64()
                }),
                files: summary.written(),
                failed: summary.failed(),
                megapixels: summary.megapixels(),
            };
            job.get_or_insert_with(|| JobInfo {
                inputs: p.inputs.iter().map(|i| i.display().to_string()).collect(),
                operation: p.settings.operation.to_string(),
                format: p.plan_options.format.to_string(),
                files: sample.files,
                megapixels: sample.megapixels,
            });
            if counted {
                pt.runs.push(sample);
            }
            finished_outputs.push(tmp);
            done += 1;
            on_progress(SweepProgress {
                done,
                total,
                elapsed: started.elapsed().as_secs_f64(),
            });
        }
    }
    let machine = Machine::current();
    let to_samples = |pt: Point| PointSamples {
        engine: pt.engine,
        workers: pt.workers,
        stage_workers: pt.stage_workers,
        runs: pt.runs,
    };
    let points: Vec<PointSamples> = points.into_iter().map(to_samples).collect();
    let serial: Option<PointSamples> = serial.take().map(to_samples);
    let serial_ref = serial
        .as_ref()
        .or_else(|| points.iter().find(|s| s.engine == Engine::Serial));
    let analysis = analyse(&points, p.baseline, serial_ref, machine.logical_cores);
    Ok(SweepRecord {
        graypipe_version: env!("CARGO_PKG_VERSION").to_string(),
        machine,
        job: job.unwrap_or(JobInfo {
            inputs: Vec::new(),
            operation: String::new(),
            format: String::new(),
            files: 0,
            megapixels: 0.0,
        }),
        warmup: p.warmup,
        repeat: p.repeat.max(1),
        order: "interleaved: each round runs every point once".into(),
        points,
        serial_baseline: serial,
        analysis,
    })
}
