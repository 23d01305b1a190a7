//! CPU clocks: the calling thread's CPU time (for per-stage figures that do not count time a
//! thread spent waiting for a core) and the whole process's user and system time.

use std::time::Duration;

/// CPU time consumed by the calling thread so far (zero where the platform does not say).
pub fn thread_cpu() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID needs nothing else.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if r == 0 {
            return Duration::new(
                ts.tv_sec.max(0) as u64,
                ts.tv_nsec.clamp(0, 999_999_999) as u32,
            );
        }
    }
    Duration::ZERO
}

/// User and system CPU time of the whole process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessCpu {
    /// Time in user mode, summed over threads.
    pub user: Duration,
    /// Time in the kernel on the process's behalf, summed over threads.
    pub system: Duration,
}

impl ProcessCpu {
    /// The process's CPU time so far; `None` where the platform does not say.
    pub fn now() -> Option<Self> {
        #[cfg(unix)]
        {
            // SAFETY: an all-zero rusage is a valid value of this plain C struct.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: `ru` is valid and writable for the call.
            if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0 {
                let d = |t: libc::timeval| {
                    Duration::new(
                        t.tv_sec.max(0) as u64,
                        (t.tv_usec.clamp(0, 999_999) as u32) * 1000,
                    )
                };
                return Some(Self {
                    user: d(ru.ru_utime),
                    system: d(ru.ru_stime),
                });
            }
        }
        None
    }

    /// User plus system time.
    pub fn total(self) -> Duration {
        self.user + self.system
    }

    /// The time spent between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_advances_with_work_and_not_with_sleep() {
        let a = thread_cpu();
        std::thread::sleep(Duration::from_millis(30));
        let b = thread_cpu();
        // Spin until the thread clock shows 20 ms of work (on a loaded machine that takes
        // longer than 20 ms of wall time); it must get there.
        let mut x = 0u64;
        let spin = std::time::Instant::now();
        while thread_cpu() - b < Duration::from_millis(20)
            && spin.elapsed() < Duration::from_secs(20)
        {
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
        let c = thread_cpu();
        if cfg!(unix) {
            assert!(
                b - a < Duration::from_millis(15),
                "sleep counted: {:?}",
                b - a
            );
            assert!(
                c - b >= Duration::from_millis(20),
                "spin not counted: {:?}",
                c - b
            );
        }
        let p = ProcessCpu::now();
        assert_eq!(p.is_some(), cfg!(unix));
    }
}
