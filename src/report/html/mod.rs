//! Self-contained HTML pages (`run --html`, `sweep --html`, `report --html`): inline CSS, SVG
//! and one small script, no network (a Content-Security-Policy forbids any fetch). Each page
//! carries a self-check: its script looks for the parts a reader needs (decision, plot,
//! table, timeline) and writes the result into `#selfcheck`, which the browser test reads.

mod timeline;

use std::fmt::Write;

use serde_json::Value;

use crate::report::export::{Exporter, SvgExporter};
use crate::report::human_bytes;
use crate::report::sweep_table::{cells, conclusions, header, COLUMNS};
use crate::sweep::SweepRecord;
use crate::trace::summary::TimelineSummary;

pub use timeline::stage_colour;

/// Text as HTML (element content and quoted attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;max-width:1100px}\
h1{font-size:20px}h2{font-size:16px;margin-top:24px;border-bottom:1px solid #ddd}\
#decision{background:#eef6ee;border:1px solid #9c9;padding:8px 12px}\
#decision.undecided{background:#fff4e5;border-color:#e0b070}\
#decision .choice{font-size:16px;font-weight:600}\
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f0f0f0}\
.warn li{color:#8a4b00}.lbl{font-size:10px;fill:#444}\
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\
figure{margin:8px 0 16px}figcaption{font-weight:600}#selfcheck{color:#888;font-size:11px}\
pre{white-space:pre-wrap;font-size:12px}svg{max-width:100%;height:auto}";

/// Records errors from the start, before the rest of the page runs.
const ERROR_TRAP: &str = "window.__graypipeErrors=[];\
window.addEventListener('error',function(e){window.__graypipeErrors.push(String(e.message))});\
window.addEventListener('securitypolicyviolation',function(e){window.__graypipeErrors.push('blocked '+e.blockedURI)});\
(function(){var ce=console.error;console.error=function(){window.__graypipeErrors.push(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();";

/// Checks the parts listed in `data-require` on `<body>`, then writes the verdict.
const SELF_CHECK: &str = "(function(){\
var need=(document.body.getAttribute('data-require')||'').split(',').filter(Boolean);\
var missing=need.filter(function(s){var e=document.querySelector(s);return !e||(e.tagName.toLowerCase()==='svg'&&e.getBBox().width<=0);});\
var errs=window.__graypipeErrors;var out=document.getElementById('selfcheck');\
var ok=missing.length===0&&errs.length===0;\
out.textContent='graypipe-selfcheck: '+(ok?'ok':'FAILED missing='+missing.join(' ')+' errors='+errs.join(' | '));\
document.body.setAttribute('data-selfcheck',ok?'ok':'failed');})();";

/// The page around `body`; `require` lists the CSS selectors its self-check needs.
fn page(title: &str, require: &[&str], body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
<meta name=\"generator\" content=\"graypipe {}\"><title>{}</title><style>{STYLE}</style><script>{ERROR_TRAP}</script></head>\
<body data-require=\"{}\">{body}<p id=\"selfcheck\"></p><script>{SELF_CHECK}</script></body></html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(title),
        escape(&require.join(",")),
    )
}

/// A timeline figure with its caption.
fn timeline_figure(caption: &str, t: &TimelineSummary) -> String {
    let mut s = format!(
        "<figure class=\"timeline\"><figcaption>{}</figcaption>",
        escape(caption)
    );
    s.push_str(&timeline::svg(t));
    let _ = write!(
        s,
        "<div>{} slices over {:.3} s on {} worker track(s); per stage (summed seconds): {}{}</div>",
        t.slices,
        t.wall_seconds,
        t.workers,
        t.stage_seconds
            .stages()
            .map(|(st, v)| format!("{st} {v:.3}"))
            .collect::<Vec<_>>()
            .join(", "),
        if t.marks_left_out > 0 {
            format!("; {} more marks not drawn", t.marks_left_out)
        } else {
            String::new()
        }
    );
    s.push_str("</figure>");
    s
}

fn table(head: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", escape(&c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// Most failures listed on a run page (the run record lists every one).
const MAX_FAILURES: usize = 200;

/// The page of one run, from its record (`--report` JSON, with `timeline` when the run was
/// traced).
pub fn run_page(record: &Value) -> String {
    let f = |k: &str| record.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let u = |k: &str| record.get(k).and_then(Value::as_u64).unwrap_or(0);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let files = record.get("files").cloned().unwrap_or(Value::Null);
    let count = |k: &str| files.get(k).and_then(Value::as_u64).unwrap_or(0);
    let engine = text(record.get("engine"));
    let mut body = format!(
        "<h1>graypipe run: {} files, {} engine, {} worker(s)</h1>",
        count("planned"),
        escape(&engine),
        u("workers")
    );
    let stages: Vec<&Value> = record
        .get("stages")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let busiest = stages
        .iter()
        .max_by(|a, b| {
            let x = |v: &&&Value| v.get("busy_seconds").and_then(Value::as_f64).unwrap_or(0.0);
            x(a).total_cmp(&x(b))
        })
        .map(|s| text(s.get("stage")));
    let failed = count("failed");
    let _ = write!(
        body,
        "<section id=\"decision\"{}><p class=\"choice\">{} written, {} failed, {} not started in {:.3} s: {:.1} images/s, {:.2} cores used</p><p>{}</p></section>",
        if failed > 0 { " class=\"undecided\"" } else { "" },
        count("written"),
        failed,
        count("not_started"),
        f("wall_seconds"),
        f("images_per_second"),
        f("cores_used"),
        escape(&busiest.map_or_else(String::new, |b| format!(
            "The stage with the most busy time is {b}: that is where more workers (or a faster codec) pay first; time waiting in front of a stage shows where files queue."
        )))
    );
    body.push_str("<h2>Stage totals</h2><section id=\"table\">");
    body.push_str(&table(
        &[
            "stage",
            "files",
            "failed",
            "busy s",
            "CPU s",
            "waiting s",
            "mean concurrency",
            "bytes in",
            "bytes out",
        ],
        stages.iter().map(|s| {
            let g = |k: &str| s.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            vec![
                text(s.get("stage")),
                format!("{}", g("items")),
                format!("{}", g("failed")),
                format!("{:.3}", g("busy_seconds")),
                format!("{:.3}", g("cpu_seconds")),
                format!("{:.3}", g("wait_seconds")),
                format!("{:.2}", g("mean_concurrency")),
                human_bytes(g("bytes_in") as u64),
                human_bytes(g("bytes_out") as u64),
            ]
        }),
    ));
    body.push_str("</section><h2>Timeline</h2>");
    body.push_str(&timeline::legend());
    let timeline: Option<TimelineSummary> = record
        .get("timeline")
        .and_then(|t| serde_json::from_value(t.clone()).ok());
    match &timeline {
        Some(t) => body.push_str(&timeline_figure("the run", t)),
        None => body.push_str(
            "<p>This record has no timeline: run with <code>--trace</code> or <code>--html</code> to record one.</p>",
        ),
    }
    body.push_str("<h2>Failures</h2><section id=\"failures\">");
    let failures: Vec<&Value> = record
        .get("failures")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if failures.is_empty() {
        body.push_str("<p>None.</p>");
    } else {
        body.push_str(&table(
            &["file", "stage", "reason"],
            failures.iter().take(MAX_FAILURES).map(|e| {
                vec![
                    text(e.get("input")),
                    text(e.get("stage")),
                    text(e.get("reason")),
                ]
            }),
        ));
        if failures.len() > MAX_FAILURES {
            let _ = write!(
                body,
                "<p>{} more in the run record.</p>",
                failures.len() - MAX_FAILURES
            );
        }
    }
    body.push_str("</section>");
    let _ = write!(
        body,
        "<h2>Machine</h2><section id=\"machine\"><p>host {}, graypipe {}, memory budget {}, peak resident {}</p></section>",
        escape(&text(record.get("host"))),
        escape(&text(record.get("graypipe_version"))),
        human_bytes(u("max_memory_bytes")),
        record
            .get("peak_rss_bytes")
            .and_then(Value::as_u64)
            .map_or_else(|| "unknown".into(), human_bytes)
    );
    let mut require = vec!["#decision", "#table table"];
    if timeline.is_some() {
        require.push(".timeline svg");
    }
    page("graypipe run", &require, &body)
}

/// The page of a sweep, from its record (`--export-json`, with `timelines` when the sweep
/// was run with `--html`). The decision is the analysis' own recommendation, shown as the
/// text report words it.
pub fn sweep_page(record: &SweepRecord) -> String {
    let a = &record.analysis;
    let mut body = format!(
        "<h1>graypipe sweep: {} files, {} &#8594; {}</h1>",
        record.job.files,
        escape(&record.job.operation),
        escape(&record.job.format)
    );
    let decided = a.engines.iter().any(|e| e.recommended_workers.is_some());
    let _ = write!(
        body,
        "<section id=\"decision\"{}><h2>Decision</h2>",
        if decided { "" } else { " class=\"undecided\"" }
    );
    if a.engines.is_empty() {
        body.push_str("<p class=\"choice\">cannot decide: the sweep has no counted runs</p>");
    }
    for e in &a.engines {
        let engine = escape(&e.engine.to_string());
        match e.recommended_workers {
            Some(w) => {
                let _ = write!(
                    body,
                    "<p class=\"choice\">{engine}: --engine {engine} --workers {w}{}</p>",
                    e.recommended_stage_workers
                        .map_or_else(String::new, |s| format!(" (stage threads {s})"))
                );
            }
            None => {
                let _ = write!(
                    body,
                    "<p class=\"choice\">{engine}: cannot decide{}</p>",
                    e.decision
                        .cannot_decide
                        .as_deref()
                        .map_or_else(String::new, |why| format!(": {}", escape(why)))
                );
            }
        }
    }
    body.push_str("<p>Why, in the analysis' own words:</p><pre>");
    for e in &a.engines {
        for line in conclusions(e, &a.rows) {
            body.push_str(&escape(&line));
            body.push('\n');
        }
    }
    if !a.warnings.is_empty() {
        let _ = write!(
            body,
            "\n{} warning(s) below qualify this.",
            a.warnings.len()
        );
    }
    body.push_str("</pre></section>");
    body.push_str("<h2>Plots</h2><section id=\"plot\">");
    match (SvgExporter { log_time: false }).serialize(record) {
        Ok(svg) => {
            let svg = String::from_utf8_lossy(&svg);
            // Inline: without any XML declaration the SVG file may start with.
            let start = svg.find("<svg").unwrap_or(0);
            body.push_str(&svg[start..]);
        }
        Err(e) => {
            let _ = write!(body, "<p>No plot: {}</p>", escape(&e));
        }
    }
    body.push_str("</section><h2>Table</h2><section id=\"table\">");
    body.push_str(&table(&COLUMNS, a.rows.iter().map(|r| cells(r).to_vec())));
    body.push_str("<p>Intervals are bootstrap 95% over runs; n = processors actually available = min(workers, cores allowed).</p></section>");
    body.push_str("<h2>Warnings</h2><section id=\"warnings\" class=\"warn\">");
    if a.warnings.is_empty() {
        body.push_str("<p>None.</p>");
    } else {
        body.push_str("<ul>");
        for w in &a.warnings {
            let _ = write!(body, "<li>{}</li>", escape(w));
        }
        body.push_str("</ul>");
    }
    body.push_str("</section><h2>Machine</h2><section id=\"machine\"><pre>");
    for line in header(record) {
        body.push_str(&escape(&line));
        body.push('\n');
    }
    let _ = write!(
        body,
        "graypipe {}</pre></section>",
        escape(&record.graypipe_version)
    );
    body.push_str("<h2>Timelines</h2><section id=\"timelines\">");
    body.push_str(&timeline::legend());
    if record.timelines.is_empty() {
        body.push_str("<p>No timelines: this sweep was run without <code>--html</code>.</p>");
    }
    for pt in &record.timelines {
        let caption = format!(
            "{}, {} worker(s), {} core(s) allowed ({} run)",
            pt.engine,
            pt.workers,
            pt.cores_allowed,
            if pt.counted {
                "a counted"
            } else {
                "the warm-up"
            }
        );
        body.push_str(&timeline_figure(&caption, &pt.timeline));
    }
    body.push_str("</section>");
    let mut require = vec!["#decision .choice", "#plot svg", "#table table"];
    if !record.timelines.is_empty() {
        require.push(".timeline svg");
    }
    page("graypipe sweep", &require, &body)
}

/// `sweep --html`: [`sweep_page`] as an exporter.
pub struct HtmlExporter;

impl Exporter for HtmlExporter {
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String> {
        Ok(sweep_page(record).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn a_run_page_without_a_timeline_says_so_and_does_not_require_one() {
        let page = run_page(&serde_json::json!({"engine": "staged", "workers": 2,
            "files": {"planned": 3, "written": 2, "failed": 1},
            "failures": [{"input": "<b>.png", "stage": "decode", "reason": "bad"}]}));
        assert!(page.contains("&lt;b&gt;.png"));
        assert!(page.contains("has no timeline"));
        assert!(page.contains("data-require=\"#decision,#table table\""));
    }
}
