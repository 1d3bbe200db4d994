//! The musicnn rows of `cargo xtask bench`: candle's forward pass against PyTorch's, batch 1 and 8.

use super::session::{fill, Reference};
use super::table::{Goal, Row};
use super::{Bench, Inputs};
use anyhow::Result;
use candle_core::{Device, Tensor};
use model::mel::MelConfig;
use model::nets::musicnn::{N_MELS as MUSICNN_MELS, PATCH_FRAMES as MUSICNN_FRAMES};
use serde_json::json;

/// musicnn: candle (model::nets::musicnn) against the same weights in PyTorch.
pub fn musicnn_rows(b: &mut Bench, inp: &Inputs) -> Result<Vec<Row>> {
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
