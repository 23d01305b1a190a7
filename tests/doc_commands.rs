//! Every `graypipe` command in the README and the guide runs as written.
//!
//! The ```sh blocks of `README.md` and of every page in `docs/` are run, block by block, with
//! `sh -e` in a scratch folder that holds the repository's `sample_images/`, and with this
//! build's `graypipe` first on `PATH`. A block fails the test when any of its commands fails.
//! Lines that build or install (`cargo`, `pip`, `apt-get`, `sudo`) are left out here: `.ci/run`
//! runs the README's set-up commands itself. Blocks that need what a test machine lacks (a
//! cluster, a cloud bucket) are written as ```text or ```console, which are shown, not run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The ```sh blocks of one Markdown file, each with the line it starts on.
fn sh_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed.starts_with("```") => {
                if trimmed.trim_start_matches('`').trim() == "sh" {
                    current = Some((i + 1, String::new()));
                } else {
                    // Any other fence: skip to its end by tracking it as a non-sh block.
                    current = Some((0, String::new()));
                }
            }
            None => {}
            Some((start, body)) => {
                if trimmed.starts_with("```") {
                    if *start != 0 {
                        blocks.push((*start, std::mem::take(body)));
                    }
                    current = None;
                } else if *start != 0 {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    blocks
}

/// The runnable part of a block: set-up lines (build, install) left out, continuation lines
/// kept with the command they continue.
fn runnable(block: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in block.lines() {
        let t = line.trim_start();
        let starts_setup = ["cargo ", "pip ", "apt-get ", "sudo ", "python3 -m pip "]
            .iter()
            .any(|p| t.starts_with(p));
        if !skipping && starts_setup {
            skipping = true;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
        if !line.trim_end().ends_with('\\') {
            skipping = false;
        }
    }
    out
}

fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ is listed")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_sh_block_of_the_readme_and_the_guide_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = tempfile::tempdir().expect("a scratch folder");
    let exe = Path::new(env!("CARGO_BIN_EXE_graypipe"));
    std::os::unix::fs::symlink(exe, bin_dir.path().join("graypipe")).expect("link graypipe");
    let path = format!(
        "{}:{}",
        bin_dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let mut ran = 0;
    let mut failures = Vec::new();
    for file in markdown_files(root) {
        let text = fs::read_to_string(&file).expect("a Markdown file reads");
        for (line, block) in sh_blocks(&text) {
            let script = runnable(&block);
            if script.trim().is_empty() {
                continue;
            }
            let work = tempfile::tempdir().expect("a scratch folder");
            std::os::unix::fs::symlink(
                root.join("sample_images"),
                work.path().join("sample_images"),
            )
            .expect("link sample_images");
            let out = Command::new("sh")
                .arg("-ec")
                .arg(&script)
                .current_dir(work.path())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .output()
                .expect("sh runs");
            ran += 1;
            if !out.status.success() {
                failures.push(format!(
                    "{}:{}: exit {:?}\n{}\nstderr: {}",
                    file.strip_prefix(root).unwrap_or(&file).display(),
                    line,
                    out.status.code(),
                    script,
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(
        ran >= 3,
        "only {ran} sh blocks found: the extraction is broken"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn the_extractor_finds_sh_blocks_and_leaves_set_up_lines_out() {
    let md = "x\n```sh\ncargo build \\\n  --release\ngraypipe run a -o b\n```\n```text\ngraypipe nope\n```\n";
    let blocks = sh_blocks(md);
    assert_eq!(blocks.len(), 1);
    assert_eq!(runnable(&blocks[0].1), "graypipe run a -o b\n");
}
