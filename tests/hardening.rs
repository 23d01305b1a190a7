//! Hardening II (issue 9): the attacks a hostile user tries, one class at a time. Inputs are
//! never touched, reading is bounded and never hangs, the report cannot be aimed at something
//! that matters, every failure is named on a line of its own.

mod common;
use common::*;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// `in/a.png` and `in/sub/b.png` under a fresh folder.
fn input_tree() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir_all(input.join("sub")).unwrap();
    fs::write(input.join("a.png"), png_bytes(16, 12)).unwrap();
    fs::write(input.join("sub/b.png"), png_bytes(9, 7)).unwrap();
    (t, input)
}

/// Runs graypipe, killing it after `secs` seconds: a hang fails the test instead of stalling it.
fn graypipe_within(secs: u64, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("graypipe {args:?} hung; stderr: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
}

// ---- 1. data loss: outputs never land on or in the inputs ----

/// Every way found to aim the output at the inputs: each is refused with exit 2 before any
/// work, and the input tree is byte for byte what it was.
#[cfg(unix)]
#[test]
fn every_route_from_the_output_into_the_inputs_is_refused_before_any_work() {
    use std::os::unix::fs::symlink;
    // (what, setup, output folder, extra arguments, words the refusal uses)
    type Setup = fn(&Path);
    let cases: Vec<(&str, Setup, &str, Vec<&str>, &str)> = vec![
        (
            "-o out/link/.. with link into the inputs",
            |r| symlink(r.join("in/sub"), r.join("out/link")).unwrap(),
            "out/link/..",
            vec![],
            "is inside input folder",
        ),
        (
            "a link in the output tree to an input folder",
            |r| symlink(r.join("in/sub"), r.join("out/sub")).unwrap(),
            "out",
            vec![],
            "which is input folder",
        ),
        (
            "--follow-links with a link from the inputs to the output folder",
            |r| symlink(r.join("out"), r.join("in/link")).unwrap(),
            "out",
            vec!["--follow-links"],
            "is inside input folder",
        ),
        (
            "--follow-links with a link from the inputs into the output folder",
            |r| {
                fs::create_dir_all(r.join("out/old")).unwrap();
                symlink(r.join("out/old"), r.join("in/link")).unwrap();
            },
            "out",
            vec!["--follow-links"],
            "lies inside output folder",
        ),
        (
            "--follow-links with a link to a folder holding the output folder",
            |r| {
                fs::create_dir_all(r.join("elsewhere/out")).unwrap();
                symlink(r.join("elsewhere"), r.join("in/up")).unwrap();
            },
            "elsewhere/out",
            vec!["--follow-links"],
            "is inside input folder",
        ),
        (
            "an existing output that is a hard link to an input",
            |r| fs::hard_link(r.join("in/a.png"), r.join("out/a.png")).unwrap(),
            "out",
            vec![],
            "would overwrite these inputs",
        ),
        (
            "an existing output that is a symbolic link to an input",
            |r| symlink(r.join("in/a.png"), r.join("out/a.png")).unwrap(),
            "out",
            vec![],
            "would overwrite these inputs",
        ),
        (
            "the output folder spelled through a link to the inputs",
            |r| symlink(r.join("in"), r.join("inlink")).unwrap(),
            "inlink/new",
            vec![],
            "is inside input folder",
        ),
        (
            "the output folder spelled with . and ..",
            |_| {},
            "in/./sub/../",
            vec![],
            "is inside input folder",
        ),
    ];
    for (what, setup, out_arg, extra, words) in cases {
        let (t, input) = input_tree();
        let before = tree(&input);
        let root = t.path();
        fs::create_dir(root.join("out")).unwrap();
        fs::create_dir(root.join("elsewhere")).unwrap();
        setup(root);
        let out_path = root.join(out_arg);
        let mut args = vec!["run", s(&input), "-o", s(&out_path), "-q"];
        args.extend(extra);
        let o = graypipe(&args);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{what}: {}", stderr(&o));
        // tree() lists regular files only: the planted links are not counted.
        assert_eq!(tree(&input), before, "{what}: inputs changed");
    }
}

/// A file given directly whose output would be itself.
#[test]
fn a_file_given_directly_is_never_its_own_output() {
    let (_t, input) = input_tree();
    let a = input.join("a.png");
    let before = fs::read(&a).unwrap();
    let o = graypipe(&["run", s(&a), "-o", s(&input), "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(fs::read(&a).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn refusals_hold_for_an_unprivileged_user_too() {
    use std::os::unix::fs::symlink;
    let (t, input) = input_tree();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    symlink(input.join("sub"), out.join("link")).unwrap();
    let before = tree(&input);
    let o = graypipe_unprivileged(
        &["run", s(&input), "-o", s(&out.join("link/..")), "-q"],
        &[t.path(), &input, &input.join("sub"), &out],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(tree(&input), before);
}

// ---- 2. --report ----

#[cfg(unix)]
#[test]
fn a_report_aimed_at_an_input_an_output_or_a_special_file_is_refused() {
    let (t, input) = input_tree();
    let out = t.path().join("out");
    let fifo = t.path().join("fifo.json");
    mkfifo(&fifo);
    std::os::unix::fs::symlink(input.join("a.png"), t.path().join("to_input.json")).unwrap();
    let before = tree(&input);
    let cases: [(PathBuf, &str); 8] = [
        (input.join("a.png"), "is an input"),
        (out.clone(), "is an output"),
        (t.path().join("to_input.json"), "is an input"),
        (out.join("a.png"), "is an output"),
        (out.join("sub/b.png"), "is an output"),
        (t.path().to_path_buf(), "is a folder"),
        (fifo.clone(), "FIFO"),
        (PathBuf::from("/dev/null"), "character device"),
    ];
    for (report, words) in &cases {
        let o = graypipe_within(
            20,
            &["run", s(&input), "-o", s(&out), "-q", "--report", s(report)],
        );
        assert_eq!(o.status.code(), Some(2), "{report:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{report:?}: {}", stderr(&o));
        assert!(!out.exists(), "{report:?}: work was done");
    }
    assert_eq!(tree(&input), before);
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[cfg(unix)]
#[test]
fn a_report_is_written_through_a_link_and_to_standard_output() {
    let (t, input) = input_tree();
    let out = t.path().join("out");
    let reports = t.path().join("reports");
    fs::create_dir(&reports).unwrap();
    // A dangling link: the report is created where it points, and the link stays.
    let link = t.path().join("latest.json");
    std::os::unix::fs::symlink(reports.join("run1.json"), &link).unwrap();
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q", "--report", s(&link)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(reports.join("run1.json")).unwrap()).unwrap();
    assert_eq!(r["files"]["written"], 2);
    // Again: the link's target, now a regular file, is replaced; the link still stays.
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q", "--report", s(&link)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    // Standard output.
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q", "--report", "-"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["files"]["written"], 2);
    assert!(!Path::new("-").exists());
}

/// A report that could not be written at the end is refused at the start instead, so a long
/// run does not end without its record.
#[cfg(unix)]
#[test]
fn a_report_in_a_folder_the_user_cannot_write_is_refused_before_any_work() {
    use std::os::unix::fs::PermissionsExt;
    let (t, input) = input_tree();
    let locked = t.path().join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = graypipe_unprivileged(
        &[
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--report",
            s(&locked.join("r.json")),
        ],
        &[t.path(), &input, &input.join("sub"), &out],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot create files in"),
        "{}",
        stderr(&o)
    );
    assert!(files_below(&out).is_empty(), "work was done");
}

// ---- 3. bounded reading, no hangs ----

#[cfg(target_os = "linux")]
#[test]
fn devices_and_fifos_given_directly_fail_alone_at_once() {
    let (t, input) = input_tree();
    let fifo = t.path().join("pipe.png");
    mkfifo(&fifo);
    let out = t.path().join("out");
    let start = Instant::now();
    let o = graypipe_within(
        30,
        &[
            "run",
            "/dev/zero",
            "/dev/urandom",
            s(&fifo),
            s(&input.join("a.png")),
            "-o",
            s(&out),
            "-q",
            "--report",
            s(&t.path().join("r.json")),
        ],
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for (name, words) in [
        ("zero", "character device"),
        ("urandom", "character device"),
        ("pipe.png", "FIFO"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(name) && l.contains(words)),
            "{name}: {err}"
        );
    }
    assert_eq!(files_below(&out), [PathBuf::from("a.png")]);
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(t.path().join("r.json")).unwrap()).unwrap();
    assert!(r["peak_rss_bytes"].as_u64().unwrap() < 200 << 20);
}

#[cfg(target_os = "linux")]
#[test]
fn special_files_in_folders_are_left_alone_and_the_batch_goes_on() {
    use std::os::unix::fs::symlink;
    let (t, input) = input_tree();
    mkfifo(&input.join("fifo.png"));
    symlink("/dev/zero", input.join("zero.png")).unwrap();
    symlink("/dev/urandom", input.join("sub/random.jpg")).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(input.join("sock.png")).unwrap();
    for follow in [false, true] {
        let out = t.path().join(format!("out-{follow}"));
        let mut args = vec!["run", s(&input), "-o", s(&out), "-q"];
        if follow {
            args.push("--follow-links");
        }
        let o = graypipe_within(30, &args);
        assert_eq!(o.status.code(), Some(0), "follow {follow}: {}", stderr(&o));
        assert_eq!(
            files_below(&out),
            [PathBuf::from("a.png"), PathBuf::from("sub/b.png")]
        );
        let dry = graypipe_within(30, &[&args[..], &["--dry-run"]].concat());
        assert_eq!(dry.status.code(), Some(0));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn devices_fail_for_an_unprivileged_user_too() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let o = graypipe_unprivileged(
        &["run", "/dev/zero", "-o", s(&out), "-q"],
        &[t.path(), &out],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("character device"), "{}", stderr(&o));
}

/// A file that keeps growing (a log, a download in progress): it fails alone, named, without
/// more than the limit read. Which check catches it depends on how far the writer got (the
/// size on the open descriptor, or the read itself); the read check alone is tested
/// deterministically in `src/input.rs` with a `/proc` file.
#[test]
fn a_growing_file_fails_without_reading_past_the_limit() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("growing.png");
    let mut f = fs::File::create(&path).unwrap();
    // --max-pixels 1 allows 16 MiB + 8 bytes; start 4 bytes under that.
    f.write_all(&vec![0x89u8; (16 << 20) + 4]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, appended) = (stop.clone(), appended.clone());
        std::thread::spawn(move || {
            let chunk = vec![0x89u8; 1 << 20];
            for _ in 0..200 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                f.write_all(&chunk).unwrap();
                appended.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while appended.load(Ordering::Relaxed) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = t.path().join("out");
    let o = graypipe_within(
        60,
        &["run", s(&path), "-o", s(&out), "-q", "--max-pixels", "1"],
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than"), "{}", stderr(&o));
    assert!(files_below(&out).is_empty());
}

// ---- 4. adaptive block sizes ----

#[test]
fn absurd_adaptive_blocks_are_refused_at_parse_time() {
    let (t, input) = input_tree();
    let out = t.path().join("out");
    for spec in [
        "adaptive-gaussian:18446744073709551615:2",
        "adaptive-mean:1000000001:2",
        "adaptive-mean:32769:2",
        "adaptive-gaussian-inv:99999999999999999999999:2",
    ] {
        let start = Instant::now();
        let o = graypipe(&["run", s(&input), "-o", s(&out), "--threshold", spec, "-q"]);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("from 3 to 32767"),
            "{spec}: {}",
            stderr(&o)
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(!out.exists());
    }
}

#[test]
fn the_largest_block_runs_on_every_engine_and_agrees() {
    let (t, input) = input_tree();
    let mut trees = Vec::new();
    for engine in ["serial", "rayon", "staged"] {
        let out = t.path().join(engine);
        let o = graypipe_within(
            120,
            &[
                "run",
                s(&input),
                "-o",
                s(&out),
                "--threshold",
                "adaptive-gaussian:32767:1",
                "--engine",
                engine,
                "-q",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{engine}: {}", stderr(&o));
        let o2 = graypipe_within(
            120,
            &[
                "run",
                s(&input),
                "-o",
                s(&t.path().join(format!("{engine}-m"))),
                "--threshold",
                "adaptive-mean:32767:1",
                "--engine",
                engine,
                "-q",
            ],
        );
        assert_eq!(o2.status.code(), Some(0), "{engine}: {}", stderr(&o2));
        trees.push((tree(&out), tree(&t.path().join(format!("{engine}-m")))));
    }
    assert!(trees.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(trees[0].0.len(), 2);
}

// ---- 5 and 8. names that are not UTF-8 or hold control characters ----

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_or_hold_newlines_keep_the_report_and_the_error_lines_whole() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let bad_name = OsStr::from_bytes(b"bad\xff\xfe.png");
    fs::write(input.join(bad_name), b"not a picture").unwrap();
    let forged = "x.png\ngraypipe: error: forged.png: forged line\x1b[2J.png";
    fs::write(input.join(forged), b"not a picture either").unwrap();
    fs::write(
        input.join(OsStr::from_bytes(b"good\xff.png")),
        png_bytes(4, 4),
    )
    .unwrap();
    let out = t.path().join("out");
    let report = t.path().join("r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "-q",
        "--report",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "one line per failed file:\n{err}");
    assert!(
        err.lines().all(|l| l.starts_with("graypipe: error: ")),
        "{err}"
    );
    assert!(!err.contains('\x1b'));
    assert!(
        err.contains("x.png\\ngraypipe: error: forged.png: forged line\\u{1b}[2J"),
        "{err}"
    );
    assert!(err.contains("bad\u{fffd}\u{fffd}.png"), "{err}");

    let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let failures = r["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2);
    let bad_full = input.join(bad_name);
    let hex: String = bad_full
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let f = failures
        .iter()
        .find(|f| f["input_hex"].is_string())
        .unwrap();
    assert_eq!(f["input_hex"], hex.as_str());
    assert!(f["input"]
        .as_str()
        .unwrap()
        .ends_with("bad\u{fffd}\u{fffd}.png"));
    // The UTF-8 name with a newline is exact as text, with no hex.
    let g = failures.iter().find(|f| f["input_hex"].is_null()).unwrap();
    assert!(g["input"].as_str().unwrap().ends_with(forged));
    let good = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["status"] == "written")
        .unwrap();
    assert!(good["input_hex"]
        .as_str()
        .unwrap()
        .ends_with("676f6f64ff2e706e67"));
    assert!(good["output_hex"]
        .as_str()
        .unwrap()
        .ends_with("676f6f64ff2e706e67"));

    // The plan listing escapes too: one line per file.
    let o = graypipe(&["run", s(&input), "-o", s(&t.path().join("o2")), "--dry-run"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 3);
}

// ---- 6. signals and closed streams ----

#[cfg(target_os = "linux")]
#[test]
fn a_file_size_limit_fails_the_file_with_efbig_instead_of_killing_the_run() {
    use std::os::unix::process::CommandExt;
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("big.png"), png_bytes(300, 300)).unwrap();
    fs::write(input.join("tiny.png"), png_bytes(2, 2)).unwrap();
    let out = t.path().join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_graypipe"));
    cmd.args(["run", s(&input), "-o", s(&out), "-q"]);
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            // The default disposition, as a shell gives it: graypipe must ignore it itself.
            libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "killed? {:?} {}",
        o.status,
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("big.png") && stderr(&o).contains("file too large"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files_below(&out), [PathBuf::from("tiny.png")]);
}

#[test]
fn a_reader_that_goes_away_ends_the_listing_quietly() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let png = png_bytes(2, 2);
    // Well past a pipe's 64 KiB buffer.
    for i in 0..2000 {
        fs::write(
            input.join(format!("picture-with-a-long-name-{i:05}.png")),
            &png,
        )
        .unwrap();
    }
    let out = t.path().join("out");
    for extra in [&["--dry-run"][..], &["-q", "--report", "-"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graypipe"))
            .args([&["run", s(&input), "-o", s(&out)][..], extra].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty());
        // The reader is dropped here: the rest of the output meets a closed pipe.
        let o = child.wait_with_output().unwrap();
        assert!(
            !stderr(&o).contains("panicked"),
            "{extra:?}: {}",
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
    }
}

// ---- 7. temporary files left by a killed run ----

#[cfg(unix)]
#[test]
fn a_later_run_removes_the_temporary_files_a_killed_run_left_and_only_those() {
    let (t, input) = input_tree();
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0));
    // What a SIGKILL between link and rename leaves: .graypipe-<pid>-<n>.tmp of a dead pid.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let live = std::process::id();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    let plant = |p: PathBuf| {
        fs::write(&p, b"partial").unwrap();
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        p
    };
    let stale = [
        plant(out.join(format!(".graypipe-{dead}-0.tmp"))),
        plant(out.join(format!("sub/.graypipe-{dead}-7.tmp"))),
        plant(out.join(format!("sub/.graypipe-{dead}-Xy12ab.tmp"))),
    ];
    let kept = [
        plant(out.join(format!(".graypipe-{live}-0.tmp"))), // a live process's
        plant(out.join(".graypipe-notes.tmp")),             // not our pattern
        plant(out.join(format!(".graypipe-{dead}-1.tmp.bak"))),
        plant(t.path().join(format!(".graypipe-{dead}-3.tmp"))), // not a folder we write to
    ];
    let o = graypipe(&["run", s(&input), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("removed 3 temporary file(s)"),
        "{}",
        stderr(&o)
    );
    for p in &stale {
        assert!(!p.exists(), "{p:?} left");
    }
    for p in &kept {
        assert!(p.exists(), "{p:?} removed");
    }
}

#[cfg(unix)]
#[test]
fn another_users_temporary_files_are_not_removed() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return; // needs root to make a file owned by someone else
    }
    let (t, input) = input_tree();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let roots = out.join(format!(".graypipe-{dead}-0.tmp"));
    fs::write(&roots, b"x").unwrap();
    fs::File::options()
        .write(true)
        .open(&roots)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let o = graypipe_unprivileged(
        &["run", s(&input), "-o", s(&out), "-q"],
        &[t.path(), &input, &input.join("sub"), &out],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(roots.exists());
}

/// An input folder inside the output folder is fine while no output goes into it.
#[test]
fn an_input_folder_inside_the_output_folder_is_refused_only_when_outputs_would_enter_it() {
    let t = tempfile::tempdir().unwrap();
    let work = t.path().join("work");
    fs::create_dir_all(work.join("raw")).unwrap();
    fs::write(work.join("raw/a.png"), png_bytes(4, 4)).unwrap();
    let o = graypipe(&["run", s(&work.join("raw")), "-o", s(&work), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(work.join("a.png").is_file());
    // work/raw/raw/b.png would be written to work/raw/b.png: inside the input folder.
    fs::create_dir(work.join("raw/raw")).unwrap();
    fs::write(work.join("raw/raw/b.png"), png_bytes(4, 4)).unwrap();
    let before = tree(&work.join("raw"));
    let o = graypipe(&["run", s(&work.join("raw")), "-o", s(&work), "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(tree(&work.join("raw")), before);
}

/// Bind mounts give one folder two paths with no link to see: identity still tells. Needs
/// root (and a kernel that lets the container mount); skipped otherwise.
#[cfg(target_os = "linux")]
#[test]
fn bind_mounts_cannot_disguise_an_input_folder() {
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let bind = |from: &Path, to: &Path| {
        Command::new("mount")
            .args(["--bind", s(from), s(to)])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
            .then(|| Unmount(to.to_path_buf()))
    };
    let (t, input) = input_tree();
    let before = tree(&input);
    // The output tree holds an input folder under another name.
    let out = t.path().join("out");
    fs::create_dir_all(out.join("sub")).unwrap();
    let Some(guard) = bind(&input.join("sub"), &out.join("sub")) else {
        return; // mounting not permitted here
    };
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    drop(guard);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("which is input folder"),
        "{}",
        stderr(&o)
    );
    // The input tree holds the output folder under another name.
    let out2 = t.path().join("out2");
    fs::create_dir(&out2).unwrap();
    fs::create_dir(input.join("mnt")).unwrap();
    let guard = bind(&out2, &input.join("mnt")).unwrap();
    let o = graypipe(&["run", s(&input), "-o", s(&out2), "-q"]);
    drop(guard);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is inside input folder"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&input), before);
}

/// `amdahl --from` reads with a bound too: a device or FIFO is refused at once.
#[cfg(target_os = "linux")]
#[test]
fn amdahl_from_a_device_or_fifo_is_refused_at_once() {
    let t = tempfile::tempdir().unwrap();
    let fifo = t.path().join("sweep.json");
    mkfifo(&fifo);
    for from in [Path::new("/dev/zero"), &fifo] {
        let o = graypipe_within(20, &["amdahl", "--from", s(from)]);
        assert_eq!(o.status.code(), Some(2), "{from:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
}

// ---- warnings: every one counted, a few texts kept ----

/// libjpeg warns 19 times on this file (junk before its 23 restart markers; some warnings
/// cover several, see tools/gen_hostile_fixtures.py, which made it). The report counts all
/// 19 (file and run), keeps a bounded number of texts, and the pixels are OpenCV's.
#[cfg(feature = "libjpeg-turbo")]
#[test]
fn every_libjpeg_warning_is_counted_though_only_a_few_texts_are_kept() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let (t, input) = input_tree();
    fs::copy(fixtures.join("rst_garbage.jpg"), input.join("rst.jpg")).unwrap();
    let out = t.path().join("out");
    let report = t.path().join("r.json");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "--report", s(&report)]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["warnings"], 19, "{r}");
    let rst = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["input"].as_str().unwrap().ends_with("rst.jpg"))
        .unwrap();
    assert_eq!(rst["warning_count"], 19, "{rst}");
    let texts = rst["warnings"].as_array().unwrap();
    assert!((2..=9).contains(&texts.len()), "{texts:?}");
    assert!(texts[0]
        .as_str()
        .unwrap()
        .starts_with("Corrupt JPEG data: 5 extraneous bytes before marker 0xd"));
    let lines = err.lines().filter(|l| l.contains("rst.jpg")).count();
    assert_eq!(lines, texts.len(), "one line per text kept:\n{err}");
    // Files without warnings carry neither field.
    let clean = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["input"].as_str().unwrap().ends_with("a.png"))
        .unwrap();
    assert!(clean.get("warnings").is_none() && clean.get("warning_count").is_none());
    // The junk is skipped: the pixels are OpenCV's.
    let ours = image::open(out.join("rst.png")).unwrap().to_luma8();
    let cv = image::open(fixtures.join("rst_garbage.jpg.opencv.png"))
        .unwrap()
        .to_luma8();
    assert_eq!(ours, cv);
}

// ---- memory: an allocation the address space cannot hold fails the file, not the run ----

/// A complete JPEG of 16 x 16 pixels whose frame header claims `w` x `h` (libjpeg fills the
/// rest with grey, with a warning).
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| {
        image::Rgb([(x * 9) as u8, (y * 7) as u8, 40])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let mut jpg = out.into_inner();
    let sof = jpg.windows(2).position(|m| m == [0xFF, 0xC0]).unwrap();
    jpg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpg
}

/// A real `w` x `h` RGB PNG, mostly black, written row by row (the test never holds it whole).
fn big_png(path: &Path, w: u32, h: u32) {
    use std::io::Write;
    let file = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let mut row = vec![0u8; w as usize * 3];
    let len = row.len();
    for y in 0..h as usize {
        row[y % len] = 200;
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
}

/// Under `ulimit -v` 512 MiB, two files within the pixel limit and the (explicitly large)
/// memory budget need more than the address space even when decoded straight to gray (a JPEG
/// of 25000 x 25000, 625 MB of gray; a PNG of 24000 x 24000, 576 MB of gray beside its 1.7 GB
/// of colour rows streamed through): both fail, named, with the reason, and the small files are
/// written; the process is not aborted.
#[cfg(target_os = "linux")]
#[test]
fn an_allocation_the_address_space_cannot_hold_fails_that_file_and_the_batch_goes_on() {
    use std::os::unix::process::CommandExt;
    let (t, input) = input_tree();
    fs::write(input.join("claims_big.jpg"), jpeg_claiming(25000, 25000)).unwrap();
    big_png(&input.join("sub/big.png"), 24000, 24000);
    let out = t.path().join("out");
    let report = t.path().join("r.json");
    for engine in ["staged", "rayon", "serial"] {
        let _ = fs::remove_dir_all(&out);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_graypipe"));
        cmd.args([
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--engine",
            engine,
            "-w",
            "2",
            // Past the budget (by default half of RLIMIT_AS) to the real allocation.
            "--max-memory",
            "64GiB",
            "--max-pixels",
            "25000x25000",
            "--report",
            s(&report),
        ]);
        // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 512 << 20,
                    rlim_max: 512 << 20,
                };
                libc::setrlimit(libc::RLIMIT_AS, &lim);
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{engine}: {:?} {err}", o.status);
        for name in ["claims_big.jpg", "big.png"] {
            assert!(
                err.lines().any(|l| l.starts_with("graypipe: error: ")
                    && l.contains(name)
                    && l.contains("not enough memory for the ")),
                "{engine} {name}: {err}"
            );
        }
        assert_eq!(
            files_below(&out),
            [PathBuf::from("a.png"), PathBuf::from("sub/b.png")],
            "{engine}"
        );
        let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["files"]["failed"], 2, "{engine}");
    }
}

// ---- wrong results: adaptive C far outside int, as OpenCV computes it ----

/// OpenCV rounds C to an int; out of range it becomes INT_MIN and its negation wraps, so a C of
/// -3e9 acts as +3e9. Expected values from cv2.adaptiveThreshold (tools/gen_hostile_fixtures.py).
#[test]
fn adaptive_c_outside_int_gives_opencvs_result() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(fixtures.join("adaptive_c.json")).unwrap()).unwrap();
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::copy(fixtures.join("adaptive_c.png"), input.join("g.png")).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 28);
    for case in cases {
        let spec = case["spec"].as_str().unwrap();
        let out = t.path().join("out");
        let _ = fs::remove_dir_all(&out);
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--threshold",
            spec,
            "--bit-depth",
            "8",
        ]);
        assert_eq!(o.status.code(), Some(0), "{spec}: {}", stderr(&o));
        let got = image::open(out.join("g.png")).unwrap().to_luma8();
        let want = case["value"].as_u64().unwrap() as u8;
        assert!(
            got.pixels().all(|p| p.0[0] == want),
            "{spec}: OpenCV gives {want} everywhere"
        );
    }
}

// ---- second hostile pass: new cases of every class (docs/hostile-cases.md) ----

/// `-o` naming an input file, a path below one, or a device: refused before any work, where
/// each file used to fail on its own ("Not a directory") with the run going on.
#[cfg(unix)]
#[test]
fn an_output_folder_that_is_a_file_or_a_device_is_refused_before_any_work() {
    let (t, input) = input_tree();
    let before = tree(&input);
    let a = input.join("a.png");
    for (out, words) in [
        (a.clone(), "is a file, not a folder"),
        (a.join("x"), "is a file, not a folder"),
        (PathBuf::from("/dev/null"), "character device"),
    ] {
        let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
        assert_eq!(o.status.code(), Some(2), "{out:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{out:?}: {}", stderr(&o));
    }
    // The file given directly with itself as the output folder.
    let o = graypipe(&["run", s(&a), "-o", s(&a), "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(tree(&input), before);
    let _ = t;
}

/// The `--files-from` list is read by the run: a report aimed at it (directly or through a
/// link) would replace the user's list. Refused.
#[cfg(unix)]
#[test]
fn a_report_aimed_at_the_files_from_list_is_refused() {
    let (t, input) = input_tree();
    let list = t.path().join("list.txt");
    let text = format!(
        "{}\n{}\n",
        s(&input.join("a.png")),
        s(&input.join("sub/b.png"))
    );
    fs::write(&list, &text).unwrap();
    std::os::unix::fs::symlink(&list, t.path().join("link.json")).unwrap();
    let out = t.path().join("out");
    for report in [list.clone(), t.path().join("link.json")] {
        let o = graypipe(&[
            "run",
            "--files-from",
            s(&list),
            "-o",
            s(&out),
            "-q",
            "--report",
            s(&report),
        ]);
        assert_eq!(o.status.code(), Some(2), "{report:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("is an input"), "{}", stderr(&o));
        assert_eq!(fs::read_to_string(&list).unwrap(), text);
        assert!(!out.exists());
    }
}

/// `graypipe merge -o` used to rename over whatever was there: one of its own input reports
/// (lost), a device node (as root, /dev/null became a regular file), a FIFO. Refused with
/// exit 2 before reading; a link is written through.
#[cfg(unix)]
#[test]
fn merge_never_writes_over_its_reports_or_a_special_file() {
    use std::os::unix::fs::symlink;
    let (t, input) = input_tree();
    let dir = t.path();
    let report = dir.join("shard.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&dir.join("out")),
        "-q",
        "--shard",
        "1/1",
        "--report",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let original = fs::read(&report).unwrap();
    symlink(&report, dir.join("to_shard.json")).unwrap();
    let fifo = dir.join("fifo.json");
    mkfifo(&fifo);
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (report.clone(), "one of the reports being merged"),
        (dir.join("to_shard.json"), "one of the reports being merged"),
        (
            dir.join(".").join("shard.json"),
            "one of the reports being merged",
        ),
        (fifo.clone(), "FIFO"),
        (dir.to_path_buf(), "is a folder"),
    ];
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let dev = dir.join("null-device");
    if root {
        let c = std::ffi::CString::new(s(&dev)).unwrap();
        // SAFETY: a valid path; makes a character device node (1, 3: null) in the temp folder.
        let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        if made == 0 {
            cases.push((dev.clone(), "character device"));
        }
    }
    for (to, words) in &cases {
        let o = graypipe_within(20, &["merge", s(&report), "-o", s(to)]);
        assert_eq!(o.status.code(), Some(2), "{to:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{to:?}: {}", stderr(&o));
        assert_eq!(fs::read(&report).unwrap(), original, "{to:?}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    if dev.exists() {
        assert!(fs::metadata(&dev).unwrap().file_type().is_char_device());
    }
    // Through a dangling link: the merged record lands where it points, the link stays.
    let merged = dir.join("merged.json");
    symlink(&merged, dir.join("latest.json")).unwrap();
    let o = graypipe(&["merge", s(&report), "-o", s(&dir.join("latest.json"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir
        .join("latest.json")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    let m: serde_json::Value = serde_json::from_slice(&fs::read(&merged).unwrap()).unwrap();
    assert_eq!(m["complete"], true);
}

/// A full disk on standard output is an error (exit 1, said on stderr), not a silent success
/// or a panic; a full standard error does not panic either.
#[cfg(target_os = "linux")]
#[test]
fn a_full_standard_output_is_an_error_and_a_full_standard_error_no_panic() {
    let full = || {
        fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in [
        &["amdahl", "-p", "0.9"][..],
        &["completions", "bash"][..],
        &["man"][..],
        &[
            "sweep",
            "sample_images/book/tiles",
            "--workers",
            "1",
            "--repeat",
            "1",
        ][..],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_graypipe"))
            .args(args)
            .stdout(full())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("cannot write to standard output: no space left on device"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let (t, input) = input_tree();
    fs::write(input.join("bad.png"), b"not a picture").unwrap();
    let report = t.path().join("r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&t.path().join("out")),
        "--shard",
        "1/1",
        "--report",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1));
    for args in [
        vec!["merge", s(&report), "-o", s(&t.path().join("m.json"))],
        vec!["run", s(&input), "-o", s(&t.path().join("out2"))],
        vec!["run", "/nonexistent", "-o", s(&t.path().join("out3"))],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_graypipe"))
            .args(&args)
            .stderr(full())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {:?}", o.status);
    }
}

/// Files changed between listing and reading: a FIFO or a link to a device swapped in, a file
/// cut short, a file grown past the limit. Each fails alone, named, at once, on every engine.
#[cfg(unix)]
#[test]
fn files_swapped_cut_or_grown_after_listing_fail_alone_without_a_hang() {
    use graypipe::batch::{plan, PlanOptions};
    for engine in [
        graypipe::Engine::Serial,
        graypipe::Engine::Rayon,
        graypipe::Engine::Staged,
    ] {
        let t = tempfile::tempdir().unwrap();
        let input = t.path().join("in");
        fs::create_dir(&input).unwrap();
        for n in ["fifo.png", "dev.png", "cut.png", "grown.png", "ok.png"] {
            fs::write(input.join(n), png_bytes(64, 48)).unwrap();
        }
        let out = t.path().join("out");
        let p = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
        fs::remove_file(input.join("fifo.png")).unwrap();
        mkfifo(&input.join("fifo.png"));
        fs::remove_file(input.join("dev.png")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", input.join("dev.png")).unwrap();
        let png = png_bytes(64, 48);
        fs::write(input.join("cut.png"), &png[..png.len() / 3]).unwrap();
        // 4096 pixels allow 16 MiB + 32 KiB of file.
        fs::write(input.join("grown.png"), vec![0u8; (16 << 20) + (64 << 10)]).unwrap();
        let settings = graypipe::Settings {
            limits: graypipe::codec::DecodeLimits {
                max_pixels: 1 << 12,
            },
            ..Default::default()
        };
        let start = Instant::now();
        let summary = graypipe::run(
            &p,
            &settings,
            &graypipe::EngineConfig::new(engine, 2),
            &graypipe::CancelToken::new(),
            false,
            &mut |_, _| {},
        );
        assert!(start.elapsed() < Duration::from_secs(20), "{engine}");
        assert_eq!((summary.written(), summary.failed()), (1, 4), "{engine}");
        let reason = |name: &str| {
            summary
                .failures()
                .find(|f| f.input.ends_with(name))
                .map(|f| f.reason.clone())
                .unwrap()
        };
        assert!(reason("fifo.png").contains("FIFO"), "{engine}");
        assert!(reason("dev.png").contains("character device"), "{engine}");
        assert!(reason("cut.png").contains("cannot decode PNG"), "{engine}");
        assert!(
            reason("grown.png").contains("more than"),
            "{engine}: {}",
            reason("grown.png")
        );
        assert_eq!(files_below(&out), [PathBuf::from("ok.png")]);
    }
}

/// Names with a carriage return, an escape sequence, a right-to-left override and DEL: each
/// error stays one line, escaped, and the report keeps the exact name.
#[cfg(unix)]
#[test]
fn names_with_carriage_returns_escapes_and_bidi_overrides_are_escaped() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let names = [
        "cr\rgraypipe: error: fake.png",
        "esc\x1b]0;title\x07.png",
        "rtl\u{202e}gnp.exe.png",
        "del\x7f.png",
    ];
    for n in names {
        fs::write(input.join(n), b"not a picture").unwrap();
    }
    let report = t.path().join("r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&t.path().join("out")),
        "-q",
        "--report",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 4, "{err}");
    for bad in ['\r', '\x1b', '\u{202e}', '\x7f', '\x07'] {
        assert!(!err.contains(bad), "{bad:?} printed raw: {err}");
    }
    for shown in [
        "cr\\rgraypipe",
        "esc\\u{1b}]0;title\\u{7}",
        "rtl\\u{202e}gnp",
        "del\\u{7f}",
    ] {
        assert!(err.contains(shown), "{shown}: {err}");
    }
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let inputs: Vec<&str> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["input"].as_str().unwrap())
        .collect();
    for n in names {
        assert!(inputs.iter().any(|i| i.ends_with(n)), "{n:?}");
    }
}

/// `ulimit -u` (RLIMIT_NPROC 1, as an unprivileged user): no worker thread can start. The staged
/// and serial engines still convert everything on the calling thread (staged warns); rayon,
/// which needs its pool, fails with a clear message and exit 1. Never a panic.
#[cfg(target_os = "linux")]
#[test]
fn a_thread_limit_is_named_and_never_a_panic() {
    use std::os::unix::process::CommandExt;
    let (t, input) = input_tree();
    for (engine, code, words) in [
        ("staged", 0, "worker threads could be started"),
        ("serial", 0, ""),
        ("rayon", 1, "cannot start the rayon pool"),
    ] {
        let out = t.path().join(format!("out-{engine}"));
        fs::create_dir(&out).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_graypipe"));
        cmd.args([
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "-w",
            "4",
            "--engine",
            engine,
        ]);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            use std::os::unix::fs::PermissionsExt;
            for d in [t.path(), &input, &input.join("sub"), &out] {
                fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
            }
            cmd.uid(65534).gid(65534);
        }
        // SAFETY: only setrlimit, async-signal-safe, between fork and exec (after the uid
        // change: root is not bound by RLIMIT_NPROC).
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 1,
                    rlim_max: 1,
                };
                libc::setrlimit(libc::RLIMIT_NPROC, &lim);
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        let err = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{engine}: {:?} {err}",
            o.status
        );
        assert!(!err.contains("panicked"), "{engine}: {err}");
        assert!(err.contains(words), "{engine}: {err}");
        if code == 0 {
            assert_eq!(files_below(&out).len(), 2, "{engine}");
        }
    }
}

/// Absurd numbers anywhere on the command line are usage errors (exit 2) before any work.
#[test]
fn absurd_settings_are_usage_errors_before_any_work() {
    let (t, input) = input_tree();
    let out = t.path().join("out");
    let cases: [&[&str]; 34] = [
        &["--threshold", ""],
        &["--threshold", "otsu:5"],
        &["--threshold", "adaptive-mean:3"],
        &["--threshold", "adaptive-mean:1:0"],
        &["--threshold", "binary:inf"],
        &["--threshold", "binary:10", "--maxval", "0x10"],
        &["--threshold", "binary:10", "--maxval", ""],
        &["--max-memory", "-5"],
        &["--shard", "1/0"],
        &["--stage-workers", "read=99999999999"],
        &["--in-flight", "65537"],
        &["--files-from", "/dev/urandom", "--null"],
        &["--threshold", "binary:nan"],
        &["--threshold", "binary:1e309"],
        &["--threshold", "adaptive-mean:3:nan"],
        &["--threshold", "adaptive-mean:-3:2"],
        &["--threshold", "adaptive-mean:4:2"],
        &["--threshold", "adaptive-mean::2"],
        &["--threshold", ":"],
        &["--threshold", "binary:otsu:3"],
        &["--threshold", "binary:10", "--maxval", "nan"],
        &["--threshold", "binary:10", "--maxval", "inf"],
        &["--workers", "0"],
        &["--workers", "100000"],
        &["--in-flight", "0"],
        &["--max-memory", "0"],
        &["--max-memory", "99999999999TiB"],
        &["--max-pixels", "0"],
        &["--max-pixels", "99999999999x99999999999"],
        &["--stage-workers", "read=0"],
        &["--stage-workers", "bogus=1"],
        &["--shard", "0/0"],
        &["--shard", "5/3"],
        &["--files-from", "/dev/zero"],
    ];
    for extra in cases {
        let o = graypipe_within(
            20,
            &[&["run", s(&input), "-o", s(&out), "-q"][..], extra].concat(),
        );
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(!out.exists(), "{extra:?}: work was done");
    }
    // Huge but finite values are accepted and saturate as in OpenCV.
    for m in ["1e308", "-1e308"] {
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--threshold",
            "binary:10",
            "--maxval",
            m,
        ]);
        assert_eq!(o.status.code(), Some(0), "{m}: {}", stderr(&o));
    }
}

/// Report paths through links that lead nowhere useful: to an output that does not exist yet,
/// into a missing folder, round in a loop. Each refused with exit 2 before any work.
#[cfg(unix)]
#[test]
fn report_links_to_future_outputs_missing_folders_and_loops_are_refused() {
    use std::os::unix::fs::symlink;
    let (t, input) = input_tree();
    let d = t.path();
    let out = d.join("out");
    symlink(out.join("a.png"), d.join("future.json")).unwrap();
    symlink(d.join("nowhere/r.json"), d.join("missing.json")).unwrap();
    symlink(d.join("loop2.json"), d.join("loop1.json")).unwrap();
    symlink(d.join("loop1.json"), d.join("loop2.json")).unwrap();
    for (link, words) in [
        ("future.json", "is an output"),
        ("missing.json", "does not exist"),
        ("loop1.json", "too many levels of symbolic links"),
    ] {
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--report",
            s(&d.join(link)),
        ]);
        assert_eq!(o.status.code(), Some(2), "{link}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{link}: {}", stderr(&o));
        assert!(!out.exists() && !d.join("nowhere").exists(), "{link}");
    }
}

/// Blocks far larger than the picture (up to 32767 on 1 x 1 and 300 x 1): the replicated border
/// is then almost the whole window. Expected from cv2.adaptiveThreshold
/// (tools/gen_hostile_fixtures.py, tests/fixtures/hostile/tiny_blocks.json).
#[test]
fn blocks_far_larger_than_tiny_pictures_agree_with_opencv() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/tiny_blocks.json");
    let m: serde_json::Value = serde_json::from_slice(&fs::read(fixture).unwrap()).unwrap();
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir(&input).unwrap();
    let pictures = m["pictures"].as_array().unwrap();
    let name = |p: &serde_json::Value| format!("p{}x{}.png", p["width"], p["height"]);
    for p in pictures {
        let samples: Vec<u8> = p["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let (w, h) = (
            p["width"].as_u64().unwrap() as u32,
            p["height"].as_u64().unwrap() as u32,
        );
        image::GrayImage::from_raw(w, h, samples)
            .unwrap()
            .save(input.join(name(p)))
            .unwrap();
    }
    let runs = pictures[0]["results"].as_array().unwrap().len();
    for i in 0..runs {
        let spec = pictures[0]["results"][i]["spec"].as_str().unwrap();
        let maxval = pictures[0]["results"][i]["maxval"].to_string();
        let out = t.path().join(format!("out{i}"));
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&out),
            "-q",
            "--threshold",
            spec,
            "--maxval",
            &maxval,
            "--bit-depth",
            "8",
        ]);
        assert_eq!(o.status.code(), Some(0), "{spec}: {}", stderr(&o));
        for p in pictures {
            let want: Vec<u8> = p["results"][i]["expected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect();
            let got = image::open(out.join(name(p)))
                .unwrap()
                .to_luma8()
                .into_raw();
            assert_eq!(got, want, "{spec} on {}", name(p));
        }
    }
}
