"""The town's buildings: footprints in the street faces, households, compounds and names.

Each face gets a lattice of cells sized for its block kind; a footprint of a type drawn
from the kind's mix is jittered inside each cell, kept only when it is clear of every
street and of compound edges; then buildings are kept in a random order (whole blocks
first) until each community meets its household target.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.synth.constants import COUNTY_NAME, HALF_WIDTH, WORK_CRS
from gridkit.synth.geometry import rotate
from gridkit.synth.names import estate_names, zh_number
from gridkit.synth.streets import MARGIN, clear_of_streets
from gridkit.synth.tables import (
    GOVERNMENT,
    HOSPITAL,
    K_COMMERCIAL,
    K_LOWRISE,
    K_TOWER,
    K_WALKUP,
    LOWRISE,
    OFFICE,
    SCHOOL,
    SHOP,
    TOWER,
    WALKUP,
    block_kinds,
    building_types,
)
from gridkit.synth.town import Town, choose_rows

__all__ = ["town_buildings"]

log = logging.getLogger(__name__)

_INNER = HALF_WIDTH["residential"] + MARGIN  # every building at least this far from a block edge


@dataclass
class _Cells:
    """Candidate building cells inside faces, in each face's rotated frame."""

    face: np.ndarray
    u: np.ndarray
    v: np.ndarray
    width: np.ndarray
    depth: np.ndarray


def _face_frames(town: Town) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inner polygon (setback from every edge), centre and orientation of each face."""
    inner = shapely.buffer(town.faces, -_INNER, join_style="mitre")
    centre = shapely.get_coordinates(shapely.centroid(town.faces))
    i, j = np.divmod(town.face_block, town.ny)
    edge = town.nodes[i + 1, j] - town.nodes[i, j]
    angle = np.arctan2(edge[:, 1], edge[:, 0])
    return inner, centre, angle


def _rotated_bounds(geoms: np.ndarray, centre: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(n, 4) bounds of each geometry in its own frame rotated by ``-angle`` about ``centre``."""
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    uv = rotate(coords - centre[idx], -angle[idx])
    bounds = np.full((len(geoms), 4), np.nan)
    if len(idx):
        frame = pd.DataFrame({"g": idx, "u": uv[:, 0], "v": uv[:, 1]}).groupby("g")
        lo, hi = frame.min(), frame.max()
        bounds[lo.index, 0], bounds[lo.index, 1] = lo["u"], lo["v"]
        bounds[hi.index, 2], bounds[hi.index, 3] = hi["u"], hi["v"]
    return bounds


def _cells(bounds: np.ndarray, cell: np.ndarray) -> _Cells:
    """A centred lattice of cells over each face's rotated bounds (array operations only)."""
    span = np.nan_to_num(bounds[:, 2:] - bounds[:, :2], nan=0.0)
    count = np.floor(span / cell).astype(np.int64).clip(0)
    n = count[:, 0] * count[:, 1]
    face = np.repeat(np.arange(len(bounds)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    a, b = k % np.maximum(count[face, 0], 1), k // np.maximum(count[face, 0], 1)
    origin = bounds[face, :2] + (span[face] - count[face] * cell[face]) / 2
    u = origin[:, 0] + (a + 0.5) * cell[face, 0]
    v = origin[:, 1] + (b + 0.5) * cell[face, 1]
    return _Cells(face, u, v, cell[face, 0], cell[face, 1])


def _footprints(
    cells: _Cells, btype: np.ndarray, centre: np.ndarray, angle: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rectangular footprints of the given types jittered inside their cells (world coordinates), and lengths."""
    n = len(btype)
    types = building_types()
    length = np.minimum(rng.uniform(types.length[btype, 0], types.length[btype, 1]), cells.width - 6)
    depth = np.minimum(rng.uniform(types.depth[btype, 0], types.depth[btype, 1]), cells.depth - 6)
    du = rng.uniform(-1, 1, n) * (cells.width - 6 - length) / 2
    dv = rng.uniform(-1, 1, n) * (cells.depth - 6 - depth) / 2
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    size = np.stack([length, depth], axis=1)
    local = corners[None] * size[:, None] + np.stack([cells.u + du, cells.v + dv], axis=1)[:, None]
    world = rotate(local, angle[cells.face][:, None]) + centre[cells.face][:, None]
    return shapely.polygons(world), length


def _households(btype: np.ndarray, length: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Levels and households per building from its type (and length for walk-ups)."""
    n = len(btype)
    span = building_types().levels
    levels = rng.integers(span[btype, 0], span[btype, 1] + 1)
    walkup_levels = rng.choice([5, 6, 7], size=n, p=[0.15, 0.75, 0.10])
    levels = np.where(btype == WALKUP, walkup_levels, levels)
    stairwells = np.clip(np.round(length / 10), 1, 5)
    hh = np.zeros(n, dtype=np.int64)
    hh = np.where(btype == WALKUP, np.clip(levels * 2 * stairwells, 12, 60), hh)
    hh = np.where(btype == TOWER, np.clip(levels * rng.integers(4, 7, n), 90, 200), hh)
    hh = np.where(btype == LOWRISE, np.clip(levels * rng.integers(1, 4, n), 1, 8), hh)
    return levels.astype(np.int64), hh.astype(np.int64)


def town_buildings(
    town: Town, streets: gpd.GeoDataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Buildings in the town's faces, chosen so each community meets its household target."""
    compounds = _compound_polygons(town)
    kind = town.kind
    for _ in range(4):
        frame = _candidate_buildings(town, kind, streets, compounds, rng)
        capacity = frame.groupby("community")["households"].sum().reindex(range(len(town.targets)), fill_value=0)
        short = np.flatnonzero(capacity.to_numpy() < 1.1 * town.targets)
        if len(short) == 0:
            break
        kind = _densify(town, kind, short, rng)
    else:
        log.warning("communities %s hold fewer households than their targets", short.tolist())
    block = frame["block"].to_numpy()
    chosen = _select_to_target(frame, town.targets, rng.random(town.nx * town.ny)[block], rng)
    frame = _non_residential(frame, chosen, rng)
    frame["name"] = _town_building_names(frame, compounds, rng)
    return frame.drop(columns=["block"]), compounds.drop(columns=["block"])


def _candidate_buildings(
    town: Town, kind: np.ndarray, streets: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Every footprint that fits a cell of its block, clear of streets and compound edges."""
    inner, centre, angle = _face_frames(town)
    shapely.prepare(inner)
    face_kind = kind.ravel()[town.face_block]
    kinds = block_kinds()
    cells = _cells(_rotated_bounds(inner, centre, angle), kinds.cell[face_kind])
    btype = choose_rows(kinds.mix[face_kind[cells.face]], rng)
    polys, length = _footprints(cells, btype, centre, angle, rng)
    keep = (shapely.contains_properly(inner[cells.face], polys) & clear_of_streets(polys, streets)
            & _inside_compounds(town, compounds, cells.face, polys))
    levels, hh = _households(btype, length, rng)
    block = town.face_block[cells.face[keep]]
    return pd.DataFrame({"community": town.comm.ravel()[block], "btype": btype[keep], "levels": levels[keep],
                         "households": hh[keep], "geometry": polys[keep], "block": block})


def _densify(town: Town, kind: np.ndarray, short: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turn half the walk-up, low-rise and commercial blocks of short communities into towers."""
    grow = np.isin(town.comm, short) & np.isin(kind, [K_WALKUP, K_LOWRISE, K_COMMERCIAL])
    return np.where(grow & (rng.random(kind.shape) < 0.5), K_TOWER, kind)


def _compound_polygons(town: Town) -> gpd.GeoDataFrame:
    """Dedicated compounds: a school's or hospital's whole block; a government compound inside its block."""
    rows = []
    for block, ckind, name in town.compounds:
        geom = shapely.coverage_union_all(town.faces[town.face_block == block])
        if ckind == "government":
            geom = shapely.buffer(geom, -HALF_WIDTH["primary"], join_style="mitre")
        rows.append({"name": name, "kind": ckind, "community": int(town.comm.flat[block]),
                     "block": block, "geometry": geom})
    frame = gpd.GeoDataFrame(rows, columns=["name", "kind", "community", "block", "geometry"],
                             geometry="geometry", crs=WORK_CRS)
    return frame[~frame.geometry.is_empty].reset_index(drop=True)


def _inside_compounds(
    town: Town, compounds: gpd.GeoDataFrame, cell_face: np.ndarray, polys: np.ndarray
) -> np.ndarray:
    """False for a building in a compound's block that is not wholly inside the compound."""
    ok = np.ones(len(polys), dtype=bool)
    block_of_cell = town.face_block[cell_face]
    for block, geom in zip(compounds["block"], compounds.geometry):
        mine = np.flatnonzero(block_of_cell == block)
        ok[mine] = shapely.contains_properly(geom, polys[mine])
    return ok


def _select_to_target(
    frame: pd.DataFrame, targets: np.ndarray, block_u: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Keep buildings in a random order (whole blocks first) until each community meets its target."""
    key = 0.5 * block_u + 0.5 * rng.random(len(frame))
    key = np.where(frame["btype"].to_numpy() >= SCHOOL, -1.0, key)
    order = np.lexsort((key, frame["community"].to_numpy()))
    comm = frame["community"].to_numpy()[order]
    hh = frame["households"].to_numpy()[order]
    middle = pd.Series(hh).groupby(comm).cumsum().to_numpy() - hh / 2
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[order] = middle < targets[comm]
    return chosen


def _non_residential(frame: pd.DataFrame, chosen: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Keep the chosen buildings and a third of the others as shops and offices (no households)."""
    spare = ~chosen & (frame["households"].to_numpy() > 0) & (rng.random(len(frame)) < 0.3)
    btype = frame["btype"].to_numpy()
    new = np.where(btype == TOWER, OFFICE, np.where(rng.random(len(frame)) < 0.5, SHOP, OFFICE))
    new = np.where(btype == LOWRISE, SHOP, new)
    span = building_types().levels
    levels = rng.integers(span[new, 0], span[new, 1] + 1)
    levels = np.where(btype == TOWER, frame["levels"].to_numpy(), levels)
    out = frame.assign(btype=np.where(spare, new, btype), levels=np.where(spare, levels, frame["levels"]),
                       households=np.where(spare, 0, frame["households"]))
    return out[chosen | spare].reset_index(drop=True)


def _town_building_names(frame: pd.DataFrame, compounds: gpd.GeoDataFrame, rng: np.random.Generator) -> np.ndarray:
    """Estate names for towers and some walk-ups (阳光花园3栋), compound names for compounds."""
    block = frame["block"].to_numpy()
    btype = frame["btype"].to_numpy()
    blocks = np.unique(block)
    estate = pd.Series(estate_names(len(blocks), rng), index=blocks)
    named = pd.Series(rng.random(len(blocks)) < 0.6, index=blocks)
    compound_name = pd.Series(compounds["name"].to_numpy(), index=compounds["block"].to_numpy())
    residential = np.isin(btype, [WALKUP, TOWER])
    serial = pd.Series(residential).groupby(block).cumsum().to_numpy().astype(int)
    names = np.full(len(frame), None, dtype=object)
    use_estate = residential & (named.reindex(block).to_numpy() | (btype == TOWER))
    names[use_estate] = [f"{e}{s}栋" for e, s in zip(estate.reindex(block[use_estate]), serial[use_estate])]
    special = btype >= SCHOOL
    serial_all = pd.Series(special).groupby(block).cumsum().to_numpy().astype(int)
    labels = {SCHOOL: "教学楼", HOSPITAL: "号楼", GOVERNMENT: "号楼"}
    names[special] = [f"{compound_name.get(b, COUNTY_NAME)}{s}{labels[t]}" if t != SCHOOL
                      else f"{compound_name.get(b, COUNTY_NAME)}{zh_number(s)}号{labels[t]}"
                      for b, s, t in zip(block[special], serial_all[special], btype[special])]
    return names

