//! The editor's teaching row: type a label (or click a genre's bar) and press **Teach**
//! while that music plays, **Stop** when it ends; **Undo** forgets the last segment,
//! **Forget** a label, **Default** everything; **Export model** writes the taught model
//! file. The row only sends requests ([`TeachRequest`]) and shows what the worker reports.

use super::export::export_taught;
use crate::analysis::Analysis;
use crate::engine::Monitor;
use crate::params::TaggerParams;
use crate::teach::TeachRequest;
use egui::{Color32, RichText};

/// What the row keeps between frames.
#[derive(Default)]
pub struct TeachMemory {
    /// The label typed.
    pub label: String,
    /// The last export or refused request: a path, or what went wrong.
    pub message: Option<Result<String, String>>,
}

/// Starts teaching `label`, or stops when it is the label being taught (a bar's click).
pub fn toggle(monitor: &Monitor, a: &Analysis, label: &str, mem: &mut TeachMemory) {
    let request = if a.teaching.as_deref() == Some(label) {
        TeachRequest::Stop
    } else {
        TeachRequest::Start(label.to_string())
    };
    send(monitor, request, mem);
}

fn send(monitor: &Monitor, request: TeachRequest, mem: &mut TeachMemory) {
    if !monitor.controls.teach(request) {
        mem.message = Some(Err("the analysis is busy: try again".into()));
    }
}

pub fn show(
    ui: &mut egui::Ui,
    monitor: &Monitor,
    params: &TaggerParams,
    a: &Analysis,
    mem: &mut TeachMemory,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Teach");
        match &a.teaching {
            Some(label) => {
                let windows = a
                    .taught
                    .iter()
                    .find(|(l, _)| l == label)
                    .map_or(0, |(_, n)| *n);
                ui.label(
                    RichText::new(format!("● {label}: {windows} windows"))
                        .color(Color32::from_rgb(0xff, 0x70, 0x70)),
                );
                if ui.button("Stop").clicked() {
                    send(monitor, TeachRequest::Stop, mem);
                }
            }
            None => {
                ui.add(
                    egui::TextEdit::singleline(&mut mem.label)
                        .hint_text("label, or click a genre")
                        .desired_width(150.0),
                );
                let label = mem.label.trim().to_string();
                if ui
                    .add_enabled(!label.is_empty(), egui::Button::new("Teach"))
                    .on_hover_text("every window from now on is an example of this label")
                    .clicked()
                {
                    send(monitor, TeachRequest::Start(label), mem);
                }
            }
        }
        let taught = !a.taught.is_empty();
        if ui.add_enabled(taught, egui::Button::new("Undo")).clicked() {
            send(monitor, TeachRequest::Undo, mem);
        }
        ui.add_enabled_ui(taught, |ui| {
            egui::ComboBox::from_id_salt("forget-label")
                .selected_text("Forget")
                .width(70.0)
                .show_ui(ui, |ui| {
                    for (label, n) in &a.taught {
                        if ui
                            .selectable_label(false, format!("{label} ({n})"))
                            .clicked()
                        {
                            send(monitor, TeachRequest::Forget(label.clone()), mem);
                        }
                    }
                });
        });
        if ui
            .add_enabled(taught, egui::Button::new("Default"))
            .clicked()
        {
            send(monitor, TeachRequest::Clear, mem);
        }
        if ui
            .add_enabled(taught, egui::Button::new("Export model"))
            .clicked()
        {
            let state = params
                .taught
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            mem.message = Some(export_taught(&state).map(|p| format!("saved {}", p.display())));
        }
        match &mem.message {
            Some(Ok(m)) => ui.label(RichText::new(m).small()),
            Some(Err(e)) => ui.label(RichText::new(e).small().color(Color32::LIGHT_RED)),
            None => ui.label(""),
        };
    });
}
