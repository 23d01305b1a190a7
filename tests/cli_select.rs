//! The everyday command line: choosing files, naming outputs, -j, --json, completions, the man
//! page, --color and the exit status table in --help.

mod common;
use common::*;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use image::{ImageFormat, RgbImage};

/// A small picture with some variation, saved in `format` (folders created).
fn picture(path: &Path, format: ImageFormat) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = RgbImage::from_fn(9, 7, |x, y| {
        image::Rgb([(x * 25) as u8, (y * 30) as u8, 90])
    });
    img.save_with_format(path, format).unwrap();
}

fn png(path: &Path) {
    picture(path, ImageFormat::Png);
}

/// Runs graypipe in `cwd` with `stdin` fed to it.
fn graypipe_in(cwd: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

/// Runs `run INPUT -o OUT -q` with `extra` options into a fresh OUT; returns its files.
fn run_into(t: &Path, input: &Path, extra: &[&str]) -> (Output, Vec<PathBuf>) {
    let out = t.join(format!("out{}", fs::read_dir(t).unwrap().count()));
    let mut args = vec!["run", s(input), "-o", s(&out), "-q"];
    args.extend_from_slice(extra);
    let o = graypipe(&args);
    let files = if out.exists() {
        files_below(&out)
    } else {
        Vec::new()
    };
    (o, files)
}

#[test]
fn include_exclude_and_extensions_choose_the_files() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    png(&input.join("a/x.png"));
    png(&input.join("a/raw/y.png"));
    picture(&input.join("b/z.jpg"), ImageFormat::Jpeg);
    picture(&input.join("c/w.tif"), ImageFormat::Tiff);
    // A JPEG under an extension graypipe does not list by default.
    picture(&input.join("d/v.jfif"), ImageFormat::Jpeg);

    let (o, files) = run_into(t.path(), &input, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files,
        paths(&["a/raw/y.png", "a/x.png", "b/z.png", "c/w.png"])
    );

    let (o, files) = run_into(
        t.path(),
        &input,
        &["--include", "*.png", "--exclude", "raw"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["a/x.png"]));

    let (o, files) = run_into(t.path(), &input, &["--include", "a/**", "--include", "b/*"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["a/raw/y.png", "a/x.png", "b/z.png"]));

    // `*` in a glob with a slash stays within one folder name.
    let (_, files) = run_into(t.path(), &input, &["--include", "a/*.png"]);
    assert_eq!(files, paths(&["a/x.png"]));

    let (o, files) = run_into(t.path(), &input, &["--extensions", "TIF,.jfif"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["c/w.png", "d/v.png"]));

    let (o, files) = run_into(t.path(), &input, &["--include", "[a"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad glob '[a'"), "{}", stderr(&o));
    assert!(files.is_empty());
}

#[test]
fn hidden_files_and_folders_are_skipped_unless_asked() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    png(&input.join("x.png"));
    // What macOS leaves on shared drives: an AppleDouble file named like a picture.
    fs::write(input.join("._x.png"), b"\x00\x05\x16\x07 not a picture").unwrap();
    png(&input.join(".thumbs/y.png"));

    let (o, files) = run_into(t.path(), &input, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["x.png"]));

    let (o, files) = run_into(t.path(), &input, &["--hidden"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the AppleDouble file is taken and fails"
    );
    assert!(stderr(&o).contains("._x.png"), "{}", stderr(&o));
    assert_eq!(files, paths(&[".thumbs/y.png", "x.png"]));

    // An input folder named explicitly is walked even if its own name is hidden.
    let (o, files) = run_into(t.path(), &input.join(".thumbs"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["y.png"]));
}

#[test]
fn max_depth_limits_the_walk() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    png(&input.join("x.png"));
    png(&input.join("a/y.png"));
    png(&input.join("a/b/z.png"));
    let (_, files) = run_into(t.path(), &input, &["--max-depth", "1"]);
    assert_eq!(files, paths(&["x.png"]));
    let (_, files) = run_into(t.path(), &input, &["--max-depth", "2"]);
    assert_eq!(files, paths(&["a/y.png", "x.png"]));
    let (o, _) = run_into(t.path(), &input, &["--max-depth", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn files_from_find_print0_on_stdin_mirrors_relative_paths_and_names_others_by_file_name() {
    let t = tempfile::tempdir().unwrap();
    let cwd = t.path().join("work");
    png(&cwd.join("in/a/x.png"));
    png(&cwd.join("in/b y.png"));
    fs::write(cwd.join("in/notes.txt"), "not a picture").unwrap();
    let elsewhere = t.path().join("elsewhere/far.png");
    png(&elsewhere);
    png(&t.path().join("up.png"));

    // As `find in -print0` writes it: folders, files and a text file, plus paths outside.
    let mut list = Vec::new();
    for entry in [
        "in",
        "./in/a",
        "./in/a/x.png",
        "in/b y.png",
        "in/notes.txt",
        "../up.png",
    ] {
        list.extend_from_slice(entry.as_bytes());
        list.push(0);
    }
    list.extend_from_slice(elsewhere.to_str().unwrap().as_bytes());
    list.push(0);
    let o = graypipe_in(
        &cwd,
        &["run", "--files-from", "-", "--null", "-o", "out", "-q"],
        &list,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_below(&cwd.join("out")),
        paths(&["far.png", "in/a/x.png", "in/b y.png", "up.png"])
    );

    // A newline list from a file, together with an INPUT, and the filters apply to listed files.
    fs::write(cwd.join("list.txt"), "in/a/x.png\nin/b y.png\n\n").unwrap();
    let o = graypipe_in(
        &cwd,
        &[
            "run",
            "../up.png",
            "--files-from",
            "list.txt",
            "--exclude",
            "b*",
            "-o",
            "out2",
            "-q",
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_below(&cwd.join("out2")),
        paths(&["in/a/x.png", "up.png"])
    );

    // A missing listed file fails alone, named.
    let o = graypipe_in(
        &cwd,
        &["run", "--files-from", "-", "-o", "out3", "-q"],
        b"gone.png\nin/a/x.png\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("gone.png"), "{}", stderr(&o));
    assert_eq!(files_below(&cwd.join("out3")), paths(&["in/a/x.png"]));
}

#[test]
fn files_from_outputs_are_checked_for_collisions_and_bad_lists_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let cwd = t.path().join("work");
    png(&cwd.join("p/x.png"));
    png(&t.path().join("q/x.png"));
    png(&t.path().join("r/x.png"));
    let out = cwd.join("out");

    // Two paths outside the current folder, both named after x.png.
    let o = graypipe_in(
        &cwd,
        &["run", "--files-from", "-", "-o", "out"],
        b"../q/x.png\n../r/x.png\n",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
    assert!(
        !out.exists(),
        "nothing is written when the batch is refused"
    );

    // ... and --suffix does not separate them: still refused.
    let o = graypipe_in(
        &cwd,
        &["run", "--files-from", "-", "-o", "out", "--suffix", "_bw"],
        b"../q/x.png\n../r/x.png\n",
    );
    assert_eq!(o.status.code(), Some(2));

    // A find -print0 list read without --null.
    let o = graypipe_in(
        &cwd,
        &["run", "--files-from", "-", "-o", "out"],
        b"p/x.png\0",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--null"), "{}", stderr(&o));

    // --null needs --files-from; a missing list is named.
    let o = graypipe_in(&cwd, &["run", "p", "--null", "-o", "out"], b"");
    assert_eq!(o.status.code(), Some(2));
    let o = graypipe_in(&cwd, &["run", "--files-from", "nope.txt", "-o", "out"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.txt"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn name_templates_convert_side_by_side_inputs_and_are_still_checked() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    picture(&input.join("a/x.jpg"), ImageFormat::Jpeg);
    png(&input.join("a/x.png"));

    // The default still refuses, and says how to get out.
    let (o, files) = run_into(t.path(), &input, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--name '{stem}.{ext}'"),
        "{}",
        stderr(&o)
    );
    assert!(files.is_empty());

    let (o, files) = run_into(t.path(), &input, &["--name", "{stem}.{ext}"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["a/x.jpg.png", "a/x.png.png"]));

    let (o, files) = run_into(
        t.path(),
        &input,
        &["--name", "{stem}-{ext}.{outext}", "--format", "bmp"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["a/x-jpg.bmp", "a/x-png.bmp"]));

    // A template that still collides is refused like the default.
    let (o, files) = run_into(t.path(), &input, &["--name", "gray"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("gray.png"), "{}", stderr(&o));
    assert!(files.is_empty());

    // Bad templates are usage errors.
    for bad in [
        ["--name", "a/{stem}"],
        ["--name", "{name}"],
        ["--suffix", "x/y"],
    ] {
        let (o, _) = run_into(t.path(), &input, &bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
    let (o, _) = run_into(t.path(), &input, &["--name", "{stem}", "--suffix", "_bw"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn suffix_names_outputs_and_a_name_that_overwrites_an_input_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    picture(&dir.join("x.jpg"), ImageFormat::Jpeg);
    png(&dir.join("y.png"));
    let (o, files) = run_into(t.path(), &dir, &["--suffix", "_bw"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files, paths(&["x_bw.png", "y_bw.png"]));

    // Files given directly, written next to themselves: y.png would replace its input.
    let before = fs::read(dir.join("y.png")).unwrap();
    let o = graypipe(&[
        "run",
        s(&dir.join("x.jpg")),
        s(&dir.join("y.png")),
        "-o",
        s(&dir),
        "--name",
        "{stem}",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("overwrite"), "{}", stderr(&o));
    assert_eq!(fs::read(dir.join("y.png")).unwrap(), before);
    assert!(!dir.join("x.png").exists());
    // With a suffix they can live side by side.
    let o = graypipe(&[
        "run",
        s(&dir.join("x.jpg")),
        s(&dir.join("y.png")),
        "-o",
        s(&dir),
        "--suffix",
        "_bw",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read(dir.join("y.png")).unwrap(), before);
    assert!(dir.join("x_bw.png").is_file() && dir.join("y_bw.png").is_file());
}

#[test]
fn jobs_is_an_alias_of_workers() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    png(&input.join("x.png"));
    for flag in ["-j", "--jobs", "--workers"] {
        let report = t.path().join(format!("report{flag}.json"));
        let (o, files) = run_into(t.path(), &input, &[flag, "3", "--report", s(&report)]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(files, paths(&["x.png"]));
        let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["workers"], 3, "{flag}");
    }
}

#[test]
fn json_prints_the_report_record_alone_on_stdout() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    png(&input.join("x.png"));
    fs::write(input.join("broken.png"), b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let report = t.path().join("report.json");
    let out = t.path().join("out");
    // Verbose, so that per-file lines and the summary are printed: they must go to stderr.
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--json",
        "-v",
        "--report",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(
        text.lines().count(),
        1,
        "one JSON object on one line: {text}"
    );
    let printed: serde_json::Value = serde_json::from_str(&text).expect("stdout is only JSON");
    let saved: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&printed), keys(&saved));
    assert_eq!(printed["files"], saved["files"]);
    assert_eq!(printed["files"]["written"], 1);
    assert_eq!(printed["files"]["failed"], 1);
    assert_eq!(printed["results"], saved["results"]);
    assert!(stderr(&o).contains("broken.png") && stderr(&o).contains("written"));

    // With --dry-run, --json prints the plan instead (tests/cli_advice.rs).
    let o = graypipe(&["run", s(&input), "-o", s(&out), "--json", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is the plan");
    assert_eq!(plan["dry_run"], true);
}

#[test]
fn completions_are_printed_for_every_shell() {
    for (shell, marker) in [
        ("bash", "_graypipe()"),
        ("zsh", "#compdef graypipe"),
        ("fish", "complete -c graypipe"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[graypipe]"),
    ] {
        let o = graypipe(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.contains(marker), "{shell}: no {marker}");
        for option in ["files-from", "include", "suffix", "jobs"] {
            assert!(script.contains(option), "{shell}: no {option}");
        }
    }
    // The bash script is valid bash, where bash is installed.
    if Command::new("bash").arg("--version").output().is_ok() {
        let t = tempfile::tempdir().unwrap();
        let script = t.path().join("graypipe.bash");
        fs::write(&script, graypipe(&["completions", "bash"]).stdout).unwrap();
        let o = Command::new("bash")
            .arg("-n")
            .arg(&script)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(graypipe(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_pages_are_roff_for_graypipe_and_each_command() {
    let o = graypipe(&["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH graypipe 1"), "{page}");
    assert!(page.contains("completions") && page.contains("sweep"));

    let o = graypipe(&["man", "run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(
        page.contains(".TH graypipe\\-run 1") || page.contains(".TH graypipe-run 1"),
        "{page}"
    );
    for option in [
        "\\-\\-include",
        "\\-\\-files\\-from",
        "\\-\\-suffix",
        "Exit status",
    ] {
        assert!(page.contains(option), "no {option} in graypipe-run(1)");
    }
    assert_eq!(graypipe(&["man", "nope"]).status.code(), Some(2));
}

#[test]
fn color_follows_the_option_and_no_color() {
    let o = graypipe(&["--color", "always", "run", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains('\u{1b}'),
        "--color always colours the help"
    );
    let o = graypipe(&["run", "--help", "--color=never"]);
    assert!(!stdout(&o).contains('\u{1b}'));
    let o = Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .args(["run", "--help"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!stdout(&o).contains('\u{1b}'));
    let o = graypipe(&["--color", "pink", "run", "in", "-o", "out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("pink"), "{}", stderr(&o));
}

#[test]
fn help_ends_with_the_exit_status_table() {
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["sweep", "--help"],
        &["run", "-h"],
    ] {
        let help = stdout(&graypipe(cmd));
        let at = help
            .find("Exit status:")
            .unwrap_or_else(|| panic!("{cmd:?}: {help}"));
        assert!(
            help.find("Options:").unwrap() < at,
            "{cmd:?}: the table follows the options"
        );
        for code in ["\n  0 ", "\n  1 ", "\n  2 ", "\n  130 "] {
            assert!(help[at..].contains(code), "{cmd:?}: no {code:?}");
        }
    }
}

#[test]
fn sweep_takes_the_same_selection_and_naming_options() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    png(&input.join("a/x.png"));
    png(&input.join("b/y.png"));
    png(&input.join(".hidden/z.png"));
    let keep = t.path().join("keep");
    let o = graypipe(&[
        "sweep",
        s(&input),
        "--include",
        "a/**",
        "--suffix",
        "_bw",
        "-j",
        "1",
        "--warmup",
        "0",
        "--repeat",
        "1",
        "--keep-output",
        s(&keep),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(files_below(&keep), paths(&["a/x_bw.png"]));
}
