//! The plugin's audio-thread rows of `cargo xtask bench`, from its own criterion bench.

use super::plugin;
use super::table::{Row, Stat};
use super::Bench;
use model::train::Observer;

/// Host rate the audio-thread figures assume (the worker example uses the same).
const HOST_RATE: u32 = 48_000;

/// The plugin's audio thread: its own criterion bench, one row per layout it measured.
pub fn tap_rows(b: &mut Bench) -> (Vec<Row>, Vec<plugin::TapFigure>) {
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
