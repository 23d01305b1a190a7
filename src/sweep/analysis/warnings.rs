//! What a reader should be wary of, gathered per engine so each kind is said once.

use super::rows::PointRow;
use crate::pipeline::Engine;

/// Spread over which the machine counts as noisy.
pub const NOISY_SPREAD: f64 = 0.10;
/// Runs shorter than this are too short to time well.
pub const SHORT_RUN_SECONDS: f64 = 0.2;
/// Other processes taking more than this share of the machine make a point suspect.
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
    let busy = list(&|r| {
        r.other_load
            .filter(|&l| l > BUSY_MACHINE)
            .map(|l| format!("{} ({:.0}%)", label(r), l * 100.0))
    });
    warn_at(&mut w, busy, |at| {
        format!(
            "{engine}: other processes took more than {:.0}% of the machine during n = {at}: these timings measure the other load too (re-run on a quiet machine, or with --quiet-machine)",
            BUSY_MACHINE * 100.0
        )
    });
    if discarded > 0 {
        w.push(format!(
            "{engine}: --quiet-machine discarded {discarded} run(s) taken while other processes were busy"
        ));
    }
    let noisy = list(&|r| {
        (r.spread > NOISY_SPREAD && r.runs_seconds.len() > 1)
            .then(|| format!("{} ({:.0}%)", label(r), r.spread * 100.0))
    });
    warn_at(&mut w, noisy, |at| {
        format!(
            "{engine}: runs spread over {:.0}% (max-min over median) at n = {at}: noisy machine; use more runs or a quieter machine",
            NOISY_SPREAD * 100.0
        )
    });
    let outliers = list(&|r| {
        (!r.outlier_runs.is_empty()).then(|| {
            format!(
                "{} ({} of {})",
                label(r),
                r.outlier_runs.len(),
                r.runs_seconds.len()
            )
        })
    });
    warn_at(&mut w, outliers, |at| {
        format!(
            "{engine}: outlier runs (modified z-score over 3.5 by median absolute deviation) at n = {at}: kept in the fit, reported here"
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
    let superlinear = list(&|r| {
        r.efficiency
            .filter(|&e| e > 1.0 && r.processors > 1)
            .map(|e| format!("{} ({:.0}%)", label(r), e * 100.0))
    });
    warn_at(&mut w, superlinear, |at| {
        format!(
            "{engine}: efficiency above 100% at n = {at}: T1 is slower than this engine on one processor would be (another engine as baseline, caches, or noise); Amdahl's law does not explain it"
        )
    });
    let one_run = list(&|r| (r.runs_seconds.len() < 2).then(|| label(r)));
    warn_at(&mut w, one_run, |at| {
        format!("{engine}: one counted run at n = {at}: no intervals there")
    });
    w
}
