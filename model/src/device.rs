//! Which device candle runs on. CPU is the default and the only one tested here; the
//! `cuda` and `metal` features forward to candle and are picked when present.

use candle_core::Device;

/// The fastest available device: CUDA or Metal when compiled in and present, else CPU.
pub fn best() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::cuda_if_available(0) {
        return d;
    }
    #[cfg(feature = "metal")]
    if let Ok(d) = Device::metal_if_available(0) {
        return d;
    }
    Device::Cpu
}

/// A short name for status lines ("CPU", "CUDA", "Metal").
pub fn name(device: &Device) -> &'static str {
    match device {
        Device::Cpu => "CPU",
        Device::Cuda(_) => "CUDA",
        Device::Metal(_) => "Metal",
    }
}
