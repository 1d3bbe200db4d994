//! indicatif progress bars for the model crate's training/feature stages.

use indicatif::{ProgressBar, ProgressStyle};
use model::train::{EpochRecord, Observer};

pub struct Bars {
    bar: Option<ProgressBar>,
    pub warnings: Vec<String>,
}

impl Bars {
    pub fn new() -> Self {
        Self {
            bar: None,
            warnings: Vec::new(),
        }
    }

    /// Runs `f` (which prints) with the bar cleared from the terminal, then redraws it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }
}

impl Observer for Bars {
    fn stage(&mut self, name: &str, total: usize) {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.to_string());
        self.bar = Some(bar);
    }
    fn tick(&mut self, message: &str) {
        if let Some(b) = &self.bar {
            b.set_message(message.to_string());
            b.inc(1);
        }
    }
    fn stage_done(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish();
        }
    }
    fn warn(&mut self, msg: &str) {
        // `ProgressBar::println` prints nothing when the bar is hidden (stderr not a
        // terminal): a warning must reach a log too.
        self.suspend(|| eprintln!("warning: {msg}"));
        self.warnings.push(msg.to_string());
    }
    fn epoch_done(&mut self, r: &EpochRecord) {
        eprintln!(
            "epoch {:>3}: train loss {:.3} acc {:.3} | valid loss {:.3} window acc {:.3} clip acc \
             {:.3} | lr {:.1e} | {:.1}s",
            r.epoch,
            r.train_loss,
            r.train_acc,
            r.valid_loss,
            r.valid_acc,
            r.valid_clip_acc,
            r.lr,
            r.seconds
        );
    }
}
