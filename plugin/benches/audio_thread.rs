//! `cargo bench -p genre-tagger --bench audio_thread`: what the plugin costs the audio
//! thread — the downmix-and-queue `Tap::process` — per sample, for the usual layouts.
//! (The worker's cost is `examples/worker_cost.rs`, run by `cargo xtask bench`.)

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use genre_tagger::meters::Meters;
use genre_tagger::tap::Tap;
use ringbuf::traits::{Consumer, Split};
use ringbuf::HeapRb;
use std::hint::black_box;
use std::sync::Arc;

/// The layouts measured: (channels, block frames). `cargo xtask bench` reports whichever
/// this bench wrote (criterion's `tap_process/{channels}ch/{block}`).
const CASES: [(usize, usize); 5] = [(1, 64), (2, 64), (2, 512), (2, 4096), (8, 512)];

fn tap(c: &mut Criterion) {
    let mut g = c.benchmark_group("tap_process");
    for (channels, block) in CASES {
        let (prod, mut cons) = HeapRb::<f32>::new(1 << 20).split();
        let mut t = Tap::new(prod, Arc::new(Meters::default()));
        let buffers: Vec<Vec<f32>> = (0..channels)
            .map(|c| (0..block).map(|i| ((i + c) as f32 * 0.01).sin()).collect())
            .collect();
        let mut sink = vec![0.0f32; block];
        // Throughput in frames: the figure is time per frame (all channels) of audio.
        g.throughput(Throughput::Elements(block as u64));
        g.bench_with_input(
            BenchmarkId::new(format!("{channels}ch"), block),
            &buffers,
            |b, bufs| {
                b.iter(|| {
                    t.process(black_box(bufs));
                    // The worker's side, so the ring never fills (a full ring is cheaper).
                    cons.pop_slice(&mut sink);
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, tap);
criterion_main!(benches);
