//! The rules that turn a candidate's distributions into a row of the table: clip means,
//! accuracies, per-genre counts, the CC pieces' answers, the mix's timelines with and
//! without smoothing, and the mean of two candidates. Pure functions, unit-tested.

use super::outputs::{ClipDists, MixTimeline, Outputs, Scored};
use super::HOLD_S;
use crate::model_args::DecisionArg;
use crate::protocol::{genre_index, CC_PIECES};
use model::distribution::argmax;
use model::dj_mix::{self, MixScore, Segment};
use model::tagger::{smooth, TaggerOptions};
use model::train::WindowFeatures;
use model::GENRES;

/// The average of two candidates' distributions: per clip the mean of their clip means,
/// per mix window the mean with the other's window nearest in time.
pub fn ensemble(
    a: &Scored,
    a_out: &Outputs,
    b: &Scored,
    b_out: &Outputs,
) -> (ClipDists, MixTimeline) {
    let avg = |x: &[f32], y: &[f32]| -> Vec<f32> {
        x.iter().zip(y).map(|(p, q)| (p + q) / 2.0).collect()
    };
    let both = |pa: &[Vec<f32>], sa: &WindowFeatures, pb: &[Vec<f32>], sb: &WindowFeatures| {
        assert_eq!(
            sa.clip_labels, sb.clip_labels,
            "both members scored the same clips"
        );
        clip_means(pa, sa)
            .iter()
            .zip(clip_means(pb, sb))
            .map(|(x, y)| avg(x, &y))
            .collect::<Vec<_>>()
    };
    let clips = [
        both(&a.valid, &a_out.valid, &b.valid, &b_out.valid),
        both(&a.heldout, &a_out.heldout, &b.heldout, &b_out.heldout),
        both(&a.cc, &a_out.cc, &b.cc, &b_out.cc),
    ];
    let mix = a
        .mix
        .iter()
        .map(|(t, p)| {
            let j = ((t / b_out.mix_hop_s).round() as usize).min(b.mix.len() - 1);
            (*t, avg(p, &b.mix[j].1))
        })
        .collect();
    (clips, mix)
}

/// Mean distribution of each clip's windows.
pub fn clip_means(p: &[Vec<f32>], set: &WindowFeatures) -> Vec<Vec<f32>> {
    let n = set.clip_labels.len();
    let k = p.first().map_or(0, Vec::len);
    let mut sum = vec![vec![0f32; k]; n];
    let mut count = vec![0usize; n];
    for (row, &c) in p.iter().zip(&set.clip_of) {
        sum[c].iter_mut().zip(row).for_each(|(s, v)| *s += v);
        count[c] += 1;
    }
    for (s, &c) in sum.iter_mut().zip(&count) {
        s.iter_mut().for_each(|v| *v /= c.max(1) as f32);
    }
    sum
}

pub fn row_name(d: DecisionArg) -> &'static str {
    match d {
        DecisionArg::ZeroShot => "(a) zero-shot: softmax over the ten GTZAN-named logits",
        DecisionArg::ZeroShotGroups => {
            "(a') zero-shot over ontology groups: each genre's largest logit of its class and \
             the class's children"
        }
        DecisionArg::Calibrated => "(b) zero-shot + per-genre bias + temperature",
        DecisionArg::HeadEmbedding => "(c) head on the 384-d embedding",
        DecisionArg::HeadLogits => "(c) head on the 527 logits",
        DecisionArg::HeadBoth => "(c) head on embedding + logits",
    }
}

/// One row of the table.
pub struct Row {
    pub name: String,
    pub fitted: usize,
    /// The epoch kept and the epochs run, for fitted decisions.
    pub epochs: Option<(usize, usize)>,
    pub valid_clip: f64,
    pub valid_window: Option<f64>,
    pub heldout_clip: f64,
    /// Correct of each held-out genre, in the order classical, pop, rock.
    pub heldout_per_genre: Vec<(String, usize, usize)>,
    pub cc: Vec<(String, String, f32, bool)>,
    pub mix_raw: MixScore,
    pub mix_smoothed: MixScore,
    pub ms_per_window: f64,
}

pub fn accuracy(clip_p: &[Vec<f32>], labels: &[usize]) -> f64 {
    let right = clip_p
        .iter()
        .zip(labels)
        .filter(|(p, &y)| argmax(p) == y)
        .count();
    right as f64 / labels.len().max(1) as f64
}

#[allow(clippy::too_many_arguments)]
pub fn row(
    name: &str,
    fitted: usize,
    clips: ClipDists,
    window_valid: Option<f64>,
    mix: &[(f64, Vec<f32>)],
    out: &Outputs,
    segments: &[Segment],
    window_s: f64,
    ms_per_window: f64,
) -> Row {
    let [valid, heldout, cc] = clips;
    let per_genre = ["classical", "pop", "rock"]
        .iter()
        .map(|g| {
            let gi = genre_index(g);
            let of: Vec<usize> = (0..heldout.len())
                .filter(|&c| out.heldout.clip_labels[c] == gi)
                .collect();
            let right = of.iter().filter(|&&c| argmax(&heldout[c]) == gi).count();
            (g.to_string(), right, of.len())
        })
        .collect();
    let cc_answers = cc
        .iter()
        .zip(&out.cc.clip_labels)
        .zip(CC_PIECES)
        .map(|((p, &y), (file, _))| {
            let top = argmax(p);
            let stem = file.strip_suffix(".ogg").unwrap_or(file);
            (stem.to_string(), GENRES[top].to_string(), p[top], top == y)
        })
        .collect();
    let timeline = |smoothing_s: f32| {
        let opts = TaggerOptions {
            hop_s: out.mix_hop_s as f32,
            smoothing_s,
            ..Default::default()
        };
        let alpha = opts.smoothing_alpha();
        let mut state = None;
        mix.iter()
            .map(|(t, p)| {
                smooth(&mut state, p, alpha);
                (*t, argmax(state.as_ref().expect("set by smooth")))
            })
            .collect::<Vec<_>>()
    };
    Row {
        name: name.to_string(),
        fitted,
        epochs: None,
        valid_clip: accuracy(&valid, &out.valid.clip_labels),
        valid_window: window_valid,
        heldout_clip: accuracy(&heldout, &out.heldout.clip_labels),
        heldout_per_genre: per_genre,
        cc: cc_answers,
        mix_raw: dj_mix::score(segments, &timeline(0.0), window_s, HOLD_S),
        mix_smoothed: dj_mix::score(
            segments,
            &timeline(TaggerOptions::default().smoothing_s),
            window_s,
            HOLD_S,
        ),
        ms_per_window,
    }
}

/// A candidate's rows from its distributions.
pub fn scored_row(
    name: &str,
    fitted: usize,
    s: &Scored,
    out: &Outputs,
    segments: &[Segment],
    window_s: f64,
    ms: f64,
) -> Row {
    let clips = [
        clip_means(&s.valid, &out.valid),
        clip_means(&s.heldout, &out.heldout),
        clip_means(&s.cc, &out.cc),
    ];
    let wv = accuracy(&s.valid, &out.valid.labels);
    row(
        name,
        fitted,
        clips,
        Some(wv),
        &s.mix,
        out,
        segments,
        window_s,
        ms,
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A distribution with `p` on genre `g` and the rest spread evenly.
    pub fn peaked(g: usize, p: f32) -> Vec<f32> {
        let mut v = vec![(1.0 - p) / 9.0; 10];
        v[g] = p;
        v
    }

    /// Window features with nothing in them but which clip each window is of.
    pub fn windows(clip_labels: Vec<usize>, clip_of: Vec<usize>) -> WindowFeatures {
        WindowFeatures {
            dim: 0,
            x: Vec::new(),
            labels: clip_of.iter().map(|&c| clip_labels[c]).collect(),
            clip_of,
            clip_labels,
        }
    }

    const CL: usize = 1; // classical
    const CO: usize = 2; // country
    const JA: usize = 5; // jazz
    const PO: usize = 7; // pop
    const RO: usize = 9; // rock

    fn outputs() -> Outputs {
        Outputs {
            fit: windows(vec![], vec![]),
            // Two clips, two windows each.
            valid: windows(vec![0, CL], vec![0, 0, 1, 1]),
            heldout: windows(vec![CL, CL, PO, RO], vec![0, 1, 2, 3]),
            cc: windows(vec![CL, CL, JA, CO], vec![0, 1, 2, 3]),
            mix: windows(vec![0], vec![0; 8]),
            mix_hop_s: 0.5,
        }
    }

    #[test]
    fn clip_means_average_each_clips_windows() {
        let set = windows(vec![0, 1], vec![0, 1, 0]);
        let p = vec![vec![1.0, 0.0], vec![0.2, 0.8], vec![0.0, 1.0]];
        assert_eq!(clip_means(&p, &set), vec![vec![0.5, 0.5], vec![0.2, 0.8]]);
        assert_eq!(accuracy(&[vec![0.4, 0.6], vec![0.9, 0.1]], &[1, 1]), 0.5);
        assert_eq!(accuracy(&[], &[]), 0.0);
    }

    #[test]
    fn a_row_counts_clips_per_genre_and_names_the_cc_answers() {
        let out = outputs();
        let clips = [
            vec![peaked(0, 0.9), peaked(RO, 0.6)],
            // Held out: classical right, classical wrong, pop right, rock wrong.
            vec![
                peaked(CL, 0.5),
                peaked(PO, 0.5),
                peaked(PO, 0.7),
                peaked(CO, 0.4),
            ],
            vec![
                peaked(CL, 0.8),
                peaked(JA, 0.3),
                peaked(JA, 0.35),
                peaked(CO, 0.25),
            ],
        ];
        let mix: MixTimeline = (0..8).map(|i| (i as f64 * 0.5, peaked(CL, 0.9))).collect();
        let segments = [Segment {
            name: "m".into(),
            label: CL,
            start_s: 0.0,
            end_s: 10.0,
        }];
        let r = row("x", 7, clips, Some(0.25), &mix, &out, &segments, 3.0, 1.5);
        assert_eq!((r.valid_clip, r.valid_window), (0.5, Some(0.25)));
        assert_eq!(r.heldout_clip, 0.5);
        let per: Vec<(&str, usize, usize)> = r
            .heldout_per_genre
            .iter()
            .map(|(g, k, n)| (g.as_str(), *k, *n))
            .collect();
        assert_eq!(per, [("classical", 1, 2), ("pop", 1, 1), ("rock", 0, 1)]);
        let cc: Vec<(&str, &str, bool)> =
            r.cc.iter()
                .map(|(f, g, _, ok)| (f.as_str(), g.as_str(), *ok))
                .collect();
        assert_eq!(
            cc,
            [
                ("brahms_hungarian_dance_5", "classical", true),
                ("tchaikovsky_sugar_plum_fairy", "jazz", false),
                ("vibe_ace", "jazz", true),
                ("lets_go_fishin", "country", true)
            ]
        );
        assert_eq!(r.cc[0].2, 0.8);
        assert_eq!((r.mix_raw.windows, r.mix_raw.right), (8, 8));
    }

    #[test]
    fn smoothing_applies_to_the_smoothed_mix_column_alone() {
        let out = outputs();
        // Classical for 10 s, then pop; the windows switch at once.
        let segments = [
            Segment {
                name: "a".into(),
                label: CL,
                start_s: 0.0,
                end_s: 10.0,
            },
            Segment {
                name: "b".into(),
                label: PO,
                start_s: 10.0,
                end_s: 20.0,
            },
        ];
        let mix: MixTimeline = (0..40)
            .map(|i| {
                let t = i as f64 * 0.5;
                (t, peaked(if t < 10.0 { CL } else { PO }, 0.9))
            })
            .collect();
        let clips = [vec![], vec![], vec![]];
        let mut out = out;
        out.valid = windows(vec![], vec![]);
        out.heldout = windows(vec![], vec![]);
        out.cc = windows(vec![], vec![]);
        let r = row("x", 0, clips, None, &mix, &out, &segments, 0.0, 1.0);
        assert_eq!((r.mix_raw.right, r.mix_raw.changes), (40, 1));
        assert_eq!(r.mix_raw.found(), 1);
        // The default smoothing keeps classical on for a while after the cut.
        assert!(r.mix_smoothed.right < 40, "{:?}", r.mix_smoothed);
        assert!(
            r.mix_smoothed.median_delay_s() > r.mix_raw.median_delay_s(),
            "{:?} vs {:?}",
            r.mix_smoothed,
            r.mix_raw
        );
    }

    #[test]
    fn an_ensemble_averages_clip_means_and_the_nearest_mix_window() {
        let out = outputs();
        let s = |g: usize, mix_g: usize| Scored {
            valid: vec![peaked(g, 1.0); 4],
            heldout: vec![peaked(g, 1.0); 4],
            cc: vec![peaked(g, 1.0); 4],
            mix: (0..8)
                .map(|i| (i as f64 * 0.5, peaked(mix_g, 1.0)))
                .collect(),
        };
        let (a, b) = (s(0, 3), s(RO, 4));
        // The other member's windows twice as far apart.
        let mut b_out = outputs();
        b_out.mix_hop_s = 1.0;
        let b = Scored {
            mix: b
                .mix
                .iter()
                .take(4)
                .map(|(i, p)| (i * 2.0, p.clone()))
                .collect(),
            ..b
        };
        let (clips, mix) = ensemble(&a, &out, &b, &b_out);
        let mut half = vec![0.0; 10];
        half[0] = 0.5;
        half[RO] = 0.5;
        assert_eq!(clips[0], vec![half.clone(); 2]);
        assert_eq!(clips[2].len(), 4);
        assert_eq!(mix.len(), 8);
        let mut mixed = vec![0.0; 10];
        mixed[3] = 0.5;
        mixed[4] = 0.5;
        assert!(mix.iter().all(|(_, p)| *p == mixed));
        assert_eq!(mix[3].0, 1.5, "times are the first member's");
    }
}
