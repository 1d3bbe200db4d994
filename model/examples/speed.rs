//! Quick profiling harness for the CNN forward pass (`perf record` this).
use candle_core::{Device, Tensor};
use model::weights::load_file;
fn main() -> anyhow::Result<()> {
    let m = load_file(
        concat!(env!("CARGO_MANIFEST_DIR"), "/weights/seed_cnn.safetensors").as_ref(),
        &Device::Cpu,
    )?;
    let x = Tensor::randn(0f32, 1., (8, 128, 130), &Device::Cpu)?;
    let t = std::time::Instant::now();
    for _ in 0..10 {
        let y = m.net.forward_t(&x, false)?;
        let _ = y.sum_all()?.to_scalar::<f32>()?;
    }
    println!("forward: {:?} per window", t.elapsed() / 80);
    Ok(())
}
