"""A real kill half-way through `python -m genre_tagger.ray`, then a resumed run."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import tone, write_wav
from test_ray import N_FILES, library, rows


def open_writer(fifo: Path):
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ENXIO:  # no reader yet
            return None
        raise


def test_a_killed_run_resumes_with_every_file_exactly_once(tmp_path):
    # One input is a FIFO: the worker that reaches it blocks until someone writes, so the
    # first run cannot finish and is killed with part of the work written.
    lib = library(tmp_path / "lib", broken=())
    fifo = lib / "f15.wav"
    fifo.unlink()
    os.mkfifo(fifo)
    out = tmp_path / "tags.parquet"
    # The files by name: a folder listing takes regular files only, never a FIFO.
    files = sorted(str(p) for p in lib.glob("f*.wav"))
    cmd = [
        sys.executable, "-m", "genre_tagger.ray", *files, str(out),
        "--num-cpus", "2", "--workers", "1", "--batch-size", "1", "--rows-per-part", "1",
    ]
    log = tmp_path / "first.log"
    first = subprocess.Popen(cmd, start_new_session=True, stderr=log.open("w"))
    try:
        # Opening the FIFO's write end without blocking succeeds once a worker is
        # blocked reading it: from then on the run cannot finish.
        while (writer := open_writer(fifo)) is None:
            assert first.poll() is None, log.read_text()
            time.sleep(0.2)
        while len(list(out.glob("part-*.parquet"))) < 5:
            assert first.poll() is None, log.read_text()
            time.sleep(0.2)
    finally:
        # A real kill: the driver's whole process group (Ray's head processes with it),
        # with no chance to clean up.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    # The blocked worker reads an empty file, fails to report to the dead cluster and
    # exits, instead of waiting on the FIFO for ever.
    os.close(writer)
    done_first = {r["path"] for r in rows(out)}
    assert 5 <= len(done_first) < N_FILES
    assert str(fifo) not in done_first

    fifo.unlink()
    write_wav(fifo, tone(3.0, seed=15))
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stderr
    assert f"{N_FILES - len(done_first)} file(s) tagged" in second.stdout
    assert f"{len(done_first)} already there" in second.stdout

    paths = [r["path"] for r in rows(out)]
    assert sorted(paths) == files
    assert len(paths) == len(set(paths)) == N_FILES
