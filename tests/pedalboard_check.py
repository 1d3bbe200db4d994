#!/usr/bin/env python3
"""Loads the built Genre Tagger .vst3 in pedalboard (Spotify's JUCE-based host) and checks
pass-through at 44.1 and 48 kHz (bit-exact, subnormals flushed to signed zeros), zero
reported latency, the parameters, and that
processing many small buffers stays cheap (pedalboard re-activates the plugin on every
call, so activation must be idempotent and cheap).

usage: pedalboard_check.py path/to/genre-tagger.vst3 [fixture.ogg]
"""
import sys
import time

import numpy as np
import pedalboard
from pedalboard.io import AudioFile


def flushed(a):
    """What the plugin outputs for `a`: the same bits, subnormals as zeros of their sign."""
    bits = a.view(np.uint32).copy()
    sub = (np.abs(a) < np.finfo(np.float32).tiny) & (a != 0)
    bits[sub] &= np.uint32(0x80000000)
    return bits.view(np.float32)


def bit_exact(a, b):
    """`b` is the plugin's output for input `a`."""
    want = flushed(a)
    return want.shape == b.shape and np.array_equal(want.view(np.uint32), b.view(np.uint32))


def main():
    path = sys.argv[1]
    fixture = sys.argv[2] if len(sys.argv) > 2 else "fixtures/cc-music/brahms_hungarian_dance_5.ogg"
    plugin = pedalboard.load_plugin(path)
    print(f"loaded {plugin.name!r} from {path}; parameters: {sorted(plugin.parameters.keys())}")
    # pedalboard names parameters from name + unit ("Hop" in " s" -> hop_s).
    for p in ("hop_s", "smoothing_s", "freeze", "reset", "midi_channel"):
        assert p in plugin.parameters, f"parameter {p} missing: {list(plugin.parameters)}"
    latency = getattr(plugin, "reported_latency_samples", 0)
    assert latency == 0, f"reported latency {latency}"

    with AudioFile(fixture) as f:
        rate = f.samplerate
        audio = f.read(int(rate * 6)).astype(np.float32)
    assert audio.shape[0] == 2, audio.shape
    # Hostile samples on one channel: NaN/inf pass untouched, subnormals leave as zeros.
    hostile = np.array([np.nan, np.inf, -np.inf, 1e-45, -1e-42, -0.0], dtype=np.float32)
    audio[1, 1000:1000 + 600] = np.resize(hostile, 600)

    for host_rate in (44100, 48000):
        for block in (64, 512, 4096):
            out = plugin.process(audio, host_rate, buffer_size=block, reset=True)
            assert out.dtype == np.float32
            assert bit_exact(audio, out), f"output differs at {host_rate} Hz, buffer {block}"
        print(f"{host_rate} Hz: bit-exact pass-through, subnormals flushed (buffers 64/512/4096)")

    # Parameters are settable through the host.
    plugin.hop_s = 2.0
    plugin.smoothing_s = 8.0
    plugin.freeze = True
    out = plugin.process(audio[:, :48000], 48000, reset=False)
    assert bit_exact(audio[:, :48000], out)
    plugin.freeze = False
    print(f"parameters set: hop={plugin.hop_s} smoothing={plugin.smoothing_s}")

    # Many small calls: each re-activates the plugin (pedalboard's behaviour).
    chunk = 256
    calls = 400
    t = time.perf_counter()
    for i in range(calls):
        seg = audio[:, (i * chunk) % (audio.shape[1] - chunk):][:, :chunk]
        out = plugin.process(seg, 48000, reset=False)
        assert bit_exact(seg, out), f"call {i} changed the audio"
    per_call_ms = (time.perf_counter() - t) * 1000 / calls
    print(f"{calls} calls of {chunk} frames: {per_call_ms:.3f} ms per call (incl. re-activation)")
    assert per_call_ms < 5.0, f"{per_call_ms:.2f} ms per call: activation is not cheap"
    print("pedalboard VST3 check: OK")


if __name__ == "__main__":
    main()
