//! The taught decision: zero-shot logits plus a residual that lives only near what was
//! taught. Each label starts from an anchor — the largest logit of its AudioSet classes
//! (the GTZAN groups, or the music style its name matches) — or, for a label AudioSet has
//! no word for, from a bias fitted with the examples. On top, a kernel expansion over the
//! kept examples' embeddings, `r(x) = Σᵢ αᵢ · exp(−‖e(x) − eᵢ‖² / 2σ²)`: far from every
//! example the kernel is zero and the answer is the zero-shot one exactly, so teaching
//! pop from one source cannot turn hiphop from another into pop. A residual linear in the
//! features (a head) has no such bound: it moves every input, and that is how the untaught
//! genres collapsed when a head was fitted on taught examples alone
//! (`../shared/notes/audioset-findings.md`). The fit is in [`crate::teach`].

use super::config::MnConfig;
use super::decision::GroupIndex;
use super::labels::{audioset_labels, GTZAN_GROUPS, STYLE_CLASSES};
use super::network::MnOutput;
use candle_core::{DType, Result, Tensor, D};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

/// What the card says about a taught decision; its tensors (under `decision.`) are the
/// kept examples' embeddings `examples` `[examples, embedding]`, their weights `alpha`
/// `[examples, labels]` and the labels' `bias` `[labels]` (zero for anchored labels).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaughtConfig {
    /// Per label, in label order: the AudioSet classes whose largest logit is its
    /// zero-shot logit; empty for a label with no AudioSet class (its bias instead).
    pub anchors: Vec<Vec<usize>>,
    /// How many example windows the residual keeps.
    pub examples: usize,
    /// The kernel's width σ, in embedding units.
    pub bandwidth: f32,
    /// The fit's settings and what it was fitted on (for the card's reader; the forward
    /// pass does not read them).
    #[serde(default)]
    pub fit: serde_json::Value,
}

/// The AudioSet classes a label named `name` starts from: a GTZAN genre's group, else
/// the one music style whose ontology name it is (case, spaces, hyphens and a trailing
/// "music" aside: "house" is "House music", "drum and bass" is "Drum and bass"), else
/// none.
pub fn anchor_for(name: &str) -> Vec<usize> {
    let key = |s: &str| -> String {
        let k: String = s
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        k.strip_suffix("music").map(str::to_string).unwrap_or(k)
    };
    let want = key(name);
    if want.is_empty() {
        return Vec::new();
    }
    if let Some(g) = crate::GENRES.iter().position(|g| key(g) == want) {
        return GTZAN_GROUPS[g].to_vec();
    }
    let names = audioset_labels();
    STYLE_CLASSES
        .clone()
        .find(|&c| key(&names[c]) == want)
        .map_or_else(Vec::new, |c| vec![c])
}

/// `exp(−‖aᵢ − bⱼ‖² / 2σ²)` for every row of `a` `[m, d]` and `b` `[n, d]` → `[m, n]`;
/// `b_sq`: `b`'s squared row norms. The one kernel of the fit and the forward pass.
pub fn rbf_kernel(a: &Tensor, b: &Tensor, b_sq: &Tensor, bandwidth: f32) -> Result<Tensor> {
    let a_sq = a.sqr()?.sum_keepdim(D::Minus1)?;
    let cross = a.matmul(&b.t()?)?;
    let d2 = (cross.affine(-2.0, 0.0)?.broadcast_add(&a_sq)?)
        .broadcast_add(&b_sq.unsqueeze(0)?)?
        .relu()?;
    let s2 = 2.0 * (bandwidth as f64).powi(2);
    d2.affine(-1.0 / s2, 0.0)?.exp()
}

/// A [`TaughtConfig`] with its tensors.
pub struct TaughtHead {
    groups: GroupIndex,
    /// 1 for an anchored label, 0 for one that starts from its bias.
    anchored: Tensor,
    bias: Tensor,
    examples: Tensor,
    alpha: Tensor,
    bandwidth: f32,
}

impl TaughtHead {
    /// `vb`: the model file's `decision` prefix.
    pub fn new(
        cfg: &TaughtConfig,
        n_labels: usize,
        net: &MnConfig,
        vb: VarBuilder,
    ) -> Result<Self> {
        if cfg.examples == 0 {
            candle_core::bail!("a taught decision needs at least one example window");
        }
        if !(cfg.bandwidth.is_finite() && cfg.bandwidth > 0.0) {
            candle_core::bail!(
                "the taught decision's bandwidth {} is not positive",
                cfg.bandwidth
            );
        }
        // An unanchored label reads class 0 through the gather and is masked out.
        let groups: Vec<Vec<usize>> = cfg
            .anchors
            .iter()
            .map(|a| if a.is_empty() { vec![0] } else { a.clone() })
            .collect();
        let groups = GroupIndex::new(&groups, n_labels, net, vb.device())?;
        let mask: Vec<f32> = cfg
            .anchors
            .iter()
            .map(|a| if a.is_empty() { 0.0 } else { 1.0 })
            .collect();
        let examples = vb.get_with_hints(
            (cfg.examples, net.embedding_dim()),
            "examples",
            Init::Const(0.0),
        )?;
        Ok(Self {
            groups,
            anchored: Tensor::new(mask.as_slice(), vb.device())?,
            bias: vb.get_with_hints(n_labels, "bias", Init::Const(0.0))?,
            alpha: vb.get_with_hints((cfg.examples, n_labels), "alpha", Init::Const(0.0))?,
            examples,
            bandwidth: cfg.bandwidth,
        })
    }

    /// The labels' starting logits: anchors' zero-shot logits, biases for the rest.
    pub fn base(&self, out: &MnOutput) -> Result<Tensor> {
        self.groups
            .select(&out.logits)?
            .broadcast_mul(&self.anchored)?
            .broadcast_add(&self.bias)
    }

    /// Network outputs → label logits `[batch, labels]`.
    pub fn forward(&self, out: &MnOutput) -> Result<Tensor> {
        let e = out.embedding.to_dtype(DType::F32)?;
        // The norms here, not at construction: a loader sets the variables after building.
        let examples_sq = self.examples.sqr()?.sum(1)?;
        let k = rbf_kernel(&e, &self.examples, &examples_sq, self.bandwidth)?;
        self.base(out)? + k.matmul(&self.alpha)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_find_their_audioset_classes() {
        assert_eq!(anchor_for("rock"), GTZAN_GROUPS[9].to_vec());
        assert_eq!(anchor_for("Hip-Hop"), vec![217]);
        assert_eq!(anchor_for("house"), vec![240]);
        assert_eq!(anchor_for("House Music"), vec![240]);
        assert_eq!(anchor_for("techno"), vec![241]);
        assert_eq!(anchor_for("Drum and bass"), vec![243]);
        assert_eq!(anchor_for("funk"), vec![232]);
        assert!(anchor_for("my wedding set").is_empty());
        assert!(anchor_for("").is_empty());
        assert!(anchor_for("music").is_empty());
    }

    #[test]
    fn the_kernel_is_one_at_an_example_and_vanishes_far_away() {
        let dev = candle_core::Device::Cpu;
        let b = Tensor::new(&[[0f32, 0.0], [3.0, 4.0]], &dev).unwrap();
        let b_sq = b.sqr().unwrap().sum(1).unwrap();
        let a = Tensor::new(&[[0f32, 0.0], [300.0, 400.0]], &dev).unwrap();
        let k = rbf_kernel(&a, &b, &b_sq, 5.0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!((k[0][0] - 1.0).abs() < 1e-6);
        assert!((k[0][1] - (-0.5f32).exp()).abs() < 1e-6, "{k:?}");
        assert!(k[1].iter().all(|&v| v == 0.0), "{k:?}");
    }
}
