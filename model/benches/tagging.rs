//! `cargo bench -p model`: the costs that decide whether tagging is real-time.
//! Figures go into docs/performance.md with this command.

use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use model::mel::{mel_spectrogram, Mel, MelConfig, MelStream};
use model::tagger::{tag_audio, TaggerOptions};
use model::weights::{load_default, load_file};
use std::hint::black_box;
use std::sync::Arc;

fn signal(rate: u32, secs: f32) -> Vec<f32> {
    (0..(rate as f32 * secs) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 3520.0 * t).sin() * (t * 5.0).sin()
        })
        .collect()
}

fn mel(c: &mut Criterion) {
    let cfg = MelConfig::seed_default();
    let x = signal(22_050, 3.0);
    let mut g = c.benchmark_group("mel");
    g.throughput(Throughput::Elements(1));
    // The stream is built once (FFT plan, filterbank), as the Tagger does; this is the
    // per-window cost: 130 frames of FFT + mel + dB.
    let mut stream = MelStream::new(cfg.clone()).unwrap();
    let mut out = Mel {
        n_mels: cfg.n_mels,
        ..Default::default()
    };
    g.bench_function("3s_window_22050Hz_128mels", |b| {
        b.iter(|| {
            out.data.clear();
            out.energy.clear();
            stream.push(black_box(&x), &mut out);
            stream.finish(&mut out);
        })
    });
    g.bench_function("setup_plus_3s_window", |b| {
        b.iter(|| mel_spectrogram(&cfg, black_box(&x)).unwrap())
    });
    g.finish();
}

fn cnn(c: &mut Criterion) {
    // The seed CNN (the first default, kept for comparison); the embedded default is
    // EfficientAT mn04 zero-shot, timed by `--bench efficientat` and below through the Tagger.
    let m = load_file(
        concat!(env!("CARGO_MANIFEST_DIR"), "/weights/seed_cnn.safetensors").as_ref(),
        &Device::Cpu,
    )
    .unwrap();
    let mut g = c.benchmark_group("cnn_forward");
    for batch in [1usize, 16] {
        let x = Tensor::randn(
            0f32,
            1.0,
            (batch, m.card.front_end.mel.n_mels, m.card.window_frames),
            &Device::Cpu,
        )
        .unwrap();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(BenchmarkId::new("windows", batch), &x, |b, x| {
            b.iter(|| m.net.forward_t(black_box(x), false).unwrap())
        });
    }
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    // A real 44.1 kHz file, so decoding and resampling are part of the figure.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/cc-music/brahms_hungarian_dance_5.ogg"
    );
    let bytes = std::fs::read(path).unwrap();
    let m = Arc::new(load_default(&Device::Cpu).unwrap());
    let full = model::audio::decode_bytes(bytes.clone(), path.as_ref()).unwrap();
    let secs = 30.0f32.min(full.duration_s());
    let mut g = c.benchmark_group("tag_end_to_end");
    g.sample_size(10);
    // With the embedded default, whatever network it is.
    g.bench_function(
        format!("decode_resample_mel_default_model_{secs:.0}s_44k1_ogg_hop1s"),
        |b| {
            b.iter(|| {
                let mut a = model::audio::decode_bytes(bytes.clone(), path.as_ref()).unwrap();
                a.samples.truncate((secs * a.sample_rate as f32) as usize);
                tag_audio(m.clone(), &a, TaggerOptions::default()).unwrap()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, mel, cnn, end_to_end);
criterion_main!(benches);
