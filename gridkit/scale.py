"""Run independent jobs here or on a Dask cluster, with the same results.

The partition divides each community on its own, so a county's communities can be
spread over processes: a local Dask cluster (``workers=N``) or a running scheduler
(``scheduler="tcp://host:8786"``). Results come back in job order, so the output
does not depend on which worker finished first. :func:`dask_client` gives the client
both the partition and the chunked attach (:mod:`gridkit.incidents.distributed`) use.

Examples
--------
>>> map_jobs(abs, [-1, 2, -3])
[1, 2, 3]
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from gridkit._progress import Progress, no_progress
from gridkit.errors import DependencyError, ParameterError

__all__ = ["dask_client", "map_jobs"]

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")


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
        Processes of a local Dask cluster; 1 runs in this process.
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
    return _map_on_dask(func, jobs, names, workers=workers, scheduler=scheduler, progress=progress)


def _map_on_dask(
    func: Callable[[Any], R], jobs: Sequence[Any], names: list[str], *, workers: int, scheduler: str | None,
    progress: Progress,
) -> list[R]:
    from distributed import as_completed

    with dask_client(workers=workers, scheduler=scheduler) as client:
        futures = [client.submit(func, job, key=f"gridkit-{i}-{id(jobs)}", pure=False) for i, job in enumerate(jobs)]
        where = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(jobs)
        progress(0, len(jobs), "submitted to Dask")
        for done, fut in enumerate(as_completed(futures), start=1):
            i = where[fut.key]
            results[i] = fut.result()
            progress(done, len(jobs), names[i])
        log.info("ran %d jobs on Dask (%s)", len(jobs), scheduler or f"local cluster, {workers} workers")
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
        if cluster is not None:
            cluster.close()
