//! Timing: interleaved samples of ours and the Python reference, medians per unit, and
//! how a measurement fills a table row.

use super::py::Python;
use super::table::{Row, Stat};
use crate::progress::Bars;
use anyhow::{Context, Result};
use model::train::Observer;
use serde_json::Value;
use std::time::Instant;

/// Rough length of one timed sample.
const SAMPLE_TARGET_S: f64 = 0.1;

fn iters_for(one_call_s: f64) -> usize {
    ((SAMPLE_TARGET_S / one_call_s.max(1e-9)).ceil() as usize).clamp(1, 10_000)
}

/// Times interleaved samples of ours and (when there is one) the reference.
pub struct Session {
    pub samples: usize,
    pub bars: Bars,
    pub py: Option<Python>,
}

/// A reference measurement: the Python command, and what to divide its time by.
pub struct Reference {
    pub cmd: Value,
    pub per: f64,
}

impl Session {
    /// Medians per unit: each call of `ours` (and of the reference command) covers `per`
    /// units (e.g. a batch of 32 windows), and the stats are per unit.
    pub fn measure(
        &mut self,
        label: &str,
        per: f64,
        ours: &mut dyn FnMut() -> Result<()>,
        reference: Option<Reference>,
    ) -> (Result<Stat>, Option<Result<Stat>>) {
        let ours_iters = (|| -> Result<usize> {
            ours()?; // warm-up: caches, allocator, lazy init
            let t = Instant::now();
            ours()?;
            Ok(iters_for(t.elapsed().as_secs_f64()))
        })();
        let reference = reference.filter(|_| self.py.is_some());
        let ref_iters = reference.as_ref().map(|r| -> Result<usize> {
            let py = self.py.as_mut().expect("filtered");
            py.sample(r.cmd.clone(), 1)?;
            Ok(iters_for(py.sample(r.cmd.clone(), 1)?))
        });
        let mut ours_s = Vec::new();
        let mut ref_s = Vec::new();
        let mut ours_err = ours_iters.as_ref().err().map(|e| format!("{e:#}"));
        let mut ref_err = match &ref_iters {
            Some(Err(e)) => Some(format!("{e:#}")),
            _ => None,
        };
        for i in 0..self.samples {
            for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
                if side == 0 {
                    if let (Ok(n), None) = (&ours_iters, &ours_err) {
                        let t = Instant::now();
                        let r = (0..*n).try_for_each(|_| ours());
                        match r {
                            Ok(()) => ours_s.push(t.elapsed().as_secs_f64() / *n as f64 / per),
                            Err(e) => ours_err = Some(format!("{e:#}")),
                        }
                    }
                } else if let (Some(r), Some(Ok(n)), None) = (&reference, &ref_iters, &ref_err) {
                    match self
                        .py
                        .as_mut()
                        .expect("filtered")
                        .sample(r.cmd.clone(), *n)
                    {
                        Ok(s) => ref_s.push(s / r.per),
                        Err(e) => ref_err = Some(format!("{e:#}")),
                    }
                }
            }
            self.bars.tick(label);
        }
        let ours = match ours_err {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => Stat::from_samples(ours_s).context("no samples"),
        };
        let reference = reference.map(|_| match ref_err {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => Stat::from_samples(ref_s).context("no samples"),
        });
        (ours, reference)
    }
}

/// Fills a row from a measurement; a failed reference becomes the row's note.
pub fn fill(row: &mut Row, (ours, reference): (Result<Stat>, Option<Result<Stat>>)) -> Result<()> {
    row.ours = Some(ours.with_context(|| format!("measuring ours: {}", row.what))?);
    match reference {
        Some(Ok(s)) => row.reference = Some(s),
        Some(Err(e)) => row.note = Some(format!("reference failed: {e:#}")),
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_length_targets_a_tenth_of_a_second() {
        assert_eq!(iters_for(0.005), 20);
        assert_eq!(iters_for(0.5), 1);
        assert_eq!(iters_for(0.0), 10_000);
    }
}
