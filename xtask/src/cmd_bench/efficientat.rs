//! The EfficientAT rows of `cargo xtask bench`: our front end and network (the fused CPU
//! path inference uses) against the same network and front end in PyTorch
//! (`bench/torch_models.py`, loading the same `mn04_as.safetensors`), per 3-s window; and
//! the plugin's worker with an EfficientAT model. Before timing, the two sides are checked
//! to compute the same thing, and PyTorch's to reproduce EfficientAT's own reference
//! outputs (when `../shared` has them).

use super::py::{json_matrix, write_f32};
use super::session::{fill, Reference};
use super::table::{Goal, Row};
use super::{worker, Bench, Inputs};
use crate::diff::max_abs_diff;
use crate::paths;
use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::mel::{mel_spectrogram, Mel, MelConfig, MelStream};
use model::nets::efficientat::{Decision, Mn, MnConfig};
use model::window::copy_window;
use serde_json::{json, Map, Value};

/// Timed rows this adds (for the progress bar).
pub const TIMED_ROWS: usize = 4;

/// The network and inputs, checked against PyTorch; [`Prepared::rows`] times them.
pub struct Prepared {
    net: Mn,
    cfg: MelConfig,
    /// 3 s of the clip at 32 kHz, and four 3-s windows of its log-mel `[4, 128, 300]`.
    wave: Vec<f32>,
    x: Tensor,
    weights: std::path::PathBuf,
}

/// Builds the inputs and runs the agreement checks (before any timing).
pub fn prepare(b: &mut Bench, inp: &Inputs, checks: &mut Map<String, Value>) -> Result<Prepared> {
    let cpu = Device::Cpu;
    let weights = b.root.join("model/weights/efficientat/mn04_as.safetensors");
    let net = Mn::new(
        &MnConfig::mn04_as(),
        VarBuilder::from_tensors(
            candle_core::safetensors::load(&weights, &cpu)?,
            DType::F32,
            &cpu,
        ),
    )?;
    let cfg = MelConfig::efficientat();
    let audio = model::audio::resample(&inp.head.samples, inp.head.sample_rate, cfg.sample_rate)?;
    let wave = &audio[..3 * cfg.sample_rate as usize];
    let wf = cfg.frames_for(3.0);
    // Four real windows of the clip through our front end: both networks get these.
    let mel = mel_spectrogram(&cfg, &audio)?;
    let mut windows = Vec::new();
    for start in [0, 300, 600, 900] {
        let mut w = Vec::new();
        copy_window(&mel.data, cfg.n_mels, start, wf, &mut w);
        windows.extend(w);
    }
    let x = Tensor::from_vec(windows.clone(), (4, cfg.n_mels, wf), &cpu)?;
    let ours_logits: Vec<f32> = net.forward(&x)?.logits.flatten_all()?.to_vec1()?;
    let ours_mel = mel_spectrogram(&cfg, wave)?;

    let mut said = Vec::new();
    if let Some(p) = b.s.py.as_mut() {
        let (win_f, wave_f) = (
            b.tmp.join("efficientat_windows.f32"),
            b.tmp.join("efficientat_wave.f32"),
        );
        write_f32(&win_f, &windows)?;
        write_f32(&wave_f, wave)?;
        match p.call(json!({"cmd": "efficientat_setup", "weights": weights, "windows": win_f, "frames": wf, "waveform": wave_f, "batches": [1, 8], "reference_root": paths::from_root(&b.args.efficientat_refs)})) {
            Ok(r) => {
                let (theirs_logits, theirs_mel) =
                    (json_matrix(&r["logits"]), json_matrix(&json!([r["mel"]])));
                if theirs_logits.len() != ours_logits.len() || theirs_mel.len() != ours_mel.data.len() {
                    bail!(
                        "PyTorch's EfficientAT gave {} logits and {} mel values, ours {} and {}",
                        theirs_logits.len(),
                        theirs_mel.len(),
                        ours_logits.len(),
                        ours_mel.data.len()
                    );
                }
                let d = max_abs_diff(&ours_logits, &theirs_logits);
                let m = max_abs_diff(&ours_mel.data, &theirs_mel);
                said.push(format!("check: EfficientAT, ours vs PyTorch on a 3-s window of the clip: log-mel max |Δ| {m:.1e}; logits on 4 windows max |Δ| {d:.1e} (must be ≤ 1e-3)"));
                checks.insert("efficientat_mel_max_abs_diff".into(), m.into());
                checks.insert("efficientat_logits_max_abs_diff".into(), d.into());
                // A NaN difference fails too.
                if d.is_nan() || d > 1e-3 {
                    bail!("the PyTorch EfficientAT does not compute what ours does (max |Δ| {d}): timing them against each other would mean nothing");
                }
                if let Some(par) = r.get("parity") {
                    said.push(format!(
                        "check: PyTorch EfficientAT (bench/torch_models.py) vs EfficientAT's own reference outputs ({} inputs): mel {:.1e}, logits {:.1e}, embedding {:.1e}",
                        par["inputs"],
                        par["mel"].as_f64().unwrap_or(f64::NAN),
                        par["logits"].as_f64().unwrap_or(f64::NAN),
                        par["embedding"].as_f64().unwrap_or(f64::NAN)
                    ));
                    checks.insert("efficientat_torch_vs_reference".into(), par.clone());
                }
            }
            Err(e) => said.push(format!("check: EfficientAT in PyTorch failed: {e:#}")),
        }
    }
    for line in said {
        b.say(line);
    }
    Ok(Prepared {
        net,
        cfg,
        wave: wave.to_vec(),
        x,
        weights,
    })
}

impl Prepared {
    pub fn rows(self, b: &mut Bench, inp: &Inputs) -> Result<Vec<Row>> {
        let Prepared {
            net,
            cfg,
            wave,
            x,
            weights,
        } = self;
        let cpu = Device::Cpu;
        let wave = &wave[..];
        let wf = x.dim(2)?;
        let mut rows = Vec::new();
        let window_s = (wf - 1) as f64 * cfg.hop as f64 / cfg.sample_rate as f64;
        // The front end as the Tagger runs it: one stream, built once.
        let mut stream = MelStream::new(cfg.clone())?;
        let mut out = Mel {
            n_mels: cfg.n_mels,
            ..Default::default()
        };
        let mut row = Row::new(
        "efficientat_mel_3s",
        "EfficientAT front end, one 3-s window (32 kHz, pre-emphasis, n_fft 1024, hop 320, 128 Kaldi mels, ln)",
        "window",
    );
        row.reference_name = b.torch.clone();
        row.audio_s = Some(window_s);
        row.goal = Some(Goal::RatioAtLeast { ratio: 1.5 });
        let mut ours = || -> Result<()> {
            out.data.clear();
            out.energy.clear();
            stream.push(wave, &mut out);
            stream.finish(&mut out);
            Ok(())
        };
        let reference = Some(Reference {
            cmd: json!({"cmd": "efficientat_mel"}),
            per: 1.0,
        });
        fill(
            &mut row,
            b.s.measure("efficientat front end", 1.0, &mut ours, reference),
        )?;
        rows.push(row);

        for batch in [1usize, 8] {
            let xb = x.narrow(0, 0, 1)?.repeat((batch, 1, 1))?;
            let mut row = Row::new(
                &format!("efficientat_b{batch}"),
                format!("EfficientAT mn04 forward, batch {batch} (per 3-s window)"),
                "window",
            );
            row.reference_name = b.torch.clone();
            row.audio_s = Some(window_s);
            row.goal = Some(Goal::RatioAtLeast { ratio: 1.5 });
            let reference = Some(Reference {
                cmd: json!({"cmd": "efficientat", "batch": batch}),
                per: batch as f64,
            });
            let label = format!("efficientat batch {batch}");
            fill(
                &mut row,
                b.s.measure(
                    &label,
                    batch as f64,
                    &mut || net.forward(&xb).map(|_| ()).map_err(Into::into),
                    reference,
                ),
            )?;
            rows.push(row);
        }

        // The plugin's worker with a zero-shot EfficientAT model, as the plugin runs it.
        let model_file = b.tmp.join("efficientat_zero_shot.safetensors");
        let card = model::weights::ModelCard::efficientat(Decision::zero_shot_gtzan());
        let (vars, _) = model::weights::efficientat_from_checkpoint(
            &card,
            &std::fs::read(&weights)?,
            &weights.display().to_string(),
            &cpu,
            0,
        )?;
        model::weights::save(&model_file, &card, &vars)?;
        rows.push(worker::worker_row(
            b,
            inp,
            "worker_efficientat",
            "plugin worker at the default hop (1 s): 48 kHz → resample → mel → EfficientAT mn04 \
             (zero-shot), on the worker's one-thread pool, CPU time",
            Some(&model_file),
            "worker (EfficientAT)",
        ));
        Ok(rows)
    }
}
