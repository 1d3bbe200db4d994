"""Files per second of `genre_tagger.ray.tag_library` with 1 and 2 workers on this machine,
beside the same files tagged in one plain Python loop (no Ray) and by two threads
sharing one Tagger (the GIL is released while tagging). A benchmark, not a test.

    target/py-test-venv/bin/python python/bench/scaling.py [--copies 6] [--json OUT]

The library is the CC-music fixtures repeated `--copies` times (hard links: same audio,
distinct paths). Times exclude starting Ray; each worker uses one CPU and one thread.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# One Rust thread per tagging call, set before the extension builds its thread pool, so
# "1 worker" means one core in every row.
os.environ["RAYON_NUM_THREADS"] = "1"

import genre_tagger  # noqa: E402
import ray  # noqa: E402
from genre_tagger.ray import tag_library  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def make_library(d: Path, copies: int) -> list:
    sources = sorted((REPO / "fixtures" / "cc-music").glob("*.ogg"))
    paths = []
    for k in range(copies):
        for s in sources:
            p = d / f"{k:03d}_{s.name}"
            os.link(s, p)
            paths.append(p)
    return paths


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=6, help="repeats of the fixture set")
    ap.add_argument("--json", type=Path, default=REPO / "target" / "bench-ray.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lib = tmp / "lib"
        lib.mkdir()
        paths = make_library(lib, args.copies)
        tagger = genre_tagger.Tagger()
        audio_s = sum(tagger.tag_file(p)["duration_s"] for p in paths[: len(paths) // args.copies])
        audio_s *= args.copies
        n = len(paths)
        rows = []

        def row(name, workers, seconds):
            rows.append(
                {
                    "setup": name,
                    "workers": workers,
                    "seconds": round(seconds, 2),
                    "files_per_s": round(n / seconds, 3),
                    "files_per_s_per_worker": round(n / seconds / workers, 3),
                    "x_realtime": round(audio_s / seconds, 1),
                }
            )
            print(f"{name:<28} {workers} worker(s): {n / seconds:7.2f} files/s "
                  f"({audio_s / seconds:6.0f}x real time)", file=sys.stderr)

        row("python loop, no ray", 1, timed(lambda: [tagger.tag_file(p) for p in paths]))
        with ThreadPoolExecutor(2) as pool:
            row("2 threads, one Tagger", 2, timed(lambda: list(pool.map(tagger.tag_file, paths))))

        # Three logical CPUs for two one-CPU workers: room for Ray Data's own tasks.
        ray.init(num_cpus=3, include_dashboard=False, _node_ip_address="127.0.0.1",
                 object_store_memory=256 * 1024 * 1024)
        try:
            for workers in (1, 2):
                out = tmp / f"out{workers}.parquet"
                secs = timed(lambda: tag_library(lib, out, num_workers=workers,
                                                 batch_size=4, progress=False))
                row("ray tag_library", workers, secs)
        finally:
            ray.shutdown()

    doc = {
        "files": n,
        "audio_seconds": round(audio_s, 1),
        "model": tagger.source,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
