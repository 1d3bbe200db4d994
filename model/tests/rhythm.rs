//! The live tempo and key on signals whose tempo and key are known exactly: click tracks
//! at 60–200 BPM at every input rate the plugin meets, chord progressions in major and
//! minor keys, a change of tempo, and silence and noise (which must give no estimate).

use model::rhythm::{Key, KeyProfile, Mode, Rhythm, RhythmTimeline};

const RATES: [u32; 4] = [22_050, 44_100, 48_000, 96_000];

/// A click track: a 1-kHz blip decaying in ~10 ms at every beat, `seconds` long.
fn clicks(bpm: f64, rate: u32, seconds: f64, phase_s: f64) -> Vec<f32> {
    let n = (seconds * rate as f64) as usize;
    let mut x = vec![0f32; n];
    let period = 60.0 / bpm;
    let blip = (0.05 * rate as f64) as usize;
    let mut t = phase_s;
    while t < seconds {
        let start = (t * rate as f64).round() as usize;
        for i in 0..blip.min(n.saturating_sub(start)) {
            let s = i as f64 / rate as f64;
            x[start + i] +=
                (0.5 * (2.0 * std::f64::consts::PI * 1000.0 * s).sin() * (-s / 0.01).exp()) as f32;
        }
        t += period;
    }
    x
}

/// Feeds `x` in blocks of 1000 samples (not a multiple of any hop), calling `each` after
/// every block with the time fed so far.
fn feed(r: &mut Rhythm, x: &[f32], mut each: impl FnMut(&Rhythm, f64)) {
    let rate = r.input_rate() as f64;
    let mut fed = 0;
    for chunk in x.chunks(1000) {
        r.push(chunk).unwrap();
        fed += chunk.len();
        each(r, fed as f64 / rate);
    }
}

fn tempo_after(x: &[f32], rate: u32) -> Option<f32> {
    let mut r = Rhythm::new(rate).unwrap();
    feed(&mut r, x, |_, _| {});
    r.tempo().map(|t| t.bpm)
}

#[test]
fn click_tracks_give_their_tempo_within_one_percent_at_every_rate() {
    for (i, bpm) in [60.0, 72.0, 90.0, 104.0, 120.0, 137.0, 155.0, 174.0, 200.0]
        .into_iter()
        .enumerate()
    {
        for rate in RATES {
            let x = clicks(bpm, rate, 12.0, 0.013 * i as f64);
            let got =
                tempo_after(&x, rate).unwrap_or_else(|| panic!("{bpm} BPM at {rate} Hz: no tempo"));
            let err = (got as f64 / bpm - 1.0).abs();
            assert!(err < 0.01, "{bpm} BPM at {rate} Hz: got {got}");
        }
    }
}

/// Seconds after a change of tempo within which the new tempo is shown (and stays).
const RELOCK_S: f64 = 8.0;

#[test]
fn a_change_of_tempo_is_followed_within_eight_seconds() {
    let rate = 44_100;
    let (before, after, change) = (100.0, 128.0, 15.0);
    let mut x = clicks(before, rate, change, 0.0);
    x.extend(clicks(after, rate, 12.0, 0.1));
    let mut r = Rhythm::new(rate).unwrap();
    let mut at_change = None;
    // The last time the shown tempo was not the new one.
    let mut last_wrong = 0.0;
    feed(&mut r, &x, |r, t| {
        let bpm = r.tempo().map(|t| t.bpm as f64);
        if t <= change {
            at_change = bpm;
        } else if bpm.is_none_or(|b| (b / after - 1.0).abs() > 0.01) {
            last_wrong = t;
        }
    });
    let at_change = at_change.expect("a tempo before the change");
    assert!((at_change / before - 1.0).abs() < 0.01, "{at_change}");
    let relock = last_wrong - change;
    assert!(
        relock <= RELOCK_S,
        "{after} BPM shown for good only {relock:.1} s after the change"
    );
    // Stable within the piece: the same tempo shown through the last 4 s.
    assert!(last_wrong < x.len() as f64 / rate as f64 - 4.0);
}

/// A harmonic tone (6 partials, falling 0.6 per partial) of MIDI `pitch`.
fn tone(out: &mut [f32], rate: u32, pitch: f64, amp: f64) {
    let f = 440.0 * 2f64.powf((pitch - 69.0) / 12.0);
    let n = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        let t = i as f64 / rate as f64;
        let env = (1.0 - (-t / 0.01).exp()) * (-t / 1.5).exp() * (1.0 - i as f64 / n as f64);
        let s: f64 = (1..=6)
            .map(|h| 0.6f64.powi(h - 1) * (2.0 * std::f64::consts::PI * h as f64 * f * t).sin())
            .sum();
        *o += (amp * env * s) as f32;
    }
}

/// I–IV–V–I (major) or i–iv–V–i (minor, the V major as in harmonic minor) in the key of
/// `tonic` (pitch class), one chord a second, three times over: the bass an octave and a
/// half below the triad.
fn progression(tonic: u8, mode: Mode, rate: u32) -> Vec<f32> {
    let third = if mode == Mode::Major { 4 } else { 3 };
    let sixth = if mode == Mode::Major { 9 } else { 8 };
    let chords: [[i32; 3]; 4] = [[0, third, 7], [5, sixth, 12], [7, 11, 14], [0, third, 7]];
    let chord_len = rate as usize;
    let mut x = vec![0f32; chord_len * 12];
    for (k, out) in x.chunks_mut(chord_len).enumerate() {
        let chord = chords[k % 4];
        let root = 60.0 + tonic as f64;
        tone(out, rate, root + chord[0] as f64 - 24.0, 0.2);
        for &p in &chord {
            tone(out, rate, root + p as f64, 0.12);
        }
    }
    x
}

#[test]
fn chord_progressions_give_their_key_with_every_profile() {
    let rate = 44_100;
    for (tonic, mode) in [
        (0, Mode::Major),
        (7, Mode::Major),
        (6, Mode::Major),
        (10, Mode::Major),
        (9, Mode::Minor),
        (4, Mode::Minor),
        (0, Mode::Minor),
        (6, Mode::Minor),
    ] {
        let mut r = Rhythm::new(rate).unwrap();
        feed(&mut r, &progression(tonic, mode, rate), |_, _| {});
        for profile in KeyProfile::ALL {
            let want = Key {
                tonic,
                mode,
                confidence: 0.0,
            };
            let got = r
                .key_with(profile)
                .unwrap_or_else(|| panic!("{}: no key with {profile:?}", want.name()));
            assert_eq!(
                (got.tonic, got.mode),
                (tonic, mode),
                "{} with {profile:?}: got {}",
                want.name(),
                got.name()
            );
            assert!(got.confidence > 0.5, "{got:?}");
        }
        assert_eq!(r.key(), r.key_with(KeyProfile::DEFAULT));
    }
}

#[test]
fn silence_and_noise_have_no_tempo_and_no_key() {
    let rate = 48_000;
    let n = rate as usize * 12;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<f32> = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
        })
        .collect();
    for (what, x) in [("silence", vec![0f32; n]), ("white noise", noise)] {
        let mut r = Rhythm::new(rate).unwrap();
        feed(&mut r, &x, |_, _| {});
        assert_eq!(r.tempo(), None, "{what}");
        assert_eq!(r.key(), None, "{what}");
    }
}

#[test]
fn a_tempo_and_key_end_in_none_when_the_music_stops_and_reset_forgets_them() {
    let rate = 44_100;
    let mut x = clicks(120.0, rate, 10.0, 0.0);
    for (o, p) in x.iter_mut().zip(progression(2, Mode::Major, rate)) {
        *o += p;
    }
    let mut r = Rhythm::new(rate).unwrap();
    feed(&mut r, &x, |_, _| {});
    assert!(r.tempo().is_some() && r.key().is_some());
    r.reset();
    assert_eq!((r.tempo(), r.key()), (None, None));
    feed(&mut r, &x, |_, _| {});
    assert!(r.tempo().is_some());
    feed(&mut r, &vec![0f32; rate as usize * 12], |_, _| {});
    assert_eq!(r.tempo(), None);
}

#[test]
fn camelot_codes_follow_the_wheel() {
    let key = |tonic, mode| Key {
        tonic,
        mode,
        confidence: 1.0,
    };
    for (tonic, mode, code, name) in [
        (0, Mode::Major, "8B", "C major"),
        (7, Mode::Major, "9B", "G major"),
        (5, Mode::Major, "7B", "F major"),
        (11, Mode::Major, "1B", "B major"),
        (6, Mode::Major, "2B", "F# major"),
        (9, Mode::Minor, "8A", "A minor"),
        (0, Mode::Minor, "5A", "C minor"),
        (8, Mode::Minor, "1A", "G# minor"),
        (2, Mode::Minor, "7A", "D minor"),
    ] {
        assert_eq!(key(tonic, mode).camelot_code(), code, "{name}");
        assert_eq!(key(tonic, mode).name(), name);
    }
}

#[test]
fn an_impossible_input_rate_is_refused() {
    let e = Rhythm::new(0).err().expect("rate 0 refused");
    assert!(e.to_string().contains('0'), "{e}");
}

#[test]
fn a_file_gets_the_tempo_and_key_most_of_it_has_and_each_moment_its_own() {
    let rate = 44_100;
    // 20 s at 100 BPM, then 40 s at 130 BPM: the file's tempo is the longer one, and the
    // timeline shows each part's while it plays.
    let mut x = clicks(100.0, rate, 20.0, 0.0);
    x.extend(clicks(130.0, rate, 40.0, 0.05));
    let t = RhythmTimeline::analyse(&x, rate).unwrap();
    assert_eq!(t.readings().len(), 600, "one reading per 0.1 s");
    let overall = t.overall_tempo().expect("a tempo");
    assert!((overall.bpm / 130.0 - 1.0).abs() < 0.01, "{overall:?}");
    assert!(
        overall.confidence > 0.3 && overall.confidence < 1.0,
        "{overall:?}"
    );
    let at = |s: f64| t.at(s).and_then(|r| r.tempo).map(|t| t.bpm);
    assert_eq!(at(2.0), None, "no tempo in the first seconds");
    assert!(
        (at(15.0).unwrap() / 100.0 - 1.0).abs() < 0.01,
        "{:?}",
        at(15.0)
    );
    assert!(
        (at(55.0).unwrap() / 130.0 - 1.0).abs() < 0.01,
        "{:?}",
        at(55.0)
    );
    assert_eq!(t.at(-1.0), None);

    // A minor progression for 24 s, then its relative major for 12 s: A minor wins.
    let mut x = progression(9, Mode::Minor, rate);
    x.extend(progression(9, Mode::Minor, rate));
    x.extend(progression(0, Mode::Major, rate));
    let t = RhythmTimeline::analyse(&x, rate).unwrap();
    let key = t.overall_key().expect("a key");
    assert_eq!((key.tonic, key.mode), (9, Mode::Minor), "{key:?}");
    assert_eq!(key.camelot_code(), "8A");

    let silence = RhythmTimeline::analyse(&vec![0.0; rate as usize * 10], rate).unwrap();
    assert_eq!(
        (silence.overall_tempo(), silence.overall_key()),
        (None, None)
    );
}

#[test]
fn a_key_survives_its_index() {
    for i in 0..24u8 {
        let k = Key::from_index(i, 0.5).unwrap();
        assert_eq!(k.index(), i);
    }
    assert_eq!(Key::from_index(24, 0.5), None);
    let a_minor = Key::from_index(21, 0.5).unwrap();
    assert_eq!((a_minor.tonic, a_minor.mode), (9, Mode::Minor));
}
