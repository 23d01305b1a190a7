//! Parsing of `--workers 1,2,4` / `1..8` lists and `--engine staged,rayon` lists.

use crate::pipeline::{Engine, UnknownEngine};

/// Parses `1,2,4,8`, `1..8` or `1..=8` (ranges are inclusive), or a mix (`1..4,8,16`).
/// Returns the sorted, de-duplicated counts.
pub fn parse_worker_list(s: &str) -> Result<Vec<usize>, String> {
    let bad = |part: &str| format!("'{part}' is not a worker count or range (e.g. 1,2,4 or 1..8)");
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parse = |t: &str| -> Result<usize, String> {
            t.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| bad(part))
        };
        if let Some((a, b)) = part.split_once("..") {
            let (a, b) = (parse(a)?, parse(b.trim_start_matches('='))?);
            if a > b {
                return Err(format!("range '{part}' runs backwards"));
            }
            out.extend(a..=b);
        } else {
            out.push(parse(part)?);
        }
    }
    if out.is_empty() {
        return Err("no worker counts given".into());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Parses `staged,rayon` into engines, in the order given, without repeats.
pub fn parse_engines(s: &str) -> Result<Vec<Engine>, String> {
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let e: Engine = name.parse().map_err(|e: UnknownEngine| e.to_string())?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        return Err("no engine given".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_lists_and_ranges() {
        assert_eq!(parse_worker_list("1,2,4,8").unwrap(), [1, 2, 4, 8]);
        assert_eq!(parse_worker_list("1..6").unwrap(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(parse_worker_list("1..=3,8,2").unwrap(), [1, 2, 3, 8]);
        for bad in ["", "0", "a", "4..2", "1..x"] {
            assert!(parse_worker_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn engine_lists() {
        assert_eq!(
            parse_engines("staged,rayon").unwrap(),
            [Engine::Staged, Engine::Rayon]
        );
        assert_eq!(
            parse_engines("fast").unwrap_err(),
            "unknown engine 'fast': expected staged, rayon or serial"
        );
        for e in Engine::ALL {
            assert_eq!(e.to_string().parse::<Engine>(), Ok(e));
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{e}\""));
            assert_eq!(serde_json::from_str::<Engine>(&json).unwrap(), e);
        }
    }
}

/// A parsed `--workers` list (for clap, which treats a bare `Vec` as repeated values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerList(pub Vec<usize>);

impl std::str::FromStr for WorkerList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_worker_list(s).map(WorkerList)
    }
}

/// A parsed `--engine` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineList(pub Vec<Engine>);

impl std::str::FromStr for EngineList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_engines(s).map(EngineList)
    }
}
