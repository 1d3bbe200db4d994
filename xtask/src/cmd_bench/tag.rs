//! The end-to-end rows of `cargo xtask bench`: tagging a 30-s clip against librosa + PyTorch,
//! and a whole song against the seed paper's published figure.

use super::session::{fill, Reference};
use super::table::{Row, Stat};
use super::{Bench, Inputs, CLIP_S};
use anyhow::Result;
use model::tagger::tag_audio;

/// The seed paper ("Music Genre Classification Using CNNs"): seconds to tag one song.
const PAPER_SONG_S: f64 = 17.0;

pub fn tag_clip_row(b: &mut Bench, inp: &Inputs) -> Result<Row> {
    let windows = tag_audio(inp.cnn.clone(), &inp.head, inp.opts)?
        .windows
        .len();
    let mut row = Row::new(
        "tag_30s",
        format!(
            "tag a {CLIP_S:.0}-s clip end to end: decode 44.1 kHz Ogg → resample → mel → CNN, \
             hop 1 s ({windows} windows)"
        ),
        "clip",
    );
    row.reference_name = format!("{} + {}", b.librosa, b.torch);
    row.audio_s = Some(inp.clip_s());
    let reference = Reference {
        cmd: inp.tag_cmd(),
        per: 1.0,
    };
    let mut ours = || -> Result<()> {
        let a = model::audio::decode_file_head(&inp.clip_path, CLIP_S)?;
        tag_audio(inp.cnn.clone(), &a, inp.opts)?;
        Ok(())
    };
    fill(
        &mut row,
        b.s.measure("tag 30 s", 1.0, &mut ours, Some(reference)),
    )?;
    Ok(row)
}

/// A whole song against the seed paper's published figure (not measured here).
pub fn tag_song_row(b: &mut Bench, inp: &Inputs) -> Result<Row> {
    let song = model::audio::decode_file(&inp.song_path)?;
    let mut row = Row::new(
        "tag_song",
        format!(
            "tag a whole song end to end (Let's Go Fishin', {:.0} s, 44.1 kHz Ogg)",
            song.duration_s()
        ),
        "song",
    );
    row.reference_name = "seed paper, published".into();
    row.reference = Some(Stat::fixed(PAPER_SONG_S));
    row.audio_s = Some(song.duration_s() as f64);
    row.reference_same_audio = false;
    row.note = Some("the paper does not give its song's length".into());
    let mut ours = || -> Result<()> {
        let a = model::audio::decode_file(&inp.song_path)?;
        tag_audio(inp.cnn.clone(), &a, inp.opts)?;
        Ok(())
    };
    let (o, _) = b.s.measure("tag song", 1.0, &mut ours, None);
    row.ours = Some(o?);
    Ok(row)
}
