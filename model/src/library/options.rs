//! What a library run is asked to do and what it reports having done: the public knobs
//! of [`tag_library`](super::tag_library) with their per-device defaults and checks, and
//! its totals. Plain data, read by every stage of the pipeline.

use crate::tagger::TaggerOptions;
use crate::{Error, Result};
use candle_core::Device;

/// Which path [`tag_library`](super::tag_library) takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// Cross-file, except on the CPU with one thread: there the inference stage would be
    /// a second busy thread beside the one asked for.
    Auto,
    /// Each thread runs the network on its own file's windows.
    PerFile,
    /// One inference stage runs the network on windows of consecutive files together.
    CrossFile,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LibraryOptions {
    /// Hop and silence threshold for every file; `max_batch` is the per-file path's batch.
    pub tagger: TaggerOptions,
    /// Threads that decode files and make their windows (on the per-file path they also
    /// run the network).
    pub decode_threads: usize,
    /// Windows per forward pass on the cross-file path.
    pub batch_windows: usize,
    /// The most windows on their way through the network at once; a thread that would
    /// make one more waits. At least `batch_windows` on the cross-file path.
    pub max_pending_windows: usize,
    /// Whether each file gets its tempo and key readings
    /// ([`FileReport::rhythm`](crate::tag_report::FileReport::rhythm)); without them its
    /// timeline is empty.
    pub rhythm: bool,
    pub batching: Batching,
}

impl LibraryOptions {
    /// The cross-file batch on a GPU, whose throughput grows with the batch far beyond
    /// the CPU's; not yet measured on one (`cargo xtask tag --batch` changes it).
    pub const GPU_BATCH: usize = 256;
    /// The cross-file batch on the CPU: on two cores 32 and 64 were equally fast (465×
    /// real time; 8 gave 440×), and 32 holds half the windows.
    pub const CPU_BATCH: usize = 32;

    /// Defaults for a model on `device`: a thread per core, [`Self::CPU_BATCH`] or
    /// [`Self::GPU_BATCH`], rhythm on.
    pub fn for_device(device: &Device) -> Self {
        let tagger = TaggerOptions::default();
        let mut opts = Self {
            tagger,
            decode_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_windows: if device.is_cpu() {
                Self::CPU_BATCH
            } else {
                Self::GPU_BATCH
            },
            max_pending_windows: 0,
            rhythm: true,
            batching: Batching::Auto,
        };
        opts.max_pending_windows = opts.default_pending_windows();
        opts
    }

    /// Room for four cross-file batches, or two per-file batches per thread, whichever is
    /// more: enough that neither the threads nor the network wait for the other.
    pub fn default_pending_windows(&self) -> usize {
        (4 * self.batch_windows).max(2 * self.decode_threads * self.tagger.max_batch)
    }

    /// Whether a model on `device` takes the cross-file path.
    pub fn cross_file(&self, device: &Device) -> bool {
        match self.batching {
            Batching::Auto => !device.is_cpu() || self.decode_threads > 1,
            Batching::PerFile => false,
            Batching::CrossFile => true,
        }
    }

    /// Refuses options no run could use, naming the one at fault.
    pub fn validate(&self, device: &Device) -> Result<()> {
        self.tagger.validate()?;
        let bad = |what: String| Err(Error::Config(what));
        if self.decode_threads == 0 {
            return bad("decode_threads must be at least 1".into());
        }
        if self.batch_windows == 0 {
            return bad("batch_windows must be at least 1".into());
        }
        if self.max_pending_windows == 0 {
            return bad("max_pending_windows must be at least 1".into());
        }
        if self.cross_file(device) && self.max_pending_windows < self.batch_windows {
            return bad(format!(
                "max_pending_windows ({}) must be at least batch_windows ({}): a cross-file \
                 batch is held whole",
                self.max_pending_windows, self.batch_windows
            ));
        }
        Ok(())
    }
}

/// What a [`tag_library`](super::tag_library) run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibraryStats {
    pub files: usize,
    /// Of those, files reported with an error.
    pub failed: usize,
    /// Windows made (silent ones included).
    pub windows: usize,
    /// Batches the network was run on (or, all silent, skipped).
    pub batches: usize,
    /// Seconds of audio decoded.
    pub audio_seconds: f64,
    pub wall_seconds: f64,
    /// The most windows that were on their way through the network at once.
    pub peak_pending_windows: usize,
    /// Whether the run took the cross-file path.
    pub cross_file: bool,
}

impl LibraryStats {
    /// Seconds of audio tagged per second of wall time.
    pub fn times_real_time(&self) -> f64 {
        self.audio_seconds / self.wall_seconds.max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_device() {
        let cpu = LibraryOptions::for_device(&Device::Cpu);
        assert_eq!(cpu.batch_windows, LibraryOptions::CPU_BATCH);
        // Cross-file on the CPU, but not with one thread, which must keep to one core.
        let one = LibraryOptions {
            decode_threads: 1,
            ..cpu
        };
        assert!(!one.cross_file(&Device::Cpu));
        assert!(LibraryOptions {
            decode_threads: 2,
            ..cpu
        }
        .cross_file(&Device::Cpu));
        assert!(cpu.decode_threads >= 1 && cpu.rhythm);
        assert!(cpu.max_pending_windows >= 2 * cpu.decode_threads * cpu.tagger.max_batch);
        cpu.validate(&Device::Cpu).unwrap();
        let forced = LibraryOptions {
            batching: Batching::CrossFile,
            ..cpu
        };
        assert!(forced.cross_file(&Device::Cpu));
        assert!(!LibraryOptions {
            batching: Batching::PerFile,
            ..cpu
        }
        .cross_file(&Device::Cpu));
    }
}
