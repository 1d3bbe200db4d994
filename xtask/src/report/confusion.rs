//! The confusion-matrix heat map of a report: counts and row percentages per cell, the
//! support per true label, and a colour bar.

use super::{ensure_font, FAMILY};
use anyhow::{anyhow, bail};
use anyhow::{Context, Result};
use model::metrics::Confusion;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform};
use std::path::Path;

/// Sequential white → dark-blue colour map (like matplotlib's "Blues") for a
/// fraction in `[0, 1]`.
fn blues(f: f64) -> RGBColor {
    const STOPS: [(f64, (f64, f64, f64)); 4] = [
        (0.0, (247.0, 251.0, 255.0)),
        (0.35, (158.0, 202.0, 225.0)),
        (0.7, (49.0, 130.0, 189.0)),
        (1.0, (8.0, 48.0, 107.0)),
    ];
    let f = if f.is_finite() {
        f.clamp(0.0, 1.0)
    } else {
        0.0
    };
    for w in STOPS.windows(2) {
        let (f0, c0) = w[0];
        let (f1, c1) = w[1];
        if f <= f1 {
            let t = (f - f0) / (f1 - f0);
            let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
            return RGBColor(lerp(c0.0, c1.0), lerp(c0.1, c1.1), lerp(c0.2, c1.2));
        }
    }
    RGBColor(8, 48, 107)
}

/// Width in pixels of `text` in the embedded font at `size`.
fn text_width(text: &str, size: f64) -> Result<i32> {
    let (w, _) = FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
        .box_size(text)
        .map_err(|e| anyhow!("measuring text {text:?}: {e:?}"))?;
    Ok(w as i32)
}

/// Draws a confusion matrix as a heat map and writes it as a PNG.
///
/// Rows are the true genre, columns the predicted genre. Colours are
/// row-normalised (each cell is coloured by the fraction of that genre's clips
/// it received, i.e. the diagonal shows per-class recall), so small genres
/// are as readable as large ones in an unbalanced evaluation set; each cell
/// shows its raw count and that row percentage. Row supports are printed on
/// the right, accuracy / balanced accuracy / macro F1 under the title, and a
/// colour bar explains the scale. Long labels are written vertically under
/// the columns.
pub fn plot_confusion(conf: &Confusion, title: &str, path: &Path) -> Result<()> {
    ensure_font()?;
    let n = conf.labels.len();
    if n == 0 {
        bail!("plot_confusion: confusion matrix has no labels");
    }
    if conf.counts.len() != n || conf.counts.iter().any(|r| r.len() != n) {
        bail!("plot_confusion: counts are not {n}x{n}");
    }

    // --- Layout -----------------------------------------------------------
    let cell: i32 = (720 / n as i32).clamp(36, 80);
    let label_size = if cell >= 60 { 15.0 } else { 12.0 };
    let count_size = (cell as f64 * 0.26).clamp(10.0, 19.0);
    let pct_size = (count_size * 0.7).max(9.0);
    let axis_title_size = 16.0;

    let max_label_w = conf
        .labels
        .iter()
        .map(|l| text_width(l, label_size))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .max()
        .unwrap_or(0);
    // Column labels are horizontal if they all fit in a cell, vertical otherwise.
    let vertical_cols = max_label_w > cell - 6;
    let col_label_h = if vertical_cols { max_label_w + 12 } else { 26 };

    let margin = 20;
    let left = margin + 28 /* axis title */ + max_label_w + 10;
    let top = 86;
    let grid = cell * n as i32;
    let support_w = 70;
    let bar_w = 18;
    let bar_label_w = 48;
    let width = left + grid + support_w + bar_w + bar_label_w + margin;
    let height = top + grid + col_label_h + 36 /* axis title */ + margin;
    let width = width.max(420);

    let root = BitMapBackend::new(path, (width as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;

    let font = |size: f64| FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal);
    let centered = Pos::new(HPos::Center, VPos::Center);

    // --- Title and headline metrics ----------------------------------------
    root.draw(&Text::new(
        title.to_string(),
        (width / 2, 24),
        font(22.0).color(&BLACK).pos(centered),
    ))?;
    let subtitle = format!(
        "n = {}   accuracy {:.3}   balanced accuracy {:.3}   macro F1 {:.3}",
        conf.total(),
        conf.accuracy(),
        conf.balanced_accuracy(),
        conf.macro_f1()
    );
    root.draw(&Text::new(
        subtitle,
        (width / 2, 54),
        font(15.0).color(&RGBColor(70, 70, 70)).pos(centered),
    ))?;

    // --- Cells ---------------------------------------------------------------
    let grey = RGBColor(170, 170, 170);
    for (i, row) in conf.counts.iter().enumerate() {
        let support: u64 = row.iter().sum();
        for (j, &c) in row.iter().enumerate() {
            let f = if support > 0 {
                c as f64 / support as f64
            } else {
                0.0
            };
            let x0 = left + j as i32 * cell;
            let y0 = top + i as i32 * cell;
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell, y0 + cell)],
                blues(f).filled(),
            ))?;
            let ink = if f > 0.5 {
                WHITE
            } else if c == 0 {
                grey
            } else {
                BLACK
            };
            let cx = x0 + cell / 2;
            let cy = y0 + cell / 2;
            if c > 0 && cell >= 48 {
                root.draw(&Text::new(
                    c.to_string(),
                    (cx, cy - (pct_size * 0.55) as i32),
                    font(count_size).color(&ink).pos(centered),
                ))?;
                root.draw(&Text::new(
                    format!("{:.0}%", 100.0 * f),
                    (cx, cy + (count_size * 0.65) as i32),
                    font(pct_size).color(&ink).pos(centered),
                ))?;
            } else {
                root.draw(&Text::new(
                    c.to_string(),
                    (cx, cy),
                    font(count_size).color(&ink).pos(centered),
                ))?;
            }
        }
    }
    // Thin grid lines and a frame; outline the diagonal (correct predictions).
    let line = RGBColor(220, 220, 220);
    for k in 0..=n as i32 {
        let p = k * cell;
        root.draw(&PathElement::new(
            vec![(left + p, top), (left + p, top + grid)],
            line,
        ))?;
        root.draw(&PathElement::new(
            vec![(left, top + p), (left + grid, top + p)],
            line,
        ))?;
    }
    for i in 0..n as i32 {
        let (x0, y0) = (left + i * cell, top + i * cell);
        root.draw(&Rectangle::new(
            [(x0 + 1, y0 + 1), (x0 + cell - 1, y0 + cell - 1)],
            RGBColor(230, 85, 13).stroke_width(2),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(left, top), (left + grid, top + grid)],
        BLACK.stroke_width(1),
    ))?;

    // --- Row (truth) labels, column (predicted) labels, supports --------------
    for (i, label) in conf.labels.iter().enumerate() {
        let y = top + i as i32 * cell + cell / 2;
        root.draw(&Text::new(
            label.clone(),
            (left - 8, y),
            font(label_size)
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
        let x = left + i as i32 * cell + cell / 2;
        if vertical_cols {
            // Rotated 270°: reads bottom-to-top, right-aligned against the grid.
            root.draw(&Text::new(
                label.clone(),
                (x, top + grid + 8),
                font(label_size)
                    .transform(FontTransform::Rotate270)
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        } else {
            root.draw(&Text::new(
                label.clone(),
                (x, top + grid + 14),
                font(label_size).color(&BLACK).pos(centered),
            ))?;
        }
        root.draw(&Text::new(
            format!("n={}", conf.support(i)),
            (left + grid + 8, y),
            font(label_size * 0.9)
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    // Axis titles.
    root.draw(&Text::new(
        "predicted genre",
        (left + grid / 2, top + grid + col_label_h + 18),
        font(axis_title_size).color(&BLACK).pos(centered),
    ))?;
    root.draw(&Text::new(
        "true genre",
        (margin + 8, top + grid / 2),
        font(axis_title_size)
            .transform(FontTransform::Rotate270)
            .color(&BLACK)
            .pos(centered),
    ))?;

    // --- Colour bar (fraction of the row) -------------------------------------
    let bx = left + grid + support_w;
    let steps = 100;
    for s in 0..steps {
        let f0 = s as f64 / steps as f64;
        let ya = top + grid - (grid as f64 * f0) as i32;
        let yb = top + grid - (grid as f64 * (s + 1) as f64 / steps as f64) as i32;
        root.draw(&Rectangle::new(
            [(bx, yb), (bx + bar_w, ya)],
            blues(f0 + 0.5 / steps as f64).filled(),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(bx, top), (bx + bar_w, top + grid)],
        BLACK.stroke_width(1),
    ))?;
    for pct in [0, 25, 50, 75, 100] {
        let y = top + grid - grid * pct / 100;
        root.draw(&PathElement::new(
            vec![(bx + bar_w, y), (bx + bar_w + 4, y)],
            BLACK,
        ))?;
        root.draw(&Text::new(
            format!("{pct}%"),
            (bx + bar_w + 7, y),
            font(12.0)
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }

    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
