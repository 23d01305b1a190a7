//! The text of `graypipe compare` (and `sweep --compare`): one line per point with both
//! medians, the ratio and its interval, and the verdict; then what could not be compared.

use std::fmt::Write;

use crate::sweep::compare::{Comparison, PointComparison, Verdict};

fn verdict_text(p: &PointComparison, threshold: f64) -> String {
    let pct = threshold * 100.0;
    match p.verdict {
        Verdict::Slower => format!(
            "SLOWER: B takes {:.1}% longer [95% {:.1}%, {:.1}%]",
            (p.ratio - 1.0) * 100.0,
            p.interval.map_or(0.0, |i| (i.low - 1.0) * 100.0),
            p.interval.map_or(0.0, |i| (i.high - 1.0) * 100.0)
        ),
        Verdict::Faster => format!(
            "FASTER: B takes {:.1}% less time [95% {:.1}%, {:.1}%]",
            (1.0 - p.ratio) * 100.0,
            p.interval.map_or(0.0, |i| (1.0 - i.high) * 100.0),
            p.interval.map_or(0.0, |i| (1.0 - i.low) * 100.0)
        ),
        Verdict::NoDifference if p.within_band => {
            format!("no difference (within {pct:.0}% either way)")
        }
        Verdict::NoDifference => format!(
            "no difference shown (the interval reaches past {pct:.0}%: too noisy to rule a {pct:.0}% change in or out; more runs)"
        ),
        Verdict::TooFewRuns => "no verdict: fewer than two runs on a side, no interval".into(),
    }
}

/// The comparison as text, B against A; `names` are how A and B are shown (file names).
pub fn compare_text(c: &Comparison, names: (&str, &str)) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "graypipe compare: A = {}, B = {}; ratio = median wall time B / A per point (above 1: B is slower); 95% bootstrap intervals over both sweeps' runs; a verdict only where the interval lies beyond {:.0}%",
        names.0,
        names.1,
        c.threshold * 100.0
    );
    for d in &c.job_differences {
        let _ = writeln!(s, "warning: {d}: the sweeps measured different work");
    }
    let _ = writeln!(s);
    let head = [
        "engine",
        "workers",
        "cores",
        "runs A/B",
        "median A s",
        "median B s",
        "B / A [95%]",
    ];
    let rows: Vec<[String; 7]> = c
        .points
        .iter()
        .map(|p| {
            [
                p.engine.to_string(),
                p.workers.to_string(),
                p.cores_allowed.to_string(),
                format!("{}/{}", p.runs.0, p.runs.1),
                format!("{:.4}", p.median_a),
                format!("{:.4}", p.median_b),
                match p.interval {
                    Some(i) => format!("{:.3} [{:.3}, {:.3}]", p.ratio, i.low, i.high),
                    None => format!("{:.3}", p.ratio),
                },
            ]
        })
        .collect();
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                let _ = write!(l, "{cell:<w$}");
            } else {
                let _ = write!(l, "  {cell:>w$}");
            }
        }
        l
    };
    let _ = writeln!(s, "{}  verdict", line(&head.map(str::to_string)));
    for (r, p) in rows.iter().zip(&c.points) {
        let _ = writeln!(s, "{}  {}", line(r), verdict_text(p, c.threshold));
    }
    if c.points.is_empty() {
        let _ = writeln!(s, "no point was measured in both sweeps");
    }
    for u in &c.unmatched {
        let _ = writeln!(
            s,
            "not compared: {} at {} workers on {} cores has usable runs in {} only",
            u.engine,
            u.workers,
            u.cores_allowed,
            if u.in_a { "A" } else { "B" }
        );
    }
    let slower = c
        .points
        .iter()
        .filter(|p| p.verdict == Verdict::Slower)
        .count();
    let faster = c
        .points
        .iter()
        .filter(|p| p.verdict == Verdict::Faster)
        .count();
    let _ = writeln!(
        s,
        "summary: {} point(s) compared: {slower} slower, {faster} faster, {} with no difference beyond {:.0}%{}",
        c.points.len(),
        c.points.len() - slower - faster,
        c.threshold * 100.0,
        if c.points.iter().any(|p| p.verdict == Verdict::TooFewRuns) {
            " (some without an interval)"
        } else {
            ""
        }
    );
    s
}
