//! `graypipe run`: plan, convert, report.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::args::{logical_cores, RunArgs};
use super::progress::Progress;
use super::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE};
use crate::batch::shard::shard_plan;
use crate::batch::{plan, Plan, PlanOptions};
use crate::pipeline::{CancelToken, EngineConfig, StageWorkers};
use crate::report::run_json::ShardRecord;
use crate::report::{run_table, RunReport};
use crate::run::run;

/// Runs the command; returns the exit status.
pub fn execute(args: &RunArgs) -> i32 {
    let job = &args.job;
    let shard = match args
        .shard
        .map(|s| s.resolve(|name| std::env::var(name).ok()))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("graypipe: {e}");
            return EXIT_USAGE;
        }
    };
    let plan_opts = PlanOptions {
        format: job.format,
        follow_links: job.follow_links,
        // A shard must see the whole listing; it leaves out existing outputs after sharding.
        skip_existing: args.skip_existing && shard.is_none(),
    };
    let plan = match plan(&job.inputs, &args.output, &plan_opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("graypipe: {e}");
            return EXIT_USAGE;
        }
    };
    let (plan, shard_info) = match shard {
        None => (plan, None),
        Some((shard, source)) => {
            let (plan, info) = shard_plan(
                plan,
                &args.output,
                shard,
                source,
                args.shard_by,
                args.skip_existing,
            );
            if !args.quiet || args.dry_run {
                eprintln!(
                    "graypipe: shard {shard} (from {}, by {}): {} of {} files, listing {}",
                    source.name(),
                    args.shard_by.name(),
                    plan.jobs.len() + plan.skipped.len(),
                    info.listing_files,
                    info.fingerprint
                );
            }
            (plan, Some(info))
        }
    };
    if args.dry_run {
        return dry_run(&plan);
    }
    let settings = job.settings();
    let n = args.workers.map_or_else(logical_cores, |w| w as usize);
    let workers =
        StageWorkers::uniform(n).with_overrides(&job.stage_workers.clone().unwrap_or_default());
    let config = EngineConfig {
        engine: args.engine,
        workers,
        queue: job.queue as usize,
    };
    if plan.jobs.is_empty() && plan.discovery_errors.is_empty() && !args.quiet {
        if plan.skipped.is_empty() {
            eprintln!("graypipe: no image files found in the inputs");
        } else {
            eprintln!(
                "graypipe: nothing to do: all {} outputs exist",
                plan.skipped.len()
            );
        }
    }

    let progress = Progress::new(plan.jobs.len() as u64, args.quiet);
    for e in &plan.discovery_errors {
        progress.line(&format!(
            "graypipe: error: {}: {}",
            e.path.display(),
            e.reason
        ));
    }
    for w in &plan.warnings {
        progress.line(&format!(
            "graypipe: warning: {}: {}",
            w.path.display(),
            w.reason
        ));
    }
    let cancel = CancelToken::new();
    let interrupted = on_interrupt(&cancel);
    let summary = run(
        &plan,
        &settings,
        &config,
        &cancel,
        args.fail_fast,
        &mut |job, outcome| {
            progress.inc();
            match &outcome.result {
                Ok(w) if args.verbose => progress.line(&format!(
                    "{} -> {} ({} x {}{})",
                    job.input.display(),
                    job.output.display(),
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

    let mut report = RunReport::new(&summary, &settings, &config);
    report.shard = shard_info.as_ref().map(ShardRecord::from);
    let mut status = if summary.failed() > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    if let Some(path) = &args.report {
        if let Err(e) = write_report(path, &report) {
            eprintln!(
                "graypipe: error: cannot write report {}: {e}",
                path.display()
            );
            status = EXIT_FAILED;
        }
    }
    if !args.quiet {
        eprint!("{}", run_table(&report));
    }
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        eprintln!(
            "graypipe: interrupted: {} files not started; every file listed as written is complete. \
             Run the same command with --skip-existing to finish.",
            summary.not_started()
        );
        return EXIT_INTERRUPTED;
    }
    if args.fail_fast && summary.not_started() > 0 {
        eprintln!(
            "graypipe: stopped at the first failure (--fail-fast); {} files not started",
            summary.not_started()
        );
    }
    status
}

/// On SIGINT or SIGTERM: cancel the run (no new files start; in-flight ones finish or are
/// discarded, never half-written) and remember it. A second signal exits at once.
fn on_interrupt(cancel: &CancelToken) -> Arc<AtomicBool> {
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

fn write_report(path: &Path, report: &RunReport) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    crate::atomic_write::write_atomic(path, &json).map(|_| ())
}

fn dry_run(plan: &Plan) -> i32 {
    for j in &plan.jobs {
        println!("{} -> {}", j.input.display(), j.output.display());
    }
    for j in &plan.skipped {
        println!(
            "{} -> {} (exists, skipped)",
            j.input.display(),
            j.output.display()
        );
    }
    for w in &plan.warnings {
        eprintln!("graypipe: warning: {}: {}", w.path.display(), w.reason);
    }
    for e in &plan.discovery_errors {
        eprintln!("graypipe: error: {}: {}", e.path.display(), e.reason);
    }
    if plan.discovery_errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
