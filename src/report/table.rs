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
        " in {:.3} s: {:.1} images/s, {:.2} MP/s ({} engine, {} worker{}{}{})",
        r.wall_seconds,
        r.images_per_second,
        r.megapixels_per_second,
        r.engine,
        r.workers,
        if r.workers == 1 { "" } else { "s" },
        r.cores_used
            .map(|c| format!(", {c:.2} cores used"))
            .unwrap_or_default(),
        r.peak_rss_bytes
            .map(|b| format!(", peak RSS {}", human_bytes(b)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "{:<8} {:>4} {:>7} {:>10} {:>10} {:>8} {:>8} {:>8} {:>6}",
        "stage", "cap", "items", "in", "out", "cpu s", "busy s", "wait s", "conc"
    );
    for st in &r.stages {
        let _ = writeln!(
            s,
            "{:<8} {:>4} {:>7} {:>10} {:>10} {:>8.3} {:>8.3} {:>8.3} {:>6.2}",
            st.stage.name(),
            st.cap.map_or_else(|| "-".to_string(), |c| c.to_string()),
            st.items,
            human_bytes(st.bytes_in),
            human_bytes(st.bytes_out),
            st.cpu_seconds,
            st.busy_seconds,
            st.wait_seconds,
            st.mean_concurrency
        );
    }
    s
}
