//! What `cargo xtask bench` reports: medians, ratios, × real time, goals, and the Markdown
//! table `--out` writes (docs/bench.md). Pure functions, unit-tested.

use serde::Serialize;

/// Timed samples of one side of a measurement, in seconds per unit (per clip, per window…).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stat {
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub samples_s: Vec<f64>,
}

impl Stat {
    /// `None` when there are no samples.
    pub fn from_samples(samples: Vec<f64>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.clone();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median_s = if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        };
        Some(Self {
            median_s,
            min_s: s[0],
            max_s: s[n - 1],
            samples_s: samples,
        })
    }

    /// A published figure: one value, not measured here.
    pub fn fixed(seconds: f64) -> Self {
        Self {
            median_s: seconds,
            min_s: seconds,
            max_s: seconds,
            samples_s: Vec::new(),
        }
    }
}

/// What a row must show to meet its goal: ratio = reference time / our time.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Goal {
    /// Ours at least this many times faster than the reference.
    RatioAtLeast { ratio: f64 },
}

impl Goal {
    pub fn met(&self, ratio: f64) -> bool {
        match *self {
            Goal::RatioAtLeast { ratio: want } => ratio >= want,
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            Goal::RatioAtLeast { ratio: 1.0 } => "≤ 1.0× its time".to_string(),
            Goal::RatioAtLeast { ratio } => format!("≥ {}× faster", fmt_num(ratio)),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    /// What is measured, for the table.
    pub what: String,
    /// What one unit is ("30-s clip", "window", "frame").
    pub unit: String,
    pub ours: Option<Stat>,
    /// Who the reference is ("librosa 0.10.2.post1", "PyTorch 2.15.0"); empty for none.
    pub reference_name: String,
    pub reference: Option<Stat>,
    /// Seconds of audio one unit covers, for × real time.
    pub audio_s: Option<f64>,
    /// Whether the reference's unit covers the same audio (false for a published figure
    /// on audio of its own: then it gets no × real time).
    pub reference_same_audio: bool,
    pub goal: Option<Goal>,
    /// Why a side is missing, or what else to know.
    pub note: Option<String>,
}

impl Row {
    pub fn new(id: &str, what: impl Into<String>, unit: &str) -> Self {
        Self {
            id: id.into(),
            what: what.into(),
            unit: unit.into(),
            ours: None,
            reference_name: String::new(),
            reference: None,
            audio_s: None,
            reference_same_audio: true,
            goal: None,
            note: None,
        }
    }

    /// reference / ours: above 1 means ours is faster.
    pub fn ratio(&self) -> Option<f64> {
        ratio(
            self.ours.as_ref()?.median_s,
            self.reference.as_ref()?.median_s,
        )
    }

    pub fn goal_met(&self) -> Option<bool> {
        Some(self.goal?.met(self.ratio()?))
    }

    pub fn ours_x_realtime(&self) -> Option<f64> {
        x_realtime(self.audio_s?, self.ours.as_ref()?.median_s)
    }

    pub fn reference_x_realtime(&self) -> Option<f64> {
        if !self.reference_same_audio {
            return None;
        }
        x_realtime(self.audio_s?, self.reference.as_ref()?.median_s)
    }
}

pub fn ratio(ours_s: f64, reference_s: f64) -> Option<f64> {
    (ours_s > 0.0 && reference_s.is_finite() && ours_s.is_finite()).then(|| reference_s / ours_s)
}

pub fn x_realtime(audio_s: f64, seconds: f64) -> Option<f64> {
    (seconds > 0.0 && seconds.is_finite()).then(|| audio_s / seconds)
}

/// A duration with three significant digits in the unit that fits (ns, µs, ms, s).
pub fn fmt_duration(s: f64) -> String {
    if !s.is_finite() {
        return "–".into();
    }
    let (v, unit) = if s < 1e-6 {
        (s * 1e9, "ns")
    } else if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else {
        (s, "s")
    };
    format!("{} {unit}", sig3(v))
}

/// Three significant digits, no exponent: 1.23, 12.3, 123, 1 234.
fn sig3(v: f64) -> String {
    if v >= 100.0 {
        group_thousands(v.round() as u64)
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}'); // narrow no-break space, as the README writes 17 000
        }
        out.push(c);
    }
    out
}

/// A ratio or factor: 0.42, 3.1, 27, 1 234.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 100.0 {
        group_thousands(v.round() as u64)
    } else if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The table's header row, which a committed table must keep ([`crate::md_table`]).
pub const HEADER: &str =
    "| measurement | ours | reference | reference / ours | × real time (ours · reference) | goal |";

/// The rows as a Markdown table (docs/bench.md with `--out`).
pub fn markdown(rows: &[Row]) -> String {
    let mut out = format!("{HEADER}\n|---|---|---|---|---|---|\n");
    for r in rows {
        let ours = r
            .ours
            .as_ref()
            .map(|s| format!("{} /{}", fmt_duration(s.median_s), r.unit))
            .unwrap_or_else(|| "–".into());
        let reference = match (&r.reference, r.reference_name.is_empty()) {
            (Some(s), _) => format!("{}: {}", r.reference_name, fmt_duration(s.median_s)),
            (None, false) => format!("{}: –", r.reference_name),
            (None, true) => "–".into(),
        };
        let ratio = r
            .ratio()
            .map(|v| format!("**{}×**", fmt_num(v)))
            .unwrap_or_else(|| "–".into());
        let rt = match (r.ours_x_realtime(), r.reference_x_realtime()) {
            (Some(a), Some(b)) => format!("{}× · {}×", fmt_num(a), fmt_num(b)),
            (Some(a), None) => format!("{}×", fmt_num(a)),
            _ => "–".into(),
        };
        let goal = match (r.goal, r.goal_met()) {
            (Some(g), Some(true)) => format!("{} ✓", g.describe()),
            (Some(g), Some(false)) => format!("{} ✗", g.describe()),
            (Some(g), None) => g.describe(),
            (None, _) => String::new(),
        };
        let what = match &r.note {
            Some(n) => format!("{} ({n})", r.what),
            None => r.what.clone(),
        };
        out.push_str(&format!(
            "| {what} | {ours} | {reference} | {ratio} | {rt} | {goal} |\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_sample_counts() {
        assert_eq!(
            Stat::from_samples(vec![3.0, 1.0, 2.0]).unwrap().median_s,
            2.0
        );
        assert_eq!(
            Stat::from_samples(vec![4.0, 1.0, 3.0, 2.0])
                .unwrap()
                .median_s,
            2.5
        );
        let s = Stat::from_samples(vec![5.0, 1.0, 9.0]).unwrap();
        assert_eq!((s.min_s, s.max_s), (1.0, 9.0));
        assert_eq!(
            s.samples_s,
            vec![5.0, 1.0, 9.0],
            "samples keep their (interleaved) order"
        );
        assert!(Stat::from_samples(vec![]).is_none());
    }

    #[test]
    fn ratio_is_reference_over_ours() {
        let mut r = Row::new("x", "x", "clip");
        r.ours = Stat::from_samples(vec![0.01]);
        r.reference = Stat::from_samples(vec![0.25]);
        assert!((r.ratio().unwrap() - 25.0).abs() < 1e-9);
        r.goal = Some(Goal::RatioAtLeast { ratio: 20.0 });
        assert_eq!(r.goal_met(), Some(true));
        r.goal = Some(Goal::RatioAtLeast { ratio: 30.0 });
        assert_eq!(r.goal_met(), Some(false));
        r.reference = None;
        assert_eq!(r.ratio(), None);
        assert_eq!(r.goal_met(), None);
        assert_eq!(ratio(0.0, 1.0), None);
    }

    #[test]
    fn real_time_factor() {
        let mut r = Row::new("x", "x", "clip");
        r.audio_s = Some(30.0);
        r.ours = Stat::from_samples(vec![0.15]);
        r.reference = Some(Stat::fixed(3.0));
        assert!((r.ours_x_realtime().unwrap() - 200.0).abs() < 1e-9);
        assert!((r.reference_x_realtime().unwrap() - 10.0).abs() < 1e-9);
        r.reference_same_audio = false;
        assert_eq!(
            r.reference_x_realtime(),
            None,
            "a published figure on other audio"
        );
        assert!(r.ratio().is_some());
    }

    #[test]
    fn durations_and_numbers_read_naturally() {
        assert_eq!(fmt_duration(1.7e-9), "1.70 ns");
        assert_eq!(fmt_duration(880e-9), "880 ns");
        assert_eq!(fmt_duration(5.2e-3), "5.20 ms");
        assert_eq!(fmt_duration(0.1534), "153 ms");
        assert_eq!(fmt_duration(17.0), "17.0 s");
        assert_eq!(fmt_duration(2.5e-5), "25.0 µs");
        assert_eq!(fmt_num(0.456), "0.46");
        assert_eq!(fmt_num(3.24), "3.2");
        assert_eq!(fmt_num(27.4), "27");
        assert_eq!(fmt_num(12345.0), "12\u{202f}345");
        assert_eq!(fmt_num(f64::NAN), "–");
    }

    #[test]
    fn table_has_one_line_per_row_with_ratio_goal_and_missing_sides() {
        let mut a = Row::new("mel", "mel of a 30-s clip", "clip");
        a.ours = Stat::from_samples(vec![0.004]);
        a.reference_name = "librosa".into();
        a.reference = Stat::from_samples(vec![0.1]);
        a.audio_s = Some(30.0);
        a.goal = Some(Goal::RatioAtLeast { ratio: 20.0 });
        let mut b = Row::new("cnn", "CNN", "window");
        b.ours = Stat::from_samples(vec![0.005]);
        b.reference_name = "PyTorch".into();
        b.goal = Some(Goal::RatioAtLeast { ratio: 1.0 });
        b.note = Some("reference not run".into());
        let t = markdown(&[a, b]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert_eq!(crate::md_table::tables(&t, HEADER).unwrap()[0].len(), 2);
        assert!(
            lines[2].contains("4.00 ms /clip") && lines[2].contains("librosa: 100 ms"),
            "{}",
            lines[2]
        );
        assert!(
            lines[2].contains("**25×**")
                && lines[2].contains("7\u{202f}500× · 300×")
                && lines[2].contains("≥ 20× faster ✓"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].contains("PyTorch: –")
                && lines[3].contains("≤ 1.0× its time")
                && lines[3].contains("(reference not run)"),
            "{}",
            lines[3]
        );
        assert!(!lines[3].contains('✓') && !lines[3].contains('✗'));
    }
}
