//! The egui editor: the top genre large with its confidence ("unsure" when the runner-up
//! is close), one bar per label, the styles when the model has them, a history strip with
//! a time axis and legend, the latest genre changes, controls, log export and a status
//! line. It reads only the [`Monitor`] (snapshot, meters, log) and writes only parameters
//! and [`Controls`](crate::controls::Controls), so opening and closing it never disturbs
//! analysis.
//!
//! - [`app`]: the layout, sized from the window so the content fills it at every size.
//! - [`history`]: the history strip.
//! - [`colours`]: one colour per label name.
//! - [`export`]: CSV/JSON export of the log (and the taught model) to a folder the editor
//!   shows.
//! - [`teach_panel`]: the teaching row (teach a label by example, undo, forget, export).
//!
//! [`TaggerEditor`] wraps nice-plug-egui's editor so that the window is created at the size
//! saved in the session (the `editor-size` persisted field), which the host restores after
//! the plugin and its editor object were created.

pub mod app;
pub mod colours;
pub mod export;
pub mod history;
pub mod teach_panel;

use crate::engine::Monitor;
use crate::params::TaggerParams;
use app::App;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize, Size};
use nice_plug::editor::{Editor, HostMethods, ParentWindowHandle, ResizeHint, SpawnedEditor};
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorHandle, EguiEditorState, EguiNiceSettings,
    RepaintNotifier,
};
use std::error::Error;
use std::sync::{Arc, Mutex};

/// Smallest logical size the layout is made for.
pub const MIN_SIZE: (f32, f32) = (480.0, 420.0);

pub struct TaggerEditor {
    params: Arc<TaggerParams>,
    monitor: Monitor,
    repaint: RepaintNotifier,
    /// What the editor remembers between openings (the last export's result).
    memory: Arc<Mutex<app::Memory>>,
    inner: Mutex<Option<EguiEditor<App>>>,
}

impl TaggerEditor {
    pub fn new(params: Arc<TaggerParams>, monitor: Monitor) -> Self {
        let repaint = monitor.repaint.get_or_init(RepaintNotifier::new).clone();
        Self {
            params,
            monitor,
            repaint,
            memory: Arc::default(),
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
        let app = App::new(
            self.params.clone(),
            self.monitor.clone(),
            self.memory.clone(),
        );
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
