use candle_core::{Device, Tensor};
use model::weights::{build_trainable, ModelCard};
fn main() -> anyhow::Result<()> {
    let card = ModelCard::seed_cnn_default();
    let dev = Device::Cpu;
    let (vm, net) = build_trainable(&card, &dev, 1)?;
    let x = Tensor::randn(0f32, 1., (32, 128, 130), &dev)?;
    for train in [false, true] {
        let t = std::time::Instant::now();
        for _ in 0..3 { let y = net.forward_t(&x, train)?; let _ = y.sum_all()?.to_scalar::<f32>()?; }
        println!("fwd train={train}: {:?}/batch32", t.elapsed() / 3);
    }
    let t = std::time::Instant::now();
    for _ in 0..3 { let y = net.forward_t(&x, true)?; let g = y.sum_all()?.backward()?; drop(g); }
    println!("fwd+bwd: {:?}/batch32", t.elapsed() / 3);
    drop(vm);
    Ok(())
}
