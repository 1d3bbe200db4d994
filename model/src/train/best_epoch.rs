//! Which epoch's weights a trainer keeps. Decided once, while training, and returned in
//! [`TrainOutcome`](super::TrainOutcome): the report and the model card show that epoch
//! rather than working it out again from the history.

use super::EpochRecord;
use serde::{Deserialize, Serialize};

/// How an epoch's validation figures are judged against the best so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BestBy {
    /// Higher window accuracy, ties broken by lower window loss.
    AccuracyThenLoss,
    /// Lower window loss.
    Loss,
}

impl BestBy {
    /// What is compared, larger is better; `None` when a figure it needs is not finite
    /// (such an epoch never becomes the best, and any finite one replaces it).
    fn key(self, r: &EpochRecord) -> Option<(f64, f64)> {
        let key = match self {
            BestBy::AccuracyThenLoss => (r.valid_acc, -r.valid_loss),
            BestBy::Loss => (-r.valid_loss, 0.0),
        };
        (key.0.is_finite() && key.1.is_finite()).then_some(key)
    }

    /// Whether `candidate` beats `best`; an equal epoch does not (the earlier one stays).
    pub fn better(self, candidate: &EpochRecord, best: &EpochRecord) -> bool {
        match (self.key(candidate), self.key(best)) {
            (Some(c), Some(b)) => c > b,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The epoch this rule keeps from a whole history: the one a trainer using it returns.
    pub fn pick(self, history: &[EpochRecord]) -> Option<usize> {
        let mut best: Option<&EpochRecord> = None;
        for r in history {
            if best.is_none_or(|b| self.better(r, b)) {
                best = Some(r);
            }
        }
        best.map(|r| r.epoch)
    }
}

/// The best epoch so far, with whatever the trainer needs to restore it (`W`: its weights).
pub(super) struct BestEpoch<W> {
    rule: BestBy,
    best: Option<(EpochRecord, W)>,
}

impl<W> BestEpoch<W> {
    pub fn new(rule: BestBy) -> Self {
        Self { rule, best: None }
    }

    /// Offers a finished epoch; `weights` is called, and kept, only when it is the new
    /// best. Returns whether it was.
    pub fn offer(
        &mut self,
        rec: &EpochRecord,
        weights: impl FnOnce() -> crate::Result<W>,
    ) -> crate::Result<bool> {
        let better = match &self.best {
            None => true,
            Some((b, _)) => self.rule.better(rec, b),
        };
        if better {
            self.best = Some((rec.clone(), weights()?));
        }
        Ok(better)
    }

    /// Epochs since the best one, as of `epoch` (early stopping counts these).
    pub fn epochs_since(&self, epoch: usize) -> usize {
        self.best.as_ref().map_or(epoch, |(b, _)| epoch - b.epoch)
    }

    /// The best epoch's number and weights; `None` if no epoch was offered.
    pub fn into_best(self) -> Option<(usize, W)> {
        self.best.map(|(r, w)| (r.epoch, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(epoch: usize, valid_acc: f64, valid_loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0,
            train_acc: 0.5,
            valid_loss,
            valid_acc,
            valid_clip_acc: valid_acc,
            lr: 1e-3,
            seconds: 1.0,
        }
    }

    #[test]
    fn accuracy_then_loss_prefers_accuracy_then_the_lower_loss_then_the_earlier_epoch() {
        let rule = BestBy::AccuracyThenLoss;
        assert_eq!(rule.pick(&[]), None);
        let h = [rec(1, 0.5, 1.0), rec(2, 0.7, 1.2), rec(3, 0.6, 0.9)];
        assert_eq!(rule.pick(&h), Some(2));
        let h = [rec(1, 0.7, 1.0), rec(2, 0.7, 0.8), rec(3, 0.7, 0.8)];
        assert_eq!(rule.pick(&h), Some(2));
    }

    #[test]
    fn loss_prefers_the_lowest_loss_whatever_the_accuracy() {
        let h = [
            rec(1, 0.5, 1.0),
            rec(2, 0.7, 1.2),
            rec(3, 0.6, 0.9),
            rec(4, 0.6, 0.9),
        ];
        assert_eq!(BestBy::Loss.pick(&h), Some(3));
        assert_eq!(BestBy::AccuracyThenLoss.pick(&h), Some(2));
    }

    #[test]
    fn a_non_finite_epoch_is_never_kept_over_a_finite_one() {
        for rule in [BestBy::AccuracyThenLoss, BestBy::Loss] {
            let h = [
                rec(1, f64::NAN, f64::NAN),
                rec(2, 0.1, 2.0),
                rec(3, 0.9, f64::NAN),
            ];
            assert_eq!(rule.pick(&h), Some(2), "{rule:?}");
        }
    }

    #[test]
    fn the_tracker_keeps_the_picked_epochs_weights_and_counts_epochs_since() {
        let h = [
            rec(1, 0.5, 1.0),
            rec(2, 0.7, 0.9),
            rec(3, 0.6, 0.8),
            rec(4, 0.6, 0.95),
        ];
        for rule in [BestBy::AccuracyThenLoss, BestBy::Loss] {
            let mut best = BestEpoch::new(rule);
            let mut snapshots = 0;
            for r in &h {
                best.offer(r, || {
                    snapshots += 1;
                    Ok(format!("weights of {}", r.epoch))
                })
                .unwrap();
            }
            let want = rule.pick(&h).unwrap();
            assert_eq!(best.epochs_since(4), 4 - want);
            assert_eq!(best.into_best(), Some((want, format!("weights of {want}"))));
            assert_eq!(snapshots, if rule == BestBy::Loss { 3 } else { 2 });
        }
    }
}
