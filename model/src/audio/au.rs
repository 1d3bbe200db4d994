//! Sun/NeXT `.au`, the format the original GTZAN release ships in.
//!
//! Written by hand because symphonia has no AU demuxer and the format is a 24-byte
//! big-endian header followed by raw samples: a crate would be more code to vet than this.

use super::{downmix_into, Audio};
use crate::{Error, Result};
use std::path::Path;

const MAGIC: &[u8; 4] = b".snd";

pub fn is_au(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && &bytes[..4] == MAGIC
}

pub fn decode(bytes: &[u8], path: &Path) -> Result<Audio> {
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_owned(),
        reason,
    };
    if bytes.len() < 24 || !is_au(bytes) {
        return Err(corrupt("AU header is shorter than 24 bytes".into()));
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let offset = word(4) as usize;
    let declared = word(8);
    let encoding = word(12);
    let rate = word(16);
    let channels = word(20) as usize;
    if offset < 24 || offset > bytes.len() {
        return Err(corrupt(format!(
            "AU data offset {offset} lies outside the file"
        )));
    }
    if channels == 0 || channels > 64 {
        return Err(corrupt(format!("AU header claims {channels} channels")));
    }
    if rate == 0 {
        return Err(corrupt("AU header claims a sample rate of 0".into()));
    }
    let mut data = &bytes[offset..];
    let mut warnings = Vec::new();
    // 0xffffffff means "unknown size": read to the end of the file.
    if declared != u32::MAX {
        let declared = declared as usize;
        if declared < data.len() {
            data = &data[..declared];
        } else if declared > data.len() {
            warnings.push(format!(
                "AU file is truncated: header declares {declared} data bytes, file has {}",
                data.len()
            ));
        }
    }
    let interleaved: Vec<f32> = match encoding {
        1 => data.iter().map(|&b| mulaw(b)).collect(),
        2 => data.iter().map(|&b| b as i8 as f32 / 128.0).collect(),
        3 => data
            .chunks_exact(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]) as f32 / 32768.0)
            .collect(),
        4 => data
            .chunks_exact(3)
            .map(|c| (i32::from_be_bytes([c[0], c[1], c[2], 0]) >> 8) as f32 / 8_388_608.0)
            .collect(),
        5 => data
            .chunks_exact(4)
            .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f32 / 2_147_483_648.0)
            .collect(),
        6 => data
            .chunks_exact(4)
            .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        7 => data
            .chunks_exact(8)
            .map(|c| f64::from_be_bytes(c.try_into().expect("chunk of 8")) as f32)
            .collect(),
        27 => data.iter().map(|&b| alaw(b)).collect(),
        other => {
            return Err(Error::Unreadable {
                path: path.to_owned(),
                reason: format!("AU encoding {other} is not supported (supported: 1-7, 27)"),
            })
        }
    };
    let usable = interleaved.len() - interleaved.len() % channels;
    let mut samples = Vec::with_capacity(usable / channels);
    let non_finite = downmix_into(&interleaved[..usable], channels, &mut samples);
    if samples.is_empty() {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    Ok(Audio {
        samples,
        sample_rate: rate,
        source_channels: channels,
        non_finite,
        warnings,
    })
}

/// G.711 mu-law to linear, per ITU-T G.711.
fn mulaw(b: u8) -> f32 {
    let u = !b;
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0f;
    let magnitude = ((((mantissa as i32) << 3) + 0x84) << exponent) - 0x84;
    let v = if sign != 0 { -magnitude } else { magnitude };
    v as f32 / 32768.0
}

/// G.711 A-law to linear, per ITU-T G.711.
fn alaw(b: u8) -> f32 {
    let a = b ^ 0x55;
    let sign = a & 0x80;
    let exponent = (a >> 4) & 0x07;
    let mantissa = (a & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    let v = if sign != 0 { magnitude } else { -magnitude };
    v as f32 / 32768.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(encoding: u32, rate: u32, channels: u32, data_len: u32) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        for w in [24, data_len, encoding, rate, channels] {
            h.extend_from_slice(&w.to_be_bytes());
        }
        h
    }

    #[test]
    fn pcm16_stereo_is_downmixed() {
        let mut bytes = header(3, 8000, 2, 8);
        for s in [16384i16, 0, -16384, -16384] {
            bytes.extend_from_slice(&s.to_be_bytes());
        }
        let a = decode(&bytes, Path::new("x.au")).unwrap();
        assert_eq!(a.sample_rate, 8000);
        assert_eq!(a.source_channels, 2);
        assert_eq!(a.samples, vec![0.25, -0.5]);
    }

    #[test]
    fn mulaw_and_alaw_extremes() {
        assert!((mulaw(0x00) + 32124.0 / 32768.0).abs() < 1e-6);
        assert!((mulaw(0x80) - 32124.0 / 32768.0).abs() < 1e-6);
        assert_eq!(mulaw(0xff), 0.0);
        assert!((alaw(0xd5) - 8.0 / 32768.0).abs() < 1e-6);
        assert!((alaw(0x2a) + 32256.0 / 32768.0).abs() < 1e-6);
    }

    #[test]
    fn bad_headers_are_errors() {
        assert!(matches!(
            decode(b".snd", Path::new("x.au")),
            Err(Error::Corrupt { .. })
        ));
        let mut h = header(3, 8000, 1, 0);
        h[7] = 200; // offset beyond the end
        assert!(matches!(
            decode(&h, Path::new("x.au")),
            Err(Error::Corrupt { .. })
        ));
        let h = header(99, 8000, 1, 0);
        let e = decode(&h, Path::new("x.au")).unwrap_err().to_string();
        assert!(e.contains("encoding 99"), "{e}");
    }

    #[test]
    fn truncated_data_warns_and_keeps_what_is_there() {
        let mut bytes = header(3, 8000, 1, 100);
        bytes.extend_from_slice(&1000i16.to_be_bytes());
        let a = decode(&bytes, Path::new("x.au")).unwrap();
        assert_eq!(a.samples.len(), 1);
        assert_eq!(a.warnings.len(), 1);
    }
}
