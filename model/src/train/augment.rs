//! Augmentation for normalised mel windows. With 70 training clips the network can
//! memorise recordings; random crops, SpecAugment masks and mixup make it learn what a
//! genre sounds like across positions, bands and blends instead.
//!
//! (Random gain is deliberately absent: per-window standardisation removes any gain.)

use rand::rngs::StdRng;
use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    pub time_masks: usize,
    pub time_mask_max: usize,
    pub freq_masks: usize,
    pub freq_mask_max: usize,
    /// Beta(α, α) for mixup; 0 disables it.
    pub mixup_alpha: f64,
}

impl Default for Augment {
    fn default() -> Self {
        Self { time_masks: 2, time_mask_max: 20, freq_masks: 2, freq_mask_max: 16, mixup_alpha: 0.3 }
    }
}

impl Augment {
    pub fn none() -> Self {
        Self { time_masks: 0, time_mask_max: 0, freq_masks: 0, freq_mask_max: 0, mixup_alpha: 0.0 }
    }

    /// SpecAugment-style masks on a mel-major `[n_mels][frames]` window, filled with 0
    /// (the window mean after standardisation).
    pub fn mask(&self, w: &mut [f32], n_mels: usize, frames: usize, rng: &mut StdRng) {
        for _ in 0..self.time_masks {
            let len = rng.random_range(0..=self.time_mask_max.min(frames / 4));
            let t0 = rng.random_range(0..=frames - len);
            for m in 0..n_mels {
                w[m * frames + t0..m * frames + t0 + len].fill(0.0);
            }
        }
        for _ in 0..self.freq_masks {
            let len = rng.random_range(0..=self.freq_mask_max.min(n_mels / 4));
            let m0 = rng.random_range(0..=n_mels - len);
            w[m0 * frames..(m0 + len) * frames].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_stay_in_bounds_and_zero_whole_rows_or_columns() {
        let mut rng = crate::rng::seeded(1, 2);
        let a = Augment { time_masks: 3, time_mask_max: 10, freq_masks: 3, freq_mask_max: 8, mixup_alpha: 0.0 };
        for _ in 0..50 {
            let mut w = vec![1.0f32; 16 * 40];
            a.mask(&mut w, 16, 40, &mut rng);
            // Every zero lies in a fully-zero row or a fully-zero column.
            for m in 0..16 {
                for t in 0..40 {
                    if w[m * 40 + t] == 0.0 {
                        let row = (0..40).all(|u| w[m * 40 + u] == 0.0);
                        let col = (0..16).all(|k| w[k * 40 + t] == 0.0);
                        assert!(row || col);
                    }
                }
            }
        }
    }
}
