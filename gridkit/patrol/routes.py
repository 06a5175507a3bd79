"""Patrol routes: per grid, a closed walk from its base over every street of the grid.

:func:`routes_for_grids` cuts the streets into per-grid pieces
(:func:`~gridkit.patrol.streets.streets_for_grids`), nodes one street network for the
whole area (:func:`~gridkit.patrol.network.street_network`), and for each grid solves
a route inspection problem (:func:`~gridkit.patrol.postman.covering_walk`):

- **base**: the grid's row in ``bases`` (snapped to the nearest node on the grid's
  streets); else the node nearest the household-weighted centre of the grid's
  buildings; else the node nearest the grid's centroid;
- **priority stops** (hotspots, components due for inspection) are visited first, in
  nearest-neighbour order from the base, then the route covers the rest;
- the route may walk streets outside the grid (within ``reach_m``) to reach a
  part of the grid or to repeat less; a part it cannot reach is reported and counts
  against ``coverage_share``;
- with ``max_minutes`` a long route is cut into shifts, each a closed walk from the
  base (:func:`~gridkit.patrol.postman.split_walk`).

Examples
--------
>>> from gridkit.datasets import get_path
>>> import geopandas as gpd
>>> grids = gpd.read_file(get_path("sample_county", "communities.gpkg")).head(1)
>>> grids["grid_code"] = grids["code"] + "001"
>>> streets = gpd.read_file(get_path("sample_county", "streets.gpkg"))
>>> plan = routes_for_grids(streets, grids)
>>> r = plan.routes.iloc[0]
>>> float(r.coverage_share), bool(r.length_m >= r.required_m), r.geometry.is_closed
(1.0, True, True)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gridkit._progress import Progress, no_progress
from gridkit.errors import InputDataError, MissingFieldError, ParameterError, format_ids
from gridkit.patrol.network import StreetNetwork, street_network
from gridkit.patrol.postman import Walk, covering_walk, split_walk
from gridkit.patrol.streets import streets_for_grids
from gridkit.patrol.turns import TURN_COLUMNS, EdgeCoords, turns_for_walk

__all__ = ["ROUTE_COLUMNS", "RoutePlan", "routes_for_grids"]

log = logging.getLogger(__name__)

ROUTE_COLUMNS = ("grid_code", "shift", "length_m", "deadhead_m", "est_minutes", "coverage_share",
                 "required_m", "stops", "over_limit")
_ON_PIECE_M = 0.02  # a network edge whose midpoint lies this close to a grid's piece is the grid's
_WIDER = 8.0
_STUB_M = 0.2  # dead-end required edges shorter than this are cut-off overshoots  # reach multiplier for the second try when a part of a grid is unreachable


@dataclass
class RoutePlan:
    """Routes for a set of grids, in the local metric CRS.

    Attributes
    ----------
    routes
        One row per grid and shift: :data:`ROUTE_COLUMNS` and a LineString (None for a
        grid without streets). ``required_m`` is the length of the grid's streets,
        ``coverage_share`` the share of it the route walks, ``stops`` the priority stops
        visited, ``over_limit`` True for a shift longer than ``max_minutes`` (one street
        whose round trip alone is longer).
    bases
        One point per grid: ``grid_code``, ``base_from`` (``given``, ``households``,
        ``centroid``), ``snap_m`` (distance from the given or computed point to the node).
    turns
        Turn-by-turn steps (``TURN_COLUMNS``).
    issues
        ``grid_code``, ``issue``, ``detail``: grids without streets, unreachable parts,
        unreachable stops, shifts over the limit, priority points outside every grid.
    crs
        The CRS to write outputs in (the grids').
    parameters
        The options used.
    """

    routes: gpd.GeoDataFrame
    bases: gpd.GeoDataFrame
    turns: pd.DataFrame
    issues: pd.DataFrame
    crs: pyproj.CRS | None
    parameters: dict[str, Any] = field(default_factory=dict)


def routes_for_grids(
    streets: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    grid_field: str = "grid_code",
    bases: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    households_field: str = "households",
    priority: gpd.GeoDataFrame | None = None,
    grid_codes: Sequence[str] | None = None,
    speed_kmh: float = 4.5,
    max_minutes: float | None = None,
    edge_tolerance_m: float = 5.0,
    reach_m: float = 300.0,
    snap_m: float = 0.5,
    progress: Progress | None = None,
) -> RoutePlan:
    """Plan a patrol route for each grid (see the module text).

    Parameters
    ----------
    streets
        Street lines, any CRS (all of them: routes may use streets outside a grid).
    grids
        Grid polygons with ``grid_field``.
    grid_field
        Grid code column of ``grids``, ``bases``, ``buildings`` and ``priority``.
    bases
        Points with ``grid_field``: the base of each grid listed (others get one).
    buildings
        Buildings with ``grid_field`` and ``households_field`` (the ``buildings`` layer
        of a partition's ``grids.gpkg``): the base goes where the households are.
    households_field
        Households column of ``buildings``.
    priority
        Points to visit first; with ``grid_field`` they go to that grid, else to the
        grid they lie in.
    grid_codes
        Plan only these grids (default: all).
    speed_kmh
        Walking speed for ``est_minutes``.
    max_minutes
        Cut longer routes into shifts of at most this many minutes.
    edge_tolerance_m
        Streets along a grid's edge within this distance belong to it.
    reach_m
        Streets within this distance of a grid may be walked to connect or repeat.
    snap_m
        Street ends this close to another street are joined to it.
    progress
        Called as ``progress(done, total, "routes")`` after each grid.

    Returns
    -------
    RoutePlan
    """
    _check_options(grids, grid_field, speed_kmh, max_minutes, reach_m)
    progress = progress or no_progress
    codes_all = grids[grid_field].astype(str)
    chosen = _choose(grids, codes_all, grid_codes)
    pieces = streets_for_grids(streets, chosen, grid_field=grid_field, edge_tolerance_m=edge_tolerance_m)
    crs = pieces.crs
    g = chosen.to_crs(crs)
    codes = g[grid_field].astype(str).to_numpy()
    polys = g.geometry.to_numpy()
    lines, names_src = _streets_near(streets.to_crs(crs), polys, reach_m * _WIDER)
    net = street_network(lines, split_at=pieces.geometry.to_numpy(), snap_m=snap_m)
    names = np.where(net.source >= 0, names_src[np.maximum(net.source, 0)], "(connector)")
    required = _required_edges(net, pieces, codes)
    tree = shapely.STRtree(net.geometry)
    working = _edges_near(tree, polys, reach_m)
    wider = None
    base_pts, base_from = _base_points(g, codes, grid_field, bases, buildings, households_field)
    stops_by_grid, issues = _priority_stops(priority, g, codes, grid_field, crs)
    known = set(codes_all)
    for what, layer in (("base", bases), ("priority point", priority)):
        if layer is not None and grid_field in layer.columns:
            unknown = layer.index[~layer[grid_field].astype(str).isin(known).to_numpy()]
            if len(unknown):
                issues.append(("", f"{what} with an unknown grid code",
                               (f"features {format_ids(list(unknown))} of {layer.attrs.get('source', 'the layer')}: "
                               f"their {grid_field} is not in the grids; not used")))
    coords = EdgeCoords(net)
    max_m = None if max_minutes is None else max_minutes / 60.0 * speed_kmh * 1000.0

    rows: list[dict] = []
    geoms: list[shapely.Geometry | None] = []
    turn_frames: list[pd.DataFrame] = []
    base_rows: list[dict] = []
    base_geoms: list[shapely.Geometry] = []
    for i, code in enumerate(codes):
        req = required.get(code, np.empty(0, dtype=np.int64))
        req_m = float(net.length[req].sum())
        if len(req) == 0:
            issues.append((code, "no streets", "the grid has no street to patrol; no route"))
            rows.append(_row(code, 1, None, req_m, 0, speed_kmh, False))
            geoms.append(None)
            progress(i + 1, len(codes), "routes")
            continue
        work = working[i]
        node_ids, whole = _main_piece_nodes(net, req, work)
        if not whole:  # a part of the grid is not reached within reach_m: look farther
            if wider is None:
                wider = _edges_near(tree, polys, reach_m * _WIDER)
            work = wider[i]
            node_ids, whole = _main_piece_nodes(net, req, work)
        base, snap = _nearest_node(net, node_ids, base_pts[i])
        base_rows.append({"grid_code": code, "base_from": base_from[i], "snap_m": round(snap, 1)})
        base_geoms.append(shapely.Point(net.x[base], net.y[base]))
        stops = [_nearest_node(net, node_ids, p)[0] for p in stops_by_grid.get(code, [])]
        walk = covering_walk(net, req, start=base, working=work, stops=stops)
        _walk_issues(issues, code, net, walk)
        parts = [walk] if max_m is None else split_walk(net, walk, max_m=max_m, required=req, working=work)
        over_limit = [part.length_m for part in parts if max_m is not None and part.length_m > max_m]
        if over_limit:
            issues.append((code, "shifts over the limit",
                           (f"{len(over_limit)} of {len(parts)} shifts, up to {max(over_limit):.0f} m > {max_m:.0f} m:"
                            " a street whose round trip from the base alone is longer than a shift")))
        for s, part in enumerate(parts, start=1):
            over = max_m is not None and part.length_m > max_m
            rows.append(_row(code, s, part, req_m, len(stops) if s == 1 else 0, speed_kmh, over))
            geoms.append(coords.line(part))
            turn_frames.append(turns_for_walk(net, coords, part, names, grid_code=code, shift=s))
        progress(i + 1, len(codes), "routes")

    routes = gpd.GeoDataFrame(pd.DataFrame(rows, columns=list(ROUTE_COLUMNS)), geometry=geoms, crs=crs)
    base_frame = gpd.GeoDataFrame(pd.DataFrame(base_rows, columns=["grid_code", "base_from", "snap_m"]),
                                  geometry=base_geoms, crs=crs)
    turns = pd.concat(turn_frames, ignore_index=True) if turn_frames else pd.DataFrame(columns=list(TURN_COLUMNS))
    issue_frame = pd.DataFrame(issues, columns=["grid_code", "issue", "detail"])
    params = {"speed_kmh": speed_kmh, "max_minutes": max_minutes, "edge_tolerance_m": edge_tolerance_m,
              "reach_m": reach_m, "snap_m": snap_m, "grids": len(codes)}
    log.info("routes_for_grids: %d grids, %.1f km of routes, %.1f km deadhead, %d issues", len(codes),
             routes["length_m"].sum() / 1000, routes["deadhead_m"].sum() / 1000, len(issue_frame))
    return RoutePlan(routes, base_frame, turns, issue_frame, grids.crs, params)


# ------------------------------------------------------------------------------ helpers


def _check_options(grids: gpd.GeoDataFrame, grid_field: str, speed_kmh: float, max_minutes: float | None,
                   reach_m: float) -> None:
    if grid_field not in grids.columns:
        raise MissingFieldError(f"the grids have no {grid_field!r} field", path=grids.attrs.get("source"),
                                field=grid_field, hint="give the grids layer of a partition's grids.gpkg")
    if not speed_kmh > 0:
        raise ParameterError(f"the walking speed must be > 0 km/h, got {speed_kmh}")
    if max_minutes is not None and not max_minutes > 0:
        raise ParameterError(f"max_minutes must be > 0, got {max_minutes}")
    if reach_m < 0:
        raise ParameterError(f"reach_m must be >= 0, got {reach_m}")


def _choose(grids: gpd.GeoDataFrame, codes: pd.Series, wanted: Sequence[str] | None) -> gpd.GeoDataFrame:
    dup = codes[codes.duplicated()]
    if len(dup):
        raise InputDataError("grid codes are not unique", path=grids.attrs.get("source"),
                             feature_ids=list(dup.index), field=str(codes.name), hint="give each grid its own code")
    if wanted is None:
        return grids
    wanted = [str(c) for c in wanted]
    unknown = sorted(set(wanted) - set(codes))
    if unknown:
        raise ParameterError(f"no grid has the code(s) {', '.join(unknown[:10])}", path=grids.attrs.get("source"),
                             hint="check --grid against the grid_code field")
    return grids[codes.isin(wanted).to_numpy()]


def _streets_near(streets: gpd.GeoDataFrame, polys: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The street lines within ``distance`` of any grid, and their names."""
    lines = streets.geometry.to_numpy()
    tree = shapely.STRtree(lines)
    hits = np.unique(tree.query(_grown_boxes(polys, distance))[1])
    name = streets["name"] if "name" in streets.columns else pd.Series("", index=streets.index)
    name = name.fillna("").astype(str).to_numpy()
    return lines[hits], name[hits]


def _required_edges(net: StreetNetwork, pieces: gpd.GeoDataFrame, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Network edge ids per grid code: those lying on the grid's street pieces."""
    tree = shapely.STRtree(pieces.geometry.to_numpy())
    edge, piece = tree.query(net.midpoints(), predicate="dwithin", distance=_ON_PIECE_M)
    street = net.source[edge] >= 0
    frame = pd.DataFrame({"grid": pieces["grid_code"].to_numpy()[piece[street]], "edge": edge[street]})
    frame = frame.drop_duplicates()
    # the cut pieces overshoot a grid boundary by a few centimetres (streets_for_grids): drop those
    # stubs where they end in nothing, so no route walks 5 cm out and back
    frame["u"], frame["v"] = net.u[frame["edge"]], net.v[frame["edge"]]
    ends = pd.concat([frame[["grid", "u"]].set_axis(["grid", "node"], axis=1),
                      frame[["grid", "v"]].set_axis(["grid", "node"], axis=1)])
    degree = ends.groupby(["grid", "node"]).size()
    du = degree.reindex(pd.MultiIndex.from_arrays([frame["grid"], frame["u"]])).to_numpy()
    dv = degree.reindex(pd.MultiIndex.from_arrays([frame["grid"], frame["v"]])).to_numpy()
    stub = (net.length[frame["edge"]] < _STUB_M) & ((du == 1) | (dv == 1)) & (frame["u"] != frame["v"]).to_numpy()
    frame = frame[~stub]
    return {str(k): np.sort(v.to_numpy()) for k, v in frame.groupby("grid")["edge"]}


def _edges_near(tree: shapely.STRtree, polys: np.ndarray, distance: float) -> list[np.ndarray]:
    """Edge ids per grid within its bounding box grown by ``distance`` (sorted)."""
    gi, ei = tree.query(_grown_boxes(polys, distance))
    split = np.searchsorted(gi, np.arange(1, len(polys)))
    return np.split(ei, split)


def _grown_boxes(polys: np.ndarray, distance: float) -> np.ndarray:
    b = shapely.bounds(polys)
    return shapely.box(b[:, 0] - distance, b[:, 1] - distance, b[:, 2] + distance, b[:, 3] + distance)


def _base_points(g: gpd.GeoDataFrame, codes: np.ndarray, field: str, bases: gpd.GeoDataFrame | None,
                 buildings: gpd.GeoDataFrame | None, households: str) -> tuple[np.ndarray, list[str]]:
    pts = shapely.centroid(g.geometry.to_numpy())
    source = ["centroid"] * len(codes)
    index = {c: i for i, c in enumerate(codes)}
    if buildings is not None and field in buildings.columns and households in buildings.columns:
        b = buildings.to_crs(g.crs)
        w = pd.to_numeric(b[households], errors="coerce").fillna(0).clip(lower=0).to_numpy(float)
        c = shapely.get_coordinates(shapely.centroid(b.geometry.to_numpy()))
        frame = pd.DataFrame({"g": b[field].astype(str).to_numpy(), "w": w, "x": c[:, 0] * w, "y": c[:, 1] * w})
        sums = frame.groupby("g")[["w", "x", "y"]].sum()
        sums = sums[sums["w"] > 0]
        for code, row in sums.iterrows():
            if code in index:
                pts[index[code]] = shapely.Point(row.x / row.w, row.y / row.w)
                source[index[code]] = "households"
    if bases is not None:
        if field not in bases.columns:
            raise MissingFieldError(f"the bases have no {field!r} field", path=bases.attrs.get("source"),
                                    field=field, hint="give each base point the code of its grid")
        bb = bases.to_crs(g.crs)
        bad = ~np.isin(shapely.get_type_id(bb.geometry.to_numpy()), (0,))
        if bad.any():
            raise InputDataError("bases must be points", path=bases.attrs.get("source"),
                                 feature_ids=list(bb.index[bad]), hint="one point per grid")
        dup = bb[field].astype(str).duplicated()
        if dup.any():
            raise InputDataError("a grid has more than one base", path=bases.attrs.get("source"),
                                 feature_ids=list(bb.index[dup.to_numpy()]), field=field, hint="keep one per grid")
        for code, geom in zip(bb[field].astype(str), bb.geometry):
            if code in index:
                pts[index[code]] = geom
                source[index[code]] = "given"
    return pts, source


def _priority_stops(priority: gpd.GeoDataFrame | None, g: gpd.GeoDataFrame, codes: np.ndarray, field: str,
                    crs: pyproj.CRS) -> tuple[dict[str, list[shapely.Point]], list[tuple[str, str, str]]]:
    issues: list[tuple[str, str, str]] = []
    if priority is None or len(priority) == 0:
        return {}, issues
    p = priority.to_crs(crs)
    pts = p.geometry.to_numpy()
    if field in p.columns:
        owner = p[field].astype(str).to_numpy()
    else:
        tree = shapely.STRtree(g.geometry.to_numpy())
        pi, gi = tree.query(pts, predicate="within")
        owner = np.full(len(p), "", dtype=object)
        owner[pi] = codes[gi]
    out: dict[str, list[shapely.Point]] = {}
    chosen = set(codes)
    lost = []
    for label, code, pt in zip(p.index, owner, pts):
        if code in chosen:
            out.setdefault(code, []).append(shapely.centroid(pt))
        elif not code:
            lost.append(label)
    if lost:
        issues.append(("", "priority point outside every grid", f"features {format_ids(lost)}: not used"))
    return out, issues


def _main_piece_nodes(net: StreetNetwork, required: np.ndarray, working: np.ndarray) -> tuple[np.ndarray, bool]:
    """Nodes of the grid's streets in the piece of the network holding most of their length.

    The base goes there: a base on a footpath cut off from the rest would leave
    everything else unreached. Also says whether that piece holds all the streets.
    """
    edges = np.union1d(required, working)
    nodes, inverse = np.unique(np.r_[net.u[edges], net.v[edges]], return_inverse=True)
    m = len(edges)
    graph = sparse.csr_matrix((np.ones(m), (inverse[:m], inverse[m:])), shape=(len(nodes), len(nodes)))
    _, label = csgraph.connected_components(graph, directed=False)
    pos = np.searchsorted(edges, required)
    piece = label[inverse[:m][pos]]
    best = np.bincount(piece, weights=net.length[required]).argmax()
    on_best = piece == best
    return np.unique(np.r_[net.u[required[on_best]], net.v[required[on_best]]]), bool(on_best.all())


def _nearest_node(net: StreetNetwork, nodes: np.ndarray, point: shapely.Point) -> tuple[int, float]:
    d = np.hypot(net.x[nodes] - point.x, net.y[nodes] - point.y)
    k = int(np.argmin(d))
    return int(nodes[k]), float(d[k])


def _walk_issues(issues: list[tuple[str, str, str]], code: str, net: StreetNetwork, walk: Walk) -> None:
    if walk.unreached:
        issues.append((code, "streets not reached",
                       (f"{len(walk.unreached)} street segments, {net.length[walk.unreached].sum():.0f} m, cannot be "
                        "reached from the base over the street network; they are not in the route")))
    if walk.stops_unreached:
        issues.append((code, "priority stop not reached",
                       f"{len(walk.stops_unreached)} stop(s) cannot be reached from the base"))


def _row(code: str, shift: int, walk: Walk | None, required_m: float, stops: int, speed_kmh: float,
         over: bool) -> dict:
    length = walk.length_m if walk else 0.0
    covered = walk.covered_m if walk else 0.0
    return {
        "grid_code": code, "shift": shift, "length_m": round(length, 1),
        "deadhead_m": round(walk.deadhead_m, 1) if walk else 0.0,
        "est_minutes": round(length / 1000.0 / speed_kmh * 60.0, 1),
        "coverage_share": round(covered / required_m, 4) if required_m > 0 else np.nan,
        "required_m": round(required_m, 1), "stops": stops, "over_limit": over,
    }
