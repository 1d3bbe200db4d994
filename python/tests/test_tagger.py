"""genre_tagger.Tagger: the same answers and the same errors as `cargo xtask tag`."""

import os
import threading
import warnings

import numpy as np
import pytest

import genre_tagger
from genre_tagger import (
    BadModelError,
    DeviceUnavailableError,
    GenreTaggerError,
    InvalidInputError,
    SilentAudioError,
    TooShortError,
    UnreadableAudioError,
)

from conftest import CC_MUSIC, cli_json, cli_tag, tone, write_wav


def assert_same_entry(ours: dict, theirs: dict, tol: float = 1e-5) -> None:
    """Same fields; numbers within `tol`, names exactly."""
    assert ours.keys() == theirs.keys()
    assert ours["path"] == theirs["path"]
    assert ours["genre"] == theirs["genre"]
    assert ours["duration_s"] == pytest.approx(theirs["duration_s"], abs=tol)

    def same_dist(a, b):
        assert a.keys() == b.keys()
        for k in a:
            assert abs(a[k] - b[k]) <= tol, (k, a[k], b[k])

    def same_styles(a, b):
        assert [s["name"] for s in a] == [s["name"] for s in b]
        for x, y in zip(a, b):
            assert abs(x["probability"] - y["probability"]) <= tol

    same_dist(ours["distribution"], theirs["distribution"])
    if "styles" in theirs:
        same_styles(ours["styles"], theirs["styles"])
    assert len(ours["timeline"]) == len(theirs["timeline"])
    for a, b in zip(ours["timeline"], theirs["timeline"]):
        assert a.keys() == b.keys()
        assert a["start_s"] == pytest.approx(b["start_s"], abs=tol)
        same_dist(a["distribution"], b["distribution"])
        if "styles" in b:
            same_styles(a["styles"], b["styles"])


def test_tag_file_matches_the_cli_json_on_cc_music(tagger):
    files = [CC_MUSIC / "vibe_ace.ogg", CC_MUSIC / "brahms_hungarian_dance_5.ogg"]
    doc = cli_json(*files)
    assert doc["model"] == tagger.source
    for f, theirs in zip(files, doc["files"]):
        assert_same_entry(tagger.tag_file(str(f)), theirs)


def test_results_follow_the_model_card(tagger):
    card = tagger.model_card
    assert tagger.labels == card["labels"] and len(tagger.labels) >= 2
    assert tagger.styles == card.get("styles", [])
    tags = tagger.tag_file(CC_MUSIC / "vibe_ace.ogg")  # a PathLike works too
    assert list(tags["distribution"]) == sorted(tagger.labels)
    assert sum(tags["distribution"].values()) == pytest.approx(1.0, abs=1e-3)
    assert tags["genre"] == max(tags["distribution"], key=tags["distribution"].get)
    assert ("styles" in tags) == bool(tagger.styles)
    assert tags["duration_s"] > 10


def test_tag_array_gives_what_tag_file_gives_for_the_same_samples(tagger, tmp_path):
    x = tone(6.0, 22_050, seed=3)
    wav = write_wav(tmp_path / "tone.wav", x)
    from_file = tagger.tag_file(wav)
    pcm = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)  # exactly the file's samples
    from_int16 = tagger.tag_array(pcm, 22_050)
    from_f32 = tagger.tag_array(pcm.astype(np.float32) / 32768, 22_050)
    from_f64 = tagger.tag_array(pcm / 32768.0, 22_050)
    from_strided = tagger.tag_array(np.repeat(pcm / 32768.0, 2)[::2], 22_050)
    assert from_int16["path"] is None
    for got in (from_int16, from_f32, from_f64, from_strided):
        got["path"] = from_file["path"]
        assert_same_entry(got, from_file)


def test_non_finite_samples_warn_and_count_as_silence(tagger):
    x = tone(5.0)
    x[1000:1010] = np.nan
    with pytest.warns(RuntimeWarning, match="10 NaN/inf samples were treated as silence"):
        tags = tagger.tag_array(x, 22_050)
    assert tags["genre"] in tagger.labels


def test_the_gil_is_released_while_tagging(tagger, tmp_path):
    # tag_file blocks opening a FIFO until this thread writes to it: possible only if
    # the call let go of the GIL (else this test hangs, and its timeout fails it).
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)
    write_wav(tmp_path / "src.wav", tone(4.0))
    result = {}
    t = threading.Thread(target=lambda: result.update(tagger.tag_file(fifo)))
    t.start()
    with open(fifo, "wb") as w:
        w.write((tmp_path / "src.wav").read_bytes())
    t.join()
    assert result["genre"] in tagger.labels


def bad_files(d):
    """One file per kind of bad input, with the exception it must raise."""
    (d / "notes.wav").write_text("these are not samples\n" * 20)
    (d / "empty.ogg").write_bytes(b"")
    write_wav(d / "silent.wav", np.zeros(22_050 * 4, dtype=np.float32))
    write_wav(d / "short.wav", tone(0.4))
    return [
        (d / "missing.wav", UnreadableAudioError),
        (d / "notes.wav", UnreadableAudioError),
        (d / "empty.ogg", UnreadableAudioError),
        (d / "silent.wav", SilentAudioError),
        (d / "short.wav", TooShortError),
    ]


def test_each_bad_file_raises_its_exception_with_the_cli_message(tagger, tmp_path):
    cases = bad_files(tmp_path)
    done = cli_tag(*(str(p) for p, _ in cases))
    assert done.returncode != 0
    cli_errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(cli_errors) == len(cases), done.stderr
    for (path, kind), cli_line in zip(cases, cli_errors):
        with pytest.raises(kind) as e:
            tagger.tag_file(str(path))
        assert isinstance(e.value, GenreTaggerError)
        assert f"error: {e.value}" == cli_line


def test_a_bad_model_raises_bad_model_error_with_the_cli_message(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    song = str(CC_MUSIC / "vibe_ace.ogg")
    for model in (junk, tmp_path / "missing.safetensors"):
        with pytest.raises(BadModelError) as e:
            genre_tagger.Tagger(model)
        done = cli_tag("--model", str(model), song)
        assert done.returncode != 0
        assert f"error: {e.value}" in done.stderr.splitlines()


@pytest.mark.parametrize(
    "samples, rate, message",
    [
        (np.zeros((2, 22_050 * 4), np.float32), 22_050, "must be a 1-D mono array"),
        (np.zeros(0, np.float32), 22_050, "samples is empty"),
        (np.full(22_050 * 4, np.nan, np.float32), 22_050, "every sample is NaN or infinite"),
        (np.ones(22_050 * 4, np.complex64), 22_050, "cannot be audio"),
        (np.ones(22_050 * 4, np.uint16), 22_050, "cannot be audio"),
        (tone(4.0), 0, "unsupported sample rate 0 Hz"),
        (tone(4.0), -44_100, "sample_rate must be a positive number"),
        (tone(4.0), 10_000_000, "unsupported sample rate"),
    ],
)
def test_bad_arrays_raise_invalid_input(tagger, samples, rate, message):
    with pytest.raises(InvalidInputError, match=message):
        tagger.tag_array(samples, rate)


def test_silence_and_short_arrays_raise_like_files(tagger):
    with pytest.raises(SilentAudioError, match="audio is silent"):
        tagger.tag_array(np.zeros(22_050 * 4, np.float32), 22_050)
    with pytest.raises(TooShortError, match="audio is too short"):
        tagger.tag_array(tone(0.4), 22_050)


def test_a_bad_hop_is_refused(tmp_path):
    for hop in (0.0, -1.0, 61.0, float("nan")):
        with pytest.raises(InvalidInputError, match="hop must be in"):
            genre_tagger.Tagger(hop=hop)


def test_a_list_is_accepted_as_samples(tagger):
    x = tone(4.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tagger.tag_array(x.tolist(), 22_050)["genre"] == tagger.tag_array(x, 22_050)["genre"]


def test_the_device_is_a_choice_and_cuda_is_never_a_silent_cpu_run():
    assert genre_tagger.Tagger(device="cpu").device == "cpu"
    assert genre_tagger.Tagger(device=" CPU ").device == "cpu"
    assert genre_tagger.Tagger(device="auto").device in ("cpu", "cuda")
    assert 'device="cpu"' in repr(genre_tagger.Tagger(device="cpu"))
    for bad in ("gpu", "", "cuda:0"):
        with pytest.raises(ValueError, match="unknown device .* \\(expected auto, cpu or cuda\\)"):
            genre_tagger.Tagger(device=bad)
    # A wheel built without CUDA, or a machine without a GPU, refuses and says why; only
    # a CUDA wheel on a GPU gets a CUDA tagger.
    try:
        cuda = genre_tagger.Tagger(device="cuda")
    except DeviceUnavailableError as e:
        assert isinstance(e, GenreTaggerError)
        assert str(e).startswith("no CUDA"), e
    else:
        assert cuda.device == "cuda"


def library_with_bad_files(d):
    """Good files (generated, a truncated real one that warns) and one of each bad kind,
    interleaved; with what tag_file raises for each bad one (None for a good one)."""
    cut = d / "cut.ogg"
    cut.write_bytes((CC_MUSIC / "vibe_ace.ogg").read_bytes()[:120_000])
    good = [write_wav(d / f"g{i}.wav", tone(3.0 + 2 * i, seed=i)) for i in range(4)]
    cases = list(zip(good, [None] * 4)) + [(cut, None)] + bad_files(d)
    order = [0, 5, 1, 6, 4, 7, 2, 8, 9, 3]
    return [cases[i] for i in order]


def test_tag_files_gives_what_tag_file_gives_in_order_with_each_error_in_place(tagger, tmp_path):
    cases = library_with_bad_files(tmp_path)
    paths = [str(p) for p, _ in cases]
    alone = []
    for path, kind in cases:
        if kind is None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                alone.append((tagger.tag_file(path), [str(w.message) for w in caught]))
        else:
            with pytest.raises(kind) as e:
                tagger.tag_file(path)
            alone.append((e.value, []))
    # One thread: each file batched alone, exactly as tag_file; more: windows of several
    # files share batches, which moves the numbers by less than the entries' rounding.
    for threads, tol in ((1, 0.0), (3, 2e-4)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = tagger.tag_files(paths, threads=threads)
        assert len(got) == len(cases)
        for (path, kind), (want, _), result in zip(cases, alone, got):
            if kind is None:
                assert not isinstance(result, BaseException), (path, result)
                if tol == 0.0:
                    assert result == want
                else:
                    assert_same_entry(result, want, tol)
            else:
                assert type(result) is kind and str(result) == str(want), (path, result)
        # The same warnings as tag_file's, each naming its file.
        assert [str(w.message) for w in caught] == [m for _, ms in alone for m in ms]
        assert any("cut.ogg: file ends abruptly" in str(w.message) for w in caught)


def test_tag_files_takes_path_likes_and_refuses_bad_arguments(tagger, tmp_path):
    song = write_wav(tmp_path / "a.wav", tone(4.0))
    (result,) = tagger.tag_files([song])  # a PathLike
    assert result["path"] == str(song)
    assert tagger.tag_files([]) == []
    with pytest.raises(InvalidInputError, match="threads must be at least 1"):
        tagger.tag_files([song], threads=0)
    with pytest.raises(TypeError):
        tagger.tag_files(str(song))  # a string is not a list of paths
