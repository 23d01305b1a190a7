//! Fixed-level threshold (`cv2.threshold` on 8-bit data).

use super::operation::ThresholdType;
use super::simd::avx2_dispatch;

/// Round half to even then clamp to 0..=255: OpenCV's `saturate_cast<uchar>(double)`.
pub fn saturate_u8(v: f64) -> u8 {
    if v.is_nan() {
        return 0;
    }
    v.round_ties_even().clamp(0.0, 255.0) as u8
}

/// The rule of each threshold type for a level `t` inside 0..255 (`m` the saturated maxval):
/// stated once, here. The lookup table and the vectorised in-place kernels both use it.
#[inline(always)]
fn rule(kind: ThresholdType, x: u8, t: u8, m: u8) -> u8 {
    // The same compare-and-select forms the kernels always had (they vectorise to blends).
    match kind {
        ThresholdType::Binary => {
            if x > t {
                m
            } else {
                0
            }
        }
        ThresholdType::BinaryInv => {
            if x > t {
                0
            } else {
                m
            }
        }
        ThresholdType::Trunc => x.min(t),
        ThresholdType::ToZero => {
            if x > t {
                x
            } else {
                0
            }
        }
        ThresholdType::ToZeroInv => {
            if x > t {
                0
            } else {
                x
            }
        }
    }
}

/// A 256-entry lookup table giving the output for every input level, following OpenCV's rules
/// including its out-of-range cases (`T = floor(thresh)` below 0 or at/above 255).
pub fn threshold_table(thresh: f64, maxval: f64, kind: ThresholdType) -> [u8; 256] {
    let t = thresh.floor();
    let m = saturate_u8(maxval);
    let mut table = [0u8; 256];
    for (x, out) in table.iter_mut().enumerate() {
        let xv = x as u8;
        *out = if (0.0..255.0).contains(&t) {
            rule(kind, xv, t as u8, m)
        } else {
            out_of_range(xv, t < 0.0, m, kind)
        };
    }
    table
}

/// OpenCV's special cases when the threshold lies outside 0..255.
fn out_of_range(x: u8, below: bool, m: u8, kind: ThresholdType) -> u8 {
    match (kind, below) {
        (ThresholdType::Binary, true) => m,
        (ThresholdType::Binary, false) => 0,
        (ThresholdType::BinaryInv, true) => 0,
        (ThresholdType::BinaryInv, false) => m,
        (ThresholdType::Trunc, true) | (ThresholdType::ToZeroInv, true) => 0,
        (ThresholdType::ToZero, false) => 0,
        _ => x,
    }
}

/// Applies a fixed threshold to `src`, writing into `out` (resized to fit) in one pass: the
/// Python package's path (`ops::apply_into`). The same rules as [`threshold_in_place`], the
/// pipeline's, from the same [`rule`].
pub fn threshold(src: &[u8], thresh: f64, maxval: f64, kind: ThresholdType, out: &mut Vec<u8>) {
    // Every element is written below: a reused buffer's old pixels need no zeroing first.
    out.truncate(src.len());
    out.resize(src.len(), 0);
    let t = thresh.floor();
    if !(0.0..255.0).contains(&t) {
        let table = threshold_table(thresh, maxval, kind);
        for (o, &x) in out.iter_mut().zip(src) {
            *o = table[x as usize];
        }
        return;
    }
    let (t, m) = (t as u8, saturate_u8(maxval));
    match kind {
        ThresholdType::Binary => binary_to(src, out, t, m),
        ThresholdType::BinaryInv => binary_inv_to(src, out, t, m),
        ThresholdType::Trunc => trunc_to(src, out, t, m),
        ThresholdType::ToZero => tozero_to(src, out, t, m),
        ThresholdType::ToZeroInv => tozero_inv_to(src, out, t, m),
    }
}

/// Applies a fixed threshold to `data` in place. In-range levels take a vectorised
/// compare-and-select per type; the rare out-of-range ones a lookup table with the same rules.
pub fn threshold_in_place(data: &mut [u8], thresh: f64, maxval: f64, kind: ThresholdType) {
    let t = thresh.floor();
    if !(0.0..255.0).contains(&t) {
        let table = threshold_table(thresh, maxval, kind);
        for x in data {
            *x = table[*x as usize];
        }
        return;
    }
    let (t, m) = (t as u8, saturate_u8(maxval));
    match kind {
        ThresholdType::Binary => binary(data, t, m),
        ThresholdType::BinaryInv => binary_inv(data, t, m),
        ThresholdType::Trunc => trunc(data, t, m),
        ThresholdType::ToZero => tozero(data, t, m),
        ThresholdType::ToZeroInv => tozero_inv(data, t, m),
    }
}

/// One kernel per type and shape (in place; `src` into `dst`), so that each compiles (and
/// vectorises) with its rule inlined. Both shapes take the rule from [`rule`].
macro_rules! kernel {
    ($name:ident, $imp:ident, $to:ident, $to_imp:ident, $kind:expr) => {
        #[inline(always)]
        fn $imp(d: &mut [u8], t: u8, m: u8) {
            d.iter_mut().for_each(|x| *x = rule($kind, *x, t, m));
        }
        avx2_dispatch!(fn $name(d: &mut [u8], t: u8, m: u8) => $imp);
        #[inline(always)]
        fn $to_imp(s: &[u8], d: &mut [u8], t: u8, m: u8) {
            d.iter_mut()
                .zip(s)
                .for_each(|(o, &x)| *o = rule($kind, x, t, m));
        }
        avx2_dispatch!(fn $to(s: &[u8], d: &mut [u8], t: u8, m: u8) => $to_imp);
    };
}
kernel!(
    binary,
    binary_impl,
    binary_to,
    binary_to_impl,
    ThresholdType::Binary
);
kernel!(
    binary_inv,
    binary_inv_impl,
    binary_inv_to,
    binary_inv_to_impl,
    ThresholdType::BinaryInv
);
kernel!(
    trunc,
    trunc_impl,
    trunc_to,
    trunc_to_impl,
    ThresholdType::Trunc
);
kernel!(
    tozero,
    tozero_impl,
    tozero_to,
    tozero_to_impl,
    ThresholdType::ToZero
);
kernel!(
    tozero_inv,
    tozero_inv_impl,
    tozero_inv_to,
    tozero_inv_to_impl,
    ThresholdType::ToZeroInv
);

#[cfg(test)]
mod tests {
    use super::*;
    use ThresholdType::*;

    fn apply(kind: ThresholdType, t: f64, m: f64, x: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        threshold(x, t, m, kind, &mut out);
        out
    }

    #[test]
    fn the_five_types_at_127() {
        let x = [0, 127, 128, 255];
        assert_eq!(apply(Binary, 127.0, 255.0, &x), [0, 0, 255, 255]);
        assert_eq!(apply(BinaryInv, 127.0, 255.0, &x), [255, 255, 0, 0]);
        assert_eq!(apply(Trunc, 127.0, 255.0, &x), [0, 127, 127, 127]);
        assert_eq!(apply(ToZero, 127.0, 255.0, &x), [0, 0, 128, 255]);
        assert_eq!(apply(ToZeroInv, 127.0, 255.0, &x), [0, 127, 0, 0]);
    }

    #[test]
    fn fractional_threshold_floors_and_maxval_rounds_half_even() {
        assert_eq!(apply(Binary, 127.9, 255.0, &[127, 128]), [0, 255]);
        assert_eq!(apply(Binary, 10.0, 100.5, &[11]), [100]);
        assert_eq!(apply(Binary, 10.0, 101.5, &[11]), [102]);
        assert_eq!(apply(Binary, 10.0, 300.0, &[11]), [255]);
        assert_eq!(apply(Binary, 10.0, -4.0, &[11]), [0]);
    }

    #[test]
    fn out_of_range_thresholds_follow_opencv() {
        let x = [0, 100, 255];
        assert_eq!(apply(Binary, -1.0, 200.0, &x), [200, 200, 200]);
        assert_eq!(apply(Binary, 255.0, 200.0, &x), [0, 0, 0]);
        assert_eq!(apply(BinaryInv, -0.5, 200.0, &x), [0, 0, 0]);
        assert_eq!(apply(BinaryInv, 300.0, 200.0, &x), [200, 200, 200]);
        assert_eq!(apply(Trunc, -3.0, 255.0, &x), [0, 0, 0]);
        assert_eq!(apply(Trunc, 255.0, 255.0, &x), x);
        assert_eq!(apply(ToZero, -3.0, 255.0, &x), x);
        assert_eq!(apply(ToZero, 255.0, 255.0, &x), [0, 0, 0]);
        assert_eq!(apply(ToZeroInv, -3.0, 255.0, &x), [0, 0, 0]);
        assert_eq!(apply(ToZeroInv, 256.0, 255.0, &x), x);
    }

    #[test]
    fn vector_paths_equal_the_table_for_every_level_and_type() {
        let x: Vec<u8> = (0..=255).chain(0..=255).rev().collect();
        for kind in [Binary, BinaryInv, Trunc, ToZero, ToZeroInv] {
            for t in [
                -2.0, -0.5, 0.0, 1.0, 77.7, 127.0, 254.0, 254.99, 255.0, 400.0,
            ] {
                for m in [255.0, 128.0, 0.0] {
                    let table = threshold_table(t, m, kind);
                    let want: Vec<u8> = x.iter().map(|&v| table[v as usize]).collect();
                    assert_eq!(apply(kind, t, m, &x), want, "{kind:?} {t} {m}");
                }
            }
        }
    }

    #[test]
    fn in_range_levels_follow_opencv_written_out() {
        // cv2.threshold's definitions, written independently of `rule`.
        let x: Vec<u8> = (0..=255).collect();
        for t in [0u8, 1, 77, 127, 254] {
            let (tf, m) = (f64::from(t), 200u8);
            let want = |f: &dyn Fn(u8) -> u8| x.iter().map(|&v| f(v)).collect::<Vec<u8>>();
            let got = |kind| apply(kind, tf, f64::from(m), &x);
            assert_eq!(got(Binary), want(&|v| if v > t { m } else { 0 }));
            assert_eq!(got(BinaryInv), want(&|v| if v > t { 0 } else { m }));
            assert_eq!(got(Trunc), want(&|v| if v > t { t } else { v }));
            assert_eq!(got(ToZero), want(&|v| if v > t { v } else { 0 }));
            assert_eq!(got(ToZeroInv), want(&|v| if v > t { 0 } else { v }));
        }
    }
}
