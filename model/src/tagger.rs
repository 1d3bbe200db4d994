//! The Tagger: audio of any rate and chunking in, per-window genre distributions (and
//! style probabilities, for models with styles) and a smoothed distribution out. The
//! plugin's analysis worker and `cargo xtask tag`/`eval` all go through this one type, so
//! what the plugin shows is what the CLI measures.
//!
//! Its two halves are public so that tagging many files ([`crate::library`]) runs the same
//! code: a [`WindowMaker`] turns samples into normalised windows, and [`classify`] runs
//! the network over any batch of them; [`FileTags::from_windows`] sums a file up.

use crate::audio::{sanitize, Audio, StreamResampler};
use crate::front_end::FrontEnd;
use crate::mel::{Mel, MelConfig};
use crate::weights::{LoadedModel, ModelCard};
use crate::window::{copy_window, normalize, WindowNorm};
use crate::{Error, Result};
use candle_core::Tensor;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaggerOptions {
    /// Seconds between window starts.
    pub hop_s: f32,
    /// Time constant of the exponential smoothing, seconds (0 = no smoothing).
    pub smoothing_s: f32,
    /// A window whose RMS level is below this (dBFS) counts as silence: it is reported but
    /// does not move the smoothed distribution.
    pub silence_db: f32,
    /// Windows per forward pass. Up to ~8 amortises per-call overhead; larger batches
    /// were slower per window on CPU here (activations outgrow the allocator's heap).
    pub max_batch: usize,
}

impl Default for TaggerOptions {
    fn default() -> Self {
        Self {
            hop_s: 1.0,
            smoothing_s: 4.0,
            silence_db: -60.0,
            max_batch: 8,
        }
    }
}

impl TaggerOptions {
    /// The shortest hop, seconds: two or three mel frames. A shorter one would analyse
    /// almost the same window again for every frame of audio.
    pub const MIN_HOP_S: f32 = 0.05;
    /// The longest hop, seconds.
    pub const MAX_HOP_S: f32 = 60.0;

    /// Whether the Tagger accepts `hop_s` (NaN is not).
    pub fn hop_in_range(hop_s: f32) -> bool {
        (Self::MIN_HOP_S..=Self::MAX_HOP_S).contains(&hop_s)
    }

    /// The weight of each new window in the exponential smoothing: a time constant of
    /// `smoothing_s` at one window every `hop_s`; 1 (no smoothing) when it is 0.
    pub fn smoothing_alpha(&self) -> f32 {
        if self.smoothing_s > 0.0 {
            1.0 - (-self.hop_s / self.smoothing_s).exp()
        } else {
            1.0
        }
    }

    pub fn validate(&self) -> Result<()> {
        let ok = Self::hop_in_range(self.hop_s)
            && self.smoothing_s.is_finite()
            && self.smoothing_s >= 0.0
            && self.silence_db.is_finite()
            && self.max_batch >= 1;
        if ok {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "invalid tagger options {self:?} (hop must be in [{}, {}] s)",
                Self::MIN_HOP_S,
                Self::MAX_HOP_S
            )))
        }
    }
}

/// One analysed window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    /// Start of the window in the input, seconds since the stream began.
    pub start_s: f64,
    /// Softmax over the model's labels (all zeros for a silent window).
    pub probs: Vec<f32>,
    /// Sigmoid probability of each of the card's styles (independent: they need not sum
    /// to 1); all zeros for a silent window, empty when the model has no styles.
    pub styles: Vec<f32>,
    pub silent: bool,
    /// RMS level of the window, dBFS.
    pub level_db: f32,
    /// What a taught decision would learn from this window (the network's
    /// `teach_features`); empty for a silent window and for a network that cannot be taught.
    pub features: Vec<f32>,
}

/// A window cut from the stream and normalised as the card says: what the network is fed.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedWindow {
    /// Start of the window in the input, seconds since the stream began.
    pub start_s: f64,
    /// RMS level of the window, dBFS: [`classify`] compares it with the silence threshold.
    pub level_db: f32,
    /// `[n_mels][window_frames]`, mel-major (the layout the networks take).
    pub data: Vec<f32>,
}

/// The Tagger's front half: samples of any rate and chunking in, the card's windows out,
/// every hop, normalised. Only the frames a future window needs are kept, so a stream of
/// any length holds about one window of frames.
pub struct WindowMaker {
    mel_cfg: MelConfig,
    window_frames: usize,
    norm: WindowNorm,
    resampler: StreamResampler,
    front_end: FrontEnd,
    /// Rolling frames; `frames_offset` is the absolute index of its first frame.
    frames: Mel,
    frames_offset: u64,
    next_window: u64,
    hop_frames: u64,
    /// Windows made since the stream began: a stream that ends without one gets a looped one.
    made: u64,
    resampled: Vec<f32>,
    sanitized: Vec<f32>,
    non_finite: u64,
}

impl WindowMaker {
    /// A stream at `input_rate` Hz cut into `card`'s windows every `hop_s` seconds.
    pub fn new(card: &ModelCard, input_rate: u32, hop_s: f32) -> Result<Self> {
        let cfg = card.front_end.mel.clone();
        Ok(Self {
            front_end: FrontEnd::new(card.front_end.clone())?,
            resampler: StreamResampler::new(input_rate, cfg.sample_rate)?,
            frames: Mel {
                n_mels: cfg.n_mels,
                ..Default::default()
            },
            hop_frames: cfg.hop_frames(hop_s) as u64,
            mel_cfg: cfg,
            window_frames: card.window_frames,
            norm: card.norm,
            frames_offset: 0,
            next_window: 0,
            made: 0,
            resampled: Vec::new(),
            sanitized: Vec::new(),
            non_finite: 0,
        })
    }

    /// NaN/inf input samples seen so far (each was treated as 0).
    pub fn non_finite_samples(&self) -> u64 {
        self.non_finite
    }

    /// Changes the hop; the next window starts one new hop after the last.
    pub fn set_hop(&mut self, hop_s: f32) {
        self.hop_frames = self.mel_cfg.hop_frames(hop_s) as u64;
    }

    /// Feeds input samples (mono, at the input rate) and hands every window that became
    /// complete to `emit`, in order. NaN/inf samples are counted and treated as silence.
    /// An error of `emit` stops the stream where it is and is returned.
    pub fn push<E: From<Error>>(
        &mut self,
        samples: &[f32],
        emit: impl FnMut(PreparedWindow) -> Result<(), E>,
    ) -> Result<(), E> {
        self.sanitized.clear();
        self.sanitized.extend_from_slice(samples);
        self.non_finite += sanitize(&mut self.sanitized) as u64;
        self.resampled.clear();
        self.resampler.push(&self.sanitized, &mut self.resampled)?;
        self.front_end.push(&self.resampled, &mut self.frames);
        self.collect(false, emit)
    }

    /// Ends the stream (a file's end): flushes the resampler and the front end's tail and
    /// emits the last windows. A stream that never filled one window but holds at least
    /// one second gets one window made by looping what there is; a shorter one is
    /// [`Error::TooShort`]. The maker is then ready for a new stream.
    pub fn finish<E: From<Error>>(
        &mut self,
        emit: impl FnMut(PreparedWindow) -> Result<(), E>,
    ) -> Result<(), E> {
        self.resampled.clear();
        self.resampler.finish(&mut self.resampled)?;
        self.front_end.push(&self.resampled, &mut self.frames);
        self.front_end.finish(&mut self.frames);
        self.collect(true, emit)?;
        self.clear_frames();
        Ok(())
    }

    /// Feeds a whole signal in blocks, as a stream would (the path the plugin takes), and
    /// ends it.
    pub fn run<E: From<Error>>(
        &mut self,
        samples: &[f32],
        mut emit: impl FnMut(PreparedWindow) -> Result<(), E>,
    ) -> Result<(), E> {
        for chunk in samples.chunks(FEED_BLOCK) {
            self.push(chunk, &mut emit)?;
        }
        self.finish(emit)
    }

    /// Forgets the stream (a new song, a transport jump).
    pub fn reset(&mut self) {
        self.front_end.reset();
        self.resampler.reset();
        self.clear_frames();
    }

    /// Forgets the analysed frames and window positions (the stream starts over).
    fn clear_frames(&mut self) {
        self.frames.data.clear();
        self.frames.energy.clear();
        self.frames_offset = 0;
        self.next_window = 0;
        self.made = 0;
    }

    fn collect<E: From<Error>>(
        &mut self,
        at_end: bool,
        mut emit: impl FnMut(PreparedWindow) -> Result<(), E>,
    ) -> Result<(), E> {
        let wf = self.window_frames;
        let n_mels = self.frames.n_mels;
        let available = self.frames.frames() as u64;
        while self.next_window + wf as u64 <= self.frames_offset + available {
            let start = (self.next_window - self.frames_offset) as usize;
            let mut data = Vec::new();
            copy_window(&self.frames.data, n_mels, start, wf, &mut data);
            let energy = self.frames.energy[start..start + wf].iter().sum::<f32>() / wf as f32;
            let w = self.prepare(start, energy, data);
            self.next_window += self.hop_frames;
            self.made += 1;
            emit(w)?;
        }
        if at_end && self.made == 0 && available > 0 {
            let min_frames = self.mel_cfg.frames_for(1.0) as u64;
            if available < min_frames {
                let secs = (available as f32 - 1.0) * self.mel_cfg.hop as f32
                    / self.mel_cfg.sample_rate as f32;
                return Err(Error::TooShort {
                    seconds: secs.max(0.0),
                    min_seconds: 1.0,
                }
                .into());
            }
            let avail = self.frames.frames();
            let looped: Vec<f32> = (0..wf)
                .flat_map(|t| self.frames.frame(t % avail).to_vec())
                .collect();
            let mut data = Vec::new();
            copy_window(&looped, n_mels, 0, wf, &mut data);
            let energy = self.frames.energy.iter().sum::<f32>() / avail as f32;
            let w = self.prepare(0, energy, data);
            self.made += 1;
            emit(w)?;
        }
        // Drop frames no future window needs.
        let keep_from = self
            .next_window
            .saturating_sub(self.frames_offset)
            .min(available) as usize;
        if keep_from > 0 {
            self.frames.data.drain(..keep_from * n_mels);
            self.frames.energy.drain(..keep_from);
            self.frames_offset += keep_from as u64;
        }
        Ok(())
    }

    /// The window starting at frame `start` of the kept frames, normalised.
    fn prepare(&self, start: usize, energy: f32, mut data: Vec<f32>) -> PreparedWindow {
        let m = &self.mel_cfg;
        let abs_frame = self.frames_offset + start as u64;
        // Frame k is centred on sample k·hop (librosa's centring), so a window starting at
        // frame k covers audio from k·hop − n_fft/2; report the centre of its first frame.
        let start_s = (abs_frame * m.hop as u64) as f64 / m.sample_rate as f64;
        normalize(&mut data, self.norm);
        PreparedWindow {
            start_s,
            level_db: 10.0 * energy.max(1e-12).log10(),
            data,
        }
    }
}

/// Samples per block when a whole signal is fed as a stream ([`WindowMaker::run`],
/// [`tag_samples`]): about 1.5–3 s, so a block makes a few windows at the default hop.
pub const FEED_BLOCK: usize = 1 << 16;

/// Runs the network over a batch of windows — of one stream or of many files alike — and
/// returns one result per window, in order. A window below `silence_db` is silent: it is
/// not run, and its distribution, styles and features are zeros (empty features).
pub fn classify(
    model: &LoadedModel,
    windows: &[PreparedWindow],
    silence_db: f32,
) -> Result<Vec<WindowResult>> {
    let card = &model.card;
    let (n_mels, wf) = (card.front_end.mel.n_mels, card.window_frames);
    let loud: Vec<usize> = (0..windows.len())
        .filter(|&i| windows[i].level_db >= silence_db)
        .collect();
    let mut probs = vec![vec![0.0f32; card.labels.len()]; windows.len()];
    let mut styles = vec![vec![0.0f32; card.styles.len()]; windows.len()];
    let mut features = vec![Vec::new(); windows.len()];
    if !loud.is_empty() {
        let mut flat = Vec::with_capacity(loud.len() * n_mels * wf);
        for &i in &loud {
            flat.extend_from_slice(&windows[i].data);
        }
        let x = Tensor::from_vec(flat, (loud.len(), n_mels, wf), &model.device)?;
        let (p, s, f) = infer(model, &x)?;
        for (&i, row) in loud.iter().zip(p) {
            probs[i] = row;
        }
        for (&i, row) in loud.iter().zip(s) {
            styles[i] = row;
        }
        for (&i, row) in loud.iter().zip(f) {
            features[i] = row;
        }
    }
    let rows = probs.into_iter().zip(styles).zip(features);
    Ok(windows
        .iter()
        .zip(rows)
        .map(|(w, ((probs, styles), features))| WindowResult {
            start_s: w.start_s,
            probs,
            styles,
            silent: w.level_db < silence_db,
            level_db: w.level_db,
            features,
        })
        .collect())
}

/// One forward pass: the genre softmax, for a model with styles the style sigmoids, and
/// the teaching features where the network gives them; one row per window. A network
/// whose style outputs disagree with its card is refused rather than shown under the
/// wrong names.
fn infer(model: &LoadedModel, x: &Tensor) -> Result<(Rows, Rows, Rows)> {
    let out = model.net.infer(x)?;
    let cpu = &candle_core::Device::Cpu;
    let probs = model
        .card
        .genre_probs(&out.genre_logits)?
        .to_device(cpu)?
        .to_vec2::<f32>()?;
    let names = &model.card.styles;
    let styles = match out.style_logits {
        None if names.is_empty() => Vec::new(),
        Some(s) if s.dims().last() == Some(&names.len()) => candle_nn::ops::sigmoid(&s)?
            .to_device(cpu)?
            .to_vec2::<f32>()?,
        other => {
            return Err(Error::WeightsMismatch(format!(
                "{}: the network gives {} style outputs but its card names {}",
                model.source,
                other.map_or(0, |s| s.dims().last().copied().unwrap_or(0)),
                names.len()
            )))
        }
    };
    let features = match out.teach_features {
        Some(f) => f.to_device(cpu)?.to_vec2::<f32>()?,
        None => Vec::new(),
    };
    Ok((probs, styles, features))
}

pub struct Tagger {
    model: Arc<LoadedModel>,
    opts: TaggerOptions,
    input_rate: u32,
    maker: WindowMaker,
    batch: Vec<PreparedWindow>,
    smoothed: Smoothed,
}

/// The exponentially smoothed distribution and styles; `None` until a non-silent window.
#[derive(Default)]
struct Smoothed {
    probs: Option<Vec<f32>>,
    styles: Option<Vec<f32>>,
}

impl Tagger {
    pub fn new(model: Arc<LoadedModel>, input_rate: u32, opts: TaggerOptions) -> Result<Self> {
        opts.validate()?;
        Ok(Self {
            maker: WindowMaker::new(&model.card, input_rate, opts.hop_s)?,
            model,
            opts,
            input_rate,
            batch: Vec::new(),
            smoothed: Smoothed::default(),
        })
    }

    pub fn model(&self) -> &Arc<LoadedModel> {
        &self.model
    }
    pub fn options(&self) -> TaggerOptions {
        self.opts
    }
    pub fn input_rate(&self) -> u32 {
        self.input_rate
    }
    /// NaN/inf input samples seen so far (each was treated as 0).
    pub fn non_finite_samples(&self) -> u64 {
        self.maker.non_finite_samples()
    }
    /// The smoothed distribution; `None` until a non-silent window has been seen.
    pub fn smoothed(&self) -> Option<&[f32]> {
        self.smoothed.probs.as_deref()
    }
    /// The style probabilities smoothed like the distribution; `None` until a non-silent
    /// window has been seen, and always for a model without styles.
    pub fn smoothed_styles(&self) -> Option<&[f32]> {
        self.smoothed.styles.as_deref()
    }

    /// Swaps in another model fed the same way (same front end and window: a taught
    /// decision on the same network), keeping the analysed frames, so the next window comes
    /// when it would have. The smoothed state restarts: the labels may have changed.
    pub fn set_model(&mut self, model: Arc<LoadedModel>) -> Result<()> {
        let (old, new) = (&self.model.card, &model.card);
        if old.front_end != new.front_end
            || old.window_frames != new.window_frames
            || old.norm != new.norm
        {
            return Err(Error::Config(format!(
                "{} is fed differently from {} (front end or window): it needs a new stream",
                model.source, self.model.source
            )));
        }
        self.model = model;
        self.smoothed = Smoothed::default();
        Ok(())
    }

    /// Changes hop and smoothing on the fly (the plugin's parameters); the stream goes on.
    pub fn set_options(&mut self, opts: TaggerOptions) -> Result<()> {
        opts.validate()?;
        self.maker.set_hop(opts.hop_s);
        self.opts = opts;
        Ok(())
    }

    /// Forgets the stream and the smoothed state (a new song, a transport jump).
    pub fn reset(&mut self) {
        self.maker.reset();
        self.batch.clear();
        self.smoothed = Smoothed::default();
    }

    /// Feeds input samples (mono, at the input rate) and analyses every window that
    /// became complete. NaN/inf samples are counted and treated as silence.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<WindowResult>> {
        self.analyse(|maker, emit| maker.push(samples, emit))
    }

    /// Ends the stream (a file's end): flushes the resampler and the mel tail and
    /// analyses the last windows. A stream that never filled one window but holds at
    /// least one second gets one window made by looping what there is.
    pub fn finish(&mut self) -> Result<Vec<WindowResult>> {
        self.analyse(|maker, emit| maker.finish(emit))
    }

    /// Runs one step of the window maker, classifying its windows `max_batch` at a time.
    fn analyse(
        &mut self,
        step: impl FnOnce(&mut WindowMaker, &mut dyn FnMut(PreparedWindow) -> Result<()>) -> Result<()>,
    ) -> Result<Vec<WindowResult>> {
        let mut out = Vec::new();
        let Self {
            model,
            opts,
            maker,
            batch,
            smoothed,
            ..
        } = self;
        step(maker, &mut |w| {
            batch.push(w);
            if batch.len() >= opts.max_batch {
                run_batch(model, opts, batch, smoothed, &mut out)?;
            }
            Ok(())
        })?;
        run_batch(model, opts, batch, smoothed, &mut out)?;
        Ok(out)
    }
}

/// Classifies the queued windows, moves the smoothed state on by the loud ones and
/// appends the results to `out`.
fn run_batch(
    model: &LoadedModel,
    opts: &TaggerOptions,
    batch: &mut Vec<PreparedWindow>,
    smoothed: &mut Smoothed,
    out: &mut Vec<WindowResult>,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let results = classify(model, batch, opts.silence_db)?;
    batch.clear();
    let alpha = opts.smoothing_alpha();
    for r in results {
        if !r.silent {
            smooth(&mut smoothed.probs, &r.probs, alpha);
            if !r.styles.is_empty() {
                smooth(&mut smoothed.styles, &r.styles, alpha);
            }
        }
        out.push(r);
    }
    Ok(())
}

/// One vector per window of a batch.
type Rows = Vec<Vec<f32>>;

/// One step of the exponential smoothing (`alpha` from
/// [`TaggerOptions::smoothing_alpha`]); the first value starts it.
pub fn smooth(state: &mut Option<Vec<f32>>, x: &[f32], alpha: f32) {
    match state.as_mut() {
        None => *state = Some(x.to_vec()),
        Some(s) => s
            .iter_mut()
            .zip(x)
            .for_each(|(s, &x)| *s += alpha * (x - *s)),
    }
}

/// A whole file's analysis.
#[derive(Debug, Clone)]
pub struct FileTags {
    pub windows: Vec<WindowResult>,
    /// Mean of the non-silent windows' distributions.
    pub distribution: Vec<f32>,
    /// Mean of the non-silent windows' style probabilities (empty without styles).
    pub styles: Vec<f32>,
    pub top: usize,
    /// Length of the tagged audio, seconds.
    pub duration_s: f64,
    pub non_finite: u64,
}

/// Tags decoded audio end to end through a [`Tagger`]. Fails with [`Error::Silent`] when
/// every window is silent, rather than inventing a genre.
pub fn tag_audio(model: Arc<LoadedModel>, audio: &Audio, opts: TaggerOptions) -> Result<FileTags> {
    let mut tags = tag_samples(model, &audio.samples, audio.sample_rate, opts)?;
    tags.non_finite += audio.non_finite as u64;
    Ok(tags)
}

/// Tags mono samples at `sample_rate` end to end: [`tag_audio`] for audio that was never a
/// file (the Python package's numpy arrays), borrowed rather than copied into an [`Audio`].
pub fn tag_samples(
    model: Arc<LoadedModel>,
    samples: &[f32],
    sample_rate: u32,
    opts: TaggerOptions,
) -> Result<FileTags> {
    let mut t = Tagger::new(model, sample_rate, opts)?;
    // Feed in blocks, as a stream would: the same path the plugin takes.
    let mut windows = Vec::new();
    for chunk in samples.chunks(FEED_BLOCK) {
        windows.extend(t.push(chunk)?);
    }
    windows.extend(t.finish()?);
    FileTags::from_windows(
        windows,
        &t.model().card,
        samples.len() as f64 / sample_rate as f64,
        t.non_finite_samples(),
        opts.silence_db,
    )
}

impl FileTags {
    /// A whole file's tags from its windows, in order: the means over the non-silent
    /// ones and the top genre. Fails with [`Error::Silent`] when every window is silent,
    /// rather than inventing a genre.
    pub fn from_windows(
        windows: Vec<WindowResult>,
        card: &ModelCard,
        duration_s: f64,
        non_finite: u64,
        silence_db: f32,
    ) -> Result<Self> {
        let loud: Vec<&WindowResult> = windows.iter().filter(|w| !w.silent).collect();
        if loud.is_empty() {
            return Err(Error::Silent {
                threshold_db: silence_db,
            });
        }
        let distribution = mean_of(&loud, card.labels.len(), |w| &w.probs);
        let styles = mean_of(&loud, card.styles.len(), |w| &w.styles);
        let top = crate::distribution::argmax(&distribution);
        Ok(Self {
            windows,
            distribution,
            styles,
            top,
            duration_s,
            non_finite,
        })
    }
}

/// Element-wise mean of one per-window vector over `windows`.
fn mean_of(windows: &[&WindowResult], n: usize, field: fn(&WindowResult) -> &Vec<f32>) -> Vec<f32> {
    let mut mean = vec![0.0f32; n];
    for w in windows {
        mean.iter_mut()
            .zip(field(w))
            .for_each(|(m, v)| *m += v / windows.len() as f32);
    }
    mean
}
