//! musicnn (Pons & Serra, "musicnn: pre-trained convolutional neural networks for music
//! audio tagging", 2019), layer for layer as `upstream/models.py` builds it, so that the
//! published MSD and MTT weights reproduce TensorFlow's outputs.
//!
//! Input: musicnn log-mel patches `[batch, 96 mels, 187 frames]` (this project's
//! mel-major window layout); inside, everything is channel-last `[batch, time, …]` like
//! TF. Every batch norm follows its ReLU (conv → ReLU → BN), TF1 style, epsilon 0.001.
//!
//! - Front end, timbral: time padded by 3 each side, valid convs of 204 filters
//!   `[7 frames × 38 mels]` and `[7 × 67]`, each max-pooled over the whole frequency axis.
//! - Front end, temporal: "same" convs of 51 filters `[128 × 1]`, `[64 × 1]`, `[32 × 1]`
//!   (TF pads an even kernel `k` as `k/2 − 1` before and `k/2` after), max over frequency.
//! - Mid end: the 561 front-end channels per frame through three `[7 × C] × 64` convs,
//!   the 2nd and 3rd residual; dense concatenation → 753 channels per frame.
//! - Back end: max and mean over time (1 506) → BN → dense 200 + ReLU → BN (the
//!   "penultimate" embedding) → dense 50 tag logits.

use super::band_conv::{BandConv, Kernels};
use super::bn::TfBatchNorm;
use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

pub const N_MELS: usize = 96;
/// 3 s at 16 kHz, hop 256: the patch length musicnn was trained on.
pub const PATCH_FRAMES: usize = 187;
const TIMBRAL_FILTERS: usize = 204;
const TEMPORAL_FILTERS: usize = 51;
pub const FRONT_CHANNELS: usize = 2 * TIMBRAL_FILTERS + 3 * TEMPORAL_FILTERS;
pub const MID_FILTERS: usize = 64;
/// Front end plus the three mid-end layers, per frame.
pub const FEATURE_CHANNELS: usize = FRONT_CHANNELS + 3 * MID_FILTERS;
/// Max and mean over time of the 753 channels, interleaved per channel.
pub const POOLED_DIM: usize = 2 * FEATURE_CHANNELS;
pub const PENULTIMATE_DIM: usize = 200;
pub const N_TAGS: usize = 50;

/// Which published weights: trained on the Million Song Dataset or on MagnaTagATune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Msd,
    Mtt,
}

impl Variant {
    /// The 50 tags in output order (musicnn's `configuration.py`).
    pub fn tags(self) -> &'static [&'static str; N_TAGS] {
        match self {
            Variant::Msd => &MSD_TAGS,
            Variant::Mtt => &MTT_TAGS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::Msd => "MSD_musicnn",
            Variant::Mtt => "MTT_musicnn",
        }
    }
}

/// Conv → ReLU → BN, the unit every musicnn layer is made of.
struct ConvBn {
    conv: BandConv,
    bn: TfBatchNorm,
}

impl ConvBn {
    fn new(conv: BandConv, filters: usize, vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            conv,
            bn: TfBatchNorm::new(filters, vb.pp("bn"))?,
        })
    }

    /// Front-end block: `[b, T, 96]` → frequency-max-pooled `[b, T, filters]`.
    fn forward_pooled(&self, x: &Tensor, kernels: Kernels) -> Result<Tensor> {
        let (zmax, zmin) = self.conv.forward_freq_extrema(x, kernels)?;
        self.bn.relu_bn_of_max(&zmax, &zmin)
    }

    /// Mid-end block: `[b, T, C]` → `[b, T, filters]`.
    fn forward_full_width(&self, x: &Tensor, kernels: Kernels) -> Result<Tensor> {
        self.bn
            .forward(&self.conv.forward_full_width(x, kernels)?.relu()?)
    }
}

/// What one forward pass yields, each `[batch, dim]`.
pub struct BackboneOutputs {
    /// Max and mean over time of the 753 channels, after the back end's batch norm (the
    /// dense layer's input).
    pub pooled: Tensor,
    /// The 200-d embedding (after ReLU and batch norm).
    pub penultimate: Tensor,
    /// The 50 tag logits (sigmoid gives musicnn's tag probabilities).
    pub tags: Tensor,
}

/// The back end's dense layer: pooled features → the 200-d embedding (dense + ReLU + BN).
/// Its own type because it is the one part of the backbone that `train --fine-tune-dense`
/// trains: built over the same variables (`dense.*`, `dense_bn.*` under the backbone's
/// prefix), it updates the backbone the model file stores.
pub struct Embedding {
    dense: Linear,
    dense_bn: TfBatchNorm,
}

impl Embedding {
    /// `vb`: the backbone's prefix.
    pub fn new(vb: &VarBuilder) -> Result<Self> {
        Ok(Self {
            dense: linear(POOLED_DIM, PENULTIMATE_DIM, vb.pp("dense"))?,
            dense_bn: TfBatchNorm::new(PENULTIMATE_DIM, vb.pp("dense_bn"))?,
        })
    }

    /// `[batch, 1 506]` pooled → `[batch, 200]` penultimate.
    pub fn forward(&self, pooled: &Tensor) -> Result<Tensor> {
        self.dense_bn.forward(&self.dense.forward(pooled)?.relu()?)
    }
}

pub struct Backbone {
    input_bn: TfBatchNorm,
    timbral: [ConvBn; 2],
    temporal: [ConvBn; 3],
    mid: [ConvBn; 3],
    pool_bn: TfBatchNorm,
    embedding: Embedding,
    tags: Linear,
}

impl Backbone {
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let conv =
            |name: &str, filters: usize, kt: usize, kf: usize, same: bool| -> Result<ConvBn> {
                let vb = vb.pp(name);
                let conv = if same {
                    BandConv::same(filters, kt, kf, vb.pp("conv"))?
                } else {
                    BandConv::new(filters, kt, kf, 3, 3, vb.pp("conv"))?
                };
                ConvBn::new(conv, filters, &vb)
            };
        Ok(Self {
            input_bn: TfBatchNorm::new(1, vb.pp("input_bn"))?,
            timbral: [
                conv("timbral_38", TIMBRAL_FILTERS, 7, 38, false)?,
                conv("timbral_67", TIMBRAL_FILTERS, 7, 67, false)?,
            ],
            temporal: [
                conv("temporal_128", TEMPORAL_FILTERS, 128, 1, true)?,
                conv("temporal_64", TEMPORAL_FILTERS, 64, 1, true)?,
                conv("temporal_32", TEMPORAL_FILTERS, 32, 1, true)?,
            ],
            mid: [
                conv("mid_1", MID_FILTERS, 7, FRONT_CHANNELS, false)?,
                conv("mid_2", MID_FILTERS, 7, MID_FILTERS, false)?,
                conv("mid_3", MID_FILTERS, 7, MID_FILTERS, false)?,
            ],
            pool_bn: TfBatchNorm::new(POOLED_DIM, vb.pp("pool_bn"))?,
            embedding: Embedding::new(&vb)?,
            tags: linear(PENULTIMATE_DIM, N_TAGS, vb.pp("tags"))?,
        })
    }

    /// `x`: `[batch, 96, frames]` log-mel patches (187 frames for the trained behaviour;
    /// the network is fully convolutional in time, so other lengths run too).
    pub fn forward(&self, x: &Tensor) -> Result<BackboneOutputs> {
        self.forward_with(x, Kernels::for_device(x.device()))
    }

    /// [`Backbone::forward`] through candle's ops alone, on any device (see
    /// [`crate::net::GenreNet::forward_candle_ops`]).
    pub fn forward_candle_ops(&self, x: &Tensor) -> Result<BackboneOutputs> {
        self.forward_with(x, Kernels::CandleOps)
    }

    fn forward_with(&self, x: &Tensor, kernels: Kernels) -> Result<BackboneOutputs> {
        let pooled = self.pooled_with(x, kernels)?;
        let penultimate = self.embedding.forward(&pooled)?;
        let tags = self.tags.forward(&penultimate)?;
        Ok(BackboneOutputs {
            pooled,
            penultimate,
            tags,
        })
    }

    /// The normalised 1 506-d pooled features (the dense layer's input).
    pub fn pooled(&self, x: &Tensor) -> Result<Tensor> {
        self.pooled_with(x, Kernels::for_device(x.device()))
    }

    fn pooled_with(&self, x: &Tensor, kernels: Kernels) -> Result<Tensor> {
        let (b, n_mels, _) = x.dims3()?;
        if n_mels != N_MELS {
            candle_core::bail!("musicnn takes {N_MELS} mel bands, got {n_mels}");
        }
        // On the CPU one patch at a time: measured 18 ms per patch alone against 44 ms per
        // patch in a batch of 8 (the candle ops between the convolutions — concatenations,
        // the filter reordering, the time pooling — scale worse than linearly with the
        // batch). A GPU wants the whole batch.
        if b > 1 && x.device().is_cpu() {
            let each = (0..b)
                .map(|i| self.pooled_with(&x.narrow(0, i, 1)?, kernels))
                .collect::<Result<Vec<_>>>()?;
            return Tensor::cat(&each, 0);
        }
        // [b, T, 96]: time-major like TF's NHWC.
        let x = self.input_bn.forward(&x.transpose(1, 2)?.contiguous()?)?;
        let front = self
            .timbral
            .iter()
            .chain(&self.temporal)
            .map(|b| b.forward_pooled(&x, kernels))
            .collect::<Result<Vec<_>>>()?;
        let front = Tensor::cat(&front, 2)?;
        let c1 = self.mid[0].forward_full_width(&front, kernels)?;
        let r2 = (self.mid[1].forward_full_width(&c1, kernels)? + &c1)?;
        let r3 = (self.mid[2].forward_full_width(&r2, kernels)? + &r2)?;
        let features = Tensor::cat(&[&front, &c1, &r2, &r3], 2)?;
        // TF concatenates max and mean on a trailing axis of size 1 and flattens, so the
        // 1 506 values interleave: (max c0, mean c0, max c1, mean c1, …).
        let pooled = Tensor::stack(&[features.max(1)?, features.mean(1)?], 2)?.flatten_from(1)?;
        self.pool_bn.forward(&pooled)
    }
}

pub const MSD_TAGS: [&str; N_TAGS] = [
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
];

pub const MTT_TAGS: [&str; N_TAGS] = [
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
];
