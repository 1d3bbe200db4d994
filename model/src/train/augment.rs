//! Augmentation for normalised mel windows. With 70 training clips the network can
//! memorise recordings; random crops, SpecAugment masks and mixup make it learn what a
//! genre sounds like across positions, bands and blends instead.
//!
//! A random equaliser (tilt plus a few broad bumps, in dB, before standardisation) stands
//! in for different recording chains: GTZAN's ten clips per genre often share one, and a
//! network that keys on it fails on other recordings of the same genre.
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
    /// Peak size of the random equaliser, dB (0 disables it).
    #[serde(default)]
    pub eq_db: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            time_masks: 2,
            time_mask_max: 20,
            freq_masks: 2,
            freq_mask_max: 16,
            mixup_alpha: 0.3,
            eq_db: 6.0,
        }
    }
}

impl Augment {
    pub fn none() -> Self {
        Self {
            time_masks: 0,
            time_mask_max: 0,
            freq_masks: 0,
            freq_mask_max: 0,
            mixup_alpha: 0.0,
            eq_db: 0.0,
        }
    }

    /// Adds a random smooth per-band offset (dB) to a mel-major window: a spectral tilt
    /// and two Gaussian bumps, each at most `eq_db`. Call before standardisation.
    pub fn equalise(&self, w: &mut [f32], n_mels: usize, frames: usize, rng: &mut StdRng) {
        if self.eq_db <= 0.0 {
            return;
        }
        let g = self.eq_db;
        let tilt = rng.random_range(-g..=g);
        let bumps: Vec<(f32, f32, f32)> = (0..2)
            .map(|_| {
                (
                    rng.random_range(0.0..1.0),
                    rng.random_range(0.05..0.3),
                    rng.random_range(-g..=g),
                )
            })
            .collect();
        for m in 0..n_mels {
            let x = m as f32 / (n_mels - 1).max(1) as f32;
            let mut db = tilt * (x - 0.5);
            for &(c, width, gain) in &bumps {
                db += gain * (-((x - c) / width).powi(2) / 2.0).exp();
            }
            w[m * frames..(m + 1) * frames]
                .iter_mut()
                .for_each(|v| *v += db);
        }
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
        let a = Augment {
            time_masks: 3,
            time_mask_max: 10,
            freq_masks: 3,
            freq_mask_max: 8,
            mixup_alpha: 0.0,
            eq_db: 0.0,
        };
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

    #[test]
    fn equaliser_is_smooth_bounded_and_constant_over_time() {
        let mut rng = crate::rng::seeded(3, 4);
        let a = Augment {
            eq_db: 6.0,
            ..Augment::none()
        };
        let mut w = vec![0.0f32; 32 * 10];
        a.equalise(&mut w, 32, 10, &mut rng);
        for m in 0..32 {
            let row = &w[m * 10..(m + 1) * 10];
            assert!(
                row.iter().all(|&v| v == row[0]),
                "same offset in every frame of a band"
            );
            assert!(row[0].abs() <= 3.0 + 12.0 + 1e-4);
        }
        assert!(w.iter().any(|&v| v != 0.0));
        for m in 1..32 {
            assert!(
                (w[m * 10] - w[(m - 1) * 10]).abs() < 4.0,
                "smooth across bands"
            );
        }
    }
}
