//! The history strip: one column per analysed hop in its top genre's colour (grey when
//! silent or before the first genre), height = confidence; a time axis in session time
//! (the clock the change list and the log use) and a legend of the genres it shows.

use super::colours::{label_colour, NONE};
use crate::log::clock;
use egui::{Align2, Color32, FontId, Rect, RichText, Sense, Stroke, Vec2};

/// One hop of the strip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub time_s: f64,
    pub top: Option<usize>,
    pub confidence: f32,
    pub silent: bool,
}

/// Spans the strip can show, seconds.
pub const SPANS: [f64; 5] = [60.0, 300.0, 900.0, 3600.0, 4.0 * 3600.0];

pub fn span_name(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.0} h", s / 3600.0)
    } else {
        format!("{:.0} min", s / 60.0)
    }
}

/// A tick step that gives 3–6 ticks over `span` seconds.
fn tick_step(span: f64) -> f64 {
    const STEPS: [f64; 10] = [
        10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 6.0)
        .unwrap_or(7200.0)
}

/// Draws the strip in `size` (the legend wraps below it) for the last `span_s` seconds up
/// to `now_s`.
pub fn show(
    ui: &mut egui::Ui,
    size: Vec2,
    points: &[Point],
    labels: &[String],
    now_s: f64,
    span_s: f64,
) {
    let axis_h = 14.0;
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let strip = Rect::from_min_max(rect.min, egui::pos2(rect.max.x, rect.max.y - axis_h));
    let painter = ui.painter_at(rect);
    painter.rect_filled(strip, 2.0, Color32::from_gray(38));
    let x_of = |t: f64| strip.right() - ((now_s - t) / span_s) as f32 * strip.width();

    // Grid and axis labels, on whole multiples of the step in session time.
    let step = tick_step(span_s);
    let mut t = ((now_s - span_s) / step).ceil().max(0.0) * step;
    while t <= now_s {
        let x = x_of(t);
        painter.line_segment(
            [egui::pos2(x, strip.top()), egui::pos2(x, strip.bottom())],
            Stroke::new(1.0, Color32::from_gray(55)),
        );
        painter.text(
            egui::pos2(x, strip.bottom() + 1.0),
            Align2::CENTER_TOP,
            clock(t),
            FontId::proportional(10.0),
            Color32::from_gray(140),
        );
        t += step;
    }

    if points.is_empty() {
        painter.text(
            strip.center(),
            Align2::CENTER_CENTER,
            "history: nothing analysed yet",
            FontId::proportional(12.0),
            Color32::from_gray(110),
        );
    }
    let mut prev_x: Option<f32> = None;
    for p in points.iter().filter(|p| p.time_s >= now_s - span_s) {
        let x1 = x_of(p.time_s);
        // Each column spans back to the previous hop (at most a few pixels for a gap).
        let x0 = prev_x.unwrap_or(x1 - 2.0).max(x1 - 8.0).min(x1 - 1.0);
        prev_x = Some(x1);
        let colour = match p.top {
            Some(t) if !p.silent => labels.get(t).map_or(NONE, |l| label_colour(l)),
            _ => NONE,
        };
        let h = strip.height() * p.confidence.clamp(0.15, 1.0);
        painter.rect_filled(
            Rect::from_min_max(
                egui::pos2(x0, strip.bottom() - h),
                egui::pos2(x1, strip.bottom()),
            ),
            0.0,
            colour,
        );
    }

    // Legend: the genres the strip shows, most frequent first.
    let mut counts = vec![0usize; labels.len()];
    for p in points
        .iter()
        .filter(|p| p.time_s >= now_s - span_s && !p.silent)
    {
        if let Some(c) = p.top.and_then(|t| counts.get_mut(t)) {
            *c += 1;
        }
    }
    let mut seen: Vec<usize> = (0..labels.len()).filter(|&i| counts[i] > 0).collect();
    seen.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("last {}:", span_name(span_s))).small());
        for i in seen {
            let (r, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
            ui.painter().rect_filled(r, 2.0, label_colour(&labels[i]));
            ui.label(RichText::new(&labels[i]).small());
        }
    });
}
