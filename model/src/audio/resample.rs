//! Sample-rate conversion with rubato, for whole clips and for streams.
//!
//! Fixed ratios between the usual rates go through rubato's FFT resampler (fast, and its
//! quality is that of a long sinc); a ratio whose reduced form needs a huge FFT (44 101 Hz
//! from a misconfigured device, say) falls back to rubato's asynchronous sinc resampler.

use crate::{Error, Result};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

/// Lowest input rate accepted (telephone audio); below it a 3-s window has no treble left.
pub const MIN_RATE: u32 = 8_000;
/// Highest input rate accepted (DXD/768 kHz interfaces exist; rubato handles them).
pub const MAX_RATE: u32 = 768_000;

const CHUNK: usize = 1024;

pub fn check_rate(rate: u32) -> Result<()> {
    if (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(Error::SampleRate {
            rate,
            min: MIN_RATE,
            max: MAX_RATE,
        })
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn make(from: u32, to: u32) -> Result<Box<dyn Resampler<f32> + Send>> {
    let g = gcd(from, to);
    let err = |e: rubato::ResamplerConstructionError| Error::Resample(e.to_string());
    if from / g <= 4096 && to / g <= 4096 {
        Ok(Box::new(
            Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input).map_err(err)?,
        ))
    } else {
        let params = SincInterpolationParameters {
            sinc_len: 128,
            f_cutoff: None,
            interpolation: SincInterpolationType::Cubic,
            oversampling_factor: 256,
            window: WindowFunction::BlackmanHarris2,
        };
        let ratio = to as f64 / from as f64;
        Ok(Box::new(
            Async::<f32>::new_sinc(ratio, 1.0, &params, CHUNK, 1, FixedAsync::Input)
                .map_err(err)?,
        ))
    }
}

/// Resamples a whole mono clip: the stream below fed everything at once, so a file and a
/// live stream of the same audio give the same samples. Returns the input unchanged when
/// the rates match.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let mut r = StreamResampler::new(from, to)?;
    let mut out = Vec::with_capacity((samples.len() as f64 * to as f64 / from as f64) as usize + 1);
    r.push(samples, &mut out)?;
    r.finish(&mut out)?;
    Ok(out)
}

/// A streaming mono resampler that takes chunks of any size.
///
/// Output is aligned with the input (rubato's start-up delay is trimmed) so that the
/// stream and [`resample`] agree on where things happen in time. All buffers are sized at
/// construction; `push` allocates only when `out` must grow.
pub struct StreamResampler {
    inner: Option<Box<dyn Resampler<f32> + Send>>,
    ratio: f64,
    pending: Vec<f32>,
    scratch: Vec<f32>,
    to_trim: usize,
    consumed: u64,
    produced: u64,
}

impl StreamResampler {
    pub fn new(from: u32, to: u32) -> Result<Self> {
        check_rate(from)?;
        let inner = if from == to {
            None
        } else {
            Some(make(from, to)?)
        };
        let (max_in, max_out, delay) = inner
            .as_ref()
            .map(|r| {
                (
                    r.input_frames_max(),
                    r.output_frames_max(),
                    r.output_delay(),
                )
            })
            .unwrap_or((0, 0, 0));
        Ok(Self {
            inner,
            ratio: to as f64 / from as f64,
            pending: Vec::with_capacity(max_in * 2),
            scratch: vec![0.0; max_out],
            to_trim: delay,
            consumed: 0,
            produced: 0,
        })
    }

    /// Appends the resampled version of `input` to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        self.consumed += input.len() as u64;
        let Some(r) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.produced += input.len() as u64;
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        loop {
            let need = r.input_frames_next();
            if self.pending.len() - start < need {
                break;
            }
            let n = Self::run(
                r.as_mut(),
                &self.pending[start..start + need],
                None,
                &mut self.scratch,
            )?;
            start += need;
            Self::emit(
                &self.scratch[..n],
                &mut self.to_trim,
                &mut self.produced,
                out,
            );
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes the tail: after this, `out` holds exactly `round(consumed × ratio)` samples in
    /// total for this stream. The resampler is reset for a new stream.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<()> {
        let expected = (self.consumed as f64 * self.ratio).round() as u64;
        if let Some(r) = self.inner.as_mut() {
            let mut partial = std::mem::take(&mut self.pending);
            let mut guard = 0;
            while self.produced < expected {
                let need = r.input_frames_next();
                let len = partial.len().min(need);
                partial.resize(need, 0.0);
                let n = Self::run(r.as_mut(), &partial, Some(len), &mut self.scratch)?;
                partial.clear();
                let keep = ((expected - self.produced) as usize).min(n);
                let before = self.produced;
                Self::emit(
                    &self.scratch[..n],
                    &mut self.to_trim,
                    &mut self.produced,
                    out,
                );
                // `emit` may have trimmed delay; never exceed the expected length.
                let added = (self.produced - before) as usize;
                if added > keep {
                    out.truncate(out.len() - (added - keep));
                    self.produced = before + keep as u64;
                }
                guard += 1;
                if guard > 10_000 {
                    return Err(Error::Resample("resampler did not drain".into()));
                }
            }
            self.pending = partial;
        }
        self.reset();
        Ok(())
    }

    /// Drops any buffered input and starts a new stream, without producing a tail.
    pub fn reset(&mut self) {
        self.pending.clear();
        if let Some(r) = self.inner.as_mut() {
            r.reset();
            self.to_trim = r.output_delay();
        }
        self.consumed = 0;
        self.produced = 0;
    }

    fn run(
        r: &mut (dyn Resampler<f32> + Send),
        input: &[f32],
        partial: Option<usize>,
        scratch: &mut [f32],
    ) -> Result<usize> {
        let map = |e: &dyn std::fmt::Display| Error::Resample(e.to_string());
        let inp = InterleavedSlice::new(input, 1, input.len()).map_err(|e| map(&e))?;
        let cap = scratch.len();
        let mut outp = InterleavedSlice::new_mut(scratch, 1, cap).map_err(|e| map(&e))?;
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            active_channels_mask: None,
            partial_len: partial,
        };
        let (_, n) = r
            .process_into_buffer(&inp, &mut outp, Some(&indexing))
            .map_err(|e| map(&e))?;
        Ok(n)
    }

    fn emit(chunk: &[f32], to_trim: &mut usize, produced: &mut u64, out: &mut Vec<f32>) {
        let skip = (*to_trim).min(chunk.len());
        *to_trim -= skip;
        out.extend_from_slice(&chunk[skip..]);
        *produced += (chunk.len() - skip) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, secs: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Correlates with a reference sine at `freq`: a resampler that shifts pitch or time
    /// scrambles the phase and the correlation collapses (rubato's delay trimming may
    /// leave a sub-sample offset, worth ~0.002 at 441 Hz, hence the 0.995 bar).
    fn match_sine(x: &[f32], freq: f32, rate: u32) -> f32 {
        let reference = sine(freq, rate, x.len() as f32 / rate as f32 + 1.0);
        let (mut dot, mut nx, mut nr) = (0.0f64, 0.0f64, 0.0f64);
        // Skip the edges, where the filters ring.
        for i in x.len() / 10..x.len() * 9 / 10 {
            dot += (x[i] * reference[i]) as f64;
            nx += (x[i] * x[i]) as f64;
            nr += (reference[i] * reference[i]) as f64;
        }
        (dot / (nx * nr).sqrt()) as f32
    }

    #[test]
    fn batch_resampling_keeps_pitch_timing_and_length() {
        for (from, to) in [
            (44_100, 22_050),
            (48_000, 22_050),
            (8_000, 22_050),
            (96_000, 16_000),
            (44_101, 22_050),
        ] {
            let x = sine(441.0, from, 1.0);
            let y = resample(&x, from, to).unwrap();
            let expected = (x.len() as f64 * to as f64 / from as f64).ceil() as usize;
            assert!(
                (y.len() as i64 - expected as i64).abs() <= 1,
                "{from}->{to}: {} vs {expected}",
                y.len()
            );
            let c = match_sine(&y, 441.0, to);
            assert!(c > 0.995, "{from}->{to}: correlation {c}");
        }
    }

    #[test]
    fn streaming_matches_batch_length_and_content() {
        let x = sine(441.0, 48_000, 1.3);
        let batch = resample(&x, 48_000, 22_050).unwrap();
        let mut s = StreamResampler::new(48_000, 22_050).unwrap();
        let mut out = Vec::new();
        let mut i = 0;
        for size in [1usize, 7, 480, 4096, 33].iter().cycle() {
            if i >= x.len() {
                break;
            }
            let end = (i + size).min(x.len());
            s.push(&x[i..end], &mut out).unwrap();
            i = end;
        }
        s.finish(&mut out).unwrap();
        let c = match_sine(&out, 441.0, 22_050);
        assert!(c > 0.995, "{c}");
        // Sample for sample, however the input was chunked.
        assert_eq!(out, batch);
    }

    #[test]
    fn rejects_absurd_rates() {
        assert!(matches!(
            resample(&[0.0; 10], 0, 22_050),
            Err(Error::SampleRate { .. })
        ));
        assert!(matches!(
            StreamResampler::new(1_000_000, 22_050),
            Err(Error::SampleRate { .. })
        ));
    }
}
