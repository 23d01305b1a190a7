//! Sharding: one run's share of a listing, so that N machines (a Slurm job array, a Kubernetes
//! Indexed Job, an AWS or Google Batch array, GNU parallel) each convert a disjoint part of the
//! same folder. Every shard plans the whole listing and keeps its own share; the assignment and
//! the listing's fingerprint are pure functions of the listing, so all shards agree on them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::plan::Plan;

/// Shard K of N (K is 1-based, as nextest, Playwright and Jest spell it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 1..=count.
    pub index: u32,
    /// How many shards share the listing.
    pub count: u32,
}

/// Where the shard came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSource {
    /// `--shard K/N` on the command line.
    Flag,
    /// Slurm job array (`SLURM_ARRAY_TASK_ID`, `_COUNT`, `_MIN`, `_MAX`, `_STEP`).
    Slurm,
    /// Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, count from `GRAYPIPE_SHARD_COUNT`).
    Kubernetes,
    /// AWS Batch array job (`AWS_BATCH_JOB_ARRAY_INDEX`, `AWS_BATCH_JOB_ARRAY_SIZE`).
    AwsBatch,
    /// Google Cloud Batch (`BATCH_TASK_INDEX`, `BATCH_TASK_COUNT`).
    GoogleBatch,
}

impl ShardSource {
    /// Short name used in reports and messages.
    pub fn name(self) -> &'static str {
        match self {
            ShardSource::Flag => "flag",
            ShardSource::Slurm => "slurm",
            ShardSource::Kubernetes => "kubernetes",
            ShardSource::AwsBatch => "aws-batch",
            ShardSource::GoogleBatch => "google-batch",
        }
    }
}

/// How files are assigned to shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "binary", derive(clap::ValueEnum))]
pub enum ShardBy {
    /// Largest file first onto the least-loaded shard (ties by path): balances files of very
    /// different sizes. Every shard must see the same listing.
    #[default]
    Size,
    /// A hash of the relative path: a file keeps its shard when others are added.
    Hash,
    /// As `size`, weighing each file by its megapixels from its header (the work follows
    /// pixels more than compressed bytes); a file whose header cannot be read weighs its
    /// byte count. Every shard reads every header once.
    Pixels,
}

impl ShardBy {
    /// Lower-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ShardBy::Size => "size",
            ShardBy::Hash => "hash",
            ShardBy::Pixels => "pixels",
        }
    }
}

/// `--shard` as given: a fixed K/N or `auto` (read from the engine's variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    /// `K/N`.
    Fixed(Shard),
    /// `auto`.
    Auto,
}

/// A shard that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form K/N with whole numbers.
    #[error("--shard {0:?}: expected K/N (1-based, e.g. 3/8) or auto")]
    Syntax(String),
    /// N is zero.
    #[error("shard count must be at least 1, got {0}")]
    ZeroCount(u64),
    /// K outside 1..=N.
    #[error("shard {index} is out of range 1..={count}")]
    OutOfRange {
        /// K.
        index: u64,
        /// N.
        count: u64,
    },
    /// N beyond what a report records (a shard count is a `u32`).
    #[error("shard count {0} is more than graypipe supports ({max})", max = u32::MAX)]
    TooManyShards(u64),
    /// A variable is not a whole number.
    #[error("{name}={value:?} is not a whole number")]
    NotANumber {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// A variable's value cannot be used; the message names the variable and its value as set.
    #[error("{name}={value}: {reason}")]
    BadValue {
        /// The variable.
        name: &'static str,
        /// Its value, as set.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A variable the engine should have set is absent.
    #[error("{engine}: {name} is not set{hint}")]
    Missing {
        /// The engine detected.
        engine: &'static str,
        /// The variable.
        name: &'static str,
        /// What to do about it.
        hint: &'static str,
    },
    /// A Slurm array whose tasks are not evenly spaced: they cannot be numbered 1..N.
    #[error(
        "slurm: the job array is not a range (SLURM_ARRAY_TASK_COUNT={count}, MIN={min}, \
         MAX={max}, STEP={step}); submit --array=0-{last} (a range, or a range with a step such \
         as 0-{stepped}:2), or set GRAYPIPE_SHARD_COUNT to the shard count to read \
         SLURM_ARRAY_TASK_ID as the 0-based shard",
        last = count.saturating_sub(1),
        stepped = count.saturating_sub(1).saturating_mul(2)
    )]
    SparseArray {
        /// Task count.
        count: u64,
        /// Lowest task id.
        min: u64,
        /// Highest task id.
        max: u64,
        /// Step.
        step: u64,
    },
    /// A Slurm array of one task (`sbatch --array=5`, the usual way to re-run one failed task):
    /// as "shard 1/1" it would convert the whole folder over the other shards' work.
    #[error(
        "slurm: the job array has a single task (SLURM_ARRAY_TASK_ID={id}, \
         SLURM_ARRAY_TASK_COUNT=1), so it does not say how many shards there are; to re-run \
         task {id} of an array submitted as --array=0-<N-1>, give the count: \
         sbatch --array={id} --export=ALL,GRAYPIPE_SHARD_COUNT=<N> <script> \
         (SLURM_ARRAY_TASK_ID is then the 0-based shard), or run graypipe run ... --shard {next}/<N>",
        next = id.saturating_add(1)
    )]
    SingleTaskArray {
        /// The task id.
        id: u64,
    },
    /// `srun -n N`: N tasks of one step, not a job array.
    #[error(
        "slurm: SLURM_PROCID={procid} of SLURM_NTASKS={ntasks} is a task of an srun step, not of a \
         job array; give each task its shard: srun -n {ntasks} sh -c 'exec graypipe run ... \
         --shard $((SLURM_PROCID + 1))/$SLURM_NTASKS', or submit a job array: \
         sbatch --array=0-{last} <script> with --shard auto",
        last = ntasks.saturating_sub(1)
    )]
    SrunStep {
        /// This task's rank, as set.
        procid: String,
        /// Tasks in the step.
        ntasks: u64,
    },
    /// A Slurm job that is not an array job.
    #[error(
        "slurm: SLURM_JOB_ID is set but neither SLURM_ARRAY_TASK_ID nor a job step's SLURM_PROCID; submit with sbatch --array=0-N, or start the tasks with srun -n N"
    )]
    NotAnArray,
    /// No engine's variables found.
    #[error(
        "--shard auto: no shard variables found (looked for SLURM_ARRAY_TASK_ID, \
         JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX, BATCH_TASK_INDEX); give --shard K/N"
    )]
    NoEngine,
}

impl Shard {
    /// Checks K in 1..=N, N >= 1 and N within `u32`.
    pub fn new(index: u64, count: u64) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::ZeroCount(count));
        }
        let Ok(count32) = u32::try_from(count) else {
            return Err(ShardError::TooManyShards(count));
        };
        if index == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        match u32::try_from(index) {
            Ok(index) => Ok(Shard {
                index,
                count: count32,
            }),
            Err(_) => Err(ShardError::OutOfRange { index, count }),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for ShardArg {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(ShardArg::Auto);
        }
        let syntax = || ShardError::Syntax(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(syntax)?;
        let (k, n) = (k.trim(), n.trim());
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(k) || !digits(n) {
            return Err(syntax());
        }
        // Digits beyond u64 are a count or index too large, not a syntax error.
        let n: u64 = n.parse().map_err(|_| ShardError::TooManyShards(u64::MAX))?;
        let k: u64 = k.parse().unwrap_or(u64::MAX);
        Shard::new(k, n).map(ShardArg::Fixed)
    }
}

impl ShardArg {
    /// The shard to run: the fixed one, or the one the engine's variables give (`var` looks a
    /// variable up; pass `|n| std::env::var(n).ok()`).
    pub fn resolve(
        self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<(Shard, ShardSource), ShardError> {
        match self {
            ShardArg::Fixed(s) => Ok((s, ShardSource::Flag)),
            ShardArg::Auto => from_env(var),
        }
    }
}

/// A variable as set: its name, its text and its value as a whole number.
struct EnvNumber {
    name: &'static str,
    text: String,
    value: u64,
}

impl EnvNumber {
    fn bad(&self, reason: impl Into<String>) -> ShardError {
        ShardError::BadValue {
            name: self.name,
            value: self.text.clone(),
            reason: reason.into(),
        }
    }
}

/// The variable `name` as a whole number; `None` when it is not set.
fn number(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Option<Result<EnvNumber, ShardError>> {
    var(name).map(|text| {
        let t = text.trim();
        match t.parse::<u64>() {
            Ok(value) => Ok(EnvNumber {
                name,
                value,
                text: t.to_string(),
            }),
            Err(_) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                Err(ShardError::BadValue {
                    name,
                    value: t.to_string(),
                    reason: "is too large".into(),
                })
            }
            Err(_) => Err(ShardError::NotANumber { name, value: text }),
        }
    })
}

fn required(
    var: &impl Fn(&str) -> Option<String>,
    engine: &'static str,
    name: &'static str,
    hint: &'static str,
) -> Result<EnvNumber, ShardError> {
    number(var, name).unwrap_or(Err(ShardError::Missing { engine, name, hint }))
}

/// Shard `index + 1` of `count` for a 0-based index and a count read from variables; errors
/// name the variable and its value as set (no arithmetic on values the user never wrote).
fn zero_based(index: &EnvNumber, count: &EnvNumber) -> Result<Shard, ShardError> {
    if count.value == 0 {
        return Err(count.bad("the shard count must be at least 1"));
    }
    if u32::try_from(count.value).is_err() {
        return Err(count.bad(format!(
            "is more shards than graypipe supports ({})",
            u32::MAX
        )));
    }
    if index.value >= count.value {
        return Err(index.bad(format!(
            "is out of range 0..={} ({}={})",
            count.value - 1,
            count.name,
            count.text
        )));
    }
    Shard::new(index.value + 1, count.value)
}

/// Reads the shard from a batch engine's variables, in this order: Slurm, Kubernetes, AWS
/// Batch, Google Cloud Batch. Slurm arrays must be evenly spaced (a range, or a range with a
/// step); with `GRAYPIPE_SHARD_COUNT` set, a Slurm task id is the 0-based shard instead.
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<(Shard, ShardSource), ShardError> {
    if let Some(id) = number(&var, "SLURM_ARRAY_TASK_ID") {
        return slurm_from_env(&var, id?).map(|s| (s, ShardSource::Slurm));
    }
    // `srun -n N` (one allocation, N tasks; no array): the task's rank and the task count.
    // Only inside a job step (srun sets SLURM_STEP_ID), not in the batch script itself.
    if var("SLURM_STEP_ID").is_some() || var("SLURM_STEPID").is_some() {
        if let Some(rank) = number(&var, "SLURM_PROCID") {
            let rank = rank?;
            let count = required(&var, "slurm", "SLURM_NTASKS", "")?;
            return zero_based(&rank, &count).map(|s| (s, ShardSource::Slurm));
        }
    }
    if var("SLURM_JOB_ID").is_some() {
        return Err(slurm_not_an_array(&var));
    }
    if let Some(index) = number(&var, "JOB_COMPLETION_INDEX") {
        let index = index?;
        let count = required(
            &var,
            "kubernetes",
            "GRAYPIPE_SHARD_COUNT",
            " (Kubernetes does not inject the completion count: set it to the Job's completions)",
        )?;
        return zero_based(&index, &count).map(|s| (s, ShardSource::Kubernetes));
    }
    if let Some(index) = number(&var, "AWS_BATCH_JOB_ARRAY_INDEX") {
        let index = index?;
        let count = required(&var, "aws-batch", "AWS_BATCH_JOB_ARRAY_SIZE", "")?;
        return zero_based(&index, &count).map(|s| (s, ShardSource::AwsBatch));
    }
    if let Some(index) = number(&var, "BATCH_TASK_INDEX") {
        let index = index?;
        let count = required(&var, "google-batch", "BATCH_TASK_COUNT", "")?;
        return zero_based(&index, &count).map(|s| (s, ShardSource::GoogleBatch));
    }
    Err(ShardError::NoEngine)
}

/// A Slurm array task's shard: with `GRAYPIPE_SHARD_COUNT` the task id is the 0-based shard
/// (for re-submitting some tasks of an array), else the array's own shape numbers the tasks.
fn slurm_from_env(
    var: &impl Fn(&str) -> Option<String>,
    id: EnvNumber,
) -> Result<Shard, ShardError> {
    if let Some(count) = number(var, "GRAYPIPE_SHARD_COUNT") {
        return zero_based(&id, &count?);
    }
    let count = required(var, "slurm", "SLURM_ARRAY_TASK_COUNT", "")?;
    let min = required(var, "slurm", "SLURM_ARRAY_TASK_MIN", "")?;
    let max = required(var, "slurm", "SLURM_ARRAY_TASK_MAX", "")?;
    let step = number(var, "SLURM_ARRAY_TASK_STEP").transpose()?;
    if let Some(s) = &step {
        if s.value == 0 {
            return Err(s.bad("the step must be at least 1"));
        }
    }
    if count.value == 0 {
        return Err(count.bad("an array has at least one task"));
    }
    if u32::try_from(count.value).is_err() {
        return Err(count.bad(format!(
            "is more shards than graypipe supports ({})",
            u32::MAX
        )));
    }
    let step_value = step.as_ref().map_or(1, |s| s.value);
    let shard = slurm_shard(id.value, count.value, min.value, max.value, step_value)?;
    match shard {
        Some(s) => Ok(s),
        None => Err(id.bad(format!(
            "is not a task of the array {}-{}:{} (SLURM_ARRAY_TASK_MIN, _MAX, _STEP)",
            min.text,
            max.text,
            step.as_ref().map_or("1", |s| s.text.as_str())
        ))),
    }
}

/// Why a Slurm job without `SLURM_ARRAY_TASK_ID` cannot be sharded, with how to run it.
fn slurm_not_an_array(var: &impl Fn(&str) -> Option<String>) -> ShardError {
    let ntasks = number(var, "SLURM_NTASKS")
        .or_else(|| number(var, "SLURM_NPROCS"))
        .and_then(Result::ok);
    match (var("SLURM_PROCID"), ntasks) {
        (Some(procid), Some(n)) if n.value > 1 => ShardError::SrunStep {
            procid: procid.trim().to_string(),
            ntasks: n.value,
        },
        _ => ShardError::NotAnArray,
    }
}

/// The shard of Slurm task `id` in an array of `count` tasks from `min` to `max` by `step`
/// (`--array=1-7:2` gives COUNT 4, MIN 1, MAX 7, STEP 2: task 5 is shard 3/4). Refused
/// unless the tasks are evenly spaced (`--array=1,5,9` gives COUNT 3, MIN 1, MAX 9, STEP 1)
/// and there is more than one (`--array=5`, see [`ShardError::SingleTaskArray`]). `Ok(None)`:
/// `id` is not one of the array's tasks.
pub fn slurm_shard(
    id: u64,
    count: u64,
    min: u64,
    max: u64,
    step: u64,
) -> Result<Option<Shard>, ShardError> {
    if count == 1 {
        return Err(ShardError::SingleTaskArray { id });
    }
    let evenly_spaced = step >= 1
        && max >= min
        && (max - min) % step == 0
        && count >= 1
        && (max - min) / step == count - 1;
    if !evenly_spaced {
        return Err(ShardError::SparseArray {
            count,
            min,
            max,
            step,
        });
    }
    if id < min || id > max || (id - min) % step != 0 {
        return Ok(None);
    }
    Shard::new((id - min) / step + 1, count).map(Some)
}

/// One file of the listing as sharding sees it: its path relative to the output folder (the
/// same on every machine) and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    /// Relative path, `/`-separated.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// 64-bit FNV-1a: small, fixed forever (unlike std's hasher), good enough to spread paths.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The 0-based shard of every entry, in listing order. Memory and time do not grow with
/// `count`: with more shards than files, the shards past the file count get nothing.
pub fn assign(entries: &[ListingEntry], count: u32, by: ShardBy) -> Vec<u32> {
    let count = count.max(1);
    match by {
        ShardBy::Hash => entries
            .iter()
            .map(|e| (fnv1a64(e.key.as_bytes()) % u64::from(count)) as u32)
            .collect(),
        ShardBy::Size | ShardBy::Pixels => {
            let mut order: Vec<usize> = (0..entries.len()).collect();
            order.sort_by(|&a, &b| {
                let (ea, eb) = (&entries[a], &entries[b]);
                eb.size.cmp(&ea.size).then_with(|| ea.key.cmp(&eb.key))
            });
            // (bytes, files, shard) per shard; the least bytes wins, then the fewest files,
            // then the lowest shard, so that empty files spread too. Only the first
            // `entries.len()` shards can ever be chosen (each takes a file before any shard
            // takes a second), so only they are kept.
            let used = (count as usize).min(entries.len());
            let mut load: BinaryHeap<Reverse<(u64, u64, u32)>> =
                (0..used as u32).map(|k| Reverse((0, 0, k))).collect();
            let mut out = vec![0u32; entries.len()];
            for i in order {
                let Some(Reverse((bytes, files, k))) = load.pop() else {
                    break;
                };
                out[i] = k;
                load.push(Reverse((
                    bytes.saturating_add(entries[i].size),
                    files + 1,
                    k,
                )));
            }
            out
        }
    }
}

/// Most bytes read to find a file's picture size (headers sit at the start; a JPEG's frame
/// header comes after its metadata segments).
const HEADER_BYTES: u64 = 1 << 20;

/// The entries weighed by pixels (`--shard-by pixels`): each file's width x height from its
/// header, or its byte count when the header cannot be read. A pure function of the files, so
/// every shard computes the same weights.
pub fn pixel_weights(jobs: &[crate::batch::Job], entries: &[ListingEntry]) -> Vec<ListingEntry> {
    use std::io::Read;
    jobs.iter()
        .zip(entries)
        .map(|(j, e)| {
            let mut head = Vec::new();
            let pixels = std::fs::File::open(&j.input)
                .and_then(|f| f.take(HEADER_BYTES).read_to_end(&mut head))
                .ok()
                .and_then(|_| crate::codec::probe(&head).ok())
                .map(|info| info.pixels());
            ListingEntry {
                key: e.key.clone(),
                size: pixels.unwrap_or(e.size),
            }
        })
        .collect()
}

/// Bytes per shard under an assignment (one entry per shard: for a count that the caller
/// has bounded, e.g. by the listing; [`shard_bytes`] gives one shard's without it).
pub fn loads(entries: &[ListingEntry], assignment: &[u32], count: u32) -> Vec<u64> {
    let mut l = vec![0u64; count as usize];
    for (e, &s) in entries.iter().zip(assignment) {
        if let Some(x) = l.get_mut(s as usize) {
            *x = x.saturating_add(e.size);
        }
    }
    l
}

/// Bytes of the 0-based shard `shard` under an assignment.
pub fn shard_bytes(entries: &[ListingEntry], assignment: &[u32], shard: u32) -> u64 {
    entries
        .iter()
        .zip(assignment)
        .filter(|(_, &s)| s == shard)
        .fold(0u64, |sum, (e, _)| sum.saturating_add(e.size))
}

/// The largest load over the mean (1.0 is perfect balance; 0 loads give 1.0).
pub fn imbalance(loads: &[f64]) -> f64 {
    if loads.is_empty() {
        return 1.0;
    }
    let mean = loads.iter().sum::<f64>() / loads.len() as f64;
    let max = loads.iter().cloned().fold(0.0, f64::max);
    if mean > 0.0 {
        max / mean
    } else {
        1.0
    }
}

/// A fingerprint of the whole listing (paths and sizes, in order): shards that planned
/// different listings have different fingerprints. 128 bits as two FNV-1a lanes, hex.
pub fn fingerprint(entries: &[ListingEntry]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x8422_2325_cbf2_9ce4;
    let mut feed = |bytes: &[u8]| {
        for &x in bytes {
            a ^= u64::from(x);
            a = a.wrapping_mul(0x0000_0100_0000_01b3);
            b ^= u64::from(x.rotate_left(3));
            b = b.wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
        }
    };
    for e in entries {
        feed(&(e.key.len() as u64).to_le_bytes());
        feed(e.key.as_bytes());
        feed(&e.size.to_le_bytes());
    }
    format!("{a:016x}{b:016x}")
}

/// What a sharded run records about its shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// This shard.
    pub shard: Shard,
    /// Where it came from.
    pub source: ShardSource,
    /// Assignment strategy.
    pub by: ShardBy,
    /// Files in the whole listing.
    pub listing_files: usize,
    /// Bytes in the whole listing.
    pub listing_bytes: u64,
    /// Bytes in this shard's share.
    pub shard_bytes: u64,
    /// [`fingerprint`] of the whole listing.
    pub fingerprint: String,
}

/// The listing key of an output path: relative to the output folder, `/`-separated.
pub fn listing_key(output: &Path, out_dir: &Path) -> String {
    let rel = output.strip_prefix(out_dir).unwrap_or(output);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Keeps this shard's share of a plan made without `--skip-existing` (so that every shard
/// sees the same listing), then leaves out existing outputs if `skip_existing`. Paths that
/// could not be listed stay with shard 1 only, so they are counted once. Sizes are read with
/// one `stat` per file; a file that cannot be read counts as 0 bytes (it fails later anyway).
pub fn shard_plan(
    plan: Plan,
    out_dir: &Path,
    shard: Shard,
    source: ShardSource,
    by: ShardBy,
    skip_existing: bool,
) -> (Plan, ShardInfo) {
    let mut all = plan.jobs;
    all.extend(plan.skipped);
    all.sort_by_key(|j| j.index);
    let entries: Vec<ListingEntry> = all
        .iter()
        .map(|j| ListingEntry {
            key: listing_key(&j.output, out_dir),
            size: std::fs::metadata(&j.input).map(|m| m.len()).unwrap_or(0),
        })
        .collect();
    let assignment = match by {
        ShardBy::Pixels => assign(&pixel_weights(&all, &entries), shard.count, by),
        _ => assign(&entries, shard.count, by),
    };
    let mine = shard.index - 1;
    let shard_bytes = shard_bytes(&entries, &assignment, mine);
    let info = ShardInfo {
        shard,
        source,
        by,
        listing_files: entries.len(),
        listing_bytes: entries
            .iter()
            .fold(0u64, |sum, e| sum.saturating_add(e.size)),
        shard_bytes,
        fingerprint: fingerprint(&entries),
    };
    let kept = all
        .into_iter()
        .zip(assignment)
        .filter(|(_, s)| *s == mine)
        .map(|(j, _)| j);
    let (skipped, mut jobs): (Vec<_>, Vec<_>) =
        kept.partition(|j| skip_existing && j.output.is_file());
    for (i, j) in jobs.iter_mut().enumerate() {
        j.index = i;
    }
    let discovery_errors = if shard.index == 1 {
        plan.discovery_errors
    } else {
        Vec::new()
    };
    (
        Plan {
            jobs,
            skipped,
            discovery_errors,
            warnings: plan.warnings,
            left_out: plan.left_out,
        },
        info,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entries(sizes: &[u64]) -> Vec<ListingEntry> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| ListingEntry {
                key: format!("d{}/f{i:04}.png", i % 7),
                size,
            })
            .collect()
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn parses_k_of_n_and_refuses_out_of_range() {
        assert_eq!(
            "3/8".parse::<ShardArg>(),
            Ok(ShardArg::Fixed(Shard { index: 3, count: 8 }))
        );
        assert_eq!("auto".parse::<ShardArg>(), Ok(ShardArg::Auto));
        assert_eq!(
            "0/4".parse::<ShardArg>(),
            Err(ShardError::OutOfRange { index: 0, count: 4 })
        );
        assert_eq!(
            "5/4".parse::<ShardArg>(),
            Err(ShardError::OutOfRange { index: 5, count: 4 })
        );
        assert_eq!("1/0".parse::<ShardArg>(), Err(ShardError::ZeroCount(0)));
        for bad in [
            "",
            "3",
            "a/4",
            "3/b",
            "-1/4",
            "1/2/3",
            "99999999999/99999999999",
        ] {
            assert!(bad.parse::<ShardArg>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn every_file_goes_to_exactly_one_shard() {
        let e = entries(&[5, 1, 9, 0, 0, 3, 3, 3, 700, 2]);
        for by in [ShardBy::Size, ShardBy::Hash] {
            for n in 1..=5 {
                let a = assign(&e, n, by);
                assert_eq!(a.len(), e.len());
                assert!(a.iter().all(|&s| s < n));
            }
        }
    }

    #[test]
    fn size_balances_mixed_sizes_better_than_hash() {
        // 200 small tiles and 6 big photos, the shape of a real mixed folder.
        let mut sizes: Vec<u64> = (0..200).map(|i| 20_000 + (i * 37 % 5000)).collect();
        sizes.extend([
            9_000_000, 8_500_000, 7_000_000, 6_000_000, 5_000_000, 4_000_000,
        ]);
        let e = entries(&sizes);
        let f = |by| {
            let a = assign(&e, 4, by);
            let l: Vec<f64> = loads(&e, &a, 4).iter().map(|&x| x as f64).collect();
            imbalance(&l)
        };
        let (size, hash) = (f(ShardBy::Size), f(ShardBy::Hash));
        assert!(size < 1.05, "size imbalance {size}");
        assert!(size < hash, "size {size} not better than hash {hash}");
    }

    #[test]
    fn size_spreads_empty_files() {
        let e = entries(&[0; 8]);
        let a = assign(&e, 4, ShardBy::Size);
        let mut per = [0; 4];
        for s in a {
            per[s as usize] += 1;
        }
        assert_eq!(per, [2, 2, 2, 2]);
    }

    #[test]
    fn hash_is_stable_when_files_are_added() {
        let before = entries(&[10; 50]);
        let mut after = before.clone();
        for i in 0..30 {
            after.insert(
                (i * 3) % after.len(),
                ListingEntry {
                    key: format!("new/n{i}.jpg"),
                    size: 1_000 * i as u64,
                },
            );
        }
        let a = assign(&before, 6, ShardBy::Hash);
        let b = assign(&after, 6, ShardBy::Hash);
        let shard_of: HashMap<&str, u32> = after
            .iter()
            .zip(&b)
            .map(|(e, &s)| (e.key.as_str(), s))
            .collect();
        for (e, s) in before.iter().zip(a) {
            assert_eq!(shard_of[e.key.as_str()], s, "{} moved", e.key);
        }
    }

    #[test]
    fn fingerprint_sees_paths_sizes_and_order() {
        let e = entries(&[1, 2, 3]);
        let fp = fingerprint(&e);
        assert_eq!(fp.len(), 32);
        assert_eq!(fp, fingerprint(&e.clone()));
        let mut sized = e.clone();
        sized[1].size = 4;
        assert_ne!(fp, fingerprint(&sized));
        let mut renamed = e.clone();
        renamed[2].key.push('x');
        assert_ne!(fp, fingerprint(&renamed));
        assert_ne!(fp, fingerprint(&e[..2]));
    }

    fn slurm(
        id: &str,
        count: &str,
        min: &str,
        max: &str,
        step: &str,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("SLURM_JOB_ID", "7".to_string()),
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_COUNT", count.to_string()),
            ("SLURM_ARRAY_TASK_MIN", min.to_string()),
            ("SLURM_ARRAY_TASK_MAX", max.to_string()),
            ("SLURM_ARRAY_TASK_STEP", step.to_string()),
        ]
    }

    fn from_pairs(pairs: &[(&'static str, String)]) -> Result<(Shard, ShardSource), ShardError> {
        let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        from_env(env(&p))
    }

    #[test]
    fn slurm_ranges_and_stepped_ranges() {
        let s = |id, count, min, max, step| from_pairs(&slurm(id, count, min, max, step));
        assert_eq!(
            s("0", "4", "0", "3", "1"),
            Ok((Shard { index: 1, count: 4 }, ShardSource::Slurm))
        );
        assert_eq!(
            s("12", "4", "10", "13", "1"),
            Ok((Shard { index: 3, count: 4 }, ShardSource::Slurm))
        );
        // --array=1-7:2: tasks 1, 3, 5, 7.
        assert_eq!(
            s("5", "4", "1", "7", "2"),
            Ok((Shard { index: 3, count: 4 }, ShardSource::Slurm))
        );
        assert_eq!(
            s("7", "4", "1", "7", "2"),
            Ok((Shard { index: 4, count: 4 }, ShardSource::Slurm))
        );
        // A task id the array does not have is named with its value.
        let e = s("4", "4", "1", "7", "2").unwrap_err().to_string();
        assert!(
            e.starts_with("SLURM_ARRAY_TASK_ID=4: is not a task of the array 1-7:2"),
            "{e}"
        );
        // --array=1,5,9: not evenly spaced.
        assert!(matches!(
            s("5", "3", "1", "9", "1"),
            Err(ShardError::SparseArray { .. })
        ));
        assert!(matches!(
            s("x", "4", "0", "3", "1"),
            Err(ShardError::NotANumber { .. })
        ));
        let e = s("0", "4", "0", "3", "0").unwrap_err().to_string();
        assert!(e.starts_with("SLURM_ARRAY_TASK_STEP=0:"), "{e}");
        assert_eq!(
            from_env(env(&[("SLURM_JOB_ID", "7")])),
            Err(ShardError::NotAnArray)
        );
    }

    #[test]
    fn pixels_weighs_headers_and_falls_back_to_bytes() {
        use std::path::{Path, PathBuf};
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_images/photos");
        let t = tempfile::tempdir().unwrap();
        let text = t.path().join("notes.txt");
        std::fs::write(&text, b"not a picture").unwrap();
        let job = |p: PathBuf| crate::batch::Job {
            index: 0,
            input: p,
            output: PathBuf::from("o"),
            format: crate::codec::OutputFormat::Png,
            existing_output: None,
            input_folders: Default::default(),
        };
        let jobs = [
            job(root.join("camera.png")),
            job(root.join("rocket.jpg")),
            job(text),
        ];
        let e = entries(&[1, 2, 13]);
        let w = pixel_weights(&jobs, &e);
        assert_eq!(w[0].size, 512 * 512);
        assert_eq!(w[1].size, 427 * 640);
        assert_eq!(w[2].size, 13);
        assert_eq!(w[0].key, e[0].key);
    }

    #[test]
    fn slurm_srun_tasks_without_an_array() {
        let step = env(&[
            ("SLURM_JOB_ID", "7"),
            ("SLURM_STEP_ID", "0"),
            ("SLURM_PROCID", "2"),
            ("SLURM_NTASKS", "4"),
        ]);
        let (s, src) = from_env(step).unwrap();
        assert_eq!((s.index, s.count, src), (3, 4, ShardSource::Slurm));
        // The batch script itself (no step) is still not a shard.
        let batch = env(&[
            ("SLURM_JOB_ID", "7"),
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "1"),
        ]);
        assert!(from_env(batch).is_err());
        let bad = env(&[
            ("SLURM_STEP_ID", "0"),
            ("SLURM_PROCID", "4"),
            ("SLURM_NTASKS", "4"),
        ]);
        assert!(from_env(bad).is_err());
    }

    #[test]
    fn single_task_slurm_array_needs_the_count() {
        // sbatch --array=5: re-running one task must not become shard 1/1.
        let one = slurm("5", "1", "5", "5", "1");
        let e = from_pairs(&one).unwrap_err();
        assert_eq!(e, ShardError::SingleTaskArray { id: 5 });
        let msg = e.to_string();
        assert!(
            msg.contains("sbatch --array=5 --export=ALL,GRAYPIPE_SHARD_COUNT=<N>"),
            "{msg}"
        );
        assert!(msg.contains("--shard 6/<N>"), "{msg}");
        let mut counted = one.clone();
        counted.push(("GRAYPIPE_SHARD_COUNT", "8".into()));
        assert_eq!(
            from_pairs(&counted),
            Ok((Shard { index: 6, count: 8 }, ShardSource::Slurm))
        );
        let mut too_few = one;
        too_few.push(("GRAYPIPE_SHARD_COUNT", "5".into()));
        assert_eq!(
            from_pairs(&too_few).unwrap_err().to_string(),
            "SLURM_ARRAY_TASK_ID=5: is out of range 0..=4 (GRAYPIPE_SHARD_COUNT=5)"
        );
    }

    #[test]
    fn srun_steps_are_told_how_to_run() {
        let e = from_env(env(&[
            ("SLURM_JOB_ID", "7"),
            ("SLURM_PROCID", "2"),
            ("SLURM_NTASKS", "4"),
        ]))
        .unwrap_err();
        assert!(matches!(e, ShardError::SrunStep { ntasks: 4, .. }));
        let msg = e.to_string();
        assert!(msg.contains("srun -n 4 sh -c"), "{msg}");
        assert!(msg.contains("sbatch --array=0-3"), "{msg}");
    }

    #[test]
    fn absurd_values_are_named_as_set_and_never_wrap() {
        let e = from_env(env(&[
            ("JOB_COMPLETION_INDEX", "18446744073709551615"),
            ("GRAYPIPE_SHARD_COUNT", "4"),
        ]))
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "JOB_COMPLETION_INDEX=18446744073709551615: is out of range 0..=3 (GRAYPIPE_SHARD_COUNT=4)"
        );
        let e = from_env(env(&[
            ("AWS_BATCH_JOB_ARRAY_INDEX", "99999999999999999999999"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "4"),
        ]))
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "AWS_BATCH_JOB_ARRAY_INDEX=99999999999999999999999: is too large"
        );
        let e = from_env(env(&[
            ("BATCH_TASK_INDEX", "0"),
            ("BATCH_TASK_COUNT", "4294967296"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("BATCH_TASK_COUNT=4294967296: is more shards"),
            "{e}"
        );
        let e = from_env(env(&[("BATCH_TASK_INDEX", "0"), ("BATCH_TASK_COUNT", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("BATCH_TASK_COUNT=0: "), "{e}");
        assert_eq!(
            "1/99999999999".parse::<ShardArg>(),
            Err(ShardError::TooManyShards(99_999_999_999))
        );
    }

    #[test]
    fn huge_shard_counts_cost_nothing_per_shard() {
        // 4294967295 shards of 10 files: the first 10 shards take one file each.
        let e = entries(&[5, 1, 9, 0, 0, 3, 3, 3, 700, 2]);
        let a = assign(&e, u32::MAX, ShardBy::Size);
        let mut seen = a.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<u32>>());
        assert_eq!(shard_bytes(&e, &a, a[8]), 700);
        assert_eq!(shard_bytes(&e, &a, u32::MAX - 1), 0);
        let h = assign(&e, u32::MAX, ShardBy::Hash);
        assert_eq!(h.len(), 10);
    }

    #[test]
    fn heap_assignment_matches_the_linear_scan() {
        let sizes: Vec<u64> = (0..60).map(|i| (i * 7919 % 97) * (i % 3)).collect();
        let e = entries(&sizes);
        for n in [1u32, 2, 3, 7, 59, 60, 61, 1000] {
            let mut load = vec![(0u64, 0u64); n as usize];
            let mut order: Vec<usize> = (0..e.len()).collect();
            order.sort_by(|&a, &b| {
                e[b].size
                    .cmp(&e[a].size)
                    .then_with(|| e[a].key.cmp(&e[b].key))
            });
            let mut want = vec![0u32; e.len()];
            for i in order {
                let best = (0..n as usize)
                    .min_by_key(|&k| (load[k].0, load[k].1, k))
                    .unwrap();
                load[best].0 += e[i].size;
                load[best].1 += 1;
                want[i] = best as u32;
            }
            assert_eq!(assign(&e, n, ShardBy::Size), want, "{n} shards");
        }
    }

    #[test]
    fn kubernetes_aws_google() {
        assert_eq!(
            from_env(env(&[
                ("JOB_COMPLETION_INDEX", "2"),
                ("GRAYPIPE_SHARD_COUNT", "5")
            ])),
            Ok((Shard { index: 3, count: 5 }, ShardSource::Kubernetes))
        );
        assert!(matches!(
            from_env(env(&[("JOB_COMPLETION_INDEX", "2")])),
            Err(ShardError::Missing {
                name: "GRAYPIPE_SHARD_COUNT",
                ..
            })
        ));
        assert_eq!(
            from_env(env(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "2")
            ])),
            Ok((Shard { index: 1, count: 2 }, ShardSource::AwsBatch))
        );
        assert_eq!(
            from_env(env(&[("BATCH_TASK_INDEX", "3"), ("BATCH_TASK_COUNT", "4")])),
            Ok((Shard { index: 4, count: 4 }, ShardSource::GoogleBatch))
        );
        assert!(matches!(
            from_env(env(&[("BATCH_TASK_INDEX", "4"), ("BATCH_TASK_COUNT", "4")])),
            Err(ShardError::BadValue {
                name: "BATCH_TASK_INDEX",
                ..
            })
        ));
        assert_eq!(from_env(env(&[])), Err(ShardError::NoEngine));
    }
}
