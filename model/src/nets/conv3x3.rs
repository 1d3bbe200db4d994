//! A 3×3 "same" convolution written as im2col + one matrix product.
//!
//! candle's CPU `conv2d` backward runs `conv_transpose2d`, a direct loop, and building the
//! im2col matrix from candle's own `narrow`/`stack` is worse still (each `narrow` backward
//! allocates a zero tensor and concatenates). So the im2col step is a small custom op with
//! a hand-written col2im backward — plain strided copies, parallel over (batch, channel) —
//! and the arithmetic is one GEMM each way. The weights keep candle's `[out, in, 3, 3]`
//! layout and names, so model files are interchangeable with `candle_nn::Conv2d`, which
//! is what runs off the CPU.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use candle_nn::{Init, VarBuilder};
use rayon::prelude::*;

pub struct Conv3x3 {
    weight: Tensor,
    bias: Tensor,
    c_out: usize,
}

impl Conv3x3 {
    pub fn new(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints(
            (c_out, c_in, 3, 3),
            "weight",
            candle_nn::init::DEFAULT_KAIMING_NORMAL,
        )?;
        let bias = vb.get_with_hints(c_out, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            c_out,
        })
    }

    /// `x`: `[batch, c_in, h, w]` → `[batch, c_out, h, w]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, &self.weight, &self.bias)
    }

    /// Inference with a batch norm folded in: `bn(conv(x))` as one convolution whose
    /// kernel and bias absorb the norm's scale and shift, which saves four full passes
    /// over the activations per block.
    pub fn forward_folded(&self, x: &Tensor, bn: &candle_nn::BatchNorm) -> Result<Tensor> {
        let (weight, bias) = self.folded(bn)?;
        self.forward_with(x, &weight, &bias)
    }

    /// The kernel `[out, in, 3, 3]` and bias `[out]` of `bn(conv(·))` with the norm's
    /// running statistics. Folded afresh on every call (≈ 100 k multiplies for the seed
    /// CNN) so that a network evaluated between training steps never sees stale weights.
    pub fn folded(&self, bn: &candle_nn::BatchNorm) -> Result<(Tensor, Tensor)> {
        let inv_std = (bn.running_var() + bn.eps())?.sqrt()?.recip()?;
        let (scale, shift) = match bn.weight_and_bias() {
            Some((g, b)) => ((g * &inv_std)?, b.clone()),
            None => (inv_std.clone(), inv_std.zeros_like()?),
        };
        let weight = self
            .weight
            .broadcast_mul(&scale.reshape((self.c_out, 1, 1, 1))?)?;
        let bias = ((&self.bias - bn.running_mean())? * &scale)?.add(&shift)?;
        Ok((weight, bias))
    }

    fn forward_with(&self, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        if !x.device().is_cpu() {
            // The im2col op below is CPU code; a GPU has candle's own convolution.
            return x
                .conv2d(weight, 1, 1, 1, 1)?
                .broadcast_add(&bias.reshape((1, self.c_out, 1, 1))?);
        }
        let (b, c, h, w) = x.dims4()?;
        // [b, c·9, h·w]; column index c·9 + tap matches the row-major `[out, in, 3, 3]` kernel.
        let cols = x.contiguous()?.apply_op1(Im2Col3x3)?;
        let k = weight.reshape((self.c_out, c * 9))?;
        let y = k.broadcast_left(b)?.matmul(&cols)?;
        y.broadcast_add(&bias.reshape((1, self.c_out, 1))?)?
            .reshape((b, self.c_out, h, w))
    }
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("{op}: only f32 is supported")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// Valid output range along one axis for tap offset `d` (0, 1, 2 ↔ −1, 0, +1).
#[inline]
fn range(d: usize, n: usize) -> (usize, usize) {
    match d {
        0 => (1, n),
        1 => (0, n),
        _ => (0, n.saturating_sub(1)),
    }
}

struct Im2Col3x3;

impl CustomOp1 for Im2Col3x3 {
    fn name(&self) -> &'static str {
        "im2col3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l.shape().dims4()?;
        let x = f32_slice(s, l, "im2col3x3")?;
        let hw = h * w;
        let mut out = vec![0f32; b * c * 9 * hw];
        out.par_chunks_mut(9 * hw)
            .zip(x.par_chunks(hw))
            .for_each(|(dst, src)| {
                for dy in 0..3 {
                    let (y0, y1) = range(dy, h);
                    for dx in 0..3 {
                        let (x0, x1) = range(dx, w);
                        let plane = &mut dst[(dy * 3 + dx) * hw..(dy * 3 + dx + 1) * hw];
                        for y in y0..y1 {
                            let sy = y + dy - 1;
                            let (sx0, sx1) = (x0 + dx - 1, x1 + dx - 1);
                            plane[y * w + x0..y * w + x1]
                                .copy_from_slice(&src[sy * w + sx0..sy * w + sx1]);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b, c * 9, hw))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        Ok(Some(
            grad.contiguous()?.apply_op1_no_bwd(&Col2Im3x3 { h, w })?,
        ))
    }
}

/// The adjoint of [`Im2Col3x3`]: sums each tap's plane back onto the image.
struct Col2Im3x3 {
    h: usize,
    w: usize,
}

impl CustomOp1 for Col2Im3x3 {
    fn name(&self) -> &'static str {
        "col2im3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c9, hw) = l.shape().dims3()?;
        let (h, w, c) = (self.h, self.w, c9 / 9);
        let g = f32_slice(s, l, "col2im3x3")?;
        let mut out = vec![0f32; b * c * hw];
        out.par_chunks_mut(hw)
            .zip(g.par_chunks(9 * hw))
            .for_each(|(dst, src)| {
                for dy in 0..3 {
                    let (y0, y1) = range(dy, h);
                    for dx in 0..3 {
                        let (x0, x1) = range(dx, w);
                        let plane = &src[(dy * 3 + dx) * hw..(dy * 3 + dx + 1) * hw];
                        for y in y0..y1 {
                            let sy = y + dy - 1;
                            let (sx0, sx1) = (x0 + dx - 1, x1 + dx - 1);
                            for (d, s) in dst[sy * w + sx0..sy * w + sx1]
                                .iter_mut()
                                .zip(&plane[y * w + x0..y * w + x1])
                            {
                                *d += s;
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b, c, h, w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Module};
    use candle_nn::VarMap;

    #[test]
    fn folded_batch_norm_equals_conv_then_norm() -> Result<()> {
        use candle_core::ModuleT;
        let dev = Device::Cpu;
        let conv = Conv3x3 {
            weight: Tensor::randn(0f32, 1.0, (4, 2, 3, 3), &dev)?,
            bias: Tensor::randn(0f32, 1.0, 4, &dev)?,
            c_out: 4,
        };
        let bn = candle_nn::BatchNorm::new(
            4,
            Tensor::randn(0f32, 1.0, 4, &dev)?,
            Tensor::rand(0.5f32, 2.0, 4, &dev)?,
            Tensor::randn(1f32, 0.2, 4, &dev)?,
            Tensor::randn(0f32, 1.0, 4, &dev)?,
            1e-5,
        )?;
        let x = Tensor::randn(0f32, 1.0, (3, 2, 6, 5), &dev)?;
        let a = bn.forward_t(&conv.forward(&x)?, false)?;
        let b = conv.forward_folded(&x, &bn)?;
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-4, "{diff}");
        Ok(())
    }

    #[test]
    fn matches_candle_conv2d_forward_and_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let ours = Conv3x3::new(3, 5, vb.pp("c"))?;
        let theirs = candle_nn::Conv2d::new(
            ours.weight.clone(),
            Some(ours.bias.clone()),
            candle_nn::Conv2dConfig {
                padding: 1,
                ..Default::default()
            },
        );
        for (h, w) in [(7, 9), (1, 1), (2, 5)] {
            let x = candle_core::Var::randn(0f32, 1.0, (2, 3, h, w), &dev)?;
            let (a, b) = (ours.forward(&x)?, theirs.forward(&x)?);
            let diff = (&a - &b)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "{h}x{w}: forward differs by {diff}");
            let ga = a.sqr()?.sum_all()?.backward()?;
            let gb = b.sqr()?.sum_all()?.backward()?;
            for t in [&ours.weight, &ours.bias, x.as_tensor()] {
                let d = (ga.get(t).unwrap() - gb.get(t).unwrap())?
                    .abs()?
                    .max_all()?
                    .to_scalar::<f32>()?;
                assert!(d < 1e-3, "{h}x{w}: gradient differs by {d}");
            }
        }
        Ok(())
    }
}
