//! How the AudioSet network's outputs become genre logits. One enum in the model card,
//! so a model file says which decision it was made with; each kind builds its own
//! (possibly trained) parameters under `decision.*` in the file. The kinds go from no
//! fitted parameter (zero-shot) through eleven (calibrated) to thousands (heads): the
//! README's EfficientAT table compares them (`cargo xtask decisions`).

use super::config::MnConfig;
use super::labels::{GTZAN_CLASSES, GTZAN_GROUPS};
use super::network::MnOutput;
use super::taught::{TaughtConfig, TaughtHead};
use crate::nets::LinearHead;
use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    /// No training: the logits of the AudioSet classes `classes` (one per label, in label
    /// order) are the genre logits.
    ZeroShot { classes: Vec<usize> },
    /// No training: each label scores the largest logit of its group of AudioSet classes
    /// (one group per label, in label order: a class and its ontology children). The
    /// largest, not a logsumexp: AudioSet's outputs are independent per-class presences,
    /// so a genre is as present as its most present style, whereas a logsumexp adds up to
    /// `ln n` to a group of `n` whatever the audio, favouring big groups (rock's six) over
    /// the genres that are one class.
    ZeroShotGroups { groups: Vec<Vec<usize>> },
    /// The zero-shot logits recalibrated: `z / T + b` with one fitted temperature `T`
    /// (`decision.log_temperature`, `T = e^t`) and a fitted bias per genre
    /// (`decision.bias`). It can move the boundary between genres AudioSet's labelling
    /// favours and those it does not, but cannot learn anything the ten logits do not say.
    Calibrated { classes: Vec<usize> },
    /// A [`LinearHead`] (standardise, dropout, linear) on network outputs.
    Head {
        features: HeadFeatures,
        dropout: f32,
    },
    /// Anchored on zero-shot, with a residual fitted in closed form on taught examples
    /// that vanishes away from them (see [`super::taught`]; fitted by
    /// [`crate::teach::fit`], not by the trainer).
    Taught(TaughtConfig),
}

/// Which network outputs a head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadFeatures {
    /// The pooled embedding (384-d for mn04).
    Embedding,
    /// All AudioSet logits (527).
    Logits,
    /// Both, logits first.
    Both,
}

impl HeadFeatures {
    pub fn dim(self, net: &MnConfig) -> usize {
        match self {
            HeadFeatures::Embedding => net.embedding_dim(),
            HeadFeatures::Logits => net.num_classes,
            HeadFeatures::Both => net.num_classes + net.embedding_dim(),
        }
    }

    pub fn select(self, out: &MnOutput) -> Result<Tensor> {
        match self {
            HeadFeatures::Embedding => Ok(out.embedding.clone()),
            HeadFeatures::Logits => Ok(out.logits.clone()),
            HeadFeatures::Both => Tensor::cat(&[&out.logits, &out.embedding], 1),
        }
    }
}

impl Decision {
    /// Zero-shot over the ten classes named like GTZAN's genres.
    pub fn zero_shot_gtzan() -> Self {
        Decision::ZeroShot {
            classes: GTZAN_CLASSES.to_vec(),
        }
    }

    /// Zero-shot over each GTZAN-named class and its ontology children.
    pub fn zero_shot_groups_gtzan() -> Self {
        Decision::ZeroShotGroups {
            groups: GTZAN_GROUPS.iter().map(|g| g.to_vec()).collect(),
        }
    }

    /// The ten GTZAN-named classes, recalibrated.
    pub fn calibrated_gtzan() -> Self {
        Decision::Calibrated {
            classes: GTZAN_CLASSES.to_vec(),
        }
    }

    /// A head on `features` with the transfer heads' dropout.
    pub fn head(features: HeadFeatures) -> Self {
        Decision::Head {
            features,
            dropout: 0.5,
        }
    }

    /// The names of the variables fitting moves (none for zero-shot), with the prefix
    /// `decision.` the model file stores them under.
    pub fn fitted_variables(&self) -> &'static [&'static str] {
        match self {
            Decision::ZeroShot { .. } | Decision::ZeroShotGroups { .. } | Decision::Taught(_) => {
                &[]
            }
            Decision::Calibrated { .. } => &["decision.bias", "decision.log_temperature"],
            Decision::Head { .. } => &["decision.linear.weight", "decision.linear.bias"],
        }
    }

    /// `vb`: the model file's `decision` prefix.
    pub fn build(
        &self,
        n_labels: usize,
        net: &MnConfig,
        vb: VarBuilder,
        seed: u64,
    ) -> Result<DecisionHead> {
        let groups = |groups: &[Vec<usize>]| GroupIndex::new(groups, n_labels, net, vb.device());
        let singletons =
            |classes: &[usize]| -> Vec<Vec<usize>> { classes.iter().map(|&c| vec![c]).collect() };
        match self {
            Decision::ZeroShot { classes } => Ok(DecisionHead::ZeroShot {
                groups: groups(&singletons(classes))?,
            }),
            Decision::ZeroShotGroups { groups: g } => {
                Ok(DecisionHead::ZeroShot { groups: groups(g)? })
            }
            Decision::Calibrated { classes } => Ok(DecisionHead::Calibrated {
                groups: groups(&singletons(classes))?,
                bias: vb.get_with_hints(n_labels, "bias", Init::Const(0.0))?,
                log_temperature: vb.get_with_hints(1, "log_temperature", Init::Const(0.0))?,
            }),
            Decision::Head { features, dropout } => Ok(DecisionHead::Head {
                features: *features,
                head: Box::new(LinearHead::new(
                    features.dim(net),
                    *dropout,
                    n_labels,
                    vb,
                    seed,
                )?),
            }),
            Decision::Taught(cfg) => Ok(DecisionHead::Taught(Box::new(TaughtHead::new(
                cfg, n_labels, net, vb,
            )?))),
        }
    }
}

/// Which AudioSet logits make each label's score: every group padded to the widest with
/// its first class (harmless under a max), so one gather and one max serve all groups.
pub struct GroupIndex {
    /// `[labels × width]` class indices, group after group.
    index: Tensor,
    width: usize,
}

impl GroupIndex {
    pub(super) fn new(
        groups: &[Vec<usize>],
        n_labels: usize,
        net: &MnConfig,
        device: &candle_core::Device,
    ) -> Result<Self> {
        if groups.len() != n_labels {
            candle_core::bail!(
                "the decision names {} AudioSet class groups for {n_labels} labels",
                groups.len()
            );
        }
        if let Some(i) = groups.iter().position(|g| g.is_empty()) {
            candle_core::bail!("the decision's group for label {i} names no AudioSet class");
        }
        if let Some(c) = groups.iter().flatten().find(|&&c| c >= net.num_classes) {
            candle_core::bail!(
                "the decision names class {c}; the network has {}",
                net.num_classes
            );
        }
        let width = groups.iter().map(Vec::len).max().unwrap_or(1);
        let idx: Vec<u32> = groups
            .iter()
            .flat_map(|g| (0..width).map(|k| *g.get(k).unwrap_or(&g[0]) as u32))
            .collect();
        Ok(Self {
            index: Tensor::new(idx.as_slice(), device)?,
            width,
        })
    }

    /// `[batch, 527]` logits → `[batch, labels]`: each group's largest.
    pub(super) fn select(&self, logits: &Tensor) -> Result<Tensor> {
        let picked = logits.index_select(&self.index, 1)?;
        if self.width == 1 {
            return Ok(picked);
        }
        let (batch, n) = picked.dims2()?;
        picked.reshape((batch, n / self.width, self.width))?.max(2)
    }
}

/// A [`Decision`] with its parameters.
pub enum DecisionHead {
    ZeroShot {
        groups: GroupIndex,
    },
    Calibrated {
        groups: GroupIndex,
        bias: Tensor,
        log_temperature: Tensor,
    },
    Head {
        features: HeadFeatures,
        // Boxed: a head is several times the size of the other variants.
        head: Box<LinearHead>,
    },
    Taught(Box<TaughtHead>),
}

impl DecisionHead {
    /// The network's outputs for a batch → genre logits `[batch, labels]`.
    pub fn forward(&self, out: &MnOutput, train: bool) -> Result<Tensor> {
        match self {
            DecisionHead::ZeroShot { groups } => groups.select(&out.logits),
            DecisionHead::Calibrated {
                groups,
                bias,
                log_temperature,
            } => groups
                .select(&out.logits)?
                .broadcast_mul(&log_temperature.neg()?.exp()?)?
                .broadcast_add(bias),
            DecisionHead::Head { features, head } => head.forward_t(&features.select(out)?, train),
            DecisionHead::Taught(head) => head.forward(out),
        }
    }

    /// What a head standardises and reads (`None` for the kinds without a head), so a
    /// trainer can take its statistics.
    pub fn head_input(&self, out: &MnOutput) -> Result<Option<Tensor>> {
        match self {
            DecisionHead::Head { features, .. } => features.select(out).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::ModelCard;
    use candle_core::{DType, Device};

    /// Network outputs whose logits are `rows` (`[batch, 527]`).
    fn outputs(rows: &[Vec<f32>]) -> MnOutput {
        let flat: Vec<f32> = rows.concat();
        let logits = Tensor::from_vec(flat, (rows.len(), 527), &Device::Cpu).unwrap();
        MnOutput {
            embedding: Tensor::zeros((rows.len(), 384), DType::F32, &Device::Cpu).unwrap(),
            logits,
        }
    }

    fn genre_logits(d: &Decision, out: &MnOutput) -> Result<Vec<Vec<f32>>> {
        let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
        d.build(10, &MnConfig::mn04_as(), vb, 0)?
            .forward(out, false)?
            .to_vec2()
    }

    /// Distinct, sign-mixed logits for every class of every row.
    fn varied(batch: usize) -> Vec<Vec<f32>> {
        (0..batch)
            .map(|b| {
                (0..527)
                    .map(|c| ((c * 37 + b * 11) % 101) as f32 / 7.0 - 6.0)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn groups_of_one_are_the_zero_shot_decision_exactly() {
        let out = outputs(&varied(3));
        let groups = Decision::ZeroShotGroups {
            groups: GTZAN_CLASSES.iter().map(|&c| vec![c]).collect(),
        };
        let old = genre_logits(&Decision::zero_shot_gtzan(), &out).unwrap();
        assert_eq!(genre_logits(&groups, &out).unwrap(), old);
        let rows = varied(3);
        for (row, got) in rows.iter().zip(&old) {
            let want: Vec<f32> = GTZAN_CLASSES.iter().map(|&c| row[c]).collect();
            assert_eq!(got, &want);
        }
    }

    #[test]
    fn a_group_scores_its_largest_member() {
        let d = Decision::zero_shot_groups_gtzan();
        let mut rows = varied(2);
        // Row 0: Grunge (222) above everything, so rock takes it; row 1: Rock music (219).
        rows[0][222] = 50.0;
        rows[1][219] = 40.0;
        rows[1][222] = -40.0;
        // Opera (238) above Classical music (237) in both rows.
        for r in rows.iter_mut() {
            r[237] = -3.0;
            r[238] = 2.5;
        }
        let got = genre_logits(&d, &outputs(&rows)).unwrap();
        assert_eq!(got[0][9], 50.0);
        assert_eq!(got[1][9], 40.0);
        assert!(got.iter().all(|r| r[1] == 2.5));
        for (row, g) in rows.iter().zip(&got) {
            for (genre, group) in GTZAN_GROUPS.iter().enumerate() {
                let max = group.iter().map(|&c| row[c]).fold(f32::MIN, f32::max);
                assert_eq!(g[genre], max, "genre {genre}");
            }
        }
    }

    #[test]
    fn bad_groups_are_refused_with_the_reason() {
        let out = outputs(&varied(1));
        let mut groups: Vec<Vec<usize>> = GTZAN_GROUPS.iter().map(|g| g.to_vec()).collect();
        groups[4].clear();
        let e = genre_logits(&Decision::ZeroShotGroups { groups }, &out).unwrap_err();
        assert!(e.to_string().contains("label 4 names no"), "{e}");
        let groups = vec![vec![1]; 9];
        let e = genre_logits(&Decision::ZeroShotGroups { groups }, &out).unwrap_err();
        assert!(
            e.to_string().contains("9 AudioSet class groups for 10"),
            "{e}"
        );
        let mut groups: Vec<Vec<usize>> = GTZAN_GROUPS.iter().map(|g| g.to_vec()).collect();
        groups[0].push(527);
        let e = genre_logits(&Decision::ZeroShotGroups { groups }, &out).unwrap_err();
        assert!(e.to_string().contains("class 527"), "{e}");
    }

    #[test]
    fn the_card_keeps_the_groups_and_old_cards_still_load() {
        let card = ModelCard::efficientat(Decision::zero_shot_groups_gtzan());
        let json = serde_json::to_string(&card).unwrap();
        assert!(json.contains(r#""kind":"zero_shot_groups","groups":[[251],[237,238]"#));
        let back: ModelCard = serde_json::from_str(&json).unwrap();
        assert_eq!(back, card);

        let old = r#"{"kind":"zero_shot","classes":[251,237,229,236,217,235,220,216,228,219]}"#;
        let d: Decision = serde_json::from_str(old).unwrap();
        assert_eq!(d, Decision::zero_shot_gtzan());
    }
}
