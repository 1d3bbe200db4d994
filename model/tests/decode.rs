//! Every supported format decodes to the right rate, length and pitch; every bad file
//! gets its own clear error.

use model::audio::{decode_file, decode_file_head, Audio};
use model::Error;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// Frequency from the rate of upward zero crossings (robust for a clean sine).
fn pitch(a: &Audio) -> f32 {
    let s = &a.samples;
    let ups = s.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    ups as f32 / a.duration_s()
}

fn peak(a: &Audio) -> f32 {
    a.samples.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

#[test]
fn each_format_decodes_to_a_440_hz_mono_tone() {
    // (file, rate, channels, expected frames, frame tolerance, peak tolerance)
    let cases = [
        ("tone_44100_stereo.wav", 44_100, 2, 22_050, 0, 0.001),
        ("tone_48000_stereo.flac", 48_000, 2, 24_000, 0, 0.001),
        // MP3 carries encoder delay/padding; with or without gapless trimming.
        ("tone_44100_stereo.mp3", 44_100, 2, 22_050, 2_200, 0.05),
        ("tone_22050_mono.ogg", 22_050, 1, 11_025, 0, 0.05),
        ("tone_22050_mono.au", 22_050, 1, 11_025, 0, 0.001),
        ("tone_8000_mono_mulaw.au", 8_000, 1, 4_000, 0, 0.03),
        ("tone_16000_mono_f32.wav", 16_000, 1, 8_000, 0, 0.001),
    ];
    for (name, rate, ch, frames, tol, peak_tol) in cases {
        let a = decode_file(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.sample_rate, rate, "{name}");
        assert_eq!(a.source_channels, ch, "{name}");
        assert!(
            (a.samples.len() as i64 - frames as i64).abs() <= tol as i64,
            "{name}: {} frames",
            a.samples.len()
        );
        let f = pitch(&a);
        assert!((f - 440.0).abs() < 12.0, "{name}: pitch {f}");
        assert!(
            (peak(&a) - 0.5).abs() <= peak_tol,
            "{name}: peak {}",
            peak(&a)
        );
        assert_eq!(a.non_finite, 0, "{name}");
    }
}

#[test]
fn nan_and_inf_samples_are_zeroed_and_counted() {
    let a = decode_file(fixture("nan_16000_mono_f32.wav")).unwrap();
    assert_eq!(a.non_finite, 6);
    assert!(a.samples.iter().all(|x| x.is_finite()));
    assert_eq!(a.samples[1000], 0.0);
}

#[test]
fn silence_decodes_as_zeros() {
    let a = decode_file(fixture("silence_22050_mono.wav")).unwrap();
    assert_eq!(a.samples.len(), 22_050);
    assert!(a.samples.iter().all(|&x| x == 0.0));
}

#[test]
fn bad_files_get_clear_errors() {
    let e = decode_file(fixture("empty.wav")).unwrap_err();
    assert!(matches!(e, Error::Empty { .. }), "{e}");
    assert!(e.to_string().contains("empty.wav"), "{e}");

    let e = decode_file(fixture("not_audio.wav")).unwrap_err();
    assert!(matches!(e, Error::Unreadable { .. }), "{e}");

    for name in ["corrupt.flac", "truncated.ogg"] {
        let e = decode_file(fixture(name)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Unreadable { .. } | Error::Corrupt { .. } | Error::Empty { .. }
            ),
            "{name}: {e}"
        );
        assert!(e.to_string().contains(name), "{e}");
    }

    let e = decode_file(fixture("does_not_exist.wav")).unwrap_err();
    assert!(matches!(e, Error::Open { .. }), "{e}");
}

#[test]
fn head_decodes_the_start_exactly_as_the_full_decode_does() {
    for name in [
        "tone_44100_stereo.wav",
        "tone_48000_stereo.flac",
        "tone_22050_mono.ogg",
        "tone_22050_mono.au",
    ] {
        let full = decode_file(fixture(name)).unwrap();
        let head = decode_file_head(fixture(name), 0.2).unwrap();
        let n = (0.2 * full.sample_rate as f64).round() as usize;
        assert_eq!(head.sample_rate, full.sample_rate, "{name}");
        assert_eq!(head.samples[..], full.samples[..n], "{name}");
        // Asking for more than there is gives the whole file.
        assert_eq!(
            decode_file_head(fixture(name), 60.0).unwrap().samples,
            full.samples,
            "{name}"
        );
    }
}
