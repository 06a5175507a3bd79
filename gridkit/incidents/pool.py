"""The chunked attach on this machine's cores: forked worker processes, no cluster to start.

``gridkit attach --workers N`` (without ``--scheduler``) runs the chunks of
:mod:`gridkit.incidents.stream` in ``N`` local worker processes. Where the system can
fork (Linux) the workers are forked from this process once the grids are read and the
context of every chunk is built, so they start in milliseconds with the grids, the
tables and the prepared grid lookup already in memory: nothing is sent to them but the
piece of the input each one reads (a run of row groups of a GeoParquet file or folder,
a feature range of a GeoPackage) and nothing comes back but the chunk's figures
(:class:`~gridkit.incidents.stream.ChunkSummary`). A CSV is read here in chunks and
sent, at most one chunk per worker waiting beside the ones being attached.

Each worker runs :func:`~gridkit.incidents.stream.attach_chunk`, the code of the
streaming path, and the figures are added up and reduced by
:func:`~gridkit.incidents.reduce.finish` as there: the result is the in-memory attach's,
point for point, whichever worker finishes first. A Dask cluster
(:mod:`gridkit.incidents.distributed`) costs a scheduler, a nanny and a memory monitor per
worker and the transfer of the context: on one machine this path does the same work
without them.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import Any

import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import ParameterError
from gridkit.incidents.chunks import ChunkSpec, PointFormat, chunk_specs, iter_chunks, read_chunk
from gridkit.incidents.job import AttachOptions, check_attach_options
from gridkit.incidents.stream import (
    BYTES_PER_ROW,
    MIN_ROWS,
    ChunkContext,
    ChunkSummary,
    StreamResult,
    _resident_bytes,
    attach_chunk,
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

__all__ = ["attach_pool_job", "pool_chunk_rows"]

log = logging.getLogger(__name__)

# the context in a worker process: inherited when forked, else set by the pool's initializer
_CONTEXT: ChunkContext | None = None


def pool_chunk_rows(memory_limit: int, workers: int, *, in_use: int | None = None, waiting: int = 0) -> int:
    """Rows per chunk for ``workers`` processes within ``memory_limit`` bytes for the whole process tree.

    Each forked worker's resident memory counts the pages of this process it inherited
    (``in_use``, default this process's resident memory now) a second time, so they are
    taken off once per process; each worker holds one chunk at a time, and this process
    ``waiting`` more (chunks of a CSV sent to the workers). Never fewer than :data:`MIN_ROWS`.
    """
    if in_use is None:
        in_use = _resident_bytes()
    free = memory_limit - (workers + 1) * in_use
    rows = int(free // ((workers + waiting) * BYTES_PER_ROW))
    if rows < MIN_ROWS:
        log.warning("a memory limit of %.0f MB leaves %.0f MB for %d worker processes; chunks of %d rows",
                    memory_limit / 1e6, free / 1e6, workers, MIN_ROWS)
    return max(MIN_ROWS, rows)


def attach_pool_job(
    grids_path: PathLike,
    points_path: PathLike,
    output: PathLike,
    *,
    options: AttachOptions,
    workers: int = 2,
    memory_limit: str | int | None = None,
    rows: int | None = None,
    streets_path: PathLike | None = None,
    now: Any = None,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> StreamResult:
    """``gridkit attach --workers N``: the chunked attach in ``workers`` local processes.

    Parameters
    ----------
    grids_path, points_path, output, options, streets_path, now, progress
        As :func:`gridkit.incidents.stream.attach_stream_job`.
    workers
        Worker processes (1 attaches in this process, as the streaming path does).
    memory_limit
        The budget of this process and its workers together (default 2GB): chunks get as
        many rows as fit (:func:`pool_chunk_rows`).
    rows
        Rows per chunk, instead of what the budget gives.

    Returns
    -------
    StreamResult
        As the streaming path's; the files written are the same.
    """
    from gridkit.io import atomic_dir

    if workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {workers}")
    out = check_attach_options(output, options)
    grids, streets = read_grids(grids_path, options=options, streets_path=streets_path)
    specs_probe = chunk_specs(points_path, rows=2**62, layer=options.layer)
    if rows is None:
        budget = parse_memory(memory_limit if memory_limit is not None else "2GB")
        rows = pool_chunk_rows(budget, workers, waiting=1 if specs_probe is None else 0)
    fmt = point_format(points_path, options, rows=rows)
    specs = chunk_specs(points_path, rows=rows, layer=options.layer, at_most=True)
    n_rows = estimated_rows(points_path, layer=options.layer)
    with atomic_dir(out.parent) as staging:
        first = _first_rows(points_path, fmt)

        def latest() -> pd.Timestamp:
            return latest_of(points_path, fmt, rows=rows)

        ctx = prepare(grids, first, options=options, staging=staging, stem=out.stem, latest=latest,
                      n_rows=n_rows, now=now)
        ctx.lookup()  # built here once: forked workers inherit it
        total, n = _run(ctx, points_path, fmt, specs, rows, n_rows, workers, progress)
        result = finish(ctx, total, chunks=n, streets=streets, last_chunk=first, points_path=points_path)
        written = write_stream(result, staging, out, ctx)
    clean_stale_parts(out.parent / ctx.parts.name, result.summary_of_chunks.files)
    log.info("attached %d points in %d chunks in %d local processes", result.summary_of_chunks.rows,
             result.chunks, workers)
    return replace(result, written=tuple(out.parent / p.name for p in written))


def _first_rows(points_path: PathLike, fmt: PointFormat) -> Any:
    """The first rows of the input (its fields tell what to compute), the file closed again."""
    chunks = iter_chunks(points_path, fmt, rows=MIN_ROWS)
    try:
        first = next(chunks, None)
    finally:
        chunks.close()
    if first is None:
        from gridkit.errors import EmptyLayerError

        raise EmptyLayerError(f"the {fmt.role} layer has no features", path=points_path,
                              hint="check you chose the right file and layer")
    return first.iloc[:1]


def _run(ctx: ChunkContext, points_path: PathLike, fmt: PointFormat, specs: list[ChunkSpec] | None, rows: int,
         n_rows: int | None, workers: int, progress: Callable[[int, int | None, str], None] | None
         ) -> tuple[ChunkSummary, int]:
    """The chunks' figures added up as they finish (in any order: the sum does not depend on it)."""
    total, n = ChunkSummary(), 0
    jobs: Iterator[tuple[Callable[..., ChunkSummary], tuple[Any, ...]]]
    if specs is not None:
        jobs = ((_attach_spec, (spec, i, fmt)) for i, spec in enumerate(specs))
        limit = len(specs)  # a job is a few numbers: the workers read the rows themselves
    else:
        jobs = _csv_jobs(points_path, fmt, rows)
        limit = workers + 1  # chunks read here wait for a worker: one beside each that works
    if workers == 1:
        global _CONTEXT
        _CONTEXT = ctx
        try:
            for func, args in jobs:
                total = total.add(func(*args))
                n += 1
                if progress is not None:
                    progress(total.rows, n_rows, f"chunk {n}")
        finally:
            _CONTEXT = None
        return total, n
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    # the parent's objects frozen out of the collector: a forked worker's collections would
    # otherwise touch, and so copy, every page it inherited
    gc.freeze()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_set_context, initargs=(ctx,))
    try:
        pending: set[Future[ChunkSummary]] = set()
        submitting = True
        while submitting or pending:
            # submit until ``limit`` chunks are in flight (or the input ends), then take one that finished
            while submitting and len(pending) < limit:
                job = next(jobs, None)
                if job is None:
                    submitting = False
                else:
                    pending.add(pool.submit(job[0], *job[1]))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                total = total.add(fut.result())
                n += 1
                if progress is not None:
                    progress(total.rows, n_rows, f"{workers} processes")
    finally:  # on an error or Ctrl-C, start no further chunk
        pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()
    return total, n


def _csv_jobs(points_path: PathLike, fmt: PointFormat, rows: int
              ) -> Iterator[tuple[Callable[..., ChunkSummary], tuple[Any, ...]]]:
    position = 0
    for i, chunk in enumerate(iter_chunks(points_path, fmt, rows=rows)):
        yield _attach_rows, (chunk, i, position)
        position += len(chunk)


def _set_context(ctx: ChunkContext) -> None:
    global _CONTEXT
    _CONTEXT = ctx


def _attach_spec(spec: ChunkSpec, part: int, fmt: PointFormat) -> ChunkSummary:
    """In a worker: read one piece of the input and attach it."""
    assert _CONTEXT is not None
    return attach_chunk(read_chunk(spec, fmt), _CONTEXT, part, position=spec.offset)


def _attach_rows(chunk: Any, part: int, position: int) -> ChunkSummary:
    """In a worker: attach a chunk read by the parent."""
    assert _CONTEXT is not None
    return attach_chunk(chunk, _CONTEXT, part, position=position)
