//! Sweep exports, one format per file behind one trait.

mod csv;
mod json;
mod markdown;
mod svg;

use std::path::Path;

use crate::sweep::SweepRecord;

pub use self::csv::CsvExporter;
pub use self::json::JsonExporter;
pub use self::markdown::MarkdownExporter;
pub use self::svg::SvgExporter;

/// Turns a sweep record into a file's bytes.
pub trait Exporter {
    /// The document for `record`.
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String>;
}

/// Serializes `record` with `exporter` and writes it atomically to `path`.
pub fn export(exporter: &dyn Exporter, record: &SweepRecord, path: &Path) -> Result<(), String> {
    let bytes = exporter.serialize(record)?;
    crate::atomic_write::write_atomic(path, &bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
