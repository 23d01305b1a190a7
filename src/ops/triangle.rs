//! The Triangle threshold (`THRESH_TRIANGLE`): the level furthest from the line joining the
//! histogram's peak to the far end of its longer tail, in OpenCV's integer arithmetic.

/// The Triangle level for `hist`; pixels `> t` are foreground. An empty histogram gives 0.
pub fn triangle_threshold(hist: &[u64; 256]) -> i32 {
    let first = hist.iter().position(|&h| h > 0);
    let Some(first) = first else { return 0 };
    let left = if first > 0 { first - 1 } else { 0 };
    // Searched from 255 down to 1, as OpenCV does (bin 0 alone gives right = 0).
    let last = (1..256).rev().find(|&i| hist[i] > 0).unwrap_or(0);
    let right = if last < 255 { last + 1 } else { last };
    let hmax = hist.iter().copied().max().unwrap_or(0);
    let peak = hist.iter().position(|&h| h == hmax).unwrap_or(0);

    let mut h = *hist;
    let (mut left, mut peak, flipped) = (left as i64, peak as i64, false);
    let flipped = if peak - left < right as i64 - peak {
        h.reverse();
        left = 255 - right as i64;
        peak = 255 - peak;
        true
    } else {
        flipped
    };

    let hmax = hmax as i128;
    let (mut t, mut d) = (left, 0i128);
    for i in left + 1..=peak {
        let v = hmax * i as i128 + (left - peak) as i128 * h[i as usize] as i128;
        if v > d {
            d = v;
            t = i;
        }
    }
    t -= 1;
    if flipped {
        t = 255 - t;
    }
    // Not clamped: on degenerate histograms OpenCV hands a level outside 0..=255 to the
    // threshold step, whose out-of-range rules then apply.
    t as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::histogram;

    #[test]
    fn empty_histogram_is_zero() {
        assert_eq!(triangle_threshold(&[0; 256]), 0);
    }

    #[test]
    fn long_right_tail_flips() {
        // Peak at 10 with a long tail to the right: the flip path.
        let mut data = vec![10u8; 1000];
        for v in 11..=200u8 {
            data.extend(std::iter::repeat_n(v, (210 - v as usize) / 10));
        }
        let t = triangle_threshold(&histogram(&data));
        assert!(t > 10 && t < 200, "{t}");
    }

    #[test]
    fn long_left_tail_does_not_flip() {
        let mut data = vec![240u8; 1000];
        for v in 20..240u8 {
            data.extend(std::iter::repeat_n(v, (v as usize) / 20));
        }
        let t = triangle_threshold(&histogram(&data));
        assert!(t > 20 && t < 240, "{t}");
    }
}
