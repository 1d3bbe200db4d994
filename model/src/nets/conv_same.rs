//! A "same" convolution with an odd `kh × kw` kernel (stride 1, zero padding `kh/2`, `kw/2`)
//! written as im2col + one matrix product. A "valid" convolution is its interior
//! ([`ConvSame::forward_valid`]).
//!
//! candle's CPU `conv2d` backward runs `conv_transpose2d`, a direct loop, and building the
//! im2col matrix from candle's own `narrow`/`stack` is worse still (each `narrow` backward
//! allocates a zero tensor and concatenates). So the im2col step is a small custom op with
//! a hand-written col2im backward — plain strided copies, parallel over (batch, channel) —
//! and the arithmetic is one GEMM each way. The weights keep candle's `[out, in, kh, kw]`
//! layout and names, so model files are interchangeable with `candle_nn::Conv2d`, which
//! is what runs off the CPU.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use candle_nn::{Init, VarBuilder};
use rayon::prelude::*;

pub struct ConvSame {
    weight: Tensor,
    bias: Tensor,
    c_out: usize,
    kernel: Kernel,
}

/// A kernel's height and width (both odd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kernel {
    h: usize,
    w: usize,
}

impl Kernel {
    fn taps(self) -> usize {
        self.h * self.w
    }
}

impl ConvSame {
    /// A convolution with a `(kh, kw)` kernel; both must be odd (a "same" output needs a
    /// centre tap).
    pub fn new(
        c_in: usize,
        c_out: usize,
        (kh, kw): (usize, usize),
        vb: VarBuilder,
    ) -> Result<Self> {
        if kh % 2 == 0 || kw % 2 == 0 {
            bail!("ConvSame needs an odd kernel, got {kh}×{kw}");
        }
        let weight = vb.get_with_hints(
            (c_out, c_in, kh, kw),
            "weight",
            candle_nn::init::DEFAULT_KAIMING_NORMAL,
        )?;
        let bias = vb.get_with_hints(c_out, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            c_out,
            kernel: Kernel { h: kh, w: kw },
        })
    }

    /// `x`: `[batch, c_in, h, w]` → `[batch, c_out, h, w]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, &self.weight, &self.bias)
    }

    /// The "valid" convolution (no padding): `[batch, c_in, h, w]` →
    /// `[batch, c_out, h − kh + 1, w − kw + 1]`, the interior of the "same" output.
    pub fn forward_valid(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let (kh, kw) = (self.kernel.h, self.kernel.w);
        if h < kh || w < kw {
            bail!("a {h}×{w} input is smaller than the {kh}×{kw} kernel");
        }
        self.forward(x)?
            .narrow(2, kh / 2, h - kh + 1)?
            .narrow(3, kw / 2, w - kw + 1)
    }

    /// Inference with a batch norm folded in: `bn(conv(x))` as one convolution whose
    /// kernel and bias absorb the norm's scale and shift, which saves four full passes
    /// over the activations per block.
    pub fn forward_folded(&self, x: &Tensor, bn: &candle_nn::BatchNorm) -> Result<Tensor> {
        let (weight, bias) = self.folded(bn)?;
        self.forward_with(x, &weight, &bias)
    }

    /// The kernel `[out, in, kh, kw]` and bias `[out]` of `bn(conv(·))` with the norm's
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
            return self.candle_conv(x, weight, bias);
        }
        let (b, c, h, w) = x.dims4()?;
        let taps = self.kernel.taps();
        // [b, c·taps, h·w]; column index c·taps + tap matches the row-major
        // `[out, in, kh, kw]` kernel.
        let cols = x.contiguous()?.apply_op1(Im2Col(self.kernel))?;
        let k = weight.reshape((self.c_out, c * taps))?;
        let y = k.broadcast_left(b)?.matmul(&cols)?;
        y.broadcast_add(&bias.reshape((1, self.c_out, 1))?)?
            .reshape((b, self.c_out, h, w))
    }
}

impl ConvSame {
    /// The same convolution through candle's `conv2d`, whose one padding is for both axes,
    /// so the input is padded per axis first.
    fn candle_conv(&self, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
        let (ph, pw) = (self.kernel.h / 2, self.kernel.w / 2);
        let x = x.pad_with_zeros(2, ph, ph)?.pad_with_zeros(3, pw, pw)?;
        x.conv2d(weight, 0, 1, 1, 1)?
            .broadcast_add(&bias.reshape((1, self.c_out, 1, 1))?)
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

/// Output positions `lo..hi` along one axis of length `n` whose tap `d` of a `k`-tap
/// kernel (centre `k/2`) reads inside the input: the input index is `y + d − k/2`.
#[inline]
fn range(d: usize, k: usize, n: usize) -> (usize, usize) {
    let c = k / 2;
    let lo = c.saturating_sub(d);
    let hi = (n + c).saturating_sub(d).min(n);
    (lo, hi.max(lo))
}

struct Im2Col(Kernel);

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l.shape().dims4()?;
        let x = f32_slice(s, l, "im2col")?;
        let Kernel { h: kh, w: kw } = self.0;
        let (taps, hw) = (self.0.taps(), h * w);
        let mut out = vec![0f32; b * c * taps * hw];
        out.par_chunks_mut(taps * hw)
            .zip(x.par_chunks(hw))
            .for_each(|(dst, src)| {
                for dy in 0..kh {
                    let (y0, y1) = range(dy, kh, h);
                    for dx in 0..kw {
                        let (x0, x1) = range(dx, kw, w);
                        if x0 >= x1 {
                            continue;
                        }
                        let plane = &mut dst[(dy * kw + dx) * hw..(dy * kw + dx + 1) * hw];
                        for y in y0..y1 {
                            let sy = y + dy - kh / 2;
                            let (sx0, sx1) = (x0 + dx - kw / 2, x1 + dx - kw / 2);
                            plane[y * w + x0..y * w + x1]
                                .copy_from_slice(&src[sy * w + sx0..sy * w + sx1]);
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b, c * taps, hw))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Col2Im {
            kernel: self.0,
            h,
            w,
        })?))
    }
}

/// The adjoint of [`Im2Col`]: sums each tap's plane back onto the image.
struct Col2Im {
    kernel: Kernel,
    h: usize,
    w: usize,
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, ct, hw) = l.shape().dims3()?;
        let Kernel { h: kh, w: kw } = self.kernel;
        let taps = self.kernel.taps();
        let (h, w, c) = (self.h, self.w, ct / taps);
        let g = f32_slice(s, l, "col2im")?;
        let mut out = vec![0f32; b * c * hw];
        out.par_chunks_mut(hw)
            .zip(g.par_chunks(taps * hw))
            .for_each(|(dst, src)| {
                for dy in 0..kh {
                    let (y0, y1) = range(dy, kh, h);
                    for dx in 0..kw {
                        let (x0, x1) = range(dx, kw, w);
                        if x0 >= x1 {
                            continue;
                        }
                        let plane = &src[(dy * kw + dx) * hw..(dy * kw + dx + 1) * hw];
                        for y in y0..y1 {
                            let sy = y + dy - kh / 2;
                            let (sx0, sx1) = (x0 + dx - kw / 2, x1 + dx - kw / 2);
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
        let conv = ConvSame {
            weight: Tensor::randn(0f32, 1.0, (4, 2, 3, 3), &dev)?,
            bias: Tensor::randn(0f32, 1.0, 4, &dev)?,
            c_out: 4,
            kernel: Kernel { h: 3, w: 3 },
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

    /// candle's `conv2d` pads both axes alike, so a `kh × kw` "same" convolution is its
    /// output with padding `max(kh, kw)/2`, cut to the input's size.
    #[test]
    fn matches_candle_conv2d_forward_and_gradients() -> Result<()> {
        let dev = Device::Cpu;
        for kernel in [(3, 3), (3, 5), (1, 3), (5, 1)] {
            let vm = VarMap::new();
            let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
            let ours = ConvSame::new(3, 5, kernel, vb.pp("c"))?;
            compare_with_candle(&ours, kernel)?;
        }
        Ok(())
    }

    fn compare_with_candle(ours: &ConvSame, kernel: (usize, usize)) -> Result<()> {
        let dev = Device::Cpu;
        for (h, w) in [(7, 9), (1, 1), (2, 5)] {
            let x = candle_core::Var::randn(0f32, 1.0, (2, 3, h, w), &dev)?;
            let (a, b) = (
                ours.forward(&x)?,
                ours.candle_conv(&x, &ours.weight, &ours.bias)?,
            );
            let diff = (&a - &b)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "{h}x{w}: forward differs by {diff}");
            let ga = a.sqr()?.sum_all()?.backward()?;
            let gb = b.sqr()?.sum_all()?.backward()?;
            for t in [&ours.weight, &ours.bias, x.as_tensor()] {
                let d = (ga.get(t).unwrap() - gb.get(t).unwrap())?
                    .abs()?
                    .max_all()?
                    .to_scalar::<f32>()?;
                assert!(d < 1e-3, "{kernel:?} on {h}x{w}: gradient differs by {d}");
            }
        }
        Ok(())
    }

    #[test]
    fn valid_is_candles_unpadded_convolution() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let ours = ConvSame::new(2, 4, (3, 5), VarBuilder::from_varmap(&vm, DType::F32, &dev))?;
        let x = Tensor::randn(0f32, 1.0, (2, 2, 8, 11), &dev)?;
        let a = ours.forward_valid(&x)?;
        let b = candle_nn::Conv2d::new(
            ours.weight.clone(),
            Some(ours.bias.clone()),
            Default::default(),
        )
        .forward(&x)?;
        assert_eq!(a.dims(), &[2, 4, 6, 7]);
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-4, "{diff}");
        assert!(ours.forward_valid(&x.narrow(3, 0, 4)?).is_err());
        Ok(())
    }

    #[test]
    fn even_kernels_are_refused() {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        assert!(ConvSame::new(1, 1, (2, 3), vb).is_err());
    }
}
