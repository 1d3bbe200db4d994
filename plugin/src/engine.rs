//! Activation lifecycle: the ring, the audio-thread [`Tap`] and the analysis worker.
//!
//! Everything that allocates is made in [`Engine::activate`]. Hosts may call it
//! repeatedly (pedalboard calls it before every `process`), so it is a no-op when the sample
//! rate is unchanged and the worker is alive. [`Engine::deactivate`] (and drop) stops the
//! worker and joins it; the worker checks its stop flag at least every 100 ms of audio
//! plus one model call.

use crate::params::TaggerParams;
use crate::shared::{device_index, HistoryPoint, Shared};
use crate::tap::Tap;
use model::tagger::{Tagger, TaggerOptions};
use model::weights::LoadedModel;
use ringbuf::traits::{Consumer, Split};
use ringbuf::{HeapCons, HeapRb};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Seconds of mono audio the ring holds: how long the worker may stall before samples drop.
pub const RING_SECONDS: usize = 8;
/// How long the worker sleeps when the ring is empty.
const IDLE_POLL: Duration = Duration::from_millis(10);

/// Where the worker gets its network.
#[derive(Clone)]
pub enum ModelSource {
    /// The model embedded in the binary (loaded once per process, on the first worker).
    Embedded,
    /// A given model (tests; a future "load model file" option).
    Given(Arc<LoadedModel>),
}

static EMBEDDED: OnceLock<Result<Arc<LoadedModel>, String>> = OnceLock::new();

/// The embedded default model on the best device, loaded once per process. A failure (an
/// empty or incompatible weights file, a panic in the loader) is kept as its message.
pub fn embedded_model() -> Result<Arc<LoadedModel>, String> {
    EMBEDDED
        .get_or_init(|| {
            match catch_unwind(|| model::weights::load_default(&model::device::best())) {
                Ok(Ok(m)) => Ok(Arc::new(m)),
                Ok(Err(e)) => Err(format!("cannot load the embedded model: {e}")),
                Err(p) => Err(format!(
                    "loading the embedded model panicked: {}",
                    panic_message(&*p)
                )),
            }
        })
        .clone()
}

pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".into()
    }
}

pub struct Engine {
    shared: Arc<Shared>,
    params: Arc<TaggerParams>,
    source: ModelSource,
    rate: u32,
    tap: Option<Tap>,
    worker: Option<Worker>,
}

impl Engine {
    pub fn new(shared: Arc<Shared>, params: Arc<TaggerParams>, source: ModelSource) -> Self {
        Self {
            shared,
            params,
            source,
            rate: 0,
            tap: None,
            worker: None,
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Prepares for `sample_rate`. Cheap and idempotent when nothing changed. Always
    /// succeeds: if analysis cannot run (unsupported rate, no model) the audio still passes
    /// and the editor shows why.
    pub fn activate(&mut self, sample_rate: f32) -> bool {
        let rate = if sample_rate.is_finite() && sample_rate >= 1.0 {
            sample_rate.round() as u32
        } else {
            0
        };
        if rate == self.rate
            && self.tap.is_some()
            && self
                .worker
                .as_ref()
                .is_some_and(|w| !w.handle.is_finished())
        {
            return true;
        }
        self.deactivate();
        let capacity = (rate.max(1) as usize * RING_SECONDS).max(1 << 16);
        let (prod, cons) = HeapRb::<f32>::new(capacity).split();
        self.tap = Some(Tap::new(prod, self.shared.clone()));
        self.worker = Some(Worker::spawn(
            cons,
            rate,
            self.source.clone(),
            self.shared.clone(),
            self.params.clone(),
        ));
        self.rate = rate;
        self.shared.sample_rate.store(rate, Ordering::Release);
        true
    }

    /// Stops and joins the worker and frees the ring.
    pub fn deactivate(&mut self) {
        if let Some(w) = self.worker.take() {
            w.stop();
        }
        self.tap = None;
        self.rate = 0;
        self.shared.sample_rate.store(0, Ordering::Release);
    }

    pub fn is_active(&self) -> bool {
        self.tap.is_some()
    }

    /// The audio-thread work for one block: queue the downmix, touch nothing else.
    #[inline]
    pub fn process<S: AsRef<[f32]>>(&mut self, channels: &[S]) {
        if let Some(tap) = self.tap.as_mut() {
            tap.process(channels);
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.deactivate();
    }
}

struct Worker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Worker {
    fn spawn(
        ring: HeapCons<f32>,
        rate: u32,
        source: ModelSource,
        shared: Arc<Shared>,
        params: Arc<TaggerParams>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        shared.worker_running.store(true, Ordering::Release);
        let handle = std::thread::Builder::new()
            .name("genre-tagger analysis".into())
            .spawn(move || {
                let s = shared.clone();
                // One analysis window a second needs no second core: with rayon's default
                // (every core) candle split each small GEMM and spun, costing 5.7x the CPU
                // for the same work (`cargo xtask bench`: 1.74 % vs 0.31 % of a core). A
                // one-thread pool keeps the plugin's footprint to one core, shared politely.
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(|_| "genre-tagger analysis pool".into())
                    .build();
                // A panic outside the guarded model call (a bug here) must not leave the flag set.
                let r = catch_unwind(AssertUnwindSafe(|| match &pool {
                    Ok(pool) => pool.install(|| run(ring, rate, source, &shared, &params, &flag)),
                    Err(_) => run(ring, rate, source, &shared, &params, &flag),
                }));
                if let Err(p) = r {
                    s.set_error(format!("analysis worker stopped: {}", panic_message(&*p)));
                }
                s.worker_running.store(false, Ordering::Release);
            })
            .expect("spawning the analysis thread");
        Self { stop, handle }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        // The loop runs on the one-thread pool, not on this handle's thread, so unparking
        // would not reach it: it notices `stop` within one idle poll (10 ms).
        let _ = self.handle.join();
    }
}

fn make_tagger(
    model: &Arc<LoadedModel>,
    rate: u32,
    opts: TaggerOptions,
    shared: &Shared,
) -> Option<Tagger> {
    match Tagger::new(model.clone(), rate, opts) {
        Ok(t) => Some(t),
        Err(e) => {
            shared.set_error(format!("analysis cannot run at {rate} Hz: {e}"));
            None
        }
    }
}

fn run(
    mut ring: HeapCons<f32>,
    rate: u32,
    source: ModelSource,
    shared: &Shared,
    params: &TaggerParams,
    stop: &AtomicBool,
) {
    let model = match source {
        ModelSource::Given(m) => Ok(m),
        ModelSource::Embedded => embedded_model(),
    };
    let model = match model {
        Ok(m) => {
            shared.update_status(|s| {
                s.model = m.source.clone();
                s.labels = m.card.labels.clone();
            });
            shared.device.store(
                device_index(model::device::name(&m.device)),
                Ordering::Release,
            );
            Some(m)
        }
        Err(e) => {
            shared.set_error(e);
            None
        }
    };
    let mut opts = params.tagger_options();
    let mut tagger = model
        .as_ref()
        .and_then(|m| make_tagger(m, rate, opts, shared));
    // 100 ms of audio per push keeps the stop flag responsive.
    let mut buf = vec![0.0f32; (rate as usize / 10).max(256)];
    let mut seen_resets = shared.reset_requests.load(Ordering::Acquire);
    let mut consumed: u64 = 0;
    shared.request_repaint();

    while !stop.load(Ordering::Acquire) {
        let resets = shared.reset_requests.load(Ordering::Acquire);
        if resets != seen_resets {
            seen_resets = resets;
            if let Some(t) = tagger.as_mut() {
                t.reset();
            }
            shared.clear_distribution();
            shared.request_repaint();
        }
        let n = ring.pop_slice(&mut buf);
        if n == 0 {
            std::thread::park_timeout(IDLE_POLL);
            continue;
        }
        consumed += n as u64;
        let (Some(m), Some(t)) = (model.as_ref(), tagger.as_mut()) else {
            // Nothing to analyse with: keep draining so the ring never reports drops.
            shared.consumed.fetch_add(n as u64, Ordering::Release);
            continue;
        };
        let wanted = params.tagger_options();
        if wanted != opts && t.set_options(wanted).is_ok() {
            opts = wanted;
        }
        let t0 = Instant::now();
        match catch_unwind(AssertUnwindSafe(|| t.push(&buf[..n]))) {
            Ok(Ok(windows)) if windows.is_empty() => {}
            Ok(Ok(windows)) => {
                let ms = t0.elapsed().as_secs_f32() * 1000.0 / windows.len() as f32;
                shared.last_inference_ms.store(ms, Ordering::Relaxed);
                shared
                    .windows
                    .fetch_add(windows.len() as u64, Ordering::Relaxed);
                shared.error_active.store(false, Ordering::Release);
                let frozen = params.freeze.value();
                if !frozen {
                    if let Some(s) = t.smoothed() {
                        shared.publish(s);
                    }
                }
                for w in &windows {
                    shared.silent.store(w.silent, Ordering::Relaxed);
                    shared.level_db.store(w.level_db, Ordering::Relaxed);
                    if !frozen {
                        shared.push_history(HistoryPoint {
                            start_s: consumed as f64 / rate as f64,
                            top: shared.top.load(Ordering::Acquire),
                            confidence: shared.confidence.load(Ordering::Relaxed),
                            silent: w.silent,
                        });
                    }
                }
                shared.request_repaint();
            }
            Ok(Err(e)) => shared.set_error(format!("analysis failed: {e}")),
            Err(p) => {
                shared.panics.fetch_add(1, Ordering::AcqRel);
                shared.set_error(format!(
                    "the model panicked ({}); analysis restarted",
                    panic_message(&*p)
                ));
                // The tagger may be half-updated: start a fresh stream and carry on.
                tagger = make_tagger(m, rate, opts, shared);
                shared.request_repaint();
            }
        }
        shared.consumed.fetch_add(n as u64, Ordering::Release);
    }
}
