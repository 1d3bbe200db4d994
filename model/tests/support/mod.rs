//! Helpers shared by the model crate's tests (each test file includes them with
//! `mod support;`): the crate's committed files, the reference fixtures, random network
//! input, and the largest difference between two results.
#![allow(dead_code)]

use candle_core::{Device, Tensor};
use model::net::GenreNet;
use model::weights::ModelCard;
use std::collections::HashMap;
use std::path::PathBuf;

/// A file of the model crate (`weights/…`, `tests/fixtures/…`).
pub fn manifest(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = manifest("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The tensors of the safetensors fixture `tests/fixtures/<name>`.
pub fn fixture_tensors(name: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(manifest("tests/fixtures").join(name), &Device::Cpu).unwrap()
}

/// A safetensors tensor's values (f32 or f64) as f64, read without candle (the parity
/// fixtures keep librosa's float64 where it computes in it).
pub fn values_f64(st: &safetensors::SafeTensors, name: &str) -> Vec<f64> {
    let t = st.tensor(name).unwrap();
    match t.dtype() {
        safetensors::Dtype::F32 => t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        safetensors::Dtype::F64 => t
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        d => panic!("{name}: unexpected dtype {d:?}"),
    }
}

/// A directory of this test process's own under the system's temporary one (created).
pub fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "genre-tagger-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `max |a − b|` over every element of two tensors of one shape.
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// `max |a − b|` over two slices, pairwise.
pub fn max_abs_diff_slices(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// `b` random windows of the size `card`'s network takes, `[b, n_mels, frames]`.
pub fn random_windows(b: usize, card: &ModelCard) -> Tensor {
    Tensor::randn(
        0f32,
        1.0,
        (b, card.front_end.mel.n_mels, card.window_frames),
        &Device::Cpu,
    )
    .unwrap()
}

/// A network's inference logits for `x`, per window.
pub fn logits(net: &dyn GenreNet, x: &Tensor) -> Vec<Vec<f32>> {
    net.forward_t(x, false).unwrap().to_vec2().unwrap()
}
