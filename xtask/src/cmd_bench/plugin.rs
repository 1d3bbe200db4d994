//! The plugin's costs, measured by the plugin crate's own bench and example run as
//! subprocesses: the real `Tap::process` with its real ring (`cargo bench -p genre-tagger
//! --bench audio_thread`) and the real `Engine`'s worker (`--example worker_cost`). That
//! keeps nice-plug, egui and the standalone audio backends out of xtask's dependencies.
//! The bench's medians are read back from criterion's `estimates.json` files, for whichever
//! layouts the bench measures (its `CASES`).

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

#[derive(Debug, Clone, Serialize)]
pub struct TapFigure {
    pub channels: usize,
    pub block: usize,
    /// criterion's median time per `process` call of one block.
    pub median_block_s: f64,
}

impl TapFigure {
    pub fn per_frame_s(&self) -> f64 {
        self.median_block_s / self.block as f64
    }
}

/// Runs the bench (building it if needed: the first time takes minutes) and returns the
/// medians. `log` receives cargo's and criterion's output.
pub fn run(root: &Path, target_dir: &Path, log: &Path) -> Result<Vec<TapFigure>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = SystemTime::now();
    let out = std::fs::File::create(log)?;
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "bench",
            "-p",
            "genre-tagger",
            "--bench",
            "audio_thread",
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
            "--noplot",
        ])
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .status()
        .context("running cargo bench")?;
    if !status.success() {
        bail!(
            "`cargo bench -p genre-tagger --bench audio_thread` failed ({status}); see {}",
            log.display()
        );
    }
    let figures = fresh_estimates(&target_dir.join("criterion/tap_process"), started)?
        .into_iter()
        .map(|(channels, block, path)| {
            let text = std::fs::read_to_string(&path)?;
            Ok(TapFigure {
                channels,
                block,
                median_block_s: median_ns(&text)? * 1e-9,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if figures.is_empty() {
        bail!(
            "the bench wrote no estimates under {}",
            target_dir.join("criterion/tap_process").display()
        );
    }
    Ok(figures)
}

/// `(channels, block, estimates.json)` for every `{channels}ch/{block}/new/estimates.json`
/// under `group` written since `since`, ordered by channels then block.
fn fresh_estimates(group: &Path, since: SystemTime) -> Result<Vec<(usize, usize, PathBuf)>> {
    let mut found = Vec::new();
    let dirs = |p: &Path| -> Result<Vec<(String, PathBuf)>> {
        Ok(std::fs::read_dir(p)
            .with_context(|| format!("reading {}", p.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect())
    };
    for (name, dir) in dirs(group)? {
        let Some(channels) = name.strip_suffix("ch").and_then(|c| c.parse().ok()) else {
            continue;
        };
        for (block, dir) in dirs(&dir)? {
            let Ok(block) = block.parse() else { continue };
            let path = dir.join("new/estimates.json");
            let fresh = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if fresh {
                found.push((channels, block, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// criterion's median estimate (ns per iteration) from an `estimates.json`.
pub fn median_ns(estimates_json: &str) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(estimates_json)?;
    v["median"]["point_estimate"]
        .as_f64()
        .context("no median.point_estimate in criterion's estimates")
}

/// Runs the plugin crate's `worker_cost` example (built on first use) on `clip`: CPU
/// seconds per second of audio, one value per sample. `model`: a model file instead of the
/// embedded default.
pub fn worker_cost(
    root: &Path,
    clip: &Path,
    samples: usize,
    model: Option<&Path>,
) -> Result<Vec<f64>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let what = "cargo run --release -p genre-tagger --example worker_cost";
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["run", "--quiet", "--release", "-p", "genre-tagger"])
        .args(["--example", "worker_cost", "--"])
        .arg(clip)
        .arg(samples.to_string())
        .args(model)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!("`{what}` failed ({})", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.lines().last().unwrap_or(""))
        .with_context(|| format!("worker_cost printed {text}"))?;
    v["cpu_s_per_audio_s"]
        .as_array()
        .context("no cpu_s_per_audio_s")?
        .iter()
        .map(|x| x.as_f64().context("not a number"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterions_median() {
        let json = r#"{
            "mean": {"point_estimate": 879.9, "standard_error": 27.8},
            "median": {
                "confidence_interval": {
                    "confidence_level": 0.95, "lower_bound": 894.2, "upper_bound": 1031.8
                },
                "point_estimate": 978.0875, "standard_error": 41.3
            }
        }"#;
        assert_eq!(median_ns(json).unwrap(), 978.0875);
        assert!(median_ns("{}").is_err());
        let f = TapFigure {
            channels: 2,
            block: 512,
            median_block_s: 978e-9,
        };
        assert!((f.per_frame_s() - 978e-9 / 512.0).abs() < 1e-18);
    }

    #[test]
    fn finds_the_layouts_this_run_wrote() {
        let group = std::env::temp_dir().join(format!("xtask-tap-{}", std::process::id()));
        let write = |rel: &str| {
            let p = group.join(rel).join("new/estimates.json");
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "{}").unwrap();
        };
        write("8ch/512");
        write("2ch/4096");
        write("2ch/64");
        write("report"); // criterion's own folder, not a layout
        let found = fresh_estimates(&group, SystemTime::UNIX_EPOCH).unwrap();
        let layouts: Vec<_> = found.iter().map(|&(c, b, _)| (c, b)).collect();
        assert_eq!(layouts, [(2, 64), (2, 4096), (8, 512)]);
        let later = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(fresh_estimates(&group, later).unwrap().is_empty());
        std::fs::remove_dir_all(&group).unwrap();
    }
}
