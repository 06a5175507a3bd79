"""From checked inputs to one job per community, and from their results to county layers.

:func:`community_jobs` gives each community its buildings, streets and dedicated
compounds as plain shapely arrays (:class:`~gridkit.partition.community.CommunityJob`);
:func:`assemble` puts the per-community results back together: the grids numbered
and coded, the grid of every building, the units, and the boundary lengths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit import codes as division_codes
from gridkit.partition.balance import BalanceOptions
from gridkit.partition.community import CommunityGrids, CommunityJob
from gridkit.partition.rules import Bounds, within_bounds
from gridkit.partition.units import assign_to_polygons
from gridkit.partition.validate import Inputs

__all__ = ["Assembled", "Placement", "assemble", "community_jobs"]


@dataclass
class Placement:
    """Which community each building and dedicated compound belongs to (-1: none)."""

    building_community: np.ndarray
    dedicated_community: np.ndarray
    order: np.ndarray
    starts: np.ndarray

    def buildings_of(self, community: int) -> np.ndarray:
        """Positions of the buildings of ``community``, in input order."""
        return self.order[self.starts[community]:self.starts[community + 1]]


@dataclass
class Assembled:
    """The partition's layers in the local metric CRS, before any rule is checked."""

    grids: gpd.GeoDataFrame
    building_grid: np.ndarray
    units: gpd.GeoDataFrame
    cut_length: float
    street_cut_length: float


def community_jobs(inputs: Inputs, bounds: Mapping[str, Bounds], *, balance: BalanceOptions | None = None
                   ) -> tuple[list[CommunityJob], Placement]:
    """One job per community (in the order of ``inputs.communities``), and where everything went."""
    comm = inputs.communities
    boundaries = comm.geometry.to_numpy()
    bgeom, sgeom, dgeom = inputs.buildings, inputs.streets, inputs.dedicated
    building_comm = assign_to_polygons(bgeom, boundaries)
    ded_comm = assign_to_polygons(dgeom, boundaries) if dgeom is not None else np.zeros(0, dtype=np.int64)
    street_tree = shapely.STRtree(sgeom) if sgeom is not None and len(sgeom) else None
    order = np.argsort(building_comm, kind="stable")
    starts = np.searchsorted(building_comm[order], np.arange(len(comm) + 1))
    placement = Placement(building_comm, ded_comm, order, starts)
    jobs: list[CommunityJob] = []
    for ci in range(len(comm)):
        boundary = boundaries[ci]
        near = None if street_tree is None or sgeom is None else sgeom[street_tree.query(boundary,
                                                                                         predicate="intersects")]
        ded_idx = np.flatnonzero(ded_comm == ci)
        ded_polys = None
        if len(ded_idx):
            assert dgeom is not None  # ded_comm is empty without dedicated input
            ded_polys = shapely.intersection(dgeom[ded_idx], boundary)
        b_idx = placement.buildings_of(ci)
        jobs.append(CommunityJob(boundary=boundary, buildings=bgeom[b_idx], households=inputs.households[b_idx],
                                 streets=near, dedicated=ded_polys, bounds=bounds[comm["kind"].iat[ci]],
                                 code=str(comm["community_code"].iat[ci]),
                                 grids=int(comm["requested_grids"].iat[ci]) if "requested_grids" in comm else 0,
                                 balance=balance))
    return jobs, placement


def assemble(inputs: Inputs, placement: Placement, done: Sequence[CommunityGrids],
             bounds: Mapping[str, Bounds]) -> Assembled:
    """The grids (coded, with ``within_bounds``), each building's grid and the units, county-wide."""
    comm = inputs.communities
    parts: list[dict[str, np.ndarray]] = []
    unit_parts: list[pd.DataFrame] = []
    building_grid = np.full(len(inputs.buildings), -1, dtype=np.int64)
    street_len = cut_len = 0.0
    offset = 0
    for ci, out in enumerate(done):
        k = len(out.households)
        ded_idx = np.flatnonzero(placement.dedicated_community == ci)
        is_ded = out.dedicated >= 0
        names = np.full(k, "", dtype=object)
        if len(inputs.dedicated_names):
            names[is_ded] = inputs.dedicated_names[ded_idx[out.dedicated[is_ded]]]
        parts.append({"community": np.full(k, ci), "households": out.households, "buildings": out.buildings,
                      "dedicated": is_ded, "dedicated_name": names, "geometry": out.geometries,
                      "reason": out.reasons, "note": out.notes})
        building_grid[placement.buildings_of(ci)] = offset + out.building_grid
        units = out.units.assign(community=ci, grid=offset + out.units["grid"].to_numpy())
        unit_parts.append(units[["community", "block", "households", "buildings", "grid", "geometry"]])
        cut_len += out.cut_length
        street_len += out.street_cut_length
        offset += k
    grids = _grid_table(parts, comm)
    codes = division_codes.codes_for_grids(
        grids["community_code"], *shapely.get_coordinates(shapely.point_on_surface(grids.geometry.to_numpy())).T
    )
    grids.insert(0, "grid_code", codes.to_numpy())
    grids.insert(grids.columns.get_loc("compactness") + 1, "within_bounds", within_bounds(grids, bounds))
    units = pd.concat(unit_parts, ignore_index=True)
    grid_code = grids["grid_code"].to_numpy()
    units_gdf = gpd.GeoDataFrame({
        "unit_id": np.arange(len(units)),
        "community_code": comm["community_code"].to_numpy()[units["community"].to_numpy()],
        "grid_code": grid_code[units["grid"].to_numpy()],
        "block": units["block"].to_numpy(),
        "households": units["households"].to_numpy(),
        "buildings": units["buildings"].to_numpy(),
    }, geometry=units["geometry"].to_numpy(), crs=inputs.metric)
    return Assembled(grids=grids, building_grid=building_grid, units=units_gdf, cut_length=cut_len,
                     street_cut_length=street_len)


def _grid_table(parts: list[dict[str, np.ndarray]], comm: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ci = cols.pop("community")
    geoms = cols.pop("geometry")
    area = shapely.area(geoms)
    perimeter = shapely.length(geoms)
    return gpd.GeoDataFrame({
        "community_code": comm["community_code"].to_numpy()[ci],
        "community_name": comm["community_name"].to_numpy()[ci],
        "kind": comm["kind"].to_numpy()[ci],
        "households": cols["households"],
        "buildings": cols["buildings"],
        "area_m2": area.round(1),
        "compactness": np.where(perimeter > 0, 4 * np.pi * area / np.maximum(perimeter, 1e-12) ** 2, 0.0).round(4),
        "dedicated": cols["dedicated"],
        "dedicated_name": cols["dedicated_name"],
        "reason": cols["reason"],
        "note": cols["note"],
    }, geometry=geoms, crs=comm.crs)
