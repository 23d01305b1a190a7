//! `graypipe merge`: the shard reports of one sharded batch joined into one record, with the
//! checks that catch a shard that never ran (batch engines may report such a shard as
//! completed), ran twice, planned a different listing, or failed. Pure functions over the
//! report records; reading and writing files is the CLI's.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::run_json::FileCounts;

/// The fields of a `graypipe run --report` that merging reads (others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct ShardReport {
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
    /// Outcome.
    pub status: String,
    /// Every other field, as written.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
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
    /// A shard with no report: it never ran, or never finished.
    #[error("shard {index}/{count} is missing: no report for it (did it run?)")]
    Missing {
        /// K.
        index: u32,
        /// N.
        count: u32,
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
/// 1..N present exactly once, one N, one listing fingerprint and strategy, no failed or
/// unfinished files, every file of the listing processed exactly once.
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
        if m.count != count {
            problems.push(MergeProblem::CountDisagrees {
                report: label.clone(),
                index: m.index,
                count: m.count,
                expected: count,
            });
        }
        by_index.entry(m.index).or_default().push(label.clone());
    }
    for k in 1..=count {
        match by_index.get(&k) {
            None => problems.push(MergeProblem::Missing { index: k, count }),
            Some(r) if r.len() > 1 => problems.push(MergeProblem::Duplicate {
                index: k,
                count,
                reports: r.clone(),
            }),
            Some(_) => {}
        }
    }
    let reference = sharded.first().map(|s| s.1.clone());
    if let Some(refm) = &reference {
        for (label, m, _) in sharded.iter().skip(1) {
            if m.listing_fingerprint != refm.listing_fingerprint || m.strategy != refm.strategy {
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

    let mut owners: HashMap<String, Vec<u32>> = HashMap::new();
    let mut files = FileCounts::default();
    let mut failures = Vec::new();
    let mut results = Vec::new();
    let mut shards = Vec::new();
    for (label, m, r) in sharded {
        files.add(&r.files);
        for rec in &r.results {
            owners.entry(rec.output.clone()).or_default().push(m.index);
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
        results.extend(r.results);
    }
    let mut twice: Vec<(String, Vec<u32>)> = owners
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| (k.clone(), v.clone()))
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
    results.sort_by(|a, b| a.output.cmp(&b.output));

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
            }),
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
        assert!(m
            .problems
            .contains(&MergeProblem::Missing { index: 2, count: 3 }));
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
          "listing_bytes":10,"shard_bytes":10,"listing_fingerprint":"ab"},
          "failures":[],"results":[{"input":"a.png","output":"o/a.png","status":"written",
          "bytes":5,"width":1,"height":1}]}"#;
        let r: ShardReport = serde_json::from_str(json).expect("parses");
        let m = merge(vec![("r.json".into(), r)]);
        assert!(m.complete, "{:?}", m.problems);
        assert_eq!(m.results[0].rest["bytes"], 5);
    }
}
