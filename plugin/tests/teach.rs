//! Teaching by example through the plugin's own engine, headless, as the editor drives it:
//! a label taught while a CC piece plays is what the next hops say; the taught state is
//! saved in the parameters and a fresh engine given that state says it too; undo, forget
//! and refusals behave.

mod common;

use common::*;
use genre_tagger::engine::{Engine, Monitor};
use genre_tagger::model_load::ModelSource;
use genre_tagger::teach::{TaughtState, TeachRequest};
use std::path::Path;

const LABEL: &str = "my wedding set";

fn vibe_ace() -> model::audio::Audio {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/cc-music/vibe_ace.ogg");
    model::audio::decode_file(&path).unwrap()
}

/// Feeds `x` (mono, as stereo) a second at a time, waiting for the worker each second.
fn play(engine: &mut Engine, m: &Monitor, x: &[f32], rate: u32) {
    for second in x.chunks(rate as usize) {
        for block in second.chunks(512) {
            process(engine, &[block, block]);
        }
        let queued = m.meters.queued();
        assert!(wait_for(60.0, || m.analysis.read().consumed >= queued));
    }
}

/// The tops of the log's hops after session second `from_s`.
fn tops_after(m: &Monitor, from_s: f64) -> Vec<String> {
    let state = m.log.read();
    let log = state.log.as_ref().expect("a log");
    log.rows()
        .filter(|r| r.time_s > from_s)
        .filter_map(|r| r.top.map(|t| log.header().labels[t].clone()))
        .collect()
}

#[test]
fn a_label_taught_live_is_what_the_next_hops_say_and_survives_the_saved_state() {
    let audio = vibe_ace();
    let rate = audio.sample_rate;
    let second = |s: usize| s * rate as usize;
    let (mut eng, m, params) = engine(ModelSource::Embedded);
    assert!(eng.activate(rate as f32));

    // Teach the first 30 s as the label, then stop: the worker refits and swaps the model in.
    assert!(m.controls.teach(TeachRequest::Start(LABEL.into())));
    play(&mut eng, &m, &audio.samples[..second(30)], rate);
    assert_eq!(m.analysis.read().teaching.as_deref(), Some(LABEL));
    assert!(m.controls.teach(TeachRequest::Stop));
    assert!(wait_for(30.0, || {
        let a = m.analysis.read();
        a.teaching.is_none() && a.labels.last().map(String::as_str) == Some(LABEL)
    }));
    let a = m.analysis.read();
    assert_eq!(a.labels.len(), 11, "{:?}", a.labels);
    let windows = a.taught[0].1;
    assert_eq!(a.taught, [(LABEL.to_string(), windows)]);
    assert!(windows >= 25, "{windows} windows taught in 30 s");

    // The next hops say it (the log of the taught model's labels starts at the swap).
    play(&mut eng, &m, &audio.samples[second(30)..second(40)], rate);
    let tops = tops_after(&m, 30.0);
    let said = tops.iter().filter(|t| *t == LABEL).count();
    assert!(
        said * 2 > tops.len(),
        "{said} of {} hops: {tops:?}",
        tops.len()
    );
    // The log followed the taught model: its past stays, the label got a column.
    {
        let state = m.log.read();
        let log = state.log.as_ref().unwrap();
        assert!(
            log.rows().next().unwrap().time_s < 4.0,
            "the log kept its first hops"
        );
        assert_eq!(log.header().labels.last().map(String::as_str), Some(LABEL));
    }

    // The parameters hold it: a new engine restored from them says it too.
    let saved: TaughtState = params.taught.read().unwrap().clone();
    assert!(!saved.session.is_empty());
    let restored =
        serde_json::from_value::<TaughtState>(serde_json::to_value(&saved).unwrap()).unwrap();
    assert_eq!(restored.generation, 0, "the generation is not saved");
    let (mut eng2, m2, params2) = engine(ModelSource::Embedded);
    *params2.taught.write().unwrap() = restored;
    assert!(eng2.activate(rate as f32));
    play(&mut eng2, &m2, &audio.samples[second(28)..second(40)], rate);
    let a2 = m2.analysis.read();
    assert_eq!(a2.taught, a.taught);
    let tops = tops_after(&m2, 0.0);
    let said = tops.iter().filter(|t| *t == LABEL).count();
    assert!(
        said * 2 > tops.len(),
        "restored: {said} of {} hops: {tops:?}",
        tops.len()
    );

    // A state loaded while the worker runs is read again (the host restored a session):
    // an empty one means nothing taught.
    *params2.taught.write().unwrap() = TaughtState::default();
    assert!(wait_for(30.0, || m2.analysis.read().labels.len() == 10));
    assert!(m2.analysis.read().taught.is_empty());

    // Undo forgets the segment: the default again, and the saved state says so.
    assert!(m.controls.teach(TeachRequest::Undo));
    assert!(wait_for(30.0, || m.analysis.read().labels.len() == 10));
    assert!(m.analysis.read().taught.is_empty());
    assert_eq!(params.taught.read().unwrap().session, "");

    // A blank label is refused with a reason; teaching goes on without it.
    assert!(m.controls.teach(TeachRequest::Start("   ".into())));
    assert!(wait_for(10.0, || m
        .analysis
        .read()
        .error()
        .is_some_and(|e| e.contains("needs a name"))));
    assert!(m.analysis.read().teaching.is_none());
}

#[test]
fn forget_drops_one_label_and_a_model_that_cannot_be_taught_says_so() {
    let audio = vibe_ace();
    let rate = audio.sample_rate;
    let (mut eng, m, _) = engine(ModelSource::Embedded);
    assert!(eng.activate(rate as f32));
    let s = rate as usize;
    for (label, from) in [("house", 0), ("techno", 10)] {
        assert!(m.controls.teach(TeachRequest::Start(label.into())));
        play(
            &mut eng,
            &m,
            &audio.samples[from * s..(from + 10) * s],
            rate,
        );
    }
    assert!(m.controls.teach(TeachRequest::Stop));
    assert!(wait_for(30.0, || {
        let a = m.analysis.read();
        a.teaching.is_none() && a.labels.len() == 12
    }));
    let labels = m.analysis.read().labels.clone();
    // "house" and "techno" are AudioSet styles: each starts from its own class.
    assert_eq!(&labels[10..], ["house", "techno"]);
    assert!(m.controls.teach(TeachRequest::Forget("house".into())));
    assert!(wait_for(30.0, || m.analysis.read().labels.len() == 11));
    assert_eq!(m.analysis.read().labels[10..], ["techno"]);
    assert_eq!(m.analysis.read().taught.len(), 1);
    assert!(m.controls.teach(TeachRequest::Clear));
    assert!(wait_for(30.0, || m.analysis.read().labels.len() == 10));

    // The seed CNN gives no teaching features: refused, naming the model.
    let (mut other, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(other.activate(rate as f32));
    assert!(m.controls.teach(TeachRequest::Start("house".into())));
    assert!(wait_for(10.0, || m.analysis.read().error().is_some_and(
        |e| e.contains("cannot be taught") && e.contains("untrained seed CNN")
    )));
}
