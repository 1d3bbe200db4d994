//! Whole runs of [`tag_library`]: each file's outcome against tagging it alone, on both
//! paths and at many thread counts, batches and bounds; the bound held; errors that end a
//! run; options refused.

use super::*;
use crate::arch::Arch;
use crate::audio::decode_file;
use crate::nets::SeedCnnConfig;
use crate::rhythm::RhythmTimeline;
use crate::tag_report::{analyse_audio, FileReport};
use crate::tagger::TaggerOptions;
use crate::weights::{build_trainable, ModelCard};
use candle_core::Device;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::sync::Arc;

fn tiny_model(styles: Vec<String>) -> LoadedModel {
    let mut card = ModelCard::seed_cnn_default();
    card.arch = Arch::SeedCnn(SeedCnnConfig {
        channels: vec![4, 8],
        dropout: 0.0,
    });
    let (_vm, net) = build_trainable(&card, &Device::Cpu, 11).unwrap();
    // Set after building: a card naming styles the network does not give.
    card.styles = styles;
    LoadedModel {
        card,
        net,
        device: Device::Cpu,
        source: "test".into(),
    }
}

/// A fresh folder under the system's temporary one.
pub(super) fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "genre-tagger-library-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Mono 16-bit PCM.
fn write_wav(path: &Path, x: &[f32], rate: u32) -> PathBuf {
    let data: Vec<u8> = x
        .iter()
        .flat_map(|&v| ((v.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes())
        .collect();
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(&data);
    std::fs::write(path, b).unwrap();
    path.to_owned()
}

fn music_like(rate: u32, secs: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let f = 110.0 * (1 + seed % 5) as f32;
    (0..(rate as f32 * secs) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.3 * (2.0 * std::f32::consts::PI * f * t).sin() * (1.0 + (t * 3.0).sin()) * 0.5
                + 0.05 * (rng.random::<f32>() - 0.5)
        })
        .collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// Good files of several rates and lengths (one looped from 1.5 s), with a file of each
/// kind of failure among them (the fixtures' half-second tones of each format are too
/// short); how many of them are bad.
fn mixed_library(dir: &Path) -> (Vec<PathBuf>, usize) {
    let silence = vec![0.0; 22_050 * 4];
    let files = vec![
        write_wav(&dir.join("a.wav"), &music_like(22_050, 9.0, 1), 22_050),
        fixture("no_such_file.wav"),
        write_wav(&dir.join("b.wav"), &music_like(44_100, 1.5, 2), 44_100),
        fixture("tone_22050_mono.au"),
        fixture("not_audio.wav"),
        write_wav(&dir.join("c.wav"), &music_like(16_000, 17.0, 3), 16_000),
        write_wav(&dir.join("silent.wav"), &silence, 22_050),
        fixture("tone_44100_stereo.mp3"),
        write_wav(&dir.join("short.wav"), &music_like(22_050, 0.4, 4), 22_050),
        fixture("empty.wav"),
        fixture("tone_48000_stereo.flac"),
        write_wav(&dir.join("d.wav"), &music_like(48_000, 6.0, 5), 48_000),
        fixture("truncated.ogg"),
        write_wav(&dir.join("e.wav"), &music_like(22_050, 31.0, 6), 22_050),
    ];
    (files, 9)
}

/// What tagging each file alone gives: the report, or the error's message.
fn one_by_one(
    model: Arc<LoadedModel>,
    files: &[PathBuf],
    opts: TaggerOptions,
) -> Vec<std::result::Result<FileReport, String>> {
    files
        .iter()
        .map(|f| {
            decode_file(f)
                .and_then(|a| analyse_audio(model.clone(), &a, opts))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Runs `tag_library` and checks that it reported every file once, in order.
fn run(
    model: &LoadedModel,
    files: &[PathBuf],
    opts: &LibraryOptions,
) -> (Vec<std::result::Result<FileReport, String>>, LibraryStats) {
    let mut got = Vec::new();
    let stats = tag_library(model, files, opts, |f| {
        assert_eq!(f.index, got.len(), "reported in input order");
        assert_eq!(f.path, files[f.index].as_path());
        got.push(f.report.map_err(|e| e.to_string()));
    })
    .unwrap();
    assert_eq!(got.len(), files.len());
    (got, stats)
}

fn assert_same(
    got: &[std::result::Result<FileReport, String>],
    want: &[std::result::Result<FileReport, String>],
    tol: f32,
    what: &str,
) {
    // Probabilities within `tol`; the teaching features (logits and an embedding,
    // tens in size) within `tol` of their size.
    let close = |a: &[f32], b: &[f32], field: &str| {
        let scale = if field == "features" {
            b.iter().fold(1.0f32, |m, x| m.max(x.abs()))
        } else {
            1.0
        };
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(
            a.len() == b.len() && diff <= tol * scale,
            "{what}: {field} off by {diff} (scale {scale})"
        );
    };
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (Err(g), Err(w)) => assert_eq!(g, w, "{what}: file {i}"),
            (Ok(g), Ok(w)) => {
                let (g, w) = (&g.tags, (&w.tags, &w.rhythm));
                assert_eq!(g.windows.len(), w.0.windows.len(), "{what}: file {i}");
                for (a, b) in g.windows.iter().zip(&w.0.windows) {
                    assert_eq!(
                        (a.start_s, a.silent, a.level_db),
                        (b.start_s, b.silent, b.level_db),
                        "{what}: file {i}"
                    );
                    close(&a.probs, &b.probs, "probs");
                    close(&a.styles, &b.styles, "styles");
                    close(&a.features, &b.features, "features");
                }
                close(&g.distribution, &w.0.distribution, "distribution");
                close(&g.styles, &w.0.styles, "file styles");
                assert_eq!(
                    (g.top, g.duration_s, g.non_finite),
                    (w.0.top, w.0.duration_s, w.0.non_finite),
                    "{what}: file {i}"
                );
            }
            (g, w) => panic!(
                "{what}: file {i}: {:?} vs {:?}",
                g.as_ref().err(),
                w.as_ref().err()
            ),
        }
    }
    for (g, w) in got.iter().zip(want) {
        if let (Ok(g), Ok(w)) = (g, w) {
            assert_eq!(g.rhythm, w.rhythm, "{what}");
        }
    }
}

#[test]
fn both_paths_give_each_file_what_tagging_it_alone_gives_in_input_order() {
    let dir = temp_dir("mixed");
    let (files, bad) = mixed_library(&dir);
    let model = Arc::new(tiny_model(Vec::new()));
    let hop = TaggerOptions {
        hop_s: 0.5,
        ..Default::default()
    };
    let want = one_by_one(model.clone(), &files, hop);
    assert_eq!(want.iter().filter(|r| r.is_err()).count(), bad);
    let good_windows: usize = want.iter().flatten().map(|r| r.tags.windows.len()).sum();
    for (batching, threads, batch, pending) in [
        (Batching::CrossFile, 1, 1, 1),
        (Batching::CrossFile, 3, 5, 5),
        (Batching::CrossFile, 4, 16, 40),
        (Batching::CrossFile, 2, 256, 1024),
        (Batching::PerFile, 1, 8, 16),
        (Batching::PerFile, 3, 8, 3),
        (Batching::Auto, 2, 8, 64),
        (Batching::Auto, 1, 8, 16),
    ] {
        let opts = LibraryOptions {
            tagger: hop,
            decode_threads: threads,
            batch_windows: batch,
            max_pending_windows: pending,
            rhythm: true,
            batching,
        };
        let what = format!("{batching:?}, {threads} threads, batch {batch}, pending {pending}");
        let (got, stats) = run(&model, &files, &opts);
        // Per-file, with room for every thread's batch, the batches are the Tagger's:
        // the numbers are exactly those of tagging each file alone.
        let exact = !opts.cross_file(&Device::Cpu) && pending >= threads * 8;
        assert_same(&got, &want, if exact { 0.0 } else { 1e-5 }, &what);
        assert_eq!(stats.files, files.len(), "{what}");
        assert_eq!(stats.failed, bad, "{what}");
        assert_eq!(stats.cross_file, opts.cross_file(&Device::Cpu), "{what}");
        // The silent file's windows are made too.
        assert!(stats.windows > good_windows, "{what}: {stats:?}");
        assert!(stats.peak_pending_windows <= pending, "{what}: {stats:?}");
        assert!(stats.audio_seconds > 60.0, "{what}: {stats:?}");
    }
}

/// The bound holds however tight it is, and a full cross-file batch fills it up to
/// the batch at least, so the figure is measured rather than never moved.
#[test]
fn pending_windows_never_exceed_the_bound() {
    let dir = temp_dir("bound");
    let files: Vec<PathBuf> = (0..10)
        .map(|i| {
            let secs = 3.0 + (i * 7 % 11) as f32;
            write_wav(
                &dir.join(format!("{i}.wav")),
                &music_like(22_050, secs, i),
                22_050,
            )
        })
        .collect();
    let model = tiny_model(Vec::new());
    for (batching, batch, pending) in [
        (Batching::CrossFile, 4, 4),
        (Batching::CrossFile, 4, 7),
        (Batching::PerFile, 8, 1),
        (Batching::PerFile, 8, 5),
    ] {
        let opts = LibraryOptions {
            tagger: TaggerOptions {
                hop_s: 0.25,
                ..Default::default()
            },
            decode_threads: 3,
            batch_windows: batch,
            max_pending_windows: pending,
            rhythm: false,
            batching,
        };
        let (got, stats) = run(&model, &files, &opts);
        assert!(got.iter().all(|r| r.is_ok()));
        assert!(stats.windows > 150, "{stats:?}");
        assert!(
            stats.peak_pending_windows <= pending,
            "{batching:?}: {stats:?}"
        );
        assert!(
            stats.peak_pending_windows >= batch.min(pending),
            "{batching:?}: {stats:?}"
        );
        // Without rhythm the reports carry no readings.
        let report = got[0].as_ref().unwrap();
        assert_eq!(report.rhythm, RhythmTimeline::default());
    }
}

#[test]
fn the_default_model_batched_across_files_matches_tagging_each_alone() {
    let dir = temp_dir("default");
    let cc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cc-music");
    let files: Vec<PathBuf> = [("vibe_ace.ogg", 7.0), ("brahms_hungarian_dance_5.ogg", 5.0)]
        .iter()
        .map(|&(name, secs)| {
            let a = crate::audio::decode_file_head(cc.join(name), secs).unwrap();
            write_wav(
                &dir.join(name).with_extension("wav"),
                &a.samples,
                a.sample_rate,
            )
        })
        .collect();
    let model = Arc::new(crate::weights::load_or_default(None, &Device::Cpu).unwrap());
    let tagger = TaggerOptions::default();
    let want = one_by_one(model.clone(), &files, tagger);
    let opts = LibraryOptions {
        tagger,
        decode_threads: 2,
        batch_windows: 16,
        max_pending_windows: 16,
        rhythm: true,
        batching: Batching::CrossFile,
    };
    let (got, stats) = run(&model, &files, &opts);
    assert_same(&got, &want, 1e-5, "cross-file");
    // Both files' windows went through the network in one pass.
    assert_eq!(stats.batches, 1, "{stats:?}");
    assert_eq!(stats.windows, 5 + 3, "{stats:?}");
    let per_file = LibraryOptions {
        batching: Batching::PerFile,
        ..opts
    };
    let (got, _) = run(&model, &files, &per_file);
    assert_same(&got, &want, 0.0, "per-file");
}

/// A network that fails ends the run with its error on either path, with threads
/// waiting for room or for files, instead of hanging or reporting every file with it.
#[test]
fn a_failing_network_ends_the_run_with_its_error() {
    let dir = temp_dir("failing");
    let files: Vec<PathBuf> = (0..8)
        .map(|i| {
            write_wav(
                &dir.join(format!("{i}.wav")),
                &music_like(22_050, 8.0, i),
                22_050,
            )
        })
        .collect();
    let model = tiny_model(vec!["Funk".into()]);
    for batching in [Batching::CrossFile, Batching::PerFile] {
        let opts = LibraryOptions {
            decode_threads: 3,
            batch_windows: 2,
            max_pending_windows: 2,
            batching,
            ..LibraryOptions::for_device(&Device::Cpu)
        };
        let mut reported = 0;
        let e = tag_library(&model, &files, &opts, |_| reported += 1).unwrap_err();
        assert!(matches!(e, Error::WeightsMismatch(_)), "{batching:?}: {e}");
        assert!(e.to_string().contains("style outputs"), "{e}");
        assert_eq!(reported, 0, "{batching:?}");
    }
}

#[test]
fn options_no_run_could_use_are_refused_by_name() {
    let model = tiny_model(Vec::new());
    let base = LibraryOptions::for_device(&Device::Cpu);
    for (opts, needle) in [
        (
            LibraryOptions {
                decode_threads: 0,
                ..base
            },
            "decode_threads must be at least 1",
        ),
        (
            LibraryOptions {
                batch_windows: 0,
                ..base
            },
            "batch_windows must be at least 1",
        ),
        (
            LibraryOptions {
                batching: Batching::CrossFile,
                batch_windows: 32,
                max_pending_windows: 31,
                ..base
            },
            "max_pending_windows (31) must be at least batch_windows (32)",
        ),
        (
            LibraryOptions {
                batching: Batching::PerFile,
                max_pending_windows: 0,
                ..base
            },
            "max_pending_windows must be at least 1",
        ),
        (
            LibraryOptions {
                tagger: TaggerOptions {
                    hop_s: 0.0,
                    ..Default::default()
                },
                ..base
            },
            "hop must be in",
        ),
    ] {
        let e = tag_library(&model, &[fixture("tone_22050_mono.au")], &opts, |_| {
            panic!("nothing is tagged with bad options")
        })
        .unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
}

#[test]
fn no_files_is_an_empty_run() {
    let model = tiny_model(Vec::new());
    let opts = LibraryOptions::for_device(&Device::Cpu);
    let stats = tag_library(&model, &[], &opts, |_| panic!("no file")).unwrap();
    assert_eq!((stats.files, stats.failed, stats.windows), (0, 0, 0));
}
