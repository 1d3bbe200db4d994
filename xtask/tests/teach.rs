//! `cargo xtask teach` end to end on synthetic audio written to a temporary folder: a
//! label AudioSet names ("house") and one it does not ("my wedding set"), a file that is
//! not audio, the model file tagging new pieces of the taught kinds with their labels, and
//! real music far from the examples keeping its zero-shot answer.

use std::f32::consts::TAU;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RATE: u32 = 22_050;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teach-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_wav(path: &Path, x: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-9);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for v in x {
        w.write_sample((v / peak * 0.5 * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// A small deterministic generator (the pieces differ by seed).
fn lcg(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// Sustained triads on a harmonic tone, a new chord every half second.
fn chords(seed: u64, seconds: f32) -> Vec<f32> {
    let mut s = seed;
    let root = 196.0 * 2f32.powf((lcg(&mut s) * 3.0).round() / 12.0);
    let n = (seconds * RATE as f32) as usize;
    let degrees = [[0, 4, 7], [5, 9, 12], [7, 11, 14], [0, 4, 7]];
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let chord = degrees[(t / 0.5) as usize % 4];
            let env = (-((t % 0.5) * 3.0)).exp();
            chord
                .iter()
                .map(|&d| {
                    let f = root * 2f32.powf(d as f32 / 12.0);
                    (1..=4)
                        .map(|h| (TAU * f * h as f32 * t).sin() / h as f32)
                        .sum::<f32>()
                })
                .sum::<f32>()
                * env
        })
        .collect()
}

/// Four on the floor: a falling-pitch kick on every beat, noise hats between, a low bass.
fn house(seed: u64, seconds: f32) -> Vec<f32> {
    let mut s = seed;
    let beat = 60.0 / (122.0 + lcg(&mut s) * 4.0);
    let n = (seconds * RATE as f32) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let tb = t % beat;
            let kick = (TAU * (50.0 + 80.0 * (-tb * 30.0).exp()) * tb).sin() * (-tb * 12.0).exp();
            let th = (t + beat / 2.0) % beat;
            let hat = lcg(&mut s) * (-th * 60.0).exp() * 0.4;
            let bass = (TAU * 55.0 * t).sin().signum() * 0.15;
            kick + hat + bass
        })
        .collect()
}

fn tag_json(model: Option<&Path>, file: &Path) -> serde_json::Value {
    let mut args = vec!["tag", "--json", "--hop", "1.5"];
    let m = model.map(|p| p.display().to_string());
    if let Some(m) = &m {
        args.extend(["--model", m]);
    }
    let f = file.display().to_string();
    args.push(&f);
    let o = xtask(&args);
    assert!(o.status.success(), "tag failed: {}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    doc["files"][0].clone()
}

#[test]
fn a_folder_teaches_new_labels_and_leaves_far_music_to_zero_shot() {
    let dir = scratch("folder");
    let examples = dir.join("examples");
    for k in 0..3u64 {
        write_wav(
            &examples.join(format!("house/h{k}.wav")),
            &house(k + 1, 8.0),
        );
        write_wav(
            &examples.join(format!("my wedding set/c{k}.wav")),
            &chords(k + 11, 8.0),
        );
    }
    std::fs::write(examples.join("house/broken.wav"), b"RIFF no wave here").unwrap();
    let out = dir.join("taught.safetensors");
    // A setting that reaches the examples' neighbours: the mechanism under test.
    let o = xtask(&[
        "teach",
        examples.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--penalty",
        "0.1",
        "--bandwidth-scale",
        "1",
    ]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("broken.wav"), "the bad file is named: {err}");
    assert!(err.contains("1 file(s) could not be used"), "{err}");

    // New pieces of each taught kind (other seeds) come out as their labels.
    let new_house = dir.join("new_house.wav");
    write_wav(&new_house, &house(99, 8.0));
    let new_chords = dir.join("new_chords.wav");
    write_wav(&new_chords, &chords(77, 8.0));
    let h = tag_json(Some(&out), &new_house);
    assert_eq!(h["genre"], "house", "{h}");
    let c = tag_json(Some(&out), &new_chords);
    assert_eq!(c["genre"], "my wedding set", "{c}");
    assert_eq!(c["distribution"].as_object().unwrap().len(), 12);

    // Real music far from every example: the ten genres keep their zero-shot logits, so
    // each genre's probability is the default's times the ten's share (what the two new
    // labels leave). The JSON rounds to 0.01: hence the tolerance.
    let brahms = root().join("fixtures/cc-music/brahms_hungarian_dance_5.ogg");
    let taught = tag_json(Some(&out), &brahms);
    let default = tag_json(None, &brahms);
    assert_eq!(taught["genre"], default["genre"]);
    let (t, d) = (
        taught["distribution"].as_object().unwrap(),
        default["distribution"].as_object().unwrap(),
    );
    let ten: f64 = d.keys().map(|g| t[g].as_f64().unwrap()).sum();
    for (g, p) in d {
        let (got, want) = (t[g].as_f64().unwrap(), p.as_f64().unwrap() * ten);
        assert!((got - want).abs() <= 0.011, "{g}: {got} vs {want}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_label_with_no_usable_file_fails_the_command_by_name() {
    let dir = scratch("empty-label");
    let examples = dir.join("examples");
    write_wav(&examples.join("house/h.wav"), &house(1, 4.0));
    std::fs::create_dir_all(examples.join("nothing here")).unwrap();
    std::fs::write(examples.join("nothing here/notes.txt"), b"not audio").unwrap();
    let out = dir.join("taught.safetensors");
    let o = xtask(&[
        "teach",
        examples.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("notes.txt"), "{err}");
    assert!(err.contains("'nothing here'"), "{err}");
    assert!(!out.exists(), "nothing is written");
    std::fs::remove_dir_all(&dir).unwrap();
}
