//! The EfficientAT port against PyTorch on a fresh clone: the committed `mn04_as` weights
//! and front end, fed the first 3 s and 10 s of "Vibe Ace" (CC-BY, see
//! `fixtures/efficientat_vibe_ace.txt`), must give PyTorch's log-mels, logits and embedding
//! to 1e-3. (`cargo xtask parity` checks all five references in ../shared.)

mod support;
use support::{fixture_tensors, manifest, max_abs_diff};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::mel::{mel_spectrogram, MelConfig};
use model::nets::efficientat::{Decision, EfficientAt, Mn, MnConfig, GTZAN_CLASSES};
use model::tagger::{tag_audio, TaggerOptions};
use model::weights::{efficientat_from_checkpoint, load_bytes, save, ModelCard};
use std::collections::HashMap;
use std::sync::Arc;

const TOLERANCE: f32 = 1e-3;

fn checkpoint() -> Vec<u8> {
    std::fs::read(manifest("weights/efficientat/mn04_as.safetensors")).unwrap()
}

fn fixture() -> HashMap<String, Tensor> {
    fixture_tensors("efficientat_vibe_ace.ref.safetensors")
}

fn network() -> Mn {
    let tensors = candle_core::safetensors::load_buffer(&checkpoint(), &Device::Cpu).unwrap();
    Mn::new(
        &MnConfig::mn04_as(),
        VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu),
    )
    .unwrap()
}

/// Our front end on the reference waveform, as `[1, n_mels, frames]`.
fn our_mel(waveform: &Tensor) -> Tensor {
    let cfg = MelConfig::efficientat();
    let x: Vec<f32> = waveform.flatten_all().unwrap().to_vec1().unwrap();
    let mel = mel_spectrogram(&cfg, &x).unwrap();
    let frames = mel.frames();
    Tensor::from_vec(mel.data, (frames, cfg.n_mels), &Device::Cpu)
        .unwrap()
        .t()
        .unwrap()
        .unsqueeze(0)
        .unwrap()
        .contiguous()
        .unwrap()
}

#[test]
fn waveform_to_logits_matches_pytorch_for_3_and_10_seconds() {
    let fx = fixture();
    let net = network();
    for secs in ["3s", "10s"] {
        let want_mel = &fx[&format!("mel_{secs}")];
        let mel = our_mel(&fx[&format!("waveform_{secs}")]);
        assert_eq!(mel.dims(), want_mel.dims(), "{secs}: frames");
        let mel_err = max_abs_diff(&mel, want_mel);
        // The fused CPU path (what inference runs), the folded path (what a GPU runs, here
        // through its CPU twins) and candle's ops (training).
        for (path, out) in [
            ("fused", net.forward(&mel).unwrap()),
            ("folded", net.forward_folded(&mel).unwrap()),
            ("candle", net.forward_candle(&mel).unwrap()),
        ] {
            let logit_err = max_abs_diff(&out.logits, &fx[&format!("logits_{secs}")]);
            let emb_err = max_abs_diff(&out.embedding, &fx[&format!("features_{secs}")]);
            println!(
                "{secs} {path}: mel {mel_err:.1e}, logits {logit_err:.1e}, embedding {emb_err:.1e}"
            );
            assert!(
                mel_err <= TOLERANCE && logit_err <= TOLERANCE && emb_err <= TOLERANCE,
                "{secs} {path}: mel {mel_err}, logits {logit_err}, embedding {emb_err}"
            );
        }
    }
}

/// The GPU's inference path, run through its ops' CPU twins, against the fused CPU pass on
/// a batch of different windows: each window's excitation folds into its own projection
/// weights, and the fused pass runs every window on its own, so a mix-up between windows
/// would show here where a batch of one could not show it.
#[test]
fn the_folded_path_matches_the_fused_pass_on_a_batch() {
    let fx = fixture();
    let net = network();
    let mel = our_mel(&fx["waveform_10s"]);
    let windows: Vec<Tensor> = [0, 250, 500, 700]
        .iter()
        .map(|&at| mel.narrow(2, at, 300).unwrap())
        .collect();
    let batch = Tensor::cat(&windows, 0).unwrap();
    let fused = net.forward(&batch).unwrap();
    let folded = net.forward_folded(&batch).unwrap();
    let d = max_abs_diff(&folded.logits, &fused.logits);
    let e = max_abs_diff(&folded.embedding, &fused.embedding);
    println!("folded vs fused, batch of 4: logits {d:.1e}, embedding {e:.1e}");
    assert!(d <= 1e-4 && e <= 1e-4, "logits {d}, embedding {e}");
}

#[test]
fn a_zero_shot_model_file_loads_by_its_card_and_tags_audio_end_to_end() {
    let card = ModelCard::efficientat(Decision::zero_shot_gtzan());
    assert_eq!(card.window_frames, 300, "3 s after pre-emphasis");
    let (varmap, _) =
        efficientat_from_checkpoint(&card, &checkpoint(), "mn04_as", &Device::Cpu, 0).unwrap();
    let dir = std::env::temp_dir().join(format!("efficientat-{}", std::process::id()));
    let path = dir.join("zero_shot.safetensors");
    save(&path, &card, &varmap).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let model = Arc::new(load_bytes(&bytes, "zero_shot", &Device::Cpu).unwrap());
    assert_eq!(model.card, card);

    // The genre logits are the ten named AudioSet logits.
    let fx = fixture();
    let genre = model.net.forward_t(&fx["mel_10s"], false).unwrap();
    let idx = Tensor::new(&GTZAN_CLASSES.map(|c| c as u32), &Device::Cpu).unwrap();
    let want = fx["logits_10s"].index_select(&idx, 1).unwrap();
    assert!(max_abs_diff(&genre, &want) <= TOLERANCE);
    // candle's ops alone (what a GPU runs) give the same decision as the fused pass.
    let ops = model.net.forward_candle_ops(&fx["mel_10s"]).unwrap();
    assert!(max_abs_diff(&ops, &want) <= TOLERANCE);
    let d = max_abs_diff(&ops, &genre);
    assert!(d <= 1e-4, "candle ops differ from the fused pass by {d}");

    // End to end through the Tagger, as `cargo xtask tag --model` runs it.
    let samples: Vec<f32> = fx["waveform_10s"].flatten_all().unwrap().to_vec1().unwrap();
    let audio = model::audio::Audio {
        samples,
        sample_rate: 32_000,
        source_channels: 1,
        non_finite: 0,
        warnings: Vec::new(),
    };
    let tags = tag_audio(model.clone(), &audio, TaggerOptions::default()).unwrap();
    assert_eq!(tags.windows.len(), 8, "3-s windows every second over 10 s");
    // Window 3 (from 3 s) is frames 300..600 of the whole clip's mel, through the
    // network, softmax over the ten named classes.
    // Its styles are the sigmoids of AudioSet's music-genre logits, under their names.
    let mel = our_mel(&fx["waveform_10s"]).narrow(2, 300, 300).unwrap();
    let logits = model.net.forward_t(&mel, false).unwrap();
    let want = candle_nn::ops::softmax_last_dim(&logits).unwrap();
    let w = &tags.windows[3];
    let got = Tensor::new(w.probs.as_slice(), &Device::Cpu).unwrap();
    assert!((w.start_s - 3.0).abs() < 1e-9);
    assert!(max_abs_diff(&got.unsqueeze(0).unwrap(), &want) < 1e-5);
    let out = network().forward(&mel).unwrap();
    let want = candle_nn::ops::sigmoid(&EfficientAt::style_logits(&out).unwrap()).unwrap();
    let got = Tensor::new(w.styles.as_slice(), &Device::Cpu).unwrap();
    assert!(max_abs_diff(&got.unsqueeze(0).unwrap(), &want) < 1e-5);
    assert_eq!(model.card.styles.len(), 50);
    assert_eq!(
        (model.card.styles[0].as_str(), model.card.styles[3].as_str()),
        ("Pop music", "Rock music")
    );
}

#[test]
fn a_checkpoint_with_a_missing_or_misshapen_tensor_is_refused_by_name() {
    let card = ModelCard::efficientat(Decision::zero_shot_gtzan());
    let mut tensors = candle_core::safetensors::load_buffer(&checkpoint(), &Device::Cpu).unwrap();
    tensors.remove("features.7.block.1.0.weight");
    tensors.insert(
        "classifier.5.bias".into(),
        Tensor::zeros(10, DType::F32, &Device::Cpu).unwrap(),
    );
    let bytes = safetensors::serialize(&tensors, None).unwrap();
    let err = efficientat_from_checkpoint(&card, &bytes, "bad.safetensors", &Device::Cpu, 0)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("bad.safetensors")
            && err.contains("features.7.block.1.0.weight")
            && err.contains("classifier.5.bias"),
        "{err}"
    );
}

#[test]
fn the_network_and_the_card_reject_what_does_not_fit() {
    let mut card = ModelCard::efficientat(Decision::ZeroShot {
        classes: vec![1, 2, 3],
    });
    let err = efficientat_from_checkpoint(&card, &checkpoint(), "x", &Device::Cpu, 0)
        .err()
        .expect("3 classes for 10 labels")
        .to_string();
    assert!(
        err.contains("3 AudioSet class groups for 10 labels"),
        "{err}"
    );
    card.arch = ModelCard::seed_cnn_default().arch;
    assert!(efficientat_from_checkpoint(&card, &checkpoint(), "x", &Device::Cpu, 0).is_err());
}

#[test]
fn style_logits_are_the_audioset_music_genres() {
    let fx = fixture();
    let out = network().forward(&fx["mel_3s"]).unwrap();
    let styles = EfficientAt::style_logits(&out).unwrap();
    assert_eq!(styles.dims(), &[1, 50]);
    let want = fx["logits_3s"].narrow(1, 216, 50).unwrap();
    assert!(max_abs_diff(&styles, &want) <= TOLERANCE);
}
