//! The recommendation: the fewest workers whose throughput is, with 95% confidence, within
//! [`WITHIN_OF_BEST`] of the best point's, judged on the bootstrap interval of the throughput
//! ratio to the best. When the data cannot separate a candidate from that line, the decision
//! is "cannot decide", with the noise, the effect sizes and about how many runs would decide.

use serde::{Deserialize, Serialize};

use super::robust::median;
use super::rows::PointRow;
use crate::pipeline::Engine;
use crate::sweep::bootstrap::{self, Group, Interval};

/// Throughput within this share of the best counts as as good.
pub const WITHIN_OF_BEST: f64 = 0.05;
/// Runs per point beyond which "about how many runs would decide" is not worth saying.
pub const MOST_RUNS_WORTH_SUGGESTING: usize = 1000;

/// Where a candidate stands against the line at 95% of the best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// The ratio's interval lies at or above 1 - [`WITHIN_OF_BEST`].
    Within,
    /// The ratio's interval lies below it.
    Worse,
    /// The interval straddles the line (or there is none).
    Undecided,
}

/// One point's throughput against the best.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Engine.
    pub engine: Engine,
    /// Workers.
    pub workers: usize,
    /// Processors allowed.
    pub processors: usize,
    /// Median throughput over the best's.
    pub ratio: f64,
    /// Bootstrap 95% interval of that ratio (both points' runs resampled); None for the best
    /// itself or with one run.
    pub interval: Option<Interval>,
    /// Where it stands.
    pub standing: Standing,
}

/// What the data decide.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The recommended point's engine and workers; None: cannot decide.
    pub choice: Option<(Engine, usize)>,
    /// Every point against the best, fewest workers first.
    pub candidates: Vec<Candidate>,
    /// Why the data cannot decide, in one line.
    pub cannot_decide: Option<String>,
    /// The median relative half-width of the points' median intervals.
    pub noise: Option<f64>,
    /// About how many runs per point would likely decide (None when no number would soon).
    pub runs_to_decide: Option<usize>,
}

fn ratio_interval(best: &PointRow, r: &PointRow) -> Option<Interval> {
    // Throughput is files over wall time with the same files at every point, so the ratio of
    // throughputs is the best's median time over this point's.
    bootstrap::intervals(
        &[
            Group {
                n: 0.0,
                values: best.runs_seconds.clone(),
            },
            Group {
                n: 1.0,
                values: r.runs_seconds.clone(),
            },
        ],
        bootstrap::RESAMPLES,
        bootstrap::SEED,
        |g| Some(vec![median(&g[0].values) / median(&g[1].values)]),
    )
    .map(|v| v[0])
}

fn label(c: &Candidate, engines: bool) -> String {
    if engines {
        format!("{} {} worker(s)", c.engine, c.workers)
    } else {
        format!("{} worker(s)", c.workers)
    }
}

/// Decides among `rows` (one engine's, or every engine's for the closing line).
pub fn decide(rows: &[&PointRow]) -> Decision {
    let many_engines = rows.windows(2).any(|w| w[0].engine != w[1].engine);
    let widths: Vec<f64> = rows.iter().filter_map(|r| r.relative_half_width).collect();
    let noise = (!widths.is_empty()).then(|| median(&widths));
    let unfit: Vec<String> = rows
        .iter()
        .filter(|r| r.starved || r.loaded)
        .map(|r| {
            format!(
                "{}{} worker(s) ({})",
                if many_engines {
                    format!("{} ", r.engine)
                } else {
                    String::new()
                },
                r.workers,
                if r.starved { "starved" } else { "other load" }
            )
        })
        .collect();
    let Some(best) = rows
        .iter()
        .max_by(|a, b| a.images_per_second.total_cmp(&b.images_per_second))
    else {
        return Decision::default();
    };
    let line = 1.0 - WITHIN_OF_BEST;
    let mut order: Vec<&&PointRow> = rows.iter().collect();
    order.sort_by(|a, b| {
        a.workers
            .cmp(&b.workers)
            .then(b.images_per_second.total_cmp(&a.images_per_second))
    });
    let candidates: Vec<Candidate> = order
        .iter()
        .map(|r| {
            let is_best = std::ptr::eq(**r, *best);
            let ratio = if r.median_seconds > 0.0 {
                best.median_seconds / r.median_seconds
            } else {
                0.0
            };
            let interval = (!is_best).then(|| ratio_interval(best, r)).flatten();
            let standing = match interval {
                _ if is_best => Standing::Within,
                Some(i) if i.low >= line => Standing::Within,
                Some(i) if i.high < line => Standing::Worse,
                _ => Standing::Undecided,
            };
            Candidate {
                engine: r.engine,
                workers: r.workers,
                processors: r.processors,
                ratio,
                interval: if is_best { None } else { interval },
                standing,
            }
        })
        .collect();
    // A starved or loaded point could have been the best: nothing is decided, but the
    // candidates are still shown.
    if !unfit.is_empty() {
        return Decision {
            cannot_decide: Some(format!(
                "cannot decide: the job did not get its processors at {} (re-run on a quiet machine)",
                unfit.join(", ")
            )),
            noise,
            candidates,
            ..Decision::default()
        };
    }
    let Some(chosen) = candidates
        .iter()
        .position(|c| c.standing == Standing::Within)
    else {
        return Decision::default();
    };
    let undecided: Vec<&Candidate> = candidates[..chosen]
        .iter()
        .filter(|c| c.standing == Standing::Undecided)
        .collect();
    if undecided.is_empty() {
        let c = candidates[chosen];
        return Decision {
            choice: Some((c.engine, c.workers)),
            candidates,
            cannot_decide: None,
            noise,
            runs_to_decide: None,
        };
    }
    // The interval's half-width shrinks as 1/sqrt(runs): runs x (half-width / distance to
    // the line)^2 would put it on one side.
    let runs = |c: &Candidate| -> Option<usize> {
        let i = c.interval?;
        let have = rows
            .iter()
            .find(|r| r.engine == c.engine && r.workers == c.workers)
            .map_or(1, |r| r.runs_seconds.len().min(best.runs_seconds.len()));
        let distance = (c.ratio - line).abs();
        let need = have as f64 * (i.width() / 2.0 / distance.max(1e-9)).powi(2);
        (need.is_finite() && need <= MOST_RUNS_WORTH_SUGGESTING as f64)
            .then(|| (need.ceil() as usize).max(have + 1))
    };
    let runs_to_decide = undecided
        .iter()
        .map(|c| runs(c))
        .try_fold(0usize, |m, r| r.map(|r| m.max(r)));
    let effects: Vec<String> = undecided
        .iter()
        .map(|c| {
            format!(
                "{} at {:.2}{} of the best",
                label(c, many_engines),
                c.ratio,
                c.interval.map_or_else(
                    || " (one run, no interval)".into(),
                    |i| format!(" [{:.2}, {:.2}]", i.low, i.high)
                )
            )
        })
        .collect();
    Decision {
        choice: None,
        cannot_decide: Some(format!(
            "cannot decide: {} could be within {:.0}% of the best ({}) or not; noise {}; {}",
            effects.join(", "),
            WITHIN_OF_BEST * 100.0,
            if many_engines {
                format!("{} {} worker(s)", best.engine, best.workers)
            } else {
                format!("{} worker(s)", best.workers)
            },
            noise.map_or_else(
                || "unknown".into(),
                |n| format!("+/-{:.1}% on the medians", n * 100.0)
            ),
            match runs_to_decide {
                Some(n) => format!("about {n} runs per point would likely decide (--repeat {n})"),
                None =>
                    "the effect sits on the 5% line: no practical number of runs decides it".into(),
            }
        )),
        candidates,
        noise,
        runs_to_decide,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::analysis::tests::row_with_runs;

    #[test]
    fn picks_the_fewest_within_and_cannot_decide_when_an_interval_straddles_the_line() {
        let fast = row_with_runs(Engine::Rayon, 2, &[1.0, 1.01, 0.99, 1.0, 1.02, 0.98]);
        let near = row_with_runs(Engine::Rayon, 1, &[1.02, 1.03, 1.01, 1.02, 1.04, 1.0]);
        let d = decide(&[&near, &fast]);
        assert_eq!(d.choice, Some((Engine::Rayon, 1)), "{d:?}");
        let slow = row_with_runs(Engine::Rayon, 1, &[1.9, 2.0, 2.1, 2.0, 1.95, 2.05]);
        let d = decide(&[&slow, &fast]);
        assert_eq!(d.choice, Some((Engine::Rayon, 2)));
        assert_eq!(d.candidates[0].standing, Standing::Worse);
        let noisy = row_with_runs(Engine::Rayon, 1, &[0.8, 1.3, 1.0, 1.2, 0.9, 1.1]);
        let d = decide(&[&noisy, &fast]);
        assert_eq!(d.choice, None);
        let why = d.cannot_decide.unwrap();
        assert!(why.starts_with("cannot decide: 1 worker(s) at"), "{why}");
        assert!(
            why.contains("runs per point") || why.contains("5% line"),
            "{why}"
        );
    }
}
