//! Model files: safetensors weights plus a JSON "card" in the safetensors metadata that
//! says everything needed to use them correctly — architecture, labels, front end, what
//! they were trained on and how they scored. Loading checks all of it, so a file made for
//! another front end or label set is refused with a message, never silently misused.

use crate::arch::Arch;
use crate::front_end::FrontEndConfig;
use crate::mel::MelConfig;
use crate::net::GenreNet;
use crate::window::WindowNorm;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Metadata key that holds the card; its presence marks a genre-tagger model file.
pub const CARD_KEY: &str = "genre_tagger.card";
/// Bumped when the card's meaning changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format_version: u32,
    pub arch: Arch,
    pub labels: Vec<String>,
    /// Names of the network's style outputs (multi-label, e.g. AudioSet's music-genre
    /// classes in ontology spelling), in the order of `NetOutput::style_logits`; empty for
    /// a model without styles.
    #[serde(default)]
    pub styles: Vec<String>,
    /// The front end: mel settings and what each frame holds. Stored as `mel`, the name
    /// every model file already uses.
    #[serde(rename = "mel")]
    pub front_end: FrontEndConfig,
    /// Frames per analysis window (3 s).
    pub window_frames: usize,
    pub norm: WindowNorm,
    /// Free text: the data and command that produced the weights.
    pub trained_on: String,
    /// Validation figures (whatever the trainer measured), kept with the weights.
    #[serde(default)]
    pub validation: serde_json::Value,
    /// What the genre logits are divided by before the softmax: a temperature fitted on
    /// held-out music (`cargo xtask calibrate`) so that the confidence shown is about how
    /// often the top genre is right. It never changes which genre is on top. 1 (not
    /// written) for a model as its network gives it.
    #[serde(
        default = "unit_temperature",
        skip_serializing_if = "is_unit_temperature"
    )]
    pub temperature: f32,
}

fn unit_temperature() -> f32 {
    1.0
}

fn is_unit_temperature(t: &f32) -> bool {
    *t == 1.0
}

impl ModelCard {
    /// A card for the seed CNN on the librosa-default front end, 10 GTZAN genres.
    pub fn seed_cnn_default() -> Self {
        Self::from_scratch(Arch::SeedCnn(Default::default())).expect("the seed CNN has a front end")
    }

    /// A card for a network trained from scratch (`arch` must have a front end): its own
    /// front end, a window of the size it was built for (3 s for the seed CNN), 10 GTZAN
    /// genres, per-window standardisation.
    pub fn from_scratch(arch: Arch) -> Result<Self> {
        let front_end = arch.front_end().ok_or_else(|| {
            Error::Config(format!(
                "{arch:?} is a pretrained backbone, not a network trained from scratch"
            ))
        })?;
        let window_frames = arch
            .input()
            .map_or(front_end.mel.frames_for(3.0), |(_, f)| f);
        Ok(Self {
            format_version: FORMAT_VERSION,
            labels: crate::GENRES.iter().map(|s| s.to_string()).collect(),
            styles: Vec::new(),
            window_frames,
            front_end,
            norm: arch.window_norm(),
            arch,
            trained_on: "untrained".into(),
            validation: serde_json::Value::Null,
            temperature: 1.0,
        })
    }

    /// A card for musicnn (`variant`'s published weights) with a genre head, on musicnn's
    /// own front end: 16 kHz, 96 mels, `log10(10000·S + 1)`, 187-frame patches, no
    /// per-window normalisation (the network's first layer is a batch norm).
    pub fn musicnn(
        variant: crate::nets::musicnn::Variant,
        head: crate::nets::musicnn::HeadConfig,
    ) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            arch: Arch::Musicnn(crate::nets::musicnn::MusicnnConfig { variant, head }),
            labels: crate::GENRES.iter().map(|s| s.to_string()).collect(),
            styles: Vec::new(),
            front_end: MelConfig::musicnn().into(),
            window_frames: crate::nets::musicnn::PATCH_FRAMES,
            norm: WindowNorm::None,
            trained_on: "untrained".into(),
            validation: serde_json::Value::Null,
            temperature: 1.0,
        }
    }

    /// A card for EfficientAT's `mn04_as` with `decision`, on its own front end: 32 kHz,
    /// 128 Kaldi mels, `(ln(S + 1e-5) + 4.5) / 5`, 3-s windows of 300 frames, no
    /// per-window normalisation (the network was trained on these values as they are).
    /// Its styles are AudioSet's music-genre classes, under their ontology names.
    pub fn efficientat(decision: crate::nets::efficientat::Decision) -> Self {
        use crate::nets::efficientat::{audioset_labels, STYLE_CLASSES};
        let mel = MelConfig::efficientat();
        Self {
            format_version: FORMAT_VERSION,
            arch: Arch::EfficientAt(crate::nets::efficientat::EfficientAtConfig {
                net: crate::nets::efficientat::MnConfig::mn04_as(),
                decision,
            }),
            labels: crate::GENRES.iter().map(|s| s.to_string()).collect(),
            styles: audioset_labels()[STYLE_CLASSES].to_vec(),
            window_frames: mel.frames_for(3.0),
            front_end: mel.into(),
            norm: WindowNorm::None,
            trained_on: "untrained".into(),
            validation: serde_json::Value::Null,
            temperature: 1.0,
        }
    }

    /// The genre distribution from genre logits `[batch, labels]`: the softmax of the logits
    /// over the card's [`temperature`](Self::temperature). The one rule the Tagger and the
    /// evaluation of cached outputs share.
    pub fn genre_probs(&self, logits: &Tensor) -> candle_core::Result<Tensor> {
        if self.temperature == 1.0 {
            candle_nn::ops::softmax_last_dim(logits)
        } else {
            candle_nn::ops::softmax_last_dim(&(logits / self.temperature as f64)?)
        }
    }

    pub fn window_seconds(&self) -> f32 {
        (self.window_frames - 1) as f32 * self.front_end.mel.hop as f32
            / self.front_end.mel.sample_rate as f32
    }

    fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::Config(format!(
                "temperature {} is not a positive number",
                self.temperature
            )));
        }
        if self.format_version != FORMAT_VERSION {
            return Err(Error::Config(format!(
                "model format version {} is not supported (this build reads version \
                 {FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.labels.len() < 2 {
            return Err(Error::Config(format!(
                "a model needs at least 2 labels, card has {}",
                self.labels.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(bad) = self
            .styles
            .iter()
            .find(|s| s.trim().is_empty() || !seen.insert(s.as_str()))
        {
            return Err(Error::Config(format!(
                "style name '{bad}' is empty or listed twice"
            )));
        }
        if self.window_frames < 8 {
            return Err(Error::Config(format!(
                "window of {} frames is too short",
                self.window_frames
            )));
        }
        if let Some((mels, frames)) = self.arch.input() {
            if (mels, frames) != (self.front_end.mel.n_mels, self.window_frames) {
                return Err(Error::Config(format!(
                    "the network takes {mels} × {frames} windows, but the card's front end makes {} × {}",
                    self.front_end.mel.n_mels, self.window_frames
                )));
            }
        }
        self.front_end.validate()
    }
}

/// A network ready for inference, with the card that says how to feed it.
pub struct LoadedModel {
    pub card: ModelCard,
    pub net: Box<dyn GenreNet>,
    pub device: Device,
    /// Where it came from ("embedded default" or a path), for status lines.
    pub source: String,
}

/// A fresh, seeded, trainable network for `card`.
pub fn build_trainable(
    card: &ModelCard,
    device: &Device,
    seed: u64,
) -> Result<(VarMap, Box<dyn GenreNet>)> {
    card.validate()?;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let net = card.arch.build(vb, card.labels.len(), seed)?;
    reinit_seeded(&varmap, seed)?;
    Ok((varmap, net))
}

/// Replaces candle's (unseedable) initial values: Kaiming-normal for conv/linear weights,
/// zeros for their biases, identity for batch norms.
fn reinit_seeded(varmap: &VarMap, seed: u64) -> Result<()> {
    let data = varmap.data().lock().expect("varmap poisoned");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = crate::rng::seeded(seed, 0x1417);
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let values: Vec<f32> = if dims.len() >= 2 {
            let fan_in: usize = dims[1..].iter().product();
            let std = (2.0 / fan_in as f32).sqrt();
            (0..n).map(|_| crate::rng::normal(&mut rng) * std).collect()
        } else if name.ends_with("running_var")
            || name.ends_with("moving_variance")
            || name.ends_with("gamma")
            || name.ends_with("feature_std")
            // A one-dimensional weight is a norm's scale (PyTorch names).
            || name.ends_with("weight")
        {
            vec![1.0; n]
        } else {
            vec![0.0; n]
        };
        var.set(&Tensor::from_vec(values, dims.as_slice(), var.device())?)?;
    }
    Ok(())
}

/// Writes the network's variables and its card to a safetensors file.
pub fn save(path: &Path, card: &ModelCard, varmap: &VarMap) -> Result<()> {
    let bytes = to_bytes(card, varmap).map_err(|reason| Error::ModelFile {
        path: path.display().to_string(),
        reason,
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

/// The bytes [`save`] writes: for a model made in memory (a taught one) that is loaded
/// with [`load_bytes`] or kept elsewhere than a file.
pub fn to_bytes(card: &ModelCard, varmap: &VarMap) -> std::result::Result<Vec<u8>, String> {
    let data = varmap.data().lock().expect("varmap poisoned");
    let tensors: BTreeMap<String, Tensor> = data
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_tensor()
                    .to_device(&Device::Cpu)
                    .unwrap_or_else(|_| v.as_tensor().clone()),
            )
        })
        .collect();
    let mut meta = HashMap::new();
    meta.insert(
        CARD_KEY.to_string(),
        serde_json::to_string(card).expect("card serialises"),
    );
    safetensors::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), Some(meta))
        .map_err(|e| e.to_string())
}

/// Reads only the card (cheap: no tensors are built).
pub fn read_card(bytes: &[u8], source: &str) -> Result<ModelCard> {
    let bad = |reason: String| Error::ModelFile {
        path: source.to_string(),
        reason,
    };
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(CARD_KEY))
        .ok_or_else(|| {
            bad(format!(
                "no '{CARD_KEY}' metadata: not a genre-tagger model"
            ))
        })?;
    let card: ModelCard =
        serde_json::from_str(json).map_err(|e| bad(format!("unreadable model card ({e})")))?;
    card.validate().map_err(|e| bad(e.to_string()))?;
    Ok(card)
}

/// Loads a model file's bytes, checking that its tensors are exactly those its card's
/// architecture needs (names and shapes): every mismatch is listed in the error.
pub fn load_bytes(bytes: &[u8], source: &str, device: &Device) -> Result<LoadedModel> {
    let (card, _, net, device) = load_parts(bytes, source, device)?;
    Ok(LoadedModel {
        card,
        net,
        device,
        source: source.to_string(),
    })
}

/// A model file's card and variables, checked as [`load_bytes`] checks them: for code
/// that works on the parameters themselves (e.g. scoring a decision on cached features).
pub fn load_varmap(bytes: &[u8], source: &str, device: &Device) -> Result<(ModelCard, VarMap)> {
    let (card, varmap, _, _) = load_parts(bytes, source, device)?;
    Ok((card, varmap))
}

fn load_parts(
    bytes: &[u8],
    source: &str,
    device: &Device,
) -> Result<(ModelCard, VarMap, Box<dyn GenreNet>, Device)> {
    let card = read_card(bytes, source)?;
    let file =
        candle_core::safetensors::load_buffer(bytes, device).map_err(|e| Error::ModelFile {
            path: source.to_string(),
            reason: e.to_string(),
        })?;
    let (varmap, net) = build_trainable(&card, device, 0)?;
    fill(&varmap, &file, source, |_| true)?;
    Ok((card, varmap, net, device.clone()))
}

/// Sets `varmap`'s variables from `file`, after checking names, shapes and dtypes: every
/// variable `required` names must be in the file, and every tensor in the file must be a
/// variable. All mismatches are listed in the one error.
fn fill(
    varmap: &VarMap,
    file: &HashMap<String, Tensor>,
    source: &str,
    required: impl Fn(&str) -> bool,
) -> Result<()> {
    let vars = varmap.data().lock().expect("varmap poisoned");
    let mut problems = Vec::new();
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in &names {
        let want = vars[*name].dims();
        match file.get(*name) {
            None if required(name) => problems.push(format!("missing tensor '{name}' {want:?}")),
            None => {}
            Some(t) if t.dims() != want => problems.push(format!(
                "tensor '{name}' has shape {:?}, expected {want:?}",
                t.dims()
            )),
            Some(t) if t.dtype() != DType::F32 => {
                problems.push(format!("tensor '{name}' is {:?}, expected F32", t.dtype()))
            }
            Some(_) => {}
        }
    }
    let mut extra: Vec<&String> = file.keys().filter(|k| !vars.contains_key(*k)).collect();
    extra.sort();
    problems.extend(extra.iter().map(|k| format!("unexpected tensor '{k}'")));
    if !problems.is_empty() {
        return Err(Error::WeightsMismatch(format!(
            "{source}: {}",
            problems.join("; ")
        )));
    }
    for name in names {
        if let Some(t) = file.get(name) {
            vars[name].set(t)?;
        }
    }
    Ok(())
}

/// A new EfficientAT model for `card` (whose arch must be EfficientAT): the published
/// network from `checkpoint` (EfficientAT's safetensors, PyTorch names, as
/// `model/weights/efficientat/mn04_as.safetensors`) and the decision's parameters
/// initialised from `seed`. Save it with [`save`], or train the decision first.
pub fn efficientat_from_checkpoint(
    card: &ModelCard,
    checkpoint: &[u8],
    source: &str,
    device: &Device,
    seed: u64,
) -> Result<(VarMap, Box<dyn GenreNet>)> {
    if !matches!(card.arch, Arch::EfficientAt(_)) {
        return Err(Error::Config(format!(
            "an EfficientAT checkpoint needs an EfficientAT card, not {:?}",
            card.arch
        )));
    }
    let file = candle_core::safetensors::load_buffer(checkpoint, device).map_err(|e| {
        Error::ModelFile {
            path: source.to_string(),
            reason: e.to_string(),
        }
    })?;
    let (varmap, net) = build_trainable(card, device, seed)?;
    fill(&varmap, &file, source, |name| {
        !name.starts_with("decision.")
    })?;
    Ok((varmap, net))
}

pub fn load_file(path: &Path, device: &Device) -> Result<LoadedModel> {
    let bytes = std::fs::read(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    load_bytes(&bytes, &path.display().to_string(), device)
}

/// The model embedded in the binary.
pub fn load_default(device: &Device) -> Result<LoadedModel> {
    load_bytes(crate::DEFAULT_MODEL, "embedded default model", device)
}

/// Loads `path` if given, else the embedded default.
pub fn load_or_default(path: Option<&Path>, device: &Device) -> Result<LoadedModel> {
    match path {
        Some(p) => load_file(p, device),
        None => load_default(device),
    }
}
