//! The seed CNN rows of `cargo xtask bench`: its forward pass in candle against PyTorch, batch 1 and 32.

use super::session::{fill, Reference};
use super::table::{Goal, Row};
use super::{Bench, Inputs};
use anyhow::Result;
use candle_core::{Device, Tensor};
use serde_json::json;

pub fn cnn_rows(b: &mut Bench, inp: &Inputs) -> Result<Vec<Row>> {
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
