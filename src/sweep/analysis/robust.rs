//! Robust summaries of a point's runs: median, quantiles, MAD outliers.

/// Median of `xs` (mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Robust standard deviations (1.4826 MAD) from the median beyond which a run is flagged, as
/// hyperfine flags them: timings are right-skewed, and the textbook 3.5 flags 6-12% of
/// ordinary runs.
pub const OUTLIER_ROBUST_SDS: f64 = 10.0;

/// Indices of runs further than [`OUTLIER_ROBUST_SDS`] robust standard deviations
/// (`1.4826 x MAD`) from the median. None are flagged when the MAD is zero (half the runs
/// identical) or with fewer than three runs.
pub fn mad_outliers(xs: &[f64]) -> Vec<usize> {
    if xs.len() < 3 {
        return Vec::new();
    }
    let med = median(xs);
    let mad = median(&xs.iter().map(|x| (x - med).abs()).collect::<Vec<_>>());
    if mad <= 0.0 {
        return Vec::new();
    }
    xs.iter()
        .enumerate()
        .filter(|(_, &x)| (x - med).abs() / (1.4826 * mad) > OUTLIER_ROBUST_SDS)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_outliers() {
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
        assert!(median(&[]).is_nan());
        let runs = [1.00, 1.01, 0.99, 1.02, 0.98, 1.00, 1.60];
        assert_eq!(mad_outliers(&runs), [6]);
        // A right-skewed but ordinary run (3.5 robust deviations) is not flagged.
        let runs = [1.00, 1.01, 0.99, 1.02, 0.98, 1.00, 1.07];
        assert!(mad_outliers(&runs).is_empty());
        assert!(
            mad_outliers(&[1.0, 1.0, 1.0, 5.0]).is_empty(),
            "MAD 0 flags nothing"
        );
        assert!(mad_outliers(&[1.0, 9.0]).is_empty());
    }
}
