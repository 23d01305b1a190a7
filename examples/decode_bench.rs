//! Decode speed, nothing else: every JPEG (or other image) of a folder is read into memory
//! once, then decoded ROUNDS times through `graypipe::codec::decode_as`, on the calling thread.
//! Prints one line: files, megapixels per round, wall seconds and MP/s, and the same per
//! second of the thread's CPU time (steadier on a shared machine, where the wall clock also
//! counts time spent waiting for the core). Built with the default
//! features it measures libjpeg-turbo; with `--no-default-features` the pure-Rust decoder
//! (zune-jpeg), so two builds run alternately compare the two on the same files.
//!
//!     cargo build --release --example decode_bench
//!     taskset -c 1 target/release/examples/decode_bench DIR [ROUNDS] [color|gray]

use std::path::PathBuf;
use std::time::Instant;

use graypipe::codec::{decode_as, DecodeLimits, ReadMode};

/// CPU seconds used so far by the calling thread.
#[cfg(unix)]
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID needs nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[cfg(not(unix))]
fn thread_cpu_seconds() -> f64 {
    f64::NAN
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: decode_bench DIR [ROUNDS] [color|gray]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let mode = match args.get(3).map(String::as_str) {
        None | Some("color") => ReadMode::Color,
        Some("gray") => ReadMode::Gray,
        Some(other) => return Err(format!("unknown read mode {other}").into()),
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let files: Vec<Vec<u8>> = names.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let limits = DecodeLimits::default();
    let mut pixels = 0u64;
    let (start, cpu_start) = (Instant::now(), thread_cpu_seconds());
    for _ in 0..rounds {
        for bytes in &files {
            let img = decode_as(bytes, &limits, mode)?;
            pixels += img.pixel_count();
            std::hint::black_box(&img.data);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds() - cpu_start;
    let mp = pixels as f64 / 1e6;
    println!(
        "{} files x {rounds} rounds, {:.1} MP per round, wall {secs:.3} s {:.1} MP/s, cpu {cpu:.3} s {:.1} MP/s ({mode:?}, libjpeg-turbo: {})",
        files.len(),
        mp / rounds as f64,
        mp / secs,
        mp / cpu,
        cfg!(feature = "libjpeg-turbo")
    );
    Ok(())
}
