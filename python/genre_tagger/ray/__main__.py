"""``python -m genre_tagger.ray DIR… OUT.parquet``: tag_library as a command."""

import argparse
import sys
from typing import List, Optional

from .. import GenreTaggerError


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m genre_tagger.ray",
        description="Tag every audio file under the given folders (or the given files) "
        "on Ray; results go to OUT, a directory of Parquet files. A run that was "
        "stopped continues where it stopped.",
    )
    ap.add_argument("inputs", nargs="+", metavar="DIR", help="folders or audio files")
    ap.add_argument("out", metavar="OUT.parquet", help="output directory of Parquet parts")
    ap.add_argument("--workers", type=int, default=None, help="tagging actors (default: one per CPU)")
    ap.add_argument("--model", default=None, help="model file (default: the embedded model)")
    ap.add_argument("--hop", type=float, default=1.0, help="seconds between windows")
    ap.add_argument("--batch-size", type=int, default=16, help="files per worker call")
    ap.add_argument("--rows-per-part", type=int, default=1000, help="rows per Parquet file")
    ap.add_argument("--no-resume", action="store_true", help="refuse an OUT that holds results")
    ap.add_argument("--address", default=None, help="a Ray cluster to join (ray start --head prints it)")
    ap.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local cluster started when no --address is given")
    ap.add_argument("--num-gpus", type=int, default=None, help="GPUs of the local cluster started when no --address is given (default: those found)")
    ap.add_argument("--gpus-per-worker", type=float, default=0, help="GPUs per tagging actor; > 0 runs the network on CUDA (default: 0, the CPU)")
    ap.add_argument("--cpus-per-worker", type=int, default=None, help="CPUs per tagging actor, its decoding threads (default: 1 on the CPU; the cluster's, shared, with GPUs)")
    args = ap.parse_args(argv)

    import ray  # after argument errors, which need no Ray

    from .library import list_audio, tag_library

    if args.address or args.num_cpus or args.num_gpus is not None:
        # tag_library uses a cluster that is already initialised, and leaves it running.
        if args.address:
            ray.init(address=args.address)
        else:
            from .library import LOCAL_OBJECT_STORE_BYTES

            ray.init(
                num_cpus=args.num_cpus,
                num_gpus=args.num_gpus,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            )
    # Several folders or files: every audio file of each, in the order given.
    inputs = (
        args.inputs[0]
        if len(args.inputs) == 1
        else [p for i in args.inputs for p in list_audio(i)]
    )
    try:
        run = tag_library(
            inputs,
            args.out,
            num_workers=args.workers,
            resume=not args.no_resume,
            model=args.model,
            hop=args.hop,
            batch_size=args.batch_size,
            rows_per_part=args.rows_per_part,
            num_gpus=args.gpus_per_worker,
            num_cpus=args.cpus_per_worker,
        )
    except (GenreTaggerError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if ray.is_initialized():
            ray.shutdown()
    print(
        f"{run.out}: {run.tagged} file(s) tagged, {run.failed} of them with an error; "
        f"{run.skipped} already there"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
