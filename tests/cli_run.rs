//! `graypipe run` end to end, on temporary trees.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use image::{GrayImage, ImageFormat, RgbImage};

/// A small real-looking colour picture: a crop of the sample astronaut.
fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    let src = image::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_images/photos/astronaut.png"),
    )
    .unwrap()
    .to_rgb8();
    let (ox, oy) = ((seed * 37) % 400, (seed * 53) % 400);
    RgbImage::from_fn(w, h, |x, y| *src.get_pixel(ox + x, oy + y))
}

fn save(path: &Path, img: &RgbImage, format: ImageFormat) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save_with_format(path, format).unwrap();
}

/// A nested input tree: IN/a/b/x.png, IN/a/y.jpg, IN/z.bmp, IN/notes.txt (ignored).
fn nested_input(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    save(
        &input.join("a/b/x.png"),
        &photo(40, 30, 1),
        ImageFormat::Png,
    );
    save(&input.join("a/y.jpg"), &photo(33, 21, 2), ImageFormat::Jpeg);
    save(&input.join("z.bmp"), &photo(17, 40, 3), ImageFormat::Bmp);
    fs::write(input.join("notes.txt"), "not an image").unwrap();
    input
}

#[test]
fn mirrors_nested_folders_into_the_output() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "--threshold", "otsu", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files: Vec<PathBuf> = tree(&out).into_keys().collect();
    assert_eq!(
        files,
        [PathBuf::from("a/b/x.png"), "a/y.png".into(), "z.png".into()]
    );
    let x = image::open(out.join("a/b/x.png")).unwrap();
    assert_eq!((x.width(), x.height()), (40, 30));
    assert!(x.to_luma8().pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
}

#[test]
fn a_file_given_directly_lands_at_the_top_of_the_output() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input.join("a/b/x.png")), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        tree(&out).into_keys().collect::<Vec<_>>(),
        [PathBuf::from("x.png")]
    );
}

#[test]
fn two_inputs_writing_one_output_are_refused_before_any_work() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    save(&input.join("x.jpg"), &photo(8, 8, 1), ImageFormat::Jpeg);
    save(&input.join("x.png"), &photo(8, 8, 2), ImageFormat::Png);
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("x.jpg") && err.contains("x.png") && err.contains("refused"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn output_inside_an_input_folder_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let before = tree(&input);
    let o = graypipe(&["run", s(&input), "-o", s(&input.join("a/out"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("inside input folder"), "{}", stderr(&o));
    let o = graypipe(&["run", s(&input), "-o", s(&input)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!input.join("a/out").exists());
    // Refused before any work: not one file below the input was added, removed or changed.
    assert!(tree(&input) == before, "the input tree changed");
}

#[test]
fn output_that_would_overwrite_an_input_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let x = input.join("a/b/x.png");
    let before = fs::read(&x).unwrap();
    let o = graypipe(&["run", s(&x), "-o", s(&input.join("a/b"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("overwrite"), "{}", stderr(&o));
    assert_eq!(fs::read(&x).unwrap(), before);
}

#[test]
fn a_corrupt_file_among_good_ones_fails_alone() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    fs::write(input.join("broken.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    fs::write(input.join("empty.jpg"), b"").unwrap();
    fs::write(input.join("text.jpg"), b"hello").unwrap();
    let out = t.path().join("out");
    for engine in ["staged", "rayon", "serial"] {
        let _ = fs::remove_dir_all(&out);
        let report = t.path().join("report.json");
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&out),
            "--engine",
            engine,
            "--report",
            s(&report),
        ]);
        assert_eq!(o.status.code(), Some(1), "{engine}");
        let err = stderr(&o);
        for (name, reason) in [
            ("broken.png", "cannot decode PNG"),
            ("empty.jpg", "empty file"),
            ("text.jpg", "not a supported image"),
        ] {
            let line = err
                .lines()
                .find(|l| l.contains(name))
                .unwrap_or_else(|| panic!("{engine}: no line for {name}: {err}"));
            assert!(line.contains(reason), "{engine}: {line}");
        }
        let written: Vec<PathBuf> = tree(&out).into_keys().collect();
        assert_eq!(
            written,
            [PathBuf::from("a/b/x.png"), "a/y.png".into(), "z.png".into()],
            "{engine}"
        );
        let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["files"]["failed"], 3);
        assert_eq!(r["files"]["written"], 3);
        assert_eq!(r["failures"].as_array().unwrap().len(), 3);
        assert!(r["failures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["stage"] == "decode"));
    }
}

#[test]
fn a_missing_input_is_reported_and_the_rest_is_done() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let out = t.path().join("out");
    let missing = t.path().join("nope.png");
    let o = graypipe(&[
        "run",
        s(&missing),
        s(&input.join("z.bmp")),
        "-o",
        s(&out),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nope.png: no such file"),
        "{}",
        stderr(&o)
    );
    assert!(out.join("z.png").is_file());
}

#[test]
fn an_empty_folder_is_not_an_error() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("empty");
    fs::create_dir(&input).unwrap();
    let o = graypipe(&["run", s(&input), "-o", s(&t.path().join("out"))]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("no image files found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let out = t.path().join("out");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--dry-run",
        "--format",
        "tiff",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let plan = String::from_utf8(o.stdout).unwrap();
    assert_eq!(plan.lines().count(), 3, "{plan}");
    assert!(plan.contains(&format!(
        "{} -> {}",
        input.join("a/y.jpg").display(),
        out.join("a/y.tif").display()
    )));
    assert!(!out.exists());
}

#[test]
fn skip_existing_leaves_done_outputs_alone() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let out = t.path().join("out");
    assert_eq!(
        graypipe(&["run", s(&input), "-o", s(&out), "-q"])
            .status
            .code(),
        Some(0)
    );
    fs::write(out.join("z.png"), b"marker").unwrap();
    fs::remove_file(out.join("a/y.png")).unwrap();
    let report = t.path().join("r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--skip-existing",
        "--report",
        s(&report),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(fs::read(out.join("z.png")).unwrap(), b"marker");
    assert!(out.join("a/y.png").is_file());
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        (
            r["files"]["skipped"].as_u64(),
            r["files"]["written"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

#[test]
fn every_engine_and_worker_count_writes_identical_bytes() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    for i in 0..24u32 {
        let (w, h) = (20 + i * 3, 15 + (i * 7) % 23);
        let fmt = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Bmp][i as usize % 3];
        let ext = ["png", "jpg", "bmp"][i as usize % 3];
        save(
            &input.join(format!("d{}/f{i:02}.{ext}", i % 4)),
            &photo(w, h, i),
            fmt,
        );
    }
    let configs: &[&[&str]] = &[
        &["--engine", "serial"],
        &["--engine", "rayon", "--workers", "1"],
        &["--engine", "rayon", "--workers", "3"],
        &["--engine", "staged", "--workers", "1", "--in-flight", "1"],
        &["--engine", "staged", "--workers", "2"],
        &[
            "--engine",
            "staged",
            "--workers",
            "3",
            "--stage-workers",
            "read=1,encode=1,write=1",
            "--in-flight",
            "5",
        ],
        &[
            "--engine",
            "staged",
            "--workers",
            "5",
            "--stage-workers",
            "read=3,write=4",
            "--in-flight",
            "2",
        ],
    ];
    for op in ["adaptive-gaussian:11:2", "otsu", "trunc:triangle", "gray"] {
        let mut reference: Option<BTreeMap<PathBuf, Vec<u8>>> = None;
        for (k, cfg) in configs.iter().enumerate() {
            let out = t.path().join(format!("out-{k}"));
            let _ = fs::remove_dir_all(&out);
            let mut args = vec!["run", s(&input), "-o", s(&out), "-q"];
            if op != "gray" {
                args.extend(["--threshold", op]);
            }
            args.extend(cfg.iter());
            let o = graypipe(&args);
            assert_eq!(o.status.code(), Some(0), "{op} {cfg:?}: {}", stderr(&o));
            let got = tree(&out);
            assert_eq!(got.len(), 24);
            match &reference {
                None => reference = Some(got),
                Some(r) => assert!(*r == got, "{op}: {cfg:?} differs from serial"),
            }
        }
    }
}

#[test]
fn two_valued_results_are_1_bit_png_unless_asked_for_8() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let x = input.join("a/b/x.png");
    let bit_depth = |args: &[&str]| {
        let out = t.path().join("bd");
        let _ = fs::remove_dir_all(&out);
        let mut a = vec!["run", s(&x), "-o", s(&out), "-q"];
        a.extend(args);
        assert_eq!(graypipe(&a).status.code(), Some(0));
        fs::read(out.join("x.png")).unwrap()[24] // IHDR bit depth
    };
    assert_eq!(bit_depth(&["--threshold", "adaptive-mean:11:2"]), 1);
    assert_eq!(bit_depth(&["--threshold", "127", "--bit-depth", "8"]), 8);
    assert_eq!(bit_depth(&["--threshold", "tozero:127"]), 8);
    assert_eq!(bit_depth(&["--threshold", "127", "--maxval", "200"]), 8);
    assert_eq!(bit_depth(&[]), 8);
}

#[test]
fn cli_output_equals_opencv_on_a_lossless_input() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/opencv");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(fixtures.join("manifest.json")).unwrap()).unwrap();
    let k = manifest["ops"]
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o["spec"] == "adaptive-gaussian:11:2" && o["maxval"] == 255.0)
        .unwrap();
    let t = tempfile::tempdir().unwrap();
    for name in [
        "rgb16.png",
        "palette_trns.png",
        "rgb24.bmp",
        "rgb16.tif",
        "gray16.pgm",
    ] {
        let out = t.path().join("o");
        let o = graypipe(&[
            "run",
            s(&fixtures.join("inputs").join(name)),
            "-o",
            s(&out),
            "--threshold",
            "adaptive-gaussian:11:2",
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0));
        let stem = name.split('.').next().unwrap();
        let got = image::open(out.join(format!("{stem}.png")))
            .unwrap()
            .to_luma8();
        let ext = name.rsplit('.').next().unwrap();
        let stack = image::open(fixtures.join(format!("expected/{stem}__{ext}.png")))
            .unwrap()
            .to_luma8();
        let (w, h) = got.dimensions();
        let want = GrayImage::from_fn(w, h, |x, y| *stack.get_pixel(x, y + k as u32 * h));
        assert!(got == want, "{name}");
    }
}

#[test]
fn format_same_keeps_each_input_format() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "--format", "same", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files: Vec<PathBuf> = tree(&out).into_keys().collect();
    assert_eq!(
        files,
        [PathBuf::from("a/b/x.png"), "a/y.jpg".into(), "z.bmp".into()]
    );
    assert_eq!(image::open(out.join("a/y.jpg")).unwrap().width(), 33);
}

#[test]
fn usage_errors_exit_2_and_show_the_grammar() {
    let o = graypipe(&["run", "x", "-o", "y", "--threshold", "binary:lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected one of"), "{}", stderr(&o));
    assert_eq!(graypipe(&["run", "x"]).status.code(), Some(2));
    assert_eq!(
        graypipe(&["run", "x", "-o", "y", "--stage-workers", "paint=2"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn fail_fast_stops_after_the_first_failure() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir_all(&input).unwrap();
    fs::write(input.join("a_broken.png"), b"nope").unwrap();
    for i in 0..30 {
        save(
            &input.join(format!("b{i:02}.png")),
            &photo(16, 16, i),
            ImageFormat::Png,
        );
    }
    let out = t.path().join("out");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--engine",
        "serial",
        "--fail-fast",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--fail-fast"), "{}", stderr(&o));
    assert!(!out.exists() || tree(&out).is_empty());
}

#[test]
fn no_temporary_files_are_left_behind() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    fs::write(input.join("bad.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    let out = t.path().join("out");
    // A folder where x.png's output goes: its bytes are encoded and written to a temporary
    // file, and only the final rename fails. The temporary file must go with the failure.
    fs::create_dir_all(out.join("a/b/x.png/keep")).unwrap();
    let leftovers = |out: &Path| -> Vec<PathBuf> {
        tree(out)
            .into_keys()
            .filter(|p| p.to_string_lossy().contains(".graypipe-"))
            .collect()
    };
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("bad.png") && err.contains("x.png"), "{err}");
    assert!(out.join("a/y.png").is_file() && out.join("z.png").is_file());
    assert!(out.join("a/b/x.png/keep").is_dir());
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
    // Again over the outputs now present: each is replaced through a temporary name.
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
}

#[cfg(unix)]
#[test]
fn links_are_followed_only_when_asked_and_loops_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let elsewhere = t.path().join("elsewhere");
    save(&elsewhere.join("w.png"), &photo(9, 9, 5), ImageFormat::Png);
    std::os::unix::fs::symlink(&elsewhere, input.join("link")).unwrap();
    std::os::unix::fs::symlink(&input, input.join("a/loop")).unwrap();
    let out = t.path().join("out");
    let o = graypipe(&["run", s(&input), "-o", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(tree(&out).len(), 3);
    let _ = fs::remove_dir_all(&out);
    let o = graypipe(&["run", s(&input), "-o", s(&out), "--follow-links", "-q"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a loop is a warning: nothing below it is missed"
    );
    assert!(
        stderr(&o).contains("warning") && stderr(&o).contains("symbolic link loop"),
        "{}",
        stderr(&o)
    );
    assert!(out.join("link/w.png").is_file());
}

#[cfg(feature = "libjpeg-turbo")]
#[test]
fn a_damaged_but_readable_jpeg_is_written_with_a_warning_line_and_counted() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/read_modes/inputs");
    fs::copy(fixtures.join("cut_scan.jpg"), input.join("cut.jpg")).unwrap();
    fs::copy(
        fixtures.join("photo_160x120_420.jpg"),
        input.join("whole.jpg"),
    )
    .unwrap();
    let out = t.path().join("out");
    let report = t.path().join("r.json");
    for read in ["color", "gray"] {
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&out),
            "--read",
            read,
            "--report",
            s(&report),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{err}");
        let line = format!(
            "graypipe: warning: {}: Corrupt JPEG data: premature end of data segment",
            s(&input.join("cut.jpg"))
        );
        assert!(err.contains(&line), "{err}");
        assert!(!err.contains("whole.jpg"), "{err}");
        let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["warnings"], 1, "{r}");
        assert_eq!(r["files"]["written"], 2);
        let cut = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["input"].as_str().unwrap().ends_with("cut.jpg"))
            .unwrap();
        assert_eq!(cut["warnings"].as_array().unwrap().len(), 1, "{cut}");
    }
}

#[test]
fn a_non_finite_maxval_and_a_report_in_a_missing_folder_are_refused_before_any_work() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let out = t.path().join("out");
    for v in ["NaN", "inf", "-inf", "1e400"] {
        let o = graypipe(&[
            "run",
            s(&input),
            "-o",
            s(&out),
            "--threshold",
            "100",
            "--maxval",
            v,
        ]);
        assert_eq!(o.status.code(), Some(2), "--maxval {v}: {}", stderr(&o));
        assert!(!out.exists(), "--maxval {v}");
    }
    // A report in a folder that does not exist is refused (graypipe would otherwise plant the
    // folder, here inside the input tree); inside the output folder it is created.
    let planted = input.join("newdir/r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--report",
        s(&planted),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(!input.join("newdir").exists() && !out.exists());
    let inside = out.join("logs/r.json");
    let o = graypipe(&[
        "run",
        s(&input),
        "-o",
        s(&out),
        "--report",
        s(&inside),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(inside.is_file());
}

/// The report records every setting that decides the outputs' bytes, so a run can be repeated
/// from its record alone.
#[test]
fn the_report_records_the_settings_that_decide_the_outputs() {
    let t = tempfile::tempdir().unwrap();
    let input = nested_input(t.path());
    let report = t.path().join("r.json");
    let read = |args: &[&str]| -> serde_json::Value {
        let out = t.path().join("out");
        let _ = fs::remove_dir_all(&out);
        let o = graypipe(
            &[
                &[
                    "run",
                    s(&input),
                    "-o",
                    s(&out),
                    "-q",
                    "--report",
                    s(&report),
                ][..],
                args,
            ]
            .concat(),
        );
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&fs::read(&report).unwrap()).unwrap()
    };
    let r = read(&[]);
    assert_eq!(r["operation"], "gray");
    assert!(
        r["maxval"].is_null(),
        "no threshold, no maxval: {}",
        r["maxval"]
    );
    assert_eq!(r["read"], "color");
    assert_eq!(r["format"], "png");
    assert_eq!(r["bit_depth"], "auto");
    assert_eq!(r["png_compression"], "fast");
    assert_eq!(r["max_pixels"], 16384u64 * 16384);
    let r = read(&[
        "--threshold",
        "binary:100",
        "--maxval",
        "200",
        "--read",
        "gray",
        "--format",
        "same",
        "--bit-depth",
        "8",
        "--png-compression",
        "high",
        "--max-pixels",
        "100x50",
        "--luma",
        "bt709",
    ]);
    assert_eq!(r["operation"], "binary:100");
    assert_eq!(r["maxval"], 200.0);
    assert_eq!(r["read"], "gray");
    assert_eq!(r["format"], "same");
    assert_eq!(r["bit_depth"], "8");
    assert_eq!(r["png_compression"], "high");
    assert_eq!(r["max_pixels"], 5000);
    assert_eq!(r["luma"], "bt709");
    let r = read(&[
        "--threshold",
        "adaptive-mean:11:2",
        "--maxval",
        "-3.5",
        "--format",
        "jpeg",
    ]);
    assert_eq!(r["maxval"], -3.5);
    assert_eq!(r["format"], "jpeg");
}
