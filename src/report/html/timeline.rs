//! A binned timeline drawn as inline SVG: one lane per worker coloured by the stage it mostly
//! ran, marks for failures, refusals and cancellation, then the counters (files in flight,
//! memory held, queue depth per stage) on the same time axis.

use std::fmt::Write;

use super::escape;
use crate::pipeline::Stage;
use crate::report::human_bytes;
use crate::trace::summary::TimelineSummary;

/// Drawing width of the plotting area, px.
const PLOT_W: f64 = 900.0;
/// Left margin for lane labels, px.
const LEFT: f64 = 120.0;
/// Height of one worker lane, px.
const LANE_H: f64 = 18.0;
/// Height of one counter chart, px.
const CHART_H: f64 = 46.0;

/// Each stage's colour (the same in the legend, the lanes and the queue lines).
pub fn stage_colour(s: Stage) -> &'static str {
    match s {
        Stage::Read => "#4e79a7",
        Stage::Decode => "#f28e2b",
        Stage::Process => "#59a14f",
        Stage::Encode => "#b07aa1",
        Stage::Write => "#e15759",
    }
}

/// The legend of stage colours (HTML).
pub fn legend() -> String {
    let mut s = String::from("<div class=\"legend\">");
    for st in Stage::ALL {
        let _ = write!(
            s,
            "<span><i style=\"background:{}\"></i>{}</span>",
            stage_colour(st),
            st.name()
        );
    }
    s.push_str("<span><i style=\"background:#c00\"></i>failure / refusal</span></div>");
    s
}

/// A polyline of `values` (one per column) scaled to `max` in a chart whose top is `top`.
fn polyline(values: &[f64], max: f64, top: f64, bins: usize, colour: &str) -> String {
    let col_w = PLOT_W / bins.max(1) as f64;
    let mut pts = String::new();
    for (c, v) in values.iter().enumerate() {
        let y = top + CHART_H - if max > 0.0 { v / max * CHART_H } else { 0.0 };
        let x0 = LEFT + c as f64 * col_w;
        let _ = write!(pts, "{x0:.1},{y:.1} {:.1},{y:.1} ", x0 + col_w);
    }
    format!("<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\" points=\"{pts}\"/>")
}

/// The timeline as one `<svg class="timeline-svg">` element.
pub fn svg(t: &TimelineSummary) -> String {
    let bins = t.bins.max(1);
    let col_w = PLOT_W / bins as f64;
    let lanes_h = t.workers as f64 * LANE_H;
    let charts = 2 + usize::from(t.queues.is_some());
    let axis_y = lanes_h + 4.0;
    let height = axis_y + 18.0 + charts as f64 * (CHART_H + 20.0);
    let width = LEFT + PLOT_W + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"timeline-svg\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"timeline\">"
    );
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"0\" width=\"{PLOT_W}\" height=\"{lanes_h}\" fill=\"#f4f4f4\"/>"
    );
    for (w, lane) in t.lanes.iter().enumerate() {
        let y = w as f64 * LANE_H;
        let _ = write!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" class=\"lbl\" text-anchor=\"end\">worker {w}</text>",
            LEFT - 4.0,
            y + LANE_H - 3.0
        );
        for seg in lane {
            let _ = write!(
                s,
                "<rect class=\"seg\" x=\"{:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{}\" fill-opacity=\"{:.2}\"/>",
                LEFT + f64::from(seg.from) * col_w,
                y + 1.0,
                f64::from(seg.to - seg.from) * col_w,
                LANE_H - 2.0,
                stage_colour(seg.stage),
                f64::from(seg.busy_quarters) / 4.0
            );
        }
    }
    let wall = t.wall_seconds.max(f64::MIN_POSITIVE);
    for m in &t.marks {
        let x = LEFT + (m.at_seconds / wall).clamp(0.0, 1.0) * PLOT_W;
        let what = format!(
            "{} at {:.3} s{}{}: {}",
            m.kind,
            m.at_seconds,
            m.file
                .as_deref()
                .map_or_else(String::new, |f| format!(", {f}")),
            m.stage.map_or_else(String::new, |st| format!(" ({st})")),
            m.reason
        );
        let (y0, y1, dash) = match m.worker {
            Some(w) => (w as f64 * LANE_H, (w + 1) as f64 * LANE_H, ""),
            None => (0.0, lanes_h, " stroke-dasharray=\"4 2\""),
        };
        let _ = write!(
            s,
            "<line class=\"mark\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y0:.1}\" y2=\"{y1:.1}\" stroke=\"#c00\" stroke-width=\"2\"{dash}><title>{}</title></line>",
            escape(&what)
        );
    }
    // Time axis.
    for k in 0..=4 {
        let x = LEFT + PLOT_W * f64::from(k) / 4.0;
        let _ = write!(
            s,
            "<text x=\"{x:.0}\" y=\"{:.0}\" class=\"lbl\" text-anchor=\"middle\">{:.3} s</text>",
            axis_y + 12.0,
            t.wall_seconds * f64::from(k) / 4.0
        );
    }
    let mut top = axis_y + 18.0;
    let mut chart = |s: &mut String, title: String, lines: Vec<(Vec<f64>, &str)>, max: f64| {
        let _ = write!(
            s,
            "<rect x=\"{LEFT}\" y=\"{top:.0}\" width=\"{PLOT_W}\" height=\"{CHART_H}\" fill=\"#fafafa\" stroke=\"#ddd\"/><text x=\"{:.0}\" y=\"{:.0}\" class=\"lbl\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            top + 12.0,
            escape(&title)
        );
        for (values, colour) in lines {
            s.push_str(&polyline(&values, max, top, bins, colour));
        }
        top += CHART_H + 20.0;
    };
    let in_flight: Vec<f64> = t.in_flight.iter().map(|&v| f64::from(v)).collect();
    let max_f = in_flight.iter().copied().fold(0.0, f64::max);
    chart(
        &mut s,
        format!("in flight ≤{max_f:.0}"),
        vec![(in_flight, "#333")],
        max_f,
    );
    let memory: Vec<f64> = t.memory_bytes.iter().map(|&v| v as f64).collect();
    let max_m = t.memory_bytes.iter().copied().max().unwrap_or(0);
    chart(
        &mut s,
        format!("memory ≤{}", human_bytes(max_m)),
        vec![(memory, "#666")],
        max_m as f64,
    );
    if let Some(q) = &t.queues {
        let max_q = q.iter().flat_map(|v| v.iter().copied()).max().unwrap_or(0);
        let lines = Stage::ALL
            .into_iter()
            .map(|st| {
                (
                    q[st].iter().map(|&v| f64::from(v)).collect(),
                    stage_colour(st),
                )
            })
            .collect();
        chart(&mut s, format!("queued ≤{max_q}"), lines, f64::from(max_q));
    }
    s.push_str("</svg>");
    s
}
