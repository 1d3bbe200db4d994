//! The one convolution shape musicnn uses everywhere: a single-channel `[time × freq]`
//! image `[batch, T, F]`, a kernel spanning `kt` frames and `kf` bins, zero padding in
//! time only, "valid" in frequency. The timbral filters (`[7 × 38]`, `[7 × 67]` over 96
//! mels), the temporal ones (`[128 × 1]` … over 96 mels) and the mid end (`[7 × C]` over
//! a `[T, C]` feature map, i.e. a 1-D conv with C input channels) are all this.
//!
//! Written by hand, as blocked im2col + GEMM (the `gemm` crate candle itself uses) +
//! the frequency max/min, fused in one pass per block of 8 frames: the block's im2col
//! matrix (≤ 0.6 MB) stays in cache and is reused, and the `[T, F', filters]`
//! pre-activation map is never materialised. Going through candle (`conv2d`, or a
//! whole-patch im2col and `matmul`) spent over half its time outside the GEMM — zeroing
//! and page-faulting a fresh 12 MB matrix per call, a bias pass and a strided max over the
//! full map (profiled with `perf` on `cargo bench -p model --bench musicnn`).
//! That kernel is CPU code; [`Kernels::CandleOps`] is the same convolution through
//! candle's `conv2d`, which every device runs. Inference only: musicnn's weights stay
//! frozen.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use candle_nn::{Init, VarBuilder};
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// A filter whose kernel has an L2 norm below this is treated as all-zero: its output is
/// its bias, whatever the input. The published MSD model has 180 of its 204 `[7 × 38]`
/// filters (and 190 of 204 `[7 × 67]`, 48 of 51 `[128 × 1]`) at norms ≤ 1e-10 — dead
/// ReLUs that training decayed to nothing — so skipping them removes most of the
/// front end's arithmetic. The threshold bounds the error per output at
/// `1e-7 · |receptive field|₂`, far below the port's 1e-3 parity budget.
const DEAD_FILTER_NORM: f32 = 1e-7;

/// Which implementation a forward pass takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// The fused CPU kernel below (dead filters skipped).
    Fused,
    /// candle's `conv2d` and reductions, on any device (every filter computed).
    CandleOps,
}

impl Kernels {
    /// The fused kernel where it can run, candle's ops elsewhere.
    pub fn for_device(device: &candle_core::Device) -> Self {
        if device.is_cpu() {
            Kernels::Fused
        } else {
            Kernels::CandleOps
        }
    }
}

/// Output frames per GEMM block.
const BLOCK_FRAMES: usize = 8;

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

/// The live filters, found once: the backbone is frozen, and its variables are only
/// filled in (by a model file load) before the first forward pass.
struct Plan {
    /// `[kt·kf, live]` row-major: the GEMM's right-hand side.
    w_kc: Vec<f32>,
    /// `[live]`.
    bias: Vec<f32>,
    n_live: usize,
    /// Every filter's output, `[filters]`: the bias where the filter is dead (ignored
    /// where it is live).
    constant: Tensor,
    /// `[filters]` indices into `cat([live outputs, constant])` that restore the filter
    /// order.
    order: Tensor,
}

impl BandConv {
    pub fn new(
        filters: usize,
        kt: usize,
        kf: usize,
        pad_before: usize,
        pad_after: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let weight = vb.get_with_hints((filters, kt * kf), "weight", Init::Const(0.0))?;
        let bias = vb.get_with_hints(filters, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            kt,
            kf,
            pad_before,
            pad_after,
            plan: OnceLock::new(),
        })
    }

    /// TF's "same" padding for a kernel of `k` frames: `(k−1)/2` before, the rest after.
    pub fn same(filters: usize, kt: usize, kf: usize, vb: VarBuilder) -> Result<Self> {
        Self::new(filters, kt, kf, (kt - 1) / 2, kt / 2, vb)
    }

    fn plan(&self) -> Result<&Plan> {
        if let Some(p) = self.plan.get() {
            return Ok(p);
        }
        let w: Vec<Vec<f32>> = self.weight.to_vec2()?;
        let bias: Vec<f32> = self.bias.to_vec1()?;
        let live: Vec<usize> = (0..w.len())
            .filter(|&i| w[i].iter().map(|v| v * v).sum::<f32>().sqrt() > DEAD_FILTER_NORM)
            .collect();
        let k = self.kt * self.kf;
        let mut w_kc = vec![0f32; k * live.len()];
        for (j, &i) in live.iter().enumerate() {
            for (r, &v) in w[i].iter().enumerate() {
                w_kc[r * live.len() + j] = v;
            }
        }
        // Position of filter i in cat([live…, every filter as a constant…]).
        let mut order: Vec<u32> = (0..w.len()).map(|i| (live.len() + i) as u32).collect();
        for (pos, &i) in live.iter().enumerate() {
            order[i] = pos as u32;
        }
        let dev = self.weight.device();
        let plan = Plan {
            w_kc,
            bias: live.iter().map(|&i| bias[i]).collect(),
            n_live: live.len(),
            constant: self.bias.clone(),
            order: Tensor::new(order.as_slice(), dev)?,
        };
        Ok(self.plan.get_or_init(|| plan))
    }

    fn op<'a>(&self, plan: &'a Plan, extrema: bool) -> FusedBandConv<'a> {
        FusedBandConv {
            plan,
            kt: self.kt,
            kf: self.kf,
            pad_before: self.pad_before,
            pad_after: self.pad_after,
            extrema,
        }
    }

    /// Live outputs `[batch, T', live]` and the constant filters, back in filter order.
    fn with_dead(&self, live: Tensor, plan: &Plan) -> Result<Tensor> {
        let (b, t, _) = live.dims3()?;
        let constant = plan
            .constant
            .reshape((1, 1, ()))?
            .broadcast_as((b, t, plan.constant.dim(0)?))?
            .contiguous()?;
        Tensor::cat(&[&live, &constant], 2)?.index_select(&plan.order, 2)
    }

    /// The convolution through candle's ops: `[batch, T, F]` → `[batch, filters, T', F']`.
    fn conv_candle(&self, x: &Tensor) -> Result<Tensor> {
        let filters = self.weight.dim(0)?;
        let kernel = self.weight.reshape((filters, 1, self.kt, self.kf))?;
        x.pad_with_zeros(1, self.pad_before, self.pad_after)?
            .unsqueeze(1)?
            .conv2d(&kernel, 0, 1, 1, 1)?
            .broadcast_add(&self.bias.reshape((1, filters, 1, 1))?)
    }

    /// `x`: `[batch, T, F]` → pre-activation max and min over frequency, `[batch, T',
    /// filters]` each — all the front end needs, see
    /// [`super::bn::TfBatchNorm::relu_bn_of_max`].
    pub fn forward_freq_extrema(&self, x: &Tensor, kernels: Kernels) -> Result<(Tensor, Tensor)> {
        if kernels == Kernels::CandleOps {
            let y = self.conv_candle(x)?;
            let hi = y.max(3)?.transpose(1, 2)?.contiguous()?;
            let lo = y.min(3)?.transpose(1, 2)?.contiguous()?;
            return Ok((hi, lo));
        }
        let plan = self.plan()?;
        let both = x.contiguous()?.apply_op1_no_bwd(&self.op(plan, true))?;
        let n = plan.n_live;
        let (hi, lo) = (
            both.narrow(2, 0, n)?.contiguous()?,
            both.narrow(2, n, n)?.contiguous()?,
        );
        Ok((self.with_dead(hi, plan)?, self.with_dead(lo, plan)?))
    }

    /// For a kernel as wide as the input (`F' = 1`): `[batch, T', filters]`.
    pub fn forward_full_width(&self, x: &Tensor, kernels: Kernels) -> Result<Tensor> {
        if kernels == Kernels::CandleOps {
            let y = self.conv_candle(x)?;
            if y.dim(3)? != 1 {
                bail!(
                    "band conv: a full-width conv needs kf == F, got {}",
                    self.kf
                );
            }
            return y.squeeze(3)?.transpose(1, 2)?.contiguous();
        }
        let plan = self.plan()?;
        let y = x.contiguous()?.apply_op1_no_bwd(&self.op(plan, false))?;
        self.with_dead(y, plan)
    }
}

/// im2col + GEMM + bias (+ max/min over frequency), block by block.
struct FusedBandConv<'a> {
    plan: &'a Plan,
    kt: usize,
    kf: usize,
    pad_before: usize,
    pad_after: usize,
    /// Reduce over frequency to `[max…, min…]`; else `F'` must be 1.
    extrema: bool,
}

thread_local! {
    /// Per-thread im2col and GEMM-output blocks, reused across calls (a worker thread
    /// tags for hours; these are its only sizeable buffers).
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> =
        const { RefCell::new((Vec::new(), Vec::new())) };
}

impl FusedBandConv<'_> {
    fn out_dims(&self, t: usize, f: usize) -> Result<(usize, usize)> {
        let t_pad = t + self.pad_before + self.pad_after;
        if t_pad < self.kt || f < self.kf {
            bail!(
                "band conv: kernel [{} x {}] larger than padded input [{t_pad} x {f}]",
                self.kt,
                self.kf
            );
        }
        Ok((t_pad - self.kt + 1, f - self.kf + 1))
    }

    /// Fills `cols` with the receptive fields of the output frames `out_frames`: row
    /// `(frame, f)` holds taps `(i, j)` at `i·kf + j`, zeros where a tap reaches into the
    /// time padding.
    fn im2col(
        &self,
        img: &[f32],
        t: usize,
        f: usize,
        f_out: usize,
        out_frames: std::ops::Range<usize>,
        cols: &mut [f32],
    ) {
        let (kt, kf, k) = (self.kt, self.kf, self.kt * self.kf);
        let (t0, frames) = (out_frames.start, out_frames.len());
        for dt in 0..frames {
            let rows = &mut cols[dt * f_out * k..(dt + 1) * f_out * k];
            for i in 0..kt {
                let src_t = (t0 + dt + i)
                    .checked_sub(self.pad_before)
                    .filter(|&s| s < t);
                for fo in 0..f_out {
                    let dst = &mut rows[fo * k + i * kf..fo * k + (i + 1) * kf];
                    match src_t {
                        Some(s) => dst.copy_from_slice(&img[s * f + fo..s * f + fo + kf]),
                        None => dst.fill(0.0),
                    }
                }
            }
        }
    }
}

impl CustomOp1 for FusedBandConv<'_> {
    fn name(&self) -> &'static str {
        "musicnn_band_conv"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, t, f) = l.shape().dims3()?;
        let CpuStorage::F32(v) = s else {
            bail!("musicnn_band_conv: only f32 is supported")
        };
        let Some((o0, o1)) = l.contiguous_offsets() else {
            bail!("musicnn_band_conv: input must be contiguous")
        };
        let x = &v[o0..o1];
        let (t_out, f_out) = self.out_dims(t, f)?;
        if !self.extrema && f_out != 1 {
            bail!(
                "musicnn_band_conv: a full-width conv needs kf == F, got {} and {f}",
                self.kf
            );
        }
        let (c, k) = (self.plan.n_live, self.kt * self.kf);
        let per_frame = if self.extrema { 2 * c } else { c };
        let mut out = vec![0f32; b * t_out * per_frame];
        // Blocks never straddle two patches: frame index within its patch decides t0.
        let blocks_per_patch = t_out.div_ceil(BLOCK_FRAMES);
        let chunks: Vec<(usize, usize, &mut [f32])> = out
            .chunks_mut(t_out * per_frame)
            .enumerate()
            .flat_map(|(bi, patch)| {
                patch
                    .chunks_mut(BLOCK_FRAMES * per_frame)
                    .enumerate()
                    .map(move |(j, o)| (bi, j, o))
            })
            .collect();
        debug_assert_eq!(chunks.len(), b * blocks_per_patch);
        chunks.into_par_iter().for_each(|(bi, j, o)| {
            let (t0, frames) = (j * BLOCK_FRAMES, o.len() / per_frame);
            let img = &x[bi * t * f..(bi + 1) * t * f];
            SCRATCH.with_borrow_mut(|(cols, y)| {
                let m = frames * f_out;
                cols.resize(m * k, 0.0);
                y.resize(m * c, 0.0);
                self.im2col(img, t, f, f_out, t0..t0 + frames, cols);
                if c > 0 {
                    // SAFETY: `cols` is m×k, `w_kc` k×c and `y` m×c, all row-major and
                    // exactly that long; no aliasing.
                    unsafe {
                        gemm::gemm(
                            m,
                            c,
                            k,
                            y.as_mut_ptr(),
                            1,
                            c as isize,
                            false,
                            cols.as_ptr(),
                            1,
                            k as isize,
                            self.plan.w_kc.as_ptr(),
                            1,
                            c as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                }
                for dt in 0..frames {
                    let rows = &y[dt * f_out * c..(dt + 1) * f_out * c];
                    let dst = &mut o[dt * per_frame..(dt + 1) * per_frame];
                    if self.extrema {
                        let (hi, lo) = dst.split_at_mut(c);
                        hi.copy_from_slice(&rows[..c]);
                        lo.copy_from_slice(&rows[..c]);
                        for row in rows.chunks_exact(c).skip(1) {
                            for ((h, l), &v) in hi.iter_mut().zip(lo.iter_mut()).zip(row) {
                                *h = h.max(v);
                                *l = l.min(v);
                            }
                        }
                        // The bias is the same at every frequency: add it after the reduction.
                        for ((h, l), &bb) in hi.iter_mut().zip(lo.iter_mut()).zip(&self.plan.bias) {
                            *h += bb;
                            *l += bb;
                        }
                    } else {
                        for ((d, &v), &bb) in dst.iter_mut().zip(rows).zip(&self.plan.bias) {
                            *d = v + bb;
                        }
                    }
                }
            });
        });
        Ok((CpuStorage::F32(out), Shape::from((b, t_out, per_frame))))
    }
}
