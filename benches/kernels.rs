//! Each pixel kernel alone, single-threaded, at three sizes; throughput in pixels.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use graypipe::ops::{self, AdaptiveMethod, ChannelLayout, GrayView, Luma, ThresholdType};
use std::hint::black_box;

fn kernels(c: &mut Criterion) {
    for (label, w, h) in common::SIZES {
        let rgb = common::ship_rgb(w, h);
        let gray = common::ship_gray(w, h);
        let pixels = u64::from(w) * u64::from(h);
        let mut group = c.benchmark_group(format!("kernels/{label}"));
        group.throughput(Throughput::Elements(pixels));
        if pixels > 1_000_000 {
            group.sample_size(10);
        }
        let mut out = Vec::with_capacity(pixels as usize);
        group.bench_function("gray", |b| {
            b.iter(|| {
                ops::to_gray(
                    black_box(rgb.as_raw()),
                    ChannelLayout::Rgb,
                    Luma::Bt601,
                    &mut out,
                )
            })
        });
        group.bench_function("binary", |b| {
            b.iter(|| {
                ops::threshold(
                    black_box(&gray),
                    127.0,
                    255.0,
                    ThresholdType::Binary,
                    &mut out,
                )
            })
        });
        group.bench_function("otsu", |b| {
            b.iter(|| {
                let t = ops::otsu_threshold(&ops::histogram(black_box(&gray)));
                ops::threshold(&gray, t as f64, 255.0, ThresholdType::Binary, &mut out)
            })
        });
        group.bench_function("triangle", |b| {
            b.iter(|| {
                let t = ops::triangle_threshold(&ops::histogram(black_box(&gray)));
                ops::threshold(&gray, t as f64, 255.0, ThresholdType::Binary, &mut out)
            })
        });
        let view = GrayView::new(w as usize, h as usize, &gray).expect("size matches");
        for block in [11, 31] {
            for (name, method) in [
                ("adaptive_mean", AdaptiveMethod::Mean),
                ("adaptive_gaussian", AdaptiveMethod::Gaussian),
            ] {
                group.bench_with_input(BenchmarkId::new(name, block), &block, |b, &block| {
                    b.iter(|| {
                        ops::adaptive_threshold(
                            black_box(view),
                            255.0,
                            method,
                            false,
                            block,
                            2.0,
                            &mut out,
                        )
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
