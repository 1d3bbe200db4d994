//! Helpers shared by the plugin crate's tests (included with `mod common;`).
#![allow(dead_code)]

use genre_tagger::controls::Controls;
use genre_tagger::engine::{Engine, Monitor};
use genre_tagger::midi::MidiMessage;
use genre_tagger::model_load::ModelSource;
use genre_tagger::params::TaggerParams;
use model::net::GenreNet;
use model::weights::{build_trainable, LoadedModel, ModelCard};
use std::sync::Arc;

/// An untrained seed CNN with the default card: real inference cost, meaningless output.
pub fn untrained_model() -> Arc<LoadedModel> {
    let card = ModelCard::seed_cnn_default();
    let device = candle_core::Device::Cpu;
    let (_vars, net) = build_trainable(&card, &device, 7).expect("build seed CNN");
    Arc::new(LoadedModel {
        card,
        net,
        device,
        source: "untrained seed CNN (test)".into(),
    })
}

/// Wraps a network; `hook` runs before every forward (to panic or stall on purpose).
pub struct HookedNet<F: Fn(usize) + Send + Sync> {
    pub inner: Box<dyn GenreNet>,
    pub calls: std::sync::atomic::AtomicUsize,
    pub hook: F,
}

impl<F: Fn(usize) + Send + Sync> GenreNet for HookedNet<F> {
    fn forward_t(
        &self,
        x: &candle_core::Tensor,
        train: bool,
    ) -> candle_core::Result<candle_core::Tensor> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (self.hook)(n);
        self.inner.forward_t(x, train)
    }
}

pub fn hooked_model(hook: impl Fn(usize) + Send + Sync + 'static) -> Arc<LoadedModel> {
    let card = ModelCard::seed_cnn_default();
    let device = candle_core::Device::Cpu;
    let (_vars, net) = build_trainable(&card, &device, 7).expect("build seed CNN");
    let net = Box::new(HookedNet {
        inner: net,
        calls: Default::default(),
        hook,
    });
    Arc::new(LoadedModel {
        card,
        net,
        device,
        source: "hooked seed CNN (test)".into(),
    })
}

/// A network with style outputs: the first `n` mel bands' mean, so they vary with the music.
struct Styled {
    inner: Box<dyn GenreNet>,
    n: usize,
}

impl GenreNet for Styled {
    fn forward_t(
        &self,
        x: &candle_core::Tensor,
        train: bool,
    ) -> candle_core::Result<candle_core::Tensor> {
        self.inner.forward_t(x, train)
    }

    fn infer(&self, x: &candle_core::Tensor) -> candle_core::Result<model::net::NetOutput> {
        let bands = x.mean(2)?.narrow(1, 0, self.n)?;
        Ok(model::net::NetOutput {
            genre_logits: self.forward_t(x, false)?,
            style_logits: Some((bands * 3.0)?),
            teach_features: None,
        })
    }
}

/// An untrained seed CNN whose card and network have these styles.
pub fn styled_model(styles: &[&str]) -> Arc<LoadedModel> {
    let mut card = ModelCard::seed_cnn_default();
    card.styles = styles.iter().map(|s| s.to_string()).collect();
    let device = candle_core::Device::Cpu;
    let (_vars, inner) = build_trainable(&card, &device, 7).expect("build seed CNN");
    Arc::new(LoadedModel {
        card,
        net: Box::new(Styled {
            inner,
            n: styles.len(),
        }),
        device,
        source: "styled seed CNN (test)".into(),
    })
}

pub fn engine(source: ModelSource) -> (Engine, Monitor, Arc<TaggerParams>) {
    let controls = Arc::new(Controls::default());
    let params = Arc::new(TaggerParams::new(controls.clone()));
    let engine = Engine::new(params.clone(), controls, source);
    let monitor = engine.monitor().clone();
    (engine, monitor, params)
}

/// A MIDI sink for `Engine::process` that takes everything and keeps nothing.
pub fn no_midi(_offset: u32, _m: MidiMessage) -> bool {
    true
}

/// Processes read-only test buffers: copies them (the engine writes the output in place).
pub fn process(engine: &mut Engine, channels: &[&[f32]]) {
    let mut bufs: Vec<Vec<f32>> = channels.iter().map(|c| c.to_vec()).collect();
    engine.process(&mut bufs, no_midi);
}

/// A deterministic test signal: a few partials with a slow tremolo, stereo-decorrelated.
pub fn music_like(rate: u32, frames: usize, channel: usize, offset: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| {
            let t = (i + offset) as f32 / rate as f32;
            let f = 220.0 * (1.0 + channel as f32 * 0.01);
            let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 2.0 * t).sin();
            0.2 * env
                * ((2.0 * std::f32::consts::PI * f * t).sin()
                    + 0.5 * (2.0 * std::f32::consts::PI * 3.0 * f * t).sin())
        })
        .collect()
}

/// Waits up to `secs` for `cond`.
pub fn wait_for(secs: f32, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f32(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    cond()
}

/// A model of `arch` for the worker: a network untrained, or a classical system fitted on
/// random window summaries (what it answers does not matter here, that it runs does).
pub fn seed_system(arch: model::arch::Arch) -> Arc<LoadedModel> {
    use model::arch::Arch;
    let device = candle_core::Device::Cpu;
    let blank = ModelCard::from_scratch(arch).expect("a from-scratch card");
    let (card, net) = match &blank.arch {
        Arch::HandFeatures(cfg) => {
            let mut rng = 0x2545_f491u32;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                rng as f32 / u32::MAX as f32
            };
            let x: Vec<Vec<f32>> = (0..200)
                .map(|_| (0..model::features::SUMMARY_LEN).map(|_| next()).collect())
                .collect();
            let y: Vec<usize> = (0..200).map(|i| i % 10).collect();
            let fitted = model::classic::fit(cfg, &x, &y, 10, 1).expect("fit");
            let (card, _vars, net) =
                model::train::build_fitted(&blank, fitted, &device).expect("build");
            (card, net)
        }
        _ => {
            let (_vars, net) = build_trainable(&blank, &device, 7).expect("build");
            (blank, net)
        }
    };
    Arc::new(LoadedModel {
        card,
        net,
        device,
        source: "seed system (test)".into(),
    })
}
