//! What a reader should be wary of, gathered per engine so each kind is said once.

use super::rows::PointRow;
use crate::pipeline::Engine;

/// Half-width of a median's 95% interval, over the median, beyond which a point is noisy
/// (unlike max - min, it does not grow with the number of runs).
pub const NOISY_HALF_WIDTH: f64 = 0.05;
/// Runs shorter than this are too short to time well.
pub const SHORT_RUN_SECONDS: f64 = 0.2;
/// Other processes taking more than this share of a run's CPUs make a point suspect.
pub const BUSY_MACHINE: f64 = 0.10;
/// A one-processor point using more cores than this has a T1 that is not one processor.
pub const ONE_PROCESSOR_CORES: f64 = 1.1;

fn label(r: &PointRow) -> String {
    if r.workers != r.processors {
        format!("{} ({} workers)", r.processors, r.workers)
    } else {
        r.processors.to_string()
    }
}

/// Adds the warning `say(places)` when there are `places`, listed with commas.
fn warn_at(w: &mut Vec<String>, places: Vec<String>, say: impl FnOnce(String) -> String) {
    if !places.is_empty() {
        w.push(say(places.join(", ")));
    }
}

/// Warnings about the rows of `engine`.
pub fn row_warnings(engine: Engine, rows: &[&PointRow], discarded: usize) -> Vec<String> {
    let mut w = Vec::new();
    let list = |f: &dyn Fn(&PointRow) -> Option<String>| -> Vec<String> {
        rows.iter().filter_map(|r| f(r)).collect()
    };
    let over = list(&|r| {
        r.oversubscribed
            .then(|| format!("{} workers on {} cores", r.workers, r.cores_allowed))
    });
    warn_at(&mut w, over, |at| {
        format!(
            "{engine}: oversubscribed at {at}: n counts the cores, not the workers, and no speedup is expected from the extra workers"
        )
    });
    let t1_cores = list(&|r| {
        (r.processors == 1 && r.cores_used > ONE_PROCESSOR_CORES)
            .then(|| format!("{} ({:.2} cores used)", label(r), r.cores_used))
    });
    warn_at(&mut w, t1_cores, |at| {
        format!(
            "{engine}: the one-processor point used more than {ONE_PROCESSOR_CORES} cores at n = {at}: its T1 is not one processor, so speedups against it are understated (sweep --cores 1,... to pin it)"
        )
    });
    let starved = list(&|r| {
        r.starved.then(|| {
            format!(
                "{} (waited {}, {:.2} cores used)",
                label(r),
                r.wait_share
                    .map_or_else(|| "not measured".into(), |w| format!("{:.0}%", w * 100.0)),
                r.cores_used
            )
        })
    });
    warn_at(&mut w, starved, |at| {
        format!(
            "{engine}: starved at n = {at}: the job's threads waited for a CPU more than {:.0}% of the time (or used under half of n while other processes were busy); these rows are left out of every fit and decision",
            super::rows::STARVED_WAIT_SHARE * 100.0
        )
    });
    let busy = list(&|r| {
        r.other_load
            .filter(|&l| l > BUSY_MACHINE)
            .map(|l| format!("{} ({:.0}%)", label(r), l * 100.0))
    });
    warn_at(&mut w, busy, |at| {
        format!(
            "{engine}: other processes took more than {:.0}% of the run's CPUs during n = {at}: these timings measure the other load too (re-run on a quiet machine, or with --quiet-machine)",
            BUSY_MACHINE * 100.0
        )
    });
    if discarded > 0 {
        w.push(format!(
            "{engine}: {discarded} run(s) taken while other processes were busy were discarded"
        ));
    }
    let noisy = list(&|r| {
        r.relative_half_width
            .filter(|&h| h > NOISY_HALF_WIDTH)
            .map(|h| format!("{} (+/-{:.0}%)", label(r), h * 100.0))
    });
    warn_at(&mut w, noisy, |at| {
        format!(
            "{engine}: the median's 95% interval is wider than +/-{:.0}% at n = {at}: noisy; use more runs or a quieter machine",
            NOISY_HALF_WIDTH * 100.0
        )
    });
    let short = list(&|r| {
        (r.median_seconds < SHORT_RUN_SECONDS)
            .then(|| format!("{} ({:.3} s)", label(r), r.median_seconds))
    });
    warn_at(&mut w, short, |at| {
        format!(
            "{engine}: median runs under {SHORT_RUN_SECONDS} s at n = {at}: too little work to time well; add files"
        )
    });
    // On the interval's lower end: a point estimate over 100% is often noise.
    let superlinear = list(&|r| {
        r.efficiency_interval
            .filter(|i| i.low > 1.0 && r.processors > 1)
            .map(|i| format!("{} ({:.0}% at least)", label(r), i.low * 100.0))
    });
    warn_at(&mut w, superlinear, |at| {
        format!(
            "{engine}: efficiency above 100% with 95% confidence at n = {at}: T1 is slower than this engine on one processor would be (another engine as baseline, caches, or noise); Amdahl's law does not explain it"
        )
    });
    let one_run = list(&|r| (r.runs_seconds.len() < 2).then(|| label(r)));
    warn_at(&mut w, one_run, |at| {
        format!("{engine}: one counted run at n = {at}: no intervals there")
    });
    w
}

/// One warning for every outlier run of every engine: flagged, kept in every figure.
pub fn outlier_warning(rows: &[PointRow]) -> Option<String> {
    let at: Vec<String> = rows
        .iter()
        .filter(|r| !r.outlier_runs.is_empty())
        .map(|r| {
            format!(
                "{} n = {} ({} of {})",
                r.engine,
                label(r),
                r.outlier_runs.len(),
                r.runs_seconds.len()
            )
        })
        .collect();
    (!at.is_empty()).then(|| {
        format!(
            "outlier runs (more than {} robust standard deviations from the median, as hyperfine flags them) at {}: kept in every figure; something else ran, or the caches were cold",
            super::robust::OUTLIER_ROBUST_SDS,
            at.join(", ")
        )
    })
}
