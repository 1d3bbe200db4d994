//! Audio arrays from Python: a contiguous float32 numpy array is borrowed as it is (no
//! copy); anything else array-like is converted once, with integer PCM scaled to [-1, 1].

use crate::errors::InvalidInputError;
use numpy::{dtype, PyArrayDescrMethods, PyReadonlyArray1, PyUntypedArray};
use numpy::{PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// Mono samples ready for the tagger.
pub enum Samples<'py> {
    /// The caller's own float32 buffer, read in place.
    Borrowed(PyReadonlyArray1<'py, f32>),
    /// A converted copy (another dtype, a strided view, a list).
    Owned(Vec<f32>),
}

impl Samples<'_> {
    pub fn as_slice(&self) -> &[f32] {
        match self {
            Samples::Borrowed(a) => a.as_slice().expect("checked contiguous"),
            Samples::Owned(v) => v,
        }
    }
}

/// Checks and converts `obj`: a 1-D, non-empty array (or sequence) of real numbers, not
/// all of them NaN or infinite.
pub fn from_python<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Samples<'py>> {
    let py = obj.py();
    let array = match obj.cast::<PyUntypedArray>() {
        Ok(a) => a.clone(),
        Err(_) => py
            .import("numpy")?
            .call_method1("asarray", (obj,))?
            .cast_into::<PyUntypedArray>()?,
    };
    if array.ndim() != 1 {
        return Err(InvalidInputError::new_err(format!(
            "samples must be a 1-D mono array, got shape {:?}; downmix first (librosa's \
             (channels, n) layout: samples.mean(axis=0))",
            array.shape()
        )));
    }
    if array.len() == 0 {
        return Err(InvalidInputError::new_err(
            "samples is empty: nothing to tag",
        ));
    }
    let dt = array.dtype();
    let samples = if dt.is_equiv_to(&dtype::<f32>(py)) && array.is_c_contiguous() {
        Samples::Borrowed(array.cast::<numpy::PyArray1<f32>>()?.try_readonly()?)
    } else {
        match dt.kind() {
            b'f' => Samples::Owned(converted(&array, 0.0, 1.0)?),
            // Integer PCM: full scale of the type maps to 1.0, as soundfile and WAV do.
            b'i' | b'u' => {
                let bits = 8 * dt.itemsize() as i32;
                let unsigned = dt.kind() == b'u';
                if unsigned && bits != 8 {
                    return Err(bad_dtype(&dt));
                }
                let full = 2f64.powi(bits - 1);
                let offset = if unsigned { full } else { 0.0 };
                Samples::Owned(converted(&array, offset, 1.0 / full)?)
            }
            _ => return Err(bad_dtype(&dt)),
        }
    };
    if samples.as_slice().iter().all(|s| !s.is_finite()) {
        return Err(InvalidInputError::new_err(
            "every sample is NaN or infinite: nothing to tag",
        ));
    }
    Ok(samples)
}

/// `(x - offset) * scale` as f32, through numpy's own cast to float64 (exact for every
/// integer and float sample type, whatever its byte order or stride).
fn converted(array: &Bound<'_, PyUntypedArray>, offset: f64, scale: f64) -> PyResult<Vec<f32>> {
    let as_f64 = array.call_method1("astype", (dtype::<f64>(array.py()),))?;
    let typed = as_f64.cast::<numpy::PyArray1<f64>>()?.try_readonly()?;
    Ok(typed
        .as_array()
        .iter()
        .map(|&x| ((x - offset) * scale) as f32)
        .collect())
}

fn bad_dtype(dt: &Bound<'_, numpy::PyArrayDescr>) -> PyErr {
    InvalidInputError::new_err(format!(
        "samples of dtype {dt} cannot be audio: use float (any width), signed integer PCM or uint8"
    ))
}
