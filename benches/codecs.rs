//! Decoding JPEG and PNG, encoding 8-bit and 1-bit PNG, at three sizes; throughput in pixels.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use graypipe::codec::{decode, encode, DecodeLimits, OutputFormat, PngCompression};
use image::ImageFormat;

fn codecs(c: &mut Criterion) {
    for (label, w, h) in common::SIZES {
        let rgb = common::ship_rgb(w, h);
        let gray = common::ship_gray(w, h);
        let binary: Vec<u8> = gray
            .iter()
            .map(|&v| if v > 127 { 255 } else { 0 })
            .collect();
        let mut jpeg = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&rgb)
            .expect("jpeg encodes");
        let mut png = std::io::Cursor::new(Vec::new());
        rgb.write_to(&mut png, ImageFormat::Png)
            .expect("png encodes");
        let (jpeg, png) = (jpeg.into_inner(), png.into_inner());
        let pixels = u64::from(w) * u64::from(h);
        let mut group = c.benchmark_group(format!("codecs/{label}"));
        group.throughput(Throughput::Elements(pixels));
        if pixels > 1_000_000 {
            group.sample_size(10);
        }
        let limits = DecodeLimits::default();
        group.bench_function("decode_jpeg", |b| {
            b.iter(|| decode(black_box(&jpeg), &limits).expect("decodes"))
        });
        group.bench_function("decode_png", |b| {
            b.iter(|| decode(black_box(&png), &limits).expect("decodes"))
        });
        let mut out = Vec::new();
        group.bench_function("encode_png_8bit", |b| {
            b.iter(|| {
                encode(
                    black_box(&gray),
                    w,
                    h,
                    OutputFormat::Png,
                    false,
                    PngCompression::Fast,
                    &mut out,
                )
                .expect("encodes")
            })
        });
        group.bench_function("encode_png_1bit", |b| {
            b.iter(|| {
                encode(
                    black_box(&binary),
                    w,
                    h,
                    OutputFormat::Png,
                    true,
                    PngCompression::Fast,
                    &mut out,
                )
                .expect("encodes")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
