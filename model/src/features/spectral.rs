//! Spectral centroid and roll-off of one magnitude frame, as librosa computes them
//! (`feature.spectral_centroid`, `feature.spectral_rolloff` on `S = |X|`).

/// `Σ f·S / Σ S`; 0 for a frame whose sum is below f32's smallest normal (librosa's
/// `normalize(norm=1)` leaves such a frame un-normalised, and its bins are ~0).
pub(super) fn centroid(freqs: &[f64], mag: &[f32]) -> f32 {
    let total: f64 = mag.iter().map(|&m| m as f64).sum();
    let total = if total < f32::MIN_POSITIVE as f64 {
        1.0
    } else {
        total
    };
    let weighted: f64 = freqs.iter().zip(mag).map(|(f, &m)| f * m as f64).sum();
    (weighted / total) as f32
}

/// The lowest bin frequency where the cumulative magnitude reaches `0.85` of the frame's
/// total. The running sum is in f32, in bin order, as `np.cumsum` computes it on librosa's
/// float32 magnitudes, so the bin chosen at a near tie is librosa's.
pub(super) fn rolloff(freqs: &[f64], mag: &[f32]) -> f32 {
    let total: f32 = mag.iter().fold(0.0, |s, &m| s + m);
    let threshold = 0.85f32 * total;
    let mut cum = 0f32;
    for (f, &m) in freqs.iter().zip(mag) {
        cum += m;
        if cum >= threshold {
            return *f as f32;
        }
    }
    // Only a NaN frame gets here (librosa returns NaN too).
    f32::NAN
}
