//! PNG pictures for training / evaluation reports: a confusion-matrix heat map
//! and loss / accuracy learning curves.
//!
//! Rendering uses plotters' bitmap backend with the pure-Rust `ab_glyph` text
//! renderer, so no system font libraries (fontconfig / freetype) are needed.
//! `ab_glyph` has no fonts of its own: we embed DejaVu Sans
//! (`xtask/assets/DejaVuSans.ttf`, Bitstream Vera licence + public domain, see
//! `xtask/assets/DejaVuSans-LICENSE.txt`) and register it once as plotters'
//! `"sans-serif"` family, which is the family every plotters default uses.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use model::metrics::Confusion;
use model::train::{BestBy, EpochRecord, EvalReport};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform};
use serde::Deserialize;

/// The embedded font (DejaVu Sans 2.37).
static FONT_TTF: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters exactly once (thread-safe);
/// every public function here calls it before drawing.
pub(crate) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_TTF).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "embedded font assets/DejaVuSans.ttf could not be parsed"
        ))
    }
}

/// The parts of a training report's `metrics.json` its pictures show. The pictures are
/// always drawn from this file ([`draw_folder`]), so they cannot say something it does not.
#[derive(Debug, Deserialize)]
pub struct Drawn {
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights the trainer kept, and the rule that chose it.
    pub best_epoch: usize,
    pub best_by: BestBy,
    pub valid: EvalReport,
}

impl Drawn {
    pub fn read(metrics_json: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(metrics_json)
            .with_context(|| format!("reading {}", metrics_json.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", metrics_json.display()))
    }
}

/// The pictures of a report folder, from its `metrics.json`: `confusion.png` (clip level),
/// `confusion_windows.png` and `curves.png` (when epochs were trained), written to `out`.
pub fn draw_folder(metrics_json: &Path, out: &Path) -> Result<()> {
    let d = Drawn::read(metrics_json)?;
    plot_confusion(
        &d.valid.clip.confusion,
        "validation, clip level",
        &out.join("confusion.png"),
    )?;
    plot_confusion(
        &d.valid.window.confusion,
        "validation, window level",
        &out.join("confusion_windows.png"),
    )?;
    // A decision with nothing to fit (zero-shot) has no epochs: no curves to draw.
    if d.history.is_empty() {
        return Ok(());
    }
    plot_curves(&d.history, d.best_epoch, d.best_by, &out.join("curves.png"))
}

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

    // --- Loss panel ---------------------------------------------------------
    {
        let train = series(|p| p.train_loss);
        let valid = series(|p| p.valid_loss);
        let lr = series(|p| p.lr);
        let y_max = train
            .iter()
            .chain(&valid)
            .map(|&(_, v)| v)
            .fold(0.0f64, f64::max);
        // Headroom so the legend (upper right) does not cover the curves.
        let y_max = if y_max > 0.0 { y_max * 1.3 } else { 1.0 };
        let y_min = train
            .iter()
            .chain(&valid)
            .map(|&(_, v)| v)
            .fold(0.0f64, f64::min);
        let lr_max = lr.iter().map(|&(_, v)| v).fold(0.0f64, f64::max);
        let draw_lr = lr_max > 0.0;

        let mut chart = ChartBuilder::on(&panels[0])
            .caption("loss", (FAMILY, 19))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(62)
            .right_y_label_area_size(if draw_lr { 76 } else { 0 })
            .build_cartesian_2d(x_lo..x_hi, y_min..y_max)?
            .set_secondary_coord(x_lo..x_hi, 0.0..(if draw_lr { lr_max * 1.3 } else { 1.0 }));
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy loss")
            .x_labels(n_x_labels)
            .y_labels(8)
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        if draw_lr {
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
        let x = kept.epoch as i32;
        chart.draw_series(DashedLineSeries::new(
            vec![(x, y_min), (x, y_max)],
            6,
            4,
            best_c.stroke_width(2),
        ))?;
        chart
            .draw_series(LineSeries::new(train.clone(), train_c.stroke_width(2)))?
            .label("train")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], train_c.stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(valid.clone(), valid_c.stroke_width(2)))?
            .label("valid")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], valid_c.stroke_width(2))
            });
        if show_markers {
            chart.draw_series(train.iter().map(|&p| Circle::new(p, 3, train_c.filled())))?;
            chart.draw_series(valid.iter().map(|&p| Circle::new(p, 3, valid_c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FAMILY, 14))
            .draw()?;
    }

    // --- Accuracy panel -----------------------------------------------------
    {
        let train = series(|p| p.train_acc);
        let valid = series(|p| p.valid_acc);
        let mut chart = ChartBuilder::on(&panels[1])
            .caption("accuracy", (FAMILY, 19))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(62)
            .build_cartesian_2d(x_lo..x_hi, 0.0..1.0f64)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy")
            .x_labels(n_x_labels)
            .y_labels(11)
            .y_label_formatter(&|v| format!("{v:.1}"))
            .light_line_style(RGBColor(240, 240, 240))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        let x = kept.epoch as i32;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, 0.0), (x, 1.0)],
                6,
                4,
                best_c.stroke_width(2),
            ))?
            .label(format!(
                "kept: epoch {} ({kept_because}; valid acc {:.3})",
                kept.epoch, kept.valid_acc
            ))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], best_c.stroke_width(2))
            });
        chart.draw_series(std::iter::once(Circle::new(
            (x, kept.valid_acc),
            7,
            best_c.stroke_width(2),
        )))?;
        chart
            .draw_series(LineSeries::new(train.clone(), train_c.stroke_width(2)))?
            .label("train")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], train_c.stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(valid.clone(), valid_c.stroke_width(2)))?
            .label("valid")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], valid_c.stroke_width(2))
            });
        if show_markers {
            chart.draw_series(train.iter().map(|&p| Circle::new(p, 3, train_c.filled())))?;
            chart.draw_series(valid.iter().map(|&p| Circle::new(p, 3, valid_c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font((FAMILY, 14))
            .draw()?;
    }

    root.present()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn demo_confusion() -> Confusion {
        let genres = model::GENRES;
        let mut c = Confusion::new(&genres);
        // Deterministic, plausible-looking counts: mostly diagonal, with some
        // classic confusions (rock<->metal, disco<->pop, country<->rock) and
        // unequal supports.
        let support = [18u64, 20, 15, 17, 19, 20, 16, 14, 12, 13];
        let confusions: &[(usize, usize, u64)] = &[
            (9, 6, 3),
            (6, 9, 2),
            (3, 7, 3),
            (7, 3, 2),
            (2, 9, 3),
            (0, 5, 2),
            (8, 4, 2),
            (4, 8, 1),
            (9, 2, 1),
        ];
        for (t, &s) in support.iter().enumerate() {
            let wrong: u64 = confusions.iter().filter(|x| x.0 == t).map(|x| x.2).sum();
            for _ in 0..s - wrong {
                c.add(t, t);
            }
        }
        for &(t, p, k) in confusions {
            for _ in 0..k {
                c.add(t, p);
            }
        }
        c
    }

    pub(crate) fn demo_points() -> Vec<EpochRecord> {
        (1..=30)
            .map(|e| {
                let t = e as f64;
                let lr = if e <= 3 {
                    1e-3 * t / 3.0
                } else {
                    1e-3 * 0.5 * (1.0 + (std::f64::consts::PI * (t - 3.0) / 27.0).cos())
                };
                EpochRecord {
                    epoch: e,
                    train_loss: 2.3 * (-t / 8.0).exp() + 0.15,
                    train_acc: 0.95 - 0.85 * (-t / 7.0).exp(),
                    valid_loss: 2.3 * (-t / 7.0).exp()
                        + 0.55
                        + 0.012 * (t - 18.0).max(0.0).powi(2) / 4.0,
                    valid_acc: 0.78
                        - 0.68 * (-t / 6.0).exp()
                        - 0.002 * (t - 18.0).max(0.0).powi(2) / 4.0
                        + 0.01 * ((t * 1.7).sin()),
                    valid_clip_acc: 0.8,
                    lr,
                    seconds: 1.0,
                }
            })
            .collect()
    }

    fn check_png(path: &Path) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            path.display()
        );
        assert!(
            bytes.len() > 10_000,
            "{} is suspiciously small ({} bytes)",
            path.display(),
            bytes.len()
        );
    }

    #[test]
    fn renders_both_plots() {
        let dir = std::env::temp_dir().join(format!("xtask-report-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf_png = dir.join("confusion.png");
        let curves_png = dir.join("curves.png");
        plot_confusion(&demo_confusion(), "Validation confusion (demo)", &conf_png).unwrap();
        plot_curves(&demo_points(), 18, BestBy::AccuracyThenLoss, &curves_png).unwrap();
        check_png(&conf_png);
        check_png(&curves_png);

        // Degenerate inputs still render: a single epoch, a 2-class matrix
        // with an empty row, NaN losses.
        let mut small = Confusion::new(&["a", "b"]);
        small.add(0, 0);
        small.add(0, 1);
        let p = dir.join("small.png");
        plot_confusion(&small, "small", &p).unwrap();
        check_png(&p);
        let mut one = demo_points()[..1].to_vec();
        one[0].valid_loss = f64::NAN;
        let p = dir.join("one.png");
        plot_curves(&one, 1, BestBy::Loss, &p).unwrap();
        check_png(&p);

        let none = dir.join("none.png");
        assert!(plot_curves(&[], 1, BestBy::Loss, &none).is_err());
        let e = plot_curves(&demo_points(), 31, BestBy::Loss, &none).unwrap_err();
        assert!(e.to_string().contains("epoch 31"), "{e}");
        assert!(
            plot_confusion(&Confusion::new(&[] as &[&str]), "x", &dir.join("none.png")).is_err()
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Writes the demo pictures for eyeballing:
    /// `cargo test -p xtask report::tests::render_demo -- --ignored`
    /// (directory: `$REPORT_DEMO_DIR`, default `/tmp/report-demo`).
    #[test]
    #[ignore]
    fn render_demo() {
        let dir = std::env::var_os("REPORT_DEMO_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "/tmp/report-demo".into());
        std::fs::create_dir_all(&dir).unwrap();
        plot_confusion(
            &demo_confusion(),
            "GTZAN validation confusion (demo data)",
            &dir.join("confusion.png"),
        )
        .unwrap();
        plot_curves(
            &demo_points(),
            18,
            BestBy::AccuracyThenLoss,
            &dir.join("curves.png"),
        )
        .unwrap();
        let mut long = Confusion::new(&[
            "electronic",
            "experimental",
            "folk",
            "instrumental",
            "international",
            "pop",
        ]);
        for t in 0..6 {
            for p in 0..6 {
                for _ in 0..(if t == p { 20 } else { (t * 7 + p * 3) % 5 }) {
                    long.add(t, p);
                }
            }
        }
        plot_confusion(
            &long,
            "Long labels (demo data)",
            &dir.join("confusion-long.png"),
        )
        .unwrap();
    }

    /// The committed reports' pictures are what their `metrics.json` draws (pixel for
    /// pixel), and their `best_epoch` is what their `best_by` rule picks from their history:
    /// a report retrained, edited or drawn by hand without the other half fails here.
    /// Redraw with `cargo xtask report DIR`.
    #[test]
    fn committed_reports_agree_with_their_metrics() {
        let root = crate::paths::workspace_root();
        let tmp = std::env::temp_dir().join(format!("xtask-report-agree-{}", std::process::id()));
        for dir in [
            "model/weights/report",
            "model/weights/musicnn_mtt_head.report",
            "model/weights/seed_cnn.report",
        ] {
            let dir = root.join(dir);
            let metrics = dir.join("metrics.json");
            let d = Drawn::read(&metrics).unwrap();
            // A model with nothing fitted has no epochs and keeps "epoch 0".
            let fitted = !d.history.is_empty();
            assert_eq!(
                d.best_by.pick(&d.history).unwrap_or(0),
                d.best_epoch,
                "{}: best_epoch is not what {:?} picks from the history",
                metrics.display(),
                d.best_by
            );
            std::fs::create_dir_all(&tmp).unwrap();
            draw_folder(&metrics, &tmp).unwrap();
            let pngs: &[&str] = if fitted {
                &["confusion.png", "confusion_windows.png", "curves.png"]
            } else {
                assert!(
                    !dir.join("curves.png").exists(),
                    "{}: curves without epochs",
                    dir.display()
                );
                &["confusion.png", "confusion_windows.png"]
            };
            for png in pngs {
                let pixels = |p: &Path| {
                    image::open(p)
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                        .to_rgb8()
                };
                let (want, got) = (pixels(&tmp.join(png)), pixels(&dir.join(png)));
                assert!(
                    want == got,
                    "{} is not what {} draws: run `cargo xtask report {}`",
                    dir.join(png).display(),
                    metrics.display(),
                    dir.display()
                );
            }
        }
        std::fs::remove_dir_all(&tmp).ok();
    }
}
