//! The epilogue of a 1×1 convolution run as a GEMM: the folded batch norm's per-channel
//! shift with the activation, or with the block's residual, in one pass over the output.

use super::{contiguous_f32, Act};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// `act(x + bias[c])` for `x`: `[batch, channels, …]`, `bias`: `[channels]`.
pub fn bias_act(x: &Tensor, bias: &Tensor, act: Act) -> Result<Tensor> {
    check_bias("bias_act", x, bias)?;
    x.contiguous()?
        .apply_op2_no_bwd(&bias.contiguous()?, &BiasAct { act })
}

/// `(x + bias[c]) + residual`, the three as in [`bias_act`], `residual` shaped as `x`.
pub fn bias_residual(x: &Tensor, bias: &Tensor, residual: &Tensor) -> Result<Tensor> {
    check_bias("bias_residual", x, bias)?;
    if residual.dims() != x.dims() {
        candle_core::bail!(
            "bias_residual: residual {:?} is not shaped as the input {:?}",
            residual.dims(),
            x.dims()
        );
    }
    x.contiguous()?
        .apply_op3_no_bwd(&bias.contiguous()?, &residual.contiguous()?, &BiasResidual)
}

fn check_bias(op: &str, x: &Tensor, bias: &Tensor) -> Result<()> {
    if x.rank() < 2 || bias.dims() != [x.dim(1)?] {
        candle_core::bail!(
            "{op}: bias {:?} must be [channels] for input {:?}",
            bias.dims(),
            x.dims()
        );
    }
    Ok(())
}

/// `(channels, plane)`: the channel count and the elements per channel of one batch item.
pub(super) fn channels_plane(l: &Layout) -> (usize, usize) {
    let dims = l.shape().dims();
    (dims[1], dims[2..].iter().product())
}

pub(super) struct BiasAct {
    pub act: Act,
}

impl CustomOp2 for BiasAct {
    fn name(&self) -> &'static str {
        "bias_act"
    }

    /// The twin of `gt_bias_act`.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(self.name(), "input", s1, l1)?;
        let bias = contiguous_f32(self.name(), "bias", s2, l2)?;
        let (channels, plane) = channels_plane(l1);
        let act = self.act;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(plane.max(1))
            .zip(x.par_chunks(plane.max(1)))
            .enumerate()
            .for_each(|(p, (out, inp))| {
                let b = bias[p % channels];
                out.iter_mut()
                    .zip(inp)
                    .for_each(|(o, &v)| *o = act.apply(v + b));
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::bias_act(self.act, (s1, l1), (s2, l2))
    }
}

pub(super) struct BiasResidual;

impl CustomOp3 for BiasResidual {
    fn name(&self) -> &'static str {
        "bias_residual"
    }

    /// The twin of `gt_bias_residual`.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(self.name(), "input", s1, l1)?;
        let bias = contiguous_f32(self.name(), "bias", s2, l2)?;
        let r = contiguous_f32(self.name(), "residual", s3, l3)?;
        let (channels, plane) = channels_plane(l1);
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(plane.max(1))
            .zip(x.par_chunks(plane.max(1)).zip(r.par_chunks(plane.max(1))))
            .enumerate()
            .for_each(|(p, (out, (inp, res)))| {
                let b = bias[p % channels];
                for ((o, &v), &rv) in out.iter_mut().zip(inp).zip(res) {
                    *o = (v + b) + rv;
                }
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::bias_residual((s1, l1), (s2, l2), (s3, l3))
    }
}
