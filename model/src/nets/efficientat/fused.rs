//! The network's inference on the CPU as one fused pass per window, up to the pooled
//! embedding: every batch norm folded into its convolution; 1×1 convolutions as one GEMM
//! each (the `gemm` crate candle itself uses) with bias and activation in one sweep after
//! it; depthwise convolutions as direct per-channel stencils over a zero-padded plane,
//! with bias, activation and the squeeze-excitation's channel means in the same sweep;
//! the squeeze-excitation's scale folded into the projection's weights (a few thousand
//! multiplies instead of one per activation); the residual added by the projection's GEMM
//! itself. Buffers are per thread and reused; windows of a batch run in parallel.
//!
//! Written by hand because candle has no depthwise convolution: its grouped `conv2d` runs
//! one convolution per channel (hundreds per layer), and the shift-and-add form the candle
//! path uses (`blocks::depthwise_conv`) makes `k²` full-size temporaries per layer — the
//! two took 60–70 ms per 3-s window where this takes a few (profiled with `perf` on
//! `cargo bench -p model --bench efficientat`). Inference only; the candle path stays the
//! one for training and other devices, and a test holds the two to 1e-4.
//!
//! Over 600 lines as one job: the fused pass is one sequence of layer kernels that share
//! its buffers and weight layout; split by layer, each file would expose them.

use super::blocks::ConvBnAct;
use super::config::Activation;
use super::network::Mn;
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;
use std::cell::RefCell;

/// A 1×1 convolution, norm folded: `w` is `[c_out, c_in]` row-major.
pub(super) struct Pointwise {
    pub w: Vec<f32>,
    pub bias: Vec<f32>,
    pub c_in: usize,
    pub c_out: usize,
    pub act: Option<Activation>,
}

/// A k×k convolution with one filter per output channel, each reading input channel
/// `out / mult` (depthwise: `mult` 1; the stem's one-channel input: `mult` = its width).
/// Norm folded: `w` is `[c_out, k·k]`.
pub(super) struct Stencil {
    pub w: Vec<f32>,
    pub bias: Vec<f32>,
    pub c_out: usize,
    pub mult: usize,
    pub k: usize,
    pub stride: usize,
    pub act: Option<Activation>,
}

/// Channel squeeze-excitation: `fc1` `[squeeze, c]`, `fc2` `[c, squeeze]`.
pub(super) struct Excite {
    pub fc1: Vec<f32>,
    pub b1: Vec<f32>,
    pub fc2: Vec<f32>,
    pub b2: Vec<f32>,
    pub squeeze: usize,
}

pub(super) struct Block {
    pub expand: Option<Pointwise>,
    pub depthwise: Stencil,
    pub se: Option<Excite>,
    pub project: Pointwise,
    pub residual: bool,
}

/// `[batch, n_mels, frames]` → the pooled embedding `[batch, last.c_out]`.
pub(super) struct FusedMn {
    pub stem: Stencil,
    pub blocks: Vec<Block>,
    pub last: Pointwise,
}

#[derive(Default)]
struct Scratch {
    /// The block input / output maps, swapped after each block.
    x: Vec<f32>,
    y: Vec<f32>,
    /// The expanded map, the depthwise output, a zero-padded input plane.
    e: Vec<f32>,
    d: Vec<f32>,
    plane: Vec<f32>,
    /// Channel means, the excitation's hidden layer and its scale, the scaled weights.
    means: Vec<f32>,
    hidden: Vec<f32>,
    scale: Vec<f32>,
    w: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `v = act(v + bias)` over a slice, with the activation chosen once (a loop per kind
/// vectorises; a `match` per value did not).
#[inline(always)]
fn bias_activate(v: &mut [f32], bias: f32, act: Option<Activation>) {
    match act {
        None => v.iter_mut().for_each(|x| *x += bias),
        Some(Activation::Relu) => v.iter_mut().for_each(|x| *x = (*x + bias).max(0.0)),
        // The candle path's order: x · clamp(x + 3, 0, 6) / 6.
        Some(Activation::HardSwish) => v.iter_mut().for_each(|x| {
            let y = *x + bias;
            *x = y * (y + 3.0).clamp(0.0, 6.0) / 6.0
        }),
    }
}

/// The mean, with eight partial sums (a single running sum is one chain of dependent
/// adds that does not vectorise).
#[inline(always)]
fn mean(v: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    (acc.iter().sum::<f32>() + tail) / v.len() as f32
}

/// A dot product with eight partial sums, for the same reason.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for ((s, p), q) in acc.iter_mut().zip(x).zip(y) {
            *s += p * q;
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(p, q)| p * q)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// `dst[m×n] = (if read_dst { dst } else { 0 }) + lhs[m×k] · rhs[k×n]`, all row-major.
fn matmul(m: usize, n: usize, k: usize, dst: &mut [f32], read_dst: bool, lhs: &[f32], rhs: &[f32]) {
    assert!(dst.len() >= m * n && lhs.len() >= m * k && rhs.len() >= k * n);
    // SAFETY: the three buffers hold at least the m×n, m×k and k×n row-major matrices the
    // strides describe (asserted above), and `dst` does not alias the others (it is a
    // distinct `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            read_dst,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

impl Pointwise {
    /// `x` `[c_in, hw]` → `y` `[c_out, hw]`, with `w` in place of the own weights (the
    /// excitation-scaled copy) and `residual` added.
    #[inline(always)]
    fn run(&self, w: &[f32], x: &[f32], hw: usize, y: &mut Vec<f32>, residual: Option<&[f32]>) {
        y.clear();
        match residual {
            // Bias and residual first: the GEMM then accumulates onto them.
            Some(r) => {
                y.extend_from_slice(&r[..self.c_out * hw]);
                for (row, b) in y.chunks_exact_mut(hw).zip(&self.bias) {
                    row.iter_mut().for_each(|v| *v += b);
                }
                matmul(self.c_out, hw, self.c_in, y, true, w, x);
            }
            None => {
                y.resize(self.c_out * hw, 0.0);
                matmul(self.c_out, hw, self.c_in, y, false, w, x);
                for (row, &b) in y.chunks_exact_mut(hw).zip(&self.bias) {
                    bias_activate(row, b, self.act);
                }
            }
        }
    }
}

impl Stencil {
    #[inline(always)]
    fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        let p = (self.k - 1) / 2;
        (
            (h + 2 * p - self.k) / self.stride + 1,
            (w + 2 * p - self.k) / self.stride + 1,
        )
    }

    /// `x` `[c_out / mult, h, w]` → `y` `[c_out, h', w']`; the mean of each output
    /// channel into `means` when given.
    #[inline(always)]
    fn run(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        y: &mut Vec<f32>,
        plane: &mut Vec<f32>,
        mut means: Option<&mut Vec<f32>>,
    ) {
        let (k, s, p) = (self.k, self.stride, (self.k - 1) / 2);
        let (ho, wo) = self.out_size(h, w);
        // The zero-padded input plane, its columns split by phase (`col % s`), so that
        // every tap reads consecutive memory even at stride 2: phase `q`, row `r`, column
        // `j` holds padded column `j·s + q`.
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let pw = wp.div_ceil(s);
        let phase = hp * pw;
        plane.clear();
        // Slack after the last row: a block of outputs may read past a row's end (those
        // lanes are computed and dropped).
        plane.resize(s * phase + BLOCK, 0.0);
        y.clear();
        y.resize(self.c_out * ho * wo, 0.0);
        if let Some(m) = means.as_deref_mut() {
            m.clear();
            m.resize(self.c_out, 0.0);
        }
        let geometry = Geometry { s, pw, phase, wo };
        for (co, out) in y.chunks_exact_mut(ho * wo).enumerate() {
            if co % self.mult == 0 {
                let src = &x[(co / self.mult) * h * w..][..h * w];
                for (r, row) in src.chunks_exact(w).enumerate() {
                    let base = (r + p) * pw;
                    if s == 1 {
                        plane[base + p..][..w].copy_from_slice(row);
                        continue;
                    }
                    // Stride 2: input column `c` is padded column `c + p`, so columns 2i
                    // and 2i + 1 go to the two phases at `i + p/2` and `i + (p+1)/2`.
                    let (ja, jb) = (base + p / 2, base + p.div_ceil(2));
                    let (lo, hi) = plane.split_at_mut(phase);
                    let (pa, pb) = if p % 2 == 0 { (lo, hi) } else { (hi, lo) };
                    let pairs = row.chunks_exact(2);
                    if let [last] = pairs.remainder() {
                        pa[ja + w / 2] = *last;
                    }
                    for ((a, b), pair) in pa[ja..].iter_mut().zip(&mut pb[jb..]).zip(pairs) {
                        *a = pair[0];
                        *b = pair[1];
                    }
                }
            }
            let taps = &self.w[co * k * k..(co + 1) * k * k];
            let b = self.bias[co];
            match k {
                3 => channel::<3>(plane, taps, &geometry, out),
                5 => channel::<5>(plane, taps, &geometry, out),
                _ => channel_any(k, plane, taps, &geometry, out),
            }
            bias_activate(out, b, self.act);
            if let Some(m) = means.as_deref_mut() {
                m[co] = mean(out);
            }
        }
    }
}

/// Where a stencil's taps are in the phase-split plane.
struct Geometry {
    s: usize,
    /// Columns per phase row, floats per phase plane, output columns.
    pw: usize,
    phase: usize,
    wo: usize,
}

impl Geometry {
    /// Offset of tap `(dy, dx)` for output row `oy`, column 0.
    #[inline(always)]
    fn tap(&self, oy: usize, dy: usize, dx: usize) -> usize {
        (dx % self.s) * self.phase + (oy * self.s + dy) * self.pw + dx / self.s
    }
}

/// Outputs per register block: two 256-bit vectors, two independent chains of adds.
const BLOCK: usize = 16;

/// One output channel of a `K`×`K` stencil: every output accumulates its `K²` taps in
/// registers, a block of [`BLOCK`] outputs at a time.
#[inline(always)]
fn channel<const K: usize>(plane: &[f32], taps: &[f32], g: &Geometry, out: &mut [f32]) {
    let mut t = [[0f32; K]; K];
    for (dy, row) in t.iter_mut().enumerate() {
        row.copy_from_slice(&taps[dy * K..(dy + 1) * K]);
    }
    for (oy, orow) in out.chunks_exact_mut(g.wo).enumerate() {
        let mut offs = [[0usize; K]; K];
        for (dy, row) in offs.iter_mut().enumerate() {
            for (dx, o) in row.iter_mut().enumerate() {
                *o = g.tap(oy, dy, dx);
            }
        }
        let mut x0 = 0;
        while x0 + BLOCK <= g.wo {
            let mut acc = [0f32; BLOCK];
            for dy in 0..K {
                for dx in 0..K {
                    let src = &plane[offs[dy][dx] + x0..][..BLOCK];
                    let tv = t[dy][dx];
                    for (a, v) in acc.iter_mut().zip(src) {
                        *a += tv * v;
                    }
                }
            }
            orow[x0..x0 + BLOCK].copy_from_slice(&acc);
            x0 += BLOCK;
        }
        let n = g.wo - x0;
        if n > 0 {
            let mut acc = [0f32; BLOCK];
            for dy in 0..K {
                for dx in 0..K {
                    let src = &plane[offs[dy][dx] + x0..][..BLOCK];
                    let tv = t[dy][dx];
                    for (a, v) in acc.iter_mut().zip(src) {
                        *a += tv * v;
                    }
                }
            }
            orow[x0..].copy_from_slice(&acc[..n]);
        }
    }
}

/// [`channel`] for a kernel size known only at run time (not in mn04: its kernels are 3
/// and 5).
fn channel_any(k: usize, plane: &[f32], taps: &[f32], g: &Geometry, out: &mut [f32]) {
    for (oy, orow) in out.chunks_exact_mut(g.wo).enumerate() {
        orow.fill(0.0);
        for dy in 0..k {
            for dx in 0..k {
                let src = &plane[g.tap(oy, dy, dx)..][..g.wo];
                let tv = taps[dy * k + dx];
                for (o, v) in orow.iter_mut().zip(src) {
                    *o += tv * v;
                }
            }
        }
    }
}

impl Excite {
    /// The per-channel scale `sigmoid(fc2 · relu(fc1 · means + b1) + b2)`.
    #[inline(always)]
    fn scale(&self, means: &[f32], hidden: &mut Vec<f32>, scale: &mut Vec<f32>) {
        let c = means.len();
        hidden.clear();
        hidden.extend(
            self.fc1
                .chunks_exact(c)
                .zip(&self.b1)
                .map(|(row, b)| (dot(row, means) + b).max(0.0)),
        );
        scale.clear();
        scale.extend(
            self.fc2
                .chunks_exact(self.squeeze)
                .zip(&self.b2)
                .map(|(row, b)| 1.0 / (1.0 + (-(dot(row, hidden) + b)).exp())),
        );
    }
}

/// A conv's weights with its norm folded in, flattened row-major, and its bias.
fn folded(c: &ConvBnAct) -> Result<(Vec<f32>, Vec<f32>)> {
    let (w, b) = c.folded()?;
    Ok((w.flatten_all()?.to_vec1()?, b.to_vec1()?))
}

fn pointwise(c: &ConvBnAct) -> Result<Pointwise> {
    let (c_out, c_in, k, _) = c.weight.dims4()?;
    if k != 1 || c.depthwise || c.stride != 1 {
        bail!(
            "efficientat_fused: expected a 1×1 convolution, got {:?}",
            c.weight.dims()
        );
    }
    let (w, bias) = folded(c)?;
    Ok(Pointwise {
        w,
        bias,
        c_in,
        c_out,
        act: c.activation,
    })
}

fn stencil(c: &ConvBnAct, c_in: usize) -> Result<Stencil> {
    let (c_out, per_group, k, _) = c.weight.dims4()?;
    if per_group != 1 || c_out % c_in != 0 || k % 2 == 0 || !(1..=2).contains(&c.stride) {
        bail!(
            "efficientat_fused: not a depthwise conv: {:?}",
            c.weight.dims()
        );
    }
    let (w, bias) = folded(c)?;
    Ok(Stencil {
        w,
        bias,
        c_out,
        mult: c_out / c_in,
        k,
        stride: c.stride,
        act: c.activation,
    })
}

impl FusedMn {
    /// The network's current weights, folded. The network is frozen: built once, on the
    /// first inference.
    pub fn new(net: &Mn) -> Result<Self> {
        let blocks = net
            .blocks
            .iter()
            .map(|b| {
                let project = pointwise(&b.project)?;
                if project.act.is_some() {
                    bail!("efficientat_fused: a projection has no activation");
                }
                let se = match &b.se {
                    Some(se) => {
                        let (fc1, b1, fc2, b2) = se.weights();
                        let vec = |t: Option<&candle_core::Tensor>| -> Result<Vec<f32>> {
                            match t {
                                Some(t) => t.to_vec1(),
                                None => bail!("efficientat_fused: excitation without bias"),
                            }
                        };
                        Some(Excite {
                            squeeze: fc1.dim(0)?,
                            fc1: fc1.flatten_all()?.to_vec1()?,
                            b1: vec(b1)?,
                            fc2: fc2.flatten_all()?.to_vec1()?,
                            b2: vec(b2)?,
                        })
                    }
                    None => None,
                };
                Ok(Block {
                    expand: b.expand.as_ref().map(pointwise).transpose()?,
                    depthwise: stencil(&b.depthwise, b.cfg.expanded)?,
                    se,
                    project,
                    residual: b.cfg.residual(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            stem: stencil(&net.stem, 1)?,
            blocks,
            last: pointwise(&net.last)?,
        })
    }

    /// One window `img` `[h, w]` → its embedding, in this thread's buffers.
    fn window(&self, img: &[f32], h: usize, w: usize, embedding: &mut [f32]) {
        SCRATCH.with_borrow_mut(|s| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                return unsafe { self.window_avx2(img, h, w, embedding, s) };
            }
            self.window_in(img, h, w, embedding, s)
        })
    }

    /// The same code compiled for 256-bit vectors (the stencils' eight lanes per
    /// instruction, and every elementwise pass).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn window_avx2(
        &self,
        img: &[f32],
        h: usize,
        w: usize,
        emb: &mut [f32],
        s: &mut Scratch,
    ) {
        self.window_in(img, h, w, emb, s)
    }

    #[inline(always)]
    fn window_in(&self, img: &[f32], h: usize, w: usize, embedding: &mut [f32], s: &mut Scratch) {
        {
            let Scratch {
                x,
                y,
                e,
                d,
                plane,
                means,
                hidden,
                scale,
                w: ws,
            } = s;
            self.stem.run(img, h, w, x, plane, None);
            let (mut h, mut w) = self.stem.out_size(h, w);
            for blk in &self.blocks {
                let input: &[f32] = match &blk.expand {
                    Some(ex) => {
                        ex.run(&ex.w, x, h * w, e, None);
                        e
                    }
                    None => x,
                };
                blk.depthwise
                    .run(input, h, w, d, plane, blk.se.as_ref().map(|_| &mut *means));
                (h, w) = blk.depthwise.out_size(h, w);
                let pw = &blk.project;
                let weights: &[f32] = match &blk.se {
                    Some(se) => {
                        se.scale(means, hidden, scale);
                        ws.clear();
                        for row in pw.w.chunks_exact(pw.c_in) {
                            ws.extend(row.iter().zip(scale.iter()).map(|(a, b)| a * b));
                        }
                        ws
                    }
                    None => &pw.w,
                };
                pw.run(weights, d, h * w, y, blk.residual.then_some(&x[..]));
                std::mem::swap(x, y);
            }
            let hw = h * w;
            self.last.run(&self.last.w, x, hw, e, None);
            for (m, row) in embedding.iter_mut().zip(e.chunks_exact(hw)) {
                *m = mean(row);
            }
        }
    }
}

impl CustomOp1 for FusedMn {
    fn name(&self) -> &'static str {
        "efficientat_fused"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, h, w) = l.shape().dims3()?;
        let CpuStorage::F32(v) = s else {
            bail!("efficientat_fused: only f32 is supported")
        };
        let Some((o0, o1)) = l.contiguous_offsets() else {
            bail!("efficientat_fused: input must be contiguous")
        };
        if h < 2 || w < 2 {
            bail!("efficientat_fused: a {h}×{w} window is too small");
        }
        let x = &v[o0..o1];
        let c = self.last.c_out;
        let mut out = vec![0f32; b * c];
        out.par_chunks_mut(c)
            .zip(x.par_chunks(h * w))
            .for_each(|(o, img)| self.window(img, h, w, o));
        Ok((CpuStorage::F32(out), Shape::from((b, c))))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Mn, MnConfig};
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{VarBuilder, VarMap};

    /// mn04's shape with random weights *and* random norm statistics, so that folding is
    /// exercised everywhere.
    fn random_net() -> Mn {
        let vm = VarMap::new();
        let net = Mn::new(
            &MnConfig::mn04_as(),
            VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu),
        )
        .unwrap();
        for (name, var) in vm.data().lock().unwrap().iter() {
            let t = var.as_tensor();
            let v = if name.ends_with("running_var") {
                Tensor::rand(0.5f32, 2.0, t.shape(), &Device::Cpu)
            } else if name.ends_with("1.weight") && t.rank() == 1 {
                Tensor::rand(0.5f32, 1.5, t.shape(), &Device::Cpu)
            } else {
                Tensor::randn(0f32, 0.2, t.shape(), &Device::Cpu)
            };
            var.set(&v.unwrap()).unwrap();
        }
        net
    }

    #[test]
    fn fused_inference_equals_the_candle_path() {
        let net = random_net();
        // The real window, odd sizes, and batches (windows must not mix).
        for (b, h, w) in [(1, 128, 300), (3, 128, 301), (2, 37, 51)] {
            let x = Tensor::randn(0f32, 1.0, (b, h, w), &Device::Cpu).unwrap();
            let fused = net.forward(&x).unwrap();
            let reference = net.forward_candle(&x).unwrap();
            for (a, r) in [
                (&fused.embedding, &reference.embedding),
                (&fused.logits, &reference.logits),
            ] {
                assert_eq!(a.dims(), r.dims());
                let scale = r
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let diff = (a - r)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(
                    diff <= 1e-4 * scale.max(1.0),
                    "{b}×{h}×{w}: fused differs by {diff} (values up to {scale})"
                );
            }
        }
    }
}
