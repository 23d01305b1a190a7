//! Per-stage figures: where the time went (thread CPU time, or busy wall time when the engine
//! did not measure CPU), the heaviest stage, the staged engine's queue evidence of a
//! bottleneck, a per-stage thread split, and the wall-time bound the bigger machine
//! ([`super::bigger`]) is predicted with.

use serde::{Deserialize, Serialize};

use super::robust::median;
use super::samples::PointSamples;
use crate::pipeline::{Engine, StageWorkers};
use crate::pipeline::{PerStage, Stage};

/// Which clock the stage figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageClock {
    /// Thread CPU time (CLOCK_THREAD_CPUTIME_ID).
    Cpu,
    /// Wall time in the stage, waiting for a core included (the engine measured no CPU).
    BusyWall,
}

/// A point's per-stage figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageFigures {
    /// The clock behind `seconds`.
    pub clock: StageClock,
    /// Median seconds per stage over the runs (read, decode, process, encode, write).
    pub seconds: PerStage<f64>,
    /// Each stage's share of their sum.
    pub share: PerStage<f64>,
    /// The stage with the most time per thread given to it.
    pub heaviest: Stage,
    /// Staged engine only: the stage files waited longest in front of (queue evidence); None
    /// for other engines or without such waiting.
    pub bottleneck: Option<Stage>,
}

/// Queue waits shorter than this share of the wall time are not evidence of anything.
const QUEUE_EVIDENCE_SHARE: f64 = 0.01;

fn stage_medians(
    p: &PointSamples,
    pick: impl Fn(&super::RunSample) -> PerStage<f64>,
) -> PerStage<f64> {
    PerStage::from_fn(|s| median(&p.runs.iter().map(|r| pick(r)[s]).collect::<Vec<_>>()))
}

/// The figures of one point.
pub fn stage_figures(p: &PointSamples) -> StageFigures {
    let cpu_measured = p
        .runs
        .iter()
        .any(|r| r.stage_cpu_seconds.iter().any(|&c| c > 0.0));
    let (clock, seconds) = if cpu_measured {
        (StageClock::Cpu, stage_medians(p, |r| r.stage_cpu_seconds))
    } else {
        (
            StageClock::BusyWall,
            stage_medians(p, |r| r.stage_busy_seconds),
        )
    };
    let total: f64 = seconds.iter().sum();
    let share = seconds.map(|s| if total > 0.0 { s / total } else { 0.0 });
    let threads = |s: Stage| match p.engine {
        Engine::Staged => p.stage_workers.get(s).max(1) as f64,
        _ => 1.0,
    };
    let heaviest = Stage::ALL
        .into_iter()
        .max_by(|&a, &b| (seconds[a] / threads(a)).total_cmp(&(seconds[b] / threads(b))))
        .unwrap_or(Stage::Process);
    let bottleneck = (p.engine == Engine::Staged)
        .then(|| {
            let waited = stage_medians(p, |r| r.stage_wait_seconds);
            let wall = median(&p.runs.iter().map(|r| r.wall_seconds).collect::<Vec<_>>());
            // A stage is the bottleneck when files queued in front of it, ready, waiting for
            // one of its (capped) workers.
            waited
                .stages()
                .map(|(s, &w)| (s, w))
                .filter(|&(_, w)| wall > 0.0 && w > QUEUE_EVIDENCE_SHARE * wall)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(s, _)| s)
        })
        .flatten();
    StageFigures {
        clock,
        seconds,
        share,
        heaviest,
        bottleneck,
    }
}

/// Threads per stage in proportion to each stage's share of time on `cores` cores: each stage
/// gets `ceil(share x cores)`, at least one and never more than the cores.
pub fn split_by_share(share: &PerStage<f64>, cores: usize) -> StageWorkers {
    let c = cores.max(1);
    let w = |s: Stage| ((share[s] * c as f64 - 1e-9).ceil() as usize).clamp(1, c);
    StageWorkers {
        read: w(Stage::Read),
        decode: w(Stage::Decode),
        process: w(Stage::Process),
        encode: w(Stage::Encode),
        write: w(Stage::Write),
    }
}

/// The wall-time bound for stage times `b` on `cores` cores with `w` threads per stage:
/// `max(max_s b_s / w_s, sum b / cores)`.
pub fn stage_bound(b: &PerStage<f64>, w: Option<&StageWorkers>, cores: usize) -> f64 {
    let sum: f64 = b.iter().sum();
    let per_stage = w.map_or(0.0, |w| {
        Stage::ALL
            .iter()
            .map(|&s| b[s] / w.get(s).max(1) as f64)
            .fold(0.0, f64::max)
    });
    per_stage.max(sum / cores.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_uses_ceil_and_never_exceeds_the_cores() {
        let w = split_by_share(&PerStage([0.05, 0.3, 0.45, 0.1, 0.1]), 2);
        assert_eq!(
            (w.read, w.decode, w.process, w.encode, w.write),
            (1, 1, 1, 1, 1)
        );
        let w = split_by_share(&PerStage([0.05, 0.3, 0.45, 0.1, 0.1]), 10);
        assert_eq!(
            (w.read, w.decode, w.process, w.encode, w.write),
            (1, 3, 5, 1, 1)
        );
        let w = split_by_share(&PerStage([0.0, 0.0, 1.0, 0.0, 0.0]), 4);
        assert_eq!(w.process, 4);
        for c in 1..40 {
            let w = split_by_share(&PerStage([0.01, 0.33, 0.5, 0.15, 0.01]), c);
            assert!(Stage::ALL.iter().all(|&s| (1..=c).contains(&w.get(s))));
        }
    }

    #[test]
    fn stage_bound_is_the_larger_of_the_slowest_stage_and_the_total_over_cores() {
        let b = PerStage([0.1, 1.0, 2.0, 0.4, 0.1]);
        assert!((stage_bound(&b, None, 2) - 1.8).abs() < 1e-12);
        let w = StageWorkers {
            read: 1,
            decode: 1,
            process: 1,
            encode: 1,
            write: 1,
        };
        assert!((stage_bound(&b, Some(&w), 8) - 2.0).abs() < 1e-12);
    }
}
