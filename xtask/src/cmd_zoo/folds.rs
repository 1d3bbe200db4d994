//! The zoo's folds: which clips train, validate and score in each run. Every run
//! validates (best epoch, early stopping) on clips carved out of its own training data, so
//! no score ever comes from clips that chose the weights. The clip sets themselves (CC
//! pieces, Emotify halves) are the shared [`crate::protocol`].

use model::train::{Clip, ClipFeatures};
use rand::seq::SliceRandom;

/// Folds of the cross-validation on gtzan-mini.
pub const FOLDS: usize = 5;

/// One training run's clips, by position in the clip list they were cut from.
#[derive(Debug, Clone)]
pub struct Fold {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
}

/// 5-fold cross-validation by clip index: fold `k` scores clips `2k` and `2k + 1` of every
/// genre; of the eight left, the highest index validates and seven train. Only clips with
/// index below 10 take part (all of gtzan-mini; the first ten of each genre in a full copy).
pub fn cv_folds(clips: &[Clip]) -> Vec<Fold> {
    (0..FOLDS as u32)
        .map(|k| {
            let test = [2 * k, 2 * k + 1];
            let valid = if k == FOLDS as u32 - 1 { 7 } else { 9 };
            let mut f = Fold {
                train: Vec::new(),
                valid: Vec::new(),
                test: Vec::new(),
            };
            for (i, c) in clips.iter().enumerate().filter(|(_, c)| c.index < 10) {
                if test.contains(&c.index) {
                    f.test.push(i)
                } else if c.index == valid {
                    f.valid.push(i)
                } else {
                    f.train.push(i)
                }
            }
            f
        })
        .collect()
}

/// The run scored on music from elsewhere: every clip of index below 10 trains except
/// clip 9 of each genre, which validates.
pub fn all_but_nine(clips: &[Clip]) -> Fold {
    let mut f = Fold {
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for (i, c) in clips.iter().enumerate().filter(|(_, c)| c.index < 10) {
        if c.index == 9 {
            f.valid.push(i)
        } else {
            f.train.push(i)
        }
    }
    f
}

/// Copies of the clips at `idx` (the trainer takes a slice of owned features).
pub fn pick(feats: &[ClipFeatures], idx: &[usize]) -> Vec<ClipFeatures> {
    idx.iter().map(|&i| copy(&feats[i])).collect()
}

pub fn copy(f: &ClipFeatures) -> ClipFeatures {
    ClipFeatures {
        clip: f.clip.clone(),
        mel: f.mel.clone(),
    }
}

/// Every clip cut into non-overlapping chunks of `frames` frames, each a clip of its own
/// (the trainer's random crop of a chunk is the chunk): how the 128 × 128-chunk paper
/// made its data set. At most `per_clip` chunks of a clip are kept, spread evenly over it
/// (the zoo's time cap). Returns the chunks and the clip each came from.
pub fn chunks(
    feats: &[ClipFeatures],
    frames: usize,
    per_clip: usize,
) -> (Vec<ClipFeatures>, Vec<usize>) {
    let (mut out, mut from) = (Vec::new(), Vec::new());
    for (ci, f) in feats.iter().enumerate() {
        let n = f.mel.n_mels;
        let total = f.mel.frames() / frames;
        let keep = total.min(per_clip);
        for j in 0..keep {
            let k = j * total / keep;
            let (a, b) = (k * frames, (k + 1) * frames);
            out.push(ClipFeatures {
                clip: f.clip.clone(),
                mel: model::mel::Mel {
                    n_mels: n,
                    data: f.mel.data[a * n..b * n].to_vec(),
                    energy: f.mel.energy[a..b].to_vec(),
                },
            });
            from.push(ci);
        }
    }
    (out, from)
}

/// The paper's split, five ways: chunks shuffled with `seed` and dealt into five folds, so
/// chunks of one clip land on both sides. A random eighth of each fold's training chunks
/// validates.
pub fn chunk_folds(n: usize, seed: u64) -> Vec<Fold> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut model::rng::seeded(seed, 0x200));
    (0..FOLDS)
        .map(|k| {
            let test: Vec<usize> = order.iter().copied().skip(k).step_by(FOLDS).collect();
            let rest: Vec<usize> = order
                .iter()
                .copied()
                .enumerate()
                .filter(|(p, _)| p % FOLDS != k)
                .map(|(_, i)| i)
                .collect();
            let (valid, train) = rest.split_at(rest.len() / 8);
            Fold {
                train: train.to_vec(),
                valid: valid.to_vec(),
                test,
            }
        })
        .collect()
}

/// The by-clip folds of [`cv_folds`] carried over to chunks: a chunk goes where its clip goes.
pub fn chunk_folds_by_clip(clips: &[Clip], from: &[usize]) -> Vec<Fold> {
    cv_folds(clips)
        .into_iter()
        .map(|f| {
            let side = |set: &[usize]| -> Vec<usize> {
                (0..from.len())
                    .filter(|&i| set.contains(&from[i]))
                    .collect()
            };
            Fold {
                train: side(&f.train),
                valid: side(&f.valid),
                test: side(&f.test),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::GENRES;
    use std::path::PathBuf;

    fn mini() -> Vec<Clip> {
        (0..10)
            .flat_map(|g| {
                (0..10).map(move |i| Clip {
                    path: PathBuf::from(format!("{}.{i:05}.flac", GENRES[g])),
                    genre: g,
                    index: i,
                })
            })
            .collect()
    }

    #[test]
    fn cv_folds_score_every_clip_once_and_never_train_on_it() {
        let clips = mini();
        let folds = cv_folds(&clips);
        let mut scored = vec![0; clips.len()];
        for f in &folds {
            assert_eq!((f.train.len(), f.valid.len(), f.test.len()), (70, 10, 20));
            for &i in &f.test {
                scored[i] += 1;
                assert!(!f.train.contains(&i) && !f.valid.contains(&i));
            }
            assert!(f.valid.iter().all(|i| !f.train.contains(i)));
            // Two clips of every genre scored, one validating.
            for g in 0..10 {
                assert_eq!(f.test.iter().filter(|&&i| clips[i].genre == g).count(), 2);
                assert_eq!(f.valid.iter().filter(|&&i| clips[i].genre == g).count(), 1);
            }
        }
        assert!(scored.iter().all(|&n| n == 1));
    }

    #[test]
    fn chunk_folds_cover_every_chunk_once_and_by_clip_folds_keep_clips_whole() {
        let folds = chunk_folds(103, 7);
        let mut seen = vec![0; 103];
        for f in &folds {
            f.test.iter().for_each(|&i| seen[i] += 1);
            assert_eq!(f.train.len() + f.valid.len() + f.test.len(), 103);
        }
        assert!(seen.iter().all(|&n| n == 1));
        assert_eq!(chunk_folds(103, 7)[2].test, folds[2].test, "seeded");

        let clips = mini();
        let from: Vec<usize> = (0..clips.len()).flat_map(|c| [c, c, c]).collect();
        for f in chunk_folds_by_clip(&clips, &from) {
            for &t in &f.test {
                assert!(f.train.iter().all(|&i| from[i] != from[t]));
            }
            assert_eq!(f.test.len(), 60);
        }
    }

    #[test]
    fn chunks_are_whole_windows_spread_over_the_clip() {
        let (n, frames) = (2, 4);
        let clip = |len: usize| ClipFeatures {
            clip: mini()[0].clone(),
            mel: model::mel::Mel {
                n_mels: n,
                data: (0..len * n).map(|v| v as f32).collect(),
                energy: vec![0.0; len],
            },
        };
        // 10 whole chunks (and 2 frames left over); 3 kept: chunks 0, 3 and 6.
        let (c, from) = chunks(&[clip(42), clip(8)], frames, 3);
        assert_eq!(from, vec![0, 0, 0, 1, 1]);
        let starts: Vec<f32> = c.iter().map(|f| f.mel.data[0]).collect();
        assert_eq!(starts, vec![0.0, 24.0, 48.0, 0.0, 8.0]);
        assert!(c.iter().all(|f| f.mel.data.len() == n * frames));
    }

    #[test]
    fn all_but_nine_validates_on_clip_nine() {
        let clips = mini();
        let f = all_but_nine(&clips);
        assert_eq!((f.train.len(), f.valid.len()), (90, 10));
        assert!(f.valid.iter().all(|&i| clips[i].index == 9));
    }
}
