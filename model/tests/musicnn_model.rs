//! musicnn as a genre model: the file format round trip, the tagger on musicnn's front
//! end, and the head trainer on features it must be able to separate.

mod support;
use support::{manifest, max_abs_diff, max_abs_diff_slices};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::nets::musicnn::{
    read_tf_file, Backbone, HeadConfig, HeadInput, Variant, N_MELS, PATCH_FRAMES,
};
use model::tagger::{Tagger, TaggerOptions};
use model::train::{
    backbone_features, train_head, Clip, ClipFeatures, FeatureCache, MusicnnFeatures, Quiet,
    TrainOutcome, TransferConfig, WindowFeatures,
};
use model::weights::{load_bytes, load_file, save, ModelCard};
use std::collections::HashMap;
use std::sync::Arc;

fn tf_tensors(prefix: &str) -> HashMap<String, Tensor> {
    let path = manifest("weights/musicnn/MSD_musicnn.safetensors");
    read_tf_file(&path, prefix, &Device::Cpu).unwrap().1
}

/// `train_head` on the published MSD backbone.
fn train_on_msd(
    card: &ModelCard,
    train: &WindowFeatures,
    valid: &WindowFeatures,
    cfg: &TransferConfig,
) -> model::Result<TrainOutcome> {
    train_head(
        card,
        &tf_tensors("backbone."),
        train,
        valid,
        cfg,
        &Device::Cpu,
        &mut Quiet,
    )
}

/// A tags head trained for `epochs` on a few separable windows (seeds for the training
/// and validation sets): a model to save, load and run, not to judge.
fn small_tags_head(card: &ModelCard, epochs: usize, seeds: (u64, u64)) -> TrainOutcome {
    let dim = HeadInput::Tags.dim();
    let cfg = TransferConfig {
        epochs,
        ..Default::default()
    };
    let (train, valid) = (separable(dim, 4, 2, seeds.0), separable(dim, 4, 2, seeds.1));
    train_on_msd(card, &train, &valid, &cfg).unwrap()
}

/// The published MSD backbone, for computing features.
fn msd_backbone() -> Backbone {
    Backbone::new(VarBuilder::from_tensors(
        tf_tensors(""),
        DType::F32,
        &Device::Cpu,
    ))
    .unwrap()
}

/// Two "genres" of feature vectors around different centres, `n` windows each from
/// `clips` clips.
fn separable(dim: usize, n: usize, clips: usize, seed: u64) -> WindowFeatures {
    let mut rng = model::rng::seeded(seed, 1);
    let mut f = WindowFeatures {
        dim,
        x: Vec::new(),
        labels: Vec::new(),
        clip_of: Vec::new(),
        clip_labels: Vec::new(),
    };
    for c in 0..clips {
        let y = c % 2;
        f.clip_labels.push(y);
        for _ in 0..n {
            for j in 0..dim {
                let centre = if (j % 2 == 0) == (y == 0) { 0.8 } else { -0.8 };
                f.x.push(centre + model::rng::normal(&mut rng));
            }
            f.labels.push(y);
            f.clip_of.push(c);
        }
    }
    f
}

fn tags_card() -> ModelCard {
    let mut card = ModelCard::musicnn(
        Variant::Msd,
        HeadConfig {
            input: HeadInput::Tags,
            dropout: 0.2,
        },
    );
    card.labels = vec!["a".into(), "b".into()];
    card
}

#[test]
fn head_learns_separable_features_and_keeps_the_backbone() {
    let card = tags_card();
    let dim = HeadInput::Tags.dim();
    let (train, valid) = (separable(dim, 20, 6, 1), separable(dim, 10, 4, 2));
    let cfg = TransferConfig {
        epochs: 60,
        early_stop: 60,
        batch_size: 32,
        ..Default::default()
    };
    let out = train_on_msd(&card, &train, &valid, &cfg).unwrap();
    assert!(
        out.valid.window.accuracy > 0.95,
        "window accuracy {}",
        out.valid.window.accuracy
    );
    assert_eq!(out.valid.clip.accuracy, 1.0);
    // The kept weights are the epoch the head's rule picks, with that epoch's figures.
    assert_eq!(out.best_by, model::train::HEAD_BEST_BY);
    assert_eq!(out.best_by.pick(&out.history), Some(out.best_epoch));
    let kept = &out.history[out.best_epoch - 1];
    assert!((out.valid.window_loss - kept.valid_loss).abs() < 1e-9);
    let losses: Vec<f64> = out.history.iter().map(|r| r.train_loss).collect();
    assert!(
        losses.last().unwrap() < &losses[0],
        "training loss did not fall: {losses:?}"
    );
    // The backbone in the trained model is the published one, unchanged.
    let vars = out.varmap.data().lock().unwrap();
    for (k, t) in tf_tensors("backbone.") {
        let diff = max_abs_diff(vars[&k].as_tensor(), &t);
        assert_eq!(diff, 0.0, "{k} changed");
    }
}

#[test]
fn fine_tuning_moves_only_the_dense_layer_and_the_saved_model_uses_it() {
    let mut card = ModelCard::musicnn(
        Variant::Msd,
        HeadConfig {
            input: HeadInput::Penultimate,
            dropout: 0.2,
        },
    );
    card.labels = vec!["a".into(), "b".into()];
    let dim = HeadInput::Pooled.dim();
    let (train, valid) = (separable(dim, 20, 6, 11), separable(dim, 10, 4, 12));
    let cfg = TransferConfig {
        epochs: 30,
        early_stop: 30,
        batch_size: 32,
        fine_tune_dense: true,
        ..Default::default()
    };
    let published = tf_tensors("backbone.");
    let out = train_head(
        &card,
        &published,
        &train,
        &valid,
        &cfg,
        &Device::Cpu,
        &mut Quiet,
    )
    .unwrap();
    assert!(
        out.valid.window.accuracy > 0.95,
        "window accuracy {}",
        out.valid.window.accuracy
    );
    {
        let vars = out.varmap.data().lock().unwrap();
        for (k, t) in &published {
            let diff = max_abs_diff(vars[k].as_tensor(), t);
            if k.starts_with("backbone.dense.") {
                assert!(diff > 0.0, "{k} did not train");
            } else {
                assert_eq!(diff, 0.0, "{k} changed");
            }
        }
    }
    // The file keeps the trained dense layer: the loaded model computes what the trained
    // one does, and putting the published dense layer back changes the output.
    let dir = std::env::temp_dir().join(format!("genre-tagger-musicnn-ft-{}", std::process::id()));
    let path = dir.join("m.safetensors");
    save(&path, &card, &out.varmap).unwrap();
    let loaded = load_file(&path, &Device::Cpu).unwrap();
    let x = Tensor::rand(0f32, 4.0, (2, N_MELS, PATCH_FRAMES), &Device::Cpu).unwrap();
    let trained = out.net.forward_t(&x, false).unwrap();
    assert!(max_abs_diff(&trained, &loaded.net.forward_t(&x, false).unwrap()) < 1e-6);
    for k in ["backbone.dense.weight", "backbone.dense.bias"] {
        out.varmap.data().lock().unwrap()[k]
            .set(&published[k])
            .unwrap();
    }
    assert!(
        max_abs_diff(&trained, &out.net.forward_t(&x, false).unwrap()) > 1e-4,
        "the network ignores the trained dense layer"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn fine_tuning_needs_a_penultimate_head_on_pooled_features() {
    let dim = HeadInput::Tags.dim();
    let cfg = TransferConfig {
        epochs: 1,
        fine_tune_dense: true,
        ..Default::default()
    };
    let err = train_on_msd(
        &tags_card(),
        &separable(dim, 4, 2, 13),
        &separable(dim, 4, 2, 14),
        &cfg,
    )
    .err()
    .expect("a tags head cannot sit on a fine-tuned dense layer")
    .to_string();
    assert!(err.contains("penultimate"), "{err}");
}

#[test]
fn head_training_stops_with_an_error_when_it_diverges() {
    let card = tags_card();
    let dim = HeadInput::Tags.dim();
    // A learning rate no AdamW step survives: the weights overflow f32 within a few steps.
    let cfg = TransferConfig {
        epochs: 5,
        batch_size: 4,
        lr: 1e38,
        weight_decay: 0.0,
        ..Default::default()
    };
    let err = train_on_msd(
        &card,
        &separable(dim, 8, 4, 7),
        &separable(dim, 4, 2, 8),
        &cfg,
    )
    .err()
    .expect("a diverging run must fail")
    .to_string();
    assert!(err.contains("diverged"), "{err}");
}

#[test]
fn head_training_refuses_non_finite_features_by_window() {
    let card = tags_card();
    let dim = HeadInput::Tags.dim();
    let mut train = separable(dim, 4, 2, 9);
    train.x[3 * dim + 7] = f32::NAN;
    let cfg = TransferConfig {
        epochs: 1,
        ..Default::default()
    };
    let err = train_on_msd(&card, &train, &separable(dim, 4, 2, 10), &cfg)
        .err()
        .expect("NaN features must be refused")
        .to_string();
    assert!(err.contains("feature 7 of window 3"), "{err}");
}

#[test]
fn a_musicnn_model_file_round_trips_and_tags_audio() {
    let card = tags_card();
    let out = small_tags_head(&card, 2, (3, 4));
    let dir = std::env::temp_dir().join(format!("genre-tagger-musicnn-{}", std::process::id()));
    let path = dir.join("m.safetensors");
    save(&path, &card, &out.varmap).unwrap();
    let loaded = load_file(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.card, card);
    assert_eq!(
        (
            loaded.card.front_end.mel.sample_rate,
            loaded.card.window_frames
        ),
        (16_000, PATCH_FRAMES)
    );
    let x = Tensor::rand(0f32, 4.0, (2, N_MELS, PATCH_FRAMES), &Device::Cpu).unwrap();
    let (a, b) = (
        out.net.forward_t(&x, false).unwrap(),
        loaded.net.forward_t(&x, false).unwrap(),
    );
    let diff = max_abs_diff(&a, &b);
    assert!(diff < 1e-6, "loaded model differs by {diff}");

    // Through the tagger at a rate other than musicnn's 16 kHz: 187-frame windows every second.
    let m = Arc::new(loaded);
    let mut t = Tagger::new(
        m,
        44_100,
        TaggerOptions {
            hop_s: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let x: Vec<f32> = (0..44_100 * 6)
        .map(|i| 0.3 * (i as f32 * 0.05).sin() * ((i / 5000) % 2) as f32)
        .collect();
    let mut results = t.push(&x).unwrap();
    results.extend(t.finish().unwrap());
    assert!(
        (3..=5).contains(&results.len()),
        "{} windows from 6 s at hop 1 s",
        results.len()
    );
    for r in &results {
        let s: f32 = r.probs.iter().sum();
        assert!((s - 1.0).abs() < 1e-4 && r.probs.iter().all(|p| p.is_finite()));
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_musicnn_file_missing_backbone_tensors_is_refused_by_name() {
    let card = tags_card();
    let out = small_tags_head(&card, 1, (5, 6));
    out.varmap
        .data()
        .lock()
        .unwrap()
        .remove("backbone.mid_2.conv.weight");
    let dir = std::env::temp_dir().join(format!(
        "genre-tagger-musicnn-missing-{}",
        std::process::id()
    ));
    let path = dir.join("m.safetensors");
    save(&path, &card, &out.varmap).unwrap();
    let err = load_bytes(&std::fs::read(&path).unwrap(), "m", &Device::Cpu)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("backbone.mid_2.conv.weight"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn backbone_features_cover_every_window_of_every_clip() {
    let card = tags_card();
    let net = msd_backbone();
    // 5 s of a chirp at 16 kHz → 313 frames; a 187-frame window every ~62.5 frames.
    let x: Vec<f32> = (0..80_000)
        .map(|i| (i as f32 * i as f32 * 1e-7).sin() * 0.5)
        .collect();
    let mel = model::mel::mel_spectrogram(&card.front_end.mel, &x).unwrap();
    let clip = Clip {
        path: "chirp.wav".into(),
        genre: 1,
        index: 0,
    };
    let feats = vec![ClipFeatures { clip, mel }];
    let w = backbone_features(
        &MusicnnFeatures {
            backbone: &net,
            input: HeadInput::Tags,
        },
        &card,
        &feats,
        1.0,
        &[],
        None,
        &Device::Cpu,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(
        w.len(),
        3,
        "windows start near frames 0, 62 and 125; the next would end past 313"
    );
    assert_eq!(w.x.len(), 3 * 50);
    assert!(w.x.iter().all(|v| v.is_finite()));
    assert_eq!(
        (w.labels.as_slice(), w.clip_labels.as_slice()),
        (&[1, 1, 1][..], &[1][..])
    );
    // Each level adds a copy of every window; the chirp's windows are at about -9 dBFS
    // RMS, so the copy at that level is (nearly) the plain windows, the one at -40 is not.
    let level = 10.0 * (feats[0].mel.energy[..187].iter().sum::<f32>() / 187.0).log10();
    let g = backbone_features(
        &MusicnnFeatures {
            backbone: &net,
            input: HeadInput::Tags,
        },
        &card,
        &feats,
        1.0,
        &[-40.0, level],
        None,
        &Device::Cpu,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(g.len(), 6);
    let close = g.x[3 * 50..4 * 50]
        .iter()
        .zip(&w.x[..50])
        .all(|(a, b)| (a - b).abs() < 1e-2);
    assert!(
        close,
        "the copy at the window's own level is the plain window"
    );
    assert!(
        g.x[..50]
            .iter()
            .zip(&w.x[..50])
            .any(|(a, b)| (a - b).abs() > 1e-2),
        "-40 dBFS must change the features"
    );
}

#[test]
fn the_feature_cache_returns_what_the_backbone_computed_and_misses_on_any_change() {
    let card = tags_card();
    let tensors = tf_tensors("");
    let net = Backbone::new(VarBuilder::from_tensors(
        tensors.clone(),
        DType::F32,
        &Device::Cpu,
    ))
    .unwrap();
    let chirp = |k: f32| -> Vec<f32> {
        (0..64_000)
            .map(|i| (i as f32 * i as f32 * k).sin() * 0.5)
            .collect()
    };
    let feats: Vec<ClipFeatures> = [1e-7, 2e-7]
        .iter()
        .enumerate()
        .map(|(i, &k)| ClipFeatures {
            clip: Clip {
                path: format!("c{i}.wav").into(),
                genre: i,
                index: i as u32,
            },
            mel: model::mel::mel_spectrogram(&card.front_end.mel, &chirp(k)).unwrap(),
        })
        .collect();
    let dir =
        std::env::temp_dir().join(format!("genre-tagger-feature-cache-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let run = |levels: &[f32], cache: &FeatureCache| {
        backbone_features(
            &MusicnnFeatures {
                backbone: &net,
                input: HeadInput::Tags,
            },
            &card,
            &feats,
            1.0,
            levels,
            Some(cache),
            &Device::Cpu,
            &mut Quiet,
        )
        .unwrap()
    };
    let fresh = backbone_features(
        &MusicnnFeatures {
            backbone: &net,
            input: HeadInput::Tags,
        },
        &card,
        &feats,
        1.0,
        &[-20.0],
        None,
        &Device::Cpu,
        &mut Quiet,
    )
    .unwrap();

    let first = FeatureCache::new(&dir, &tensors).unwrap();
    let a = run(&[-20.0], &first);
    assert_eq!((first.hits(), first.misses()), (0, 2));
    assert_eq!(a.x.len(), fresh.x.len());
    assert!(
        max_abs_diff_slices(&a.x, &fresh.x) < 1e-6,
        "features through the cache are the backbone's"
    );

    // A second run (a new process would open the cache the same way) reads both clips back.
    let second = FeatureCache::new(&dir, &tensors).unwrap();
    let b = run(&[-20.0], &second);
    assert_eq!((second.hits(), second.misses()), (2, 0));
    assert_eq!(
        (b.x, b.labels, b.clip_of, b.clip_labels),
        (
            a.x.clone(),
            a.labels.clone(),
            a.clip_of.clone(),
            a.clip_labels.clone()
        )
    );

    // Other settings miss: another level.
    let third = FeatureCache::new(&dir, &tensors).unwrap();
    run(&[-30.0], &third);
    assert_eq!((third.hits(), third.misses()), (0, 2));
    // Another backbone (one weight changed) misses.
    let mut changed = tensors.clone();
    let (name, t) = changed
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    changed.insert(name, (t + 1e-3).unwrap());
    let other = FeatureCache::new(&dir, &changed).unwrap();
    run(&[-20.0], &other);
    assert_eq!(other.hits(), 0);

    // A damaged entry is recomputed, not trusted.
    let recipe = model::train::FeatureRecipe {
        card: &card,
        features: serde_json::json!(HeadInput::Tags),
        hop_frames: 63,
        levels_db: &[-20.0],
    };
    let entry = second.entry(&feats[0].mel, &recipe);
    assert!(
        entry.exists(),
        "hop 1 s is 63 frames at 16 kHz / 256: {}",
        entry.display()
    );
    std::fs::write(&entry, b"not safetensors").unwrap();
    let fourth = FeatureCache::new(&dir, &tensors).unwrap();
    let c = run(&[-20.0], &fourth);
    assert_eq!((fourth.hits(), fourth.misses()), (1, 1));
    assert_eq!(c.x.len(), fresh.x.len());
    assert!(max_abs_diff_slices(&c.x, &fresh.x) < 1e-6);
    std::fs::remove_dir_all(dir).ok();
}
