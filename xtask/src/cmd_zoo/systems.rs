//! The systems of the zoo and how each is trained under the protocol: epoch caps (so the
//! whole zoo fits an hour of two cores), the runs, and what each run is scored on.

use super::folds::{self, pick, Fold};
use super::{Cost, Lab, Leak, Piece, Score, SetScore, SystemResult};
use crate::model_args::ArchArg;
use crate::pretrained::{default_feature_cache, train_transfer_head, TransferInputs};
use anyhow::Result;
use model::nets::musicnn::{HeadConfig, HeadInput, Variant};
use model::train::{
    evaluate, fit_classic, train, ClassicConfig, ClipFeatures, TrainConfig, TrainOutcome,
    TransferConfig,
};
use model::weights::{LoadedModel, ModelCard};
use model::GENRES;
use std::sync::Arc;

/// Seconds between scored windows: non-overlapping 3-s windows, the same for every system.
pub const SCORE_HOP_S: f32 = 3.0;

/// A row of the zoo: a system `train --arch` trains (by the same name), or this project's
/// previous default, musicnn-MTT (frozen) + a genre head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Arch(ArchArg),
    MusicnnMtt,
}

/// clap's derive wants a flat enum; the rows are `ArchArg`'s values plus one, so they
/// are listed from it rather than spelt out twice.
impl clap::ValueEnum for System {
    fn value_variants<'a>() -> &'a [Self] {
        System::all()
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            System::Arch(a) => a.to_possible_value(),
            System::MusicnnMtt => Some(clap::builder::PossibleValue::new("musicnn-mtt")),
        }
    }
}

impl System {
    /// Every row, in the table's order (`ArchArg`'s, then musicnn-MTT).
    pub fn all() -> &'static [System] {
        static ALL: std::sync::OnceLock<Vec<System>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| {
            <ArchArg as clap::ValueEnum>::value_variants()
                .iter()
                .map(|&a| System::Arch(a))
                .chain([System::MusicnnMtt])
                .collect()
        })
    }

    pub fn name(self) -> String {
        crate::model_args::cli_name(self)
    }

    /// The network or classical system a trained-here row trains.
    fn arch(self) -> Option<ArchArg> {
        match self {
            System::Arch(a) => Some(a),
            System::MusicnnMtt => None,
        }
    }

    /// The training settings the zoo imposes: each network's trainer defaults
    /// ([`TrainConfig::for_arch`]) but for an epoch cap chosen per system from its cost per
    /// window, so that the whole zoo fits an hour of an idle two-core machine (the table
    /// says so), two random crops per clip and epoch in batches of 16 (more steps
    /// for the same windows), validation windows every 3 s, and early stopping after 4
    /// epochs without a better validation score.
    fn train_config(self, seed: u64) -> TrainConfig {
        let epochs = match self.arch() {
            Some(ArchArg::Seed2Block) => 10,
            Some(ArchArg::Seed128Chunk) => 12,
            Some(ArchArg::Crnn) => 6,
            Some(ArchArg::SeedCnn) => 8,
            Some(ArchArg::Seed4Block) => 2,
            // Fitted in one pass, or a head with its own settings.
            Some(
                ArchArg::FeaturesSvm
                | ArchArg::FeaturesLogistic
                | ArchArg::FeaturesKnn
                | ArchArg::FeaturesForest,
            )
            | None => 0,
        };
        let defaults = self
            .arch()
            .map_or_else(TrainConfig::default, |a| TrainConfig::for_arch(&a.arch()));
        TrainConfig {
            epochs,
            batch_size: 16,
            crops_per_clip: 2,
            early_stop: 4,
            eval_hop_s: SCORE_HOP_S,
            seed,
            ..defaults
        }
    }

    /// The transfer recipe of the default model, with the training windows at two levels
    /// instead of five (the backbone pass per window and level is most of its cost).
    fn transfer_config(seed: u64) -> TransferConfig {
        TransferConfig {
            seed,
            train_hop_s: 2.0,
            levels_db: vec![-30.0, -18.0],
            ..TransferConfig::default()
        }
    }

    /// The classical systems' settings: the trainer's defaults with the zoo's seed.
    fn classic_config(seed: u64) -> ClassicConfig {
        ClassicConfig {
            seed,
            eval_hop_s: SCORE_HOP_S,
            ..ClassicConfig::default()
        }
    }

    fn settings(self, seed: u64) -> String {
        match self.arch() {
            Some(a) if a.is_classic() => format!(
                "one fit on a window summary every {} s, nothing capped",
                Self::classic_config(seed).train_hop_s
            ),
            Some(_) => {
                let c = self.train_config(seed);
                format!(
                    "at most {} epochs of {} crops per clip, batch {}, lr {:.0e}, early stop {}",
                    c.epochs, c.crops_per_clip, c.batch_size, c.lr, c.early_stop
                )
            }
            None => {
                let c = Self::transfer_config(seed);
                format!(
                    "head: at most {} epochs, training windows every {} s at {:?} dBFS",
                    c.epochs, c.train_hop_s, c.levels_db
                )
            }
        }
    }

    pub fn fingerprint(self, seed: u64, data: &str) -> String {
        let cfg = match self.arch() {
            Some(a) if a.is_classic() => format!("{:?}{:?}", a.arch(), Self::classic_config(seed)),
            Some(a) => format!("{:?}{:?}", a.arch(), self.train_config(seed)),
            None => format!("{:?}", Self::transfer_config(seed)),
        };
        format!(
            "zoo-v1|{}|{data}|{seed}|{cfg}|hop {SCORE_HOP_S}",
            self.name()
        )
    }

    fn card(self) -> Result<ModelCard> {
        Ok(match self.arch() {
            Some(a) => ModelCard::from_scratch(a.arch())?,
            None => ModelCard::musicnn(
                Variant::Mtt,
                HeadConfig {
                    input: HeadInput::Pooled,
                    dropout: 0.5,
                },
            ),
        })
    }

    /// One training run on the given clips.
    fn train(
        self,
        lab: &mut Lab,
        card: &ModelCard,
        train_f: &[ClipFeatures],
        valid_f: &[ClipFeatures],
    ) -> Result<TrainOutcome> {
        Ok(match self.arch() {
            Some(a) if a.is_classic() => {
                let cfg = Self::classic_config(lab.seed);
                fit_classic(card, train_f, valid_f, &cfg, &lab.device, &mut lab.bars)?.1
            }
            Some(_) => train(
                card,
                train_f,
                valid_f,
                &self.train_config(lab.seed),
                &lab.device,
                &mut lab.bars,
            )?,
            None => train_transfer_head(
                card,
                &TransferInputs {
                    backbone_weights: None,
                    feature_cache: Some(default_feature_cache()),
                },
                train_f,
                valid_f,
                &Self::transfer_config(lab.seed),
                &lab.device,
                &mut lab.bars,
            )?,
        })
    }

    pub fn run(self, lab: &mut Lab) -> Result<SystemResult> {
        let card = self.card()?;
        let gtzan = lab.features(&card, "gtzan")?;
        let (mut clip, mut window, mut runs, mut seconds) = (vec![], vec![], vec![], vec![]);
        for (k, fold) in folds::cv_folds(&lab.gtzan).iter().enumerate() {
            eprintln!("{}: fold {}/{}", self.name(), k + 1, folds::FOLDS);
            let t = std::time::Instant::now();
            let o = self.train(
                lab,
                &card,
                &pick(&gtzan, &fold.train),
                &pick(&gtzan, &fold.valid),
            )?;
            seconds.push(t.elapsed().as_secs_f64());
            let r = evaluate(
                o.net.as_ref(),
                &card,
                &pick(&gtzan, &fold.test),
                SCORE_HOP_S,
                &lab.device,
            )?;
            eprintln!(
                "{}: fold {} clip {:.3} window {:.3} (best epoch {} of {})",
                self.name(),
                k + 1,
                r.clip.accuracy,
                r.window.accuracy,
                o.best_epoch,
                o.history.len()
            );
            clip.push(r.clip.accuracy);
            window.push(r.window.accuracy);
            runs.push(format!(
                "fold {}: best epoch {} of {}",
                k + 1,
                o.best_epoch,
                o.history.len()
            ));
        }
        let cv = SetScore {
            clip: Score::of(clip),
            window: Score::of(window),
            clips: folds::cv_folds(&lab.gtzan)
                .iter()
                .map(|f| f.test.len())
                .sum(),
        };

        // Music from elsewhere: all of gtzan-mini (clip 9 validating) + one Emotify half.
        eprintln!("{}: gtzan-mini + Emotify train half", self.name());
        let f = folds::all_but_nine(&lab.gtzan);
        let mut train_f = pick(&gtzan, &f.train);
        let extra = lab.features(&card, "emotify_train")?;
        train_f.extend(extra.iter().map(folds::copy));
        let t = std::time::Instant::now();
        let o = self.train(lab, &card, &train_f, &pick(&gtzan, &f.valid))?;
        seconds.push(t.elapsed().as_secs_f64());
        runs.push(format!(
            "gtzan-mini + Emotify: best epoch {} of {}",
            o.best_epoch,
            o.history.len()
        ));
        drop(train_f);
        let heldout = lab.features(&card, "emotify_heldout")?;
        let r = evaluate(o.net.as_ref(), &card, &heldout, SCORE_HOP_S, &lab.device)?;
        let emotify_heldout = SetScore {
            clip: Score::of(vec![r.clip.accuracy]),
            window: Score::of(vec![r.window.accuracy]),
            clips: heldout.len(),
        };
        let parameters = model::train::parameter_count(&o.varmap);
        let loaded = Arc::new(LoadedModel {
            card: card.clone(),
            net: o.net,
            device: lab.device.clone(),
            source: format!("zoo {}", self.name()),
        });
        let cc = cc_pieces(&loaded, &lab.cc)?;
        let ms_per_window = one_core_ms(&loaded)?;

        let gtzan_test = match lab.filtered.clone() {
            None => None,
            Some(s) => Some(self.filtered_test(lab, &card, &s)?),
        };
        Ok(SystemResult {
            name: self.name(),
            fingerprint: String::new(),
            settings: self.settings(lab.seed),
            cv,
            emotify_heldout,
            cc,
            gtzan_test,
            cost: Cost {
                parameters,
                train_seconds: seconds.iter().sum::<f64>() / seconds.len() as f64,
                ms_per_window,
                window_seconds: card.window_seconds(),
            },
            runs,
        })
    }

    /// The artist-filtered split of a full GTZAN copy: train, validate, score its test set.
    fn filtered_test(
        self,
        lab: &mut Lab,
        card: &ModelCard,
        s: &model::train::Split,
    ) -> Result<SetScore> {
        let load = |lab: &mut Lab, clips: &[model::train::Clip]| {
            model::train::load_features(clips, &card.front_end, card.window_frames, &mut lab.bars)
        };
        let (tr, va, te) = (
            load(lab, &s.train)?,
            load(lab, &s.valid)?,
            load(lab, &s.test)?,
        );
        let o = self.train(lab, card, &tr, &va)?;
        let r = evaluate(o.net.as_ref(), card, &te, SCORE_HOP_S, &lab.device)?;
        Ok(SetScore {
            clip: Score::of(vec![r.clip.accuracy]),
            window: Score::of(vec![r.window.accuracy]),
            clips: te.len(),
        })
    }
}

/// Each CC piece through the Tagger, as `cargo xtask tag` would: top genre of the mean
/// distribution.
fn cc_pieces(model: &Arc<LoadedModel>, clips: &[model::train::Clip]) -> Result<Vec<Piece>> {
    let opts = model::tagger::TaggerOptions {
        hop_s: SCORE_HOP_S,
        ..Default::default()
    };
    clips
        .iter()
        .map(|c| {
            let audio = model::audio::decode_file(&c.path)?;
            let t = model::tagger::tag_audio(model.clone(), &audio, opts)?;
            Ok(Piece {
                file: c
                    .path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into(),
                expected: GENRES[c.genre].into(),
                got: model.card.labels[t.top].clone(),
                probability: t.distribution[t.top],
            })
        })
        .collect()
}

/// Milliseconds for one window, batch 1, on a one-thread pool (candle's CPU kernels and
/// the fused convolutions run on the current rayon pool): median of 15 after a warm-up.
fn one_core_ms(model: &LoadedModel) -> Result<f64> {
    let card = &model.card;
    let x = candle_core::Tensor::randn(
        0f32,
        1.0,
        (1, card.front_end.mel.n_mels, card.window_frames),
        &model.device,
    )?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| -> Result<f64> {
        model.net.forward_t(&x, false)?;
        let mut times: Vec<f64> = (0..15)
            .map(|_| {
                let t = std::time::Instant::now();
                model
                    .net
                    .forward_t(&x, false)
                    .map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<candle_core::Result<_>>()?;
        times.sort_by(f64::total_cmp);
        Ok(times[times.len() / 2])
    })
}

pub fn leak_fingerprint(seed: u64, data: &str) -> String {
    format!(
        "zoo-leak-v1|{data}|{seed}|{LEAK_CHUNKS_PER_CLIP} per clip|{:?}|{:?}",
        ArchArg::Seed128Chunk.arch(),
        leak_config(seed)
    )
}

/// Chunks kept per clip for the leak's runs (of the ten a 30-s clip has): the time cap.
pub const LEAK_CHUNKS_PER_CLIP: usize = 3;

/// The chunk runs train one pass over every training chunk per epoch.
fn leak_config(seed: u64) -> TrainConfig {
    TrainConfig {
        epochs: 3,
        crops_per_clip: 1,
        ..System::Arch(ArchArg::Seed128Chunk).train_config(seed)
    }
}

/// seed-128chunk on 128 × 128 chunks split at random (the paper's protocol) and by clip.
pub fn leak(lab: &mut Lab) -> Result<Leak> {
    let card = System::Arch(ArchArg::Seed128Chunk).card()?;
    let gtzan = lab.features(&card, "gtzan")?;
    let (chunks, from) = folds::chunks(&gtzan, card.window_frames, LEAK_CHUNKS_PER_CLIP);
    let cfg = leak_config(lab.seed);
    let run = |folds: Vec<Fold>, what: &str, lab: &mut Lab| -> Result<Score> {
        let mut acc = Vec::new();
        for (k, f) in folds.iter().enumerate() {
            eprintln!("leak, {what}: fold {}/{}", k + 1, folds.len());
            let o = train(
                &card,
                &pick(&chunks, &f.train),
                &pick(&chunks, &f.valid),
                &cfg,
                &lab.device,
                &mut lab.bars,
            )?;
            let r = evaluate(
                o.net.as_ref(),
                &card,
                &pick(&chunks, &f.test),
                SCORE_HOP_S,
                &lab.device,
            )?;
            eprintln!(
                "leak, {what}: fold {} chunk accuracy {:.3}",
                k + 1,
                r.window.accuracy
            );
            acc.push(r.window.accuracy);
        }
        Ok(Score::of(acc))
    };
    let random_chunks = run(
        folds::chunk_folds(chunks.len(), lab.seed),
        "random chunks",
        lab,
    )?;
    let by_clip = run(
        folds::chunk_folds_by_clip(&lab.gtzan, &from),
        "chunks by clip",
        lab,
    )?;
    Ok(Leak {
        fingerprint: String::new(),
        settings: format!(
            "{LEAK_CHUNKS_PER_CLIP} chunks per clip, at most {} epochs of one pass over the training chunks, early stop {}",
            cfg.epochs, cfg.early_stop
        ),
        chunks: chunks.len(),
        random_chunks,
        by_clip,
    })
}
