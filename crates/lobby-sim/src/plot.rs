//! `--plot <file.svg>`: queue length and service level over simulated time, one line per routing
//! method, from each method's first replication. SVG only, so no system fonts are needed.

use plotters::prelude::*;

use crate::report::RunReport;
use crate::SimError;

const COLORS: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

/// Draws the report's time series into an SVG file at `path`.
pub fn draw(report: &RunReport, path: &str) -> Result<(), SimError> {
    let error = |e: &dyn std::fmt::Display| SimError::Plot(e.to_string());
    let root = SVGBackend::new(path, (960, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let (top, bottom) = root.split_vertically(360);
    let end_minutes = (report.scenario.warm_up.as_secs() + report.scenario.length.as_secs()) / 60.0;
    let series: Vec<_> = report
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| (m.routing.name(), COLORS[i % COLORS.len()], &m.replications[0]))
        .collect();

    let longest_queue =
        series.iter().flat_map(|(_, _, r)| r.queue_length.iter().map(|(_, q)| *q)).fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(&top)
        .caption("Waiting conversations", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..end_minutes, 0.0..longest_queue * 1.05)
        .map_err(|e| error(&e))?;
    chart.configure_mesh().x_desc("simulated minutes").y_desc("queue length").draw().map_err(|e| error(&e))?;
    for (name, color, replication) in &series {
        chart
            .draw_series(LineSeries::new(replication.queue_length.iter().copied(), color))
            .map_err(|e| error(&e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(|e| error(&e))?;

    let threshold = report.scenario.sl_threshold;
    let mut chart = ChartBuilder::on(&bottom)
        .caption(format!("Service level ({threshold}) by arrival interval"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..end_minutes, 0.0..1.0)
        .map_err(|e| error(&e))?;
    chart
        .configure_mesh()
        .x_desc("simulated minutes")
        .y_desc("share answered in time")
        .draw()
        .map_err(|e| error(&e))?;
    for (name, color, replication) in &series {
        chart
            .draw_series(LineSeries::new(replication.service_level_over_time.iter().copied(), color))
            .map_err(|e| error(&e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw().map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))?;
    Ok(())
}
