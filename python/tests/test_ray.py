"""genre_tagger.ray.tag_library on a local Ray cluster (two CPUs, loopback only)."""

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import ray  # noqa: E402 — the ray extra, which the test venv installs

import genre_tagger  # noqa: E402
from genre_tagger.ray import tag_library  # noqa: E402

from conftest import tone, write_wav  # noqa: E402

N_FILES = 30


def library(d: Path, broken=("f07.wav", "f13.mp3", "f22.ogg")) -> Path:
    """30 short files, `broken` of them not audio at all."""
    d.mkdir()
    for i in range(N_FILES):
        name = next((b for b in broken if b.startswith(f"f{i:02d}.")), f"f{i:02d}.wav")
        if name in broken:
            (d / name).write_bytes(b"\x00\x01not audio" * (i + 1))
        else:
            write_wav(d / name, tone(2.0 + (i % 3), seed=i))
    (d / "README.txt").write_text("not an audio extension: never listed")
    return d


def rows(out: Path):
    return pq.read_table(out).to_pylist()


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=128 * 1024 * 1024,
    )
    yield
    ray.shutdown()


def test_a_folder_with_broken_files_gives_one_row_per_file(local_ray, tmp_path):
    lib = library(tmp_path / "lib")
    out = tmp_path / "tags.parquet"
    run = tag_library(lib, out, num_workers=2, batch_size=4, progress=False)
    assert (run.tagged, run.failed, run.skipped) == (N_FILES, 3, 0)

    got = rows(out)
    assert len(got) == N_FILES
    assert sorted(r["path"] for r in got) == sorted(str(p) for p in lib.glob("f*"))
    errors = {Path(r["path"]).name: r for r in got if r["error"] is not None}
    assert sorted(errors) == ["f07.wav", "f13.mp3", "f22.ogg"]
    assert all(r["error_type"] == "UnreadableAudioError" for r in errors.values())
    assert all(r["genre"] is None and r["duration_s"] is None for r in errors.values())

    labels = genre_tagger.Tagger().labels
    for r in got:
        if r["error"] is None:
            assert r["genre"] in labels
            assert r["duration_s"] == pytest.approx(2.0 + int(Path(r["path"]).stem[1:]) % 3)
            probs = [r[f"p_{label}"] for label in labels]
            assert sum(probs) == pytest.approx(1.0, abs=1e-3)
            assert r["genre"] == labels[int(np.argmax(probs))]

    # Everything is there: a second run tags nothing, and a fresh start is refused.
    again = tag_library(lib, out, num_workers=2, progress=False)
    assert (again.tagged, again.skipped) == (0, N_FILES)
    with pytest.raises(FileExistsError, match="resume=True"):
        tag_library(lib, out, resume=False, progress=False)


def test_a_row_is_the_tag_file_result(local_ray, tmp_path):
    lib = tmp_path / "one"
    lib.mkdir()
    song = write_wav(lib / "a.wav", tone(5.0, seed=9))
    out = tmp_path / "one.parquet"
    tag_library([song], out, num_workers=1, progress=False)
    (row,) = rows(out)
    tagger = genre_tagger.Tagger()
    tags = tagger.tag_file(song)
    assert row["genre"] == tags["genre"]
    for label, p in tags["distribution"].items():
        assert row[f"p_{label}"] == pytest.approx(p, abs=1e-6)
    if tagger.styles:
        assert [s["name"] for s in row["styles"]] == [s["name"] for s in tags["styles"]]
    else:
        assert row["styles"] is None
    tempo, key = tags["tempo"], tags["key"]
    assert row["bpm"] == (None if tempo is None else pytest.approx(tempo["bpm"], abs=1e-3))
    assert row["key"] == (None if key is None else key["name"])
    assert row["camelot"] == (None if key is None else key["camelot"])


def test_gpu_workers_the_cluster_cannot_place_are_refused_before_any_work(local_ray, tmp_path):
    lib = library(tmp_path / "lib")
    out = tmp_path / "tags.parquet"
    with pytest.raises(ValueError, match=r"num_gpus=1 each need 1 GPU\(s\); the Ray cluster has 0"):
        tag_library(lib, out, num_gpus=1, progress=False)
    with pytest.raises(ValueError, match="num_gpus must be 0 or more"):
        tag_library(lib, out, num_gpus=-1, progress=False)
    with pytest.raises(ValueError, match="num_cpus must be at least 1"):
        tag_library(lib, out, num_cpus=0, progress=False)
    assert not list(out.glob("part-*.parquet"))


def test_more_cpus_per_worker_tag_the_same_rows(local_ray, tmp_path):
    # Two decoding threads per actor: windows of the batch's files share the network's
    # batches, and the rows are those of one thread each (to the entries' rounding).
    lib = library(tmp_path / "lib")
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    tag_library(lib, one, num_workers=2, batch_size=5, progress=False)
    tag_library(lib, two, num_workers=1, num_cpus=2, batch_size=5, progress=False)
    by_path = {r["path"]: r for r in rows(one)}
    got = rows(two)
    assert len(got) == len(by_path) == N_FILES
    for r in got:
        want = by_path[r["path"]]
        assert r.keys() == want.keys()
        for k, v in r.items():
            if isinstance(v, float):
                assert v == pytest.approx(want[k], abs=2e-4), k
            elif k != "styles":  # near-equal style probabilities may swap places
                assert v == want[k], k
