//! Profiling harness for EfficientAT on one thread (`perf record` this): the front end
//! and the network per 3-s window, as the minimum process CPU time over repetitions — a
//! figure that survives a busy machine better than wall time (the benchmarks of record
//! are `cargo bench -p model --bench efficientat` and `cargo xtask bench`).
//! `RAYON_NUM_THREADS=1 cargo run --release -p model --example efficientat_speed [REPS]`

use candle_core::{Device, Tensor};
use model::mel::{mel_spectrogram, MelConfig};
use model::nets::efficientat::Decision;
use model::weights::{efficientat_from_checkpoint, ModelCard};

fn cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn best(reps: usize, per: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = cpu_s();
            f();
            (cpu_s() - t) / per as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> anyhow::Result<()> {
    let reps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    let fx = candle_core::safetensors::load(
        format!("{dir}tests/fixtures/efficientat_vibe_ace.ref.safetensors"),
        &Device::Cpu,
    )?;
    let wave: Vec<f32> = fx["waveform_3s"].flatten_all()?.to_vec1()?;
    let cfg = MelConfig::efficientat();
    let fe = best(reps, 1, || {
        mel_spectrogram(&cfg, &wave).unwrap();
    });
    let checkpoint = std::fs::read(format!("{dir}weights/efficientat/mn04_as.safetensors"))?;
    let card = ModelCard::efficientat(Decision::zero_shot_gtzan());
    let (_v, net) = efficientat_from_checkpoint(&card, &checkpoint, "mn04_as", &Device::Cpu, 0)?;
    let mel = &fx["mel_3s"];
    let mut line = format!("front end {:.3} ms", fe * 1e3);
    for b in [1usize, 8] {
        let x = Tensor::cat(&vec![mel; b], 0)?;
        let t = best(reps, b, || {
            net.infer(&x).unwrap();
        });
        line += &format!(", network b{b} {:.3} ms", t * 1e3);
    }
    println!("{line} (per 3-s window, min process CPU time of {reps})");
    Ok(())
}
