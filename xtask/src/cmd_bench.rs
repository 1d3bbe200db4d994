//! `cargo xtask bench [--json]`: the project's hot paths against the references that
//! matter — librosa's mel front end, PyTorch running the same networks with the same
//! weights, librosa + PyTorch tagging end to end, the seed paper's published figure —
//! plus the plugin's audio-thread and worker costs, in one session, as one table.
//!
//! How it measures:
//! - Ours is timed in this process with `Instant` around the operation alone; the
//!   references are timed inside one long-lived Python process (`bench/reference.py`)
//!   with `time.perf_counter` around theirs, so neither Python's start-up and imports nor
//!   the pipe's round trip is in any figure.
//! - A sample is `iters` back-to-back calls (enough for ~0.1 s), reported per call. The
//!   two sides alternate sample by sample (ours first on even samples, the reference first
//!   on odd ones), so machine noise — a shared 2-core VM here — hits both; medians are
//!   reported, ratio = reference / ours.
//! - Threads: `--threads N` (default 1) applies to both sides: RAYON_NUM_THREADS for
//!   candle (its gemm and our im2col use rayon), torch.set_num_threads + threadpoolctl +
//!   OMP/MKL/OpenBLAS/Numba variables for Python. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
//!   are removed from the Python process only (they pin OpenBLAS to a slow kernel).
//! - Before timing, each pair is checked to compute the same thing: mel in dB, seed CNN
//!   logits (to 1e-4), end-to-end distributions, musicnn logits, EfficientAT's log-mel and
//!   logits (to 1e-3; [`efficientat`]).

mod efficientat;
mod plugin;
mod py;
mod table;

use crate::paths;
use crate::progress::Bars;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use model::audio::Audio;
use model::distribution::argmax;
use model::mel::{mel_spectrogram, MelConfig};
use model::nets::musicnn::{read_tf_file, Backbone};
use model::nets::musicnn::{N_MELS as MUSICNN_MELS, PATCH_FRAMES as MUSICNN_FRAMES};
use model::tagger::{tag_audio, TaggerOptions};
use model::train::Observer;
use model::weights::LoadedModel;
use model::window::{copy_window, normalize};
use py::Python;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use table::{Goal, Row, Stat};

/// Length of the clip the mel and end-to-end rows use.
const CLIP_S: f64 = 30.0;
/// The seed paper ("Music Genre Classification Using CNNs"): seconds to tag one song.
const PAPER_SONG_S: f64 = 17.0;
/// Rough length of one timed sample.
const SAMPLE_TARGET_S: f64 = 0.1;
/// Host rate the audio-thread figures assume (the worker example uses the same).
const HOST_RATE: u32 = 48_000;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print one JSON document instead of the table (it is written to target/bench.json
    /// either way).
    #[arg(long)]
    pub json: bool,
    /// Threads for both sides: candle/rayon here, torch/BLAS/OpenMP in Python.
    #[arg(long, default_value_t = 1, value_parser = positive)]
    pub threads: usize,
    /// Timed samples per side and measurement (medians are taken over these).
    #[arg(long, default_value_t = 11, value_parser = positive)]
    pub samples: usize,
    /// Python interpreter with bench/requirements.txt installed.
    #[arg(long, default_value = "target/bench-venv/bin/python")]
    pub python: PathBuf,
    /// Only our own figures: do not start the Python references.
    #[arg(long)]
    pub no_reference: bool,
    /// Skip the plugin's audio-thread bench (a `cargo bench` subprocess).
    #[arg(long)]
    pub no_plugin: bool,
    /// musicnn's reference logits (`reference/*.ref.safetensors`), for the PyTorch port's
    /// parity check.
    #[arg(long, default_value = "../shared/models/musicnn")]
    pub musicnn_refs: PathBuf,
    /// EfficientAT's reference outputs (`reference/*.ref.safetensors`), for the PyTorch
    /// rebuild's parity check.
    #[arg(long, default_value = "../shared/models/efficientat")]
    pub efficientat_refs: PathBuf,
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{s}' is not a positive whole number")),
    }
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    json!({ "cpu": cpu, "cores": cores, "os": os, "arch": arch })
}

fn write_f32(path: &Path, v: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let b = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn json_matrix(v: &Value) -> Vec<f32> {
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| {
            r.as_array()
                .into_iter()
                .flatten()
                .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
        })
        .collect()
}

fn iters_for(one_call_s: f64) -> usize {
    ((SAMPLE_TARGET_S / one_call_s.max(1e-9)).ceil() as usize).clamp(1, 10_000)
}

/// Times interleaved samples of ours and (when there is one) the reference.
struct Session {
    samples: usize,
    bars: Bars,
    py: Option<Python>,
}

/// A reference measurement: the Python command, and what to divide its time by.
struct Reference {
    cmd: Value,
    per: f64,
}

impl Session {
    /// Medians per unit: each call of `ours` (and of the reference command) covers `per`
    /// units (e.g. a batch of 32 windows), and the stats are per unit.
    fn measure(
        &mut self,
        label: &str,
        per: f64,
        ours: &mut dyn FnMut() -> Result<()>,
        reference: Option<Reference>,
    ) -> (Result<Stat>, Option<Result<Stat>>) {
        let ours_iters = (|| -> Result<usize> {
            ours()?; // warm-up: caches, allocator, lazy init
            let t = Instant::now();
            ours()?;
            Ok(iters_for(t.elapsed().as_secs_f64()))
        })();
        let reference = reference.filter(|_| self.py.is_some());
        let ref_iters = reference.as_ref().map(|r| -> Result<usize> {
            let py = self.py.as_mut().expect("filtered");
            py.sample(r.cmd.clone(), 1)?;
            Ok(iters_for(py.sample(r.cmd.clone(), 1)?))
        });
        let mut ours_s = Vec::new();
        let mut ref_s = Vec::new();
        let mut ours_err = ours_iters.as_ref().err().map(|e| format!("{e:#}"));
        let mut ref_err = match &ref_iters {
            Some(Err(e)) => Some(format!("{e:#}")),
            _ => None,
        };
        for i in 0..self.samples {
            for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
                if side == 0 {
                    if let (Ok(n), None) = (&ours_iters, &ours_err) {
                        let t = Instant::now();
                        let r = (0..*n).try_for_each(|_| ours());
                        match r {
                            Ok(()) => ours_s.push(t.elapsed().as_secs_f64() / *n as f64 / per),
                            Err(e) => ours_err = Some(format!("{e:#}")),
                        }
                    }
                } else if let (Some(r), Some(Ok(n)), None) = (&reference, &ref_iters, &ref_err) {
                    match self
                        .py
                        .as_mut()
                        .expect("filtered")
                        .sample(r.cmd.clone(), *n)
                    {
                        Ok(s) => ref_s.push(s / r.per),
                        Err(e) => ref_err = Some(format!("{e:#}")),
                    }
                }
            }
            self.bars.tick(label);
        }
        let ours = match ours_err {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => Stat::from_samples(ours_s).context("no samples"),
        };
        let reference = reference.map(|_| match ref_err {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => Stat::from_samples(ref_s).context("no samples"),
        });
        (ours, reference)
    }
}

/// Fills a row from a measurement; a failed reference becomes the row's note.
fn fill(row: &mut Row, (ours, reference): (Result<Stat>, Option<Result<Stat>>)) -> Result<()> {
    row.ours = Some(ours.with_context(|| format!("measuring ours: {}", row.what))?);
    match reference {
        Some(Ok(s)) => row.reference = Some(s),
        Some(Err(e)) => row.note = Some(format!("reference failed: {e:#}")),
        None => {}
    }
    Ok(())
}

/// Prints a progress line: to stdout with the table, to stderr with `--json` (stdout is
/// then the JSON document alone).
fn say(json: bool, s: String) {
    if json {
        eprintln!("{s}")
    } else {
        println!("{s}")
    }
}

/// What every measurement needs: the options, where things are, the timing session and the
/// references' names for the table.
struct Bench {
    args: Args,
    root: PathBuf,
    target: PathBuf,
    /// Files exchanged with the Python process.
    tmp: PathBuf,
    s: Session,
    librosa: String,
    torch: String,
}

impl Bench {
    fn say(&self, s: String) {
        say(self.args.json, s)
    }
}

/// The audio and networks the rows measure, loaded once.
struct Inputs {
    clip_path: PathBuf,
    song_path: PathBuf,
    /// The seed CNN (the first default, kept beside the musicnn default): what the mel, CNN
    /// and end-to-end rows compare with librosa and PyTorch.
    cnn_path: PathBuf,
    cnn: Arc<LoadedModel>,
    /// Its front end, `MelConfig::seed_default()`.
    cfg: MelConfig,
    /// The first `CLIP_S` seconds of the clip as decoded, and at the CNN's rate.
    head: Audio,
    clip: Vec<f32>,
    opts: TaggerOptions,
    /// The candle musicnn, with the same weights file PyTorch loads.
    musicnn_path: PathBuf,
    musicnn: Backbone,
}

impl Inputs {
    fn load(root: &Path) -> Result<Self> {
        let cpu = Device::Cpu;
        let clip_path = root.join("fixtures/cc-music/brahms_hungarian_dance_5.ogg");
        let cnn_path = root.join("model/weights/seed_cnn.safetensors");
        let cnn = Arc::new(model::weights::load_file(&cnn_path, &cpu)?);
        let cfg = cnn.card.front_end.mel.clone();
        if cfg != MelConfig::seed_default() {
            bail!(
                "{}'s front end is not MelConfig::seed_default(); the mel row assumes it is",
                cnn_path.display()
            );
        }
        let head = model::audio::decode_file_head(&clip_path, CLIP_S)?;
        let clip = model::audio::resample(&head.samples, head.sample_rate, cfg.sample_rate)?;
        let musicnn_path = root.join("model/weights/musicnn/MSD_musicnn.safetensors");
        let (_, tensors) = read_tf_file(&musicnn_path, "", &cpu)?;
        let musicnn = Backbone::new(VarBuilder::from_tensors(tensors, DType::F32, &cpu))?;
        Ok(Self {
            clip_path,
            song_path: root.join("fixtures/cc-music/lets_go_fishin.ogg"),
            cnn_path,
            cnn,
            cfg,
            head,
            clip,
            opts: TaggerOptions::default(),
            musicnn_path,
            musicnn,
        })
    }

    fn clip_s(&self) -> f64 {
        self.head.duration_s() as f64
    }

    /// The Python reference's `tag` command for the clip, as the Tagger's options run it.
    fn tag_cmd(&self) -> Value {
        json!({
            "cmd": "tag", "path": self.clip_path, "seconds": CLIP_S,
            "hop_frames": self.cfg.hop_frames(self.opts.hop_s),
            "window_frames": self.cnn.card.window_frames, "batch": self.opts.max_batch,
        })
    }
}

/// Starts the Python references (unless `--no-reference`); what happened goes in the
/// JSON's `reference` entry, and a failure only leaves them out.
fn start_references(args: &Args, root: &Path, target: &Path) -> Result<(Option<Python>, Value)> {
    let mut info = json!({ "available": false });
    if args.no_reference {
        info["skipped"] = "--no-reference".into();
        return Ok((None, info));
    }
    let python = paths::from_root(&args.python);
    let log = target.join("bench-python.log");
    match Python::start(
        &python,
        &root.join("bench/reference.py"),
        args.threads,
        &log,
    ) {
        Ok(mut p) => {
            let hello = p.call(json!({"cmd": "hello"}))?;
            let python = python.display().to_string();
            info = json!({ "available": true, "python": python, "hello": hello });
            say(args.json, references_line(&info["hello"]));
            Ok((Some(p), info))
        }
        Err(e) => {
            let hint = py::install_hint(root, &python);
            eprintln!("Python references not run: {e:#}\n{hint}");
            info["error"] = format!("{e:#}").into();
            Ok((None, info))
        }
    }
}

/// One line naming the reference tools and their thread pools.
fn references_line(hello: &Value) -> String {
    let pools: Vec<String> = hello["threadpools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} {} ({} threads{})",
                p["internal_api"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or(""),
                p["num_threads"],
                p["architecture"]
                    .as_str()
                    .map(|a| format!(", kernel {a}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let version = |k: &str| hello["versions"][k].as_str().unwrap_or("?").to_string();
    format!(
        "references: Python {}, librosa {}, numpy {}, PyTorch {} ({} threads); native pools: {}",
        hello["python"].as_str().unwrap_or("?"),
        version("librosa"),
        version("numpy"),
        version("torch"),
        hello["torch_threads"],
        pools.join(", ")
    )
}

/// Before any timing, each pair is checked to compute the same thing: the figures go in
/// the JSON's `checks`. A seed CNN that disagrees with PyTorch stops the bench (timing the
/// two against each other would mean nothing); the other checks only report.
fn check_agreement(b: &mut Bench, inp: &Inputs) -> Result<Map<String, Value>> {
    let mut checks = Map::new();
    let Some(p) = b.s.py.as_mut() else {
        return Ok(checks);
    };
    let say = |s: String| say(b.args.json, s);
    let cpu = Device::Cpu;
    let (n_mels, wf) = (inp.cfg.n_mels, inp.cnn.card.window_frames);

    let ours_mel = mel_spectrogram(&inp.cfg, &inp.clip)?;
    let (samples_f, mel_f) = (b.tmp.join("mel_input.f32"), b.tmp.join("mel_librosa.f32"));
    write_f32(&samples_f, &inp.clip)?;
    let r = p.call(json!({"cmd": "mel_setup", "samples": samples_f, "out": mel_f}));
    match r.and_then(|_| read_f32(&mel_f)) {
        Ok(theirs) if theirs.len() == ours_mel.data.len() => {
            let peak = theirs.iter().cloned().fold(f32::MIN, f32::max);
            let (mut within, mut all) = (0.0f32, 0.0f32);
            for (a, b) in ours_mel.data.iter().zip(&theirs) {
                all = all.max((a - b).abs());
                if *b >= peak - 80.0 {
                    within = within.max((a - b).abs());
                }
            }
            say(format!(
                "check: mel vs librosa, max |Δ| {within:.1e} dB within 80 dB of the peak \
                 ({all:.1e} dB over all bins)"
            ));
            checks.insert("mel_max_abs_diff_db_top80".into(), within.into());
            checks.insert("mel_max_abs_diff_db_all".into(), all.into());
        }
        Ok(theirs) => bail!(
            "librosa gave {} mel values, ours {}",
            theirs.len(),
            ours_mel.data.len()
        ),
        Err(e) => say(format!("check: mel vs librosa failed: {e:#}")),
    }

    // Four real windows of the clip, normalised as the Tagger does.
    let mut windows = Vec::new();
    for start in [0, 300, 600, 900] {
        let mut w = Vec::new();
        copy_window(&ours_mel.data, n_mels, start, wf, &mut w);
        normalize(&mut w, inp.cnn.card.norm);
        windows.extend(w);
    }
    let x = Tensor::from_vec(windows.clone(), (4, n_mels, wf), &cpu)?;
    let ours_logits: Vec<f32> = inp.cnn.net.forward_t(&x, false)?.flatten_all()?.to_vec1()?;
    let cnn_in = b.tmp.join("cnn_input.f32");
    write_f32(&cnn_in, &windows)?;
    let r = p.call(json!({
        "cmd": "cnn_setup", "weights": inp.cnn_path, "input": cnn_in,
        "n_mels": n_mels, "frames": wf, "batches": [1, 32],
    }))?;
    let d = max_abs_diff(&ours_logits, &json_matrix(&r["logits"]));
    say(format!(
        "check: seed CNN logits, candle vs PyTorch on 4 real windows: max |Δ| {d:.1e} \
         (must be ≤ 1e-4)"
    ));
    checks.insert("cnn_logits_max_abs_diff".into(), d.into());
    if d.is_nan() || d > 1e-4 {
        bail!(
            "the PyTorch seed CNN does not compute what ours does (max |Δ| {d}): timing them \
             against each other would mean nothing"
        );
    }

    let ours_tags = tag_audio(inp.cnn.clone(), &inp.head, inp.opts)?;
    let mut tag_cmd = inp.tag_cmd();
    tag_cmd["check"] = true.into();
    match p.call(tag_cmd) {
        Ok(r) => {
            let theirs = json_matrix(&json!([r["distribution"]]));
            let d = max_abs_diff(&ours_tags.distribution, &theirs);
            let top = argmax(&theirs);
            let labels = &inp.cnn.card.labels;
            say(format!(
                "check: 30-s clip end to end, mean distribution vs librosa + PyTorch: {} windows \
                 each, top genre {} / {}, max |Δp| {d:.3} (different resamplers)",
                r["windows"],
                labels[ours_tags.top],
                labels.get(top).map(String::as_str).unwrap_or("?")
            ));
            checks.insert("tag_distribution_max_abs_diff".into(), d.into());
            checks.insert("tag_same_top_genre".into(), (top == ours_tags.top).into());
        }
        Err(e) => say(format!(
            "check: end to end vs librosa + PyTorch failed: {e:#}"
        )),
    }

    let patches = musicnn_patches(inp)?;
    let x = Tensor::from_vec(patches.clone(), (2, MUSICNN_MELS, MUSICNN_FRAMES), &cpu)?;
    let ours_logits: Vec<f32> = inp.musicnn.forward(&x)?.tags.flatten_all()?.to_vec1()?;
    let musicnn_in = b.tmp.join("musicnn_input.f32");
    write_f32(&musicnn_in, &patches)?;
    let refs = paths::from_root(&b.args.musicnn_refs);
    match p.call(json!({
        "cmd": "musicnn_setup", "weights": inp.musicnn_path, "input": musicnn_in,
        "batches": [1, 8], "reference_root": refs,
    })) {
        Ok(r) => {
            let d = max_abs_diff(&ours_logits, &json_matrix(&r["logits"]));
            say(format!(
                "check: musicnn (MSD) logits, candle vs PyTorch on 2 real patches: max |Δ| {d:.1e}"
            ));
            checks.insert("musicnn_candle_vs_torch_max_abs_diff".into(), d.into());
            if let Some(par) = r.get("parity") {
                let f = |k: &str| par[k].as_f64().unwrap_or(f64::NAN);
                say(format!(
                    "check: PyTorch musicnn vs TensorFlow's reference logits ({} patches): MSD \
                     {:.1e}, MTT {:.1e} as models.py builds it; averaging over frequency before \
                     the temporal convs instead: MSD {:.1}, MTT {:.1}",
                    par["patches"],
                    f("MSD_models_py"),
                    f("MTT_models_py"),
                    f("MSD_mean_over_freq"),
                    f("MTT_mean_over_freq")
                ));
                checks.insert("musicnn_torch_vs_tensorflow".into(), par.clone());
            }
        }
        Err(e) => say(format!("check: musicnn in PyTorch failed: {e:#}")),
    }
    Ok(checks)
}

/// Two real musicnn patches of the clip: musicnn's front end at 16 kHz, but without its
/// float16 cast, which overflows to inf wherever the mel power exceeds 6.55
/// (65 504 / 10 000) — loud passages of this very clip — and then gives NaN logits on
/// both sides.
fn musicnn_patches(inp: &Inputs) -> Result<Vec<f32>> {
    let cfg = MelConfig {
        scale: model::mel::LogScale::Log10 {
            multiplier: 10_000.0,
            f16_round: false,
        },
        ..MelConfig::musicnn()
    };
    let audio = model::audio::resample(&inp.head.samples, inp.head.sample_rate, cfg.sample_rate)?;
    let mel = mel_spectrogram(&cfg, &audio)?;
    let mut v = Vec::new();
    for p in 0..2 {
        let mut w = Vec::new();
        copy_window(
            &mel.data,
            cfg.n_mels,
            p * MUSICNN_FRAMES,
            MUSICNN_FRAMES,
            &mut w,
        );
        v.extend(w);
    }
    Ok(v)
}

fn mel_row(b: &mut Bench, inp: &Inputs) -> Result<Row> {
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

fn cnn_rows(b: &mut Bench, inp: &Inputs) -> Result<Vec<Row>> {
    let (n_mels, wf) = (inp.cfg.n_mels, inp.cnn.card.window_frames);
    let mut rows = Vec::new();
    for batch in [1usize, 32] {
        let x = Tensor::randn(0f32, 1.0, (batch, n_mels, wf), &Device::Cpu)?;
        let mut row = Row::new(
            &format!("cnn_b{batch}"),
            format!("seed CNN forward, batch {batch} (per 3-s window)"),
            "window",
        );
        row.reference_name = b.torch.clone();
        row.audio_s = Some(inp.cnn.card.window_seconds() as f64);
        row.goal = Some(Goal::RatioAtLeast { ratio: 1.0 });
        let reference = Reference {
            cmd: json!({"cmd": "cnn", "batch": batch}),
            per: batch as f64,
        };
        let mut ours = || -> Result<()> {
            inp.cnn.net.forward_t(&x, false)?;
            Ok(())
        };
        let label = format!("cnn batch {batch}");
        let m =
            b.s.measure(&label, batch as f64, &mut ours, Some(reference));
        fill(&mut row, m)?;
        rows.push(row);
    }
    Ok(rows)
}

fn tag_clip_row(b: &mut Bench, inp: &Inputs) -> Result<Row> {
    let windows = tag_audio(inp.cnn.clone(), &inp.head, inp.opts)?
        .windows
        .len();
    let mut row = Row::new(
        "tag_30s",
        format!(
            "tag a {CLIP_S:.0}-s clip end to end: decode 44.1 kHz Ogg → resample → mel → CNN, \
             hop 1 s ({windows} windows)"
        ),
        "clip",
    );
    row.reference_name = format!("{} + {}", b.librosa, b.torch);
    row.audio_s = Some(inp.clip_s());
    let reference = Reference {
        cmd: inp.tag_cmd(),
        per: 1.0,
    };
    let mut ours = || -> Result<()> {
        let a = model::audio::decode_file_head(&inp.clip_path, CLIP_S)?;
        tag_audio(inp.cnn.clone(), &a, inp.opts)?;
        Ok(())
    };
    fill(
        &mut row,
        b.s.measure("tag 30 s", 1.0, &mut ours, Some(reference)),
    )?;
    Ok(row)
}

/// A whole song against the seed paper's published figure (not measured here).
fn tag_song_row(b: &mut Bench, inp: &Inputs) -> Result<Row> {
    let song = model::audio::decode_file(&inp.song_path)?;
    let mut row = Row::new(
        "tag_song",
        format!(
            "tag a whole song end to end (Let's Go Fishin', {:.0} s, 44.1 kHz Ogg)",
            song.duration_s()
        ),
        "song",
    );
    row.reference_name = "seed paper, published".into();
    row.reference = Some(Stat::fixed(PAPER_SONG_S));
    row.audio_s = Some(song.duration_s() as f64);
    row.reference_same_audio = false;
    row.note = Some("the paper does not give its song's length".into());
    let mut ours = || -> Result<()> {
        let a = model::audio::decode_file(&inp.song_path)?;
        tag_audio(inp.cnn.clone(), &a, inp.opts)?;
        Ok(())
    };
    let (o, _) = b.s.measure("tag song", 1.0, &mut ours, None);
    row.ours = Some(o?);
    Ok(row)
}

/// musicnn: candle (model::nets::musicnn) against the same weights in PyTorch.
fn musicnn_rows(b: &mut Bench, inp: &Inputs) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for batch in [1usize, 8] {
        let x = Tensor::rand(
            0f32,
            3.0,
            (batch, MUSICNN_MELS, MUSICNN_FRAMES),
            &Device::Cpu,
        )?;
        let mut row = Row::new(
            &format!("musicnn_b{batch}"),
            format!("musicnn (MSD) forward, batch {batch} (per 3-s patch)"),
            "patch",
        );
        row.reference_name = b.torch.clone();
        let m = MelConfig::musicnn();
        row.audio_s = Some((MUSICNN_FRAMES - 1) as f64 * m.hop as f64 / m.sample_rate as f64);
        row.goal = Some(Goal::RatioAtLeast { ratio: 1.0 });
        let reference = Reference {
            cmd: json!({"cmd": "musicnn", "batch": batch}),
            per: batch as f64,
        };
        let mut ours = || -> Result<()> {
            inp.musicnn.forward(&x)?;
            Ok(())
        };
        let label = format!("musicnn batch {batch}");
        let m =
            b.s.measure(&label, batch as f64, &mut ours, Some(reference));
        fill(&mut row, m)?;
        rows.push(row);
    }
    Ok(rows)
}

/// The plugin's worker: what one second of 48 kHz host audio costs at the default hop.
/// Measured in a process of its own (the plugin crate's `worker_cost` example) because this
/// one has its allocator tuned for training (xtask's main), which a plugin host does not.
fn worker_row(b: &mut Bench, inp: &Inputs) -> Row {
    let mut row = Row::new(
        "worker",
        "plugin worker at the default hop (1 s): 48 kHz → resample → mel → the embedded \
         default on the worker's one-thread pool, CPU time"
            .to_string(),
        "s of audio",
    );
    row.audio_s = Some(1.0);
    match plugin::worker_cost(&b.root, &inp.clip_path, b.args.samples, None) {
        Ok(v) => {
            row.ours = Stat::from_samples(v);
            if let Some(o) = &row.ours {
                row.note = Some(format!("{:.2} % of one core", o.median_s * 100.0));
            }
        }
        Err(e) => row.note = Some(format!("not measured: {e:#}")),
    }
    for _ in 0..b.args.samples {
        b.s.bars.tick("worker");
    }
    row
}

/// The plugin's audio thread: its own criterion bench, one row per layout it measured.
fn tap_rows(b: &mut Bench) -> (Vec<Row>, Vec<plugin::TapFigure>) {
    if b.args.no_plugin {
        b.say("plugin audio thread: skipped (--no-plugin)".into());
        return (Vec::new(), Vec::new());
    }
    b.s.bars.stage("plugin bench", 1);
    b.s.bars
        .tick("cargo bench -p genre-tagger --bench audio_thread (builds it the first time)");
    let figures = match plugin::run(&b.root, &b.target, &b.target.join("bench-plugin.log")) {
        Ok(figures) => figures,
        Err(e) => {
            b.say(format!("plugin audio thread: not measured: {e:#}"));
            Vec::new()
        }
    };
    b.s.bars.stage_done();
    let rows = figures
        .iter()
        .map(|f| {
            let mut row = Row::new(
                &format!("tap_{}ch_{}", f.channels, f.block),
                format!(
                    "audio thread: Tap::process, {} ch, {}-frame blocks (criterion median)",
                    f.channels, f.block
                ),
                "frame",
            );
            row.ours = Some(Stat::fixed(f.per_frame_s()));
            row.audio_s = Some(1.0 / HOST_RATE as f64);
            row.note = Some(format!(
                "{:.4} % of the block's time at 48 kHz",
                f.per_frame_s() * HOST_RATE as f64 * 100.0
            ));
            row
        })
        .collect();
    (rows, figures)
}

/// Writes `target/bench.json` and prints the table (or the JSON with `--json`).
fn report(b: &Bench, doc: Value, rows: &[Row]) -> Result<()> {
    let out = b.target.join("bench.json");
    std::fs::write(&out, serde_json::to_string_pretty(&doc)?)?;
    if b.args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!();
        print!("{}", table::markdown(rows));
        println!(
            "\nratio = reference time / our time (above 1: ours is faster); medians of {} \
             interleaved samples per side; written to {}",
            b.args.samples,
            out.display()
        );
    }
    Ok(())
}

fn rows_json(rows: &[Row]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).expect("rows serialise");
            v["ratio_reference_over_ours"] = json!(r.ratio());
            v["ours_x_realtime"] = json!(r.ours_x_realtime());
            v["reference_x_realtime"] = json!(r.reference_x_realtime());
            v["goal_met"] = json!(r.goal_met());
            v
        })
        .collect()
}

pub fn run(args: Args) -> Result<ExitCode> {
    // Before anything touches rayon or candle: both read it once (rayon) or per call (candle's
    // gemm).
    std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string());
    let (root, target) = (paths::workspace_root(), paths::target_dir());
    let tmp = target.join("bench-tmp");
    std::fs::create_dir_all(&tmp)?;
    let machine = machine();
    say(
        args.json,
        format!(
            "machine: {}, {} cores; threads per side: {} (ours: RAYON_NUM_THREADS; references: \
             torch, BLAS, OpenMP); {} samples per side",
            machine["cpu"].as_str().unwrap_or("?"),
            machine["cores"],
            args.threads,
            args.samples
        ),
    );
    let (py, reference_info) = start_references(&args, &root, &target)?;
    let named = |name: &str, k: &str| match reference_info["hello"]["versions"][k].as_str() {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    };
    let mut b = Bench {
        librosa: named("librosa", "librosa"),
        torch: named("PyTorch", "torch"),
        s: Session {
            samples: args.samples,
            bars: Bars::new(),
            py,
        },
        args,
        root,
        target,
        tmp,
    };
    let inp = Inputs::load(&b.root)?;
    let mut checks = check_agreement(&mut b, &inp)?;
    let eat = efficientat::prepare(&mut b, &inp, &mut checks)?;

    // Timed, interleaved with the references sample by sample.
    const TIMED_ROWS: usize = 8 + efficientat::TIMED_ROWS;
    b.s.bars.stage("bench", TIMED_ROWS * b.args.samples);
    let mut rows = vec![mel_row(&mut b, &inp)?];
    rows.extend(cnn_rows(&mut b, &inp)?);
    rows.push(tag_clip_row(&mut b, &inp)?);
    rows.push(tag_song_row(&mut b, &inp)?);
    rows.extend(musicnn_rows(&mut b, &inp)?);
    rows.push(worker_row(&mut b, &inp));
    rows.extend(eat.rows(&mut b, &inp)?);
    b.s.bars.stage_done();
    let (tap_rows, tap) = tap_rows(&mut b);
    rows.extend(tap_rows);
    b.s.py = None; // ends the Python process before the report

    let doc = json!({
        "command": std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        "machine": machine,
        "threads": b.args.threads,
        "samples": b.args.samples,
        "reference": reference_info,
        "checks": checks,
        "rows": rows_json(&rows),
        "plugin_tap": tap,
    });
    report(&b, doc, &rows)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn defaults_compare_single_thread_against_the_venv() {
        let a = Cli::try_parse_from(["bench"]).unwrap().args;
        assert_eq!(
            (a.threads, a.samples, a.json, a.no_reference, a.no_plugin),
            (1, 11, false, false, false)
        );
        assert_eq!(a.python, PathBuf::from("target/bench-venv/bin/python"));
    }

    #[test]
    fn flags_parse_and_nonsense_is_refused() {
        let a = Cli::try_parse_from([
            "bench",
            "--json",
            "--threads",
            "2",
            "--samples",
            "5",
            "--no-reference",
            "--no-plugin",
        ])
        .unwrap()
        .args;
        assert_eq!(
            (a.threads, a.samples, a.json, a.no_reference, a.no_plugin),
            (2, 5, true, true, true)
        );
        assert!(Cli::try_parse_from(["bench", "--threads", "0"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--samples", "-3"]).is_err());
    }

    #[test]
    fn sample_length_targets_a_tenth_of_a_second() {
        assert_eq!(iters_for(0.005), 20);
        assert_eq!(iters_for(0.5), 1);
        assert_eq!(iters_for(0.0), 10_000);
    }

    #[test]
    fn f32_files_round_trip() {
        let p = std::env::temp_dir().join(format!("xtask-bench-{}.f32", std::process::id()));
        write_f32(&p, &[1.5, -2.25, 0.0]).unwrap();
        assert_eq!(read_f32(&p).unwrap(), vec![1.5, -2.25, 0.0]);
        std::fs::remove_file(p).unwrap();
    }
}
