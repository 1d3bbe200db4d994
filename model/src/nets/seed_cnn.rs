//! The seed papers' CNN, done carefully: blocks of conv3×3 → batch norm → ReLU → 2×2
//! max-pool, then global average *and* max pooling (average alone washes out short
//! salient events such as a snare pattern), dropout, and one linear layer.
//!
//! Default `[16, 32, 64, 128]` on a 128 × 130 window (3 s at 22 050 Hz, hop 512):
//! 100 202 trainable parameters (+480 batch-norm running statistics) and 59.3 M
//! multiply-accumulates (119 MFLOP) per window — see [`SeedCnn::macs`]; the tests check
//! both figures against the built network.

use super::seed_cnn_fused::{FoldedBlock, FusedSeedCnn};
use super::{ConvSame, SeededDropout};
use crate::net::GenreNet;
use candle_core::{DType, Module, ModuleT, Result, Tensor};
use candle_nn::{batch_norm, linear, BatchNorm, BatchNormConfig, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedCnnConfig {
    /// Output channels of each conv block; each block halves both axes.
    pub channels: Vec<usize>,
    pub dropout: f32,
}

impl Default for SeedCnnConfig {
    fn default() -> Self {
        Self {
            channels: vec![16, 32, 64, 128],
            dropout: 0.3,
        }
    }
}

struct Block {
    conv: ConvSame,
    bn: BatchNorm,
}

pub struct SeedCnn {
    blocks: Vec<Block>,
    dropout: SeededDropout,
    head: Linear,
}

impl SeedCnn {
    pub fn new(cfg: &SeedCnnConfig, n_labels: usize, vb: VarBuilder, seed: u64) -> Result<Self> {
        if cfg.channels.is_empty() {
            candle_core::bail!("seed CNN needs at least one block");
        }
        let bn_cfg = BatchNormConfig {
            eps: 1e-5,
            remove_mean: true,
            affine: true,
            momentum: 0.1,
        };
        let mut blocks = Vec::new();
        let mut c_in = 1;
        for (i, &c) in cfg.channels.iter().enumerate() {
            let vb = vb.pp(format!("blocks.{i}"));
            blocks.push(Block {
                conv: ConvSame::new(c_in, c, (3, 3), vb.pp("conv"))?,
                bn: batch_norm(c, bn_cfg, vb.pp("bn"))?,
            });
            c_in = c;
        }
        let head = linear(2 * c_in, n_labels, vb.pp("head"))?;
        Ok(Self {
            blocks,
            dropout: SeededDropout::new(cfg.dropout, seed),
            head,
        })
    }

    /// Multiply-accumulates per window of `n_mels × frames` (convolutions and head).
    pub fn macs(cfg: &SeedCnnConfig, n_labels: usize, n_mels: usize, frames: usize) -> u64 {
        let (mut h, mut w, mut c_in, mut total) = (n_mels, frames, 1usize, 0u64);
        for &c in &cfg.channels {
            total += (h * w * c * c_in * 9) as u64;
            h /= 2;
            w /= 2;
            c_in = c;
        }
        total + (2 * c_in * n_labels) as u64
    }
}

impl SeedCnn {
    /// Inference through [`FusedSeedCnn`]: the pooled features from one custom op, then
    /// the head.
    fn forward_fused(&self, x: &Tensor) -> Result<Tensor> {
        let blocks = self
            .blocks
            .iter()
            .map(|b| {
                let (w, bias) = b.conv.folded(&b.bn)?;
                let (c_out, c_in, _, _) = w.dims4()?;
                Ok(FoldedBlock {
                    weight: w.flatten_all()?.to_vec1()?,
                    bias: bias.to_vec1()?,
                    c_in,
                    c_out,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let pooled = x.contiguous()?.apply_op1_no_bwd(&FusedSeedCnn { blocks })?;
        self.head.forward(&pooled)
    }

    /// The network through candle's ops: training, and inference off the CPU.
    fn forward_candle(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        // Inference on the CPU in chunks of 4 windows: whole-batch im2col at batch 32 made a
        // 19 MB column matrix and a 34 MB output per call that left the cache and
        // page-faulted. A GPU wants the whole batch.
        const CHUNK: usize = 4;
        let b = x.dim(0)?;
        if !train && b > CHUNK && x.device().is_cpu() {
            let parts = (0..b)
                .step_by(CHUNK)
                .map(|i| self.forward_candle(&x.narrow(0, i, CHUNK.min(b - i))?, false))
                .collect::<Result<Vec<_>>>()?;
            return Tensor::cat(&parts, 0);
        }
        let mut x = x.unsqueeze(1)?;
        for b in &self.blocks {
            x = if train {
                b.bn.forward_t(&b.conv.forward(&x)?, true)?
            } else {
                b.conv.forward_folded(&x, &b.bn)?
            };
            x = x.relu()?.max_pool2d(2)?;
        }
        let x = x.flatten_from(2)?;
        let pooled = Tensor::cat(&[x.mean(2)?, x.max(2)?], 1)?;
        self.head.forward(&self.dropout.forward_t(&pooled, train)?)
    }
}

impl GenreNet for SeedCnn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train && x.device().is_cpu() && x.dtype() == DType::F32 {
            self.forward_fused(x)
        } else {
            self.forward_candle(x, train)
        }
    }

    fn forward_candle_ops(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_candle(x, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};
    use candle_nn::VarMap;

    /// A seed CNN with random weights *and* random batch-norm statistics, so that folding
    /// the norm is exercised.
    fn random_net(channels: Vec<usize>) -> SeedCnn {
        let vm = VarMap::new();
        let net = SeedCnn::new(
            &SeedCnnConfig {
                channels,
                dropout: 0.3,
            },
            10,
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
            1,
        )
        .unwrap();
        for (name, var) in vm.data().lock().unwrap().iter() {
            let t = var.as_tensor();
            let v = if name.ends_with("running_var") {
                Tensor::rand(0.5f32, 2.0, t.shape(), &Device::Cpu)
            } else {
                Tensor::randn(0f32, 0.3, t.shape(), &Device::Cpu)
            };
            var.set(&v.unwrap()).unwrap();
        }
        net
    }

    #[test]
    fn fused_inference_equals_the_candle_path() {
        let net = random_net(vec![16, 32, 64, 128]);
        // The real window (128 × 130: odd sizes after the second pool), odd sizes from the
        // start, and the smallest window that survives four pools.
        for (b, h, w) in [(1, 128, 130), (5, 128, 130), (3, 37, 51), (2, 16, 16)] {
            let x = Tensor::randn(0f32, 1.0, (b, h, w), &Device::Cpu).unwrap();
            let fused = net.forward_t(&x, false).unwrap();
            let reference = net.forward_candle(&x, false).unwrap();
            assert_eq!(fused.dims(), reference.dims());
            let diff = (fused - reference)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-4, "{b}×{h}×{w}: fused differs by {diff}");
        }
    }

    #[test]
    fn fused_inference_follows_weight_updates() {
        let vm = VarMap::new();
        let net = SeedCnn::new(
            &SeedCnnConfig::default(),
            10,
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
            1,
        )
        .unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 128, 130), &Device::Cpu).unwrap();
        let before = net.forward_t(&x, false).unwrap();
        let w: Var = vm.data().lock().unwrap()["blocks.0.conv.weight"].clone();
        w.set(&(w.as_tensor() * 2.0).unwrap()).unwrap();
        let after = net.forward_t(&x, false).unwrap();
        let reference = net.forward_candle(&x, false).unwrap();
        let moved = (&after - &before)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let diff = (after - reference)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            moved > 1e-3 && diff < 1e-4,
            "moved {moved}, differs from candle by {diff}"
        );
    }

    #[test]
    fn a_window_too_small_for_the_pools_is_an_error() {
        let net = random_net(vec![4, 4, 4, 4]);
        let x = Tensor::zeros((1, 8, 130), DType::F32, &Device::Cpu).unwrap();
        let err = net
            .forward_t(&x, false)
            .expect_err("8 mels cannot take four 2×2 pools")
            .to_string();
        assert!(err.contains("vanishes"), "{err}");
    }
}
