//! Hardening III (issue 22, part A): every file graypipe writes that is not an output picture
//! follows one rule (sweep exports and plots, merged records, run reports); output collisions
//! and file/folder clashes are decided on the file system before any work; names; a resume
//! cleans every stale temporary file of the output tree.

mod common;
use common::*;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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

fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
}

/// A character device node (null's numbers) in `dir`, when the tests run as root.
fn null_device(dir: &Path) -> Option<PathBuf> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let dev = dir.join("null-device");
    let c = std::ffi::CString::new(s(&dev)).unwrap();
    // SAFETY: a valid path; makes a character device node (1, 3: null) in the temp folder.
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    (made == 0).then_some(dev)
}

fn is_char_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_char_device()
}

fn is_fifo(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(p).unwrap().file_type().is_fifo()
}

/// A sweep of one quick run, keeping its last run's output in `keep` (which shows whether any
/// run happened), with `extra` arguments.
fn sweep(input: &Path, keep: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        s(input),
        "--engine",
        "serial",
        "--workers",
        "1",
        "--warmup",
        "0",
        "--repeat",
        "1",
        "--min-time",
        "0",
        "--max-runs",
        "1",
        "-q",
        "--keep-output",
        s(keep),
    ];
    args.extend_from_slice(extra);
    graypipe(&args)
}

// ---- 1. One rule for every record: sweep exports, plots, merged records ----

#[test]
fn sweep_exports_aimed_at_inputs_outputs_or_special_files_are_refused_before_any_run() {
    let (t, input) = input_tree();
    let d = t.path();
    let keep = d.join("keep");
    let before = tree(&input);
    let list = d.join("list.txt");
    fs::write(&list, format!("{}\n", s(&input.join("a.png")))).unwrap();
    symlink(input.join("a.png"), d.join("to_input.json")).unwrap();
    fs::hard_link(input.join("sub/b.png"), d.join("hard.csv")).unwrap();
    symlink(d.join("to_input.json"), d.join("chain.md")).unwrap();
    let fifo = d.join("fifo.csv");
    mkfifo(&fifo);
    let mut cases: Vec<(&str, PathBuf, &str)> = vec![
        ("--export-json", input.join("a.png"), "is an input"),
        ("--export-csv", input.join("sub/../a.png"), "is an input"),
        ("--export-markdown", d.join("to_input.json"), "is an input"),
        ("--plot", d.join("chain.md"), "is an input"),
        ("--export-csv", d.join("hard.csv"), "is an input"),
        ("--export-json", fifo.clone(), "FIFO"),
        ("--plot", input.clone(), "is a folder"),
        ("--export-json", keep.join("a.png"), "is an output"),
        ("--export-json", keep.clone(), "is an output"),
        ("--export-csv", d.join("nowhere/x.csv"), "does not exist"),
    ];
    let dev = null_device(d);
    if let Some(dev) = &dev {
        cases.push(("--export-csv", dev.clone(), "character device"));
    }
    for (option, path, words) in &cases {
        let o = sweep(&input, &keep, &[option, s(path)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{option} {path:?}: {err}");
        assert!(err.contains(words), "{option} {path:?}: {err}");
        assert!(err.contains(option), "{option} {path:?}: {err}");
        // Before any run: the kept output is never made.
        assert!(!keep.exists(), "{option} {path:?}: a run happened");
        assert_eq!(tree(&input), before, "{option} {path:?}");
    }
    // The list the sweep reads.
    let o = sweep(
        &input,
        &keep,
        &["--files-from", s(&list), "--export-csv", s(&list)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is an input"), "{}", stderr(&o));
    assert!(fs::read_to_string(&list).unwrap().contains("a.png"));
    assert!(is_fifo(&fifo));
    if let Some(dev) = &dev {
        assert!(is_char_device(dev));
    }
    assert!(!d.join("nowhere").exists());
}

#[test]
fn two_exports_aimed_at_one_file_are_refused_and_links_are_written_through() {
    let (t, input) = input_tree();
    let d = t.path();
    let keep = d.join("keep");
    symlink(d.join("r.json"), d.join("same.json")).unwrap();
    let o = sweep(
        &input,
        &keep,
        &[
            "--export-json",
            s(&d.join("r.json")),
            "--plot",
            s(&d.join("same.json")),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--export-json and --plot name one file"),
        "{}",
        stderr(&o)
    );
    assert!(!keep.exists() && !d.join("r.json").exists());
    // A dangling link: the export is written where it points and the link stays, as with a
    // shell's `>` (and as `run --report` and `merge -o` do).
    let o = sweep(&input, &keep, &["--export-json", s(&d.join("same.json"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fs::symlink_metadata(d.join("same.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("r.json")).unwrap()).unwrap();
    assert!(record["points"].is_array());
}

#[test]
fn merge_never_writes_over_a_file_its_reports_list() {
    let (t, input) = input_tree();
    let d = t.path();
    let out = d.join("out");
    let report = d.join("shard.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "-q",
        "--shard",
        "1/1",
        "--report",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let inputs = tree(&input);
    let outputs = tree(&out);
    symlink(input.join("a.png"), d.join("link.json")).unwrap();
    for (to, words) in [
        (input.join("a.png"), "is an input listed in the reports"),
        (input.join("sub/b.png"), "is an input listed in the reports"),
        (d.join("link.json"), "is an input listed in the reports"),
        (out.join("a.png"), "is an output listed in the reports"),
    ] {
        let o = graypipe(&["merge", s(&report), "-o", s(&to)]);
        assert_eq!(o.status.code(), Some(2), "{to:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{to:?}: {}", stderr(&o));
    }
    assert_eq!(tree(&input), inputs);
    assert_eq!(tree(&out), outputs);
}

// ---- 2. Collisions and clashes on the file system, before any work ----

#[test]
fn a_link_inside_the_output_tree_that_joins_two_outputs_is_a_collision() {
    let (t, input) = input_tree();
    let d = t.path();
    fs::create_dir_all(input.join("a")).unwrap();
    fs::create_dir_all(input.join("b")).unwrap();
    fs::write(input.join("a/x.png"), png_bytes(5, 5)).unwrap();
    fs::write(input.join("b/x.png"), png_bytes(6, 6)).unwrap();
    let out = d.join("out");
    fs::create_dir_all(out.join("b")).unwrap();
    symlink("b", out.join("a")).unwrap();
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("more than one input"), "{err}");
    assert!(
        err.contains(s(&input.join("a/x.png"))) && err.contains(s(&input.join("b/x.png"))),
        "{err}"
    );
    assert!(files_below(&out).is_empty(), "work was done");
}

#[test]
fn an_output_that_is_also_a_folder_of_outputs_is_refused_before_any_work() {
    let (t, input) = input_tree();
    let d = t.path();
    // in/x.png (a picture) next to in/x/ would be fine; in/y.jpg writes out/y.png, which
    // in/y.png/ needs as a folder.
    fs::write(input.join("y.jpg"), fs::read(input.join("a.png")).unwrap()).unwrap();
    fs::create_dir_all(input.join("y.png")).unwrap();
    fs::write(input.join("y.png/c.png"), png_bytes(4, 4)).unwrap();
    let out = d.join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q", "--format", "png"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("also be folders that other outputs go into"),
        "{err}"
    );
    assert!(
        err.contains(s(&out.join("y.png"))) && err.contains(s(&input.join("y.jpg"))),
        "{err}"
    );
    assert!(!out.exists(), "work was done");
}

#[test]
fn an_output_folder_whose_parent_is_a_file_is_refused_before_any_work() {
    let (t, input) = input_tree();
    let d = t.path();
    let out = d.join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("sub"), b"not a folder").unwrap();
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("folders that cannot be made"), "{err}");
    assert!(
        err.contains(&format!("{} is a file, not a folder", s(&out.join("sub")))),
        "{err}"
    );
    assert_eq!(files_below(&out), [PathBuf::from("sub")], "work was done");
    // A link in the output tree to a file is the same.
    fs::remove_file(out.join("sub")).unwrap();
    symlink(input.join("a.png"), out.join("sub")).unwrap();
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is a file, not a folder"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read(input.join("a.png")).unwrap(),
        png_bytes(16, 12),
        "input touched"
    );
}

#[test]
fn a_file_listed_twice_in_files_from_is_taken_once() {
    let (t, input) = input_tree();
    let d = t.path();
    symlink(input.join("sub"), d.join("sublink")).unwrap();
    let list = d.join("list.txt");
    fs::write(
        &list,
        "in/a.png\n./in/a.png\nin/sub/../a.png\nin/sub/b.png\nsublink/b.png\n",
    )
    .unwrap();
    let out = d.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .current_dir(d)
        .args([
            "run",
            "--files-from",
            "list.txt",
            "-o",
            "out",
            "--report",
            "r.json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_below(&out),
        [PathBuf::from("in/a.png"), PathBuf::from("in/sub/b.png")]
    );
    let r: serde_json::Value =
        serde_json::from_slice(&fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(r["files"]["written"], 2, "{r}");
}

// ---- 3. Names ----

#[test]
fn hidden_takes_pictures_named_like_temporaries_and_skips_only_real_temporaries() {
    let (t, input) = input_tree();
    let d = t.path();
    fs::write(input.join(".graypipe-photo.png"), png_bytes(4, 4)).unwrap();
    fs::write(input.join(".graypipe-12-3.png"), png_bytes(4, 4)).unwrap();
    // A name graypipe gives its temporary files: never a picture, even when asked for.
    fs::write(input.join(".graypipe-12-3.tmp"), png_bytes(4, 4)).unwrap();
    let out = d.join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_below(&out),
        [PathBuf::from("a.png"), PathBuf::from("sub/b.png")],
        "hidden names are skipped without --hidden"
    );
    let out2 = d.join("out2");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out2),
        "-q",
        "--hidden",
        "--extensions",
        "png,tmp",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_below(&out2),
        [
            PathBuf::from(".graypipe-12-3.png"),
            PathBuf::from(".graypipe-photo.png"),
            PathBuf::from("a.png"),
            PathBuf::from("sub/b.png"),
        ]
    );
}

// ---- 4. A resume cleans the whole output tree ----

#[test]
fn a_resume_with_nothing_left_removes_every_stale_temporary_and_only_those() {
    let (t, input) = input_tree();
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    fs::create_dir_all(out.join("old/deeper")).unwrap();
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
        plant(out.join(format!("sub/.graypipe-{dead}-1.tmp"))),
        // Folders with no output of this run at all: a run with another selection left them.
        plant(out.join(format!("old/deeper/.graypipe-{dead}-2.tmp"))),
    ];
    let kept = [
        plant(out.join(format!("sub/.graypipe-{live}-0.tmp"))), // a live process's
        plant(out.join(format!("old/.graypipe-{dead}-3.tmp.png"))), // not our pattern
    ];
    let o = graypipe(&["run", s(&input), "-o", s(&out), "--skip-existing"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("nothing to do"), "{err}");
    assert!(err.contains("removed 3 temporary file(s)"), "{err}");
    for p in &stale {
        assert!(!p.exists(), "{p:?} left");
    }
    for p in &kept {
        assert!(p.exists(), "{p:?} removed");
    }
}
