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

/// Modified z-score above which a run is flagged (Iglewicz and Hoaglin).
pub const OUTLIER_Z: f64 = 3.5;

/// Indices of runs whose modified z-score `0.6745 |x - median| / MAD` exceeds
/// [`OUTLIER_Z`]. None are flagged when the MAD is zero (half the runs identical) or with
/// fewer than three runs.
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
        .filter(|(_, &x)| 0.6745 * (x - med).abs() / mad > OUTLIER_Z)
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
        assert!(
            mad_outliers(&[1.0, 1.0, 1.0, 5.0]).is_empty(),
            "MAD 0 flags nothing"
        );
        assert!(mad_outliers(&[1.0, 9.0]).is_empty());
    }
}
