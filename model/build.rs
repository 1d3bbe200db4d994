//! With the `cuda` feature, compiles `src/fused_ops/kernels.cu` to PTX with `nvcc` (from
//! `$NVCC` or the `PATH`, for `$CUDA_COMPUTE_CAP`, default 90), the way candle-kernels
//! builds candle's own kernels, so both load on the same drivers. Without it, nothing.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/fused_ops/kernels.cu");
    println!("cargo:rerun-if-env-changed=NVCC");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| "nvcc".into());
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".into());
    let ptx = out.join("fused_ops.ptx");
    let status = Command::new(&nvcc)
        .args([
            "--ptx",
            &format!("--gpu-architecture=sm_{cap}"),
            "-O3",
            "-o",
        ])
        .arg(&ptx)
        .arg("src/fused_ops/kernels.cu")
        .status()
        .unwrap_or_else(|e| panic!("the cuda feature needs nvcc ({nvcc}): {e}"));
    assert!(
        status.success(),
        "{nvcc} failed on src/fused_ops/kernels.cu"
    );
}
