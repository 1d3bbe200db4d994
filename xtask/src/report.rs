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

mod confusion;
mod curves;
mod legend;

pub use confusion::plot_confusion;
pub use curves::plot_curves;
pub(crate) use legend::draw_legend;

use anyhow::{anyhow, Context, Result};
use model::train::{BestBy, EpochRecord, EvalReport};
use plotters::style::FontStyle;
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use model::metrics::Confusion;

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

    /// A PNG with something drawn on it (at least 0.5 % of its pixels darker than the
    /// light grid lines); returns its size.
    fn check_png(path: &Path) -> (u32, u32) {
        let img = image::open(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_rgb8();
        let inked = img
            .pixels()
            .filter(|p| p.0.iter().any(|&c| c < 200))
            .count();
        let total = img.pixels().len();
        assert!(
            inked * 200 > total,
            "{}: only {inked} of {total} pixels drawn",
            path.display()
        );
        img.dimensions()
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
        assert_eq!(check_png(&curves_png), (1400, 560));

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
        assert_eq!(check_png(&p), (1400, 560));

        // Long labels widen the picture rather than being cut.
        let labels = [
            "electronic",
            "experimental",
            "folk",
            "instrumental",
            "international",
            "pop",
        ];
        let mut long = Confusion::new(&labels);
        let mut short = Confusion::new(&["a", "b", "c", "d", "e", "f"]);
        for t in 0..6 {
            for p in 0..6 {
                for _ in 0..(if t == p { 20 } else { (t * 7 + p * 3) % 5 }) {
                    long.add(t, p);
                    short.add(t, p);
                }
            }
        }
        let (lp, sp) = (dir.join("long.png"), dir.join("short.png"));
        plot_confusion(&long, "Long labels", &lp).unwrap();
        plot_confusion(&short, "Long labels", &sp).unwrap();
        let (long_size, short_size) = (check_png(&lp), check_png(&sp));
        assert!(
            long_size.0 > short_size.0,
            "{long_size:?} vs {short_size:?}"
        );

        let none = dir.join("none.png");
        assert!(plot_curves(&[], 1, BestBy::Loss, &none).is_err());
        let e = plot_curves(&demo_points(), 31, BestBy::Loss, &none).unwrap_err();
        assert!(e.to_string().contains("epoch 31"), "{e}");
        assert!(
            plot_confusion(&Confusion::new(&[] as &[&str]), "x", &dir.join("none.png")).is_err()
        );
        std::fs::remove_dir_all(&dir).ok();
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
