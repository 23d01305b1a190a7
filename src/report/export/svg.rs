//! `--plot F.svg`: measured speedup with min-max whiskers, the ideal line and each engine's
//! fitted Amdahl curve.

use plotters::prelude::*;

use super::Exporter;
use crate::sweep::SweepRecord;

/// An SVG chart drawn with plotters.
pub struct SvgExporter;

fn draw(record: &SweepRecord, buf: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let rows = &record.analysis.rows;
    let max_n = rows.iter().map(|r| r.workers).max().unwrap_or(1).max(2) as f64;
    let t1_of = |engine| {
        record
            .analysis
            .engines
            .iter()
            .find(|e| e.engine == engine)
            .map_or(f64::NAN, |e| e.baseline_seconds)
    };
    let top = rows
        .iter()
        .map(|r| t1_of(r.engine) / r.min_seconds)
        .filter(|s| s.is_finite())
        .fold(max_n, f64::max)
        * 1.1;
    let root = SVGBackend::with_string(buf, (860, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "graypipe sweep: {} files, {} ({} cores)",
        record.job.files, record.job.operation, record.machine.logical_cores
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0.5f64..max_n + 0.5, 0f64..top)?;
    let whole = |x: &f64| {
        if (x - x.round()).abs() < 1e-9 {
            format!("{x:.0}")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(max_n as usize + 2)
        .x_label_formatter(&whole)
        .disable_x_mesh()
        .x_desc("workers n")
        .y_desc("speedup S = T1 / Tn")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(1.0, 1.0), (max_n, max_n)],
            BLACK.mix(0.35),
        ))?
        .label("ideal S = n")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.35)));
    for (i, e) in record.analysis.engines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<_> = rows.iter().filter(|r| r.engine == e.engine).collect();
        chart.draw_series(pts.iter().map(|r| {
            let n = r.workers as f64;
            ErrorBar::new_vertical(
                n,
                e.baseline_seconds / r.max_seconds,
                r.speedup,
                e.baseline_seconds / r.min_seconds,
                color.filled(),
                10,
            )
        }))?;
        chart
            .draw_series(
                pts.iter()
                    .map(|r| Circle::new((r.workers as f64, r.speedup), 4, color.filled())),
            )?
            .label(format!("{} measured (median, min-max)", e.engine))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        if let Some(f) = e.fit {
            let p = f.parallel_fraction;
            // The fit counts min(n, cores) processors, so the curve flattens at the cores.
            let cores = record.machine.logical_cores.max(1) as f64;
            let curve = (0..=400).map(|k| {
                let n = 1.0 + (max_n - 1.0) * k as f64 / 400.0;
                (n, crate::sweep::amdahl::amdahl_speedup(p, n.min(cores)))
            });
            chart
                .draw_series(LineSeries::new(curve, color.stroke_width(2)))?
                .label(format!(
                    "{} Amdahl fit, P = {:.3} ({} cores)",
                    e.engine, p, cores
                ))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    root.present()?;
    Ok(())
}

impl Exporter for SvgExporter {
    fn serialize(&self, record: &SweepRecord) -> Result<Vec<u8>, String> {
        let mut buf = String::new();
        draw(record, &mut buf).map_err(|e| format!("cannot draw the plot: {e}"))?;
        Ok(buf.into_bytes())
    }
}
