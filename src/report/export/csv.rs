//! `--export-csv`: one row per point (engine, workers, cores allowed).

use super::Exporter;
use crate::sweep::bootstrap::Interval;
use crate::sweep::SweepRecord;

/// Comma-separated values with a header row.
pub struct CsvExporter;

/// The header, in column order.
pub const CSV_HEADER: [&str; 42] = [
    "engine",
    "workers",
    "cores_allowed",
    "processors",
    "oversubscribed",
    "runs",
    "outlier_runs",
    "median_seconds",
    "median_low",
    "median_high",
    "min_seconds",
    "max_seconds",
    "spread",
    "cpu_seconds",
    "cores_used",
    "other_load",
    "images_per_second",
    "images_per_second_low",
    "images_per_second_high",
    "megapixels_per_second",
    "speedup",
    "speedup_low",
    "speedup_high",
    "efficiency",
    "efficiency_low",
    "efficiency_high",
    "karp_flatt",
    "amdahl_speedup",
    "stage_clock",
    "heaviest_stage",
    "bottleneck",
    "stage_seconds_read",
    "stage_seconds_decode",
    "stage_seconds_process",
    "stage_seconds_encode",
    "stage_seconds_write",
    "share_read",
    "share_decode",
    "share_process",
    "share_encode",
    "share_write",
    "runs_seconds",
];

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

fn ends(i: Option<Interval>) -> [String; 2] {
    [opt(i.map(|i| i.low)), opt(i.map(|i| i.high))]
}

impl Exporter for CsvExporter {
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_HEADER).map_err(|e| e.to_string())?;
        for r in &record.analysis.rows {
            let mut row = vec![
                r.engine.to_string(),
                r.workers.to_string(),
                r.cores_allowed.to_string(),
                r.processors.to_string(),
                r.oversubscribed.to_string(),
                r.runs_seconds.len().to_string(),
                r.outlier_runs
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(";"),
                r.median_seconds.to_string(),
            ];
            row.extend(ends(r.median_interval));
            row.extend([
                r.min_seconds.to_string(),
                r.max_seconds.to_string(),
                r.spread.to_string(),
                r.cpu_seconds.to_string(),
                r.cores_used.to_string(),
                opt(r.other_load),
                r.images_per_second.to_string(),
            ]);
            row.extend(ends(r.images_per_second_interval));
            row.push(r.megapixels_per_second.to_string());
            row.push(opt(r.speedup));
            row.extend(ends(r.speedup_interval));
            row.push(opt(r.efficiency));
            row.extend(ends(r.efficiency_interval));
            row.extend([
                opt(r.karp_flatt),
                opt(r.amdahl_speedup),
                match r.stages.clock {
                    crate::sweep::analysis::StageClock::Cpu => "cpu".into(),
                    crate::sweep::analysis::StageClock::BusyWall => "busy_wall".into(),
                },
                r.stages.heaviest.name().to_string(),
                r.stages
                    .bottleneck
                    .map_or_else(String::new, |s| s.name().to_string()),
            ]);
            row.extend(r.stages.seconds.iter().map(f64::to_string));
            row.extend(r.stages.share.iter().map(f64::to_string));
            row.push(
                r.runs_seconds
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
            );
            w.write_record(&row).map_err(|e| e.to_string())?;
        }
        w.into_inner().map_err(|e| e.to_string())
    }
}
