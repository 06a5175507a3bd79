"""The attach in chunks: inputs larger than memory, in one process or on a Dask cluster, with the in-memory result.

:func:`attach_chunk` does for one chunk of points what
:func:`~gridkit.incidents.job.attach_outputs` does for all of them (attach, categories,
case flags at the evaluation time) and writes the chunk's points as one part of a
partitioned GeoParquet dataset; it returns a :class:`ChunkSummary` of figures that add
up: points and outside points, counts per grid and major category, the case counts per
grid, unknown categories, future times. The values that do not add up (hours to close,
for the medians; ids, for the repeat check) go to spill files (:mod:`gridkit.incidents.spill`).
:func:`~gridkit.incidents.reduce.finish` takes the added-up summaries, reads the spills
bucket by bucket and builds the per-grid statistics and the evaluation exactly as the
in-memory attach builds them.

:func:`attach_stream_job` runs it in this process within a memory budget
(``gridkit attach --memory-limit 2GB``); :mod:`gridkit.incidents.distributed` runs the
chunks on Dask workers. Both write ``OUT.gpkg`` (layers ``grid_stats`` and, for
incidents, ``evaluation``), the points as ``OUT_<kind>/part.NNNNN.parquet`` and the
evaluation files beside them, all at once (:func:`gridkit.io.atomic_dir`).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import MAX_IDS_SHOWN, ParameterError
from gridkit.incidents._checks import as_text, grid_code_arrays
from gridkit.incidents.attach import GridLookup
from gridkit.incidents.cases import (
    TIME_FIELDS,
    calendar_from_csv,
    case_indicators,
    cases_from_incidents,
    future_cases,
    latest_time,
    time_limits,
)
from gridkit.incidents.categories import categories_for_points, category_table
from gridkit.incidents.chunks import PointFormat, csv_format, iter_chunks, total_rows
from gridkit.incidents.job import (
    ID_FIELDS,
    AttachOptions,
    _incident_fields,
    check_attach_options,
)
from gridkit.incidents.reduce import COUNTS, MAJORS, StreamResult, finish
from gridkit.incidents.spill import (
    bucket_of_text,
    spill_values,
)
from gridkit.times import local_now, local_time, month_bounds

__all__ = ["ChunkContext", "ChunkSummary", "StreamResult", "attach_chunk", "attach_stream_job", "chunk_rows",
           "finish", "parse_memory", "prepare"]

log = logging.getLogger(__name__)

_FEW_VALUES = ("grid_code", "community_code", "category", "major", "category_zh", "category_en", "major_zh",
               "major_en", "status", "level")
#: Memory one point needs while its chunk is worked on, at most (measured: benchmarks/bench_scale.py).
BYTES_PER_ROW = 2_500
#: The smallest chunk, whatever the budget.
MIN_ROWS = 1_000


# --------------------------------------------------------------------------- budget


def parse_memory(text: str | int) -> int:
    """Bytes from ``2GB``, ``512MB``, ``1.5GiB`` or a number of bytes.

    Examples
    --------
    >>> parse_memory("2GB"), parse_memory("512 MiB"), parse_memory(1000)
    (2000000000, 536870912, 1000)
    """
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*", str(text), flags=re.IGNORECASE)
        if not m:
            raise ParameterError(f"--memory-limit must be a size such as 2GB or 512MB, got {text!r}")
        base = 1024 if m.group(3) else 1000
        value = int(float(m.group(1)) * base ** " KMGT".index(m.group(2).upper() or " "))
    if value <= 0:
        raise ParameterError(f"--memory-limit must be positive, got {text!r}")
    return value


def chunk_rows(memory_limit: int, *, in_use: int | None = None) -> int:
    """Rows per chunk for a budget of ``memory_limit`` bytes for the whole process.

    What this process already holds (``in_use``, default its resident memory now: the
    interpreter, the libraries, the grids) is taken off; each row of a chunk needs at most
    :data:`BYTES_PER_ROW` while it is worked on. Never fewer than :data:`MIN_ROWS`.
    """
    if in_use is None:
        in_use = _resident_bytes()
    free = memory_limit - in_use
    rows = int(free // BYTES_PER_ROW)
    if rows < MIN_ROWS:
        log.warning("a memory limit of %.0f MB leaves %.0f MB beside what the process holds; chunks of %d rows",
                    memory_limit / 1e6, free / 1e6, MIN_ROWS)
    return max(MIN_ROWS, rows)


def _resident_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # pragma: no cover - psutil comes with distributed
        return 0


# --------------------------------------------------------------------------- the context of every chunk


@dataclass(frozen=True)
class ChunkContext:
    """What every chunk needs, built once (:func:`prepare`) and sent to every worker."""

    options: AttachOptions
    grids: gpd.GeoDataFrame
    codes: np.ndarray
    """The grid codes in code order: the rows of the statistics."""
    group: np.ndarray
    """Per grid (code order), the group whose hours share a bucket: its worker, else the grid itself."""
    worker: np.ndarray
    """Per grid (code order), its worker's rank in :attr:`workers` (-1 without)."""
    workers: tuple[str, ...]
    worker_field: str | None
    evaluate: bool
    as_of: pd.Timestamp | None
    now: pd.Timestamp
    parts: Path
    spill: Path
    n_buckets: int
    categories: pd.DataFrame | None = None
    limits: pd.DataFrame | None = None
    calendar: Any = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def lookup(self) -> GridLookup:
        """The prepared grids (:class:`~gridkit.incidents.attach.GridLookup`), built at the first call and kept."""
        if "lookup" not in self._cache:
            self._cache["lookup"] = GridLookup(self.grids)
        lookup: GridLookup = self._cache["lookup"]
        return lookup

    def __getstate__(self) -> dict[str, Any]:
        # sent without the prepared grids: each process builds its own once
        return {**self.__dict__, "_cache": {}}


@dataclass
class ChunkSummary:
    """The figures of one chunk that add up over chunks (see :meth:`add`)."""

    rows: int = 0
    outside: int = 0
    max_outside_m: float = 0.0
    counts: np.ndarray | None = None
    """Points per grid (code order; last row: outside) and major (``MAJORS`` then other)."""
    kpis: np.ndarray | None = None
    """The :data:`COUNTS` per grid (code order; last row: outside)."""
    unknown: dict[str, int] = field(default_factory=dict)
    with_category: bool = False
    closed: int = 0
    hours_lo: float = math.inf
    hours_hi: float = -math.inf
    future: int = 0
    future_ids: list[tuple[int, Any]] = field(default_factory=list)
    """(input position, id) of the first incidents with future times, at most as many as a message names."""
    without_limit: int = 0
    files: list[str] = field(default_factory=list)

    def add(self, other: ChunkSummary) -> ChunkSummary:
        """This summary and ``other`` added up, in any order (the chunks of a cluster finish as they do)."""
        def plus(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return b if a is None else a if b is None else a + b

        unknown = dict(self.unknown)
        for k, v in other.unknown.items():
            unknown[k] = unknown.get(k, 0) + v
        return ChunkSummary(
            rows=self.rows + other.rows, outside=self.outside + other.outside,
            max_outside_m=max(self.max_outside_m, other.max_outside_m), counts=plus(self.counts, other.counts),
            kpis=plus(self.kpis, other.kpis), unknown=unknown, with_category=self.with_category or other.with_category,
            closed=self.closed + other.closed, hours_lo=min(self.hours_lo, other.hours_lo),
            hours_hi=max(self.hours_hi, other.hours_hi), future=self.future + other.future,
            future_ids=sorted(self.future_ids + other.future_ids)[:MAX_IDS_SHOWN],
            without_limit=self.without_limit + other.without_limit, files=sorted(self.files + other.files),
        )


def prepare(
    grids: gpd.GeoDataFrame,
    first: gpd.GeoDataFrame,
    *,
    options: AttachOptions,
    staging: Path,
    stem: str,
    latest: Callable[[], pd.Timestamp],
    n_rows: int | None,
    now: Any = None,
) -> ChunkContext:
    """The context of every chunk: grids in code order, workers, tables, the evaluation time.

    ``first`` is the first chunk (its columns are the file's); ``latest`` gives the latest
    time in the whole input, called only when the evaluation time is not given.
    """
    codes, _ = grid_code_arrays(grids, "grid_code", "community_code")
    order = np.argsort(codes, kind="stable")
    codes_sorted = codes[order]
    evaluate = options.kind == "incidents" and "reported_at" in first.columns
    field_name = options.worker_field or ("worker_id" if "worker_id" in grids.columns else None)
    workers: tuple[str, ...] = ()
    worker = np.full(len(codes), -1, dtype=np.int64)
    if evaluate and field_name is not None:
        if field_name not in grids.columns:
            from gridkit.errors import MissingFieldError

            raise MissingFieldError(f"the grids have no field {field_name!r}", path=grids.attrs.get("source"),
                                    field=field_name, hint="give the grids a worker field, or leave out --worker-field")
        names = grids[field_name].astype("string").fillna("").to_numpy(dtype=object)[order]
        workers = tuple(sorted(set(names) - {""}))
        lookup = {w: i for i, w in enumerate(workers)}
        worker = np.array([lookup.get(w, -1) for w in names], dtype=np.int64)
    group = np.where(worker >= 0, worker, len(workers) + np.arange(len(codes)))
    as_of = None
    if evaluate:
        if options.as_of is not None:
            as_of = local_time(options.as_of, name="the evaluation time as_of (--as-of)")
        else:
            as_of = latest()
            if options.month is not None:
                as_of = min(as_of, month_bounds(options.month)[1])
    n_buckets = 64 if n_rows is None else int(min(256, max(1, math.ceil(n_rows / 1_000_000))))
    return ChunkContext(
        options=options, grids=grids, codes=codes_sorted, group=group, worker=worker, workers=workers,
        worker_field=field_name if evaluate else None, evaluate=evaluate, as_of=as_of,
        now=local_now() if now is None else local_time(now, name="now"), parts=staging / f"{stem}_{options.kind}",
        spill=staging / f".{stem}-spill", n_buckets=n_buckets,
        categories=category_table(options.kind, options.categories),
        limits=time_limits(options.time_limits), calendar=calendar_from_csv(options.holidays) if options.holidays else None,
    )


# --------------------------------------------------------------------------- one chunk


def attach_chunk(points: gpd.GeoDataFrame, ctx: ChunkContext, part: int, *, position: int) -> ChunkSummary:
    """Attach one chunk, write its points as part ``part``, spill what does not add up; its figures.

    ``position`` is the row position of the chunk's first row in the whole input (ids
    that repeat are reported in input order).
    """
    opts = ctx.options
    attached, row = ctx.lookup().attach(points)  # row: the grid's rank in code order, len(codes) outside
    named = categories_for_points(attached, kind=opts.kind, table=ctx.categories, require_values=False)
    n_grids = len(ctx.codes)
    major = pd.Series(as_text(named["major"]), index=named.index)
    slot = pd.Index(MAJORS).get_indexer(pd.Index(major.to_numpy(dtype=object)))
    slot = np.where(slot >= 0, slot, len(MAJORS))
    counts = np.bincount(row * (len(MAJORS) + 1) + slot, minlength=(n_grids + 1) * (len(MAJORS) + 1))
    outside = named["grid_code"] == ""
    out = ChunkSummary(
        rows=len(named), outside=int(outside.sum()),
        max_outside_m=float(named["outside_m"].max()) if len(named) else 0.0,
        counts=counts.reshape(n_grids + 1, len(MAJORS) + 1).astype(np.int64),
        unknown=dict(named.attrs.get("unknown_categories", {})),
        with_category=bool((named["category"] != "").any()),
    )
    _spill_ids(named, ctx, part, position)
    written = named
    if ctx.evaluate:
        cases = cases_from_incidents(named, as_of=ctx.as_of, month=opts.month, limits=ctx.limits,
                                     calendar=ctx.calendar)
        future = future_cases(cases, now=ctx.now)
        kpis = case_indicators(cases, index=[*ctx.codes, ""])
        out.kpis = kpis[list(COUNTS)].to_numpy(dtype=np.int64)
        out.without_limit = len(cases.attrs.get("without_limit", []))
        out.future = int(future.sum())
        where = np.flatnonzero(future.to_numpy(dtype=bool))[:MAX_IDS_SHOWN]
        out.future_ids = list(zip((position + where).tolist(), future.index[where]))
        hours = cases["hours_to_close"].to_numpy(dtype=float)
        closed = ~np.isnan(hours)
        if closed.any():
            g = row[closed]
            grid = np.where(g < n_grids, g, -1)
            group = np.where(grid >= 0, ctx.group[np.minimum(g, n_grids - 1)], -1)
            frame = pd.DataFrame({"grid": grid, "worker": np.where(grid >= 0, ctx.worker[np.minimum(g, n_grids - 1)],
                                                                     -1), "hours": hours[closed]})
            bucket = (np.where(group >= 0, group, 0) % ctx.n_buckets).astype(np.int32)
            spill_values(frame, bucket, ctx.spill / "hours" / f"{part:06d}.parquet")
            out.closed = int(closed.sum())
            out.hours_lo, out.hours_hi = float(hours[closed].min()), float(hours[closed].max())
        written = _incident_fields(named, cases, future)
    ctx.parts.mkdir(parents=True, exist_ok=True)
    path = ctx.parts / f"part.{part:05d}.parquet"
    written.attrs = {}
    # dictionary pages for the few-valued text gridkit adds; not for ids and times (a wasted try each chunk)
    written.to_parquet(path, index=True, use_dictionary=[c for c in _FEW_VALUES if c in written.columns])
    out.files = [path.name]
    return out


def _spill_ids(named: gpd.GeoDataFrame, ctx: ChunkContext, part: int, position: int) -> None:
    field_name = ID_FIELDS[ctx.options.kind]
    if field_name not in named.columns:
        return
    ids = as_text(named[field_name])
    keep = ids != ""
    frame = pd.DataFrame({"id": ids[keep].astype(str), "pos": position + np.flatnonzero(keep),
                          "row": named.index.to_numpy()[keep]})
    spill_values(frame, bucket_of_text(frame["id"].to_numpy(dtype=object), ctx.n_buckets),
                 ctx.spill / "ids" / f"{part:06d}.parquet")


# --------------------------------------------------------------------------- the job in one process


def attach_stream_job(
    grids_path: PathLike,
    points_path: PathLike,
    output: PathLike,
    *,
    options: AttachOptions,
    memory_limit: str | int | None = None,
    rows: int | None = None,
    streets_path: PathLike | None = None,
    now: Any = None,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> StreamResult:
    """``gridkit attach --memory-limit``: the attach in chunks in this process, within a memory budget.

    Parameters
    ----------
    grids_path, points_path, output, options, streets_path, now
        As :func:`gridkit.incidents.job.attach_job`; ``points_path`` may also be a folder
        of GeoParquet files (a partitioned dataset).
    memory_limit
        The budget for the whole process (``"2GB"``): chunks get as many rows as fit
        (:func:`chunk_rows`).
    rows
        Rows per chunk, instead of a budget.
    progress
        ``progress(rows_done, rows_total_or_None, label)`` after each chunk.

    Returns
    -------
    StreamResult
        The statistics and the evaluation; ``written`` names the GeoPackage, the parts
        folder and the evaluation files.
    """
    from gridkit.io import atomic_dir

    out = check_attach_options(output, options)
    grids, streets = read_grids(grids_path, options=options, streets_path=streets_path)
    if rows is None:
        rows = chunk_rows(parse_memory(memory_limit if memory_limit is not None else "2GB"))
    fmt = point_format(points_path, options, rows=rows)
    n_rows = estimated_rows(points_path, layer=options.layer)
    with atomic_dir(out.parent) as staging:
        chunks = iter_chunks(points_path, fmt, rows=rows)
        first = next(chunks, None)
        if first is None:
            from gridkit.errors import EmptyLayerError

            raise EmptyLayerError(f"the {options.kind} layer has no features", path=points_path,
                                  hint="check you chose the right file and layer")
        ctx = prepare(grids, first, options=options, staging=staging, stem=out.stem, n_rows=n_rows, now=now,
                      latest=lambda: latest_of(points_path, fmt, rows=rows))
        total, n = ChunkSummary(), 0  # added up as the chunks go: memory holds one summary, not one per chunk
        position, last = 0, first
        for i, chunk in enumerate(_chain(first, chunks)):
            total = total.add(attach_chunk(chunk, ctx, i, position=position))
            n += 1
            position += len(chunk)
            last = chunk.iloc[:1]  # for the message on a file without categories: its fields, not its rows
            if progress is not None:
                progress(position, n_rows, f"chunk {i + 1}")
        result = finish(ctx, total, chunks=n, streets=streets, last_chunk=last, points_path=points_path)
        written = write_stream(result, staging, out, ctx)
    clean_stale_parts(out.parent / ctx.parts.name, result.summary_of_chunks.files)
    return replace(result, written=tuple(out.parent / p.name for p in written))


def _chain(first: gpd.GeoDataFrame, rest: Iterator[gpd.GeoDataFrame]) -> Iterator[gpd.GeoDataFrame]:
    """``first``, then the chunks of ``rest``, each read in a thread while the one before is attached.

    Reading (Parquet decoding, WKB parsing) mostly releases the GIL, so on two cores it
    overlaps the attach; one chunk is read ahead, never more (the budget counts it).
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gridkit-read") as pool:
        ahead = pool.submit(next, rest, None)
        yield first
        while True:
            chunk = ahead.result()
            if chunk is None:
                return
            ahead = pool.submit(next, rest, None)
            yield chunk


def read_grids(
    grids_path: PathLike, *, options: AttachOptions, streets_path: PathLike | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """The grids (``grid_field`` renamed ``grid_code``) and the streets, as the in-memory attach reads them."""
    from gridkit.io import preferred_layer, read_layer

    layer = preferred_layer(grids_path, options.grids_layer)
    grids = read_layer(grids_path, layer=layer, geometry="polygon", role="grids",
                       required_fields=[options.grid_field], assume_crs=options.assume_crs)
    if options.grid_field != "grid_code":
        grids = grids.rename(columns={options.grid_field: "grid_code"})
    streets = (read_layer(streets_path, geometry="line", role="streets", assume_crs=options.assume_crs)
               if streets_path is not None else None)
    return grids, streets


def point_format(points_path: PathLike, options: AttachOptions, *, rows: int) -> PointFormat:
    """How to read the points in chunks (a CSV is profiled first: its column types over the whole file)."""
    fmt = PointFormat(layer=options.layer, input_coords=options.input_coords, assume_crs=options.assume_crs,
                      role=options.kind)
    p = Path(points_path)
    if p.is_file() and p.suffix.lower() == ".csv":
        fmt = csv_format(p, fmt, rows=rows)
    return fmt


def estimated_rows(points_path: PathLike, *, layer: str | None = None) -> int | None:
    """Rows of the input from its metadata; a CSV's from its size (about 100 bytes a row)."""
    n = total_rows(points_path, layer=layer)
    p = Path(points_path)
    if n is None and p.is_file():
        n = max(1, p.stat().st_size // 100)
    return n


def latest_of(points_path: PathLike, fmt: PointFormat, *, rows: int) -> pd.Timestamp:
    """The latest time in the whole input (reading only its time fields): the default evaluation time."""
    latest = [latest_time(chunk) for chunk in iter_chunks(points_path, fmt, rows=rows, columns=TIME_FIELDS[:3])]
    return max(latest)


def write_stream(result: StreamResult, staging: Path, out: Path, ctx: ChunkContext) -> list[Path]:
    """Write the GeoPackage and the evaluation files into ``staging``, drop the spills; the paths, GeoPackage first."""
    from gridkit.io import write_layers

    shutil.rmtree(ctx.spill, ignore_errors=True)
    write_layers(staging / out.name, result.layers())
    files = result.files(out.stem)
    for name, content in files.items():
        if isinstance(content, str):
            (staging / name).write_text(content, encoding="utf-8")
        else:
            content.to_csv(staging / name, encoding="utf-8")
    return [staging / out.name, ctx.parts, *(staging / name for name in files)]


def clean_stale_parts(parts: Path, keep: Iterable[str]) -> None:
    """Remove part files a previous, larger run left in the parts folder (the move keeps other files)."""
    wanted = set(keep)
    for p in parts.glob("part.*.parquet"):
        if p.name not in wanted:
            p.unlink()
