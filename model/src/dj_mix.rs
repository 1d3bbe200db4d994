//! A DJ-mix check: pieces of known genre cut back to back, and how well a timeline of
//! window decisions follows them — the fraction of windows right, which genre changes
//! were found and how long each took. It judges what the live plugin does (a rolling
//! window every hop), which whole-file accuracy cannot.

/// One piece of the mix.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub name: String,
    /// Index into the model's labels.
    pub label: usize,
    pub start_s: f64,
    pub end_s: f64,
}

/// Concatenates pieces (mono, all at `rate`) back to back, each brought to the same RMS
/// level first, as a DJ matches levels; returns the mix and where each piece sits.
pub fn cut_back_to_back(
    pieces: &[(String, usize, Vec<f32>)],
    rate: u32,
    level_db: f32,
) -> (Vec<f32>, Vec<Segment>) {
    let mut mix = Vec::new();
    let mut segments = Vec::new();
    for (name, label, samples) in pieces {
        let start_s = mix.len() as f64 / rate as f64;
        let ms = samples.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / samples.len() as f64;
        let gain = if ms > 1e-12 {
            (10f64.powf(level_db as f64 / 20.0) / ms.sqrt()) as f32
        } else {
            1.0
        };
        mix.extend(samples.iter().map(|&s| (s * gain).clamp(-1.0, 1.0)));
        segments.push(Segment {
            name: name.clone(),
            label: *label,
            start_s,
            end_s: mix.len() as f64 / rate as f64,
        });
    }
    (mix, segments)
}

/// How a timeline followed the mix.
#[derive(Debug, Clone, PartialEq)]
pub struct MixScore {
    pub windows: usize,
    /// Windows whose top genre is the genre of the piece under the window's centre.
    pub right: usize,
    /// Boundaries where the genre changes.
    pub changes: usize,
    /// Seconds from each found change to the end of the first window of the run that
    /// found it (when a live display could first show it).
    pub delays_s: Vec<f64>,
}

impl MixScore {
    pub fn accuracy(&self) -> f64 {
        self.right as f64 / self.windows.max(1) as f64
    }

    pub fn found(&self) -> usize {
        self.delays_s.len()
    }

    /// Median delay of the found changes; `None` when none was found.
    pub fn median_delay_s(&self) -> Option<f64> {
        let mut d = self.delays_s.clone();
        d.sort_by(f64::total_cmp);
        match d.len() {
            0 => None,
            n if n % 2 == 1 => Some(d[n / 2]),
            n => Some((d[n / 2 - 1] + d[n / 2]) / 2.0),
        }
    }
}

/// Scores a timeline of `(window start, top label)` (in time order, windows of
/// `window_s`) against the mix's `segments`. A change counts as found when, before the
/// next piece begins, the top genre becomes the new piece's and stays so for at least
/// `hold_s` of window starts — a one-window flicker is not a found change.
pub fn score(
    segments: &[Segment],
    timeline: &[(f64, usize)],
    window_s: f64,
    hold_s: f64,
) -> MixScore {
    let piece_at = |t: f64| segments.iter().find(|s| t >= s.start_s && t < s.end_s);
    let right = timeline
        .iter()
        .filter(|&&(start, top)| piece_at(start + window_s / 2.0).is_some_and(|s| s.label == top))
        .count();
    let mut changes = 0;
    let mut delays_s = Vec::new();
    for pair in segments.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        if before.label == after.label {
            continue;
        }
        changes += 1;
        // Windows ending after the cut and starting before the next piece.
        let candidates = timeline
            .iter()
            .filter(|&&(start, _)| start + window_s > after.start_s && start < after.end_s);
        let mut run_start: Option<f64> = None;
        for &(start, top) in candidates {
            if top != after.label {
                run_start = None;
                continue;
            }
            let first = *run_start.get_or_insert(start);
            if start - first >= hold_s {
                delays_s.push(first + window_s - after.start_s);
                break;
            }
        }
    }
    MixScore {
        windows: timeline.len(),
        right,
        changes,
        delays_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(label: usize, start_s: f64, end_s: f64) -> Segment {
        Segment {
            name: format!("{label}"),
            label,
            start_s,
            end_s,
        }
    }

    /// Windows every 0.5 s over `secs`, top label from `f(start)`.
    fn timeline(secs: f64, f: impl Fn(f64) -> usize) -> Vec<(f64, usize)> {
        (0..)
            .map(|i| i as f64 * 0.5)
            .take_while(|&t| t + 3.0 <= secs)
            .map(|t| (t, f(t)))
            .collect()
    }

    #[test]
    fn a_perfect_follower_is_right_everywhere_and_finds_every_change() {
        let segs = [seg(1, 0.0, 20.0), seg(5, 20.0, 40.0), seg(2, 40.0, 60.0)];
        // Follows the piece under the window's centre.
        let tl = timeline(60.0, |t| {
            if t + 1.5 < 20.0 {
                1
            } else if t + 1.5 < 40.0 {
                5
            } else {
                2
            }
        });
        let s = score(&segs, &tl, 3.0, 2.0);
        assert_eq!(s.right, s.windows);
        assert_eq!((s.changes, s.found()), (2, 2));
        // First window centred after the cut starts at 18.5 s and ends 1.5 s after it.
        assert_eq!(s.delays_s, vec![1.5, 1.5]);
        assert_eq!(s.median_delay_s(), Some(1.5));
    }

    #[test]
    fn a_flicker_is_not_a_found_change_and_a_late_switch_is_slow() {
        let segs = [seg(1, 0.0, 20.0), seg(5, 20.0, 40.0), seg(2, 40.0, 60.0)];
        let tl = timeline(60.0, |t| match t {
            t if t < 20.0 => 1,
            21.0 => 5, // one window only
            t if t < 30.0 => 1,
            t if t < 40.0 => 5, // switches 10 s late
            _ => 1,             // never follows the last change
        });
        let s = score(&segs, &tl, 3.0, 2.0);
        assert_eq!((s.changes, s.found()), (2, 1));
        assert_eq!(s.delays_s, vec![30.0 + 3.0 - 20.0]);
        assert!(s.accuracy() < 0.5, "{}", s.accuracy());
    }

    #[test]
    fn same_genre_neighbours_are_not_a_change() {
        let segs = [seg(1, 0.0, 10.0), seg(1, 10.0, 20.0)];
        let s = score(&segs, &timeline(20.0, |_| 1), 3.0, 2.0);
        assert_eq!((s.changes, s.found()), (0, 0));
        assert_eq!(s.median_delay_s(), None);
    }

    #[test]
    fn pieces_are_cut_back_to_back_at_one_level() {
        let loud = vec![0.5f32; 100];
        let quiet: Vec<f32> = (0..300)
            .map(|i| if i % 2 == 0 { 0.01 } else { -0.01 })
            .collect();
        let (mix, segs) =
            cut_back_to_back(&[("a".into(), 3, loud), ("b".into(), 4, quiet)], 100, -20.0);
        assert_eq!(mix.len(), 400);
        assert_eq!(segs[1], seg_named("b", 4, 1.0, 4.0));
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        assert!((rms(&mix[..100]) - 0.1).abs() < 1e-5);
        assert!((rms(&mix[100..]) - 0.1).abs() < 1e-5);
    }

    fn seg_named(name: &str, label: usize, start_s: f64, end_s: f64) -> Segment {
        Segment {
            name: name.into(),
            label,
            start_s,
            end_s,
        }
    }
}
