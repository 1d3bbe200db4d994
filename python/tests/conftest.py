"""Shared helpers: the repository's paths, generated audio, and the CLI to compare with."""

import json
import os
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CC_MUSIC = REPO / "fixtures" / "cc-music"


def tone(seconds: float, rate: int = 22_050, seed: int = 0) -> np.ndarray:
    """A few seconds of something music-like (a chord with a beat and some noise), float32
    in [-1, 1]: loud enough never to count as silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110.0 * (1 + seed % 5)
    chord = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 1.25, 1.5, 2))
    beat = 0.5 * (1 + np.sign(np.sin(2 * np.pi * 2 * t)))
    x = 0.2 * chord * (0.5 + 0.5 * beat) + 0.02 * rng.standard_normal(t.size)
    return np.clip(x, -1, 1).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = 22_050) -> Path:
    """16-bit mono PCM WAV of float samples in [-1, 1]."""
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def xtask_command() -> list[str]:
    """The `xtask` to compare with: `$GENRE_TAGGER_XTASK` (scripts/test-python points it at
    the binary the Rust tests just built, so nothing is compiled twice), else `cargo xtask`."""
    built = os.environ.get("GENRE_TAGGER_XTASK")
    return [built] if built else ["cargo", "xtask"]


def cli_tag(*args: str) -> subprocess.CompletedProcess:
    """`cargo xtask tag ARGS`, the command the package must agree with."""
    return subprocess.run(
        [*xtask_command(), "tag", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def cli_json(*files: Path) -> dict:
    done = cli_tag("--json", *map(str, files))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def tagger():
    import genre_tagger

    return genre_tagger.Tagger()
