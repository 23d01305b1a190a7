//! `--plot F.svg`: four panels over n, drawn with plotters: speedup (medians with 95%
//! whiskers and every run as a faint marker, ideal, the Amdahl fit when the analysis kept it),
//! throughput (with the USL curve when fitted), efficiency, and per-stage time as stacked bars
//! per n with the wall time outside the stages on top. Engines have colour-blind-safe colours
//! (Okabe-Ito) and distinct markers; fitted lines are dashed in the legend as on the chart.
//! Workers past the allowed cores are shaded as oversubscribed; the x axis turns log2 past 16;
//! the caption names the machine, the runs, the other load and the first warnings.

use plotters::chart::SeriesAnno;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::Exporter;
use crate::pipeline::Stage;
use crate::sweep::analysis::{PointRow, StageClock};
use crate::sweep::{Baseline, SweepRecord};

/// An SVG chart drawn with plotters.
#[derive(Debug, Clone, Copy, Default)]
pub struct SvgExporter {
    /// `--plot-scale log`: the first panel shows the median time per run against n on
    /// log-log axes (log2 n, log10 seconds) with the ideal T1/n, instead of the speedup.
    pub log_time: bool,
}

/// Panel titles (tests look for them).
pub const PANELS: [&str; 4] = [
    "Speedup",
    "Throughput",
    "Efficiency",
    "Per-stage time per run",
];

type Res = Result<(), Box<dyn std::error::Error>>;
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
/// Extra series a panel draws under the measured points (ideal line, fitted curves).
type Extra<'x, DB> = dyn Fn(&mut Chart<'_, DB>, f64) -> Res + 'x;

/// A measured value with its interval.
#[derive(Clone, Copy)]
struct Measured {
    value: f64,
    interval: Option<(f64, f64)>,
}

/// What a whisker panel shows.
struct Panel<'x, DB: DrawingBackend> {
    title: &'x str,
    y_desc: &'x str,
    /// The y range reaches at least this (with `log_y`, down to at least this).
    floor_top: f64,
    /// Values are log10 of the quantity: the y range fits them (not from 0) and the labels
    /// show the quantity.
    log_y: bool,
    value: &'x dyn Fn(&PointRow) -> Option<Measured>,
    /// Every counted run's value (drawn faint beside the median).
    runs: &'x dyn Fn(&PointRow) -> Vec<f64>,
    extra: &'x Extra<'x, DB>,
}

/// Where a row sits on the x axis: its workers (the knob), unless cores were swept.
fn x_of(record: &SweepRecord, r: &PointRow) -> f64 {
    if record.schedule.cores.is_some() {
        r.processors as f64
    } else {
        r.workers as f64
    }
}

/// The x axis: linear up to 16, log2 beyond.
#[derive(Clone, Copy)]
struct XAxis {
    log2: bool,
    max: f64,
}

impl XAxis {
    fn t(&self, x: f64) -> f64 {
        if self.log2 {
            x.max(1.0).log2()
        } else {
            x
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        if self.log2 {
            -0.3..self.max.log2() + 0.3
        } else {
            0.5..self.max + 0.5
        }
    }
    fn label(&self, v: f64) -> String {
        let x = if self.log2 { v.exp2() } else { v };
        if (v - v.round()).abs() < 1e-9 && x >= 1.0 {
            format!("{x:.0}")
        } else {
            String::new()
        }
    }
    fn ticks(&self) -> usize {
        if self.log2 {
            self.max.log2() as usize + 2
        } else {
            self.max as usize + 2
        }
    }
}

/// Y tick labels without spurious decimals: 250, 1.5, 0.002.
fn y_label(v: &f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.into()
    }
}

/// Engines sit side by side around each x so their whiskers do not hide one another.
fn nudge(engine_index: usize, engines: usize, log2: bool) -> f64 {
    let step = if log2 { 0.04 } else { 0.06 };
    (engine_index as f64 - (engines as f64 - 1.0) / 2.0) * step
}

/// Engine colours: Okabe and Ito's colour-blind-safe palette (blue, orange, reddish purple,
/// then the rest), never a red/green pair; each engine also has its own marker.
const ENGINE_COLOURS: [RGBColor; 6] = [
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0x00, 0x9e, 0x73),
];

fn colour(i: usize) -> RGBAColor {
    ENGINE_COLOURS[i % ENGINE_COLOURS.len()].to_rgba()
}

/// Draws an engine's markers (circle, triangle, square, then around again) at `pts`.
fn draw_markers<'a, 'b, DB: DrawingBackend + 'a>(
    chart: &'b mut Chart<'a, DB>,
    i: usize,
    pts: Vec<(f64, f64)>,
    size: i32,
    style: ShapeStyle,
) -> Result<&'b mut SeriesAnno<'a, DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    Ok(match i % 3 {
        0 => chart.draw_series(pts.into_iter().map(|p| Circle::new(p, size, style)))?,
        1 => chart.draw_series(
            pts.into_iter()
                .map(|p| TriangleMarker::new(p, size + 1, style)),
        )?,
        _ => chart.draw_series(pts.into_iter().map(|p| {
            EmptyElement::at(p) + Rectangle::new([(-size, -size), (size, size)], style)
        }))?,
    })
}

/// The legend sample of an engine's marker.
fn legend_marker<DB: DrawingBackend>(anno: &mut SeriesAnno<'_, DB>, i: usize, style: ShapeStyle) {
    match i % 3 {
        0 => anno.legend(move |(x, y)| Circle::new((x + 10, y), 5, style)),
        1 => anno.legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, style)),
        _ => anno.legend(move |(x, y)| Rectangle::new([(x + 5, y - 5), (x + 15, y + 5)], style)),
    };
}

/// A legend sample for a dashed line, dashed as the line is drawn.
fn dashed_sample(
    style: ShapeStyle,
) -> impl Fn((i32, i32)) -> DashedPathElement<std::vec::IntoIter<(i32, i32)>, i32> {
    move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 20, y)], 6, 4, style)
}

/// Stage colours (Okabe-Ito's other hues), and grey for wall time outside the stages.
const STAGE_COLOURS: [RGBColor; 5] = [
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0xf0, 0xe4, 0x42),
    RGBColor(0xcc, 0x79, 0xa7),
];
const OUTSIDE_STAGES: RGBColor = RGBColor(0xbb, 0xbb, 0xbb);

/// Shades the oversubscribed zone: x past the smallest worker count that exceeded its cores.
fn shade<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    record: &SweepRecord,
    ax: XAxis,
    (bottom, top): (f64, f64),
) -> Res
where
    DB::ErrorType: 'static,
{
    let first = record
        .analysis
        .rows
        .iter()
        .filter(|r| r.oversubscribed)
        .map(|r| x_of(record, r))
        .fold(f64::INFINITY, f64::min);
    if first.is_finite() {
        let prev = record
            .analysis
            .rows
            .iter()
            .map(|r| x_of(record, r))
            .filter(|&x| x < first)
            .fold(0.0, f64::max);
        let from = ax.t((prev + first) / 2.0).max(ax.range().start);
        chart
            .draw_series([Rectangle::new(
                [(from, bottom), (ax.range().end, top)],
                RGBColor(0xdd, 0xdd, 0xdd).mix(0.5).filled(),
            )])?
            .label("oversubscribed: more workers than cores")
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 20, y + 5)],
                    RGBColor(0xdd, 0xdd, 0xdd).filled(),
                )
            });
    }
    Ok(())
}

fn whisker_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    record: &SweepRecord,
    ax: XAxis,
    panel: &Panel<'_, DB>,
) -> Res
where
    DB::ErrorType: 'static,
{
    let rows = &record.analysis.rows;
    let highs = rows
        .iter()
        .filter_map(panel.value)
        .map(|m| m.interval.map_or(m.value, |i| i.1.max(m.value)))
        .chain(rows.iter().flat_map(|r| (panel.runs)(r)))
        .filter(|v| v.is_finite());
    let (bottom, top) = if panel.log_y {
        let lows = rows
            .iter()
            .filter_map(panel.value)
            .map(|m| m.interval.map_or(m.value, |i| i.0.min(m.value)))
            .chain(rows.iter().flat_map(|r| (panel.runs)(r)))
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        let high = highs.fold(f64::NEG_INFINITY, f64::max);
        let (low, high) = if lows.is_finite() && high.is_finite() {
            (lows.min(panel.floor_top), high)
        } else {
            (-1.0, 1.0)
        };
        // A decade of headroom above for the legend.
        (low - 0.3, high + 0.3 + (high - low).max(0.5))
    } else {
        (0.0, highs.fold(panel.floor_top, f64::max) * 1.55) // headroom for the legend
    };
    let x_desc = if record.schedule.cores.is_some() {
        format!("n = cores allowed{}", if ax.log2 { " (log2)" } else { "" })
    } else {
        format!(
            "workers (n = min(workers, cores)){}",
            if ax.log2 { " (log2)" } else { "" }
        )
    };
    let mut chart = panel_chart(
        area,
        panel.title,
        ax,
        (bottom, top, panel.log_y),
        x_desc,
        panel.y_desc,
    )?;
    shade(&mut chart, record, ax, (bottom, top))?;
    (panel.extra)(&mut chart, top)?;
    for (i, e) in record.analysis.engines.iter().enumerate() {
        let c = colour(i);
        let pts: Vec<(f64, Measured)> = rows
            .iter()
            .filter(|r| r.engine == e.engine)
            .filter_map(|r| {
                (panel.value)(r).map(|m| {
                    let dx = nudge(i, record.analysis.engines.len(), ax.log2);
                    (ax.t(x_of(record, r)) + dx, m)
                })
            })
            .collect();
        let dx = nudge(i, record.analysis.engines.len(), ax.log2);
        let faint: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.engine == e.engine)
            .flat_map(|r| {
                let x = ax.t(x_of(record, r)) + dx - 0.025;
                (panel.runs)(r)
                    .into_iter()
                    .filter(|v| v.is_finite())
                    .map(move |v| (x, v))
            })
            .collect();
        draw_markers(&mut chart, i, faint, 2, c.mix(0.3).filled())?;
        chart.draw_series(pts.iter().filter_map(|&(x, m)| {
            m.interval
                .map(|(lo, hi)| ErrorBar::new_vertical(x, lo, m.value, hi, c.stroke_width(2), 10))
        }))?;
        chart.draw_series(LineSeries::new(
            pts.iter().map(|&(x, m)| (x, m.value)),
            c.stroke_width(1),
        ))?;
        let medians = pts.iter().map(|&(x, m)| (x, m.value)).collect();
        let anno = draw_markers(&mut chart, i, medians, 5, c.filled())?.label(format!(
            "{} median, 95% interval; faint: each run",
            e.engine
        ));
        legend_marker(anno, i, c.filled());
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn stage_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    record: &SweepRecord,
    ax: XAxis,
) -> Res
where
    DB::ErrorType: 'static,
{
    let rows = &record.analysis.rows;
    let engines: Vec<_> = record.analysis.engines.iter().map(|e| e.engine).collect();
    let k = engines.len().max(1) as f64;
    // The processor-seconds each run had: median wall x n. What the stages did not use of it
    // (start-up, listing, waiting) is drawn grey on top.
    let had = |r: &PointRow| r.median_seconds * r.processors as f64;
    let top = rows
        .iter()
        .map(|r| r.stages.seconds.iter().sum::<f64>().max(had(r)))
        .fold(1e-6, f64::max)
        * 1.45; // headroom for the legend
    let cpu = rows.iter().all(|r| r.stages.clock == StageClock::Cpu);
    let x_desc = format!(
        "{} (bars left to right: {})",
        if record.schedule.cores.is_some() {
            "n = cores allowed"
        } else {
            "workers"
        },
        engines
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let y_desc = if cpu {
        "thread CPU seconds, summed over threads".to_string()
    } else {
        let clocks: Vec<String> = record
            .analysis
            .engines
            .iter()
            .map(|e| {
                let cpu = rows
                    .iter()
                    .filter(|r| r.engine == e.engine)
                    .all(|r| r.stages.clock == StageClock::Cpu);
                format!("{}: {}", e.engine, if cpu { "CPU" } else { "busy wall" })
            })
            .collect();
        format!("seconds summed over threads ({})", clocks.join(", "))
    };
    let mut chart = panel_chart(area, PANELS[3], ax, (0.0, top, false), x_desc, &y_desc)?;
    let width = if ax.log2 { 0.6 } else { 0.7 } / k;
    for (ei, engine) in engines.iter().enumerate() {
        for r in rows.iter().filter(|r| r.engine == *engine) {
            let x0 = ax.t(x_of(record, r)) - 0.5 * width * k + width * ei as f64;
            let mut base = 0.0;
            for s in Stage::ALL {
                let h = r.stages.seconds[s];
                chart.draw_series([Rectangle::new(
                    [(x0, base), (x0 + width * 0.9, base + h)],
                    STAGE_COLOURS[s.index()].filled(),
                )])?;
                base += h;
            }
            if had(r) > base {
                chart.draw_series([Rectangle::new(
                    [(x0, base), (x0 + width * 0.9, had(r))],
                    OUTSIDE_STAGES.filled(),
                )])?;
            }
        }
    }
    chart
        .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
        .label("outside stages (median wall x n - stage time)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], OUTSIDE_STAGES.filled()));
    for s in Stage::ALL {
        let c = STAGE_COLOURS[s.index()];
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label(s.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// A panel's chart over `ax` and 0..`top`, its mesh drawn with the shared x ticks and labels.
fn panel_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    ax: XAxis,
    (bottom, top, log_y): (f64, f64, bool),
    x_desc: String,
    y_desc: &str,
) -> Result<Chart<'a, DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(ax.range(), bottom..top)?;
    // Two significant digits: 0.063, 0.25, 1.6, 40.
    let log_label = |v: &f64| {
        let x = 10f64.powf(*v);
        let digits = (1 - x.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.digits$}")
    };
    let label: &dyn Fn(&f64) -> String = if log_y { &log_label } else { &y_label };
    chart
        .configure_mesh()
        .x_labels(ax.ticks())
        .x_label_formatter(&|v| ax.label(*v))
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .x_desc(x_desc)
        .y_label_formatter(label)
        .y_desc(y_desc)
        .draw()?;
    Ok(chart)
}

/// The series legend, in the corner at `position`.
fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    position: SeriesLabelPosition,
) -> Res
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    Ok(())
}

/// Each run's value of a figure that is inversely proportional to wall time (speedup,
/// throughput, efficiency), from its value at the median.
fn per_run(r: &PointRow, at_median: Option<f64>) -> Vec<f64> {
    match at_median {
        Some(v) if r.median_seconds > 0.0 => r
            .runs_seconds
            .iter()
            .filter(|&&t| t > 0.0)
            .map(|t| v * r.median_seconds / t)
            .collect(),
        _ => Vec::new(),
    }
}

/// The caption's load line: other processes' share of the machine during the runs.
fn load_line(record: &SweepRecord) -> String {
    let loads: Vec<f64> = record
        .analysis
        .rows
        .iter()
        .filter_map(|r| r.other_load)
        .collect();
    if loads.is_empty() {
        return "other load: not measured on this platform".into();
    }
    let max = loads.iter().copied().fold(0.0, f64::max);
    let mut sorted = loads.clone();
    sorted.sort_by(f64::total_cmp);
    let med = sorted[sorted.len() / 2];
    format!(
        "other load (share of the machine other processes took during the runs, median per point): median {:.0}%, highest {:.0}%{}",
        med * 100.0,
        max * 100.0,
        if max > 0.1 { " - timings include waiting for CPUs others held" } else { "" }
    )
}

/// `--plot-scale log`: median time per run against n on log-log axes, each run faint, with the
/// ideal T1/n per engine (dotted by the analysis' T1).
fn time_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    record: &SweepRecord,
    ax: XAxis,
    max_x: f64,
) -> Res {
    let log = |t: f64| if t > 0.0 { t.log10() } else { f64::NAN };
    let ideal = |chart: &mut Chart<'_, SVGBackend>, _top: f64| -> Res {
        for (i, e) in record.analysis.engines.iter().enumerate() {
            let Some(t1) = e.baseline_seconds else {
                continue;
            };
            let c = colour(i).mix(0.6);
            chart
                .draw_series(DashedLineSeries::new(
                    (0..=50).map(|k| {
                        let x = 1.0 + (max_x - 1.0) * f64::from(k) / 50.0;
                        (ax.t(x), log(t1 / x))
                    }),
                    3,
                    3,
                    c.stroke_width(1),
                ))?
                .label(format!("{} ideal T1/n", e.engine))
                .legend(dashed_sample(c.stroke_width(1)));
        }
        Ok(())
    };
    whisker_panel(
        area,
        record,
        ax,
        &Panel {
            title: "Time per run (log-log)",
            y_desc: "median wall seconds per run (log scale)",
            // The ideal lines end at T1 / the largest n.
            floor_top: record
                .analysis
                .engines
                .iter()
                .filter_map(|e| e.baseline_seconds)
                .map(|t1| log(t1 / max_x))
                .filter(|v| v.is_finite())
                .fold(f64::INFINITY, f64::min),
            log_y: true,
            value: &|r| {
                Some(Measured {
                    value: log(r.median_seconds),
                    interval: r.median_interval.map(|i| (log(i.low), log(i.high))),
                })
            },
            runs: &|r| r.runs_seconds.iter().map(|&t| log(t)).collect(),
            extra: &ideal,
        },
    )
}

/// The speedup axis, naming the baseline.
fn speedup_axis(record: &SweepRecord) -> String {
    let engines = &record.analysis.engines;
    let serial = engines.iter().all(|e| e.baseline == Baseline::Serial);
    let t1 = engines.iter().find_map(|e| e.baseline_seconds);
    match (serial, t1) {
        (true, Some(t)) if !engines.is_empty() => {
            format!("speedup S = T1/Tn, T1 = the serial engine ({t:.4} s)")
        }
        _ if engines.len() == 1 => format!(
            "speedup S = T1/Tn, T1 = its own 1-worker run ({} s)",
            t1.map_or_else(|| "-".into(), |t| format!("{t:.4}"))
        ),
        _ => "speedup S = T1/Tn, T1 = each engine's own 1-worker run".into(),
    }
}

fn draw(record: &SweepRecord, log_time: bool, buf: &mut String) -> Res {
    let rows = &record.analysis.rows;
    let max_x = rows.iter().map(|r| x_of(record, r)).fold(2.0, f64::max);
    let ax = XAxis {
        log2: max_x > 16.0,
        max: max_x,
    };
    let root = SVGBackend::with_string(buf, (1280, 960)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title_area, rest) = root.split_vertically(40);
    let warnings = &record.analysis.warnings;
    let foot_lines = 3 + warnings.len().min(3);
    let (body, foot) = rest.split_vertically(960 - 40 - 8 - 20 * foot_lines as i32);
    title_area.titled(
        &format!(
            "graypipe sweep: {} files, {:.2} MP per run, {} -> {}",
            record.job.files, record.job.megapixels, record.job.operation, record.job.format
        ),
        ("sans-serif", 22),
    )?;
    let runs: Vec<usize> = rows.iter().map(|r| r.runs_seconds.len()).collect();
    let (rmin, rmax) = (
        runs.iter().copied().min().unwrap_or(0),
        runs.iter().copied().max().unwrap_or(0),
    );
    foot.draw(&Text::new(
        format!(
            "machine: {} logical cores, {}, {}",
            record.machine.logical_cores, record.machine.cpu, record.machine.os
        ),
        (12, 6),
        ("sans-serif", 14),
    ))?;
    foot.draw(&Text::new(
        format!(
            "{}-{} counted runs per point after {} warm-up round(s); points are medians, whiskers bootstrap 95% intervals over runs; n = min(workers, cores allowed)",
            rmin, rmax, record.schedule.warmup
        ),
        (12, 26),
        ("sans-serif", 14),
    ))?;
    foot.draw(&Text::new(load_line(record), (12, 46), ("sans-serif", 14)))?;
    // At most three lines of warnings: the first ones, then how many more the text has.
    let shown = if warnings.len() > 3 {
        2
    } else {
        warnings.len()
    };
    for (k, w) in warnings.iter().take(shown).enumerate() {
        let mut w = format!("warning: {w}");
        if w.chars().count() > 175 {
            w = w.chars().take(172).collect::<String>() + "...";
        }
        foot.draw(&Text::new(w, (12, 66 + 20 * k as i32), ("sans-serif", 13)))?;
    }
    if warnings.len() > shown {
        foot.draw(&Text::new(
            format!(
                "... and {} more warning(s) in the text report",
                warnings.len() - shown
            ),
            (12, 66 + 20 * shown as i32),
            ("sans-serif", 13),
        ))?;
    }
    let panels = body.split_evenly((2, 2));
    let baseline = speedup_axis(record);
    let cores = record.machine.logical_cores.max(1) as f64;
    let amdahl_curves = |chart: &mut Chart<'_, SVGBackend>, _top: f64| -> Res {
        chart
            .draw_series(LineSeries::new(
                (0..=200).map(|k| {
                    let x = 1.0 + (max_x - 1.0) * k as f64 / 200.0;
                    (ax.t(x), x.min(cores))
                }),
                BLACK.mix(0.35),
            ))?
            .label("ideal S = n")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.35)));
        for (i, e) in record.analysis.engines.iter().enumerate() {
            let (Some(f), Some(t1)) = (e.fit, e.baseline_seconds) else {
                continue;
            };
            let c = colour(i);
            if e.ceiling.is_none() {
                // The analysis rejected the fit (P outside [0, 1], too wide, or a gate said
                // no): not drawn, only named.
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                    .label(format!(
                        "{} Amdahl fit rejected by the analysis: not drawn",
                        e.engine
                    ))
                    .legend(dashed_sample(RGBColor(0xaa, 0xaa, 0xaa).stroke_width(2)));
                continue;
            }
            let curve = (0..=200).map(|k| {
                let x = 1.0 + (max_x - 1.0) * k as f64 / 200.0;
                let n = if record.schedule.cores.is_some() {
                    x
                } else {
                    x.min(cores)
                };
                (ax.t(x), t1 / f.time(n))
            });
            chart
                .draw_series(DashedLineSeries::new(curve, 6, 4, c.stroke_width(2)))?
                .label(format!(
                    "{} Amdahl fit T(n) = a + b/n, P = {:.3}",
                    e.engine, f.parallel_fraction
                ))
                .legend(dashed_sample(c.stroke_width(2)));
        }
        Ok(())
    };
    if log_time {
        let log_x = XAxis {
            log2: true,
            max: max_x,
        };
        time_panel(&panels[0], record, log_x, max_x)?;
    } else {
        whisker_panel(
            &panels[0],
            record,
            ax,
            &Panel {
                title: PANELS[0],
                y_desc: &baseline,
                floor_top: 2.0,
                log_y: false,
                value: &|r| {
                    r.speedup.map(|s| Measured {
                        value: s,
                        interval: r.speedup_interval.map(|i| (i.low, i.high)),
                    })
                },
                runs: &|r| per_run(r, r.speedup),
                extra: &amdahl_curves,
            },
        )?;
    }
    let usl_curves = |chart: &mut Chart<'_, SVGBackend>, _top: f64| -> Res {
        for (i, e) in record.analysis.engines.iter().enumerate() {
            let Some(u) = e.usl else { continue };
            let c = colour(i);
            let curve = (0..=200).map(|k| {
                let x = 1.0 + (max_x - 1.0) * k as f64 / 200.0;
                (ax.t(x), u.params.throughput(x))
            });
            chart
                .draw_series(DashedLineSeries::new(curve, 6, 4, c.stroke_width(2)))?
                .label(format!(
                    "{} USL fit, sigma {:.3}, kappa {:.4}",
                    e.engine, u.params.sigma, u.params.kappa
                ))
                .legend(dashed_sample(c.stroke_width(2)));
        }
        Ok(())
    };
    whisker_panel(
        &panels[1],
        record,
        ax,
        &Panel {
            title: PANELS[1],
            y_desc: "images per second (files / median wall)",
            floor_top: 0.0,
            log_y: false,
            value: &|r| {
                Some(Measured {
                    value: r.images_per_second,
                    interval: r.images_per_second_interval.map(|i| (i.low, i.high)),
                })
            },
            runs: &|r| per_run(r, Some(r.images_per_second)),
            extra: &usl_curves,
        },
    )?;
    let full = |chart: &mut Chart<'_, SVGBackend>, _top: f64| -> Res {
        let r = ax.range();
        chart
            .draw_series(LineSeries::new(
                [(r.start, 100.0), (r.end, 100.0)],
                BLACK.mix(0.35),
            ))?
            .label("100%")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.35)));
        Ok(())
    };
    whisker_panel(
        &panels[2],
        record,
        ax,
        &Panel {
            title: PANELS[2],
            y_desc: "efficiency S/n, %",
            floor_top: 100.0,
            log_y: false,
            value: &|r| {
                r.efficiency.map(|e| Measured {
                    value: e * 100.0,
                    interval: r
                        .efficiency_interval
                        .map(|i| (i.low * 100.0, i.high * 100.0)),
                })
            },
            runs: &|r| per_run(r, r.efficiency.map(|e| e * 100.0)),
            extra: &full,
        },
    )?;
    stage_panel(&panels[3], record, ax)?;
    root.present()?;
    Ok(())
}

impl Exporter for SvgExporter {
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String> {
        let mut buf = String::new();
        draw(record, self.log_time, &mut buf).map_err(|e| format!("cannot draw the plot: {e}"))?;
        Ok(buf.into_bytes())
    }
}
