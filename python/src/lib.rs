//! `genre_tagger._native`: the genre tagger's `model` crate as a Python extension. The
//! Python package (`python/genre_tagger/`) re-exports it and adds the Ray pipeline.

mod errors;
mod samples;
mod tagger;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<tagger::Tagger>()?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The extensions a folder is searched for, the CLI's and the Ray pipeline's alike.
    m.add(
        "AUDIO_EXTENSIONS",
        model::library::AUDIO_EXTENSIONS.to_vec(),
    )?;
    Ok(())
}
