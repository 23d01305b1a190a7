//! Amdahl's law and the Karp-Flatt metric: pure functions over timing records.
//!
//! With a parallel fraction `P`, `n` processors give `S(n) = 1 / ((1 - P) + P / n)`. The fit
//! works on times, not speedups: `T(n) = a + b / n` by least squares on every counted run, with
//! `T(1) = a + b` free (not forced to the baseline's median) and `P = b / (a + b)`.

use serde::{Deserialize, Serialize};

use super::bootstrap::{self, Group, Interval};

/// Amdahl's predicted speedup with `n` processors for parallel fraction `p`.
pub fn amdahl_speedup(p: f64, n: f64) -> f64 {
    1.0 / ((1.0 - p) + p / n)
}

/// The speedup no processor count can pass: `1 / (1 - P)` (infinite when `P` >= 1).
pub fn ceiling(p: f64) -> f64 {
    if p >= 1.0 {
        f64::INFINITY
    } else {
        1.0 / (1.0 - p)
    }
}

/// Karp-Flatt experimentally determined serial fraction `e = (1/S - 1/n) / (1 - 1/n)`;
/// undefined (None) at `n` = 1.
pub fn karp_flatt(speedup: f64, n: f64) -> Option<f64> {
    if n <= 1.0 || speedup <= 0.0 || !speedup.is_finite() {
        return None;
    }
    Some((1.0 / speedup - 1.0 / n) / (1.0 - 1.0 / n))
}

/// R^2 is shown only with this many distinct processor counts: with two, a two-parameter
/// curve passes through both medians and R^2 says nothing about the model.
pub const MIN_COUNTS_FOR_R2: usize = 3;
/// Ceiling and predictions are shown only when P's 95% interval is at most this wide.
pub const NARROW_P_WIDTH: f64 = 0.10;
/// Predictions go no further than this many times the processors measured.
pub const MAX_EXTRAPOLATION: usize = 4;

/// The least-squares line `T = a + b x` with `x = 1/n` through `(n, T)` runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeLine {
    /// `a`: seconds that do not shrink with processors.
    pub serial_seconds: f64,
    /// `b`: seconds that divide by the processors.
    pub parallel_seconds: f64,
}

impl TimeLine {
    /// `T(n) = a + b / n`.
    pub fn time(&self, n: f64) -> f64 {
        self.serial_seconds + self.parallel_seconds / n
    }

    /// `P = b / (a + b)`.
    pub fn parallel_fraction(&self) -> f64 {
        self.parallel_seconds / (self.serial_seconds + self.parallel_seconds)
    }
}

/// Least squares of `T = a + b/n` over groups of runs; None with fewer than two distinct `n`.
pub fn fit_line(groups: &[Group]) -> Option<TimeLine> {
    if groups.iter().filter(|g| !g.values.is_empty()).count() < 2 {
        return None;
    }
    let (mut m, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for g in groups {
        let x = 1.0 / g.n;
        for &y in &g.values {
            m += 1.0;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
    }
    let det = m * sxx - sx * sx;
    if det.abs() < 1e-300 {
        return None;
    }
    let b = (m * sxy - sx * sy) / det;
    let a = (sy - b * sx) / m;
    Some(TimeLine {
        serial_seconds: a,
        parallel_seconds: b,
    })
}

/// A fit of Amdahl's law to a sweep's runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AmdahlFit {
    /// `a` of `T(n) = a + b/n`, seconds.
    pub serial_seconds: f64,
    /// `b` of `T(n) = a + b/n`, seconds.
    pub parallel_seconds: f64,
    /// The fitted one-processor time `a + b` (free, not the baseline's median).
    pub fitted_t1_seconds: f64,
    /// `P = b / (a + b)`, not clamped: outside [0, 1] means the runs do not follow Amdahl's law.
    pub parallel_fraction: f64,
    /// Bootstrap 95% interval of `P` over runs (None with fewer than two runs at some point).
    pub parallel_fraction_interval: Option<Interval>,
    /// Coefficient of determination on the runs' times; None below
    /// [`MIN_COUNTS_FOR_R2`] distinct processor counts.
    pub r_squared: Option<f64>,
    /// Root mean square error of the fitted times against every run, seconds.
    pub rmse_seconds: f64,
    /// Runs fitted.
    pub runs: usize,
    /// Distinct processor counts fitted.
    pub processor_counts: usize,
}

impl AmdahlFit {
    /// Whether `P` lies in [0, 1] with an interval no wider than [`NARROW_P_WIDTH`]: only then
    /// are a ceiling and predictions worth printing.
    pub fn trustworthy(&self) -> bool {
        (0.0..=1.0).contains(&self.parallel_fraction)
            && self
                .parallel_fraction_interval
                .is_some_and(|i| i.width() <= NARROW_P_WIDTH)
    }

    /// `T(n)` on the fitted line.
    pub fn time(&self, n: f64) -> f64 {
        self.serial_seconds + self.parallel_seconds / n
    }
}

/// Fits `T(n) = a + b/n` to `groups` (one per processor count, the runs' wall seconds), with a
/// bootstrap interval of `P` drawn with `seed`. None with fewer than two distinct counts.
pub fn fit(groups: &[Group], resamples: usize, seed: u64) -> Option<AmdahlFit> {
    let line = fit_line(groups)?;
    let runs: usize = groups.iter().map(|g| g.values.len()).sum();
    let counts = groups.iter().filter(|g| !g.values.is_empty()).count();
    let mean = groups.iter().flat_map(|g| &g.values).sum::<f64>() / runs as f64;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for g in groups {
        for &y in &g.values {
            ss_res += (y - line.time(g.n)).powi(2);
            ss_tot += (y - mean).powi(2);
        }
    }
    let r_squared = (counts >= MIN_COUNTS_FOR_R2 && ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot);
    let interval = bootstrap::intervals(groups, resamples, seed, |g| {
        fit_line(g).map(|l| vec![l.parallel_fraction()])
    })
    .map(|v| v[0]);
    Some(AmdahlFit {
        serial_seconds: line.serial_seconds,
        parallel_seconds: line.parallel_seconds,
        fitted_t1_seconds: line.serial_seconds + line.parallel_seconds,
        parallel_fraction: line.parallel_fraction(),
        parallel_fraction_interval: interval,
        r_squared,
        rmse_seconds: (ss_res / runs as f64).sqrt(),
        runs,
        processor_counts: counts,
    })
}

/// A predicted speedup beyond the processors measured: an extrapolation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Processors.
    pub processors: usize,
    /// Amdahl's speedup over the fitted one-processor time at the fitted `P`.
    pub speedup: f64,
    /// The same at the ends of `P`'s 95% interval.
    pub interval: Interval,
    /// Always true: nothing was measured here.
    pub extrapolation: bool,
}

/// The ceiling `1/(1-P)` with its interval (upper bound None when unbounded) and predictions
/// at 2x and 4x the largest processor count measured; None unless the fit is
/// [`AmdahlFit::trustworthy`].
pub fn ceiling_and_predictions(
    fit: &AmdahlFit,
    largest_measured: usize,
) -> Option<(f64, Interval, Vec<Prediction>)> {
    if !fit.trustworthy() {
        return None;
    }
    let iv = fit.parallel_fraction_interval?;
    let (lo, hi) = (iv.low.clamp(0.0, 1.0), iv.high.clamp(0.0, 1.0));
    let predictions = [2, MAX_EXTRAPOLATION]
        .iter()
        .map(|k| {
            let n = largest_measured.max(1) * k;
            Prediction {
                processors: n,
                speedup: amdahl_speedup(fit.parallel_fraction, n as f64),
                interval: Interval {
                    low: amdahl_speedup(lo, n as f64),
                    high: amdahl_speedup(hi, n as f64),
                },
                extrapolation: true,
            }
        })
        .collect();
    Some((
        ceiling(fit.parallel_fraction),
        Interval {
            low: ceiling(lo),
            high: ceiling(hi),
        },
        predictions,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::rng::SplitMix64;

    fn synthetic(
        a: f64,
        b: f64,
        ns: &[usize],
        runs: usize,
        sd: f64,
        rng: &mut SplitMix64,
    ) -> Vec<Group> {
        crate::sweep::bootstrap::synthetic_groups(ns, runs, |n| a + b / n + sd * rng.normal())
    }

    #[test]
    fn exact_times_fit_back_to_a_b_and_p() {
        let mut rng = SplitMix64::new(3);
        for (a, b) in [(0.0, 4.0), (0.4, 3.6), (1.0, 1.0), (2.0, 0.0)] {
            let g = synthetic(a, b, &[1, 2, 3, 4, 8], 3, 0.0, &mut rng);
            let f = fit(&g, 200, 1).unwrap();
            assert!((f.serial_seconds - a).abs() < 1e-9, "{f:?}");
            assert!((f.parallel_seconds - b).abs() < 1e-9, "{f:?}");
            assert!((f.parallel_fraction - b / (a + b)).abs() < 1e-9);
            assert!(f.rmse_seconds < 1e-9);
        }
    }

    #[test]
    fn noisy_runs_recover_p_and_the_interval_covers_it_in_most_trials() {
        let (a, b) = (0.2, 1.8); // P = 0.9
        let mut rng = SplitMix64::new(11);
        let mut covered = 0;
        for trial in 0..100 {
            let g = synthetic(a, b, &[1, 2, 3, 4, 6, 8], 10, 0.02, &mut rng);
            let f = fit(&g, 400, trial).unwrap();
            assert!((f.parallel_fraction - 0.9).abs() < 0.02, "{f:?}");
            assert!((f.serial_seconds - a).abs() < 0.03, "{f:?}");
            covered += usize::from(f.parallel_fraction_interval.unwrap().contains(0.9));
        }
        assert!(
            covered >= 85,
            "the 95% interval covered P in {covered} of 100 trials"
        );
    }

    #[test]
    fn r_squared_needs_three_processor_counts() {
        let mut rng = SplitMix64::new(5);
        let two = synthetic(0.1, 1.0, &[1, 2], 5, 0.01, &mut rng);
        assert_eq!(fit(&two, 100, 1).unwrap().r_squared, None);
        let three = synthetic(0.1, 1.0, &[1, 2, 4], 5, 0.01, &mut rng);
        let r2 = fit(&three, 100, 1).unwrap().r_squared.unwrap();
        assert!(r2 > 0.9 && r2 <= 1.0, "{r2}");
        assert!(fit(&synthetic(0.1, 1.0, &[2], 5, 0.01, &mut rng), 100, 1).is_none());
    }

    #[test]
    fn t1_is_free_not_forced_to_the_baseline() {
        // A superlinear looking serial baseline does not enter the fit at all: the fit only
        // sees the engine's own runs, and T(1) comes out of them.
        let g = vec![
            Group {
                n: 1.0,
                values: vec![1.0, 1.0],
            },
            Group {
                n: 2.0,
                values: vec![0.6, 0.6],
            },
            Group {
                n: 4.0,
                values: vec![0.4, 0.4],
            },
        ];
        let f = fit(&g, 100, 1).unwrap();
        assert!((f.fitted_t1_seconds - 1.0).abs() < 1e-9);
        assert!((f.parallel_fraction - 0.8).abs() < 1e-9);
    }

    #[test]
    fn no_ceiling_or_prediction_outside_0_1_or_with_a_wide_interval() {
        let mut rng = SplitMix64::new(9);
        // Slower with more processors: P < 0.
        let g = synthetic(2.0, -0.5, &[1, 2, 4], 5, 0.001, &mut rng);
        let f = fit(&g, 200, 1).unwrap();
        assert!(f.parallel_fraction < 0.0);
        assert!(ceiling_and_predictions(&f, 4).is_none());
        // Very noisy: wide interval.
        let g = synthetic(0.2, 1.8, &[1, 2], 3, 0.5, &mut rng);
        let f = fit(&g, 200, 1).unwrap();
        assert!(!f.trustworthy(), "{f:?}");
        // Clean: ceiling, 2x and 4x only, intervals around the estimate.
        let g = synthetic(0.2, 1.8, &[1, 2, 3, 4], 10, 0.002, &mut rng);
        let f = fit(&g, 200, 1).unwrap();
        let (c, civ, preds) = ceiling_and_predictions(&f, 4).unwrap();
        assert!((c - 10.0).abs() < 0.5, "{c}");
        assert!(civ.low <= c && c <= civ.high);
        assert_eq!(
            preds.iter().map(|p| p.processors).collect::<Vec<_>>(),
            [8, 16]
        );
        for p in &preds {
            assert!(p.extrapolation && p.interval.low <= p.speedup && p.speedup <= p.interval.high);
        }
    }

    #[test]
    fn karp_flatt_is_undefined_at_one_and_equals_serial_fraction_under_amdahl() {
        assert_eq!(karp_flatt(1.0, 1.0), None);
        let p = 0.8;
        for n in [2.0, 4.0, 7.0] {
            let e = karp_flatt(amdahl_speedup(p, n), n).unwrap();
            assert!((e - (1.0 - p)).abs() < 1e-12);
        }
        assert!((ceiling(0.95) - 20.0).abs() < 1e-9);
        assert!(ceiling(1.0).is_infinite());
    }
}
