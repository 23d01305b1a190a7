//! Hostile and broken inputs, and output failures: every one is named with its reason, the
//! batch goes on, nothing partial is left, nothing panics. Every file is made by the test.

mod common;
use common::*;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A valid PNG header declaring `w` x `h` gray pixels, with no pixel data at all.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    v.extend(13u32.to_be_bytes());
    v.extend(&ihdr);
    v.extend(crc32(&ihdr).to_be_bytes());
    v.extend(0u32.to_be_bytes());
    v.extend(b"IEND");
    v.extend(crc32(b"IEND").to_be_bytes());
    v
}

#[test]
fn broken_files_fail_alone_with_their_reason_and_in_the_report() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let png = png_bytes(64, 48);
    let jpg = jpeg_bytes(64, 48);
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("zero.jpg", Vec::new(), "empty file"),
        (
            "cut.jpg",
            jpg[..jpg.len() / 2].to_vec(),
            "cannot decode JPEG",
        ),
        (
            "truncated.png",
            png[..png.len() / 2].to_vec(),
            "cannot decode PNG",
        ),
        (
            "text.jpg",
            b"this is a text file, not a picture\n".to_vec(),
            "not a supported image",
        ),
        (
            "signature_only.png",
            b"\x89PNG\r\n\x1a\n".to_vec(),
            "cannot decode PNG",
        ),
        (
            "huge_header.png",
            png_header_only(100_000, 100_000),
            "over the decode limit",
        ),
    ];
    for (name, bytes, _) in &cases {
        fs::write(input.join(name), bytes).unwrap();
    }
    fs::write(input.join("good.png"), &png).unwrap();
    fs::write(input.join("good.jpg.png"), &jpg).unwrap(); // a JPEG under a PNG name decodes by content
    let out = t.path().join("out");
    let report = t.path().join("r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--threshold",
        "otsu",
        "--report",
        s(&report),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for (name, _, reason) in &cases {
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{err}"));
        assert!(line.contains(reason), "{name}: {line}");
        assert_eq!(
            err.lines().filter(|l| l.contains(name)).count(),
            1,
            "one line per file"
        );
    }
    assert_eq!(
        files_below(&out),
        [PathBuf::from("good.jpg.png"), PathBuf::from("good.png")]
    );
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["files"]["failed"], 6);
    let failures = r["failures"].as_array().unwrap();
    for (name, _, reason) in &cases {
        assert!(failures
            .iter()
            .any(|f| f["input"].as_str().unwrap().ends_with(name)
                && f["reason"].as_str().unwrap().contains(reason)));
    }
    // 100000 x 100000 would need 10 GB; refused from the header, the process stays small.
    // The peak is measured on Linux only (null elsewhere, as the README says).
    match r["peak_rss_bytes"].as_u64() {
        Some(peak) => assert!(peak < 200 << 20, "peak RSS {peak}"),
        None => assert!(
            !cfg!(target_os = "linux") && r["peak_rss_bytes"].is_null(),
            "peak_rss_bytes: {}",
            r["peak_rss_bytes"]
        ),
    }
}

#[test]
fn a_folder_named_like_an_image_is_walked_not_read() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir_all(input.join("x.png")).unwrap();
    fs::write(input.join("x.png/inner.png"), png_bytes(8, 8)).unwrap();
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files_below(&out), [PathBuf::from("x.png/inner.png")]);
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_named_and_the_rest_is_written() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("locked.png"), png_bytes(8, 8)).unwrap();
    fs::write(input.join("open.png"), png_bytes(8, 8)).unwrap();
    fs::set_permissions(input.join("locked.png"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(input.join("open.png"), fs::Permissions::from_mode(0o644)).unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = graypipe_unprivileged(
        &["run", s(&input), "-o", s(&out), "-q"],
        &[t.path(), &input, &out],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("locked.png: permission denied"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files_below(&out), [PathBuf::from("open.png")]);
}

#[cfg(unix)]
#[test]
fn an_output_folder_that_cannot_be_written_fails_every_file_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a.png"), png_bytes(8, 8)).unwrap();
    fs::write(input.join("b.png"), png_bytes(8, 8)).unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o555)).unwrap();
    let o = graypipe_unprivileged(
        &["run", s(&input), "-o", s(&out), "-q"],
        &[t.path(), &input],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("permission denied"))
            .count(),
        2,
        "{err}"
    );
    assert!(
        files_below(&out).is_empty(),
        "nothing written, nothing partial"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_or_file_size_limit_fails_cleanly_with_nothing_partial() {
    use std::os::unix::process::CommandExt;
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("big.png"), png_bytes(300, 300)).unwrap();
    fs::write(input.join("tiny.png"), png_bytes(2, 2)).unwrap();
    let out = t.path().join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_graypipe"));
    cmd.args([
        "run",
        s(&input),
        "-o",
        s(&out),
        "-q",
        "--png-compression",
        "fast",
    ]);
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            // Without this the kernel kills the writer with SIGXFSZ instead of failing the write.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("big.png") && err.contains("file too large"),
        "{err}"
    );
    assert_eq!(
        files_below(&out),
        [PathBuf::from("tiny.png")],
        "nothing partial, no temporary file"
    );
}

#[test]
fn an_output_path_that_is_a_folder_is_named() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a.png"), png_bytes(8, 8)).unwrap();
    let out = t.path().join("out");
    fs::create_dir_all(out.join("a.png")).unwrap();
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is an existing folder"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_that_vanishes_after_listing_fails_in_the_read_stage() {
    use graypipe::batch::{plan, PlanOptions};
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    for n in ["a.png", "b.png", "c.png"] {
        fs::write(input.join(n), png_bytes(8, 8)).unwrap();
    }
    let out = t.path().join("out");
    let p = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
    fs::remove_file(input.join("b.png")).unwrap();
    for engine in [
        graypipe::Engine::Serial,
        graypipe::Engine::Rayon,
        graypipe::Engine::Staged,
    ] {
        let config = graypipe::EngineConfig::new(engine, 2);
        let summary = graypipe::run(
            &p,
            &graypipe::Settings::default(),
            &config,
            &graypipe::CancelToken::new(),
            false,
            &mut |_, _| {},
        );
        assert_eq!((summary.written(), summary.failed()), (2, 1), "{engine}");
        let f = summary.failures().next().unwrap();
        assert_eq!(f.stage, Some(graypipe::error::Stage::Read));
        assert!(f.reason.contains("no such file"), "{}", f.reason);
    }
}

#[test]
fn thin_tiny_and_strip_images_convert() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let sizes = [(1, 1), (1, 7), (7, 1), (20000, 10), (10, 20000)];
    for (w, h) in sizes {
        fs::write(input.join(format!("s{w}x{h}.png")), png_bytes(w, h)).unwrap();
    }
    for spec in [
        "adaptive-gaussian:11:2",
        "adaptive-mean:31:-1",
        "otsu",
        "triangle",
    ] {
        let out = t.path().join(format!("out-{}", spec.replace(':', "_")));
        let o = graypipe(&["run", s(&input), "-o", s(&out), "--threshold", spec, "-q"]);
        assert_eq!(o.status.code(), Some(0), "{spec}: {}", stderr(&o));
        for (w, h) in sizes {
            let img = image::open(out.join(format!("s{w}x{h}.png"))).unwrap();
            assert_eq!((img.width(), img.height()), (w, h), "{spec}");
        }
    }
}

/// Another user swaps an output sub-folder for a link to the input folder after the plan was
/// made (its checks passed) and before the writes. The writes used to go by path and replace
/// the inputs of the same name; now each write opens its folder, checks it is no input folder
/// by identity and works relative to it, so each file fails, named (docs/hostile-cases.md).
#[cfg(target_os = "linux")]
#[test]
fn an_output_folder_swapped_for_a_link_to_the_inputs_after_the_plan_replaces_no_input() {
    use graypipe::batch::{plan, PlanOptions};
    use graypipe::{CancelToken, Engine, EngineConfig, Settings};
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir_all(input.join("d")).unwrap();
    let bytes = png_bytes(9, 7);
    for name in ["a.png", "b.png"] {
        fs::write(input.join("d").join(name), &bytes).unwrap();
    }
    let out = t.path().join("out");
    for existing in [false, true] {
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out).unwrap();
        if existing {
            // Outputs already there: the plan expects to replace them.
            fs::create_dir_all(out.join("d")).unwrap();
            fs::write(out.join("d/a.png"), b"old").unwrap();
        }
        let batch = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
        let _ = fs::remove_dir_all(out.join("d"));
        std::os::unix::fs::symlink(input.join("d"), out.join("d")).unwrap();
        let mut failures = Vec::new();
        let _ = graypipe::run(
            &batch,
            &Settings::default(),
            &EngineConfig::new(Engine::Serial, 1),
            &CancelToken::new(),
            false,
            &mut |_, o| {
                if let Err(e) = &o.result {
                    failures.push(e.to_string());
                }
            },
        );
        assert_eq!(
            failures.len(),
            2,
            "existing outputs {existing}: {failures:?}"
        );
        assert!(
            failures
                .iter()
                .all(|f| f.contains("is now a folder of the inputs")),
            "{failures:?}"
        );
        for name in ["a.png", "b.png"] {
            assert_eq!(
                fs::read(input.join("d").join(name)).unwrap(),
                bytes,
                "existing outputs {existing}: input {name} was replaced"
            );
        }
    }
}

/// Crafted files for graypipe's own parsers (tools/gen_parser_hostile.py, which also recorded
/// what cv2.imread makes of each): no panic, a file OpenCV refuses is refused with a reason, and
/// one OpenCV reads is read to the same size and sample sum, except the differences listed.
#[test]
fn crafted_parser_files_are_read_or_refused_as_opencv_does() {
    use graypipe::codec::{decode_as, DecodeLimits, ReadMode};
    // OpenCV reads these; graypipe refuses them, with a reason (see docs/hostile-cases.md).
    let refused_here_only: [&str; 0] = [];
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/parsers");
    let expected: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let mut differ = Vec::new();
    for (name, want) in expected.as_object().unwrap() {
        let bytes = fs::read(dir.join(name)).unwrap();
        let got = std::panic::catch_unwind(|| {
            decode_as(&bytes, &DecodeLimits::default(), ReadMode::Color)
        })
        .unwrap_or_else(|_| panic!("{name}: panicked"));
        match (want.as_str(), got) {
            (Some(_), Err(e)) => assert!(!e.to_string().is_empty(), "{name}"),
            (Some(_), Ok(img)) => differ.push(format!(
                "{name}: OpenCV refuses, graypipe reads {}x{}",
                img.width, img.height
            )),
            (None, Ok(img)) => {
                // As OpenCV's BGR: gray counts three times, alpha not at all.
                let ch = img.layout.channels();
                let sum: u64 = img
                    .data
                    .chunks_exact(ch)
                    .map(|p| match ch {
                        1 | 2 => 3 * u64::from(p[0]),
                        _ => p[..3].iter().map(|&v| u64::from(v)).sum(),
                    })
                    .sum();
                let size = [u64::from(img.height), u64::from(img.width)];
                let want_size: Vec<u64> = want["size"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                if want_size != size || want["sum"].as_u64() != Some(sum) {
                    differ.push(format!(
                        "{name}: OpenCV {want}, graypipe {size:?} sum {sum}"
                    ));
                }
            }
            (None, Err(e)) => {
                if !refused_here_only.contains(&name.as_str()) {
                    differ.push(format!("{name}: OpenCV reads it, graypipe refuses: {e}"));
                }
            }
        }
    }
    assert!(differ.is_empty(), "{differ:#?}");
}
