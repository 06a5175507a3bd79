"""One community's share of the partition: units, regions, grid polygons.

:func:`grids_for_community` depends only on its :class:`CommunityJob` (plain arrays of
shapely geometries and numbers), so the pipeline can run it in this process or ship
it to Dask workers (:mod:`gridkit.scale`) and get identical results either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely import Geometry

from gridkit.partition.balance import BalanceOptions
from gridkit.partition.feasibility import reasons_for_regions
from gridkit.partition.graph import Graph, graph_from_community, subgraph
from gridkit.partition.previous import PreviousFit, PreviousGrids, fit_units, regions_from_previous
from gridkit.partition.reasons import note
from gridkit.partition.regionalize import regions_from_graph
from gridkit.partition.rules import Bounds
from gridkit.partition.units import dissolve_faces, generator_points, units_for_community

__all__ = ["CommunityGrids", "CommunityJob", "grids_for_community"]


@dataclass
class CommunityJob:
    """The inputs of one community, in the local metric CRS (``code`` names it in errors)."""

    boundary: Geometry
    buildings: np.ndarray
    households: np.ndarray
    streets: np.ndarray | None
    dedicated: np.ndarray | None
    bounds: Bounds
    code: str = ""
    grids: int = 0
    balance: BalanceOptions | None = field(default_factory=BalanceOptions)
    previous: PreviousGrids | None = None


@dataclass
class CommunityGrids:
    """One community's grids, numbered 0..k-1 (dedicated compounds first).

    ``reasons`` holds a reason code per grid and ``notes`` its text
    (:data:`gridkit.partition.reasons.REASONS`); ``dedicated`` the position in
    ``job.dedicated`` of the compound a grid is, or -1.
    """

    geometries: np.ndarray
    households: np.ndarray
    buildings: np.ndarray
    reasons: np.ndarray
    notes: np.ndarray
    dedicated: np.ndarray
    building_grid: np.ndarray
    units: pd.DataFrame
    cut_length: float
    street_cut_length: float
    previous: PreviousFit | None = None

    # Sent back from worker processes: the geometries as one array of WKB each way (the same
    # bytes a geometry pickles to, without a Python call per unit)
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["geometries"] = shapely.to_wkb(self.geometries, include_srid=True)
        state["units"] = self.units.assign(geometry=shapely.to_wkb(self.units["geometry"].to_numpy(),
                                                                   include_srid=True))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["geometries"] = shapely.from_wkb(state["geometries"])
        units = state["units"]
        units["geometry"] = shapely.from_wkb(units["geometry"].to_numpy())
        self.__dict__.update(state)


def grids_for_community(job: CommunityJob) -> CommunityGrids:
    """Cut one community into units and divide them into grids.

    Returns the grid polygons with their households, buildings, reason codes and notes, the
    grid of each building (in the order of ``job.buildings``), the units (``block``,
    ``households``, ``buildings``, ``grid``, ``geometry``) and the length of grid
    boundary in total and along streets.
    """
    n_dedicated = 0 if job.dedicated is None else len(job.dedicated)
    gens = generator_points(job.buildings, np.full(len(job.buildings), job.boundary, dtype=object))
    cu = units_for_community(job.boundary, gens, job.households, np.ones(len(job.buildings)),
                             streets=job.streets, dedicated=job.dedicated, outlines=job.buildings,
                             community=job.code or None)
    unit_geoms = cu.unit_geometries()
    graph = graph_from_community(cu, unit_geoms)
    fit = None
    if job.previous is not None:  # re-partition against a previous plan (gridkit.partition.previous)
        unit_prev, moved = fit_units(unit_geoms, job.previous, job.boundary)
        fit = PreviousFit(unit_prev, unit_prev[cu.generator_unit], moved)
    unit_grid, reasons, notes, dedicated = _grids_for_units(graph, cu.unit_dedicated, job, n_dedicated,
                                                            None if fit is None else fit.unit_previous)
    k = int(unit_grid.max()) + 1
    weights = cu.unit_households
    lu, lv = unit_grid[graph.u], unit_grid[graph.v]
    cross = lu != lv
    length = cu.edges["length"].to_numpy()
    on_street = cu.edges["street"].to_numpy()
    return CommunityGrids(
        geometries=dissolve_faces(cu.faces, unit_grid[cu.face_unit], k, segments=cu.segments),
        households=np.bincount(unit_grid, weights=weights, minlength=k).astype(np.int64),
        buildings=np.bincount(unit_grid, weights=cu.unit_buildings, minlength=k).astype(np.int64),
        reasons=reasons,
        notes=notes,
        dedicated=dedicated,
        building_grid=unit_grid[cu.generator_unit],
        units=pd.DataFrame({"block": cu.unit_enclosure, "households": cu.unit_households,
                            "buildings": cu.unit_buildings, "grid": unit_grid, "geometry": unit_geoms}),
        cut_length=float(length[cross].sum()),
        street_cut_length=float(length[cross & on_street].sum()),
        previous=fit,
    )


def _grids_for_units(
    graph: Graph, unit_dedicated: np.ndarray, job: CommunityJob, n_dedicated: int,
    prior: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid label per unit (dedicated compounds first); reason code, note and dedicated index per grid."""
    unit_grid = np.full(graph.n, -1, dtype=np.int64)
    ded = unit_dedicated >= 0
    unit_grid[ded] = unit_dedicated[ded]
    rest = ~ded
    codes: list[str] = ["dedicated"] * n_dedicated
    notes: list[str] = [note("dedicated")] * n_dedicated
    if rest.any():
        sub, nodes = subgraph(graph, rest)
        b = job.bounds
        wanted = max(job.grids - n_dedicated, 1) if job.grids else None
        if prior is not None and job.previous is not None:
            labels = regions_from_previous(sub, prior[nodes], locked=job.previous.locked, min_households=b.min,
                                           max_households=b.max, target=b.target, balance=job.balance,
                                           households=job.previous.households)
        else:
            labels = regions_from_graph(sub, min_households=b.min, max_households=b.max, target=b.target,
                                        balance=job.balance, grids=wanted)
        unit_grid[nodes] = labels + n_dedicated
        found = reasons_for_regions(sub, labels, min_households=b.min, max_households=b.max)
        codes.extend(found.codes)
        notes.extend(found.notes)
    # a dedicated polygon that held no unit leaves a gap in the labels
    used, unit_grid = np.unique(unit_grid, return_inverse=True)
    dedicated = np.where(used < n_dedicated, used, -1)
    return (unit_grid.ravel(), np.asarray([codes[i] for i in used], dtype=object),
            np.asarray([notes[i] for i in used], dtype=object), dedicated)
