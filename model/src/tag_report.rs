//! The `tag --json` document, built in one place: `cargo xtask tag --json` prints it and
//! the Python package returns it, so the two cannot disagree.
//!
//! ```text
//! {"model": source,
//!  "files": [{"path", "duration_s", "genre", "distribution": {label: p, …},
//!             "styles": [{"name", "probability"}, …],          // top 5, models with styles
//!             "timeline": [{"start_s", "distribution", "styles", "silent"?}, …]}, …]}
//! ```
//! Probabilities are rounded to 4 decimals, times to milliseconds. `"styles"` is present
//! exactly when the model's card has styles; a silent window's list is empty.

use crate::tagger::{FileTags, WindowResult};
use crate::weights::ModelCard;
use serde_json::{json, Map, Value};

/// Styles listed per file and per window: enough to name a track's flavour without
/// turning the report into the whole vocabulary.
pub const TOP_STYLES: usize = 5;

/// The whole document for the files tagged with the model from `source`.
pub fn document(source: &str, files: Vec<Value>) -> Value {
    json!({ "model": source, "files": files })
}

/// One file's entry: length, top genre, mean distribution, top styles and the window
/// timeline.
pub fn file_entry(path: &str, tags: &FileTags, card: &ModelCard) -> Value {
    let timeline: Vec<Value> = tags.windows.iter().map(|w| window_entry(w, card)).collect();
    let mut v = json!({
        "path": path,
        "duration_s": millis(tags.duration_s),
        "genre": card.labels[tags.top],
        "distribution": distribution(&tags.distribution, &card.labels),
    });
    if !card.styles.is_empty() {
        v["styles"] = styles(&tags.styles, &card.styles);
    }
    v["timeline"] = Value::Array(timeline);
    v
}

fn window_entry(w: &WindowResult, card: &ModelCard) -> Value {
    let mut v = json!({
        "start_s": millis(w.start_s),
        "distribution": distribution(&w.probs, &card.labels),
    });
    if !card.styles.is_empty() {
        v["styles"] = if w.silent {
            json!([])
        } else {
            styles(&w.styles, &card.styles)
        };
    }
    if w.silent {
        v["silent"] = json!(true);
    }
    v
}

/// The `k` most probable styles, most probable first (ties: vocabulary order), as
/// `(index into the vocabulary, probability)`.
pub fn top_styles(probs: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    // A stable sort keeps equal probabilities in vocabulary order.
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    order.into_iter().take(k).map(|i| (i, probs[i])).collect()
}

fn millis(seconds: f64) -> Value {
    json!((seconds * 1000.0).round() / 1000.0)
}

fn round4(p: f32) -> Value {
    json!((p as f64 * 1e4).round() / 1e4)
}

fn distribution(p: &[f32], labels: &[String]) -> Value {
    let m: Map<String, Value> = labels
        .iter()
        .zip(p)
        .map(|(l, &v)| (l.clone(), round4(v)))
        .collect();
    Value::Object(m)
}

fn styles(probs: &[f32], names: &[String]) -> Value {
    top_styles(probs, TOP_STYLES)
        .into_iter()
        .map(|(i, p)| json!({ "name": names[i], "probability": round4(p) }))
        .collect()
}
