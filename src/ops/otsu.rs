//! Otsu's threshold (`THRESH_OTSU`), computed exactly as OpenCV does, in f64 and in the same
//! order of operations, so that ties and rounding land on the same level.

/// The level `t` that maximises the between-class variance of `hist`; pixels `> t` are
/// foreground. A constant or empty image gives 0.
pub fn otsu_threshold(hist: &[u64; 256]) -> u8 {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return 0;
    }
    let s = 1.0 / n as f64;
    let mu = hist
        .iter()
        .enumerate()
        .map(|(i, &h)| i as f64 * h as f64)
        .sum::<f64>()
        * s;
    // f32 epsilon applied to f64 values, as OpenCV does.
    let eps = f32::EPSILON as f64;
    let (mut q1, mut mu1, mut best, mut t) = (0.0f64, 0.0f64, 0.0f64, 0u8);
    for (i, &h) in hist.iter().enumerate() {
        let p = h as f64 * s;
        mu1 *= q1;
        q1 += p;
        let q2 = 1.0 - q1;
        if q1.min(q2) < eps || q1.max(q2) > 1.0 - eps {
            continue;
        }
        mu1 = (mu1 + i as f64 * p) / q1;
        let mu2 = (mu - q1 * mu1) / q2;
        let v = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
        if v > best {
            best = v;
            t = i as u8;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::histogram;

    #[test]
    fn constant_image_gives_zero() {
        assert_eq!(otsu_threshold(&histogram(&[90; 100])), 0);
        assert_eq!(otsu_threshold(&[0; 256]), 0);
    }

    #[test]
    fn two_clusters_split_between_them() {
        let mut data = vec![20u8; 500];
        data.extend(vec![200u8; 500]);
        // Equal variance for every t in 20..200; the lowest wins.
        assert_eq!(otsu_threshold(&histogram(&data)), 20);
        data.extend([100u8; 10]);
        let t = otsu_threshold(&histogram(&data));
        assert!((20..200).contains(&t), "{t}");
    }
}
