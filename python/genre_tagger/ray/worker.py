"""The Ray Data actor that tags: one :class:`~genre_tagger.Tagger` per worker, loaded once
(on a GPU for GPU workers), turning batches of paths into result rows. A file that cannot
be tagged becomes a row with its error; nothing a file does fails the job."""

import os
import warnings
from typing import Any, Dict, List, Optional, Tuple

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
    """Called by Ray Data with batches of ``{"path": ...}`` rows; tags each batch with one
    :meth:`~genre_tagger.Tagger.tag_files` call on ``threads`` threads, on ``device``."""

    def __init__(self, model: Optional[str], hop: float, threads: int, device: str = "cpu") -> None:
        # Each worker is one process with `threads` CPUs of its own: size the Rust thread
        # pool to that before the first tagging call builds it (it reads this variable).
        os.environ["RAYON_NUM_THREADS"] = str(threads)
        self._threads = threads
        self._tagger = Tagger(model, hop, device=device)
        self._schema = schema(self._tagger.labels)

    def __call__(self, batch: pa.Table) -> pa.Table:
        paths = batch.column("path").to_pylist()
        return pa.Table.from_pylist(self._rows(paths), schema=self._schema)

    def _rows(self, paths: List[str]) -> List[Dict[str, Any]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                results = self._tagger.tag_files(paths, threads=self._threads)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: BLE001 — a Rust panic is a BaseException too
                results = None
        if results is None:
            # No one file's error (the network failed, or a panic): each file alone, so
            # that every row says what happened to it.
            return [self._row(path, *self._tag_alone(path)) for path in paths]
        # Each warning names its file first, as the CLI prints it.
        messages = [str(w.message) for w in caught]
        return [
            self._row(path, result, [m for m in messages if m.startswith(f"{path}: ")])
            for path, result in zip(paths, results)
        ]

    def _tag_alone(self, path: str) -> Tuple[Any, List[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = self._tagger.tag_file(path)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # noqa: BLE001 — a Rust panic is a BaseException too
                result = e
        return result, [str(w.message) for w in caught]

    @staticmethod
    def _row(path: str, result: Any, warned: List[str]) -> Dict[str, Any]:
        """The row of one file: its tags, or the exception it got."""
        row: Dict[str, Any] = {"path": path}
        if isinstance(result, BaseException):
            row["error"] = str(result)
            row["error_type"] = type(result).__name__
        else:
            row["duration_s"] = result["duration_s"]
            row["genre"] = result["genre"]
            for label, p in result["distribution"].items():
                row[prob_column(label)] = p
            row["styles"] = result.get("styles")
            tempo, key = result.get("tempo"), result.get("key")
            row["bpm"] = tempo["bpm"] if tempo else None
            row["key"] = key["name"] if key else None
            row["camelot"] = key["camelot"] if key else None
        row["warnings"] = warned or None
        return row
