//! The Python exceptions, one per kind of [`model::Error`], all under `GenreTaggerError`
//! so a caller can catch one kind or all of them. Each carries the model crate's own
//! message: what `cargo xtask tag` prints after `error: `.

use model::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    genre_tagger,
    GenreTaggerError,
    PyException,
    "Base class of every error the genre tagger raises."
);
create_exception!(
    genre_tagger,
    UnreadableAudioError,
    GenreTaggerError,
    "The file cannot be opened, is not audio in a supported format, is corrupt or holds no samples."
);
create_exception!(
    genre_tagger,
    SilentAudioError,
    GenreTaggerError,
    "Every analysis window is below the silence threshold: there is nothing to tag."
);
create_exception!(
    genre_tagger,
    TooShortError,
    GenreTaggerError,
    "The audio is shorter than the one second a window needs."
);
create_exception!(
    genre_tagger,
    BadModelError,
    GenreTaggerError,
    "The model file cannot be read, is not a genre-tagger model, or its weights do not fit its card."
);
create_exception!(
    genre_tagger,
    InvalidInputError,
    GenreTaggerError,
    "An argument is out of range: sample rate, hop, or an array that is empty, not 1-D or all NaN."
);

create_exception!(
    genre_tagger,
    DeviceUnavailableError,
    GenreTaggerError,
    "The device asked for cannot be used: no CUDA in this build, or no GPU that initialises."
);

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("GenreTaggerError", py.get_type::<GenreTaggerError>())?;
    m.add(
        "UnreadableAudioError",
        py.get_type::<UnreadableAudioError>(),
    )?;
    m.add("SilentAudioError", py.get_type::<SilentAudioError>())?;
    m.add("TooShortError", py.get_type::<TooShortError>())?;
    m.add("BadModelError", py.get_type::<BadModelError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add(
        "DeviceUnavailableError",
        py.get_type::<DeviceUnavailableError>(),
    )?;
    Ok(())
}

/// The exception for an error met while tagging. The match names every kind, so a new
/// one cannot reach Python without someone choosing its class.
pub fn tagging(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::Open { .. }
        | Error::Unreadable { .. }
        | Error::Corrupt { .. }
        | Error::Empty { .. } => UnreadableAudioError::new_err(msg),
        Error::Silent { .. } => SilentAudioError::new_err(msg),
        Error::TooShort { .. } => TooShortError::new_err(msg),
        Error::ModelFile { .. } | Error::WeightsMismatch(_) => BadModelError::new_err(msg),
        Error::SampleRate { .. } | Error::Config(_) => InvalidInputError::new_err(msg),
        Error::Resample(_) | Error::Data(_) | Error::Fit(_) | Error::Candle(_) | Error::Io(_) => {
            GenreTaggerError::new_err(msg)
        }
    }
}

/// The exception for a device that was asked for and cannot be had.
pub fn device(e: model::device::DeviceError) -> PyErr {
    DeviceUnavailableError::new_err(e.to_string())
}

/// The exception for an error met while loading a model: whatever went wrong (a missing
/// file included), the model is what the caller must fix.
pub fn loading(e: Error) -> PyErr {
    BadModelError::new_err(e.to_string())
}
