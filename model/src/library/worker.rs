//! The decoding threads: each takes the next file, decodes it and makes its windows,
//! then either hands them to the coordinator (cross-file) or runs the network on them
//! itself (per-file). They talk to the coordinator only through messages.

use super::messages::{FileEnd, Halt, Msg};
use super::permits::Permits;
use super::shared::Shared;
use crate::audio::{decode_file, Audio};
use crate::rhythm::RhythmTimeline;
use crate::tag_report::FileReport;
use crate::tagger::{FileTags, PreparedWindow, WindowMaker, WindowResult, FEED_BLOCK};
use crate::Result;
use crossbeam_channel::{Receiver, Sender, TryRecvError};

/// A thread: takes the next file, decodes it and makes its windows, until no file is left.
pub(super) struct Worker<'a> {
    pub(super) shared: &'a Shared<'a>,
    pub(super) jobs: Receiver<usize>,
    pub(super) out: Sender<Msg>,
    pub(super) stop: Receiver<()>,
}

/// Tells the coordinator when its thread panics, so that the run ends instead of waiting
/// for the file the thread had.
struct PanicNotice<'a>(&'a Sender<Msg>);

impl Drop for PanicNotice<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.send(Msg::Panicked);
        }
    }
}

impl Worker<'_> {
    pub(super) fn run(self) {
        let _notice = PanicNotice(&self.out);
        for file in self.jobs.iter() {
            if self.stopped() {
                return;
            }
            let Some(msg) = self.tag(file) else { return };
            if self.out.send(msg).is_err() {
                return;
            }
        }
    }

    fn stopped(&self) -> bool {
        matches!(self.stop.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// The message that ends `file`, or `None` when the run ended first.
    fn tag(&self, file: usize) -> Option<Msg> {
        let audio = match decode_file(&self.shared.files[file]) {
            Ok(a) => a,
            Err(e) => {
                return Some(Msg::File {
                    file,
                    warnings: Vec::new(),
                    audio_s: 0.0,
                    windows: 0,
                    end: FileEnd::Done(Err(e)),
                })
            }
        };
        let mut windows = 0;
        let end = if self.shared.cross_file {
            self.send_windows(file, &audio, &mut windows)
        } else {
            self.tag_whole(&audio, &mut windows)
        };
        let end = match end {
            Ok(end) => end,
            Err(Halt::File(e)) => FileEnd::Done(Err(e)),
            Err(Halt::Network(e)) => return Some(Msg::Network(e)),
            Err(Halt::Stop) => return None,
        };
        Some(Msg::File {
            file,
            audio_s: audio.samples.len() as f64 / audio.sample_rate as f64,
            warnings: audio.warnings,
            windows,
            end,
        })
    }

    /// Cross-file: hands each window to the coordinator as it is made.
    fn send_windows(&self, file: usize, audio: &Audio, made: &mut usize) -> Result<FileEnd, Halt> {
        let s = self.shared;
        let mut maker = WindowMaker::new(&s.model.card, audio.sample_rate, s.opts.tagger.hop_s)?;
        maker.run(&audio.samples, |window| {
            if self.stopped() {
                return Err(Halt::Stop);
            }
            s.permits.take(&self.stop)?;
            *made += 1;
            self.out
                .send(Msg::Window { file, window })
                .map_err(|_| Halt::Stop)
        })?;
        Ok(FileEnd::Sent {
            duration_s: audio.samples.len() as f64 / audio.sample_rate as f64,
            non_finite: maker.non_finite_samples() + audio.non_finite as u64,
            rhythm: self.rhythm(audio)?,
        })
    }

    /// Per-file: runs the network on the file's windows as a [`Tagger`] fed by
    /// [`tag_samples`] does — `max_batch` at a time, and what is left at the end of each
    /// block — so that the numbers are exactly [`analyse_audio`]'s. Only when no permit is
    /// free does it run what it holds sooner, so that threads never all wait on permits
    /// they hold themselves.
    ///
    /// [`Tagger`]: crate::tagger::Tagger
    /// [`tag_samples`]: crate::tagger::tag_samples
    /// [`analyse_audio`]: crate::tag_report::analyse_audio
    fn tag_whole(&self, audio: &Audio, made: &mut usize) -> Result<FileEnd, Halt> {
        let s = self.shared;
        let opts = &s.opts.tagger;
        let mut maker = WindowMaker::new(&s.model.card, audio.sample_rate, opts.hop_s)?;
        let mut batch = HeldWindows {
            permits: &s.permits,
            windows: Vec::new(),
        };
        let mut results = Vec::new();
        let blocks = audio.samples.chunks(FEED_BLOCK).map(Some);
        for block in blocks.chain([None]) {
            let emit = |window| {
                if self.stopped() {
                    return Err(Halt::Stop);
                }
                if !s.permits.try_take() {
                    batch.classify_into(s, &mut results)?;
                    s.permits.take(&self.stop)?;
                }
                *made += 1;
                batch.windows.push(window);
                if batch.windows.len() >= opts.max_batch {
                    batch.classify_into(s, &mut results)?;
                }
                Ok::<_, Halt>(())
            };
            match block {
                Some(samples) => maker.push(samples, emit)?,
                None => maker.finish(emit)?,
            }
            batch.classify_into(s, &mut results)?;
        }
        let tags = FileTags::from_windows(
            results,
            &s.model.card,
            audio.samples.len() as f64 / audio.sample_rate as f64,
            maker.non_finite_samples() + audio.non_finite as u64,
            opts.silence_db,
        );
        Ok(FileEnd::Done(match tags {
            Ok(tags) => Ok(FileReport {
                tags,
                rhythm: self.rhythm(audio)?,
            }),
            Err(e) => Err(e),
        }))
    }

    fn rhythm(&self, audio: &Audio) -> Result<RhythmTimeline> {
        if self.shared.opts.rhythm {
            RhythmTimeline::analyse(&audio.samples, audio.sample_rate)
        } else {
            Ok(RhythmTimeline::default())
        }
    }
}

/// A per-file thread's windows waiting for the network, with their permits; the permits
/// go back when the windows have been through it, or when the thread unwinds.
struct HeldWindows<'a> {
    permits: &'a Permits,
    windows: Vec<PreparedWindow>,
}

impl HeldWindows<'_> {
    fn classify_into(&mut self, s: &Shared, out: &mut Vec<WindowResult>) -> Result<(), Halt> {
        if self.windows.is_empty() {
            return Ok(());
        }
        let results = s.classify(&self.windows);
        self.permits.give_back(self.windows.len());
        self.windows.clear();
        out.extend(results?);
        Ok(())
    }
}

impl Drop for HeldWindows<'_> {
    fn drop(&mut self) {
        self.permits.give_back(self.windows.len());
    }
}
