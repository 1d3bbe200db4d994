//! Which device candle runs on. CPU is the default and the only one CI tests; the `cuda`
//! feature (built by `scripts/build-cuda`) adds NVIDIA GPUs, the `metal` feature Apple's.
//!
//! A request for CUDA either gets a working CUDA device or a [`DeviceError`] that says
//! why not — never a silent CPU run. Only [`Choice::Auto`] falls back, and [`select`]
//! returns the reason beside the CPU so the caller can print it.

pub use candle_core::Device;
use std::fmt;

/// What a user can ask for (`--device auto|cpu|cuda`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// CUDA or Metal when this build has it and a device initialises, else the CPU.
    Auto,
    Cpu,
    Cuda,
}

impl std::str::FromStr for Choice {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Choice::Auto),
            "cpu" => Ok(Choice::Cpu),
            "cuda" => Ok(Choice::Cuda),
            other => Err(DeviceError(format!(
                "unknown device '{other}' (expected auto, cpu or cuda)"
            ))),
        }
    }
}

/// Why a device could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError(pub String);

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeviceError {}

/// The device for `choice`, and for `Auto` in a build with GPU support the reason it fell
/// back to the CPU (`None` when the CPU was asked for, a GPU was found, or this build
/// has no GPU support to fall back from).
pub fn select(choice: Choice) -> Result<(Device, Option<DeviceError>), DeviceError> {
    match choice {
        Choice::Cpu => Ok((Device::Cpu, None)),
        Choice::Cuda => Ok((cuda(0)?, None)),
        Choice::Auto => Ok(match gpu() {
            Ok(d) => (d, None),
            Err(why) if GPU_BUILD => (Device::Cpu, Some(why)),
            Err(_) => (Device::Cpu, None),
        }),
    }
}

/// Whether this build can use a GPU at all.
const GPU_BUILD: bool = cfg!(any(feature = "cuda", feature = "metal"));

/// The fastest available device: CUDA or Metal when compiled in and present, else CPU.
pub fn best() -> Device {
    gpu().unwrap_or(Device::Cpu)
}

/// A GPU of any kind this build supports.
fn gpu() -> Result<Device, DeviceError> {
    let cuda = cuda(0);
    if cuda.is_ok() || !cfg!(feature = "metal") {
        return cuda;
    }
    metal()
}

#[cfg(feature = "metal")]
fn metal() -> Result<Device, DeviceError> {
    Device::new_metal(0).map_err(|e| DeviceError(format!("no Metal device: {e}")))
}

#[cfg(not(feature = "metal"))]
fn metal() -> Result<Device, DeviceError> {
    Err(DeviceError("this build has no Metal support".into()))
}

/// CUDA device `ordinal`, initialised, or why not.
#[cfg(not(feature = "cuda"))]
pub fn cuda(_ordinal: usize) -> Result<Device, DeviceError> {
    Err(DeviceError(
        "no CUDA: this build has no CUDA support (build with scripts/build-cuda, i.e. \
         `--features cuda`)"
            .into(),
    ))
}

/// CUDA device `ordinal`, initialised, or why not.
#[cfg(feature = "cuda")]
pub fn cuda(ordinal: usize) -> Result<Device, DeviceError> {
    missing_cuda_libraries()?;
    Device::new_cuda(ordinal).map_err(|e| DeviceError(format!("no CUDA device {ordinal}: {e}")))
}

/// `scripts/build-cuda` builds candle so that it loads NVIDIA's libraries at run time
/// (and sets this cfg), and cudarc panics on the first call into a library it cannot
/// find; so every library candle needs is looked for first, and a missing one is an
/// error naming it. A build linked against a CUDA toolkit the usual way has them all by
/// the time it runs.
#[cfg(all(feature = "cuda", cudarc_dynamic_loading))]
fn missing_cuda_libraries() -> Result<(), DeviceError> {
    use candle_core::cuda::cudarc;
    // SAFETY: each check only dlopens the library (and keeps it loaded if found).
    let found = unsafe {
        [
            (
                "libcuda (the NVIDIA driver)",
                cudarc::driver::sys::is_culib_present(),
            ),
            ("libcublas", cudarc::cublas::sys::is_culib_present()),
            ("libcublasLt", cudarc::cublaslt::sys::is_culib_present()),
            ("libcurand", cudarc::curand::sys::is_culib_present()),
            ("libnvrtc", cudarc::nvrtc::sys::is_culib_present()),
        ]
    };
    let missing: Vec<&str> = found.iter().filter(|f| !f.1).map(|f| f.0).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(DeviceError(format!(
        "no CUDA device: cannot load {} (no NVIDIA driver on this machine, or the CUDA \
         libraries are not on LD_LIBRARY_PATH)",
        missing.join(", ")
    )))
}

#[cfg(all(feature = "cuda", not(cudarc_dynamic_loading)))]
fn missing_cuda_libraries() -> Result<(), DeviceError> {
    Ok(())
}

/// A short name for status lines ("CPU", "CUDA", "Metal").
pub fn name(device: &Device) -> &'static str {
    match device {
        Device::Cpu => "CPU",
        Device::Cuda(_) => "CUDA",
        Device::Metal(_) => "Metal",
    }
}

/// One line for a command's output: which device, and why not a GPU when one was
/// possible.
pub fn describe(device: &Device, fallback: Option<&DeviceError>) -> String {
    match fallback {
        Some(why) => format!("device: {} ({why})", name(device)),
        None => format!("device: {}", name(device)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_refuse_unknown_names() {
        assert_eq!("cuda".parse::<Choice>(), Ok(Choice::Cuda));
        assert_eq!(" CPU ".parse::<Choice>(), Ok(Choice::Cpu));
        assert_eq!("auto".parse::<Choice>(), Ok(Choice::Auto));
        let e = "gpu".parse::<Choice>().unwrap_err().to_string();
        assert!(
            e.contains("'gpu'") && e.contains("auto, cpu or cuda"),
            "{e}"
        );
    }

    #[test]
    fn cpu_is_always_there() {
        let (d, why) = select(Choice::Cpu).unwrap();
        assert!(d.is_cpu() && why.is_none());
    }

    /// Without a GPU, `cuda` is an error that says so and `auto` is the CPU with that
    /// error as its reason; on a machine with one, both give CUDA.
    #[test]
    fn cuda_without_a_gpu_is_a_clear_error_and_auto_says_why_it_fell_back() {
        match select(Choice::Cuda) {
            Ok((d, None)) => assert!(d.is_cuda()),
            Ok((_, Some(_))) => panic!("an explicit choice never falls back"),
            Err(e) => {
                assert!(e.to_string().starts_with("no CUDA"), "{e}");
                let (d, why) = select(Choice::Auto).unwrap();
                assert!(d.is_cpu() || cfg!(feature = "metal"));
                let line = describe(&d, why.as_ref());
                if !GPU_BUILD {
                    assert_eq!(line, "device: CPU");
                } else if d.is_cpu() {
                    assert!(line.starts_with("device: CPU (no "), "{line}");
                }
            }
        }
    }
}
