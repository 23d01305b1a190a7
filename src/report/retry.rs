//! What to convert again after a sharded batch: the inputs a merged record names as failed or
//! never started, as exact bytes for a `--files-from` list (`graypipe merge --failed-list`).
//! A pure function over the merged record.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::merge::{MergeProblem, MergedReport};
use crate::batch::shard::{assign, listing_key, ListingEntry, ShardBy};
use crate::batch::Plan;

/// One file of a sharded batch's whole listing and the shard it went to: every shard report
/// carries the whole listing, so that the files of a shard that never reported can still be
/// named for a retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedInput {
    /// Input path as text (bytes that are not UTF-8 shown as U+FFFD).
    pub input: String,
    /// The exact bytes in hex when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_hex: Option<String>,
    /// The shard (1-based) the file belongs to.
    pub shard: u32,
    /// The input folder the file was found in (its path below it is its output's path below
    /// the output folder): what `run --files-from --relative-to` needs to name it the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

/// The folder `input` was found in, given its output's path below the output folder: the
/// input's folder without the output key's folders at its end (naming never changes them).
fn input_root(input: &Path, key: &str) -> Option<std::path::PathBuf> {
    let mut folder = input.parent()?.to_path_buf();
    let mut dirs: Vec<&str> = key.split('/').collect();
    dirs.pop();
    for d in dirs.iter().rev() {
        if folder.file_name()? != std::ffi::OsStr::new(d) {
            return None;
        }
        folder.pop();
    }
    Some(folder)
}

/// The whole listing of `plan` (made without `--skip-existing`, before sharding) with each
/// file's shard, as `shard_plan` assigns them; `name` gives the path to record for a job's
/// input (object storage names for staged ones).
pub fn shard_listing(
    plan: &Plan,
    out_dir: &Path,
    count: u32,
    by: ShardBy,
    name: &dyn Fn(&Path) -> std::path::PathBuf,
) -> Vec<ListedInput> {
    let mut all: Vec<&crate::batch::Job> = plan.jobs.iter().chain(plan.skipped.iter()).collect();
    all.sort_by_key(|j| j.index);
    let entries: Vec<ListingEntry> = all
        .iter()
        .map(|j| ListingEntry {
            key: listing_key(&j.output, out_dir),
            size: std::fs::metadata(&j.input).map(|m| m.len()).unwrap_or(0),
        })
        .collect();
    let assignment = match by {
        ShardBy::Pixels => {
            let jobs: Vec<crate::batch::Job> = all.iter().map(|j| (*j).clone()).collect();
            assign(
                &crate::batch::shard::pixel_weights(&jobs, &entries),
                count,
                by,
            )
        }
        _ => assign(&entries, count, by),
    };
    all.iter()
        .zip(entries)
        .zip(assignment)
        .map(|((j, e), s)| {
            let input = name(&j.input);
            ListedInput {
                input: input.to_string_lossy().into_owned(),
                input_hex: super::run_json::exact_hex(&input),
                shard: s + 1,
                root: input_root(&input, &e.key).map(|r| r.to_string_lossy().into_owned()),
            }
        })
        .collect()
}

/// The inputs to retry and the shards whose files cannot be named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryList {
    /// Each input's exact path bytes, in the shards' order, each once.
    pub inputs: Vec<Vec<u8>>,
    /// Shards (K of N) with no report: their files are not known to the merge, so the shard
    /// itself must be run again (`--shard K/N`).
    pub unknown_shards: Vec<(u32, u32)>,
    /// The input folders the listed inputs were found in, each once (from the listing).
    pub roots: Vec<String>,
}

/// A record's path bytes: the hex spelling when the path is not UTF-8, else its text.
fn exact(text: &str, hex: Option<&str>) -> Option<Vec<u8>> {
    match hex {
        None => Some(text.as_bytes().to_vec()),
        Some(h) if h.len() % 2 == 0 => (0..h.len())
            .step_by(2)
            .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
            .collect(),
        Some(_) => None,
    }
}

/// The failed and unfinished inputs of `merged` (per-file results, then listing failures that
/// have no result, then the files of shards that reported nothing, from `listing`, the whole
/// listing a shard report carries), and the shards whose files cannot be named.
pub fn retry_list(merged: &MergedReport, listing: &[ListedInput]) -> RetryList {
    let mut seen = std::collections::HashSet::new();
    let mut inputs = Vec::new();
    let mut take = |bytes: Option<Vec<u8>>| {
        if let Some(b) = bytes.filter(|b| !b.is_empty() && !b.contains(&0)) {
            if seen.insert(b.clone()) {
                inputs.push(b);
            }
        }
    };
    for r in &merged.results {
        if r.status == "failed" || r.status == "not_started" {
            let hex = r.rest.get("input_hex").and_then(|v| v.as_str());
            take(exact(&r.input, hex));
        }
    }
    for f in &merged.failures {
        if let Some(input) = f.get("input").and_then(|v| v.as_str()) {
            let hex = f.get("input_hex").and_then(|v| v.as_str());
            take(exact(input, hex));
        }
    }
    let missing: Vec<(u32, u32)> = merged
        .problems
        .iter()
        .flat_map(|p| match p {
            MergeProblem::Missing { first, last, count } => {
                (*first..=*last).map(|k| (k, *count)).collect::<Vec<_>>()
            }
            _ => Vec::new(),
        })
        .collect();
    // A shard that never reported: its files from the listing the other shards carry.
    let mut unknown_shards = Vec::new();
    for (k, n) in missing {
        let files: Vec<&ListedInput> = listing.iter().filter(|l| l.shard == k).collect();
        if files.is_empty() && listing.is_empty() {
            unknown_shards.push((k, n));
        }
        for l in files {
            take(exact(&l.input, l.input_hex.as_deref()));
        }
    }
    let mut roots: Vec<String> = Vec::new();
    for l in listing {
        if let Some(r) = &l.root {
            let bytes = exact(&l.input, l.input_hex.as_deref());
            if bytes.is_some_and(|b| inputs.contains(&b)) && !roots.contains(r) {
                roots.push(r.clone());
            }
        }
    }
    RetryList {
        inputs,
        unknown_shards,
        roots,
    }
}

/// The list's bytes: one input a line, or NUL-terminated with `null`. A path holding the
/// separator cannot be written in that form and is returned apart.
pub fn list_bytes(list: &RetryList, null: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
    let sep = if null { 0u8 } else { b'\n' };
    let mut out = Vec::new();
    let mut unlistable = Vec::new();
    for p in &list.inputs {
        if p.contains(&sep) {
            unlistable.push(p.clone());
            continue;
        }
        out.extend_from_slice(p);
        out.push(sep);
    }
    (out, unlistable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(json: &str) -> MergedReport {
        let reports: Vec<(String, super::super::merge::ShardReport)> =
            serde_json::from_str(json).unwrap();
        super::super::merge::merge(reports)
    }

    #[test]
    fn hex_paths_decode_to_their_bytes() {
        assert_eq!(exact("a?b", Some("61ff62")), Some(vec![b'a', 0xff, b'b']));
        assert_eq!(exact("a.jpg", None), Some(b"a.jpg".to_vec()));
        assert_eq!(exact("x", Some("6")), None);
    }

    #[test]
    fn newline_paths_are_refused_without_null() {
        let list = RetryList {
            inputs: vec![b"a\nb.jpg".to_vec(), b"c.jpg".to_vec()],
            unknown_shards: vec![],
            roots: vec![],
        };
        let (text, bad) = list_bytes(&list, false);
        assert_eq!(text, b"c.jpg\n");
        assert_eq!(bad, vec![b"a\nb.jpg".to_vec()]);
        let (nul, bad) = list_bytes(&list, true);
        assert_eq!(nul, b"a\nb.jpg\0c.jpg\0");
        assert!(bad.is_empty());
    }

    #[test]
    fn failed_and_unstarted_files_and_missing_shards_are_listed() {
        let shard = |k: u32, results: &str, failed: usize, not_started: usize| {
            format!(
                r#"["r{k}", {{"shard": {{"index": {k}, "count": 3, "strategy": "size", "source": "flag",
                "listing_files": 4, "listing_bytes": 4, "shard_bytes": 1, "listing_fingerprint": "f"}},
                "wall_seconds": 1.0, "files": {{"planned": 2, "written": 0, "failed": {failed},
                "skipped": 0, "not_started": {not_started}}}, "failures": [], "results": [{results}]}}]"#
            )
        };
        let json = format!(
            "[{}, {}]",
            shard(
                1,
                r#"{"input": "a.jpg", "output": "o/a.png", "status": "written"},
                   {"input": "b.jpg", "output": "o/b.png", "status": "failed"}"#,
                1,
                0
            ),
            shard(
                3,
                r#"{"input": "c?.jpg", "input_hex": "63ff2e6a7067", "output": "o/c.png", "status": "not_started"}"#,
                0,
                1
            )
        );
        let list = retry_list(&merged(&json), &[]);
        assert_eq!(
            list.inputs,
            vec![b"b.jpg".to_vec(), vec![b'c', 0xff, b'.', b'j', b'p', b'g']]
        );
        assert_eq!(list.unknown_shards, vec![(2, 3)]);
        let listing =
            [("a.jpg", 1), ("d.jpg", 2), ("b.jpg", 1), ("e.jpg", 2)].map(|(i, s)| ListedInput {
                input: i.into(),
                input_hex: None,
                shard: s,
                root: Some("/in".into()),
            });
        let list = retry_list(&merged(&json), &listing);
        assert_eq!(list.inputs.len(), 4);
        assert_eq!(list.inputs[2..], [b"d.jpg".to_vec(), b"e.jpg".to_vec()]);
        assert!(list.unknown_shards.is_empty());
        assert_eq!(list.roots, vec!["/in".to_string()]);
    }

    #[test]
    fn the_input_folder_is_the_input_without_its_output_folders() {
        let root = |i: &str, k: &str| input_root(Path::new(i), k);
        assert_eq!(root("/d/in/a/b/x.jpg", "a/b/x.png"), Some("/d/in".into()));
        assert_eq!(root("/d/in/x.jpg", "x.png"), Some("/d/in".into()));
        assert_eq!(root("/d/in/a/x.jpg", "b/x.png"), None);
    }
}
