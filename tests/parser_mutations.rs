//! A deterministic mutation harness for the hand-written parsers (PNM, RLE BMP, TIFF palette and
//! alpha, GIF background): the read-mode fixtures of those formats, and crafted files, mutated
//! (bit flips, byte sets, truncations, header numbers made huge), each decoded in both read
//! modes under `catch_unwind`, with the bytes allocated counted by this binary's allocator.
//! It reports panics, slow files and any decode whose allocation peak passes what the header
//! probe predicted for the file (the memory budget admits files by that prediction).
//!
//! Ignored (minutes of work): `nice -n 19 cargo test --locked --test parser_mutations --
//! --ignored --nocapture`; `MUTATIONS=n` sets the mutations per fixture (default 300).

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use graypipe::codec::{decode_as, probe, DecodeLimits, ReadMode};

/// Counts live and peak bytes (the harness decodes on one thread at a time).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the caller's own layout and pointer; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as given.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as given.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as given.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const HUGE: [u32; 6] = [0, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000, 65536];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut f = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if f.is_empty() {
            break;
        }
        // Most mutations near the header, where the parsers read numbers.
        let span = if rng.below(3) == 0 {
            f.len()
        } else {
            f.len().min(64)
        };
        let at = rng.below(span);
        match rng.below(7) {
            0 => f[at] ^= 1 << rng.below(8),
            1 => f[at] = [0, 1, 2, 3, 0x7F, 0x80, 0xFF][rng.below(7)],
            2 => f.truncate(at),
            3 => {
                let v = HUGE[rng.below(HUGE.len())].to_le_bytes();
                let end = (at + 4).min(f.len());
                f[at..end].copy_from_slice(&v[..end - at]);
            }
            4 => {
                let v = HUGE[rng.below(HUGE.len())].to_be_bytes();
                let end = (at + 4).min(f.len());
                f[at..end].copy_from_slice(&v[..end - at]);
            }
            5 => {
                // A decimal number in a text header made huge.
                let digits = ["99999", "2147483647", "4294967296", "65535", "0"];
                let d = digits[rng.below(digits.len())].as_bytes();
                f.splice(at..(at + 1).min(f.len()), d.iter().copied());
            }
            _ => {
                let n = rng.below(16).min(f.len() - at);
                let piece = f[at..at + n].to_vec();
                f.splice(at..at, piece);
            }
        }
    }
    f
}

#[derive(Default)]
struct Tally {
    files: usize,
    decoded: usize,
    refused: usize,
    panics: Vec<String>,
    slow: Vec<String>,
    over_probe: Vec<String>,
    worst_ratio: f64,
}

fn run_one(name: &str, bytes: &[u8], t: &mut Tally) {
    t.files += 1;
    let predicted = probe(bytes).ok().map(|i| i.working_set_bytes());
    for mode in [ReadMode::Color, ReadMode::Gray] {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let start = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            decode_as(bytes, &DecodeLimits::default(), mode)
        }));
        let took = start.elapsed();
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        let outcome = match &r {
            Err(_) => "panic",
            Ok(Ok(_)) => "decoded",
            Ok(Err(_)) => "refused",
        };
        match r {
            Err(_) => t.panics.push(format!("{name} {mode:?}")),
            Ok(Ok(_)) => t.decoded += 1,
            Ok(Err(_)) => t.refused += 1,
        }
        if took > Duration::from_secs(2) {
            t.slow.push(format!("{name} {mode:?} {took:?}"));
        }
        // Only large peaks matter; small ones are noise in the allocator and metadata.
        if peak > 8 << 20 {
            match predicted {
                Some(p) if (peak as u64) <= p => {
                    t.worst_ratio = t.worst_ratio.max(peak as f64 / p as f64);
                }
                _ => {
                    // `DUMP=dir` keeps these files for a closer look.
                    if let Ok(dir) = std::env::var("DUMP") {
                        let file = name.replace('/', "_");
                        let _ = std::fs::write(std::path::Path::new(&dir).join(file), bytes);
                    }
                    t.over_probe.push(format!(
                    "{name} {mode:?} {outcome}: peak {peak} bytes, probe {predicted:?}, file {} \
                     bytes",
                    bytes.len()
                    ))
                }
            }
        }
    }
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/read_modes/inputs"
    );
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let ext = p.extension()?.to_str()?.to_ascii_lowercase();
            let keep = [
                "pnm", "pgm", "ppm", "pbm", "pam", "bmp", "tif", "tiff", "gif",
            ];
            if !keep.contains(&ext.as_str()) {
                return None;
            }
            // BMP: only the RLE ones are new (the others had their own harness).
            let name = p.file_name()?.to_str()?.to_string();
            let bytes = std::fs::read(&p).unwrap();
            if ext == "bmp" && !matches!(bytes.get(30), Some(1 | 2)) {
                return None;
            }
            Some((name, bytes))
        })
        .collect();
    // Crafted files from a folder of the caller's (`EXTRA_SEEDS`), whatever their names.
    if let Ok(extra) = std::env::var("EXTRA_SEEDS") {
        for e in std::fs::read_dir(extra).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((format!("extra/{name}"), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
#[ignore = "minutes of work; run by hand (see the file's comment)"]
fn mutations_of_the_new_parsers_neither_panic_nor_hang_nor_overspend() {
    let per: usize = std::env::var("MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let seeds = fixtures();
    let mut t = Tally::default();
    let start = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let only = std::env::var("ONLY").unwrap_or_default();
    for (name, seed) in &seeds {
        if !name.contains(&only) {
            // The mutations stay those of a full run.
            for _ in 0..per {
                mutate(seed, &mut rng);
            }
            continue;
        }
        run_one(name, seed, &mut t);
        for k in 0..per {
            let m = mutate(seed, &mut rng);
            run_one(&format!("{name}#{k}"), &m, &mut t);
        }
    }
    eprintln!(
        "{} seeds, {} files, {:?}: {} decodes, {} refusals, {} panics, {} slow, {} over the \
         probe, worst peak/probe {:.2}",
        seeds.len(),
        t.files,
        start.elapsed(),
        t.decoded,
        t.refused,
        t.panics.len(),
        t.slow.len(),
        t.over_probe.len(),
        t.worst_ratio
    );
    for line in t.panics.iter().chain(&t.slow).chain(&t.over_probe) {
        eprintln!("  {line}");
    }
    assert!(t.panics.is_empty() && t.slow.is_empty() && t.over_probe.is_empty());
}

/// A 216-byte TIFF whose Photometric tag announces 2^23 SHORTs (16 MiB of tag data that is not
/// in the file; a mutation of a fixture found it): the header probe refuses it within its
/// metadata allowance, so the budget admits it at its own size; its decode took 256 MiB before
/// failing.
#[test]
fn a_tiny_tiff_announcing_a_huge_tag_array_is_refused_without_a_large_allocation() {
    let mut f = b"II*\0".to_vec();
    f.extend(8u32.to_le_bytes());
    let entries: [(u16, u16, u32, u32); 7] = [
        (256, 4, 1, 16),
        (257, 4, 1, 1),
        (258, 3, 1, 8),
        (262, 3, 1 << 23, 1),
        (273, 4, 1, 200),
        (278, 4, 1, 1),
        (279, 4, 1, 16),
    ];
    f.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        f.extend(tag.to_le_bytes());
        f.extend(kind.to_le_bytes());
        f.extend(count.to_le_bytes());
        f.extend(value.to_le_bytes());
    }
    f.extend(0u32.to_le_bytes());
    f.resize(200 + 16, 7);
    assert!(probe(&f).is_err());
    for mode in [ReadMode::Color, ReadMode::Gray] {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let r = decode_as(&f, &DecodeLimits::default(), mode);
        let peak = PEAK.load(Ordering::Relaxed) - base;
        assert!(r.is_err());
        assert!(
            peak < 32 << 20,
            "{mode:?}: {peak} bytes for a {}-byte file",
            f.len()
        );
    }
}
