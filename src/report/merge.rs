//! `graypipe merge`: the shard reports of one sharded batch joined into one record, with the
//! checks that catch a shard that never ran (batch engines may report such a shard as
//! completed), ran twice, planned a different listing, or failed. Pure functions over the
//! report records; reading and writing files is the CLI's.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::run_json::{FileCounts, ShardJob};

/// The fields of a `graypipe run --report` that merging reads (others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct ShardReport {
    /// The version that wrote it.
    #[serde(default)]
    pub graypipe_version: Option<String>,
    /// The operation, as a SPEC (threshold and its level).
    #[serde(default)]
    pub operation: Option<serde_json::Value>,
    /// Luma weights.
    #[serde(default)]
    pub luma: Option<serde_json::Value>,
    /// `--maxval`.
    #[serde(default)]
    pub maxval: Option<serde_json::Value>,
    /// `--read`.
    #[serde(default)]
    pub read: Option<serde_json::Value>,
    /// `--format`.
    #[serde(default)]
    pub format: Option<serde_json::Value>,
    /// `--bit-depth`.
    #[serde(default)]
    pub bit_depth: Option<serde_json::Value>,
    /// `--png-compression`.
    #[serde(default)]
    pub png_compression: Option<serde_json::Value>,
    /// `--max-pixels`.
    #[serde(default)]
    pub max_pixels: Option<serde_json::Value>,
    /// The shard's description; absent or null for a run that was not sharded.
    #[serde(default)]
    pub shard: Option<ShardMeta>,
    /// Host that ran it.
    #[serde(default)]
    pub host: Option<String>,
    /// Wall seconds of processing.
    #[serde(default)]
    pub wall_seconds: f64,
    /// CPU seconds of the process.
    #[serde(default)]
    pub process_cpu_seconds: Option<f64>,
    /// File counts.
    pub files: FileCounts,
    /// Failed files, kept as written.
    #[serde(default)]
    pub failures: Vec<serde_json::Value>,
    /// Every file of the shard.
    #[serde(default)]
    pub results: Vec<ResultRecord>,
    /// The whole listing with each file's shard (for `merge --failed-list`).
    #[serde(default)]
    pub listing: Option<Vec<super::retry::ListedInput>>,
}

impl ShardReport {
    /// (name, value) of every setting that every shard of one batch must share (absent reads as
    /// null, and then differs from a report that has it), in a fixed order.
    fn settings(&self) -> [(&'static str, &Option<serde_json::Value>); 8] {
        [
            ("operation", &self.operation),
            ("luma", &self.luma),
            ("maxval", &self.maxval),
            ("read", &self.read),
            ("format", &self.format),
            ("bit_depth", &self.bit_depth),
            ("png_compression", &self.png_compression),
            ("max_pixels", &self.max_pixels),
        ]
    }
}

/// A shard's description as its report gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    /// K, 1-based.
    pub index: u32,
    /// N.
    pub count: u32,
    /// `size` or `hash`.
    pub strategy: String,
    /// Where K/N came from.
    #[serde(default)]
    pub source: String,
    /// Files in the whole listing.
    pub listing_files: usize,
    /// Bytes in the whole listing.
    #[serde(default)]
    pub listing_bytes: u64,
    /// Bytes in this shard's share.
    #[serde(default)]
    pub shard_bytes: u64,
    /// Fingerprint of the whole listing.
    pub listing_fingerprint: String,
    /// Input roots, output folder and selection; absent in reports of graypipe versions that
    /// did not record them (such reports are refused: the job cannot be checked).
    #[serde(default)]
    pub job: Option<ShardJob>,
}

/// Summed over shards.
impl FileCounts {
    fn add(&mut self, o: &FileCounts) {
        self.planned += o.planned;
        self.written += o.written;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.not_started += o.not_started;
    }
}

/// One file's line, kept whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRecord {
    /// Input path.
    pub input: String,
    /// Output path.
    pub output: String,
    /// The output path's exact bytes in hex, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_hex: Option<String>,
    /// Outcome.
    pub status: String,
    /// Every other field, as written.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl ResultRecord {
    /// The output path's exact bytes: from `output_hex` when present (`None` if that is not
    /// hex), else the text's.
    pub fn exact_output(&self) -> Option<Vec<u8>> {
        match &self.output_hex {
            None => Some(self.output.as_bytes().to_vec()),
            Some(hex) => decode_hex(hex),
        }
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let b = hex.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

/// Why a set of shard reports does not make one complete batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum MergeProblem {
    /// No reports given.
    #[error("no reports to merge")]
    NoReports,
    /// A report of a run without `--shard`.
    #[error("{report}: not a shard report (the run had no --shard)")]
    NotSharded {
        /// The report.
        report: String,
    },
    /// Reports of batches cut into different numbers of shards.
    #[error("{report}: shard {index}/{count}, but other reports say {expected} shards")]
    CountDisagrees {
        /// The report.
        report: String,
        /// Its K.
        index: u32,
        /// Its N.
        count: u32,
        /// The N of the first report.
        expected: u32,
    },
    /// A shard given more than once.
    #[error("shard {index}/{count} given more than once: {}", reports.join(", "))]
    Duplicate {
        /// K.
        index: u32,
        /// N.
        count: u32,
        /// The reports claiming it.
        reports: Vec<String>,
    },
    /// Shards with no report: they never ran, or never finished (a run of missing shards is
    /// one problem, so that a huge N costs nothing per shard).
    #[error("{} missing: no report for {} (did {} run?)",
        if first == last { format!("shard {first}/{count} is") } else { format!("shards {first} to {last} of {count} are") },
        if first == last { "it" } else { "them" },
        if first == last { "it" } else { "they" })]
    Missing {
        /// First K missing.
        first: u32,
        /// Last K missing of this run.
        last: u32,
        /// N.
        count: u32,
    },
    /// A shard number that cannot be: K outside 1..=N.
    #[error("{report}: shard {index}/{count} is impossible (K must be in 1..=N)")]
    InvalidShard {
        /// The report.
        report: String,
        /// Its K.
        index: u32,
        /// Its N.
        count: u32,
    },
    /// A report written by a graypipe that did not record the job (roots, output folder,
    /// selection): it cannot be checked against the others.
    #[error(
        "{report}: written by graypipe {version}, which does not record the job a shard ran \
         (input roots, output folder, selection); re-run the shard with graypipe {current} to merge it"
    )]
    TooOld {
        /// The report.
        report: String,
        /// Its version.
        version: String,
        /// This version.
        current: String,
    },
    /// A shard that ran a different job from shard `expected_index`.
    #[error(
        "shard {index}/{count} ({report}) ran a different job: {field} is {value}, but shard \
         {expected_index} ({expected_report}) has {expected} (every shard must run the same command)"
    )]
    JobDisagrees {
        /// K.
        index: u32,
        /// N.
        count: u32,
        /// The report.
        report: String,
        /// What differs: `graypipe_version`, a setting, `input roots`, `output folder`, `selection`.
        field: String,
        /// Its value, as JSON text.
        value: String,
        /// The reference shard's K.
        expected_index: u32,
        /// The reference shard's report.
        expected_report: String,
        /// The reference shard's value.
        expected: String,
    },
    /// A report whose figures contradict each other (edited, truncated or forged).
    #[error("{report}: the report contradicts itself: {reason}")]
    Inconsistent {
        /// The report.
        report: String,
        /// What contradicts what.
        reason: String,
    },
    /// A shard that planned a different listing or strategy.
    #[error(
        "shard {index}/{count} ({report}) planned a different listing: fingerprint {fingerprint} \
         strategy {strategy}, expected {expected_fingerprint} strategy {expected_strategy} \
         (every shard must see the same files)"
    )]
    ListingDisagrees {
        /// K.
        index: u32,
        /// N.
        count: u32,
        /// The report.
        report: String,
        /// Its fingerprint.
        fingerprint: String,
        /// Its strategy.
        strategy: String,
        /// The first shard's fingerprint.
        expected_fingerprint: String,
        /// The first shard's strategy.
        expected_strategy: String,
    },
    /// A shard with failed or unfinished files.
    #[error(
        "shard {index}/{count} ({report}) failed: {failed} file(s) failed, {not_started} not started"
    )]
    ShardFailed {
        /// K.
        index: u32,
        /// N.
        count: u32,
        /// The report.
        report: String,
        /// Failed files.
        failed: usize,
        /// Files not started.
        not_started: usize,
    },
    /// A file processed by more than one shard.
    #[error("{output} was processed by shards {}", shards.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))]
    FileTwice {
        /// The output path.
        output: String,
        /// The shards (K) that list it.
        shards: Vec<u32>,
    },
    /// The shards' files do not add up to the listing.
    #[error("the listing has {expected} files but the shards account for {got}")]
    FilesUnaccounted {
        /// Files in the listing.
        expected: usize,
        /// Distinct files across the shards.
        got: usize,
    },
}

/// One shard's line in the merged record.
#[derive(Debug, Clone, Serialize)]
pub struct ShardLine {
    /// The report it came from.
    pub report: String,
    /// K.
    pub index: u32,
    /// N.
    pub count: u32,
    /// Where K/N came from.
    pub source: String,
    /// Host.
    pub host: Option<String>,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// CPU seconds.
    pub cpu_seconds: Option<f64>,
    /// Bytes of input in this shard.
    pub shard_bytes: u64,
    /// File counts.
    pub files: FileCounts,
}

/// The merged record written by `graypipe merge -o`.
#[derive(Debug, Clone, Serialize)]
pub struct MergedReport {
    /// graypipe's version.
    pub graypipe_version: &'static str,
    /// True when every check passed.
    pub complete: bool,
    /// Shard count N (of the first report).
    pub shard_count: u32,
    /// Assignment strategy.
    pub strategy: Option<String>,
    /// Files in the listing.
    pub listing_files: Option<usize>,
    /// The listing's fingerprint.
    pub listing_fingerprint: Option<String>,
    /// Summed file counts.
    pub files: FileCounts,
    /// Slowest shard's wall seconds.
    pub wall_seconds_max: f64,
    /// Mean wall seconds over shards.
    pub wall_seconds_mean: f64,
    /// Slowest shard's wall time over the mean (1.0 = perfect balance).
    pub imbalance: f64,
    /// CPU seconds over all shards (null if a shard did not record it).
    pub cpu_seconds_total: Option<f64>,
    /// Busiest shard's CPU seconds over the mean (null if a shard did not record them): the
    /// work imbalance, apart from the waits in the wall times.
    pub cpu_imbalance: Option<f64>,
    /// Per shard, by K.
    pub shards: Vec<ShardLine>,
    /// Every check that failed.
    pub problems: Vec<MergeProblem>,
    /// Every failed file over all shards.
    pub failures: Vec<serde_json::Value>,
    /// Every file over all shards, by output path.
    pub results: Vec<ResultRecord>,
}

/// Joins shard reports (each with a label, normally its path) and checks them: every shard
/// 1..N present exactly once, one N, one job (version, settings, input roots, output folder,
/// selection), one listing fingerprint and strategy, each report consistent with itself, no
/// failed or unfinished files, every file of the listing processed exactly once (files are
/// told apart by their exact bytes).
pub fn merge(reports: Vec<(String, ShardReport)>) -> MergedReport {
    let mut problems = Vec::new();
    if reports.is_empty() {
        problems.push(MergeProblem::NoReports);
    }
    let mut sharded: Vec<(String, ShardMeta, ShardReport)> = Vec::new();
    for (label, r) in reports {
        match r.shard.clone() {
            Some(m) => sharded.push((label, m, r)),
            None => problems.push(MergeProblem::NotSharded { report: label }),
        }
    }
    sharded.sort_by(|a, b| (a.1.index, &a.0).cmp(&(b.1.index, &b.0)));
    let count = sharded.first().map_or(0, |s| s.1.count);
    let mut by_index: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (label, m, _) in &sharded {
        if m.index == 0 || m.index > m.count {
            problems.push(MergeProblem::InvalidShard {
                report: label.clone(),
                index: m.index,
                count: m.count,
            });
        } else if m.count != count {
            problems.push(MergeProblem::CountDisagrees {
                report: label.clone(),
                index: m.index,
                count: m.count,
                expected: count,
            });
        }
        by_index.entry(m.index).or_default().push(label.clone());
    }
    // Missing shards as runs between the ones present: no work per absent shard.
    let mut next = 1u64;
    let present = by_index
        .keys()
        .map(|&k| u64::from(k))
        .filter(|&k| k >= 1 && k <= u64::from(count));
    for k in present.chain(std::iter::once(u64::from(count) + 1)) {
        if k > next {
            // Both ends lie in 1..=count, a u32.
            problems.push(MergeProblem::Missing {
                first: u32::try_from(next).unwrap_or(u32::MAX),
                last: u32::try_from(k - 1).unwrap_or(u32::MAX),
                count,
            });
        }
        next = k + 1;
    }
    for (&k, r) in &by_index {
        if r.len() > 1 {
            problems.push(MergeProblem::Duplicate {
                index: k,
                count,
                reports: r.clone(),
            });
        }
    }
    if let Some((ref_label, refm, refr)) = sharded.first() {
        for (label, m, r) in &sharded {
            if m.job.is_none() {
                problems.push(MergeProblem::TooOld {
                    report: label.clone(),
                    version: r.graypipe_version.clone().unwrap_or_else(|| "?".into()),
                    current: env!("CARGO_PKG_VERSION").into(),
                });
            }
        }
        for (label, m, r) in sharded.iter().skip(1) {
            let disagree =
                |field: &str, value: String, expected: String| MergeProblem::JobDisagrees {
                    index: m.index,
                    count: m.count,
                    report: label.clone(),
                    field: field.into(),
                    value,
                    expected_index: refm.index,
                    expected_report: ref_label.clone(),
                    expected,
                };
            let text = |v: &Option<serde_json::Value>| {
                v.as_ref()
                    .map_or_else(|| "absent".into(), |v| v.to_string())
            };
            if r.graypipe_version != refr.graypipe_version {
                problems.push(disagree(
                    "graypipe_version",
                    text(&r.graypipe_version.clone().map(Into::into)),
                    text(&refr.graypipe_version.clone().map(Into::into)),
                ));
            }
            for ((name, v), (_, want)) in r.settings().into_iter().zip(refr.settings()) {
                if v != want {
                    problems.push(disagree(name, text(v), text(want)));
                }
            }
            if let (Some(job), Some(want)) = (&m.job, &refm.job) {
                let paths = |ps: &[super::run_json::ExactPath]| {
                    ps.iter()
                        .map(|p| p.path.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if job.inputs != want.inputs {
                    problems.push(disagree(
                        "input roots",
                        paths(&job.inputs),
                        paths(&want.inputs),
                    ));
                }
                if job.output != want.output {
                    problems.push(disagree(
                        "output folder",
                        job.output.path.clone(),
                        want.output.path.clone(),
                    ));
                }
                if job.selection != want.selection {
                    problems.push(disagree(
                        "selection",
                        job.selection.clone(),
                        want.selection.clone(),
                    ));
                }
            }
            if m.listing_fingerprint != refm.listing_fingerprint
                || m.strategy != refm.strategy
                || m.listing_files != refm.listing_files
                || m.listing_bytes != refm.listing_bytes
            {
                problems.push(MergeProblem::ListingDisagrees {
                    index: m.index,
                    count: m.count,
                    report: label.clone(),
                    fingerprint: m.listing_fingerprint.clone(),
                    strategy: m.strategy.clone(),
                    expected_fingerprint: refm.listing_fingerprint.clone(),
                    expected_strategy: refm.strategy.clone(),
                });
            }
        }
    }
    for (label, m, r) in &sharded {
        for reason in contradictions(m, r) {
            problems.push(MergeProblem::Inconsistent {
                report: label.clone(),
                reason,
            });
        }
        if r.files.failed > 0 || r.files.not_started > 0 {
            problems.push(MergeProblem::ShardFailed {
                index: m.index,
                count: m.count,
                report: label.clone(),
                failed: r.files.failed,
                not_started: r.files.not_started,
            });
        }
    }
    let reference = sharded.first().map(|s| s.1.clone());

    // Files keyed by their exact output bytes: names that are not UTF-8 stay apart.
    let mut owners: HashMap<Vec<u8>, (String, Vec<u32>)> = HashMap::new();
    let mut files = FileCounts::default();
    let mut failures = Vec::new();
    let mut results: Vec<(Vec<u8>, ResultRecord)> = Vec::new();
    let mut shards = Vec::new();
    for (label, m, r) in sharded {
        files.add(&r.files);
        for rec in r.results {
            let key = rec
                .exact_output()
                .unwrap_or_else(|| rec.output.as_bytes().to_vec());
            owners
                .entry(key.clone())
                .or_insert_with(|| (rec.output.clone(), Vec::new()))
                .1
                .push(m.index);
            results.push((key, rec));
        }
        shards.push(ShardLine {
            report: label,
            index: m.index,
            count: m.count,
            source: m.source.clone(),
            host: r.host.clone(),
            wall_seconds: r.wall_seconds,
            cpu_seconds: r.process_cpu_seconds,
            shard_bytes: m.shard_bytes,
            files: r.files,
        });
        failures.extend(r.failures);
    }
    let mut twice: Vec<(String, Vec<u32>)> = owners
        .values()
        .filter(|(_, v)| v.len() > 1)
        .cloned()
        .collect();
    twice.sort();
    for (output, shards) in twice {
        problems.push(MergeProblem::FileTwice { output, shards });
    }
    if let Some(refm) = &reference {
        if owners.len() != refm.listing_files {
            problems.push(MergeProblem::FilesUnaccounted {
                expected: refm.listing_files,
                got: owners.len(),
            });
        }
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let results: Vec<ResultRecord> = results.into_iter().map(|(_, r)| r).collect();

    let walls: Vec<f64> = shards.iter().map(|s| s.wall_seconds).collect();
    let wall_max = walls.iter().cloned().fold(0.0, f64::max);
    let wall_mean = if walls.is_empty() {
        0.0
    } else {
        walls.iter().sum::<f64>() / walls.len() as f64
    };
    let cpu_total = shards.iter().map(|s| s.cpu_seconds).sum::<Option<f64>>();
    MergedReport {
        graypipe_version: env!("CARGO_PKG_VERSION"),
        complete: problems.is_empty(),
        shard_count: count,
        strategy: reference.as_ref().map(|m| m.strategy.clone()),
        listing_files: reference.as_ref().map(|m| m.listing_files),
        listing_fingerprint: reference.as_ref().map(|m| m.listing_fingerprint.clone()),
        files,
        wall_seconds_max: wall_max,
        wall_seconds_mean: wall_mean,
        imbalance: crate::batch::shard::imbalance(&walls),
        cpu_seconds_total: cpu_total,
        cpu_imbalance: shards
            .iter()
            .map(|s| s.cpu_seconds)
            .collect::<Option<Vec<f64>>>()
            .filter(|c| !c.is_empty())
            .map(|c| crate::batch::shard::imbalance(&c)),
        shards,
        problems,
        failures,
        results,
    }
}

/// Where a shard report contradicts itself: per-file statuses against its counts, its share
/// against the listing, a status or exact name that cannot be.
fn contradictions(m: &ShardMeta, r: &ShardReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut by_status = FileCounts::default();
    for rec in &r.results {
        match rec.status.as_str() {
            "written" => by_status.written += 1,
            "failed" => by_status.failed += 1,
            "skipped" => by_status.skipped += 1,
            "not_started" => by_status.not_started += 1,
            other => out.push(format!("{}: unknown status {other:?}", rec.output)),
        }
        if rec.exact_output().is_none() {
            out.push(format!("{}: output_hex is not hex", rec.output));
        }
    }
    let counts = &r.files;
    let mut differ = |what: &str, listed: usize, counted: usize| {
        if listed != counted {
            out.push(format!(
                "files.{what} is {counted} but {listed} file(s) are listed as {what}"
            ));
        }
    };
    differ("written", by_status.written, counts.written);
    differ("skipped", by_status.skipped, counts.skipped);
    differ("not_started", by_status.not_started, counts.not_started);
    // Paths that could not be listed fail without a file line, but each has a failure entry.
    if by_status.failed > counts.failed {
        out.push(format!(
            "files.failed is {} but {} file(s) are listed as failed",
            counts.failed, by_status.failed
        ));
    }
    if r.failures.len() != counts.failed {
        out.push(format!(
            "files.failed is {} but {} failure(s) are listed",
            counts.failed,
            r.failures.len()
        ));
    }
    let planned = r.results.len().saturating_sub(by_status.skipped);
    if counts.planned != planned {
        out.push(format!(
            "files.planned is {} but {planned} file(s) are listed as planned",
            counts.planned
        ));
    }
    if r.results.len() > m.listing_files {
        out.push(format!(
            "{} file(s) listed in a shard of a listing of {}",
            r.results.len(),
            m.listing_files
        ));
    }
    if m.shard_bytes > m.listing_bytes {
        out.push(format!(
            "shard_bytes {} exceed listing_bytes {}",
            m.shard_bytes, m.listing_bytes
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(index: u32, count: u32, outputs: &[&str], listing: usize, wall: f64) -> ShardReport {
        ShardReport {
            shard: Some(ShardMeta {
                index,
                count,
                strategy: "size".into(),
                source: "flag".into(),
                listing_files: listing,
                listing_bytes: 0,
                shard_bytes: 0,
                listing_fingerprint: "f".repeat(32),
                job: Some(ShardJob {
                    inputs: vec![super::super::run_json::ExactPath {
                        path: "/data/in".into(),
                        hex: None,
                    }],
                    output: super::super::run_json::ExactPath {
                        path: "/data/out".into(),
                        hex: None,
                    },
                    selection: "include=[]".into(),
                }),
            }),
            graypipe_version: Some("1.0".into()),
            operation: Some("otsu".into()),
            maxval: Some(255.0.into()),
            luma: None,
            read: None,
            format: None,
            bit_depth: None,
            png_compression: None,
            max_pixels: None,
            host: Some(format!("node{index}")),
            wall_seconds: wall,
            process_cpu_seconds: Some(wall * 2.0),
            files: FileCounts {
                planned: outputs.len(),
                written: outputs.len(),
                ..FileCounts::default()
            },
            failures: vec![],
            results: outputs
                .iter()
                .map(|o| ResultRecord {
                    input: format!("in/{o}"),
                    output: format!("out/{o}"),
                    output_hex: None,
                    status: "written".into(),
                    rest: Default::default(),
                })
                .collect(),
            listing: None,
        }
    }

    fn three() -> Vec<(String, ShardReport)> {
        vec![
            ("r2.json".into(), report(2, 3, &["c", "d"], 5, 2.0)),
            ("r1.json".into(), report(1, 3, &["a", "b"], 5, 1.0)),
            ("r3.json".into(), report(3, 3, &["e"], 5, 3.0)),
        ]
    }

    #[test]
    fn complete_set_merges_in_order_with_imbalance() {
        let m = merge(three());
        assert!(m.complete, "{:?}", m.problems);
        assert_eq!(m.files.written, 5);
        assert_eq!(
            m.shards.iter().map(|s| s.index).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let outs: Vec<&str> = m.results.iter().map(|r| r.output.as_str()).collect();
        assert_eq!(outs, ["out/a", "out/b", "out/c", "out/d", "out/e"]);
        assert!((m.imbalance - 1.5).abs() < 1e-12);
        assert_eq!(m.cpu_seconds_total, Some(12.0));
        // CPU 2, 4, 6 s: the busiest over the mean.
        assert!((m.cpu_imbalance.unwrap() - 1.5).abs() < 1e-12);
    }

    #[test]
    fn missing_shard_is_named() {
        let mut r = three();
        r.remove(0);
        let m = merge(r);
        assert!(!m.complete);
        assert!(m.problems.contains(&MergeProblem::Missing {
            first: 2,
            last: 2,
            count: 3
        }));
        assert!(m.problems.contains(&MergeProblem::FilesUnaccounted {
            expected: 5,
            got: 3
        }));
        assert!(m.problems[0].to_string().contains("shard 2/3 is missing"));
    }

    #[test]
    fn duplicate_shard_and_file_twice() {
        let mut r = three();
        r.push(("again.json".into(), report(2, 3, &["c", "d"], 5, 2.0)));
        let m = merge(r);
        assert!(m.problems.contains(&MergeProblem::Duplicate {
            index: 2,
            count: 3,
            reports: vec!["again.json".into(), "r2.json".into()]
        }));
        assert!(m.problems.contains(&MergeProblem::FileTwice {
            output: "out/c".into(),
            shards: vec![2, 2]
        }));
    }

    #[test]
    fn failed_shard_is_named() {
        let mut r = three();
        r[2].1.files.failed = 1;
        r[2].1.files.written -= 1;
        r[2].1.results[0].status = "failed".into();
        r[2].1
            .failures
            .push(serde_json::json!({"input": "in/e", "reason": "bad"}));
        let m = merge(r);
        assert_eq!(m.problems.len(), 1);
        let msg = m.problems[0].to_string();
        assert!(msg.contains("shard 3/3 (r3.json) failed"), "{msg}");
    }

    #[test]
    fn different_listing_count_or_unsharded_is_refused() {
        let mut r = three();
        if let Some(s) = r[0].1.shard.as_mut() {
            s.listing_fingerprint = "0".repeat(32);
        }
        if let Some(s) = r[2].1.shard.as_mut() {
            s.count = 4;
        }
        r.push(("plain.json".into(), {
            let mut p = report(1, 1, &[], 0, 0.0);
            p.shard = None;
            p
        }));
        let m = merge(r);
        let kinds: Vec<String> = m.problems.iter().map(|p| p.to_string()).collect();
        assert!(kinds
            .iter()
            .any(|k| k.contains("plain.json: not a shard report")));
        assert!(kinds
            .iter()
            .any(|k| k.contains("planned a different listing")));
        assert!(kinds
            .iter()
            .any(|k| k.contains("other reports say 3 shards")));
    }

    fn kinds(m: &MergedReport) -> Vec<String> {
        m.problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_different_job_is_named() {
        let mut r = three();
        r[0].1.maxval = Some(128.0.into());
        r[0].1.luma = Some("bt709".into());
        r[2].1.graypipe_version = Some("0.9".into());
        if let Some(job) = r[2].1.shard.as_mut().and_then(|s| s.job.as_mut()) {
            job.output.path = "/data/other".into();
            job.inputs[0].path = "/data/in2".into();
            job.selection = "include=[\"*.png\"]".into();
        }
        let m = merge(r);
        let k = kinds(&m);
        for want in [
            "shard 2/3 (r2.json) ran a different job: maxval is 128.0, but shard 1 (r1.json) has 255.0",
            "shard 2/3 (r2.json) ran a different job: luma is \"bt709\", but shard 1 (r1.json) has absent",
            "shard 3/3 (r3.json) ran a different job: graypipe_version is \"0.9\"",
            "shard 3/3 (r3.json) ran a different job: output folder is /data/other, but shard 1 (r1.json) has /data/out",
            "shard 3/3 (r3.json) ran a different job: input roots is /data/in2",
            "shard 3/3 (r3.json) ran a different job: selection is",
        ] {
            assert!(k.iter().any(|p| p.starts_with(want)), "{want} not in {k:#?}");
        }
        assert_eq!(k.len(), 6, "{k:#?}");
    }

    #[test]
    fn impossible_shards_and_self_contradicting_reports_are_named() {
        let mut r = three();
        // Shard 3 of 2 among shards of 3.
        if let Some(s) = r[2].1.shard.as_mut() {
            s.count = 2;
        }
        // Counts that say 2 written where the files say 1 written and 1 failed.
        r[1].1.results[1].status = "failed".into();
        let m = merge(r);
        let k = kinds(&m);
        assert!(
            k.iter()
                .any(|p| p == "r3.json: shard 3/2 is impossible (K must be in 1..=N)"),
            "{k:#?}"
        );
        assert!(
            k.iter().any(|p| p.starts_with("r1.json: the report contradicts itself: files.written is 2 but 1 file(s) are listed as written")),
            "{k:#?}"
        );
        assert!(
            k.iter().any(|p| p.starts_with("r1.json: the report contradicts itself: files.failed is 0 but 1 file(s) are listed as failed")),
            "{k:#?}"
        );
        let mut r = three();
        r[0].1.results[0].status = "maybe".into();
        assert!(kinds(&merge(r))
            .iter()
            .any(|p| p.contains("unknown status \"maybe\"")));
    }

    #[test]
    fn huge_counts_cost_nothing_per_missing_shard() {
        let m = merge(vec![("r.json".into(), report(1, u32::MAX, &["a"], 1, 1.0))]);
        assert!(m.problems.contains(&MergeProblem::Missing {
            first: 2,
            last: u32::MAX,
            count: u32::MAX
        }));
        assert_eq!(m.problems.len(), 1, "{:?}", m.problems);
        assert!(m.problems[0]
            .to_string()
            .starts_with("shards 2 to 4294967295 of 4294967295 are missing"));
    }

    #[test]
    fn names_that_are_not_utf8_merge_by_their_exact_bytes() {
        // Two outputs whose names differ only in bytes that are not UTF-8: the same text.
        let mut r = vec![
            ("r1.json".into(), report(1, 2, &["\u{fffd}.png"], 2, 1.0)),
            ("r2.json".into(), report(2, 2, &["\u{fffd}.png"], 2, 1.0)),
        ];
        r[0].1.results[0].output_hex = Some("6f75742fff2e706e67".into());
        r[1].1.results[0].output_hex = Some("6f75742ffe2e706e67".into());
        let m = merge(r);
        assert!(m.complete, "{:?}", m.problems);
        assert_eq!(m.results.len(), 2);
        // Sorted by exact bytes: 0xfe before 0xff.
        assert_eq!(
            m.results[0].output_hex.as_deref(),
            Some("6f75742ffe2e706e67")
        );
    }

    #[test]
    fn reports_that_do_not_record_the_job_are_refused() {
        let mut r = three();
        if let Some(s) = r[1].1.shard.as_mut() {
            s.job = None;
        }
        let k = kinds(&merge(r));
        assert!(
            k.iter().any(|p| p
                .starts_with("r1.json: written by graypipe 1.0, which does not record the job")),
            "{k:#?}"
        );
    }

    #[test]
    fn no_reports() {
        let m = merge(vec![]);
        assert_eq!(m.problems, [MergeProblem::NoReports]);
        assert!(!m.complete);
    }

    #[test]
    fn reads_a_run_report_with_unknown_fields() {
        let json = r#"{"graypipe_version":"x","engine":"staged","files":{"planned":1,"written":1,
          "failed":0,"skipped":0,"not_started":0,"future_field":3},"wall_seconds":0.5,
          "host":"h","process_cpu_seconds":0.7,"new_top_level":{"a":1},
          "shard":{"index":1,"count":1,"strategy":"hash","source":"slurm","listing_files":1,
          "listing_bytes":10,"shard_bytes":10,"listing_fingerprint":"ab",
          "job":{"inputs":[{"path":"/i"}],"output":{"path":"/o"},"selection":"s"}},
          "failures":[],"results":[{"input":"a.png","output":"o/a.png","status":"written",
          "bytes":5,"width":1,"height":1}]}"#;
        let r: ShardReport = serde_json::from_str(json).expect("parses");
        let m = merge(vec![("r.json".into(), r)]);
        assert!(m.complete, "{:?}", m.problems);
        assert_eq!(m.results[0].rest["bytes"], 5);
    }
}
