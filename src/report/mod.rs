//! Reports: a run's JSON record (`--report FILE`) and stderr table; a sweep's text table and
//! its exports (JSON, CSV, Markdown, SVG plot); self-contained HTML pages of both.

pub mod amdahl_theory;
pub mod compare_table;
pub mod export;
pub mod html;
pub mod merge;
pub mod process_info;
pub mod retry;
pub mod run_json;
pub mod sweep_table;
pub mod table;

pub use run_json::RunReport;
pub use table::run_table;

/// Bytes as a short human figure (KiB, MiB, GiB).
pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b} B")
    }
}
