//! A [`Timeline`] binned into a fixed number of columns, small enough to keep in a run record
//! or a sweep export and to draw in a page whatever the number of files: per worker, what it
//! mostly did in each column; per column, the most files in flight, memory held and files
//! queued in front of each stage.

use serde::{Deserialize, Serialize};

use super::{MarkKind, Timeline};
use crate::pipeline::{PerStage, Stage};

/// Columns of a summary: fine enough for a page's width.
pub const BINS: usize = 400;

/// Most marks kept in a summary (the run record lists every failure anyway).
pub const MAX_MARKS: usize = 200;

/// A run of columns in which a worker mostly did one thing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// First column.
    pub from: u32,
    /// One past the last column.
    pub to: u32,
    /// The stage the worker spent most of these columns in.
    pub stage: Stage,
    /// Share of these columns the worker was busy, in quarters (1 to 4).
    pub busy_quarters: u8,
}

/// A marker kept in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkSummary {
    /// `failure`, `refusal` or `cancelled`.
    pub kind: String,
    /// Seconds from the start of the run.
    pub at_seconds: f64,
    /// The worker, if any.
    pub worker: Option<usize>,
    /// The file's name, if any.
    pub file: Option<String>,
    /// The stage, if any.
    pub stage: Option<Stage>,
    /// Why.
    pub reason: String,
}

/// The binned timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineSummary {
    /// Wall seconds of the run.
    pub wall_seconds: f64,
    /// Worker tracks.
    pub workers: usize,
    /// Columns.
    pub bins: usize,
    /// Per worker, its segments in time order (idle columns have none).
    pub lanes: Vec<Vec<Segment>>,
    /// Per column, the most files in flight.
    pub in_flight: Vec<u32>,
    /// Per column, the most memory budget bytes held.
    pub memory_bytes: Vec<u64>,
    /// Per stage, per column, the most files waiting in front of it (None: the engine has no
    /// queues).
    pub queues: Option<PerStage<Vec<u32>>>,
    /// Per stage, the summed seconds of its slices.
    pub stage_seconds: PerStage<f64>,
    /// Slices recorded (one per file per stage it ran).
    pub slices: usize,
    /// Failures, refusals and cancellation (at most [`MAX_MARKS`]).
    pub marks: Vec<MarkSummary>,
    /// Marks left out past [`MAX_MARKS`].
    pub marks_left_out: usize,
}

impl TimelineSummary {
    /// Bins `t` into [`BINS`] columns; `file(i)` names file `i`.
    pub fn of(t: &Timeline, file: &dyn Fn(usize) -> String) -> Self {
        let bins = BINS;
        let wall = t.wall_ns.max(1);
        let col = |ns: u64| ((ns as u128 * bins as u128 / wall as u128) as usize).min(bins - 1);
        let bin_ns = wall as f64 / bins as f64;
        // busy[worker][column][stage] in ns
        let mut busy = vec![vec![[0f64; 5]; bins]; t.workers];
        let mut stage_seconds = PerStage::<f64>::default();
        for s in &t.slices {
            stage_seconds[s.stage] += s.dur_ns as f64 / 1e9;
            let Some(lane) = busy.get_mut(s.worker) else {
                continue;
            };
            let (a, b) = (s.start_ns, s.start_ns.saturating_add(s.dur_ns).min(wall));
            for (c, cell) in lane.iter_mut().enumerate().take(col(b) + 1).skip(col(a)) {
                let c0 = c as f64 * bin_ns;
                let c1 = c0 + bin_ns;
                let overlap = (b as f64).min(c1) - (a as f64).max(c0);
                if overlap > 0.0 {
                    cell[s.stage.index()] += overlap;
                }
            }
        }
        let lanes = busy
            .iter()
            .map(|lane| {
                let mut segs: Vec<Segment> = Vec::new();
                for (c, cell) in lane.iter().enumerate() {
                    let total: f64 = cell.iter().sum();
                    let quarters = ((total / bin_ns) * 4.0).round().clamp(0.0, 4.0) as u8;
                    if quarters == 0 {
                        continue;
                    }
                    let top = (0..5)
                        .max_by(|&i, &j| cell[i].total_cmp(&cell[j]))
                        .unwrap_or(0);
                    let stage = Stage::ALL[top];
                    match segs.last_mut() {
                        Some(last)
                            if last.to as usize == c
                                && last.stage == stage
                                && last.busy_quarters == quarters =>
                        {
                            last.to += 1
                        }
                        _ => segs.push(Segment {
                            from: c as u32,
                            to: c as u32 + 1,
                            stage,
                            busy_quarters: quarters,
                        }),
                    }
                }
                segs
            })
            .collect();
        let mut in_flight = vec![0u32; bins];
        let mut memory_bytes = vec![0u64; bins];
        let has_queues = t.samples.iter().any(|s| s.queues.is_some());
        let mut queues = PerStage::from_fn(|_| vec![0u32; bins]);
        // A counter holds its value until the next sample: carry it over empty columns.
        let mut last: Option<(u32, u64, PerStage<u32>)> = None;
        let mut next = 0;
        for c in 0..bins {
            let end = ((c + 1) as f64 * bin_ns) as u64;
            let mut col_max = last;
            while let Some(s) = t.samples.get(next).filter(|s| s.at_ns < end) {
                let q = s
                    .queues
                    .map(|q| q.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
                    .unwrap_or_default();
                let v = (u32::try_from(s.in_flight).unwrap_or(u32::MAX), s.memory, q);
                col_max = Some(match col_max {
                    None => v,
                    Some(m) => (
                        m.0.max(v.0),
                        m.1.max(v.1),
                        PerStage::from_fn(|st| m.2[st].max(v.2[st])),
                    ),
                });
                last = Some(v);
                next += 1;
            }
            if let Some((f, m, q)) = col_max {
                in_flight[c] = f;
                memory_bytes[c] = m;
                for st in Stage::ALL {
                    queues[st][c] = q[st];
                }
            }
        }
        let marks = t
            .marks
            .iter()
            .take(MAX_MARKS)
            .map(|m| MarkSummary {
                kind: m.kind.name().to_string(),
                at_seconds: m.at_ns as f64 / 1e9,
                worker: m.worker,
                file: m.file.map(file),
                stage: m.stage,
                reason: m.reason.clone(),
            })
            .collect();
        TimelineSummary {
            wall_seconds: t.wall_ns as f64 / 1e9,
            workers: t.workers,
            bins,
            lanes,
            in_flight,
            memory_bytes,
            queues: has_queues.then_some(queues),
            stage_seconds,
            slices: t.slices.len(),
            marks,
            marks_left_out: t.marks.len().saturating_sub(MAX_MARKS),
        }
    }

    /// Whether the run was cancelled.
    pub fn cancelled(&self) -> bool {
        self.marks.iter().any(|m| m.kind == MarkKind::Cancel.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Sample, Slice};

    #[test]
    fn a_worker_busy_half_the_run_in_decode_shows_as_decode_then_idle() {
        let t = Timeline {
            workers: 2,
            wall_ns: 1000,
            slices: vec![Slice {
                worker: 1,
                file: 0,
                stage: Stage::Decode,
                start_ns: 0,
                dur_ns: 500,
                bytes: 1,
                failed: false,
            }],
            marks: vec![],
            samples: vec![
                Sample {
                    at_ns: 0,
                    in_flight: 3,
                    memory: 9,
                    queues: Some(PerStage([0, 2, 0, 0, 0])),
                },
                Sample {
                    at_ns: 600,
                    in_flight: 1,
                    memory: 0,
                    queues: Some(PerStage([0; 5])),
                },
            ],
        };
        let s = TimelineSummary::of(&t, &|i| format!("f{i}"));
        assert!(s.lanes[0].is_empty());
        assert_eq!(
            s.lanes[1],
            vec![Segment {
                from: 0,
                to: (BINS / 2) as u32,
                stage: Stage::Decode,
                busy_quarters: 4
            }]
        );
        assert_eq!(s.in_flight[0], 3);
        assert_eq!(s.in_flight[BINS / 2], 3, "held until the next sample");
        assert_eq!(s.in_flight[BINS - 1], 1);
        assert_eq!(s.queues.as_ref().unwrap()[Stage::Decode][1], 2);
        assert!((s.stage_seconds[Stage::Decode] - 5e-7).abs() < 1e-12);
    }
}
