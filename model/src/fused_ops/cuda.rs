//! Launching `kernels.cu` from the custom ops' `cuda_fwd`: the PTX that `build.rs` made,
//! loaded once per device under one module name, one thread per output element.

use super::depthwise::Depthwise;
use super::pointwise::channels_plane;
use super::Act;
use candle_core::cuda_backend::cudarc::driver::{CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::{CudaStorage, WrapErr};
use candle_core::{Layout, Result, Shape};

const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/fused_ops.ptx"));
const MODULE: &str = "genre_tagger_fused_ops";
const THREADS: u32 = 256;

/// Enough blocks for one thread per element (the kernels' grid-stride loops cover any
/// remainder past the grid's limit).
fn config(total: usize) -> LaunchConfig {
    let blocks = total.div_ceil(THREADS as usize).clamp(1, i32::MAX as usize) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// A contiguous f32 input as a device view.
fn view<'a>(op: &str, what: &str, (s, l): (&'a CudaStorage, &Layout)) -> Result<CudaView<'a, f32>> {
    let slice = s.as_cuda_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(slice.slice(a..b)),
        None => candle_core::bail!("{op}: {what} must be contiguous"),
    }
}

fn int(op: &str, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| candle_core::Error::Msg(format!("{op}: size {v} exceeds i32")))
}

pub(super) fn depthwise(
    op: &Depthwise,
    x: (&CudaStorage, &Layout),
    w: (&CudaStorage, &Layout),
    bias: (&CudaStorage, &Layout),
) -> Result<(CudaStorage, Shape)> {
    let name = "depthwise_bias_act";
    let d = op.dims(x.1, w.1)?;
    let dev = x.0.device.clone();
    let (xv, wv, bv) = (
        view(name, "input", x)?,
        view(name, "weight", w)?,
        view(name, "bias", bias)?,
    );
    let total = d.batch * d.c_out * d.ho * d.wo;
    // SAFETY: every element is written by the kernel below before anyone reads it.
    let y = unsafe { dev.alloc::<f32>(total)? };
    let f = dev.get_or_load_custom_func("gt_depthwise_bias_act", MODULE, PTX)?;
    let mut b = f.builder();
    b.arg(&xv);
    b.arg(&wv);
    b.arg(&bv);
    b.arg(&y);
    let ints = [
        d.batch,
        d.c_in,
        d.h,
        d.w,
        d.c_out,
        d.ho,
        d.wo,
        op.k,
        op.stride,
        op.pad(),
    ]
    .map(|v| int(name, v))
    .into_iter()
    .collect::<Result<Vec<i32>>>()?;
    for v in &ints {
        b.arg(v);
    }
    let act = op.act as i32;
    b.arg(&act);
    // SAFETY: the arguments match the kernel's signature in kernels.cu, in order.
    unsafe { b.launch(config(total)) }.w()?;
    Ok((
        CudaStorage::wrap_cuda_slice(y, dev),
        (d.batch, d.c_out, d.ho, d.wo).into(),
    ))
}

pub(super) fn bias_act(
    act: Act,
    x: (&CudaStorage, &Layout),
    bias: (&CudaStorage, &Layout),
) -> Result<(CudaStorage, Shape)> {
    let name = "bias_act";
    let dev = x.0.device.clone();
    let (xv, bv) = (view(name, "input", x)?, view(name, "bias", bias)?);
    let total = x.1.shape().elem_count();
    let (channels, plane) = channels_plane(x.1);
    // SAFETY: written in full by the kernel.
    let y = unsafe { dev.alloc::<f32>(total)? };
    let f = dev.get_or_load_custom_func("gt_bias_act", MODULE, PTX)?;
    let mut b = f.builder();
    b.arg(&xv);
    b.arg(&bv);
    b.arg(&y);
    let (n, c, p, a) = (
        total as i64,
        int(name, channels)?,
        int(name, plane)?,
        act as i32,
    );
    b.arg(&n);
    b.arg(&c);
    b.arg(&p);
    b.arg(&a);
    // SAFETY: the arguments match `gt_bias_act`'s signature, in order.
    unsafe { b.launch(config(total)) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(y, dev), x.1.shape().clone()))
}

pub(super) fn bias_residual(
    x: (&CudaStorage, &Layout),
    bias: (&CudaStorage, &Layout),
    residual: (&CudaStorage, &Layout),
) -> Result<(CudaStorage, Shape)> {
    let name = "bias_residual";
    let dev = x.0.device.clone();
    let xv = view(name, "input", x)?;
    let bv = view(name, "bias", bias)?;
    let rv = view(name, "residual", residual)?;
    let total = x.1.shape().elem_count();
    let (channels, plane) = channels_plane(x.1);
    // SAFETY: written in full by the kernel.
    let y = unsafe { dev.alloc::<f32>(total)? };
    let f = dev.get_or_load_custom_func("gt_bias_residual", MODULE, PTX)?;
    let mut b = f.builder();
    b.arg(&xv);
    b.arg(&bv);
    b.arg(&rv);
    b.arg(&y);
    let (n, c, p) = (total as i64, int(name, channels)?, int(name, plane)?);
    b.arg(&n);
    b.arg(&c);
    b.arg(&p);
    // SAFETY: the arguments match `gt_bias_residual`'s signature, in order.
    unsafe { b.launch(config(total)) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(y, dev), x.1.shape().clone()))
}
