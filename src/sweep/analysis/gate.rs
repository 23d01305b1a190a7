//! One gate for every inference beyond the points measured (the Amdahl ceiling and
//! predictions, the USL's peak, the bigger machine): at least [`MIN_COUNTS`] processor counts,
//! no point where the job did not get its processors or other processes were busy, and a
//! hold-out check (the model fitted without the largest n predicts that n within the
//! intervals). Otherwise the inference is withheld with one line saying why.

use serde::{Deserialize, Serialize};

use super::robust::median;
use super::rows::PointRow;
use crate::sweep::bootstrap::{self, Group, Interval};

/// Processor counts an inference needs: two to fit a two-parameter curve, one to check it.
pub const MIN_COUNTS: usize = 3;
/// Leeway of the hold-out check, as a share of the measured median: the clocks' resolution
/// and run-to-run drift the intervals do not see.
pub const HOLDOUT_SLACK: f64 = 0.02;

/// The model fitted without the largest n, against the measurement there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// The n held out (the largest measured).
    pub processors: usize,
    /// What the model fitted on the other points predicts there.
    pub predicted: f64,
    /// Sampling interval of that prediction (bootstrap over the fitted points' runs).
    pub predicted_interval: Option<Interval>,
    /// The median measured there.
    pub measured: f64,
    /// Sampling interval of that median.
    pub measured_interval: Option<Interval>,
    /// `predicted / measured - 1`.
    pub miss: f64,
    /// Whether the miss is within the two intervals' half-widths combined (in quadrature)
    /// plus [`HOLDOUT_SLACK`].
    pub passed: bool,
}

/// Whether one inference may be printed, and why not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// All conditions hold.
    pub passed: bool,
    /// Why not, in one line.
    pub reason: Option<String>,
    /// The hold-out check, where it ran.
    pub holdout: Option<Holdout>,
}

impl Gate {
    /// A closed gate with its reason.
    pub fn closed(reason: String, holdout: Option<Holdout>) -> Self {
        Self {
            passed: false,
            reason: Some(reason),
            holdout,
        }
    }
}

fn label(r: &PointRow) -> String {
    if r.workers != r.processors {
        format!("{} ({} workers)", r.processors, r.workers)
    } else {
        r.processors.to_string()
    }
}

/// The conditions shared by every inference, over an engine's rows: None when they hold, else
/// why not.
pub fn common_conditions(rows: &[&PointRow]) -> Option<String> {
    let starved: Vec<String> = rows
        .iter()
        .filter(|r| r.starved)
        .map(|r| label(r))
        .collect();
    if !starved.is_empty() {
        return Some(format!(
            "the job did not get its processors (starved) at n = {}",
            starved.join(", ")
        ));
    }
    let loaded: Vec<String> = rows
        .iter()
        .filter(|r| r.loaded)
        .map(|r| format!("{} ({:.0}%)", label(r), r.other_load.unwrap_or(0.0) * 100.0))
        .collect();
    if !loaded.is_empty() {
        return Some(format!(
            "other processes took more than {:.0}% of the run's CPUs at n = {}",
            super::warnings::BUSY_MACHINE * 100.0,
            loaded.join(", ")
        ));
    }
    let mut counts: Vec<usize> = rows.iter().map(|r| r.processors).collect();
    counts.sort_unstable();
    counts.dedup();
    (counts.len() < MIN_COUNTS).then(|| {
        format!(
            "{} processor count(s) measured; a model needs {MIN_COUNTS} (two to fit, one to check)",
            counts.len()
        )
    })
}

/// Fits `predict` on every group but the one with the largest `n` and predicts that `n`:
/// the prediction's sampling interval by bootstrap over the fitted groups' runs, the measured
/// median's by bootstrap over its runs. None with fewer than [`MIN_COUNTS`] groups or when the
/// fit fails.
pub fn holdout(
    groups: &[Group],
    predict: impl Fn(&[Group], f64) -> Option<f64>,
) -> Option<Holdout> {
    let groups: Vec<&Group> = groups.iter().filter(|g| !g.values.is_empty()).collect();
    if groups.len() < MIN_COUNTS {
        return None;
    }
    let last = groups.iter().max_by(|a, b| a.n.total_cmp(&b.n))?;
    let fit: Vec<Group> = groups
        .iter()
        .filter(|g| g.n != last.n)
        .map(|g| (*g).clone())
        .collect();
    let predicted = predict(&fit, last.n)?;
    let predicted_interval =
        bootstrap::intervals(&fit, bootstrap::RESAMPLES, bootstrap::SEED, |g| {
            predict(g, last.n).map(|p| vec![p])
        })
        .map(|v| v[0]);
    let measured = median(&last.values);
    let measured_interval = bootstrap::intervals(
        std::slice::from_ref(*last),
        bootstrap::RESAMPLES,
        bootstrap::SEED,
        |g| Some(vec![median(&g[0].values)]),
    )
    .map(|v| v[0]);
    Some(judge(
        last.n as usize,
        predicted,
        predicted_interval,
        measured,
        measured_interval,
    ))
}

/// The hold-out verdict for a prediction against a measurement.
pub fn judge(
    processors: usize,
    predicted: f64,
    predicted_interval: Option<Interval>,
    measured: f64,
    measured_interval: Option<Interval>,
) -> Holdout {
    let half = |i: Option<Interval>| i.map_or(0.0, |i| i.width() / 2.0);
    let allowed =
        half(predicted_interval).hypot(half(measured_interval)) + HOLDOUT_SLACK * measured;
    Holdout {
        processors,
        predicted,
        predicted_interval,
        measured,
        measured_interval,
        miss: if measured > 0.0 {
            predicted / measured - 1.0
        } else {
            0.0
        },
        passed: predicted.is_finite() && (predicted - measured).abs() <= allowed,
    }
}

/// The gate for one inference: the common conditions, then its hold-out check.
pub fn gate(common: Option<&String>, holdout: Option<Holdout>, what: &str) -> Gate {
    if let Some(c) = common {
        return Gate::closed(c.clone(), holdout);
    }
    match holdout {
        None => Gate::closed(
            format!("the hold-out check of the {what} could not run (too few runs or processor counts)"),
            None,
        ),
        Some(h) if !h.passed => Gate::closed(
            format!(
                "the hold-out check failed: fitted without n = {}, the {what} predicts {:.4}, measured {:.4} ({:+.1}%), outside the sampling intervals",
                h.processors, h.predicted, h.measured, h.miss * 100.0
            ),
            Some(h),
        ),
        Some(h) => Gate {
            passed: true,
            reason: None,
            holdout: Some(h),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_passes_inside_the_intervals_and_fails_outside() {
        let iv = |l, h| Some(Interval { low: l, high: h });
        assert!(judge(4, 1.0, iv(0.98, 1.02), 1.01, iv(1.0, 1.02)).passed);
        let h = judge(4, 1.0, iv(0.99, 1.01), 1.2, iv(1.19, 1.21));
        assert!(!h.passed);
        assert!((h.miss - (1.0 / 1.2 - 1.0)).abs() < 1e-12);
        let g = gate(None, Some(h), "Amdahl fit");
        assert!(!g.passed && g.reason.unwrap().contains("hold-out check failed"));
        let closed = gate(Some(&"2 processor count(s)".to_string()), None, "x");
        assert_eq!(closed.reason.as_deref(), Some("2 processor count(s)"));
    }
}
