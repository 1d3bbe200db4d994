//! Real-time safety of the audio-thread path: `Engine::process` (exactly what the plugin's
//! `process()` calls) runs under `assert_no_alloc` for block sizes 1…8192, sample rates
//! 8…192 kHz, mono and stereo, with silence, NaN, ±inf and denormal input, while the
//! analysis worker runs a real network on another thread.
//!
//! In debug builds nice-plug (feature `assert_process_allocs`) installs the allocator of
//! `nice_assert_no_alloc`; any (de)allocation inside `assert_no_alloc` aborts the process
//! with a backtrace, which fails this test binary. `checker_is_live` proves the check is armed.

mod common;

use common::*;
use genre_tagger::engine::ModelSource;
use genre_tagger::shared::Shared;
use genre_tagger::tap::Tap;
use nice_assert_no_alloc::assert_no_alloc;
use ringbuf::traits::Split;
use ringbuf::HeapRb;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const RATES: [u32; 9] = [
    8_000, 11_025, 16_000, 22_050, 44_100, 48_000, 88_200, 96_000, 192_000,
];
const BLOCKS: [usize; 20] = [
    1, 2, 3, 5, 16, 31, 32, 64, 100, 128, 255, 256, 257, 441, 512, 1000, 1024, 4096, 4097, 8192,
];

#[derive(Clone, Copy, Debug)]
enum Input {
    Music,
    Silence,
    Nan,
    Inf,
    Denormal,
    Mixed,
}
const INPUTS: [Input; 6] = [
    Input::Music,
    Input::Silence,
    Input::Nan,
    Input::Inf,
    Input::Denormal,
    Input::Mixed,
];

fn fill(buf: &mut [f32], input: Input, rate: u32, ch: usize) {
    let music = music_like(rate, buf.len(), ch, 0);
    for (i, s) in buf.iter_mut().enumerate() {
        *s = match input {
            Input::Music => music[i],
            Input::Silence => 0.0,
            Input::Nan => f32::NAN,
            Input::Inf => {
                if i % 2 == 0 {
                    f32::INFINITY
                } else {
                    f32::NEG_INFINITY
                }
            }
            Input::Denormal => {
                f32::from_bits(1 + (i as u32 % 1000)) * if i % 2 == 0 { 1.0 } else { -1.0 }
            }
            Input::Mixed => [
                music[i],
                f32::NAN,
                f32::INFINITY,
                f32::MIN_POSITIVE / 4.0,
                -0.0,
                f32::NEG_INFINITY,
                1.0,
                -1.0,
            ][i % 8],
        };
    }
}

fn bits(chs: &[Vec<f32>]) -> Vec<Vec<u32>> {
    chs.iter()
        .map(|c| c.iter().map(|s| s.to_bits()).collect())
        .collect()
}

#[test]
fn checker_is_live() {
    if !cfg!(debug_assertions) {
        eprintln!(
            "release build: nice-plug's allocation checker is compiled out; nothing to prove"
        );
        return;
    }
    if std::env::var_os("GT_ALLOC_PROBE").is_some() {
        assert_no_alloc(|| std::hint::black_box(vec![1u8; 64]).len());
        return; // unreachable when the checker works
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "checker_is_live",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GT_ALLOC_PROBE", "1")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an allocation inside assert_no_alloc did not abort: the check is not armed"
    );
}

#[test]
fn process_is_allocation_free_everywhere() {
    let model = untrained_model();
    for &rate in &RATES {
        for &channels in &[1usize, 2] {
            let (mut engine, shared, _params) = engine(ModelSource::Given(model.clone()));
            assert!(engine.activate(rate as f32));
            let mut buf: Vec<Vec<f32>> = vec![vec![0.0; 8192]; channels];
            for (k, &block) in BLOCKS.iter().enumerate() {
                let input = INPUTS[k % INPUTS.len()];
                for (ch, b) in buf.iter_mut().enumerate() {
                    fill(&mut b[..block], input, rate, ch);
                }
                let views: Vec<&mut [f32]> = buf.iter_mut().map(|b| &mut b[..block]).collect();
                let before = bits(&views.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
                assert_no_alloc(|| engine.process(&views));
                let after = bits(&views.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
                assert_eq!(before, after, "process changed the audio ({rate} Hz, {channels} ch, block {block}, {input:?})");
            }
            // Every input kind at every block size, on the same engine.
            for &block in &BLOCKS {
                for &input in &INPUTS {
                    for (ch, b) in buf.iter_mut().enumerate() {
                        fill(&mut b[..block], input, rate, ch);
                    }
                    let views: Vec<&[f32]> = buf.iter().map(|b| &b[..block]).collect();
                    assert_no_alloc(|| engine.process(&views));
                }
            }
            // Repeated activation at the same rate is also allocation-free (pedalboard calls it
            // before every block).
            assert_no_alloc(|| assert!(engine.activate(rate as f32)));
            assert!(shared.non_finite.load(Ordering::Relaxed) > 0);
            engine.deactivate();
        }
    }
}

#[test]
fn every_block_size_from_1_to_8192() {
    // All sizes, one rate, both layouts: the chunking inside the tap has no edge case left.
    let shared = Arc::new(Shared::default());
    let (prod, mut cons) = HeapRb::<f32>::new(1 << 16).split();
    let mut tap = Tap::new(prod, shared.clone());
    let left = music_like(48_000, 8192, 0, 0);
    let right = music_like(48_000, 8192, 1, 0);
    let mut out = vec![0.0f32; 8192];
    for block in 1..=8192usize {
        let st = [&left[..block], &right[..block]];
        assert_no_alloc(|| tap.process(&st));
        let n = ringbuf::traits::Consumer::pop_slice(&mut cons, &mut out);
        assert_eq!(n, block);
        for i in [0, block / 2, block - 1] {
            assert_eq!(
                out[i],
                (left[i] + right[i]) * 0.5,
                "downmix of sample {i} in block {block}"
            );
        }
        let mono = [&left[..block]];
        assert_no_alloc(|| tap.process(&mono));
        let n = ringbuf::traits::Consumer::pop_slice(&mut cons, &mut out);
        assert_eq!(n, block);
        assert_eq!(&out[..block], &left[..block]);
    }
    assert_eq!(shared.dropped.load(Ordering::Relaxed), 0);
}

#[test]
fn full_ring_drops_and_counts_without_blocking() {
    let shared = Arc::new(Shared::default());
    let (prod, _cons) = HeapRb::<f32>::new(1000).split(); // nobody consumes
    let mut tap = Tap::new(prod, shared.clone());
    let block = vec![0.25f32; 512];
    for _ in 0..10 {
        assert_no_alloc(|| tap.process(&[&block[..], &block[..]]));
    }
    assert_eq!(shared.queued.load(Ordering::Relaxed), 1000);
    assert_eq!(shared.dropped.load(Ordering::Relaxed), 10 * 512 - 1000);
}

#[test]
fn nan_inf_are_counted_and_analysed_as_zero() {
    let shared = Arc::new(Shared::default());
    let (prod, mut cons) = HeapRb::<f32>::new(64).split();
    let mut tap = Tap::new(prod, shared.clone());
    let l = [f32::NAN, 1.0, f32::INFINITY, 0.5];
    let r = [0.5, f32::NEG_INFINITY, 1.0, 0.5];
    assert_no_alloc(|| tap.process(&[&l[..], &r[..]]));
    let mut out = [9.0f32; 4];
    assert_eq!(ringbuf::traits::Consumer::pop_slice(&mut cons, &mut out), 4);
    assert_eq!(out, [0.25, 0.5, 0.5, 0.5]);
    assert_eq!(shared.non_finite.load(Ordering::Relaxed), 3);
}

#[test]
fn inactive_engine_process_is_a_no_op() {
    let (mut engine, shared, _) = engine(ModelSource::Given(untrained_model()));
    let block = vec![0.1f32; 256];
    assert_no_alloc(|| engine.process(&[&block[..]]));
    assert_eq!(shared.queued.load(Ordering::Relaxed), 0);
}
