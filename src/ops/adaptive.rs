//! Adaptive threshold (`cv2.adaptiveThreshold`): each pixel is compared with a local mean of
//! its `block` x `block` neighbourhood, borders replicating the edge pixel.

use super::threshold::saturate_u8;
use super::GrayView;

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
/// `x - mean <= -floor(c)` (`THRESH_BINARY_INV`). `block` must be odd and greater than 1 (the
/// caller validates; an invalid block is rounded up to the next valid one here).
pub fn adaptive_threshold(
    src: GrayView<'_>,
    maxval: f64,
    method: AdaptiveMethod,
    inverse: bool,
    block: usize,
    c: f64,
    out: &mut Vec<u8>,
) {
    let block = if block < 3 { 3 } else { block | 1 };
    out.clear();
    if maxval < 0.0 {
        out.resize(src.data.len(), 0);
        return;
    }
    match method {
        AdaptiveMethod::Mean => box_mean(src, block, out),
        AdaptiveMethod::Gaussian => gaussian_mean(src, block, out),
    }
    let m = saturate_u8(maxval);
    let d = if inverse { c.floor() } else { c.ceil() };
    // table[x - mean + 255] gives the output; d is clamped so the comparison stays exact.
    let d = d.clamp(-1024.0, 1024.0) as i32;
    let mut table = [0u8; 511];
    for (i, v) in table.iter_mut().enumerate() {
        let diff = i as i32 - 255;
        let on = if inverse { diff <= -d } else { diff > -d };
        *v = if on { m } else { 0 };
    }
    for (mean, &x) in out.iter_mut().zip(src.data) {
        *mean = table[(x as usize + 255) - *mean as usize];
    }
}

/// Index `i` clamped into `0..len`: the replicated border.
#[inline]
fn clamp_index(i: isize, len: usize) -> usize {
    i.clamp(0, len as isize - 1) as usize
}

/// Rounded box mean `(2S + b^2) div (2 b^2)` of every pixel's window, into `out`.
fn box_mean(src: GrayView<'_>, block: usize, out: &mut Vec<u8>) {
    let (w, h) = (src.width, src.height);
    let r = (block / 2) as isize;
    let mut row_sums = vec![0u32; w * h];
    for (row, sums) in src.data.chunks_exact(w).zip(row_sums.chunks_exact_mut(w)) {
        let mut s: u32 = (-r..=r).map(|i| row[clamp_index(i, w)] as u32).sum();
        sums[0] = s;
        for x in 1..w as isize {
            s += row[clamp_index(x + r, w)] as u32;
            s -= row[clamp_index(x - 1 - r, w)] as u32;
            sums[x as usize] = s;
        }
    }
    let area2 = 2 * (block as u64) * (block as u64);
    let half = area2 / 2;
    let mut col: Vec<u64> = vec![0; w];
    for i in -r..=r {
        let y = clamp_index(i, h);
        for (c, &s) in col.iter_mut().zip(&row_sums[y * w..(y + 1) * w]) {
            *c += s as u64;
        }
    }
    out.resize(w * h, 0);
    for y in 0..h {
        if y > 0 {
            let add = clamp_index(y as isize + r, h) * w;
            let sub = clamp_index(y as isize - 1 - r, h) * w;
            for (x, c) in col.iter_mut().enumerate() {
                *c = *c + row_sums[add + x] as u64 - row_sums[sub + x] as u64;
            }
        }
        for (o, &c) in out[y * w..(y + 1) * w].iter_mut().zip(&col) {
            *o = ((2 * c + half) / area2) as u8;
        }
    }
}

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

/// Separable Gaussian mean, rows first then columns (centre tap first, then symmetric pairs),
/// in f64 over the f32 weights, rounded half to even.
fn gaussian_mean(src: GrayView<'_>, block: usize, out: &mut Vec<u8>) {
    let (w, h) = (src.width, src.height);
    let r = block / 2;
    let k: Vec<f64> = gaussian_kernel(block).into_iter().map(f64::from).collect();
    let mut rows = vec![0f64; w * h];
    for (row, acc) in src.data.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        for (x, a) in acc.iter_mut().enumerate() {
            let mut s = 0.0;
            for (i, &ki) in k.iter().enumerate() {
                s += ki * row[clamp_index(x as isize - r as isize + i as isize, w)] as f64;
            }
            *a = s;
        }
    }
    out.resize(w * h, 0);
    for y in 0..h {
        let centre = &rows[y * w..(y + 1) * w];
        let o = &mut out[y * w..(y + 1) * w];
        let mut acc: Vec<f64> = centre.iter().map(|&v| k[r] * v).collect();
        for i in 1..=r {
            let dn = clamp_index(y as isize + i as isize, h) * w;
            let up = clamp_index(y as isize - i as isize, h) * w;
            let ki = k[r + i];
            for (x, a) in acc.iter_mut().enumerate() {
                *a += ki * (rows[dn + x] + rows[up + x]);
            }
        }
        for (o, a) in o.iter_mut().zip(acc) {
            *o = saturate_u8(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(w: usize, h: usize, data: &[u8], method: AdaptiveMethod, block: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let view = GrayView::new(w, h, data).unwrap();
        adaptive_threshold(view, 255.0, method, false, block, 2.0, &mut out);
        out
    }

    /// Naive reference for the box mean, straight from the definition.
    fn naive_mean(w: usize, h: usize, data: &[u8], block: usize) -> Vec<u8> {
        let r = (block / 2) as isize;
        let mut out = vec![0u8; w * h];
        for y in 0..h as isize {
            for x in 0..w as isize {
                let mut s = 0u64;
                for dy in -r..=r {
                    for dx in -r..=r {
                        s += data[clamp_index(y + dy, h) * w + clamp_index(x + dx, w)] as u64;
                    }
                }
                let b2 = (block * block) as u64;
                out[(y as usize) * w + x as usize] = ((2 * s + b2) / (2 * b2)) as u8;
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

    #[test]
    fn running_box_mean_equals_naive_on_thin_and_small_images() {
        for (w, h) in [(1, 1), (1, 9), (9, 1), (5, 4), (17, 13)] {
            let data = noise(w * h, (w * 31 + h) as u32);
            for block in [3, 5, 11, 31] {
                let mut got = Vec::new();
                box_mean(GrayView::new(w, h, &data).unwrap(), block, &mut got);
                assert_eq!(got, naive_mean(w, h, &data, block), "{w}x{h} block {block}");
            }
        }
    }

    #[test]
    fn constant_image_is_all_on_for_positive_c() {
        for method in [AdaptiveMethod::Mean, AdaptiveMethod::Gaussian] {
            assert_eq!(run(4, 3, &[77; 12], method, 3), vec![255; 12]);
        }
    }

    #[test]
    fn negative_maxval_gives_zero() {
        let mut out = Vec::new();
        let view = GrayView::new(2, 2, &[0, 50, 100, 200]).unwrap();
        adaptive_threshold(view, -1.0, AdaptiveMethod::Mean, false, 3, -300.0, &mut out);
        assert_eq!(out, [0; 4]);
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
