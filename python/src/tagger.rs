//! `genre_tagger.Tagger`: a loaded model and tagging options. Every result is the entry
//! [`model::tag_report::file_entry`] builds for `cargo xtask tag --json`, converted to
//! Python objects, so the package and the CLI report the same fields and numbers.

use crate::errors::{self, InvalidInputError};
use crate::samples;
use model::device::Choice;
use model::library::{tag_library, LibraryOptions};
use model::tag_report::file_entry;
use model::tag_report::{analyse_audio, analyse_samples, FileReport};
use model::tagger::TaggerOptions;
use model::weights::LoadedModel;
use pyo3::exceptions::{PyRuntimeWarning, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::Arc;

/// A genre model ready to tag files and arrays.
///
/// Tagger(model=None, hop=1.0, device="auto")
///
/// `model` is the path of a model file (`cargo xtask train` writes them); `None` uses the
/// model embedded in the package. `hop` is the number of seconds between analysis windows.
/// `device` is where the network runs: "cpu", "cuda" (an error when CUDA cannot be had,
/// never a CPU run) or "auto" (CUDA when this build has it and a GPU initialises).
/// The methods release the GIL while they work, so threads sharing one Tagger tag in
/// parallel.
#[pyclass(module = "genre_tagger", frozen)]
pub struct Tagger {
    model: Arc<LoadedModel>,
    opts: TaggerOptions,
}

#[pymethods]
impl Tagger {
    #[new]
    #[pyo3(signature = (model = None, hop = 1.0, device = "auto"))]
    fn new(py: Python<'_>, model: Option<PathBuf>, hop: f32, device: &str) -> PyResult<Self> {
        let opts = TaggerOptions {
            hop_s: hop,
            ..Default::default()
        };
        opts.validate().map_err(errors::tagging)?;
        let choice: Choice = device
            .parse()
            .map_err(|e: model::device::DeviceError| PyValueError::new_err(e.to_string()))?;
        let (device, _) = model::device::select(choice).map_err(errors::device)?;
        let loaded = py
            .detach(|| model::weights::load_or_default(model.as_deref(), &device))
            .map_err(errors::loading)?;
        Ok(Self {
            model: Arc::new(loaded),
            opts,
        })
    }

    /// Tags an audio file (wav, flac, mp3, ogg, au) and returns its `tag --json` entry:
    /// path, duration_s, genre, distribution, styles (models with styles) and timeline.
    fn tag_file<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        let (tags, decode_warnings) = py
            .detach(|| {
                let audio = model::audio::decode_file(&path)?;
                let report = analyse_audio(self.model.clone(), &audio, self.opts)?;
                Ok((report, audio.warnings))
            })
            .map_err(errors::tagging)?;
        let name = path.display().to_string();
        for w in decode_warnings {
            warn::<PyUserWarning>(py, &format!("{name}: {w}"))?;
        }
        self.report(py, &name, &tags)
    }

    /// Tags many files and returns one result per path, in their order: the entry
    /// `tag_file` returns, or for a file that cannot be tagged the exception `tag_file`
    /// would raise (returned, not raised). Files are decoded on `threads` threads (default:
    /// one per core) and, on a GPU, windows of consecutive files share the network's
    /// batches. Errors no file causes (the network failing) are raised.
    #[pyo3(signature = (paths, threads = None))]
    fn tag_files<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut opts = LibraryOptions::for_device(&self.model.device);
        opts.tagger = self.opts;
        match threads {
            Some(0) => {
                return Err(InvalidInputError::new_err(
                    "threads must be at least 1, got 0",
                ))
            }
            Some(n) => opts.decode_threads = n,
            None => {}
        }
        opts.max_pending_windows = opts.default_pending_windows();
        let mut outcomes = Vec::with_capacity(paths.len());
        py.detach(|| {
            tag_library(&self.model, &paths, &opts, |f| {
                outcomes.push((f.warnings, f.report));
            })
        })
        .map_err(errors::tagging)?;
        let list = PyList::empty(py);
        for (path, (warnings, report)) in paths.iter().zip(outcomes) {
            let name = path.display().to_string();
            for w in warnings {
                warn::<PyUserWarning>(py, &format!("{name}: {w}"))?;
            }
            match report {
                Ok(r) => list.append(self.report(py, &name, &r)?)?,
                Err(e) => list.append(errors::tagging(e).into_value(py))?,
            }
        }
        Ok(list)
    }

    /// Tags mono samples at `sample_rate` Hz and returns the same entry as `tag_file`,
    /// with `path` set to None. A contiguous float32 array is read in place; other real
    /// dtypes are converted (integer PCM scaled so full scale is 1.0).
    fn tag_array<'py>(
        &self,
        py: Python<'py>,
        samples: &Bound<'py, PyAny>,
        sample_rate: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rate = u32::try_from(sample_rate).map_err(|_| {
            InvalidInputError::new_err(format!(
                "sample_rate must be a positive number of Hz, got {sample_rate}"
            ))
        })?;
        let samples = samples::from_python(samples)?;
        let slice = samples.as_slice();
        let tags = py
            .detach(|| analyse_samples(self.model.clone(), slice, rate, self.opts))
            .map_err(errors::tagging)?;
        let entry = self.report(py, "", &tags)?;
        entry.set_item("path", py.None())?;
        Ok(entry)
    }

    /// The model's genre labels, in the order of its outputs.
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.model.card.labels.clone()
    }

    /// The model's style names (empty for a model without styles).
    #[getter]
    fn styles(&self) -> Vec<String> {
        self.model.card.styles.clone()
    }

    /// The model's card: architecture, labels, styles, front end, training data and
    /// validation figures, as stored in the model file.
    #[getter]
    fn model_card<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize::pythonize(py, &self.model.card)?)
    }

    /// Where the model came from: "embedded default model" or its path.
    #[getter]
    fn source(&self) -> String {
        self.model.source.clone()
    }

    /// Seconds between analysis windows.
    #[getter]
    fn hop(&self) -> f32 {
        self.opts.hop_s
    }

    /// Where the network runs: "cpu" or "cuda".
    #[getter]
    fn device(&self) -> String {
        model::device::name(&self.model.device).to_ascii_lowercase()
    }

    fn __repr__(&self) -> String {
        format!(
            "Tagger(model={:?}, hop={}, device={:?}, labels={})",
            self.model.source,
            self.opts.hop_s,
            self.device(),
            self.model.card.labels.len()
        )
    }
}

impl Tagger {
    /// The `tag --json` entry as Python objects, after the NaN/inf warning the CLI prints.
    fn report<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        report: &FileReport,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tags = &report.tags;
        if tags.non_finite > 0 {
            let what = if name.is_empty() { "samples" } else { name };
            warn::<PyRuntimeWarning>(
                py,
                &format!(
                    "{what}: {} NaN/inf samples were treated as silence",
                    tags.non_finite
                ),
            )?;
        }
        let entry = file_entry(name, report, &self.model.card);
        Ok(pythonize::pythonize(py, &entry)?)
    }
}

/// Issues a Python warning of class `W` (what the CLI prints as `warning: …`).
fn warn<W: pyo3::PyTypeInfo>(py: Python<'_>, message: &str) -> PyResult<()> {
    let message = CString::new(message.replace('\0', "?")).expect("no NUL left");
    PyErr::warn(py, &py.get_type::<W>(), &message, 1)
}
