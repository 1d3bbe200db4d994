//! The reliability picture: per scored part, the share of windows right against the mean
//! confidence of each confidence bin, at temperature 1 and at the fitted one, beside the
//! diagonal a calibrated model would follow.

use super::{Reliability, BINS};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

pub(super) fn plot(
    path: &Path,
    parts: &[(String, Reliability, Reliability)],
    t: f64,
) -> Result<()> {
    crate::report::ensure_font()?;
    let family = crate::report::FAMILY;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Reliability of the top genre's confidence ({BINS} bins; T = {t:.2})"),
            (family, 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0f64..1.0, 0.0f64..1.0)?;
    chart
        .configure_mesh()
        .x_desc("confidence shown (mean of the bin)")
        .y_desc("windows right")
        .x_label_formatter(&|x| format!("{:.0} %", x * 100.0))
        .y_label_formatter(&|y| format!("{:.0} %", y * 100.0))
        .label_style((family, 14))
        .axis_desc_style((family, 15))
        .draw()?;
    chart
        .draw_series(DashedLineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            6,
            4,
            BLACK.stroke_width(1),
        ))?
        .label("calibrated")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(1)));
    let colours = [RGBColor(31, 119, 180), RGBColor(230, 85, 13)];
    for ((name, before, after), c) in parts.iter().zip(colours) {
        let points = |r: &Reliability| -> Vec<(f64, f64)> {
            r.bins
                .iter()
                .filter(|b| b.0 >= 5)
                .map(|&(_, conf, right)| (conf, right))
                .collect()
        };
        for (r, width, what) in [(before, 1, "T = 1"), (after, 3, "calibrated")] {
            let style = c.stroke_width(width);
            chart
                .draw_series(LineSeries::new(points(r), style).point_size(3))?
                .label(format!("{name}, {what} (ECE {:.3})", r.ece))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
    }
    crate::report::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}
