"""Check grid workers' GPS tracks against their grids: per worker-day measures.

:func:`check_tracks` cleans the fixes (:func:`gridkit.patrol.tracks.clean_tracks`), gives
each worker a grid (from a workers table, else the grid where the worker spent the
most time), and measures each worker-day (a calendar day of local time):

- ``distance_km`` along the kept fixes, ``active_hours`` (time between fixes, pauses
  longer than ``max_gap_minutes`` left out);
- ``share_in_grid``: the share of that time spent in the own grid (a fix within
  ``inside_tolerance_m`` of it counts as inside: workers walk the grid's edge streets);
- ``street_coverage``: the share of the grid's street length within ``street_radius_m``
  (25 m) of the track, the streets cut per grid by
  :func:`gridkit.patrol.streets.streets_for_grids` (edge streets count for both grids);
- ``buildings_passed``: the grid's buildings within ``building_radius_m`` (30 m) of the
  track, the monthly visiting duty;
- stops (a dwell of ``stop_minutes`` within ``stop_radius_m``) and excursions outside
  the grid (count, minutes, the greatest distance from it).

Distances to a track are measured to the track sampled every 5 m along its lines
(broken at pauses): a street or building point counts as near when a track sample lies
within the radius, so everything counted is within the radius, and everything within
0.13 m less than it (``sqrt(r**2 - 2.5**2)``) is counted. All of it runs on whole
arrays: one KD-tree over the samples of every worker-day, each worker-day kept apart
by a third coordinate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from gridkit._progress import Progress, no_progress
from gridkit.crs import local_crs
from gridkit.errors import EmptyLayerError, InputDataError, MissingFieldError, ParameterError
from gridkit.patrol.tracks import DROP_REASONS, clean_tracks, lines_from_fixes, stops_from_fixes, workday_keys

__all__ = ["TrackCheck", "check_tracks", "coverage_markdown", "grids_for_workers"]

logger = logging.getLogger(__name__)

_SAMPLE_M = 5.0
_NO_GRID = -1


@dataclass
class TrackCheck:
    """What :func:`check_tracks` found.

    Attributes
    ----------
    days
        One row per worker-day (see :func:`check_tracks`).
    workers
        One row per worker: the days together, and workers of the table without tracks.
    tracks
        The cleaned tracks: one MultiLineString per worker-day (broken at pauses).
    stops
        One point per stop.
    dropped
        The dropped fixes as points, with ``reason``.
    unvisited
        With ``month``: buildings of each worker's grid never passed in that month;
        otherwise None.
    notes
        Statements about the run a reader needs (how grids were assigned, what was
        left out and why).
    figures
        Counts: fixes read, kept, dropped by reason, workers, worker-days.
    """

    days: pd.DataFrame
    workers: pd.DataFrame
    tracks: gpd.GeoDataFrame
    stops: gpd.GeoDataFrame
    dropped: gpd.GeoDataFrame
    unvisited: gpd.GeoDataFrame | None
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def check_tracks(
    fixes: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    workers: pd.DataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    month: str | None = None,
    grid_field: str = "grid_code",
    max_speed_kmh: float = 25.0,
    max_gap_minutes: float = 10.0,
    inside_tolerance_m: float = 15.0,
    street_radius_m: float = 25.0,
    building_radius_m: float = 30.0,
    stop_radius_m: float = 30.0,
    stop_minutes: float = 2.0,
    progress: Progress | None = None,
) -> TrackCheck:
    """Clean GPS fixes and measure every worker-day against the worker's grid.

    Parameters
    ----------
    fixes
        GPS fixes as :func:`gridkit.patrol.tracks.read_tracks` returns them
        (``worker_id, time, lon, lat`` in WGS84/CGCS2000 degrees, naive local times).
    grids
        Grid polygons with ``grid_field`` (the ``grids`` layer of ``grids.gpkg``).
    workers
        A table with ``worker_id`` and ``grid_code``. Workers missing from it (or every
        worker, when it has no ``grid_code`` column or is not given) get the grid where
        they spent the most time; ``grid_from`` says which.
    streets
        Street lines; without them street coverage is left empty (and a note says so).
    buildings
        Building footprints (or points) with ``grid_code`` (the ``buildings`` layer of
        ``grids.gpkg``), or without it (then placed in the grid holding their
        representative point); ``building_id`` names them when present. Without
        buildings the building measures are left empty.
    month
        ``"YYYY-MM"``: list the buildings of every worker's grid never passed within
        ``building_radius_m`` in that month (``TrackCheck.unvisited``).
    grid_field
        The grid code field of ``grids`` (and of ``workers``).
    max_speed_kmh, max_gap_minutes, inside_tolerance_m, street_radius_m, building_radius_m, stop_radius_m, stop_minutes
        The limits described in the module documentation.
    progress
        Called as ``progress(done, total, label)`` after each stage.

    Returns
    -------
    TrackCheck
        ``days`` columns: ``worker_id``, ``day``, ``grid_code``, ``grid_from``
        (``table``, ``most_time`` or ``none``), ``fixes``, ``first_fix``, ``last_fix``,
        ``distance_km``, ``active_hours``, ``share_in_grid``, ``street_km``,
        ``street_covered_km``, ``street_coverage``, ``buildings_in_grid``,
        ``buildings_passed``, ``buildings_share``, ``stops``, ``stop_minutes``,
        ``excursions``, ``excursion_minutes``, ``excursion_max_m``.
    """
    report = progress or no_progress
    _check_options(month, max_speed_kmh, max_gap_minutes, inside_tolerance_m, street_radius_m, building_radius_m)
    if len(fixes) == 0:
        raise EmptyLayerError("there are no GPS fixes", hint="give a track file with rows")
    if grid_field not in grids.columns:
        raise MissingFieldError(f"the grids have no {grid_field!r} field", path=grids.attrs.get("source"),
                                field=grid_field, hint="give the grids layer of grids.gpkg from 'gridkit partition'")
    stages = 6
    crs = local_crs(grids)
    g = grids.to_crs(crs)
    codes = g[grid_field].astype(str).to_numpy()
    polys = shapely.make_valid(g.geometry.to_numpy())
    shapely.prepare(polys)
    notes: list[str] = []

    kept, dropped = clean_tracks(fixes, max_speed_kmh=max_speed_kmh, crs=crs)
    report(1, stages, "cleaning")
    if len(kept) == 0:
        raise InputDataError("no fixes are left after cleaning", hint="check the times and the speed limit")
    wd, days = workday_keys(kept)
    worker_codes, worker_ids = pd.factorize(kept["worker_id"].to_numpy(), sort=True)
    t = kept["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    x, y = kept["x"].to_numpy(dtype=float), kept["y"].to_numpy(dtype=float)
    stretch = np.r_[True, (wd[1:] != wd[:-1]) | (np.diff(t) > max_gap_minutes * 60.0)]
    seg_ok = ~stretch[1:]  # segment k joins fix k and k+1 inside one stretch
    seg_dt = np.where(seg_ok, np.diff(t), 0.0)
    seg_len = np.where(seg_ok, np.hypot(np.diff(x), np.diff(y)), 0.0)
    weight = 0.5 * (np.r_[seg_dt, 0.0] + np.r_[0.0, seg_dt])

    # the grid of every fix, then each worker's own grid
    points = shapely.points(x, y)
    in_grid = _grid_of_points(points, polys, codes)
    table_grid, table_note = _table_grids(workers, codes, grid_field)
    if table_note:
        notes.append(table_note)
    own, own_from = grids_for_workers(worker_ids, worker_codes, in_grid, weight, table_grid, codes)
    report(2, stages, "grids")

    own_fix = own[worker_codes]
    has_own = own_fix != _NO_GRID
    dist_out = np.full(len(kept), np.nan)
    dist_out[has_own] = 0.0
    away = has_own & (in_grid != own_fix)  # a fix on a shared edge may sit in the neighbour: measure it
    dist_out[away] = shapely.distance(points[away], polys[own_fix[away]])
    outside = has_own & (dist_out > inside_tolerance_m)
    day_own = own[worker_codes[_first_of(wd, len(days))]]

    n_days = len(days)
    days["grid_code"] = pd.Series(codes[np.maximum(day_own, 0)], dtype=object).where(day_own != _NO_GRID, None)
    days["grid_from"] = own_from[worker_codes[_first_of(wd, n_days)]]
    days["fixes"] = np.bincount(wd, minlength=n_days)
    times = kept["time"].to_numpy(dtype="datetime64[ns]")
    days["first_fix"] = pd.Series(times[_first_of(wd, n_days)]).dt.strftime("%H:%M:%S").to_numpy()
    days["last_fix"] = pd.Series(times[_last_of(wd, n_days)]).dt.strftime("%H:%M:%S").to_numpy()
    days["distance_km"] = np.bincount(wd[:-1], weights=seg_len, minlength=n_days) / 1000.0
    active = np.bincount(wd[:-1], weights=seg_dt, minlength=n_days)
    days["active_hours"] = active / 3600.0
    w_total = np.bincount(wd, weights=weight, minlength=n_days)
    w_in = np.bincount(wd, weights=weight * (has_own & ~outside), minlength=n_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        days["share_in_grid"] = np.where((w_total > 0) & (day_own != _NO_GRID), w_in / w_total, np.nan)

    # samples of every worker-day's track, kept apart by worker-day
    origin = np.array([x.mean(), y.mean()])
    sep = max(10.0 * float(max(np.ptp(x), np.ptp(y))), 1e5)
    tree = (cKDTree(_track_samples(x - origin[0], y - origin[1], wd, seg_ok, sep), leafsize=32,
                    balanced_tree=False, compact_nodes=False), sep)
    report(3, stages, "track samples")

    street_pairs = _street_coverage(days, day_own, streets, g, grid_field, codes, tree, origin,
                                    street_radius_m, notes)
    report(4, stages, "streets")
    building_table, passed_pairs = _building_passes(days, day_own, buildings, g, grid_field, codes, polys, tree,
                                                    origin, building_radius_m, notes)
    report(5, stages, "buildings")

    stops = stops_from_fixes(kept, radius_m=stop_radius_m, min_minutes=stop_minutes,
                             max_gap_minutes=max_gap_minutes, crs=crs)
    stop_wd = _day_index(days, stops["worker_id"].to_numpy(), stops["day"].to_numpy())
    days["stops"] = np.bincount(stop_wd, minlength=n_days)
    days["stop_minutes"] = np.bincount(stop_wd, weights=stops["minutes"].to_numpy(dtype=float), minlength=n_days)
    run_start = outside & np.r_[True, ~outside[:-1] | stretch[1:]]
    days["excursions"] = np.bincount(wd, weights=run_start, minlength=n_days).astype(np.int64)
    days["excursion_minutes"] = np.bincount(wd, weights=weight * outside, minlength=n_days) / 60.0
    far = np.where(outside, dist_out, 0.0)
    excursion_max = np.zeros(n_days)
    np.maximum.at(excursion_max, wd, far)
    days["excursion_max_m"] = excursion_max

    lines = lines_from_fixes(kept, max_gap_minutes=max_gap_minutes, crs=crs)
    summary = _worker_summary(days, kept, dropped, worker_ids, own, own_from, codes, table_grid, street_pairs,
                              passed_pairs, building_table, w_total_by=(worker_codes, weight, has_own & ~outside))
    unvisited = None
    if month is not None:
        duty = np.union1d(own[own != _NO_GRID], np.fromiter(table_grid.values(), dtype=np.int64))
        unvisited = _unvisited(month, days, building_table, passed_pairs, duty, codes, notes)
    report(6, stages, "summary")

    out_crs = grids.crs
    tracks = lines.merge(days[["worker_id", "day", "grid_code", "distance_km", "street_coverage"]],
                         on=["worker_id", "day"], how="left").to_crs(out_crs)
    figures = {
        "fixes_read": len(fixes), "fixes_kept": len(kept),
        "fixes_dropped": {r: int((dropped["reason"] == r).sum()) for r in DROP_REASONS},
        "workers": len(worker_ids), "worker_days": n_days,
    }
    logger.info("check_tracks: %d fixes, %d kept, %d workers, %d worker-days", len(fixes), len(kept),
                len(worker_ids), n_days)
    return TrackCheck(
        days=days, workers=summary, tracks=tracks, stops=stops.to_crs(out_crs),
        dropped=_dropped_points(dropped, crs).to_crs(out_crs),
        unvisited=None if unvisited is None else unvisited.to_crs(out_crs), notes=notes, figures=figures,
    )


def _check_options(month: str | None, *limits: float) -> None:
    if month is not None:
        try:
            pd.Period(month, freq="M")
        except (ValueError, TypeError):
            raise ParameterError(f"month must be YYYY-MM, got {month!r}") from None
        if len(str(month)) != 7:
            raise ParameterError(f"month must be YYYY-MM, got {month!r}")
    for value in limits:
        if not value > 0:
            raise ParameterError(f"speeds, distances and times must be above 0, got {value!r}")


# ----------------------------------------------------------------------------- worker grids


def _grid_of_points(points: np.ndarray, polys: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The grid index holding each point (the smallest code on a shared edge), -1 outside all."""
    # bounding boxes first, then prepared point-in-polygon tests on coordinates
    ip, ig = shapely.STRtree(polys).query(points)
    xy = shapely.get_coordinates(points)
    keep = shapely.intersects_xy(polys[ig], xy[ip, 0], xy[ip, 1])
    ip, ig = ip[keep], ig[keep]
    out = np.full(len(points), _NO_GRID, dtype=np.int64)
    if ip.size:
        rank = np.argsort(np.argsort(codes, kind="stable"), kind="stable")
        order = np.lexsort((rank[ig], ip))
        ip, ig = ip[order], ig[order]
        first = np.r_[True, ip[1:] != ip[:-1]]
        out[ip[first]] = ig[first]
    return out


def _table_grids(workers: pd.DataFrame | None, codes: np.ndarray, grid_field: str) -> tuple[dict[str, int], str]:
    """Worker id to grid index from the workers table, and a note on how grids were assigned."""
    if workers is None:
        return {}, "no workers table: each worker's grid is the one where the worker spent the most time"
    source = workers.attrs.get("source")
    if "worker_id" not in workers.columns:
        raise MissingFieldError("the workers table has no 'worker_id' column", path=source, field="worker_id",
                                hint="give a table with worker_id and grid_code")
    if grid_field not in workers.columns:
        return {}, (f"the workers table has no {grid_field!r} column: each worker's grid is the one where the "
                    "worker spent the most time")
    ids = workers["worker_id"].astype(str).str.strip().to_numpy()
    given = workers[grid_field].astype("string").str.strip()
    listed = given.notna() & (given != "")
    index_of = {c: i for i, c in enumerate(codes)}
    unknown = listed & ~given.isin(index_of)
    if unknown.any():
        raise InputDataError(
            f"grid codes not in the grids, e.g. {given[unknown].iloc[0]!r} (rows count from 0 after the header)",
            path=source, field=grid_field, feature_ids=np.flatnonzero(unknown.to_numpy()).tolist(),
            hint="use the grid codes of grids.gpkg (15 digits), or leave the cell empty to use the most-time grid")
    frame = pd.DataFrame({"id": ids[listed.to_numpy()], "grid": given[listed].to_numpy()})
    clash = frame.groupby("id")["grid"].nunique()
    if (clash > 1).any():
        bad = clash.index[clash > 1].tolist()
        rows = np.flatnonzero(np.isin(ids, bad) & listed.to_numpy()).tolist()
        raise InputDataError(f"workers listed with different grids: {', '.join(bad[:5])}", path=source,
                             field=grid_field, feature_ids=rows, hint="give each worker one grid")
    mapping = {i: index_of[c] for i, c in zip(frame["id"], frame["grid"])}
    note = "grids from the workers table"
    if len(mapping) < len(set(ids)):
        note += "; workers without a grid in it get the grid where they spent the most time"
    return mapping, note


def grids_for_workers(
    worker_ids: np.ndarray | pd.Index,
    worker_of_fix: np.ndarray,
    grid_of_fix: np.ndarray,
    weight: np.ndarray,
    table: dict[str, int],
    codes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each worker's grid: from the table, else where the worker spent the most time.

    Parameters
    ----------
    worker_ids
        The workers, in the order ``worker_of_fix`` numbers them.
    worker_of_fix, grid_of_fix, weight
        Per fix: the worker's number, the grid index holding the fix (-1 outside every
        grid) and the time it stands for (seconds).
    table
        Worker id to grid index, for the workers a table assigns.
    codes
        Grid codes by grid index (ties in time go to the smallest code).

    Returns
    -------
    grid, source : tuple of numpy.ndarray
        Per worker: the grid index (-1 when the worker was never inside a grid and the
        table has none) and ``"table"``, ``"most_time"`` or ``"none"``.

    Examples
    --------
    >>> import numpy as np
    >>> grid, source = grids_for_workers(np.array(["a", "b"]), np.array([0, 0, 0, 1]), np.array([1, 1, 0, 0]),
    ...                                  np.array([30.0, 30, 90, 10]), {"b": 1}, np.array(["g0", "g1"]))
    >>> grid.tolist(), source.tolist()
    ([0, 1], ['most_time', 'table'])
    """
    n = len(worker_ids)
    m = len(codes)
    inside = grid_of_fix != _NO_GRID
    time = np.zeros((n, m)) if n * m <= 50_000_000 else None
    grid = np.full(n, _NO_GRID, dtype=np.int64)
    if time is not None:
        np.add.at(time, (worker_of_fix[inside], grid_of_fix[inside]), weight[inside])
        # ties (and single fixes of zero weight) go to the smallest code; count fixes as a tie-breaker
        fixes = np.zeros((n, m))
        np.add.at(fixes, (worker_of_fix[inside], grid_of_fix[inside]), 1.0)
        order = np.argsort(codes, kind="stable")
        score = time[:, order] + fixes[:, order] * 1e-9
        best = order[np.argmax(score, axis=1)]
        grid = np.where(score.max(axis=1) > 0, best, _NO_GRID)
    else:
        frame = pd.DataFrame({"w": worker_of_fix[inside], "g": grid_of_fix[inside], "t": weight[inside]})
        sums = frame.groupby(["w", "g"], sort=True)["t"].sum().reset_index()
        sums["code"] = codes[sums["g"]]
        sums = sums.sort_values(["w", "t", "code"], ascending=[True, False, True], kind="stable")
        first = sums.drop_duplicates("w")
        grid[first["w"].to_numpy()] = first["g"].to_numpy()
    source = np.where(grid != _NO_GRID, "most_time", "none").astype(object)
    ids = np.asarray(worker_ids).astype(str)
    for k, wid in enumerate(ids):
        if wid in table:
            grid[k], source[k] = table[wid], "table"
    return grid, source


# ----------------------------------------------------------------------------- track samples


def _first_of(group: np.ndarray, n: int) -> np.ndarray:
    first = np.r_[True, group[1:] != group[:-1]]
    out = np.zeros(n, dtype=np.int64)
    out[group[first]] = np.flatnonzero(first)
    return out


def _last_of(group: np.ndarray, n: int) -> np.ndarray:
    last = np.r_[group[1:] != group[:-1], True]
    out = np.zeros(n, dtype=np.int64)
    out[group[last]] = np.flatnonzero(last)
    return out


def _track_samples(x: np.ndarray, y: np.ndarray, wd: np.ndarray, seg_ok: np.ndarray, sep: float) -> np.ndarray:
    """Points every <= 5 m along each stretch of track (every fix included), as (x, y, worker-day * sep)."""
    dx, dy = np.diff(x), np.diff(y)
    steps = np.where(seg_ok, np.ceil(np.hypot(dx, dy) / _SAMPLE_M), 0).astype(np.int64)
    # between fix k and k+1: fractions 1/steps .. (steps-1)/steps
    inner = np.maximum(steps - 1, 0)
    seg = np.repeat(np.arange(len(steps)), inner)
    frac = (np.arange(len(seg)) - np.repeat(np.cumsum(inner) - inner, inner) + 1) / steps[seg]
    out = np.empty((len(x) + len(seg), 3))
    out[: len(x), 0], out[: len(x), 1], out[: len(x), 2] = x, y, wd * sep
    out[len(x):, 0] = x[seg] + dx[seg] * frac
    out[len(x):, 1] = y[seg] + dy[seg] * frac
    out[len(x):, 2] = wd[seg] * sep
    return out


def _near(tree: tuple[cKDTree, float], xy: np.ndarray, label: np.ndarray, radius: float) -> np.ndarray:
    """Whether a track sample of the worker-day ``label`` lies within ``radius`` of each point."""
    if not len(xy):
        return np.zeros(0, dtype=bool)
    kd, sep = tree
    query = np.column_stack([xy, label * sep])
    dist, _ = kd.query(query, k=1, distance_upper_bound=radius)
    return np.isfinite(dist)


def _day_index(days: pd.DataFrame, worker: np.ndarray, day: np.ndarray) -> np.ndarray:
    keys = pd.MultiIndex.from_arrays([days["worker_id"].to_numpy(), days["day"].to_numpy()])
    return keys.get_indexer(pd.MultiIndex.from_arrays([worker, day])).astype(np.int64)


def _pairs_for_days(day_own: np.ndarray, item_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (worker-day, item) pair whose item lies in the worker-day's own grid."""
    order = np.argsort(item_grid, kind="stable")
    sorted_grid = item_grid[order]
    lo = np.searchsorted(sorted_grid, day_own, side="left")
    hi = np.searchsorted(sorted_grid, day_own, side="right")
    count = np.where(day_own == _NO_GRID, 0, hi - lo)
    pair_day = np.repeat(np.arange(len(day_own)), count)
    pos = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count) + np.repeat(lo, count)
    return pair_day, order[pos]


# ----------------------------------------------------------------------------- streets


def _street_coverage(
    days: pd.DataFrame, day_own: np.ndarray, streets: gpd.GeoDataFrame | None, grids: gpd.GeoDataFrame,
    grid_field: str, codes: np.ndarray, tree: tuple[cKDTree, float], origin: np.ndarray, radius: float,
    notes: list[str],
) -> pd.DataFrame | None:
    """Fill the street columns of ``days``; return the covered (day, piece sample) pairs with lengths."""
    n = len(days)
    if streets is None:
        notes.append("no streets given (--streets or --osm): street coverage is not measured")
        for name in ("street_km", "street_covered_km", "street_coverage"):
            days[name] = np.nan
        return None
    from gridkit.patrol.streets import streets_for_grids

    pieces = streets_for_grids(streets, grids, grid_field=grid_field)
    index_of = {c: i for i, c in enumerate(codes)}
    piece_grid = pieces["grid_code"].map(index_of).to_numpy(dtype=np.int64)
    lines = shapely.segmentize(pieces.geometry.to_numpy(), _SAMPLE_M)
    coords, which = shapely.get_coordinates(lines, return_index=True)
    same = which[1:] == which[:-1]
    mid = (coords[1:][same] + coords[:-1][same]) / 2.0
    length = np.hypot(*(coords[1:][same] - coords[:-1][same]).T)
    sample_grid = piece_grid[which[1:][same]]
    grid_length = np.bincount(piece_grid, weights=pieces["length_m"].to_numpy(), minlength=len(codes))
    pair_day, pair_sample = _pairs_for_days(day_own, sample_grid)
    near = _near(tree, mid[pair_sample] - origin, pair_day, radius)
    covered = np.bincount(pair_day[near], weights=length[pair_sample[near]], minlength=n)
    total = np.where(day_own != _NO_GRID, grid_length[np.maximum(day_own, 0)], np.nan)
    days["street_km"] = total / 1000.0
    days["street_covered_km"] = np.where(day_own != _NO_GRID, covered / 1000.0, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        days["street_coverage"] = np.where(total > 0, covered / total, np.nan)
    without = np.setdiff1d(np.unique(day_own[day_own != _NO_GRID]), piece_grid)
    if without.size:
        notes.append(f"{without.size} worker grid(s) hold no streets: street coverage is empty there")
    return pd.DataFrame({"day": pair_day[near], "sample": pair_sample[near], "length": length[pair_sample[near]],
                         "grid_length": grid_length[sample_grid[pair_sample[near]]]})


# ----------------------------------------------------------------------------- buildings


def _building_table(buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, grid_field: str, codes: np.ndarray,
                    polys: np.ndarray) -> gpd.GeoDataFrame:
    b = buildings.to_crs(grids.crs)
    if "building_id" in b.columns:
        ids = b["building_id"].astype(str).to_numpy()
    else:
        ids = b.index.astype(str).to_numpy()
    index_of = {c: i for i, c in enumerate(codes)}
    if grid_field in b.columns:
        grid = b[grid_field].astype("string").map(index_of).fillna(_NO_GRID).to_numpy(dtype=np.int64)
    else:
        grid = _grid_of_points(shapely.point_on_surface(b.geometry.to_numpy()), polys, codes)
    out = gpd.GeoDataFrame({"building_id": ids, "grid": grid}, geometry=b.geometry.to_numpy(), crs=b.crs)
    for name in ("households", "name", "use"):
        if name in b.columns:
            out[name] = b[name].to_numpy()
    return out


def _building_passes(
    days: pd.DataFrame, day_own: np.ndarray, buildings: gpd.GeoDataFrame | None, grids: gpd.GeoDataFrame,
    grid_field: str, codes: np.ndarray, polys: np.ndarray, tree: tuple[cKDTree, float], origin: np.ndarray,
    radius: float, notes: list[str],
) -> tuple[gpd.GeoDataFrame | None, pd.DataFrame | None]:
    """Fill the building columns of ``days``; return the building table and the passed (day, building) pairs."""
    n = len(days)
    if buildings is None:
        notes.append("no buildings given: buildings passed are not counted")
        for name in ("buildings_in_grid", "buildings_passed"):
            days[name] = pd.array([pd.NA] * n, dtype="Int64")
        days["buildings_share"] = np.nan
        return None, None
    table = _building_table(buildings, grids, grid_field, codes, polys)
    # outline points every <= 5 m, plus a point inside (a track wholly inside a large footprint)
    geoms = table.geometry.to_numpy()
    outline = shapely.segmentize(shapely.boundary(geoms), _SAMPLE_M)
    coords, which = shapely.get_coordinates(outline, return_index=True)
    inner = shapely.get_coordinates(shapely.point_on_surface(geoms))
    pts = np.concatenate([coords, inner])
    owner = np.concatenate([which, np.arange(len(geoms))])
    point_grid = table["grid"].to_numpy()[owner]
    pair_day, pair_point = _pairs_for_days(day_own, point_grid)
    near = _near(tree, pts[pair_point] - origin, pair_day, radius)
    passed = np.unique(np.column_stack([pair_day[near], owner[pair_point[near]]]), axis=0)
    passed_pairs = pd.DataFrame({"day": passed[:, 0], "building": passed[:, 1]})
    in_grid = np.bincount(table["grid"].to_numpy()[table["grid"].to_numpy() != _NO_GRID], minlength=len(codes))
    total = np.where(day_own != _NO_GRID, in_grid[np.maximum(day_own, 0)], 0)
    count = np.bincount(passed_pairs["day"].to_numpy(), minlength=n)
    has = day_own != _NO_GRID
    days["buildings_in_grid"] = pd.Series(total, dtype="Int64").where(has).to_numpy()
    days["buildings_passed"] = pd.Series(count, dtype="Int64").where(has).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        days["buildings_share"] = np.where(total > 0, count / np.maximum(total, 1), np.nan)
    return table, passed_pairs


def _unvisited(month: str, days: pd.DataFrame, table: gpd.GeoDataFrame | None, passed: pd.DataFrame | None,
               grids: np.ndarray, codes: np.ndarray, notes: list[str]) -> gpd.GeoDataFrame | None:
    """Buildings of the given grids (those with a worker) that no worker-day of the month passed."""
    if table is None or passed is None:
        notes.append("--month needs buildings: no list of unvisited buildings")
        return None
    in_month = days["day"].str.startswith(month).to_numpy()
    if not in_month.any():
        notes.append(f"no worker-days fall in {month}: every building of the workers' grids is unvisited")
    seen = passed[in_month[passed["day"].to_numpy()]]["building"].unique()
    mask = np.isin(table["grid"].to_numpy(), grids) & ~np.isin(np.arange(len(table)), seen)
    out = table[mask].copy()
    out.insert(0, "grid_code", codes[out["grid"].to_numpy()])
    out = out.drop(columns="grid").sort_values(["grid_code", "building_id"], kind="stable").reset_index(drop=True)
    notes.append(f"{len(out)} buildings of {grids.size} worker grid(s) were never passed within the radius in {month}")
    return out


# ----------------------------------------------------------------------------- summaries


def _worker_summary(
    days: pd.DataFrame, kept: pd.DataFrame, dropped: pd.DataFrame, worker_ids: Any, own: np.ndarray,
    own_from: np.ndarray, codes: np.ndarray, table: dict[str, int], street_pairs: pd.DataFrame | None,
    passed_pairs: pd.DataFrame | None, buildings: gpd.GeoDataFrame | None, *, w_total_by: tuple,
) -> pd.DataFrame:
    worker_of_fix, weight, inside = w_total_by
    ids = np.asarray(worker_ids).astype(str)
    n = len(ids)
    day_worker = pd.Index(ids).get_indexer(days["worker_id"].to_numpy())
    total_w = np.bincount(worker_of_fix, weights=weight, minlength=n)
    in_w = np.bincount(worker_of_fix, weights=weight * inside, minlength=n)
    out = pd.DataFrame({
        "worker_id": ids,
        "grid_code": np.where(own != _NO_GRID, codes[np.maximum(own, 0)], None),
        "grid_from": own_from,
        "days": np.bincount(day_worker, minlength=n),
        "fixes": np.bincount(worker_of_fix, minlength=n),
        "fixes_dropped": pd.Series(dropped["worker_id"].astype(str)).value_counts().reindex(ids, fill_value=0)
        .to_numpy(),
        "distance_km": np.bincount(day_worker, weights=days["distance_km"], minlength=n),
        "active_hours": np.bincount(day_worker, weights=days["active_hours"], minlength=n),
    })
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_in_grid"] = np.where((total_w > 0) & (own != _NO_GRID), in_w / total_w, np.nan)
    if street_pairs is not None:
        union = street_pairs.assign(worker=day_worker[street_pairs["day"].to_numpy()]).drop_duplicates(
            ["worker", "sample"])
        covered = np.bincount(union["worker"], weights=union["length"], minlength=n)
        grid_len = days.groupby("worker_id", sort=False)["street_km"].first().reindex(ids).to_numpy() * 1000
        with np.errstate(invalid="ignore", divide="ignore"):
            out["street_coverage_all_days"] = np.where(grid_len > 0, covered / grid_len, np.nan)
    else:
        out["street_coverage_all_days"] = np.nan
    if passed_pairs is not None and buildings is not None:
        union = passed_pairs.assign(worker=day_worker[passed_pairs["day"].to_numpy()]).drop_duplicates(
            ["worker", "building"])
        out["buildings_passed_all_days"] = np.bincount(union["worker"], minlength=n)
        in_grid = np.bincount(buildings["grid"].to_numpy()[buildings["grid"].to_numpy() != _NO_GRID],
                              minlength=len(codes))
        out["buildings_in_grid"] = np.where(own != _NO_GRID, in_grid[np.maximum(own, 0)], 0)
    else:
        out["buildings_passed_all_days"] = np.nan
        out["buildings_in_grid"] = np.nan
    out["stops"] = np.bincount(day_worker, weights=days["stops"], minlength=n).astype(np.int64)
    out["excursions"] = np.bincount(day_worker, weights=days["excursions"], minlength=n).astype(np.int64)
    # workers of the table without any track: the ones that did not patrol
    missing = sorted(set(table) - set(ids))
    if missing:
        extra = pd.DataFrame({"worker_id": missing, "grid_code": [codes[table[m]] for m in missing],
                              "grid_from": "table", "days": 0, "fixes": 0, "fixes_dropped": 0})
        out = pd.concat([out, extra], ignore_index=True)
    return out


def _dropped_points(dropped: pd.DataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    cols = [c for c in ("worker_id", "time", "lon", "lat", "source", "row", "reason") if c in dropped.columns]
    frame = dropped[cols].copy()
    return gpd.GeoDataFrame(frame, geometry=shapely.points(dropped["x"].to_numpy(dtype=float),
                                                           dropped["y"].to_numpy(dtype=float)), crs=crs)


# ----------------------------------------------------------------------------- report


def coverage_markdown(result: TrackCheck, *, parameters: dict[str, Any] | None = None) -> str:
    """The check as a Markdown report: notes, dropped fixes, per-worker and per-worker-day tables."""
    f = result.figures
    lines = ["# GPS track check", ""]
    lines.append(f"{f['fixes_read']:,} fixes of {f['workers']} workers on {f['worker_days']} worker-days; "
                 f"{f['fixes_kept']:,} kept.")
    lines += ["", "Days are calendar days of local time (times without an offset are taken as local).", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    lines += ["## Dropped fixes", "", "| reason | fixes | meaning |", "| --- | ---: | --- |"]
    lines += [f"| {r} | {n:,} | {DROP_REASONS[r]} |" for r, n in f["fixes_dropped"].items()]
    lines += ["", "Every dropped fix is in the `dropped` layer of tracks.gpkg, with its file and row.", ""]
    lines += ["## Workers", ""]
    lines += _table(result.workers, {
        "worker_id": "worker", "grid_code": "grid", "grid_from": "grid from", "days": "days",
        "distance_km": "km", "active_hours": "hours", "share_in_grid": "in grid",
        "street_coverage_all_days": "streets (all days)", "buildings_passed_all_days": "buildings passed",
        "buildings_in_grid": "of", "stops": "stops", "excursions": "excursions", "fixes_dropped": "dropped",
    })
    lines += ["", "## Worker-days", ""]
    lines += _table(result.days, {
        "worker_id": "worker", "day": "day", "grid_code": "grid", "first_fix": "from", "last_fix": "to",
        "distance_km": "km", "active_hours": "hours", "share_in_grid": "in grid", "street_coverage": "streets",
        "buildings_passed": "buildings", "buildings_share": "share", "stops": "stops",
        "stop_minutes": "stop min", "excursions": "excursions", "excursion_minutes": "out min",
        "excursion_max_m": "max out m",
    })
    if result.unvisited is not None:
        per_grid = result.unvisited.groupby("grid_code").size()
        lines += ["", "## Buildings never passed in the month", "", "| grid | buildings |", "| --- | ---: |"]
        lines += [f"| {code} | {n} |" for code, n in per_grid.items()]
    if parameters:
        lines += ["", "## Parameters", "", "```"]
        lines += [f"{k}: {v}" for k, v in parameters.items()]
        lines += ["```"]
    return "\n".join(lines) + "\n"


_SHARES = {"share_in_grid", "street_coverage", "street_coverage_all_days", "buildings_share"}


def _table(frame: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    cols = [c for c in columns if c in frame.columns]
    out = ["| " + " | ".join(columns[c] for c in cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for row in frame[cols].itertuples(index=False):
        out.append("| " + " | ".join(_cell(c, v) for c, v in zip(cols, row)) + " |")
    return out


def _cell(column: str, value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if column in _SHARES:
        return f"{value:.0%}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.1f}"
    return str(value)
