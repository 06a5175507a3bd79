"""The measures of a track check, on whole arrays: track samples, streets covered, buildings
passed, buildings never passed in a month, and the per-worker summary.

Distances to a track are measured to the track sampled every 5 m along its lines (broken
at pauses): a street or building point counts as near when a track sample lies within
the radius. One KD-tree holds the samples of every worker-day, each worker-day kept apart
by a third coordinate.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from gridkit.patrol.worker_grids import NO_GRID, grid_of_points

__all__ = [
    "SAMPLE_M", "building_passes", "building_table", "day_index", "dropped_points", "first_of", "last_of",
    "near_track", "pairs_for_days", "street_coverage", "track_samples", "unvisited_buildings", "worker_summary",
]

#: Tracks, streets and building outlines are sampled every this many metres.
SAMPLE_M = 5.0


def first_of(group: np.ndarray, n: int) -> np.ndarray:
    first = np.r_[True, group[1:] != group[:-1]]
    out = np.zeros(n, dtype=np.int64)
    out[group[first]] = np.flatnonzero(first)
    return out


def last_of(group: np.ndarray, n: int) -> np.ndarray:
    last = np.r_[group[1:] != group[:-1], True]
    out = np.zeros(n, dtype=np.int64)
    out[group[last]] = np.flatnonzero(last)
    return out


def track_samples(x: np.ndarray, y: np.ndarray, wd: np.ndarray, seg_ok: np.ndarray, sep: float) -> np.ndarray:
    """Points every <= 5 m along each stretch of track (every fix included), as (x, y, worker-day * sep)."""
    dx, dy = np.diff(x), np.diff(y)
    steps = np.where(seg_ok, np.ceil(np.hypot(dx, dy) / SAMPLE_M), 0).astype(np.int64)
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


def near_track(tree: tuple[cKDTree, float], xy: np.ndarray, label: np.ndarray, radius: float) -> np.ndarray:
    """Whether a track sample of the worker-day ``label`` lies within ``radius`` of each point."""
    if not len(xy):
        return np.zeros(0, dtype=bool)
    kd, sep = tree
    query = np.column_stack([xy, label * sep])
    dist, _ = kd.query(query, k=1, distance_upper_bound=radius)
    return np.isfinite(dist)


def day_index(days: pd.DataFrame, worker: np.ndarray, day: np.ndarray) -> np.ndarray:
    keys = pd.MultiIndex.from_arrays([days["worker_id"].to_numpy(), days["day"].to_numpy()])
    return keys.get_indexer(pd.MultiIndex.from_arrays([worker, day])).astype(np.int64)


def pairs_for_days(day_own: np.ndarray, item_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (worker-day, item) pair whose item lies in the worker-day's own grid."""
    order = np.argsort(item_grid, kind="stable")
    sorted_grid = item_grid[order]
    lo = np.searchsorted(sorted_grid, day_own, side="left")
    hi = np.searchsorted(sorted_grid, day_own, side="right")
    count = np.where(day_own == NO_GRID, 0, hi - lo)
    pair_day = np.repeat(np.arange(len(day_own)), count)
    pos = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count) + np.repeat(lo, count)
    return pair_day, order[pos]


# ----------------------------------------------------------------------------- streets


def street_coverage(
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
    lines = shapely.segmentize(pieces.geometry.to_numpy(), SAMPLE_M)
    coords, which = shapely.get_coordinates(lines, return_index=True)
    same = which[1:] == which[:-1]
    mid = (coords[1:][same] + coords[:-1][same]) / 2.0
    length = np.hypot(*(coords[1:][same] - coords[:-1][same]).T)
    sample_grid = piece_grid[which[1:][same]]
    grid_length = np.bincount(piece_grid, weights=pieces["length_m"].to_numpy(), minlength=len(codes))
    pair_day, pair_sample = pairs_for_days(day_own, sample_grid)
    near = near_track(tree, mid[pair_sample] - origin, pair_day, radius)
    covered = np.bincount(pair_day[near], weights=length[pair_sample[near]], minlength=n)
    total = np.where(day_own != NO_GRID, grid_length[np.maximum(day_own, 0)], np.nan)
    days["street_km"] = total / 1000.0
    days["street_covered_km"] = np.where(day_own != NO_GRID, covered / 1000.0, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        days["street_coverage"] = np.where(total > 0, covered / total, np.nan)
    without = np.setdiff1d(np.unique(day_own[day_own != NO_GRID]), piece_grid)
    if without.size:
        notes.append(f"{without.size} worker grid(s) hold no streets: street coverage is empty there")
    return pd.DataFrame({"day": pair_day[near], "sample": pair_sample[near], "length": length[pair_sample[near]],
                         "grid_length": grid_length[sample_grid[pair_sample[near]]]})


# ----------------------------------------------------------------------------- buildings


def building_table(buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, grid_field: str, codes: np.ndarray,
                    polys: np.ndarray) -> gpd.GeoDataFrame:
    b = buildings.to_crs(grids.crs)
    if "building_id" in b.columns:
        ids = b["building_id"].astype(str).to_numpy()
    else:
        ids = b.index.astype(str).to_numpy()
    index_of = {c: i for i, c in enumerate(codes)}
    if grid_field in b.columns:
        grid = b[grid_field].astype("string").map(index_of).fillna(NO_GRID).to_numpy(dtype=np.int64)
    else:
        grid = grid_of_points(shapely.point_on_surface(b.geometry.to_numpy()), polys, codes)
    out = gpd.GeoDataFrame({"building_id": ids, "grid": grid}, geometry=b.geometry.to_numpy(), crs=b.crs)
    for name in ("households", "name", "use"):
        if name in b.columns:
            out[name] = b[name].to_numpy()
    return out


def building_passes(
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
    table = building_table(buildings, grids, grid_field, codes, polys)
    # outline points every <= 5 m, plus a point inside (a track wholly inside a large footprint)
    geoms = table.geometry.to_numpy()
    outline = shapely.segmentize(shapely.boundary(geoms), SAMPLE_M)
    coords, which = shapely.get_coordinates(outline, return_index=True)
    inner = shapely.get_coordinates(shapely.point_on_surface(geoms))
    pts = np.concatenate([coords, inner])
    owner = np.concatenate([which, np.arange(len(geoms))])
    point_grid = table["grid"].to_numpy()[owner]
    pair_day, pair_point = pairs_for_days(day_own, point_grid)
    near = near_track(tree, pts[pair_point] - origin, pair_day, radius)
    passed = np.unique(np.column_stack([pair_day[near], owner[pair_point[near]]]), axis=0)
    passed_pairs = pd.DataFrame({"day": passed[:, 0], "building": passed[:, 1]})
    in_grid = np.bincount(table["grid"].to_numpy()[table["grid"].to_numpy() != NO_GRID], minlength=len(codes))
    total = np.where(day_own != NO_GRID, in_grid[np.maximum(day_own, 0)], 0)
    count = np.bincount(passed_pairs["day"].to_numpy(), minlength=n)
    has = day_own != NO_GRID
    days["buildings_in_grid"] = pd.Series(total, dtype="Int64").where(has).to_numpy()
    days["buildings_passed"] = pd.Series(count, dtype="Int64").where(has).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        days["buildings_share"] = np.where(total > 0, count / np.maximum(total, 1), np.nan)
    return table, passed_pairs


def unvisited_buildings(month: str, days: pd.DataFrame, table: gpd.GeoDataFrame | None, passed: pd.DataFrame | None,
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


def worker_summary(
    days: pd.DataFrame, kept: pd.DataFrame, dropped: pd.DataFrame, worker_ids: Any, own: np.ndarray,
    own_from: np.ndarray, codes: np.ndarray, table: dict[str, list[int]], street_pairs: pd.DataFrame | None,
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
        "grid_code": np.where(own != NO_GRID, codes[np.maximum(own, 0)], None),
        "grid_from": own_from,
        "days": np.bincount(day_worker, minlength=n),
        "fixes": np.bincount(worker_of_fix, minlength=n),
        "fixes_dropped": pd.Series(dropped["worker_id"].astype(str)).value_counts().reindex(ids, fill_value=0)
        .to_numpy(),
        "distance_km": np.bincount(day_worker, weights=days["distance_km"], minlength=n),
        "active_hours": np.bincount(day_worker, weights=days["active_hours"], minlength=n),
    })
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_in_grid"] = np.where((total_w > 0) & (own != NO_GRID), in_w / total_w, np.nan)
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
        in_grid = np.bincount(buildings["grid"].to_numpy()[buildings["grid"].to_numpy() != NO_GRID],
                              minlength=len(codes))
        out["buildings_in_grid"] = np.where(own != NO_GRID, in_grid[np.maximum(own, 0)], 0)
    else:
        out["buildings_passed_all_days"] = np.nan
        out["buildings_in_grid"] = np.nan
    out["stops"] = np.bincount(day_worker, weights=days["stops"], minlength=n).astype(np.int64)
    out["excursions"] = np.bincount(day_worker, weights=days["excursions"], minlength=n).astype(np.int64)
    # workers of the table without any track: the ones that did not patrol
    missing = sorted(set(table) - set(ids))
    if missing:
        pairs = [(m, codes[g]) for m in missing for g in table[m]]
        extra = pd.DataFrame({"worker_id": [m for m, _ in pairs], "grid_code": [c for _, c in pairs],
                              "grid_from": "table", "days": 0, "fixes": 0, "fixes_dropped": 0})
        out = pd.concat([out, extra], ignore_index=True)
    return out


def dropped_points(dropped: pd.DataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    cols = [c for c in ("worker_id", "time", "lon", "lat", "source", "row", "reason") if c in dropped.columns]
    frame = dropped[cols].copy()
    return gpd.GeoDataFrame(frame, geometry=shapely.points(dropped["x"].to_numpy(dtype=float),
                                                           dropped["y"].to_numpy(dtype=float)), crs=crs)

