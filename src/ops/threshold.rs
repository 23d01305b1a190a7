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

/// A 256-entry lookup table giving the output for every input level, following OpenCV's rules
/// including its out-of-range cases (`T = floor(thresh)` below 0 or at/above 255).
pub fn threshold_table(thresh: f64, maxval: f64, kind: ThresholdType) -> [u8; 256] {
    let t = thresh.floor();
    let m = saturate_u8(maxval);
    let mut table = [0u8; 256];
    for (x, out) in table.iter_mut().enumerate() {
        let xv = x as u8;
        *out = if !(0.0..255.0).contains(&t) {
            out_of_range(xv, t < 0.0, m, kind)
        } else {
            let t = t as u8;
            let above = xv > t;
            match kind {
                ThresholdType::Binary => {
                    if above {
                        m
                    } else {
                        0
                    }
                }
                ThresholdType::BinaryInv => {
                    if above {
                        0
                    } else {
                        m
                    }
                }
                ThresholdType::Trunc => {
                    if above {
                        t
                    } else {
                        xv
                    }
                }
                ThresholdType::ToZero => {
                    if above {
                        xv
                    } else {
                        0
                    }
                }
                ThresholdType::ToZeroInv => {
                    if above {
                        0
                    } else {
                        xv
                    }
                }
            }
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

/// Applies a fixed threshold to `src`, writing into `out` (resized to fit) in one pass.
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
        ThresholdType::Trunc => trunc_to(src, out, t),
        ThresholdType::ToZero => tozero_to(src, out, t),
        ThresholdType::ToZeroInv => tozero_inv_to(src, out, t),
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
        ThresholdType::Trunc => trunc(data, t),
        ThresholdType::ToZero => tozero(data, t),
        ThresholdType::ToZeroInv => tozero_inv(data, t),
    }
}

#[inline(always)]
fn binary_impl(d: &mut [u8], t: u8, m: u8) {
    d.iter_mut().for_each(|x| *x = if *x > t { m } else { 0 });
}
#[inline(always)]
fn binary_inv_impl(d: &mut [u8], t: u8, m: u8) {
    d.iter_mut().for_each(|x| *x = if *x > t { 0 } else { m });
}
#[inline(always)]
fn trunc_impl(d: &mut [u8], t: u8) {
    d.iter_mut().for_each(|x| *x = (*x).min(t));
}
#[inline(always)]
fn tozero_impl(d: &mut [u8], t: u8) {
    d.iter_mut().for_each(|x| *x = if *x > t { *x } else { 0 });
}
#[inline(always)]
fn tozero_inv_impl(d: &mut [u8], t: u8) {
    d.iter_mut().for_each(|x| *x = if *x > t { 0 } else { *x });
}

#[inline(always)]
fn binary_to_impl(s: &[u8], d: &mut [u8], t: u8, m: u8) {
    d.iter_mut()
        .zip(s)
        .for_each(|(o, &x)| *o = if x > t { m } else { 0 });
}
#[inline(always)]
fn binary_inv_to_impl(s: &[u8], d: &mut [u8], t: u8, m: u8) {
    d.iter_mut()
        .zip(s)
        .for_each(|(o, &x)| *o = if x > t { 0 } else { m });
}
#[inline(always)]
fn trunc_to_impl(s: &[u8], d: &mut [u8], t: u8) {
    d.iter_mut().zip(s).for_each(|(o, &x)| *o = x.min(t));
}
#[inline(always)]
fn tozero_to_impl(s: &[u8], d: &mut [u8], t: u8) {
    d.iter_mut()
        .zip(s)
        .for_each(|(o, &x)| *o = if x > t { x } else { 0 });
}
#[inline(always)]
fn tozero_inv_to_impl(s: &[u8], d: &mut [u8], t: u8) {
    d.iter_mut()
        .zip(s)
        .for_each(|(o, &x)| *o = if x > t { 0 } else { x });
}

avx2_dispatch!(fn binary_to(s: &[u8], d: &mut [u8], t: u8, m: u8) => binary_to_impl);
avx2_dispatch!(fn binary_inv_to(s: &[u8], d: &mut [u8], t: u8, m: u8) => binary_inv_to_impl);
avx2_dispatch!(fn trunc_to(s: &[u8], d: &mut [u8], t: u8) => trunc_to_impl);
avx2_dispatch!(fn tozero_to(s: &[u8], d: &mut [u8], t: u8) => tozero_to_impl);
avx2_dispatch!(fn tozero_inv_to(s: &[u8], d: &mut [u8], t: u8) => tozero_inv_to_impl);
avx2_dispatch!(fn binary(d: &mut [u8], t: u8, m: u8) => binary_impl);
avx2_dispatch!(fn binary_inv(d: &mut [u8], t: u8, m: u8) => binary_inv_impl);
avx2_dispatch!(fn trunc(d: &mut [u8], t: u8) => trunc_impl);
avx2_dispatch!(fn tozero(d: &mut [u8], t: u8) => tozero_impl);
avx2_dispatch!(fn tozero_inv(d: &mut [u8], t: u8) => tozero_inv_impl);

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
    fn in_place_equals_copying() {
        let x: Vec<u8> = (0..=255).collect();
        let mut y = x.clone();
        threshold_in_place(&mut y, 77.0, 255.0, ToZero);
        assert_eq!(y, apply(ToZero, 77.0, 255.0, &x));
    }
}
