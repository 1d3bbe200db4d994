//! Seeded randomness. candle cannot seed its CPU generator, so everything random in
//! training (initial weights, crops, masks, mixup, dropout) draws from one `StdRng` per
//! purpose, derived from the user's seed: the same seed gives the same model.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn seeded(seed: u64, stream: u64) -> StdRng {
    // Different streams for different purposes, so adding a draw in one place does not
    // shift every other random decision.
    StdRng::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A standard normal sample (Box–Muller; `rand_distr` would be one more dependency for
/// one function).
pub fn normal(rng: &mut StdRng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// A Beta(a, a) sample for mixup, from two Gamma(a) samples (Marsaglia–Tsang, with the
/// a < 1 boost).
pub fn beta_symmetric(rng: &mut StdRng, a: f64) -> f32 {
    let x = gamma(rng, a);
    let y = gamma(rng, a);
    (x / (x + y).max(1e-300)) as f32
}

fn gamma(rng: &mut StdRng, a: f64) -> f64 {
    if a < 1.0 {
        let u: f64 = rng.random::<f64>().max(1e-300);
        return gamma(rng, a + 1.0) * u.powf(1.0 / a);
    }
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng) as f64;
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}
