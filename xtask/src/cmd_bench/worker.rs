//! The plugin worker's rows of `cargo xtask bench`: CPU time per second of host audio.

use super::plugin;
use super::table::{Row, Stat};
use super::{Bench, Inputs};
use model::train::Observer;
use std::path::Path;

/// The plugin's worker: what one second of 48 kHz host audio costs at the default hop,
/// with `model` (the embedded default when `None`). Measured in a process of its own (the
/// plugin crate's `worker_cost` example) because this one has its allocator tuned for
/// training (xtask's main), which a plugin host does not.
pub fn worker_row(
    b: &mut Bench,
    inp: &Inputs,
    id: &str,
    what: &str,
    model: Option<&Path>,
    label: &str,
) -> Row {
    let mut row = Row::new(id, what.to_string(), "s of audio");
    row.audio_s = Some(1.0);
    match plugin::worker_cost(&b.root, &inp.clip_path, b.args.samples, model) {
        Ok(v) => {
            row.ours = Stat::from_samples(v);
            if let Some(o) = &row.ours {
                row.note = Some(format!("{:.2} % of one core", o.median_s * 100.0));
            }
        }
        Err(e) => row.note = Some(format!("not measured: {e:#}")),
    }
    for _ in 0..b.args.samples {
        b.s.bars.tick(label);
    }
    row
}
