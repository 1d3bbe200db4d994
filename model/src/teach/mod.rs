//! Teaching the tagger by example: the user's own labels from their own music, anchored
//! on the zero-shot default so what they did not teach keeps its zero-shot answer.
//!
//! [`ExampleStore`] keeps the network's outputs for taught windows, bounded per label;
//! [`fit`] turns them into a [`Taught`] decision in closed form (a kernel ridge solve, well
//! under a second for a full store), which [`Taught::model`] makes into a model like any
//! other (card + safetensors, loaded by `tag --model`, the plugin and Python). Nothing here
//! runs on an audio thread: a caller such as the plugin's worker feeds a [`TeachSession`]
//! the windows it has already analysed (the network's `teach_features`), refits when the
//! examples change, and swaps the model in.

mod fit;
mod linalg;
mod session;
mod store;

pub use fit::{fit, model_labels, network_tensors, Taught, TeachConfig};
pub use session::TeachSession;
pub use store::{ExampleStore, StoreError, MAX_WINDOWS_PER_LABEL};
