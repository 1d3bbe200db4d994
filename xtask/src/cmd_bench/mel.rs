//! The mel row of `cargo xtask bench`: our log-mel of a 30-s clip against librosa's.

use super::session::{fill, Reference};
use super::table::{Goal, Row};
use super::CLIP_S;
use super::{Bench, Inputs};
use anyhow::Result;
use model::mel::mel_spectrogram;
use serde_json::json;

pub fn mel_row(b: &mut Bench, inp: &Inputs) -> Result<Row> {
    let mut row = Row::new(
        "mel_30s",
        format!("log-mel of a {CLIP_S:.0}-s clip (22 050 Hz, n_fft 2048, hop 512, 128 mels, dB)"),
        "clip",
    );
    row.reference_name = b.librosa.clone();
    row.audio_s = Some(inp.clip_s());
    row.goal = Some(Goal::RatioAtLeast { ratio: 20.0 });
    let reference = Reference {
        cmd: json!({"cmd": "mel"}),
        per: 1.0,
    };
    let mut ours = || -> Result<()> {
        mel_spectrogram(&inp.cfg, &inp.clip)?;
        Ok(())
    };
    fill(
        &mut row,
        b.s.measure("mel", 1.0, &mut ours, Some(reference)),
    )?;
    Ok(row)
}
