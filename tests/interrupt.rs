//! SIGINT or SIGTERM in the middle of a batch, then `--skip-existing` to finish: every output present is
//! complete, no temporary file is left, and the resumed tree equals an uninterrupted run's.
#![cfg(unix)]

mod common;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 160 pictures big enough that the batch takes a few seconds with one worker.
fn batch(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    fs::create_dir_all(&input).unwrap();
    for i in 0..160u32 {
        let img = image::RgbImage::from_fn(400, 300, |x, y| {
            image::Rgb([
                (x * 3 + i) as u8,
                (y * 5 + x) as u8,
                ((x ^ y) + i * 7) as u8,
            ])
        });
        img.save(input.join(format!("p{i:03}.png"))).unwrap();
    }
    input
}

fn args<'a>(input: &'a Path, out: &'a Path, engine: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        s(input),
        "-o",
        s(out),
        "--threshold",
        "adaptive-gaussian:31:2",
        "--workers",
        "1",
        "--engine",
        engine,
        "-q",
    ]
}

#[test]
fn a_signal_mid_batch_leaves_only_complete_outputs_and_resume_finishes_it() {
    let t = tempfile::tempdir().unwrap();
    let input = batch(t.path());
    let reference = t.path().join("reference");
    let o = Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .args(args(&input, &reference, "serial"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let want = tree(&reference);
    assert_eq!(want.len(), 160);

    for (engine, signal) in [
        ("staged", libc::SIGINT),
        ("rayon", libc::SIGTERM),
        ("serial", libc::SIGINT),
    ] {
        let out = t.path().join(format!("out-{engine}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_graypipe"))
            .args(args(&input, &out, engine))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until some outputs exist, then interrupt.
        let deadline = Instant::now() + Duration::from_secs(60);
        while fs::read_dir(&out).map_or(0, |d| d.count()) < 5 {
            assert!(Instant::now() < deadline, "{engine}: no output appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "{engine}: did not stop after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "{engine}: {err}");
        assert!(err.contains("interrupted"), "{engine}: {err}");
        let partial = tree(&out);
        assert!(
            partial.len() < 160,
            "{engine}: interrupt came too late to test anything"
        );
        for (name, bytes) in &partial {
            assert!(
                !name.to_string_lossy().contains(".graypipe-"),
                "{engine}: temporary file {name:?} left"
            );
            assert_eq!(
                Some(bytes),
                want.get(name),
                "{engine}: {name:?} is not the complete output"
            );
        }
        let o = Command::new(env!("CARGO_BIN_EXE_graypipe"))
            .args(args(&input, &out, engine))
            .arg("--skip-existing")
            .output()
            .unwrap();
        assert!(o.status.success(), "{engine}: resume failed");
        assert!(
            tree(&out) == want,
            "{engine}: resumed tree differs from an uninterrupted run"
        );
    }
}
