//! The log as one JSON document (the editor's JSON export):
//!
//! ```text
//! {"format":"genre-tagger log","version":1,"model":…,"labels":[…],"styles":[…],
//!  "started_utc":…,"hops":N,"forgotten_changes":0,
//!  "rows":[{"time_s":…,"utc":…,"hops":1,"span_s":0,"top":"jazz","confidence":…,
//!           "silent_hops":0,"level_db":…,"bpm":124.0,"key":"A minor","camelot":"8A",
//!           "distribution":[…],"styles":[…]},…],
//!  "changes":[{"time_s":…,"utc":…,"clock":"00:12:31","from":"hiphop","to":"reggae"},…]}
//! ```
//! `distribution` and `styles` are aligned with `labels` and `styles`; `bpm`, `key` and
//! `camelot` are null where the trackers showed none. Version 2 added them.

use super::{clock, utc, GenreLog};
use serde::Serialize;
use std::io::{self, Write};

pub const FORMAT: &str = "genre-tagger log";
pub const VERSION: u32 = 2;

#[derive(Serialize)]
struct Doc<'a> {
    format: &'static str,
    version: u32,
    model: &'a str,
    labels: &'a [String],
    styles: &'a [String],
    started_utc: String,
    hops: u64,
    forgotten_changes: u64,
    rows: Vec<RowDoc<'a>>,
    changes: Vec<ChangeDoc<'a>>,
}

#[derive(Serialize)]
struct RowDoc<'a> {
    time_s: f64,
    utc: String,
    hops: u32,
    span_s: f32,
    top: Option<&'a str>,
    confidence: f32,
    silent_hops: u32,
    level_db: f32,
    bpm: Option<f32>,
    key: Option<String>,
    camelot: Option<String>,
    distribution: Vec<f32>,
    styles: Vec<f32>,
}

#[derive(Serialize)]
struct ChangeDoc<'a> {
    time_s: f64,
    utc: String,
    clock: String,
    from: Option<&'a str>,
    to: &'a str,
}

pub fn write_log(log: &GenreLog, out: impl Write) -> io::Result<()> {
    let h = log.header();
    let name = |i: usize| h.labels.get(i).map(String::as_str).unwrap_or("?");
    let doc = Doc {
        format: FORMAT,
        version: VERSION,
        model: &h.model,
        labels: &h.labels,
        styles: &h.styles,
        started_utc: utc(log.started_unix_ms()),
        hops: log.hops(),
        forgotten_changes: log.forgotten_changes(),
        rows: log
            .rows()
            .map(|r| RowDoc {
                time_s: r.time_s,
                utc: utc(r.unix_ms),
                hops: r.hops,
                span_s: r.span_s,
                top: r.top.map(name),
                confidence: r.confidence,
                silent_hops: r.silent_hops,
                level_db: r.level_db,
                bpm: r.bpm,
                key: r.key.map(|k| k.name()),
                camelot: r.key.map(|k| k.camelot_code()),
                distribution: r.distribution,
                styles: r.styles,
            })
            .collect(),
        changes: log
            .changes()
            .map(|c| ChangeDoc {
                time_s: c.time_s,
                utc: utc(c.unix_ms),
                clock: clock(c.time_s),
                from: c.from.map(name),
                to: name(c.to),
            })
            .collect(),
    };
    serde_json::to_writer(out, &doc).map_err(io::Error::other)
}
