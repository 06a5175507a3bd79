"""Run independent jobs here, in local processes or on a Dask cluster, with the same results.

The partition divides each community on its own, so a county's communities can be
spread over processes: this machine's cores (``workers=N``, forked worker processes,
which start in milliseconds) or a running Dask scheduler (``scheduler="tcp://host:8786"``).
Results come back in job order, so the output does not depend on which worker finished
first. :func:`auto_workers` says how many processes pay on a given amount of work;
:func:`dask_client` gives the Dask client the partition's ``scheduler`` path and the
chunked attach (:mod:`gridkit.incidents.distributed`) use.

Examples
--------
>>> map_jobs(abs, [-1, 2, -3])
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from gridkit._progress import Progress, no_progress
from gridkit.errors import DependencyError, ParameterError

__all__ = ["MIN_PARALLEL_ITEMS", "auto_workers", "available_cores", "dask_client", "map_jobs"]

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")

#: Below this many items (buildings, say) in all jobs together, one process is faster than
#: starting more and sending them their jobs.
MIN_PARALLEL_ITEMS = 20_000


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def auto_workers(jobs: int, items: int) -> int:
    """Processes worth using for ``jobs`` independent jobs holding ``items`` items in all.

    Every available core when there are several jobs and enough work to pay for the
    processes, else 1.

    >>> auto_workers(1, 10**6)
    1
    >>> auto_workers(200, 100)
    1
    """
    if jobs < 2 or items < MIN_PARALLEL_ITEMS:
        return 1
    return min(available_cores(), jobs)


def map_jobs(
    func: Callable[[J], R],
    jobs: Sequence[J],
    *,
    labels: Sequence[str] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[R]:
    """``[func(job) for job in jobs]``, serially or on a Dask cluster.

    Parameters
    ----------
    func
        A module-level function (it is pickled to the workers).
    jobs
        Its inputs, one per call.
    labels
        A label per job for the progress callback.
    workers
        Local worker processes; 1 runs in this process.
    scheduler
        Address of a running Dask scheduler; overrides ``workers``.
    progress
        ``progress(done, total, label)`` as jobs finish.

    Returns
    -------
    list
        One result per job, in job order.
    """
    progress = progress or no_progress
    if workers < 1:
        raise ParameterError(f"workers must be at least 1, got {workers}")
    names = list(labels) if labels is not None else [f"job {i}" for i in range(len(jobs))]
    if scheduler is None and (workers == 1 or len(jobs) <= 1):
        results = []
        for i, job in enumerate(jobs):
            progress(i, len(jobs), names[i])
            results.append(func(job))
        progress(len(jobs), len(jobs), "done")
        return results
    if scheduler is None:
        return _map_in_processes(func, jobs, names, workers=workers, progress=progress)
    return _map_on_dask(func, jobs, names, scheduler=scheduler, progress=progress)


def _map_in_processes(func: Callable[[Any], R], jobs: Sequence[Any], names: list[str], *, workers: int,
                      progress: Progress) -> list[R]:
    # fork where the system has it: the workers start at once, with gridkit already imported
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    results: list[Any] = [None] * len(jobs)
    progress(0, len(jobs), f"{workers} processes")
    # objects of the parent frozen out of the collector: a forked worker's collections would
    # otherwise touch, and so copy, every page of the parent's heap
    gc.freeze()
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context)
    try:
        futures = {pool.submit(func, job): i for i, job in enumerate(jobs)}
        for done, fut in enumerate(as_completed(futures), start=1):
            i = futures[fut]
            results[i] = fut.result()
            progress(done, len(jobs), names[i])
    finally:  # on an error or Ctrl-C, start no further job
        pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()
    log.info("ran %d jobs in %d local processes", len(jobs), workers)
    return results


def _map_on_dask(
    func: Callable[[Any], R], jobs: Sequence[Any], names: list[str], *, scheduler: str, progress: Progress,
) -> list[R]:
    from distributed import as_completed as dask_completed

    with dask_client(scheduler=scheduler) as client:
        futures = [client.submit(func, job, key=f"gridkit-{i}-{id(jobs)}", pure=False) for i, job in enumerate(jobs)]
        where = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(jobs)
        progress(0, len(jobs), "submitted to Dask")
        for done, fut in enumerate(dask_completed(futures), start=1):
            i = where[fut.key]
            results[i] = fut.result()
            progress(done, len(jobs), names[i])
        log.info("ran %d jobs on the Dask scheduler at %s", len(jobs), scheduler)
        return results


@contextlib.contextmanager
def dask_client(*, workers: int = 2, scheduler: str | None = None, memory_limit: str | int | None = None
                ) -> Iterator[Any]:
    """A Dask client: of a running scheduler (``scheduler``), else of a local cluster of ``workers`` processes.

    The local cluster (one thread per worker process, no dashboard port clash) is closed
    afterwards; a running scheduler is only disconnected from. ``memory_limit`` is each
    local worker's (Dask's ``memory_limit``; default Dask's share of the machine).

    Raises
    ------
    ParameterError
        ``workers`` below 1, or a scheduler that cannot be reached.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise DependencyError("the Dask path needs the 'distributed' package",
                              hint="pip install 'dask[distributed]'") from exc
    if workers < 1:
        raise ParameterError(f"workers must be at least 1, got {workers}")
    cluster = None
    if scheduler is None:
        extra = {} if memory_limit is None else {"memory_limit": memory_limit}
        # gridkit's tasks keep nothing in worker memory (results are small): spilling it to disk
        # is useless, and pausing at Dask's 80 % stalls a worker whose one chunk fills its share
        with dask.config.set({"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
                              "distributed.worker.memory.pause": 0.95}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR, **extra)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=5)
        except OSError as exc:
            raise ParameterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                                 hint="start one with 'dask scheduler' and workers with 'dask worker ADDRESS'") from exc
    try:
        yield client
    finally:
        client.close()
