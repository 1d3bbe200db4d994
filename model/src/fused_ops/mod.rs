//! Inference ops that do in one pass what candle's ops do in many: a depthwise (or
//! one-input-channel) convolution with its folded batch norm and activation, and a 1×1
//! convolution's epilogue (folded norm, activation, residual). They exist for the GPU,
//! where candle runs each elementwise op, and each group of a grouped convolution, as its
//! own kernel launch over the whole tensor; EfficientAT's inverted residuals are mostly
//! such ops, so its candle-ops pass on CUDA was bound by launches and memory traffic (see
//! docs/gpu.md). The 1×1 convolutions themselves stay GEMMs (cuBLAS through candle's
//! `matmul`).
//!
//! Each op is a candle custom op with two implementations of one algorithm: a CUDA kernel
//! (`kernels.cu`, compiled to PTX by `build.rs` with the `cuda` feature) and a Rust twin
//! for the CPU that mirrors it element for element. The tests hold the twins to candle's
//! own ops and the kernels' source, compiled as C and run on an emulated grid, to the
//! twins bit for bit, so what runs on a GPU is checked on machines without one.
//! Inputs must be contiguous f32 NCHW (the callers' layout); anything else is an error.

mod depthwise;
mod pointwise;

#[cfg(feature = "cuda")]
mod cuda;

pub use depthwise::{depthwise_bias_act, depthwise_output};
pub use pointwise::{bias_act, bias_residual};

/// The activation an op applies last; the numbers are the kernels' codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Identity = 0,
    Relu = 1,
    /// `x · relu6(x + 3) / 6`, in the order PyTorch evaluates it.
    HardSwish = 2,
}

impl Act {
    /// The twin of the kernels' `gt_act`.
    #[inline(always)]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Act::Identity => v,
            Act::Relu => {
                if v > 0.0 {
                    v
                } else {
                    0.0
                }
            }
            Act::HardSwish => v * (v + 3.0).clamp(0.0, 6.0) / 6.0,
        }
    }
}

/// A contiguous f32 input's elements, or an error naming the op and what was wrong.
fn contiguous_f32<'a>(
    op: &str,
    what: &str,
    s: &'a candle_core::CpuStorage,
    l: &candle_core::Layout,
) -> candle_core::Result<&'a [f32]> {
    use candle_core::backend::BackendStorage;
    let data = s.as_slice::<f32>().map_err(|_| {
        candle_core::Error::Msg(format!("{op}: {what} must be f32, not {:?}", s.dtype()))
    })?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => Err(candle_core::Error::Msg(format!(
            "{op}: {what} must be contiguous"
        ))),
    }
}
