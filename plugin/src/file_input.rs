//! The standalone's `--input FILE… [--loop]`: files played through the plugin in real time,
//! in place of the backend's input (and so to its output, where it has one).
//!
//! A feeder thread decodes each file (the model crate's decoder: any format `xtask tag`
//! reads, downmixed to mono), resamples it to the host rate and keeps a lock-free ring a
//! second ahead of the audio thread, which only pops from it: the audio thread's work stays
//! allocation- and lock-free. The backend's clock paces playback, so analysis, MIDI and the
//! log see the music exactly as they would live.

use model::audio::StreamResampler;
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Files to play, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Playlist {
    pub files: Vec<PathBuf>,
    /// Start again after the last file.
    pub looped: bool,
}

/// Progress the console and the editor can show.
#[derive(Debug, Default)]
pub struct PlayerStatus {
    /// Every file has been played to the end (never with `looped`).
    ended: AtomicBool,
    /// Frames the audio thread had to fill with silence because the feeder was behind.
    underruns: AtomicU64,
    /// Index of the file playing now.
    current: AtomicU64,
}

impl PlayerStatus {
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed) as usize
    }
}

/// Plays a playlist at one sample rate (made on activation, dropped on deactivation).
pub struct FilePlayer {
    ring: HeapCons<f32>,
    feeder_done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    status: Arc<PlayerStatus>,
    feeder: Option<JoinHandle<()>>,
}

impl FilePlayer {
    pub fn start(playlist: Playlist, rate: u32, status: Arc<PlayerStatus>) -> Self {
        let (prod, ring) = HeapRb::<f32>::new((rate.max(1) as usize).max(4096)).split();
        let feeder_done = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (done, halt, st) = (feeder_done.clone(), stop.clone(), status.clone());
        let feeder = std::thread::Builder::new()
            .name("genre-tagger file input".into())
            .spawn(move || {
                feed(&playlist, rate, prod, &halt, &st);
                done.store(true, Ordering::Release);
            })
            .expect("spawning the file input thread");
        Self {
            ring,
            feeder_done,
            stop,
            status,
            feeder: Some(feeder),
        }
    }

    /// Replaces the block's input with the next samples of the playlist (the same mono
    /// signal on every channel); silence once it has ended. Audio thread: pops only.
    #[inline]
    pub fn fill<S: AsMut<[f32]>>(&mut self, channels: &mut [S]) {
        let Some((first, rest)) = channels.split_first_mut() else {
            return;
        };
        let first = first.as_mut();
        let got = self.ring.pop_slice(first);
        first[got..].fill(0.0);
        if got < first.len() {
            if self.feeder_done.load(Ordering::Acquire) {
                self.status.ended.store(true, Ordering::Release);
            } else {
                let short = (first.len() - got) as u64;
                self.status.underruns.fetch_add(short, Ordering::Relaxed);
            }
        }
        for ch in rest {
            let ch = ch.as_mut();
            let n = ch.len().min(first.len());
            ch[..n].copy_from_slice(&first[..n]);
            ch[n..].fill(0.0);
        }
    }
}

impl Drop for FilePlayer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(f) = self.feeder.take() {
            let _ = f.join();
        }
    }
}

/// Decodes, resamples and pushes the playlist; waits while the ring is full.
fn feed(
    list: &Playlist,
    rate: u32,
    mut ring: HeapProd<f32>,
    stop: &AtomicBool,
    status: &PlayerStatus,
) {
    let mut out = Vec::new();
    loop {
        let mut played_any = false;
        for (i, path) in list.files.iter().enumerate() {
            status.current.store(i as u64, Ordering::Relaxed);
            let audio = match model::audio::decode_file(path) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!(
                        "genre-tagger: cannot play {}: {e}; skipping it",
                        path.display()
                    );
                    continue;
                }
            };
            let mut resampler = match StreamResampler::new(audio.sample_rate, rate) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!(
                        "genre-tagger: cannot play {} at {rate} Hz: {e}",
                        path.display()
                    );
                    continue;
                }
            };
            played_any = true;
            let chunks = audio.samples.chunks(4096).map(Some).chain([None]);
            for chunk in chunks {
                out.clear();
                let r = match chunk {
                    Some(c) => resampler.push(c, &mut out),
                    None => resampler.finish(&mut out),
                };
                if let Err(e) = r {
                    eprintln!("genre-tagger: resampling {}: {e}", path.display());
                    break;
                }
                let mut rest = &out[..];
                while !rest.is_empty() {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let n = ring.push_slice(rest);
                    rest = &rest[n..];
                    if ring.is_full() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
        if !list.looped || !played_any {
            return;
        }
    }
}
