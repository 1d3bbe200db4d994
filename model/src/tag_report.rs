//! The `tag --json` document, built in one place: `cargo xtask tag --json` prints it and
//! the Python package returns it, so the two cannot disagree.
//!
//! ```text
//! {"model": source,
//!  "files": [{"path", "duration_s", "genre", "unsure", "distribution": {label: p, …},
//!             "styles": [{"name", "probability"}, …],          // top 5, models with styles
//!             "tempo": {"bpm", "confidence"} | null,
//!             "key": {"name", "camelot", "confidence"} | null,
//!             "timeline": [{"start_s", "distribution", "unsure", "styles", "silent"?,
//!                           "tempo", "key"}, …]}, …]}
//! ```
//! Probabilities are rounded to 4 decimals, times to milliseconds, tempi to 0.1 BPM.
//! `"styles"` is present exactly when the model's card has styles; a silent window's list
//! is empty. `"unsure"`: the runner-up is within 5 points of the top
//! ([`crate::distribution::unsure`], the editor's rule); false for a silent window. A file's tempo and key are voted over the whole file
//! ([`RhythmTimeline`]); a window's are what the live trackers showed at its end, so they
//! are `null` for the first seconds and wherever there is no beat or no pitch.

use crate::audio::Audio;
use crate::rhythm::{Key, RhythmTimeline, Tempo};
use crate::tagger::{tag_audio, tag_samples, FileTags, TaggerOptions, WindowResult};
use crate::weights::{LoadedModel, ModelCard};
use crate::Result;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Styles listed per file and per window: enough to name a track's flavour without
/// turning the report into the whole vocabulary.
pub const TOP_STYLES: usize = 5;

/// What a file's entry reports: its genre tags and the tempo and key readings as the plugin
/// would have shown them while it played. Only the report needs the readings, so the
/// genre-only paths (`eval`, `bench`, the zoo, calibration) do not pay for them.
pub struct FileReport {
    pub tags: FileTags,
    pub rhythm: RhythmTimeline,
}

/// [`tag_audio`] and the tempo and key readings of the same audio.
pub fn analyse_audio(
    model: Arc<LoadedModel>,
    audio: &Audio,
    opts: TaggerOptions,
) -> Result<FileReport> {
    Ok(FileReport {
        tags: tag_audio(model, audio, opts)?,
        rhythm: RhythmTimeline::analyse(&audio.samples, audio.sample_rate)?,
    })
}

/// [`tag_samples`] and the tempo and key readings of the same samples.
pub fn analyse_samples(
    model: Arc<LoadedModel>,
    samples: &[f32],
    sample_rate: u32,
    opts: TaggerOptions,
) -> Result<FileReport> {
    Ok(FileReport {
        tags: tag_samples(model, samples, sample_rate, opts)?,
        rhythm: RhythmTimeline::analyse(samples, sample_rate)?,
    })
}

/// The whole document for the files tagged with the model from `source`.
pub fn document(source: &str, files: Vec<Value>) -> Value {
    json!({ "model": source, "files": files })
}

/// One file's entry: length, top genre, mean distribution, top styles, tempo and key, and
/// the window timeline.
pub fn file_entry(path: &str, report: &FileReport, card: &ModelCard) -> Value {
    let (tags, rhythm) = (&report.tags, &report.rhythm);
    let timeline: Vec<Value> = tags
        .windows
        .iter()
        .map(|w| window_entry(w, card, rhythm))
        .collect();
    let mut v = json!({
        "path": path,
        "duration_s": millis(tags.duration_s),
        "genre": card.labels[tags.top],
        "unsure": crate::distribution::unsure(&tags.distribution),
        "distribution": distribution(&tags.distribution, &card.labels),
    });
    if !card.styles.is_empty() {
        v["styles"] = styles(&tags.styles, &card.styles);
    }
    v["tempo"] = tempo(rhythm.overall_tempo());
    v["key"] = key(rhythm.overall_key());
    v["timeline"] = Value::Array(timeline);
    v
}

/// `{"bpm": 123.4, "confidence": 0.52}`, or null.
pub fn tempo(t: Option<Tempo>) -> Value {
    t.map_or(Value::Null, |t| {
        json!({ "bpm": ((t.bpm as f64) * 10.0).round() / 10.0, "confidence": round4(t.confidence) })
    })
}

/// `{"name": "A minor", "camelot": "8A", "confidence": 0.71}`, or null.
pub fn key(k: Option<Key>) -> Value {
    k.map_or(Value::Null, |k| {
        json!({ "name": k.name(), "camelot": k.camelot_code(), "confidence": round4(k.confidence) })
    })
}

fn window_entry(w: &WindowResult, card: &ModelCard, rhythm: &RhythmTimeline) -> Value {
    let mut v = json!({
        "start_s": millis(w.start_s),
        "distribution": distribution(&w.probs, &card.labels),
        "unsure": !w.silent && crate::distribution::unsure(&w.probs),
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
    let reading = rhythm.at(w.start_s + card.window_seconds() as f64);
    v["tempo"] = tempo(reading.and_then(|r| r.tempo));
    v["key"] = key(reading.and_then(|r| r.key));
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
