//! The Tagger: audio of any rate and chunking in, per-window genre distributions (and
//! style probabilities, for models with styles) and a smoothed distribution out. The
//! plugin's analysis worker and `cargo xtask tag`/`eval` all go through this one type, so
//! what the plugin shows is what the CLI measures.

use crate::audio::{sanitize, Audio, StreamResampler};
use crate::front_end::FrontEnd;
use crate::mel::Mel;
use crate::weights::LoadedModel;
use crate::window::{copy_window, normalize};
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

pub struct Tagger {
    model: Arc<LoadedModel>,
    opts: TaggerOptions,
    input_rate: u32,
    resampler: StreamResampler,
    mel: FrontEnd,
    /// Rolling frames; `frames_offset` is the absolute index of its first frame.
    frames: Mel,
    frames_offset: u64,
    next_window: u64,
    hop_frames: u64,
    windows_done: u64,
    resampled: Vec<f32>,
    sanitized: Vec<f32>,
    window_buf: Vec<f32>,
    batch: Vec<(f64, f32, Vec<f32>)>,
    smoothed: Option<Vec<f32>>,
    smoothed_styles: Option<Vec<f32>>,
    non_finite: u64,
}

impl Tagger {
    pub fn new(model: Arc<LoadedModel>, input_rate: u32, opts: TaggerOptions) -> Result<Self> {
        opts.validate()?;
        let cfg = model.card.front_end.mel.clone();
        let front_end = FrontEnd::new(model.card.front_end.clone())?;
        let resampler = StreamResampler::new(input_rate, cfg.sample_rate)?;
        let hop_frames = cfg.hop_frames(opts.hop_s) as u64;
        Ok(Self {
            frames: Mel {
                n_mels: cfg.n_mels,
                ..Default::default()
            },
            mel: front_end,
            model,
            opts,
            input_rate,
            resampler,
            frames_offset: 0,
            next_window: 0,
            hop_frames,
            windows_done: 0,
            resampled: Vec::new(),
            sanitized: Vec::new(),
            window_buf: Vec::new(),
            batch: Vec::new(),
            smoothed: None,
            smoothed_styles: None,
            non_finite: 0,
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
        self.non_finite
    }
    /// The smoothed distribution; `None` until a non-silent window has been seen.
    pub fn smoothed(&self) -> Option<&[f32]> {
        self.smoothed.as_deref()
    }
    /// The style probabilities smoothed like the distribution; `None` until a non-silent
    /// window has been seen, and always for a model without styles.
    pub fn smoothed_styles(&self) -> Option<&[f32]> {
        self.smoothed_styles.as_deref()
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
        self.smoothed = None;
        self.smoothed_styles = None;
        Ok(())
    }

    /// Changes hop and smoothing on the fly (the plugin's parameters); the stream goes on.
    pub fn set_options(&mut self, opts: TaggerOptions) -> Result<()> {
        opts.validate()?;
        self.hop_frames = self.model.card.front_end.mel.hop_frames(opts.hop_s) as u64;
        self.opts = opts;
        Ok(())
    }

    /// Forgets the stream and the smoothed state (a new song, a transport jump).
    pub fn reset(&mut self) {
        self.mel.reset();
        self.resampler.reset();
        self.batch.clear();
        self.clear_frames();
        self.smoothed = None;
        self.smoothed_styles = None;
    }

    /// Forgets the analysed frames and window positions (the stream starts over).
    fn clear_frames(&mut self) {
        self.frames.data.clear();
        self.frames.energy.clear();
        self.frames_offset = 0;
        self.next_window = 0;
        self.windows_done = 0;
    }

    /// Feeds input samples (mono, at the input rate) and analyses every window that
    /// became complete. NaN/inf samples are counted and treated as silence.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<WindowResult>> {
        self.sanitized.clear();
        self.sanitized.extend_from_slice(samples);
        self.non_finite += sanitize(&mut self.sanitized) as u64;
        self.resampled.clear();
        self.resampler.push(&self.sanitized, &mut self.resampled)?;
        self.mel.push(&self.resampled, &mut self.frames);
        self.collect_windows(false)
    }

    /// Ends the stream (a file's end): flushes the resampler and the mel tail and
    /// analyses the last windows. A stream that never filled one window but holds at
    /// least one second gets one window made by looping what there is.
    pub fn finish(&mut self) -> Result<Vec<WindowResult>> {
        self.resampled.clear();
        self.resampler.finish(&mut self.resampled)?;
        self.mel.push(&self.resampled, &mut self.frames);
        self.mel.finish(&mut self.frames);
        let out = self.collect_windows(true)?;
        self.clear_frames();
        Ok(out)
    }

    fn collect_windows(&mut self, at_end: bool) -> Result<Vec<WindowResult>> {
        let wf = self.model.card.window_frames;
        let n_mels = self.frames.n_mels;
        let available = self.frames.frames() as u64;
        let mut out = Vec::new();
        while self.next_window + wf as u64 <= self.frames_offset + available {
            let start = (self.next_window - self.frames_offset) as usize;
            self.queue_window(start, wf, n_mels);
            self.next_window += self.hop_frames;
            if self.batch.len() >= self.opts.max_batch {
                self.run_batch(&mut out)?;
            }
        }
        if at_end && self.windows_done == 0 && self.batch.is_empty() && available > 0 {
            let min_frames = self.model.card.front_end.mel.frames_for(1.0) as u64;
            let secs = (available as f32 - 1.0) * self.model.card.front_end.mel.hop as f32
                / self.model.card.front_end.mel.sample_rate as f32;
            if available < min_frames {
                return Err(Error::TooShort {
                    seconds: secs.max(0.0),
                    min_seconds: 1.0,
                });
            }
            self.queue_looped_window(wf, n_mels);
        }
        self.run_batch(&mut out)?;
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
        Ok(out)
    }

    fn queue_window(&mut self, start: usize, wf: usize, n_mels: usize) {
        copy_window(&self.frames.data, n_mels, start, wf, &mut self.window_buf);
        let energy = self.frames.energy[start..start + wf].iter().sum::<f32>() / wf as f32;
        self.push_batch(start, energy);
    }

    fn queue_looped_window(&mut self, wf: usize, n_mels: usize) {
        let avail = self.frames.frames();
        let looped: Vec<f32> = (0..wf)
            .flat_map(|t| self.frames.frame(t % avail).to_vec())
            .collect();
        copy_window(&looped, n_mels, 0, wf, &mut self.window_buf);
        let energy = self.frames.energy.iter().sum::<f32>() / avail as f32;
        self.push_batch(0, energy);
    }

    fn push_batch(&mut self, start: usize, energy: f32) {
        let m = &self.model.card.front_end.mel;
        let abs_frame = self.frames_offset + start as u64;
        // Frame k is centred on sample k·hop (librosa's centring), so a window starting at
        // frame k covers audio from k·hop − n_fft/2; report the centre of its first frame.
        let start_s = (abs_frame * m.hop as u64) as f64 / m.sample_rate as f64;
        let level_db = 10.0 * energy.max(1e-12).log10();
        let mut w = std::mem::take(&mut self.window_buf);
        normalize(&mut w, self.model.card.norm);
        self.batch.push((start_s, level_db, w));
    }

    fn run_batch(&mut self, out: &mut Vec<WindowResult>) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let card = &self.model.card;
        let (n_mels, wf) = (card.front_end.mel.n_mels, card.window_frames);
        let loud: Vec<usize> = (0..self.batch.len())
            .filter(|&i| self.batch[i].1 >= self.opts.silence_db)
            .collect();
        let mut probs = vec![vec![0.0f32; card.labels.len()]; self.batch.len()];
        let mut styles = vec![vec![0.0f32; card.styles.len()]; self.batch.len()];
        let mut features = vec![Vec::new(); self.batch.len()];
        if !loud.is_empty() {
            let mut flat = Vec::with_capacity(loud.len() * n_mels * wf);
            for &i in &loud {
                flat.extend_from_slice(&self.batch[i].2);
            }
            let x = Tensor::from_vec(flat, (loud.len(), n_mels, wf), &self.model.device)?;
            let (p, s, f) = self.infer(&x)?;
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
        let alpha = self.opts.smoothing_alpha();
        let rows = probs.into_iter().zip(styles).zip(features);
        for ((start_s, level_db, w), ((p, s), f)) in self.batch.drain(..).zip(rows) {
            let silent = level_db < self.opts.silence_db;
            if !silent {
                smooth(&mut self.smoothed, &p, alpha);
                if !s.is_empty() {
                    smooth(&mut self.smoothed_styles, &s, alpha);
                }
            }
            self.window_buf = w; // reuse the allocation for the next window
            out.push(WindowResult {
                start_s,
                probs: p,
                styles: s,
                silent,
                level_db,
                features: f,
            });
            self.windows_done += 1;
        }
        Ok(())
    }

    /// One forward pass: the genre softmax, for a model with styles the style sigmoids, and
    /// the teaching features where the network gives them; one row per window. A network
    /// whose style outputs disagree with its card is refused rather than shown under the
    /// wrong names.
    fn infer(&self, x: &Tensor) -> Result<(Rows, Rows, Rows)> {
        let out = self.model.net.infer(x)?;
        let cpu = &candle_core::Device::Cpu;
        let probs = self
            .model
            .card
            .genre_probs(&out.genre_logits)?
            .to_device(cpu)?
            .to_vec2::<f32>()?;
        let names = &self.model.card.styles;
        let styles = match out.style_logits {
            None if names.is_empty() => Vec::new(),
            Some(s) if s.dims().last() == Some(&names.len()) => candle_nn::ops::sigmoid(&s)?
                .to_device(cpu)?
                .to_vec2::<f32>()?,
            other => {
                return Err(Error::WeightsMismatch(format!(
                    "{}: the network gives {} style outputs but its card names {}",
                    self.model.source,
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
    for chunk in samples.chunks(1 << 16) {
        windows.extend(t.push(chunk)?);
    }
    windows.extend(t.finish()?);
    let loud: Vec<&WindowResult> = windows.iter().filter(|w| !w.silent).collect();
    if loud.is_empty() {
        return Err(Error::Silent {
            threshold_db: opts.silence_db,
        });
    }
    let card = &t.model().card;
    let distribution = mean_of(&loud, card.labels.len(), |w| &w.probs);
    let styles = mean_of(&loud, card.styles.len(), |w| &w.styles);
    let top = crate::distribution::argmax(&distribution);
    Ok(FileTags {
        windows,
        distribution,
        styles,
        top,
        duration_s: samples.len() as f64 / sample_rate as f64,
        non_finite: t.non_finite_samples(),
    })
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
