//! `--export-csv`: one row per engine and worker count.

use super::Exporter;
use crate::error::Stage;
use crate::sweep::SweepRecord;

/// Comma-separated values with a header row.
pub struct CsvExporter;

/// The header, in column order.
pub const CSV_HEADER: [&str; 19] = [
    "engine",
    "workers",
    "median_seconds",
    "min_seconds",
    "max_seconds",
    "spread",
    "images_per_second",
    "megapixels_per_second",
    "speedup",
    "efficiency",
    "karp_flatt",
    "amdahl_speedup",
    "bottleneck",
    "share_read",
    "share_decode",
    "share_process",
    "share_encode",
    "share_write",
    "runs_seconds",
];

impl Exporter for CsvExporter {
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_HEADER).map_err(|e| e.to_string())?;
        let opt = |v: Option<f64>| v.map_or_else(String::new, |x| x.to_string());
        for r in &record.analysis.rows {
            let mut row = vec![
                r.engine.to_string(),
                r.workers.to_string(),
                r.median_seconds.to_string(),
                r.min_seconds.to_string(),
                r.max_seconds.to_string(),
                r.spread.to_string(),
                r.images_per_second.to_string(),
                r.megapixels_per_second.to_string(),
                r.speedup.to_string(),
                r.efficiency.to_string(),
                opt(r.karp_flatt),
                opt(r.amdahl_speedup),
                r.bottleneck.name().to_string(),
            ];
            row.extend(
                Stage::ALL
                    .iter()
                    .map(|s| r.stage_share[s.index()].to_string()),
            );
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
