//! Runs a sweep: every engine, worker count and allowed-core count, warm-up rounds first, then
//! counted rounds interleaved (1, 2, 4, 1, 2, 4, ...) so that a drifting machine affects every
//! point alike, until each point has its minimum runs and minimum measured time. Each run is
//! the real job, written into a fresh temporary folder, and measured for wall time, the
//! process's CPU time and the CPU time other processes took meanwhile.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::analysis::warnings::BUSY_MACHINE;
use super::analysis::{analyse, Baseline, PointSamples, RunSample, SweepAnalysis};
use super::machine::Machine;
use super::probe::{self, AffinityGuard};
use crate::batch::{plan, PlanOptions};
use crate::pipeline::workers::StageOverrides;
use crate::pipeline::{CancelToken, Engine, EngineConfig, Settings, StageCaps, StageWorkers};

/// A loaded run is re-run at most this many times per point by `--quiet-machine`.
pub const MAX_QUIET_RERUNS: usize = 10;

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
    /// Worker counts; None: the cores swept when `cores` is given, else 1 to the cores.
    pub workers: Option<Vec<usize>>,
    /// Allowed-core counts, set by CPU affinity per run; None: every available core, no
    /// affinity change.
    pub cores: Option<Vec<usize>>,
    /// Per-stage overrides applied at every point (staged engine).
    pub overrides: StageOverrides,
    /// Most files alive at once (staged engine); None: the default for each worker count.
    pub in_flight: Option<usize>,
    /// The memory budget in bytes.
    pub max_memory: u64,
    /// Uncounted rounds first.
    pub warmup: usize,
    /// Counted runs per point, at least.
    pub min_runs: usize,
    /// Measured seconds per point, at least (summed wall time of its counted runs).
    pub min_time: f64,
    /// Counted runs per point, at most.
    pub max_runs: usize,
    /// Re-run a point's run when other processes took more than 10% of the machine.
    pub quiet_machine: bool,
    /// Where T1 comes from.
    pub baseline: Baseline,
    /// One more, uncounted, run writes its output here at the end.
    pub keep_output: Option<PathBuf>,
    /// Folder in which each run's temporary output folder is made (the system's temporary
    /// folder when None).
    pub scratch: Option<PathBuf>,
    /// Trace one run of each point for its timeline (`--html`): the first warm-up run, or
    /// the first counted run when there is no warm-up.
    pub timelines: bool,
}

/// The timeline of one run of a point (see [`SweepPlan::timelines`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointTimeline {
    /// Engine.
    pub engine: Engine,
    /// Worker count.
    pub workers: usize,
    /// Cores the run was allowed.
    pub cores_allowed: usize,
    /// Whether the traced run was one of the counted runs (there was no warm-up).
    pub counted: bool,
    /// The binned timeline.
    pub timeline: crate::trace::summary::TimelineSummary,
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

/// How the runs were scheduled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Uncounted rounds.
    pub warmup: usize,
    /// Counted runs per point, at least.
    pub min_runs: usize,
    /// Measured seconds per point, at least.
    pub min_time_seconds: f64,
    /// Counted runs per point, at most.
    pub max_runs: usize,
    /// Allowed-core counts swept by CPU affinity (None: all cores, no affinity).
    pub cores: Option<Vec<usize>>,
    /// Whether loaded runs were re-run.
    pub quiet_machine: bool,
    /// How runs were ordered.
    pub order: String,
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
    /// How runs were scheduled.
    pub schedule: Schedule,
    /// The baseline asked for.
    pub baseline: Baseline,
    /// Raw counted runs per point.
    pub points: Vec<PointSamples>,
    /// The serial engine's runs when it is the baseline.
    pub serial_baseline: Option<PointSamples>,
    /// The table, fits and recommendations: [`analyse`] of the runs above.
    pub analysis: SweepAnalysis,
    /// One traced run per point, when asked for (`--html`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timelines: Vec<PointTimeline>,
}

/// Analyses a record's runs again with the very same function and inputs as the sweep did
/// (`graypipe amdahl --from`): the result equals `record.analysis`.
pub fn reanalyse(record: &SweepRecord) -> SweepAnalysis {
    let serial = record
        .serial_baseline
        .as_ref()
        .or_else(|| record.points.iter().find(|s| s.engine == Engine::Serial));
    analyse(&record.points, record.baseline, serial)
}

/// Progress of a sweep: run `done` of about `total`, with the time so far.
#[derive(Debug, Clone, Copy)]
pub struct SweepProgress {
    /// Runs finished.
    pub done: usize,
    /// Runs expected (grows when points need more runs for their minimum time).
    pub total: usize,
    /// Seconds since the sweep started.
    pub elapsed: f64,
}

/// Errors that stop a sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// `--keep-output` is not empty.
    #[error("--keep-output {0} exists and is not empty")]
    KeepOutputNotEmpty(PathBuf),
    /// More cores asked for than available.
    #[error("--cores {asked}: only {available} CPU(s) are available to this process")]
    TooManyCores {
        /// Asked.
        asked: usize,
        /// Available.
        available: usize,
    },
    /// Affinity not supported or refused.
    #[error("cannot restrict the run to {cores} core(s): {reason}")]
    Affinity {
        /// Cores.
        cores: usize,
        /// Why.
        reason: String,
    },
    /// A temporary folder could not be made.
    #[error("cannot create a temporary folder: {0}")]
    Scratch(std::io::Error),
    /// Listing the inputs failed.
    #[error("{0}")]
    Plan(String),
    /// The cancel token was set (Ctrl-C, SIGTERM): the run in progress was stopped and every
    /// temporary folder removed; no record is made from the runs before it.
    #[error("interrupted after {runs} run(s): no results recorded")]
    Interrupted {
        /// Runs that had finished before the one cancelled.
        runs: usize,
    },
}

fn points_for(p: &SweepPlan, all_cores: usize) -> (Vec<PointSamples>, Option<PointSamples>) {
    let mut cores = p.cores.clone().unwrap_or_else(|| vec![all_cores]);
    if p.cores.is_some() && p.baseline == Baseline::Same && !cores.contains(&1) {
        cores.insert(0, 1);
    }
    let point = |engine, workers: usize, cores_allowed: usize| PointSamples {
        engine,
        workers,
        cores_allowed,
        stage_workers: StageWorkers::uniform(workers).with_overrides(&p.overrides),
        runs: Vec::new(),
        discarded_loaded_runs: 0,
    };
    let smallest = cores.iter().copied().min().unwrap_or(all_cores);
    let mut points = Vec::new();
    for &engine in &p.engines {
        if engine == Engine::Serial {
            points.push(point(engine, 1, smallest));
            continue;
        }
        for &c in &cores {
            let mut counts = match (&p.workers, &p.cores) {
                (Some(w), _) => w.clone(),
                (None, Some(_)) => vec![c],
                (None, None) => (1..=all_cores).collect(),
            };
            if p.baseline == Baseline::Same && c == smallest && !counts.contains(&1) {
                counts.insert(0, 1);
            }
            points.extend(counts.iter().map(|&n| point(engine, n, c)));
        }
    }
    let serial = (p.baseline == Baseline::Serial && !p.engines.contains(&Engine::Serial))
        .then(|| point(Engine::Serial, 1, smallest));
    (points, serial)
}

fn empty_or_missing(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// What one run needs besides its point.
struct Runner<'a> {
    plan: &'a SweepPlan,
    allowed: Vec<usize>,
    cancel: CancelToken,
    /// Every run's output is kept until the sweep ends: deleting 400 files just before the
    /// next run made that run 3 to 5 times slower on ext4 (the deletions compete with its
    /// writes).
    finished_outputs: Vec<tempfile::TempDir>,
}

impl Runner<'_> {
    /// One run of `pt`; with `trace`, also its binned timeline.
    fn run_once(
        &mut self,
        pt: &PointSamples,
        out: Option<&Path>,
        trace: bool,
    ) -> Result<(RunSample, Option<crate::trace::summary::TimelineSummary>), SweepError> {
        let p = self.plan;
        if self.cancel.is_cancelled() {
            return Err(SweepError::Interrupted {
                runs: self.finished_outputs.len(),
            });
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix("graypipe-sweep-");
        let tmp = match &p.scratch {
            Some(dir) => builder.tempdir_in(dir),
            None => builder.tempdir(),
        }
        .map_err(SweepError::Scratch)?;
        let out_dir = out.map_or_else(|| tmp.path().to_path_buf(), Path::to_path_buf);
        let batch = plan(&p.inputs, &out_dir, &p.plan_options)
            .map_err(|e| SweepError::Plan(e.to_string()))?;
        let config = EngineConfig {
            engine: pt.engine,
            workers: pt.workers,
            in_flight: p
                .in_flight
                .unwrap_or_else(|| EngineConfig::default_in_flight(pt.workers)),
            stage_caps: StageCaps::from_overrides(&p.overrides),
            max_memory: p.max_memory,
        };
        // Threads the engine spawns inherit the calling thread's affinity.
        let guard = match p.cores {
            Some(_) => Some(
                AffinityGuard::restrict(&self.allowed, pt.cores_allowed).map_err(|e| {
                    SweepError::Affinity {
                        cores: pt.cores_allowed,
                        reason: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let machine0 = probe::machine_busy();
        let cpu0 = probe::process_cpu();
        let window = Instant::now();
        let summary = crate::run::run_traced(
            &batch,
            &p.settings,
            &config,
            &self.cancel,
            false,
            trace,
            &mut |_, _| {},
        );
        let window = window.elapsed().as_secs_f64();
        if self.cancel.is_cancelled() {
            // A cancelled run measured part of the job: it is no sample. `tmp` is removed here,
            // the earlier runs' folders when the runner is dropped.
            return Err(SweepError::Interrupted {
                runs: self.finished_outputs.len(),
            });
        }
        let cpu1 = probe::process_cpu();
        let machine1 = probe::machine_busy();
        drop(guard);
        let (user, system) = match (cpu0, cpu1) {
            (Some((u0, s0)), Some((u1, s1))) => (
                u1.saturating_sub(u0).as_secs_f64(),
                s1.saturating_sub(s0).as_secs_f64(),
            ),
            _ => (0.0, 0.0),
        };
        let other = match (machine0, machine1) {
            (Some(a), Some(b)) if cpu0.is_some() => {
                Some((b.busy_seconds - a.busy_seconds - user - system).max(0.0))
            }
            _ => None,
        };
        let cpus = machine1.map_or(1, |m| m.cpus).max(1);
        let stats = &summary.stats.stages;
        let sample = RunSample {
            // The same window as the CPU and load figures, so cores used = CPU / wall holds.
            wall_seconds: window,
            user_seconds: user,
            system_seconds: system,
            other_cpu_seconds: other,
            other_load: other.map(|o| {
                if window > 0.0 {
                    o / (window * cpus as f64)
                } else {
                    0.0
                }
            }),
            stage_busy_seconds: stats.map_ref(|s| s.busy.as_secs_f64()),
            stage_cpu_seconds: stats.map_ref(|s| s.cpu.as_secs_f64()),
            stage_wait_seconds: stats.map_ref(|s| s.wait.as_secs_f64()),
            files: summary.written(),
            failed: summary.failed(),
            megapixels: summary.megapixels(),
        };
        self.finished_outputs.push(tmp);
        Ok((sample, summary.timeline_summary()))
    }
}

fn needs_more(pt: &PointSamples, p: &SweepPlan) -> bool {
    let measured: f64 = pt.runs.iter().map(|r| r.wall_seconds).sum();
    pt.runs.len() < p.max_runs.max(1)
        && (pt.runs.len() < p.min_runs.max(1) || measured < p.min_time)
}

/// Runs the sweep. `on_progress` is called after every run. Setting `cancel` (from a signal
/// handler or another thread) stops the run in progress as `graypipe run` stops (no new file
/// starts) and ends the sweep with [`SweepError::Interrupted`] once every temporary output
/// folder is removed.
pub fn run_sweep(
    p: &SweepPlan,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(SweepProgress),
) -> Result<SweepRecord, SweepError> {
    if let Some(k) = &p.keep_output {
        if !empty_or_missing(k) {
            return Err(SweepError::KeepOutputNotEmpty(k.clone()));
        }
    }
    let allowed = probe::allowed_cpus().unwrap_or_default();
    let all_cores = if allowed.is_empty() {
        crate::pipeline::logical_cores()
    } else {
        allowed.len()
    };
    if let Some(cores) = &p.cores {
        if allowed.is_empty() {
            return Err(SweepError::Affinity {
                cores: cores.iter().copied().max().unwrap_or(1),
                reason: "this platform does not tell which CPUs the process may use (--cores needs Linux)".into(),
            });
        }
        if let Some(&asked) = cores.iter().find(|&&c| c > allowed.len()) {
            return Err(SweepError::TooManyCores {
                asked,
                available: allowed.len(),
            });
        }
    }
    let (mut points, mut serial) = points_for(p, all_cores);
    let mut runner = Runner {
        plan: p,
        allowed,
        cancel: cancel.clone(),
        finished_outputs: Vec::new(),
    };
    let started = Instant::now();
    let per_round = points.len() + usize::from(serial.is_some());
    let mut total = (p.warmup + p.min_runs.max(1)) * per_round;
    let mut done = 0;
    let mut job = None;
    let mut reruns = vec![0usize; per_round];
    let mut round = 0;
    let mut timelines: Vec<PointTimeline> = Vec::new();
    loop {
        let counted = round >= p.warmup;
        let mut ran = 0;
        for (i, pt) in serial.iter_mut().chain(points.iter_mut()).enumerate() {
            if counted && !needs_more(pt, p) {
                continue;
            }
            let trace = p.timelines
                && !timelines.iter().any(|t: &PointTimeline| {
                    (t.engine, t.workers, t.cores_allowed)
                        == (pt.engine, pt.workers, pt.cores_allowed)
                })
                && (counted || round == 0);
            let (sample, timeline) = runner.run_once(pt, None, trace)?;
            if let Some(timeline) = timeline {
                timelines.push(PointTimeline {
                    engine: pt.engine,
                    workers: pt.workers,
                    cores_allowed: pt.cores_allowed,
                    counted,
                    timeline,
                });
            }
            ran += 1;
            done += 1;
            job.get_or_insert_with(|| JobInfo {
                inputs: p.inputs.iter().map(|i| i.display().to_string()).collect(),
                operation: p.settings.operation.to_string(),
                format: p.plan_options.format.to_string(),
                files: sample.files,
                megapixels: sample.megapixels,
            });
            let loaded = sample.other_load.is_some_and(|l| l > BUSY_MACHINE);
            if counted && p.quiet_machine && loaded && reruns[i] < MAX_QUIET_RERUNS {
                reruns[i] += 1;
                pt.discarded_loaded_runs += 1;
            } else if counted {
                pt.runs.push(sample);
            }
            total = total.max(done + 1);
            on_progress(SweepProgress {
                done,
                total,
                elapsed: started.elapsed().as_secs_f64(),
            });
        }
        round += 1;
        if counted && ran == 0 {
            break;
        }
    }
    if let (Some(k), Some(pt)) = (&p.keep_output, points.last()) {
        let pt = pt.clone();
        runner.run_once(&pt, Some(k), false)?;
    }
    let record = SweepRecord {
        graypipe_version: env!("CARGO_PKG_VERSION").to_string(),
        machine: Machine::current(),
        job: job.unwrap_or(JobInfo {
            inputs: Vec::new(),
            operation: String::new(),
            format: String::new(),
            files: 0,
            megapixels: 0.0,
        }),
        schedule: Schedule {
            warmup: p.warmup,
            min_runs: p.min_runs.max(1),
            min_time_seconds: p.min_time,
            max_runs: p.max_runs.max(1),
            cores: p.cores.clone(),
            quiet_machine: p.quiet_machine,
            order: "interleaved: each round runs once every point that still needs runs".into(),
        },
        baseline: p.baseline,
        points,
        serial_baseline: serial.take(),
        timelines,
        analysis: SweepAnalysis {
            rows: Vec::new(),
            engines: Vec::new(),
            bootstrap: super::analysis::BootstrapInfo {
                resamples: 0,
                seed: 0,
                confidence_percent: 0,
            },
            warnings: Vec::new(),
        },
    };
    let analysis = reanalyse(&record);
    Ok(SweepRecord { analysis, ..record })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::PerStage;

    fn plan(
        engines: &[Engine],
        workers: Option<Vec<usize>>,
        cores: Option<Vec<usize>>,
        baseline: Baseline,
    ) -> SweepPlan {
        SweepPlan {
            inputs: Vec::new(),
            plan_options: PlanOptions::default(),
            settings: Settings::default(),
            engines: engines.to_vec(),
            workers,
            cores,
            overrides: StageOverrides::default(),
            in_flight: None,
            max_memory: 1 << 30,
            warmup: 0,
            min_runs: 1,
            min_time: 0.0,
            max_runs: 1,
            quiet_machine: false,
            baseline,
            keep_output: None,
            scratch: None,
            timelines: false,
        }
    }

    fn keys(points: &[PointSamples]) -> Vec<(Engine, usize, usize)> {
        points
            .iter()
            .map(|p| (p.engine, p.workers, p.cores_allowed))
            .collect()
    }

    #[test]
    fn points_follow_workers_and_cores() {
        let (p, s) = points_for(&plan(&[Engine::Rayon], None, None, Baseline::Same), 3);
        assert_eq!(
            keys(&p),
            [
                (Engine::Rayon, 1, 3),
                (Engine::Rayon, 2, 3),
                (Engine::Rayon, 3, 3)
            ]
        );
        assert!(s.is_none());
        // --cores without --workers: n workers on n cores, with the 1-core baseline added.
        let (p, _) = points_for(
            &plan(&[Engine::Rayon], None, Some(vec![2, 4]), Baseline::Same),
            4,
        );
        assert_eq!(
            keys(&p),
            [
                (Engine::Rayon, 1, 1),
                (Engine::Rayon, 2, 2),
                (Engine::Rayon, 4, 4)
            ]
        );
        // --workers without 1 gets the baseline point; the serial baseline runs on the fewest cores.
        let (p, s) = points_for(
            &plan(
                &[Engine::Staged],
                Some(vec![2]),
                Some(vec![2]),
                Baseline::Serial,
            ),
            2,
        );
        assert_eq!(keys(&p), [(Engine::Staged, 2, 2)]);
        assert_eq!(
            s.map(|s| (s.engine, s.cores_allowed)),
            Some((Engine::Serial, 2))
        );
        let (p, _) = points_for(
            &plan(&[Engine::Staged], Some(vec![2]), None, Baseline::Same),
            2,
        );
        assert_eq!(keys(&p), [(Engine::Staged, 1, 2), (Engine::Staged, 2, 2)]);
    }

    #[test]
    fn a_point_runs_until_both_minimums_are_met_and_stops_at_the_maximum() {
        let mut p = plan(&[Engine::Rayon], None, None, Baseline::Same);
        p.min_runs = 2;
        p.min_time = 1.0;
        p.max_runs = 5;
        let (mut pts, _) = points_for(&p, 1);
        let pt = &mut pts[0];
        let run = |w: f64| RunSample {
            wall_seconds: w,
            user_seconds: 0.0,
            system_seconds: 0.0,
            other_cpu_seconds: None,
            other_load: None,
            stage_busy_seconds: PerStage::default(),
            stage_cpu_seconds: PerStage::default(),
            stage_wait_seconds: PerStage::default(),
            files: 1,
            failed: 0,
            megapixels: 0.0,
        };
        assert!(needs_more(pt, &p));
        pt.runs.push(run(0.6));
        assert!(needs_more(pt, &p), "one run of two");
        pt.runs.push(run(0.3));
        assert!(needs_more(pt, &p), "0.9 s of 1");
        pt.runs.push(run(0.3));
        assert!(!needs_more(pt, &p));
        let (mut pts, _) = points_for(&p, 1);
        pts[0].runs = (0..5).map(|_| run(0.01)).collect();
        assert!(!needs_more(&pts[0], &p), "at most --max-runs");
    }
}
