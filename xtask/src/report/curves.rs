//! The learning curves of a report: loss and accuracy per epoch, train and valid, the
//! kept epoch marked, and the learning rate on the loss panel.

use super::{ensure_font, FAMILY};
use anyhow::bail;
use anyhow::{Context, Result};
use model::train::{BestBy, EpochRecord};
use plotters::prelude::*;
use std::path::Path;

/// Draws learning curves as a PNG: a loss panel (train / valid, plus the
/// learning rate on a secondary axis) and an accuracy panel (train / valid),
/// both against the epoch, with legends. `best_epoch`, the epoch whose weights the
/// trainer kept by rule `best_by`, is marked with a dashed vertical line in both panels
/// and annotated in the accuracy panel. Non-finite values (e.g. a diverged loss)
/// are skipped rather than breaking the plot.
pub fn plot_curves(
    history: &[EpochRecord],
    best_epoch: usize,
    best_by: BestBy,
    path: &Path,
) -> Result<()> {
    ensure_font()?;
    if history.is_empty() {
        bail!("plot_curves: no epochs to plot");
    }
    let mut pts = history.to_vec();
    pts.sort_by_key(|p| p.epoch);
    let Some(kept) = pts.iter().find(|p| p.epoch == best_epoch).cloned() else {
        bail!("plot_curves: the kept epoch {best_epoch} is not in the history");
    };
    let kept_because = match best_by {
        BestBy::AccuracyThenLoss => "best valid accuracy",
        BestBy::Loss => "lowest valid loss",
    };

    let e_min = pts.first().unwrap().epoch as i32;
    let e_max = pts.last().unwrap().epoch as i32;
    let (x_lo, x_hi) = if e_min == e_max {
        (e_min - 1, e_max + 1)
    } else {
        (e_min, e_max)
    };
    let n_x_labels = ((x_hi - x_lo) as usize + 1).min(12);
    let show_markers = pts.len() <= 40;

    let train_c = RGBColor(31, 119, 180);
    let valid_c = RGBColor(230, 85, 13);
    let best_c = RGBColor(44, 160, 44);
    let lr_c = RGBColor(150, 150, 150);

    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled("Training curves", (FAMILY, 24))?;
    let panels = root.split_evenly((1, 2));

    let finite = |v: f64| v.is_finite();
    let series = |f: fn(&EpochRecord) -> f64| -> Vec<(i32, f64)> {
        pts.iter()
            .filter(|p| finite(f(p)))
            .map(|p| (p.epoch as i32, f(p)))
            .collect()
    };
    let colors = CurveColors {
        train: train_c,
        valid: valid_c,
        kept: best_c,
        lr: lr_c,
    };
    let x = (x_lo, x_hi, n_x_labels);

    let train = series(|p| p.train_loss);
    let valid = series(|p| p.valid_loss);
    let values = || train.iter().chain(&valid).map(|&(_, v)| v);
    let y_max = values().fold(0.0f64, f64::max);
    // Headroom so the legend (upper right) does not cover the curves.
    let y_max = if y_max > 0.0 { y_max * 1.3 } else { 1.0 };
    let y_min = values().fold(0.0f64, f64::min);
    let lr = series(|p| p.lr);
    let lr_max = lr.iter().map(|&(_, v)| v).fold(0.0f64, f64::max);
    curve_panel(
        &panels[0],
        &Panel {
            caption: "loss",
            y_desc: "cross-entropy loss",
            y: (y_min, y_max),
            y_labels: 8,
            y_label_decimals: None,
            lr: (lr_max > 0.0).then_some((lr, lr_max)),
            kept: None,
            legend_at: SeriesLabelPosition::UpperRight,
        },
        x,
        kept.epoch as i32,
        (&train, &valid),
        show_markers,
        &colors,
    )?;
    curve_panel(
        &panels[1],
        &Panel {
            caption: "accuracy",
            y_desc: "accuracy",
            y: (0.0, 1.0),
            y_labels: 11,
            y_label_decimals: Some(1),
            lr: None,
            kept: Some((
                format!(
                    "kept: epoch {} ({kept_because}; valid acc {:.3})",
                    kept.epoch, kept.valid_acc
                ),
                kept.valid_acc,
            )),
            legend_at: SeriesLabelPosition::LowerRight,
        },
        x,
        kept.epoch as i32,
        (&series(|p| p.train_acc), &series(|p| p.valid_acc)),
        show_markers,
        &colors,
    )?;

    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A curve: (epoch, value) points.
type Points = [(i32, f64)];

struct CurveColors {
    train: RGBColor,
    valid: RGBColor,
    kept: RGBColor,
    lr: RGBColor,
}

/// What sets the loss and accuracy panels apart; everything else they draw alike.
struct Panel {
    caption: &'static str,
    y_desc: &'static str,
    y: (f64, f64),
    y_labels: usize,
    /// Decimals of the y labels (plotters' own format when `None`).
    y_label_decimals: Option<usize>,
    /// The learning rate on a right axis, and its largest value.
    lr: Option<(Vec<(i32, f64)>, f64)>,
    /// The kept epoch's legend entry and the value circled on its line.
    kept: Option<(String, f64)>,
    legend_at: SeriesLabelPosition,
}

/// One panel of the training curves: train and valid over epochs, the kept epoch as a
/// dashed line, and what [`Panel`] adds.
#[allow(clippy::too_many_arguments)]
fn curve_panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    panel: &Panel,
    (x_lo, x_hi, n_x_labels): (i32, i32, usize),
    kept_epoch: i32,
    (train, valid): (&Points, &Points),
    show_markers: bool,
    c: &CurveColors,
) -> Result<()> {
    let (y_min, y_max) = panel.y;
    let lr_max = panel.lr.as_ref().map(|l| l.1);
    let mut chart = ChartBuilder::on(area)
        .caption(panel.caption, (FAMILY, 19))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(62)
        .right_y_label_area_size(if lr_max.is_some() { 76 } else { 0 })
        .build_cartesian_2d(x_lo..x_hi, y_min..y_max)?
        .set_secondary_coord(x_lo..x_hi, 0.0..lr_max.map_or(1.0, |m| m * 1.3));
    let decimals = panel.y_label_decimals;
    let y_fmt = move |v: &f64| format!("{v:.*}", decimals.unwrap_or(0));
    let mut mesh = chart.configure_mesh();
    mesh.x_desc("epoch")
        .y_desc(panel.y_desc)
        .x_labels(n_x_labels)
        .y_labels(panel.y_labels)
        .light_line_style(RGBColor(240, 240, 240))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 15));
    if decimals.is_some() {
        mesh.y_label_formatter(&y_fmt);
    }
    mesh.draw()?;
    if let Some((lr, _)) = &panel.lr {
        let lr_c = c.lr;
        chart
            .configure_secondary_axes()
            .y_desc("learning rate")
            .y_labels(6)
            .y_label_formatter(&|v| {
                if *v == 0.0 {
                    "0".into()
                } else {
                    format!("{v:.0e}")
                }
            })
            .label_style((FAMILY, 12).into_font().color(&lr_c))
            .axis_desc_style((FAMILY, 14).into_font().color(&lr_c))
            .draw()?;
        chart
            .draw_secondary_series(LineSeries::new(lr.clone(), lr_c.stroke_width(1)))?
            .label("learning rate (right axis)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], lr_c.stroke_width(1))
            });
    }
    let best_c = c.kept;
    let kept_line = chart.draw_series(DashedLineSeries::new(
        vec![(kept_epoch, y_min), (kept_epoch, y_max)],
        6,
        4,
        best_c.stroke_width(2),
    ))?;
    if let Some((label, value)) = &panel.kept {
        kept_line.label(label).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], best_c.stroke_width(2))
        });
        chart.draw_series(std::iter::once(Circle::new(
            (kept_epoch, *value),
            7,
            best_c.stroke_width(2),
        )))?;
    }
    for (points, name, color) in [(train, "train", c.train), (valid, "valid", c.valid)] {
        chart
            .draw_series(LineSeries::new(points.to_vec(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    if show_markers {
        for (points, color) in [(train, c.train), (valid, c.valid)] {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    super::draw_legend(&mut chart, panel.legend_at.clone())?;
    Ok(())
}
