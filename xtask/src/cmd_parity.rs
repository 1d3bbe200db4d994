//! `cargo xtask parity`: the candle ports against their reference implementations'
//! own outputs — musicnn against TensorFlow (here), EfficientAT against PyTorch
//! ([`efficientat`]).
//!
//! For every `reference/<clip>.ref.safetensors` beside the published weights: the
//! log-mel patches musicnn's code made (`input_batch`) through our port, against the
//! logits TensorFlow computed (`MSD_musicnn_logits`, `MTT_musicnn_logits`); then the
//! same clip end to end from its audio file (our decoder, resampler and mel front end)
//! to logits, against the same reference.

mod efficientat;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::mel::{mel_spectrogram, MelConfig};
use model::nets::musicnn::{read_tf_file, Backbone, Variant, N_MELS, PATCH_FRAMES};
use model::window::copy_window;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Folder with MSD_musicnn.safetensors, MTT_musicnn.safetensors and reference/.
    #[arg(long, default_value = "../shared/models/musicnn")]
    musicnn: PathBuf,
    /// GTZAN folder holding the reference clips' audio (`<genre>/<clip>.flac|wav|au`), for
    /// the end-to-end comparison; skipped when absent.
    #[arg(long, default_value = "../shared/data/gtzan-mini")]
    audio: PathBuf,
    /// Folder with EfficientAT's mn04_as.safetensors and reference/.
    #[arg(long, default_value = "../shared/models/efficientat")]
    efficientat: PathBuf,
    /// Largest acceptable difference: musicnn's |logit − TF| at patch level, EfficientAT's
    /// mel, logit and embedding |ours − PyTorch|.
    #[arg(long, default_value_t = 1e-3)]
    tolerance: f32,
}

fn max_abs(a: &Tensor, b: &Tensor) -> Result<f32> {
    Ok(crate::diff::max_abs_diff_tensors(a, b)?)
}

/// How many patches' top tag is the same in both.
fn same_top(a: &Tensor, b: &Tensor) -> Result<usize> {
    let (x, y) = (
        a.argmax(1)?.to_vec1::<u32>()?,
        b.argmax(1)?.to_vec1::<u32>()?,
    );
    Ok(x.iter().zip(&y).filter(|(p, q)| p == q).count())
}

/// `(clip, path)` of every `<dir>/reference/<clip>.ref.safetensors`, sorted.
fn reference_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut refs: Vec<(String, PathBuf)> = std::fs::read_dir(dir.join("reference"))
        .with_context(|| format!("listing {}/reference", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let clip = name.strip_suffix(".ref.safetensors")?.to_string();
            Some((clip, p))
        })
        .collect();
    refs.sort();
    if refs.is_empty() {
        bail!("no *.ref.safetensors in {}/reference", dir.display());
    }
    Ok(refs)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let dev = Device::Cpu;
    let mut nets = Vec::new();
    for v in [Variant::Msd, Variant::Mtt] {
        let path = args.musicnn.join(format!("{}.safetensors", v.name()));
        let (found, tensors) =
            read_tf_file(&path, "", &dev).with_context(|| format!("reading {}", path.display()))?;
        if found != v {
            bail!("{} says it is {}", path.display(), found.name());
        }
        nets.push((
            v,
            Backbone::new(VarBuilder::from_tensors(tensors, DType::F32, &dev))?,
        ));
    }
    let refs = reference_files(&args.musicnn)?;
    let cfg = MelConfig::musicnn();
    let mut worst = 0f32;
    println!("patch level: TF's own log-mel patches -> our port, max |logit - TF logit| per clip");
    println!(
        "{:<18} {:>7} {:>12} {:>12}",
        "clip", "patches", "MSD", "MTT"
    );
    let mut end_to_end = Vec::new();
    for (clip, path) in &refs {
        let r = candle_core::safetensors::load(path, &dev)?;
        let n = r["input_batch"].dim(0)?;
        // The file labels input_batch [n, 187, 96] but stores each patch mel-major (a
        // NumPy F-ordered array written raw): read as [n, 96, 187], our window layout.
        let input = r["input_batch"].reshape((n, N_MELS, PATCH_FRAMES))?;
        let mut errs = Vec::new();
        for (v, net) in &nets {
            let want = &r[&format!("{}_logits", v.name())];
            let e = max_abs(&net.forward(&input)?.tags, want)?;
            worst = worst.max(e);
            errs.push(e);
        }
        println!("{clip:<18} {n:>7} {:>12.2e} {:>12.2e}", errs[0], errs[1]);

        // End to end from the audio file, when it is there.
        let genre = clip.split('.').next().unwrap_or_default();
        let audio = ["flac", "wav", "au"]
            .iter()
            .map(|e| args.audio.join(genre).join(format!("{clip}.{e}")))
            .find(|p| p.exists());
        if let Some(audio) = audio {
            let a = model::audio::decode_file(&audio)?;
            let x = model::audio::resample(&a.samples, a.sample_rate, cfg.sample_rate)?;
            let mel = mel_spectrogram(&cfg, &x)?;
            let patches = (mel.frames() - PATCH_FRAMES + 1)
                .div_ceil(PATCH_FRAMES)
                .min(n);
            let (mut w, mut all) = (Vec::new(), Vec::new());
            for p in 0..patches {
                copy_window(&mel.data, N_MELS, p * PATCH_FRAMES, PATCH_FRAMES, &mut w);
                all.extend_from_slice(&w);
            }
            let ours = Tensor::from_vec(all, (patches, N_MELS, PATCH_FRAMES), &dev)?;
            let mel_err = max_abs(&ours, &input.narrow(0, 0, patches)?)?;
            let mut row = vec![clip.clone(), format!("{patches}"), format!("{mel_err:.3}")];
            for (v, net) in &nets {
                let want = r[&format!("{}_logits", v.name())].narrow(0, 0, patches)?;
                let got = net.forward(&ours)?.tags;
                row.push(format!(
                    "{:.3} ({}/{} top tag)",
                    max_abs(&got, &want)?,
                    same_top(&got, &want)?,
                    patches
                ));
            }
            end_to_end.push(row);
        }
    }
    if !end_to_end.is_empty() {
        println!(
            "\nend to end: audio file -> our decode, resample (rubato; musicnn: librosa/soxr), \
             mel -> port"
        );
        println!(
            "{:<18} {:>7} {:>10} {:>24} {:>24}",
            "clip", "patches", "|mel diff|", "MSD |logit diff|", "MTT |logit diff|"
        );
        for r in &end_to_end {
            println!(
                "{:<18} {:>7} {:>10} {:>24} {:>24}",
                r[0], r[1], r[2], r[3], r[4]
            );
        }
    }
    println!(
        "\nmusicnn: worst patch-level error {worst:.2e} (tolerance {:.0e})",
        args.tolerance
    );
    let worst_eat = efficientat::check(&args.efficientat)?;
    println!(
        "EfficientAT: worst error {worst_eat:.2e} (tolerance {:.0e})",
        args.tolerance
    );
    if worst > args.tolerance || worst_eat > args.tolerance {
        eprintln!("parity FAILED");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
