//! How the command's memory allocator hands memory back (glibc only).
//!
//! A photo's decode buffer (a few MB) is freed and asked for again every few milliseconds.
//! glibc's default returns such blocks to the kernel soon after they are freed (an `mmap` per
//! block at first, then trimming the top of each thread's heap), so each file's buffers are
//! faulted in and zeroed by the kernel again: 100 photos read as gray spent 0.08-0.10 s of
//! system time on it out of 0.50 s of CPU. Fixing both thresholds keeps freed blocks in the
//! heap for the next file (CPU 0.85-0.89x on those photos; docs/BENCHMARKS.md).
//!
//! What is kept counts against nothing, so it is sized from the memory budget: each thread's
//! heap may keep a free top of a quarter of the budget shared among the threads, at most 64
//! MiB; blocks up to 32 MiB come from the heap. When that share is under 32 MiB, glibc's
//! defaults stay. 24 large photos (12 JPEGs of 12 MP, 12 noise PNGs of 8 MP) at `--workers 8`
//! peaked at 250-275 MiB for a 256 MiB budget with fixed thresholds, 210-232 MiB with the
//! defaults (which this rule now keeps there); at a 2 GiB budget, 435-440 MiB against 344-391.
//! The library leaves its host process's allocator alone; this is the command's choice.
//!
//! Not under an address-space or data limit (`ulimit -v`, `ulimit -d`): there the freed
//! blocks kept in every thread's heap take room that a later file's buffers need, and an
//! allocation the decoders and the PNG encoder make infallibly then aborts the whole process
//! (7 runs in 15 under a 512 MiB RLIMIT_AS with 8 workers on 12-megapixel photos, none with
//! glibc's defaults; docs/hostile-cases.md).

/// Sets glibc's thresholds for a run of `threads` threads under a memory budget of `budget`
/// bytes, before the run's threads start; unless the address space or the data segment is
/// limited, or the budget is too small to spare the room. A no-op elsewhere.
pub fn keep_freed_blocks_for_reuse(budget: u64, threads: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if memory_is_limited() {
            return;
        }
        let Some((mmap_threshold, trim_threshold)) = thresholds(budget, threads) else {
            return;
        };
        // SAFETY: `mallopt` only sets the allocator's parameters (under its own lock); called
        // before the run's worker threads exist. A refusal (0) leaves the defaults.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, mmap_threshold);
            libc::mallopt(libc::M_TRIM_THRESHOLD, trim_threshold);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (budget, threads);
}

/// `(mmap threshold, trim threshold)` for the budget, or `None` to keep glibc's defaults.
fn thresholds(budget: u64, threads: usize) -> Option<(i32, i32)> {
    const MMAP: u64 = 32 << 20;
    const MAX_TRIM: u64 = 64 << 20;
    let share = budget / 4 / threads.max(1) as u64;
    // A share too small to keep a large photo's buffers: glibc's sliding threshold does better
    // than a fixed small one (under which every larger buffer is mapped and unmapped anew:
    // 1.2 s of system time against 0.85 s for 24 large photos at 8 workers).
    if share < MMAP {
        return None;
    }
    let trim = share.min(MAX_TRIM);
    Some((i32::try_from(MMAP).ok()?, i32::try_from(trim).ok()?))
}

/// Whether `RLIMIT_AS` or `RLIMIT_DATA` is set (below infinity).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn memory_is_limited() -> bool {
    [libc::RLIMIT_AS, libc::RLIMIT_DATA].into_iter().any(|r| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit for the call.
        let read = unsafe { libc::getrlimit(r, &mut lim) } == 0;
        read && lim.rlim_cur != libc::RLIM_INFINITY
    })
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use std::process::Command;

    /// Set in the child process the test starts: which limit to run under.
    const CHILD: &str = "GRAYPIPE_ALLOCATOR_TEST_CHILD";

    /// Bytes glibc holds in blocks of their own `mmap` (freed at once, never kept).
    fn mapped_bytes() -> usize {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        unsafe { libc::mallinfo2() }.hblkhd
    }

    /// In the child: after the start-up call, is a 20 MiB block kept in the heap (thresholds
    /// set) or given its own mapping (glibc's defaults, whose threshold starts at 128 KiB)?
    fn child() {
        super::keep_freed_blocks_for_reuse(8 << 30, 2);
        let before = mapped_bytes();
        let block = vec![1u8; 20 << 20];
        let mapped = mapped_bytes() - before >= 20 << 20;
        println!("mapped={mapped}");
        drop(block);
    }

    fn run_child(limit: Option<libc::__rlimit_resource_t>) -> bool {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "cli::allocator::tests::freed_blocks_are_kept_only_without_a_memory_limit",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1");
        if let Some(resource) = limit {
            // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    // Large enough for the test harness, but set.
                    let lim = libc::rlimit {
                        rlim_cur: 16 << 30,
                        rlim_max: 16 << 30,
                    };
                    libc::setrlimit(resource, &lim);
                    Ok(())
                });
            }
        }
        let o = cmd.output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // The harness prints the test's name on the same line.
        match out
            .split("mapped=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        {
            Some("true") => true,
            Some("false") => false,
            _ => panic!("no answer from the child: {out}"),
        }
    }

    #[test]
    fn what_is_kept_is_sized_from_the_budget() {
        use super::thresholds;
        // The default budget on a large machine: the full thresholds.
        assert_eq!(thresholds(12 << 30, 9), Some((32 << 20, 64 << 20)));
        // 2 GiB over 9 threads: 56.9 MiB each.
        let share = (2u64 << 30) / 4 / 9;
        assert_eq!(thresholds(2 << 30, 9), Some((32 << 20, share as i32)));
        // 256 MiB over 9 threads: 7 MiB each, too little; glibc's defaults.
        assert_eq!(thresholds(256 << 20, 9), None);
        // Too little to spare: glibc's defaults.
        assert_eq!(thresholds(100 << 20, 9), None);
        assert_eq!(thresholds(0, 0), None);
        assert_eq!(thresholds(u64::MAX, 1), Some((32 << 20, 64 << 20)));
    }

    #[test]
    fn freed_blocks_are_kept_only_without_a_memory_limit() {
        if std::env::var_os(CHILD).is_some() {
            return child();
        }
        // No limit: the thresholds are set, a 20 MiB block comes from the heap.
        assert!(!run_child(None));
        // Under `ulimit -v` or `ulimit -d`: glibc's defaults, the block has its own mapping.
        assert!(run_child(Some(libc::RLIMIT_AS)));
        assert!(run_child(Some(libc::RLIMIT_DATA)));
    }
}
