//! The HTML pages in a real browser: `run --html`, `sweep --html` and `report --html` are
//! opened in headless Chromium, which must render them with no error, and each page's own
//! self-check (which looks for the decision, plot, table and timeline) must report `ok` in
//! the DOM Chromium dumps. A screenshot of each page is saved under the target folder
//! (`CARGO_TARGET_TMPDIR/html-screenshots`) for a person to look at.
//!
//! Needs Debian's `chromium` (or `GRAYPIPE_CHROMIUM=/path`). Without it the test is skipped
//! with a note, unless `CI` is set: CI installs chromium (`.ci/run`), and there a missing
//! browser fails the test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_graypipe");

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GRAYPIPE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs chromium headless on `page` with `extra` arguments and a fresh profile; returns its
/// standard output and error. A browser that has not finished after 120 s is killed and
/// fails the test.
fn browse(chromium: &Path, profile: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let _ = fs::remove_dir_all(profile);
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .expect("chromium starts");
    let mut waited = 0;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        waited += 1;
        if waited > 1200 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = fs::read_to_string(out.path()).unwrap_or_default();
    let stderr = fs::read_to_string(err.path()).unwrap_or_default();
    assert!(
        status.success(),
        "chromium failed on {}: {stderr}",
        page.display()
    );
    (stdout, stderr)
}

/// Opens `page`, checks it, saves its screenshot as `name.png` in `shots`.
fn check_page(chromium: &Path, work: &Path, shots: &Path, page: &Path, name: &str, parts: &[&str]) {
    let profile = work.join("profile");
    let (dom, log) = browse(
        chromium,
        &profile,
        page,
        &["--virtual-time-budget=3000", "--dump-dom"],
    );
    assert!(
        dom.contains("data-selfcheck=\"ok\""),
        "{name}: the page's self-check did not pass: {}",
        dom.split("id=\"selfcheck\">")
            .nth(1)
            .map_or("no self-check output", |s| &s[..s.len().min(300)])
    );
    for part in parts {
        assert!(dom.contains(part), "{name}: {part} missing");
    }
    // Chromium logs page errors and failed loads as console messages.
    for line in log.lines() {
        let l = line.to_ascii_lowercase();
        assert!(
            !(l.contains("console") && (l.contains("error") || l.contains("uncaught")))
                && !l.contains("net::err_"),
            "{name}: {line}"
        );
    }
    let shot = shots.join(format!("{name}.png"));
    let _ = fs::remove_file(&shot);
    browse(
        chromium,
        &profile,
        page,
        &[
            "--window-size=1200,1600",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{name}: blank screenshot?"
    );
    eprintln!("screenshot: {}", shot.display());
}

fn graypipe(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn run_sweep_and_report_pages_render_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is missing: .ci/run installs it"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium); CI runs this test");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let work = t.path();
    let input = work.join("in");
    fs::create_dir(&input).unwrap();
    let tiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_images/book/tiles");
    let mut names: Vec<PathBuf> = fs::read_dir(&tiles)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names.iter().take(60) {
        fs::copy(p, input.join(p.file_name().unwrap())).unwrap();
    }
    fs::write(input.join("broken.jpg"), b"\xff\xd8\xffnot a jpeg").unwrap();
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-screenshots");
    fs::create_dir_all(&shots).unwrap();
    let p = |name: &str| work.join(name);
    let os = |s: &str| std::ffi::OsString::from(s);

    // A run with a failure.
    graypipe(&[
        &os("run"),
        &os("-q"),
        &os("-w"),
        &os("2"),
        input.as_os_str(),
        &os("-o"),
        p("out").as_os_str(),
        &os("--html"),
        p("run.html").as_os_str(),
        &os("--report"),
        p("run.json").as_os_str(),
    ]);
    check_page(
        &chromium,
        work,
        &shots,
        &p("run.html"),
        "run",
        &["id=\"decision\"", "class=\"timeline\"", "broken.jpg"],
    );
    graypipe(&[
        &os("report"),
        p("run.json").as_os_str(),
        &os("--html"),
        p("run-from-record.html").as_os_str(),
    ]);
    check_page(
        &chromium,
        work,
        &shots,
        &p("run-from-record.html"),
        "run-from-record",
        &["class=\"timeline\""],
    );

    // A small sweep: two worker counts, two engines. A run that fails a file ends a sweep's
    // measuring, so the broken picture is taken out first.
    fs::remove_file(input.join("broken.jpg")).unwrap();
    graypipe(&[
        &os("sweep"),
        &os("-q"),
        input.as_os_str(),
        &os("--engine"),
        &os("staged,rayon"),
        &os("--workers"),
        &os("1,2"),
        &os("--warmup"),
        &os("1"),
        &os("--repeat"),
        &os("2"),
        &os("--min-time"),
        &os("0"),
        &os("--html"),
        p("sweep.html").as_os_str(),
        &os("--export-json"),
        p("sweep.json").as_os_str(),
    ]);
    let sweep_html = fs::read_to_string(p("sweep.html")).unwrap();
    assert_eq!(
        sweep_html.matches("<figure class=\"timeline\">").count(),
        4,
        "a timeline per point"
    );
    check_page(
        &chromium,
        work,
        &shots,
        &p("sweep.html"),
        "sweep",
        &[
            "id=\"decision\"",
            "id=\"plot\"",
            "<table>",
            "class=\"timeline\"",
        ],
    );
    graypipe(&[
        &os("report"),
        p("sweep.json").as_os_str(),
        &os("--html"),
        p("sweep-from-export.html").as_os_str(),
    ]);
    assert_eq!(
        fs::read_to_string(p("sweep-from-export.html")).unwrap(),
        sweep_html,
        "the export gives the same page"
    );
}
