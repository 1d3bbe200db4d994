//! A convolution in which every output channel reads one input channel: depthwise
//! (`groups = channels`, one filter per channel) or a stem on a one-channel input; bias
//! (the folded batch norm) and activation in the same pass. "Same" padding `(k − 1) / 2`
//! for odd `k`, as EfficientAT's `ConvNormActivation` pads.

use super::{contiguous_f32, Act};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// `[batch, c_in, h, w]` → `[batch, c_out, ho, wo]` with `c_out` a multiple of `c_in`
/// (output channel `c` reads input channel `c / (c_out / c_in)`). `weight`: `[c_out, k, k]`
/// (or `[c_out, 1, k, k]`, PyTorch's layout); `bias`: `[c_out]`.
pub fn depthwise_bias_act(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    stride: usize,
    act: Act,
) -> Result<Tensor> {
    let (_, c_in, _, _) = x.dims4()?;
    let c_out = weight.dim(0)?;
    let k = *weight.dims().last().unwrap_or(&0);
    if stride == 0 || k.is_multiple_of(2) || weight.elem_count() != c_out * k * k {
        candle_core::bail!(
            "depthwise_bias_act: weight {:?} must be [c_out, k, k] with k odd, stride {stride} ≥ 1",
            weight.dims()
        );
    }
    if !c_out.is_multiple_of(c_in) || bias.dims() != [c_out] {
        candle_core::bail!(
            "depthwise_bias_act: {c_out} output channels over {c_in} inputs, bias {:?}",
            bias.dims()
        );
    }
    let op = Depthwise { stride, act, k };
    x.contiguous()?.apply_op3_no_bwd(
        &weight.reshape((c_out, k, k))?.contiguous()?,
        &bias.contiguous()?,
        &op,
    )
}

/// The output size along one axis: `(n + 2p − k) / s + 1`.
pub fn depthwise_output(n: usize, k: usize, stride: usize) -> usize {
    let pad = (k - 1) / 2;
    (n + 2 * pad).saturating_sub(k) / stride + 1
}

pub(super) struct Depthwise {
    pub stride: usize,
    pub act: Act,
    pub k: usize,
}

/// Every size the kernel needs, from the three layouts.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub ho: usize,
    pub wo: usize,
}

impl Depthwise {
    pub(super) fn dims(&self, x: &Layout, w: &Layout) -> Result<Dims> {
        let (batch, c_in, h, wd) = x.shape().dims4()?;
        let c_out = w.shape().dims()[0];
        if h + 2 * self.pad() < self.k || wd + 2 * self.pad() < self.k {
            candle_core::bail!("depthwise_bias_act: a {h}×{wd} map is smaller than the kernel");
        }
        Ok(Dims {
            batch,
            c_in,
            h,
            w: wd,
            c_out,
            ho: depthwise_output(h, self.k, self.stride),
            wo: depthwise_output(wd, self.k, self.stride),
        })
    }

    pub(super) fn pad(&self) -> usize {
        (self.k - 1) / 2
    }
}

impl CustomOp3 for Depthwise {
    fn name(&self) -> &'static str {
        "depthwise_bias_act"
    }

    /// The twin of `gt_depthwise_bias_act`: the same sum in the same order per output
    /// element, a (batch, channel) plane per rayon task.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let x = contiguous_f32(name, "input", s1, l1)?;
        let w = contiguous_f32(name, "weight", s2, l2)?;
        let bias = contiguous_f32(name, "bias", s3, l3)?;
        let d = self.dims(l1, l2)?;
        let (k, stride, pad, act) = (self.k, self.stride as isize, self.pad() as isize, self.act);
        let mult = d.c_out / d.c_in;
        let mut y = vec![0f32; d.batch * d.c_out * d.ho * d.wo];
        y.par_chunks_mut(d.ho * d.wo)
            .enumerate()
            .for_each(|(plane_index, out)| {
                let (b, c) = (plane_index / d.c_out, plane_index % d.c_out);
                let plane = &x[(b * d.c_in + c / mult) * d.h * d.w..][..d.h * d.w];
                let taps = &w[c * k * k..][..k * k];
                for i in 0..d.ho {
                    for j in 0..d.wo {
                        let mut acc = bias[c];
                        for dy in 0..k {
                            let iy = i as isize * stride - pad + dy as isize;
                            if iy < 0 || iy >= d.h as isize {
                                continue;
                            }
                            for dx in 0..k {
                                let ix = j as isize * stride - pad + dx as isize;
                                if ix < 0 || ix >= d.w as isize {
                                    continue;
                                }
                                acc += taps[dy * k + dx] * plane[iy as usize * d.w + ix as usize];
                            }
                        }
                        out[i * d.wo + j] = act.apply(acc);
                    }
                }
            });
        Ok((CpuStorage::F32(y), (d.batch, d.c_out, d.ho, d.wo).into()))
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
        super::cuda::depthwise(self, (s1, l1), (s2, l2), (s3, l3))
    }
}
