//! The seed papers' networks (`train --arch`): the window each is built for, the output
//! shape, the parameter count its module documents, a model file round trip, and the
//! Tagger running each loaded model on audio (what `tag`, `eval` and the plugin do).

mod support;
use support::random_windows;

use candle_core::Device;
use model::arch::Arch;
use model::nets::{CrnnConfig, Seed128ChunkConfig, Seed2BlockConfig, Seed4BlockConfig};
use model::tagger::{tag_audio, TaggerOptions};
use model::weights::{build_trainable, load_bytes, load_file, save, ModelCard};
use std::sync::Arc;

#[test]
fn each_arch_takes_its_window_gives_ten_logits_and_has_its_documented_size() {
    // (arch, sample rate, mels × frames, parameters as the module docs give them)
    let cases = [
        (
            Arch::Seed2Block(Default::default()),
            22_050,
            (64, 130),
            263_210,
        ),
        (
            Arch::Seed128Chunk(Default::default()),
            22_050,
            (128, 128),
            287_242,
        ),
        (
            Arch::Seed4Block(Default::default()),
            22_050,
            (128, 216),
            14_026_954,
        ),
        (Arch::Crnn(Default::default()), 12_000, (96, 141), 109_194),
    ];
    for (arch, rate, (mels, frames), params) in cases {
        let card = ModelCard::from_scratch(arch.clone()).unwrap();
        assert_eq!(card.front_end.mel.sample_rate, rate, "{arch:?}");
        assert_eq!(
            (card.front_end.mel.n_mels, card.window_frames),
            (mels, frames)
        );
        let (vm, net) = build_trainable(&card, &Device::Cpu, 1).unwrap();
        assert_eq!(model::train::parameter_count(&vm), params, "{arch:?}");
        for train in [false, true] {
            let y = net.forward_t(&random_windows(2, &card), train).unwrap();
            assert_eq!(y.dims(), &[2, 10], "{arch:?}");
            let v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(v.iter().all(|x| x.is_finite()), "{arch:?}");
        }
    }
}

/// Small versions of each architecture, so the round trips run in moments.
fn tiny_archs() -> Vec<Arch> {
    vec![
        Arch::Seed2Block(Seed2BlockConfig {
            channels: 4,
            dense: 8,
            ..Default::default()
        }),
        Arch::Seed128Chunk(Seed128ChunkConfig {
            channels: vec![2, 4, 4, 4],
            dense: 8,
            ..Default::default()
        }),
        Arch::Seed4Block(Seed4BlockConfig {
            channels: vec![2, 2, 4, 4],
            dense: 8,
            ..Default::default()
        }),
        Arch::Crnn(CrnnConfig {
            channels: vec![2, 4, 4, 4],
            gru: vec![4, 4],
            ..Default::default()
        }),
    ]
}

#[test]
fn each_arch_survives_a_model_file_round_trip_and_tags_audio() {
    let dir = std::env::temp_dir().join(format!("zoo-archs-{}", std::process::id()));
    for arch in tiny_archs() {
        let card = ModelCard::from_scratch(arch.clone()).unwrap();
        let (vm, net) = build_trainable(&card, &Device::Cpu, 7).unwrap();
        let path = dir.join("m.safetensors");
        save(&path, &card, &vm).unwrap();
        let loaded = load_file(&path, &Device::Cpu).unwrap();
        assert_eq!(loaded.card, card);
        let x = random_windows(3, &card);
        let a = net.forward_t(&x, false).unwrap().to_vec2::<f32>().unwrap();
        let b = loaded.net.forward_t(&x, false).unwrap();
        assert_eq!(a, b.to_vec2::<f32>().unwrap(), "{arch:?}");

        // 6 s of a chord with noise at 44.1 kHz: resampled to the model's rate, windowed.
        let samples: Vec<f32> = (0..6 * 44_100)
            .map(|i| {
                let t = i as f32 / 44_100.0;
                0.2 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                    + 0.1 * (2.0 * std::f32::consts::PI * 330.0 * t).sin()
                    + 0.01 * ((i * 7919 % 1000) as f32 / 500.0 - 1.0)
            })
            .collect();
        let audio = model::audio::Audio {
            samples,
            sample_rate: 44_100,
            source_channels: 1,
            non_finite: 0,
            warnings: Vec::new(),
        };
        let tags = tag_audio(Arc::new(loaded), &audio, TaggerOptions::default()).unwrap();
        assert!(tags.windows.len() >= 2, "{arch:?}");
        assert!((tags.distribution.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_card_whose_front_end_does_not_make_the_networks_window_is_refused() {
    let arch = Arch::Seed2Block(Seed2BlockConfig {
        channels: 4,
        dense: 8,
        ..Default::default()
    });
    let mut card = ModelCard::from_scratch(arch).unwrap();
    let (vm, _) = build_trainable(&card, &Device::Cpu, 1).unwrap();
    card.window_frames = 200;
    let dir = std::env::temp_dir().join(format!("zoo-mismatch-{}", std::process::id()));
    let path = dir.join("m.safetensors");
    // Written by hand: `save` does not validate, a hand-edited file might not either.
    save(&path, &card, &vm).unwrap();
    let err = load_bytes(&std::fs::read(&path).unwrap(), "edited", &Device::Cpu)
        .err()
        .expect("a 64 × 200 window for a 64 × 130 network")
        .to_string();
    assert!(
        err.contains("64 × 130") && err.contains("64 × 200"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_pretrained_arch_has_no_from_scratch_card() {
    let arch = model::weights::ModelCard::musicnn(
        model::nets::musicnn::Variant::Msd,
        model::nets::musicnn::HeadConfig {
            input: model::nets::musicnn::HeadInput::Pooled,
            dropout: 0.5,
        },
    )
    .arch;
    assert!(ModelCard::from_scratch(arch).is_err());
}
