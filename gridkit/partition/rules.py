"""The rules a grid plan keeps: bounds presets as data, every rule a function over a :class:`Plan`.

A :class:`Plan` is any grid layer with its communities (and, when known, buildings and
streets) in one metric CRS: the partition's own output, a plan drawn by hand or one
from another tool (:meth:`Plan.from_layers` projects and fills defaults). Each entry of
:data:`RULES` is ``Rule(text, check)``; ``check(plan)`` returns one row per place the
rule is not met (:data:`ISSUE_COLUMNS`, with the geometry of the place), and no rows when
it holds. :func:`check_plan` runs them all. The pipeline, the report and ``gridkit
check`` call these same functions.

The per-grid tests behind them (:func:`within_bounds`, :func:`one_piece`,
:func:`inside_community`) return one boolean per grid, indexed like the grids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import InputDataError, MissingFieldError, ParameterError, format_ids

__all__ = [
    "ISSUE_COLUMNS",
    "PRESETS",
    "RULES",
    "TOLERANCE",
    "Bounds",
    "Plan",
    "Rule",
    "bounds_for",
    "check_plan",
    "cut_buildings",
    "inside_community",
    "one_piece",
    "tiling_error",
    "within_bounds",
]

Kind = Literal["city", "rural"]

#: areas below this share (of the grid, the community or the building concerned) count as zero
TOLERANCE = 1e-6

#: columns of what a rule check returns: the rule id, a finding code (for the bounds rule,
#: the grid's reason code), where (community, grid), why in words, and the geometry of the place
ISSUE_COLUMNS = ["rule", "code", "community_code", "grid_code", "reason", "geometry"]


@dataclass(frozen=True)
class Bounds:
    """Households per grid: at least ``min``, at most ``max``; ``target`` decides how many grids."""

    min: int
    max: int
    target: int

    def __post_init__(self) -> None:
        if not 0 < self.min <= self.target <= self.max:
            raise ParameterError(
                f"household bounds must satisfy 0 < min <= target <= max, got min={self.min}, "
                f"target={self.target}, max={self.max}",
                hint="adjust --min, --target and --max",
            )


#: Provincial practice: city communities 200-500 households per grid, rural villages 100-300.
PRESETS: dict[str, Bounds] = {
    "city": Bounds(min=200, max=500, target=300),
    "rural": Bounds(min=100, max=300, target=200),
}


def bounds_for(kind: Kind, *, min: int | None = None, max: int | None = None, target: int | None = None) -> Bounds:
    """The preset for ``kind`` with any of its numbers overridden.

    A target outside overridden bounds moves to their midpoint.

    >>> bounds_for("rural", max=250)
    Bounds(min=100, max=250, target=200)
    >>> bounds_for("city", min=350, max=450)
    Bounds(min=350, max=450, target=400)
    """
    base = PRESETS[kind]
    lo = base.min if min is None else int(min)
    hi = base.max if max is None else int(max)
    if target is None:
        tgt = base.target if lo <= base.target <= hi else (lo + hi) // 2
    else:
        tgt = int(target)
    return Bounds(min=lo, max=hi, target=tgt)


@dataclass
class Plan:
    """A grid plan as the rules read it, every layer in one metric CRS.

    Grid codes must be unique (an :class:`~gridkit.errors.InputDataError` names those
    that are not): the rules name grids by them.

    Attributes
    ----------
    grids
        ``grid_code``, ``community_code``, ``households``, ``kind`` ("city"/"rural"),
        ``dedicated`` (bool) and polygons; ``reason`` (a code of
        :data:`gridkit.partition.reasons.REASONS`) and ``note`` when known.
    communities
        ``community_code`` and polygons.
    buildings
        Optional: ``households``, ``grid_code`` (``""`` for a building in no grid) and
        footprints or points; the index holds the feature ids reports name.
    streets
        Optional street lines (they tell why a building is cut).
    bounds
        Household bounds per kind.
    """

    grids: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None = None
    streets: np.ndarray | None = None
    bounds: Mapping[str, Bounds] | None = None

    def __post_init__(self) -> None:
        if self.bounds is None:
            self.bounds = dict(PRESETS)
        for layer, fields in (("grids", ("grid_code", "community_code", "households")),
                              ("communities", ("community_code",))):
            missing = [f for f in fields if f not in getattr(self, layer)]
            if missing:
                raise MissingFieldError(f"the {layer} layer of a plan lacks {', '.join(missing)}",
                                        field=missing[0], hint="name the fields, or compute them first")
        codes = self.grids["grid_code"]
        if codes.duplicated().any():
            twice = codes[codes.duplicated(keep=False)]
            raise InputDataError(f"{twice.nunique()} grid codes appear more than once, e.g. {twice.iat[0]}",
                                 feature_ids=list(twice.index), field="grid_code",
                                 hint="give every grid its own code: the rules name grids by it")
        if self.buildings is not None:
            missing = [f for f in ("households", "grid_code") if f not in self.buildings]
            if missing:
                raise MissingFieldError(f"the buildings of a plan lack {', '.join(missing)}", field=missing[0],
                                        hint="give each building its households and the code of its grid")

    @classmethod
    def from_layers(
        cls,
        grids: gpd.GeoDataFrame,
        communities: gpd.GeoDataFrame,
        *,
        buildings: gpd.GeoDataFrame | None = None,
        streets: gpd.GeoDataFrame | None = None,
        bounds: Mapping[str, Bounds] | None = None,
        crs: Any = None,
    ) -> Plan:
        """A plan from layers in any CRS: projected to ``crs`` (default the local metric CRS).

        Grids without ``kind`` take their community's (``kind`` in ``communities``,
        else "city"); without ``dedicated`` none is dedicated. Buildings without
        ``grid_code`` go to the grid holding their largest part (``""`` when none does).
        """
        from gridkit.crs import local_crs
        from gridkit.partition.units import assign_to_polygons

        target = local_crs(communities) if crs is None else crs
        comm = communities.to_crs(target)
        g = grids.to_crs(target).copy()
        if "kind" not in g:
            kinds = comm.set_index("community_code")["kind"] if "kind" in comm else pd.Series(dtype=object)
            mapped = g["community_code"].map(kinds)
            g["kind"] = np.where(mapped.notna(), mapped.astype(object), "city")
        if "dedicated" not in g:
            g["dedicated"] = False
        b = None
        if buildings is not None:
            b = buildings.to_crs(target).copy()
            if "grid_code" not in b:
                where = assign_to_polygons(b.geometry.to_numpy(), g.geometry.to_numpy())
                codes = g["grid_code"].astype(str).to_numpy()
                b["grid_code"] = np.where(where >= 0, codes[np.maximum(where, 0)], "")
        lines = None if streets is None else np.asarray(shapely.get_parts(streets.to_crs(target).geometry.to_numpy()))
        return cls(grids=g, communities=comm, buildings=b, streets=lines, bounds=bounds)

    def community_geometry(self, codes: Any) -> np.ndarray:
        """The polygon of each community code (None where the code is not a community)."""
        by_code = self.communities.set_index("community_code").geometry
        return by_code.reindex(pd.Index(codes)).to_numpy()


class Rule(NamedTuple):
    """A rule of grid management: its text, and the check that lists where a plan breaks it."""

    text: str
    check: Callable[[Plan], gpd.GeoDataFrame]


# ----------------------------------------------------------------------------- per-grid tests


def within_bounds(grids: gpd.GeoDataFrame, bounds: Mapping[str, Bounds]) -> pd.Series:
    """Rule 1: households between the bounds of the grid's kind (dedicated grids are exempt)."""
    lo = grids["kind"].map(lambda k: bounds[k].min)
    hi = grids["kind"].map(lambda k: bounds[k].max)
    ok = grids["households"].between(lo, hi)
    return ok | grids["dedicated"].astype(bool)


def one_piece(grids: gpd.GeoDataFrame) -> pd.Series:
    """Rule 4: each grid is a single polygon."""
    geoms = grids.geometry.to_numpy()
    return pd.Series(
        (shapely.get_type_id(geoms) == 3) | (shapely.get_num_geometries(geoms) == 1),
        index=grids.index,
    )


def inside_community(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, *, tolerance: float = TOLERANCE) -> pd.Series:
    """Rule 2: each grid lies inside its own community (area outside below ``tolerance`` of its area).

    A grid whose ``community_code`` is not in ``communities`` is not inside it.
    """
    boundary = communities.set_index("community_code").geometry
    own = boundary.reindex(pd.Index(grids["community_code"])).to_numpy()
    outside = shapely.area(shapely.difference(grids.geometry.to_numpy(), own))
    ok = outside <= tolerance * np.maximum(grids.geometry.area.to_numpy(), 1.0)
    return pd.Series(ok & ~pd.isna(own), index=grids.index)


def tiling_error(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> pd.Series:
    """|sum of grid areas - community area| / community area, per community code.

    A figure of rule 3 for the report; the rule's check, :func:`check_tiles_community`,
    finds gaps and overlaps themselves (which cancel in this balance).
    """
    area = communities.set_index("community_code").geometry.area
    covered = grids.geometry.area.groupby(grids["community_code"].to_numpy()).sum()
    covered = covered.reindex(area.index, fill_value=0.0)
    return ((covered - area).abs() / area.where(area > 0, 1.0)).rename("tiling_error")


def cut_buildings(plan: Plan, *, tolerance: float = 0.01) -> pd.DataFrame:
    """Footprints with more than ``tolerance`` of their area outside the grid they are counted in.

    Returns one row per such building, indexed by its position in ``plan.buildings``, with
    ``community_code``, ``grid_code`` and ``crosses``: whether a street or the community
    boundary runs through it (then no grid boundary can avoid it).
    """
    empty = pd.DataFrame({"community_code": [], "grid_code": [], "crosses": np.zeros(0, dtype=bool)},
                         index=np.zeros(0, dtype=np.int64))
    b = plan.buildings
    if b is None or len(b) == 0:
        return empty
    geoms = b.geometry.to_numpy()
    grid_pos = pd.Index(plan.grids["grid_code"]).get_indexer(b["grid_code"])
    rows = np.flatnonzero((grid_pos >= 0) & (shapely.get_dimensions(geoms) == 2))
    grid_geoms = plan.grids.geometry.to_numpy()
    rows = rows[~shapely.covered_by(geoms[rows], grid_geoms[grid_pos[rows]])]
    if len(rows) == 0:
        return empty
    area = shapely.area(geoms[rows])
    inside = shapely.area(shapely.intersection(geoms[rows], grid_geoms[grid_pos[rows]]))
    rows = rows[inside < (1 - tolerance) * area]
    comm_code = plan.grids["community_code"].to_numpy()[grid_pos[rows]]
    boundary = shapely.boundary(plan.community_geometry(comm_code))
    crosses = np.asarray(shapely.intersects(geoms[rows], boundary), dtype=bool)
    if plan.streets is not None and len(plan.streets):
        hit = shapely.STRtree(plan.streets).query(geoms[rows], predicate="intersects")[0]
        crosses[np.unique(hit)] = True
    return pd.DataFrame({"community_code": comm_code, "grid_code": b["grid_code"].to_numpy()[rows],
                         "crosses": crosses}, index=rows)


# ----------------------------------------------------------------------------- rule checks


def _issues(rows: list[dict[str, Any]], plan: Plan) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=ISSUE_COLUMNS)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=plan.grids.crs)


def check_households_within_bounds(plan: Plan) -> gpd.GeoDataFrame:
    """Rule 1: a row per grid outside its bounds, with the grid's reason code and note."""
    g = plan.grids
    assert plan.bounds is not None
    bad = g[~within_bounds(g, plan.bounds)]
    rows = []
    for i in range(len(bad)):
        row = bad.iloc[i]
        b = plan.bounds[row["kind"]]
        code = str(row["reason"]) if "reason" in bad and row["reason"] else "not_analysed"
        text = str(row["note"]) if "note" in bad and row["note"] else (
            f"{int(row['households'])} households, outside the bounds {b.min}-{b.max} (not analysed)")
        rows.append({"rule": "households_within_bounds", "code": code, "community_code": row["community_code"],
                     "grid_code": row["grid_code"], "reason": text, "geometry": row.geometry})
    return _issues(rows, plan)


def check_inside_one_community(plan: Plan) -> gpd.GeoDataFrame:
    """Rule 2: a row per grid with area outside its community (the part outside as geometry)."""
    g = plan.grids
    bad = g[~inside_community(g, plan.communities)]
    own = plan.community_geometry(bad["community_code"])
    rows = []
    for geom, boundary, (_, row) in zip(bad.geometry.to_numpy(), own, bad.iterrows()):
        if boundary is None:
            rows.append({"rule": "inside_one_community", "code": "unknown_community",
                         "community_code": row["community_code"], "grid_code": row["grid_code"],
                         "reason": f"its community code {row['community_code']} is not in the communities layer",
                         "geometry": geom})
            continue
        part = shapely.difference(geom, boundary)
        rows.append({"rule": "inside_one_community", "code": "outside_community",
                     "community_code": row["community_code"], "grid_code": row["grid_code"],
                     "reason": f"part of the grid lies outside its community ({shapely.area(part):,.1f} m²)",
                     "geometry": part})
    return _issues(rows, plan)


def check_tiles_community(plan: Plan, *, tolerance: float = TOLERANCE) -> gpd.GeoDataFrame:
    """Rule 3: a row per gap in a community's grids and per pair of overlapping grids.

    A gap counts when its area is above ``tolerance`` of the community's; an overlap
    when above ``tolerance`` of the smaller grid's. Grids of neighbouring communities
    are compared too.
    """
    g = plan.grids
    geoms = g.geometry.to_numpy()
    codes = g["community_code"].to_numpy()
    rows: list[dict[str, Any]] = []
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    for code, boundary in zip(plan.communities["community_code"], plan.communities.geometry.to_numpy()):
        own = geoms[order[np.searchsorted(ordered, code, "left"):np.searchsorted(ordered, code, "right")]]
        gap = shapely.difference(boundary, shapely.union_all(own)) if len(own) else boundary
        area = shapely.area(gap)
        if area > tolerance * shapely.area(boundary):
            rows.append({"rule": "tiles_community", "code": "gap", "community_code": code, "grid_code": "",
                         "reason": f"{area:,.1f} m² of the community ({area / shapely.area(boundary):.2e} of it) "
                                   f"lie in none of its grids", "geometry": gap})
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    inner = shapely.relate_pattern(geoms[i], geoms[j], "2********")
    i, j = i[inner], j[inner]
    overlap = shapely.intersection(geoms[i], geoms[j])
    area = shapely.area(overlap)
    big = area > tolerance * np.minimum(shapely.area(geoms[i]), shapely.area(geoms[j]))
    grid_code = g["grid_code"].to_numpy()
    for a, b, piece, size in zip(i[big], j[big], overlap[big], area[big]):
        rows.append({"rule": "tiles_community", "code": "overlap", "community_code": codes[a],
                     "grid_code": grid_code[a],
                     "reason": f"grids {grid_code[a]} and {grid_code[b]} overlap by {size:,.1f} m²",
                     "geometry": piece})
    return _issues(rows, plan)


def check_one_piece(plan: Plan) -> gpd.GeoDataFrame:
    """Rule 4: a row per grid in several parts."""
    g = plan.grids
    bad = g[~one_piece(g)]
    rows = [{"rule": "one_piece", "code": "parts", "community_code": row["community_code"],
             "grid_code": row["grid_code"], "reason": f"the grid has {shapely.get_num_geometries(row.geometry)} parts",
             "geometry": row.geometry} for _, row in bad.iterrows()]
    return _issues(rows, plan)


def check_building_not_split(plan: Plan) -> gpd.GeoDataFrame:
    """Rule 5a: per community, the footprints a grid boundary cuts (needs buildings)."""
    cut = cut_buildings(plan)
    rows = []
    if len(cut):
        assert plan.buildings is not None
        geoms = plan.buildings.geometry.to_numpy()
        for code, part in cut.groupby("community_code", sort=True):
            ids = list(plan.buildings.index[part.index])
            crossing = int(part["crosses"].sum())
            rows.append({"rule": "building_not_split", "code": "split", "community_code": code, "grid_code": "",
                         "reason": f"{len(part)} buildings are cut by a grid boundary, {crossing} of them because "
                                   f"they cross a street or the community boundary; each is counted in the grid "
                                   f"holding its point (features {format_ids(ids)})",
                         "geometry": shapely.multipolygons(shapely.get_parts(geoms[part.index]))})
    return _issues(rows, plan)


def check_households_conserved(plan: Plan) -> gpd.GeoDataFrame:
    """Rule 5: every building's households in exactly one grid, and each grid's count their sum.

    Rows: buildings in no grid (outside every community, or inside one but in no grid),
    buildings naming a grid that does not exist, and grids whose households differ from
    the sum over their buildings. Needs buildings; without them the rule is not checked.
    """
    b = plan.buildings
    rows: list[dict[str, Any]] = []
    if b is None:
        return _issues(rows, plan)
    hh = b["households"].to_numpy(dtype=np.int64)
    code = b["grid_code"].astype(str).to_numpy()
    known = np.asarray(pd.Index(code).isin(plan.grids["grid_code"].astype(str)))
    geoms = b.geometry.to_numpy()
    none = code == ""
    if none.any():
        tree = shapely.STRtree(plan.communities.geometry.to_numpy())
        in_comm = np.zeros(len(b), dtype=bool)
        hit = tree.query(geoms[none], predicate="intersects")[0]
        in_comm[np.flatnonzero(none)[np.unique(hit)]] = True
        for mask, where in ((none & ~in_comm, "outside every community boundary"),
                            (none & in_comm, "inside a community but in no grid")):
            if mask.any():
                ids = list(b.index[mask])
                rows.append({"rule": "households_conserved",
                             "code": "outside_communities" if where.startswith("outside") else "outside_grids",
                             "community_code": "", "grid_code": "",
                             "reason": f"{int(mask.sum())} buildings with {int(hh[mask].sum())} households lie "
                                       f"{where} (features {format_ids(ids)})",
                             "geometry": shapely.union_all(geoms[mask])})
    stray = ~none & ~known
    if stray.any():
        ids = list(b.index[stray])
        rows.append({"rule": "households_conserved", "code": "unknown_grid", "community_code": "", "grid_code": "",
                     "reason": f"{int(stray.sum())} buildings with {int(hh[stray].sum())} households name grids "
                               f"that are not in the grids layer (features {format_ids(ids)})",
                     "geometry": shapely.union_all(geoms[stray])})
    counted = pd.Series(hh[known], index=code[known]).groupby(level=0).sum()
    g = plan.grids
    held = counted.reindex(g["grid_code"].astype(str), fill_value=0).to_numpy()
    said = g["households"].to_numpy(dtype=np.int64)
    for k in np.flatnonzero(held != said):
        rows.append({"rule": "households_conserved", "code": "count_mismatch",
                     "community_code": g["community_code"].iat[k], "grid_code": g["grid_code"].iat[k],
                     "reason": f"the grid counts {int(said[k])} households, its buildings hold {int(held[k])}",
                     "geometry": g.geometry.iat[k]})
    return _issues(rows, plan)


RULES: dict[str, Rule] = {
    "households_within_bounds": Rule("1. households per grid within the bounds", check_households_within_bounds),
    "inside_one_community": Rule("2. no grid crosses a community boundary", check_inside_one_community),
    "tiles_community": Rule("3. the grids of a community tile it exactly", check_tiles_community),
    "one_piece": Rule("4. each grid is one connected piece", check_one_piece),
    "building_not_split": Rule("5. no building is split between grids", check_building_not_split),
    "households_conserved": Rule("5. every household counted in exactly one grid", check_households_conserved),
}


def check_plan(plan: Plan, *, rules: Mapping[str, Rule] | None = None) -> gpd.GeoDataFrame:
    """Every rule's findings, in the order of ``rules`` (default :data:`RULES`).

    Returns a GeoDataFrame with :data:`ISSUE_COLUMNS` in the plan's CRS; empty when the
    plan keeps every rule.
    """
    parts = [rule.check(plan) for rule in (rules or RULES).values()]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _issues([], plan)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=plan.grids.crs)

