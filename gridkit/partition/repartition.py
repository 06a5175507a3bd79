"""The partition's steps for a previous plan: give each community job its previous grids, then settle codes and changes.

:func:`attach_previous` runs before the community jobs, :func:`settle_codes` after
they are assembled; :func:`gridkit.partition.pipeline.partition` calls both when it
is given ``previous`` or ``locked``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import ParameterError
from gridkit.partition.changes import Changes, changes_summary, changes_table
from gridkit.partition.codes_history import recode
from gridkit.partition.community import CommunityGrids, CommunityJob
from gridkit.partition.previous_plan import (
    CODE_COLUMNS,
    PreviousPlan,
    previous_for_communities,
    previous_plan,
)
from gridkit.partition.result import PartitionResult

__all__ = ["as_previous_plan", "attach_previous", "settle_codes"]


def as_previous_plan(previous: PreviousPlan | PartitionResult | gpd.GeoDataFrame | None, locked: Sequence[str]
                     ) -> PreviousPlan:
    """``previous`` as a checked :class:`PreviousPlan`, with the ``locked`` codes added to its locks.

    A :class:`~gridkit.partition.result.PartitionResult` gives its grids and, when it was
    itself a re-partition, its codes table.
    """
    if isinstance(previous, PartitionResult):
        codes = None if previous.changes is None else pd.DataFrame(previous.changes.codes.drop(columns="geometry"))
        return previous_plan(previous.grids, codes=codes, locked=locked)
    if previous is None:
        raise ParameterError("locked grids need a previous plan", field="locked",
                             hint="pass previous=... (--previous OLD_GRIDS) with the grids to lock")
    if isinstance(previous, PreviousPlan):
        if not locked:
            return previous
        return previous_plan(previous.grids, codes=previous.codes, locked=locked, source=previous.source)
    return previous_plan(previous, locked=locked, source=previous.attrs.get("source"))


def attach_previous(jobs: Sequence[CommunityJob], communities: gpd.GeoDataFrame, plan: PreviousPlan
                    ) -> list[CommunityJob]:
    """The jobs, each with its community's previous grids (in the jobs' metric CRS)."""
    per = previous_for_communities(plan, list(communities["community_code"].astype(str)), communities.crs)
    return [dataclasses.replace(job, previous=prev) for job, prev in zip(jobs, per)]


def settle_codes(grids: gpd.GeoDataFrame, units: gpd.GeoDataFrame, jobs: Sequence[CommunityJob],
                 done: Sequence[CommunityGrids], plan: PreviousPlan, *, output_crs: Any,
                 as_of: str | None = None, buildings_of: Callable[[int], np.ndarray] | None = None,
                 n_buildings: int = 0) -> Changes:
    """Give ``grids`` and ``units`` (metric, assembled) the previous plan's codes where kept; what changed.

    ``grids["grid_code"]`` and ``units["grid_code"]`` are rewritten in place.
    ``buildings_of(i)`` gives the positions of community ``i``'s buildings among the
    ``n_buildings`` input buildings (for :attr:`Changes.building_previous`).
    """
    today = as_of or dt.date.today().isoformat()
    history = plan.history()
    rec = recode(grids, units, jobs, done, history, as_of=today)
    old = grids["grid_code"].to_numpy(dtype=object)
    renamed = dict(zip(old, rec.codes))
    grids["grid_code"] = rec.codes
    units["grid_code"] = units["grid_code"].map(renamed).fillna("").to_numpy()
    table = changes_table(jobs, done, rec.codes, rec.previous, grids["households"].to_numpy())
    in_input = set(grids["community_code"].astype(str))
    lost = history[(history["status"] == "active") & ~history["community_code"].isin(in_input)
                   & ~history["code"].isin(table["grid_code"])]
    if len(lost):
        extra = pd.DataFrame({"grid_code": lost["code"].to_numpy(), "community_code": lost["community_code"].to_numpy(),
                              "change": "retired", "related": "", "households_before": 0, "households_after": 0,
                              "buildings_in": 0, "buildings_out": 0, "fitted_m2": 0.0, "locked": False,
                              "note": "its community is not in the boundary file"})
        table = pd.concat([table, extra], ignore_index=True)
    prev = plan.grids.to_crs(output_crs)
    prev_geom = pd.Series(prev.geometry.to_numpy(), index=prev["grid_code"].to_numpy())
    grid_geom = pd.Series(grids.to_crs(output_crs).geometry.to_numpy(), index=rec.codes)
    codes_geom = rec.table["code"].map(grid_geom).fillna(rec.table["code"].map(prev_geom))
    codes = gpd.GeoDataFrame(rec.table[CODE_COLUMNS], geometry=codes_geom.to_numpy(), crs=output_crs)
    retired_now = table.loc[table["change"] == "retired", "grid_code"]
    retired = gpd.GeoDataFrame({"grid_code": retired_now.to_numpy()},
                               geometry=retired_now.map(prev_geom).to_numpy(), crs=output_crs)
    n_prev = sum(len(job.previous) for job in jobs if job.previous is not None) + len(lost)
    area = float(shapely.area(np.concatenate([np.asarray(j.previous.geometries) for j in jobs
                                              if j.previous is not None] or [np.zeros(0, dtype=object)])).sum())
    building_previous = np.full(n_buildings, "", dtype=object)
    if buildings_of is not None:
        for ci, (job, out) in enumerate(zip(jobs, done)):
            if job.previous is None or out.previous is None:
                continue
            where = out.previous.building_previous
            building_previous[buildings_of(ci)] = np.where(where >= 0, job.previous.codes[np.maximum(where, 0)], "")
    return Changes(table=table, codes=codes, retired=retired, figures=changes_summary(table, n_prev, area),
                   building_previous=building_previous)
