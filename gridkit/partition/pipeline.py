"""From a boundary layer and buildings to grids: the whole partition, step by step.

:func:`partition` runs five small steps: check the inputs, collecting every problem
(:mod:`~gridkit.partition.validate`); prepare one job per community
(:func:`~gridkit.partition.assemble.community_jobs`); run the jobs here or on Dask
(:func:`gridkit.scale.map_jobs`); assemble the grids, buildings and units
(:func:`~gridkit.partition.assemble.assemble`); check every rule on the result
(:func:`~gridkit.partition.rules.check_plan`) and gather the figures. It returns plain
GeoDataFrames; reading files and writing outputs is :mod:`gridkit.partition.job`'s work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np

from gridkit._progress import Progress, no_progress
from gridkit.errors import ParameterError
from gridkit.partition.assemble import Assembled, assemble, community_jobs
from gridkit.partition.balance import BalanceOptions
from gridkit.partition.community import grids_for_community
from gridkit.partition.noding import exact_output
from gridkit.partition.options import KindOption, PartitionOptions
from gridkit.partition.result import PartitionResult
from gridkit.partition.rules import ISSUE_COLUMNS, Bounds, Plan, check_plan, cut_buildings
from gridkit.partition.validate import Inputs, checked_inputs
from gridkit.partition.workload import workload
from gridkit.scale import auto_workers, map_jobs

if TYPE_CHECKING:
    from gridkit.partition.previous_plan import PreviousPlan

__all__ = ["KindOption", "PartitionOptions", "PartitionResult", "partition"]

log = logging.getLogger(__name__)


def partition(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    options: PartitionOptions | None = None,
    progress: Progress | None = None,
    previous: PreviousPlan | PartitionResult | gpd.GeoDataFrame | None = None,
    locked: Sequence[str] = (),
    as_of: str | None = None,
    **overrides: Any,
) -> PartitionResult:
    """Divide every community into household-balanced grids.

    Parameters
    ----------
    communities
        Community (社区) and village (村) polygons with a 12-digit division code.
    buildings
        Building polygons with a households column, or household points: with a
        households column, or one household per point when there is none. When the
        counts are estimates, say how in ``buildings.attrs["households_estimated"]``;
        the report repeats it.
    streets
        Street lines; grids then follow them. Without streets, units are the
        tessellation of the whole community.
    dedicated
        Polygons of self-contained compounds (专属网格); each becomes one grid.
    options
        How to divide (:class:`~gridkit.partition.options.PartitionOptions`: bounds,
        field names, the household ceiling, output CRS, balance tolerance, Dask workers).
    progress
        ``progress(done, total, label)`` called per community.
    previous
        A previous plan to adjust (动态调整): its grids (a GeoDataFrame with
        ``grid_code``; ``locked`` and ``households`` used when present) or a
        :class:`~gridkit.partition.previous_plan.PreviousPlan` with its codes table
        (:func:`~gridkit.partition.previous_plan.read_previous`), or an earlier result. Grids that still keep the
        rules keep their units and code; only those that break one are repaired, by moving
        boundary units first, splitting or merging where moves cannot
        (:mod:`gridkit.partition.previous`); new grids take the next free serial of their
        community and retired codes are never reused
        (:mod:`gridkit.partition.codes_history`). ``result.changes`` says what changed.
    locked
        Codes of previous grids to keep exactly, even when they break a rule.
    as_of
        The date (``YYYY-MM-DD``) the codes table records for codes first used or retired
        now (default today).
    **overrides
        Any option by name, e.g. ``kind="rural"``, ``min_households=150``,
        ``households_field="户数"``, ``workers=4``; they override ``options``.

    Returns
    -------
    PartitionResult

    Raises
    ------
    InputDataError
        Every problem of the inputs at once (missing fields, bad codes or counts,
        wrong geometry types, coordinates outside their CRS, overlapping communities,
        dedicated compounds outside every community); one problem keeps its own class.
    ParameterError
        An unknown or invalid option.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from gridkit.datasets import get_path
    >>> sample = get_path("sample_county")
    >>> result = partition(gpd.read_file(sample / "communities.gpkg"), gpd.read_file(sample / "buildings.gpkg"),
    ...                    streets=gpd.read_file(sample / "streets.gpkg"))
    >>> int(result.grids["households"].sum()) == result.figures["households_in"]
    True

    A year later, adjusted against that plan: every grid that keeps the rules is kept.

    >>> again = partition(gpd.read_file(sample / "communities.gpkg"), gpd.read_file(sample / "buildings.gpkg"),
    ...                   streets=gpd.read_file(sample / "streets.gpkg"), previous=result.grids)
    >>> again.changes.figures["counts"]["kept"] == len(result.grids)
    True
    """
    started = time.perf_counter()
    opts = (options or PartitionOptions()).with_overrides(**overrides)
    bounds = opts.bounds()
    inputs = checked_inputs(communities, buildings, streets=streets, dedicated=dedicated, options=opts)
    balance = None if opts.tolerance is None else BalanceOptions(tolerance=opts.tolerance)
    jobs, placement = community_jobs(inputs, bounds, balance=balance)
    prior = None
    if previous is not None or locked:
        from gridkit.partition.repartition import as_previous_plan, attach_previous

        if opts.grids is not None:
            raise ParameterError("grids (--grids) cannot be asked for when adjusting a previous plan",
                                 field="grids", hint="leave out --grids: the previous grids set the count, "
                                                     "changed only where a grid breaks a rule")
        prior = as_previous_plan(previous, locked)
        jobs = attach_previous(jobs, inputs.communities, prior)
    labels = [f"community {job.code}" for job in jobs]
    workers = opts.workers or auto_workers(len(jobs), len(inputs.building_geometries))
    done = map_jobs(grids_for_community, jobs, labels=labels, workers=workers, scheduler=opts.scheduler,
                    progress=progress or no_progress)
    layers = assemble(inputs, placement, done, bounds)
    changes = None
    if prior is not None:
        from gridkit.partition.repartition import settle_codes

        changes = settle_codes(layers.grids, layers.units, jobs, done, prior, output_crs=inputs.output_crs,
                               as_of=as_of, buildings_of=placement.buildings_of, n_buildings=len(buildings))
    grid_code = layers.grids["grid_code"].to_numpy()
    inside = layers.building_grid >= 0
    comm_code = inputs.communities["community_code"].to_numpy()
    out_buildings = buildings.copy()
    if "buildings" in inputs.repaired:  # as repaired, as the reader would have given them
        out_buildings = out_buildings.set_geometry(gpd.GeoSeries(inputs.building_geometries, index=buildings.index,
                                                                 crs=buildings.crs))
    out_buildings["grid_code"] = np.where(inside, grid_code[np.maximum(layers.building_grid, 0)], "")
    out_buildings["community_code"] = np.where(
        inside, comm_code[np.maximum(placement.building_community, 0)], "")
    if changes is not None:  # the grid each building was in (its unit's previous grid), to see who moved
        out_buildings["previous_grid_code"] = changes.building_previous
    plan = Plan(layers.grids, inputs.communities, buildings=_metric_buildings(inputs, out_buildings),
                streets=inputs.streets, bounds=bounds)
    issues = check_plan(plan)
    load = workload(layers.grids, tolerance=_TOLERANCE if opts.tolerance is None else opts.tolerance,
                    max_households=layers.grids["kind"].map(lambda k: bounds[k].max), members=layers.units)
    at = layers.grids.columns.get_loc("reason")
    layers.grids.insert(at, "deviation", load.grids["deviation"].to_numpy())
    layers.grids.insert(at + 1, "balanced", load.grids["balanced"].to_numpy())
    figures = _figures(inputs, layers, plan, opts, bounds, started)
    figures["balance"] = load.overall()
    figures["balance_communities"] = load.communities
    figures["balance_reasons"] = load.grids["balance_reason"].to_numpy()
    figures["requested_grids"] = _requests(inputs, layers.grids, bounds)
    log.info("partitioned %d communities into %d grids in %.1f s", len(inputs.communities), len(layers.grids),
             figures["seconds"])
    out_crs = inputs.output_crs
    grids_out, outlines = exact_output(layers.grids, inputs.communities, _own_boundaries(inputs, communities),
                                       communities.crs, out_crs)
    return PartitionResult(
        grids=layers.grids.set_geometry(grids_out),
        buildings=out_buildings.to_crs(out_crs),
        units=layers.units.to_crs(out_crs),
        communities=_communities_out(inputs, layers, bounds).set_geometry(outlines),
        issues=issues[[c for c in ISSUE_COLUMNS if c != "geometry"]].copy(),
        grids_metric=layers.grids,
        communities_metric=inputs.communities,
        figures=figures,
        changes=changes,
    )


#: the tolerance the figures are given for when the grids are left unbalanced
_TOLERANCE = 0.2


def _requests(inputs: Inputs, grids: gpd.GeoDataFrame, bounds: dict[str, Bounds]) -> list[dict[str, Any]]:
    """Communities whose requested number of grids was not met, with why."""
    comm = inputs.communities
    if "requested_grids" not in comm:
        return []
    got = grids.groupby("community_code").size()
    hh = grids.groupby("community_code")["households"].sum()
    ded = grids.groupby("community_code")["dedicated"].sum()
    out = []
    for code, kind, wanted in zip(comm["community_code"], comm["kind"], comm["requested_grids"]):
        if not wanted or int(got.get(code, 0)) == int(wanted):
            continue
        b = bounds[kind]
        regular = int(hh.get(code, 0) - grids.loc[(grids["community_code"] == code) & grids["dedicated"],
                                                  "households"].sum())
        lo, hi = max(1, -(-regular // b.max)), max(1, regular // b.min)
        made = int(got.get(code, 0))
        n_ded = int(ded.get(code, 0))
        why = (f"{regular:,} households fit {lo}-{hi} regular grids of {b.min}-{b.max} households"
               f"{f', plus {n_ded} dedicated' if n_ded else ''}")
        if lo <= int(wanted) - n_ded <= hi:
            why += f"; whole buildings allowed {made - n_ded} within the bounds"
        out.append({"community_code": code, "requested": int(wanted), "grids": made, "reason": why})
    return out


def _own_boundaries(inputs: Inputs, communities: gpd.GeoDataFrame) -> np.ndarray:
    """The community polygons as given (repaired), in their own CRS."""
    own = inputs.community_geometries
    return communities.geometry.to_numpy() if own is None else own


def _metric_buildings(inputs: Inputs, out_buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"households": inputs.households, "grid_code": out_buildings["grid_code"].to_numpy()},
                            geometry=inputs.buildings, crs=inputs.metric, index=out_buildings.index)


def _communities_out(inputs: Inputs, layers: Assembled, bounds: dict[str, Bounds]) -> gpd.GeoDataFrame:
    comm_out = inputs.communities.drop(columns="requested_grids", errors="ignore")
    per = layers.grids.groupby("community_code")
    comm_out["households"] = comm_out["community_code"].map(per["households"].sum()).fillna(0).astype(np.int64)
    comm_out["grids"] = comm_out["community_code"].map(per.size()).fillna(0).astype(np.int64)
    comm_out["min_households"] = comm_out["kind"].map(lambda k: bounds[k].min)
    comm_out["max_households"] = comm_out["kind"].map(lambda k: bounds[k].max)
    return comm_out


def _figures(inputs: Inputs, layers: Assembled, plan: Plan, opts: PartitionOptions, bounds: dict[str, Bounds],
             started: float) -> dict[str, Any]:
    hh = inputs.households
    outside = layers.building_grid < 0
    return {
        "households_in": int(hh.sum()),
        "households_in_grids": int(layers.grids["households"].sum()),
        "households_outside": int(hh[outside].sum()),
        "buildings_outside": int(outside.sum()),
        "buildings_cut": len(cut_buildings(plan)),
        "households_counted_as": inputs.counted_as,
        "grid_boundary_m": layers.cut_length,
        "grid_boundary_on_streets_m": layers.street_cut_length,
        "metric_crs": inputs.metric.to_string(),
        "bounds": {k: vars(v) for k, v in bounds.items()},
        "tolerance": opts.tolerance,
        "repaired": dict(inputs.repaired),
        "seconds": time.perf_counter() - started,
    }
