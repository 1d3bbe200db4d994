use super::edges::Edges;
use super::{filters, LogScale, Mel, MelConfig};
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// One frame as [`MelStream`] computed it, for a consumer that needs more than the bands.
pub(crate) struct Frame<'a> {
    /// Mean square of the raw samples under the frame ([`Mel::energy`]).
    pub energy: f32,
    /// The compressed mel bands (what [`MelStream::push`] appends).
    pub bands: &'a [f32],
    /// `|X|²` of the windowed frame, bins `0..=n_fft/2`.
    pub power: &'a [f32],
    /// The raw (unwindowed, un-pre-emphasised) samples under the frame, centring pad
    /// included (`n_fft` of them).
    pub raw: &'a [f32],
}

/// Where [`MelStream`] puts each frame: a [`Mel`] appends its bands and energy; a stream
/// that derives more from the same spectrum implements its own.
pub(crate) trait FrameSink {
    fn frame(&mut self, frame: Frame<'_>);
}

impl FrameSink for Mel {
    #[inline(always)]
    fn frame(&mut self, frame: Frame<'_>) {
        self.energy.push(frame.energy);
        self.data.extend_from_slice(frame.bands);
    }
}

/// Streaming log-mel: takes chunks of any size (one sample to minutes) and appends each
/// frame as soon as its last sample has arrived.
///
/// Everything is allocated in [`MelStream::new`] (FFT plan, window, filterbank, the FFT's
/// input, output and scratch); `push` only grows `out` and its own sample buffers up to
/// `n_fft + chunk`. Pre-emphasis and the centring pad happen in [`Edges`] (which says what
/// streaming does where a batch computation reflects at the signal's ends).
pub struct MelStream {
    cfg: MelConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Sparse filterbank: band `m` covers bins `starts[m]..starts[m] + weights[m].len()`.
    starts: Vec<usize>,
    weights: Vec<Vec<f32>>,
    /// The windowed frame (`n_fft` samples); the FFT also uses it as scratch.
    frame: Vec<f32>,
    /// Its spectrum, bins `0..=n_fft/2`.
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
    /// One frame's mel bands before they are appended to the output.
    bands: Vec<f32>,
    edges: Edges,
    /// The (pre-emphasised, padded) samples not yet framed.
    buf: Vec<f32>,
    /// The raw samples aligned with `buf`, for the frame energies.
    level: Vec<f32>,
}

impl MelStream {
    pub fn new(cfg: MelConfig) -> crate::Result<Self> {
        cfg.validate()?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(cfg.n_fft);
        let dense = filters::filterbank(&cfg);
        let n_bins = cfg.n_fft / 2 + 1;
        let (mut starts, mut weights) = (Vec::new(), Vec::new());
        for row in dense.chunks(n_bins) {
            let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
            let last = row.iter().rposition(|&w| w != 0.0).map_or(first, |l| l + 1);
            starts.push(first);
            weights.push(row[first..last].to_vec());
        }
        Ok(Self {
            window: filters::window(&cfg),
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; n_bins],
            bands: vec![0.0; cfg.n_mels],
            buf: Vec::with_capacity(cfg.n_fft * 4),
            level: Vec::with_capacity(cfg.n_fft * 4),
            edges: Edges::new(&cfg),
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
        self.push_into(samples, out)
    }

    /// [`MelStream::push`], each frame handed to `sink`.
    pub(crate) fn push_into<S: FrameSink>(&mut self, samples: &[f32], sink: &mut S) {
        self.edges.push(samples, &mut self.buf, &mut self.level);
        self.drain_frames(sink);
    }

    /// Ends the signal: with centring, pads the tail (as the config says) and emits the
    /// last frames. The stream is then ready for a new signal.
    pub fn finish(&mut self, out: &mut Mel) {
        self.finish_into(out)
    }

    /// [`MelStream::finish`], each frame handed to `sink`.
    pub(crate) fn finish_into<S: FrameSink>(&mut self, sink: &mut S) {
        self.edges.finish(&mut self.buf, &mut self.level);
        self.drain_frames(sink);
        self.reset();
    }

    /// Forgets any buffered samples (e.g. when the host's transport jumps).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.level.clear();
        self.edges.reset();
    }

    fn drain_frames<S: FrameSink>(&mut self, out: &mut S) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.drain_frames_avx2(out) };
        }
        self.drain_frames_portable(out)
    }

    /// The same code with 256-bit vectors (windowing, power, filterbank, log; the FFT
    /// picks its own kernels at run time). Same operations in the same order, so the
    /// frames are bit-identical to the portable path's (no FMA: it would round differently).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn drain_frames_avx2<S: FrameSink>(&mut self, out: &mut S) {
        self.drain_frames_portable(out)
    }

    #[inline(always)]
    fn drain_frames_portable<S: FrameSink>(&mut self, out: &mut S) {
        let (n_fft, hop) = (self.cfg.n_fft, self.cfg.hop);
        let mut pos = 0;
        while self.buf.len() - pos >= n_fft {
            let level = &self.level[pos..pos + n_fft];
            let energy = dot(level, level) / n_fft as f32;
            let raw = &self.buf[pos..pos + n_fft];
            for ((f, x), w) in self.frame.iter_mut().zip(raw).zip(&self.window) {
                *f = x * w;
            }
            self.fft
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                .expect("the FFT's buffers come from its own plan");
            for (p, z) in self.power.iter_mut().zip(&self.spectrum) {
                *p = z.re * z.re + z.im * z.im;
            }
            for ((m, start), w) in self.bands.iter_mut().zip(&self.starts).zip(&self.weights) {
                *m = dot(&self.power[*start..*start + w.len()], w);
            }
            compress_into(self.cfg.scale, &mut self.bands);
            out.frame(Frame {
                energy,
                bands: &self.bands,
                power: &self.power,
                raw: level,
            });
            pos += hop;
        }
        self.buf.drain(..pos.min(self.buf.len()));
        self.level.drain(..pos.min(self.level.len()));
    }
}

/// Dot product with eight independent partial sums: a plain `zip().sum()` is one chain of
/// dependent adds (the compiler may not reorder float additions), which made the energy
/// (2 048 terms) and the mel bands (≈ 2 000 weights) latency-bound. The order of summation
/// differs from a sequential sum by float rounding only (~1e-7 relative).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let split = n - n % 8;
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in a[split..].iter().zip(&b[split..]) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Compresses one frame's mel powers in place.
#[inline(always)]
fn compress_into(scale: LogScale, bands: &mut [f32]) {
    match scale {
        LogScale::Power => {}
        LogScale::Db { amin } => {
            // Powers at or below `amin` get libm's floor exactly (silence is −100 dB, not
            // −99.99999); a NaN power also lands there, as `f32::max` drops NaN.
            let floor = 10.0 * amin.log10();
            if amin.is_normal()
                && amin > 0.0
                && bands.iter().all(|x| *x < f32::INFINITY || x.is_nan())
            {
                bands.iter_mut().for_each(|s| {
                    let v = s.max(amin);
                    *s = if v <= amin {
                        floor
                    } else {
                        10.0 * log10_normal(v)
                    };
                });
            } else {
                bands
                    .iter_mut()
                    .for_each(|s| *s = 10.0 * s.max(amin).log10());
            }
        }
        LogScale::Log10 {
            multiplier,
            f16_round: false,
        } => {
            bands.iter_mut().for_each(|s| *s = multiplier * *s + 1.0);
            log10_in_place(bands);
        }
        LogScale::Log10 {
            multiplier,
            f16_round: true,
        } => {
            // musicnn's extractor casts the mel power to float16, then computes
            // `np.log10(10000 * S + 1)`: under the NumPy 1.x it ran on, `10000` promotes
            // the product to float32 (the reference patches reach 6.5, beyond float16's
            // log10(65 505) = 4.8), so only `S` itself is rounded to half precision.
            bands
                .iter_mut()
                .for_each(|s| *s = multiplier * super::config::f16_saturating(*s) + 1.0);
            log10_in_place(bands);
        }
        LogScale::Ln {
            eps,
            shift,
            divisor,
        } => {
            bands.iter_mut().for_each(|s| *s += eps);
            ln_in_place(bands);
            bands.iter_mut().for_each(|s| *s = (*s + shift) / divisor);
        }
    }
}

/// `ln` of every value, like [`log10_in_place`].
#[inline(always)]
fn ln_in_place(v: &mut [f32]) {
    log_in_place(v, ln_normal, f32::ln)
}

/// `log10` of every value, to within a few ulp of libm's, in a loop that vectorises
/// (libm's `log10f` is one call per value, and was a fifth of the front end's time).
#[inline(always)]
fn log10_in_place(v: &mut [f32]) {
    log_in_place(v, log10_normal, f32::log10)
}

/// `fast` on every value; values it does not cover (zero, negative, subnormal, inf, NaN:
/// never the case for a clamped power) are redone with `libm` afterwards.
#[inline(always)]
fn log_in_place(v: &mut [f32], fast: impl Fn(f32) -> f32, libm: impl Fn(f32) -> f32) {
    let unusual = v
        .iter()
        .fold(false, |u, &x| u | !(x.is_normal() && x > 0.0));
    if unusual {
        v.iter_mut().for_each(|x| {
            *x = if x.is_normal() && *x > 0.0 {
                fast(*x)
            } else {
                libm(*x)
            }
        });
    } else {
        v.iter_mut().for_each(|x| *x = fast(*x));
    }
}

/// `log10` of a positive normal float: `x = 2^e · m` with `m` in [√½, √2),
/// `ln m = 2·atanh(t)` with `t = (m−1)/(m+1)`, `|t| ≤ 0.172`, by its odd series to `t^11`
/// (truncation below 2e-10, far under f32 rounding).
#[inline(always)]
fn log10_normal(x: f32) -> f32 {
    let (e, ln_m) = split_log(x);
    e * std::f32::consts::LOG10_2 + ln_m * std::f32::consts::LOG10_E
}

/// `ln` of a positive normal float, by the same series as [`log10_normal`].
#[inline(always)]
fn ln_normal(x: f32) -> f32 {
    let (e, ln_m) = split_log(x);
    e * std::f32::consts::LN_2 + ln_m
}

/// `x = 2^e · m`, `m` in [√½, √2): returns `e` and `ln m`.
#[inline(always)]
fn split_log(x: f32) -> (f32, f32) {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let ln_m = t
        * (2.0
            + t2 * (2.0 / 3.0
                + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0 + t2 * (2.0 / 9.0 + t2 * (2.0 / 11.0))))));
    (e as f32, ln_m)
}

#[cfg(test)]
mod fast_math_tests {
    use super::*;

    #[test]
    fn log10_and_ln_match_libm_to_a_few_ulp_over_the_whole_range() {
        type Pair = (fn(&mut [f32]), fn(f64) -> f64);
        let pairs: [Pair; 2] = [(log10_in_place, f64::log10), (ln_in_place, f64::ln)];
        let sqrt2 = std::f32::consts::SQRT_2;
        for (ours, exact) in pairs {
            // Relative to the result, in units of f32's epsilon (exact in f64).
            let mut worst = 0.0f64;
            let mut x = 1.0e-37f32;
            while x < 1.0e37 {
                // Either side of √2, where the mantissa range wraps.
                let mut v = [
                    x,
                    x * 1.0001,
                    x * 1.37,
                    x * sqrt2 * 0.99995,
                    x * sqrt2 * 1.00005,
                    x * 1.9999,
                ];
                let want: Vec<f64> = v.iter().map(|&y| exact(y as f64)).collect();
                ours(&mut v);
                for (got, want) in v.iter().zip(&want) {
                    worst = worst.max(
                        (*got as f64 - want).abs() / (f32::EPSILON as f64 * want.abs().max(1e-3)),
                    );
                }
                x *= 1.7;
            }
            assert!(worst <= 4.0, "worst error {worst} × epsilon");
        }
    }

    #[test]
    fn ln_of_unusual_values_is_libms() {
        let mut v = [0.0f32, -1.0, 1.0];
        ln_in_place(&mut v);
        assert_eq!(v[0], f32::NEG_INFINITY);
        assert!(v[1].is_nan());
        assert_eq!(v[2], 0.0);
    }

    #[test]
    fn log10_of_unusual_values_is_libms() {
        let mut v = [0.0f32, -1.0, f32::INFINITY, f32::NAN, 1e-42, 1.0, 1000.0];
        log10_in_place(&mut v);
        assert_eq!(v[0], f32::NEG_INFINITY);
        assert!(v[1].is_nan() && v[3].is_nan());
        assert_eq!(v[2], f32::INFINITY);
        assert!((v[4] - (1e-42f32).log10()).abs() < 1e-5);
        assert_eq!(v[5], 0.0);
        assert!((v[6] - 3.0).abs() < 1e-6);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_portable_paths_give_identical_frames() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let x: Vec<f32> = (0..30_000)
            .map(|i| ((i as f32 * 0.01).sin() * (i as f32 * 0.0003).cos()) * 0.5)
            .collect();
        for cfg in [
            MelConfig::seed_default(),
            MelConfig::musicnn(),
            MelConfig::efficientat(),
        ] {
            let run = |avx: bool| {
                let mut s = MelStream::new(cfg.clone()).unwrap();
                let mut out = Mel {
                    n_mels: cfg.n_mels,
                    ..Default::default()
                };
                s.buf.extend_from_slice(&x);
                s.level.extend_from_slice(&x);
                // SAFETY: AVX2 was detected above.
                if avx {
                    unsafe { s.drain_frames_avx2(&mut out) }
                } else {
                    s.drain_frames_portable(&mut out)
                }
                out
            };
            let (a, b) = (run(true), run(false));
            assert!(a.frames() > 10);
            assert_eq!(a.data, b.data);
            assert_eq!(a.energy, b.energy);
        }
    }

    #[test]
    fn dot_is_the_plain_sum_up_to_rounding() {
        for n in [0usize, 1, 7, 8, 9, 31, 2048] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!(
                (dot(&a, &b) as f64 - plain).abs() <= 1e-5 * (1.0 + plain.abs()),
                "n = {n}"
            );
        }
    }
}
