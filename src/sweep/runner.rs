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
    /// Before each counted run, wait for the run's CPUs to be quiet ([`QuietPolicy`]).
    pub quiet_machine: bool,
    /// Where T1 comes from.
    pub baseline: Baseline,
    /// One more, uncounted, run writes its output here at the end.
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
    /// The CPUs this process could use, in the order `--cores` takes them (one per physical
    /// core before SMT siblings).
    #[serde(default)]
    pub cpu_order: Vec<usize>,
    /// CPUs the cgroup quota (`cpu.max`) allows, when there is one.
    #[serde(default)]
    pub cpu_quota: Option<f64>,
    /// What `--quiet-machine` did.
    #[serde(default)]
    pub quiet: Option<QuietReport>,
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
    /// More cores asked for than the cgroup's CPU quota lets run at once.
    #[error("--cores {asked}: the cgroup's CPU quota (cpu.max) allows {quota:.2} CPU(s) at once")]
    OverQuota {
        /// Asked.
        asked: usize,
        /// CPUs the quota allows.
        quota: f64,
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

/// The points a plan sweeps, and the serial baseline's when it runs apart.
pub(crate) fn points_for(
    p: &SweepPlan,
    all_cores: usize,
) -> (Vec<PointSamples>, Option<PointSamples>) {
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

/// How `--quiet-machine` waits before each counted run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuietPolicy {
    /// Other processes may take at most this share of the run's CPUs.
    pub threshold: f64,
    /// For this many seconds in a row.
    pub quiet_seconds: f64,
    /// Waiting before one run ends after this many seconds (the run then goes ahead).
    pub max_wait_seconds: f64,
    /// Waiting over the whole sweep ends after this many seconds: later runs do not wait.
    pub max_total_wait_seconds: f64,
}

impl Default for QuietPolicy {
    fn default() -> Self {
        Self {
            threshold: BUSY_MACHINE,
            quiet_seconds: 3.0,
            max_wait_seconds: 30.0,
            max_total_wait_seconds: 300.0,
        }
    }
}

/// What one wait for quiet gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietWait {
    /// Seconds waited.
    pub waited_seconds: f64,
    /// Whether the CPUs were quiet for long enough (false: gave up at the maximum wait).
    pub quiet: bool,
}

/// What `--quiet-machine` did over the sweep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuietReport {
    /// The policy.
    pub policy: Option<QuietPolicy>,
    /// Seconds waited in total.
    pub waited_seconds: f64,
    /// Counted runs started without a quiet machine (the wait gave up or the budget was spent).
    pub gave_up_runs: usize,
    /// Counted runs during which other processes took more than the threshold of the run's
    /// CPUs, as `engine workers/cores #run (load)`.
    pub loaded_runs: Vec<String>,
}

/// The seam between the sweep's schedule and the machine (hyperfine's `Executor`): the round
/// loop ([`run_rounds`]) asks an executor to run the job at a point and to wait for quiet;
/// [`JobExecutor`] runs the real job, tests run a simulated machine.
pub trait Executor {
    /// Runs the job once at `point` and measures it; `out` keeps the output there (the
    /// uncounted run of `--keep-output`).
    fn run(&mut self, point: &PointSamples, out: Option<&Path>) -> Result<RunSample, SweepError>;
    /// Waits until other processes take at most `policy.threshold` of the CPUs `point` may
    /// use for `policy.quiet_seconds` in a row, at most `max_wait` seconds.
    fn wait_for_quiet(
        &mut self,
        point: &PointSamples,
        policy: &QuietPolicy,
        max_wait: f64,
    ) -> Result<QuietWait, SweepError>;
}

/// The real job, run on this machine.
pub struct JobExecutor<'a> {
    plan: &'a SweepPlan,
    /// The CPUs this process may use, one per physical core first: `--cores k` takes the
    /// first k.
    cpu_order: Vec<usize>,
    cancel: CancelToken,
    /// Every run's output is kept until the sweep ends: deleting 400 files just before the
    /// next run made that run 3 to 5 times slower on ext4 (the deletions compete with its
    /// writes).
    finished_outputs: Vec<tempfile::TempDir>,
}

impl JobExecutor<'_> {
    /// The CPUs a run at `pt` may use.
    fn cpus_for(&self, pt: &PointSamples) -> Vec<usize> {
        match self.plan.cores {
            Some(_) => self.cpu_order[..pt.cores_allowed.min(self.cpu_order.len())].to_vec(),
            None => self.cpu_order.clone(),
        }
    }
}

impl Executor for JobExecutor<'_> {
    fn run(&mut self, pt: &PointSamples, out: Option<&Path>) -> Result<RunSample, SweepError> {
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
        let cpus = self.cpus_for(pt);
        // Threads the engine spawns inherit the calling thread's affinity.
        let guard = match p.cores {
            Some(_) => Some(
                AffinityGuard::restrict(&self.cpu_order, pt.cores_allowed).map_err(|e| {
                    SweepError::Affinity {
                        cores: pt.cores_allowed,
                        reason: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let sampler = probe::ThreadWaitSampler::start();
        let busy0 = probe::cpus_busy(&cpus);
        let cpu0 = probe::process_cpu();
        let window = Instant::now();
        let summary = crate::run(
            &batch,
            &p.settings,
            &config,
            &self.cancel,
            false,
            &mut |_, _| {},
        );
        let window = window.elapsed().as_secs_f64();
        if self.cancel.is_cancelled() {
            // A cancelled run measured part of the job: it is no sample. `tmp` is removed here,
            // the earlier runs' folders when the executor is dropped.
            return Err(SweepError::Interrupted {
                runs: self.finished_outputs.len(),
            });
        }
        let cpu1 = probe::process_cpu();
        let busy1 = probe::cpus_busy(&cpus);
        let waits = sampler.and_then(probe::ThreadWaitSampler::finish);
        drop(guard);
        let (user, system) = match (cpu0, cpu1) {
            (Some((u0, s0)), Some((u1, s1))) => (
                u1.saturating_sub(u0).as_secs_f64(),
                s1.saturating_sub(s0).as_secs_f64(),
            ),
            _ => (0.0, 0.0),
        };
        // Other load on the run's own CPUs: our threads ran only there.
        let other = match (busy0, busy1) {
            (Some(a), Some(b)) if cpu0.is_some() => Some((b - a - user - system).max(0.0)),
            _ => None,
        };
        let width = cpus.len().max(1) as f64;
        let stats = &summary.stats.stages;
        let sample = RunSample {
            // The same window as the CPU and load figures, so cores used = CPU / wall holds.
            wall_seconds: window,
            user_seconds: user,
            system_seconds: system,
            other_cpu_seconds: other,
            other_load: other.map(|o| {
                if window > 0.0 {
                    o / (window * width)
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
            cpu_wait_seconds: waits.map(|w| w.1),
            cpu_run_seconds: waits.map(|w| w.0),
            cpus,
        };
        self.finished_outputs.push(tmp);
        Ok(sample)
    }

    fn wait_for_quiet(
        &mut self,
        pt: &PointSamples,
        policy: &QuietPolicy,
        max_wait: f64,
    ) -> Result<QuietWait, SweepError> {
        const STEP: f64 = 0.5;
        let cpus = self.cpus_for(pt);
        let width = cpus.len().max(1) as f64;
        let (mut waited, mut quiet_for) = (0.0, 0.0);
        while waited < max_wait {
            let busy0 = probe::cpus_busy(&cpus);
            let started = Instant::now();
            std::thread::sleep(std::time::Duration::from_secs_f64(STEP));
            let step = started.elapsed().as_secs_f64();
            waited += step;
            if self.cancel.is_cancelled() {
                return Err(SweepError::Interrupted {
                    runs: self.finished_outputs.len(),
                });
            }
            // Nothing of ours runs while waiting: all the busy time is other processes'.
            let Some(load) = busy0
                .zip(probe::cpus_busy(&cpus))
                .map(|(a, b)| (b - a) / (step * width))
            else {
                return Ok(QuietWait {
                    waited_seconds: waited,
                    quiet: false,
                });
            };
            quiet_for = if load <= policy.threshold {
                quiet_for + step
            } else {
                0.0
            };
            if quiet_for >= policy.quiet_seconds {
                return Ok(QuietWait {
                    waited_seconds: waited,
                    quiet: true,
                });
            }
        }
        Ok(QuietWait {
            waited_seconds: waited,
            quiet: false,
        })
    }
}

fn needs_more(pt: &PointSamples, p: &SweepPlan) -> bool {
    let measured: f64 = pt.runs.iter().map(|r| r.wall_seconds).sum();
    pt.runs.len() < p.max_runs.max(1)
        && (pt.runs.len() < p.min_runs.max(1) || measured < p.min_time)
}

/// What the round loop measured.
pub struct Rounds {
    /// The counted runs per point.
    pub points: Vec<PointSamples>,
    /// The serial baseline's runs, when it runs apart.
    pub serial: Option<PointSamples>,
    /// Files and megapixels of the first run.
    pub first: Option<(usize, f64)>,
    /// What `--quiet-machine` did (None without it).
    pub quiet: Option<QuietReport>,
}

/// The round loop: warm-up rounds, then counted rounds interleaved over the points that still
/// need runs, until each has its minimum runs and time (at most its maximum). With
/// `--quiet-machine` each counted run first waits for quiet. Everything it measures comes from
/// `exec`, so the same loop runs the real job or a simulated machine.
pub fn run_rounds(
    p: &SweepPlan,
    mut points: Vec<PointSamples>,
    mut serial: Option<PointSamples>,
    exec: &mut dyn Executor,
    elapsed: &dyn Fn() -> f64,
    on_progress: &mut dyn FnMut(SweepProgress),
) -> Result<Rounds, SweepError> {
    let policy = QuietPolicy::default();
    let mut quiet = p.quiet_machine.then(|| QuietReport {
        policy: Some(policy),
        ..QuietReport::default()
    });
    let per_round = points.len() + usize::from(serial.is_some());
    let mut total = (p.warmup + p.min_runs.max(1)) * per_round;
    let mut done = 0;
    let mut first = None;
    let mut round = 0;
    loop {
        let counted = round >= p.warmup;
        let mut ran = 0;
        for pt in serial.iter_mut().chain(points.iter_mut()) {
            if counted && !needs_more(pt, p) {
                continue;
            }
            if let (true, Some(q)) = (counted, quiet.as_mut()) {
                let budget = (policy.max_total_wait_seconds - q.waited_seconds).max(0.0);
                let w = exec.wait_for_quiet(pt, &policy, policy.max_wait_seconds.min(budget))?;
                q.waited_seconds += w.waited_seconds;
                q.gave_up_runs += usize::from(!w.quiet);
            }
            let sample = exec.run(pt, None)?;
            ran += 1;
            done += 1;
            first.get_or_insert((sample.files, sample.megapixels));
            if counted {
                if let (Some(q), Some(l)) = (quiet.as_mut(), sample.other_load) {
                    if l > policy.threshold {
                        q.loaded_runs.push(format!(
                            "{} {}/{} #{} ({:.0}%)",
                            pt.engine,
                            pt.workers,
                            pt.cores_allowed,
                            pt.runs.len() + 1,
                            l * 100.0
                        ));
                    }
                }
                pt.runs.push(sample);
            }
            total = total.max(done + 1);
            on_progress(SweepProgress {
                done,
                total,
                elapsed: elapsed(),
            });
        }
        round += 1;
        if counted && ran == 0 {
            break;
        }
    }
    Ok(Rounds {
        points,
        serial,
        first,
        quiet,
    })
}

/// The CPUs this process may use, one per physical core before SMT siblings, and how many
/// of them it may keep busy at once (fewer under a cgroup CPU quota).
fn usable_cpus() -> (Vec<usize>, Option<f64>) {
    let allowed = probe::allowed_cpus().unwrap_or_default();
    (
        probe::physical_cores_first(&allowed, probe::core_of),
        probe::cgroup_cpu_quota(),
    )
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
    let (cpu_order, quota) = usable_cpus();
    // A quota of 1.5 CPUs lets one worker run flat out, not two.
    let quota_cores = quota.map(|q| (q.floor() as usize).max(1));
    let all_cores = if cpu_order.is_empty() {
        crate::pipeline::logical_cores()
    } else {
        cpu_order.len()
    };
    let all_cores = quota_cores.map_or(all_cores, |q| q.min(all_cores));
    if let Some(cores) = &p.cores {
        if cpu_order.is_empty() {
            return Err(SweepError::Affinity {
                cores: cores.iter().copied().max().unwrap_or(1),
                reason: "this platform does not tell which CPUs the process may use (--cores needs Linux)".into(),
            });
        }
        if let Some(&asked) = cores.iter().find(|&&c| c > cpu_order.len()) {
            return Err(SweepError::TooManyCores {
                asked,
                available: cpu_order.len(),
            });
        }
        if let (Some(&asked), Some(q)) = (cores.iter().find(|&&c| Some(c) > quota_cores), quota) {
            return Err(SweepError::OverQuota { asked, quota: q });
        }
    }
    let (points, serial) = points_for(p, all_cores);
    let mut exec = JobExecutor {
        plan: p,
        cpu_order: cpu_order.clone(),
        cancel: cancel.clone(),
        finished_outputs: Vec::new(),
    };
    let started = Instant::now();
    let rounds = run_rounds(
        p,
        points,
        serial,
        &mut exec,
        &|| started.elapsed().as_secs_f64(),
        on_progress,
    )?;
    if let (Some(k), Some(pt)) = (&p.keep_output, rounds.points.last()) {
        let pt = pt.clone();
        exec.run(&pt, Some(k))?;
    }
    Ok(record_of(p, rounds, Machine::current(), cpu_order, quota))
}

/// The record of a sweep's rounds, analysed.
pub fn record_of(
    p: &SweepPlan,
    rounds: Rounds,
    machine: Machine,
    cpu_order: Vec<usize>,
    quota: Option<f64>,
) -> SweepRecord {
    let (files, megapixels) = rounds.first.unwrap_or((0, 0.0));
    let record = SweepRecord {
        graypipe_version: env!("CARGO_PKG_VERSION").to_string(),
        machine,
        job: JobInfo {
            inputs: p.inputs.iter().map(|i| i.display().to_string()).collect(),
            operation: p.settings.operation.to_string(),
            format: p.plan_options.format.to_string(),
            files,
            megapixels,
        },
        schedule: Schedule {
            warmup: p.warmup,
            min_runs: p.min_runs.max(1),
            min_time_seconds: p.min_time,
            max_runs: p.max_runs.max(1),
            cores: p.cores.clone(),
            quiet_machine: p.quiet_machine,
            order: "interleaved: each round runs once every point that still needs runs".into(),
            cpu_order,
            cpu_quota: quota,
            quiet: rounds.quiet,
        },
        baseline: p.baseline,
        points: rounds.points,
        serial_baseline: rounds.serial,
        analysis: SweepAnalysis::default(),
    };
    let analysis = reanalyse(&record);
    SweepRecord { analysis, ..record }
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
            cpu_wait_seconds: None,
            cpu_run_seconds: None,
            cpus: Vec::new(),
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
