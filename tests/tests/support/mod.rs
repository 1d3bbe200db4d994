//! What more than one host test needs (each test file includes it with `mod support;`).
#![allow(dead_code)]

use model::audio::Audio;
use model::tagger::{Tagger, TaggerOptions};
use model::teach::TeachSession;

/// The label the host tests teach.
pub const TAUGHT_LABEL: &str = "my wedding set";

/// Vibe Ace, and a session that taught its first 30 s as [`TAUGHT_LABEL`], made as the
/// plugin's worker makes it: the default's windows of that audio offered as they come.
pub fn taught_on_vibe_ace() -> (TeachSession, Audio) {
    let audio = model::audio::decode_file(workspace_tests::fixture("vibe_ace.ogg")).unwrap();
    let rate = audio.sample_rate as usize;
    let default =
        std::sync::Arc::new(model::weights::load_default(&model::device::Device::Cpu).unwrap());
    let mut tagger = Tagger::new(default, audio.sample_rate, TaggerOptions::default()).unwrap();
    let mut session = TeachSession::new();
    session.start(TAUGHT_LABEL).unwrap();
    for w in tagger.push(&audio.samples[..30 * rate]).unwrap() {
        session.offer(&w.features).unwrap();
    }
    (session, audio)
}
