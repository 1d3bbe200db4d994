//! What a saved state may set. nice-plug loads a state's plain values as they are, so a value
//! beyond its parameter's range (a hand-edited session, a version with other ranges) would
//! reach the analysis and the host's display unclamped (seen: smoothing 99 s of a 0–30 s
//! range came back as 99 s); here such values are brought into range before loading.

use crate::controls::Controls;
use crate::params::TaggerParams;
use nice_plug::plugin::ParamValue;
use nice_plug::prelude::*;
use std::sync::Arc;

/// Clamps every float and integer value in `state` to its parameter's range, as
/// [`TaggerParams`] defines it.
pub fn clamp_to_ranges(state: &mut PluginState) {
    let params = TaggerParams::new(Arc::new(Controls::default()));
    for (id, ptr, _) in params.param_map() {
        let Some(value) = state.params.get_mut(&id) else {
            continue;
        };
        // SAFETY: `ptr` points into `params`, which lives until the end of this function.
        let (lo, hi) = unsafe { (ptr.preview_plain(0.0), ptr.preview_plain(1.0)) };
        match value {
            ParamValue::F32(v) => *v = v.clamp(lo, hi),
            ParamValue::I32(v) => *v = (*v).clamp(lo as i32, hi as i32),
            ParamValue::Bool(_) | ParamValue::String(_) => {}
        }
    }
}
