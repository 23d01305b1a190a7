//! `graypipe sweep`: run, analyse, print, export.

use std::io::IsTerminal;

use super::args::SweepArgs;
use super::run_cmd::on_interrupt;
use super::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE};
use graypipe::pipeline::CancelToken;
use graypipe::report::export::{
    export, CsvExporter, Exporter, JsonExporter, MarkdownExporter, SvgExporter,
};
use graypipe::report::html::HtmlExporter;
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
        timelines: args.html.is_some(),
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
    let exports: [(&Option<std::path::PathBuf>, &dyn Exporter); 5] = [
        (&args.export_json, &JsonExporter),
        (&args.export_csv, &CsvExporter),
        (&args.export_markdown, &MarkdownExporter),
        (&args.plot, &SvgExporter),
        (&args.html, &HtmlExporter),
    ];
    let mut status = printed;
    for (path, exporter) in exports {
        if let Some(path) = path {
            if let Err(e) = export(exporter, &record, path) {
                eprintln!("graypipe: error: cannot write {}: {e}", path.display());
                status = EXIT_FAILED;
            }
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
