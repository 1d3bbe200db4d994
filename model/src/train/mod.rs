//! Training: finding clips, splitting them honestly, caching their mels, and the
//! optimisation loop. Progress goes through [`Observer`], so the CLI can draw bars
//! without this crate depending on a terminal library.

mod augment;
mod backbone;
mod best_epoch;
mod classic;
mod dataset;
mod feature_cache;
mod features;
mod trainer;
mod transfer;

pub use augment::Augment;
pub use backbone::{EfficientAtFeatures, FeatureBackbone, MusicnnFeatures};
pub use best_epoch::BestBy;
pub use classic::{build_fitted, fit_classic, window_summaries, ClassicConfig};
pub use dataset::{discover, discover_labelled, split, Clip, Split, SplitKind, Subset};
pub use feature_cache::{FeatureCache, FeatureRecipe};
pub use features::{load_features, ClipFeatures};
pub use trainer::{
    evaluate, parameter_count, soft_cross_entropy, train, trainable_params, EpochRecord,
    EvalReport, TrainConfig, TrainOutcome, CNN_BEST_BY,
};
pub use transfer::{
    backbone_features, cached_probs, train_head, TransferConfig, WindowFeatures, HEAD_BEST_BY,
};

/// Receives progress from long operations.
pub trait Observer {
    fn stage(&mut self, _name: &str, _total: usize) {}
    fn tick(&mut self, _message: &str) {}
    fn stage_done(&mut self) {}
    fn warn(&mut self, msg: &str) {
        eprintln!("warning: {msg}");
    }
    fn epoch_done(&mut self, _rec: &EpochRecord) {}
}

/// An observer that only prints warnings.
pub struct Quiet;
impl Observer for Quiet {}
