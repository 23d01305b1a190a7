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

/// Serializes `record` with `exporter` and writes it atomically to `target`, which
/// [`crate::write_target::record_target`] chose before the sweep ran.
pub fn export(exporter: &dyn Exporter, record: &SweepRecord, target: &Path) -> Result<(), String> {
    let bytes = exporter.serialize(record)?;
    crate::write_target::write_record(target, &bytes)
}
