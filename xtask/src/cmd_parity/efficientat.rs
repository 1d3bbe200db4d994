//! The EfficientAT half of `cargo xtask parity`: for every
//! `reference/<clip>.ref.safetensors` beside the published `mn04_as` weights, the
//! reference waveform (the first 3 s and 10 s, at 32 kHz) through our front end and our
//! network (the fused CPU path, and candle's ops for the logits), against PyTorch's
//! log-mels, logits and embedding. The waveforms are in the
//! files, so no decoder or resampler takes part.

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::mel::{mel_spectrogram, MelConfig};
use model::nets::efficientat::{Mn, MnConfig};
use std::path::Path;

use super::max_abs;

/// Prints one row per clip and length; returns the largest difference seen.
pub fn check(dir: &Path) -> Result<f32> {
    let dev = Device::Cpu;
    let weights = dir.join("mn04_as.safetensors");
    let tensors = candle_core::safetensors::load(&weights, &dev)
        .with_context(|| format!("reading {}", weights.display()))?;
    let net = Mn::new(
        &MnConfig::mn04_as(),
        VarBuilder::from_tensors(tensors, DType::F32, &dev),
    )?;
    let refs = super::reference_files(dir)?;
    let cfg = MelConfig::efficientat();
    println!(
        "\nEfficientAT mn04_as: reference waveform -> our mel -> our network, max |ours - PyTorch|"
    );
    println!(
        "{:<18} {:>5} {:>7} {:>10} {:>10} {:>10} {:>16}",
        "clip", "input", "frames", "mel", "logits", "embedding", "logits (candle)"
    );
    let mut worst = 0f32;
    for (clip, path) in &refs {
        let r = candle_core::safetensors::load(path, &dev)
            .with_context(|| format!("reading {}", path.display()))?;
        for secs in ["3s", "10s"] {
            let get = |k: &str| {
                r.get(&format!("{k}_{secs}"))
                    .with_context(|| format!("{}: no {k}_{secs}", path.display()))
            };
            let wave: Vec<f32> = get("waveform")?.flatten_all()?.to_vec1()?;
            let mel = mel_spectrogram(&cfg, &wave)?;
            let frames = mel.frames();
            let ours = Tensor::from_vec(mel.data, (frames, cfg.n_mels), &dev)?
                .t()?
                .unsqueeze(0)?
                .contiguous()?;
            let want_mel = get("mel")?;
            if ours.dims() != want_mel.dims() {
                bail!(
                    "{clip} {secs}: our mel is {:?}, PyTorch's {:?}",
                    ours.dims(),
                    want_mel.dims()
                );
            }
            // The fused CPU path inference runs, and candle's ops (training, GPUs).
            let out = net.forward(&ours)?;
            let candle = net.forward_candle(&ours)?;
            let errs = [
                max_abs(&ours, want_mel)?,
                max_abs(&out.logits, get("logits")?)?,
                max_abs(&out.embedding, get("features")?)?,
                max_abs(&candle.logits, get("logits")?)?,
            ];
            worst = errs.iter().fold(worst, |w, e| w.max(*e));
            println!(
                "{clip:<18} {secs:>5} {frames:>7} {:>10.1e} {:>10.1e} {:>10.1e} {:>16.1e}",
                errs[0], errs[1], errs[2], errs[3]
            );
        }
    }
    Ok(worst)
}
