//! Otsu's threshold (`THRESH_OTSU`), computed exactly as `cv2.threshold` computes it.
//!
//! opencv-python is built with Intel IPP, and for 8-bit images without a mask OpenCV hands
//! Otsu to `ippiComputeThreshold_Otsu_8u_C1R` instead of its own `getThreshVal_Otsu`. The two
//! agree on the maximum of the between-class variance but not on its rounding, and on tied
//! histograms (evenly spread levels, symmetric clusters) the rounding decides which level wins.
//! So this follows IPP's arithmetic, operation by operation, in f64 with fused multiply-adds
//! (see docs/opencv-semantics.md, "Otsu"): bin centres `i + 0.5`, the unnormalised class
//! moment, `(m*q2 + (m - mu)*q1)^2 / (q1*q2)`, the FLT_EPSILON guard, strict `>`.

/// FLT_EPSILON (2^-23), used by IPP on f64 values.
const FLT_EPSILON: f64 = f32::EPSILON as f64;

/// The level `t` that maximises the between-class variance of `hist`; pixels `> t` are
/// foreground. A constant or empty image gives 0.
pub fn otsu_threshold(hist: &[u64; 256]) -> u8 {
    let n: f64 = hist.iter().map(|&h| h as f64).sum();
    // Exact: every term is a multiple of 0.5 and the sum stays far below 2^52.
    let centre_sum: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &h)| h as f64 * (i as f64 + 0.5))
        .sum();
    let inv_n = if n.abs() > FLT_EPSILON { 1.0 / n } else { 0.0 };
    let mu = centre_sum * inv_n;
    let (mut q1, mut moment, mut best, mut level) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (i, &h) in hist.iter().enumerate() {
        let p = h as f64 * inv_n;
        q1 += p;
        let q2 = 1.0 - q1;
        // A skipped bin adds nothing to the moment either (it matters past 2^23 pixels,
        // where the first bins can stay below FLT_EPSILON).
        if q2.min(q1) < FLT_EPSILON || q2.max(q1) > 1.0 - FLT_EPSILON {
            continue;
        }
        let centre = i as f64 + 0.5;
        moment = centre.mul_add(p, moment);
        let num = moment.mul_add(q2, (moment - mu) * q1);
        let sigma = (num * num) / (q2 * q1);
        if best < sigma {
            level = centre;
        }
        best = best.max(sigma);
    }
    // Truncated back to the bin: the centre i + 0.5 gives i.
    level as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::histogram;

    fn levels(pairs: &[(u8, u64)]) -> [u64; 256] {
        let mut h = [0u64; 256];
        for &(v, n) in pairs {
            h[v as usize] += n;
        }
        h
    }

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

    #[test]
    fn tied_histograms_follow_ipp_rounding() {
        // Levels and counts from cv2.threshold(..., THRESH_OTSU) with opencv-python 5.1;
        // OpenCV's own f64 formula (IPP off) picks the other level of each tie.
        let cases: &[(&[(u8, u64)], u8)] = &[
            (&[(36, 1), (108, 1), (180, 1)], 108),
            (&[(1, 4), (37, 4), (73, 4)], 1),
            (&[(96, 40), (158, 40), (220, 40)], 96),
            (&[(155, 48), (185, 48), (215, 48)], 185),
            (&[(166, 7), (186, 7), (206, 7), (226, 7), (246, 7)], 206),
            (&[(101, 43), (125, 44), (149, 43)], 101),
        ];
        for (pairs, want) in cases {
            assert_eq!(otsu_threshold(&levels(pairs)), *want, "{pairs:?}");
        }
    }
}
