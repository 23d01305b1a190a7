//! Percentile bootstrap over runs: each point's runs are resampled with replacement (the
//! points themselves stay), the statistic is recomputed, and the 2.5th and 97.5th percentiles
//! of the recomputed values form the 95% interval. Seeded, so the same runs always give the
//! same interval.

use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;

/// Resamples drawn for every interval.
pub const RESAMPLES: usize = 2000;
/// The seed every sweep interval uses (recorded in the export so a refit can redraw it).
pub const SEED: u64 = 0x6772_6179_7069_7065; // "graypipe"

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies inside (bounds included).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// `high - low`.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }
}

/// One point's values (for example the wall times of its runs) with its abscissa `n`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Processors (or any abscissa).
    pub n: f64,
    /// The runs' values.
    pub values: Vec<f64>,
}

/// `q`-quantile of sorted `v` by linear interpolation (NaN when empty).
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// 95% percentile-bootstrap intervals for each component of `stat` over `groups`. None when a
/// group has fewer than two values (resampling one value gives no spread, so no honest
/// interval), or when fewer than half the resamples give a value.
pub fn intervals<F>(groups: &[Group], resamples: usize, seed: u64, stat: F) -> Option<Vec<Interval>>
where
    F: Fn(&[Group]) -> Option<Vec<f64>>,
{
    if groups.is_empty() || groups.iter().any(|g| g.values.len() < 2) {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut draws: Vec<Vec<f64>> = Vec::new();
    let mut resampled: Vec<Group> = groups.to_vec();
    let mut ok = 0;
    for _ in 0..resamples {
        for (dst, src) in resampled.iter_mut().zip(groups) {
            for v in dst.values.iter_mut() {
                *v = src.values[rng.below(src.values.len())];
            }
        }
        let Some(values) = stat(&resampled) else {
            continue;
        };
        if draws.is_empty() {
            draws = vec![Vec::with_capacity(resamples); values.len()];
        }
        if values.len() != draws.len() || values.iter().any(|v| v.is_nan()) {
            continue;
        }
        for (d, v) in draws.iter_mut().zip(values) {
            d.push(v);
        }
        ok += 1;
    }
    if ok * 2 < resamples || draws.is_empty() {
        return None;
    }
    Some(
        draws
            .into_iter()
            .map(|mut d| {
                d.sort_by(f64::total_cmp);
                Interval {
                    low: quantile_sorted(&d, 0.025),
                    high: quantile_sorted(&d, 0.975),
                }
            })
            .collect(),
    )
}

/// Groups from `(n, value)` pairs: one group per distinct `n`, in increasing `n`.
pub fn group_by_n(pairs: &[(f64, f64)]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (n, v) in sorted {
        match groups.last_mut() {
            Some(g) if g.n == n => g.values.push(v),
            _ => groups.push(Group { n, values: vec![v] }),
        }
    }
    groups
}

/// Test data for the fits: `runs` values at each processor count in `ns`, each `value(n)`,
/// drawn in order (count by count).
#[cfg(test)]
pub(crate) fn synthetic_groups(
    ns: &[usize],
    runs: usize,
    mut value: impl FnMut(f64) -> f64,
) -> Vec<Group> {
    ns.iter()
        .map(|&n| Group {
            n: n as f64,
            values: (0..runs).map(|_| value(n as f64)).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_of_a_mean_covers_the_truth_in_most_trials() {
        let mut rng = SplitMix64::new(1);
        let mut covered = 0;
        for trial in 0..100 {
            let values: Vec<f64> = (0..30).map(|_| 5.0 + rng.normal()).collect();
            let g = [Group { n: 1.0, values }];
            let iv = intervals(&g, 500, trial, |g| {
                Some(vec![
                    g[0].values.iter().sum::<f64>() / g[0].values.len() as f64,
                ])
            })
            .unwrap();
            covered += usize::from(iv[0].contains(5.0));
        }
        assert!(covered >= 85, "{covered} of 100");
    }

    #[test]
    fn one_value_gives_no_interval_and_groups_follow_n() {
        let g = group_by_n(&[(2.0, 1.0), (1.0, 3.0), (2.0, 2.0)]);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].n, g[1].values.len()), (1.0, 2));
        assert!(intervals(&g, 100, 1, |_| Some(vec![0.0])).is_none());
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0], 0.5), 2.0);
    }
}
