"""Rural villages (村) round the town: sector polygons, hamlets, roads and low-rise houses.

With two or more villages, the first has a detached part (飞地) with its own hamlet and
the second has only about 60 households (below the rural minimum: the infeasible case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.synth.geometry import rotate
from gridkit.synth.streets import clear_of_streets
from gridkit.synth.tables import LOWRISE, OFFICE, SCHOOL
from gridkit.synth.tables import names as name_lists
from gridkit.synth.town import Town

__all__ = ["Villages", "build_villages", "village_buildings"]


@dataclass
class Villages:
    """Rural villages: polygons, hamlet centres, roads and household targets (metric CRS)."""

    polygons: list[shapely.Geometry]
    names: list[str]
    targets: np.ndarray
    hamlets: list[np.ndarray]  # (k, 2) hamlet centres per village
    hamlet_names: list[list[str]]
    roads: pd.DataFrame  # name, highway, geometry


def build_villages(town: Town, n: int, rng: np.random.Generator) -> Villages:
    empty_roads = pd.DataFrame({"name": [], "highway": [], "geometry": []})
    if n == 0:
        return Villages([], [], np.zeros(0), [], [], empty_roads)
    outline = shapely.coverage_union_all(town.quads)
    centre = shapely.get_coordinates(shapely.centroid(outline))[0]
    polygons, sectors, radius = _village_polygons(outline, centre, n, rng)
    targets = rng.integers(150, 560, n).astype(float)
    if n >= 2:
        targets[1] = 60
    names = [f"{r}村" for r in rng.permutation(name_lists()["village_root"])[:n]]
    hamlets, hamlet_names = _hamlets(polygons, centre, sectors, radius, rng)
    if n >= 2:
        polygons[0], extra = _detached_part(polygons, centre, sectors, radius, rng)
        hamlets[0] = np.vstack([hamlets[0], extra])
        hamlet_names[0].append(name_lists()["hamlet"][-1])
    roads = _village_roads(town, names, hamlets, hamlet_names, n >= 2, rng)
    return Villages(polygons, names, targets, hamlets, hamlet_names, roads)


def _ray_distance(centre: np.ndarray, outline: shapely.Geometry, angles: np.ndarray) -> np.ndarray:
    """Distance from the centre to the far side of the outline along each angle."""
    far = centre + 1e6 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    rays = shapely.linestrings(np.stack([np.broadcast_to(centre, far.shape), far], axis=1))
    hits = shapely.intersection(rays, shapely.get_exterior_ring(outline))
    coords, idx = shapely.get_coordinates(hits, return_index=True)
    dist = np.zeros(len(angles))
    np.maximum.at(dist, idx, np.hypot(*(coords - centre).T))
    return dist


def _village_polygons(
    outline: shapely.Geometry, centre: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[list[shapely.Geometry], np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Sectors of a ring around the town; neighbours share their boundary ray exactly."""
    gap = 150.0
    start = rng.uniform(0, 2 * np.pi)
    weights = rng.uniform(0.7, 1.3, n)
    bounds = start + 2 * np.pi * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    base = float(_ray_distance(centre, outline, np.linspace(0, 2 * np.pi, 73)).max()) + 2500
    terms = [(m, rng.uniform(-0.05, 0.05), rng.uniform(0, 2 * np.pi)) for m in (2, 3, 4)]

    def radius(theta: np.ndarray) -> np.ndarray:
        wave = np.zeros_like(theta, dtype=float)
        for m, a, p in terms:
            wave += a * np.sin(m * theta + p)
        return base * (1 + wave)

    def inner(theta: np.ndarray) -> np.ndarray:
        return _ray_distance(centre, outline, theta) + gap

    def polar(r: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return centre + r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)

    ray_in = polar(inner(bounds[:n]), bounds[:n])
    ray_out = polar(radius(bounds[:n]), bounds[:n])
    if n == 1:
        theta = bounds[0] + np.linspace(0, 2 * np.pi, 240, endpoint=False)
        ring_out, ring_in = polar(radius(theta), theta), polar(inner(theta), theta)
        return [shapely.Polygon(ring_out, holes=[ring_in[::-1]])], bounds, radius
    polygons = []
    for k in range(n):
        theta = np.linspace(bounds[k], bounds[k + 1], 60)[1:-1]
        k2 = (k + 1) % n
        ring = np.concatenate([ray_in[k:k + 1], ray_out[k:k + 1], polar(radius(theta), theta),
                               ray_out[k2:k2 + 1], ray_in[k2:k2 + 1], polar(inner(theta), theta)[::-1],
                               ray_in[k:k + 1]])
        polygons.append(shapely.Polygon(ring))
    return polygons, bounds, radius


def _hamlets(
    polygons: list[shapely.Geometry], centre: np.ndarray, sectors: np.ndarray, radius: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], list[list[str]]]:
    """Two to four hamlet centres per village, well inside it and apart from each other."""
    out, names = [], []
    for k, poly in enumerate(polygons):
        core = shapely.buffer(poly, -300)
        lo, hi = sectors[k], sectors[k + 1]
        points: list[np.ndarray] = []
        for _ in range(400):
            if len(points) >= int(rng.integers(2, 5)) and len(points) >= 2:
                break
            theta = rng.uniform(lo + 0.15 * (hi - lo), hi - 0.15 * (hi - lo))
            r = rng.uniform(0.3, 0.85) * float(radius(np.array([theta]))[0])
            p = centre + r * np.array([np.cos(theta), np.sin(theta)])
            if shapely.contains_xy(core, *p) and all(np.hypot(*(p - q)) > 700 for q in points):
                points.append(p)
        out.append(np.array(points).reshape(-1, 2))
        names.append(list(rng.permutation(name_lists()["hamlet"][:-1])[: len(points)]))
    return out, names


def _detached_part(
    polygons: list[shapely.Geometry], centre: np.ndarray, sectors: np.ndarray, radius: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> tuple[shapely.Geometry, np.ndarray]:
    """A small detached part (飞地) of the first village, beyond the second village's outer edge."""
    theta = (sectors[1] + sectors[2]) / 2
    r = float(radius(np.array([theta]))[0]) + 500
    rect = np.array([[-210, -150], [210, -150], [210, 150], [-210, 150], [-210, -150]], float)
    others = shapely.union_all(polygons)
    while True:
        mid = centre + r * np.array([np.cos(theta), np.sin(theta)])
        part = shapely.Polygon(rotate(rect, theta + np.pi / 2) + mid)
        if not shapely.intersects(part.buffer(100), others):
            break
        r += 100
    return shapely.MultiPolygon([polygons[0], part]), mid[None]


def _village_roads(
    town: Town, names: list[str], hamlets: list[np.ndarray], hamlet_names: list[list[str]],
    detached: bool, rng: np.random.Generator,
) -> pd.DataFrame:
    """A road from the town's edge to each village, tracks between hamlets, a street in each.

    With ``detached``, the last hamlet of the first village lies in its detached part and
    its track comes from the nearest hamlet of any village.
    """
    edge_nodes = _outline_nodes(town.nodes)
    rows: list[dict[str, object]] = []
    for k, (name, points, hnames) in enumerate(zip(names, hamlets, hamlet_names)):
        start = edge_nodes[np.argmin(np.hypot(*(edge_nodes - points[0]).T))]
        rows.append({"name": f"{name[:-1]}路", "highway": "tertiary", "geometry": _wiggle(start, points[0], rng)})
        chain = points[:-1] if detached and k == 0 else points
        for a, b, hname in zip(chain[:-1], chain[1:], hnames[1:]):
            rows.append({"name": f"{hname}路", "highway": "track", "geometry": _wiggle(a, b, rng)})
        if detached and k == 0:
            others = np.concatenate([points[:-1], *hamlets[1:]])
            near = others[np.argmin(np.hypot(*(others - points[-1]).T))]
            rows.append({"name": f"{hnames[-1]}路", "highway": "track", "geometry": _wiggle(near, points[-1], rng)})
        for p, hname in zip(points, hnames):
            turn = rng.uniform(0, np.pi)
            half = 150 * np.array([np.cos(turn), np.sin(turn)])
            rows.append({"name": f"{hname}街", "highway": "residential",
                         "geometry": shapely.linestrings([p - half, p, p + half])})
    return pd.DataFrame(rows, columns=["name", "highway", "geometry"])


def _outline_nodes(nodes: np.ndarray) -> np.ndarray:
    return np.concatenate([nodes[:, 0], nodes[:, -1], nodes[0, 1:-1], nodes[-1, 1:-1]])


def _wiggle(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> shapely.Geometry:
    """A gently winding road from ``a`` to ``b`` (ends exactly at both)."""
    t = np.linspace(0, 1, 9)
    normal = np.array([a[1] - b[1], b[0] - a[0]]) / max(np.hypot(*(b - a)), 1.0)
    bend = rng.uniform(-0.08, 0.08) * np.hypot(*(b - a)) * np.sin(np.pi * t)
    coords = a + t[:, None] * (b - a) + bend[:, None] * normal
    coords[0], coords[-1] = a, b
    return shapely.linestrings(coords)


def village_buildings(vill: Villages, streets: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Low-rise houses clustered round the hamlets, a committee office and a school."""
    frames = [_village_houses(k, vill, streets, rng) for k in range(len(vill.polygons))]
    columns = ["community", "btype", "levels", "households", "geometry", "name"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _village_houses(k: int, vill: Villages, streets: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cell, reach = 24.0, 220.0
    offsets = np.arange(-reach, reach + cell, cell)
    grid = np.stack(np.meshgrid(offsets, offsets), axis=-1).reshape(-1, 2)
    grid = grid[np.hypot(*grid.T) <= reach]
    centres, hamlet = [], []
    for h, point in enumerate(vill.hamlets[k]):
        centres.append(point + rotate(grid, rng.uniform(0, np.pi / 2)))
        hamlet.append(np.full(len(grid), h))
    xy, ham = np.concatenate(centres), np.concatenate(hamlet)
    n = len(xy)
    size = np.stack([rng.uniform(9, 14, n), rng.uniform(8, 12, n)], axis=1)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    local = rotate(corners[None] * size[:, None], rng.uniform(-0.2, 0.2, n)[:, None])
    polys = shapely.polygons(local + (xy + rng.uniform(-2, 2, (n, 2)))[:, None])
    inside = shapely.buffer(vill.polygons[k], -3.0)
    keep = shapely.contains_properly(inside, polys) & clear_of_streets(polys, streets) & _no_overlap(polys)
    dist = np.hypot(*(xy - vill.hamlets[k][ham]).T)
    levels = rng.choice([1, 2, 3], size=n, p=[0.35, 0.5, 0.15])
    hh = np.clip(rng.choice([1, 1, 1, 1, 2, 2, 3], size=n), 1, 8)
    frame = pd.DataFrame({"community": -1 - k, "btype": LOWRISE, "levels": levels, "households": hh,
                          "geometry": polys, "name": None, "key": dist / 90 + rng.exponential(0.5, n)})[keep]
    frame = frame.sort_values("key", kind="stable")
    frame = frame[(frame["households"].cumsum() - frame["households"] / 2) < vill.targets[k]]
    return _village_specials(frame.drop(columns=["key"]), vill.names[k]).reset_index(drop=True)


def _no_overlap(polys: np.ndarray) -> np.ndarray:
    """False for the later of any two overlapping polygons."""
    a, b = shapely.STRtree(polys).query(polys, predicate="intersects")
    ok = np.ones(len(polys), dtype=bool)
    ok[b[a < b]] = False
    return ok


def _village_specials(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The first two houses (nearest a hamlet centre) become the committee office and school."""
    frame = frame.copy()
    labels = [(OFFICE, f"{name}村民委员会", 2), (SCHOOL, f"{name}小学", 3)]
    for row, (btype, label, levels) in zip(frame.index[:2], labels):
        frame.at[row, "btype"] = btype
        frame.at[row, "households"] = 0
        frame.at[row, "levels"] = levels
        frame.at[row, "name"] = label
    return frame

