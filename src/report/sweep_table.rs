//! The sweep's text table and conclusions (stdout), also the body of the Markdown export.

use std::fmt::Write;

use crate::error::Stage;
use crate::sweep::analysis::{EngineSummary, PointRow};
use crate::sweep::SweepRecord;

/// Formats a number of seconds with 4 decimals, as the book prints them.
fn secs(s: f64) -> String {
    format!("{s:.4}")
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

/// The header lines: what ran where.
pub fn header(r: &SweepRecord) -> Vec<String> {
    vec![
        format!(
            "graypipe sweep: {} files, {:.2} MP per run, {} -> {}; {} warm-up + {} counted runs per point, interleaved",
            r.job.files, r.job.megapixels, r.job.operation, r.job.format, r.warmup, r.repeat
        ),
        format!(
            "machine: {} logical cores, {}, {}",
            r.machine.logical_cores, r.machine.cpu, r.machine.os
        ),
    ]
}

/// Column titles of the table.
pub const COLUMNS: [&str; 9] = [
    "engine",
    "workers",
    "median s (min-max)",
    "images/s",
    "MP/s",
    "speedup",
    "efficiency",
    "Karp-Flatt",
    "Amdahl fit",
];

/// One row's cells.
pub fn cells(row: &PointRow) -> [String; 9] {
    [
        row.engine.to_string(),
        row.workers.to_string(),
        format!(
            "{} ({}-{})",
            secs(row.median_seconds),
            secs(row.min_seconds),
            secs(row.max_seconds)
        ),
        format!("{:.1}", row.images_per_second),
        format!("{:.2}", row.megapixels_per_second),
        format!("{:.2}", row.speedup),
        format!("{:.1}%", row.efficiency * 100.0),
        opt(row.karp_flatt, |e| format!("{e:.3}")),
        opt(row.amdahl_speedup, |s| format!("{s:.2}")),
    ]
}

/// The conclusions for one engine, one line each.
pub fn conclusions(e: &EngineSummary, rows: &[PointRow]) -> Vec<String> {
    let mut out = Vec::new();
    let baseline = match e.baseline {
        crate::sweep::Baseline::Same => "its own 1-worker run",
        crate::sweep::Baseline::Serial => "the serial engine",
    };
    match &e.fit {
        Some(f) => {
            let r2 = opt(f.r_squared, |r| format!("{r:.4}"));
            let ceiling = opt(e.ceiling, |c| format!("{c:.1}x"));
            let ceiling = if e.ceiling.is_none() {
                "unbounded".to_string()
            } else {
                ceiling
            };
            let preds: Vec<String> = e
                .predictions
                .iter()
                .map(|p| format!("{}: {:.2}x", p.workers, p.speedup))
                .collect();
            out.push(format!(
                "{}: T1 = {} s ({baseline}); parallel fraction P = {:.4}{} over min(n, cores) processors (R^2 {r2}, rmse {:.3}); ceiling 1/(1-P) = {ceiling}; predicted {}",
                e.engine,
                secs(e.baseline_seconds),
                f.parallel_fraction,
                if f.clamped { format!(" (fitted {:.4}, clamped)", f.parallel_fraction_raw) } else { String::new() },
                f.rmse_speedup,
                preds.join(", ")
            ));
        }
        None => out.push(format!(
            "{}: T1 = {} s ({baseline}); no fit (no point above 1 worker)",
            e.engine,
            secs(e.baseline_seconds)
        )),
    }
    for r in rows.iter().filter(|r| r.engine == e.engine) {
        let shares: Vec<String> = Stage::ALL
            .iter()
            .map(|s| format!("{} {:.0}%", s.name(), r.stage_share[s.index()] * 100.0))
            .collect();
        out.push(format!(
            "  n={}: busy share {}; bottleneck: {}",
            r.workers,
            shares.join(", "),
            r.bottleneck.name()
        ));
    }
    let mut rec = format!(
        "  recommended: --engine {} --workers {}",
        e.engine, e.recommended_workers
    );
    if let Some(w) = e.recommended_stage_workers {
        let _ = write!(rec, "; per-stage split by busy time: --stage-workers {w}");
    }
    out.push(rec);
    out
}

/// The whole text report.
pub fn sweep_text(r: &SweepRecord) -> String {
    let mut s = header(r).join("\n");
    s.push_str("\n\n");
    let rows: Vec<[String; 9]> = r.analysis.rows.iter().map(cells).collect();
    let widths: Vec<usize> = (0..9)
        .map(|i| {
            rows.iter()
                .map(|c| c[i].len())
                .chain([COLUMNS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |c: &[String]| {
        c.iter()
            .enumerate()
            .map(|(i, v)| {
                if i == 0 {
                    format!("{v:<w$}", w = widths[i])
                } else {
                    format!("{v:>w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(s, "{}", line(&COLUMNS.map(String::from)));
    for c in &rows {
        let _ = writeln!(s, "{}", line(c));
    }
    s.push('\n');
    for e in &r.analysis.engines {
        for l in conclusions(e, &r.analysis.rows) {
            let _ = writeln!(s, "{l}");
        }
    }
    if !r.analysis.warnings.is_empty() {
        s.push_str("warnings:\n");
        for w in &r.analysis.warnings {
            let _ = writeln!(s, "  - {w}");
        }
    }
    s
}
