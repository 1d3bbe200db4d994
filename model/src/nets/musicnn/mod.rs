//! musicnn, the pretrained music-tagging CNN, as a backbone for genre heads.

mod backbone;
mod band_conv;
mod bn;
mod tf_import;

pub use backbone::{Backbone, BackboneOutputs, Variant, MSD_TAGS, MTT_TAGS, N_MELS, N_TAGS, PATCH_FRAMES, PENULTIMATE_DIM, POOLED_DIM};
pub use tf_import::{import_tf, read_tf_file};
