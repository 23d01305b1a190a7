//! The advice a refusal gives works when followed literally, and a dry run says what it chose.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{graypipe, s, stderr};

fn copy_picture(to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy("tests/fixtures/book/ship.png", to)
        .or_else(|_| fs::copy("sample_images/photos/camera.png", to))
        .unwrap();
}

/// The `--name '...'` the advice suggests, as one argument.
fn suggested_name(advice: &str) -> String {
    let at = advice
        .find("--name '")
        .expect("the advice names a --name template")
        + 8;
    advice[at..].split('\'').next().unwrap().to_string()
}

#[test]
fn same_stem_advice_followed_literally_converts_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_picture(&input.join("x.png"));
    fs::copy("sample_images/photos/rocket.jpg", input.join("x.jpg")).unwrap();
    for passed in [&[][..], &["--suffix", "_bw"][..]] {
        let out = dir.path().join(format!("out{}", passed.len()));
        let mut args = vec!["run", s(&input), "-o", s(&out), "-q"];
        args.extend_from_slice(passed);
        let refused = graypipe(&args);
        assert_eq!(refused.status.code(), Some(2));
        let advice = stderr(&refused);
        assert!(!advice.contains("--suffix"), "suggests --suffix: {advice}");
        let name = suggested_name(&advice);
        let followed = graypipe(&["run", s(&input), "-o", s(&out), "-q", "--name", &name]);
        assert_eq!(followed.status.code(), Some(0), "{}", stderr(&followed));
        assert_eq!(
            fs::read_dir(&out).unwrap().count(),
            2,
            "two outputs with --name {name}"
        );
    }
}

#[test]
fn two_cameras_advice_followed_literally_keeps_both_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let cam1 = dir.path().join("cam1");
    let cam2 = dir.path().join("cam2");
    copy_picture(&cam1.join("IMG_0001.png"));
    fs::create_dir_all(&cam2).unwrap();
    fs::copy("sample_images/photos/rocket.jpg", cam2.join("IMG_0001.jpg")).unwrap();
    // Same stem and extension kind: make the second one a PNG too.
    fs::remove_file(cam2.join("IMG_0001.jpg")).unwrap();
    fs::copy("sample_images/photos/camera.png", cam2.join("IMG_0001.png")).unwrap();
    let out = dir.path().join("out");
    let refused = graypipe(&["run", s(&cam1), s(&cam2), "-o", s(&out), "-q"]);
    assert_eq!(refused.status.code(), Some(2));
    let advice = stderr(&refused);
    assert!(
        !advice.contains("{ext}"),
        "a --name hint cannot help here: {advice}"
    );
    // Each suggested command line, run as written by a shell, with graypipe on the PATH.
    let bin = Path::new(env!("CARGO_BIN_EXE_graypipe")).parent().unwrap();
    let commands: Vec<&str> = advice
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("cd ") || l.starts_with("graypipe run"))
        .collect();
    assert!(
        commands.len() >= 3,
        "a list command and one run per input: {advice}"
    );
    let list_command = commands[0];
    let ran = Command::new("sh")
        .arg("-ec")
        .arg(list_command)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .output()
        .unwrap();
    assert!(ran.status.success(), "{list_command}: {}", stderr(&ran));
    assert!(out.join("cam1/IMG_0001.png").is_file());
    assert!(out.join("cam2/IMG_0001.png").is_file());
    fs::remove_dir_all(&out).unwrap();
    for per_input in &commands[1..] {
        let ran = Command::new("sh")
            .arg("-ec")
            .arg(per_input.split(';').next().unwrap())
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .output()
            .unwrap();
        assert!(ran.status.success(), "{per_input}: {}", stderr(&ran));
    }
    assert!(out.join("cam1/IMG_0001.png").is_file());
    assert!(out.join("cam2/IMG_0001.png").is_file());
}

#[test]
fn a_dry_run_that_selects_nothing_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = graypipe(&[
        "run",
        "sample_images/photos",
        "-o",
        s(&out),
        "--dry-run",
        "--exclude",
        "*.png",
        "--include",
        "*.png",
        "--max-depth",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("0 files selected"), "{err}");
    assert!(err.contains("excluded by --exclude"), "{err}");
    assert!(err.contains("matching no --include"), "{err}");
    assert!(err.contains("below --max-depth not walked"), "{err}");
}

#[test]
fn dry_run_json_prints_the_plan_for_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = graypipe(&[
        "run",
        "sample_images/photos",
        "-o",
        s(&out),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let jobs = plan["jobs"].as_array().unwrap();
    assert_eq!(plan["files"]["planned"].as_u64(), Some(jobs.len() as u64));
    assert!(jobs.len() >= 8, "{plan}");
    assert!(jobs
        .iter()
        .any(|j| j["input"] == "sample_images/photos/nested/coins.png"));
    assert!(!out.exists(), "a dry run writes nothing");
}

#[test]
fn a_run_with_nothing_to_do_prints_no_stage_table() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let o = graypipe(&["run", s(&empty), "-o", s(&dir.path().join("out"))]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("no image files found"), "{err}");
    assert!(!err.contains("stage "), "a table of zeroes: {err}");
}

#[test]
fn completion_offers_the_threshold_grammar() {
    let o = graypipe(&["completions", "bash"]);
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(
        script.contains("adaptive-gaussian:11:2"),
        "no threshold forms offered"
    );
    assert!(script.contains("binary-inv:otsu"));
}
