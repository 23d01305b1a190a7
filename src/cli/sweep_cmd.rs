//! `graypipe sweep`: run, analyse, print, export.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::args::SweepArgs;
use super::run_cmd::on_interrupt;
use super::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE};
use graypipe::error::printable_path;
use graypipe::pipeline::CancelToken;
use graypipe::report::export::{
    export, CsvExporter, Exporter, JsonExporter, MarkdownExporter, SvgExporter,
};
use graypipe::report::sweep_table::sweep_text;
use graypipe::sweep::{run_sweep, SweepError, SweepPlan};

/// Runs the command; returns the exit status.
pub fn execute(args: &SweepArgs) -> i32 {
    let job = &args.job;
    // The --files-from list is read once here; every run of the sweep plans from it.
    let plan_options = match job.plan_options(false) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("graypipe: {e}");
            return EXIT_USAGE;
        }
    };
    let plan = SweepPlan {
        inputs: job.inputs.clone(),
        plan_options,
        settings: job.settings(),
        engines: args.engine.0.clone(),
        workers: args.workers.as_ref().map(|w| w.0.clone()),
        cores: args.cores.as_ref().map(|c| c.0.clone()),
        overrides: job.stage_workers.clone().unwrap_or_default(),
        in_flight: job.in_flight.map(|t| t as usize),
        max_memory: job
            .max_memory
            .unwrap_or_else(graypipe::pipeline::memory::default_budget),
        warmup: args.warmup,
        min_runs: args.repeat as usize,
        min_time: args.min_time,
        max_runs: args.max_runs as usize,
        quiet_machine: args.quiet_machine,
        baseline: args.baseline,
        keep_output: args.keep_output.clone(),
        scratch: args.scratch.clone(),
    };
    // Every export is checked before the first measured run: a refusal costs nothing.
    let targets = match export_targets(args, &plan) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("graypipe: refused: {e}");
            return EXIT_USAGE;
        }
    };
    // As `graypipe run` does, for the largest worker count the sweep runs.
    let most_workers = plan
        .workers
        .as_ref()
        .and_then(|w| w.iter().copied().max())
        .unwrap_or_else(graypipe::pipeline::logical_cores);
    super::allocator::keep_freed_blocks_for_reuse(plan.max_memory, most_workers + 1);
    let show = !args.quiet && std::io::stderr().is_terminal();
    // Ctrl-C or SIGTERM cancels the run in progress as for `graypipe run`; the sweep then
    // removes its temporary folders and ends with 130. A second signal exits at once.
    let cancel = CancelToken::new();
    let _interrupted = on_interrupt(&cancel);
    let record = match run_sweep(&plan, &cancel, &mut |p| {
        if show {
            let eta = if p.done > 0 {
                p.elapsed / p.done as f64 * (p.total - p.done) as f64
            } else {
                0.0
            };
            eprint!(
                "\rsweep: run {} of at least {}, {:.0} s elapsed, ETA {:.0} s   ",
                p.done, p.total, p.elapsed, eta
            );
        }
    }) {
        Ok(r) => r,
        Err(e) => {
            if show {
                eprintln!();
            }
            if let SweepError::Interrupted { .. } = e {
                eprintln!("graypipe: sweep {e}; its temporary folders are removed");
                return EXIT_INTERRUPTED;
            }
            eprintln!("graypipe: {e}");
            return EXIT_USAGE;
        }
    };
    if show {
        eprint!("\r{:70}\r", "");
    }
    // A reader that went away ends the table quietly; a full disk is an error (the exports
    // below are still written).
    let printed = super::output::print_or_fail(&sweep_text(&record));
    let mut status = printed;
    for (option, path, target) in &targets {
        let exporter = exporter_for(option);
        if let Err(e) = export(exporter, &record, target) {
            eprintln!(
                "graypipe: error: cannot write {option} {}: {e}",
                printable_path(path)
            );
            status = EXIT_FAILED;
        }
    }
    if record
        .points
        .iter()
        .any(|p| p.runs.iter().any(|r| r.failed > 0))
    {
        status = EXIT_FAILED;
    }
    status
}

/// The export options, in the order they are written.
const EXPORT_OPTIONS: [&str; 4] = [
    "--export-json",
    "--export-csv",
    "--export-markdown",
    "--plot",
];

fn exporter_for(option: &str) -> &'static dyn Exporter {
    match option {
        "--export-json" => &JsonExporter,
        "--export-csv" => &CsvExporter,
        "--export-markdown" => &MarkdownExporter,
        _ => &SvgExporter,
    }
}

/// Where each export asked for goes (option, path as given, resolved target), by the rule of
/// every record ([`graypipe::write_target`]): never onto a file the sweep reads (its inputs,
/// the `--files-from` list) or writes (the `--keep-output` pictures and folder), never a
/// folder or special file, and no two exports onto one file.
fn export_targets(
    args: &SweepArgs,
    plan: &SweepPlan,
) -> Result<Vec<(&'static str, PathBuf, PathBuf)>, String> {
    use graypipe::write_target::record_target;
    let asked = [
        &args.export_json,
        &args.export_csv,
        &args.export_markdown,
        &args.plot,
    ];
    let asked: Vec<(&'static str, &PathBuf)> = EXPORT_OPTIONS
        .into_iter()
        .zip(asked)
        .filter_map(|(o, p)| p.as_ref().map(|p| (o, p)))
        .collect();
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    // The sweep's inputs as one run lists them, and its kept outputs when it keeps them.
    let listing = graypipe::batch::discover_selected(
        &plan.inputs,
        plan.plan_options.follow_links,
        &plan.plan_options.selection,
    );
    let kept = plan
        .keep_output
        .as_ref()
        .and_then(|k| graypipe::batch::plan(&plan.inputs, k, &plan.plan_options).ok())
        .map(|p| p.jobs)
        .unwrap_or_default();
    let list = args
        .job
        .files_from
        .as_deref()
        .filter(|p| p.as_os_str() != "-");
    let reads = listing.found.iter().map(|f| f.input.as_path()).chain(list);
    let writes = kept.iter().map(|j| j.output.as_path());
    let mut targets = Vec::with_capacity(asked.len());
    for (option, path) in asked {
        let target = record_target(
            path,
            reads.clone(),
            writes.clone(),
            plan.keep_output.as_deref(),
        )
        .map_err(|e| format!("{option} {}: {e}", printable_path(path)))?;
        targets.push((option, path.clone(), target));
    }
    let resolved: Vec<(&str, &Path)> = targets.iter().map(|(o, _, t)| (*o, t.as_path())).collect();
    if let Some((a, b)) = graypipe::write_target::same_target(&resolved) {
        return Err(format!(
            "{a} and {b} name one file; each export needs its own"
        ));
    }
    Ok(targets)
}
