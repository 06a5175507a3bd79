"""The attach on a Dask cluster: chunks of points attached by the workers, the figures added up here.

The grids are small (a province has about 120,000) and go to every worker once
(broadcast); the points are never gathered. A GeoParquet input (a file, or a folder of
files: a partitioned dataset, as ``dask_geopandas`` writes it) is split into runs of row
groups that each worker reads itself; a CSV or an OGR file is read here in chunks and
sent out, at most two chunks per worker in flight. Each worker attaches its chunk with
:func:`gridkit.incidents.stream.attach_chunk` (the same code as the streaming path),
writes the chunk's points as one GeoParquet part and its spills, and returns its
figures; :func:`gridkit.incidents.stream.finish` adds them up in chunk order. The result
equals the in-memory attach point for point: a chunk is attached against all the grids,
so the edge tie-break and the distances outside are those of the whole.

No spatial shuffle: with the grids broadcast, any chunk can be attached on its own, and
moving every point between workers first (``dask_geopandas``' ``spatial_shuffle``)
would cost a full exchange of the data for nothing; chunks keep the input's order, so the
parts keep its rows and index.

Workers write into the output folder: on a cluster of several machines it must be on
a file system they all share (NFS, a mounted object store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from gridkit._types import PathLike
from gridkit.incidents.cases import TIME_FIELDS, latest_time
from gridkit.incidents.chunks import ChunkSpec, PointFormat, chunk_specs, iter_chunks, read_chunk
from gridkit.incidents.job import AttachOptions, check_attach_options
from gridkit.incidents.stream import (
    ChunkContext,
    ChunkSummary,
    StreamResult,
    attach_chunk,
    chunk_rows,
    clean_stale_parts,
    estimated_rows,
    finish,
    latest_of,
    parse_memory,
    point_format,
    prepare,
    read_grids,
    write_stream,
)

__all__ = ["attach_dask_job"]

log = logging.getLogger(__name__)


def attach_dask_job(
    grids_path: PathLike,
    points_path: PathLike,
    output: PathLike,
    *,
    options: AttachOptions,
    workers: int = 2,
    scheduler: str | None = None,
    memory_limit: str | int | None = None,
    rows: int | None = None,
    streets_path: PathLike | None = None,
    now: Any = None,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> StreamResult:
    """``gridkit attach --workers N | --scheduler ADDRESS``: the chunked attach on Dask.

    Parameters
    ----------
    grids_path, points_path, output, options, streets_path, now, progress
        As :func:`gridkit.incidents.stream.attach_stream_job`.
    workers
        Worker processes of a local cluster (one thread each), when no ``scheduler`` is given.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``).
    memory_limit
        The budget of the local cluster, shared by its workers (default 2GB): each worker
        gets its share, and chunks as many rows as fit in it.
    rows
        Rows per chunk, instead of what the budget gives.
    """
    from gridkit.io import atomic_dir
    from gridkit.scale import dask_client

    out = check_attach_options(output, options)
    grids, streets = read_grids(grids_path, options=options, streets_path=streets_path)
    budget = parse_memory(memory_limit if memory_limit is not None else "2GB")
    share = budget // max(1, workers + 1)  # the workers' shares and this process's
    if rows is None:
        rows = chunk_rows(share, in_use=_WORKER_BASELINE)
    fmt = point_format(points_path, options, rows=rows)
    specs = chunk_specs(points_path, rows=rows, layer=options.layer)
    n_rows = estimated_rows(points_path, layer=options.layer)
    with dask_client(workers=workers, scheduler=scheduler,
                     memory_limit=None if scheduler else share) as client, atomic_dir(out.parent) as staging:
        first = read_chunk(specs[0], fmt) if specs else _first_chunk(points_path, fmt, rows)

        def latest() -> pd.Timestamp:
            if specs is None:
                return latest_of(points_path, fmt, rows=rows)
            return max(client.gather(client.map(_latest_of_spec, specs, fmt=fmt, pure=False)))

        ctx = prepare(grids, first, options=options, staging=staging, stem=out.stem, latest=latest,
                      n_rows=n_rows, now=now)
        first = first.iloc[:1]  # its fields name what a file without categories has; the rows are not needed
        shared = client.scatter(ctx, broadcast=True)
        total, n = _run(client, shared, points_path, fmt, specs, rows, n_rows, progress)
        result = finish(ctx, total, chunks=n, streets=streets, last_chunk=first, points_path=points_path)
        written = write_stream(result, staging, out, ctx)
    clean_stale_parts(out.parent / ctx.parts.name, result.summary_of_chunks.files)
    log.info("attached %d points in %d chunks on Dask (%s)", result.summary_of_chunks.rows, result.chunks,
             scheduler or f"local cluster, {workers} workers")
    return replace(result, written=tuple(out.parent / p.name for p in written))


#: What a worker process holds before its first chunk (interpreter, libraries, grids), roughly.
_WORKER_BASELINE = 250_000_000


def _run(client: Any, ctx: Any, points_path: PathLike, fmt: PointFormat, specs: list[ChunkSpec] | None, rows: int,
         n_rows: int | None, progress: Callable[[int, int | None, str], None] | None) -> tuple[ChunkSummary, int]:
    """The chunks' figures added up as they finish, and how many chunks; read by the workers (specs) or sent
    from here (CSV, at most two chunks per worker in flight)."""
    from distributed import as_completed

    total, n = ChunkSummary(), 0

    def take(fut: Any) -> None:
        nonlocal total, n
        total = total.add(fut.result())
        n += 1
        fut.release()
        if progress is not None:
            progress(total.rows, n_rows, "chunks on Dask")

    if specs is not None:
        for fut in as_completed(client.map(_attach_spec, specs, range(len(specs)), ctx=ctx, fmt=fmt, pure=False)):
            take(fut)
        return total, n
    pending = as_completed()
    limit = 2 * max(1, len(client.scheduler_info()["workers"]))
    position, in_flight = 0, 0
    for i, chunk in enumerate(iter_chunks(points_path, fmt, rows=rows)):
        pending.add(client.submit(attach_chunk, chunk, ctx, i, position=position, pure=False))
        position += len(chunk)
        in_flight += 1
        del chunk
        while in_flight >= limit:
            take(next(pending))
            in_flight -= 1
    for fut in pending:
        take(fut)
    return total, n


def _attach_spec(spec: ChunkSpec, part: int, *, ctx: ChunkContext, fmt: PointFormat) -> ChunkSummary:
    """On a worker: read one piece of the input and attach it."""
    return attach_chunk(read_chunk(spec, fmt), ctx, part, position=spec.offset)


def _latest_of_spec(spec: ChunkSpec, *, fmt: PointFormat) -> pd.Timestamp:
    """On a worker: the latest time in one piece, reading only the time fields."""
    return latest_time(read_chunk(spec, fmt, columns=TIME_FIELDS[:3]))


def _first_chunk(points_path: PathLike, fmt: PointFormat, rows: int) -> Any:
    """The first chunk of a file read here (its columns tell what to compute), the file closed again."""
    chunks = iter_chunks(points_path, fmt, rows=rows)
    try:
        first = next(chunks, None)
    finally:
        chunks.close()
    if first is None:
        from gridkit.errors import EmptyLayerError

        raise EmptyLayerError(f"the {fmt.role} layer has no features", path=points_path,
                              hint="check you chose the right file and layer")
    return first
