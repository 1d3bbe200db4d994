//! The agreement checks run before any timing: each pair (ours and the reference) must
//! compute the same thing, or the times mean nothing. EfficientAT's are in [`super::efficientat`].

use super::py::{json_matrix, read_f32, write_f32};
use super::{say, Bench, Inputs};
use crate::diff::{max_abs_diff, max_abs_diff_of};
use crate::paths;
use anyhow::{bail, Result};
use candle_core::{Device, Tensor};
use model::distribution::argmax;
use model::mel::{mel_spectrogram, MelConfig};
use model::nets::musicnn::{N_MELS as MUSICNN_MELS, PATCH_FRAMES as MUSICNN_FRAMES};
use model::tagger::tag_audio;
use model::window::{copy_window, normalize};
use serde_json::{json, Map, Value};

/// Before any timing, each pair is checked to compute the same thing: the figures go in
/// the JSON's `checks`. A seed CNN that disagrees with PyTorch stops the bench (timing the
/// two against each other would mean nothing); the other checks only report.
pub fn check_agreement(b: &mut Bench, inp: &Inputs) -> Result<Map<String, Value>> {
    let mut checks = Map::new();
    let Some(p) = b.s.py.as_mut() else {
        return Ok(checks);
    };
    let say = |s: String| say(b.args.json, s);
    let cpu = Device::Cpu;
    let (n_mels, wf) = (inp.cfg.n_mels, inp.cnn.card.window_frames);

    let ours_mel = mel_spectrogram(&inp.cfg, &inp.clip)?;
    let (samples_f, mel_f) = (b.tmp.join("mel_input.f32"), b.tmp.join("mel_librosa.f32"));
    write_f32(&samples_f, &inp.clip)?;
    let r = p.call(json!({"cmd": "mel_setup", "samples": samples_f, "out": mel_f}));
    match r.and_then(|_| read_f32(&mel_f)) {
        Ok(theirs) if theirs.len() == ours_mel.data.len() => {
            let peak = theirs.iter().cloned().fold(f32::MIN, f32::max);
            let all = max_abs_diff(&ours_mel.data, &theirs);
            let within = max_abs_diff_of(
                ours_mel
                    .data
                    .iter()
                    .zip(&theirs)
                    .filter(|(_, b)| **b >= peak - 80.0),
            );
            say(format!(
                "check: mel vs librosa, max |Δ| {within:.1e} dB within 80 dB of the peak \
                 ({all:.1e} dB over all bins)"
            ));
            checks.insert("mel_max_abs_diff_db_top80".into(), within.into());
            checks.insert("mel_max_abs_diff_db_all".into(), all.into());
        }
        Ok(theirs) => bail!(
            "librosa gave {} mel values, ours {}",
            theirs.len(),
            ours_mel.data.len()
        ),
        Err(e) => say(format!("check: mel vs librosa failed: {e:#}")),
    }

    // Four real windows of the clip, normalised as the Tagger does.
    let mut windows = Vec::new();
    for start in [0, 300, 600, 900] {
        let mut w = Vec::new();
        copy_window(&ours_mel.data, n_mels, start, wf, &mut w);
        normalize(&mut w, inp.cnn.card.norm);
        windows.extend(w);
    }
    let x = Tensor::from_vec(windows.clone(), (4, n_mels, wf), &cpu)?;
    let ours_logits: Vec<f32> = inp.cnn.net.forward_t(&x, false)?.flatten_all()?.to_vec1()?;
    let cnn_in = b.tmp.join("cnn_input.f32");
    write_f32(&cnn_in, &windows)?;
    let r = p.call(json!({
        "cmd": "cnn_setup", "weights": inp.cnn_path, "input": cnn_in,
        "n_mels": n_mels, "frames": wf, "batches": [1, 32],
    }))?;
    let d = max_abs_diff(&ours_logits, &json_matrix(&r["logits"]));
    say(format!(
        "check: seed CNN logits, candle vs PyTorch on 4 real windows: max |Δ| {d:.1e} \
         (must be ≤ 1e-4)"
    ));
    checks.insert("cnn_logits_max_abs_diff".into(), d.into());
    if d.is_nan() || d > 1e-4 {
        bail!(
            "the PyTorch seed CNN does not compute what ours does (max |Δ| {d}): timing them \
             against each other would mean nothing"
        );
    }

    let ours_tags = tag_audio(inp.cnn.clone(), &inp.head, inp.opts)?;
    let mut tag_cmd = inp.tag_cmd();
    tag_cmd["check"] = true.into();
    match p.call(tag_cmd) {
        Ok(r) => {
            let theirs = json_matrix(&json!([r["distribution"]]));
            let d = max_abs_diff(&ours_tags.distribution, &theirs);
            let top = argmax(&theirs);
            let labels = &inp.cnn.card.labels;
            say(format!(
                "check: 30-s clip end to end, mean distribution vs librosa + PyTorch: {} windows \
                 each, top genre {} / {}, max |Δp| {d:.3} (different resamplers)",
                r["windows"],
                labels[ours_tags.top],
                labels.get(top).map(String::as_str).unwrap_or("?")
            ));
            checks.insert("tag_distribution_max_abs_diff".into(), d.into());
            checks.insert("tag_same_top_genre".into(), (top == ours_tags.top).into());
        }
        Err(e) => say(format!(
            "check: end to end vs librosa + PyTorch failed: {e:#}"
        )),
    }

    let patches = musicnn_patches(inp)?;
    let x = Tensor::from_vec(patches.clone(), (2, MUSICNN_MELS, MUSICNN_FRAMES), &cpu)?;
    let ours_logits: Vec<f32> = inp.musicnn.forward(&x)?.tags.flatten_all()?.to_vec1()?;
    let musicnn_in = b.tmp.join("musicnn_input.f32");
    write_f32(&musicnn_in, &patches)?;
    let refs = paths::from_root(&b.args.musicnn_refs);
    match p.call(json!({
        "cmd": "musicnn_setup", "weights": inp.musicnn_path, "input": musicnn_in,
        "batches": [1, 8], "reference_root": refs,
    })) {
        Ok(r) => {
            let d = max_abs_diff(&ours_logits, &json_matrix(&r["logits"]));
            say(format!(
                "check: musicnn (MSD) logits, candle vs PyTorch on 2 real patches: max |Δ| {d:.1e}"
            ));
            checks.insert("musicnn_candle_vs_torch_max_abs_diff".into(), d.into());
            if let Some(par) = r.get("parity") {
                let f = |k: &str| par[k].as_f64().unwrap_or(f64::NAN);
                say(format!(
                    "check: PyTorch musicnn vs TensorFlow's reference logits ({} patches): MSD \
                     {:.1e}, MTT {:.1e} as models.py builds it; averaging over frequency before \
                     the temporal convs instead: MSD {:.1}, MTT {:.1}",
                    par["patches"],
                    f("MSD_models_py"),
                    f("MTT_models_py"),
                    f("MSD_mean_over_freq"),
                    f("MTT_mean_over_freq")
                ));
                checks.insert("musicnn_torch_vs_tensorflow".into(), par.clone());
            }
        }
        Err(e) => say(format!("check: musicnn in PyTorch failed: {e:#}")),
    }
    Ok(checks)
}

/// Two real musicnn patches of the clip: musicnn's front end at 16 kHz, but without its
/// float16 cast, which overflows to inf wherever the mel power exceeds 6.55
/// (65 504 / 10 000) — loud passages of this very clip — and then gives NaN logits on
/// both sides.
fn musicnn_patches(inp: &Inputs) -> Result<Vec<f32>> {
    let cfg = MelConfig {
        scale: model::mel::LogScale::Log10 {
            multiplier: 10_000.0,
            f16_round: false,
        },
        ..MelConfig::musicnn()
    };
    let audio = model::audio::resample(&inp.head.samples, inp.head.sample_rate, cfg.sample_rate)?;
    let mel = mel_spectrogram(&cfg, &audio)?;
    let mut v = Vec::new();
    for p in 0..2 {
        let mut w = Vec::new();
        copy_window(
            &mel.data,
            cfg.n_mels,
            p * MUSICNN_FRAMES,
            MUSICNN_FRAMES,
            &mut w,
        );
        v.extend(w);
    }
    Ok(v)
}
