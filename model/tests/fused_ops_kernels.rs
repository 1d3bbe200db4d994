//! The CUDA kernels' source (`model/src/fused_ops/kernels.cu`) compiled as C with the
//! system's C compiler and run on the CPU over an emulated grid, held bit for bit to the
//! Rust twins that `model::fused_ops` runs on the CPU. What a GPU would run is thereby
//! checked on every machine: the indexing, the bounds, the grid-stride loops (a grid far
//! smaller than the output as well as one covering it), the activations. The launch code
//! on the Rust side is checked only on a GPU (`scripts/gpu-check`).

use candle_core::{Device, Tensor};
use model::fused_ops::{bias_act, bias_residual, depthwise_bias_act, depthwise_output, Act};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Emulates the CUDA builtins the kernels use and runs one kernel per invocation:
/// `harness KERNEL IN OUT GRID BLOCK INTS…`, IN holding the inputs' f32s back to back.
const HARNESS: &str = r#"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef struct { unsigned x, y, z; } gt_dim3;
static gt_dim3 blockIdx, blockDim, threadIdx, gridDim;
#include KERNELS

#define LAUNCH(call)                                                      \
    for (blockIdx.x = 0; blockIdx.x < gridDim.x; blockIdx.x++)            \
        for (threadIdx.x = 0; threadIdx.x < blockDim.x; threadIdx.x++) call

static float *read_all(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(3); }
    fseek(f, 0, SEEK_END);
    *n = ftell(f) / 4;
    fseek(f, 0, SEEK_SET);
    float *v = malloc(*n * 4 + 4);
    if (fread(v, 4, *n, f) != (size_t)*n) { perror(path); exit(3); }
    fclose(f);
    return v;
}

int main(int argc, char **argv) {
    long n;
    float *in = read_all(argv[2], &n);
    gridDim.x = atoi(argv[4]);
    blockDim.x = atoi(argv[5]);
    int a[16] = {0};
    for (int i = 6; i < argc && i < 22; i++) a[i - 6] = atoi(argv[i]);
    long total;
    float *y;
    if (strcmp(argv[1], "depthwise") == 0) {
        /* batch c_in h w c_out ho wo k stride pad act */
        total = (long)a[0] * a[4] * a[5] * a[6];
        y = calloc(total, 4);
        const float *x = in, *w = x + (long)a[0] * a[1] * a[2] * a[3], *b = w + (long)a[4] * a[7] * a[7];
        LAUNCH(gt_depthwise_bias_act(x, w, b, y, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]));
    } else if (strcmp(argv[1], "bias_act") == 0) {
        /* total channels plane act */
        total = a[0];
        y = calloc(total, 4);
        LAUNCH(gt_bias_act(in, in + total, y, total, a[1], a[2], a[3]));
    } else {
        /* total channels plane */
        total = a[0];
        y = calloc(total, 4);
        LAUNCH(gt_bias_residual(in, in + total, in + total + a[1], y, total, a[1], a[2]));
    }
    FILE *f = fopen(argv[3], "wb");
    fwrite(y, 4, total, f);
    fclose(f);
    return 0;
}
"#;

struct Harness {
    dir: PathBuf,
    exe: PathBuf,
}

impl Harness {
    fn build() -> Self {
        let dir = std::env::temp_dir().join(format!("fused-ops-kernels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kernels = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fused_ops/kernels.cu");
        let src = dir.join("harness.c");
        std::fs::write(&src, HARNESS).unwrap();
        let exe = dir.join("harness");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = Command::new(&cc)
            .args([
                "-std=c11",
                "-O2",
                "-ffp-contract=off",
                "-Wall",
                "-Wextra",
                "-Werror",
            ])
            .arg(format!("-DKERNELS=\"{}\"", kernels.display()))
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .arg("-lm")
            .output()
            .unwrap_or_else(|e| panic!("this test needs a C compiler ({cc}): {e}"));
        assert!(
            out.status.success(),
            "kernels.cu does not compile as C:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir, exe }
    }

    /// Runs `kernel` on a `grid`×`block` grid and returns its output.
    fn run(
        &self,
        kernel: &str,
        inputs: &[&Tensor],
        grid: usize,
        block: usize,
        ints: &[usize],
    ) -> Vec<f32> {
        let bytes: Vec<u8> = inputs
            .iter()
            .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .flat_map(f32::to_le_bytes)
            .collect();
        let (inp, outp) = (self.dir.join("in.bin"), self.dir.join("out.bin"));
        std::fs::write(&inp, bytes).unwrap();
        let status = Command::new(&self.exe)
            .arg(kernel)
            .args([&inp, &outp])
            .arg(grid.to_string())
            .arg(block.to_string())
            .args(ints.iter().map(|v| v.to_string()))
            .status()
            .unwrap();
        assert!(status.success(), "{kernel}: the harness failed");
        std::fs::read(&outp)
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// Two grids: one far smaller than the output (every thread loops), one covering it.
    fn grids(total: usize) -> [(usize, usize); 2] {
        [(3, 7), (total.div_ceil(32), 32)]
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Values of both signs around the activations' corners, from a fixed seed.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0
        })
        .collect()
}

fn tensor(dims: &[usize], seed: u64) -> Tensor {
    let n = dims.iter().product();
    Tensor::from_vec(values(n, seed), dims, &Device::Cpu).unwrap()
}

fn twin(t: Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn the_cuda_kernels_equal_their_cpu_twins_bit_for_bit() {
    let h = Harness::build();
    let acts = [Act::Identity, Act::Relu, Act::HardSwish];
    // (batch, c_in, c_out, k, stride, h, w): depthwise 3×3 and 5×5 at strides 1 and 2 on
    // odd and even sizes, the one-channel stem, a map smaller than the kernel's reach.
    for (i, &(batch, c_in, c_out, k, stride, hh, ww)) in [
        (2, 6, 6, 3, 1, 9, 12),
        (2, 5, 5, 5, 2, 16, 15),
        (1, 4, 4, 5, 1, 7, 8),
        (3, 1, 8, 3, 2, 12, 17),
        (1, 3, 3, 3, 2, 2, 2),
    ]
    .iter()
    .enumerate()
    {
        let x = tensor(&[batch, c_in, hh, ww], 3 * i as u64);
        let w = tensor(&[c_out, k, k], 3 * i as u64 + 1);
        let b = tensor(&[c_out], 3 * i as u64 + 2);
        let (ho, wo) = (
            depthwise_output(hh, k, stride),
            depthwise_output(ww, k, stride),
        );
        for act in acts {
            let want = twin(depthwise_bias_act(&x, &w, &b, stride, act).unwrap());
            let ints = [
                batch,
                c_in,
                hh,
                ww,
                c_out,
                ho,
                wo,
                k,
                stride,
                (k - 1) / 2,
                act as usize,
            ];
            for (grid, block) in Harness::grids(want.len()) {
                let got = h.run("depthwise", &[&x, &w, &b], grid, block, &ints);
                assert_eq!(got, want, "depthwise case {i} {act:?} on {grid}×{block}");
            }
        }
    }
    let (x, r) = (tensor(&[3, 5, 4, 7], 40), tensor(&[3, 5, 4, 7], 41));
    let b = tensor(&[5], 42);
    let total = x.elem_count();
    for act in acts {
        let want = twin(bias_act(&x, &b, act).unwrap());
        for (grid, block) in Harness::grids(total) {
            let got = h.run(
                "bias_act",
                &[&x, &b],
                grid,
                block,
                &[total, 5, 28, act as usize],
            );
            assert_eq!(got, want, "bias_act {act:?} on {grid}×{block}");
        }
    }
    let want = twin(bias_residual(&x, &b, &r).unwrap());
    for (grid, block) in Harness::grids(total) {
        let got = h.run("bias_residual", &[&x, &b, &r], grid, block, &[total, 5, 28]);
        assert_eq!(got, want, "bias_residual on {grid}×{block}");
    }
}
