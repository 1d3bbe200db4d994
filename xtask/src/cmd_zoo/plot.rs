//! zoo.png: accuracy per system, one bar per data set, with error bars (the standard
//! deviation over folds for the cross-validation; the binomial standard error for the sets
//! scored once).

use super::Zoo;
use crate::report::{ensure_font, FAMILY};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

pub fn draw(zoo: &Zoo, path: &Path) -> Result<()> {
    ensure_font()?;
    let colours = [
        RGBColor(31, 119, 180),
        RGBColor(230, 85, 13),
        RGBColor(44, 160, 44),
    ];
    let labels = [
        "gtzan-mini 5-fold CV, clip (± sd over folds; artist-overlapping)",
        "Emotify held-out half, clip (± binomial s.e.)",
        "CC pieces right (± binomial s.e.)",
    ];
    let binomial = |p: f64, n: usize| (p * (1.0 - p) / n.max(1) as f64).sqrt();
    // (mean, error) per system and set.
    let bars: Vec<[(f64, f64); 3]> = zoo
        .systems
        .iter()
        .map(|r| {
            let cc_n = r.cc.len();
            let cc_p =
                r.cc.iter().filter(|p| p.got == p.expected).count() as f64 / cc_n.max(1) as f64;
            [
                (r.cv.clip.mean, r.cv.clip.std),
                (
                    r.emotify_heldout.clip.mean,
                    binomial(r.emotify_heldout.clip.mean, r.emotify_heldout.clips),
                ),
                (cc_p, binomial(cc_p, cc_n)),
            ]
        })
        .collect();
    let n = zoo.systems.len().max(1);
    // Wide enough for the caption and legend whatever the number of systems.
    let width = (220 * n as u32 + 160).max(820);
    let root = BitMapBackend::new(path, (width, 620)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "The seed papers' systems and this project's, one protocol",
            (FAMILY, 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n as f64, 0.0..1.25)?;
    let names: Vec<String> = zoo.systems.iter().map(|r| r.name.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 1e-6 && i < names.len() {
                names[i].clone()
            } else {
                String::new()
            }
        })
        .y_desc("accuracy")
        .y_labels(6)
        .y_label_formatter(&|y| {
            if *y <= 1.0 {
                format!("{:.0} %", y * 100.0)
            } else {
                String::new()
            }
        })
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()?;
    let width = 0.8 / 3.0;
    for (set, colour) in colours.iter().enumerate() {
        let rects = bars.iter().enumerate().map(|(i, b)| {
            let x0 = i as f64 + 0.1 + set as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.9, b[set].0)], colour.filled())
        });
        chart
            .draw_series(rects)?
            .label(labels[set])
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        // Error bars as three strokes each (a vertical line and two caps).
        chart.draw_series(bars.iter().enumerate().flat_map(|(i, b)| {
            let x = i as f64 + 0.1 + set as f64 * width + width * 0.45;
            let (m, e) = b[set];
            let (lo, hi, cap) = ((m - e).max(0.0), (m + e).min(1.0), width * 0.2);
            [
                vec![(x, lo), (x, hi)],
                vec![(x - cap, lo), (x + cap, lo)],
                vec![(x - cap, hi), (x + cap, hi)],
            ]
            .into_iter()
            .map(|p| PathElement::new(p, BLACK.stroke_width(2)))
        }))?;
    }
    crate::report::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}
