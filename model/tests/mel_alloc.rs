//! `MelStream::push` allocates nothing per frame: the FFT's plan, input, output and scratch
//! are made in `MelStream::new`, so once its sample buffer and the output have room, a
//! stream of chunks costs no allocation (the Tagger calls it for every block the worker
//! takes from the ring).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;
use model::mel::{Mel, MelConfig, MelStream};

/// Pushes four seconds of a tone in chunks through `push` (after one warm second, into an
/// output with room for every frame) and asserts that no chunk allocated.
fn assert_warm_pushes_allocate_nothing(
    cfg: &MelConfig,
    what: &str,
    mut push: impl FnMut(&[f32], &mut Mel),
) {
    let x: Vec<f32> = (0..cfg.sample_rate as usize * 4)
        .map(|i| (i as f32 * 0.013).sin() * 0.3 + (i as f32 * 0.4).cos() * 0.01)
        .collect();
    let mut out = Mel {
        n_mels: cfg.n_mels,
        ..Default::default()
    };
    // Room for every frame of the four seconds, as a caller that reuses its output has.
    out.data.reserve(cfg.frames_for(4.0) * cfg.n_mels);
    out.energy.reserve(cfg.frames_for(4.0));
    let (warm, rest) = x.split_at(cfg.sample_rate as usize);
    push(warm, &mut out);
    let frames_before = out.frames();
    let before = allocations();
    for chunk in rest.chunks(cfg.hop * 3 + 17) {
        push(chunk, &mut out);
    }
    let during = allocations() - before;
    assert!(out.frames() > frames_before + 100, "{what}: no frames");
    assert_eq!(during, 0, "{what}: {during} allocations while pushing");
}

#[test]
fn pushing_chunks_allocates_nothing_once_warm() {
    for cfg in [MelConfig::seed_default(), MelConfig::musicnn()] {
        let mut stream = MelStream::new(cfg.clone()).unwrap();
        assert_warm_pushes_allocate_nothing(&cfg, &format!("{:?}", cfg.scale), |x, out| {
            stream.push(x, out)
        });
    }
}

/// The hand-made features ride on the same stream: their rows (chroma, contrast's sorting,
/// ZCR) use only what `FeatureStream::new` allocated.
#[test]
fn pushing_chunks_of_hand_made_features_allocates_nothing_once_warm() {
    let cfg = model::features::stft();
    let mut stream = model::features::FeatureStream::new(cfg.clone()).unwrap();
    assert_warm_pushes_allocate_nothing(&cfg, "features", |x, out| stream.push(x, out));
}
