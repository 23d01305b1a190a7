//! Each pixel kernel alone, single-threaded, at three sizes; throughput in pixels. The
//! thresholds are timed through `ops::apply`, in place, as the pipeline's process stage runs them.

mod common;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use graypipe::ops::{self, ChannelLayout, Luma, Operation};
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
        // The thresholds as the pipeline runs them: `ops::apply` on the gray buffer in place
        // (a fresh copy of the picture per iteration, made outside the timing).
        let mut process = |id: BenchmarkId, spec: &str| {
            let op: Operation = spec.parse().expect("a valid spec");
            group.bench_function(id, |b| {
                b.iter_batched_ref(
                    || (gray.clone(), Vec::with_capacity(gray.len())),
                    |(g, scratch)| ops::apply(&op, w as usize, h as usize, g, scratch),
                    BatchSize::LargeInput,
                )
            });
        };
        process(BenchmarkId::from_parameter("binary"), "binary:127");
        process(BenchmarkId::from_parameter("otsu"), "otsu");
        process(BenchmarkId::from_parameter("triangle"), "triangle");
        for block in [11, 31] {
            for name in ["adaptive_mean", "adaptive_gaussian"] {
                let spec = format!("{}:{block}:2", name.replace('_', "-"));
                process(BenchmarkId::new(name, block), &spec);
            }
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
