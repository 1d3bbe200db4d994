//! Styles end to end: a network with a style vocabulary, the Tagger's per-window sigmoids
//! and file means, and the `tag --json` document (styles present exactly when the card has
//! them, top 5 by probability).

use candle_core::{Device, Tensor};
use model::arch::Arch;
use model::audio::Audio;
use model::net::{GenreNet, NetOutput};
use model::nets::SeedCnnConfig;
use model::tag_report::{analyse_audio, document, file_entry, top_styles, TOP_STYLES};
use model::tagger::{tag_audio, Tagger, TaggerOptions};
use model::weights::{build_trainable, read_card, save, LoadedModel, ModelCard};
use model::Error;
use std::sync::Arc;

const STYLES: [&str; 7] = [
    "Pop music",
    "Hip hop music",
    "Rock music",
    "Heavy metal",
    "Punk rock",
    "Grunge",
    "Progressive rock",
];

/// A tiny seed CNN for the genres; its styles are the first `n_styles` mel bands' mean
/// (scaled), so they differ from window to window and from each other.
struct Styled {
    inner: Box<dyn GenreNet>,
    n_styles: usize,
}

impl GenreNet for Styled {
    fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.inner.forward_t(x, train)
    }

    fn infer(&self, x: &Tensor) -> candle_core::Result<NetOutput> {
        let bands = x.mean(2)?.narrow(1, 0, self.n_styles)?;
        Ok(NetOutput {
            genre_logits: self.forward_t(x, false)?,
            style_logits: Some((bands * 3.0)?),
            teach_features: None,
        })
    }
}

fn tiny_card(styles: &[&str]) -> ModelCard {
    let mut card = ModelCard::seed_cnn_default();
    card.arch = Arch::SeedCnn(SeedCnnConfig {
        channels: vec![4, 8],
        dropout: 0.0,
    });
    card.styles = styles.iter().map(|s| s.to_string()).collect();
    card
}

/// A model whose card names `card_styles` and whose network gives `net_styles` (None: a
/// plain network with the default `infer`).
fn model(card_styles: &[&str], net_styles: Option<usize>) -> Arc<LoadedModel> {
    let card = tiny_card(card_styles);
    let (_vm, inner) = build_trainable(&card, &Device::Cpu, 5).unwrap();
    let net: Box<dyn GenreNet> = match net_styles {
        Some(n_styles) => Box::new(Styled { inner, n_styles }),
        None => inner,
    };
    Arc::new(LoadedModel {
        card,
        net,
        device: Device::Cpu,
        source: "tiny styled net (test)".into(),
    })
}

fn music(rate: u32, secs: f32) -> Audio {
    let samples = (0..(rate as f32 * secs) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let f = 110.0 * (1.0 + (t * 0.7).floor());
            0.3 * (2.0 * std::f32::consts::PI * f * t).sin() * (1.0 + (t * 3.0).sin()) * 0.5
        })
        .collect();
    Audio {
        samples,
        sample_rate: rate,
        source_channels: 1,
        non_finite: 0,
        warnings: vec![],
    }
}

fn opts() -> TaggerOptions {
    TaggerOptions {
        hop_s: 1.0,
        ..Default::default()
    }
}

#[test]
fn windows_carry_sigmoid_styles_and_files_their_mean() {
    let m = model(&STYLES, Some(STYLES.len()));
    let tags = tag_audio(m, &music(22_050, 8.0), opts()).unwrap();
    assert!(tags.windows.len() >= 5);
    for w in &tags.windows {
        assert_eq!(w.styles.len(), STYLES.len());
        assert!(w.styles.iter().all(|&p| p > 0.0 && p < 1.0), "{w:?}");
    }
    // Independent sigmoids, not a distribution: they need not sum to 1.
    let sum: f32 = tags.windows[0].styles.iter().sum();
    assert!((sum - 1.0).abs() > 0.1, "{sum}");
    let n = tags.windows.len() as f32;
    for (i, &mean) in tags.styles.iter().enumerate() {
        let want: f32 = tags.windows.iter().map(|w| w.styles[i]).sum::<f32>() / n;
        assert!((mean - want).abs() < 1e-6);
    }
}

#[test]
fn styles_are_smoothed_like_the_distribution_and_reset() {
    let m = model(&STYLES, Some(STYLES.len()));
    let (hop, tau) = (1.0f32, 2.0f32);
    let o = TaggerOptions {
        hop_s: hop,
        smoothing_s: tau,
        ..Default::default()
    };
    let mut t = Tagger::new(m, 22_050, o).unwrap();
    let w = t.push(&music(22_050, 9.0).samples).unwrap();
    let alpha = 1.0 - (-hop / tau).exp();
    let mut ema = w[0].styles.clone();
    for r in &w[1..] {
        ema.iter_mut()
            .zip(&r.styles)
            .for_each(|(e, p)| *e += alpha * (p - *e));
    }
    for (a, b) in t.smoothed_styles().unwrap().iter().zip(&ema) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    t.reset();
    assert!(t.smoothed_styles().is_none());
}

#[test]
fn a_model_without_styles_reports_none() {
    let m = model(&[], None);
    let mut t = Tagger::new(m.clone(), 22_050, opts()).unwrap();
    let w = t.push(&music(22_050, 5.0).samples).unwrap();
    assert!(!w.is_empty() && w.iter().all(|r| r.styles.is_empty()));
    assert!(t.smoothed_styles().is_none());
    let report = analyse_audio(m.clone(), &music(22_050, 5.0), opts()).unwrap();
    let tags = &report.tags;
    assert!(tags.styles.is_empty());

    let entry = file_entry("a.wav", &report, &m.card);
    assert!(entry.get("styles").is_none(), "{entry}");
    for w in entry["timeline"].as_array().unwrap() {
        assert!(w.get("styles").is_none(), "{w}");
    }
}

#[test]
fn json_entry_lists_the_top_five_styles_by_probability() {
    let m = model(&STYLES, Some(STYLES.len()));
    let report = analyse_audio(m.clone(), &music(22_050, 6.0), opts()).unwrap();
    let tags = &report.tags;
    let entry = file_entry("dir/a.wav", &report, &m.card);
    let doc = document(&m.source, vec![entry.clone()]);
    assert_eq!(doc["model"], "tiny styled net (test)");
    assert_eq!(doc["files"][0], entry);

    assert_eq!(entry["path"], "dir/a.wav");
    assert_eq!(entry["duration_s"].as_f64(), Some(6.0));
    assert_eq!(entry["genre"], m.card.labels[tags.top].as_str());
    assert_eq!(entry["distribution"].as_object().unwrap().len(), 10);
    let check = |list: &serde_json::Value, probs: &[f32]| {
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), TOP_STYLES);
        let got: Vec<(&str, f64)> = list
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap(),
                    s["probability"].as_f64().unwrap(),
                )
            })
            .collect();
        // The five most probable, most probable first, with their card names.
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        for (k, &(name, p)) in got.iter().enumerate() {
            assert_eq!(name, STYLES[order[k]]);
            assert!((p - probs[order[k]] as f64).abs() <= 5e-5, "{p}");
        }
        assert!(got.windows(2).all(|w| w[0].1 >= w[1].1), "{got:?}");
    };
    check(&entry["styles"], &tags.styles);
    let timeline = entry["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), tags.windows.len());
    for (v, w) in timeline.iter().zip(&tags.windows) {
        check(&v["styles"], &w.styles);
    }
}

#[test]
fn silent_windows_list_no_styles() {
    let m = model(&STYLES, Some(STYLES.len()));
    let mut audio = music(22_050, 6.0);
    audio.samples.extend(std::iter::repeat_n(0.0, 22_050 * 6));
    let report = analyse_audio(m.clone(), &audio, opts()).unwrap();
    let tags = &report.tags;
    let silent: Vec<_> = tags.windows.iter().filter(|w| w.silent).collect();
    assert!(!silent.is_empty());
    assert!(silent.iter().all(|w| w.styles.iter().all(|&p| p == 0.0)));
    let entry = file_entry("a.wav", &report, &m.card);
    for v in entry["timeline"].as_array().unwrap() {
        let n = v["styles"].as_array().unwrap().len();
        assert_eq!(
            n,
            if v.get("silent").is_some() {
                0
            } else {
                TOP_STYLES
            }
        );
    }
}

#[test]
fn top_styles_orders_by_probability_and_keeps_ties_in_vocabulary_order() {
    let p = [0.1, 0.7, 0.3, 0.7, 0.0, 0.9];
    assert_eq!(
        top_styles(&p, 4),
        vec![(5, 0.9), (1, 0.7), (3, 0.7), (2, 0.3)]
    );
    assert_eq!(top_styles(&p, 10).len(), 6);
    assert!(top_styles(&[], 5).is_empty());
}

#[test]
fn a_network_that_disagrees_with_its_card_is_refused() {
    for (card_styles, net_styles) in [
        (&STYLES[..], None),
        (&STYLES[..], Some(3)),
        (&[][..], Some(3)),
    ] {
        let m = model(card_styles, net_styles);
        let e = tag_audio(m, &music(22_050, 4.0), opts()).unwrap_err();
        assert!(
            matches!(&e, Error::WeightsMismatch(msg) if msg.contains("style outputs")),
            "{card_styles:?} / {net_styles:?}: {e}"
        );
    }
}

#[test]
fn cards_keep_their_styles_and_older_cards_have_none() {
    let card = tiny_card(&STYLES);
    let (vm, _) = build_trainable(&card, &Device::Cpu, 1).unwrap();
    let dir = std::env::temp_dir().join(format!("styles-card-{}", std::process::id()));
    let path = dir.join("m.safetensors");
    save(&path, &card, &vm).unwrap();
    let read = read_card(&std::fs::read(&path).unwrap(), "m").unwrap();
    assert_eq!(read.styles, card.styles);
    std::fs::remove_dir_all(&dir).unwrap();

    // A card written before styles existed (no "styles" key) reads as having none.
    let mut json = serde_json::to_value(tiny_card(&[])).unwrap();
    json.as_object_mut().unwrap().remove("styles");
    let old: ModelCard = serde_json::from_value(json).unwrap();
    assert!(old.styles.is_empty());
}

#[test]
fn duplicate_or_empty_style_names_are_refused() {
    for styles in [&["Jazz", "Jazz"][..], &["Jazz", " "][..]] {
        let card = tiny_card(styles);
        let e = build_trainable(&card, &Device::Cpu, 1).err().unwrap();
        assert!(
            matches!(e, Error::Config(ref m) if m.contains("style name")),
            "{e}"
        );
    }
}
