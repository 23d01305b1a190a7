//! Stress: many tiny files, one very large picture, far more workers than cores, the smallest
//! queue, every stage at 1 and at 16 threads. All finish (each run bounded by a timeout) and
//! write the same bytes as the serial engine.
//!
//! Minutes of work: `cargo test` leaves these out (`#[ignore]`); `.ci/run` runs them with
//! `cargo test --locked --test stress -- --ignored`.

mod common;
use common::*;

use std::fs;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs graypipe and fails the test if it has not finished within `limit` (a deadlock).
fn run_bounded(args: &[&str], limit: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .args(args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "{args:?} exited with {st}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not finish within {limit:?}: deadlock?");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
#[ignore = "minutes of work: .ci/run runs it (cargo test --test stress -- --ignored)"]
fn ten_thousand_tiny_files_and_extreme_worker_settings_match_serial() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    for d in 0..10 {
        fs::create_dir_all(input.join(format!("d{d}"))).unwrap();
    }
    let mut bytes = Vec::new();
    for i in 0..10_000u32 {
        let img = image::GrayImage::from_fn(3 + i % 5, 2 + i % 3, |x, y| {
            image::Luma([((x * 31 + y * 17 + i) % 256) as u8])
        });
        bytes.clear();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
        fs::write(input.join(format!("d{}/t{i:05}.png", i % 10)), &bytes).unwrap();
    }
    let limit = Duration::from_secs(300);
    let serial = t.path().join("serial");
    run_bounded(
        &[
            "run",
            s(&input),
            "-o",
            s(&serial),
            "--threshold",
            "otsu",
            "--engine",
            "serial",
            "-q",
        ],
        limit,
    );
    let want = tree(&serial);
    assert_eq!(want.len(), 10_000);
    let configs: &[&[&str]] = &[
        &["--engine", "staged", "--workers", "64"],
        &["--engine", "rayon", "--workers", "64"],
        &["--engine", "staged", "--workers", "2", "--in-flight", "1"],
        &[
            "--engine",
            "staged",
            "--stage-workers",
            "read=1,decode=1,process=1,encode=1,write=1",
            "--in-flight",
            "1",
        ],
        &[
            "--engine",
            "staged",
            "--stage-workers",
            "read=16,decode=16,process=16,encode=16,write=16",
        ],
        &[
            "--engine",
            "staged",
            "--workers",
            "8",
            "--stage-workers",
            "write=1",
            "--in-flight",
            "64",
        ],
    ];
    for (k, cfg) in configs.iter().enumerate() {
        let out = t.path().join(format!("out{k}"));
        let mut a = vec!["run", s(&input), "-o", s(&out), "--threshold", "otsu", "-q"];
        a.extend(cfg.iter());
        run_bounded(&a, limit);
        assert!(tree(&out) == want, "{cfg:?} differs from the serial engine");
        fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
#[ignore = "minutes of work: .ci/run runs it (cargo test --test stress -- --ignored)"]
fn a_100_megapixel_picture_converts_on_every_engine() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let (w, h) = (10_000u32, 10_000u32);
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x / 7 + y / 11) % 256) as u8]));
    img.save(input.join("big.png")).unwrap();
    drop(img);
    let mut outputs = Vec::new();
    for engine in ["serial", "staged", "rayon"] {
        let out = t.path().join(engine);
        run_bounded(
            &[
                "run",
                s(&input),
                "-o",
                s(&out),
                "--threshold",
                "adaptive-mean:31:2",
                "--engine",
                engine,
                "-q",
            ],
            Duration::from_secs(300),
        );
        outputs.push(fs::read(out.join("big.png")).unwrap());
    }
    assert!(outputs.windows(2).all(|p| p[0] == p[1]), "engines differ");
    let back = image::load_from_memory(&outputs[0]).unwrap();
    assert_eq!((back.width(), back.height()), (w, h));
}
