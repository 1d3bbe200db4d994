//! How long after a genre change the smoothed top genre follows, as the plugin shows it.
//!
//! `cargo run --release -p model --example genre_switch -- A.ogg B.ogg [hop_s] [smoothing_s]`
//! plays `A` for 20 s then `B`, through the Tagger in 10 ms blocks (a host's rhythm), and
//! prints when the smoothed top genre first equals B's own steady top genre after the cut.
use model::tagger::{Tagger, TaggerOptions};
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 2,
        "usage: genre_switch A B [hop_s] [smoothing_s]"
    );
    let hop_s: f32 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1.0);
    let smoothing_s: f32 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(4.0);
    let m = Arc::new(model::weights::load_default(&candle_core::Device::Cpu)?);
    let a = model::audio::decode_file(&args[0])?;
    let b = model::audio::decode_file(&args[1])?;
    anyhow::ensure!(
        a.sample_rate == b.sample_rate,
        "both files need the same rate"
    );
    let rate = a.sample_rate as usize;
    let cut = 20 * rate;
    let b_part = &b.samples[..(20 * rate).min(b.samples.len())];
    // B's steady genre: the smoothed top after 20 s of B alone.
    let opts = TaggerOptions {
        hop_s,
        smoothing_s,
        ..Default::default()
    };
    let target = {
        let mut t = Tagger::new(m.clone(), a.sample_rate, opts)?;
        t.push(b_part)?;
        model::distribution::argmax(t.smoothed().unwrap())
    };
    let mut x = a.samples[..cut.min(a.samples.len())].to_vec();
    let cut = x.len();
    x.extend_from_slice(b_part);
    let mut t = Tagger::new(m.clone(), a.sample_rate, opts)?;
    let block = rate / 100;
    let labels = &m.card.labels;
    for (i, chunk) in x.chunks(block).enumerate() {
        let before = t.smoothed().map(model::distribution::argmax);
        if t.push(chunk)?.is_empty() {
            continue;
        }
        let now = model::distribution::argmax(t.smoothed().unwrap());
        let pos = (i + 1) * block;
        if pos > cut && now == target && before != Some(target) {
            println!(
                "hop {hop_s} s, smoothing {smoothing_s} s: top genre {} -> {} {:.1} s after the \
                 cut",
                before.map_or("-", |g| labels[g].as_str()),
                labels[now],
                (pos - cut) as f32 / rate as f32
            );
            return Ok(());
        }
    }
    println!(
        "top genre never reached {} within 20 s of the cut",
        labels[target]
    );
    Ok(())
}
