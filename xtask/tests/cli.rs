//! The command line as a user meets it: JSON shape, per-file errors that do not stop the
//! other files, and clear refusals of bad arguments.

mod support;

use model::GENRES;
use support::{check_refusals, stderr, xtask, Exit};

#[test]
fn tag_json_reports_each_good_file_and_names_each_bad_one() {
    let o = xtask(&[
        "tag",
        "--json",
        "--hop",
        "2",
        "fixtures/cc-music/brahms_hungarian_dance_5.ogg",
        "no/such/file.wav",
        "model/tests/fixtures/audio/silence_22050_mono.wav",
        "model/tests/fixtures/audio/not_audio.wav",
    ]);
    assert_eq!(o.status.code(), Some(1), "some files failed: exit 1");
    let err = stderr(&o);
    assert!(err.contains("no/such/file.wav"), "{err}");
    assert!(err.contains("silent"), "{err}");
    assert!(err.contains("not_audio.wav"), "{err}");

    let doc: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert!(f["path"]
        .as_str()
        .unwrap()
        .ends_with("brahms_hungarian_dance_5.ogg"));
    assert!(GENRES.contains(&f["genre"].as_str().unwrap()));
    let dist = f["distribution"].as_object().unwrap();
    assert_eq!(dist.len(), 10);
    let sum: f64 = dist.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "{sum}");
    let top = dist
        .iter()
        .max_by(|a, b| a.1.as_f64().unwrap().total_cmp(&b.1.as_f64().unwrap()))
        .unwrap()
        .0;
    assert_eq!(top, f["genre"].as_str().unwrap());
    assert!(f["unsure"].is_boolean(), "{}", f["unsure"]);
    let timeline = f["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 5);
    let starts: Vec<f64> = timeline
        .iter()
        .map(|w| w["start_s"].as_f64().unwrap())
        .collect();
    for pair in starts.windows(2) {
        assert!((pair[1] - pair[0] - 2.0).abs() < 0.03, "{starts:?}");
    }
    assert_eq!(timeline[0]["distribution"].as_object().unwrap().len(), 10);

    // Tempo and key: the file's voted over it; each window's as the live trackers showed
    // it at the window's end — none at the first (3 s: the tempo tracker needs 4).
    let bpm = f["tempo"]["bpm"].as_f64().expect("the dance has a tempo");
    assert!((40.0..=240.0).contains(&bpm), "{bpm}");
    let camelot = f["key"]["camelot"].as_str().expect("and a key");
    let (number, letter) = camelot.split_at(camelot.len() - 1);
    assert!(["A", "B"].contains(&letter), "{camelot}");
    assert!(
        (1..=12).contains(&number.parse::<u8>().unwrap()),
        "{camelot}"
    );
    assert!(
        f["key"]["name"].as_str().unwrap().ends_with("or"),
        "{}",
        f["key"]
    );
    assert!(timeline[0]["tempo"].is_null(), "{}", timeline[0]);
    assert!(
        timeline
            .iter()
            .filter(|w| w["tempo"]["bpm"].is_number())
            .count()
            * 2
            > timeline.len(),
        "most windows have a tempo"
    );

    // The embedded default (EfficientAT) names AudioSet's music-genre classes: the five
    // most probable per file and per window, most probable first.
    let styles = f["styles"]
        .as_array()
        .expect("the default's card has styles");
    assert_eq!(styles.len(), 5, "{styles:?}");
    let p: Vec<f64> = styles
        .iter()
        .map(|s| s["probability"].as_f64().unwrap())
        .collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "{p:?}");
    assert_eq!(styles[0]["name"], "Classical music", "{styles:?}");
    for w in timeline {
        assert_eq!(w["styles"].as_array().unwrap().len(), 5, "{w}");
    }
}

#[test]
fn tag_text_output_names_the_top_genre_and_the_device() {
    let o = xtask(&[
        "tag",
        "--device",
        "cpu",
        "fixtures/cc-music/brahms_hungarian_dance_5.ogg",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).lines().any(|l| l == "device: CPU"),
        "{}",
        stderr(&o)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let first = out.lines().next().unwrap();
    assert!(first.contains("brahms_hungarian_dance_5.ogg:"), "{out}");
    assert!(GENRES.iter().any(|g| first.contains(g)), "{out}");
    assert!(first.contains(" BPM · "), "{out}");
    assert!(out.contains("timeline"), "{out}");
}

/// Folders stand for their audio files (recursively, sorted by path); the reports keep
/// that order whatever the threads and batches, a bad file is named while the rest go on,
/// and a file's entry is the one it gets alone, on either batching path.
#[test]
fn tag_takes_folders_and_reports_every_file_in_order() {
    let dir = std::env::temp_dir().join(format!("tag-cli-folders-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    let excerpt = |name: &str, source: &str, seconds: f64| {
        let cc = support::root().join("fixtures/cc-music").join(source);
        let a = model::audio::decode_file_head(cc, seconds).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: a.sample_rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(dir.join(name), spec).unwrap();
        a.samples.iter().for_each(|&x| w.write_sample(x).unwrap());
        w.finalize().unwrap();
    };
    excerpt("b.wav", "vibe_ace.ogg", 9.0);
    excerpt("a/c.WAV", "brahms_hungarian_dance_5.ogg", 6.0);
    std::fs::write(dir.join("a/bad.wav"), "not audio\n").unwrap();
    std::fs::write(dir.join("a/notes.txt"), "not taken\n").unwrap();
    let folder = dir.display().to_string();
    let song = "fixtures/cc-music/vibe_ace.ogg";
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).expect("stdout is one JSON document")
    };

    let mut docs = Vec::new();
    for batching in ["per-file", "cross-file"] {
        let o = xtask(&[
            "tag",
            "--json",
            "--hop",
            "2",
            "--threads",
            "3",
            "--batch",
            "2",
            "--batching",
            batching,
            &folder,
            song,
        ]);
        let err = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{batching}: one file failed: {err}"
        );
        assert!(
            err.contains(&format!(
                "error: {folder}/a/bad.wav: not a readable audio file"
            )),
            "{err}"
        );
        assert!(err.contains("tagged 4 files (1 failed)"), "{err}");
        let doc = json(&o);
        let paths: Vec<&str> = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        let want = [
            format!("{folder}/a/c.WAV"),
            format!("{folder}/b.wav"),
            song.into(),
        ];
        assert_eq!(paths, want, "{batching}");
        docs.push(doc);
    }
    let alone = xtask(&["tag", "--json", "--hop", "2", &format!("{folder}/b.wav")]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    assert!(
        !stderr(&alone).contains("tagged"),
        "no summary for one file"
    );
    let alone = &json(&alone)["files"][0];
    for doc in &docs {
        same_numbers(&doc["files"][1], alone, "");
    }
    same_numbers(&docs[0], &docs[1], "");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `a` and `b` hold the same fields and strings, and numbers within 2e-4 (the reports
/// round to 1e-4; batching moves the network's output by less than 1e-5).
fn same_numbers(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 2e-4, "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                same_numbers(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in x {
                same_numbers(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// Bad arguments get a clear refusal: clap's (exit 2) for what does not parse, the
/// command's own (exit 1) for what parses but cannot apply.
#[test]
fn bad_arguments_are_refused_clearly() {
    use Exit::{Code, Fails};
    check_refusals(&[
        (
            &["tag", "--hop", "0", "x.wav"],
            Code(2),
            &["outside [0.05, 60]"],
        ),
        (&["tag"], Code(2), &[]),
        (&["tag", "--threads", "0", "x.wav"], Code(2), &["--threads"]),
        (&["tag", "--batch", "0", "x.wav"], Code(2), &["--batch"]),
        (
            &["tag", "--batching", "whole", "x.wav"],
            Code(2),
            &["per-file", "cross-file"],
        ),
        // A folder without audio is an error of its own; the files are tagged all the same.
        (
            &["tag", "model/src", "fixtures/cc-music/vibe_ace.ogg"],
            Code(1),
            &["error: model/src: no audio files (wav, wave, flac"],
        ),
        (
            &[
                "tag",
                "--model",
                "Cargo.toml",
                "fixtures/cc-music/vibe_ace.ogg",
            ],
            Code(1),
            &["not a safetensors file"],
        ),
        (
            &["train", "--data", "no/such/dir"],
            Code(1),
            &["is not a directory"],
        ),
        (
            &["eval", "--data", "model/src"],
            Code(1),
            &["no GTZAN clips"],
        ),
        (&["train", "--data", "model", "--epochs", "0"], Code(2), &[]),
        (&["train", "--data", "model", "--lr", "-1"], Fails, &[]),
        // --levels takes negative dBFS values as the README writes them (past argument
        // parsing, the missing data is what fails), and refuses levels out of range.
        (
            &[
                "train",
                "--data",
                "no/such/dir",
                "--backbone",
                "musicnn-mtt",
                "--levels",
                "-30,-20",
            ],
            Code(1),
            &["is not a directory"],
        ),
        (
            &[
                "train",
                "--data",
                "no/such/dir",
                "--backbone",
                "musicnn-mtt",
                "--levels",
                "-90",
            ],
            Code(2),
            &["outside [-80, 0]"],
        ),
        // Flags of the other kind of model are refused, not silently ignored.
        (
            &[
                "train",
                "--data",
                "model",
                "--train-hop",
                "2",
                "--levels",
                "none",
            ],
            Code(1),
            &["--train-hop, --levels do not apply to --backbone cnn"],
        ),
        (
            &[
                "train",
                "--data",
                "model",
                "--backbone",
                "musicnn-msd",
                "--crops",
                "3",
            ],
            Code(1),
            &["--crops does not apply to --backbone musicnn-msd"],
        ),
        (
            &[
                "train",
                "--data",
                "model",
                "--backbone",
                "efficientat",
                "--features",
                "pooled",
            ],
            Code(1),
            &["--features does not apply to --backbone efficientat"],
        ),
        (
            &[
                "train",
                "--data",
                "model",
                "--backbone",
                "musicnn-mtt",
                "--decision",
                "calibrated",
            ],
            Code(1),
            &["--decision does not apply to --backbone musicnn-mtt"],
        ),
        (
            &["decisions", "--gtzan", "no/such/dir"],
            Code(1),
            &["no/such/dir"],
        ),
        (
            &["train", "--data", "model", "--no-feature-cache"],
            Code(1),
            &["--no-feature-cache does not apply to --backbone cnn"],
        ),
        (
            &["train", "--data", "model", "--fine-tune-dense"],
            Code(1),
            &["--fine-tune-dense does not apply to --backbone cnn"],
        ),
        (
            &[
                "train",
                "--data",
                "model",
                "--backbone",
                "musicnn-mtt",
                "--fine-tune-dense",
                "--features",
                "pooled",
            ],
            Code(1),
            &["drop --features or give --features penultimate"],
        ),
        // --arch names a network trained from scratch: unknown names and pretrained
        // backbones are refused.
        (
            &["train", "--data", "model", "--arch", "resnet50"],
            Code(2),
            &["seed-2block"],
        ),
        (
            &[
                "train",
                "--data",
                "model",
                "--backbone",
                "musicnn-mtt",
                "--arch",
                "crnn",
            ],
            Code(1),
            &["--arch does not apply to --backbone musicnn-mtt"],
        ),
        (
            &["zoo", "--data", "no/such/dir"],
            Code(1),
            &["is not a directory"],
        ),
        // The zoo's rows are listed.
        (
            &["zoo", "--systems", "seed-2block,alexnet"],
            Code(2),
            &["features-svm", "musicnn-mtt"],
        ),
        // A classical system is fitted in one pass: epoch and optimiser flags are refused.
        (
            &[
                "train",
                "--data",
                "model",
                "--arch",
                "features-svm",
                "--epochs",
                "5",
                "--lr",
                "0.01",
            ],
            Code(1),
            &["--epochs, --lr do not apply to --arch features-svm"],
        ),
        (
            &["emotify-halves", "no/such/dir"],
            Code(1),
            &["no/such/dir"],
        ),
    ]);
}

/// The cause is said once, though model::Error::Open also returns it as its source.
#[test]
fn a_missing_model_file_is_named_with_its_cause_once() {
    let o = xtask(&["tag", "--model", "no/such.safetensors", "x.wav"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("no/such.safetensors: cannot open: "), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// `--device cuda` gets CUDA or a clear error before any work: never a quiet CPU run.
#[test]
fn cuda_without_it_is_an_error_for_every_command() {
    for args in [
        &["tag", "--device", "cuda", "fixtures/cc-music/vibe_ace.ogg"][..],
        &["eval", "--device", "cuda", "--data", "model/src"],
        &["train", "--device", "cuda", "--data", "model/src"],
    ] {
        let o = xtask(args);
        let err = stderr(&o);
        if err.lines().any(|l| l == "device: CUDA") {
            // Only a CUDA build on a machine with a GPU may get here.
            if !cfg!(feature = "cuda") {
                panic!("{args:?} ran on CUDA in a build without it: {err}");
            }
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("error: no CUDA"), "{args:?}: {err}");
        if !cfg!(feature = "cuda") {
            assert!(
                err.contains("this build has no CUDA support"),
                "{args:?}: {err}"
            );
        }
        assert!(
            !err.contains("device: CPU") && o.stdout.is_empty(),
            "{args:?}: {err}"
        );
    }
    let o = xtask(&["tag", "--device", "gpu", "x.wav"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid value 'gpu'"), "{}", stderr(&o));
}
