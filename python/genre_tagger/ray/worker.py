"""The Ray Data actor that tags: one :class:`~genre_tagger.Tagger` per worker, loaded once,
turning batches of paths into result rows. A file that cannot be tagged becomes a row
with its error; nothing a file does fails the job."""

import os
import warnings
from typing import Any, Dict, List, Optional

import pyarrow as pa

from .. import Tagger

STYLE = pa.struct([("name", pa.string()), ("probability", pa.float32())])


def prob_column(label: str) -> str:
    """The column holding the probability of genre ``label``."""
    return f"p_{label}"


def schema(labels: List[str]) -> pa.Schema:
    """One row per file: what the file is, the model's verdict, or why there is none."""
    return pa.schema(
        [
            ("path", pa.string()),
            ("duration_s", pa.float64()),
            ("genre", pa.string()),
            *[(prob_column(label), pa.float32()) for label in labels],
            # The top styles, most probable first; null for a model without styles.
            ("styles", pa.list_(STYLE)),
            # The file's tempo and key (voted over the file); null where there is none.
            ("bpm", pa.float32()),
            ("key", pa.string()),
            ("camelot", pa.string()),
            ("error", pa.string()),
            # The exception's class: UnreadableAudioError, SilentAudioError, ...
            ("error_type", pa.string()),
            # What the CLI would print as warnings (a truncated file, NaN samples).
            ("warnings", pa.list_(pa.string())),
        ]
    )


class TagWorker:
    """Called by Ray Data with batches of ``{"path": ...}`` rows."""

    def __init__(self, model: Optional[str], hop: float, threads: int) -> None:
        # Each worker is one process with `threads` CPUs of its own: size the Rust thread
        # pool to that before the first tagging call builds it (it reads this variable).
        os.environ["RAYON_NUM_THREADS"] = str(threads)
        self._tagger = Tagger(model, hop)
        self._schema = schema(self._tagger.labels)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = [self._row(path) for path in batch.column("path").to_pylist()]
        return pa.Table.from_pylist(rows, schema=self._schema)

    def _row(self, path: str) -> Dict[str, Any]:
        row: Dict[str, Any] = {"path": path}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                tags = self._tagger.tag_file(path)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # noqa: BLE001 — a Rust panic is a BaseException too
                row["error"] = str(e)
                row["error_type"] = type(e).__name__
                tags = None
        if tags is not None:
            row["duration_s"] = tags["duration_s"]
            row["genre"] = tags["genre"]
            for label, p in tags["distribution"].items():
                row[prob_column(label)] = p
            row["styles"] = tags.get("styles")
            tempo, key = tags.get("tempo"), tags.get("key")
            row["bpm"] = tempo["bpm"] if tempo else None
            row["key"] = key["name"] if key else None
            row["camelot"] = key["camelot"] if key else None
        row["warnings"] = [str(w.message) for w in caught] or None
        return row
