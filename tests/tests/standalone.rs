//! The standalone runs headless with the dummy backend (silence, `process()` on time) for a
//! few seconds and exits 0 on SIGINT; a backend that cannot start makes it exit non-zero.
//! Never the default `auto` backend here: it picks ALSA and hangs without a sound card.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use workspace_tests::standalone_binary;

fn headless(cmd: &mut Command) -> &mut Command {
    cmd.env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("JACK_NO_START_SERVER", "1")
}

#[test]
fn runs_headless_with_the_dummy_backend_and_exits_0() {
    let bin = standalone_binary();
    let t = Instant::now();
    let out = headless(
        Command::new("timeout")
            .args(["--preserve-status", "-s", "INT", "-k", "10", "4"])
            .arg(&bin),
    )
    .args([
        "--backend",
        "dummy",
        "--sample-rate",
        "48000",
        "--period-size",
        "512",
    ])
    .output()
    .expect("run timeout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "standalone exited with {:?}\n{stderr}",
        out.status
    );
    assert!(
        t.elapsed() >= Duration::from_secs(3),
        "standalone stopped early\n{stderr}"
    );
}

#[test]
fn exits_non_zero_when_the_backend_fails() {
    let bin = standalone_binary();
    // No JACK server runs here (and JACK_NO_START_SERVER stops libjack from starting one).
    let out = headless(Command::new("timeout").args(["-s", "KILL", "20"]).arg(&bin))
        .args(["--backend", "jack"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(124), "timed out instead of failing");
    assert!(
        !out.status.success(),
        "expected a failure exit, got {:?}",
        out.status
    );
}

/// A 16-bit mono WAV of the first `seconds` of a committed fixture, in a temp folder.
fn short_wav(dir: &std::path::Path, seconds: f64) -> std::path::PathBuf {
    let audio = model::audio::decode_file_head(workspace_tests::fixture("vibe_ace.ogg"), seconds)
        .expect("decode fixture");
    write_wav(&dir.join("input.wav"), &audio.samples, audio.sample_rate)
}

/// `samples` as a 16-bit mono WAV at `path`.
fn write_wav(path: &std::path::Path, samples: &[f32], rate: u32) -> std::path::PathBuf {
    let data: Vec<u8> = samples
        .iter()
        .flat_map(|s| ((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).unwrap();
    path.to_path_buf()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("genre-tagger-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn plays_a_file_in_real_time_logs_every_hop_and_exits_at_its_end() {
    let bin = standalone_binary();
    let dir = temp_dir("input");
    let wav = short_wav(&dir, 6.0);
    let log = dir.join("set.csv");
    let t = Instant::now();
    let out = headless(Command::new("timeout").args(["-s", "KILL", "60"]).arg(&bin))
        .args(["--backend", "dummy", "--period-size", "512"])
        .arg("--input")
        .arg(&wav)
        .arg(format!("--log={}", log.display()))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(stderr.contains("end of input"), "{stderr}");
    // Real time: six seconds of music take six seconds.
    assert!(t.elapsed() >= Duration::from_secs(5), "{:?}", t.elapsed());
    let model = genre_tagger::model_load::embedded_model().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let quoted = |c: &String| {
        if c.contains([',', '"']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c.clone()
        }
    };
    let want = genre_tagger::log::csv::columns(&genre_tagger::worker::log_header(&model));
    let want: Vec<String> = want.iter().map(quoted).collect();
    assert_eq!(header, want.join(","));
    let rows: Vec<&str> = lines.collect();
    // Windows end at ~3, 4, 5, 6 s.
    assert!(rows.len() >= 3, "{text}");
    let first_top = rows[0].split(',').nth(4).unwrap();
    assert!(
        model.card.labels.iter().any(|l| l == first_top),
        "{}",
        rows[0]
    );
    assert!(
        stdout.contains(first_top),
        "the console names the genre: {stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_options_exit_2_naming_the_problem() {
    let bin = standalone_binary();
    let dir = temp_dir("bad-options");
    let missing = dir.join("no-such-file.ogg");
    let out = headless(Command::new("timeout").args(["-s", "KILL", "30"]).arg(&bin))
        .args(["--backend", "dummy", "--input"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.ogg"));

    // A log file that holds another model's columns is not appended to.
    let other = dir.join("other.csv");
    std::fs::write(
        &other,
        "time_s,utc,hops,span_s,top,confidence,silent_hops,level_db,a,b\n",
    )
    .unwrap();
    let out = headless(Command::new("timeout").args(["-s", "KILL", "30"]).arg(&bin))
        .args(["--backend", "dummy", "--log"])
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("other.csv") && stderr.contains("other columns"),
        "{stderr}"
    );

    let out = headless(Command::new("timeout").args(["-s", "KILL", "30"]).arg(&bin))
        .args(["--backend", "dummy", "--loop"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A --taught file that is not a saved teaching session is refused, named, untouched.
    let junk = dir.join("junk.session");
    std::fs::write(&junk, "not a session").unwrap();
    let out = headless(Command::new("timeout").args(["-s", "KILL", "30"]).arg(&bin))
        .args(["--backend", "dummy", "--taught"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("junk.session") && stderr.contains("teaching session"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "not a session");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What was taught, kept in a `--taught` file (made here as the worker makes it: the first
/// 30 s of a CC piece taught as a new label), is read at start: playing the rest of the
/// piece, the console names the taught label and the `--log` file has its column.
#[test]
fn a_taught_file_is_read_at_start_and_its_label_named() {
    let bin = standalone_binary();
    let dir = temp_dir("taught");
    let (session, audio) = support::taught_on_vibe_ace();
    let rate = audio.sample_rate as usize;
    let taught = dir.join("set.session");
    std::fs::write(&taught, session.to_bytes().unwrap()).unwrap();
    let rest = write_wav(
        &dir.join("rest.wav"),
        &audio.samples[30 * rate..38 * rate],
        audio.sample_rate,
    );
    let out = headless(Command::new("timeout").args(["-s", "KILL", "60"]).arg(&bin))
        .args(["--backend", "dummy", "--period-size", "512", "--input"])
        .arg(&rest)
        .arg("--taught")
        .arg(&taught)
        .arg(format!("--log={}", dir.join("set.csv").display()))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(stdout.contains("my wedding set"), "{stdout}\n{stderr}");
    // The --log file was opened with the taught model's columns and got every hop.
    let csv = std::fs::read_to_string(dir.join("set.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().contains(",my wedding set"), "{csv}");
    assert!(lines.count() >= 4, "{csv}");
    assert!(!stderr.contains("not writing"), "{stderr}");
    // Nothing was taught this time: the file is as it was.
    assert_eq!(std::fs::read(&taught).unwrap(), session.to_bytes().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
