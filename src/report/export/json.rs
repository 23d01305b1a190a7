//! `--export-json`: the whole [`SweepRecord`], raw per-run times included; `graypipe amdahl
//! --from` reads it back.

use super::Exporter;
use crate::sweep::SweepRecord;

/// Pretty-printed JSON.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String> {
        let mut v = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
        v.push(b'\n');
        Ok(v)
    }
}
