//! The DJ mix of `cargo xtask decisions`: which held-out pieces, cut back to back, and
//! written out to listen to.

use super::Sets;
use crate::protocol::genre_index;
use anyhow::Result;
use model::dj_mix::{self, Segment};
use model::GENRES;
use std::path::{Path, PathBuf};

/// The mix: held-out pieces of alternating genres, 30 s of each, cut back to back at one
/// level. Which pieces is fixed here (the first held-out Emotify files of each genre, in
/// file order, and the four CC pieces), not chosen by how any model does on them.
pub fn mix_pieces(sets: &Sets) -> Vec<(String, usize, PathBuf)> {
    let emotify = |genre: &str, nth: usize| {
        sets.heldout
            .iter()
            .filter(|c| GENRES[c.genre] == genre)
            .nth(nth)
            .map(|c| c.path.clone())
    };
    let cc = |stem: &str| {
        sets.cc
            .iter()
            .find(|c| c.path.ends_with(format!("{stem}.ogg")))
    };
    let order: [(&str, Option<PathBuf>); 9] = [
        (
            "classical",
            cc("brahms_hungarian_dance_5").map(|c| c.path.clone()),
        ),
        ("pop", emotify("pop", 0)),
        ("jazz", cc("vibe_ace").map(|c| c.path.clone())),
        ("rock", emotify("rock", 0)),
        ("country", cc("lets_go_fishin").map(|c| c.path.clone())),
        ("classical", emotify("classical", 0)),
        ("pop", emotify("pop", 1)),
        (
            "classical",
            cc("tchaikovsky_sugar_plum_fairy").map(|c| c.path.clone()),
        ),
        ("rock", emotify("rock", 1)),
    ];
    order
        .into_iter()
        .filter_map(|(genre, path)| {
            let path = path?;
            let name = path.file_stem()?.to_string_lossy().into_owned();
            Some((name, genre_index(genre), path))
        })
        .collect()
}

/// Seconds of each piece in the mix, and where in the piece they start (past any intro).
pub const PIECE_S: f64 = 30.0;
pub const PIECE_OFFSET_S: f64 = 15.0;
pub const MIX_RATE: u32 = 44_100;

pub fn build_mix(pieces: &[(String, usize, PathBuf)]) -> Result<(Vec<f32>, Vec<Segment>)> {
    let mut cut = Vec::new();
    for (name, label, path) in pieces {
        let audio = model::audio::decode_file(path)?;
        let x = model::audio::resample(&audio.samples, audio.sample_rate, MIX_RATE)?;
        let len = (PIECE_S * MIX_RATE as f64) as usize;
        let start = ((PIECE_OFFSET_S * MIX_RATE as f64) as usize).min(x.len().saturating_sub(len));
        cut.push((
            name.clone(),
            *label,
            x[start..(start + len).min(x.len())].to_vec(),
        ));
    }
    Ok(dj_mix::cut_back_to_back(&cut, MIX_RATE, -20.0))
}

pub fn write_wav(path: &Path, x: &[f32], rate: u32) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = hound::WavWriter::create(path, spec)?;
    for &s in x {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()?;
    Ok(())
}
