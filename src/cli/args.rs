//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use graypipe::batch::{
    read_path_list_within, GlobFilter, NameTemplate, PlanOptions, Selection, SelectionError,
};
use graypipe::codec::{DecodeLimits, FormatChoice, PngCompression, ReadMode};
use graypipe::ops::{Luma, Operation};
use graypipe::pipeline::workers::StageOverrides;
use graypipe::pipeline::{Engine, Settings};
use graypipe::sweep::spec::{EngineList, WorkerList};

/// Parallel batch grayscale and threshold conversion, pixel-exact with OpenCV.
#[derive(Debug, Parser)]
#[command(name = "graypipe", version, about, max_term_width = 100, after_help = super::EXIT_STATUS_HELP)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,

    /// Colour in help and the progress bar: auto (on a terminal, unless NO_COLOR is set),
    /// always or never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: clap::ColorChoice,
}

/// graypipe's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert images to gray (and threshold them), mirroring the input tree into DIR.
    #[command(after_help = super::EXIT_STATUS_HELP)]
    Run(Box<RunArgs>),
    /// Run the same job over a range of worker counts (and engines) and print Amdahl-style
    /// speedup tables, per-stage timings and recommendations.
    #[command(after_help = super::EXIT_STATUS_HELP)]
    Sweep(Box<SweepArgs>),
    /// Amdahl's law: the theoretical table for a parallel fraction, or a refit of a saved sweep.
    Amdahl(AmdahlArgs),
    /// Compare two sweeps saved with `sweep --export-json`: per point the ratio of median
    /// times B / A with a 95% bootstrap interval, and a verdict only where the interval lies
    /// beyond the threshold. Exit status 1 with --fail-if-slower when B is slower.
    #[command(after_help = super::compare_cmd::EXIT_STATUS_HELP)]
    Compare(CompareArgs),
    /// Turn a saved run record (`run --report`) or sweep export (`sweep --export-json`) into
    /// a self-contained HTML page.
    Report(ReportArgs),
    /// Join the `--report` files of a sharded run (`run --shard K/N`) into one, checking that
    /// every shard ran once over the same listing and every file was processed once.
    Merge(MergeArgs),
    /// Print a shell completion script, e.g. `graypipe completions bash > ~/.local/share/bash-completion/completions/graypipe`.
    Completions(CompletionsArgs),
    /// Print the man page (roff) for graypipe or one of its commands, e.g. `graypipe man | man -l -`.
    Man(ManArgs),
}

/// `graypipe report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The run record or sweep export (JSON).
    #[arg(value_name = "FILE.json")]
    pub record: PathBuf,

    /// Where to write the page.
    #[arg(long, value_name = "OUT.html")]
    pub html: PathBuf,
}

/// `graypipe completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `graypipe man`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// A command's page (graypipe-run(1), ...) instead of graypipe(1).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
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
    #[arg(required_unless_present = "files_from", value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Take only files whose path below the input folder matches GLOB (repeatable; `**`
    /// crosses folders; a GLOB without `/` matches the file name anywhere).
    #[arg(long, value_name = "GLOB", help_heading = "Choosing files")]
    pub include: Vec<String>,

    /// Leave files (and folders) matching GLOB, as for --include; wins over --include.
    #[arg(long, value_name = "GLOB", help_heading = "Choosing files")]
    pub exclude: Vec<String>,

    /// Take files with these extensions (case-insensitive) instead of the image formats' own
    /// list; the format is still read from the content.
    #[arg(long, value_name = "EXT,...", value_delimiter = ',', value_parser = parse_extension, help_heading = "Choosing files")]
    pub extensions: Option<Vec<String>>,

    /// Take files and folders whose names start with a dot (skipped by default).
    #[arg(long, help_heading = "Choosing files")]
    pub hidden: bool,

    /// Walk at most N levels below each input folder (1: only its own files).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Choosing files")]
    pub max_depth: Option<u32>,

    /// Also convert the files listed in FILE (`-`: standard input), one path per line. A
    /// relative path below the current folder is mirrored into the output; any other is
    /// named after its file name. Listed folders are skipped.
    #[arg(long, value_name = "FILE|-", help_heading = "Choosing files")]
    pub files_from: Option<PathBuf>,

    /// The --files-from list is NUL-separated (find -print0, fd -0, git ls-files -z).
    #[arg(long, requires = "files_from", help_heading = "Choosing files")]
    pub null: bool,

    /// Name --files-from entries below DIR by their path below DIR, as a run over the folder
    /// DIR names them (for a `graypipe merge --failed-list` of a run over DIR).
    #[arg(
        long,
        value_name = "DIR",
        requires = "files_from",
        help_heading = "Choosing files"
    )]
    pub relative_to: Option<PathBuf>,

    /// Output file name template: {stem}, {ext} (the input's extension), {outext}; the output
    /// extension is appended unless the template ends with it. E.g. '{stem}.{ext}' turns x.jpg
    /// and x.png into x.jpg.png and x.png.png.
    #[arg(long, value_name = "TEMPLATE", value_parser = parse_name, help_heading = "Naming outputs")]
    pub name: Option<NameTemplate>,

    /// Add SUFFIX to every output name's stem: x.jpg -> x_bw.png (same as --name '{stem}SUFFIX').
    #[arg(long, value_name = "SUFFIX", value_parser = parse_suffix, conflicts_with = "name", help_heading = "Naming outputs")]
    pub suffix: Option<NameTemplate>,

    /// Threshold after gray conversion: TYPE:LEVEL (binary, binary-inv, trunc, tozero,
    /// tozero-inv; LEVEL a number, otsu or triangle), adaptive-mean[-inv]:B:C,
    /// adaptive-gaussian[-inv]:B:C, or the shorthands otsu, triangle, NUMBER. Gray only if absent.
    #[arg(long, value_name = "SPEC", value_parser = ThresholdSpec, hide_possible_values = true, allow_hyphen_values = true)]
    pub threshold: Option<Operation>,

    /// The value given to pixels that pass the threshold (rounded and clamped to 0..255 as
    /// OpenCV does; must be a finite number).
    #[arg(long, default_value_t = 255.0, allow_negative_numbers = true, value_parser = parse_maxval)]
    pub maxval: f64,

    /// Luma weights for colour to gray.
    #[arg(long, value_enum, default_value = "bt601")]
    pub luma: Luma,

    /// How files are read: color is `cv2.imread(path)` followed by the gray conversion (as the
    /// book does); gray is `cv2.imread(path, cv2.IMREAD_GRAYSCALE)`, the decoder's own gray
    /// (luma only for JPEG, faster; libpng's weights for PNG), and ignores --luma.
    #[arg(long, value_enum, default_value = "color")]
    pub read: ReadMode,

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

    /// Most files alive at once in the staged engine, from the start of their read to the end
    /// of their write (memory is bounded by it). Default: twice the workers.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65536), value_name = "T")]
    pub in_flight: Option<u32>,

    /// Memory budget: a file is decoded only when the working set its header announces fits,
    /// with the files already admitted, in SIZE (e.g. 2GiB, 512MB). Default: half of the
    /// physical memory or of the cgroup's limit, whichever is smaller.
    #[arg(long, value_name = "SIZE", value_parser = graypipe::pipeline::memory::parse_size)]
    pub max_memory: Option<u64>,

    /// Retired: the staged engine has no queues between stages any more; see --in-flight.
    #[arg(long, hide = true, value_name = "N", value_parser = retired_queue)]
    pub queue: Option<u32>,

    /// Caps on how many workers may run a stage at once (staged engine), e.g. read=1 for a
    /// spinning disk or a network share. Uncapped stages may use every worker.
    #[arg(long, value_name = "STAGE=N,...")]
    pub stage_workers: Option<StageOverrides>,
}

impl JobArgs {
    /// How to list and name the files; reads the `--files-from` list (bounded).
    pub fn plan_options(&self, skip_existing: bool) -> Result<PlanOptions, SelectionError> {
        let filter = |globs: &[String]| {
            (!globs.is_empty())
                .then(|| GlobFilter::new(globs))
                .transpose()
        };
        // The list is held within the memory budget the run will use.
        let budget = self
            .max_memory
            .unwrap_or_else(graypipe::pipeline::memory::default_budget);
        let listed = match &self.files_from {
            None => Vec::new(),
            Some(list) if list.as_os_str() == "-" => {
                read_path_list_within(std::io::stdin().lock(), self.null, budget, list)?
            }
            Some(list) => {
                let file =
                    std::fs::File::open(list).map_err(|e| SelectionError::ListUnreadable {
                        list: list.clone(),
                        reason: graypipe::error::io_reason(&e),
                    })?;
                read_path_list_within(file, self.null, budget, list)?
            }
        };
        Ok(PlanOptions {
            format: self.format,
            follow_links: self.follow_links,
            skip_existing,
            selection: Selection {
                include: filter(&self.include)?,
                exclude: filter(&self.exclude)?,
                extensions: self.extensions.clone(),
                hidden: self.hidden,
                max_depth: self.max_depth.map(|d| d as usize),
                listed,
                listed_root: self.relative_to.clone(),
            },
            naming: self.name.clone().or_else(|| self.suffix.clone()),
        })
    }

    /// The per-file settings these arguments describe.
    pub fn settings(&self) -> Settings {
        Settings {
            operation: self
                .threshold
                .map_or(Operation::Gray, |op| op.with_maxval(self.maxval)),
            luma: self.luma,
            // Only the user's permission: codec::one_bit_png makes the 1-bit decision.
            one_bit_png: self.bit_depth == BitDepthArg::Auto,
            png_compression: self.png_compression,
            limits: DecodeLimits {
                max_pixels: self.max_pixels,
            },
            read: self.read,
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

    /// N, the threads doing the work: the staged engine's workers (shared by every stage) or
    /// the rayon pool's size; the serial engine uses one. Default: logical cores.
    #[arg(short, long, visible_short_alias = 'j', visible_alias = "jobs", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
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

    /// Write the run's timeline as Chrome Trace Event JSON to FILE (open it in
    /// https://ui.perfetto.dev or chrome://tracing): a track per worker, a slice per file per
    /// stage, counters for files in flight, memory held and queue depths. See docs/timeline.md.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,

    /// Write a self-contained HTML page of the run (stage totals, timeline, failures) to FILE.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,

    /// Print the run's record (the --report fields) as one JSON object on standard output;
    /// progress, summary and errors stay on standard error. With --dry-run: the plan (the
    /// files and their outputs, the counts, what the selection left out).
    #[arg(long)]
    pub json: bool,
    /// Convert only shard K of N (1-based) of the listing, or `auto` to read K and N from
    /// Slurm, Kubernetes, AWS Batch or Google Cloud Batch variables. Join the shards' --report
    /// files with `graypipe merge`.
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<graypipe::batch::shard::ShardArg>,

    /// How files are shared out with --shard: `size` balances bytes (every shard must see the
    /// same listing), `pixels` balances header megapixels (closer to the work), `hash` of the
    /// relative path keeps files on their shard as others are added.
    #[arg(long, value_enum, default_value = "size", requires = "shard")]
    pub shard_by: graypipe::batch::shard::ShardBy,

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

    /// Worker counts: a list (1,2,4,8) or an inclusive range (1..8). Default: the cores swept
    /// with --cores, else 1 to the number of logical cores.
    #[arg(
        short,
        long,
        visible_short_alias = 'j',
        visible_alias = "jobs",
        value_name = "LIST"
    )]
    pub workers: Option<WorkerList>,

    /// Sweep the processors themselves: run each point on this many cores (CPU affinity per
    /// run, Linux; one CPU per physical core before SMT siblings, within the cgroup's CPU
    /// quota), a list or range as for --workers. Amdahl's n is then the cores allowed.
    #[arg(long, value_name = "LIST")]
    pub cores: Option<WorkerList>,

    /// Engines to compare, comma-separated (staged, rayon, serial).
    #[arg(long, value_name = "LIST", default_value = "staged")]
    pub engine: EngineList,

    /// Uncounted runs of every point first.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub warmup: usize,

    /// Counted runs of every point, at least (hyperfine's default: 10).
    #[arg(long, alias = "min-runs", default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub repeat: u32,

    /// Measured seconds per point, at least: points keep running until their counted runs
    /// add up to this (hyperfine's default: 3).
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub min_time: f64,

    /// Counted runs of every point, at most.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub max_runs: u32,

    /// Before each counted run, wait until other processes take at most 10% of the run's
    /// CPUs for 3 s (at most 30 s per run, 300 s in all); every run is kept, and the output
    /// says when it gave up and which runs were loaded.
    #[arg(long)]
    pub quiet_machine: bool,

    /// T1 for the speedups: each engine's own 1-worker run, or the serial engine.
    #[arg(long, value_enum, default_value = "same")]
    pub baseline: graypipe::sweep::Baseline,

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

    /// Draw speedup, throughput, efficiency and per-stage CPU against processors as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// `linear`: the first panel is the speedup; `log`: it is the median time per run on
    /// log-log axes (log2 n, log10 seconds) with the ideal T1/n.
    #[arg(long, value_enum, default_value = "linear", requires = "plot")]
    pub plot_scale: PlotScale,

    /// Every column of the table (by default it is narrowed to 120 columns: the Amdahl-fit
    /// and Karp-Flatt columns, then intervals, are left out first).
    #[arg(long)]
    pub wide: bool,

    /// Compare this sweep (B) against one saved with --export-json (A), as `graypipe compare`
    /// does, after the table.
    #[arg(long, value_name = "A.json")]
    pub compare: Option<PathBuf>,

    /// With --compare: exit with status 1 when a point is slower than A by more than PCT
    /// percent with 95% confidence.
    #[arg(long, value_name = "PCT", requires = "compare", value_parser = parse_percent)]
    pub fail_if_slower: Option<f64>,
    /// Write a self-contained HTML page: the decision, the plots, the table, warnings,
    /// machine, and the timeline of one run per point (that run is traced: the first
    /// warm-up run, or the first counted run with --warmup 0).
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,

    /// No progress line.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--plot-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlotScale {
    /// Speedup on linear axes.
    Linear,
    /// Time per run on log-log axes.
    Log,
}

/// `graypipe compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The reference sweep (`sweep --export-json`).
    #[arg(value_name = "A.json")]
    pub a: PathBuf,

    /// The sweep compared against it.
    #[arg(value_name = "B.json")]
    pub b: PathBuf,

    /// A change smaller than PCT percent is not called a change: a verdict needs the whole
    /// interval beyond it.
    #[arg(long, default_value_t = 5.0, value_name = "PCT", value_parser = parse_percent)]
    pub threshold: f64,

    /// Exit with status 1 when a point of B is slower than A by more than PCT percent with
    /// 95% confidence (the whole interval above 1 + PCT/100): a regression check for CI.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub fail_if_slower: Option<f64>,

    /// Print the comparison as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && (0.0..=1000.0).contains(p))
        .ok_or_else(|| format!("'{s}' is not a percentage from 0 to 1000"))
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

    /// With --from: print the refitted analysis as JSON (equal to the file's `analysis`).
    #[arg(long, requires = "from")]
    pub json: bool,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .ok_or_else(|| format!("'{s}' is not a number of seconds"))
}

fn parse_maxval(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("'{s}' is not a finite number"))
}

fn retired_queue(_: &str) -> Result<u32, String> {
    Err(
        "--queue was retired: the staged engine now bounds the files alive at once across all \
         stages; use --in-flight T (default: twice the workers)"
            .into(),
    )
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

/// `--threshold SPEC`: parsed by the library's grammar; shell completion offers one example of
/// each form (any other level, block or C is accepted as well).
#[derive(Debug, Clone, Copy)]
struct ThresholdSpec;

/// The forms completion offers for `--threshold`.
const THRESHOLD_EXAMPLES: &[&str] = &[
    "otsu",
    "triangle",
    "127",
    "binary:127",
    "binary-inv:127",
    "trunc:127",
    "tozero:127",
    "tozero-inv:127",
    "binary:otsu",
    "binary-inv:otsu",
    "binary:triangle",
    "binary-inv:triangle",
    "adaptive-mean:11:2",
    "adaptive-mean-inv:11:2",
    "adaptive-gaussian:11:2",
    "adaptive-gaussian-inv:11:2",
];

impl clap::builder::TypedValueParser for ThresholdSpec {
    type Value = Operation;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Operation, clap::Error> {
        let grammar = parse_operation as fn(&str) -> Result<Operation, String>;
        grammar.parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            THRESHOLD_EXAMPLES
                .iter()
                .map(|s| clap::builder::PossibleValue::new(*s)),
        ))
    }
}

fn parse_name(s: &str) -> Result<NameTemplate, String> {
    s.parse()
        .map_err(|e: graypipe::batch::NameTemplateError| e.to_string())
}

fn parse_suffix(s: &str) -> Result<NameTemplate, String> {
    NameTemplate::suffix(s).map_err(|e| e.to_string())
}

/// An extension as `--extensions` takes it: no dot, lower case.
fn parse_extension(s: &str) -> Result<String, String> {
    let ext = s.trim().trim_start_matches('.').to_lowercase();
    if ext.is_empty() || ext.contains(['/', '\\', '.']) {
        return Err(format!("'{s}' is not a file extension (e.g. jpg)"));
    }
    Ok(ext)
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

/// `graypipe merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' `--report` files.
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,

    /// Where to write the merged record (JSON).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Also write the inputs that failed or never started (exact bytes, one a line) to FILE,
    /// for `graypipe run --files-from FILE` (written even when empty; shards with no report
    /// cannot be listed and are named instead).
    #[arg(long, value_name = "FILE")]
    pub failed_list: Option<PathBuf>,

    /// Write the --failed-list NUL-separated (for `run --files-from FILE --null`).
    #[arg(long, requires = "failed_list")]
    pub null: bool,
}
