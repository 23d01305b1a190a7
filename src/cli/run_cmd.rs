//! `graypipe run`: plan, convert, report.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use super::args::RunArgs;
use super::output::{stderr_line, stderr_text, stdout_text};
use super::progress::Progress;
use super::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};
use graypipe::batch::shard::shard_plan;
use graypipe::batch::{plan, report_target, Plan, ReportTarget};
use graypipe::error::{printable, printable_path};
use graypipe::pipeline::{logical_cores, CancelToken, EngineConfig, StageCaps};
use graypipe::report::html::run_page;
use graypipe::report::run_json::{ExactPath, ShardJob, ShardRecord};
use graypipe::report::{run_table, RunReport};
use graypipe::run::run_traced;
use graypipe::trace::chrome::chrome_trace;

/// What a shard records of its job beyond the top-level settings, for `graypipe merge` to
/// compare across shards: resolved roots and output folder, and the selection options.
fn shard_job(args: &RunArgs) -> ShardJob {
    let job = &args.job;
    let exact = |p: &Path| ExactPath::new(&plan::resolve(p));
    ShardJob {
        inputs: job.inputs.iter().map(|p| exact(p)).collect(),
        output: exact(&args.output),
        selection: format!(
            "include={:?} exclude={:?} extensions={:?} hidden={} max_depth={:?} \
             follow_links={} name={:?} suffix={:?} files_from={} null={}",
            job.include,
            job.exclude,
            job.extensions,
            job.hidden,
            job.max_depth,
            job.follow_links,
            job.name.as_ref().map(|n| n.to_string()),
            job.suffix.as_ref().map(|n| n.to_string()),
            job.files_from.is_some(),
            job.null,
        ),
    }
}

/// Runs the command; returns the exit status. `color`: whether the progress bar may use colour.
pub fn execute(args: &RunArgs, color: bool) -> i32 {
    let started = SystemTime::now();
    let job = &args.job;
    let dash = |p: &Option<std::path::PathBuf>| p.as_deref() == Some(Path::new("-"));
    let on_stdout: Vec<&str> = [
        (args.json, "--json"),
        (dash(&args.report), "--report -"),
        (dash(&args.trace), "--trace -"),
        (dash(&args.html), "--html -"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if on_stdout.len() > 1 {
        stderr_line(&format!(
            "graypipe: {} all print on standard output: choose one",
            on_stdout.join(" and ")
        ));
        return EXIT_USAGE;
    }
    let shard = match args
        .shard
        .map(|s| s.resolve(|name| std::env::var(name).ok()))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            stderr_line(&format!("graypipe: {e}"));
            return EXIT_USAGE;
        }
    };
    // A shard must see the whole listing; it leaves out existing outputs after sharding.
    let plan_opts = match job.plan_options(args.skip_existing && shard.is_none()) {
        Ok(o) => o,
        Err(e) => {
            stderr_line(&format!("graypipe: {e}"));
            return EXIT_USAGE;
        }
    };
    // Remote inputs and outputs are listed into staging folders and planned like local ones.
    let prepared = match super::remote::prepare(&job.inputs, &args.output, args.skip_existing) {
        Ok(p) => p,
        Err(e) => {
            stderr_line(&format!("graypipe: {}", printable(&e)));
            return EXIT_USAGE;
        }
    };
    let plan = match plan(&prepared.inputs, &prepared.output, &plan_opts) {
        Ok(p) => p,
        Err(e) => {
            stderr_line(&format!("graypipe: {e}"));
            if let graypipe::batch::PlanError::Collisions(list) = &e {
                stderr_line(&super::advice::collisions(
                    list,
                    plan_opts.naming.as_ref(),
                    &job.inputs,
                    &args.output,
                ));
            }
            return EXIT_USAGE;
        }
    };
    // The --files-from list is read by the run too: the report must not replace it.
    let lists: Vec<&Path> = job
        .files_from
        .iter()
        .map(|p| p.as_path())
        .filter(|p| p.as_os_str() != "-")
        .collect();
    // The record, the trace and the page all follow the report's rules, and go to three
    // different files.
    let mut targets = Vec::new();
    for (flag, path) in [
        ("--report", &args.report),
        ("--trace", &args.trace),
        ("--html", &args.html),
    ] {
        // A remote report (s3://...) is one PUT at the end; the rules below are for files.
        let target = match path
            .as_deref()
            .filter(|r| !super::remote::is_remote(r))
            .map(|r| report_target(r, &plan, &prepared.output, &lists))
            .transpose()
        {
            Ok(t) => t,
            Err(e) => {
                stderr_line(&format!("graypipe: {flag}: {e}"));
                return EXIT_USAGE;
            }
        };
        if let Some(ReportTarget::File(p)) = &target {
            if targets
                .iter()
                .any(|t: &Option<ReportTarget>| t.as_ref() == target.as_ref())
            {
                stderr_line(&format!(
                    "graypipe: {flag} {}: another of --report, --trace and --html writes there already",
                    printable_path(p)
                ));
                return EXIT_USAGE;
            }
        }
        targets.push(target);
    }
    let [report_to, trace_to, html_to]: [Option<ReportTarget>; 3] = match targets.try_into() {
        Ok(t) => t,
        Err(_) => return EXIT_USAGE,
    };
    // A shard's report carries the whole listing (see `merge --failed-list`).
    let listing = match (shard, &args.report) {
        (Some((shard, _)), Some(_)) => Some(graypipe::report::retry::shard_listing(
            &plan,
            &prepared.output,
            shard.count,
            args.shard_by,
            &|p| prepared.remote_name(p),
        )),
        _ => None,
    };
    let (plan, shard_info) = match shard {
        None => (plan, None),
        Some((shard, source)) => {
            let (plan, info) = shard_plan(
                plan,
                &prepared.output,
                shard,
                source,
                args.shard_by,
                args.skip_existing,
            );
            if !args.quiet || args.dry_run {
                stderr_line(&format!(
                    "graypipe: shard {shard} (from {}, by {}): {} of {} files, listing {}",
                    source.name(),
                    args.shard_by.name(),
                    plan.jobs.len() + plan.skipped.len(),
                    info.listing_files,
                    info.fingerprint
                ));
            }
            (plan, Some(info))
        }
    };
    let plan = prepared.to_remote(plan);
    if args.dry_run {
        return dry_run(&plan, args.json);
    }
    let stale = remove_stale_temps(
        &plan,
        &args.output,
        [&report_to, &trace_to, &html_to],
        started,
    );
    if stale > 0 && !args.quiet {
        stderr_line(&format!(
            "graypipe: removed {stale} temporary file(s) left by an earlier graypipe that was killed"
        ));
    }
    let settings = job.settings();
    let n = args.workers.map_or_else(logical_cores, |w| w as usize);
    let config = EngineConfig {
        engine: args.engine,
        workers: n,
        in_flight: job
            .in_flight
            .map_or_else(|| EngineConfig::default_in_flight(n), |t| t as usize),
        stage_caps: StageCaps::from_overrides(&job.stage_workers.clone().unwrap_or_default()),
        max_memory: job
            .max_memory
            .unwrap_or_else(graypipe::pipeline::memory::default_budget),
    };
    // The run's workers plus the calling thread.
    super::allocator::keep_freed_blocks_for_reuse(config.max_memory, config.workers + 1);
    if plan.jobs.is_empty() && plan.discovery_errors.is_empty() && !args.quiet {
        if plan.skipped.is_empty() {
            stderr_line("graypipe: no image files found in the inputs");
        } else {
            stderr_line(&format!(
                "graypipe: nothing to do: all {} outputs exist",
                plan.skipped.len()
            ));
        }
    }

    let progress = Progress::new(plan.jobs.len() as u64, args.quiet, color);
    let listed = [
        ("error", &plan.discovery_errors),
        ("warning", &plan.warnings),
    ];
    for (what, found) in listed {
        for e in found {
            progress.line(&format!(
                "graypipe: {what}: {}: {}",
                printable_path(&e.path),
                printable(&e.reason)
            ));
        }
    }
    let cancel = CancelToken::new();
    let interrupted = on_interrupt(&cancel);
    let summary = run_traced(
        &plan,
        &settings,
        &config,
        &cancel,
        args.fail_fast,
        trace_to.is_some() || html_to.is_some(),
        &mut |job, outcome| {
            progress.inc();
            if let Ok(w) = &outcome.result {
                for warning in &w.warnings {
                    progress.line(&format!(
                        "graypipe: warning: {}: {}",
                        printable_path(&job.input),
                        printable(warning)
                    ));
                }
            }
            match &outcome.result {
                Ok(w) if args.verbose => progress.line(&format!(
                    "{} -> {} ({} x {}{})",
                    printable_path(&job.input),
                    printable_path(&job.output),
                    w.width,
                    w.height,
                    w.level.map(|l| format!(", level {l}")).unwrap_or_default()
                )),
                Ok(_) => {}
                Err(e) => progress.line(&format!("graypipe: error: {e}")),
            }
        },
    );
    progress.finish();

    // The per-file entries only go into a report file or the JSON record.
    let mut report = if args.report.is_some() || args.json {
        RunReport::new(&summary, &settings, &config, job.format)
    } else {
        RunReport::totals(&summary, &settings, &config, job.format)
    };
    report.shard = shard_info
        .as_ref()
        .map(|i| ShardRecord::new(i, shard_job(args)));
    if args.report.is_some() {
        report.listing = listing;
    }
    if summary.stats.engine_error.is_none() && summary.stats.workers < config.threads() {
        stderr_line(&format!(
            "graypipe: warning: only {} of {} worker threads could be started (a process or thread limit, ulimit -u?); the run used {}",
            summary.stats.workers,
            config.threads(),
            summary.stats.workers
        ));
    }
    if let Some(e) = &summary.stats.engine_error {
        stderr_line(&format!("graypipe: error: {}", printable(&e.to_string())));
    }
    let mut status = if summary.failed() > 0 || summary.stats.engine_error.is_some() {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    if let Some(url) = args
        .report
        .as_deref()
        .filter(|r| super::remote::is_remote(r))
    {
        let written = serde_json::to_vec_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|mut json| {
                json.push(b'\n');
                super::remote::put_report(url, &json)
            });
        if let Err(e) = written {
            stderr_line(&format!(
                "graypipe: error: cannot write report {}: {}",
                printable_path(url),
                printable(&e)
            ));
            status = EXIT_FAILED;
        }
    }
    if let (Some(path), Some(target)) = (&args.report, &report_to) {
        if let Err(e) = write_report(target, &report) {
            stderr_line(&format!(
                "graypipe: error: cannot write report {}: {}",
                printable_path(path),
                printable(&e)
            ));
            status = EXIT_FAILED;
        }
    }
    if let (Some(path), Some(target), Some(timeline)) =
        (&args.trace, &trace_to, &summary.stats.timeline)
    {
        let title = format!(
            "graypipe run ({} engine, {} workers)",
            summary.stats.engine, summary.stats.workers
        );
        let trace = chrome_trace(timeline, &title, &|i| summary.file_name(i));
        let written = write_to_target(target, trace.as_bytes());
        if let Err(e) = written {
            stderr_line(&format!(
                "graypipe: error: cannot write trace {}: {}",
                printable_path(path),
                printable(&e)
            ));
            status = EXIT_FAILED;
        }
    }
    if let (Some(path), Some(target)) = (&args.html, &html_to) {
        let written = serde_json::to_value(&report)
            .map_err(|e| e.to_string())
            .and_then(|v| write_to_target(target, run_page(&v).as_bytes()));
        if let Err(e) = written {
            stderr_line(&format!(
                "graypipe: error: cannot write page {}: {}",
                printable_path(path),
                printable(&e)
            ));
            status = EXIT_FAILED;
        }
    }
    if args.json {
        if let Err(e) = print_json(&report) {
            stderr_line(&format!(
                "graypipe: error: cannot print the JSON record: {}",
                graypipe::error::io_reason(&e)
            ));
            status = EXIT_FAILED;
        }
    }
    // A run with nothing to do has no stages to show (the lines above said why).
    if !args.quiet
        && summary.files.iter().any(|(_, s)| {
            matches!(
                s,
                graypipe::FileStatus::Written(_) | graypipe::FileStatus::Failed(_)
            )
        })
    {
        stderr_text(&run_table(&report));
    }
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        stderr_line(&format!(
            "graypipe: interrupted: {} files not started; every file listed as written is complete. \
             Run the same command with --skip-existing to finish.",
            summary.not_started()
        ));
        return EXIT_INTERRUPTED;
    }
    if args.fail_fast && summary.not_started() > 0 {
        stderr_line(&format!(
            "graypipe: stopped at the first failure (--fail-fast); {} files not started",
            summary.not_started()
        ));
    }
    status
}

/// On SIGINT or SIGTERM: cancel the run (no new files start; in-flight ones finish or are
/// discarded, never half-written) and remember it. A second signal exits at once. `sweep`
/// uses it too.
pub(super) fn on_interrupt(cancel: &CancelToken) -> Arc<AtomicBool> {
    let interrupted = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registration fails only for forbidden signals; these two are not.
        let _ = signal_hook::flag::register_conditional_shutdown(
            sig,
            EXIT_INTERRUPTED,
            Arc::clone(&interrupted),
        );
        let _ = signal_hook::flag::register(sig, Arc::clone(&interrupted));
        let _ = signal_hook::flag::register(sig, cancel.flag());
    }
    interrupted
}

/// Writes the report where [`report_target`] decided.
fn write_report(target: &ReportTarget, report: &RunReport) -> Result<(), String> {
    let mut json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    json.push(b'\n');
    write_to_target(target, &json)
}

/// Writes `json` (a report, trace or page) where [`report_target`] decided. A file is
/// written atomically at the resolved target (through a symbolic link, which stays), and only
/// if what is there now is still a regular file or nothing: never renamed over a folder,
/// FIFO, device or socket.
pub(super) fn write_to_target(target: &ReportTarget, json: &[u8]) -> Result<(), String> {
    match target {
        ReportTarget::Stdout => {
            // Text from serde_json is UTF-8; a reader that went away is not an error.
            let text = String::from_utf8_lossy(json);
            stdout_text(&text)
                .map(|_| ())
                .map_err(|e| graypipe::error::io_reason(&e))
        }
        ReportTarget::File(path) => graypipe::write_target::write_record(path, json),
    }
}

/// Clears the temporary files killed runs left in the output tree (all of it: a resume with
/// nothing left to convert cleans up too), the folders this run writes to and the folders of
/// the report, trace and page; never inside an input folder.
fn remove_stale_temps(
    plan: &Plan,
    out_dir: &Path,
    files: [&Option<ReportTarget>; 3],
    started: SystemTime,
) -> usize {
    use graypipe::atomic_write::folder_of;
    let mut dirs: BTreeSet<&Path> = plan
        .jobs
        .iter()
        .chain(&plan.skipped)
        .filter(|j| !super::remote::is_remote(&j.output))
        .map(|j| folder_of(&j.output))
        .collect();
    for f in files {
        if let Some(ReportTarget::File(p)) = f {
            dirs.insert(folder_of(p));
        }
    }
    graypipe::atomic_write::remove_stale_temps_below(out_dir, dirs, &plan.input_folders(), started)
}

/// `--json`: the record as one line on stdout, and nothing else there.
fn print_json(report: &RunReport) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, report)?;
    writeln!(out)?;
    out.flush()
}

fn dry_run(plan: &Plan, json: bool) -> i32 {
    let mut text = String::new();
    if json {
        text = dry_run_json(plan);
    } else {
        for j in &plan.jobs {
            text.push_str(&format!(
                "{} -> {}\n",
                printable_path(&j.input),
                printable_path(&j.output)
            ));
        }
        for j in &plan.skipped {
            text.push_str(&format!(
                "{} -> {} (exists, skipped)\n",
                printable_path(&j.input),
                printable_path(&j.output)
            ));
        }
    }
    // A reader that stops early (`| head`) ends the listing quietly.
    let listed = stdout_text(&text);
    for w in &plan.warnings {
        stderr_line(&format!(
            "graypipe: warning: {}: {}",
            printable_path(&w.path),
            printable(&w.reason)
        ));
    }
    for e in &plan.discovery_errors {
        stderr_line(&format!(
            "graypipe: error: {}: {}",
            printable_path(&e.path),
            printable(&e.reason)
        ));
    }
    stderr_line(&format!("graypipe: {}", selected_line(plan)));
    if let Err(e) = listed {
        stderr_line(&format!(
            "graypipe: error: cannot write the plan to standard output: {}",
            graypipe::error::io_reason(&e)
        ));
        return EXIT_FAILED;
    }
    if plan.discovery_errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// The dry run's closing count: what was selected and, when the selection left things out,
/// how much and by which option.
fn selected_line(plan: &Plan) -> String {
    let selected = plan.jobs.len() + plan.skipped.len();
    let mut line = format!(
        "{selected} file{} selected",
        if selected == 1 { "" } else { "s" }
    );
    if !plan.skipped.is_empty() {
        line.push_str(&format!(
            " ({} to convert, {} skipped: output exists)",
            plan.jobs.len(),
            plan.skipped.len()
        ));
    }
    let l = &plan.left_out;
    let mut why = Vec::new();
    let mut count = |n: usize, what: &str| {
        if n > 0 {
            why.push(format!("{n} {what}"));
        }
    };
    count(l.excluded_files, "file(s) excluded by --exclude");
    count(l.excluded_folders, "folder(s) excluded by --exclude");
    count(l.not_included, "file(s) matching no --include");
    count(
        l.other_extensions,
        "file(s) with other extensions (see --extensions)",
    );
    count(l.hidden_files, "hidden file(s) (see --hidden)");
    count(l.hidden_folders, "hidden folder(s) (see --hidden)");
    count(
        l.folders_at_max_depth,
        "folder(s) below --max-depth not walked",
    );
    count(l.listed_folders, "listed folder(s) skipped");
    count(
        plan.discovery_errors.len(),
        "path(s) that could not be listed",
    );
    if !why.is_empty() {
        line.push_str(": ");
        line.push_str(&why.join(", "));
    }
    line
}

/// `--dry-run --json`: the plan as one JSON object on standard output.
fn dry_run_json(plan: &Plan) -> String {
    use graypipe::report::run_json::exact_hex;
    let job = |j: &graypipe::batch::Job| {
        let mut o = serde_json::json!({
            "input": j.input.to_string_lossy(),
            "output": j.output.to_string_lossy(),
            "format": j.format.extension(),
        });
        if let Some(h) = exact_hex(&j.input) {
            o["input_hex"] = h.into();
        }
        if let Some(h) = exact_hex(&j.output) {
            o["output_hex"] = h.into();
        }
        o
    };
    let l = &plan.left_out;
    let value = serde_json::json!({
        "graypipe_version": env!("CARGO_PKG_VERSION"),
        "dry_run": true,
        "files": {
            "selected": plan.jobs.len() + plan.skipped.len(),
            "planned": plan.jobs.len(),
            "skipped": plan.skipped.len(),
            "unlisted": plan.discovery_errors.len(),
        },
        "left_out": {
            "excluded_files": l.excluded_files,
            "excluded_folders": l.excluded_folders,
            "not_included": l.not_included,
            "other_extensions": l.other_extensions,
            "hidden_files": l.hidden_files,
            "hidden_folders": l.hidden_folders,
            "folders_at_max_depth": l.folders_at_max_depth,
            "listed_folders": l.listed_folders,
        },
        "jobs": plan.jobs.iter().map(job).collect::<Vec<_>>(),
        "skipped": plan.skipped.iter().map(job).collect::<Vec<_>>(),
        "errors": plan.discovery_errors.iter().map(|e| serde_json::json!({
            "input": e.path.to_string_lossy(),
            "reason": e.reason,
        })).collect::<Vec<_>>(),
    });
    format!("{value}\n")
}
