//! Spectral contrast's raw peaks and valleys (librosa's `feature.spectral_contrast` with
//! `n_bands = 6`, `fmin = 200`, `quantile = 0.02`): per octave band, the mean of the
//! largest and of the smallest `max(1, rint(0.02 · bins))` magnitudes. The dB difference
//! is taken per window (`summary`), where librosa's `top_db` clip is defined.

use super::N_CONTRAST;
use std::ops::Range;

/// The bands' bins and how many of them each mean takes.
pub(super) struct Contrast {
    bands: Vec<(Range<usize>, usize)>,
    /// Sorting space for the largest band (allocated once).
    sorted: Vec<f32>,
}

impl Contrast {
    pub fn new(freqs: &[f64]) -> Self {
        let n_bands = N_CONTRAST - 1;
        let fmin = 200.0;
        let mut octa = vec![0.0f64];
        octa.extend((0..=n_bands).map(|i| fmin * 2f64.powi(i as i32)));
        let bands: Vec<_> = (0..=n_bands)
            .map(|k| {
                let (lo_f, hi_f) = (octa[k], octa[k + 1]);
                let first = freqs.iter().position(|&f| f >= lo_f).unwrap_or(0);
                let last = freqs.iter().rposition(|&f| f <= hi_f).unwrap_or(0);
                // librosa's edges: a band after the first also takes the bin below it,
                // the last band takes everything above, and every band but the last
                // drops its own last bin (which it counted).
                let first = if k > 0 { first - 1 } else { first };
                let last = if k == n_bands { freqs.len() - 1 } else { last };
                let counted = last + 1 - first;
                let end = if k < n_bands { last } else { last + 1 };
                let q = ((0.02 * counted as f64).round_ties_even() as usize).max(1);
                (first..end, q)
            })
            .collect();
        let widest = bands.iter().map(|(r, _)| r.len()).max().unwrap_or(0);
        Self {
            bands,
            sorted: Vec::with_capacity(widest),
        }
    }

    /// Writes the `N_CONTRAST` peak means to `peaks` and valley means to `valleys`.
    pub fn frame(&mut self, mag: &[f32], peaks: &mut [f32], valleys: &mut [f32]) {
        for ((range, q), (p, v)) in self.bands.iter().zip(peaks.iter_mut().zip(valleys)) {
            self.sorted.clear();
            self.sorted.extend_from_slice(&mag[range.clone()]);
            self.sorted.sort_unstable_by(f32::total_cmp);
            let n = self.sorted.len();
            let mean = |s: &[f32]| (s.iter().map(|&x| x as f64).sum::<f64>() / *q as f64) as f32;
            *v = mean(&self.sorted[..*q]);
            *p = mean(&self.sorted[n - q..]);
        }
    }
}
