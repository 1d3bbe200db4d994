//! The built `.clap` in a real CLAP host (`clack-host`): activation at 44.1 and 48 kHz,
//! several seconds of a committed music fixture in blocks of varying size, bit-exact
//! pass-through (NaN/inf included; subnormals leave as zeros of their sign), zero latency,
//! deactivate/reactivate, state save/restore, and MIDI out at the sample offsets the
//! analysis stamped on it. In debug builds the plugin aborts on any allocation inside
//! `process()` (nice-plug's `assert_process_allocs`), so this also runs the real wrapper's
//! process path under the allocation check.

mod support;

use clack_extensions::latency::PluginLatency;
use clack_extensions::state::PluginState;
use clack_host::events::spaces::CoreEventSpace;
use clack_host::prelude::*;
use std::ffi::CString;
use workspace_tests::{clap_library, fixture};

struct TestHost;
struct TestHostShared;

impl<'a> SharedHandler<'a> for TestHostShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

impl HostHandlers for TestHost {
    type Shared<'a> = TestHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

const PLUGIN_ID: &str = "org.genre-tagger.genre-tagger";
const MAX_BLOCK: usize = 4096;
const BLOCKS: [usize; 9] = [1, 17, 64, 256, 480, 1024, 4096, 333, 2048];

/// CLAP has one main thread per host; the test harness runs tests on several threads, so
/// each test takes this lock and acts as the host's main thread while it holds it.
static MAIN_THREAD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn main_thread() -> std::sync::MutexGuard<'static, ()> {
    MAIN_THREAD.lock().unwrap_or_else(|e| e.into_inner())
}

fn load() -> (PluginEntry, HostInfo) {
    let path = clap_library();
    // SAFETY: loading our own freshly built plugin library.
    let entry = unsafe { PluginEntry::load(&path) }
        .unwrap_or_else(|e| panic!("loading {}: {e:?}", path.display()));
    let info = HostInfo::new(
        "workspace-tests",
        "genre-tagger",
        "https://example.invalid",
        "0.1",
    )
    .unwrap();
    (entry, info)
}

fn instance(entry: &PluginEntry, info: &HostInfo) -> PluginInstance<TestHost> {
    let factory = entry.get_plugin_factory().expect("plugin factory");
    let descriptor = factory
        .plugin_descriptors()
        .find(|d| {
            d.id()
                .is_some_and(|id| id.to_bytes() == PLUGIN_ID.as_bytes())
        })
        .expect("genre tagger descriptor");
    assert_eq!(descriptor.name().unwrap().to_str().unwrap(), "Genre Tagger");
    let id = CString::new(PLUGIN_ID).unwrap();
    PluginInstance::<TestHost>::new(|_| TestHostShared, |_| (), entry, &id, info)
        .expect("instantiate")
}

/// Stereo test material: the fixture (decoded to mono by the model crate) on the left, a
/// phase-inverted, quieter copy on the right, with one block of hostile samples.
fn stereo_fixture(seconds: f32) -> (Vec<f32>, Vec<f32>, u32) {
    let audio =
        model::audio::decode_file(fixture("brahms_hungarian_dance_5.ogg")).expect("decode fixture");
    let n = ((audio.sample_rate as f32 * seconds) as usize).min(audio.samples.len());
    let left: Vec<f32> = audio.samples[..n].to_vec();
    let mut right: Vec<f32> = left.iter().map(|s| -0.5 * s).collect();
    let hostile = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(1),
        -f32::from_bits(7),
        -0.0,
        f32::MIN_POSITIVE / 3.0,
    ];
    for (i, s) in right[1000..1000 + 700].iter_mut().enumerate() {
        *s = hostile[i % hostile.len()];
    }
    (left, right, audio.sample_rate)
}

/// A MIDI message the plugin sent, at its absolute frame in the stream.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Midi {
    frame: u64,
    offset: u32,
    block: usize,
    data: [u8; 3],
}

struct Output {
    left: Vec<f32>,
    right: Vec<f32>,
    midi: Vec<Midi>,
}

/// Processes `left`/`right` in blocks of varying size; returns what came out.
fn run(
    processor: StoppedPluginAudioProcessor<TestHost>,
    left: &[f32],
    right: &[f32],
) -> (StoppedPluginAudioProcessor<TestHost>, Vec<f32>, Vec<f32>) {
    let (p, out) = run_paced(processor, left, right, &BLOCKS, None);
    (p, out.left, out.right)
}

/// Like [`run`] with the given block sizes; with `rate`, waits between blocks so the
/// stream runs in real time (as a live host would), and collects the MIDI it sends.
fn run_paced(
    processor: StoppedPluginAudioProcessor<TestHost>,
    left: &[f32],
    right: &[f32],
    blocks: &[usize],
    rate: Option<f64>,
) -> (StoppedPluginAudioProcessor<TestHost>, Output) {
    let mut started = processor.start_processing().expect("start processing");
    let mut in_ports = AudioPorts::with_capacity(2, 1);
    let mut out_ports = AudioPorts::with_capacity(2, 1);
    let mut in_l = vec![0.0f32; MAX_BLOCK];
    let mut in_r = vec![0.0f32; MAX_BLOCK];
    let mut out_l = vec![0.0f32; MAX_BLOCK];
    let mut out_r = vec![0.0f32; MAX_BLOCK];
    let (mut got_l, mut got_r) = (
        Vec::with_capacity(left.len()),
        Vec::with_capacity(left.len()),
    );
    let events_in = EventBuffer::new();
    let mut events_out = EventBuffer::new();
    let mut midi = Vec::new();
    let t0 = std::time::Instant::now();
    let mut pos = 0;
    let mut k = 0;
    while pos < left.len() {
        if let Some(rate) = rate {
            let due = std::time::Duration::from_secs_f64(pos as f64 / rate);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let n = blocks[k % blocks.len()].min(left.len() - pos);
        k += 1;
        in_l[..n].copy_from_slice(&left[pos..pos + n]);
        in_r[..n].copy_from_slice(&right[pos..pos + n]);
        out_l[..n].fill(12345.0);
        out_r[..n].fill(12345.0);
        {
            let input = in_ports.with_input_buffers([AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_input_only([
                    InputChannel::variable(&mut in_l[..n]),
                    InputChannel::variable(&mut in_r[..n]),
                ]),
            }]);
            let mut output = out_ports.with_output_buffers([AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_output_only(
                    [&mut out_l[..n], &mut out_r[..n]].into_iter(),
                ),
            }]);
            started
                .process(
                    &input,
                    &mut output,
                    &events_in.as_input(),
                    &mut events_out.as_output(),
                    Some(pos as u64),
                    None,
                )
                .expect("process");
        }
        got_l.extend_from_slice(&out_l[..n]);
        got_r.extend_from_slice(&out_r[..n]);
        for e in events_out.iter() {
            if let Some(CoreEventSpace::Midi(m)) = e.as_core_event() {
                let offset = m.header().time();
                midi.push(Midi {
                    frame: pos as u64 + offset as u64,
                    offset,
                    block: n,
                    data: m.data(),
                });
            }
        }
        events_out.clear();
        pos += n;
    }
    let out = Output {
        left: got_l,
        right: got_r,
        midi,
    };
    (started.stop_processing(), out)
}

/// The output must be the input bit for bit, except subnormals, which leave as zeros of
/// their sign.
fn assert_bit_exact(label: &str, input: &[f32], got: &[f32]) {
    assert_eq!(input.len(), got.len(), "{label}: length");
    let want = |s: f32| {
        if s.is_subnormal() {
            s.to_bits() & 0x8000_0000
        } else {
            s.to_bits()
        }
    };
    if let Some(i) = input
        .iter()
        .zip(got)
        .position(|(&a, b)| want(a) != b.to_bits())
    {
        panic!(
            "{label}: sample {i} changed: {:?} -> {:?}",
            input[i], got[i]
        );
    }
    assert!(
        got.iter().all(|s| !s.is_subnormal()),
        "{label}: a subnormal left"
    );
}

fn config(rate: f64) -> PluginAudioConfiguration {
    PluginAudioConfiguration {
        sample_rate: rate,
        min_frames_count: 1,
        max_frames_count: MAX_BLOCK as u32,
    }
}

#[test]
fn bit_exact_pass_through_zero_latency_and_reactivation() {
    let _main = main_thread();
    let (left, right, rate) = stereo_fixture(6.0);
    assert_eq!(rate, 44_100);
    let (entry, info) = load();
    let mut plugin = instance(&entry, &info);
    let latency: PluginLatency = plugin
        .plugin_handle()
        .get_extension()
        .expect("latency extension");
    for host_rate in [44_100.0, 48_000.0] {
        // The fixture is 44.1 kHz; at 48 kHz the plugin just sees other sample values.
        let processor = plugin
            .activate(|_, _| (), config(host_rate))
            .expect("activate");
        assert_eq!(
            latency.get(&plugin.plugin_handle()),
            0,
            "latency at {host_rate} Hz"
        );
        let (processor, l, r) = run(processor, &left, &right);
        assert_bit_exact(&format!("left @ {host_rate}"), &left, &l);
        assert_bit_exact(&format!("right @ {host_rate}"), &right, &r);
        plugin.deactivate(processor);

        // Deactivate/reactivate at the same rate, then process again.
        let processor = plugin
            .activate(|_, _| (), config(host_rate))
            .expect("reactivate");
        let (processor, l, r) = run(processor, &left[..44_100], &right[..44_100]);
        assert_bit_exact("left after reactivation", &left[..44_100], &l);
        assert_bit_exact("right after reactivation", &right[..44_100], &r);
        assert_eq!(latency.get(&plugin.plugin_handle()), 0);
        plugin.deactivate(processor);
    }
}

/// nice-plug's CLAP state is a little-endian u64 length followed by that much JSON.
fn save(plugin: &mut PluginInstance<TestHost>, state: &PluginState) -> serde_json::Value {
    let mut bytes = Vec::new();
    state
        .save(&plugin.plugin_handle(), &mut bytes)
        .expect("save state");
    assert!(bytes.len() > 8, "state too short: {bytes:?}");
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - 8, "state length prefix");
    serde_json::from_slice(&bytes[8..]).unwrap_or_else(|e| {
        panic!(
            "state is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn load_state(plugin: &mut PluginInstance<TestHost>, state: &PluginState, v: &serde_json::Value) {
    let json = serde_json::to_vec(v).unwrap();
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    state
        .load(&plugin.plugin_handle(), &mut &bytes[..])
        .expect("load state");
}

#[test]
fn state_saves_and_restores_parameters_and_editor_size() {
    let _main = main_thread();
    let (entry, info) = load();
    let mut a = instance(&entry, &info);
    let state_a: PluginState = a.plugin_handle().get_extension().expect("state extension");
    let saved = save(&mut a, &state_a);
    let params = saved.get("params").expect("params in state");
    for id in ["hop", "smoothing", "freeze", "reset"] {
        assert!(
            params.get(id).is_some(),
            "parameter {id} missing from state: {saved}"
        );
    }
    assert!(
        saved["fields"].get("editor-size").is_some(),
        "editor size not persisted: {saved}"
    );

    // Change values the way a session file would, restore into a fresh instance (active,
    // as hosts may do), and read them back.
    let mut changed = saved.clone();
    changed["params"]["hop"] = serde_json::json!({"f32": 2.0});
    changed["params"]["smoothing"] = serde_json::json!({"f32": 10.0});
    changed["params"]["freeze"] = serde_json::json!({"bool": true});
    changed["fields"]["editor-size"] = serde_json::json!("[640,480]");
    let mut b = instance(&entry, &info);
    let state_b: PluginState = b.plugin_handle().get_extension().unwrap();
    let processor = b.activate(|_, _| (), config(48_000.0)).expect("activate");
    load_state(&mut b, &state_b, &changed);
    let back = save(&mut b, &state_b);
    assert_eq!(back["params"]["hop"]["f32"].as_f64(), Some(2.0), "{back}");
    assert_eq!(
        back["params"]["smoothing"]["f32"].as_f64(),
        Some(10.0),
        "{back}"
    );
    assert_eq!(
        back["params"]["freeze"]["bool"].as_bool(),
        Some(true),
        "{back}"
    );
    assert_eq!(
        back["fields"]["editor-size"],
        serde_json::json!("[640,480]"),
        "{back}"
    );
    // Audio still passes after a state load on an active instance.
    let (left, right, _) = stereo_fixture(1.0);
    let (processor, l, r) = run(processor, &left, &right);
    assert_bit_exact("left after state load", &left, &l);
    assert_bit_exact("right after state load", &right, &r);
    b.deactivate(processor);

    // A round trip of the original state gives the original state back.
    load_state(&mut b, &state_b, &saved);
    assert_eq!(save(&mut b, &state_b), saved);
}

/// A session whose plugin state is damaged (cut short, or bytes that are not nice-plug's JSON)
/// must not take the instance down or change it: the load is refused (the host hears so) and
/// the instance keeps the values it had, here the defaults of a fresh one.
#[test]
fn state_corrupted_blob_is_refused_and_changes_nothing() {
    let _main = main_thread();
    let (entry, info) = load();
    let mut plugin = instance(&entry, &info);
    let state: PluginState = plugin.plugin_handle().get_extension().unwrap();
    let defaults = save(&mut plugin, &state);
    let json = serde_json::to_vec(&defaults).unwrap();
    let mut cut = (json.len() as u64).to_le_bytes().to_vec();
    cut.extend_from_slice(&json[..json.len() / 2]);
    let mut garbage = 12u64.to_le_bytes().to_vec();
    garbage.extend_from_slice(b"\xff\x00not json!!");
    for (what, bytes) in [("cut short", cut), ("not JSON", garbage)] {
        assert!(
            state
                .load(&plugin.plugin_handle(), &mut &bytes[..])
                .is_err(),
            "a state blob {what} was accepted"
        );
        assert_eq!(
            save(&mut plugin, &state),
            defaults,
            "a refused state blob ({what}) changed the plugin"
        );
    }
}

/// A state from another plugin version (an older one: parameters it never had, one this
/// version dropped, values beyond this version's ranges) loads what this version knows:
/// the parameters it lacks keep their defaults, the unknown one is ignored, out-of-range
/// values are clamped into range (plugin/src/state.rs).
#[test]
fn state_from_another_version_keeps_defaults_for_what_it_lacks() {
    let _main = main_thread();
    let (entry, info) = load();
    let mut plugin = instance(&entry, &info);
    let state: PluginState = plugin.plugin_handle().get_extension().unwrap();
    let defaults = save(&mut plugin, &state);
    let older = serde_json::json!({
        "version": "0.0.1",
        "params": {
            "hop": {"f32": 2.0},
            "smoothing": {"f32": 99.0},
            "midi-channel": {"i32": 40},
            "threshold": {"f32": 0.5},
        },
        "fields": {},
    });
    load_state(&mut plugin, &state, &older);
    let back = save(&mut plugin, &state);
    assert_eq!(back["params"]["hop"]["f32"].as_f64(), Some(2.0), "{back}");
    assert_eq!(
        back["params"]["smoothing"]["f32"].as_f64(),
        Some(30.0),
        "smoothing beyond its range must be clamped: {back}"
    );
    assert_eq!(
        back["params"]["midi-channel"]["i32"].as_i64(),
        Some(16),
        "a MIDI channel beyond 16 must be clamped: {back}"
    );
    for id in ["freeze", "reset"] {
        assert_eq!(
            back["params"][id], defaults["params"][id],
            "{id} was not in the older state, so it keeps its default: {back}"
        );
    }
    assert!(
        back["params"].get("threshold").is_none(),
        "an unknown parameter came back: {back}"
    );
    assert_eq!(
        back["fields"]["editor-size"], defaults["fields"]["editor-size"],
        "{back}"
    );
}

/// What the analysis stamps on a hop's events: the end of its window plus the MIDI delay.
/// The embedded model's window is its card's `window_frames` mel frames.
#[test]
fn midi_out_program_change_one_cc_per_genre_then_tempo_and_key_at_the_stamped_offsets() {
    let _main = main_thread();
    let rate = 48_000.0;
    let model = genre_tagger::model_load::embedded_model().expect("embedded model");
    let card = &model.card;
    let n_labels = card.labels.len();
    let mel_hop_s = card.front_end.mel.hop as f64 / card.front_end.mel.sample_rate as f64;
    let window_s = card.window_frames as f64 * mel_hop_s;
    // The hop parameter's default (1 s), rounded to whole mel frames as the Tagger does.
    let hop_s = (1.0 / mel_hop_s).round() * mel_hop_s;
    let delay = genre_tagger::midi::DELAY_S;

    let (left, right, _) = stereo_fixture(7.0);
    let (entry, info) = load();
    let mut plugin = instance(&entry, &info);
    let processor = plugin.activate(|_, _| (), config(rate)).expect("activate");
    // Real time, in blocks that do not divide a second, so offsets land all over a block.
    let (processor, out) = run_paced(processor, &left, &right, &[1000, 333, 4096, 64], Some(rate));
    plugin.deactivate(processor);
    assert_bit_exact("left", &left, &out.left);

    let midi = &out.midi;
    assert!(!midi.is_empty(), "no MIDI out");
    for m in midi {
        assert!((m.offset as usize) < m.block, "{m:?} outside its block");
        assert_eq!(m.data[0] & 0x0f, 0, "channel 1 by default: {m:?}");
    }
    // Group by frame: each hop is one program change (on a change) and one CC per genre.
    let mut hops: Vec<Vec<Midi>> = Vec::new();
    for m in midi {
        match hops.last_mut() {
            Some(h) if h[0].frame == m.frame => h.push(*m),
            _ => hops.push(vec![*m]),
        }
    }
    assert!(hops.len() >= 3, "{} hops in 7 s: {midi:?}", hops.len());
    let (tempo_cc, key_cc) = (genre_tagger::midi::TEMPO_CC, genre_tagger::midi::KEY_CC);
    for (k, h) in hops.iter().enumerate() {
        let is_cc = |m: &&Midi| m.data[0] & 0xf0 == 0xb0;
        let is_rhythm = |m: &&Midi| [tempo_cc, key_cc].contains(&m.data[1]);
        let ccs: Vec<_> = h.iter().filter(is_cc).filter(|m| !is_rhythm(m)).collect();
        // Tempo and key CCs (while the trackers show them) close the hop.
        let rhythm: Vec<_> = h.iter().filter(is_cc).filter(is_rhythm).collect();
        assert!(rhythm.len() <= 2, "hop {k}: {h:?}");
        for (i, m) in rhythm.iter().enumerate() {
            assert_eq!(h[h.len() - rhythm.len() + i], **m, "hop {k}: {h:?}");
            if m.data[1] == key_cc {
                assert!((1..=24).contains(&m.data[2]), "{m:?}");
            }
        }
        let pcs: Vec<_> = h.iter().filter(|m| m.data[0] & 0xf0 == 0xc0).collect();
        assert_eq!(ccs.len(), n_labels, "hop {k}: {h:?}");
        assert!(pcs.len() <= 1, "hop {k}: {h:?}");
        if k == 0 {
            assert_eq!(pcs.len(), 1, "the first genre is announced: {h:?}");
        }
        if let Some(pc) = pcs.first() {
            assert_eq!(h[0], **pc, "the program change leads its hop");
            assert!((pc.data[1] as usize) < n_labels);
        }
        for (i, cc) in ccs.iter().enumerate() {
            assert_eq!(cc.data[1] as usize, 20 + i, "CC 20 + genre index");
            assert!(cc.data[2] <= 127);
        }
        // The CC values are a distribution: their sum is 127 up to rounding.
        let sum: i32 = ccs.iter().map(|m| m.data[2] as i32).sum();
        assert!(
            (sum - 127).abs() <= n_labels as i32,
            "hop {k}: CC values sum to {sum}"
        );
        // Stamped where the analysis put it: window end + delay, hop after hop.
        let want = ((window_s + k as f64 * hop_s) * rate).round() + (delay * rate).round();
        let got = h[0].frame as f64;
        assert!(
            (got - want).abs() <= 2.0,
            "hop {k} at frame {got}, expected {want} (window {window_s:.3} s, hop {hop_s:.4} s)"
        );
    }
}

/// A saved state with taught examples (made here as the plugin's worker makes them: the
/// first 30 s of a CC piece taught as a new label) is restored by a fresh instance: while
/// the rest of the piece plays, the taught label — the eleventh, after the ten genres — is
/// announced by its program change, and saving gives the taught state back unchanged.
#[test]
fn a_taught_state_is_restored_and_its_label_announced() {
    use genre_tagger::teach::TaughtState;
    let _main = main_thread();
    let (session, audio) = support::taught_on_vibe_ace();
    let rate = audio.sample_rate as usize;
    let taught = serde_json::to_string(&TaughtState::of(&session).unwrap()).unwrap();

    let (entry, info) = load();
    let mut plugin = instance(&entry, &info);
    let state: PluginState = plugin.plugin_handle().get_extension().unwrap();
    let mut saved = save(&mut plugin, &state);
    assert_eq!(
        saved["fields"]["taught"], r#"{"session":""}"#,
        "nothing taught by default"
    );
    saved["fields"]["taught"] = serde_json::json!(taught);
    load_state(&mut plugin, &state, &saved);

    let processor = plugin
        .activate(|_, _| (), config(rate as f64))
        .expect("activate");
    let part = &audio.samples[30 * rate..38 * rate];
    let (processor, out) = run_paced(
        processor,
        part,
        part,
        &[1000, 333, 4096, 64],
        Some(rate as f64),
    );
    plugin.deactivate(processor);
    let programs: Vec<u8> = out
        .midi
        .iter()
        .filter(|m| m.data[0] & 0xf0 == 0xc0)
        .map(|m| m.data[1])
        .collect();
    assert!(
        programs.contains(&10),
        "the taught label (program 10) never led: {programs:?}"
    );
    assert_eq!(
        save(&mut plugin, &state)["fields"]["taught"],
        serde_json::json!(taught)
    );
}
