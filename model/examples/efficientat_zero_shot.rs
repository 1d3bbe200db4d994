//! Writes a model file of EfficientAT's `mn04_as` (the committed published weights) with
//! the zero-shot genre decision: the ten AudioSet classes named like GTZAN's genres.
//! No training, so no data: `cargo run --release -p model --example efficientat_zero_shot
//! -- OUT.safetensors`, then `cargo xtask tag --model OUT.safetensors FILE…`.

use candle_core::Device;
use model::nets::efficientat::Decision;
use model::weights::{efficientat_from_checkpoint, save, ModelCard};

const CHECKPOINT: &[u8] = include_bytes!("../weights/efficientat/mn04_as.safetensors");

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: efficientat_zero_shot OUT.safetensors"))?;
    let mut card = ModelCard::efficientat(Decision::zero_shot_gtzan());
    card.trained_on = "nothing: EfficientAT mn04_as (AudioSet, published weights), zero-shot \
                       over its ten GTZAN-named classes; `cargo run --release -p model \
                       --example efficientat_zero_shot`"
        .into();
    let (varmap, _) =
        efficientat_from_checkpoint(&card, CHECKPOINT, "mn04_as.safetensors", &Device::Cpu, 0)?;
    save(std::path::Path::new(&out), &card, &varmap)?;
    eprintln!("wrote {out}");
    Ok(())
}
