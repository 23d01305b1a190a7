//! `graypipe run --shard` and `graypipe merge` end to end: shards together write exactly the
//! tree a single run writes, `--shard auto` reads each batch engine's variables, and merge
//! names a missing, duplicate or foreign shard.

mod common;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{ImageFormat, RgbImage};

/// Every variable `--shard auto` looks at, removed so that a test run inside a Slurm job or a
/// Kubernetes pod is not steered by its own engine.
const SHARD_VARS: &[&str] = &[
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_JOB_ID",
    "JOB_COMPLETION_INDEX",
    "GRAYPIPE_SHARD_COUNT",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
    "BATCH_TASK_INDEX",
    "BATCH_TASK_COUNT",
];

/// Variables as (name, value) pairs.
type Vars<'a> = &'a [(&'a str, &'a str)];

fn graypipe_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_graypipe"));
    for v in SHARD_VARS {
        c.env_remove(v);
    }
    c.args(args).envs(vars.iter().copied());
    c.output().expect("the graypipe binary runs")
}

/// A nested tree of 14 pictures of very different sizes.
fn mixed_input(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    for i in 0..14u32 {
        let (w, h) = if i % 5 == 0 {
            (300, 200)
        } else {
            (20 + i, 10 + i)
        };
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7 + i) as u8, (y * 3) as u8, ((x ^ y) + i * 9) as u8])
        });
        let path = input.join(format!("d{}/sub{}/p{i:02}.png", i % 3, i % 2));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        img.save_with_format(&path, ImageFormat::Png).unwrap();
    }
    input
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn run_shards(input: &Path, out: &Path, reports: &Path, n: u32, by: &str) -> Vec<PathBuf> {
    fs::create_dir_all(reports).unwrap();
    (1..=n)
        .map(|k| {
            let report = reports.join(format!("shard-{k}.json"));
            let shard = format!("{k}/{n}");
            let o = graypipe_env(
                &[
                    "run",
                    s(input),
                    "-o",
                    s(out),
                    "-q",
                    "--shard",
                    &shard,
                    "--shard-by",
                    by,
                    "--report",
                    s(&report),
                ],
                &[],
            );
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            report
        })
        .collect()
}

#[test]
fn shards_together_write_the_single_run_tree_and_merge_completely() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let single = t.path().join("single");
    let o = graypipe_env(&["run", s(&input), "-o", s(&single), "-q"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for by in ["size", "hash"] {
        for n in [1, 3, 5] {
            let out = t.path().join(format!("out-{by}-{n}"));
            let reports = run_shards(&input, &out, &t.path().join(format!("r-{by}-{n}")), n, by);
            assert_eq!(tree(&out), tree(&single), "{by} {n}");
            let merged = t.path().join(format!("merged-{by}-{n}.json"));
            let mut args = vec!["merge"];
            args.extend(reports.iter().map(|r| s(r)));
            args.extend(["-o", s(&merged)]);
            let o = graypipe_env(&args, &[]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert!(stderr(&o).contains("imbalance"), "{}", stderr(&o));
            let m = json(&merged);
            assert_eq!(m["complete"], true);
            assert_eq!(m["files"]["written"], 14);
            assert_eq!(m["listing_files"], 14);
            assert_eq!(m["strategy"], by);
            assert_eq!(m["results"].as_array().unwrap().len(), 14);
            assert!(m["imbalance"].as_f64().unwrap() >= 1.0);
            let r1 = json(&reports[0]);
            assert_eq!(r1["shard"]["index"], 1);
            assert_eq!(r1["shard"]["count"], n);
            assert_eq!(r1["shard"]["source"], "flag");
            assert!(r1["host"].as_str().is_some_and(|h| !h.is_empty()));
            assert!(r1["process_cpu_seconds"].as_f64().is_some());
            assert_eq!(
                r1["shard"]["listing_fingerprint"].as_str().unwrap().len(),
                32
            );
        }
    }
}

#[test]
fn size_strategy_gives_the_big_files_their_own_shards() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let reports = run_shards(
        &input,
        &t.path().join("out"),
        &t.path().join("r"),
        3,
        "size",
    );
    // Three 300x200 pictures are far larger than the eleven small ones: one per shard.
    for r in reports {
        let big = json(&r)["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["width"] == 300)
            .count();
        assert_eq!(big, 1, "{}", r.display());
    }
}

#[test]
fn shard_auto_reads_kubernetes_aws_google_and_slurm_variables() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let cases: &[(Vars, &str, u32, u32)] = &[
        (
            &[("JOB_COMPLETION_INDEX", "1"), ("GRAYPIPE_SHARD_COUNT", "3")],
            "kubernetes",
            2,
            3,
        ),
        (
            &[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
            ],
            "aws-batch",
            1,
            2,
        ),
        (
            &[("BATCH_TASK_INDEX", "3"), ("BATCH_TASK_COUNT", "4")],
            "google-batch",
            4,
            4,
        ),
        (
            &[
                ("SLURM_JOB_ID", "77"),
                ("SLURM_ARRAY_TASK_ID", "11"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "10"),
                ("SLURM_ARRAY_TASK_MAX", "13"),
                ("SLURM_ARRAY_TASK_STEP", "1"),
            ],
            "slurm",
            2,
            4,
        ),
    ];
    for (i, (vars, source, k, n)) in cases.iter().enumerate() {
        let report = t.path().join(format!("r{i}.json"));
        let out = t.path().join(format!("o{i}"));
        let o = graypipe_env(
            &[
                "run",
                s(&input),
                "-o",
                s(&out),
                "--shard",
                "auto",
                "--report",
                s(&report),
            ],
            vars,
        );
        assert_eq!(o.status.code(), Some(0), "{source}: {}", stderr(&o));
        let shard_line = format!("shard {k}/{n} (from {source}, by size)");
        assert!(stderr(&o).contains(&shard_line), "{}", stderr(&o));
        let r = json(&report);
        assert_eq!(r["shard"]["source"], *source);
        assert_eq!(r["shard"]["index"], *k);
        assert_eq!(r["shard"]["count"], *n);
    }
}

#[test]
fn bad_shards_are_refused_before_any_work() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let out = t.path().join("out");
    let refused: &[(&[&str], Vars, &str)] = &[
        (&["--shard", "0/4"], &[], "out of range 1..=4"),
        (&["--shard", "5/4"], &[], "out of range 1..=4"),
        (&["--shard", "1/0"], &[], "at least 1"),
        (&["--shard", "two/4"], &[], "expected K/N"),
        (&["--shard", "auto"], &[], "no shard variables found"),
        (
            &["--shard", "auto"],
            &[("JOB_COMPLETION_INDEX", "0")],
            "GRAYPIPE_SHARD_COUNT is not set",
        ),
        (
            // sbatch --array=1,5,9
            &["--shard", "auto"],
            &[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "9"),
            ],
            "not a dense range",
        ),
        (&["--shard-by", "hash"], &[], "--shard"),
    ];
    for (extra, vars, message) in refused {
        let mut args = vec!["run", s(&input), "-o", s(&out)];
        args.extend_from_slice(extra);
        let o = graypipe_env(&args, vars);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{extra:?}: {}", stderr(&o));
        assert!(!out.exists(), "{extra:?} wrote output");
    }
}

#[test]
fn merge_names_missing_duplicate_and_foreign_shards() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let out = t.path().join("out");
    let reports = run_shards(&input, &out, &t.path().join("r"), 3, "hash");
    let merged = t.path().join("m.json");
    let merge = |rs: &[&Path]| {
        let mut args = vec!["merge"];
        args.extend(rs.iter().map(|r| s(r)));
        args.extend(["-o", s(&merged)]);
        graypipe_env(&args, &[])
    };

    let o = merge(&[&reports[0], &reports[2]]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("shard 2/3 is missing"),
        "{}",
        stderr(&o)
    );
    assert_eq!(json(&merged)["complete"], false);

    let o = merge(&[&reports[0], &reports[1], &reports[2], &reports[1]]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("shard 2/3 given more than once"),
        "{}",
        stderr(&o)
    );

    // A shard that saw a different listing (a file added after the others planned).
    let img = RgbImage::from_pixel(5, 5, image::Rgb([1, 2, 3]));
    img.save(input.join("late.png")).unwrap();
    let late = t.path().join("late.json");
    let o = graypipe_env(
        &[
            "run",
            s(&input),
            "-o",
            s(&t.path().join("out-late")),
            "-q",
            "--shard",
            "2/3",
            "--shard-by",
            "hash",
            "--report",
            s(&late),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = merge(&[&reports[0], &late, &reports[2]]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("shard 2/3") && stderr(&o).contains("different listing"),
        "{}",
        stderr(&o)
    );

    let garbage = t.path().join("garbage.json");
    fs::write(&garbage, "{not json").unwrap();
    let o = merge(&[&reports[0], &reports[1], &reports[2], &garbage]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("garbage.json: not a graypipe run report"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_failed_file_fails_its_shard_in_the_merge() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    fs::write(input.join("d0/broken.png"), b"\x89PNG\r\n\x1a\n not really").unwrap();
    let out = t.path().join("out");
    let dir = t.path().join("r");
    fs::create_dir_all(&dir).unwrap();
    let mut reports = Vec::new();
    let mut failed_shard = None;
    for k in 1..=2 {
        let report = dir.join(format!("{k}.json"));
        let shard = format!("{k}/2");
        let o = graypipe_env(
            &[
                "run",
                s(&input),
                "-o",
                s(&out),
                "-q",
                "--shard",
                &shard,
                "--report",
                s(&report),
            ],
            &[],
        );
        if o.status.code() == Some(1) {
            failed_shard = Some(k);
        }
        reports.push(report);
    }
    let k = failed_shard.expect("one shard holds the broken file and fails");
    let merged = t.path().join("m.json");
    let o = graypipe_env(
        &["merge", s(&reports[0]), s(&reports[1]), "-o", s(&merged)],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("shard {k}/2")) && err.contains("1 file(s) failed"),
        "{err}"
    );
    assert!(err.contains("broken.png"), "{err}");
}

#[test]
fn rerunning_a_shard_with_skip_existing_does_nothing_more() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let out = t.path().join("out");
    let first = run_shards(&input, &out, &t.path().join("r1"), 2, "size");
    let before = tree(&out);
    let again = t.path().join("again.json");
    let o = graypipe_env(
        &[
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--shard",
            "1/2",
            "--skip-existing",
            "--report",
            s(&again),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let a = json(&again);
    let f = json(&first[0]);
    assert_eq!(a["files"]["written"], 0);
    assert_eq!(a["files"]["skipped"], f["files"]["written"]);
    // The listing (and so the fingerprint) does not depend on what exists already.
    assert_eq!(
        a["shard"]["listing_fingerprint"],
        f["shard"]["listing_fingerprint"]
    );
    assert_eq!(tree(&out), before);
    // The re-run shard still merges with the other.
    let merged = t.path().join("m.json");
    let o = graypipe_env(&["merge", s(&again), s(&first[1]), "-o", s(&merged)], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
