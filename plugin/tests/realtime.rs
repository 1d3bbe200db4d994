//! Real-time safety of the audio-thread path: `Engine::process` (exactly what the plugin's
//! `process()` calls: subnormal flush, analysis feed, MIDI out) runs under `assert_no_alloc`
//! for block sizes 1…8192, sample rates 8…192 kHz, mono and stereo, with silence, NaN, ±inf
//! and subnormal input, while the analysis worker runs a real network on another thread.
//! What leaves the plugin is the input bit for bit, except that subnormals become zeros of
//! the same sign.
//!
//! In debug builds nice-plug (feature `assert_process_allocs`) installs the allocator of
//! `nice_assert_no_alloc`; any (de)allocation inside `assert_no_alloc` aborts the process
//! with a backtrace, which fails this test binary. `checker_is_live` proves the check is armed.

mod common;

use common::*;
use genre_tagger::meters::Meters;
use genre_tagger::midi::{MidiMessage, DELAY_S};
use genre_tagger::model_load::ModelSource;
use genre_tagger::tap::Tap;
use nice_assert_no_alloc::assert_no_alloc;
use ringbuf::traits::Split;
use ringbuf::HeapRb;
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

/// What the plugin must output for `input`: the same bits, subnormals as signed zeros.
fn expected_output(input: &[Vec<f32>]) -> Vec<Vec<u32>> {
    input
        .iter()
        .map(|c| {
            c.iter()
                .map(|&s| {
                    if s.is_subnormal() {
                        s.to_bits() & 0x8000_0000 // keep the sign, zero the rest
                    } else {
                        s.to_bits()
                    }
                })
                .collect()
        })
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
            let (mut engine, m, _params) = engine(ModelSource::Given(model.clone()));
            assert!(engine.activate(rate as f32));
            let mut buf: Vec<Vec<f32>> = vec![vec![0.0; 8192]; channels];
            for (k, &block) in BLOCKS.iter().enumerate() {
                let input = INPUTS[k % INPUTS.len()];
                for (ch, b) in buf.iter_mut().enumerate() {
                    fill(&mut b[..block], input, rate, ch);
                }
                let mut views: Vec<&mut [f32]> = buf.iter_mut().map(|b| &mut b[..block]).collect();
                let want = expected_output(&views.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
                assert_no_alloc(|| engine.process(&mut views, no_midi));
                let got = bits(&views.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
                assert_eq!(
                    want, got,
                    "output is not the input with subnormals flushed ({rate} Hz, {channels} ch, \
                     block {block}, {input:?})"
                );
            }
            // Every input kind at every block size, on the same engine.
            for &block in &BLOCKS {
                for &input in &INPUTS {
                    for (ch, b) in buf.iter_mut().enumerate() {
                        fill(&mut b[..block], input, rate, ch);
                    }
                    let mut views: Vec<&mut [f32]> =
                        buf.iter_mut().map(|b| &mut b[..block]).collect();
                    assert_no_alloc(|| engine.process(&mut views, no_midi));
                }
            }
            // Repeated activation at the same rate is also allocation-free (pedalboard calls it
            // before every block).
            assert_no_alloc(|| assert!(engine.activate(rate as f32)));
            assert!(m.meters.non_finite() > 0);
            assert!(m.meters.flushed() > 0);
            engine.deactivate();
        }
    }
}

#[test]
fn every_block_size_from_1_to_8192() {
    // All sizes, one rate, both layouts: the chunking inside the tap has no edge case left.
    let meters = Arc::new(Meters::default());
    let (prod, mut cons) = HeapRb::<f32>::new(1 << 16).split();
    let mut tap = Tap::new(prod, meters.clone());
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
    assert_eq!(meters.dropped(), 0);
}

#[test]
fn full_ring_drops_and_counts_without_blocking() {
    let meters = Arc::new(Meters::default());
    let (prod, _cons) = HeapRb::<f32>::new(1000).split(); // nobody consumes
    let mut tap = Tap::new(prod, meters.clone());
    let block = vec![0.25f32; 512];
    for _ in 0..10 {
        assert_no_alloc(|| tap.process(&[&block[..], &block[..]]));
    }
    assert_eq!(meters.queued(), 1000);
    assert_eq!(meters.dropped(), 10 * 512 - 1000);
    assert_eq!(
        tap.position(),
        1000,
        "the stream clock counts queued frames only"
    );
}

#[test]
fn nan_inf_are_counted_and_analysed_as_zero() {
    let meters = Arc::new(Meters::default());
    let (prod, mut cons) = HeapRb::<f32>::new(64).split();
    let mut tap = Tap::new(prod, meters.clone());
    let l = [f32::NAN, 1.0, f32::INFINITY, 0.5];
    let r = [0.5, f32::NEG_INFINITY, 1.0, 0.5];
    assert_no_alloc(|| tap.process(&[&l[..], &r[..]]));
    let mut out = [9.0f32; 4];
    assert_eq!(ringbuf::traits::Consumer::pop_slice(&mut cons, &mut out), 4);
    assert_eq!(out, [0.25, 0.5, 0.5, 0.5]);
    assert_eq!(meters.non_finite(), 3);
    // The peak meter, written in the same allocation-free call, ignores them too.
    assert_eq!(meters.take_peak(), 1.0);
}

#[test]
fn inactive_engine_process_is_a_no_op() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    let mut block = [vec![0.1f32; 256]];
    assert_no_alloc(|| engine.process(&mut block, no_midi));
    assert_eq!(m.meters.queued(), 0);
}

#[test]
fn subnormals_are_flushed_to_signed_zero_and_nothing_else_changes() {
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(engine.activate(48_000.0));
    let special = [
        f32::from_bits(1),            // smallest positive subnormal
        -f32::from_bits(0x007f_ffff), // largest negative subnormal
        f32::MIN_POSITIVE,            // smallest normal: kept
        -f32::MIN_POSITIVE,
        0.0,
        -0.0,
        f32::NAN,
        f32::from_bits(0x7fc0_1234), // NaN with a payload: kept bit for bit
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.0,
        -0.5,
        f32::MAX,
    ];
    let input = vec![special.to_vec(), special.iter().rev().copied().collect()];
    let mut out = input.clone();
    assert_no_alloc(|| engine.process(&mut out, no_midi));
    assert_eq!(bits(&out), expected_output(&input));
    assert_eq!(out[0][0].to_bits(), 0, "+subnormal → +0");
    assert_eq!(out[0][1].to_bits(), 0x8000_0000, "−subnormal → −0");
    assert_eq!(m.meters.flushed(), 4);
}

/// The MIDI path on the audio thread: events the worker queued go out, at offsets inside
/// their block, allocation-free.
#[test]
fn midi_events_leave_allocation_free_at_offsets_inside_the_block() {
    let rate = 48_000u32;
    let (mut engine, m, _) = engine(ModelSource::Given(untrained_model()));
    assert!(engine.activate(rate as f32));
    let block = 480;
    let mut got: Vec<(u64, u32, MidiMessage)> = Vec::with_capacity(1 << 16);
    let mut pos = 0u64;
    let mut bufs = vec![vec![0.0f32; block]; 2];
    // 3 s makes the first window; its events are due DELAY_S later. Stop once a few hops'
    // events are out (at most 20 s of audio).
    let total = (rate as f64 * (20.0 + DELAY_S)) as usize;
    while (pos as usize) < total {
        for (ch, b) in bufs.iter_mut().enumerate() {
            b.copy_from_slice(&music_like(rate, block, ch, pos as usize));
        }
        let start = pos;
        assert_no_alloc(|| {
            engine.process(&mut bufs, |offset, msg| {
                got.push((start, offset, msg));
                true
            })
        });
        pos += block as u64;
        // Give the worker time to keep up, as real time would.
        if pos.is_multiple_of(rate as u64 / 10) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if got.len() > 20 {
            break;
        }
    }
    assert!(
        got.len() <= got.capacity(),
        "the sink itself must not reallocate"
    );
    assert!(!got.is_empty(), "no MIDI event left the audio thread");
    assert!(got.iter().all(|&(_, off, _)| (off as usize) < block));
    assert!(
        got.iter()
            .any(|(_, _, m)| matches!(m, MidiMessage::Program(_))),
        "the first top genre sends a program change: {got:?}"
    );
    assert_eq!(m.meters.midi_sent(), got.len() as u64);
}
