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
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gridkit._progress import Progress, no_progress
from gridkit.crs import local_crs
from gridkit.errors import EmptyLayerError, InputDataError, ParameterError
from gridkit.incidents._checks import grid_code_arrays
from gridkit.patrol.cleaning import DROP_REASONS, clean_tracks
from gridkit.patrol.coverage_report import coverage_markdown
from gridkit.patrol.measures import (
    building_passes,
    day_index,
    dropped_points,
    first_of,
    last_of,
    street_coverage,
    track_samples,
    unvisited_buildings,
    worker_summary,
)
from gridkit.patrol.workdays import lines_from_fixes, stops_from_fixes, workday_keys
from gridkit.patrol.worker_grids import NO_GRID, grid_of_points, grids_for_workers, table_grids
from gridkit.times import LOCAL_ZONE, local_time

__all__ = ["TrackCheck", "check_tracks", "coverage_markdown", "future_fixes", "grids_for_workers"]

logger = logging.getLogger(__name__)


@dataclass
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
    now: datetime | str | None = None,
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
    now
        The local time of the check (default: now, in China Standard Time). Fixes later
        than it cannot be real (a wrong GPS clock, a wrong year in an export): they are
        kept and measured as given, counted in ``figures["fixes_in_future"]`` with the
        workers concerned, and a note says so (see :func:`future_fixes`).

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
    # grid codes present, non-empty and unique: a code twice would give one worker two grids
    grid_code_arrays(grids, grid_field, "community_code")
    stages = 6
    crs = local_crs(grids)
    g = grids.to_crs(crs)
    codes = g[grid_field].astype(str).to_numpy()
    polys = shapely.make_valid(g.geometry.to_numpy())
    shapely.prepare(polys)
    notes: list[str] = []
    future = future_fixes(fixes, now=now)
    if future["fixes"]:
        notes.append(future["note"])

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
    in_grid = grid_of_points(points, polys, codes)
    table_grid, table_note = table_grids(workers, g, codes, grid_field)
    if table_note:
        notes.append(table_note)
    own, own_from = grids_for_workers(worker_ids, worker_codes, in_grid, weight, table_grid, codes)
    report(2, stages, "grids")

    own_fix = own[worker_codes]
    has_own = own_fix != NO_GRID
    dist_out = np.full(len(kept), np.nan)
    dist_out[has_own] = 0.0
    away = has_own & (in_grid != own_fix)  # a fix on a shared edge may sit in the neighbour: measure it
    dist_out[away] = shapely.distance(points[away], polys[own_fix[away]])
    outside = has_own & (dist_out > inside_tolerance_m)
    day_own = own[worker_codes[first_of(wd, len(days))]]

    n_days = len(days)
    days["grid_code"] = pd.Series(codes[np.maximum(day_own, 0)], dtype=object).where(day_own != NO_GRID, None)
    days["grid_from"] = own_from[worker_codes[first_of(wd, n_days)]]
    days["fixes"] = np.bincount(wd, minlength=n_days)
    times = kept["time"].to_numpy(dtype="datetime64[ns]")
    days["first_fix"] = pd.Series(times[first_of(wd, n_days)]).dt.strftime("%H:%M:%S").to_numpy()
    days["last_fix"] = pd.Series(times[last_of(wd, n_days)]).dt.strftime("%H:%M:%S").to_numpy()
    days["distance_km"] = np.bincount(wd[:-1], weights=seg_len, minlength=n_days) / 1000.0
    active = np.bincount(wd[:-1], weights=seg_dt, minlength=n_days)
    days["active_hours"] = active / 3600.0
    w_total = np.bincount(wd, weights=weight, minlength=n_days)
    w_in = np.bincount(wd, weights=weight * (has_own & ~outside), minlength=n_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        days["share_in_grid"] = np.where((w_total > 0) & (day_own != NO_GRID), w_in / w_total, np.nan)

    # samples of every worker-day's track, kept apart by worker-day
    origin = np.array([x.mean(), y.mean()])
    sep = max(10.0 * float(max(np.ptp(x), np.ptp(y))), 1e5)
    tree = (cKDTree(track_samples(x - origin[0], y - origin[1], wd, seg_ok, sep), leafsize=32,
                    balanced_tree=False, compact_nodes=False), sep)
    report(3, stages, "track samples")

    street_pairs = street_coverage(days, day_own, streets, g, grid_field, codes, tree, origin,
                                    street_radius_m, notes)
    report(4, stages, "streets")
    building_table, passed_pairs = building_passes(days, day_own, buildings, g, grid_field, codes, polys, tree,
                                                    origin, building_radius_m, notes)
    report(5, stages, "buildings")

    stops = stops_from_fixes(kept, radius_m=stop_radius_m, min_minutes=stop_minutes,
                             max_gap_minutes=max_gap_minutes, crs=crs)
    stop_wd = day_index(days, stops["worker_id"].to_numpy(), stops["day"].to_numpy())
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
    summary = worker_summary(days, kept, dropped, worker_ids, own, own_from, codes, table_grid, street_pairs,
                              passed_pairs, building_table, w_total_by=(worker_codes, weight, has_own & ~outside))
    unvisited = None
    if month is not None:
        duty = np.union1d(own[own != NO_GRID], np.array([i for v in table_grid.values() for i in v], dtype=np.int64))
        unvisited = unvisited_buildings(month, days, building_table, passed_pairs, duty, codes, notes)
    report(6, stages, "summary")

    out_crs = grids.crs
    tracks = lines.merge(days[["worker_id", "day", "grid_code", "distance_km", "street_coverage"]],
                         on=["worker_id", "day"], how="left").to_crs(out_crs)
    figures = {
        "fixes_read": len(fixes), "fixes_kept": len(kept),
        "fixes_dropped": {r: int((dropped["reason"] == r).sum()) for r in DROP_REASONS},
        "workers": len(worker_ids), "worker_days": n_days,
        "fixes_in_future": future["fixes"], "workers_in_future": future["workers"],
    }
    logger.info("check_tracks: %d fixes, %d kept, %d workers, %d worker-days", len(fixes), len(kept),
                len(worker_ids), n_days)
    return TrackCheck(
        days=days, workers=summary, tracks=tracks, stops=stops.to_crs(out_crs),
        dropped=dropped_points(dropped, crs).to_crs(out_crs),
        unvisited=None if unvisited is None else unvisited.to_crs(out_crs), notes=notes, figures=figures,
    )


def future_fixes(fixes: pd.DataFrame, *, now: datetime | str | None = None) -> dict[str, Any]:
    """Fixes timed after ``now`` (local; default the current time in China Standard Time).

    Returns
    -------
    dict
        ``fixes`` (how many), ``workers`` (their ids, sorted), ``latest`` (the latest
        such time, ISO text, or None), ``now`` (ISO text) and ``note`` (a sentence for
        the report, empty when there are none).

    Examples
    --------
    >>> fixes = pd.DataFrame({"worker_id": ["W1", "W2", "W2"],
    ...                       "time": pd.to_datetime(["2024-06-26 08:00", "2031-06-26 08:00", "2034-01-02 09:00"])})
    >>> future_fixes(fixes, now="2025-01-01")["workers"]
    ['W2']
    """
    moment = (pd.Timestamp.now(tz=LOCAL_ZONE).tz_localize(None) if now is None
              else local_time(now, name="now"))
    times = pd.to_datetime(fixes["time"])
    late = (times > moment).to_numpy()
    workers = sorted(pd.unique(fixes["worker_id"].astype(str).to_numpy()[late]).tolist())
    count = int(late.sum())
    latest = times[late].max().isoformat() if count else None
    note = ""
    if count:
        shown = ", ".join(workers[:10]) + (" ..." if len(workers) > 10 else "")
        note = (f"{count:,} fixes of {len(workers)} worker(s) ({shown}) are timed after this check "
                f"({moment:%Y-%m-%d %H:%M}), up to {latest}: the GPS clock or the export is wrong; they are "
                "measured as given")
    return {"fixes": count, "workers": workers, "latest": latest, "now": moment.isoformat(), "note": note}


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
