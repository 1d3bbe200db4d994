//! `librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0)` over a whole array.

/// Powers in dB, floored at `amin` and clipped to 80 dB below the array's largest value
/// (which is why it is computed per window, never per frame).
pub(super) fn power_to_db(power: impl Iterator<Item = f32>) -> Vec<f64> {
    let amin = 1e-10f64;
    let mut db: Vec<f64> = power.map(|p| 10.0 * (p as f64).max(amin).log10()).collect();
    let floor = db.iter().copied().fold(f64::NEG_INFINITY, f64::max) - 80.0;
    db.iter_mut().for_each(|d| *d = d.max(floor));
    db
}
