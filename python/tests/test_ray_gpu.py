"""GPU workers on a local Ray cluster that declares a GPU: each loads its model on CUDA or
fails saying why, never tagging on the CPU instead."""

import pytest

import ray  # noqa: E402 — the ray extra, which the test venv installs

import genre_tagger  # noqa: E402
from genre_tagger.ray import tag_library  # noqa: E402

from test_ray import N_FILES, library, rows  # noqa: E402


@pytest.fixture(scope="module")
def ray_with_a_gpu():
    ray.init(
        num_cpus=2,
        num_gpus=1,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=128 * 1024 * 1024,
    )
    yield
    ray.shutdown()


def test_gpu_workers_run_on_cuda_or_fail_saying_why(ray_with_a_gpu, tmp_path):
    lib = library(tmp_path / "lib")
    out = tmp_path / "tags.parquet"
    try:
        genre_tagger.Tagger(device="cuda")
    except genre_tagger.DeviceUnavailableError as e:
        why = str(e)
        # This wheel or machine has no CUDA: the workers fail with the same reason and
        # nothing is tagged on the CPU in their place.
        with pytest.raises(Exception, match="DeviceUnavailableError") as failed:
            tag_library(lib, out, num_gpus=1, progress=False)
        assert why in str(failed.value)
        assert not list(out.glob("part-*.parquet"))
    else:
        run = tag_library(lib, out, num_gpus=1, progress=False)
        assert (run.tagged, run.failed) == (N_FILES, 3)
        assert len(rows(out)) == N_FILES
