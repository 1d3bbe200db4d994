//! Reading musicnn's published weights as the `musicnn` Python package ships them: TF1
//! variable names (`conv2d_3/kernel`, `batch_normalization_7/gamma`, …) and TF layouts
//! (conv kernels `[kt, kf, 1, filters]`, dense kernels `[in, out]`). They are renamed to
//! what each layer is and laid out for [`super::Backbone`]; the mapping follows the order
//! in which `models.py` creates its layers.

use super::backbone::Variant;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// (TF conv, TF batch norm, our layer), in `models.py`'s creation order.
const CONV_LAYERS: [(&str, &str, &str); 8] = [
    ("conv2d", "batch_normalization_1", "timbral_38"),
    ("conv2d_1", "batch_normalization_2", "timbral_67"),
    ("conv2d_2", "batch_normalization_3", "temporal_128"),
    ("conv2d_3", "batch_normalization_4", "temporal_64"),
    ("conv2d_4", "batch_normalization_5", "temporal_32"),
    ("conv2d_5", "batch_normalization_6", "mid_1"),
    ("conv2d_6", "batch_normalization_7", "mid_2"),
    ("conv2d_7", "batch_normalization_8", "mid_3"),
];
const NORMS: [(&str, &str); 3] = [
    ("batch_normalization", "input_bn"),
    ("batch_normalization_9", "pool_bn"),
    ("batch_normalization_10", "dense_bn"),
];
const DENSES: [(&str, &str); 2] = [("dense", "dense"), ("dense_1", "tags")];
const BN_PARAMS: [&str; 4] = ["gamma", "beta", "moving_mean", "moving_variance"];

/// How a TF tensor is laid out for this port.
#[derive(Clone, Copy)]
enum Relayout {
    AsIs,
    /// `[kt, kf, 1, filters]` → `[filters, kt·kf]`, rows in (kt, kf) order.
    ConvKernel,
    /// `[in, out]` → candle's `[out, in]`.
    DenseKernel,
}

/// Every (TF name, our name, relayout), in `models.py`'s creation order.
fn mapping() -> Vec<(String, String, Relayout)> {
    let mut m = Vec::new();
    let bn = |m: &mut Vec<_>, tf_bn: &str, ours: &str| {
        for p in BN_PARAMS {
            m.push((
                format!("{tf_bn}/{p}"),
                format!("{ours}.{p}"),
                Relayout::AsIs,
            ));
        }
    };
    for (conv, tf_bn, ours) in CONV_LAYERS {
        m.push((
            format!("{conv}/kernel"),
            format!("{ours}.conv.weight"),
            Relayout::ConvKernel,
        ));
        m.push((
            format!("{conv}/bias"),
            format!("{ours}.conv.bias"),
            Relayout::AsIs,
        ));
        bn(&mut m, tf_bn, &format!("{ours}.bn"));
    }
    for (tf_bn, ours) in NORMS {
        bn(&mut m, tf_bn, ours);
    }
    for (dense, ours) in DENSES {
        m.push((
            format!("{dense}/kernel"),
            format!("{ours}.weight"),
            Relayout::DenseKernel,
        ));
        m.push((
            format!("{dense}/bias"),
            format!("{ours}.bias"),
            Relayout::AsIs,
        ));
    }
    m
}

/// A TF checkpoint's tensors renamed and re-laid for the backbone, names prefixed with
/// `prefix` (e.g. `"backbone."`). Fails listing every missing TF variable and refuses
/// leftovers, so a checkpoint of another architecture is never half-loaded.
pub fn import_tf(
    tf: &HashMap<String, Tensor>,
    prefix: &str,
) -> candle_core::Result<HashMap<String, Tensor>> {
    let map = mapping();
    let missing: Vec<&str> = map
        .iter()
        .map(|(name, _, _)| name.as_str())
        .filter(|n| !tf.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        candle_core::bail!("not a musicnn checkpoint: missing {}", missing.join(", "));
    }
    let mut extra: Vec<&str> = tf
        .keys()
        .map(String::as_str)
        .filter(|k| !map.iter().any(|(name, _, _)| name == k))
        .collect();
    if !extra.is_empty() {
        extra.sort();
        candle_core::bail!("not a musicnn checkpoint: unexpected {}", extra.join(", "));
    }
    let mut out = HashMap::new();
    for (name, ours, relayout) in map {
        let t = &tf[&name];
        let t = match relayout {
            Relayout::AsIs => t.clone(),
            Relayout::ConvKernel => {
                let dims = t.dims().to_vec();
                if dims.len() != 4 || dims[2] != 1 {
                    candle_core::bail!(
                        "'{name}' has shape {dims:?}, expected [kt, kf, 1, filters]"
                    );
                }
                t.reshape((dims[0] * dims[1], dims[3]))?.t()?.contiguous()?
            }
            Relayout::DenseKernel => t.t()?.contiguous()?,
        };
        out.insert(format!("{prefix}{ours}"), t);
    }
    Ok(out)
}

/// A TF-layout musicnn file (`MSD_musicnn.safetensors` / `MTT_musicnn.safetensors`),
/// converted: which variant its metadata names, and the tensors under `prefix`.
pub fn read_tf_file(
    path: &Path,
    prefix: &str,
    device: &Device,
) -> Result<(Variant, HashMap<String, Tensor>)> {
    let bad = |reason: String| Error::ModelFile {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    let model = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("model"))
        .cloned()
        .unwrap_or_default();
    let variant = match model.as_str() {
        "MSD_musicnn" => Variant::Msd,
        "MTT_musicnn" => Variant::Mtt,
        other => {
            return Err(bad(format!(
                "metadata 'model' is '{other}', expected MSD_musicnn or MTT_musicnn"
            )))
        }
    };
    let tf =
        candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| bad(e.to_string()))?;
    if let Some((k, t)) = tf.iter().find(|(_, t)| t.dtype() != DType::F32) {
        return Err(bad(format!(
            "tensor '{k}' is {:?}, expected F32",
            t.dtype()
        )));
    }
    let tensors = import_tf(&tf, prefix).map_err(|e| bad(e.to_string()))?;
    Ok((variant, tensors))
}
