//! The candle musicnn against TensorFlow: the committed MSD and MTT weights, fed the log-mel
//! patches musicnn's own code made, must give TensorFlow's logits to 1e-3.
//! (`cargo xtask parity` runs the same check on every reference patch in ../shared.)

mod support;
use support::{fixture_tensors, manifest, max_abs_diff};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::nets::musicnn::{import_tf, read_tf_file, Backbone, Variant};

fn weights(name: &str) -> std::path::PathBuf {
    manifest("weights/musicnn").join(name)
}

fn backbone(variant_file: &str) -> (Variant, Backbone) {
    let (variant, tensors) = read_tf_file(&weights(variant_file), "", &Device::Cpu).unwrap();
    let net = Backbone::new(VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu)).unwrap();
    (variant, net)
}

#[test]
fn logits_match_tensorflow_for_both_published_models() {
    let fx = fixture_tensors("musicnn_reference.safetensors");
    let input = &fx["patches_mel_major"];
    for (file, key, want_variant) in [
        (
            "MSD_musicnn.safetensors",
            "MSD_musicnn_logits",
            Variant::Msd,
        ),
        (
            "MTT_musicnn.safetensors",
            "MTT_musicnn_logits",
            Variant::Mtt,
        ),
    ] {
        let (variant, net) = backbone(file);
        assert_eq!(variant, want_variant);
        let out = net.forward(input).unwrap();
        let err = max_abs_diff(&out.tags, &fx[key]);
        println!("{file}: max |logit − TF| = {err:.2e}");
        assert!(
            err <= 1e-3,
            "{file}: logits differ from TensorFlow's by {err}"
        );
        assert_eq!(out.pooled.dims(), &[2, 1506]);
        assert_eq!(out.penultimate.dims(), &[2, 200]);
    }
}

/// candle's ops (what a GPU runs: every filter, `conv2d`, whole batches) give the fused
/// CPU kernels' outputs and TensorFlow's logits.
#[test]
fn the_candle_ops_path_matches_the_fused_kernels_and_tensorflow() {
    let fx = fixture_tensors("musicnn_reference.safetensors");
    let input = &fx["patches_mel_major"];
    for (file, key) in [
        ("MSD_musicnn.safetensors", "MSD_musicnn_logits"),
        ("MTT_musicnn.safetensors", "MTT_musicnn_logits"),
    ] {
        let (_, net) = backbone(file);
        let (fused, ops) = (
            net.forward(input).unwrap(),
            net.forward_candle_ops(input).unwrap(),
        );
        for (name, a, b) in [
            ("pooled", &fused.pooled, &ops.pooled),
            ("penultimate", &fused.penultimate, &ops.penultimate),
            ("tags", &fused.tags, &ops.tags),
        ] {
            let d = max_abs_diff(a, b);
            assert!(
                d <= 1e-4,
                "{file} {name}: candle ops differ from fused by {d}"
            );
        }
        let err = max_abs_diff(&ops.tags, &fx[key]);
        assert!(
            err <= 1e-3,
            "{file}: candle ops differ from TensorFlow by {err}"
        );
    }
}

#[test]
fn patches_in_a_batch_do_not_affect_each_other() {
    let fx = fixture_tensors("musicnn_reference.safetensors");
    let input = &fx["patches_mel_major"];
    let (_, net) = backbone("MSD_musicnn.safetensors");
    let both = net.forward(input).unwrap().tags;
    for i in 0..2 {
        let one = net.forward(&input.narrow(0, i, 1).unwrap()).unwrap().tags;
        assert!(max_abs_diff(&one, &both.narrow(0, i, 1).unwrap()) < 1e-5);
    }
}

#[test]
fn import_names_every_missing_variable_and_refuses_extras() {
    let (_, good) = {
        let bytes = std::fs::read(weights("MTT_musicnn.safetensors")).unwrap();
        (
            (),
            candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).unwrap(),
        )
    };
    let mut missing = good.clone();
    missing.remove("conv2d_3/kernel");
    missing.remove("batch_normalization_9/gamma");
    let err = import_tf(&missing, "").unwrap_err().to_string();
    assert!(
        err.contains("conv2d_3/kernel") && err.contains("batch_normalization_9/gamma"),
        "{err}"
    );

    let mut extra = good.clone();
    extra.insert(
        "conv2d_8/kernel".into(),
        Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
    );
    let err = import_tf(&extra, "").unwrap_err().to_string();
    assert!(err.contains("unexpected conv2d_8/kernel"), "{err}");

    let mut wrong = good;
    wrong.insert(
        "conv2d/kernel".into(),
        Tensor::zeros((7, 38, 204), DType::F32, &Device::Cpu).unwrap(),
    );
    assert!(import_tf(&wrong, "")
        .unwrap_err()
        .to_string()
        .contains("conv2d/kernel"));
}

#[test]
fn a_file_that_is_not_musicnn_is_refused_with_its_path() {
    let path = manifest("weights/default.safetensors");
    let err = read_tf_file(&path, "", &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("default.safetensors") && err.contains("MSD_musicnn"),
        "{err}"
    );
}
