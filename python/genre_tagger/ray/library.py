"""``tag_library``: a folder or list of audio files through Ray Data into Parquet.

Ray Data holds the file list, runs :class:`~genre_tagger.ray.worker.TagWorker` actors (one
model each) over it and streams their rows back to the driver, which writes them with
:class:`~genre_tagger.ray.parts.PartWriter`. Writing in the driver keeps every part whole
(the resume guarantee) and needs no filesystem shared with the workers for the output;
the audio files themselves must be readable at the same path on every node."""

import math
import os
import sys
from pathlib import Path
from typing import Iterable, List, NamedTuple, Optional, Tuple, Union

import ray
import ray.data
from tqdm.auto import tqdm

from .. import AUDIO_EXTENSIONS as _EXTENSIONS
from .. import Tagger
from .parts import PartWriter
from .worker import TagWorker, schema

#: File extensions tag_library picks up in a folder (the formats the decoder reads; the
#: list `cargo xtask tag` uses for a folder).
AUDIO_EXTENSIONS = frozenset(f".{e}" for e in _EXTENSIONS)

#: CPUs (and Rust threads) per CPU tagging actor: one, because tagging a file on one core
#: wastes nothing, while a file's windows spread over cores wait on each other.
CPUS_PER_WORKER = 1

#: Ray's in-memory store for a local cluster started here: rows and paths are small.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024

PathLike = Union[str, "os.PathLike[str]"]


class LibraryRun(NamedTuple):
    """What one call did."""

    out: Path
    #: Files tagged by this call (rows written, errors included).
    tagged: int
    #: Of those, files whose row holds an error.
    failed: int
    #: Files skipped because ``out`` already had them (resume).
    skipped: int


def list_audio(paths_or_dir: Union[PathLike, Iterable[PathLike]]) -> List[str]:
    """The absolute paths to tag: every audio file under a folder (recursively, sorted),
    or the given files, each once, in their order."""
    if isinstance(paths_or_dir, (str, os.PathLike)):
        root = Path(paths_or_dir)
        if root.is_dir():
            found = (
                p
                for p in root.rglob("*")
                if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
            )
            return sorted(str(p.absolute()) for p in found)
        if not root.exists():
            raise FileNotFoundError(f"{root}: no such file or folder")
        paths_or_dir = [root]
    return list(dict.fromkeys(str(Path(p).absolute()) for p in paths_or_dir))


def tag_library(
    paths_or_dir: Union[PathLike, Iterable[PathLike]],
    out: PathLike,
    *,
    num_workers: Optional[int] = None,
    resume: bool = True,
    model: Optional[PathLike] = None,
    hop: float = 1.0,
    batch_size: int = 16,
    rows_per_part: int = 1000,
    progress: bool = True,
    num_gpus: float = 0,
    num_cpus: Optional[int] = None,
) -> LibraryRun:
    """Tags every audio file of a folder (or a list of files) on Ray, into Parquet.

    ``out`` becomes a directory of Parquet parts, one row per file: ``path``,
    ``duration_s``, ``genre``, ``p_<label>`` for each of the model's labels, ``styles``
    (top five, models with styles), ``bpm``, ``key`` and ``camelot`` (the file's tempo and
    key, null where it has none), ``error`` and ``error_type`` (null unless the file
    could not be tagged) and ``warnings``. Read it with ``pandas.read_parquet(out)``.

    With ``resume=True`` the paths already in ``out`` are skipped, so a killed run picks
    up where it stopped; ``resume=False`` refuses an ``out`` that holds results.

    Uses the running Ray cluster if ``ray.init`` was called (or ``RAY_ADDRESS`` is set),
    else starts a local one on this machine and stops it afterwards. ``num_workers``
    actors each load the model once and tag ``batch_size`` files at a time with
    :meth:`~genre_tagger.Tagger.tag_files`; results are written every ``rows_per_part``
    rows or every minute.

    With ``num_gpus=0`` (the default) the actors run on the CPU: one per CPU of the
    cluster by default, ``num_cpus`` (default 1) CPUs each. With ``num_gpus > 0`` each
    actor takes that many GPUs and runs the network on CUDA (``Tagger(device="cuda")``:
    an actor without CUDA fails, it never tags on the CPU instead), batching the windows
    of its files together; by default there is one actor per ``num_gpus`` GPUs of the
    cluster, and the cluster's CPUs, less one, are shared among them to decode
    (``num_cpus`` each when given). A larger ``batch_size`` keeps a GPU busier.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not num_gpus >= 0:
        raise ValueError(f"num_gpus must be 0 or more, got {num_gpus}")
    if num_cpus is not None and num_cpus < 1:
        raise ValueError(f"num_cpus must be at least 1, got {num_cpus}")
    paths = list_audio(paths_or_dir)
    model = None if model is None else str(Path(model).absolute())
    # Loads the model here first: a bad model or hop fails now, not in every worker. On
    # the CPU: the driver's machine need not have the workers' GPUs.
    labels = Tagger(model, hop, device="cpu").labels
    parts = PartWriter(out, schema(labels), resume=resume, rows_per_part=rows_per_part)
    todo = [p for p in paths if p not in parts.done]
    skipped = len(paths) - len(todo)
    if not todo:
        return LibraryRun(parts.out, 0, 0, skipped)

    started = _start_ray_if_needed()
    ctx = ray.data.DataContext.get_current()
    ray_bars, ctx.enable_progress_bars = ctx.enable_progress_bars, False  # ours counts files
    tagged = failed = 0
    try:
        workers, cpus = _workers(num_workers, num_gpus, num_cpus)
        # Blocks of about one batch each, so results (and resumable parts) come back as
        # files finish rather than at the end of a large block; capped for huge libraries.
        blocks = min(math.ceil(len(todo) / batch_size), 10_000)
        ds = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=blocks)
        ds = ds.map_batches(
            TagWorker,
            fn_constructor_args=(model, hop, cpus, "cuda" if num_gpus > 0 else "cpu"),
            batch_size=batch_size,
            batch_format="pyarrow",
            concurrency=workers,
            num_cpus=cpus,
            num_gpus=num_gpus,
        )
        with tqdm(
            total=len(paths),
            initial=skipped,
            unit="file",
            desc="tagging",
            disable=not progress,
            file=sys.stderr,
        ) as bar:
            for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                parts.add(block)
                tagged += block.num_rows
                failed += block.num_rows - block.column("error").null_count
                bar.update(block.num_rows)
    finally:
        parts.flush()  # rows that came back before an interruption are kept
        ctx.enable_progress_bars = ray_bars
        if started:
            ray.shutdown()
    return LibraryRun(parts.out, tagged, failed, skipped)


def _workers(
    num_workers: Optional[int], num_gpus: float, num_cpus: Optional[int]
) -> Tuple[int, int]:
    """How many actors, and CPUs each, on the running cluster. Refuses GPU actors the
    cluster cannot place: Ray would wait for them for ever."""
    resources = ray.cluster_resources()
    cluster_cpus = int(resources.get("CPU", 1))
    if num_gpus <= 0:
        cpus = num_cpus or CPUS_PER_WORKER
        return num_workers or max(1, cluster_cpus // cpus), cpus
    gpus = resources.get("GPU", 0)
    workers = num_workers or int(gpus // num_gpus)
    if workers < 1 or workers * num_gpus > gpus:
        raise ValueError(
            f"{num_workers or 1} worker(s) with num_gpus={num_gpus} each need "
            f"{max(1, workers) * num_gpus:g} GPU(s); the Ray cluster has {gpus:g}"
        )
    # One CPU stays free for Ray Data's own tasks.
    cpus = num_cpus or max(1, (cluster_cpus - 1) // workers)
    return workers, cpus


def _start_ray_if_needed() -> bool:
    """Starts a local Ray cluster unless one is running or named by RAY_ADDRESS; says
    whether it started one (and so must stop it)."""
    if ray.is_initialized():
        return False
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
        return True
    # Nothing outside this machine joins a cluster its own driver starts: loopback only.
    ray.init(
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=LOCAL_OBJECT_STORE_BYTES,
    )
    return True
