//! The editor's layout. Every area is sized from the space the window gives (header,
//! bars, side column, history strip), so the content fills the window at any size.

use super::colours::label_colour;
use super::export::{export, export_dir, Format};
use super::history::{self, Point, SPANS};
use super::teach_panel::{self, TeachMemory};
use crate::analysis::Analysis;
use crate::engine::Monitor;
use crate::log::{clock, Change};
use crate::params::TaggerParams;
use egui::{Align2, Color32, FontId, Layout, Rect, RichText, Sense, Stroke, StrokeKind, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::baseview::WindowSize;
use nice_plug_egui::{widgets, Frame, NiceEguiApp};
use std::sync::{Arc, Mutex};

/// Change events the side column lists.
const CHANGES_SHOWN: usize = 12;
/// The input meter's range and fall (a PPM-like decay of the held peak).
const METER_FLOOR_DB: f32 = -60.0;
const METER_FALL_DB_PER_S: f32 = 20.0;
/// How often the editor redraws while it is open, so the meter moves between hops.
const METER_REFRESH: std::time::Duration = std::time::Duration::from_millis(50);

/// What the editor keeps between frames and openings (GUI thread only).
#[derive(Default)]
pub struct Memory {
    /// The last export: the file written, or what went wrong.
    export: Option<Result<String, String>>,
    /// Index into [`SPANS`] (default 5 min).
    span: Option<usize>,
    /// What the strip and change list showed when last refreshed (held while frozen).
    points: Vec<Point>,
    changes: Vec<Change>,
    /// The log's labels, which the strip's and the change list's indices refer to (the
    /// log keeps a taught label's column after it was forgotten).
    log_labels: Vec<String>,
    now_s: f64,
    /// The input meter: the peak shown (dBFS, falling), and when it was last drawn.
    meter_db: f32,
    meter_at: Option<std::time::Instant>,
    teach: TeachMemory,
}

pub struct App {
    params: Arc<TaggerParams>,
    monitor: Monitor,
    memory: Arc<Mutex<Memory>>,
    gui: Option<GuiContext>,
}

impl App {
    pub fn new(params: Arc<TaggerParams>, monitor: Monitor, memory: Arc<Mutex<Memory>>) -> Self {
        Self {
            params,
            monitor,
            memory,
            gui: None,
        }
    }
}

impl NiceEguiApp for App {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut Frame) {
        let a = self.monitor.analysis.read();
        let memory = self.memory.clone();
        let mut mem = memory.lock().unwrap_or_else(|e| e.into_inner());
        let span = SPANS[mem.span.unwrap_or(1).min(SPANS.len() - 1)];
        if !self.params.freeze.value() {
            self.refresh(&mut mem, &a, span);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            let full = ui.available_size();
            let header_h = (full.y * 0.13).clamp(40.0, 96.0);
            let history_h = (full.y * 0.2).clamp(56.0, 200.0);
            let bottom_h = 124.0;
            let middle_h = (full.y - header_h - history_h - bottom_h - 40.0).max(80.0);

            self.header(ui, &a, Vec2::new(full.x, header_h));
            ui.ctx().request_repaint_after(METER_REFRESH);
            ui.add_space(4.0);
            let side_w = if full.x >= 560.0 {
                (full.x * 0.32).clamp(170.0, 340.0)
            } else {
                0.0
            };
            ui.allocate_ui_with_layout(
                Vec2::new(full.x, middle_h),
                Layout::left_to_right(egui::Align::Min),
                |ui| {
                    let clicked = bars(ui, &a, Vec2::new(full.x - side_w - 8.0, middle_h));
                    if let Some(label) = clicked.and_then(|i| a.labels.get(i)) {
                        teach_panel::toggle(&self.monitor, &a, label, &mut mem.teach);
                    }
                    if side_w > 0.0 {
                        ui.add_space(8.0);
                        let log = (&mem.changes[..], &mem.log_labels[..]);
                        side_column(ui, &a, log, Vec2::new(side_w, middle_h));
                    }
                },
            );
            ui.add_space(6.0);
            history::show(
                ui,
                Vec2::new(full.x, history_h),
                &mem.points,
                &mem.log_labels,
                mem.now_s,
                span,
            );
            ui.add_space(4.0);
            self.controls(ui, &mut mem);
            teach_panel::show(ui, &self.monitor, &self.params, &a, &mut mem.teach);
            ui.separator();
            self.status_line(ui, &a);
        });
    }

    fn resized(&mut self, new_size: WindowSize) {
        let (w, h) = (
            new_size.logical.width.round() as u32,
            new_size.logical.height.round() as u32,
        );
        if w > 0 && h > 0 {
            *self
                .params
                .editor_size
                .write()
                .unwrap_or_else(|e| e.into_inner()) = (w, h);
        }
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

impl App {
    /// Copies what the strip and the change list need from the log.
    fn refresh(&self, mem: &mut Memory, a: &Analysis, span: f64) {
        let state = self.monitor.log.read();
        let Some(log) = state.log.as_ref() else {
            return;
        };
        mem.now_s = log.last_time_s().unwrap_or(a.session_s);
        let since = mem.now_s - span;
        mem.points.clear();
        mem.points.extend(
            log.recent_tops(since)
                .map(|(time_s, top, confidence, silent)| Point {
                    time_s,
                    top,
                    confidence,
                    silent,
                }),
        );
        mem.changes.clear();
        mem.changes
            .extend(log.changes().rev().take(CHANGES_SHOWN).copied());
        mem.log_labels.clone_from(&log.header().labels);
    }

    fn header(&self, ui: &mut egui::Ui, a: &Analysis, size: Vec2) {
        let big = (size.y * 0.75).clamp(28.0, 72.0);
        ui.allocate_ui_with_layout(size, Layout::left_to_right(egui::Align::Center), |ui| {
            ui.set_min_size(size);
            match a.top {
                Some(top) => {
                    let name = a.labels.get(top).map(String::as_str).unwrap_or("?");
                    ui.label(
                        RichText::new(name)
                            .size(big)
                            .strong()
                            .color(label_colour(name)),
                    );
                    ui.label(
                        RichText::new(format!("{:.0} %", 100.0 * a.confidence)).size(big * 0.55),
                    );
                    let runner_up = model::distribution::runner_up(&a.distribution);
                    if let Some((second, runner_up)) =
                        runner_up.filter(|_| model::distribution::unsure(&a.distribution))
                    {
                        let second = a.labels.get(second).map(String::as_str).unwrap_or("?");
                        ui.label(
                            RichText::new(format!(
                                "unsure: or {second} ({:.0} %)",
                                100.0 * runner_up
                            ))
                            .size(big * 0.3)
                            .color(Color32::from_rgb(0xff, 0xc8, 0x57)),
                        );
                    }
                }
                None => {
                    let msg = if a.silent { "silence" } else { "listening…" };
                    ui.label(RichText::new(msg).size(big).color(Color32::from_gray(140)));
                }
            }
            if a.silent && a.top.is_some() {
                ui.label(RichText::new("silence: holding").color(Color32::from_gray(150)));
            }
            if self.params.freeze.value() {
                ui.label(RichText::new("FROZEN").color(Color32::LIGHT_BLUE).strong());
            }
            ui.with_layout(Layout::right_to_left(egui::Align::Center), |ui| {
                rhythm(ui, a, big);
            });
        });
    }

    fn controls(&self, ui: &mut egui::Ui, mem: &mut Memory) {
        let Some(gui) = self.gui.as_ref() else { return };
        let setter = gui.param_setter();
        let p = &self.params;
        ui.horizontal_wrapped(|ui| {
            ui.label("Hop");
            // Narrow enough that the row fits the default 760-px window in one line.
            ui.add(widgets::ParamSlider::for_param(&p.hop_s, &setter).with_width(72.0));
            ui.label("Smoothing");
            ui.add(widgets::ParamSlider::for_param(&p.smoothing_s, &setter).with_width(72.0));
            ui.label("MIDI ch.");
            ui.add(widgets::ParamSlider::for_param(&p.midi_channel, &setter).with_width(56.0));
            let mut frozen = p.freeze.value();
            if ui.checkbox(&mut frozen, "Freeze").changed() {
                set_bool(&setter, &p.freeze, frozen);
            }
            if ui.button("Reset").clicked() {
                // A momentary trigger: the parameter's callback counts the press.
                set_bool(&setter, &p.reset, true);
                set_bool(&setter, &p.reset, false);
            }
            let mut span = mem.span.unwrap_or(1);
            egui::ComboBox::from_id_salt("history-span")
                .selected_text(history::span_name(SPANS[span]))
                .width(64.0)
                .show_ui(ui, |ui| {
                    for (i, s) in SPANS.iter().enumerate() {
                        ui.selectable_value(&mut span, i, history::span_name(*s));
                    }
                });
            mem.span = Some(span);
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("In");
            input_meter(ui, mem, self.monitor.meters.take_peak());
            ui.add_space(12.0);
            ui.label("Log:");
            for (name, format) in [("Export CSV", Format::Csv), ("Export JSON", Format::Json)] {
                if ui.button(name).clicked() {
                    // Copy under the read lock, write outside it: the log keeper never waits
                    // for this disk.
                    let log = self.monitor.log.read().log.clone();
                    mem.export = Some(match log {
                        Some(log) => export(&log, format).map(|p| p.display().to_string()),
                        None => Err("nothing to export yet".into()),
                    });
                }
            }
            match &mem.export {
                Some(Ok(path)) => ui.label(RichText::new(format!("saved {path}")).small()),
                Some(Err(e)) => ui.label(RichText::new(e).small().color(Color32::LIGHT_RED)),
                None => ui.label(
                    RichText::new(format!("to {}", export_dir().display()))
                        .small()
                        .color(Color32::from_gray(150)),
                ),
            };
        });
    }

    fn status_line(&self, ui: &mut egui::Ui, a: &Analysis) {
        let m = &self.monitor.meters;
        let (hops, kb, file, file_error) = {
            let s = self.monitor.log.read();
            let (hops, kb) = s
                .log
                .as_ref()
                .map_or((0, 0), |l| (l.hops(), l.bytes() / 1024));
            (hops, kb, s.file.clone(), s.file_error.clone())
        };
        let model = if a.model.is_empty() {
            "model: -"
        } else {
            a.model.as_str()
        };
        ui.label(
            RichText::new(format!(
                "{model} · {} · {:.1} ms/window · {} windows · {} Hz · dropped {} · MIDI {} sent, \
                 {} late · log {hops} hops, {kb} KB{} · {}",
                a.device.name(),
                a.inference_ms,
                a.windows,
                a.sample_rate,
                m.dropped(),
                m.midi_sent(),
                m.midi_late(),
                file.map(|f| format!(" -> {}", f.display()))
                    .unwrap_or_default(),
                if a.running { "running" } else { "stopped" },
            ))
            .small(),
        );
        for e in a.error().into_iter().chain(file_error.as_deref()) {
            ui.label(RichText::new(e).color(Color32::from_rgb(0xff, 0x60, 0x60)));
        }
        if a.panics > 0 {
            ui.label(
                RichText::new(format!("{} model panic(s) caught", a.panics))
                    .small()
                    .color(Color32::YELLOW),
            );
        }
    }
}

fn set_bool(setter: &ParamSetter, param: &nice_plug::prelude::BoolParam, value: bool) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// The tempo large and the key with its Camelot code, right to left (the key outermost);
/// greyed dashes while the trackers show none.
fn rhythm(ui: &mut egui::Ui, a: &Analysis, big: f32) {
    let dim = Color32::from_gray(120);
    match a.key {
        Some(k) => {
            ui.label(RichText::new(k.name()).size(big * 0.3));
            ui.label(
                RichText::new(k.camelot_code())
                    .size(big * 0.55)
                    .strong()
                    .color(Color32::from_rgb(0x9a, 0xd1, 0xff)),
            );
        }
        None => {
            ui.label(RichText::new("key –").size(big * 0.3).color(dim));
        }
    }
    ui.add_space(12.0);
    ui.label(
        RichText::new("BPM")
            .size(big * 0.3)
            .color(Color32::from_gray(170)),
    );
    match a.tempo {
        Some(t) => ui.label(
            RichText::new(format!("{:.1}", t.bpm))
                .size(big * 0.75)
                .strong(),
        ),
        None => ui.label(RichText::new("–").size(big * 0.75).color(dim)),
    };
}

/// A horizontal input meter: the held peak (`peak`, linear, taken from the audio thread's
/// meter since the last frame) on a dBFS scale, falling at [`METER_FALL_DB_PER_S`]; red
/// at full scale.
fn input_meter(ui: &mut egui::Ui, mem: &mut Memory, peak: f32) {
    let now = std::time::Instant::now();
    let fresh = if peak > 0.0 {
        20.0 * peak.log10()
    } else {
        METER_FLOOR_DB
    };
    // The first frame starts from the floor (the memory's 0.0 is not a reading).
    let fallen = match mem.meter_at.replace(now) {
        Some(then) => mem.meter_db - METER_FALL_DB_PER_S * now.duration_since(then).as_secs_f32(),
        None => METER_FLOOR_DB,
    };
    mem.meter_db = fresh.max(fallen).max(METER_FLOOR_DB);
    let (rect, _) = ui.allocate_exact_size(Vec2::new(110.0, 12.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(40));
    let level = (mem.meter_db - METER_FLOOR_DB) / -METER_FLOOR_DB;
    let mut fill = rect;
    fill.set_width(rect.width() * level.clamp(0.0, 1.0));
    let colour = if mem.meter_db >= -0.1 {
        Color32::from_rgb(0xff, 0x50, 0x50)
    } else if mem.meter_db >= -6.0 {
        Color32::from_rgb(0xff, 0xc8, 0x57)
    } else {
        Color32::from_rgb(0x5c, 0xd6, 0x7a)
    };
    painter.rect_filled(fill, 2.0, colour);
    let text = if mem.meter_db > METER_FLOOR_DB {
        format!("{:.0} dB", mem.meter_db)
    } else {
        "no input".into()
    };
    ui.label(RichText::new(text).small().monospace());
}

/// One bar per label, rows as tall as the space allows; returns the label whose row was
/// clicked (to teach it). The label being taught is marked.
fn bars(ui: &mut egui::Ui, a: &Analysis, size: Vec2) -> Option<usize> {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click());
    let n = a.labels.len().max(1);
    let row = (rect.height() / n as f32).clamp(10.0, 44.0);
    let font = FontId::monospace((row * 0.62).clamp(9.0, 18.0));
    let label_w = a
        .labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(5, 22) as f32
        * font.size
        * 0.62
        + 6.0;
    let pct_w = font.size * 4.2;
    let painter = ui.painter_at(rect);
    for (i, label) in a.labels.iter().enumerate() {
        let y = rect.top() + i as f32 * row;
        let p = a
            .distribution
            .get(i)
            .copied()
            .unwrap_or(0.0)
            .clamp(0.0, 1.0);
        let mid = y + row / 2.0;
        painter.text(
            egui::pos2(rect.left() + label_w - 6.0, mid),
            Align2::RIGHT_CENTER,
            label,
            font.clone(),
            Color32::from_gray(210),
        );
        let bar = Rect::from_min_max(
            egui::pos2(rect.left() + label_w, y + row * 0.15),
            egui::pos2(rect.right() - pct_w, y + row * 0.85),
        );
        painter.rect_filled(bar, 2.0, Color32::from_gray(40));
        let mut fill = bar;
        fill.set_width(bar.width() * p);
        painter.rect_filled(fill, 2.0, label_colour(label));
        if a.top == Some(i) {
            painter.rect_stroke(
                bar,
                2.0,
                Stroke::new(1.0, Color32::WHITE),
                StrokeKind::Inside,
            );
        }
        if a.teaching.as_deref() == Some(label.as_str()) {
            painter.rect_stroke(
                bar.expand(2.0),
                3.0,
                Stroke::new(2.0, Color32::from_rgb(0xff, 0x70, 0x70)),
                StrokeKind::Outside,
            );
        }
        painter.text(
            egui::pos2(rect.right(), mid),
            Align2::RIGHT_CENTER,
            format!("{:5.1} %", 100.0 * p),
            font.clone(),
            Color32::from_gray(210),
        );
    }
    let pos = response
        .interact_pointer_pos()
        .filter(|_| response.clicked())?;
    let i = ((pos.y - rect.top()) / row).floor();
    (i >= 0.0 && (i as usize) < a.labels.len()).then_some(i as usize)
}

/// Styles (when the model has them), then the latest genre changes (`log`: the changes
/// and the log's labels they index).
fn side_column(ui: &mut egui::Ui, a: &Analysis, log: (&[Change], &[String]), size: Vec2) {
    let (changes, log_labels) = log;
    ui.allocate_ui_with_layout(size, Layout::top_down(egui::Align::Min), |ui| {
        ui.set_min_size(size);
        ui.set_max_width(size.x);
        let row_h = 18.0;
        let mut room = size.y;
        if !a.style_names.is_empty() {
            ui.label(RichText::new("Styles").strong());
            let mut order: Vec<usize> = (0..a.style_names.len()).collect();
            let p = |i: usize| a.styles.get(i).copied().unwrap_or(0.0);
            order.sort_by(|&x, &y| p(y).total_cmp(&p(x)));
            let shown = ((size.y * 0.55 / row_h) as usize).clamp(3, 12);
            for &i in order.iter().take(shown) {
                let (r, _) = ui.allocate_exact_size(Vec2::new(size.x, row_h), Sense::hover());
                let painter = ui.painter_at(r);
                let mut fill = r.shrink2(Vec2::new(0.0, 2.0));
                fill.set_width(r.width() * p(i).clamp(0.0, 1.0));
                painter.rect_filled(
                    fill,
                    2.0,
                    label_colour(&a.style_names[i]).gamma_multiply(0.55),
                );
                painter.text(
                    r.left_center() + Vec2::new(4.0, 0.0),
                    Align2::LEFT_CENTER,
                    format!("{}  {:.0} %", a.style_names[i], 100.0 * p(i)),
                    FontId::proportional(12.0),
                    Color32::from_gray(230),
                );
            }
            room -= (shown as f32 + 1.5) * row_h;
            ui.add_space(6.0);
        }
        ui.label(RichText::new("Changes").strong());
        if changes.is_empty() {
            ui.label(
                RichText::new("none yet")
                    .small()
                    .color(Color32::from_gray(140)),
            );
        }
        let fit = ((room / row_h) as usize).saturating_sub(1).max(1);
        for c in changes.iter().take(fit) {
            let name = |i: usize| log_labels.get(i).map(String::as_str).unwrap_or("?");
            ui.horizontal(|ui| {
                let time = RichText::new(clock(c.time_s)).monospace();
                ui.label(time.color(Color32::from_gray(150)));
                if let Some(f) = c.from {
                    ui.label(RichText::new(name(f)).color(label_colour(name(f))));
                    // egui's default fonts have no arrow glyph.
                    ui.label("->");
                }
                ui.label(RichText::new(name(c.to)).color(label_colour(name(c.to))));
            });
        }
    });
}
