//! Comparing two sweeps (`graypipe compare A.json B.json`, `sweep --compare A.json`): per
//! point (engine, workers, cores allowed) the ratio of median wall times B / A with a
//! percentile-bootstrap interval over both sweeps' runs, and a verdict only where that interval
//! lies wholly beyond a threshold. Pure functions over the exported runs; the text is
//! [`crate::report::compare_table`]'s.
//!
//! The exports are read through a view of their own ([`ComparedSweep`]): only the fields a
//! comparison needs, so sweeps written by other graypipe versions compare as long as they
//! kept their per-run wall times.

use serde::{Deserialize, Serialize};

use super::analysis::median;
use super::bootstrap::{self, Group, Interval};
use super::SweepRecord;
use crate::pipeline::Engine;

/// The default threshold: a change smaller than 5% is not called a change.
pub const DEFAULT_THRESHOLD: f64 = 0.05;

/// One counted run, as a comparison sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparedRun {
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// Files that failed in the run (such runs are no timing samples).
    #[serde(default)]
    pub failed: usize,
}

/// One point of a sweep, as a comparison sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparedPoint {
    /// Engine.
    pub engine: Engine,
    /// Worker count.
    pub workers: usize,
    /// Cores the runs were allowed.
    pub cores_allowed: usize,
    /// The counted runs.
    pub runs: Vec<ComparedRun>,
}

/// The job a sweep measured, as far as a comparison checks it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparedJob {
    /// The operation as a SPEC.
    #[serde(default)]
    pub operation: String,
    /// Output format.
    #[serde(default)]
    pub format: String,
    /// Files per run.
    #[serde(default)]
    pub files: usize,
    /// Megapixels per run.
    #[serde(default)]
    pub megapixels: f64,
}

/// A sweep export, as far as a comparison reads it (unknown fields are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparedSweep {
    /// graypipe's version that measured it.
    #[serde(default)]
    pub graypipe_version: String,
    /// The job.
    #[serde(default)]
    pub job: ComparedJob,
    /// Raw counted runs per point.
    pub points: Vec<ComparedPoint>,
}

impl ComparedSweep {
    /// The view of a sweep just measured.
    pub fn from_record(r: &SweepRecord) -> Self {
        ComparedSweep {
            graypipe_version: r.graypipe_version.clone(),
            job: ComparedJob {
                operation: r.job.operation.clone(),
                format: r.job.format.clone(),
                files: r.job.files,
                megapixels: r.job.megapixels,
            },
            points: r
                .points
                .iter()
                .map(|p| ComparedPoint {
                    engine: p.engine,
                    workers: p.workers,
                    cores_allowed: p.cores_allowed,
                    runs: p
                        .runs
                        .iter()
                        .map(|r| ComparedRun {
                            wall_seconds: r.wall_seconds,
                            failed: r.failed,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// What the data say about one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// B is slower: the whole interval of B / A lies above `1 + threshold`.
    Slower,
    /// B is faster: the whole interval lies below `1 / (1 + threshold)`.
    Faster,
    /// No change beyond the threshold can be shown (the interval reaches into the band).
    NoDifference,
    /// Fewer than two usable runs on a side: no interval, so no verdict.
    TooFewRuns,
}

/// One point present in both sweeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointComparison {
    /// Engine.
    pub engine: Engine,
    /// Worker count.
    pub workers: usize,
    /// Cores allowed.
    pub cores_allowed: usize,
    /// Usable runs (no failed file, finite positive wall time) in A and in B.
    pub runs: (usize, usize),
    /// Median wall seconds in A.
    pub median_a: f64,
    /// Median wall seconds in B.
    pub median_b: f64,
    /// `median_b / median_a`: above 1, B took longer.
    pub ratio: f64,
    /// Bootstrap 95% interval of the ratio (None with fewer than two runs on a side).
    pub interval: Option<Interval>,
    /// The verdict at the comparison's threshold.
    pub verdict: Verdict,
    /// Whether the interval lies wholly inside the band: "no difference" is then shown, not
    /// merely not excluded.
    pub within_band: bool,
}

impl PointComparison {
    /// Whether the whole interval lies above `1 + pct/100`: B is slower by more than `pct`
    /// percent with 95% confidence.
    pub fn slower_than(&self, pct: f64) -> bool {
        self.interval.is_some_and(|i| i.low > 1.0 + pct / 100.0)
    }
}

/// A point that only one sweep measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmatchedPoint {
    /// Engine.
    pub engine: Engine,
    /// Worker count.
    pub workers: usize,
    /// Cores allowed.
    pub cores_allowed: usize,
    /// True when it is in A only, false when in B only.
    pub in_a: bool,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The threshold used for the verdicts (a share: 0.05 is 5%).
    pub threshold: f64,
    /// Points in both sweeps, in A's order.
    pub points: Vec<PointComparison>,
    /// Points in one sweep only.
    pub unmatched: Vec<UnmatchedPoint>,
    /// Differences between the two jobs (files, operation, format, version) that make the
    /// comparison one of different work, one line each.
    pub job_differences: Vec<String>,
}

impl Comparison {
    /// Points B measured slower than A by more than `pct` percent (interval wholly above).
    pub fn slower_than(&self, pct: f64) -> Vec<&PointComparison> {
        self.points.iter().filter(|p| p.slower_than(pct)).collect()
    }
}

fn usable_walls(p: &ComparedPoint) -> Vec<f64> {
    p.runs
        .iter()
        .filter(|r| r.failed == 0 && r.wall_seconds.is_finite() && r.wall_seconds > 0.0)
        .map(|r| r.wall_seconds)
        .collect()
}

/// The ratio of medians `b / a` with its 95% bootstrap interval: both sides' runs are
/// resampled independently (seeded, so the same runs give the same interval).
pub fn ratio_of_medians(a: &[f64], b: &[f64]) -> (f64, Option<Interval>) {
    let ratio = median(b) / median(a);
    let groups = [
        Group {
            n: 0.0,
            values: a.to_vec(),
        },
        Group {
            n: 1.0,
            values: b.to_vec(),
        },
    ];
    let interval = bootstrap::intervals(&groups, bootstrap::RESAMPLES, bootstrap::SEED, |g| {
        let (ma, mb) = (median(&g[0].values), median(&g[1].values));
        (ma > 0.0).then(|| vec![mb / ma])
    })
    .and_then(|v| v.first().copied());
    (ratio, interval)
}

/// The verdict for an interval of B / A at `threshold` (a share), and whether the interval
/// lies wholly inside the band `[1/(1+t), 1+t]`.
pub fn verdict(interval: Option<Interval>, threshold: f64) -> (Verdict, bool) {
    let Some(i) = interval else {
        return (Verdict::TooFewRuns, false);
    };
    let (low_band, high_band) = (1.0 / (1.0 + threshold), 1.0 + threshold);
    if i.low > high_band {
        (Verdict::Slower, false)
    } else if i.high < low_band {
        (Verdict::Faster, false)
    } else {
        (
            Verdict::NoDifference,
            i.low >= low_band && i.high <= high_band,
        )
    }
}

/// Compares sweep `b` against sweep `a` at `threshold` (a share, e.g. [`DEFAULT_THRESHOLD`]).
/// Runs that failed files are left out of the timings.
pub fn compare(a: &ComparedSweep, b: &ComparedSweep, threshold: f64) -> Comparison {
    let key = |p: &ComparedPoint| (p.engine, p.workers, p.cores_allowed);
    let mut points = Vec::new();
    let mut unmatched = Vec::new();
    for pa in &a.points {
        let Some(pb) = b.points.iter().find(|pb| key(pb) == key(pa)) else {
            unmatched.push(UnmatchedPoint {
                engine: pa.engine,
                workers: pa.workers,
                cores_allowed: pa.cores_allowed,
                in_a: true,
            });
            continue;
        };
        let (wa, wb) = (usable_walls(pa), usable_walls(pb));
        if wa.is_empty() || wb.is_empty() {
            unmatched.push(UnmatchedPoint {
                engine: pa.engine,
                workers: pa.workers,
                cores_allowed: pa.cores_allowed,
                in_a: wb.is_empty() && !wa.is_empty(),
            });
            continue;
        }
        let (ratio, interval) = ratio_of_medians(&wa, &wb);
        let (verdict, within_band) = verdict(interval, threshold);
        points.push(PointComparison {
            engine: pa.engine,
            workers: pa.workers,
            cores_allowed: pa.cores_allowed,
            runs: (wa.len(), wb.len()),
            median_a: median(&wa),
            median_b: median(&wb),
            ratio,
            interval,
            verdict,
            within_band,
        });
    }
    for pb in &b.points {
        if !a.points.iter().any(|pa| key(pa) == key(pb)) {
            unmatched.push(UnmatchedPoint {
                engine: pb.engine,
                workers: pb.workers,
                cores_allowed: pb.cores_allowed,
                in_a: false,
            });
        }
    }
    Comparison {
        threshold,
        points,
        unmatched,
        job_differences: job_differences(a, b),
    }
}

fn job_differences(a: &ComparedSweep, b: &ComparedSweep) -> Vec<String> {
    let mut out = Vec::new();
    let (ja, jb) = (&a.job, &b.job);
    if ja.files != jb.files {
        out.push(format!(
            "files per run differ: {} in A, {} in B",
            ja.files, jb.files
        ));
    }
    if (ja.megapixels - jb.megapixels).abs() > 1e-9 * ja.megapixels.abs().max(1.0) {
        out.push(format!(
            "megapixels per run differ: {:.2} in A, {:.2} in B",
            ja.megapixels, jb.megapixels
        ));
    }
    if ja.operation != jb.operation {
        out.push(format!(
            "operations differ: {} in A, {} in B",
            ja.operation, jb.operation
        ));
    }
    if ja.format != jb.format {
        out.push(format!(
            "output formats differ: {} in A, {} in B",
            ja.format, jb.format
        ));
    }
    if a.graypipe_version != b.graypipe_version {
        out.push(format!(
            "graypipe versions differ: {} in A, {} in B",
            a.graypipe_version, b.graypipe_version
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::rng::SplitMix64;

    fn sweep(points: &[(usize, Vec<f64>)]) -> ComparedSweep {
        ComparedSweep {
            graypipe_version: "0".into(),
            job: ComparedJob {
                operation: "gray".into(),
                format: "png".into(),
                files: 10,
                megapixels: 1.0,
            },
            points: points
                .iter()
                .map(|(w, walls)| ComparedPoint {
                    engine: Engine::Staged,
                    workers: *w,
                    cores_allowed: 2,
                    runs: walls
                        .iter()
                        .map(|&t| ComparedRun {
                            wall_seconds: t,
                            failed: 0,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// `runs` right-skewed timings around `centre` (log-normal, 3% sigma, plus a rare 30%
    /// straggler as a busy machine gives).
    fn timings(rng: &mut SplitMix64, centre: f64, runs: usize) -> Vec<f64> {
        (0..runs)
            .map(|_| {
                let straggler = if rng.below(20) == 0 { 1.3 } else { 1.0 };
                centre * (0.03 * rng.normal()).exp() * straggler
            })
            .collect()
    }

    #[test]
    fn two_samples_of_one_machine_are_never_called_different() {
        let mut rng = SplitMix64::new(7);
        let mut flagged = 0;
        let mut shown_same = 0;
        for _ in 0..100 {
            let a = sweep(&[(1, timings(&mut rng, 1.0, 20))]);
            let b = sweep(&[(1, timings(&mut rng, 1.0, 20))]);
            let c = compare(&a, &b, DEFAULT_THRESHOLD);
            let p = &c.points[0];
            flagged += usize::from(p.verdict != Verdict::NoDifference);
            shown_same += usize::from(p.within_band);
            assert!(c.slower_than(5.0).is_empty());
        }
        assert_eq!(flagged, 0, "a 5% threshold over a 3% noise");
        // 20 runs a side pin the ratio of medians to about ±3%: most intervals show it.
        assert!(shown_same >= 80, "{shown_same} of 100 intervals inside ±5%");
    }

    #[test]
    fn a_real_slowdown_is_found_with_its_interval_and_fails_the_check() {
        let mut rng = SplitMix64::new(8);
        let (mut found, mut covered) = (0, 0);
        for _ in 0..50 {
            let a = sweep(&[
                (1, timings(&mut rng, 1.0, 20)),
                (2, timings(&mut rng, 0.55, 20)),
            ]);
            let b = sweep(&[
                (1, timings(&mut rng, 1.2, 20)),
                (2, timings(&mut rng, 0.55, 20)),
            ]);
            let c = compare(&a, &b, DEFAULT_THRESHOLD);
            let p = &c.points[0];
            let i = p.interval.unwrap();
            assert!(i.contains(p.ratio), "{p:?}");
            covered += usize::from(i.contains(1.2));
            if p.verdict == Verdict::Slower {
                found += 1;
                assert_eq!(c.slower_than(5.0).len(), 1);
            }
            assert_eq!(c.points[1].verdict, Verdict::NoDifference);
            assert!(c.slower_than(40.0).is_empty(), "20% is not a 40% slowdown");
            // The other way round it is never a slowdown.
            let back = compare(&b, &a, DEFAULT_THRESHOLD);
            assert_ne!(back.points[0].verdict, Verdict::Slower);
            assert!(back.slower_than(5.0).is_empty());
            assert_eq!(
                back.points[0].verdict == Verdict::Faster,
                p.verdict == Verdict::Slower
            );
        }
        assert!(found >= 45, "a 20% slowdown found in {found} of 50 trials");
        assert!(
            covered >= 42,
            "the true 1.2 inside {covered} of 50 intervals"
        );
    }

    #[test]
    fn an_effect_inside_the_noise_gets_no_verdict() {
        // 4% slower under 10% noise with 5 runs: not excluded, not shown to be within 5%.
        let mut rng = SplitMix64::new(9);
        let noisy = |rng: &mut SplitMix64, c: f64| -> Vec<f64> {
            (0..5).map(|_| c * (0.10 * rng.normal()).exp()).collect()
        };
        let a = sweep(&[(1, noisy(&mut rng, 1.0))]);
        let b = sweep(&[(1, noisy(&mut rng, 1.04))]);
        let p = &compare(&a, &b, DEFAULT_THRESHOLD).points[0];
        assert_eq!(p.verdict, Verdict::NoDifference);
        assert!(!p.within_band, "{:?}", p.interval);
    }

    #[test]
    fn failed_runs_single_runs_and_unmatched_points() {
        let mut a = sweep(&[(1, vec![1.0, 1.1, 0.9]), (4, vec![0.5, 0.5])]);
        let b = sweep(&[(1, vec![2.0]), (2, vec![0.6, 0.6])]);
        // A run that failed a file is not a timing sample.
        a.points[0].runs.push(ComparedRun {
            wall_seconds: 100.0,
            failed: 1,
        });
        let c = compare(&a, &b, DEFAULT_THRESHOLD);
        assert_eq!(c.points.len(), 1);
        let p = &c.points[0];
        assert_eq!((p.runs, p.median_a, p.ratio), ((3, 1), 1.0, 2.0));
        assert_eq!((p.interval, p.verdict), (None, Verdict::TooFewRuns));
        assert!(c.slower_than(5.0).is_empty(), "no interval, no claim");
        let un: Vec<(usize, bool)> = c.unmatched.iter().map(|u| (u.workers, u.in_a)).collect();
        assert_eq!(un, [(4, true), (2, false)]);
        assert!(c.job_differences.is_empty());
        let mut other = b.clone();
        other.job.files = 11;
        assert_eq!(compare(&a, &other, 0.05).job_differences.len(), 1);
    }

    #[test]
    fn verdict_bands() {
        let iv = |low, high| Some(Interval { low, high });
        assert_eq!(verdict(iv(1.06, 1.2), 0.05), (Verdict::Slower, false));
        assert_eq!(verdict(iv(0.8, 0.95), 0.05), (Verdict::Faster, false));
        assert_eq!(verdict(iv(0.97, 1.03), 0.05), (Verdict::NoDifference, true));
        assert_eq!(verdict(iv(0.97, 1.2), 0.05), (Verdict::NoDifference, false));
        assert_eq!(verdict(None, 0.05), (Verdict::TooFewRuns, false));
    }
}
