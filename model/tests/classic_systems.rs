//! The classical systems (`train --arch features-*`): fitted on synthetic music of three
//! kinds, each survives a model file round trip, and the loaded file tags a new piece of
//! one kind as that kind through the Tagger (what `tag`, `eval` and the plugin do).

mod support;
use support::logits;

use candle_core::Device;
use model::arch::Arch;
use model::classic::{Classifier, HandFeaturesConfig};
use model::features::FRAME_ROWS;
use model::front_end::FrontEndConfig;
use model::tagger::{tag_samples, TaggerOptions};
use model::train::{fit_classic, ClassicConfig, Clip, ClipFeatures, Quiet};
use model::weights::{load_file, save, ModelCard};
use std::f32::consts::PI;
use std::sync::Arc;

const RATE: u32 = 22_050;

/// `seconds` of one of three kinds of music (genre index 0, 4 or 6 of GTZAN's ten):
/// a low chord with a kick at `bpm`; noise bursts (hi-hats) at twice the rate; a high,
/// sparse melody. `seed` varies pitch, tempo and noise.
fn piece(kind: usize, seconds: f32, seed: u32) -> Vec<f32> {
    let n = (seconds * RATE as f32) as usize;
    let jitter = 1.0 + 0.03 * (seed % 5) as f32;
    let bpm = 96.0 + 4.0 * (seed % 4) as f32;
    let beat = (60.0 / bpm * RATE as f32) as usize;
    let mut noise = 0x9e37_79b9u32.wrapping_mul(seed + 1);
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let white = noise as f32 / u32::MAX as f32 * 2.0 - 1.0;
            let since_beat = (i % beat) as f32 / RATE as f32;
            match kind {
                0 => {
                    0.3 * (2.0 * PI * 110.0 * jitter * t).sin()
                        + 0.2 * (2.0 * PI * 165.0 * jitter * t).sin()
                        + 0.5 * (-since_beat * 30.0).exp() * (2.0 * PI * 55.0 * t).sin()
                }
                4 => {
                    let half = (i % (beat / 2)) as f32 / RATE as f32;
                    0.4 * (-half * 60.0).exp() * white + 0.02 * white
                }
                _ => {
                    let note = [880.0, 990.0, 1320.0, 1175.0][(t * 2.0) as usize % 4];
                    0.2 * (2.0 * PI * note * jitter * t).sin() * (-(t * 2.0).fract() * 3.0).exp()
                        + 0.005 * white
                }
            }
        })
        .collect()
}

fn clips(kinds: &[usize], per_kind: u32, seconds: f32, seed: u32) -> Vec<ClipFeatures> {
    let mut out = Vec::new();
    for &kind in kinds {
        for k in 0..per_kind {
            let samples = piece(kind, seconds, seed + k);
            out.push(ClipFeatures {
                clip: Clip {
                    path: format!("{kind}-{k}.wav").into(),
                    genre: kind,
                    index: k,
                },
                mel: model::front_end::frames(&FrontEndConfig::hand_features(), &samples).unwrap(),
            });
        }
    }
    out
}

#[test]
fn each_classifier_fits_survives_a_round_trip_and_tags_a_new_piece() {
    let kinds = [0, 4, 6];
    let train = clips(&kinds, 4, 12.0, 0);
    let valid = clips(&kinds, 1, 6.0, 50);
    let cfg = ClassicConfig {
        train_hop_s: 0.5,
        ..ClassicConfig::default()
    };
    let dir = std::env::temp_dir().join(format!("classic-{}", std::process::id()));
    for classifier in [
        Classifier::svm(),
        Classifier::logistic(),
        Classifier::knn(),
        Classifier::forest(),
    ] {
        let card = ModelCard::from_scratch(Arch::HandFeatures(HandFeaturesConfig {
            classifier: classifier.clone(),
        }))
        .unwrap();
        assert_eq!(
            (card.front_end.mel.n_mels, card.window_frames),
            (FRAME_ROWS, 130)
        );
        let (card, o) = fit_classic(&card, &train, &valid, &cfg, &Device::Cpu, &mut Quiet).unwrap();
        assert!(
            o.valid.clip.accuracy >= 0.99,
            "{classifier:?}: {:?}",
            o.valid.clip.accuracy
        );
        assert!(model::train::parameter_count(&o.varmap) > 0);

        let path = dir.join("m.safetensors");
        save(&path, &card, &o.varmap).unwrap();
        let loaded = load_file(&path, &Device::Cpu).unwrap();
        assert_eq!(loaded.card, card);
        let x = candle_core::Tensor::randn(0f32, 1.0, (2, FRAME_ROWS, 130), &Device::Cpu)
            .unwrap()
            .abs()
            .unwrap();
        assert_eq!(
            logits(&*o.net, &x),
            logits(&*loaded.net, &x),
            "{classifier:?}"
        );

        // A piece none of them was fitted on, through the Tagger. (At the features' own
        // rate: a resampler's low-pass changes the top octave of this synthetic noise,
        // which roll-off, contrast and ZCR all read.)
        let samples = piece(4, 8.0, 99);
        let tags = tag_samples(Arc::new(loaded), &samples, RATE, TaggerOptions::default()).unwrap();
        assert_eq!(tags.top, 4, "{classifier:?}: {:?}", tags.distribution);
        assert!((tags.distribution.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_classical_card_with_tensors_of_other_shapes_is_refused() {
    let train = clips(&[0, 4, 6], 4, 12.0, 0);
    let cfg = ClassicConfig {
        train_hop_s: 0.5,
        ..ClassicConfig::default()
    };
    let card = ModelCard::from_scratch(Arch::HandFeatures(HandFeaturesConfig {
        classifier: Classifier::knn(),
    }))
    .unwrap();
    let (mut card, o) = fit_classic(&card, &train, &train, &cfg, &Device::Cpu, &mut Quiet).unwrap();
    // The card claims more training rows than the file holds.
    if let Arch::HandFeatures(HandFeaturesConfig {
        classifier: Classifier::Knn(k),
    }) = &mut card.arch
    {
        k.rows += 1;
    }
    let path = std::env::temp_dir().join(format!("classic-bad-{}.safetensors", std::process::id()));
    save(&path, &card, &o.varmap).unwrap();
    let err = load_file(&path, &Device::Cpu).err().unwrap().to_string();
    std::fs::remove_file(&path).ok();
    assert!(err.contains("knn.rows") && err.contains("shape"), "{err}");
}
