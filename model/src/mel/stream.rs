use super::{filters, LogScale, Mel, MelConfig};
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Streaming log-mel: takes chunks of any size (one sample to minutes) and appends each
/// frame as soon as its last sample has arrived.
///
/// Everything is allocated in [`MelStream::new`] (FFT plan, window, filterbank, scratch);
/// `push` only grows `out` and its own sample buffer up to `n_fft + chunk`.
pub struct MelStream {
    cfg: MelConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Sparse filterbank: band `m` covers bins `starts[m]..starts[m] + weights[m].len()`.
    starts: Vec<usize>,
    weights: Vec<Vec<f32>>,
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    power: Vec<f32>,
    scratch: Vec<Complex<f32>>,
    buf: Vec<f32>,
    started: bool,
}

impl MelStream {
    pub fn new(cfg: MelConfig) -> crate::Result<Self> {
        cfg.validate()?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(cfg.n_fft);
        let dense = filters::mel_filterbank(&cfg);
        let n_bins = cfg.n_fft / 2 + 1;
        let (mut starts, mut weights) = (Vec::new(), Vec::new());
        for row in dense.chunks(n_bins) {
            let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
            let last = row.iter().rposition(|&w| w != 0.0).map_or(first, |l| l + 1);
            starts.push(first);
            weights.push(row[first..last].to_vec());
        }
        Ok(Self {
            window: filters::hann_periodic(cfg.n_fft),
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; n_bins],
            buf: Vec::with_capacity(cfg.n_fft * 4),
            started: false,
            fft,
            starts,
            weights,
            cfg,
        })
    }

    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    /// Adds samples (at `cfg.sample_rate`) and appends every completed frame to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Mel) {
        if !self.started {
            self.started = true;
            if self.cfg.center {
                self.buf.resize(self.cfg.n_fft / 2, 0.0);
            }
        }
        self.buf.extend_from_slice(samples);
        self.drain_frames(out);
    }

    /// Ends the signal: with centring, pads the tail like librosa and emits the last
    /// frames. The stream is then ready for a new signal.
    pub fn finish(&mut self, out: &mut Mel) {
        if !self.started {
            self.push(&[], out);
        }
        if self.cfg.center {
            self.buf.resize(self.buf.len() + self.cfg.n_fft / 2, 0.0);
            self.drain_frames(out);
        }
        self.reset();
    }

    /// Forgets any buffered samples (e.g. when the host's transport jumps).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.started = false;
    }

    fn drain_frames(&mut self, out: &mut Mel) {
        let (n_fft, hop) = (self.cfg.n_fft, self.cfg.hop);
        let mut pos = 0;
        while self.buf.len() - pos >= n_fft {
            let raw = &self.buf[pos..pos + n_fft];
            out.energy.push(raw.iter().map(|x| x * x).sum::<f32>() / n_fft as f32);
            for ((f, &x), &w) in self.frame.iter_mut().zip(raw).zip(&self.window) {
                *f = x * w;
            }
            self.fft
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                .expect("buffer sizes come from the plan");
            for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
                *p = c.re * c.re + c.im * c.im;
            }
            for (start, w) in self.starts.iter().zip(&self.weights) {
                let s: f32 = self.power[*start..*start + w.len()].iter().zip(w).map(|(p, w)| p * w).sum();
                out.data.push(compress(self.cfg.scale, s));
            }
            pos += hop;
        }
        self.buf.drain(..pos.min(self.buf.len()));
    }
}

#[inline]
fn compress(scale: LogScale, s: f32) -> f32 {
    match scale {
        LogScale::Power => s,
        LogScale::Db { amin } => 10.0 * s.max(amin).log10(),
        LogScale::Log10 { multiplier, f16_round: false } => (multiplier * s + 1.0).log10(),
        LogScale::Log10 { multiplier, f16_round: true } => {
            // musicnn's extractor casts the mel power to float16, then computes
            // `np.log10(10000 * S + 1)`: under the NumPy 1.x it ran on, `10000` promotes
            // the product to float32 (the reference patches reach 6.5, beyond float16's
            // log10(65 505) = 4.8), so only `S` itself is rounded to half precision. A power
            // beyond float16's range (65 504, a full-scale tone) saturates instead of
            // becoming inf.
            let h = |x: f32| half::f16::from_f32(x.min(65_504.0)).to_f32();
            (multiplier * h(s) + 1.0).log10()
        }
    }
}
