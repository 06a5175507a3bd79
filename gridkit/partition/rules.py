"""The rules a grid plan keeps: every rule a function over a :class:`~gridkit.partition.plan.Plan`.

A :class:`Plan` is any grid layer with its communities (and, when known, buildings and
streets) in one metric CRS: the partition's own output, a plan drawn by hand or one
from another tool (:meth:`Plan.from_layers` projects and fills defaults). Each entry of
:data:`RULES` is ``Rule(text, check)``; ``check(plan)`` returns one row per place the
rule is not met (:data:`ISSUE_COLUMNS`, with the geometry of the place), and no rows when
it holds. :func:`check_plan` runs them all. The pipeline, the report and ``gridkit
check`` call these same functions. :data:`SOFT_RULES` holds the checks of what is
reported but not a rule a plan must keep: balance within the tolerance (任务相当) and
serials in reading order (stable codes outlive it); ``gridkit check`` runs them too.

Checks are exact in the plan's own CRS (GEOS predicates on the geometries as given);
only areas in the texts are measured in m², in the local metric CRS
(:meth:`Plan.area_m2`). A piece of a gap or overlap counts when its area is above
:data:`TOLERANCE` of the community's (or the smaller grid's) area — a share, the same in
any CRS — and its mean width is above :data:`SLIVER_WIDTH` (0.2 m): reprojection leaves
slivers a few cm wide along long straight boundaries, which no planner draws.

The per-grid tests behind them (:func:`within_bounds`, :func:`one_piece`,
:func:`inside_community`) return one boolean per grid, indexed like the grids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import format_ids
from gridkit.io import keep_dimension
from gridkit.partition.plan import (
    GRID_CODE_PATTERN,
    ISSUE_COLUMNS,
    PRESETS,
    SLIVER_WIDTH,
    TOLERANCE,
    Bounds,
    Plan,
    Rule,
    bounds_for,
)
from gridkit.partition.plan import issue_frame as _issues

__all__ = [
    "ISSUE_COLUMNS",
    "PRESETS",
    "RULES",
    "SLIVER_WIDTH",
    "SOFT_RULES",
    "TOLERANCE",
    "Bounds",
    "Plan",
    "Rule",
    "bounds_for",
    "check_plan",
    "code_problems",
    "cut_buildings",
    "inside_community",
    "one_piece",
    "tiling_error",
    "within_bounds",
]


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
    known = ~pd.isna(own)
    geoms = grids.geometry.to_numpy()
    outside = np.zeros(len(grids))
    outside[known] = shapely.area(shapely.difference(geoms[known], own[known]))
    ok = outside <= tolerance * shapely.area(geoms)  # a share: the same in any CRS
    return pd.Series(ok & known, index=grids.index)


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
    """Rule 2: a row per grid with area outside its community (the part outside, wider than a sliver, as geometry)."""
    g = plan.grids
    bad = g[~inside_community(g, plan.communities)]
    own = plan.community_geometry(bad["community_code"])
    rows = []
    for geom, boundary, (_, row) in zip(bad.geometry.to_numpy(), own, bad.iterrows()):
        if boundary is None:
            where = (f"its community code {row['community_code']} is not in the communities layer"
                     if row["community_code"] else "the grid lies outside every community")
            rows.append({"rule": "inside_one_community", "code": "unknown_community",
                         "community_code": row["community_code"], "grid_code": row["grid_code"],
                         "reason": where, "geometry": geom})
            continue
        part = plan.wide_parts(shapely.difference(geom, boundary))[0]
        if part is None:  # slivers of reprojection only
            continue
        rows.append({"rule": "inside_one_community", "code": "outside_community",
                     "community_code": row["community_code"], "grid_code": row["grid_code"],
                     "reason": f"part of the grid lies outside its community ({plan.area_m2(part)[0]:,.1f} m²)",
                     "geometry": part})
    return _issues(rows, plan)


def check_tiles_community(plan: Plan, *, tolerance: float = TOLERANCE) -> gpd.GeoDataFrame:
    """Rule 3: a row per gap in a community's grids and per pair of overlapping grids.

    Each connected piece of a gap is a row (its place and area), counted when its area is
    above ``tolerance`` of the community's; an overlap when above ``tolerance`` of the
    smaller grid's (its polygonal pieces are the geometry). Either counts only where wider
    than :data:`SLIVER_WIDTH`. Grids of neighbouring communities are compared too.
    """
    g = plan.grids
    geoms = g.geometry.to_numpy()
    codes = g["community_code"].to_numpy()
    rows: list[dict[str, Any]] = []
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    comm_codes = plan.communities["community_code"].to_numpy()
    boundaries = plan.communities.geometry.to_numpy()
    gaps = np.empty(len(boundaries), dtype=object)
    for k, (code, boundary) in enumerate(zip(comm_codes, boundaries)):
        own = geoms[order[np.searchsorted(ordered, code, "left"):np.searchsorted(ordered, code, "right")]]
        gaps[k] = shapely.difference(boundary, shapely.union_all(own)) if len(own) else boundary
    pieces, which = shapely.get_parts(keep_dimension(gaps, 2), return_index=True)
    big = shapely.area(pieces) > tolerance * shapely.area(boundaries[which])
    pieces, which = pieces[big], which[big]
    wide = plan.wide(pieces) if len(pieces) else np.zeros(0, dtype=bool)
    pieces, which = pieces[wide], which[wide]
    grid_code = g["grid_code"].astype(str).to_numpy()
    pi, gi = shapely.STRtree(geoms).query(pieces, predicate="intersects")
    beside = pd.Series(grid_code[gi]).groupby(pi).agg(lambda c: ", ".join(sorted(set(c))))
    for n, (piece, k, m2, share) in enumerate(zip(pieces, which, plan.area_m2(pieces),
                                                  shapely.area(pieces) / shapely.area(boundaries[which]))):
        rows.append({"rule": "tiles_community", "code": "gap", "community_code": comm_codes[k], "grid_code": "",
                     "grid_codes": beside.get(n, ""),
                     "reason": f"{m2:,.1f} m² of the community ({share:.2e} of it) lie in none of its grids",
                     "geometry": piece})
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    inner = shapely.relate_pattern(geoms[i], geoms[j], "2********")
    i, j = i[inner], j[inner]
    overlap = keep_dimension(shapely.intersection(geoms[i], geoms[j]), 2)
    area = shapely.area(overlap)
    big = area > tolerance * np.minimum(shapely.area(geoms[i]), shapely.area(geoms[j]))
    i, j = i[big], j[big]
    overlap = plan.wide_parts(overlap[big]) if big.any() else overlap[big]
    wide = ~pd.isna(overlap)
    i, j, overlap = i[wide], j[wide], overlap[wide]
    # grids of two communities overlapping only where the communities themselves overlap
    ours = np.zeros(len(i), dtype=bool)
    cross = np.flatnonzero(codes[i] != codes[j])
    if len(cross):
        ca, cb = plan.community_geometry(codes[i[cross]]), plan.community_geometry(codes[j[cross]])
        known = ~(pd.isna(ca) | pd.isna(cb))
        shared = shapely.intersection(ca[known], cb[known])
        ours[cross[known]] = pd.isna(plan.wide_parts(shapely.difference(overlap[cross[known]], shared)))
    for a, b, piece, size, theirs in zip(i, j, overlap, plan.area_m2(overlap), ours):
        why = f"grids {grid_code[a]} and {grid_code[b]} overlap by {size:,.1f} m²"
        if theirs:
            why += f", where their communities {codes[a]} and {codes[b]} overlap (fix the communities layer)"
        rows.append({"rule": "tiles_community", "code": "communities_overlap" if theirs else "overlap",
                     "community_code": codes[a], "grid_code": grid_code[a],
                     "grid_codes": f"{grid_code[a]}, {grid_code[b]}", "reason": why, "geometry": piece})
    return _issues(rows, plan)


def check_one_piece(plan: Plan) -> gpd.GeoDataFrame:
    """Rule 4: a row per grid in several parts; the geometry is its stray parts (all but the largest)."""
    g = plan.grids
    bad = g[~one_piece(g)]
    rows = []
    for _, row in bad.iterrows():
        parts = shapely.get_parts(row.geometry)
        area = plan.area_m2(parts)
        stray = np.delete(parts, int(np.argmax(area)))
        rows.append({"rule": "one_piece", "code": "parts", "community_code": row["community_code"],
                     "grid_code": row["grid_code"],
                     "reason": (f"the grid has {len(parts)} parts; the {len(stray)} smaller ones hold "
                                f"{area.sum() - area.max():,.1f} m²"),
                     "geometry": shapely.multipolygons(stray)})
    return _issues(rows, plan)


def check_building_not_split(plan: Plan) -> gpd.GeoDataFrame:
    """Rule 5a: per community, the footprints a grid boundary cuts (needs buildings).

    Code ``split`` for footprints inside their community, ``split_across_community`` for
    those reaching outside it (no grid may follow them there); ``grid_codes`` names the
    grids the footprints lie in.
    """
    cut = cut_buildings(plan)
    rows = []
    if len(cut):
        assert plan.buildings is not None
        geoms = plan.buildings.geometry.to_numpy()
        grid_geoms = plan.grids.geometry.to_numpy()
        grid_code = plan.grids["grid_code"].astype(str).to_numpy()
        own = plan.community_geometry(cut["community_code"])
        across = np.zeros(len(cut), dtype=bool)
        known = ~pd.isna(own)
        across[known] = ~shapely.covered_by(geoms[cut.index[known]], own[known])
        cut = cut.assign(code=np.where(across, "split_across_community", "split"))
        bi, gi = shapely.STRtree(grid_geoms).query(geoms[cut.index], predicate="intersects")
        inner = shapely.relate_pattern(geoms[cut.index[bi]], grid_geoms[gi], "2********")
        touched = pd.Series(grid_code[gi[inner]], index=cut.index[bi[inner]])
        for (code, finding), part in cut.groupby(["community_code", "code"], sort=True):
            ids = list(plan.buildings.index[part.index])
            crossing = int(part["crosses"].sum())
            why = (f"{len(part)} buildings reach outside their community, so grid boundaries must cut them"
                   if finding == "split_across_community" else
                   f"{len(part)} buildings are cut by a grid boundary, {crossing} of them because "
                   f"they cross a street or the community boundary")
            rows.append({"rule": "building_not_split", "code": finding, "community_code": code, "grid_code": "",
                         "grid_codes": ", ".join(sorted(set(touched[touched.index.isin(part.index)]))),
                         "reason": f"{why}; each is counted in one grid (features {format_ids(ids)})",
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


def code_problems(plan: Plan) -> pd.DataFrame:
    """What is wrong with each grid's code: ``missing``, ``not_15_digits``, ``duplicate``, ``wrong_community``.

    Returns one row per grid (indexed like the grids) with the code as given and
    ``problem`` (``""`` when the code is well formed, unique and starts with the code
    of the community the grid lies in).
    """
    g = plan.grids
    given = (g["code_given"] if "code_given" in g else g["grid_code"]).astype("string").fillna("").str.strip()
    comm = g["community_code"].astype(str)
    problem = pd.Series("", index=g.index, dtype=object)
    shaped = given.str.fullmatch(GRID_CODE_PATTERN).fillna(False).astype(bool)
    problem[~shaped] = "not_15_digits"
    problem[given == ""] = "missing"
    duplicated = shaped & given.duplicated(keep=False)
    problem[duplicated] = "duplicate"
    wrong = shaped & ~duplicated & (comm != "") & (given.str[:12] != comm)
    problem[wrong.fillna(False).astype(bool)] = "wrong_community"
    return pd.DataFrame({"code_given": given.astype(object), "problem": problem}, index=g.index)


def check_grid_codes(plan: Plan) -> gpd.GeoDataFrame:
    """Codes: each grid's code has 15 digits, is unique and starts with its community's 12-digit code."""
    g = plan.grids
    found = code_problems(plan)
    rows = []
    for k in np.flatnonzero(found["problem"].to_numpy() != "").tolist():
        code = found["code_given"].iat[k]
        problem = found["problem"].iat[k]
        comm = g["community_code"].iat[k]
        if problem == "missing":
            why = "the grid has no code"
        elif problem == "not_15_digits":
            why = f"the code {code!r} is not 15 digits (12-digit community code and a 3-digit serial)"
        elif problem == "duplicate":
            others = g.index[(found["code_given"] == code).to_numpy()]
            why = f"the code {code} is given to {len(others)} grids (features {format_ids(list(others))})"
        else:
            why = f"the code {code} does not start with {comm}, the code of the community the grid lies in"
        where = "" if problem == "duplicate" else f" (feature {g.index[k]})"
        rows.append({"rule": "grid_codes", "code": problem, "community_code": comm, "grid_code": g["grid_code"].iat[k],
                     "reason": why + where, "geometry": g.geometry.iat[k]})
    return _issues(rows, plan)


def check_codes_in_reading_order(plan: Plan) -> gpd.GeoDataFrame:
    """Soft: serials run west to east, north to south inside a community (:func:`gridkit.codes.codes_for_grids`).

    Only grids with sound codes are compared: the rank of each one's serial among its
    community's must be its rank in reading order (gaps in the serials are fine: retired
    codes are not reused). Positions are read in the metric CRS, as the partition numbers.
    """
    from gridkit.codes import codes_for_grids

    g = plan.grids
    found = code_problems(plan)
    sound = (found["problem"] == "").to_numpy() & (g["community_code"].astype(str) != "").to_numpy()
    rows: list[dict[str, Any]] = []
    if not sound.any():
        return _issues(rows, plan)
    sub = g[sound]
    points = shapely.point_on_surface(plan.to_metric(sub.geometry.to_numpy()))
    x, y = shapely.get_x(points), shapely.get_y(points)
    expected = codes_for_grids(sub["community_code"].astype(str).reset_index(drop=True), x, y)
    frame = pd.DataFrame({"community": sub["community_code"].astype(str).to_numpy(),
                          "serial": found.loc[sound, "code_given"].str[12:].to_numpy(),
                          "place": expected.str[12:].to_numpy()})
    frame["rank"] = frame.groupby("community")["serial"].rank(method="first").astype(int)
    frame["place_rank"] = frame["place"].astype(int)
    frame["n"] = frame.groupby("community")["serial"].transform("size")
    for k in np.flatnonzero((frame["rank"] != frame["place_rank"]).to_numpy()):
        r = frame.iloc[k]
        rows.append({"rule": "codes_in_reading_order", "code": "out_of_order", "community_code": r["community"],
                     "grid_code": sub["grid_code"].iat[k],
                     "reason": (f"serial {r['serial']} is number {r['rank']} of {r['n']} in its community, but the grid "
                                f"comes {r['place_rank']} in reading order (west to east, north to south)"),
                     "geometry": sub.geometry.iat[k]})
    return _issues(rows, plan)


def check_balanced(plan: Plan) -> gpd.GeoDataFrame:
    """Soft (任务相当): a row per regular grid outside the tolerance of its community's mean.

    Communities with one regular grid are left out (nothing to compare with), as are
    dedicated grids; ``large_building`` when one building in the grid holds more than
    the tolerance allows (needs buildings), else ``outside_tolerance``.
    """
    from gridkit.partition.workload import workload

    g = plan.grids
    assert plan.bounds is not None
    bounds = plan.bounds
    tolerance = 0.2 if plan.tolerance is None else plan.tolerance
    dedicated = g["dedicated"].astype(bool) if "dedicated" in g else pd.Series(False, index=g.index)
    frame = pd.DataFrame({"grid_code": g["grid_code"], "community_code": g["community_code"],
                          "households": g["households"], "dedicated": dedicated})
    load = workload(frame, tolerance=tolerance, max_households=g["kind"].map(lambda k: bounds[k].max),
                    members=None if plan.buildings is None else plan.buildings[["grid_code", "households"]])
    per = load.grids
    out = per["counted"] & ~per["balanced"]
    deviation = per["deviation"].to_numpy(dtype=float)
    rows = []
    for k in np.flatnonzero(out.to_numpy()).tolist():
        comm = str(g["community_code"].iat[k])
        mean = float(load.communities["mean"].get(comm, 0.0))
        large = per["balance_reason"].iat[k] == "large_building"
        why = "; one building in it holds more than the tolerance allows" if large else ""
        rows.append({"rule": "balanced", "code": "large_building" if large else "outside_tolerance",
                     "community_code": comm, "grid_code": g["grid_code"].iat[k],
                     "reason": (f"{int(g['households'].iat[k])} households, {deviation[k]:+.0%} from its "
                                f"community's mean {mean:.0f} (tolerance ±{tolerance:.0%}){why}"),
                     "geometry": g.geometry.iat[k]})
    return _issues(rows, plan)


RULES: dict[str, Rule] = {
    "households_within_bounds": Rule("1. households per grid within the bounds", check_households_within_bounds),
    "inside_one_community": Rule("2. no grid crosses a community boundary", check_inside_one_community),
    "tiles_community": Rule("3. the grids of a community tile it exactly", check_tiles_community),
    "one_piece": Rule("4. each grid is one connected piece", check_one_piece),
    "building_not_split": Rule("5. no building is split between grids", check_building_not_split),
    "households_conserved": Rule("5. every household counted in exactly one grid", check_households_conserved),
    "grid_codes": Rule("7. grid codes have 15 digits, are unique and start with their community's code",
                       check_grid_codes),
}

#: reported, not rules a plan must keep: balance is a soft objective (任务相当), and stable
#: codes outlive the reading order they were given in
SOFT_RULES: dict[str, Rule] = {
    "balanced": Rule("8. households within the tolerance of the community's mean (任务相当)", check_balanced),
    "codes_in_reading_order": Rule("7. serials run west to east, north to south in each community",
                                   check_codes_in_reading_order),
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

