//! Gunther's Universal Scalability Law on throughput:
//! `X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1))`, where `sigma` is contention (the
//! Amdahl part) and `kappa` coherency (crosstalk that makes throughput fall past a peak).
//!
//! Fitted as R's `usl` package fits it: nonlinear least squares on `X(N)` itself over every
//! run (Levenberg-Marquardt, `sigma` and `kappa` kept at 0 or above), started from the linear
//! least squares of `N / X(N) = c0 + c1 (N - 1) + c2 N (N - 1)` (`lambda = 1/c0`,
//! `sigma = c1/c0`, `kappa = c2/c0`). The linear form weighs the runs by `N / X^2` and so
//! trusts the largest N least; the nonlinear fit weighs every run's throughput alike.
//! Intervals by bootstrap over runs (sampling intervals: they do not include model error).

use serde::{Deserialize, Serialize};

use super::bootstrap::{self, Group, Interval};

/// Distinct core counts needed: three parameters and at least one degree of freedom.
pub const MIN_COUNTS: usize = 4;

/// The USL's three parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UslParams {
    /// Throughput of one processor (files per second).
    pub lambda: f64,
    /// Contention.
    pub sigma: f64,
    /// Coherency.
    pub kappa: f64,
}

impl UslParams {
    /// Throughput at `n` processors.
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }

    /// Where throughput peaks, `sqrt((1 - sigma) / kappa)`; None when `kappa` <= 0 or
    /// `sigma` >= 1 (no peak).
    pub fn peak(&self) -> Option<f64> {
        (self.kappa > 0.0 && self.sigma < 1.0).then(|| ((1.0 - self.sigma) / self.kappa).sqrt())
    }
}

/// Solves the 3x3 system `m x = v` by Gaussian elimination with partial pivoting.
#[allow(clippy::needless_range_loop)] // row and column indices read as the textbook does
fn solve3(mut m: [[f64; 3]; 3], mut v: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        v.swap(col, pivot);
        for row in col + 1..3 {
            let f = m[row][col] / m[col][col];
            for k in col..3 {
                m[row][k] -= f * m[col][k];
            }
            v[row] -= f * v[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let s: f64 = (row + 1..3).map(|k| m[row][k] * x[k]).sum();
        x[row] = (v[row] - s) / m[row][row];
    }
    x.iter().all(|c| c.is_finite()).then_some(x)
}

/// The linear least-squares parameters on `N / X` (the nonlinear fit's start); None with fewer
/// than [`MIN_COUNTS`] distinct counts or a degenerate system.
pub fn fit_params_linear(groups: &[Group]) -> Option<UslParams> {
    if groups.iter().filter(|g| !g.values.is_empty()).count() < MIN_COUNTS {
        return None;
    }
    let mut m = [[0.0; 3]; 3];
    let mut v = [0.0; 3];
    for g in groups {
        let row = [1.0, g.n - 1.0, g.n * (g.n - 1.0)];
        for &x in &g.values {
            if x <= 0.0 || !x.is_finite() {
                return None;
            }
            let y = g.n / x;
            for i in 0..3 {
                for j in 0..3 {
                    m[i][j] += row[i] * row[j];
                }
                v[i] += row[i] * y;
            }
        }
    }
    let c = solve3(m, v)?;
    (c[0] > 0.0).then(|| UslParams {
        lambda: 1.0 / c[0],
        sigma: c[1] / c[0],
        kappa: c[2] / c[0],
    })
}

/// Sum of squared throughput residuals of `p` over every run.
fn residual_sum(groups: &[Group], p: &UslParams) -> f64 {
    groups
        .iter()
        .flat_map(|g| {
            g.values
                .iter()
                .map(move |&x| (x - p.throughput(g.n)).powi(2))
        })
        .sum()
}

/// Levenberg-Marquardt on `X(N)` from `start`, with `sigma` and `kappa` projected to >= 0.
#[allow(clippy::needless_range_loop)] // the normal equations read as the textbook writes them
fn refine(groups: &[Group], start: UslParams) -> Option<UslParams> {
    let clamp = |p: UslParams| UslParams {
        lambda: p.lambda,
        sigma: p.sigma.max(0.0),
        kappa: p.kappa.max(0.0),
    };
    let mut p = clamp(start);
    let mut cost = residual_sum(groups, &p);
    let mut damping = 1e-3;
    for _ in 0..200 {
        // Normal equations J'J d = J'r with the analytic Jacobian.
        let mut m = [[0.0; 3]; 3];
        let mut v = [0.0; 3];
        for g in groups {
            let n = g.n;
            let d = 1.0 + p.sigma * (n - 1.0) + p.kappa * n * (n - 1.0);
            let x_hat = p.lambda * n / d;
            let j = [n / d, -x_hat * (n - 1.0) / d, -x_hat * n * (n - 1.0) / d];
            for &x in &g.values {
                let r = x - x_hat;
                for a in 0..3 {
                    for b in 0..3 {
                        m[a][b] += j[a] * j[b];
                    }
                    v[a] += j[a] * r;
                }
            }
        }
        let mut improved = false;
        while damping < 1e12 {
            let mut md = m;
            for (a, row) in md.iter_mut().enumerate() {
                row[a] += damping * m[a][a].max(1e-300);
            }
            let Some(step) = solve3(md, v) else {
                damping *= 10.0;
                continue;
            };
            let next = clamp(UslParams {
                lambda: p.lambda + step[0],
                sigma: p.sigma + step[1],
                kappa: p.kappa + step[2],
            });
            let c = residual_sum(groups, &next);
            if next.lambda > 0.0 && c.is_finite() && c <= cost {
                let rel = (cost - c) / cost.max(1e-300);
                p = next;
                cost = c;
                damping = (damping / 10.0).max(1e-12);
                improved = rel > 1e-12;
                break;
            }
            damping *= 10.0;
        }
        if !improved {
            break;
        }
    }
    (p.lambda > 0.0 && p.lambda.is_finite()).then_some(p)
}

/// The nonlinear least-squares parameters for throughput groups (one per processor count);
/// None with fewer than [`MIN_COUNTS`] distinct counts or a degenerate system. Started from
/// the linear fit, or, when that gives no positive `lambda`, from the one-processor throughput
/// with no contention.
pub fn fit_params(groups: &[Group]) -> Option<UslParams> {
    if groups.iter().filter(|g| !g.values.is_empty()).count() < MIN_COUNTS
        || groups
            .iter()
            .flat_map(|g| &g.values)
            .any(|&x| x <= 0.0 || !x.is_finite())
    {
        return None;
    }
    let start = fit_params_linear(groups).unwrap_or_else(|| {
        let g = &groups[0];
        UslParams {
            lambda: g.values.iter().sum::<f64>() / g.values.len().max(1) as f64 / g.n.max(1.0),
            sigma: 0.0,
            kappa: 0.0,
        }
    });
    refine(groups, start)
}

/// A USL fit with intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UslFit {
    /// The point estimates.
    pub params: UslParams,
    /// 95% interval of `lambda`.
    pub lambda_interval: Option<Interval>,
    /// 95% interval of `sigma`.
    pub sigma_interval: Option<Interval>,
    /// 95% interval of `kappa`.
    pub kappa_interval: Option<Interval>,
    /// `N* = sqrt((1 - sigma) / kappa)`, only when `kappa`'s interval excludes 0 (the
    /// analysis withholds it further unless its gate passes).
    pub peak_processors: Option<f64>,
    /// Distinct core counts fitted.
    pub processor_counts: usize,
}

/// Fits the USL to throughput groups; None below [`MIN_COUNTS`] distinct counts.
pub fn fit(groups: &[Group], resamples: usize, seed: u64) -> Option<UslFit> {
    let params = fit_params(groups)?;
    let ivs = bootstrap::intervals(groups, resamples, seed, |g| {
        fit_params(g).map(|p| vec![p.lambda, p.sigma, p.kappa])
    });
    let at = |i: usize| ivs.as_ref().map(|v| v[i]);
    let kappa_interval = at(2);
    let peak_processors = kappa_interval
        .filter(|k| k.low > 0.0)
        .and_then(|_| params.peak());
    Some(UslFit {
        params,
        lambda_interval: at(0),
        sigma_interval: at(1),
        kappa_interval,
        peak_processors,
        processor_counts: groups.iter().filter(|g| !g.values.is_empty()).count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::rng::SplitMix64;

    fn synthetic(
        p: UslParams,
        ns: &[usize],
        runs: usize,
        rel_sd: f64,
        rng: &mut SplitMix64,
    ) -> Vec<Group> {
        crate::sweep::bootstrap::synthetic_groups(ns, runs, |n| {
            p.throughput(n) * (1.0 + rel_sd * rng.normal())
        })
    }

    #[test]
    fn exact_throughputs_fit_back() {
        let truth = UslParams {
            lambda: 100.0,
            sigma: 0.05,
            kappa: 0.002,
        };
        let mut rng = SplitMix64::new(2);
        let f = fit(
            &synthetic(truth, &[1, 2, 4, 8, 16, 32], 2, 0.0, &mut rng),
            100,
            1,
        )
        .unwrap();
        assert!((f.params.lambda - 100.0).abs() < 1e-6, "{f:?}");
        assert!((f.params.sigma - 0.05).abs() < 1e-9);
        assert!((f.params.kappa - 0.002).abs() < 1e-9);
        let peak = f.peak_processors.unwrap();
        assert!((peak - (0.95f64 / 0.002).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn noisy_throughputs_recover_sigma_and_kappa_and_intervals_cover_them() {
        let truth = UslParams {
            lambda: 50.0,
            sigma: 0.08,
            kappa: 0.004,
        };
        let mut rng = SplitMix64::new(21);
        let (mut cover_s, mut cover_k) = (0, 0);
        for trial in 0..100 {
            let g = synthetic(truth, &[1, 2, 4, 6, 8, 12, 16], 10, 0.01, &mut rng);
            let f = fit(&g, 300, trial).unwrap();
            assert!((f.params.sigma - 0.08).abs() < 0.02, "{f:?}");
            assert!((f.params.kappa - 0.004).abs() < 0.001, "{f:?}");
            cover_s += usize::from(f.sigma_interval.unwrap().contains(0.08));
            cover_k += usize::from(f.kappa_interval.unwrap().contains(0.004));
        }
        assert!(
            cover_s >= 85 && cover_k >= 85,
            "sigma {cover_s}, kappa {cover_k} of 100"
        );
    }

    #[test]
    fn too_few_counts_and_no_peak_without_coherency() {
        let mut rng = SplitMix64::new(4);
        let truth = UslParams {
            lambda: 10.0,
            sigma: 0.1,
            kappa: 0.0,
        };
        assert!(fit(&synthetic(truth, &[1, 2, 3], 5, 0.01, &mut rng), 100, 1).is_none());
        let f = fit(
            &synthetic(truth, &[1, 2, 3, 4, 6], 8, 0.01, &mut rng),
            300,
            1,
        )
        .unwrap();
        assert!(f.kappa_interval.unwrap().contains(0.0) || f.peak_processors.is_none());
        assert_eq!(f.peak_processors, None, "{f:?}");
    }
}
