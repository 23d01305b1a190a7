//! Engine choice and per-stage worker counts (`--engine`, `--workers`, `--stage-workers`).

use std::fmt;
use std::str::FromStr;

use crate::error::Stage;

/// The execution strategy.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// A pool of threads per stage, joined by bounded channels.
    Staged,
    /// File-level data parallelism on a rayon pool: each task carries one file through every
    /// stage (the book's `Pool.map`).
    Rayon,
    /// One thread, no channels: the one-worker baseline.
    Serial,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Staged => "staged",
            Engine::Rayon => "rayon",
            Engine::Serial => "serial",
        })
    }
}

/// Threads for each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageWorkers {
    /// Reading file bytes.
    pub read: usize,
    /// Decoding.
    pub decode: usize,
    /// Gray + threshold.
    pub process: usize,
    /// Encoding.
    pub encode: usize,
    /// Writing files.
    pub write: usize,
}

impl StageWorkers {
    /// `n` workers for each compute stage (decode, process, encode), one reader and one writer.
    pub fn uniform(n: usize) -> Self {
        let n = n.max(1);
        Self {
            read: n,
            decode: n,
            process: n,
            encode: n,
            write: n,
        }
    }

    /// The count for `stage`.
    pub fn get(&self, stage: Stage) -> usize {
        match stage {
            Stage::Read => self.read,
            Stage::Decode => self.decode,
            Stage::Process => self.process,
            Stage::Encode => self.encode,
            Stage::Write => self.write,
        }
    }

    fn slot(&mut self, stage: Stage) -> &mut usize {
        match stage {
            Stage::Read => &mut self.read,
            Stage::Decode => &mut self.decode,
            Stage::Process => &mut self.process,
            Stage::Encode => &mut self.encode,
            Stage::Write => &mut self.write,
        }
    }

    /// Applies `read=2,decode=3,...` on top of these counts.
    pub fn with_overrides(mut self, spec: &StageOverrides) -> Self {
        for &(stage, n) in &spec.0 {
            *self.slot(stage) = n;
        }
        self
    }
}

impl fmt::Display for StageWorkers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read={},decode={},process={},encode={},write={}",
            self.read, self.decode, self.process, self.encode, self.write
        )
    }
}

/// Parsed `--stage-workers read=2,decode=3` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageOverrides(pub Vec<(Stage, usize)>);

impl FromStr for StageOverrides {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, count) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not STAGE=N (e.g. read=2,decode=3)"))?;
            let stage = Stage::ALL
                .into_iter()
                .find(|st| st.name() == name.trim())
                .ok_or_else(|| {
                    format!(
                        "unknown stage '{name}': expected read, decode, process, encode or write"
                    )
                })?;
            let n: usize = count
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| {
                    format!("'{count}' for {name} is not a worker count from 1 to 1024")
                })?;
            out.push((stage, n));
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_apply() {
        let o: StageOverrides = "read=2, write=3".parse().unwrap();
        let w = StageWorkers::uniform(4).with_overrides(&o);
        assert_eq!(
            (w.read, w.decode, w.process, w.encode, w.write),
            (2, 4, 4, 4, 3)
        );
        assert!("read".parse::<StageOverrides>().is_err());
        assert!("blur=2".parse::<StageOverrides>().is_err());
        assert!("read=0".parse::<StageOverrides>().is_err());
    }
}
