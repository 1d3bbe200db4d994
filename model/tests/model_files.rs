//! Networks, model files and their checks.

mod support;
use support::{logits, random_windows, scratch_dir};

use candle_core::{Device, Tensor};
use model::arch::Arch;
use model::nets::{SeedCnn, SeedCnnConfig};
use model::weights::{build_trainable, load_bytes, load_default, load_file, save, ModelCard};
use model::Error;

fn tiny_card() -> ModelCard {
    let mut c = ModelCard::seed_cnn_default();
    c.arch = Arch::SeedCnn(SeedCnnConfig {
        channels: vec![4, 8],
        dropout: 0.1,
    });
    c
}

#[test]
fn seed_cnn_shapes_and_documented_size() {
    let card = ModelCard::seed_cnn_default();
    assert_eq!(card.window_frames, 130, "3 s at 22 050 Hz, hop 512");
    let (vm, net) = build_trainable(&card, &Device::Cpu, 1).unwrap();
    for b in [1, 3] {
        let y = net.forward_t(&random_windows(b, &card), false).unwrap();
        assert_eq!(y.dims(), &[b, 10]);
    }
    let vars = vm.data().lock().unwrap();
    let count = |pred: &dyn Fn(&str) -> bool| {
        vars.iter()
            .filter(|(k, _)| pred(k))
            .map(|(_, v)| v.elem_count())
            .sum::<usize>()
    };
    assert_eq!(
        count(&|k| !k.contains("running_")),
        100_202,
        "trainable parameters (doc comment)"
    );
    assert_eq!(count(&|k| k.contains("running_")), 480);
    let Arch::SeedCnn(cfg) = &card.arch else {
        panic!("seed CNN card")
    };
    let macs = SeedCnn::macs(cfg, 10, 128, 130);
    assert!(
        (59_000_000..60_000_000).contains(&macs),
        "{macs} MACs (doc comment says 59.3 M)"
    );
}

#[test]
fn save_load_round_trip_gives_identical_outputs() {
    let card = tiny_card();
    let (vm, net) = build_trainable(&card, &Device::Cpu, 3).unwrap();
    let dir = scratch_dir("model-files");
    let path = dir.join("m.safetensors");
    save(&path, &card, &vm).unwrap();
    let loaded = load_file(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.card, card);
    let x = random_windows(2, &card);
    assert_eq!(logits(&*net, &x), logits(&*loaded.net, &x));
}

#[test]
fn same_seed_same_initial_weights_different_seed_different() {
    let card = tiny_card();
    let x = random_windows(1, &card);
    let out = |seed| {
        build_trainable(&card, &Device::Cpu, seed)
            .unwrap()
            .1
            .forward_t(&x, false)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()
    };
    assert_eq!(out(5), out(5));
    assert_ne!(out(5), out(6));
}

#[test]
fn mismatched_files_are_refused_with_the_reason() {
    let card = tiny_card();
    let (vm, _) = build_trainable(&card, &Device::Cpu, 3).unwrap();
    let dir = scratch_dir("model-files");
    let path = dir.join("m.safetensors");
    save(&path, &card, &vm).unwrap();
    let bytes = std::fs::read(&path).unwrap();

    // The card promises another architecture than the tensors hold.
    let mut other = card.clone();
    other.arch = Arch::SeedCnn(SeedCnnConfig {
        channels: vec![4, 16],
        dropout: 0.1,
    });
    save(&dir.join("o.safetensors"), &other, &vm).unwrap();
    let e = load_file(&dir.join("o.safetensors"), &Device::Cpu)
        .err()
        .unwrap();
    assert!(matches!(e, Error::WeightsMismatch(_)), "{e}");
    assert!(e.to_string().contains("blocks.1.conv.weight"), "{e}");

    // A tensor missing, one too many.
    let (vm3, _) = build_trainable(
        &ModelCard {
            arch: Arch::SeedCnn(SeedCnnConfig {
                channels: vec![4, 8, 8],
                dropout: 0.1,
            }),
            ..card.clone()
        },
        &Device::Cpu,
        1,
    )
    .unwrap();
    save(&dir.join("x.safetensors"), &card, &vm3).unwrap();
    let e = load_file(&dir.join("x.safetensors"), &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("unexpected tensor 'blocks.2.conv.weight'"),
        "{e}"
    );

    // Labels that disagree with the head.
    let mut five = card.clone();
    five.labels.truncate(5);
    save(&dir.join("l.safetensors"), &five, &vm).unwrap();
    let e = load_file(&dir.join("l.safetensors"), &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("head.weight"), "{e}");

    // Not safetensors; safetensors without a card; an unknown format version.
    let e = load_bytes(b"hello", "junk", &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a safetensors file"), "{e}");
    let plain = safetensors::serialize(Vec::<(&str, &Tensor)>::new(), None).unwrap();
    let e = load_bytes(&plain, "plain", &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a genre-tagger model"), "{e}");
    let mut future = card.clone();
    future.format_version = 99;
    save(&dir.join("f.safetensors"), &future, &vm).unwrap();
    let e = load_file(&dir.join("f.safetensors"), &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("format version 99"), "{e}");

    // Missing file.
    let e = load_file(&dir.join("nope.safetensors"), &Device::Cpu)
        .err()
        .unwrap();
    assert!(matches!(e, Error::Open { .. }), "{e}");
    assert!(load_bytes(&bytes, "ok", &Device::Cpu).is_ok());
}

#[test]
fn embedded_default_model_loads_and_says_what_it_is() {
    let m = load_default(&Device::Cpu).unwrap();
    assert_eq!(m.card.labels, model::GENRES);
    assert!(m.card.trained_on.contains("gtzan"), "{}", m.card.trained_on);
    assert!(m.card.validation.get("clip_accuracy").is_some());
    // EfficientAT with AudioSet's 50 music-genre classes as styles (README "Model card").
    assert!(
        matches!(m.card.arch, Arch::EfficientAt(_)),
        "{:?}",
        m.card.arch
    );
    assert_eq!(m.card.styles.len(), 50);
}

/// Every committed model file (the embedded default among them) loads, and its card reads
/// back as it was written: each field of its front end keeps its stored value, whatever
/// struct now holds it.
#[test]
fn committed_model_files_load_and_keep_their_cards() {
    for name in [
        "default.safetensors",
        "seed_cnn.safetensors",
        "musicnn_mtt_head.safetensors",
    ] {
        let bytes = std::fs::read(support::manifest("weights").join(name)).unwrap();
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let stored: serde_json::Value =
            serde_json::from_str(&meta.metadata().as_ref().unwrap()[model::weights::CARD_KEY])
                .unwrap();
        let m = load_bytes(&bytes, name, &Device::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Through text, as a card is written (an f32 as a Value would be widened to f64).
        let again: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&m.card).unwrap()).unwrap();
        for (key, value) in stored["mel"].as_object().unwrap() {
            assert_eq!(&again["mel"][key], value, "{name}: mel.{key}");
        }
        assert_eq!(again["arch"], stored["arch"], "{name}");
    }
}

#[test]
fn a_temperature_in_the_card_tempers_the_distribution_not_the_top_genre() {
    use model::tagger::{tag_samples, TaggerOptions};
    let device = Device::Cpu;
    let plain = model::weights::load_default(&device).unwrap();
    assert_eq!(
        plain.card.temperature, 1.0,
        "the default as its network gives it"
    );
    let (mut card, varmap) =
        model::weights::load_varmap(model::DEFAULT_MODEL, "default", &device).unwrap();
    card.temperature = 2.0;
    let bytes = model::weights::to_bytes(&card, &varmap).unwrap();
    let warm = model::weights::load_bytes(&bytes, "tempered", &device).unwrap();
    assert_eq!(warm.card.temperature, 2.0, "kept in the file");
    let x: Vec<f32> = (0..22_050 * 4)
        .map(|i| (i as f32 * 0.05).sin() * 0.3 + ((i * 7919) % 101) as f32 / 1000.0)
        .collect();
    let a = tag_samples(
        std::sync::Arc::new(plain),
        &x,
        22_050,
        TaggerOptions::default(),
    )
    .unwrap();
    let b = tag_samples(
        std::sync::Arc::new(warm),
        &x,
        22_050,
        TaggerOptions::default(),
    )
    .unwrap();
    for (wa, wb) in a.windows.iter().zip(&b.windows) {
        let (ta, tb) = (
            model::distribution::argmax(&wa.probs),
            model::distribution::argmax(&wb.probs),
        );
        assert_eq!(ta, tb, "the top genre never changes");
        assert!(
            wb.probs[tb] < wa.probs[ta],
            "a temperature above 1 lowers the confidence"
        );
    }
    // A temperature that is not a positive number is refused with the reason.
    card.temperature = 0.0;
    let bytes = model::weights::to_bytes(&card, &varmap).unwrap();
    let e = model::weights::load_bytes(&bytes, "frozen", &device)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("temperature"), "{e}");
}
