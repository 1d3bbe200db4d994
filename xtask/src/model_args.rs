//! The command line's names for kinds of model: backbones, from-scratch networks,
//! EfficientAT decisions and musicnn head inputs, and how a value is spelt. `train` takes
//! them as flags; `zoo` and `decisions` name their systems and rows by them.

use model::nets::efficientat::{Decision, HeadFeatures};
use model::nets::musicnn::HeadInput;

#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum BackboneArg {
    /// The seed-style CNN, trained from scratch.
    Cnn,
    /// musicnn trained on the Million Song Dataset (frozen) + a genre head.
    MusicnnMsd,
    /// musicnn trained on MagnaTagATune (frozen) + a genre head.
    MusicnnMtt,
    /// EfficientAT mn04 trained on AudioSet (frozen) + a genre decision (`--decision`).
    Efficientat,
}

/// `--decision`: see [`Decision`].
#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum DecisionArg {
    /// The ten GTZAN-named AudioSet logits, nothing fitted.
    ZeroShot,
    /// Each genre's largest logit over its AudioSet class and the class's ontology
    /// children, nothing fitted.
    ZeroShotGroups,
    /// Those logits with a fitted per-genre bias and temperature (11 parameters).
    Calibrated,
    /// A linear head on the 384-d embedding.
    HeadEmbedding,
    /// A linear head on the 527 AudioSet logits.
    HeadLogits,
    /// A linear head on both.
    HeadBoth,
}

impl From<DecisionArg> for Decision {
    fn from(d: DecisionArg) -> Self {
        match d {
            DecisionArg::ZeroShot => Decision::zero_shot_gtzan(),
            DecisionArg::ZeroShotGroups => Decision::zero_shot_groups_gtzan(),
            DecisionArg::Calibrated => Decision::calibrated_gtzan(),
            DecisionArg::HeadEmbedding => Decision::head(HeadFeatures::Embedding),
            DecisionArg::HeadLogits => Decision::head(HeadFeatures::Logits),
            DecisionArg::HeadBoth => Decision::head(HeadFeatures::Both),
        }
    }
}

/// The systems trained from scratch, by the names the README's zoo table uses, in its
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    /// The first seed paper's two conv blocks on 64 mels, 3-s segments.
    #[value(name = "seed-2block")]
    Seed2Block,
    /// The small CNN on 128 × 128 chunks.
    #[value(name = "seed-128chunk")]
    Seed128Chunk,
    /// Four conv blocks 32/64/128/256 + dense 512, on 5-s segments.
    #[value(name = "seed-4block")]
    Seed4Block,
    /// Conv blocks, then a GRU over time (after Choi et al. 2017).
    Crnn,
    /// The fifth seed paper's hand-made features (MFCC, chroma, spectral centroid,
    /// contrast, roll-off, ZCR: mean/std/skew; tempo) per 3-s window, and an RBF SVM.
    #[value(name = "features-svm")]
    FeaturesSvm,
    /// The same features, logistic regression.
    #[value(name = "features-logistic")]
    FeaturesLogistic,
    /// The same features, k nearest neighbours.
    #[value(name = "features-knn")]
    FeaturesKnn,
    /// The same features, a random forest.
    #[value(name = "features-forest")]
    FeaturesForest,
    /// This project's CNN (4 × conv3×3/BN/ReLU/pool, avg+max pooling; 3-s windows).
    SeedCnn,
}

impl ArchArg {
    pub fn arch(self) -> model::arch::Arch {
        use model::arch::Arch;
        use model::classic::{Classifier, HandFeaturesConfig};
        let classic = |classifier| Arch::HandFeatures(HandFeaturesConfig { classifier });
        match self {
            ArchArg::SeedCnn => Arch::SeedCnn(Default::default()),
            ArchArg::Seed2Block => Arch::Seed2Block(Default::default()),
            ArchArg::Seed128Chunk => Arch::Seed128Chunk(Default::default()),
            ArchArg::Seed4Block => Arch::Seed4Block(Default::default()),
            ArchArg::Crnn => Arch::Crnn(Default::default()),
            ArchArg::FeaturesSvm => classic(Classifier::svm()),
            ArchArg::FeaturesLogistic => classic(Classifier::logistic()),
            ArchArg::FeaturesKnn => classic(Classifier::knn()),
            ArchArg::FeaturesForest => classic(Classifier::forest()),
        }
    }

    /// A classical system (hand-made features and a classifier): fitted once, no epochs.
    pub fn is_classic(self) -> bool {
        matches!(self.arch(), model::arch::Arch::HandFeatures(_))
    }

    /// The name on the command line.
    pub fn name(self) -> String {
        cli_name(self)
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FeaturesArg {
    Pooled,
    Penultimate,
    Tags,
}

impl From<FeaturesArg> for HeadInput {
    fn from(f: FeaturesArg) -> Self {
        match f {
            FeaturesArg::Pooled => HeadInput::Pooled,
            FeaturesArg::Penultimate => HeadInput::Penultimate,
            FeaturesArg::Tags => HeadInput::Tags,
        }
    }
}

/// How a value is spelt on the command line (for the command recorded in the card).
pub fn cli_name(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}
