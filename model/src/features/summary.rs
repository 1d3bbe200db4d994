//! A window's summary: the features librosa computes over the whole signal it is given,
//! and their statistics (see the module doc of `features`).

use super::{FRAME_ROWS, SUMMARY_LEN};

/// Summarises one window, row-major `[FRAME_ROWS][frames]` (the layout
/// [`copy_window`](crate::window::copy_window) makes), into `out` ([`SUMMARY_LEN`] values,
/// in [`summary_names`]' order).
pub fn summarize(window: &[f32], frames: usize, out: &mut [f32]) {
    let _ = (window, frames, out, FRAME_ROWS, SUMMARY_LEN);
    todo!("helper")
}

/// The name of each summary value ("mfcc3_mean", "chroma0_skew", …, "tempo").
pub fn summary_names() -> Vec<String> {
    todo!("helper")
}
