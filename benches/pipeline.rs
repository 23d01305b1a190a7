//! The whole job (read, decode, process, encode, write) per engine at 1 and 2 workers, on the
//! book's 400 tiles and on sample_images/photos. Only the pipeline is timed: listing and the
//! fresh output folder of each iteration are set up outside the measurement.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use graypipe::batch::{plan, PlanOptions};
use graypipe::{CancelToken, Engine, EngineConfig, Settings};

fn pipeline(c: &mut Criterion) {
    let sets: [(&str, PathBuf, &str); 2] = [
        (
            "book_tiles",
            common::root().join("sample_images/book/tiles"),
            "adaptive-gaussian:11:2",
        ),
        (
            "sample_photos",
            common::root().join("sample_images/photos"),
            "binary:127",
        ),
    ];
    for (name, folder, op) in sets {
        let settings = Settings {
            operation: op.parse().expect("valid spec"),
            ..Settings::default()
        };
        let files = plan(
            std::slice::from_ref(&folder),
            &std::env::temp_dir().join("unused"),
            &PlanOptions::default(),
        )
        .expect("plan")
        .jobs
        .len();
        let mut group = c.benchmark_group(format!("pipeline/{name}"));
        group.throughput(Throughput::Elements(files as u64));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(8));
        for engine in [Engine::Serial, Engine::Rayon, Engine::Staged] {
            for workers in [1, 2] {
                if engine == Engine::Serial && workers == 2 {
                    continue;
                }
                let config = EngineConfig::new(engine, workers);
                group.bench_with_input(
                    BenchmarkId::new(engine.to_string(), workers),
                    &config,
                    |b, config| {
                        b.iter_custom(|iters| {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                let out = tempfile::tempdir().expect("temp dir");
                                let batch = plan(
                                    std::slice::from_ref(&folder),
                                    out.path(),
                                    &PlanOptions::default(),
                                )
                                .expect("plan");
                                let start = Instant::now();
                                let summary = graypipe::run(
                                    &batch,
                                    &settings,
                                    config,
                                    &CancelToken::new(),
                                    false,
                                    &mut |_, _| {},
                                );
                                total += start.elapsed();
                                assert_eq!(summary.failed(), 0);
                            }
                            total
                        })
                    },
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
