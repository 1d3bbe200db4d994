use candle_core::{Device, Tensor, Var};
fn main() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let x = Var::randn(0f32, 1., (32, 32, 64, 65), &dev)?;
    let time = |name: &str, f: &dyn Fn() -> anyhow::Result<Tensor>| -> anyhow::Result<()> {
        let t = std::time::Instant::now();
        let y = f()?;
        let t1 = t.elapsed();
        let g = y.sum_all()?.backward()?;
        drop(g);
        println!("{name}: fwd {:?} fwd+bwd {:?}", t1, t.elapsed());
        Ok(())
    };
    time("maxpool", &|| Ok(x.max_pool2d(2)?))?;
    time("relu", &|| Ok(x.relu()?))?;
    time("mean", &|| Ok(x.flatten_from(2)?.mean(2)?))?;
    time("bn-like", &|| { let m = x.mean_keepdim(0)?; Ok(x.broadcast_sub(&m)?.sqr()?) })?;
    time("transpose-flatten-contig", &|| Ok(x.transpose(0,1)?.flatten_from(1)?.contiguous()?))?;
    let w = Var::randn(0f32, 1., (64, 32*9), &dev)?;
    let cols = Tensor::randn(0f32, 1., (32, 32*9, 64*65), &dev)?;
    time("matmul", &|| Ok(w.broadcast_left(32)?.matmul(&cols)?))?;
    let k = Var::randn(0f32, 1., (64, 32, 3, 3), &dev)?;
    time("candle conv2d", &|| Ok(x.conv2d(&k, 1, 1, 1, 1)?))?;
    time("pad+narrow+stack", &|| { let xp = x.pad_with_zeros(2,1,1)?.pad_with_zeros(3,1,1)?; let mut v=vec![]; for dy in 0..3 { for dx in 0..3 { v.push(xp.narrow(2,dy,64)?.narrow(3,dx,65)?);}} Ok(Tensor::stack(&v,2)?) })?;
    Ok(())
}
#[allow(dead_code)]
fn unused() {}
