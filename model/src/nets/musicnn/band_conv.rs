//! The one convolution shape musicnn uses everywhere: a single-channel `[time × freq]`
//! image `[batch, T, F]`, a kernel spanning `kt` frames and `kf` bins, zero padding in
//! time only, "valid" in frequency. The timbral filters (`[7 × 38]`, `[7 × 67]` over 96
//! mels), the temporal ones (`[128 × 1]` … over 96 mels) and the mid end (`[7 × C]` over
//! a `[T, C]` feature map, i.e. a 1-D conv with C input channels) are all this.
//!
//! Written as im2col + one GEMM because that is what is fast on a CPU for these shapes
//! (M = T·F' rows of K = kt·kf taps by 51–204 filters); candle's `conv2d` would first
//! need the image in NCHW with the kernel transposed and runs its own, slower, im2col
//! for a single input channel. Inference only: musicnn's weights stay frozen.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use candle_nn::{Init, VarBuilder};
use rayon::prelude::*;

pub struct BandConv {
    /// `[filters, kt·kf]`: row-major over (frame tap, bin tap), the order TF's
    /// `[kt, kf, 1, filters]` kernel flattens to.
    weight: Tensor,
    bias: Tensor,
    kt: usize,
    kf: usize,
    pad_before: usize,
    pad_after: usize,
}

impl BandConv {
    pub fn new(filters: usize, kt: usize, kf: usize, pad_before: usize, pad_after: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((filters, kt * kf), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(filters, "bias", Init::Const(0.0))?;
        Ok(Self { weight, bias, kt, kf, pad_before, pad_after })
    }

    /// TF's "same" padding for a kernel of `k` frames: `(k−1)/2` before, the rest after.
    pub fn same(filters: usize, kt: usize, kf: usize, vb: VarBuilder) -> Result<Self> {
        Self::new(filters, kt, kf, (kt - 1) / 2, kt / 2, vb)
    }

    /// `x`: `[batch, T, F]` → pre-activation `[batch, T', F', filters]` (bias included).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, f) = x.dims3()?;
        let op = Im2ColBand { kt: self.kt, kf: self.kf, pad_before: self.pad_before, pad_after: self.pad_after };
        let (t_out, f_out) = op.out_dims(t, f)?;
        let cols = x.contiguous()?.apply_op1_no_bwd(&op)?;
        let y = cols.matmul(&self.weight.t()?)?.broadcast_add(&self.bias)?;
        y.reshape((b, t_out, f_out, self.weight.dim(0)?))
    }

    /// Pre-activation max and min over frequency, `[batch, T', filters]` each — all the
    /// front end needs, see [`super::bn::TfBatchNorm::relu_bn_of_max`].
    pub fn forward_freq_extrema(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let y = self.forward(x)?;
        Ok((y.max(2)?, y.min(2)?))
    }

    /// For a kernel as wide as the input (`F' = 1`): `[batch, T', filters]`.
    pub fn forward_full_width(&self, x: &Tensor) -> Result<Tensor> {
        self.forward(x)?.squeeze(2)
    }
}

struct Im2ColBand {
    kt: usize,
    kf: usize,
    pad_before: usize,
    pad_after: usize,
}

impl Im2ColBand {
    fn out_dims(&self, t: usize, f: usize) -> Result<(usize, usize)> {
        let t_pad = t + self.pad_before + self.pad_after;
        if t_pad < self.kt || f < self.kf {
            bail!("band conv: kernel [{} x {}] larger than padded input [{t_pad} x {f}]", self.kt, self.kf);
        }
        Ok((t_pad - self.kt + 1, f - self.kf + 1))
    }
}

impl CustomOp1 for Im2ColBand {
    fn name(&self) -> &'static str {
        "im2col_band"
    }

    /// `[b, T, F]` → `[b·T'·F', kt·kf]`; row `(b, t, f)` holds the kernel's receptive field
    /// for output `(t, f)`, zeros where it reaches into the time padding.
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, t, f) = l.shape().dims3()?;
        let CpuStorage::F32(v) = s else { bail!("im2col_band: only f32 is supported") };
        let Some((o0, o1)) = l.contiguous_offsets() else { bail!("im2col_band: input must be contiguous") };
        let x = &v[o0..o1];
        let (t_out, f_out) = self.out_dims(t, f)?;
        let (kt, kf, k) = (self.kt, self.kf, self.kt * self.kf);
        let mut out = vec![0f32; b * t_out * f_out * k];
        // One chunk per output frame: its F' rows of K taps.
        out.par_chunks_mut(f_out * k).enumerate().for_each(|(bt, rows)| {
            let (bi, to) = (bt / t_out, bt % t_out);
            let img = &x[bi * t * f..(bi + 1) * t * f];
            for i in 0..kt {
                // Source frame of tap i; outside 0..t it is padding (zeros, already there).
                let Some(src_t) = (to + i).checked_sub(self.pad_before).filter(|&s| s < t) else { continue };
                let src = &img[src_t * f..(src_t + 1) * f];
                for fo in 0..f_out {
                    rows[fo * k + i * kf..fo * k + (i + 1) * kf].copy_from_slice(&src[fo..fo + kf]);
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((b * t_out * f_out, k))))
    }
}
