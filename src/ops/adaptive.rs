//! Adaptive threshold (`cv2.adaptiveThreshold`): each pixel is compared with a local mean of
//! its `block` x `block` neighbourhood, borders replicating the edge pixel.

use std::ops::Range;

use super::simd::avx2_dispatch;
use super::threshold::saturate_u8;
use super::GrayView;

/// The largest block accepted. OpenCV itself computes the box area in a 32-bit `int`, so its
/// mean goes wrong past 46339; up to this size every accumulator below is exact (see
/// `mean_threshold` and `gaussian_threshold` below), and memory is O(width + block). The
/// Gaussian's work is O(block) per pixel, as in OpenCV.
pub const MAX_BLOCK: usize = 32767;

/// How the local mean is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdaptiveMethod {
    /// `ADAPTIVE_THRESH_MEAN_C`: the rounded box mean.
    Mean,
    /// `ADAPTIVE_THRESH_GAUSSIAN_C`: a Gaussian-weighted mean.
    Gaussian,
}

/// Thresholds `src` against its local mean: with `inverse` false a pixel becomes `maxval` when
/// `x - mean > -ceil(c)` (OpenCV's `THRESH_BINARY`), with `inverse` true when
/// `x - mean <= -floor(c)` (`THRESH_BINARY_INV`). `block` must be odd, greater than 1 and at
/// most [`MAX_BLOCK`] (the caller validates; here an even block is rounded up to the next odd
/// one and a larger one is taken as `MAX_BLOCK`). `out` is resized to fit.
pub fn adaptive_threshold(
    src: GrayView<'_>,
    maxval: f64,
    method: AdaptiveMethod,
    inverse: bool,
    block: usize,
    c: f64,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.resize(src.data.len(), 0);
    adaptive_threshold_rows(src, 0..src.height, maxval, method, inverse, block, c, out);
}

/// [`adaptive_threshold`] for the output rows `rows` of `src` only, into `out`, which holds
/// exactly those rows (`rows.len() * width` samples; anything else is left untouched). Each
/// row reads only the rows within `block / 2` of it (clamped to the picture), and its pixels
/// are the very ones the whole-picture call gives: a band of rows can be computed apart from
/// the others. Rows past the picture's height are ignored.
#[allow(clippy::too_many_arguments)] // cv2.adaptiveThreshold's own parameters, plus the rows
pub fn adaptive_threshold_rows(
    src: GrayView<'_>,
    rows: std::ops::Range<usize>,
    maxval: f64,
    method: AdaptiveMethod,
    inverse: bool,
    block: usize,
    c: f64,
    out: &mut [u8],
) {
    let block = block.clamp(3, MAX_BLOCK) | 1;
    let rows = rows.start.min(src.height)..rows.end.min(src.height);
    let Some(out) = out.get_mut(..rows.len() * src.width) else {
        return;
    };
    let cmp = Compare {
        maxval: saturate_u8(maxval),
        d: opencv_delta(c, inverse),
        inverse,
    };
    if maxval < 0.0 {
        out.fill(0);
        return;
    }
    if rows.is_empty() || src.width == 0 {
        return;
    }
    match method {
        AdaptiveMethod::Mean => mean_threshold(src, rows, block, cmp, out),
        AdaptiveMethod::Gaussian => gaussian_threshold(src, rows, block, cmp, out),
    }
}

/// OpenCV's integer offset `idelta` (`cvCeil(c)`, or `cvFloor(c)` when inverse), clamped to
/// +-1024 so that `x + d` stays exact in every integer type used below (any |d| > 510 gives the
/// same result). On x86-64 a `c` whose rounding is not above `i32::MIN` (or NaN) converts to
/// `i32::MIN`, and OpenCV's `-idelta` wraps back to `i32::MIN`: every comparison then goes as
/// for a huge positive `c`. So a C of -3e9 gives what 3e9 gives, as in OpenCV.
fn opencv_delta(c: f64, inverse: bool) -> i32 {
    let rounded = if inverse { c.floor() } else { c.ceil() };
    if rounded.is_nan() || rounded <= f64::from(i32::MIN) {
        return 1024;
    }
    rounded.clamp(-1024.0, 1024.0) as i32
}

/// The final comparison `x - mean > -d` (or `<= -d` when inverse).
#[derive(Clone, Copy)]
struct Compare {
    maxval: u8,
    d: i32,
    inverse: bool,
}

/// Index `i` clamped into `0..len`: the replicated border.
#[inline]
fn clamp_index(i: isize, len: usize) -> usize {
    i.clamp(0, len as isize - 1) as usize
}

/// Adaptive mean without a division per pixel. With the window sum `S`, `N = 2S + b^2` and
/// `D = 2b^2`, the rounded mean is `m = N div D`, and `x - m > -d` is `m < x + d`, which for
/// integers is `N < (x + d) D`. Columns are summed by a sliding window down the picture, rows
/// by a sliding window along each row: O(1) per pixel whatever the block.
///
/// Widths, for blocks up to [`MAX_BLOCK`]: a column sum is at most `255 b` (< 2^23), kept in
/// u32. A window sum is at most `255 b^2`, below 2^32 only up to b = 4103; larger blocks sum the
/// rows in u64 (2.7e11 at most). In the comparison `N` and `(x + d) D` stay below 2^41, exact in
/// f64.
fn mean_threshold(
    src: GrayView<'_>,
    rows: Range<usize>,
    block: usize,
    cmp: Compare,
    out: &mut [u8],
) {
    if (block as u64) * (block as u64) * 255 < 1 << 32 {
        mean_threshold_with::<u32>(src, rows, block, cmp, out, mean_compare);
    } else {
        mean_threshold_with::<u64>(src, rows, block, cmp, out, mean_compare_wide);
    }
}

/// The running-sum word of [`mean_threshold`]: u32 where every window sum fits, u64 beyond.
trait SumWord: Copy + Default {
    fn from_u32(v: u32) -> Self;
    fn wrapping_add(self, other: Self) -> Self;
    fn window(hi: Self, lo: Self) -> f64;
}

/// The same wrapping arithmetic for both widths.
macro_rules! sum_word {
    ($($t:ty),*) => {$(
        impl SumWord for $t {
            #[inline(always)]
            fn from_u32(v: u32) -> Self {
                <$t>::from(v)
            }
            #[inline(always)]
            fn wrapping_add(self, other: Self) -> Self {
                <$t>::wrapping_add(self, other)
            }
            #[inline(always)]
            fn window(hi: Self, lo: Self) -> f64 {
                hi.wrapping_sub(lo) as f64
            }
        }
    )*};
}
sum_word!(u32, u64);

type MeanCompare<T> = fn(&[T], usize, &[u8], &mut [u8], i32, f64, u8, bool);

fn mean_threshold_with<T: SumWord>(
    src: GrayView<'_>,
    rows: Range<usize>,
    block: usize,
    cmp: Compare,
    out: &mut [u8],
    compare: MeanCompare<T>,
) {
    let (w, h) = (src.width, src.height);
    let r = block / 2;
    let area = (block * block) as i64;
    let row = |y: isize| &src.data[clamp_index(y, h) * w..][..w];
    let mut cols: Vec<u32> = vec![0; w];
    let first = rows.start as isize;
    for i in first - r as isize..=first + r as isize {
        add_row(&mut cols, row(i));
    }
    let mut padded: Vec<u32> = vec![0; w + 2 * r];
    let mut prefix: Vec<T> = vec![T::default(); w + 2 * r + 1];
    for y in rows.clone() {
        if y > rows.start {
            slide_cols(
                &mut cols,
                row((y + r) as isize),
                row(y as isize - 1 - r as isize),
            );
        }
        padded[..r].fill(cols[0]);
        padded[r + w..].fill(cols[w - 1]);
        padded[r..r + w].copy_from_slice(&cols);
        // Running sums along the row (one add per pixel); each window sum is then the
        // difference of two, which vectorises. Wrapping is harmless: a window's true sum fits
        // the word (see above), so the wrapped difference is exact.
        let mut acc = T::default();
        for (p, &v) in prefix[1..].iter_mut().zip(&padded) {
            acc = acc.wrapping_add(T::from_u32(v));
            *p = acc;
        }
        let at = y - rows.start;
        let (src_row, out_row) = (row(y as isize), &mut out[at * w..(at + 1) * w]);
        compare(
            &prefix,
            block,
            src_row,
            out_row,
            cmp.d,
            area as f64,
            cmp.maxval,
            cmp.inverse,
        );
    }
}

/// With the window sum `S = prefix[x + block] - prefix[x]` and `N = 2S + b^2`: `N < (x + d) D`,
/// or `N >= (x + d) D` when inverse, `D = 2 b^2`. Every value is an integer below 2^53, so
/// f64 holds them exactly and the compare vectorises.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn mean_compare_impl<T: SumWord>(
    prefix: &[T],
    block: usize,
    src: &[u8],
    out: &mut [u8],
    d: i32,
    area: f64,
    maxval: u8,
    inverse: bool,
) {
    let (lo, hi) = (&prefix[..src.len()], &prefix[block..block + src.len()]);
    for (((o, &x), &a), &b) in out.iter_mut().zip(src).zip(hi).zip(lo) {
        let n = 2.0 * T::window(a, b) + area;
        let lim = (x as i32 + d) as f64 * (2.0 * area);
        let on = if inverse { n >= lim } else { n < lim };
        *o = if on { maxval } else { 0 };
    }
}
avx2_dispatch!(#[allow(clippy::too_many_arguments)] fn mean_compare(prefix: &[u32], block: usize, src: &[u8], out: &mut [u8], d: i32, area: f64, maxval: u8, inverse: bool) => mean_compare_impl::<u32>);
avx2_dispatch!(#[allow(clippy::too_many_arguments)] fn mean_compare_wide(prefix: &[u64], block: usize, src: &[u8], out: &mut [u8], d: i32, area: f64, maxval: u8, inverse: bool) => mean_compare_impl::<u64>);

#[inline(always)]
fn add_row_impl(cols: &mut [u32], add: &[u8]) {
    cols.iter_mut().zip(add).for_each(|(c, &a)| *c += a as u32);
}
#[inline(always)]
fn slide_cols_impl(cols: &mut [u32], add: &[u8], sub: &[u8]) {
    for ((c, &a), &s) in cols.iter_mut().zip(add).zip(sub) {
        *c = *c + a as u32 - s as u32;
    }
}
avx2_dispatch!(fn add_row(cols: &mut [u32], add: &[u8]) => add_row_impl);
avx2_dispatch!(fn slide_cols(cols: &mut [u32], add: &[u8], sub: &[u8]) => slide_cols_impl);

/// OpenCV's Gaussian kernel for `block` taps with sigma derived from the size, as f32 weights.
pub fn gaussian_kernel(block: usize) -> Vec<f32> {
    let fixed: Option<(&[f32], f32)> = match block {
        3 => Some((&[1.0, 2.0, 1.0], 4.0)),
        5 => Some((&[1.0, 4.0, 6.0, 4.0, 1.0], 16.0)),
        7 => Some((&[1.0, 3.5, 7.0, 9.0, 7.0, 3.5, 1.0], 32.0)),
        9 => Some((&[4.0, 13.0, 30.0, 51.0, 60.0, 51.0, 30.0, 13.0, 4.0], 256.0)),
        _ => None,
    };
    if let Some((taps, div)) = fixed {
        return taps.iter().map(|t| t / div).collect();
    }
    let r = block / 2;
    // sigma = 0.15 n + 0.35 with one rounding, as OpenCV's softfloat mulAdd computes it.
    let sigma = (block as f64).mul_add(0.15, 0.35);
    let scale = -0.125 / (sigma * sigma);
    let mut w = vec![0f64; block];
    let mut sum = 0.0;
    for (i, wi) in w.iter_mut().enumerate().take(r) {
        let x = 2.0 * i as f64 + 1.0 - block as f64;
        *wi = (x * x * scale).exp();
        sum += *wi;
    }
    let norm = 1.0 / (sum * 2.0 + 1.0);
    w[r] = 1.0;
    let mut k = vec![0f32; block];
    for i in 0..=r {
        k[i] = (w[i] * norm) as f32;
        k[block - 1 - i] = k[i];
    }
    k
}

/// Separable Gaussian mean then the comparison, row by row.
///
/// Rows: `R(x) = sum k[i] p(x - r + i)` in f64. Every product of an f32 weight and an 8-bit
/// value is exact in f64, and so is every partial sum (all are multiples of the smallest
/// weight's unit in the last place and below 2^53 of them), so the row pass is exact in any
/// order: it is computed symmetrically, `k[r] p(x) + sum k[r+i] (p(x+i) + p(x-i))`. (The
/// smallest weight is about 1/256 of the largest whatever the block, so at [`MAX_BLOCK`] the
/// sums still span fewer than 2^53 units: checked by a test.)
/// Columns: `k[r] R(y) + sum_{i=1..r} k[r+i] (R(y+i) + R(y-i))`, in exactly this order, since
/// these products do round. Each output is rounded half to even and clamped. Only `block` rows
/// of `R` are kept, in a ring.
fn gaussian_threshold(
    src: GrayView<'_>,
    out_rows: Range<usize>,
    block: usize,
    cmp: Compare,
    out: &mut [u8],
) {
    let (w, h) = (src.width, src.height);
    let r = block / 2;
    let k: Vec<f64> = gaussian_kernel(block).into_iter().map(f64::from).collect();
    let slots = block.min(h);
    let mut ring = vec![0f64; slots * w];
    let mut padded = vec![0f64; w + 2 * r];
    let mut acc = vec![0f64; w.min(STRIP)];
    // The next source row whose R is not in the ring yet. Slots are chosen by the absolute
    // row, so a band starting anywhere fills the ring as the whole picture would.
    let mut next = out_rows.start.saturating_sub(r);
    let mut rows: Vec<usize> = Vec::with_capacity(block);
    for y in out_rows.clone() {
        let last = (y + r).min(h - 1);
        while next <= last {
            let row = &src.data[next * w..(next + 1) * w];
            pad_row(row, r, &mut padded);
            let slot = next % slots;
            let dst = &mut ring[slot * w..(slot + 1) * w];
            // Strips keep the rows being combined in L1 whatever the width.
            for (s, d) in dst.chunks_mut(STRIP).enumerate() {
                gauss_row(&padded[s * STRIP..], &k, d);
            }
            next += 1;
        }
        rows.clear();
        rows.extend((0..block).map(|j| {
            let s = clamp_index(y as isize + j as isize - r as isize, h) % slots;
            s * w
        }));
        let at = y - out_rows.start;
        let (src_row, out_row) = (
            &src.data[y * w..(y + 1) * w],
            &mut out[at * w..(at + 1) * w],
        );
        for start in (0..w).step_by(STRIP) {
            let end = (start + STRIP).min(w);
            let acc = &mut acc[..end - start];
            gauss_col(&ring, &rows, &k, start, acc);
            compare_row(
                acc,
                &src_row[start..end],
                &mut out_row[start..end],
                cmp.d,
                cmp.maxval,
                cmp.inverse,
            );
        }
    }
}

/// Elements per strip of the Gaussian's passes: 4 KiB of f64, so the handful of rows combined
/// at once stay in L1.
const STRIP: usize = 512;

/// `row` as f64 with `r` replicated pixels on each side.
fn pad_row(row: &[u8], r: usize, padded: &mut [f64]) {
    let w = row.len();
    padded[..r].fill(row[0] as f64);
    padded[r + w..].fill(row[w - 1] as f64);
    to_f64(row, &mut padded[r..r + w]);
}

#[inline(always)]
fn to_f64_impl(src: &[u8], dst: &mut [f64]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s as f64);
}
avx2_dispatch!(fn to_f64(src: &[u8], dst: &mut [f64]) => to_f64_impl);

/// Lanes per register block: four AVX2 vectors of f64, enough independent sums to hide the
/// adder's latency.
const LANES: usize = 16;

#[inline(always)]
fn gauss_row_impl(padded: &[f64], k: &[f64], out: &mut [f64]) {
    // `padded` starts `r` pixels left of `out`'s first pixel. Each block of LANES outputs is
    // summed in registers over all taps, then stored once.
    let r = k.len() / 2;
    let w = out.len();
    let blocks = w / LANES;
    for blk in 0..blocks {
        let x0 = blk * LANES;
        let mut acc = [0f64; LANES];
        let centre = &padded[x0 + r..x0 + r + LANES];
        for l in 0..LANES {
            acc[l] = k[r] * centre[l];
        }
        for i in 1..=r {
            let ki = k[r + i];
            let right = &padded[x0 + r + i..x0 + r + i + LANES];
            let left = &padded[x0 + r - i..x0 + r - i + LANES];
            for l in 0..LANES {
                acc[l] += ki * (right[l] + left[l]);
            }
        }
        out[x0..x0 + LANES].copy_from_slice(&acc);
    }
    for x in blocks * LANES..w {
        let mut a = k[r] * padded[x + r];
        for i in 1..=r {
            a += k[r + i] * (padded[x + r + i] + padded[x + r - i]);
        }
        out[x] = a;
    }
}

/// Column pass over the 2r+1 rows around the output row (`rows`: their offsets in `ring`, top
/// to bottom), in the fixed order centre, then pairs (below + above) outwards.
#[inline(always)]
fn gauss_col_impl(ring: &[f64], rows: &[usize], k: &[f64], start: usize, acc: &mut [f64]) {
    let r = k.len() / 2;
    let w = acc.len();
    let blocks = w / LANES;
    for blk in 0..blocks {
        let x0 = start + blk * LANES;
        let mut a = [0f64; LANES];
        let centre = &ring[rows[r] + x0..rows[r] + x0 + LANES];
        for l in 0..LANES {
            a[l] = k[r] * centre[l];
        }
        for i in 1..=r {
            let ki = k[r + i];
            let down = &ring[rows[r + i] + x0..rows[r + i] + x0 + LANES];
            let up = &ring[rows[r - i] + x0..rows[r - i] + x0 + LANES];
            for l in 0..LANES {
                a[l] += ki * (down[l] + up[l]);
            }
        }
        acc[blk * LANES..(blk + 1) * LANES].copy_from_slice(&a);
    }
    for (j, out) in acc.iter_mut().enumerate().skip(blocks * LANES) {
        let x = start + j;
        let mut a = k[r] * ring[rows[r] + x];
        for i in 1..=r {
            a += k[r + i] * (ring[rows[r + i] + x] + ring[rows[r - i] + x]);
        }
        *out = a;
    }
}

#[inline(always)]
fn compare_row_impl(acc: &[f64], src: &[u8], out: &mut [u8], d: i32, maxval: u8, inverse: bool) {
    // x - m > -d is m < x + d; kept in f64 (m is integer-valued after rounding) so that no
    // float-to-int conversion stands in the way of vectorising.
    for ((o, &a), &x) in out.iter_mut().zip(acc).zip(src) {
        let m = a.round_ties_even().clamp(0.0, 255.0);
        let lim = (x as i32 + d) as f64;
        let on = if inverse { m >= lim } else { m < lim };
        *o = if on { maxval } else { 0 };
    }
}
avx2_dispatch!(fn gauss_row(padded: &[f64], k: &[f64], out: &mut [f64]) => gauss_row_impl);
avx2_dispatch!(fn gauss_col(ring: &[f64], rows: &[usize], k: &[f64], start: usize, acc: &mut [f64]) => gauss_col_impl);
avx2_dispatch!(fn compare_row(acc: &[f64], src: &[u8], out: &mut [u8], d: i32, maxval: u8, inverse: bool) => compare_row_impl);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        w: usize,
        h: usize,
        data: &[u8],
        method: AdaptiveMethod,
        block: usize,
        c: f64,
        inverse: bool,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let view = GrayView::new(w, h, data).unwrap();
        adaptive_threshold(view, 255.0, method, inverse, block, c, &mut out);
        out
    }

    /// The definition, computed the slow way: the rounded box mean with a division, or the
    /// Gaussian with rows summed in order, all in f64, then the comparison.
    fn reference(
        w: usize,
        h: usize,
        p: &[u8],
        method: AdaptiveMethod,
        block: usize,
        c: f64,
        inverse: bool,
    ) -> Vec<u8> {
        let r = (block / 2) as isize;
        let at = |x: isize, y: isize| p[clamp_index(y, h) * w + clamp_index(x, w)];
        let k: Vec<f64> = gaussian_kernel(block).into_iter().map(f64::from).collect();
        let rows: Vec<f64> = (0..h as isize)
            .flat_map(|y| {
                let k = &k;
                (0..w as isize).map(move |x| {
                    let mut s = 0.0;
                    for (i, &ki) in k.iter().enumerate() {
                        s += ki * at(x - r + i as isize, y) as f64;
                    }
                    s
                })
            })
            .collect();
        let d = opencv_delta(c, inverse);
        let mut out = vec![0u8; w * h];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let m = match method {
                    AdaptiveMethod::Mean => {
                        let mut s = 0u64;
                        for dy in -r..=r {
                            for dx in -r..=r {
                                s += at(x + dx, y + dy) as u64;
                            }
                        }
                        let b2 = (block * block) as u64;
                        ((2 * s + b2) / (2 * b2)) as i32
                    }
                    AdaptiveMethod::Gaussian => {
                        let row = |yy: isize| rows[clamp_index(yy, h) * w + x as usize];
                        let mut a = k[r as usize] * row(y);
                        for i in 1..=r {
                            a += k[(r + i) as usize] * (row(y + i) + row(y - i));
                        }
                        saturate_u8(a) as i32
                    }
                };
                let diff = at(x, y) as i32 - m;
                let on = if inverse { diff <= -d } else { diff > -d };
                out[(y as usize) * w + x as usize] = if on { 255 } else { 0 };
            }
        }
        out
    }

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s >> 24) as u8
            })
            .collect()
    }

    /// Smooth data, where the mean sits near each pixel and the comparison is decided by C.
    fn smooth(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| (((i % w) * 7 + (i / w) * 3) % 256) as u8)
            .collect()
    }

    #[test]
    fn fast_paths_equal_the_definition_on_thin_small_and_odd_images() {
        for (w, h) in [(1, 1), (1, 9), (9, 1), (5, 4), (17, 13), (40, 31)] {
            for data in [noise(w * h, (w * 31 + h) as u32), smooth(w, h)] {
                for block in [3, 5, 7, 9, 11, 31, 51] {
                    for method in [AdaptiveMethod::Mean, AdaptiveMethod::Gaussian] {
                        for (c, inverse) in [(2.0, false), (-3.5, false), (0.0, true), (2.5, true)]
                        {
                            assert_eq!(
                                run(w, h, &data, method, block, c, inverse),
                                reference(w, h, &data, method, block, c, inverse),
                                "{w}x{h} {method:?} block {block} C {c} inverse {inverse}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn any_band_of_rows_equals_the_same_rows_of_the_whole_picture() {
        let mut checked = 0;
        for (w, h) in [(1, 9), (23, 17), (40, 61)] {
            let data = noise(w * h, (w * 7 + h) as u32);
            let view = GrayView::new(w, h, &data).unwrap();
            for block in [3, 11, 31, 201] {
                for method in [AdaptiveMethod::Mean, AdaptiveMethod::Gaussian] {
                    let whole = run(w, h, &data, method, block, 2.0, false);
                    for band in [1, 4, 7, h] {
                        let mut out = vec![0xA5; w * h];
                        for start in (0..h).step_by(band) {
                            let end = (start + band).min(h);
                            adaptive_threshold_rows(
                                view,
                                start..end,
                                255.0,
                                method,
                                false,
                                block,
                                2.0,
                                &mut out[start * w..end * w],
                            );
                        }
                        assert_eq!(out, whole, "{w}x{h} {method:?} block {block} band {band}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 3 * 4 * 2 * 4);
    }

    #[test]
    fn constant_image_is_all_on_for_positive_c() {
        for method in [AdaptiveMethod::Mean, AdaptiveMethod::Gaussian] {
            assert_eq!(run(4, 3, &[77; 12], method, 3, 2.0, false), vec![255; 12]);
        }
    }

    #[test]
    fn negative_maxval_gives_zero() {
        let mut out = Vec::new();
        let view = GrayView::new(2, 2, &[0, 50, 100, 200]).unwrap();
        adaptive_threshold(view, -1.0, AdaptiveMethod::Mean, false, 3, -300.0, &mut out);
        assert_eq!(out, [0; 4]);
    }

    /// The row pass is exact only while `255 * sum(k)` spans fewer than 2^53 units of the
    /// smallest weight's last place: true up to the largest block accepted.
    #[test]
    fn gaussian_row_sums_are_exact_up_to_the_largest_block() {
        for block in [3, 9, 11, 101, 4105, 16383, MAX_BLOCK] {
            let k = gaussian_kernel(block);
            let ulp = |w: f32| {
                let e = ((w.to_bits() >> 23) & 0xff) as i32 - 127;
                2f64.powi(e - 23)
            };
            let smallest = k.iter().map(|&w| ulp(w)).fold(f64::INFINITY, f64::min);
            let sum: f64 = k.iter().map(|&w| w as f64).sum();
            let units = 255.0 * sum / smallest;
            assert!(units < 2f64.powi(53), "block {block}: {units:e} units");
        }
    }

    #[test]
    fn window_sums_past_two_to_the_32_are_exact() {
        // 255 x 4105^2 > 2^32: a 32-bit window sum wraps and the mean comes out near 0.
        let (w, h) = (7, 5);
        let data: Vec<u8> = (0..w * h).map(|i| 250 + (i % 6) as u8).collect();
        for block in [4103, 4105, 9999] {
            assert_eq!(
                run(w, h, &data, AdaptiveMethod::Mean, block, 0.0, false),
                reference(w, h, &data, AdaptiveMethod::Mean, block, 0.0, false),
                "block {block}"
            );
        }
    }

    #[test]
    fn blocks_past_the_maximum_are_clamped_not_allocated() {
        let data = noise(12, 3);
        let huge = run(
            4,
            3,
            &data,
            AdaptiveMethod::Gaussian,
            usize::MAX,
            1.0,
            false,
        );
        let max = run(4, 3, &data, AdaptiveMethod::Gaussian, MAX_BLOCK, 1.0, false);
        assert_eq!(huge, max);
    }

    #[test]
    fn kernels_are_normalised_and_symmetric() {
        for block in [3, 5, 7, 9, 11, 31, 101] {
            let k = gaussian_kernel(block);
            assert_eq!(k.len(), block);
            let sum: f64 = k.iter().map(|&v| v as f64).sum();
            assert!((sum - 1.0).abs() < 1e-5, "block {block} sums to {sum}");
            assert!(k.iter().eq(k.iter().rev()));
        }
    }
}
