//! The session's genre log: one row per analysed hop, change events, bounded memory.
//!
//! A DJ's set or a producer's session may run for hours, and the plugin may stay loaded for
//! days, so the log can never grow without bound. The newest [`LogLimits::recent`] hops are
//! kept exactly (probabilities quantised to 1/65535); older ones are folded, a
//! [`LogLimits::fold`] at a time, into summary rows (hop-weighted means); when the summary
//! rows reach [`LogLimits::summaries`], neighbouring pairs merge, halving their resolution.
//! So the whole session stays in the log, at a resolution that decreases with age, in at
//! most a few MB (see [`GenreLog::bytes`]).
//!
//! A log follows its model's labels by name: when the worker swaps in a model with more
//! labels (a label taught live) and the same styles, the log gains a column for each new
//! label (zero in the rows before) and goes on, rather than starting over; a label that
//! goes (forgotten) keeps its column, zero from then on. Another model entirely (other
//! styles) starts a new log.
//!
//! Rows are stored as a struct of arrays (a fixed head plus a flat run of values per row)
//! rather than one `Vec` per row. Exact hops keep their values as `u16` (with ~60 values
//! that halves a row); summary rows keep `f32`, because a mean rounded at every merge
//! drifts (a thousand merges moved a distribution's sum by 0.2 %).
//!
//! - [`csv`]: the CSV format (export and the standalone's `--log` file), one line per row.
//! - [`json`]: the JSON export.

pub mod csv;
pub mod json;

use model::rhythm::{Key, Tempo};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the rows' values mean: fixed for the life of a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogHeader {
    /// Where the model came from ("embedded default model").
    pub model: String,
    /// The model's genre labels, in its output order.
    pub labels: Vec<String>,
    /// The model's style labels (empty when it has none).
    pub styles: Vec<String>,
}

/// One analysed hop, as the worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// Session seconds at the end of the analysed window (seconds of audio since the log
    /// began, across activations).
    pub time_s: f64,
    /// Wall clock when the hop was analysed, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Top genre of the smoothed distribution (`None` before the first non-silent window).
    pub top: Option<usize>,
    pub confidence: f32,
    pub silent: bool,
    /// RMS level of the window, dBFS.
    pub level_db: f32,
    /// The smoothed genre distribution (what the editor shows), one entry per label; all
    /// zeros before the first non-silent window.
    pub distribution: Vec<f32>,
    /// The smoothed style probabilities, one per style label (empty when the model has none).
    pub styles: Vec<f32>,
    /// What the live tempo and key trackers showed at the hop.
    pub tempo: Option<Tempo>,
    pub key: Option<Key>,
}

/// A change of the top genre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub time_s: f64,
    pub unix_ms: u64,
    /// The previous top genre (`None` for the first genre of the session).
    pub from: Option<usize>,
    pub to: usize,
}

/// The one rule for "the top genre changed", shared by the log and the MIDI program changes.
pub fn top_changed(previous: Option<usize>, top: Option<usize>) -> Option<usize> {
    top.filter(|&t| previous != Some(t))
}

/// How much a log keeps. The defaults hold 4 hours at a 1-s hop exactly, then about 68
/// hours of minute-long summaries before those start to merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Newest hops kept exactly.
    pub recent: usize,
    /// Hops folded into one summary row when `recent` overflows.
    pub fold: usize,
    /// Summary rows kept before neighbouring pairs merge.
    pub summaries: usize,
    /// Change events kept; beyond this the oldest are forgotten (and counted).
    pub changes: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            recent: 4 * 3600,
            fold: 60,
            summaries: 4096,
            changes: 10_000,
        }
    }
}

impl LogLimits {
    fn sane(self) -> Self {
        Self {
            recent: self.recent.max(1),
            fold: self.fold.clamp(1, self.recent.max(1)),
            summaries: self.summaries.max(2),
            changes: self.changes.max(1),
        }
    }
}

const NO_TOP: u16 = u16::MAX;
const NO_KEY: u8 = u8::MAX;
const SCALE: f32 = 65535.0;

fn quantise(p: f32) -> u16 {
    if p.is_finite() {
        (p.clamp(0.0, 1.0) * SCALE).round() as u16
    } else {
        0
    }
}

fn dequantise(q: u16) -> f32 {
    q as f32 / SCALE
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Head {
    time_s: f64,
    unix_ms: u64,
    span_s: f32,
    hops: u32,
    silent_hops: u32,
    top: u16,
    confidence: f32,
    level_db: f32,
    /// Tempo (0: none): a hop's reading, or a summary's hop-weighted mean over its hops
    /// that had one.
    bpm: f32,
    /// Hops of the row that had a tempo (the weight of `bpm` in later merges).
    tempo_hops: u32,
    /// [`Key::index`] ([`NO_KEY`]: none): a hop's reading, or the key most of a
    /// summary's hops showed.
    key: u8,
}

/// How a tier stores a probability.
trait Value: Copy + std::fmt::Debug {
    fn store(p: f32) -> Self;
    fn load(self) -> f32;
}

impl Value for u16 {
    fn store(p: f32) -> Self {
        quantise(p)
    }
    fn load(self) -> f32 {
        dequantise(self)
    }
}

impl Value for f32 {
    fn store(p: f32) -> Self {
        p
    }
    fn load(self) -> f32 {
        self
    }
}

/// Rows of one resolution: heads plus `stride` values per row (labels, then styles).
#[derive(Debug, Clone)]
struct Tier<V> {
    heads: VecDeque<Head>,
    values: VecDeque<V>,
}

impl<V> Default for Tier<V> {
    fn default() -> Self {
        Self {
            heads: VecDeque::new(),
            values: VecDeque::new(),
        }
    }
}

impl<V: Value> Tier<V> {
    fn len(&self) -> usize {
        self.heads.len()
    }

    /// Inserts `added` zero values after the first `n_labels` of every row (new label
    /// columns, before the styles).
    fn widen(&mut self, stride: usize, n_labels: usize, added: usize) {
        let old = std::mem::take(&mut self.values);
        let mut values = VecDeque::with_capacity(old.len() / stride.max(1) * (stride + added));
        for row in 0..self.heads.len() {
            let r = old.range(row * stride..(row + 1) * stride);
            values.extend(r.clone().take(n_labels).copied());
            values.extend(std::iter::repeat_n(V::store(0.0), added));
            values.extend(r.skip(n_labels).copied());
        }
        self.values = values;
    }

    fn push(&mut self, head: Head, values: impl IntoIterator<Item = f32>) {
        self.heads.push_back(head);
        self.values.extend(values.into_iter().map(V::store));
    }

    fn row(&self, i: usize, stride: usize) -> (Head, impl Iterator<Item = f32> + '_) {
        let values = self.values.range(i * stride..(i + 1) * stride);
        (self.heads[i], values.map(|v| v.load()))
    }

    fn pop_front(&mut self, stride: usize) -> Option<(Head, Vec<f32>)> {
        let head = self.heads.pop_front()?;
        Some((head, self.values.drain(..stride).map(V::load).collect()))
    }

    fn bytes(&self) -> usize {
        self.heads.capacity() * std::mem::size_of::<Head>()
            + self.values.capacity() * std::mem::size_of::<V>()
    }
}

/// Hop-weighted accumulator for folding rows.
struct Merge {
    first: Option<Head>,
    last: Option<Head>,
    hops: u64,
    silent_hops: u64,
    level: f64,
    sums: Vec<f64>,
    tempo_hops: u64,
    bpm: f64,
    /// Hops per key index (a summary's key stands for all its hops).
    keys: [u64; 24],
}

impl Merge {
    fn new(stride: usize) -> Self {
        Self {
            first: None,
            last: None,
            hops: 0,
            silent_hops: 0,
            level: 0.0,
            sums: vec![0.0; stride],
            tempo_hops: 0,
            bpm: 0.0,
            keys: [0; 24],
        }
    }

    fn add(&mut self, head: Head, values: impl Iterator<Item = f32>) {
        let w = head.hops.max(1) as f64;
        self.first.get_or_insert(head);
        self.last = Some(head);
        self.hops += head.hops as u64;
        self.silent_hops += head.silent_hops as u64;
        self.level += w * head.level_db as f64;
        if head.tempo_hops > 0 {
            self.tempo_hops += head.tempo_hops as u64;
            self.bpm += head.tempo_hops as f64 * head.bpm as f64;
        }
        if let Some(k) = self.keys.get_mut(head.key as usize) {
            *k += head.hops.max(1) as u64;
        }
        for (s, v) in self.sums.iter_mut().zip(values) {
            *s += w * v as f64;
        }
    }

    /// The merged row: the span of its members, the weighted mean of their values, the top
    /// genre of the mean distribution, the mean tempo of the hops that had one, the key
    /// most of its hops had.
    fn finish(self, n_labels: usize) -> Option<(Head, Vec<f32>)> {
        let (first, last) = (self.first?, self.last?);
        let w = self.hops.max(1) as f64;
        let values: Vec<f32> = self.sums.iter().map(|s| (s / w) as f32).collect();
        let dist = &values[..n_labels.min(values.len())];
        // Rows without a top genre (before the first non-silent window) hold zeros, so an
        // all-zero mean means none of the members had one.
        let top = Some(model::distribution::argmax(dist))
            .filter(|_| !dist.is_empty())
            .filter(|&t| dist[t] > 0.0);
        let head = Head {
            time_s: last.time_s,
            unix_ms: last.unix_ms,
            span_s: (last.time_s - first.time_s) as f32 + first.span_s,
            hops: self.hops.min(u32::MAX as u64) as u32,
            silent_hops: self.silent_hops.min(u32::MAX as u64) as u32,
            top: top.map_or(NO_TOP, |t| t as u16),
            confidence: top.map_or(0.0, |t| dist[t]),
            level_db: (self.level / w) as f32,
            bpm: if self.tempo_hops > 0 {
                (self.bpm / self.tempo_hops as f64) as f32
            } else {
                0.0
            },
            tempo_hops: self.tempo_hops.min(u32::MAX as u64) as u32,
            key: (0..24)
                .filter(|&k| self.keys[k] > 0)
                .max_by_key(|&k| self.keys[k])
                .map_or(NO_KEY, |k| k as u8),
        };
        Some((head, values))
    }
}

/// One row of the log, as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Session seconds at the end of the row's last hop.
    pub time_s: f64,
    /// Wall clock of the row's last hop, ms since the Unix epoch.
    pub unix_ms: u64,
    /// Hops the row stands for (1 unless it is a summary).
    pub hops: u32,
    /// Seconds from the first to the last hop it covers (0 for one hop).
    pub span_s: f32,
    pub top: Option<usize>,
    pub confidence: f32,
    /// How many of its hops were silent.
    pub silent_hops: u32,
    /// Mean RMS level, dBFS.
    pub level_db: f32,
    pub distribution: Vec<f32>,
    pub styles: Vec<f32>,
    /// The hop's tempo; for a summary, the mean over its hops that had one.
    pub bpm: Option<f32>,
    /// The hop's key; for a summary, the key most of its hops had. The confidence is not
    /// kept (0).
    pub key: Option<Key>,
}

/// The bounded session log (see the module docs).
#[derive(Debug, Clone)]
pub struct GenreLog {
    header: LogHeader,
    limits: LogLimits,
    /// Wall clock when the log began.
    started_unix_ms: u64,
    summaries: Tier<f32>,
    recent: Tier<u16>,
    changes: VecDeque<Change>,
    forgotten_changes: u64,
    last_top: Option<usize>,
    hops: u64,
    /// For each of the log's labels, its index in the hops' distributions (the model's
    /// label order); `None` for a label the current model no longer has.
    from_hop: Vec<Option<usize>>,
}

impl GenreLog {
    pub fn new(header: LogHeader) -> Self {
        Self::with_limits(header, LogLimits::default())
    }

    pub fn with_limits(header: LogHeader, limits: LogLimits) -> Self {
        Self {
            limits: limits.sane(),
            started_unix_ms: now_unix_ms(),
            summaries: Tier::default(),
            recent: Tier::default(),
            changes: VecDeque::new(),
            forgotten_changes: 0,
            last_top: None,
            hops: 0,
            from_hop: (0..header.labels.len()).map(Some).collect(),
            header,
        }
    }

    /// Follows a new model's `header`: with the same styles, its labels are matched to the
    /// log's by name, new ones get a column (zero before now) and the log goes on; `false`
    /// (and nothing changed) for other styles, which need a new log.
    pub fn follow(&mut self, header: &LogHeader) -> bool {
        if header.styles != self.header.styles {
            return false;
        }
        let (stride, n_old) = (self.stride(), self.header.labels.len());
        let added: Vec<String> = header
            .labels
            .iter()
            .filter(|l| !self.header.labels.contains(l))
            .cloned()
            .collect();
        if !added.is_empty() {
            self.recent.widen(stride, n_old, added.len());
            self.summaries.widen(stride, n_old, added.len());
            self.header.labels.extend(added);
        }
        self.header.model.clone_from(&header.model);
        self.from_hop = self
            .header
            .labels
            .iter()
            .map(|l| header.labels.iter().position(|h| h == l))
            .collect();
        true
    }

    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    pub fn limits(&self) -> LogLimits {
        self.limits
    }

    pub fn started_unix_ms(&self) -> u64 {
        self.started_unix_ms
    }

    fn stride(&self) -> usize {
        self.header.labels.len() + self.header.styles.len()
    }

    /// Records one hop (its distribution in the followed model's label order). Values
    /// beyond the header's labels/styles are ignored and missing ones read as 0, so a
    /// malformed hop cannot corrupt the layout.
    pub fn push(&mut self, hop: &Hop) {
        let n_styles = self.header.styles.len();
        let top = hop
            .top
            .and_then(|t| self.from_hop.iter().position(|&k| k == Some(t)));
        if let Some(to) = top_changed(self.last_top, top) {
            if self.changes.len() >= self.limits.changes {
                self.changes.pop_front();
                self.forgotten_changes += 1;
            }
            self.changes.push_back(Change {
                time_s: hop.time_s,
                unix_ms: hop.unix_ms,
                from: self.last_top,
                to,
            });
        }
        if top.is_some() {
            self.last_top = top;
        }
        let distribution = self.from_hop.iter().map(|k| {
            k.and_then(|k| hop.distribution.get(k).copied())
                .filter(|p| p.is_finite())
                .unwrap_or(0.0)
        });
        let values = distribution.chain(padded(&hop.styles, n_styles));
        self.recent.push(
            Head {
                time_s: hop.time_s,
                unix_ms: hop.unix_ms,
                span_s: 0.0,
                hops: 1,
                silent_hops: hop.silent as u32,
                top: top.map_or(NO_TOP, |t| t as u16),
                confidence: if hop.confidence.is_finite() {
                    hop.confidence
                } else {
                    0.0
                },
                level_db: hop.level_db,
                bpm: hop.tempo.map_or(0.0, |t| t.bpm),
                tempo_hops: hop.tempo.is_some() as u32,
                key: hop.key.map_or(NO_KEY, |k| k.index()),
            },
            values,
        );
        self.hops += 1;
        if self.recent.len() > self.limits.recent {
            self.fold_oldest();
        }
    }

    fn fold_oldest(&mut self) {
        let stride = self.stride();
        let mut m = Merge::new(stride);
        for _ in 0..self.limits.fold {
            match self.recent.pop_front(stride) {
                Some((h, v)) => m.add(h, v.into_iter()),
                None => break,
            }
        }
        if let Some((h, v)) = m.finish(self.header.labels.len()) {
            self.summaries.push(h, v);
        }
        if self.summaries.len() > self.limits.summaries {
            self.halve_summaries();
        }
    }

    /// Merges neighbouring summary rows pairwise (an odd last row stays as it is).
    fn halve_summaries(&mut self) {
        let stride = self.stride();
        let mut merged = Tier::default();
        while let Some((h, v)) = self.summaries.pop_front(stride) {
            let mut m = Merge::new(stride);
            m.add(h, v.into_iter());
            if let Some((h2, v2)) = self.summaries.pop_front(stride) {
                m.add(h2, v2.into_iter());
            }
            if let Some((h, v)) = m.finish(self.header.labels.len()) {
                merged.push(h, v);
            }
        }
        merged.heads.shrink_to_fit();
        merged.values.shrink_to_fit();
        self.summaries = merged;
    }

    /// Rows, oldest first: summaries, then the exact recent hops.
    pub fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        let (stride, n_labels) = (self.stride(), self.header.labels.len());
        let summaries =
            (0..self.summaries.len()).map(move |i| row(&self.summaries, i, stride, n_labels));
        let recent = (0..self.recent.len()).map(move |i| row(&self.recent, i, stride, n_labels));
        summaries.chain(recent)
    }

    /// The exact rows whose time is at or after `since_s`, as (time, top, confidence,
    /// silent) — what the history strip draws, without building whole rows.
    pub fn recent_tops(
        &self,
        since_s: f64,
    ) -> impl Iterator<Item = (f64, Option<usize>, f32, bool)> + '_ {
        let start = self.recent.heads.partition_point(|h| h.time_s < since_s);
        self.recent.heads.range(start..).map(|h| {
            (
                h.time_s,
                (h.top != NO_TOP).then_some(h.top as usize),
                h.confidence,
                h.silent_hops > 0,
            )
        })
    }

    pub fn changes(&self) -> impl DoubleEndedIterator<Item = &Change> + ExactSizeIterator + '_ {
        self.changes.iter()
    }

    /// Change events forgotten because more than [`LogLimits::changes`] happened.
    pub fn forgotten_changes(&self) -> u64 {
        self.forgotten_changes
    }

    /// Hops recorded since the log began (exact and summarised).
    pub fn hops(&self) -> u64 {
        self.hops
    }

    /// Rows stored (summaries plus exact hops).
    pub fn len(&self) -> usize {
        self.summaries.len() + self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Session seconds of the newest hop.
    pub fn last_time_s(&self) -> Option<f64> {
        self.recent.heads.back().map(|h| h.time_s)
    }

    /// Heap bytes the log holds (what "bounded" bounds).
    pub fn bytes(&self) -> usize {
        self.summaries.bytes()
            + self.recent.bytes()
            + self.changes.capacity() * std::mem::size_of::<Change>()
    }

    /// An upper bound of [`Self::bytes`] for this header and these limits, whatever is pushed.
    pub fn max_bytes(header: &LogHeader, limits: LogLimits) -> usize {
        let l = limits.sane();
        let stride = header.labels.len() + header.styles.len();
        // VecDeque capacities are powers of two at most twice the length they reached.
        let head = std::mem::size_of::<Head>();
        2 * (l.recent + 1) * (head + 2 * stride)
            + 2 * (l.summaries + 1) * (head + 4 * stride)
            + 2 * l.changes * std::mem::size_of::<Change>()
    }
}

/// `n` values from `v`: missing or non-finite ones read as 0.
fn padded(v: &[f32], n: usize) -> impl Iterator<Item = f32> + '_ {
    (0..n).map(move |i| v.get(i).copied().filter(|p| p.is_finite()).unwrap_or(0.0))
}

fn row<V: Value>(tier: &Tier<V>, i: usize, stride: usize, n_labels: usize) -> Row {
    let (h, values) = tier.row(i, stride);
    let values: Vec<f32> = values.collect();
    Row {
        time_s: h.time_s,
        unix_ms: h.unix_ms,
        hops: h.hops,
        span_s: h.span_s,
        top: (h.top != NO_TOP).then_some(h.top as usize),
        confidence: h.confidence,
        silent_hops: h.silent_hops,
        level_db: h.level_db,
        distribution: values[..n_labels].to_vec(),
        styles: values[n_labels..].to_vec(),
        bpm: (h.tempo_hops > 0).then_some(h.bpm),
        key: Key::from_index(h.key, 0.0),
    }
}

pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2026-11-30T21:04:05.123Z`.
pub fn utc(unix_ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(unix_ms)).to_string()
}

/// Session time as `hh:mm:ss` (what the change list and the history axis show).
pub fn clock(time_s: f64) -> String {
    let s = time_s.max(0.0).round() as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// "hiphop → reggae at 00:12:31".
pub fn describe_change(c: &Change, labels: &[String]) -> String {
    let name = |i: usize| labels.get(i).map(String::as_str).unwrap_or("?");
    match c.from {
        Some(f) => format!("{} → {} at {}", name(f), name(c.to), clock(c.time_s)),
        None => format!("{} at {}", name(c.to), clock(c.time_s)),
    }
}
