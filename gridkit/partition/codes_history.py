"""Stable grid codes across re-partitions: previous codes kept, new grids the next free serial, retired never reused.

After a re-partition (:mod:`gridkit.partition.previous`) each new grid is matched to at
most one previous grid and each previous grid to at most one new grid, greedily by
the households they share (then the area): locked grids first, then the largest
overlaps. A matched grid keeps the previous code; the others take the next free serial
of their community, in reading order (west to east, north to south) — *free* meaning
above every serial the community has ever used, so a retired code never comes back.
Previous codes that no grid keeps are retired. The ``codes`` table lists every code
ever used: ``status`` active or retired, ``since`` (first used), ``retired``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.codes import reading_order
from gridkit.errors import InputDataError
from gridkit.partition.community import CommunityGrids, CommunityJob
from gridkit.partition.previous_plan import CODE_COLUMNS

__all__ = ["Recoded", "match_previous", "recode"]

_MAX_SERIAL = 999


@dataclass
class Recoded:
    """Codes of the re-partitioned grids.

    Attributes
    ----------
    codes
        The grid code of each grid, in the order of the grids table.
    previous
        Per grid, the index of the previous grid it keeps the code of (into its
        community's :class:`~gridkit.partition.previous.PreviousGrids`), or -1.
    table
        The codes table (:data:`gridkit.partition.previous_plan.CODE_COLUMNS`).
    """

    codes: np.ndarray
    previous: np.ndarray
    table: pd.DataFrame


def match_previous(grid: np.ndarray, prior: np.ndarray, households: np.ndarray, area: np.ndarray,
                   k: int, locked: np.ndarray) -> np.ndarray:
    """Per new grid (0..k-1), the previous grid it keeps the code of, or -1.

    ``grid`` and ``prior`` give each unit's new and previous grid (-1: none);
    pairs are taken by shared households, then shared area, locked previous grids first.
    """
    match = np.full(k, -1, dtype=np.int64)
    n_prev = len(locked)
    ok = prior >= 0
    if not ok.any() or k == 0:
        return match
    key = grid[ok] * n_prev + prior[ok]
    pairs, inv = np.unique(key, return_inverse=True)
    hh = np.bincount(inv, weights=households[ok])
    ar = np.bincount(inv, weights=area[ok])
    new, old = pairs // n_prev, pairs % n_prev
    order = np.lexsort((old, new, -ar, -hh, ~locked[old]))
    taken = np.zeros(n_prev, dtype=bool)
    for i in order:
        if match[new[i]] < 0 and not taken[old[i]]:
            match[new[i]] = old[i]
            taken[old[i]] = True
    return match


def _serials(codes: pd.Series) -> pd.Series:
    """The highest serial used per community code."""
    if len(codes) == 0:
        return pd.Series(dtype=np.int64)
    return codes.str[12:].astype(int).groupby(codes.str[:12].to_numpy()).max()


def recode(grids: gpd.GeoDataFrame, units: gpd.GeoDataFrame, jobs: Sequence[CommunityJob],
           done: Sequence[CommunityGrids], history: pd.DataFrame, *, as_of: str) -> Recoded:
    """Codes for ``grids`` (the assembled grids, metric CRS) that keep the previous plan's where they can.

    ``units`` are the assembled units (their ``grid`` position is given by the order of
    ``done``); ``history`` is :meth:`~gridkit.partition.previous_plan.PreviousPlan.history`.
    Communities without any code in ``history`` keep the codes the grids have.
    """
    codes = grids["grid_code"].to_numpy(dtype=object).copy()
    kept = np.full(len(grids), -1, dtype=np.int64)
    top = _serials(history["code"])
    offset = 0
    centre = shapely.get_coordinates(shapely.point_on_surface(grids.geometry.to_numpy()))
    for job, out in zip(jobs, done):
        k = len(out.households)
        rows = np.arange(offset, offset + k)
        offset += k
        if job.code not in top.index:
            continue
        match = np.full(k, -1, dtype=np.int64)
        if job.previous is not None and out.previous is not None:
            u = out.units
            geoms = u["geometry"].to_numpy()
            match = match_previous(u["grid"].to_numpy(), out.previous.unit_previous,
                                   u["households"].to_numpy(dtype=float), shapely.area(geoms), k,
                                   np.asarray(job.previous.locked, dtype=bool))
            codes[rows[match >= 0]] = job.previous.codes[match[match >= 0]]
        kept[rows] = match
        new = rows[match < 0]
        if len(new):
            start = int(top[job.code]) + 1
            if start + len(new) - 1 > _MAX_SERIAL:
                raise InputDataError(f"community {job.code} has used serials up to {start - 1:03d}; "
                                     f"{len(new)} new grids do not fit below {_MAX_SERIAL + 1}",
                                     field="grid_code", hint="renumber the community's grids by hand, or retire "
                                                             "fewer codes")
            xy = centre[new]
            height = max(float(np.sqrt(np.ptp(xy[:, 0]) * np.ptp(xy[:, 1]) / len(new))), 1.0) if len(new) > 1 else 1.0
            pos = reading_order(xy[:, 0], xy[:, 1], row_height=height)
            codes[new] = [f"{job.code}{start + int(p):03d}" for p in pos]
    table = _codes_table(codes, grids["community_code"].to_numpy(dtype=object), history, as_of)
    return Recoded(codes=codes, previous=kept, table=table)


def _codes_table(codes: np.ndarray, communities: np.ndarray, history: pd.DataFrame, as_of: str) -> pd.DataFrame:
    known = history.set_index("code")
    active = pd.DataFrame({"code": codes, "community_code": communities, "status": "active"})
    since = active["code"].map(known["since"]) if len(known) else pd.Series("", index=active.index)
    active["since"] = since.where(since.notna() & (since != ""), as_of).to_numpy()
    active["retired"] = ""
    gone = history[~history["code"].isin(codes)].copy()
    newly = gone["status"] != "retired"
    gone.loc[newly, "retired"] = as_of
    gone["status"] = "retired"
    gone["since"] = gone["since"].replace("", np.nan).fillna("").astype(str)
    table = pd.concat([active, gone[CODE_COLUMNS]], ignore_index=True)
    return table.sort_values("code", kind="stable").reset_index(drop=True)
