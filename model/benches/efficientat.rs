//! `cargo bench -p model --bench efficientat`: EfficientAT's cost per 3-s window — the
//! front end (300 frames of 32-kHz log-mel) and the network (batch 1 and 8), separately.
//! The goals are about one core: run it as `RAYON_NUM_THREADS=1 cargo bench -p model
//! --bench efficientat` for the figures the README quotes.

use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use model::mel::{Mel, MelConfig, MelStream};
use model::nets::efficientat::Decision;
use model::weights::{efficientat_from_checkpoint, ModelCard};
use std::hint::black_box;
use std::path::Path;

fn fixture() -> std::collections::HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/efficientat_vibe_ace.ref.safetensors");
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

fn front_end(c: &mut Criterion) {
    let cfg = MelConfig::efficientat();
    let x: Vec<f32> = fixture()["waveform_3s"]
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let mut g = c.benchmark_group("efficientat");
    g.throughput(Throughput::Elements(1));
    // The stream is built once (FFT plan, banks), as the Tagger does: per-window cost.
    let mut stream = MelStream::new(cfg.clone()).unwrap();
    let mut out = Mel {
        n_mels: cfg.n_mels,
        ..Default::default()
    };
    g.bench_function("front_end_3s_window", |b| {
        b.iter(|| {
            out.data.clear();
            out.energy.clear();
            stream.push(black_box(&x), &mut out);
            stream.finish(&mut out);
        })
    });
    g.finish();
}

fn network(c: &mut Criterion) {
    let checkpoint = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientat/mn04_as.safetensors"),
    )
    .unwrap();
    let card = ModelCard::efficientat(Decision::zero_shot_gtzan());
    let (_vars, net) =
        efficientat_from_checkpoint(&card, &checkpoint, "mn04_as", &Device::Cpu, 0).unwrap();
    let mel = fixture()["mel_3s"].clone(); // [1, 128, 300], real music
    let mut g = c.benchmark_group("efficientat");
    g.sample_size(20);
    for batch in [1usize, 8] {
        let x = Tensor::cat(&vec![&mel; batch], 0).unwrap();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("network_3s_windows", batch), &x, |b, x| {
            b.iter(|| net.infer(black_box(x)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, front_end, network);
criterion_main!(benches);
