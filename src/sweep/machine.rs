//! What machine a sweep ran on.

/// Logical cores, CPU model and operating system.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    /// Logical cores available to this process.
    pub logical_cores: usize,
    /// CPU model name, where the OS tells it.
    pub cpu: String,
    /// Operating system and kernel.
    pub os: String,
}

impl Machine {
    /// Reads the current machine's description.
    pub fn current() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let pretty = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|k| k.trim().to_string());
        let os = match (pretty, kernel) {
            (Some(p), Some(k)) => format!("{p}, kernel {k}"),
            (Some(p), None) => p,
            (None, Some(k)) => format!("{} {k}", std::env::consts::OS),
            (None, None) => std::env::consts::OS.to_string(),
        };
        Machine {
            logical_cores: crate::pipeline::logical_cores(),
            cpu,
            os,
        }
    }
}
