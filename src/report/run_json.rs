//! The `--report FILE` JSON record of one run. Field meanings are listed in the README.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::codec::FormatChoice;
use crate::error::FileError;
use crate::pipeline::Stage;
use crate::pipeline::{EngineConfig, Settings, StageStats};
use crate::run::{FileStatus, RunSummary};

/// The whole record.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// graypipe's version.
    pub graypipe_version: &'static str,
    /// Engine name.
    pub engine: String,
    /// Threads that did the work (N; the serial engine's is 1).
    pub workers: usize,
    /// Most files alive at once (the staged engine's token limit; 1 for serial, N for rayon).
    pub in_flight: usize,
    /// The most files that were alive at once (null for rayon, which does not count them).
    pub peak_in_flight: Option<usize>,
    /// Per-stage caps on concurrent workers (staged engine; null where uncapped).
    pub stage_caps: crate::pipeline::StageCaps,
    /// Set when the engine itself failed (no threads, or a bug): the run is not a success.
    pub engine_error: Option<String>,
    /// The memory budget (`--max-memory`), bytes.
    pub max_memory_bytes: u64,
    /// The most budget bytes held at once (files read and waiting, and working sets admitted).
    pub peak_admitted_bytes: u64,
    /// The operation, as a SPEC.
    pub operation: String,
    /// Luma weights.
    pub luma: crate::ops::Luma,
    /// `--maxval`: the value given to pixels that pass the threshold (null with no threshold,
    /// where it has no effect).
    pub maxval: Option<f64>,
    /// `--read`: `color` (imread, then the gray conversion) or `gray` (the decoder's gray).
    pub read: crate::codec::ReadMode,
    /// `--format`: the output format (`png`, `jpeg`, ...) or `same`.
    pub format: String,
    /// `--bit-depth`: `auto` (1-bit PNG for two-valued results) or `8`.
    pub bit_depth: &'static str,
    /// `--png-compression`.
    pub png_compression: crate::codec::PngCompression,
    /// `--max-pixels`: the most pixels a file may have.
    pub max_pixels: u64,
    /// Counts of files by outcome.
    pub files: FileCounts,
    /// Wall-clock seconds of the processing (listing and planning excluded).
    pub wall_seconds: f64,
    /// User CPU seconds of the process during the processing (null where unknown).
    pub cpu_user_seconds: Option<f64>,
    /// System CPU seconds of the process during the processing (null where unknown).
    pub cpu_system_seconds: Option<f64>,
    /// (user + system) / wall: the cores the run kept busy on average.
    pub cores_used: Option<f64>,
    /// Files written per second of wall time.
    pub images_per_second: f64,
    /// Megapixels written.
    pub megapixels: f64,
    /// Megapixels per second of wall time.
    pub megapixels_per_second: f64,
    /// Peak resident memory of the process, bytes (null where unknown).
    pub peak_rss_bytes: Option<u64>,
    /// Host name of the machine that ran it (null where unknown).
    pub host: Option<String>,
    /// CPU seconds (user + system) of the whole process so far (null where unknown).
    pub process_cpu_seconds: Option<f64>,
    /// The shard this run converted (`--shard`); null when the run was not sharded.
    pub shard: Option<ShardRecord>,
    /// A sharded run's whole listing with each file's shard (`graypipe merge --failed-list`
    /// names the files of a shard that never reported from it); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<Vec<super::retry::ListedInput>>,
    /// Per stage in pipeline order.
    pub stages: Vec<StageRecord>,
    /// Decoder warnings over all written files (damaged but readable inputs), every one
    /// counted (a file keeps only a few texts).
    pub warnings: u64,
    /// Every failed file with its stage and reason.
    pub failures: Vec<FailureRecord>,
    /// Every planned file.
    pub results: Vec<FileRecord>,
    /// The run's timeline binned for a page (only when the run was traced: `--trace` or
    /// `--html`); `graypipe report --html` draws it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<crate::trace::summary::TimelineSummary>,
}

/// A sharded run's description of its shard, so that `graypipe merge` can check the set.
#[derive(Debug, Clone, Serialize)]
pub struct ShardRecord {
    /// K, 1-based.
    pub index: u32,
    /// N.
    pub count: u32,
    /// `size` or `hash`.
    pub strategy: &'static str,
    /// Where K/N came from: `flag`, `slurm`, `kubernetes`, `aws-batch`, `google-batch`.
    pub source: &'static str,
    /// Files in the whole listing (all shards).
    pub listing_files: usize,
    /// Bytes in the whole listing.
    pub listing_bytes: u64,
    /// Bytes in this shard's share.
    pub shard_bytes: u64,
    /// Fingerprint of the whole listing (relative paths and sizes); equal on every shard.
    pub listing_fingerprint: String,
    /// What the shard was asked to do beyond the settings recorded at the top level: input
    /// roots, output folder and how files were chosen, so that `graypipe merge` can check
    /// that every shard ran the same job.
    pub job: ShardJob,
}

/// A path as recorded for checking: its text, and its exact bytes in hex when not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactPath {
    /// The path as text (bytes that are not UTF-8 shown as U+FFFD).
    pub path: String,
    /// The exact bytes in hex, present only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

impl ExactPath {
    /// `p` as recorded.
    pub fn new(p: &Path) -> Self {
        ExactPath {
            path: p.to_string_lossy().into_owned(),
            hex: exact_hex(p),
        }
    }
}

/// The job a shard ran, as far as the top-level settings do not say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardJob {
    /// The input roots, resolved (absolute, links followed), in the order given.
    pub inputs: Vec<ExactPath>,
    /// The output folder, resolved.
    pub output: ExactPath,
    /// How files were chosen and named (globs, extensions, hidden, depth, links, naming, list
    /// given or not), as one canonical text.
    pub selection: String,
}

impl ShardRecord {
    /// The record of shard `i` of a run of `job`.
    pub fn new(i: &crate::batch::shard::ShardInfo, job: ShardJob) -> Self {
        ShardRecord {
            job,
            index: i.shard.index,
            count: i.shard.count,
            strategy: i.by.name(),
            source: i.source.name(),
            listing_files: i.listing_files,
            listing_bytes: i.listing_bytes,
            shard_bytes: i.shard_bytes,
            listing_fingerprint: i.fingerprint.clone(),
        }
    }
}

/// File counts. `graypipe merge` reads them back (a count a report lacks reads as 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileCounts {
    /// Jobs planned (skipped ones excluded).
    pub planned: usize,
    /// Written.
    pub written: usize,
    /// Failed, including paths that could not be listed.
    pub failed: usize,
    /// Left alone because the output existed.
    pub skipped: usize,
    /// Not started because the run was cancelled.
    pub not_started: usize,
}

/// One stage's figures.
#[derive(Debug, Serialize)]
pub struct StageRecord {
    /// Stage name.
    pub stage: Stage,
    /// Most workers allowed in the stage at once (null: uncapped, every worker may run it).
    pub cap: Option<usize>,
    /// Files passed on.
    pub items: u64,
    /// Files failed here.
    pub failed: u64,
    /// Bytes in.
    pub bytes_in: u64,
    /// Bytes out.
    pub bytes_out: u64,
    /// Wall seconds inside the stage's tasks, summed over workers.
    pub busy_seconds: f64,
    /// Thread CPU seconds inside the stage's tasks, summed over workers (excludes time a
    /// worker waited for a core).
    pub cpu_seconds: f64,
    /// Seconds files waited, ready, in front of the stage for a worker (summed over files).
    pub wait_seconds: f64,
    /// busy / wall: workers inside the stage on average.
    pub mean_concurrency: f64,
}

/// One failed file (or path that could not be listed).
#[derive(Debug, Serialize)]
pub struct FailureRecord {
    /// The path, as text (bytes that are not UTF-8 shown as U+FFFD).
    pub input: String,
    /// The path's exact bytes in hex, present only when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_hex: Option<String>,
    /// The stage that failed (null for paths that could not be listed).
    pub stage: Option<Stage>,
    /// What went wrong, in words.
    pub reason: String,
}

impl From<&FileError> for FailureRecord {
    fn from(e: &FileError) -> Self {
        FailureRecord {
            input: e.input.to_string_lossy().into_owned(),
            input_hex: exact_hex(&e.input),
            stage: e.stage,
            reason: e.reason.clone(),
        }
    }
}

/// A path's exact bytes in lower-case hex when it is not valid UTF-8 (and so cannot be a JSON
/// string as is); `None` for the usual UTF-8 path, whose text is exact already.
pub fn exact_hex(p: &Path) -> Option<String> {
    if p.to_str().is_some() {
        return None;
    }
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = p.to_string_lossy().into_owned().into_bytes();
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One file's line.
#[derive(Debug, Serialize)]
pub struct FileRecord {
    /// Input path, as text (bytes that are not UTF-8 shown as U+FFFD).
    pub input: String,
    /// The input path's exact bytes in hex, present only when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_hex: Option<String>,
    /// Output path, as text.
    pub output: String,
    /// The output path's exact bytes in hex, present only when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_hex: Option<String>,
    /// `written`, `failed`, `skipped` or `not_started`.
    pub status: &'static str,
    /// Output bytes when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Width when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The threshold level applied (Otsu's and Triangle's are computed per file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// The decoder's warning texts for this file, a bounded number (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// How many warnings the decoder raised for this file, every one (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_count: Option<u64>,
}

fn stage_record(
    stage: Stage,
    st: &StageStats,
    cap: Option<usize>,
    wall: std::time::Duration,
) -> StageRecord {
    StageRecord {
        stage,
        cap,
        items: st.items,
        failed: st.failed,
        bytes_in: st.bytes_in,
        bytes_out: st.bytes_out,
        busy_seconds: st.busy.as_secs_f64(),
        cpu_seconds: st.cpu.as_secs_f64(),
        wait_seconds: st.wait.as_secs_f64(),
        mean_concurrency: st.mean_concurrency(wall),
    }
}

impl RunReport {
    /// Builds the record of `summary`, run with `settings` and `config`, writing `format`,
    /// one entry per file included.
    pub fn new(
        summary: &RunSummary,
        settings: &Settings,
        config: &EngineConfig,
        format: FormatChoice,
    ) -> Self {
        let mut report = Self::totals(summary, settings, config, format);
        report.results = file_records(summary);
        report
    }

    /// [`RunReport::new`] with `results` left empty: everything but the per-file entries,
    /// for a caller that shows only the totals (building 10,000 entries costs about 10 ms,
    /// which a run of 10,000 small files that writes no report would otherwise pay).
    pub fn totals(
        summary: &RunSummary,
        settings: &Settings,
        config: &EngineConfig,
        format: FormatChoice,
    ) -> Self {
        let wall = summary.stats.wall.as_secs_f64();
        let per_sec = |x: f64| if wall > 0.0 { x / wall } else { 0.0 };
        let written = summary.written();
        let megapixels = summary.megapixels();
        let cpu = summary.stats.process_cpu;
        let caps = if summary.stats.engine == crate::pipeline::Engine::Staged {
            config.stage_caps
        } else {
            crate::pipeline::StageCaps::NONE
        };
        RunReport {
            graypipe_version: env!("CARGO_PKG_VERSION"),
            engine: summary.stats.engine.to_string(),
            workers: summary.stats.workers,
            in_flight: summary.stats.in_flight,
            peak_in_flight: summary.stats.peak_in_flight,
            stage_caps: caps,
            engine_error: summary.stats.engine_error.clone(),
            max_memory_bytes: summary.stats.max_memory,
            peak_admitted_bytes: summary.stats.peak_admitted_bytes,
            operation: settings.operation.to_string(),
            luma: settings.luma,
            maxval: settings.operation.maxval(),
            read: settings.read,
            format: format.to_string(),
            bit_depth: if settings.one_bit_png { "auto" } else { "8" },
            png_compression: settings.png_compression,
            max_pixels: settings.limits.max_pixels,
            files: FileCounts {
                planned: summary.files.len() - summary.skipped(),
                written,
                failed: summary.failed(),
                skipped: summary.skipped(),
                not_started: summary.not_started(),
            },
            wall_seconds: wall,
            cpu_user_seconds: cpu.map(|c| c.user.as_secs_f64()),
            cpu_system_seconds: cpu.map(|c| c.system.as_secs_f64()),
            cores_used: summary.stats.cores_used(),
            images_per_second: per_sec(written as f64),
            megapixels,
            megapixels_per_second: per_sec(megapixels),
            peak_rss_bytes: summary.peak_rss_bytes,
            host: super::process_info::host_name(),
            process_cpu_seconds: super::process_info::cpu_seconds(),
            shard: None,
            listing: None,
            stages: Stage::ALL
                .iter()
                .map(|&s| {
                    stage_record(s, &summary.stats.stages[s], caps.get(s), summary.stats.wall)
                })
                .collect(),
            warnings: summary.warnings(),
            failures: summary.failures().map(FailureRecord::from).collect(),
            results: Vec::new(),
            timeline: summary.timeline_summary(),
        }
    }
}

/// One entry per file of `summary`, in plan order.
fn file_records(summary: &RunSummary) -> Vec<FileRecord> {
    summary
        .files
        .iter()
        .map(|(job, status)| {
            let w = match status {
                FileStatus::Written(w) => Some(w),
                _ => None,
            };
            FileRecord {
                input: job.input.to_string_lossy().into_owned(),
                input_hex: exact_hex(&job.input),
                output: job.output.to_string_lossy().into_owned(),
                output_hex: exact_hex(&job.output),
                status: match status {
                    FileStatus::Written(_) => "written",
                    FileStatus::Failed(_) => "failed",
                    FileStatus::Skipped => "skipped",
                    FileStatus::NotStarted => "not_started",
                },
                bytes: w.map(|w| w.bytes),
                width: w.map(|w| w.width),
                height: w.map(|w| w.height),
                level: w.and_then(|w| w.level),
                warnings: w.map(|w| w.warnings.clone()).unwrap_or_default(),
                warning_count: w
                    .map(|w| crate::codec::warning_count(&w.warnings))
                    .filter(|&n| n > 0),
            }
        })
        .collect()
}
