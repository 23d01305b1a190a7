//! The `--report FILE` JSON record of one run. Field meanings are listed in the README.

use serde::Serialize;

use crate::error::{FileError, Stage};
use crate::pipeline::{EngineConfig, Settings, StageStats};
use crate::run::{FileStatus, RunSummary};

/// The whole record.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// graypipe's version.
    pub graypipe_version: &'static str,
    /// Engine name.
    pub engine: String,
    /// Threads per stage.
    pub workers: crate::pipeline::StageWorkers,
    /// Channel capacity between stages.
    pub queue: usize,
    /// The operation, as a SPEC.
    pub operation: String,
    /// Luma weights.
    pub luma: crate::ops::Luma,
    /// Counts of files by outcome.
    pub files: FileCounts,
    /// Wall-clock seconds of the processing (listing and planning excluded).
    pub wall_seconds: f64,
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
    /// Per stage in pipeline order.
    pub stages: Vec<StageRecord>,
    /// Every failed file with its stage and reason.
    pub failures: Vec<FileError>,
    /// Every planned file.
    pub results: Vec<FileRecord>,
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
}

impl From<&crate::batch::shard::ShardInfo> for ShardRecord {
    fn from(i: &crate::batch::shard::ShardInfo) -> Self {
        ShardRecord {
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

/// File counts.
#[derive(Debug, Serialize)]
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
    /// Threads.
    pub workers: usize,
    /// Files passed on.
    pub items: u64,
    /// Files failed here.
    pub failed: u64,
    /// Bytes in.
    pub bytes_in: u64,
    /// Bytes out.
    pub bytes_out: u64,
    /// Summed busy seconds over workers.
    pub busy_seconds: f64,
    /// Summed seconds waiting for input.
    pub starved_seconds: f64,
    /// Summed seconds waiting for room downstream.
    pub blocked_seconds: f64,
    /// busy / (wall x workers): how loaded the stage's threads were.
    pub utilisation: f64,
}

/// One file's line.
#[derive(Debug, Serialize)]
pub struct FileRecord {
    /// Input path.
    pub input: String,
    /// Output path.
    pub output: String,
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
}

fn stage_record(stage: Stage, st: &StageStats, wall: f64) -> StageRecord {
    let busy = st.busy.as_secs_f64();
    StageRecord {
        stage,
        workers: st.workers,
        items: st.items,
        failed: st.failed,
        bytes_in: st.bytes_in,
        bytes_out: st.bytes_out,
        busy_seconds: busy,
        starved_seconds: st.starved.as_secs_f64(),
        blocked_seconds: st.blocked.as_secs_f64(),
        utilisation: if wall > 0.0 && st.workers > 0 {
            busy / (wall * st.workers as f64)
        } else {
            0.0
        },
    }
}

impl RunReport {
    /// Builds the record of `summary`.
    pub fn new(summary: &RunSummary, settings: &Settings, config: &EngineConfig) -> Self {
        let wall = summary.stats.wall.as_secs_f64();
        let per_sec = |x: f64| if wall > 0.0 { x / wall } else { 0.0 };
        let written = summary.written();
        let megapixels = summary.megapixels();
        RunReport {
            graypipe_version: env!("CARGO_PKG_VERSION"),
            engine: summary.stats.engine.to_string(),
            workers: config.workers,
            queue: config.queue,
            operation: settings.operation.to_string(),
            luma: settings.luma,
            files: FileCounts {
                planned: summary.files.len() - summary.skipped(),
                written,
                failed: summary.failed(),
                skipped: summary.skipped(),
                not_started: summary.not_started(),
            },
            wall_seconds: wall,
            images_per_second: per_sec(written as f64),
            megapixels,
            megapixels_per_second: per_sec(megapixels),
            peak_rss_bytes: summary.peak_rss_bytes,
            host: super::process_info::host_name(),
            process_cpu_seconds: super::process_info::cpu_seconds(),
            shard: None,
            stages: Stage::ALL
                .iter()
                .map(|&s| stage_record(s, &summary.stats.stages[s.index()], wall))
                .collect(),
            failures: summary.failures().cloned().collect(),
            results: summary
                .files
                .iter()
                .map(|(job, status)| {
                    let w = match status {
                        FileStatus::Written(w) => Some(w),
                        _ => None,
                    };
                    FileRecord {
                        input: job.input.display().to_string(),
                        output: job.output.display().to_string(),
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
                    }
                })
                .collect(),
        }
    }
}
