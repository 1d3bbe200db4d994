//! Mean, standard deviation and skew of a row of values.

/// `(np.mean, np.std, scipy.stats.skew)` of `x` (population statistics: `ddof = 0`,
/// the biased skew `m3 / m2^1.5`). A constant row has skew 0 where scipy says NaN: its
/// test for "constant" is kept (`m2 ≤ (1e-15 · mean)²`, f64's resolution), so rounding
/// noise in a constant row's mean does not become a huge skew. An empty row is all 0.
pub(super) fn moments(x: &[f64]) -> (f64, f64, f64) {
    if x.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let m2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m3 = x.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
    let constant = m2 <= (1e-15 * mean).powi(2);
    let skew = if constant { 0.0 } else { m3 / m2.powf(1.5) };
    (mean, m2.sqrt(), skew)
}
