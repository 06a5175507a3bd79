"""Cleaning GPS fixes: sort them, drop exact duplicates, repeated timestamps and jumps.

:func:`clean_tracks` returns what it kept and what it dropped, with the reason for each
dropped fix (:data:`DROP_REASONS`); a jump is a fix that would need a speed above the
limit from the worker's last kept fix, found on whole arrays (no loop over fixes).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from gridkit.crs import local_crs
from gridkit.errors import MissingFieldError, ParameterError

__all__ = ["DROP_REASONS", "FIX_FIELDS", "clean_tracks"]

logger = logging.getLogger(__name__)

#: Why a fix was dropped by :func:`clean_tracks`.
DROP_REASONS: dict[str, str] = {
    "duplicate": "the same worker, time and position as an earlier fix",
    "same_time": "the same worker and time as an earlier fix at another position",
    "jump": "reaching it from the last kept fix needs a speed above the limit",
}
#: The columns every table of fixes has.
FIX_FIELDS = ("worker_id", "time", "lon", "lat")


def clean_tracks(
    fixes: pd.DataFrame,
    *,
    max_speed_kmh: float = 25.0,
    crs: Any = None,
    anchor_gap_minutes: float = 10.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sort fixes by worker and time and drop duplicates, repeated times and jumps.

    A fix is dropped as a ``"duplicate"`` when an earlier fix (in file order) has the
    same worker, time and position; as ``"same_time"`` when an earlier one has the
    same worker and time but another position; and as a ``"jump"`` when reaching it
    from the worker's last kept fix needs a speed above ``max_speed_kmh``. A run of
    fixes far away (a GPS drift) is dropped until the track comes back within reach.
    When the fix before a jump starts the worker's track, or follows a gap of more than
    ``anchor_gap_minutes``, and the fixes after the jump agree with each other, that
    first fix is the stray one and is dropped instead. The jump search works on whole
    arrays: each pass settles the first jump of every worker that still has one.

    Parameters
    ----------
    fixes
        As returned by :func:`read_tracks` (``worker_id, time, lon, lat``; ``source``
        and ``row`` are kept when present).
    max_speed_kmh
        The fastest plausible speed: walking or cycling, 25 km/h by default.
    crs
        The metric CRS for distances; by default :func:`gridkit.crs.local_crs` of the
        fixes.
    anchor_gap_minutes
        A pause longer than this starts a new stretch whose first fix may be the stray.

    Returns
    -------
    kept, dropped : tuple of pandas.DataFrame
        ``kept``: the fixes kept, sorted by worker and time, with ``x``, ``y`` (metres
        in ``crs``; ``kept.attrs["crs"]``). ``dropped``: the other fixes with ``x``,
        ``y`` and ``reason`` (a key of :data:`DROP_REASONS`). Together they hold every
        input row once.
    """
    if not max_speed_kmh > 0:
        raise ParameterError(f"max_speed_kmh must be above 0, got {max_speed_kmh!r}")
    missing = [f for f in FIX_FIELDS if f not in fixes.columns]
    if missing:
        raise MissingFieldError(f"fixes lack {', '.join(missing)}", field=missing[0],
                                hint="read them with gridkit.patrol.tracks.read_tracks")
    if crs is None:
        crs = local_crs((float(fixes["lon"].min()), float(fixes["lat"].min()),
                         float(fixes["lon"].max()), float(fixes["lat"].max())))
    crs = pyproj.CRS.from_user_input(crs)
    worker_codes = pd.factorize(fixes["worker_id"], sort=True)[0]
    file_order = np.arange(len(fixes))
    time_ns = fixes["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    order = np.lexsort((file_order, time_ns, worker_codes))
    frame = fixes.iloc[order].reset_index(drop=True)
    to_metric = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x, y = to_metric.transform(frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float))
    frame["x"], frame["y"] = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    reason = np.full(len(frame), "", dtype=object)
    dup = frame.duplicated(subset=["worker_id", "time", "lon", "lat"], keep="first").to_numpy()
    reason[dup] = "duplicate"
    same = frame.duplicated(subset=["worker_id", "time"], keep="first").to_numpy() & ~dup
    reason[same] = "same_time"
    alive = ~(dup | same)
    idx = np.flatnonzero(alive)
    jumps = _jumps(
        worker_codes[order][idx], time_ns[order][idx] / 1e9, frame["x"].to_numpy()[idx], frame["y"].to_numpy()[idx],
        max_speed_kmh / 3.6, anchor_gap_minutes * 60.0,
    )
    reason[idx[jumps]] = "jump"
    keep = reason == ""
    kept = frame[keep].reset_index(drop=True)
    dropped = frame[~keep].assign(reason=reason[~keep]).reset_index(drop=True)
    kept.attrs["crs"] = crs
    dropped.attrs["crs"] = crs
    logger.info("cleaned %d fixes: kept %d, dropped %s", len(frame), len(kept),
                dict(pd.Series(reason[~keep]).value_counts()) if (~keep).any() else 0)
    return kept, dropped


def _speed_ok(x: np.ndarray, y: np.ndarray, t: np.ndarray, a: np.ndarray, b: np.ndarray, vmax: float) -> np.ndarray:
    """Whether going from fix ``a`` to fix ``b`` (index arrays) stays within ``vmax`` m/s."""
    return np.hypot(x[b] - x[a], y[b] - y[a]) <= vmax * np.abs(t[b] - t[a])


def _jumps(w: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, vmax: float, gap: float) -> np.ndarray:
    """Fixes to drop as jumps; arrays sorted by worker then time, times strictly increasing per worker.

    Equivalent to walking each worker's fixes and dropping every fix not reachable
    from the last kept one, except that a stray first fix of a stretch (the worker's
    first fix, or the first after a pause longer than ``gap``) is dropped in place of
    what follows it. Each pass finds every violation on whole arrays and where each
    one's drifted run ends, then follows the chain of violations that remain once the
    earlier runs are dropped, all workers at once; a stray anchor ends the pass for its
    worker, which is scanned again.
    """
    n = len(w)
    drop = np.zeros(n, dtype=bool)
    if n < 2:
        return drop
    worker_start = np.r_[0, np.flatnonzero(w[1:] != w[:-1]) + 1]
    worker_end = np.r_[worker_start[1:], n]
    end_of = np.repeat(worker_end, np.diff(np.r_[worker_start, n]))
    stretch_start = np.r_[True, (w[1:] != w[:-1]) | (np.diff(t) > gap)]
    active = np.arange(len(worker_start))
    while active.size:
        rows = _rows_of(worker_start[active], worker_end[active])
        rows = rows[~drop[rows]]
        a, b = rows[:-1], rows[1:]
        bad = (w[a] == w[b]) & ~_speed_ok(x, y, t, a, b, vmax)
        if not bad.any():
            break
        k = np.flatnonzero(bad)
        p, i = a[k], b[k]
        # a stray anchor: p starts a stretch and i agrees with the fix after it
        after = b[np.minimum(k + 1, len(b) - 1)]
        has_after = (k + 1 < len(b)) & (w[after] == w[i])
        stray = stretch_start[p] & has_after & _speed_ok(x, y, t, i, after, vmax)
        # otherwise i .. j-1 go, j the first later fix reachable from p
        j = _first_reachable(p, i, end_of, drop, x, y, t, vmax)
        run, lone = _chain(p, j, w, stray)
        drop[p[lone]] = True
        _mark_runs(drop, i[run], j[run])
        active = np.unique(np.searchsorted(worker_start, p[lone], side="right") - 1)
    return drop


def _chain(p: np.ndarray, j: np.ndarray, w: np.ndarray, stray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The violations a sequential walk meets: from each worker's first, the next with its anchor at or after j.

    Returns masks over the violations: runs to drop, and stray anchors to drop (a stray
    ends its worker's chain: what precedes it must be checked again).
    """
    m = len(p)
    run = np.zeros(m, dtype=bool)
    lone = np.zeros(m, dtype=bool)
    frontier = np.flatnonzero(np.r_[True, w[p[1:]] != w[p[:-1]]])
    while frontier.size:
        s = stray[frontier]
        lone[frontier[s]] = True
        go = frontier[~s]
        run[go] = True
        nxt = np.searchsorted(p, j[go], side="left")
        inside = nxt < m
        same = np.zeros(go.size, dtype=bool)
        same[inside] = w[p[nxt[inside]]] == w[p[go[inside]]]
        frontier = nxt[same]
    return run, lone


def _rows_of(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """All positions from ``starts[k]`` to ``ends[k]`` (excluded), concatenated."""
    lengths = ends - starts
    offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return np.arange(int(lengths.sum())) + offsets


def _first_reachable(
    p: np.ndarray, i: np.ndarray, end_of: np.ndarray, drop: np.ndarray,
    x: np.ndarray, y: np.ndarray, t: np.ndarray, vmax: float,
) -> np.ndarray:
    """For each jump (p, i): the first kept position after i reachable from p (or the worker's end)."""
    j = end_of[i].copy()
    pending = np.arange(len(p))
    offset, block = 1, 8
    while pending.size:
        steps = np.arange(offset, offset + block)
        cand = i[pending, None] + steps[None, :]
        inside = cand < end_of[i[pending], None]
        safe = np.where(inside, cand, i[pending, None])
        ok = inside & ~drop[safe] & _speed_ok(x, y, t, np.broadcast_to(p[pending, None], cand.shape), safe, vmax)
        hit = ok.any(axis=1)
        j[pending[hit]] = cand[hit, ok[hit].argmax(axis=1)]
        pending = pending[~hit & inside[:, -1]]
        offset += block
        block = min(block * 2, 4096)
    return j


def _mark_runs(mask: np.ndarray, begin: np.ndarray, end: np.ndarray) -> None:
    """Set ``mask[begin[k]:end[k]] = True`` for every k, without a loop."""
    if not begin.size:
        return
    delta = np.zeros(len(mask) + 1, dtype=np.int64)
    np.add.at(delta, begin, 1)
    np.add.at(delta, end, -1)
    mask |= np.cumsum(delta[:-1]) > 0
