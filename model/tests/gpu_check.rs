//! The GPU check (`examples/gpu_check.rs`, run on GPU machines by `scripts/gpu-check`) as
//! a machine without a GPU can run it: its CPU rehearsal passes every check with real
//! figures, and asking for CUDA where there is none fails loudly, never running on the CPU.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

/// Builds the check's example through cargo, in this test's profile and features and with
/// the whole workspace's feature resolution (so that after `cargo test --workspace`, as in
/// CI, this is a no-op rather than a second build of candle), then runs it.
fn gpu_check(args: &[&str]) -> Output {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Through `..` rather than `parent()`: in the CUDA build's mirror workspace the crate
    // directory is a symlink, and the fixtures live beside its target.
    let root = manifest.join("..").canonicalize().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--workspace", "--example", "gpu_check"])
        .arg("--manifest-path")
        .arg(manifest.join("Cargo.toml"));
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    if cfg!(feature = "cuda") {
        build.args(["--features", "model/cuda"]);
    }
    let built = build.output().unwrap();
    assert!(built.status.success(), "{}", text(&built.stderr));
    // This test runs from <target>/<profile>/deps; the example lands in <profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    Command::new(profile_dir.join("examples/gpu_check"))
        .arg("--root")
        .arg(&root)
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_cpu_rehearsal_passes_every_check_and_reports_json() {
    let dir = std::env::temp_dir().join(format!("gpu-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let o = gpu_check(&[
        "--device",
        "cpu",
        "--batches",
        "1,4",
        "--reps",
        "1",
        "--steps",
        "6",
        "--seconds",
        "4",
        "--efficientat-batches",
        "1,3",
        "--library-copies",
        "1",
        // No PyTorch here: its failure is reported, not taken for a failed check.
        "--torch-upstream",
        "/nonexistent/upstream",
        "--json",
        json.to_str().unwrap(),
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("rehearsal") && out.contains("all checks passed"),
        "{out}"
    );

    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(r["rehearsal"], true);
    assert_eq!(r["ok"], true);
    let checks = r["checks"].as_array().unwrap();
    let models: Vec<&str> = checks
        .iter()
        .map(|c| c["model"].as_str().unwrap())
        .collect();
    for want in [
        "seed CNN",
        "musicnn-MTT + genre head",
        "EfficientAT mn04_as (the embedded default)",
        "EfficientAT mn04_as network, folded",
        "EfficientAT mn04_as network, 3s, folded",
        "EfficientAT mn04_as network, 10s, candle ops",
        "musicnn MSD",
        "musicnn MTT",
    ] {
        assert!(
            models.iter().any(|m| m.starts_with(want)),
            "{want} missing: {models:?}"
        );
    }
    for c in checks {
        assert_eq!(c["ok"], true, "{c}");
        if let Some(d) = c["max_abs_diff"].as_f64() {
            // Two implementations of the same network: close, and not trivially equal
            // unless they really are the same arithmetic.
            assert!((0.0..=1e-3).contains(&d), "{c}");
        }
    }
    let train = checks
        .iter()
        .find(|c| c["loss_device"].is_array())
        .expect("a training check");
    let losses: Vec<f64> = train["loss_device"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 6);
    assert!(
        losses[5] < losses[0],
        "training did not lower the loss: {losses:?}"
    );

    let timings = r["timings"].as_array().unwrap();
    // Three networks at two batch sizes, and a training step.
    assert_eq!(timings.len(), 7, "{timings:?}");
    for t in timings {
        for k in [
            "cpu_ms",
            "device_ms",
            "cpu_ms_per_window",
            "device_ms_per_window",
        ] {
            let v = t[k].as_f64().unwrap();
            assert!(v.is_finite() && v > 0.0, "{k} in {t}");
        }
    }
    // EfficientAT's paths at each asked batch size, and PyTorch's side reported as failed.
    let eat = r["efficientat"].as_array().unwrap();
    let batches: Vec<u64> = eat.iter().map(|e| e["batch"].as_u64().unwrap()).collect();
    assert_eq!(batches, [1, 3]);
    for e in eat {
        for k in [
            "folded_ms",
            "candle_ops_ms",
            "cpu_fused_ms",
            "folded_windows_per_s",
        ] {
            let v = e[k].as_f64().unwrap();
            assert!(v.is_finite() && v > 0.0, "{k} in {e}");
        }
    }
    // Library tagging on both sides, every fixture tagged; the second side batches
    // windows across files, as it would on a GPU.
    let library = r["library"].as_array().unwrap();
    assert_eq!(library.len(), 2, "{library:?}");
    assert_eq!(library[1]["cross_file"], true, "{library:?}");
    for row in library {
        assert_eq!(row["files"], 4, "{row}");
        let x = row["times_real_time"].as_f64().unwrap();
        assert!(x.is_finite() && x > 1.0, "{row}");
    }
    let torch_error = r["pytorch"]["error"].as_str().unwrap();
    assert!(
        torch_error.contains("efficientat_torch.py"),
        "{torch_error}"
    );
    assert!(out.contains("PyTorch: "), "{out}");
}

#[test]
fn asking_for_cuda_without_it_fails_loudly_and_runs_nothing() {
    let o = gpu_check(&[
        "--device",
        "cuda",
        "--steps",
        "2",
        "--reps",
        "1",
        "--seconds",
        "4",
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    if o.status.success() {
        // A CUDA build on a machine with a GPU: the real check ran.
        if !cfg!(feature = "cuda") {
            panic!("a build without CUDA ran the check:\n{out}");
        }
        assert!(out.starts_with("device: CUDA"), "{out}");
        return;
    }
    assert_eq!(o.status.code(), Some(2), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("CUDA cannot be initialised: no CUDA"), "{err}");
    if !cfg!(feature = "cuda") {
        assert!(err.contains("this build has no CUDA support"), "{err}");
    }
    assert!(out.is_empty(), "nothing may run on the CPU instead: {out}");
}
