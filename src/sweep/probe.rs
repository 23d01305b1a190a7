//! What the machine tells about a run: the process's CPU time (getrusage), the whole machine's
//! busy time (/proc/stat), and which CPUs the calling thread may use (sched_getaffinity /
//! sched_setaffinity). Each returns None where the platform does not tell it.

use std::time::Duration;

/// User and system CPU time of the whole process so far (every thread, finished ones too).
pub fn process_cpu() -> Option<(Duration, Duration)> {
    #[cfg(unix)]
    {
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable rusage; RUSAGE_SELF is a constant the platform
        // defines; getrusage writes only into `ru`.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
            return None;
        }
        let tv = |t: libc::timeval| {
            Some(Duration::new(
                u64::try_from(t.tv_sec).ok()?,
                u32::try_from(t.tv_usec).ok()? * 1000,
            ))
        };
        Some((tv(ru.ru_utime)?, tv(ru.ru_stime)?))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The machine's busy CPU time so far: every CPU's user, nice, system, irq, softirq and steal
/// time from the first line of `/proc/stat` (idle and iowait left out), and the number of
/// CPUs it lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineBusy {
    /// Busy seconds summed over CPUs.
    pub busy_seconds: f64,
    /// CPUs listed.
    pub cpus: usize,
}

/// Parses `/proc/stat` text with `ticks_per_second` (USER_HZ).
pub fn parse_proc_stat(text: &str, ticks_per_second: f64) -> Option<MachineBusy> {
    let first = text.lines().next()?;
    let mut fields = first.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    let cpus = text
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    (v.len() >= 4 && cpus > 0 && ticks_per_second > 0.0).then(|| MachineBusy {
        busy_seconds: busy as f64 / ticks_per_second,
        cpus,
    })
}

/// The machine's busy time now, from `/proc/stat` (a small file read with a bound).
pub fn machine_busy() -> Option<MachineBusy> {
    #[cfg(unix)]
    {
        use std::io::Read;
        let mut text = String::new();
        std::fs::File::open("/proc/stat")
            .ok()?
            .take(1 << 20)
            .read_to_string(&mut text)
            .ok()?;
        // SAFETY: sysconf has no preconditions and only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        parse_proc_stat(&text, hz as f64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The CPUs the calling thread may run on, in increasing order.
pub fn allowed_cpus() -> Option<Vec<usize>> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is the
        // calling thread.
        if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) }
            != 0
        {
            return None;
        }
        let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `set` is initialised and every index is below CPU_SETSIZE.
        Some(
            (0..max)
                .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
                .collect(),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Restricts the calling thread (and so every thread it spawns from now on) to `cpus`.
pub fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: an all-zero cpu_set_t is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
        for &c in cpus.iter().filter(|&&c| c < max) {
            // SAFETY: `c` is below CPU_SETSIZE and `set` is a valid cpu_set_t.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
        // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
        if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpus;
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "CPU affinity is only set on Linux",
        ))
    }
}

/// Holds the calling thread on a subset of its CPUs; the previous set comes back on drop.
#[derive(Debug)]
pub struct AffinityGuard {
    previous: Vec<usize>,
}

impl AffinityGuard {
    /// Restricts the calling thread to the first `count` of `allowed`.
    pub fn restrict(allowed: &[usize], count: usize) -> std::io::Result<Self> {
        let previous = allowed_cpus().unwrap_or_else(|| allowed.to_vec());
        let take = &allowed[..count.min(allowed.len())];
        set_affinity(take)?;
        Ok(Self { previous })
    }
}

impl Drop for AffinityGuard {
    fn drop(&mut self) {
        // Nothing better to do on failure than carry on: the sweep's next restrict sets it again.
        let _ = set_affinity(&self.previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_busy_leaves_idle_and_iowait_out() {
        let text = "cpu  100 10 50 1000 40 5 5 2 7 0\ncpu0 50 5 25 500 20 2 3 1 0 0\ncpu1 50 5 25 500 20 3 2 1 0 0\nintr 1\n";
        let b = parse_proc_stat(text, 100.0).unwrap();
        assert_eq!(b.cpus, 2);
        assert!((b.busy_seconds - 1.72).abs() < 1e-12, "{b:?}");
        assert!(parse_proc_stat("intr 1\n", 100.0).is_none());
    }

    #[test]
    fn the_process_cpu_clock_moves_and_affinity_round_trips() {
        let (u0, s0) = process_cpu().unwrap();
        // Spin until the clock moves (its resolution and this thread's share of a loaded
        // machine vary), for at most 5 s of wall time.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        let moved = loop {
            for i in 0..1_000_000u64 {
                x = x.wrapping_add(i * i);
            }
            std::hint::black_box(x);
            let (u1, s1) = process_cpu().unwrap();
            if u1 + s1 > u0 + s0 {
                break true;
            }
            if start.elapsed() > Duration::from_secs(5) {
                break false;
            }
        };
        assert!(
            moved,
            "the process CPU clock did not move in 5 s of spinning"
        );
        if let Some(cpus) = allowed_cpus() {
            assert!(!cpus.is_empty());
            {
                let _g = AffinityGuard::restrict(&cpus, 1).unwrap();
                assert_eq!(allowed_cpus().unwrap(), cpus[..1]);
            }
            assert_eq!(allowed_cpus().unwrap(), cpus);
        }
    }
}
