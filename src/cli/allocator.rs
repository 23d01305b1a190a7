//! How the command's memory allocator hands memory back (glibc only).
//!
//! A photo's decode buffer (a few MB) is freed and asked for again every few milliseconds.
//! glibc's default returns such blocks to the kernel soon after they are freed (an `mmap` per
//! block at first, then trimming the top of each thread's heap), so each file's buffers are
//! faulted in and zeroed by the kernel again: 100 photos read as gray spent 0.08-0.10 s of
//! system time on it out of 0.50 s of CPU. Fixing both thresholds keeps blocks below 32 MiB
//! in the heap (what glibc's own sliding threshold reaches at most) and trims a heap's top
//! only past 64 MiB. Measured in docs/BENCHMARKS.md ("Per-file cost"): CPU 0.85-0.89x, peak RSS
//! within 10% at 2 and 8 workers. The library leaves its host process's allocator alone; this
//! is the command's choice.

/// Sets glibc's thresholds, before any thread starts. A no-op elsewhere.
pub fn keep_freed_blocks_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 64 << 20;
        // SAFETY: `mallopt` only sets the allocator's parameters; called at start-up on the
        // main thread, before any other thread exists. A refusal (0) leaves the defaults.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    }
}
