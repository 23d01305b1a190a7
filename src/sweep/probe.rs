//! What the machine tells about a run: the process's CPU time (getrusage), each CPU's busy
//! time (/proc/stat), how long the job's threads waited for a CPU (/proc/self/task/*/schedstat),
//! which CPUs the calling thread may use (sched_getaffinity / sched_setaffinity), how they pair
//! into physical cores (/sys/devices/system/cpu) and the cgroup's CPU quota. Each returns None
//! where the platform does not tell it; the parsers are pure functions tested on text.

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

/// Busy seconds per CPU from the `cpuN` lines of `/proc/stat` text (same fields as
/// [`parse_proc_stat`]), as `(N, seconds)` in the order listed.
pub fn parse_proc_stat_cpus(text: &str, ticks_per_second: f64) -> Option<Vec<(usize, f64)>> {
    if ticks_per_second <= 0.0 {
        return None;
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line
            .strip_prefix("cpu")
            .filter(|r| r.as_bytes().first().is_some_and(u8::is_ascii_digit))
        else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let Some(Ok(cpu)) = fields.next().map(str::parse::<usize>) else {
            continue;
        };
        let v: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
        out.push((cpu, busy as f64 / ticks_per_second));
    }
    (!out.is_empty()).then_some(out)
}

/// Reads a small text file with a bound (procfs and sysfs files).
fn read_small(path: &str) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn ticks_per_second() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions and only reads a configuration value.
        (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
    }
    #[cfg(not(unix))]
    {
        0.0
    }
}

/// The machine's busy time now, from `/proc/stat` (a small file read with a bound).
pub fn machine_busy() -> Option<MachineBusy> {
    parse_proc_stat(&read_small("/proc/stat")?, ticks_per_second())
}

/// Busy seconds so far summed over `cpus` only (the CPUs a run may use), from `/proc/stat`.
pub fn cpus_busy(cpus: &[usize]) -> Option<f64> {
    let per = parse_proc_stat_cpus(&read_small("/proc/stat")?, ticks_per_second())?;
    Some(
        per.iter()
            .filter(|(c, _)| cpus.contains(c))
            .map(|(_, s)| s)
            .sum(),
    )
}

/// `run wait` nanoseconds from a schedstat line (`run_ns wait_ns timeslices`).
pub fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut f = text.split_whitespace();
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// The calling thread's kernel thread id.
fn thread_id() -> Option<i64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        Some(i64::from(unsafe { libc::gettid() }))
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Every thread of this process but `skip`, with its schedstat `(run_ns, wait_ns)`.
fn task_schedstats(skip: Option<i64>) -> Option<Vec<(i64, (u64, u64))>> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    let mut out = Vec::new();
    // A process has a bounded number of threads; the bound guards a runaway listing.
    for entry in dir.flatten().take(1 << 16) {
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i64>().ok())
        else {
            continue;
        };
        if Some(tid) == skip {
            continue;
        }
        // A thread that ended between the listing and the read is simply not counted.
        if let Some(v) = read_small(&format!("/proc/self/task/{tid}/schedstat"))
            .as_deref()
            .and_then(parse_schedstat)
        {
            out.push((tid, v));
        }
    }
    Some(out)
}

/// Sums run and wait nanoseconds over threads from the samples taken: per thread, the last
/// value seen minus the first (threads that started after the first sample count from 0).
#[derive(Debug, Default)]
struct WaitTotals {
    first: std::collections::HashMap<i64, (u64, u64)>,
    last: std::collections::HashMap<i64, (u64, u64)>,
}

impl WaitTotals {
    fn add(&mut self, sample: &[(i64, (u64, u64))], baseline: bool) {
        for &(tid, v) in sample {
            self.first
                .entry(tid)
                .or_insert(if baseline { v } else { (0, 0) });
            self.last.insert(tid, v);
        }
    }

    fn seconds(&self) -> (f64, f64) {
        let (mut run, mut wait) = (0u64, 0u64);
        for (tid, &(r1, w1)) in &self.last {
            let (r0, w0) = self.first.get(tid).copied().unwrap_or((0, 0));
            run += r1.saturating_sub(r0);
            wait += w1.saturating_sub(w0);
        }
        (run as f64 * 1e-9, wait as f64 * 1e-9)
    }
}

/// How long the job's threads ran and waited for a CPU during a run. Threads come and go with
/// each run, and an ended thread's counters vanish with it, so a sampler thread reads every
/// thread's schedstat every [`ThreadWaitSampler::PERIOD`]; a thread's time after its last
/// sample is missed (at most one period per thread). The sampler leaves itself out.
#[derive(Debug)]
pub struct ThreadWaitSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<Option<(f64, f64)>>>,
}

impl ThreadWaitSampler {
    /// Time between samples.
    pub const PERIOD: std::time::Duration = std::time::Duration::from_millis(20);

    /// Starts sampling; None where schedstat is not available.
    pub fn start() -> Option<Self> {
        // The calling thread (often the only one yet) must be listed: it runs the job too.
        task_schedstats(None).filter(|s| !s.is_empty())?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("graypipe-schedstat".into())
            .spawn(move || {
                let me = thread_id();
                let mut totals = WaitTotals::default();
                totals.add(&task_schedstats(me)?, true);
                let _ = ready_tx.send(());
                loop {
                    let done = flag.load(std::sync::atomic::Ordering::Acquire);
                    totals.add(&task_schedstats(me)?, false);
                    if done {
                        return Some(totals.seconds());
                    }
                    std::thread::park_timeout(Self::PERIOD);
                }
            })
            .ok()?;
        // The baseline is taken before the run starts (or the sampler failed: no figures).
        let _ = ready_rx.recv();
        Some(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Takes a last sample and returns `(run, wait)` seconds summed over threads.
    pub fn finish(mut self) -> Option<(f64, f64)> {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let h = self.handle.take()?;
        h.thread().unpark();
        h.join().ok().flatten()
    }
}

impl Drop for ThreadWaitSampler {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.stop.store(true, std::sync::atomic::Ordering::Release);
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

/// Orders `allowed` CPUs so that one CPU of every physical core comes before any SMT sibling:
/// `core_of(cpu)` names its (package, core); CPUs it cannot place count as cores of their own.
/// Stable: among equals the given order stays.
pub fn physical_cores_first(
    allowed: &[usize],
    core_of: impl Fn(usize) -> Option<(u64, u64)>,
) -> Vec<usize> {
    let mut seen: std::collections::HashMap<(u64, u64), usize> = std::collections::HashMap::new();
    let mut keyed: Vec<(usize, usize, usize)> = allowed
        .iter()
        .enumerate()
        .map(|(i, &cpu)| {
            let rank = core_of(cpu).map_or(0, |k| {
                let r = seen.entry(k).or_insert(0);
                *r += 1;
                *r - 1
            });
            (rank, i, cpu)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, cpu)| cpu).collect()
}

/// The (package, core) of `cpu` from sysfs.
pub fn core_of(cpu: usize) -> Option<(u64, u64)> {
    let read = |f: &str| {
        read_small(&format!("/sys/devices/system/cpu/cpu{cpu}/topology/{f}"))?
            .trim()
            .parse::<u64>()
            .ok()
    };
    Some((read("physical_package_id")?, read("core_id")?))
}

/// CPUs a cgroup v2 `cpu.max` allows (`quota period`, or `max period` for no limit).
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut f = text.split_whitespace();
    let quota = f.next()?.parse::<f64>().ok()?;
    let period = f
        .next()
        .map_or(Some(100_000.0), |p| p.parse::<f64>().ok())?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// CPUs the process's cgroup quota allows, fractional; None without a quota. Reads cgroup v2
/// `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, at the process's own cgroup.
pub fn cgroup_cpu_quota() -> Option<f64> {
    let cgroup = read_small("/proc/self/cgroup")?;
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim();
        if controllers.is_empty() {
            if let Some(q) = read_small(&format!("/sys/fs/cgroup{path}/cpu.max"))
                .as_deref()
                .and_then(parse_cpu_max)
            {
                return Some(q);
            }
        } else if controllers.split(',').any(|c| c == "cpu") {
            let base = format!("/sys/fs/cgroup/{controllers}{path}");
            let num = |f: &str| {
                read_small(&format!("{base}/{f}"))?
                    .trim()
                    .parse::<f64>()
                    .ok()
            };
            if let (Some(q), Some(p)) = (num("cpu.cfs_quota_us"), num("cpu.cfs_period_us")) {
                if q > 0.0 && p > 0.0 {
                    return Some(q / p);
                }
            }
        }
    }
    None
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
        let per = parse_proc_stat_cpus(text, 100.0).unwrap();
        assert_eq!(per.len(), 2);
        assert_eq!(per[1].0, 1);
        assert!((per[0].1 - 0.86).abs() < 1e-12, "{per:?}");
    }

    #[test]
    fn schedstat_topology_and_quota_parse() {
        assert_eq!(parse_schedstat("238790 1500 1\n"), Some((238_790, 1500)));
        assert_eq!(parse_schedstat("x"), None);
        // Two cores with two threads each, numbered as many machines do: 0,2 and 1,3 siblings.
        let core = |c: usize| Some((0, (c % 2) as u64));
        assert_eq!(physical_cores_first(&[0, 1, 2, 3], core), [0, 1, 2, 3]);
        // Siblings numbered next to each other: 0,1 and 2,3.
        let core = |c: usize| Some((0, (c / 2) as u64));
        assert_eq!(physical_cores_first(&[0, 1, 2, 3], core), [0, 2, 1, 3]);
        assert_eq!(physical_cores_first(&[1, 3], |_| None), [1, 3]);
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max(""), None);
    }

    #[test]
    fn the_sampler_sees_this_process_threads_run() {
        let started = ThreadWaitSampler::start();
        assert_eq!(
            started.is_some(),
            std::path::Path::new("/proc/self/task").exists(),
            "the sampler runs wherever /proc/self/task is listed"
        );
        let Some(s) = started else {
            return;
        };
        let worker = std::thread::spawn(|| {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_millis(100) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        });
        let _ = worker.join();
        let (run, wait) = s.finish().unwrap();
        assert!(run > 0.0 && wait >= 0.0, "{run} {wait}");
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
