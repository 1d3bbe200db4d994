//! Where the worker gets its network: a given model, or the embedded default, loaded once
//! per process on the device `GENRE_TAGGER_DEVICE` asks for.

use crate::panic_message::panic_message;
use model::weights::LoadedModel;
use std::panic::catch_unwind;
use std::sync::{Arc, OnceLock};

/// Where the worker gets its network.
#[derive(Clone)]
pub enum ModelSource {
    /// The model embedded in the binary (loaded once per process, on the first worker).
    Embedded,
    /// A given model (tests; a future "load model file" option).
    Given(Arc<LoadedModel>),
}

impl ModelSource {
    /// The model, loading the embedded one if this is its first use.
    pub fn load(&self) -> Result<Arc<LoadedModel>, String> {
        match self {
            ModelSource::Given(m) => Ok(m.clone()),
            ModelSource::Embedded => embedded_model(),
        }
    }
}

static EMBEDDED: OnceLock<Result<Arc<LoadedModel>, String>> = OnceLock::new();

/// The embedded default model on the worker's device, loaded once per process. A failure
/// (an empty or incompatible weights file, a GPU asked for and missing, a panic in the
/// loader) is kept as its message.
pub fn embedded_model() -> Result<Arc<LoadedModel>, String> {
    EMBEDDED
        .get_or_init(|| {
            let device = worker_device()?;
            match catch_unwind(|| model::weights::load_default(&device)) {
                Ok(Ok(m)) => Ok(Arc::new(m)),
                Ok(Err(e)) => Err(format!("cannot load the embedded model: {e}")),
                Err(p) => Err(format!(
                    "loading the embedded model panicked: {}",
                    panic_message(&*p)
                )),
            }
        })
        .clone()
}

/// The CPU, unless `GENRE_TAGGER_DEVICE` (`auto`, `cpu` or `cuda`) asks for a GPU: the
/// worker tags one window per hop, a small batch that the CPU keeps up with in real time,
/// and a plugin should not take a GPU its host may be using.
fn worker_device() -> Result<model::device::Device, String> {
    let Ok(asked) = std::env::var("GENRE_TAGGER_DEVICE") else {
        return Ok(model::device::Device::Cpu);
    };
    let choice = asked
        .parse()
        .map_err(|e| format!("GENRE_TAGGER_DEVICE: {e}"))?;
    model::device::select(choice)
        .map(|(device, _)| device)
        .map_err(|e| format!("GENRE_TAGGER_DEVICE={asked}: {e}"))
}
