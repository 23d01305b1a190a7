//! `--export-markdown`: the table and conclusions as Markdown, ready for a README.

use std::fmt::Write;

use super::Exporter;
use crate::report::sweep_table::{cells, conclusions, header, COLUMNS};
use crate::sweep::analysis::PointRow;
use crate::sweep::SweepRecord;

/// A Markdown table plus the fit, bottleneck and warning lines.
pub struct MarkdownExporter;

impl Exporter for MarkdownExporter {
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String> {
        let mut s = String::new();
        for h in header(record) {
            let _ = writeln!(s, "{h}  ");
        }
        s.push('\n');
        let _ = writeln!(s, "| {} |", COLUMNS.join(" | "));
        let _ = writeln!(s, "|{}", " --- |".repeat(COLUMNS.len()));
        for r in &record.analysis.rows {
            let row = cells(r).map(|c| c.replace('*', "\\*"));
            let _ = writeln!(s, "| {} |", row.join(" | "));
        }
        if record
            .analysis
            .rows
            .iter()
            .any(|r: &PointRow| r.oversubscribed)
        {
            s.push_str("\n\\* oversubscribed: more workers than cores allowed\n");
        }
        s.push('\n');
        for e in &record.analysis.engines {
            for l in conclusions(e, &record.analysis.rows) {
                let _ = writeln!(s, "- {}", l.trim_start());
            }
        }
        if !record.analysis.warnings.is_empty() {
            s.push_str("\nWarnings:\n\n");
            for w in &record.analysis.warnings {
                let _ = writeln!(s, "- {w}");
            }
        }
        Ok(s.into_bytes())
    }
}
