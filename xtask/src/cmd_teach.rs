//! `cargo xtask teach DIR --out FILE`: a taught model from a folder of examples, one
//! subfolder per label (any name: "house", "my wedding set", or one of the ten genres),
//! any audio the decoder reads inside. Every file is decoded and run through the default's
//! network once (its outputs cached like `train`'s features), its windows go into the
//! taught examples, and [`model::teach::fit`] makes the model. A file that cannot be used
//! is named with the reason at the end and stops nothing; the command fails only when a
//! label is left with no usable file.

use crate::paths::from_root;
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use indicatif::{ProgressBar, ProgressStyle};
use model::nets::efficientat::{Decision, Mn, MnConfig};
use model::teach::{fit, network_tensors, ExampleStore, TeachConfig};
use model::train::{
    backbone_features, Clip, ClipFeatures, EfficientAtFeatures, FeatureCache, Quiet,
};
use model::weights::ModelCard;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A folder with one subfolder per label, audio files inside.
    dir: PathBuf,
    /// Where to write the model file.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    fit: FitArgs,
    /// Seconds between the windows taken from each file.
    #[arg(long, default_value_t = 3.0, value_parser = crate::cmd_tag::hop_seconds)]
    hop: f32,
    /// Where network outputs are cached between runs [default: feature-cache in cargo's
    /// target folder].
    #[arg(long)]
    feature_cache: Option<PathBuf>,
}

/// The fit's settings on the command line (shared with `teach-curve`).
#[derive(clap::Args, Clone)]
pub struct FitArgs {
    /// Ridge penalty on the residual (larger: closer to zero-shot) [default: docs/teach.md's choice].
    #[arg(long, value_parser = positive)]
    pub penalty: Option<f32>,
    /// Kernel width, in multiples of the taught pieces' nearest-neighbour distance.
    #[arg(long, value_parser = positive)]
    pub bandwidth_scale: Option<f32>,
}

impl FitArgs {
    pub fn config(&self) -> TeachConfig {
        let d = TeachConfig::default();
        TeachConfig {
            penalty: self.penalty.unwrap_or(d.penalty),
            bandwidth_scale: self.bandwidth_scale.unwrap_or(d.bandwidth_scale),
            ..d
        }
    }
}

fn positive(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

/// The network the taught model is built on, ready to make each window's outputs.
pub struct Network {
    pub tensors: HashMap<String, Tensor>,
    pub net: Mn,
    pub card: ModelCard,
    pub cache: FeatureCache,
}

impl Network {
    /// The embedded default's network, with the feature cache in `cache_dir` (or cargo's
    /// target folder).
    pub fn default_with_cache(cache_dir: Option<&Path>) -> Result<Self> {
        let device = Device::Cpu;
        let tensors = network_tensors(&device)?;
        let net = Mn::new(
            &MnConfig::mn04_as(),
            VarBuilder::from_tensors(tensors.clone(), DType::F32, &device),
        )?;
        let dir = cache_dir
            .map(from_root)
            .unwrap_or_else(|| crate::paths::target_dir().join("feature-cache"));
        let cache = FeatureCache::new(dir, &tensors)?;
        Ok(Self {
            tensors,
            net,
            card: ModelCard::efficientat(Decision::zero_shot_groups_gtzan()),
            cache,
        })
    }

    /// `[windows, logits | embedding]` for the windows every `hop_s` of `path` that are not
    /// silence (by the tagger's rule), row-major.
    pub fn file_windows(&self, path: &Path, hop_s: f32) -> Result<Vec<f32>> {
        let audio = model::audio::decode_file(path)?;
        let x = model::audio::resample(
            &audio.samples,
            audio.sample_rate,
            self.card.front_end.mel.sample_rate,
        )?;
        let mel = model::front_end::frames(&self.card.front_end, &x)?;
        let wf = self.card.window_frames;
        if mel.frames() < wf {
            bail!(
                "{:.1} s is shorter than one {:.0}-s window",
                x.len() as f32 / self.card.front_end.mel.sample_rate as f32,
                self.card.window_seconds()
            );
        }
        let hop = self.card.front_end.mel.hop_frames(hop_s);
        let energy = mel.energy.clone();
        let clip = ClipFeatures {
            clip: Clip {
                path: path.to_path_buf(),
                genre: 0,
                index: 0,
            },
            mel,
        };
        let f = backbone_features(
            &EfficientAtFeatures { net: &self.net },
            &self.card,
            &[clip],
            hop_s,
            &[],
            Some(&self.cache),
            &Device::Cpu,
            &mut Quiet,
        )?;
        let silence_db = model::tagger::TaggerOptions::default().silence_db;
        let mut rows = Vec::with_capacity(f.x.len());
        for (i, row) in f.x.chunks_exact(f.dim).enumerate() {
            let e = &energy[i * hop..i * hop + wf];
            let mean = e.iter().map(|&v| v as f64).sum::<f64>() / wf as f64;
            if mean > 0.0 && 10.0 * mean.log10() >= silence_db as f64 {
                rows.extend_from_slice(row);
            }
        }
        if rows.is_empty() {
            bail!("every window is silence (below {silence_db} dBFS)");
        }
        Ok(rows)
    }
}

/// `(label, file)` for every file in every subfolder of `dir`, both sorted by name. Hidden
/// files are skipped; anything else is offered to the decoder, which says if it is not audio.
pub fn label_folders(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let mut out = Vec::new();
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !hidden(p))
        .collect();
    subs.sort();
    for sub in subs {
        let label = sub
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .with_context(|| format!("{}: a label folder needs a UTF-8 name", sub.display()))?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)
            .with_context(|| format!("reading {}", sub.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !p.is_dir() && !hidden(p))
            .collect();
        files.sort();
        out.push((label, files));
    }
    if out.is_empty() {
        bail!(
            "{}: no label folders (make one subfolder per label, audio files inside)",
            dir.display()
        );
    }
    Ok(out)
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn bar(len: usize, prefix: &str) -> ProgressBar {
    let b = ProgressBar::new(len as u64);
    b.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    b.set_prefix(prefix.to_string());
    b
}

pub fn run(args: Args) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let dir = from_root(&args.dir);
    let folders = label_folders(&dir)?;
    let network = Network::default_with_cache(args.feature_cache.as_deref())?;
    let mut store =
        ExampleStore::new(network.net.cfg.num_classes + network.net.cfg.embedding_dim());
    let total: usize = folders.iter().map(|(_, f)| f.len()).sum();
    let b = bar(total, "teaching");
    let mut failed: Vec<String> = Vec::new();
    let mut empty: Vec<&str> = Vec::new();
    let mut source = 0u64;
    for (label, files) in &folders {
        let mut used = 0;
        for path in files {
            b.set_message(format!("{label}: {}", path.display()));
            match network.file_windows(path, args.hop) {
                Ok(rows) => {
                    for row in rows.chunks_exact(store.width()) {
                        store.add(label, source, row)?;
                    }
                    used += 1;
                }
                Err(e) => {
                    let line = format!("{}: {}", path.display(), crate::error_text(&e));
                    b.println(format!("error: {line}"));
                    failed.push(line);
                }
            }
            source += 1;
            b.inc(1);
        }
        if used == 0 {
            empty.push(label);
        }
    }
    b.finish_and_clear();
    let features_s = t0.elapsed().as_secs_f64();
    if !failed.is_empty() {
        eprintln!("{} file(s) could not be used:", failed.len());
        for f in &failed {
            eprintln!("  {f}");
        }
    }
    if !empty.is_empty() {
        bail!(
            "no usable audio for label(s) {}: nothing written",
            empty
                .iter()
                .map(|l| format!("'{l}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let cfg = args.fit.config();
    let t1 = std::time::Instant::now();
    let taught = fit(&store, &cfg)?;
    let fit_s = t1.elapsed().as_secs_f64();
    let trained_on = format!(
        "taught from {} ({} labels, {} files): cargo xtask teach {} --penalty {} --bandwidth-scale {}",
        args.dir.display(),
        folders.len(),
        total - failed.len(),
        args.dir.display(),
        cfg.penalty,
        cfg.bandwidth_scale
    );
    let bytes = taught.model_bytes(&network.tensors, &trained_on)?;
    let out = from_root(&args.out);
    if let Some(d) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
    for label in store.labels() {
        eprintln!("  {label}: {} windows kept", store.windows(label));
    }
    eprintln!(
        "wrote {} (labels: {}); network outputs {:.1} s, fit {:.2} s ({} windows, kernel width {:.3})",
        args.out.display(),
        taught.labels.join(", "),
        features_s,
        fit_s,
        taught.config.examples,
        taught.config.bandwidth
    );
    Ok(ExitCode::SUCCESS)
}
