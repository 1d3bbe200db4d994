//! A short training run on a tiny generated data set: the loss goes down, the network
//! learns the (easy) classes, the same seed gives the same run, and a corrupt file is
//! skipped with a warning instead of stopping training.

use candle_core::Device;
use model::arch::Arch;
use model::nets::SeedCnnConfig;
use model::train::{
    discover, load_features, split, train, Augment, EpochRecord, Observer, SplitKind, TrainConfig,
};
use model::weights::ModelCard;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// Writes a 16-bit mono Sun AU file (the format we read by hand; GTZAN's original).
fn write_au(path: &Path, rate: u32, x: &[f32]) {
    let mut b = b".snd".to_vec();
    for w in [24u32, (x.len() * 2) as u32, 3, rate, 1] {
        b.extend_from_slice(&w.to_be_bytes());
    }
    for s in x {
        b.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_be_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// Three "genres" a small CNN can tell apart: low tones, high tones, noise bursts.
fn synth(genre: usize, seed: u64, rate: u32, secs: f32) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let f = match genre {
        0 => rng.random_range(100.0..200.0),
        _ => rng.random_range(2000.0..4000.0),
    };
    (0..(rate as f32 * secs) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            match genre {
                2 => {
                    if (t * 4.0).fract() < 0.1 {
                        rng.random_range(-0.5..0.5)
                    } else {
                        0.0
                    }
                }
                _ => {
                    0.4 * (2.0 * std::f32::consts::PI * f * t).sin()
                        + 0.01 * rng.random_range(-1.0..1.0)
                }
            }
        })
        .collect()
}

fn make_dataset(dir: &Path) {
    for (g, name) in ["blues", "classical", "country"].iter().enumerate() {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        for idx in [0u32, 1, 2, 7, 8] {
            // Half the clips at another rate, so training exercises the resampler too.
            let rate = if idx % 2 == 0 { 22_050 } else { 16_000 };
            write_au(
                &sub.join(format!("{name}.{idx:05}.au")),
                rate,
                &synth(g, g as u64 * 100 + idx as u64, rate, 4.0),
            );
        }
    }
    std::fs::create_dir_all(dir.join("disco")).unwrap();
    std::fs::write(dir.join("disco/disco.00000.wav"), b"this is not audio").unwrap();
}

#[derive(Default)]
struct Record {
    warnings: Vec<String>,
    epochs: Vec<EpochRecord>,
}
impl Observer for Record {
    fn warn(&mut self, msg: &str) {
        self.warnings.push(msg.to_string());
    }
    fn epoch_done(&mut self, r: &EpochRecord) {
        self.epochs.push(r.clone());
    }
}

fn run(dir: &Path, seed: u64) -> (Record, model::train::TrainOutcome) {
    let mut card = ModelCard::seed_cnn_default();
    card.arch = Arch::SeedCnn(SeedCnnConfig {
        channels: vec![8, 16],
        dropout: 0.0,
    });
    let clips = discover(dir).unwrap();
    let (kind, s) = split(&clips, None).unwrap();
    assert_eq!(kind, SplitKind::ByIndex);
    let mut obs = Record::default();
    let tr = load_features(&s.train, &card.front_end, card.window_frames, &mut obs).unwrap();
    let va = load_features(&s.valid, &card.front_end, card.window_frames, &mut obs).unwrap();
    assert_eq!(
        (tr.len(), va.len()),
        (9, 6),
        "the corrupt disco clip is skipped"
    );
    let cfg = TrainConfig {
        epochs: 12,
        batch_size: 8,
        crops_per_clip: 4,
        lr: 3e-3,
        early_stop: 100,
        seed,
        augment: Augment::none(),
        ..Default::default()
    };
    let out = train(&card, &tr, &va, &cfg, &Device::Cpu, &mut obs).unwrap();
    (obs, out)
}

#[test]
fn short_training_run_learns_and_is_reproducible() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("genre-tagger-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    make_dataset(&dir);

    let (obs, out) = run(&dir, 9);
    assert_eq!(obs.warnings.len(), 1, "{:?}", obs.warnings);
    assert!(
        obs.warnings[0].contains("disco.00000.wav"),
        "{:?}",
        obs.warnings
    );
    let h = &out.history;
    assert_eq!(h.len(), 12);
    assert!(
        h.last().unwrap().train_loss < h[0].train_loss * 0.8,
        "loss did not fall: {h:?}"
    );
    assert!(
        out.valid.clip.accuracy >= 5.0 / 6.0,
        "valid clip accuracy {}: {h:?}",
        out.valid.clip.accuracy
    );
    // The kept weights are the epoch the trainer's rule picks, and their figures are that
    // epoch's (nothing trained after the restore).
    assert_eq!(out.best_by, model::train::CNN_BEST_BY);
    assert_eq!(out.best_by.pick(h), Some(out.best_epoch));
    let kept = h.iter().find(|r| r.epoch == out.best_epoch).unwrap();
    assert!((out.valid.window.accuracy - kept.valid_acc).abs() < 1e-12);

    let (_, again) = run(&dir, 9);
    let losses = |o: &model::train::TrainOutcome| {
        o.history
            .iter()
            .map(|r| (r.train_loss, r.valid_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&out), losses(&again), "same seed, same run");
    let _ = std::fs::remove_dir_all(&dir);
}
