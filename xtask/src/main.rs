//! `cargo xtask …`: the project's command line (train, eval, tag), plus nice-plug's
//! `bundle`/`bundle-universal` (e.g. `cargo xtask bundle genre-tagger --release`), which are
//! passed through to `nice_plug_xtask`.

mod cmd_bench;
mod cmd_calibrate;
mod cmd_decisions;
mod cmd_eval;
mod cmd_parity;
mod cmd_report;
mod cmd_rhythm;
mod cmd_tag;
mod cmd_teach;
mod cmd_teach_curve;
mod cmd_train;
mod cmd_zoo;
mod diff;
mod md_table;
mod model_args;
mod paths;
mod pretrained;
mod progress;
mod protocol;
mod report;

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Genre tagger: train, evaluate and run models"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a genre model on a GTZAN copy.
    Train(cmd_train::Args),
    /// Compare genre decisions on EfficientAT (and ensembles with a musicnn model) on the
    /// model-choice protocol and a DJ mix: docs/decisions.md's table (needs ../shared).
    Decisions(cmd_decisions::Args),
    /// Evaluate a model on GTZAN clips: window and clip accuracy, per-genre P/R/F1, confusion.
    Eval(cmd_eval::Args),
    /// Tag audio files: top genre, whole-file distribution and a timeline.
    Tag(cmd_tag::Args),
    /// Teach the default your labels from a folder (one subfolder per label): a model file.
    Teach(cmd_teach::Args),
    /// The few-shot curve and the cost of forgetting: docs/teach.md (needs ../shared).
    TeachCurve(cmd_teach_curve::Args),
    /// Check the candle musicnn and EfficientAT against their reference outputs (needs ../shared).
    Parity(cmd_parity::Args),
    /// Redraw a training report's pictures from its metrics.json (no retraining).
    Report(cmd_report::Args),
    /// Benchmark the hot paths against librosa, PyTorch and the seed paper (one table).
    Bench(cmd_bench::Args),
    /// Train and score the seed papers' systems and this project's under one protocol.
    Zoo(cmd_zoo::Args),
    /// Lay the Emotify folder out as the protocol's halves (train/ and heldout/ symlinks).
    EmotifyHalves(protocol::HalvesArgs),
    /// Score the live tempo and key on gtzan-mini beside published estimators (needs ../shared).
    Rhythm(cmd_rhythm::Args),
    /// Fit a temperature so a model's confidence means how often it is right (needs ../shared).
    Calibrate(cmd_calibrate::Args),
}

/// Where the GTZAN clips are and how to split them (shared by `train` and `eval`).
#[derive(clap::Args)]
pub struct DataArgs {
    /// A GTZAN copy: genres_original/<g>/<g>.NNNNN.wav, genres/<g>/<g>.NNNNN.au or
    /// <g>/<g>.NNNNN.flac.
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Split; `filtered` when the data covers the artist-filtered lists, else `by-index`.
    #[arg(long, value_enum)]
    pub split: Option<SplitArg>,
}

/// Where a command runs its network (train, eval, tag).
#[derive(clap::Args)]
pub struct DeviceArgs {
    /// `auto`: CUDA when this build has it (scripts/build-cuda) and a GPU initialises,
    /// else the CPU; `cuda` without one is an error, never a CPU run.
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    device: DeviceArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DeviceArg {
    Auto,
    Cpu,
    Cuda,
}

impl DeviceArgs {
    /// The device, announced on stderr ("device: CUDA", or the CPU and why not a GPU).
    pub fn select(&self) -> anyhow::Result<candle_core::Device> {
        use model::device::Choice;
        let choice = match self.device {
            DeviceArg::Auto => Choice::Auto,
            DeviceArg::Cpu => Choice::Cpu,
            DeviceArg::Cuda => Choice::Cuda,
        };
        let (device, fallback) = model::device::select(choice)?;
        eprintln!("{}", model::device::describe(&device, fallback.as_ref()));
        Ok(device)
    }
}

/// Copies everything in `target/bundled/` (the .clap, the .vst3 directory, the standalone)
/// into `bundles/`, where the README says the built plugin is.
fn copy_bundles() -> anyhow::Result<()> {
    fn copy(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
        if from.is_dir() {
            std::fs::create_dir_all(to)?;
            for e in std::fs::read_dir(from)? {
                let e = e?;
                copy(&e.path(), &to.join(e.file_name()))?;
            }
            Ok(())
        } else {
            std::fs::copy(from, to).map(|_| ())
        }
    }
    let bundled = paths::target_dir().join("bundled");
    let bundles = paths::workspace_root().join("bundles");
    for e in std::fs::read_dir(&bundled)? {
        let e = e?;
        let dest = bundles.join(e.file_name());
        if dest.is_dir() {
            std::fs::remove_dir_all(&dest)?;
        }
        copy(&e.path(), &dest)?;
        eprintln!("copied {} -> {}", e.path().display(), dest.display());
    }
    Ok(())
}

/// Which split of a GTZAN copy to use.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SplitArg {
    /// The artist-filtered split (Kereliuk, Sturm & Larsen 2015).
    Filtered,
    /// Clips 0-6 of every ten train, 7-9 validate (partial copies like gtzan-mini).
    ByIndex,
}

impl From<SplitArg> for model::train::SplitKind {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::Filtered => Self::Filtered,
            SplitArg::ByIndex => Self::ByIndex,
        }
    }
}

/// candle allocates and frees tens of MB per layer per training step, and glibc returns
/// blocks that large to the kernel at once (mmap/munmap), so each step page-faults them
/// back in. Keeping them on the heap made a training step ~30% faster here.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only adjusts allocator thresholds; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// The error and its causes, as anyhow's `{:#}` prints them, less any cause the text
/// before it already ends with: `model::Error::Open` quotes its `io::Error` and also
/// returns it as its source, and `{:#}` alone would say "No such file or directory" twice.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain().map(|c| c.to_string()) {
        if text.is_empty() {
            text = cause;
        } else if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn main() -> ExitCode {
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some("bundle" | "bundle-universal")
    ) {
        // nice_plug_xtask builds and bundles into target/bundled/ (cwd: workspace root).
        return match nice_plug_xtask::main().and_then(|()| copy_bundles()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {}", error_text(&e));
                ExitCode::FAILURE
            }
        };
    }
    tune_allocator();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Train(a) => cmd_train::run(a),
        Cmd::Decisions(a) => cmd_decisions::run(a),
        Cmd::Eval(a) => cmd_eval::run(a),
        Cmd::Tag(a) => cmd_tag::run(a),
        Cmd::Teach(a) => cmd_teach::run(a),
        Cmd::TeachCurve(a) => cmd_teach_curve::run(a),
        Cmd::Parity(a) => cmd_parity::run(a),
        Cmd::Report(a) => cmd_report::run(a),
        Cmd::Bench(a) => cmd_bench::run(a),
        Cmd::Zoo(a) => cmd_zoo::run(a),
        Cmd::EmotifyHalves(a) => protocol::run_halves(a),
        Cmd::Rhythm(a) => cmd_rhythm::run(a),
        Cmd::Calibrate(a) => cmd_calibrate::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::FAILURE
        }
    }
}
