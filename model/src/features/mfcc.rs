//! MFCC from mel dB: `scipy.fft.dct(S_db, type=2, norm="ortho", axis=0)[:N_MFCC]`, as
//! `librosa.feature.mfcc` computes it. A 20 × 128 matrix product: no FFT needed.

use super::{N_MELS, N_MFCC};

/// The orthonormal DCT-II rows `0..N_MFCC` for `N_MELS` inputs, `[N_MFCC][N_MELS]`.
pub(super) fn dct_matrix() -> Vec<f64> {
    let n = N_MELS as f64;
    let mut m = vec![0f64; N_MFCC * N_MELS];
    for k in 0..N_MFCC {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..N_MELS {
            let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
            m[k * N_MELS + i] = scale * angle.cos();
        }
    }
    m
}

/// MFCC of every frame, `[N_MFCC][frames]`, from mel dB `[N_MELS][frames]`.
pub(super) fn mfcc(mel_db: &[f64], frames: usize) -> Vec<f64> {
    let dct = dct_matrix();
    let mut out = vec![0f64; N_MFCC * frames];
    for (k, row) in dct.chunks_exact(N_MELS).enumerate() {
        let o = &mut out[k * frames..(k + 1) * frames];
        for (w, band) in row.iter().zip(mel_db.chunks_exact(frames)) {
            for (o, x) in o.iter_mut().zip(band) {
                *o += w * x;
            }
        }
    }
    out
}
