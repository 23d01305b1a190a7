//! The short table printed on stderr at the end of a run.

use std::fmt::Write;

use super::human_bytes;
use super::run_json::RunReport;

/// Formats the end-of-run summary and per-stage table.
pub fn run_table(r: &RunReport) -> String {
    let mut s = String::new();
    let f = &r.files;
    let _ = write!(
        s,
        "{} written, {} failed, {} skipped",
        f.written, f.failed, f.skipped
    );
    if f.not_started > 0 {
        let _ = write!(s, ", {} not started", f.not_started);
    }
    let _ = writeln!(
        s,
        " in {:.3} s: {:.1} images/s, {:.2} MP/s ({} engine{})",
        r.wall_seconds,
        r.images_per_second,
        r.megapixels_per_second,
        r.engine,
        r.peak_rss_bytes
            .map(|b| format!(", peak RSS {}", human_bytes(b)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "{:<8} {:>7} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9} {:>6}",
        "stage", "workers", "items", "in", "out", "busy s", "starved s", "blocked s", "util"
    );
    for st in &r.stages {
        let _ = writeln!(
            s,
            "{:<8} {:>7} {:>7} {:>10} {:>10} {:>9.3} {:>9.3} {:>9.3} {:>5.0}%",
            format!("{:?}", st.stage).to_lowercase(),
            st.workers,
            st.items,
            human_bytes(st.bytes_in),
            human_bytes(st.bytes_out),
            st.busy_seconds,
            st.starved_seconds,
            st.blocked_seconds,
            st.utilisation * 100.0
        );
    }
    s
}
