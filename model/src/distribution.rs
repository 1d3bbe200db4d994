//! A genre distribution: one value per label of the model's card, in the card's order —
//! probabilities (the Tagger's windows, its smoothed and whole-file distributions, the
//! plugin's display), or log-probabilities and logits, which rank the labels the same way.

/// Index of the largest value (the first one on ties).
///
/// NaN is treated as negative infinity, so a single NaN logit cannot hijack
/// the prediction; if every value is NaN the result is `0`.
///
/// # Panics
/// On an empty slice (there is no class to pick).
pub fn argmax(p: &[f32]) -> usize {
    assert!(!p.is_empty(), "argmax of an empty slice");
    let key = |v: f32| if v.is_nan() { f32::NEG_INFINITY } else { v };
    let mut best = 0;
    let mut best_v = key(p[0]);
    for (i, &v) in p.iter().enumerate().skip(1) {
        let v = key(v);
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best
}

/// "Unsure" when the runner-up is within this much of the top label: the one rule for the
/// editor's "unsure" and the `tag --json` flag.
pub const UNSURE_MARGIN: f32 = 0.05;

/// The runner-up: its index and probability (`None` with fewer than two labels).
pub fn runner_up(p: &[f32]) -> Option<(usize, f32)> {
    if p.len() < 2 {
        return None;
    }
    let top = argmax(p);
    let mut rest: Vec<(usize, f32)> = p
        .iter()
        .copied()
        .enumerate()
        .filter(|&(i, _)| i != top)
        .collect();
    rest.sort_by(|a, b| b.1.total_cmp(&a.1));
    rest.first().copied()
}

/// Whether a probability distribution's top label is within [`UNSURE_MARGIN`] of the
/// runner-up (never for a single label).
pub fn unsure(p: &[f32]) -> bool {
    runner_up(p).is_some_and(|(_, second)| p[argmax(p)] - second < UNSURE_MARGIN)
}

/// The softmax of logits, computed from their maximum so large values cannot overflow.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&z| (z - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsure_when_the_runner_up_is_within_five_points() {
        assert!(unsure(&[0.40, 0.36, 0.24]));
        assert!(!unsure(&[0.45, 0.36, 0.19]));
        assert_eq!(runner_up(&[0.2, 0.5, 0.3]), Some((2, 0.3)));
        assert!(!unsure(&[1.0]));
        assert_eq!(runner_up(&[1.0]), None);
    }

    #[test]
    fn argmax_first_max_and_nan() {
        assert_eq!(argmax(&[0.1, 0.7, 0.2]), 1);
        assert_eq!(argmax(&[0.5, 0.2, 0.5]), 0, "first max wins ties");
        assert_eq!(argmax(&[f32::NAN, 0.1, 0.3]), 2);
        assert_eq!(argmax(&[0.3, f32::NAN, 0.1]), 0);
        assert_eq!(argmax(&[f32::NAN, f32::NAN]), 0);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NAN, -1e30]), 2);
        assert_eq!(argmax(&[-3.0]), 0);
    }

    #[test]
    fn softmax_sums_to_one_and_survives_large_logits() {
        let p = softmax(&[1000.0, 999.0, -5.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((p[0] / p[1] - 1f32.exp()).abs() < 1e-4 && p[2] < 1e-6);
    }

    #[test]
    #[should_panic]
    fn argmax_empty_panics() {
        argmax(&[]);
    }
}
