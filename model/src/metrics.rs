//! Classification metrics for single-label genre tagging with `N` labels.
//!
//! Everything here is computed from a [`Confusion`] matrix, which is the one
//! thing an evaluation loop has to accumulate: call [`Confusion::add`] once per
//! clip (or per window) with the index of the true genre and the index of the
//! predicted genre (usually [`argmax`](crate::distribution::argmax) of the model's
//! probabilities), then ask
//! for a [`Summary`] or a human-readable [`Confusion::table`].
//!
//! Why several numbers rather than just accuracy:
//!
//! * **Accuracy** is what everyone quotes for GTZAN, so we report it for
//!   comparability.
//! * **Balanced accuracy** (the mean per-class recall) is the headline number
//!   for our own comparisons: the GTZAN subsets we train and evaluate on are
//!   *unbalanced* once duplicates / mislabelled / distorted clips are filtered
//!   out and the artist-disjoint split is made, so plain accuracy rewards a
//!   model for favouring the genres that happen to have more clips in the
//!   validation fold.
//! * **Macro F1** also penalises a model that dumps many false positives into
//!   one genre (which recall alone does not see).
//! * The **per-class table and confusion matrix** show *which* genres get mixed
//!   up (rock/metal, disco/pop, ...), which a single number hides.
//!
//! Conventions for degenerate cases (all documented on the methods, and all
//! chosen so that no metric is ever NaN, which would poison JSON reports and
//! "best epoch" comparisons):
//!
//! * precision of a class that was never predicted is `0`;
//! * recall of a class with no true examples (support `0`) is `0`, and such a
//!   class is excluded from balanced accuracy;
//! * F1 is `0` when precision + recall is `0`;
//! * macro F1 averages over classes that occur in the truth *or* in the
//!   predictions (the scikit-learn default when `labels` is not given): a
//!   genre absent from an evaluation subset and never predicted says nothing
//!   about the model and is skipped, while predicting a genre that is absent
//!   from the truth is a mistake and counts with F1 = 0;
//! * every rate on an empty matrix (no samples) is `0`.

use serde::{Deserialize, Serialize};

/// An `N x N` confusion matrix: `counts[truth][pred]` is the number of samples
/// whose true label is `truth` and whose predicted label is `pred`.
///
/// Rows are the truth, columns are the prediction (the scikit-learn
/// convention), so row sums are the per-class support and column sums are the
/// number of times each class was predicted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Class names, indexed like the rows and columns of `counts`.
    pub labels: Vec<String>,
    /// `counts[truth][pred]`; always `labels.len()` rows of `labels.len()`.
    pub counts: Vec<Vec<u64>>,
}

/// Precision, recall and F1 of one class (one-vs-rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: String,
    /// `tp / (tp + fp)`; `0` when the class was never predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`; `0` when the class has no true examples.
    pub recall: f64,
    /// Harmonic mean of precision and recall; `0` when both are `0`.
    pub f1: f64,
    /// Number of samples whose true label is this class (the row sum).
    pub support: u64,
}

/// Everything an evaluation reports, ready to be written out as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples evaluated.
    pub n: u64,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
    pub confusion: Confusion,
}

impl Confusion {
    /// An all-zero matrix for the given class names.
    pub fn new(labels: &[impl AsRef<str>]) -> Self {
        let n = labels.len();
        Self {
            labels: labels.iter().map(|l| l.as_ref().to_string()).collect(),
            counts: vec![vec![0; n]; n],
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.labels.len()
    }

    /// Records one sample with true class `truth` predicted as `pred`.
    ///
    /// # Panics
    /// If either index is not a valid class index: that is a bug in the
    /// caller (e.g. a label map that disagrees with the model head), and
    /// silently dropping the sample would skew every metric.
    pub fn add(&mut self, truth: usize, pred: usize) {
        let n = self.num_classes();
        assert!(
            truth < n && pred < n,
            "Confusion::add({truth}, {pred}) out of range for {n} classes"
        );
        self.counts[truth][pred] += 1;
    }

    /// Adds every count of `other` (e.g. another evaluation shard) into `self`.
    ///
    /// # Panics
    /// If the two matrices do not have the same labels.
    pub fn merge(&mut self, other: &Confusion) {
        assert_eq!(
            self.labels, other.labels,
            "Confusion::merge: label mismatch"
        );
        for (row, orow) in self.counts.iter_mut().zip(&other.counts) {
            for (c, o) in row.iter_mut().zip(orow) {
                *c += o;
            }
        }
    }

    /// Total number of samples recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    /// Number of samples whose true label is class `i` (row sum).
    pub fn support(&self, i: usize) -> u64 {
        self.counts[i].iter().sum()
    }

    /// Number of samples predicted as class `j` (column sum).
    pub fn predicted(&self, j: usize) -> u64 {
        self.counts.iter().map(|row| row[j]).sum()
    }

    /// Number of correctly classified samples (trace).
    pub fn correct(&self) -> u64 {
        (0..self.num_classes()).map(|i| self.counts[i][i]).sum()
    }

    /// Fraction of samples classified correctly; `0` when empty.
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Mean recall over the classes that have at least one true sample;
    /// `0` when the matrix is empty.
    ///
    /// This is the headline metric for model selection: the filtered GTZAN
    /// subsets are unbalanced, and balanced accuracy weighs every genre that
    /// is present equally, so it cannot be gamed by favouring the larger
    /// genres. Classes with no support are skipped (their recall is
    /// undefined, not zero). On a balanced set it equals [`Self::accuracy`].
    pub fn balanced_accuracy(&self) -> f64 {
        let recalls: Vec<f64> = (0..self.num_classes())
            .filter(|&i| self.support(i) > 0)
            .map(|i| ratio(self.counts[i][i], self.support(i)))
            .collect();
        mean(&recalls)
    }

    /// One-vs-rest precision / recall / F1 / support for every class, in
    /// label order.
    ///
    /// Degenerate cases never produce NaN: precision is `0` for a class that
    /// was never predicted, recall is `0` for a class with no support, and F1
    /// is `0` when precision + recall is `0`.
    pub fn per_class(&self) -> Vec<ClassMetrics> {
        (0..self.num_classes())
            .map(|i| {
                let tp = self.counts[i][i];
                let support = self.support(i);
                let precision = ratio(tp, self.predicted(i));
                let recall = ratio(tp, support);
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassMetrics {
                    label: self.labels[i].clone(),
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect()
    }

    /// Unweighted mean of per-class F1 over the classes that occur in the
    /// truth or in the predictions (scikit-learn's default label set).
    ///
    /// A genre that is neither present nor predicted is skipped (it carries no
    /// information about the model); a genre predicted but absent from the
    /// truth contributes F1 = 0. `0` when the matrix is empty.
    pub fn macro_f1(&self) -> f64 {
        let f1s: Vec<f64> = self
            .per_class()
            .iter()
            .enumerate()
            .filter(|(i, m)| m.support > 0 || self.predicted(*i) > 0)
            .map(|(_, m)| m.f1)
            .collect();
        mean(&f1s)
    }

    /// All metrics at once (serialisable, for `metrics.json`).
    pub fn summary(&self) -> Summary {
        Summary {
            n: self.total(),
            accuracy: self.accuracy(),
            balanced_accuracy: self.balanced_accuracy(),
            macro_f1: self.macro_f1(),
            per_class: self.per_class(),
            confusion: self.clone(),
        }
    }

    /// Short, unique column headers for the confusion matrix: the shortest
    /// common prefix length (at least 3 characters) at which all labels are
    /// distinct, e.g. GTZAN's genres become `blu cla cou dis hip jaz met pop
    /// reg roc`. Falls back to the full labels if prefixes never separate
    /// them.
    pub fn short_labels(&self) -> Vec<String> {
        let max_len = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        for k in 3..max_len {
            let short: Vec<String> = self
                .labels
                .iter()
                .map(|l| l.chars().take(k).collect())
                .collect();
            let mut sorted = short.clone();
            sorted.sort();
            sorted.dedup();
            if sorted.len() == short.len() {
                return short;
            }
        }
        self.labels.clone()
    }

    /// A plain-text report: the per-genre precision / recall / F1 / support
    /// table (with macro and support-weighted averages), then the confusion
    /// matrix (rows = truth, columns = predicted, abbreviated column headers),
    /// then accuracy, balanced accuracy and macro F1.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let per_class = self.per_class();
        let name_w = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .chain(["weighted avg".len()])
            .max()
            .unwrap_or(0);
        let mut s = String::new();

        // Per-class table.
        let _ = writeln!(
            s,
            "{:<name_w$}  {:>9}  {:>6}  {:>6}  {:>7}",
            "genre", "precision", "recall", "f1", "support"
        );
        for m in &per_class {
            let _ = writeln!(
                s,
                "{:<name_w$}  {:>9.3}  {:>6.3}  {:>6.3}  {:>7}",
                m.label, m.precision, m.recall, m.f1, m.support
            );
        }
        let n = self.total();
        let k = per_class.len().max(1) as f64;
        let (mp, mr, mf) = per_class.iter().fold((0.0, 0.0, 0.0), |(p, r, f), m| {
            (p + m.precision, r + m.recall, f + m.f1)
        });
        let _ = writeln!(
            s,
            "{:<name_w$}  {:>9.3}  {:>6.3}  {:>6.3}  {:>7}",
            "macro avg",
            mp / k,
            mr / k,
            mf / k,
            n
        );
        let w = |get: fn(&ClassMetrics) -> f64| {
            if n == 0 {
                0.0
            } else {
                per_class
                    .iter()
                    .map(|m| get(m) * m.support as f64)
                    .sum::<f64>()
                    / n as f64
            }
        };
        let _ = writeln!(
            s,
            "{:<name_w$}  {:>9.3}  {:>6.3}  {:>6.3}  {:>7}",
            "weighted avg",
            w(|m| m.precision),
            w(|m| m.recall),
            w(|m| m.f1),
            n
        );

        // Confusion matrix.
        let short = self.short_labels();
        let max_count = self.counts.iter().flatten().copied().max().unwrap_or(0);
        let cell_w = short
            .iter()
            .map(|l| l.chars().count())
            .chain([max_count.to_string().len()])
            .max()
            .unwrap_or(1);
        let _ = writeln!(s);
        let _ = writeln!(s, "confusion matrix (rows = truth, columns = predicted):");
        let _ = write!(s, "{:<name_w$}", "");
        for h in &short {
            let _ = write!(s, " {h:>cell_w$}");
        }
        let _ = writeln!(s);
        for (label, row) in self.labels.iter().zip(&self.counts) {
            let _ = write!(s, "{label:<name_w$}");
            for c in row {
                let _ = write!(s, " {c:>cell_w$}");
            }
            let _ = writeln!(s);
        }

        // Headline numbers.
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "accuracy           {:.4}  ({} / {})",
            self.accuracy(),
            self.correct(),
            n
        );
        let _ = writeln!(s, "balanced accuracy  {:.4}", self.balanced_accuracy());
        let _ = writeln!(s, "macro F1           {:.4}", self.macro_f1());
        s
    }
}

/// `num / den`, or `0` when `den == 0`.
fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Arithmetic mean, or `0` for an empty slice.
fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    macro_rules! assert_close {
        ($a:expr, $b:expr) => {{
            let (a, b) = ($a, $b);
            assert!(close(a, b), "{} = {a}, expected {b}", stringify!($a));
        }};
    }

    fn from_counts(labels: &[&str], counts: &[&[u64]]) -> Confusion {
        let mut c = Confusion::new(labels);
        for (t, row) in counts.iter().enumerate() {
            for (p, &k) in row.iter().enumerate() {
                for _ in 0..k {
                    c.add(t, p);
                }
            }
        }
        c
    }

    /// Hand-worked 3-class example (rows = truth, cols = predicted):
    ///
    /// ```text
    ///            a  b  c   support
    ///   a        5  2  1      8
    ///   b        1  3  0      4
    ///   c        0  2  6      8
    ///   predicted 6  7  7     20
    /// ```
    ///
    /// * accuracy = (5+3+6)/20 = 0.7
    /// * recall a = 5/8, b = 3/4, c = 6/8 → balanced = (0.625+0.75+0.75)/3 = 0.7083̅
    /// * precision a = 5/6, b = 3/7, c = 6/7
    /// * F1 a = 2·(5/6)(5/8)/(5/6+5/8) = 5/7 ≈ 0.714286
    /// * F1 b = 2·(3/7)(3/4)/(3/7+3/4) = 6/11 ≈ 0.545455
    /// * F1 c = 2·(6/7)(3/4)/(6/7+3/4) = 4/5 = 0.8
    fn three_class() -> Confusion {
        from_counts(&["a", "b", "c"], &[&[5, 2, 1], &[1, 3, 0], &[0, 2, 6]])
    }

    #[test]
    fn three_class_hand_worked() {
        let c = three_class();
        assert_eq!(c.total(), 20);
        assert_eq!(c.correct(), 14);
        assert_eq!(c.counts[0], vec![5, 2, 1]);
        assert_close!(c.accuracy(), 0.7);
        assert_close!(c.balanced_accuracy(), (0.625 + 0.75 + 0.75) / 3.0);

        let m = c.per_class();
        assert_eq!(
            m.iter().map(|m| m.support).collect::<Vec<_>>(),
            vec![8, 4, 8]
        );
        assert_close!(m[0].precision, 5.0 / 6.0);
        assert_close!(m[1].precision, 3.0 / 7.0);
        assert_close!(m[2].precision, 6.0 / 7.0);
        assert_close!(m[0].recall, 5.0 / 8.0);
        assert_close!(m[1].recall, 3.0 / 4.0);
        assert_close!(m[2].recall, 3.0 / 4.0);
        assert_close!(m[0].f1, 5.0 / 7.0);
        assert_close!(m[1].f1, 6.0 / 11.0);
        assert_close!(m[2].f1, 0.8);
        assert_close!(c.macro_f1(), (5.0 / 7.0 + 6.0 / 11.0 + 0.8) / 3.0);

        let s = c.summary();
        assert_eq!(s.n, 20);
        assert_close!(s.accuracy, 0.7);
        assert_eq!(s.per_class, m);
        assert_eq!(s.confusion, c);
    }

    #[test]
    fn perfect_and_balanced() {
        let c = from_counts(&["x", "y"], &[&[4, 0], &[0, 4]]);
        assert_close!(c.accuracy(), 1.0);
        assert_close!(c.balanced_accuracy(), 1.0);
        assert_close!(c.macro_f1(), 1.0);
        // On a balanced set, balanced accuracy equals accuracy.
        let c = from_counts(&["x", "y"], &[&[3, 1], &[2, 2]]);
        assert_close!(c.accuracy(), 5.0 / 8.0);
        assert_close!(c.balanced_accuracy(), 5.0 / 8.0);
    }

    #[test]
    fn unbalanced_majority_guesser() {
        // Always predicting the majority class: 90% accuracy but only 50%
        // balanced accuracy, which is why we select models on the latter.
        let c = from_counts(&["big", "small"], &[&[9, 0], &[1, 0]]);
        assert_close!(c.accuracy(), 0.9);
        assert_close!(c.balanced_accuracy(), 0.5);
        let m = c.per_class();
        // "small" was never predicted: precision 0 (not NaN), F1 0.
        assert_close!(m[1].precision, 0.0);
        assert_close!(m[1].recall, 0.0);
        assert_close!(m[1].f1, 0.0);
        // big: p = 0.9, r = 1 → F1 = 18/19.
        assert_close!(m[0].f1, 18.0 / 19.0);
        assert_close!(c.macro_f1(), (18.0 / 19.0) / 2.0);
    }

    #[test]
    fn class_absent_from_truth_and_predictions() {
        // "c" never occurs and is never predicted: it has support 0 and is
        // skipped by balanced accuracy and macro F1.
        let c = from_counts(&["a", "b", "c"], &[&[3, 1, 0], &[0, 2, 0], &[0, 0, 0]]);
        assert_close!(c.accuracy(), 5.0 / 6.0);
        assert_close!(c.balanced_accuracy(), (0.75 + 1.0) / 2.0);
        let m = c.per_class();
        assert_eq!(m[2].support, 0);
        assert_close!(m[2].precision, 0.0);
        assert_close!(m[2].recall, 0.0);
        assert_close!(m[2].f1, 0.0);
        // a: p = 1, r = 3/4 → 6/7; b: p = 2/3, r = 1 → 4/5.
        assert_close!(m[0].f1, 6.0 / 7.0);
        assert_close!(m[1].f1, 0.8);
        assert_close!(c.macro_f1(), (6.0 / 7.0 + 0.8) / 2.0);
    }

    #[test]
    fn class_predicted_but_absent_from_truth() {
        // "c" has no support but is predicted once: excluded from balanced
        // accuracy (recall undefined) but counted in macro F1 with F1 = 0.
        let c = from_counts(&["a", "b", "c"], &[&[3, 0, 1], &[0, 2, 0], &[0, 0, 0]]);
        assert_close!(c.balanced_accuracy(), (0.75 + 1.0) / 2.0);
        let m = c.per_class();
        assert_close!(m[2].precision, 0.0);
        assert_close!(m[2].f1, 0.0);
        // a: p = 1, r = 3/4 → 6/7; b: 1.
        assert_close!(c.macro_f1(), (6.0 / 7.0 + 1.0 + 0.0) / 3.0);
    }

    #[test]
    fn empty_matrix_is_all_zero_not_nan() {
        let c = Confusion::new(&["a", "b"]);
        assert_eq!(c.total(), 0);
        assert_eq!(c.accuracy(), 0.0);
        assert_eq!(c.balanced_accuracy(), 0.0);
        assert_eq!(c.macro_f1(), 0.0);
        for m in c.per_class() {
            assert_eq!((m.precision, m.recall, m.f1, m.support), (0.0, 0.0, 0.0, 0));
        }
        let t = c.table();
        assert!(!t.contains("NaN"), "{t}");
        // No labels at all.
        let c = Confusion::new(&[] as &[&str]);
        assert_eq!(c.summary().n, 0);
        assert_eq!(c.balanced_accuracy(), 0.0);
        let _ = c.table();
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn add_out_of_range_panics() {
        Confusion::new(&["a", "b"]).add(0, 2);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = three_class();
        a.merge(&three_class());
        assert_eq!(a.total(), 40);
        assert_eq!(a.counts[2], vec![0, 4, 12]);
        assert_close!(a.accuracy(), 0.7);
    }

    #[test]
    fn short_labels_are_unique_prefixes() {
        let gtzan = crate::GENRES;
        let c = Confusion::new(&gtzan);
        assert_eq!(
            c.short_labels(),
            vec!["blu", "cla", "cou", "dis", "hip", "jaz", "met", "pop", "reg", "roc"]
        );
        let c = Confusion::new(&["country", "counterpoint", "pop"]);
        assert_eq!(c.short_labels(), vec!["countr", "counte", "pop"]);
    }

    #[test]
    fn table_mentions_everything() {
        let t = three_class().table();
        for needle in [
            "precision",
            "recall",
            "support",
            "rows = truth",
            "accuracy",
            "balanced accuracy",
            "macro F1",
            "0.7000",
        ] {
            assert!(t.contains(needle), "missing {needle:?} in\n{t}");
        }
        // Confusion row for "c" is "0 2 6".
        assert!(
            t.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["c", "0", "2", "6"]),
            "{t}"
        );
    }

    #[test]
    fn summary_serde_roundtrip() {
        let s = three_class().summary();
        let json = serde_json::to_string(&s).unwrap();
        let back: Summary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
