//! EfficientAT's genre decisions: what each kind computes from the network's outputs, and
//! that the transfer trainer fits them on cached `[logits | embedding]` rows — the zero-shot
//! one untouched, the calibrated one moving only its bias and temperature, a head only its
//! linear layer — into model files that load and give what was trained.

mod support;
use support::{manifest, max_abs_diff};

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use model::nets::efficientat::{Decision, HeadFeatures, MnConfig, MnOutput, GTZAN_CLASSES};
use model::train::{cached_probs, train_head, Quiet, TrainOutcome, TransferConfig, WindowFeatures};
use model::weights::{load_bytes, save, ModelCard};
use std::collections::HashMap;

const N_CLASSES: usize = 527;
const EMB: usize = 384;
const DIM: usize = N_CLASSES + EMB;

fn checkpoint() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(
        manifest("weights/efficientat/mn04_as.safetensors"),
        &Device::Cpu,
    )
    .unwrap()
}

/// Cached rows where genre `g`'s named logit is raised for windows of genre `g`, but
/// genre 0's is raised more for every window: zero-shot calls everything genre 0; a bias
/// (or a head) can undo it.
fn biased_set(windows_per_genre: usize, seed: u64) -> WindowFeatures {
    noisy_biased_set(windows_per_genre, seed, 1.0)
}

/// [`biased_set`] with uniform noise of width `noise` on the outputs other than the ten
/// named logits (which keep width 1).
fn noisy_biased_set(windows_per_genre: usize, seed: u64, noise: f32) -> WindowFeatures {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut set = WindowFeatures {
        dim: DIM,
        x: Vec::new(),
        labels: Vec::new(),
        clip_of: Vec::new(),
        clip_labels: Vec::new(),
    };
    for g in 0..10 {
        set.clip_labels.push(g);
        for _ in 0..windows_per_genre {
            let mut row: Vec<f32> = (0..DIM)
                .map(|i| {
                    let width = if GTZAN_CLASSES.contains(&i) {
                        1.0
                    } else {
                        noise
                    };
                    width * (rng.random::<f32>() - 0.5)
                })
                .collect();
            row[GTZAN_CLASSES[g]] += 2.0;
            row[GTZAN_CLASSES[0]] += 3.0;
            set.x.extend(row);
            set.labels.push(g);
            set.clip_of.push(g);
        }
    }
    set
}

fn accuracy(p: &[Vec<f32>], labels: &[usize]) -> f64 {
    let right = p
        .iter()
        .zip(labels)
        .filter(|(p, &y)| model::distribution::argmax(p) == y)
        .count();
    right as f64 / labels.len() as f64
}

fn cfg() -> TransferConfig {
    TransferConfig {
        epochs: 80,
        early_stop: 80,
        batch_size: 64,
        lr: 2e-2,
        ..Default::default()
    }
}

/// `train_head` on `tensors` (the published network's) with [`cfg`].
fn fit(
    card: &ModelCard,
    tensors: &HashMap<String, Tensor>,
    train: &WindowFeatures,
    valid: &WindowFeatures,
) -> model::Result<TrainOutcome> {
    train_head(
        card,
        tensors,
        train,
        valid,
        &cfg(),
        &Device::Cpu,
        &mut Quiet,
    )
}

/// A fitted decision's distributions on `valid`'s cached rows, which must mostly be right.
fn fitted_probs(card: &ModelCard, varmap: &VarMap, valid: &WindowFeatures) -> Vec<Vec<f32>> {
    let p = cached_probs(card, varmap, valid, &Device::Cpu).unwrap();
    let acc = accuracy(&p, &valid.labels);
    assert!(acc > 0.8, "window accuracy {acc}");
    p
}

#[test]
fn calibrated_is_zero_shot_until_fitted_then_z_over_t_plus_b() {
    let net = MnConfig::mn04_as();
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, candle_core::DType::F32, &Device::Cpu);
    let zs = Decision::zero_shot_gtzan()
        .build(10, &net, vb.pp("z"), 0)
        .unwrap();
    let cal = Decision::calibrated_gtzan()
        .build(10, &net, vb.pp("decision"), 0)
        .unwrap();
    let out = MnOutput {
        logits: Tensor::randn(0f32, 3.0, (4, N_CLASSES), &Device::Cpu).unwrap(),
        embedding: Tensor::randn(0f32, 1.0, (4, EMB), &Device::Cpu).unwrap(),
    };
    let a = zs.forward(&out, false).unwrap();
    let b = cal.forward(&out, false).unwrap();
    assert_eq!(max_abs_diff(&a, &b), 0.0, "bias 0, T 1");

    let bias: Vec<f32> = (0..10).map(|i| i as f32 * 0.1).collect();
    let vars = vm.data().lock().unwrap();
    vars["decision.bias"]
        .set(&Tensor::new(bias.as_slice(), &Device::Cpu).unwrap())
        .unwrap();
    vars["decision.log_temperature"]
        .set(&Tensor::new(&[2f32.ln()], &Device::Cpu).unwrap())
        .unwrap();
    drop(vars);
    let b = cal.forward(&out, false).unwrap().to_vec2::<f32>().unwrap();
    let z = a.to_vec2::<f32>().unwrap();
    for (zr, br) in z.iter().zip(&b) {
        for (g, (&z, &b)) in zr.iter().zip(br).enumerate() {
            assert!(
                (b - (z / 2.0 + bias[g])).abs() < 1e-5,
                "{b} vs {z}/2 + {}",
                bias[g]
            );
        }
    }
    assert_eq!(
        Decision::calibrated_gtzan().fitted_variables(),
        &["decision.bias", "decision.log_temperature"]
    );
    assert!(Decision::zero_shot_gtzan().fitted_variables().is_empty());
}

#[test]
fn heads_read_the_outputs_they_name() {
    let net = MnConfig::mn04_as();
    assert_eq!(HeadFeatures::Embedding.dim(&net), EMB);
    assert_eq!(HeadFeatures::Logits.dim(&net), N_CLASSES);
    assert_eq!(HeadFeatures::Both.dim(&net), DIM);
    let out = MnOutput {
        logits: Tensor::ones((2, N_CLASSES), candle_core::DType::F32, &Device::Cpu).unwrap(),
        embedding: Tensor::zeros((2, EMB), candle_core::DType::F32, &Device::Cpu).unwrap(),
    };
    let both = HeadFeatures::Both.select(&out).unwrap();
    assert_eq!(both.dims(), &[2, DIM]);
    let v = both.to_vec2::<f32>().unwrap();
    assert!(
        v[0][..N_CLASSES].iter().all(|&x| x == 1.0) && v[0][N_CLASSES..].iter().all(|&x| x == 0.0)
    );
}

#[test]
fn zero_shot_fits_nothing_and_calibration_fixes_a_bias() {
    let (train, valid) = (biased_set(30, 1), biased_set(10, 2));
    let tensors = checkpoint();

    let zs_card = ModelCard::efficientat(Decision::zero_shot_gtzan());
    // Nothing to fit: no training windows needed.
    let none = WindowFeatures {
        dim: DIM,
        x: Vec::new(),
        labels: Vec::new(),
        clip_of: Vec::new(),
        clip_labels: Vec::new(),
    };
    let zs = fit(&zs_card, &tensors, &none, &valid).unwrap();
    assert!(
        zs.history.is_empty() && zs.best_epoch == 0,
        "nothing to fit"
    );
    let p = cached_probs(&zs_card, &zs.varmap, &valid, &Device::Cpu).unwrap();
    assert!(
        accuracy(&p, &valid.labels) <= 0.2,
        "zero-shot calls all genre 0"
    );
    assert!((zs.valid.window.accuracy - accuracy(&p, &valid.labels)).abs() < 1e-9);

    let card = ModelCard::efficientat(Decision::calibrated_gtzan());
    let e = fit(&card, &tensors, &none, &valid).err().unwrap();
    assert!(e.to_string().contains("0 training"), "{e}");
    let out = fit(&card, &tensors, &train, &valid).unwrap();
    fitted_probs(&card, &out.varmap, &valid);
    let vars = out.varmap.data().lock().unwrap();
    let bias = vars["decision.bias"].as_tensor().to_vec1::<f32>().unwrap();
    assert!(
        bias[0] < bias[1..].iter().cloned().fold(f32::INFINITY, f32::min),
        "genre 0's bias is pulled down: {bias:?}"
    );
    // The network is the published one, unchanged.
    for (k, t) in &tensors {
        assert_eq!(max_abs_diff(vars[k].as_tensor(), t), 0.0, "{k} changed");
    }
}

#[test]
fn a_fitted_head_saves_loads_and_gives_what_was_trained() {
    // No noise beyond the ten named logits: standardised, noise in the other 517 would be
    // as loud as the signal, and a 5 280-parameter head on a few hundred windows learns it.
    let (train, valid) = (noisy_biased_set(40, 3, 0.0), noisy_biased_set(6, 4, 0.0));
    let card = ModelCard::efficientat(Decision::head(HeadFeatures::Logits));

    let out = fit(&card, &checkpoint(), &train, &valid).unwrap();
    let p = fitted_probs(&card, &out.varmap, &valid);

    let dir = std::env::temp_dir().join(format!("efficientat-head-{}", std::process::id()));
    let path = dir.join("head.safetensors");
    save(&path, &card, &out.varmap).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let loaded = load_bytes(&bytes, "head", &Device::Cpu).unwrap();
    assert_eq!(loaded.card, card);
    // The loaded model's decision on the network's outputs for real windows equals the
    // trained one's (the same variables, through the full network both times).
    let x = Tensor::randn(0f32, 1.0, (2, 128, 300), &Device::Cpu).unwrap();
    let a = out.net.forward_t(&x, false).unwrap();
    let b = loaded.net.forward_t(&x, false).unwrap();
    assert!(max_abs_diff(&a, &b) < 1e-5);
    let (_, vm) = model::weights::load_varmap(&bytes, "head", &Device::Cpu).unwrap();
    assert_eq!(cached_probs(&card, &vm, &valid, &Device::Cpu).unwrap(), p);
}

#[test]
fn cached_rows_of_the_wrong_width_are_refused() {
    let mut set = biased_set(2, 5);
    set.dim = 384;
    set.x.truncate(set.labels.len() * 384);
    let card = ModelCard::efficientat(Decision::calibrated_gtzan());
    let e = fit(&card, &checkpoint(), &set, &set).err().unwrap();
    assert!(e.to_string().contains("911-d"), "{e}");
}
