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
use std::sync::OnceLock;

/// A filter whose kernel has an L2 norm below this is treated as all-zero: its output is
/// its bias, whatever the input. The published MSD model has 180 of its 204 `[7 × 38]`
/// filters (and 190 of 204 `[7 × 67]`, 48 of 51 `[128 × 1]`) at norms ≤ 1e-10 — dead
/// ReLUs that training decayed to nothing — so skipping them removes most of the
/// front end's arithmetic. The threshold bounds the error per output at
/// `1e-7 · |receptive field|₂`, far below the port's 1e-3 parity budget.
const DEAD_FILTER_NORM: f32 = 1e-7;

/// The live filters, found once: the backbone is frozen, and its variables are only
/// filled in (by a model file load) before the first forward pass.
struct Plan {
    /// `[live, kt·kf]`.
    weight: Tensor,
    /// `[live]`.
    bias: Tensor,
    /// Every filter's output, `[filters]`: the bias where the filter is dead (ignored
    /// where it is live).
    constant: Tensor,
    /// `[filters]` indices into `cat([live outputs, constant])` that restore the filter
    /// order.
    order: Tensor,
    n_live: usize,
}

pub struct BandConv {
    /// `[filters, kt·kf]`: row-major over (frame tap, bin tap), the order TF's
    /// `[kt, kf, 1, filters]` kernel flattens to.
    weight: Tensor,
    bias: Tensor,
    kt: usize,
    kf: usize,
    pad_before: usize,
    pad_after: usize,
    plan: OnceLock<Plan>,
}

impl BandConv {
    pub fn new(filters: usize, kt: usize, kf: usize, pad_before: usize, pad_after: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((filters, kt * kf), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(filters, "bias", Init::Const(0.0))?;
        Ok(Self { weight, bias, kt, kf, pad_before, pad_after, plan: OnceLock::new() })
    }

    /// TF's "same" padding for a kernel of `k` frames: `(k−1)/2` before, the rest after.
    pub fn same(filters: usize, kt: usize, kf: usize, vb: VarBuilder) -> Result<Self> {
        Self::new(filters, kt, kf, (kt - 1) / 2, kt / 2, vb)
    }

    fn plan(&self) -> Result<&Plan> {
        if let Some(p) = self.plan.get() {
            return Ok(p);
        }
        let norms: Vec<f32> = self.weight.sqr()?.sum(1)?.sqrt()?.to_vec1()?;
        let live: Vec<u32> = (0..norms.len() as u32).filter(|&i| norms[i as usize] > DEAD_FILTER_NORM).collect();
        let dead: Vec<u32> = (0..norms.len() as u32).filter(|&i| norms[i as usize] <= DEAD_FILTER_NORM).collect();
        // Position of filter i in cat([live…, all filters as constants…]).
        let mut order = vec![0u32; norms.len()];
        for (pos, &i) in live.iter().enumerate() {
            order[i as usize] = pos as u32;
        }
        for &i in &dead {
            order[i as usize] = (live.len() + i as usize) as u32;
        }
        let dev = self.weight.device();
        let live_idx = Tensor::new(live.as_slice(), dev)?;
        let plan = Plan {
            weight: self.weight.index_select(&live_idx, 0)?.contiguous()?,
            bias: self.bias.index_select(&live_idx, 0)?,
            constant: self.bias.clone(),
            order: Tensor::new(order.as_slice(), dev)?,
            n_live: live.len(),
        };
        Ok(self.plan.get_or_init(|| plan))
    }

    /// `x`: `[batch, T, F]` → the live filters' pre-activation `[batch·T', F', live]`
    /// (bias included), with `(batch, T')`.
    fn forward_live(&self, x: &Tensor, plan: &Plan) -> Result<(Tensor, usize, usize)> {
        let (b, t, f) = x.dims3()?;
        let op = Im2ColBand { kt: self.kt, kf: self.kf, pad_before: self.pad_before, pad_after: self.pad_after };
        let (t_out, f_out) = op.out_dims(t, f)?;
        let cols = x.contiguous()?.apply_op1_no_bwd(&op)?;
        let y = cols.matmul(&plan.weight.t()?)?.broadcast_add(&plan.bias)?;
        Ok((y.reshape((b * t_out, f_out, plan.n_live))?, b, t_out))
    }

    /// Live outputs `[batch, T', live]` and the constant filters back in filter order.
    fn with_dead(&self, live: Tensor, plan: &Plan) -> Result<Tensor> {
        let (b, t, _) = live.dims3()?;
        let constant = plan.constant.reshape((1, 1, ()))?.broadcast_as((b, t, plan.constant.dim(0)?))?;
        Tensor::cat(&[&live, &constant.contiguous()?], 2)?.contiguous()?.index_select(&plan.order, 2)
    }

    /// Pre-activation max and min over frequency, `[batch, T', filters]` each — all the
    /// front end needs, see [`super::bn::TfBatchNorm::relu_bn_of_max`].
    pub fn forward_freq_extrema(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let plan = self.plan()?;
        let (y, b, t) = self.forward_live(x, plan)?;
        let n = plan.n_live;
        let both = y.apply_op1_no_bwd(&MaxOverRows)?;
        let (hi, lo) = (both.narrow(1, 0, n)?, both.narrow(1, n, n)?);
        Ok((self.with_dead(hi.reshape((b, t, n))?, plan)?, self.with_dead(lo.reshape((b, t, n))?, plan)?))
    }

    /// For a kernel as wide as the input (`F' = 1`): `[batch, T', filters]`.
    pub fn forward_full_width(&self, x: &Tensor) -> Result<Tensor> {
        let plan = self.plan()?;
        let (y, b, t) = self.forward_live(x, plan)?;
        self.with_dead(y.reshape((b, t, plan.n_live))?, plan)
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

/// `[n, rows, c]` → `[n, 2·c]`: per `n`, the column-wise max (first `c`) and min (last
/// `c`) over `rows`. candle reduces one axis per pass, and over a middle axis it walks
/// strided; this makes one contiguous pass for both.
struct MaxOverRows;

impl CustomOp1 for MaxOverRows {
    fn name(&self) -> &'static str {
        "extrema_over_rows"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, rows, c) = l.shape().dims3()?;
        let CpuStorage::F32(v) = s else { bail!("extrema_over_rows: only f32 is supported") };
        let Some((o0, o1)) = l.contiguous_offsets() else { bail!("extrema_over_rows: input must be contiguous") };
        let x = &v[o0..o1];
        let mut out = vec![0f32; n * 2 * c];
        out.par_chunks_mut(2 * c).zip(x.par_chunks(rows * c)).for_each(|(o, block)| {
            let (hi, lo) = o.split_at_mut(c);
            hi.copy_from_slice(&block[..c]);
            lo.copy_from_slice(&block[..c]);
            for row in block.chunks_exact(c).skip(1) {
                for ((h, l), &v) in hi.iter_mut().zip(lo.iter_mut()).zip(row) {
                    *h = h.max(v);
                    *l = l.min(v);
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((n, 2 * c))))
    }
}
