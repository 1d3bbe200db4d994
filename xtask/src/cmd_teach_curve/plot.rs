//! docs/teach.png: one setting's few-shot curve, a panel per scenario — the taught kinds
//! on held-out pieces and the untouched genres, against k, with zero-shot's level beside.

use super::{k_name, Cell, Curve, KS};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

pub(super) fn plot(path: &Path, curve: &Curve, zs: &[Cell; 2]) -> Result<()> {
    crate::report::ensure_font()?;
    let family = crate::report::FAMILY;
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Teaching by example (penalty {}, bandwidth scale {})",
                curve.penalty, curve.scale
            ),
            (family, 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..KS.len() as f64 - 0.7, 0.0f64..1.05)?;
    chart
        .configure_mesh()
        .x_labels(KS.len())
        .x_label_formatter(&|x| {
            let i = x.round() as usize;
            if (x - i as f64).abs() < 1e-6 && i < KS.len() {
                k_name(KS[i])
            } else {
                String::new()
            }
        })
        .x_desc("pieces taught per label")
        .y_desc("clips right")
        .y_label_formatter(&|y| format!("{:.0} %", y * 100.0))
        .label_style((family, 14))
        .axis_desc_style((family, 15))
        .draw()?;
    let colours = [RGBColor(31, 119, 180), RGBColor(230, 85, 13)];
    for (sc, name) in ["Emotify", "gtzan-mini pop/disco"].iter().enumerate() {
        let c = colours[sc];
        let line = |f: &dyn Fn(&Cell) -> f64| -> Vec<(f64, f64)> {
            curve.cells[sc]
                .iter()
                .enumerate()
                .map(|(i, x)| (i as f64, f(x)))
                .collect()
        };
        chart
            .draw_series(LineSeries::new(line(&|x| x.taught), c.stroke_width(3)))?
            .label(format!("{name}: taught kinds, held-out pieces"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(3)));
        chart
            .draw_series(LineSeries::new(line(&|x| x.untouched), c.stroke_width(1)))?
            .label(format!("{name}: untouched genres"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(1)));
        let z = zs[sc].taught;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.3, z), (KS.len() as f64 - 0.7, z)],
                6,
                4,
                c.stroke_width(1),
            ))?
            .label(format!("{name}: zero-shot on the taught kinds"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 5, y)], c.stroke_width(1)));
    }
    crate::report::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}
