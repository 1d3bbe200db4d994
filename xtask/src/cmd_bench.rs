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

mod checks;
mod cnn;
mod efficientat;
mod mel;
mod musicnn;
mod plugin;
mod py;
mod session;
mod table;
mod tag;
mod tap;
mod worker;

use crate::paths;
use crate::progress::Bars;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use model::audio::Audio;
use model::mel::MelConfig;
use model::nets::musicnn::{read_tf_file, Backbone};
use model::tagger::TaggerOptions;
use model::train::Observer;
use model::weights::LoadedModel;
use serde_json::{json, Value};
use session::Session;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use table::Row;

/// Length of the clip the mel and end-to-end rows use.
const CLIP_S: f64 = 30.0;

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
    /// Also write the table here (Markdown, e.g. docs/bench.md).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    if let Some(md) = &b.args.out {
        let md = paths::from_root(md);
        let text = format!(
            "{}\nratio = reference time / our time (above 1: ours is faster); medians of {} \
             interleaved samples per side, {} thread(s) per side; `cargo xtask {}` on {}.\n",
            table::markdown(rows),
            b.args.samples,
            b.args.threads,
            doc["command"].as_str().unwrap_or(""),
            doc["machine"]["cpu"].as_str().unwrap_or("?"),
        );
        // What the committed table's test reads back must read back now.
        crate::md_table::tables(&text, table::HEADER).map_err(anyhow::Error::msg)?;
        std::fs::write(&md, text).with_context(|| format!("writing {}", md.display()))?;
        b.say(format!("table written to {}", md.display()));
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
    let (py, reference_info) = py::start_references(&args, &root, &target)?;
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
    let mut checks = checks::check_agreement(&mut b, &inp)?;
    let eat = efficientat::prepare(&mut b, &inp, &mut checks)?;

    // Timed, interleaved with the references sample by sample.
    const TIMED_ROWS: usize = 8 + efficientat::TIMED_ROWS;
    b.s.bars.stage("bench", TIMED_ROWS * b.args.samples);
    let mut rows = vec![mel::mel_row(&mut b, &inp)?];
    rows.extend(cnn::cnn_rows(&mut b, &inp)?);
    rows.push(tag::tag_clip_row(&mut b, &inp)?);
    rows.push(tag::tag_song_row(&mut b, &inp)?);
    rows.extend(musicnn::musicnn_rows(&mut b, &inp)?);
    rows.push(worker::worker_row(
        &mut b,
        &inp,
        "worker",
        "plugin worker at the default hop (1 s): 48 kHz → resample → mel → the embedded \
         default on the worker's one-thread pool, CPU time",
        None,
        "worker",
    ));
    rows.extend(eat.rows(&mut b, &inp)?);
    b.s.bars.stage_done();
    let (tap_rows, tap) = tap::tap_rows(&mut b);
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

    /// The committed table (`cargo xtask bench --out docs/bench.md`) still has the
    /// command's header and a cell per column.
    #[test]
    fn the_committed_table_parses() {
        let path = paths::workspace_root().join("docs/bench.md");
        let md =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let t = crate::md_table::tables(&md, table::HEADER)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            t.iter().map(Vec::len).sum::<usize>() >= 10,
            "{}",
            path.display()
        );
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
}
