//! Amdahl's law and the Karp-Flatt metric: pure functions over speedups.
//!
//! With a parallel fraction `P`, `n` workers give `S(n) = 1 / ((1 - P) + P / n)`. Measured
//! speedups are fitted to it by least squares on `1/S = (1 - P) + P/n`.

/// Amdahl's predicted speedup with `n` workers for parallel fraction `p`.
pub fn amdahl_speedup(p: f64, n: f64) -> f64 {
    1.0 / ((1.0 - p) + p / n)
}

/// The speedup no worker count can pass: `1 / (1 - P)` (infinite when `P` = 1).
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
    if n <= 1.0 || speedup <= 0.0 {
        return None;
    }
    Some((1.0 / speedup - 1.0 / n) / (1.0 - 1.0 / n))
}

/// A least-squares fit of Amdahl's law.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AmdahlFit {
    /// The fitted parallel fraction, clamped to [0, 1].
    pub parallel_fraction: f64,
    /// The fit before clamping (outside [0, 1] when the data are noisy or superlinear).
    pub parallel_fraction_raw: f64,
    /// Whether clamping changed the value.
    pub clamped: bool,
    /// Coefficient of determination of the fit on `1/S` (1 is perfect; None when the data
    /// have no spread to explain).
    pub r_squared: Option<f64>,
    /// Root mean square error of the predicted speedups against the measured ones.
    pub rmse_speedup: f64,
    /// Points with `n` > 1 that informed the fit.
    pub points: usize,
}

/// Fits `P` to `(n, S)` pairs. With `u = 1 - 1/n` and `v = 1 - 1/S` the model is `v = P u`, so
/// `P = sum(u v) / sum(u^2)`. Returns None when no point has `n` > 1.
pub fn fit(points: &[(f64, f64)]) -> Option<AmdahlFit> {
    let usable: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(n, s)| n > 1.0 && s > 0.0 && s.is_finite())
        .collect();
    if usable.is_empty() {
        return None;
    }
    let (mut suv, mut suu) = (0.0, 0.0);
    for &(n, s) in &usable {
        let (u, v) = (1.0 - 1.0 / n, 1.0 - 1.0 / s);
        suv += u * v;
        suu += u * u;
    }
    let raw = suv / suu;
    let p = raw.clamp(0.0, 1.0);
    let all: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(n, s)| n >= 1.0 && s > 0.0 && s.is_finite())
        .collect();
    let ys: Vec<f64> = all.iter().map(|&(_, s)| 1.0 / s).collect();
    let mean = ys.iter().sum::<f64>() / ys.len() as f64;
    let ss_tot: f64 = ys.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = all
        .iter()
        .map(|&(n, s)| (1.0 / s - ((1.0 - p) + p / n)).powi(2))
        .sum();
    let r_squared = (ss_tot > 1e-15).then(|| 1.0 - ss_res / ss_tot);
    let rmse = (all
        .iter()
        .map(|&(n, s)| (s - amdahl_speedup(p, n)).powi(2))
        .sum::<f64>()
        / all.len() as f64)
        .sqrt();
    Some(AmdahlFit {
        parallel_fraction: p,
        parallel_fraction_raw: raw,
        clamped: p != raw,
        r_squared,
        rmse_speedup: rmse,
        points: usable.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_from_a_known_p_fit_back_to_p() {
        for p in [0.0, 0.5, 0.9, 0.95, 0.999, 1.0] {
            let t1 = 3.7;
            let pts: Vec<(f64, f64)> = [1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0]
                .iter()
                .map(|&n| {
                    let tn = t1 * ((1.0 - p) + p / n);
                    (n, t1 / tn)
                })
                .collect();
            let f = fit(&pts).unwrap();
            assert!((f.parallel_fraction - p).abs() < 1e-9, "p {p}: {f:?}");
            assert!(!f.clamped);
            assert!(f.rmse_speedup < 1e-9);
            if p > 0.0 {
                assert!((f.r_squared.unwrap() - 1.0).abs() < 1e-9);
            }
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
    }

    #[test]
    fn a_sweep_of_one_point_has_no_fit() {
        assert_eq!(fit(&[(1.0, 1.0)]), None);
        let f = fit(&[(1.0, 1.0), (2.0, 1.6)]).unwrap();
        assert_eq!(f.points, 1);
        assert!((f.parallel_fraction - 0.75).abs() < 1e-12);
    }

    #[test]
    fn superlinear_or_slower_data_are_clamped_and_say_so() {
        let f = fit(&[(1.0, 1.0), (2.0, 2.3), (4.0, 4.9)]).unwrap();
        assert!(f.parallel_fraction_raw > 1.0);
        assert_eq!(f.parallel_fraction, 1.0);
        assert!(f.clamped);
        let f = fit(&[(1.0, 1.0), (2.0, 0.8), (4.0, 0.7)]).unwrap();
        assert!(f.parallel_fraction_raw < 0.0);
        assert_eq!(f.parallel_fraction, 0.0);
        assert!(f.clamped);
    }

    #[test]
    fn ceiling_of_amdahl() {
        assert!((ceiling(0.95) - 20.0).abs() < 1e-9);
        assert!(ceiling(1.0).is_infinite());
        assert!((amdahl_speedup(0.95, 1.0) - 1.0).abs() < 1e-12);
    }
}
