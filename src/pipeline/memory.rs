//! The memory budget (`--max-memory`): a file's bytes count from the start of its read (its
//! size, asked for before any byte is read), and it is admitted to decoding only when the
//! working set its header announces fits what the other files leave, so that many large files
//! at once cannot exhaust memory even when each is within the pixel limit. A file whose working
//! set alone is over the budget fails with a reason; the batch goes on.
//!
//! Waiting never holds budget: a read that does not fit waits before opening its bytes, and a
//! file whose working set does not fit lets its bytes go while it waits and reads them again
//! once admitted (only under memory pressure). So waiting files can never block each other,
//! and the files' bytes, pixels and buffers stay within the budget together. (A file that
//! grows while it is read is counted at the size it had when opened.)

use std::sync::{Condvar, Mutex, PoisonError};

/// A budget in bytes shared by the workers of one run (the rayon engine's; the token pipeline
/// keeps its count under its own lock). Those who wait ([`MemoryBudget::admit`]: a new read,
/// or a file that let its bytes go) are served in the order they came, and no later
/// [`MemoryBudget::admit`] is served before them even if it would fit, so a large file is not
/// starved by the small ones behind it. [`MemoryBudget::try_admit`] (a file growing its share
/// from its bytes to its working set) never waits and is not queued: only files already
/// admitted use it, once each, so it cannot starve a waiter.
#[derive(Debug)]
pub(super) struct MemoryBudget {
    total: u64,
    state: Mutex<Used>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Used {
    /// Bytes admitted now.
    now: u64,
    /// The most ever admitted at once.
    peak: u64,
    /// Tickets given to waiters so far, and the ticket served next: waiters are served in
    /// turn.
    issued: u64,
    serving: u64,
}

/// Bytes admitted; given back when dropped.
#[derive(Debug)]
pub(super) struct Admission<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    /// A budget of `total` bytes.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            state: Mutex::new(Used::default()),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Used> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most bytes that were ever admitted at once.
    pub fn peak(&self) -> u64 {
        self.lock().peak
    }

    /// The bytes admitted now.
    pub fn held(&self) -> u64 {
        self.lock().now
    }

    /// The whole budget in bytes.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Takes `need` bytes if they fit now; `None` (nothing taken) if not.
    pub fn try_admit(&self, need: u64) -> Option<Admission<'_>> {
        let mut used = self.lock();
        if used.now + need > self.total {
            return None;
        }
        Some(self.take(&mut used, need))
    }

    /// Waits for its turn and until `need` bytes fit, then takes them. `Err` with the reason
    /// when `need` alone is more than the whole budget (waiting would never help).
    pub fn admit(&self, need: u64) -> Result<Admission<'_>, String> {
        if need > self.total {
            return Err(over_budget(need, self.total));
        }
        let mut used = self.lock();
        let ticket = used.issued;
        used.issued += 1;
        while used.serving != ticket || used.now + need > self.total {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(PoisonError::into_inner);
        }
        used.serving += 1;
        let admitted = self.take(&mut used, need);
        // The next in turn may fit as well.
        self.freed.notify_all();
        Ok(admitted)
    }

    fn take(&self, used: &mut Used, need: u64) -> Admission<'_> {
        used.now += need;
        used.peak = used.peak.max(used.now);
        Admission {
            budget: self,
            bytes: need,
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.lock();
        used.now -= self.bytes;
        self.budget.freed.notify_all();
    }
}

/// The reason given to a file too large for the budget.
pub(super) fn over_budget(need: u64, total: u64) -> String {
    format!(
        "decoding it would need about {} of memory, more than the whole budget of {} (--max-memory)",
        crate::report::human_bytes(need),
        crate::report::human_bytes(total)
    )
}

/// Parses a size: a number with an optional unit, `B`, `K`/`KB`/`KiB`, `M`, `G`, `T` (decimal
/// units are powers of 1000, binary ones of 1024; a bare letter is binary), e.g. `2GiB`,
/// `512MB`, `1.5G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a size (e.g. 2GiB, 512MB, 1.5G, 800000000)");
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        "t" | "tib" => 1024f64.powi(4),
        "tb" => 1e12,
        _ => return Err(bad()),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// The default budget: half of the memory this process may use, the smallest of physical
/// memory, the cgroup's limit (containers, Slurm jobs) and the address-space limit (`ulimit -v`);
/// 2 GiB where none can be read.
pub fn default_budget() -> u64 {
    [meminfo_total(), cgroup_limit(), address_space_limit()]
        .into_iter()
        .flatten()
        .min()
        .map_or(2 << 30, |m| m / 2)
}

/// `RLIMIT_AS`, when set: allocations past it fail, and Rust aborts on a failed allocation.
fn address_space_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit for the call.
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0
            && lim.rlim_cur != libc::RLIM_INFINITY
        {
            return Some(lim.rlim_cur);
        }
    }
    None
}

fn meminfo_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`, of the cgroup this process is in.
fn cgroup_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let candidates = if controllers.is_empty() {
            vec![format!("/sys/fs/cgroup{path}/memory.max")]
        } else if controllers.split(',').any(|c| c == "memory") {
            vec![format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")]
        } else {
            continue;
        };
        for c in candidates {
            if let Ok(v) = std::fs::read_to_string(&c) {
                // "max" (v2) or a huge number (v1) mean no limit.
                if let Ok(n) = v.trim().parse::<u64>() {
                    if n < (1u64 << 60) {
                        return Some(n);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512MB"), Ok(512_000_000));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert_eq!(parse_size("800"), Ok(800));
        for bad in ["", "GiB", "-1G", "2XB", "0", "1e99T", "nan"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_is_some_real_fraction_of_memory() {
        let d = default_budget();
        assert!(d >= 16 << 20, "{d}");
        if let Some(p) = meminfo_total() {
            assert!(d <= p / 2);
        }
    }

    #[test]
    fn admissions_never_exceed_the_budget_and_too_big_fails_at_once() {
        let budget = MemoryBudget::new(100);
        assert!(budget.admit(101).unwrap_err().contains("--max-memory"));
        let live = AtomicU64::new(0);
        let peak = AtomicU64::new(0);
        std::thread::scope(|s| {
            for i in 0..8u64 {
                let (budget, live, peak) = (&budget, &live, &peak);
                s.spawn(move || {
                    for _ in 0..50 {
                        let need = 30 + i * 5;
                        let _a = budget.admit(need).unwrap();
                        let now = live.fetch_add(need, Ordering::SeqCst) + need;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        live.fetch_sub(need, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 100);
        assert!(budget.peak() <= 100 && budget.peak() >= 65);
        assert_eq!(budget.lock().now, 0);
    }

    #[test]
    fn a_waiter_is_served_before_anything_that_arrives_after_it() {
        let budget = MemoryBudget::new(100);
        let held = budget.try_admit(60).unwrap();
        let order = Mutex::new(Vec::new());
        let wait_for_tickets = |n| {
            while budget.lock().issued < n {
                std::thread::yield_now();
            }
        };
        std::thread::scope(|s| {
            // 80 does not fit beside the 60: it waits, first in turn.
            s.spawn(|| {
                let _a = budget.admit(80).unwrap();
                order.lock().unwrap().push(80);
            });
            wait_for_tickets(1);
            // 30 would fit beside the 60, but waits for its turn behind the 80.
            s.spawn(|| {
                let _a = budget.admit(30).unwrap();
                order.lock().unwrap().push(30);
            });
            wait_for_tickets(2);
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(order.lock().unwrap().is_empty());
            drop(held);
        });
        assert_eq!(*order.lock().unwrap(), [80, 30]);
        assert_eq!(budget.lock().now, 0);
    }
}
