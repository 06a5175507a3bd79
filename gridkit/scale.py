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
from typing import Any, Generic, TypeVar

from gridkit._progress import Progress, no_progress
from gridkit.errors import DependencyError, ParameterError

__all__ = ["MIN_PARALLEL_ITEMS", "Beside", "auto_workers", "available_cores", "dask_client", "map_jobs"]

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


#: the function and jobs of the running :func:`_map_in_processes`, for the workers forked from this process
_INHERITED: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _inherited_job(i: int) -> Any:
    """Job ``i`` of the map that forked this worker: sent as its number, not pickled."""
    assert _INHERITED is not None, "a worker forked outside _map_in_processes"
    func, jobs = _INHERITED
    return func(jobs[i])


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
    inherited = context.get_start_method() == "fork"
    global _INHERITED
    try:
        if inherited:  # forked workers (all started at the first submit) find the jobs in their copy of this module
            _INHERITED = (func, jobs)
            futures = {pool.submit(_inherited_job, i): i for i in range(len(jobs))}
        else:
            futures = {pool.submit(func, job): i for i, job in enumerate(jobs)}
        for done, fut in enumerate(as_completed(futures), start=1):
            i = futures[fut]
            results[i] = fut.result()
            progress(done, len(jobs), names[i])
    finally:  # on an error or Ctrl-C, start no further job
        pool.shutdown(wait=True, cancel_futures=True)
        _INHERITED = None
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


class Beside(Generic[R]):
    """``func(*args)`` computed in a forked child process while this one does other work.

    With ``enabled`` False, or where the system cannot fork, nothing starts and
    :meth:`result` calls ``func`` here. The child's log records are passed back and
    logged here, in this process's handlers. When the child fails in any way (an
    exception, a crash, a result that cannot be sent back), :meth:`result` calls
    ``func`` again here, so a failure raises exactly as a serial run would. ``func``
    must not write anything the parent relies on: only its return value comes back.

    Examples
    --------
    >>> job = Beside(sum, [1, 2, 3])
    >>> job.result()
    6
    """

    def __init__(self, func: Callable[..., R], *args: Any, enabled: bool = True) -> None:
        self._func, self._args = func, args
        self._process: Any = None
        self._conn: Any = None
        if enabled and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self._conn, child_end = context.Pipe(duplex=False)
            gc.freeze()  # as in _map_in_processes: the child's collections would copy the parent's heap
            try:
                self._process = context.Process(target=_run_beside, args=(func, args, child_end), daemon=True)
                self._process.start()
            except (AssertionError, OSError) as exc:  # a daemon process (a Dask worker) may not fork one
                log.debug("no child process (%s): computing here", exc)
                self._process = None
                self._conn.close()
            finally:
                gc.unfreeze()
            child_end.close()

    def result(self) -> R:
        """The value of ``func(*args)``: the child's when it succeeded, else computed here."""
        if self._process is not None:
            try:
                status, value, records = self._conn.recv()
            except (EOFError, OSError):  # the child died before sending
                status, value, records = "failed", None, []
            finally:
                self.close()
            for record in records:
                logging.getLogger(record.name).handle(record)
            if status == "ok":
                return value
            log.debug("the child process failed (%s); computing here", value)
        return self._func(*self._args)

    def close(self) -> None:
        """Stop the child if it still runs (on an error in the parent, say)."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join()
            self._conn.close()
            self._process = None


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args, record.exc_info, record.exc_text = record.getMessage(), None, None, None
        self.records.append(record)


def _run_beside(func: Callable[..., Any], args: tuple[Any, ...], conn: Any) -> None:
    root = logging.getLogger()
    collector = _Records()
    root.handlers = [collector]  # this (child) process's handlers only: the parent logs the records
    try:
        value = func(*args)
        message: tuple[str, Any, list[logging.LogRecord]] = ("ok", value, collector.records)
    except BaseException as exc:  # noqa: BLE001 - any failure: the parent computes it again
        message = ("failed", repr(exc), [])
    try:
        conn.send(message)
    except Exception as exc:  # noqa: BLE001 - a value that cannot be pickled
        conn.send(("failed", repr(exc), []))
    finally:
        conn.close()


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
