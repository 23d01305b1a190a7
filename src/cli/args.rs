//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::codec::{DecodeLimits, FormatChoice, PngCompression};
use crate::ops::{Luma, Operation};
use crate::pipeline::workers::StageOverrides;
use crate::pipeline::{Engine, Settings};
use crate::sweep::spec::{EngineList, WorkerList};

/// Parallel batch grayscale and threshold conversion, pixel-exact with OpenCV.
#[derive(Debug, Parser)]
#[command(name = "graypipe", version, about, max_term_width = 100)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// graypipe's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert images to gray (and threshold them), mirroring the input tree into DIR.
    Run(RunArgs),
    /// Run the same job over a range of worker counts (and engines) and print Amdahl-style
    /// speedup tables, per-stage timings and recommendations.
    Sweep(SweepArgs),
    /// Amdahl's law: the theoretical table for a parallel fraction, or a refit of a saved sweep.
    Amdahl(AmdahlArgs),
    /// Join the `--report` files of a sharded run (`run --shard K/N`) into one, checking that
    /// every shard ran once over the same listing and every file was processed once.
    Merge(MergeArgs),
}

/// Luma weights on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LumaArg {
    /// BT.601, OpenCV's COLOR_BGR2GRAY.
    Bt601,
    /// BT.709.
    Bt709,
}

/// `--bit-depth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BitDepthArg {
    /// 1-bit PNG for two-valued results, 8-bit otherwise.
    Auto,
    /// Always 8-bit.
    #[value(name = "8")]
    Eight,
}

/// What to compute and how to read and write: shared by every command that runs the job.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Image files and folders (folders are walked recursively).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Threshold after gray conversion: TYPE:LEVEL (binary, binary-inv, trunc, tozero,
    /// tozero-inv; LEVEL a number, otsu or triangle), adaptive-mean[-inv]:B:C,
    /// adaptive-gaussian[-inv]:B:C, or the shorthands otsu, triangle, NUMBER. Gray only if absent.
    #[arg(long, value_name = "SPEC", value_parser = parse_operation, allow_hyphen_values = true)]
    pub threshold: Option<Operation>,

    /// The value given to pixels that pass the threshold.
    #[arg(long, default_value_t = 255.0, allow_negative_numbers = true)]
    pub maxval: f64,

    /// Luma weights for colour to gray.
    #[arg(long, value_enum, default_value = "bt601")]
    pub luma: LumaArg,

    /// Output format: png, jpeg, bmp, tiff, webp (lossless), pnm, or same (each input's own).
    #[arg(long, default_value = "png", value_parser = parse_format)]
    pub format: FormatChoice,

    /// PNG bit depth: auto writes two-valued results in 1 bit.
    #[arg(long, value_enum, default_value = "auto")]
    pub bit_depth: BitDepthArg,

    /// PNG deflate effort.
    #[arg(long, value_enum, default_value = "fast")]
    pub png_compression: PngCompression,

    /// Refuse images with more pixels than this (N, or WxH).
    #[arg(long, default_value = "16384x16384", value_parser = parse_pixels, value_name = "N|WxH")]
    pub max_pixels: u64,

    /// Follow symbolic links while walking folders (loops are reported, not followed).
    #[arg(long)]
    pub follow_links: bool,

    /// Files that may wait between two stages (staged engine).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=65536), value_name = "N")]
    pub queue: u32,

    /// Per-stage thread counts for the staged engine, e.g. read=2,decode=3,write=1.
    #[arg(long, value_name = "STAGE=N,...")]
    pub stage_workers: Option<StageOverrides>,
}

impl JobArgs {
    /// The per-file settings these arguments describe.
    pub fn settings(&self) -> Settings {
        Settings {
            operation: self
                .threshold
                .map_or(Operation::Gray, |op| op.with_maxval(self.maxval)),
            luma: match self.luma {
                LumaArg::Bt601 => Luma::Bt601,
                LumaArg::Bt709 => Luma::Bt709,
            },
            one_bit_png: self.bit_depth == BitDepthArg::Auto,
            png_compression: self.png_compression,
            limits: DecodeLimits {
                max_pixels: self.max_pixels,
            },
        }
    }
}

/// `graypipe run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// What to convert and how.
    #[command(flatten)]
    pub job: JobArgs,

    /// Output folder (created if needed); the input tree is mirrored below it.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Execution engine.
    #[arg(long, value_enum, default_value = "staged")]
    pub engine: Engine,

    /// Threads for each stage of the staged engine (the compute stages, and read and write
    /// unless --stage-workers sets them), or the rayon pool size. Default: logical cores.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,

    /// Stop at the first failed file.
    #[arg(long)]
    pub fail_fast: bool,

    /// Leave files whose output already exists.
    #[arg(long)]
    pub skip_existing: bool,

    /// Print the input -> output plan and stop.
    #[arg(long)]
    pub dry_run: bool,

    /// Write the run's full record as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Convert only shard K of N (1-based) of the listing, or `auto` to read K and N from
    /// Slurm, Kubernetes, AWS Batch or Google Cloud Batch variables. Join the shards' --report
    /// files with `graypipe merge`.
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<crate::batch::shard::ShardArg>,

    /// How files are shared out with --shard: `size` balances bytes (every shard must see the
    /// same listing), `hash` of the relative path keeps files on their shard as others are added.
    #[arg(long, value_enum, default_value = "size", requires = "shard")]
    pub shard_by: crate::batch::shard::ShardBy,

    /// No progress bar and no summary (errors are still printed).
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// One line per file written.
    #[arg(short, long)]
    pub verbose: bool,
}

/// `graypipe sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// What to convert and how (as for `run`; outputs go to temporary folders).
    #[command(flatten)]
    pub job: JobArgs,

    /// Worker counts: a list (1,2,4,8) or an inclusive range (1..8). Default: 1 to the number
    /// of logical cores.
    #[arg(short, long, value_name = "LIST")]
    pub workers: Option<WorkerList>,

    /// Engines to compare, comma-separated (staged, rayon, serial).
    #[arg(long, value_name = "LIST", default_value = "staged")]
    pub engine: EngineList,

    /// Uncounted runs of every point first.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub warmup: usize,

    /// Counted runs of every point.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,

    /// T1 for the speedups: each engine's own 1-worker run, or the serial engine.
    #[arg(long, value_enum, default_value = "same")]
    pub baseline: crate::sweep::Baseline,

    /// Keep the last run's output in DIR (must be empty or absent).
    #[arg(long, value_name = "DIR")]
    pub keep_output: Option<PathBuf>,

    /// Make each run's temporary output folder inside DIR (default: the system's temporary
    /// folder). A RAM disk such as /dev/shm takes the disk out of the measurement.
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,

    /// Write the whole sweep (raw per-run times included) as JSON.
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,

    /// Write the table as CSV.
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,

    /// Write the table and conclusions as Markdown.
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,

    /// Draw speedup against workers (measured, ideal, Amdahl fit) as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// No progress line.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `graypipe amdahl`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["parallel_fraction", "from"])))]
pub struct AmdahlArgs {
    /// The parallel fraction P (0 to 1) for the theoretical table.
    #[arg(short, long, value_name = "P", value_parser = parse_fraction)]
    pub parallel_fraction: Option<f64>,

    /// Worker counts for the theoretical table.
    #[arg(short, long, value_name = "LIST", default_value = "1,2,4,8,16,32,64")]
    pub workers: WorkerList,

    /// Refit a sweep saved with `graypipe sweep --export-json`.
    #[arg(long, value_name = "SWEEP.json")]
    pub from: Option<PathBuf>,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .ok_or_else(|| format!("'{s}' is not a fraction from 0 to 1"))
}

fn parse_operation(s: &str) -> Result<Operation, String> {
    s.parse::<Operation>().map_err(|e| e.to_string())
}

fn parse_format(s: &str) -> Result<FormatChoice, String> {
    s.parse()
}

/// `N` or `WxH`.
pub fn parse_pixels(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a pixel count (N or WxH, e.g. 16384x16384)");
    let n = match s.split_once(['x', 'X']) {
        Some((w, h)) => {
            let w: u64 = w.trim().parse().map_err(|_| bad())?;
            let h: u64 = h.trim().parse().map_err(|_| bad())?;
            w.checked_mul(h).ok_or_else(bad)?
        }
        None => s.trim().parse().map_err(|_| bad())?,
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(n)
}

/// The number of logical cores (1 if unknown).
pub fn logical_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `graypipe merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' `--report` files.
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,

    /// Where to write the merged record (JSON).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}
