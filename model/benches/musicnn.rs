//! `cargo bench -p model --bench musicnn`: one 3-s patch through the musicnn backbone.
//! The goal (issue: ≤ 50 ms per patch on one core) is about one core, so run it as
//! `RAYON_NUM_THREADS=1 cargo bench -p model --bench musicnn` for the figure the README
//! quotes; without it, candle's GEMM uses every core.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use model::nets::musicnn::{read_tf_file, Backbone, N_MELS, PATCH_FRAMES};
use std::hint::black_box;
use std::path::Path;

fn backbone(c: &mut Criterion) {
    let mut g = c.benchmark_group("musicnn");
    g.sample_size(20);
    for name in ["MSD_musicnn", "MTT_musicnn"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("weights/musicnn/{name}.safetensors"));
        let (_, tensors) = read_tf_file(&path, "", &Device::Cpu).unwrap();
        let net =
            Backbone::new(VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu)).unwrap();
        for batch in [1usize, 8] {
            // Log-mel values in musicnn's range (log10(10000·S + 1) ∈ [0, ~5]).
            let x = Tensor::rand(0f32, 4.0, (batch, N_MELS, PATCH_FRAMES), &Device::Cpu).unwrap();
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("{name}_patches"), batch),
                &x,
                |b, x| b.iter(|| net.forward(black_box(x)).unwrap()),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, backbone);
criterion_main!(benches);
