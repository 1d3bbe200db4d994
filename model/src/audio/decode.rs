//! Decoding any supported file to mono: symphonia for wav/flac/mp3/ogg-vorbis, our own
//! reader for Sun `.au`.

use super::{au, downmix_into, Audio};
use crate::{Error, Result};
use std::io::Cursor;
use std::path::Path;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Decodes a file to mono. Reads the whole file first: clips are seconds to minutes, and
/// holding the bytes lets the `.au` check look at the magic number, not the extension.
pub fn decode_file(path: impl AsRef<Path>) -> Result<Audio> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    decode_bytes(bytes, path)
}

/// Decodes only the first `seconds` of a file (fewer if it is shorter): packets past that
/// point are not decoded, so tagging an excerpt costs the excerpt, not the whole file.
/// The samples are exactly those [`decode_file`] gives, cut to `round(seconds × rate)`.
pub fn decode_file_head(path: impl AsRef<Path>, seconds: f64) -> Result<Audio> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut audio = decode_limited(bytes, path, Some(seconds))?;
    let keep = (seconds.max(0.0) * audio.sample_rate as f64).round() as usize;
    audio.samples.truncate(keep);
    Ok(audio)
}

/// Decodes an in-memory file; `path` names it in errors and gives the extension hint.
pub fn decode_bytes(bytes: Vec<u8>, path: &Path) -> Result<Audio> {
    decode_limited(bytes, path, None)
}

/// Decodes until at least `limit_s` seconds are out (all of it when `None`).
fn decode_limited(bytes: Vec<u8>, path: &Path, limit_s: Option<f64>) -> Result<Audio> {
    if bytes.is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    if au::is_au(&bytes) {
        return au::decode(&bytes, path);
    }
    decode_with_symphonia(bytes, path, limit_s)
}

fn decode_with_symphonia(bytes: Vec<u8>, path: &Path, limit_s: Option<f64>) -> Result<Audio> {
    let unreadable = |reason: String| Error::Unreadable {
        path: path.to_owned(),
        reason,
    };
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_owned(),
        reason,
    };

    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| unreadable(format!("unrecognised format ({e})")))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unreadable("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unreadable("the audio track has no codec parameters".into()))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| unreadable(format!("no decoder for this codec ({e})")))?;

    let mut samples = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut non_finite = 0;
    let mut bad_packets = 0usize;
    let mut warnings = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                if !samples.is_empty() {
                    warnings.push("file ends abruptly (truncated?): decoded what was there".into());
                }
                break;
            }
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                if samples.is_empty() {
                    return Err(corrupt(e.to_string()));
                }
                warnings.push(format!("stopped at a damaged part of the stream: {e}"));
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec = buf.spec();
                rate = spec.rate();
                channels = spec.channels().count().max(1);
                interleaved.resize(buf.samples_interleaved(), 0.0);
                buf.copy_to_slice_interleaved(&mut interleaved);
                non_finite += downmix_into(&interleaved, channels, &mut samples);
                if limit_s.is_some_and(|l| samples.len() as f64 >= l * rate as f64) {
                    break;
                }
            }
            Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => bad_packets += 1,
            Err(e) => return Err(corrupt(e.to_string())),
        }
    }
    if bad_packets > 0 {
        warnings.push(format!("skipped {bad_packets} undecodable packet(s)"));
    }
    if samples.is_empty() {
        return Err(if bad_packets > 0 {
            corrupt(format!("none of {bad_packets} packet(s) could be decoded"))
        } else {
            Error::Empty {
                path: path.to_owned(),
            }
        });
    }
    if rate == 0 {
        return Err(corrupt("the stream declares no sample rate".into()));
    }
    Ok(Audio {
        samples,
        sample_rate: rate,
        source_channels: channels,
        non_finite,
        warnings,
    })
}
