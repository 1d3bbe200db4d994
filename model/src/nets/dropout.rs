use candle_core::{Result, Tensor};
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::Mutex;

/// Inverted dropout whose mask comes from a seeded generator: candle's own dropout draws
/// from an unseedable CPU RNG, which would make `--seed` meaningless.
pub struct SeededDropout {
    p: f32,
    rng: Mutex<StdRng>,
}

impl SeededDropout {
    pub fn new(p: f32, seed: u64) -> Self {
        Self {
            p,
            rng: Mutex::new(crate::rng::seeded(seed, 0xD20)),
        }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train || self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.p;
        let n = x.elem_count();
        let mask: Vec<f32> = {
            let mut rng = self.rng.lock().expect("dropout rng poisoned");
            (0..n)
                .map(|_| {
                    if rng.random::<f32>() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        x * Tensor::from_vec(mask, x.shape(), x.device())?
    }
}
