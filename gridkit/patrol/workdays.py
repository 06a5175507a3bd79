"""Worker-days, track lines and stops from cleaned GPS fixes.

A worker-day is a calendar day of local time of one worker: :func:`workday_keys`
numbers them, :func:`lines_from_fixes` draws one (multi)line per worker-day broken where
the GPS paused, and :func:`stops_from_fixes` finds where a worker dwelt (the stay-point
rule), over whole arrays.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["lines_from_fixes", "stops_from_fixes", "workday_keys"]


def workday_keys(kept: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """A worker-day number per fix, and the table of worker-days (``worker_id``, ``day``).

    Fixes must be sorted by worker and time (as :func:`clean_tracks` returns them): a
    worker-day starts where the worker or the calendar day changes.
    """
    worker = pd.factorize(kept["worker_id"].to_numpy(), sort=False)[0]
    day = kept["time"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    start = np.r_[True, (worker[1:] != worker[:-1]) | (day[1:] != day[:-1])] if len(worker) else np.zeros(0, bool)
    codes = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    table = pd.DataFrame({
        "worker_id": kept["worker_id"].to_numpy()[first].astype(str),
        "day": pd.to_datetime(day[first], unit="D").strftime("%Y-%m-%d").to_numpy(dtype=object),
    })
    return codes.astype(np.int64), table


def lines_from_fixes(
    kept: pd.DataFrame,
    *,
    max_gap_minutes: float = 10.0,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """One (multi)line per worker-day through its kept fixes, broken where the GPS paused.

    Parameters
    ----------
    kept
        Kept fixes with ``x``, ``y`` (from :func:`clean_tracks`).
    max_gap_minutes
        A pause longer than this (lunch, signal lost) breaks the line: the track is not
        drawn straight across it. A lone fix between pauses becomes a zero-length part.
    crs
        The CRS of ``x``, ``y``; by default ``kept.attrs["crs"]``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``worker_id``, ``day`` (YYYY-MM-DD), ``fixes``, geometry (MultiLineString), in
        worker-day order of :func:`workday_keys`.
    """
    wd, table = workday_keys(kept)
    t = kept["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    xy = kept[["x", "y"]].to_numpy(dtype=float)
    brk = np.r_[True, (wd[1:] != wd[:-1]) | (np.diff(t) > max_gap_minutes * 60.0)]
    part = np.cumsum(brk) - 1
    lone = np.bincount(part) == 1
    # a lone fix is doubled so every part is a line
    doubled = lone[part]
    rep = np.where(doubled, 2, 1)
    coords = np.repeat(xy, rep, axis=0)
    parts = shapely.linestrings(coords, indices=np.repeat(part, rep))
    part_wd = wd[brk]
    geoms = shapely.multilinestrings(parts, indices=part_wd)
    out = table.assign(fixes=np.bincount(wd, minlength=len(table)))
    return gpd.GeoDataFrame(out, geometry=geoms, crs=crs if crs is not None else kept.attrs.get("crs"))


def stops_from_fixes(
    kept: pd.DataFrame,
    *,
    radius_m: float = 30.0,
    min_minutes: float = 2.0,
    max_gap_minutes: float = 10.0,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Stops: a worker staying within ``radius_m`` of a fix for at least ``min_minutes``.

    From each fix the stop reaches forward over the following fixes of the same
    worker-day while they stay within ``radius_m`` of it; when they span at least
    ``min_minutes`` they form a stop and the search continues after its last fix
    (the stay-point rule). A pause in the fixes longer than ``max_gap_minutes`` ends a
    stop: where the worker was meanwhile is not known. Reach is computed over whole
    arrays (each fix looks at most ``min_minutes`` ahead); the loop is over the stops
    found, each extended in growing blocks.

    Returns
    -------
    geopandas.GeoDataFrame
        ``worker_id``, ``day``, ``start``, ``end``, ``minutes``, ``fixes``, geometry
        (the mean position of the stop's fixes), in ``crs`` (default
        ``kept.attrs["crs"]``).

    Examples
    --------
    >>> import pandas as pd
    >>> times = pd.date_range("2024-06-26 08:00", periods=10, freq="30s")
    >>> kept = pd.DataFrame({"worker_id": "W1", "time": times, "x": [0, 1, 2, 1, 0, 1, 100, 200, 300, 400.0],
    ...                      "y": 0.0})
    >>> stops = stops_from_fixes(kept, crs=3857)
    >>> stops[["start", "end", "minutes", "fixes"]].astype(str).values.tolist()
    [['2024-06-26 08:00:00', '2024-06-26 08:02:30', '2.5', '6']]
    """
    wd, table = workday_keys(kept)
    n = len(kept)
    t = kept["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    x, y = kept["x"].to_numpy(dtype=float), kept["y"].to_numpy(dtype=float)
    stretch = np.cumsum(np.r_[True, (wd[1:] != wd[:-1]) | (np.diff(t) > max_gap_minutes * 60.0)])
    stretch_end = np.r_[np.flatnonzero(stretch[1:] != stretch[:-1]) + 1, n][stretch - 1]
    # a fix can start a stop when every fix up to min_minutes later is within the radius
    # (bounded windows: at most the fixes of min_minutes per fix)
    key = stretch * (t.max() - t.min() + 10.0 * min_minutes * 60.0 + 1.0) + (t - t.min()) if n else t
    due = np.searchsorted(key, key + min_minutes * 60.0, side="left")
    alive = np.flatnonzero(due < stretch_end)
    step = 1
    while alive.size:
        nxt = alive + step
        ok = np.hypot(x[nxt] - x[alive], y[nxt] - y[alive]) <= radius_m
        alive = alive[ok]
        reached = nxt[ok] >= due[alive]
        candidate_ok = alive[reached]
        if step == 1:
            candidates = candidate_ok
        else:
            candidates = np.concatenate([candidates, candidate_ok])
        alive = alive[~reached]
        step += 1
    if step == 1:
        candidates = np.zeros(0, dtype=np.int64)
    candidates = np.sort(candidates)
    # the stay-point walk: a stop from the first candidate on, as far as the radius holds
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    while True:
        at = int(np.searchsorted(candidates, pos))
        if at >= candidates.size:
            break
        start = int(candidates[at])
        end = _reach(x, y, start, int(due[start]), int(stretch_end[start]), radius_m)
        starts.append(start)
        ends.append(end)
        pos = end + 1
    first = np.asarray(starts, dtype=np.int64)
    last = np.asarray(ends, dtype=np.int64)
    count = last - first + 1
    member = np.repeat(np.arange(first.size), count)
    rows = np.repeat(first - np.r_[0, np.cumsum(count)[:-1]], count) + np.arange(int(count.sum()))
    mx = np.bincount(member, weights=x[rows], minlength=first.size) / np.maximum(count, 1)
    my = np.bincount(member, weights=y[rows], minlength=first.size) / np.maximum(count, 1)
    times = kept["time"].to_numpy(dtype="datetime64[ns]")
    out = pd.DataFrame({
        "worker_id": table["worker_id"].to_numpy()[wd[first]] if first.size else np.array([], dtype=object),
        "day": table["day"].to_numpy()[wd[first]] if first.size else np.array([], dtype=object),
        "start": times[first], "end": times[last],
        "minutes": np.round((t[last] - t[first]) / 60.0, 2), "fixes": count,
    })
    return gpd.GeoDataFrame(out, geometry=shapely.points(mx, my),
                            crs=crs if crs is not None else kept.attrs.get("crs"))


def _reach(x: np.ndarray, y: np.ndarray, start: int, known: int, limit: int, radius: float) -> int:
    """The last position before ``limit`` such that every fix from ``start`` to it is within ``radius``.

    Positions up to ``known`` are already known to be within it.
    """
    pos, block = known + 1, 16
    while pos < limit:
        stop = min(pos + block, limit)
        far = np.hypot(x[pos:stop] - x[start], y[pos:stop] - y[start]) > radius
        if far.any():
            return pos + int(np.argmax(far)) - 1
        pos, block = stop, block * 2
    return limit - 1
