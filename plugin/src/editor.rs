//! The egui editor: ten bars with percentages, the top genre large with its confidence, a
//! history strip (one colour per genre), controls for hop/smoothing/freeze/reset and a
//! status line. It only reads what the worker publishes, so opening and closing it never
//! disturbs analysis; the history it has seen survives a close/reopen.
//!
//! [`TaggerEditor`] wraps nice-plug-egui's editor so that the window is created at the size
//! saved in the session (the `editor-size` persisted field), which the host restores after
//! the plugin and its editor object were created.

use crate::params::TaggerParams;
use crate::shared::{HistoryPoint, Shared, Status, DEVICE_NAMES, NO_TOP};
use egui::{Align2, Color32, FontId, RichText, Sense, Stroke, StrokeKind, Vec2};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize, Size};
use nice_plug::editor::{Editor, HostMethods, ParentWindowHandle, ResizeHint, SpawnedEditor};
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::baseview::WindowSize;
use nice_plug_egui::{
    create_egui_editor, widgets, EguiEditor, EguiEditorHandle, EguiEditorState, EguiNiceSettings,
    Frame, NiceEguiApp, RepaintNotifier,
};
use std::collections::VecDeque;
use std::error::Error;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Seconds of history the strip shows.
pub const HISTORY_SECONDS: f64 = 300.0;
const MIN_SIZE: (f32, f32) = (420.0, 420.0);

/// One colour per genre (GTZAN order), distinguishable on a dark background.
pub const GENRE_COLOURS: [Color32; 10] = [
    Color32::from_rgb(0x4e, 0x79, 0xa7), // blues
    Color32::from_rgb(0xf2, 0xe8, 0xcf), // classical
    Color32::from_rgb(0xe1, 0x8f, 0x3c), // country
    Color32::from_rgb(0xd6, 0x4f, 0xc8), // disco
    Color32::from_rgb(0x59, 0xa1, 0x4f), // hiphop
    Color32::from_rgb(0xed, 0xc9, 0x48), // jazz
    Color32::from_rgb(0xe1, 0x45, 0x45), // metal
    Color32::from_rgb(0xff, 0x9d, 0xa7), // pop
    Color32::from_rgb(0x2c, 0xc2, 0xa6), // reggae
    Color32::from_rgb(0x9c, 0x75, 0x5f), // rock
];

pub fn genre_colour(i: usize) -> Color32 {
    GENRE_COLOURS
        .get(i)
        .copied()
        .unwrap_or(Color32::from_gray(160))
}

/// What the editor remembers between openings (GUI thread only).
#[derive(Default)]
struct View {
    history: VecDeque<HistoryPoint>,
    status: Status,
    status_seq: u64,
}

pub struct TaggerEditor {
    params: Arc<TaggerParams>,
    shared: Arc<Shared>,
    view: Arc<Mutex<View>>,
    repaint: RepaintNotifier,
    inner: Mutex<Option<EguiEditor<App>>>,
}

impl TaggerEditor {
    pub fn new(params: Arc<TaggerParams>, shared: Arc<Shared>) -> Self {
        let repaint = shared.repaint.get_or_init(RepaintNotifier::new).clone();
        Self {
            params,
            shared,
            view: Arc::default(),
            repaint,
            inner: Mutex::new(None),
        }
    }

    fn saved_size(&self) -> LogicalSize<f64> {
        let (w, h) = *self
            .params
            .editor_size
            .read()
            .unwrap_or_else(|e| e.into_inner());
        LogicalSize::new(
            (w as f32).max(MIN_SIZE.0) as f64,
            (h as f32).max(MIN_SIZE.1) as f64,
        )
    }
}

impl Editor for TaggerEditor {
    type Handle = EguiEditorHandle;

    fn spawn(
        &self,
        parent: Option<ParentWindowHandle>,
        wait_for_parent: bool,
        fallback_scale_factor: Option<f64>,
        gui_context: GuiContext,
        host: Option<HostMethods>,
    ) -> Result<SpawnedEditor<Self::Handle>, Box<dyn Error>> {
        let app = App {
            params: self.params.clone(),
            shared: self.shared.clone(),
            view: self.view.clone(),
            gui: None,
        };
        let settings = EguiNiceSettings::new()
            .with_tile("Genre Tagger")
            .with_resize_hint(self.resize_hint());
        let editor = create_egui_editor(
            EguiEditorState::from_size(self.saved_size(), 1.0),
            self.repaint.clone(),
            settings,
            app,
        )
        .ok_or("could not create the egui editor")?;
        let spawned = editor.spawn(
            parent,
            wait_for_parent,
            fallback_scale_factor,
            gui_context,
            host,
        );
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Some(editor);
        spawned
    }

    fn size(&self) -> NativeSize<u32> {
        match self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(e) => e.size(),
            None => NativeSize::from_size(Size::Logical(self.saved_size()), 1.0),
        }
    }

    fn resize_hint(&self) -> ResizeHint {
        ResizeHint::RESIZABLE.with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1))
    }
}

pub struct App {
    params: Arc<TaggerParams>,
    shared: Arc<Shared>,
    view: Arc<Mutex<View>>,
    gui: Option<GuiContext>,
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
        let mut view = self.view.lock().unwrap_or_else(|e| e.into_inner());
        let view = &mut *view;
        view.history.extend(self.shared.drain_history());
        if let Some(last) = view.history.back().map(|p| p.start_s) {
            while view
                .history
                .front()
                .is_some_and(|p| p.start_s < last - HISTORY_SECONDS)
            {
                view.history.pop_front();
            }
        }
        let seq = self.shared.status_seq.load(Ordering::Acquire);
        if seq != view.status_seq {
            if let Some(s) = self.shared.try_status() {
                view.status = s;
                view.status_seq = seq;
            }
        }
        let labels: Vec<String> = if view.status.labels.is_empty() {
            model::GENRES.iter().map(|s| s.to_string()).collect()
        } else {
            view.status.labels.clone()
        };
        egui::CentralPanel::default().show(ui, |ui| {
            self.header(ui, &labels);
            ui.add_space(6.0);
            self.bars(ui, &labels);
            ui.add_space(6.0);
            history_strip(ui, &view.history, &labels);
            ui.add_space(6.0);
            self.controls(ui);
            ui.separator();
            self.status_line(ui, &view.status);
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
    fn header(&self, ui: &mut egui::Ui, labels: &[String]) {
        let sh = &self.shared;
        ui.horizontal(|ui| match sh.top() {
            Some(top) => {
                let name = labels.get(top).map(String::as_str).unwrap_or("?");
                ui.label(
                    RichText::new(name)
                        .size(40.0)
                        .strong()
                        .color(genre_colour(top)),
                );
                ui.label(
                    RichText::new(format!(
                        "{:.0} %",
                        100.0 * sh.confidence.load(Ordering::Relaxed)
                    ))
                    .size(24.0),
                );
                if sh.silent.load(Ordering::Relaxed) {
                    ui.label(RichText::new("silence: holding").color(Color32::from_gray(150)));
                }
                if self.params.freeze.value() {
                    ui.label(RichText::new("FROZEN").color(Color32::LIGHT_BLUE).strong());
                }
            }
            None => {
                let msg = if sh.silent.load(Ordering::Relaxed) {
                    "silence"
                } else {
                    "listening…"
                };
                ui.label(RichText::new(msg).size(40.0).color(Color32::from_gray(140)));
            }
        });
    }

    fn bars(&self, ui: &mut egui::Ui, labels: &[String]) {
        let dist = self.shared.distribution();
        let top = self.shared.top.load(Ordering::Acquire);
        for (i, label) in labels.iter().enumerate() {
            let p = dist.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            ui.horizontal(|ui| {
                ui.add_sized(
                    [72.0, 16.0],
                    egui::Label::new(RichText::new(label).monospace()),
                );
                let width = (ui.available_width() - 64.0).max(40.0);
                let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 16.0), Sense::hover());
                let painter = ui.painter();
                painter.rect_filled(rect, 2.0, Color32::from_gray(40));
                let mut fill = rect;
                fill.set_width(rect.width() * p);
                painter.rect_filled(fill, 2.0, genre_colour(i));
                if i == top && top != NO_TOP {
                    painter.rect_stroke(
                        rect,
                        2.0,
                        Stroke::new(1.0, Color32::WHITE),
                        StrokeKind::Inside,
                    );
                }
                ui.label(RichText::new(format!("{:5.1} %", 100.0 * p)).monospace());
            });
        }
    }

    fn controls(&self, ui: &mut egui::Ui) {
        let Some(gui) = self.gui.as_ref() else { return };
        let setter = gui.param_setter();
        let p = &self.params;
        ui.horizontal(|ui| {
            ui.label("Hop");
            ui.add(widgets::ParamSlider::for_param(&p.hop_s, &setter).with_width(110.0));
            ui.label("Smoothing");
            ui.add(widgets::ParamSlider::for_param(&p.smoothing_s, &setter).with_width(110.0));
        });
        ui.horizontal(|ui| {
            let mut frozen = p.freeze.value();
            if ui.checkbox(&mut frozen, "Freeze").changed() {
                set_bool(&setter, &p.freeze, frozen);
            }
            if ui.button("Reset").clicked() {
                // A momentary trigger: the parameter's callback counts the press.
                set_bool(&setter, &p.reset, true);
                set_bool(&setter, &p.reset, false);
            }
        });
    }

    fn status_line(&self, ui: &mut egui::Ui, status: &Status) {
        let sh = &self.shared;
        let device =
            DEVICE_NAMES[(sh.device.load(Ordering::Relaxed) as usize).min(DEVICE_NAMES.len() - 1)];
        let rate = sh.sample_rate.load(Ordering::Relaxed);
        let model = if status.model.is_empty() {
            "model: -"
        } else {
            status.model.as_str()
        };
        ui.label(
            RichText::new(format!(
                "{model} · {device} · {:.1} ms/window · {} windows · {} Hz · dropped {} · {}",
                sh.last_inference_ms.load(Ordering::Relaxed),
                sh.windows.load(Ordering::Relaxed),
                rate,
                sh.dropped.load(Ordering::Relaxed),
                if sh.worker_running.load(Ordering::Relaxed) {
                    "running"
                } else {
                    "stopped"
                },
            ))
            .small(),
        );
        if sh.error_active.load(Ordering::Acquire) && !status.error.is_empty() {
            ui.label(RichText::new(&status.error).color(Color32::from_rgb(0xff, 0x60, 0x60)));
        }
        let panics = sh.panics.load(Ordering::Relaxed);
        if panics > 0 {
            ui.label(
                RichText::new(format!("{panics} model panic(s) caught"))
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

/// The last [`HISTORY_SECONDS`]: one column per analysed window in its top genre's colour
/// (grey when silent), height = confidence.
fn history_strip(ui: &mut egui::Ui, history: &VecDeque<HistoryPoint>, labels: &[String]) {
    let width = ui.available_width();
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 44.0), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, Color32::from_gray(45));
    let Some(now) = history.back().map(|p| p.start_s) else {
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            "history",
            FontId::proportional(12.0),
            Color32::from_gray(100),
        );
        return;
    };
    let x_of = |t: f64| rect.right() - ((now - t) / HISTORY_SECONDS) as f32 * rect.width();
    let mut prev: Option<&HistoryPoint> = None;
    for p in history {
        let x1 = x_of(p.start_s);
        let x0 = prev
            .map(|q| x_of(q.start_s))
            .unwrap_or(x1 - 2.0)
            .max(x1 - 8.0);
        let colour = if p.silent || p.top == NO_TOP {
            Color32::from_gray(70)
        } else {
            genre_colour(p.top)
        };
        let h = rect.height() * p.confidence.clamp(0.15, 1.0);
        let col = egui::Rect::from_min_max(
            egui::pos2(x0, rect.bottom() - h),
            egui::pos2(x1.max(x0 + 1.0), rect.bottom()),
        );
        painter.rect_filled(col, 0.0, colour);
        prev = Some(p);
    }
    // Legend: genres seen in the strip.
    let mut seen: Vec<usize> = history
        .iter()
        .filter(|p| !p.silent && p.top != NO_TOP)
        .map(|p| p.top)
        .collect();
    seen.sort_unstable();
    seen.dedup();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("last {:.0} min:", HISTORY_SECONDS / 60.0)).small());
        for i in seen {
            ui.label(
                RichText::new(labels.get(i).map(String::as_str).unwrap_or("?"))
                    .small()
                    .color(genre_colour(i)),
            );
        }
    });
}
