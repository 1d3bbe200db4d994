"""The output of a library run: a directory of Parquet files ("parts"), each written under
a hidden temporary name and renamed once complete. A killed run therefore leaves only
whole parts, and the paths in them are exactly the files that need no second look.
pandas.read_parquet and pyarrow read the directory as one table (they skip hidden files)."""

import os
import time
import uuid
from pathlib import Path
from typing import List, Set

import pyarrow as pa
import pyarrow.parquet as pq


class PartWriter:
    """Appends result rows to ``out`` part by part.

    ``resume=True`` reads the paths of the parts already there (:attr:`done`);
    ``resume=False`` refuses a directory that holds parts rather than mixing two runs.
    Rows are written once ``rows_per_part`` have gathered or ``seconds_per_part`` have
    passed since the last part, so a killed run loses at most that much work.
    """

    def __init__(
        self,
        out: os.PathLike,
        schema: pa.Schema,
        *,
        resume: bool,
        rows_per_part: int = 1000,
        seconds_per_part: float = 60.0,
    ) -> None:
        if rows_per_part < 1:
            raise ValueError(f"rows_per_part must be at least 1, got {rows_per_part}")
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise FileExistsError(
                f"{self.out} is a file; the output is a directory of Parquet parts"
            )
        self.out.mkdir(parents=True, exist_ok=True)
        self._schema = schema
        self._rows_per_part = rows_per_part
        self._seconds_per_part = seconds_per_part
        self._pending: List[pa.Table] = []
        self._pending_rows = 0
        self._last_write = time.monotonic()
        for stale in self.out.glob(".part-*.tmp"):
            stale.unlink()  # a killed run's unfinished part: its rows are not in `done`
        existing = sorted(self.out.glob("part-*.parquet"))
        if existing and not resume:
            raise FileExistsError(
                f"{self.out} already holds {len(existing)} part(s) of a run: pass "
                "resume=True to continue it, or choose another output"
            )
        self.done: Set[str] = set()
        for part in existing:
            found = pq.read_schema(part)
            if not found.equals(schema):
                raise ValueError(
                    f"{part} has other columns than this model's results (another model "
                    f"or version?): {found.names} vs {schema.names}"
                )
            self.done.update(pq.read_table(part, columns=["path"]).column("path").to_pylist())

    def add(self, table: pa.Table) -> None:
        """Queues result rows; writes a part when enough have gathered."""
        self._pending.append(table.cast(self._schema))
        self._pending_rows += table.num_rows
        due = time.monotonic() - self._last_write >= self._seconds_per_part
        if self._pending_rows >= self._rows_per_part or due:
            self.flush()

    def flush(self) -> None:
        """Writes every queued row as one part."""
        if self._pending_rows:
            table = pa.concat_tables(self._pending)
            name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
            tmp = self.out / f".{name}.tmp"
            pq.write_table(table, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self.out / name)
        self._pending.clear()
        self._pending_rows = 0
        self._last_write = time.monotonic()
