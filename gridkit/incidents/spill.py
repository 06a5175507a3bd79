"""Exact figures over more rows than memory holds: values spilled to disk in buckets, reduced bucket by bucket.

Two figures of the attach cannot be added up chunk by chunk: a median (of the hours to
close a case, per grid, per worker and over all cases) and the check that no id repeats.
Each chunk writes its values to one Parquet file, sorted by bucket with a row group per
bucket (:func:`spill_values`); the reduction reads every file's footer once
(:class:`SpillFiles`), then one bucket at a time from the row groups that hold it, so
memory holds one bucket, never the whole (the median over everything reads the files one
at a time: it needs no bucket).

- Medians per key: the bucket is the key's group (a grid's worker, else the grid), so
  every value of a key is in one bucket: :func:`medians_by_key` is exact, as pandas'
  group median over all values would be.
- The median over everything: :func:`overall_median` selects the middle values exactly,
  narrowing a histogram over all buckets until the values left fit in memory.
- Repeated ids: the bucket is a hash of the id, so copies of an id meet in one bucket:
  :func:`repeated_ids`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SpillFiles", "bucket_of_text", "medians_by_key", "overall_median", "read_bucket", "repeated_ids", "spill_values"]

#: Values gathered at most in one step of :func:`overall_median`.
_GATHER = 2_000_000
_BINS = 4096


def bucket_of_text(values: np.ndarray, n_buckets: int) -> np.ndarray:
    """A bucket for each text value, the same wherever and whenever it is computed."""
    hashed = pd.util.hash_array(np.asarray(values, dtype=object), categorize=False)
    return (hashed % np.uint64(n_buckets)).astype(np.int32)


def spill_values(frame: pd.DataFrame, bucket: np.ndarray, path: Path) -> Path | None:
    """Write ``frame`` (plus ``bucket``) to ``path`` sorted by bucket, one row group per bucket; None when empty."""
    if len(frame) == 0:
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    order = np.argsort(bucket, kind="stable")
    table = pa.Table.from_pandas(frame.iloc[order].assign(bucket=bucket[order]), preserve_index=False)
    bounds = np.flatnonzero(np.diff(bucket[order])) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(frame)]])
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, table.schema, compression="none", use_dictionary=False) as writer:  # read once
        for a, b in zip(starts, stops):
            writer.write_table(table.slice(int(a), int(b - a)))
    return path


def read_bucket(folder: Path | SpillFiles, bucket: int, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of one bucket from every spill file in ``folder`` (or its :class:`SpillFiles`), in file-name order."""
    files = SpillFiles(folder) if isinstance(folder, Path) else folder
    return files.read(bucket, columns)


class SpillFiles:
    """The spill files of a folder, their footers read once: where each bucket lies in each file.

    A bucket is read straight from the row groups that hold it, file after file (a
    dataset filter would open every file and read its footer again for each bucket: with
    a file per chunk and a bucket per million rows, that work grows with the square of
    the input).
    """

    def __init__(self, folder: Path) -> None:
        import pyarrow.parquet as pq

        self.files: list[tuple[Path, Any, dict[int, list[int]], bool]] = []
        for path in sorted(folder.glob("*.parquet")):
            meta = pq.read_metadata(path)
            column = meta.schema.to_arrow_schema().get_field_index("bucket")
            groups: dict[int, list[int]] = {}
            exact = True  # every row group holds one bucket (as spill_values writes them)
            for g in range(meta.num_row_groups):
                stats = meta.row_group(g).column(column).statistics
                if stats is not None and stats.has_min_max and stats.min == stats.max:
                    found = [int(stats.min)]
                else:  # no statistics, or several buckets: the row group's buckets read from the file
                    exact = False
                    found = np.unique(pq.ParquetFile(path, metadata=meta).read_row_group(
                        g, columns=["bucket"]).column(0).to_numpy()).tolist()
                for b in found:
                    groups.setdefault(int(b), []).append(g)
            self.files.append((path, meta, groups, exact))

    def __len__(self) -> int:
        return len(self.files)

    def read(self, bucket: int, columns: list[str] | None = None) -> pd.DataFrame:
        """The rows of ``bucket`` (only ``columns``, default all), in file-name and row order."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        tables = []
        for path, meta, groups, exact in self.files:
            wanted = groups.get(bucket)
            if not wanted:
                continue
            pf = pq.ParquetFile(path, metadata=meta)
            if exact:
                tables.append(pf.read_row_groups(wanted, columns=columns))
                continue
            read = columns if columns is None or "bucket" in columns else [*columns, "bucket"]
            table = pf.read_row_groups(wanted, columns=read)
            table = table.filter(pc.equal(table["bucket"], bucket))
            tables.append(table if read is columns else table.drop_columns(["bucket"]))
        if not tables:
            return pd.DataFrame()
        return pa.concat_tables(tables).to_pandas()

    def values(self, column: str) -> Iterator[np.ndarray]:
        """One column of each file in turn, whatever the bucket (one file in memory at a time)."""
        import pyarrow.parquet as pq

        for path, meta, _, _ in self.files:
            yield pq.ParquetFile(path, metadata=meta).read(columns=[column]).column(0).to_numpy().astype(float)


def _dataset(folder: Path) -> SpillFiles | None:
    """The spill files of ``folder`` (None when there are none); opened once per reduction."""
    files = SpillFiles(folder)
    return files if len(files) else None


def medians_by_key(folder: Path, n_buckets: int, key: str, value: str) -> pd.Series:
    """The median of ``value`` per ``key`` (keys < 0 left out), as ``groupby(key)[value].median()`` over all rows."""
    parts = []
    dataset = _dataset(folder)
    for b in range(n_buckets if dataset is not None else 0):
        assert dataset is not None
        frame = dataset.read(b, [key, value])
        if len(frame):
            frame = frame[frame[key] >= 0]
            parts.append(frame.groupby(key, sort=True)[value].median())
    if not parts:
        return pd.Series(dtype=float)
    return pd.concat(parts).sort_index()


def overall_median(
    folder: Path, n_buckets: int, value: str, *, count: int, lo: float, hi: float, gather: int = _GATHER
) -> float:
    """The median of every ``value`` in the spill files (``count`` of them, between ``lo`` and ``hi``); NaN if none.

    Exact: the middle values are found by narrowing a histogram until they are gathered,
    and averaged as pandas' group median averages them; ``gather`` is how many values
    may be held at once.
    """
    if count == 0:
        return float("nan")
    wanted = sorted({(count - 1) // 2, count // 2})
    dataset = _dataset(folder)
    if count <= gather:  # all values fit: one pass
        ordered = np.sort(np.concatenate(list(_values(dataset, n_buckets, value))))
        found = [float(ordered[k]) for k in wanted]
    else:
        found = [_kth(dataset, n_buckets, value, k, lo, hi, gather) for k in wanted]
    pair = pd.Series(found if len(found) == 2 else found * 2)
    return float(pair.groupby(np.zeros(2, dtype=int)).median().iloc[0])


def _kth(folder: SpillFiles | None, n_buckets: int, value: str, k: int, lo: float, hi: float, gather: int) -> float:
    """The k-th smallest value (0-based) over all buckets, every value lying in [lo, hi]."""
    below = 0  # how many values lie below lo
    while lo < hi:
        edges = np.linspace(lo, hi, _BINS + 1)
        hist = np.zeros(_BINS, dtype=np.int64)
        for v in _values(folder, n_buckets, value):
            hist += _histogram(v, edges, lo, hi)
        cum = below + np.cumsum(hist)
        i = int(np.searchsorted(cum, k + 1))  # the bin holding the k-th value
        start = int(cum[i - 1]) if i else below
        a, b = float(edges[i]), float(edges[i + 1])
        last = i == _BINS - 1
        top = b if last else float(np.nextafter(b, -np.inf))  # the bin is [a, b), the last [a, hi]
        if hist[i] <= gather or top <= a:
            gathered = [v[(v >= a) & (v <= top)] for v in _values(folder, n_buckets, value)]
            return float(np.sort(np.concatenate(gathered))[k - start])
        below, lo, hi = start, a, top
    return lo


def _histogram(v: np.ndarray, edges: np.ndarray, lo: float, hi: float) -> np.ndarray:
    v = v[(v >= lo) & (v <= hi)]
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(idx, minlength=len(edges) - 1)


def _values(folder: SpillFiles | None, n_buckets: int, value: str) -> Iterator[np.ndarray]:
    """The ``value`` column of each spill file in turn (one file, the values of one chunk, in memory at a time)."""
    if folder is not None:
        yield from folder.values(value)


def repeated_ids(folder: Path, n_buckets: int) -> pd.DataFrame:
    """The spilled rows (``id``, ``pos``, ``row``) whose ``id`` appears more than once, in input order."""
    parts = []
    dataset = _dataset(folder)
    for b in range(n_buckets if dataset is not None else 0):
        assert dataset is not None
        frame = dataset.read(b, ["id", "pos", "row"])
        if len(frame):
            parts.append(frame[frame["id"].duplicated(keep=False)])
    if not parts:
        return pd.DataFrame({"id": [], "pos": [], "row": []})
    return pd.concat(parts).sort_values("pos", kind="stable")
