"""Streets of the synthetic county: the town's lattice lines, lanes and diagonals, village roads.

Streets meet only at shared vertices (a village road crossing another street gets a
vertex there), and buildings keep clear of every street (:func:`clear_of_streets`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.synth.constants import HALF_WIDTH, WORK_CRS
from gridkit.synth.names import suffix, zh_number
from gridkit.synth.tables import names as name_lists
from gridkit.synth.town import Town, lane_lines

__all__ = ["MARGIN", "clear_of_streets", "streets_frame"]

MARGIN = 3.0
"""Metres between a street's edge and a building."""


def _town_streets(town: Town) -> pd.DataFrame:
    """One row per east-west line, per north-south line piece, diagonal and lane."""
    names = town.names
    rows: list[dict[str, object]] = []
    for j in range(town.ny + 1):
        coords = np.concatenate([town.hedges[:, j, :4].reshape(-1, 2), town.hedges[-1:, j, 4]])
        rows.append({"name": names.ew[j], "highway": names.ew_class[j], "geometry": coords})
    for i in range(town.nx + 1):
        for r in range(len(town.row_breaks) - 1):
            lo, hi = town.row_breaks[r], town.row_breaks[r + 1]
            coords = np.concatenate([town.vedges[i, lo:hi, :4].reshape(-1, 2), town.vedges[i, hi - 1:hi, 4]])
            highway = names.ns_class[i, r]
            main = "residential" if (names.ns_class[i] == "residential").all() else "tertiary"
            rows.append({"name": suffix(names.ns[i], main), "highway": highway, "geometry": coords})
    for d, (i0, j0, k) in enumerate(town.diagonals):
        steps = np.arange(k + 1)
        diagonal_names = name_lists()["diagonal_street"]
        name = diagonal_names[d] if d < len(diagonal_names) else f"斜{zh_number(d + 1)}街"
        rows.append({"name": name, "highway": "tertiary", "geometry": town.nodes[i0 + steps, j0 + steps]})
    rows += _lane_rows(town)
    frame = pd.DataFrame(rows)
    frame["geometry"] = [shapely.linestrings(c) for c in frame["geometry"]]
    return frame


def _lane_rows(town: Town) -> list[dict[str, object]]:
    coords, blocks = lane_lines(town.hedges, town.vedges, np.maximum(town.lanes, 0))
    counters: dict[str, int] = {}
    rows = []
    for line, block in zip(coords, blocks):
        parent = town.names.ew[block % town.ny]
        counters[parent] = counters.get(parent, 0) + 1
        dead_end = town.lanes.flat[block] == 3
        rows.append({"name": f"{parent}{zh_number(counters[parent])}巷",
                     "highway": "service" if dead_end else "residential", "geometry": line})
    return rows


def streets_frame(town: Town, village_roads: pd.DataFrame) -> gpd.GeoDataFrame:
    """Town streets then village roads (``name``, ``highway``, ``town``, geometry), crossings noded."""
    frame = pd.concat([_town_streets(town).assign(town=True), village_roads.assign(town=False)], ignore_index=True)
    frame["geometry"] = _node_crossings(frame["geometry"].to_numpy(), frame["town"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=WORK_CRS)


def _node_crossings(lines: np.ndarray, town: np.ndarray) -> np.ndarray:
    """Give both lines a shared vertex wherever a village road crosses another street between vertices.

    Town streets already meet only at shared vertices; village tracks may cross.
    """
    lines = lines.copy()
    a, b = shapely.STRtree(lines).query(lines, predicate="intersects")
    pick = (a < b) & ~(town[a] & town[b])
    extra: dict[int, list[np.ndarray]] = {}
    for i, j in zip(a[pick], b[pick]):
        for point in shapely.get_coordinates(shapely.intersection(lines[i], lines[j])):
            extra.setdefault(int(i), []).append(point)
            extra.setdefault(int(j), []).append(point)
    for k, points in extra.items():
        lines[k] = _with_vertices(lines[k], np.array(points))
    return lines


def _with_vertices(line: shapely.Geometry, points: np.ndarray) -> shapely.Geometry:
    """``line`` with ``points`` (lying on it) inserted as vertices in order along it.

    >>> _with_vertices(shapely.LineString([(0, 0), (10, 0)]), np.array([[4.0, 0.0], [10.0, 0.0]])).wkt
    'LINESTRING (0 0, 4 0, 10 0)'
    """
    coords = shapely.get_coordinates(line)
    new = points[~(np.abs(points[:, None] - coords[None]).sum(axis=2) < 1e-9).any(axis=1)]
    if len(new) == 0:
        return line
    at = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
    where = shapely.line_locate_point(line, shapely.points(new))
    merged = np.concatenate([coords, new])
    order = np.argsort(np.concatenate([at, where]), kind="stable")
    return shapely.linestrings(merged[order])


def _street_segments(streets: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Two-point segments of every street and the clearance a building needs from each."""
    coords, idx = shapely.get_coordinates(streets.geometry.to_numpy(), return_index=True)
    same = idx[:-1] == idx[1:]
    segs = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    half = streets["highway"].map(HALF_WIDTH).to_numpy(dtype=float)
    return segs, half[idx[:-1][same]] + MARGIN


def clear_of_streets(polys: np.ndarray, streets: gpd.GeoDataFrame) -> np.ndarray:
    """True for each polygon at least its street's half width plus the margin from every street."""
    segs, clearance = _street_segments(streets)
    tree = shapely.STRtree(segs)
    pi, si = tree.query(polys, predicate="dwithin", distance=float(clearance.max()))
    close = shapely.distance(polys[pi], segs[si]) < clearance[si]
    ok = np.ones(len(polys), dtype=bool)
    ok[pi[close]] = False
    return ok

