//! Engine choice and per-stage worker counts (`--engine`, `--workers`, `--stage-workers`).

use std::fmt;
use std::str::FromStr;

use super::Stage;

/// The execution strategy. Its names (`staged`, `rayon`, `serial`) are written once, in
/// [`Engine::ALL`]: `Display`, `FromStr`, serde, the command line and the sweep's
/// `--engine` lists all read them from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// A token pipeline on one pool of N workers (the oneTBB `parallel_pipeline` model): a
    /// free worker runs the ready stage furthest downstream, at most `in_flight` files are
    /// alive at once, and stages may be capped.
    Staged,
    /// File-level data parallelism on a rayon pool: each task carries one file through every
    /// stage (the book's `Pool.map`).
    Rayon,
    /// One thread, no channels: the one-worker baseline.
    Serial,
}

/// Each engine's name and one-line help (`--help` lists it), in declaration order.
const ENGINE_NAMES: [(&str, &str); 3] = [
    (
        "staged",
        "A token pipeline on one pool of N workers (the oneTBB `parallel_pipeline` model): a \
         free worker runs the ready stage furthest downstream, at most `in_flight` files are \
         alive at once, and stages may be capped",
    ),
    (
        "rayon",
        "File-level data parallelism on a rayon pool: each task carries one file through every \
         stage (the book's `Pool.map`)",
    ),
    ("serial", "One thread, no channels: the one-worker baseline"),
];

impl Engine {
    /// Every engine, in the order the help lists them.
    pub const ALL: [Engine; 3] = [Engine::Staged, Engine::Rayon, Engine::Serial];

    /// The engine's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        ENGINE_NAMES[self as usize].0
    }

    /// The engine's one-line description (the `--engine` help).
    pub fn help(self) -> &'static str {
        ENGINE_NAMES[self as usize].1
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine name that is not one of [`Engine::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEngine(pub String);

impl fmt::Display for UnknownEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown engine '{}': expected ", self.0)?;
        let last = Engine::ALL.len() - 1;
        for (i, e) in Engine::ALL.iter().enumerate() {
            let sep = match i {
                0 => "",
                _ if i == last => " or ",
                _ => ", ",
            };
            write!(f, "{sep}{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownEngine {}

impl FromStr for Engine {
    type Err = UnknownEngine;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| UnknownEngine(s.to_string()))
    }
}

impl serde::Serialize for Engine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Engine {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "binary")]
impl clap::ValueEnum for Engine {
    fn value_variants<'a>() -> &'a [Self] {
        &Engine::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.help()))
    }
}

/// The number of logical cores this process may use (1 if unknown): the default worker count.
pub fn logical_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One value per stage as named fields (`{"read": .., "decode": .., ..}` in JSON): the shape
/// of [`StageWorkers`] and [`StageCaps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageTable<T> {
    /// Reading file bytes.
    pub read: T,
    /// Decoding.
    pub decode: T,
    /// Gray + threshold.
    pub process: T,
    /// Encoding.
    pub encode: T,
    /// Writing files.
    pub write: T,
}

impl<T: Copy> StageTable<T> {
    /// The value for `stage`.
    pub fn get(&self, stage: Stage) -> T {
        match stage {
            Stage::Read => self.read,
            Stage::Decode => self.decode,
            Stage::Process => self.process,
            Stage::Encode => self.encode,
            Stage::Write => self.write,
        }
    }

    fn slot(&mut self, stage: Stage) -> &mut T {
        match stage {
            Stage::Read => &mut self.read,
            Stage::Decode => &mut self.decode,
            Stage::Process => &mut self.process,
            Stage::Encode => &mut self.encode,
            Stage::Write => &mut self.write,
        }
    }
}

/// Threads for each stage.
pub type StageWorkers = StageTable<usize>;

impl StageWorkers {
    /// `n` workers for every stage, reading and writing included (`n` at least 1).
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

/// How many of the N workers may run each stage at once (`--stage-workers read=1,write=2`,
/// e.g. one reader for a spinning disk or a network share); `None` leaves a stage uncapped
/// (it may use every worker).
pub type StageCaps = StageTable<Option<usize>>;

impl Default for StageCaps {
    fn default() -> Self {
        Self::NONE
    }
}

impl StageCaps {
    /// No stage capped.
    pub const NONE: StageCaps = StageCaps {
        read: None,
        decode: None,
        process: None,
        encode: None,
        write: None,
    };

    /// How many of `workers` may run `stage` at once (at least one).
    pub fn limit(&self, stage: Stage, workers: usize) -> usize {
        self.get(stage).map_or(workers, |c| c.min(workers)).max(1)
    }

    /// The caps a `--stage-workers` list sets (later entries win).
    pub fn from_overrides(spec: &StageOverrides) -> Self {
        let mut caps = Self::NONE;
        for &(stage, n) in &spec.0 {
            *caps.slot(stage) = Some(n);
        }
        caps
    }

    /// Whether any stage is capped.
    pub fn any(&self) -> bool {
        Stage::ALL.into_iter().any(|s| self.get(s).is_some())
    }
}

impl fmt::Display for StageCaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in Stage::ALL {
            if let Some(n) = self.get(s) {
                write!(f, "{}{}={n}", if first { "" } else { "," }, s.name())?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
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
    fn caps_follow_the_overrides_and_never_exceed_the_workers() {
        let o: StageOverrides = "read=1,write=8".parse().unwrap();
        let c = StageCaps::from_overrides(&o);
        assert_eq!((c.read, c.decode, c.write), (Some(1), None, Some(8)));
        assert_eq!(c.limit(Stage::Read, 4), 1);
        assert_eq!(c.limit(Stage::Decode, 4), 4);
        assert_eq!(c.limit(Stage::Write, 4), 4);
        assert_eq!(c.to_string(), "read=1,write=8");
        assert_eq!(StageCaps::NONE.to_string(), "none");
        assert!(c.any() && !StageCaps::NONE.any());
    }

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
