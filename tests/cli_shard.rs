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
    "SLURM_PROCID",
    "SLURM_NTASKS",
    "SLURM_NPROCS",
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
            "not a range",
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

fn merge_reports(reports: &[&Path], merged: &Path) -> Output {
    let mut args = vec!["merge"];
    args.extend(reports.iter().map(|r| s(r)));
    args.extend(["-o", s(merged)]);
    graypipe_env(&args, &[])
}

fn run_one_shard(input: &Path, out: &Path, report: &Path, shard: &str, extra: &[&str]) {
    let mut args = vec![
        "run",
        s(input),
        "-o",
        s(out),
        "-q",
        "--shard",
        shard,
        "--report",
        s(report),
    ];
    args.extend_from_slice(extra);
    let o = graypipe_env(&args, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn merge_refuses_shards_that_ran_different_jobs() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let out = t.path().join("out");
    let r1 = t.path().join("r1.json");
    run_one_shard(&input, &out, &r1, "1/2", &["--threshold", "otsu"]);
    let merged = t.path().join("m.json");
    let other_input = t.path().join("copy");
    copy_tree(&input, &other_input);
    // (shard 2's options, what the merge must name, its input, its output folder)
    type Case<'a> = (&'a [&'a str], &'a str, Option<&'a Path>, Option<&'a Path>);
    let cases: &[Case] = &[
        (&["--threshold", "128"], "operation is", None, None),
        (
            &["--threshold", "otsu", "--luma", "bt709"],
            "luma is",
            None,
            None,
        ),
        (
            &["--threshold", "otsu", "--read", "gray"],
            "read is",
            None,
            None,
        ),
        (
            &["--threshold", "otsu", "--maxval", "200"],
            "maxval is",
            None,
            None,
        ),
        (
            &["--threshold", "otsu", "--bit-depth", "8"],
            "bit_depth is",
            None,
            None,
        ),
        (
            &["--threshold", "otsu", "--format", "bmp"],
            "format is",
            None,
            None,
        ),
        (
            &["--threshold", "otsu"],
            "output folder is",
            None,
            Some(&t.path().join("out2")),
        ),
        (
            &["--threshold", "otsu"],
            "input roots is",
            Some(&other_input),
            None,
        ),
        (
            &["--threshold", "otsu", "--include", "*.png"],
            "selection is",
            None,
            None,
        ),
    ];
    for (i, (extra, named, inp, outp)) in cases.iter().enumerate() {
        let r2 = t.path().join(format!("r2-{i}.json"));
        run_one_shard(
            inp.unwrap_or(&input),
            outp.unwrap_or(&out),
            &r2,
            "2/2",
            extra,
        );
        let o = merge_reports(&[&r1, &r2], &merged);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "shard 2/2 ({}) ran a different job: {named}",
                r2.display()
            )),
            "{extra:?}: {err}"
        );
        assert!(!err.contains("merge: complete"), "{err}");
        assert_eq!(json(&merged)["complete"], false);
    }
    // The same job merges.
    let r2 = t.path().join("r2-same.json");
    run_one_shard(&input, &out, &r2, "2/2", &["--threshold", "otsu"]);
    let o = merge_reports(&[&r1, &r2], &merged);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn copy_tree(from: &Path, to: &Path) {
    for rel in files_below(from) {
        fs::create_dir_all(to.join(&rel).parent().unwrap()).unwrap();
        fs::copy(from.join(&rel), to.join(&rel)).unwrap();
    }
}

#[test]
fn merge_refuses_reports_that_contradict_themselves_or_name_impossible_shards() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let out = t.path().join("out");
    let reports = run_shards(&input, &out, &t.path().join("r"), 2, "hash");
    let merged = t.path().join("m.json");
    let edit = |from: &Path, to: &str, change: &dyn Fn(&mut serde_json::Value)| {
        let mut v = json(from);
        change(&mut v);
        let path = t.path().join(to);
        fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        path
    };
    // Shard "3 of 2".
    let forged = edit(&reports[1], "three.json", &|v| {
        v["shard"]["index"] = 3.into()
    });
    let o = merge_reports(&[&reports[0], &forged], &merged);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("shard 3/2 is impossible"),
        "{}",
        stderr(&o)
    );
    // Counts that disagree with the per-file statuses.
    let lying = edit(&reports[1], "lying.json", &|v| {
        v["results"][0]["status"] = "failed".into();
    });
    let o = merge_reports(&[&reports[0], &lying], &merged);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the report contradicts itself: files.written is"),
        "{}",
        stderr(&o)
    );
    // A report from before the job was recorded.
    let old = edit(&reports[1], "old.json", &|v| {
        if let Some(m) = v["shard"].as_object_mut() {
            m.remove("job");
        }
    });
    let o = merge_reports(&[&reports[0], &old], &merged);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("does not record the job"),
        "{}",
        stderr(&o)
    );
    // A huge shard count: named as one run of missing shards.
    let huge = edit(&reports[0], "huge.json", &|v| {
        v["shard"]["count"] = 4294967295u32.into();
    });
    let o = merge_reports(&[&huge], &merged);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("shards 2 to 4294967295 of 4294967295 are missing"),
        "{}",
        stderr(&o)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn names_that_are_not_utf8_merge_complete() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir_all(&input).unwrap();
    // Two names that read the same as text (U+FFFD) but differ in their bytes.
    for (i, name) in [&b"\xff.png"[..], &b"\xfe.png"[..], &b"ok.png"[..]]
        .iter()
        .enumerate()
    {
        let img = RgbImage::from_pixel(4 + i as u32, 4, image::Rgb([10, 20, 30]));
        img.save_with_format(input.join(OsStr::from_bytes(name)), ImageFormat::Png)
            .unwrap();
    }
    let out = t.path().join("out");
    for by in ["size", "hash"] {
        let reports = run_shards(&input, &out, &t.path().join(format!("r-{by}")), 2, by);
        let merged = t.path().join(format!("m-{by}.json"));
        let o = merge_reports(&[&reports[0], &reports[1]], &merged);
        assert_eq!(o.status.code(), Some(0), "{by}: {}", stderr(&o));
        let m = json(&merged);
        assert_eq!(m["complete"], true);
        assert_eq!(m["results"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn absurd_shard_counts_and_indexes_are_refused_or_cost_nothing() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let out = t.path().join("out");
    // 4294967295 shards of 14 files: shard 1 gets one file, no allocation by the count.
    let report = t.path().join("r.json");
    let o = graypipe_env(
        &[
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--shard",
            "1/4294967295",
            "--report",
            s(&report),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&report)["files"]["written"], 1);
    let o = graypipe_env(
        &["run", s(&input), "-o", s(&out), "-q", "--shard", "auto"],
        &[
            ("JOB_COMPLETION_INDEX", "3"),
            ("GRAYPIPE_SHARD_COUNT", "4294967295"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let refused: &[(Vars, &str)] = &[
        (
            &[("JOB_COMPLETION_INDEX", "18446744073709551615"), ("GRAYPIPE_SHARD_COUNT", "4")],
            "JOB_COMPLETION_INDEX=18446744073709551615: is out of range 0..=3 (GRAYPIPE_SHARD_COUNT=4)",
        ),
        (
            &[("AWS_BATCH_JOB_ARRAY_INDEX", "99999999999999999999"), ("AWS_BATCH_JOB_ARRAY_SIZE", "4")],
            "AWS_BATCH_JOB_ARRAY_INDEX=99999999999999999999: is too large",
        ),
        (
            &[("BATCH_TASK_INDEX", "0"), ("BATCH_TASK_COUNT", "4294967296")],
            "BATCH_TASK_COUNT=4294967296: is more shards than graypipe supports",
        ),
        (
            // sbatch --array=5: re-running one task.
            &[
                ("SLURM_JOB_ID", "9"),
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "1"),
                ("SLURM_ARRAY_TASK_MIN", "5"),
                ("SLURM_ARRAY_TASK_MAX", "5"),
                ("SLURM_ARRAY_TASK_STEP", "1"),
            ],
            "sbatch --array=5 --export=ALL,GRAYPIPE_SHARD_COUNT=<N>",
        ),
        (
            &[("SLURM_JOB_ID", "9"), ("SLURM_PROCID", "1"), ("SLURM_NTASKS", "4")],
            "srun -n 4 sh -c",
        ),
    ];
    let fresh = t.path().join("fresh");
    for (vars, message) in refused {
        let o = graypipe_env(
            &["run", s(&input), "-o", s(&fresh), "--shard", "auto"],
            vars,
        );
        assert_eq!(o.status.code(), Some(2), "{vars:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{vars:?}: {}", stderr(&o));
        assert!(!fresh.exists(), "{vars:?} wrote output");
    }
}

#[test]
fn stepped_and_resubmitted_slurm_tasks_make_one_complete_batch() {
    let t = tempfile::tempdir().unwrap();
    let input = mixed_input(t.path());
    let out = t.path().join("out");
    let mut reports = Vec::new();
    // sbatch --array=1-7:2, then task 5 re-submitted alone with the count.
    for id in ["1", "3", "7", "5"] {
        let report = t.path().join(format!("task-{id}.json"));
        let mut vars = vec![("SLURM_JOB_ID", "9"), ("SLURM_ARRAY_TASK_ID", id)];
        if id == "5" {
            // Task 5 of 1-7:2 is shard 3/4: as a 0-based id with the count, that is 2.
            vars = vec![
                ("SLURM_JOB_ID", "10"),
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "1"),
                ("SLURM_ARRAY_TASK_MIN", "2"),
                ("SLURM_ARRAY_TASK_MAX", "2"),
                ("GRAYPIPE_SHARD_COUNT", "4"),
            ];
        } else {
            vars.extend([
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "7"),
                ("SLURM_ARRAY_TASK_STEP", "2"),
            ]);
        }
        let o = graypipe_env(
            &[
                "run",
                s(&input),
                "-o",
                s(&out),
                "-q",
                "--shard",
                "auto",
                "--report",
                s(&report),
            ],
            &vars,
        );
        assert_eq!(o.status.code(), Some(0), "{id}: {}", stderr(&o));
        reports.push(report);
    }
    let merged = t.path().join("m.json");
    let rs: Vec<&Path> = reports.iter().map(|p| p.as_path()).collect();
    let o = merge_reports(&rs, &merged);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&merged)["files"]["written"], 14);
}
