//! The plugin's audio-thread cost, measured by the plugin crate's own criterion bench
//! (`cargo bench -p genre-tagger --bench audio_thread`) run as a subprocess: that is the
//! real `Tap::process` with its real ring, and it keeps nice-plug, egui and the standalone
//! audio backends out of xtask's dependencies. Its medians are read back from criterion's
//! `estimates.json` files.

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// The layouts the bench measures: (channels, block frames).
pub const CASES: [(usize, usize); 5] = [(1, 64), (2, 64), (2, 512), (2, 4096), (8, 512)];

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
    CASES
        .iter()
        .map(|&(channels, block)| {
            let path = target_dir.join(format!(
                "criterion/tap_process/{channels}ch/{block}/new/estimates.json"
            ));
            let fresh = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map(|t| t >= started)
                .unwrap_or(false);
            if !fresh {
                bail!("{} was not written by this run", path.display());
            }
            let text = std::fs::read_to_string(&path)?;
            Ok(TapFigure {
                channels,
                block,
                median_block_s: median_ns(&text)? * 1e-9,
            })
        })
        .collect()
}

/// criterion's median estimate (ns per iteration) from an `estimates.json`.
pub fn median_ns(estimates_json: &str) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(estimates_json)?;
    v["median"]["point_estimate"]
        .as_f64()
        .context("no median.point_estimate in criterion's estimates")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterions_median() {
        let json = r#"{"mean":{"point_estimate":879.9,"standard_error":27.8},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":894.2,"upper_bound":1031.8},"point_estimate":978.0875,"standard_error":41.3}}"#;
        assert_eq!(median_ns(json).unwrap(), 978.0875);
        assert!(median_ns("{}").is_err());
        let f = TapFigure {
            channels: 2,
            block: 512,
            median_block_s: 978e-9,
        };
        assert!((f.per_frame_s() - 978e-9 / 512.0).abs() < 1e-18);
    }
}
