//! The seed CNN's inference on the CPU as one fused pass per window: for each block,
//! im2col into a reused buffer, one GEMM with the batch norm folded into the kernel, then
//! bias, ReLU and the 2×2 max-pool in a single sweep; after the last block, the global
//! mean and max. Only the pooled `[2·channels]` vector leaves the op.
//!
//! Written by hand because the candle path (`ConvSame::forward_folded` → `relu` →
//! `max_pool2d`, per block) spends a third of its time outside the GEMM: a bias pass, a
//! ReLU pass and a pooling pass over every activation map, each into a freshly allocated
//! tensor, and at batch 32 column matrices large enough to leave the cache. Here the
//! buffers are per thread and reused, the largest (block 2's columns, 2.4 MB) fits in L2
//! with the rest, and windows of a batch run in parallel — which is also what lets two
//! threads help (candle's small per-block GEMMs did not). Inference only; training and
//! non-CPU devices keep the candle path, and the tests hold the two to 1e-4.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;
use std::cell::RefCell;

/// One conv block with its batch norm folded in: `weight` is `[c_out, c_in·9]` row-major
/// (candle's `[out, in, 3, 3]` flattened), `bias` `[c_out]`.
pub(super) struct FoldedBlock {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub c_in: usize,
    pub c_out: usize,
}

/// `[batch, n_mels, frames]` → `[batch, 2·c_last]`: per channel the mean, then the max,
/// over the last block's map (the order `SeedCnn` concatenates them in).
pub(super) struct FusedSeedCnn {
    pub blocks: Vec<FoldedBlock>,
}

thread_local! {
    /// Per-thread columns, GEMM output and the two activation maps, reused across calls.
    static SCRATCH: RefCell<[Vec<f32>; 4]> =
        const { RefCell::new([Vec::new(), Vec::new(), Vec::new(), Vec::new()]) };
}

impl FusedSeedCnn {
    /// Runs one window (`img`: `[h, w]`) through every block into `pooled`.
    fn window(&self, img: &[f32], h: usize, w: usize, pooled: &mut [f32]) {
        SCRATCH.with_borrow_mut(|[cols, y, a, b]| {
            a.clear();
            a.extend_from_slice(img);
            let (mut h, mut w) = (h, w);
            for blk in &self.blocks {
                let hw = h * w;
                let k = blk.c_in * 9;
                cols.resize(k * hw, 0.0);
                y.resize(blk.c_out * hw, 0.0);
                im2col3x3(a, blk.c_in, h, w, cols);
                // SAFETY: `weight` is c_out×k, `cols` k×hw and `y` c_out×hw, all row-major
                // and exactly that long (resized above); no aliasing.
                unsafe {
                    gemm::gemm(
                        blk.c_out,
                        hw,
                        k,
                        y.as_mut_ptr(),
                        1,
                        hw as isize,
                        false,
                        blk.weight.as_ptr(),
                        1,
                        k as isize,
                        cols.as_ptr(),
                        1,
                        hw as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                let (ph, pw) = (h / 2, w / 2);
                b.resize(blk.c_out * ph * pw, 0.0);
                bias_relu_pool2(y, &blk.bias, h, w, b);
                std::mem::swap(a, b);
                (h, w) = (ph, pw);
            }
            let c = self.blocks.last().map_or(1, |blk| blk.c_out);
            let hw = h * w;
            let (means, maxes) = pooled.split_at_mut(c);
            for ((m, x), plane) in means
                .iter_mut()
                .zip(maxes.iter_mut())
                .zip(a.chunks_exact(hw))
            {
                *m = plane.iter().sum::<f32>() / hw as f32;
                *x = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            }
        });
    }
}

/// `[c, h, w]` → `[c·9, h·w]`, zero-padded "same" 3×3 taps; row `c·9 + dy·3 + dx` matches
/// the flattened `[out, in, 3, 3]` kernel.
fn im2col3x3(x: &[f32], c: usize, h: usize, w: usize, cols: &mut [f32]) {
    let hw = h * w;
    for (src, dst) in x
        .chunks_exact(hw)
        .take(c)
        .zip(cols.chunks_exact_mut(9 * hw))
    {
        for dy in 0..3 {
            for dx in 0..3 {
                let plane = &mut dst[(dy * 3 + dx) * hw..(dy * 3 + dx + 1) * hw];
                for (yy, row) in plane.chunks_exact_mut(w).enumerate() {
                    let sy = yy + dy;
                    if sy == 0 || sy > h {
                        row.fill(0.0);
                        continue;
                    }
                    let s = &src[(sy - 1) * w..sy * w];
                    match dx {
                        0 => {
                            row[0] = 0.0;
                            row[1..].copy_from_slice(&s[..w - 1]);
                        }
                        1 => row.copy_from_slice(s),
                        _ => {
                            row[..w - 1].copy_from_slice(&s[1..]);
                            row[w - 1] = 0.0;
                        }
                    }
                }
            }
        }
    }
}

/// `relu(maxpool2x2(y + bias))` per channel, pooling with floor like `max_pool2d(2)`. The
/// bias is constant over a channel and ReLU is monotone, so both move after the max.
fn bias_relu_pool2(y: &[f32], bias: &[f32], h: usize, w: usize, out: &mut [f32]) {
    let (ph, pw) = (h / 2, w / 2);
    if ph == 0 || pw == 0 {
        return;
    }
    for ((plane, dst), &bb) in y
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(ph * pw))
        .zip(bias)
    {
        for (py, drow) in dst.chunks_exact_mut(pw).enumerate() {
            let r0 = &plane[2 * py * w..2 * py * w + 2 * pw];
            let r1 = &plane[(2 * py + 1) * w..(2 * py + 1) * w + 2 * pw];
            for ((d, p0), p1) in drow
                .iter_mut()
                .zip(r0.chunks_exact(2))
                .zip(r1.chunks_exact(2))
            {
                let m = p0[0].max(p0[1]).max(p1[0].max(p1[1]));
                *d = (m + bb).max(0.0);
            }
        }
    }
}

impl CustomOp1 for FusedSeedCnn {
    fn name(&self) -> &'static str {
        "seed_cnn_fused"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, h, w) = l.shape().dims3()?;
        let CpuStorage::F32(v) = s else {
            bail!("seed_cnn_fused: only f32 is supported")
        };
        let Some((o0, o1)) = l.contiguous_offsets() else {
            bail!("seed_cnn_fused: input must be contiguous")
        };
        let x = &v[o0..o1];
        if self.blocks.first().map(|blk| blk.c_in) != Some(1) {
            bail!("seed_cnn_fused: the first block must take one channel");
        }
        if (h >> self.blocks.len()) == 0 || (w >> self.blocks.len()) == 0 {
            bail!(
                "seed_cnn_fused: a {h}×{w} window vanishes after {} 2×2 pools",
                self.blocks.len()
            );
        }
        let c = self.blocks.last().map_or(0, |blk| blk.c_out);
        let mut out = vec![0f32; b * 2 * c];
        // One window per task, each GEMM on one thread: the buffers stay hot and nothing
        // waits for anything. Splitting a single window's GEMMs across two threads instead
        // (gemm's rayon mode) makes batch 1 slower (`cargo xtask bench --threads 2`): the
        // matrices are too small to pay for the synchronisation.
        out.par_chunks_mut(2 * c)
            .zip(x.par_chunks(h * w))
            .for_each(|(o, img)| self.window(img, h, w, o));
        Ok((CpuStorage::F32(out), Shape::from((b, 2 * c))))
    }
}
