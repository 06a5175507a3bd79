"""Synthetic community and rook adjacency for the peer comparison benchmark.

One call, :func:`make_community`, builds one community of ``n_units`` atomic units
(a Voronoi tessellation of partly clustered random points, clipped to an irregular,
square-ish boundary in a metric CRS) with a household count per unit. The same
units go to every tool in ``benchmarks/compare_peers.py``, and the lead's tests and
benchmarks can import them too::

    from benchmarks._peer_data import make_community, rook_adjacency

    units = make_community(2000, seed=0)          # GeoDataFrame, EPSG:32650
    edges, shared = rook_adjacency(units)         # (m, 2) int pairs, shared edge lengths

What the data look like (all drawn from ``numpy.random.default_rng(seed)``):

- Boundary: a super-ellipse (exponent 4, so square-ish with rounded corners) whose
  radius is perturbed by a few low-frequency harmonics; star-shaped, hence a valid
  simple polygon. Its area is ``n_units * mean_unit_area`` (default 2,500 m² a unit,
  i.e. a 50 m × 50 m block on average), placed near Beijing in UTM zone 50N.
- Generator points: ``1 - clustered_share`` uniform over the boundary, the rest in
  Gaussian clusters (dense neighbourhoods, hence smaller units there).
- Units: ``shapely.voronoi_polygons(..., ordered=True)`` clipped to the boundary on a
  1 cm precision grid, so neighbours share exactly the same vertices and the units
  tile the boundary with no gap or overlap. A convex cell clipped by a concave part
  of the boundary can fall into several pieces; every piece that does not hold its
  generator point is merged into the neighbour it shares the longest edge with, so
  there are exactly ``n_units`` single-polygon units.
- Households: a mixture. About ``tower_share`` (3 %) of units are towers with
  150-300 households (uniform); the rest have ``10 + Gamma(k=2.2, θ=9)`` households
  rounded and capped at 60. The mean is about 35 households a unit.

Everything is deterministic for a given ``(n_units, seed)`` and parameters.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely import Polygon

__all__ = ["DEFAULT_CRS", "make_community", "neighbour_lists", "rook_adjacency"]

#: Metric CRS of the synthetic community (WGS 84 / UTM zone 50N, eastern China).
DEFAULT_CRS = "EPSG:32650"

#: Lower-left offset of the community in DEFAULT_CRS (near Beijing).
_ORIGIN = (440_000.0, 4_420_000.0)

#: Precision grid (metres) for the clipped units: shared vertices snap together.
_GRID = 0.01


def _boundary(rng: np.random.Generator, area: float) -> Polygon:
    """Return an irregular square-ish star-shaped polygon of the given area.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    area : float
        Target area in square metres.

    Returns
    -------
    shapely.Polygon
        The boundary, centred on ``_ORIGIN`` plus half its extent.
    """
    theta = np.linspace(0.0, 2.0 * np.pi, 361)[:-1]
    p = 4.0
    r = 1.0 / (np.abs(np.cos(theta)) ** p + np.abs(np.sin(theta)) ** p) ** (1.0 / p)
    wobble = np.zeros_like(theta)
    for k in range(2, 7):
        wobble += (
            rng.uniform(0.02, 0.06)
            / (k - 1) ** 0.5
            * np.cos(k * theta + rng.uniform(0.0, 2.0 * np.pi))
        )
    r = r * (1.0 + wobble)
    xy = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    poly = Polygon(xy)
    scale = np.sqrt(area / poly.area)
    xy = xy * scale
    half = np.abs(xy).max()
    xy = xy + np.array([_ORIGIN[0] + half, _ORIGIN[1] + half])
    return Polygon(xy)


def _points(
    rng: np.random.Generator, boundary: Polygon, n: int, clustered_share: float
) -> np.ndarray:
    """Draw ``n`` distinct points inside ``boundary``, partly in Gaussian clusters.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    boundary : shapely.Polygon
        Points fall strictly inside it.
    n : int
        Number of points.
    clustered_share : float
        Share of points drawn around cluster centres rather than uniformly.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` float coordinates.
    """
    minx, miny, maxx, maxy = boundary.bounds
    side = np.sqrt(boundary.area)
    n_clustered = round(n * clustered_share)
    n_uniform = n - n_clustered
    n_centres = max(1, round(float(np.sqrt(n)) / 4))

    def uniform(m: int) -> np.ndarray:
        out = np.empty((0, 2))
        while len(out) < m:
            cand = rng.uniform(
                [minx, miny], [maxx, maxy], size=(2 * (m - len(out)) + 16, 2)
            )
            cand = cand[shapely.contains_xy(boundary, cand[:, 0], cand[:, 1])]
            out = np.vstack([out, cand])
        return out[:m]

    centres = uniform(n_centres)
    sigma = side * rng.uniform(0.02, 0.05, size=n_centres)
    clustered = np.empty((0, 2))
    while len(clustered) < n_clustered:
        m = 2 * (n_clustered - len(clustered)) + 16
        which = rng.integers(0, n_centres, size=m)
        cand = centres[which] + rng.normal(size=(m, 2)) * sigma[which, None]
        cand = cand[shapely.contains_xy(boundary, cand[:, 0], cand[:, 1])]
        clustered = np.vstack([clustered, cand])
    pts = np.vstack([uniform(n_uniform), clustered[:n_clustered]])
    # Distinct points on the precision grid (duplicates would share one Voronoi cell).
    pts = np.round(pts / _GRID) * _GRID
    _, first = np.unique(pts, axis=0, return_index=True)
    while len(first) < n:  # astronomically rare; top up deterministically
        pts = np.vstack([pts[np.sort(first)], uniform(n - len(first))])
        pts = np.round(pts / _GRID) * _GRID
        _, first = np.unique(pts, axis=0, return_index=True)
    return pts[np.sort(first)][:n]


def _households(rng: np.random.Generator, n: int, tower_share: float) -> np.ndarray:
    """Draw household counts: a bulk of 10-60 and a few towers of 150-300.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of units.
    tower_share : float
        Expected share of tower units.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64 household counts.
    """
    bulk = np.minimum(10 + np.rint(rng.gamma(2.2, 9.0, size=n)), 60)
    towers = rng.integers(150, 301, size=n)
    is_tower = rng.random(n) < tower_share
    return np.where(is_tower, towers, bulk).astype(np.int64)


def _merge_orphans(cells: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Make every cell one polygon: merge detached pieces into their best neighbour.

    Parameters
    ----------
    cells : numpy.ndarray
        Clipped Voronoi cells (object array of shapely geometries), one per seed.
    seeds : numpy.ndarray
        ``(n, 2)`` generator points; ``seeds[i]`` lies in ``cells[i]``.

    Returns
    -------
    numpy.ndarray
        Object array of Polygons, same order and length as ``cells``.
    """
    cells = cells.copy()
    multi = np.flatnonzero(shapely.get_num_geometries(cells) > 1)
    orphans: list[Polygon] = []
    for i in multi:
        parts = shapely.get_parts(cells[i])
        parts = parts[shapely.area(parts) > 0]
        holds = shapely.contains_xy(parts, seeds[i, 0], seeds[i, 1])
        keep = (
            int(np.argmax(holds))
            if holds.any()
            else int(np.argmax(shapely.area(parts)))
        )
        cells[i] = parts[keep]
        orphans.extend(p for j, p in enumerate(parts) if j != keep)
    # Merge each orphan piece (rare) into the polygon sharing the longest edge.
    pending = list(orphans)
    for _ in range(10):
        if not pending:
            break
        tree = shapely.STRtree(cells)
        left = []
        for piece in pending:
            cand = tree.query(piece, predicate="intersects")
            if len(cand) == 0:
                left.append(piece)
                continue
            shared = shapely.length(
                shapely.intersection(cells[cand], piece, grid_size=_GRID)
            )
            best = cand[int(np.argmax(shared))]
            if shared.max() <= 0:
                left.append(piece)
                continue
            merged = shapely.union(cells[best], piece, grid_size=_GRID)
            if shapely.get_num_geometries(merged) == 1:
                cells[best] = (
                    shapely.get_geometry(merged, 0)
                    if merged.geom_type != "Polygon"
                    else merged
                )
            else:
                left.append(piece)
        if len(left) == len(pending):
            break
        pending = left
    if (
        pending
    ):  # a piece touching no other unit along an edge: cannot happen in a tessellation
        raise RuntimeError(f"{len(pending)} detached pieces could not be merged")
    return cells


def make_community(
    n_units: int,
    seed: int = 0,
    *,
    crs: str = DEFAULT_CRS,
    mean_unit_area: float = 2_500.0,
    clustered_share: float = 0.3,
    tower_share: float = 0.03,
) -> gpd.GeoDataFrame:
    """Build one synthetic community of ``n_units`` units with households.

    Parameters
    ----------
    n_units : int
        Number of units (at least 3).
    seed : int, default 0
        Seed for ``numpy.random.default_rng``; same seed, same community.
    crs : str, default ``"EPSG:32650"``
        CRS label of the output; the coordinates are metres near Beijing in UTM 50N,
        so change it only together with the coordinates.
    mean_unit_area : float, default 2500.0
        Mean unit area in square metres (sets the size of the boundary).
    clustered_share : float, default 0.3
        Share of generator points drawn in Gaussian clusters (smaller units there).
    tower_share : float, default 0.03
        Expected share of tower units with 150-300 households.

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``0..n_units-1``; columns ``unit_id`` (int), ``households`` (int64),
        ``geometry`` (one Polygon a unit; the units tile the boundary). The boundary
        polygon is in ``gdf.attrs["boundary_wkt"]`` and the parameters in
        ``gdf.attrs["params"]``.

    Examples
    --------
    >>> units = make_community(200, seed=1)
    >>> len(units), units.crs.to_epsg(), bool(units.geometry.geom_type.eq("Polygon").all())
    (200, 32650, True)
    >>> bool(25 < units["households"].mean() < 45)
    True
    """
    if n_units < 3:
        raise ValueError(f"n_units must be at least 3, got {n_units}")
    rng = np.random.default_rng(seed)
    boundary = _boundary(rng, n_units * mean_unit_area)
    pts = _points(rng, boundary, n_units, clustered_share)
    households = _households(rng, n_units, tower_share)

    mp = shapely.multipoints(pts)
    vor = shapely.voronoi_polygons(
        mp, extend_to=boundary.buffer(boundary.length), ordered=True
    )
    cells = shapely.get_parts(vor)
    if len(cells) != n_units:
        raise RuntimeError(f"Voronoi gave {len(cells)} cells for {n_units} points")
    cells = shapely.intersection(cells, boundary, grid_size=_GRID)
    cells = _merge_orphans(cells, pts)

    gdf = gpd.GeoDataFrame(
        {"unit_id": np.arange(n_units), "households": households},
        geometry=gpd.GeoSeries(cells, crs=crs),
    )
    gdf.attrs["boundary_wkt"] = boundary.wkt
    gdf.attrs["params"] = {
        "n_units": n_units,
        "seed": seed,
        "mean_unit_area": mean_unit_area,
        "clustered_share": clustered_share,
        "tower_share": tower_share,
    }
    return gdf


def rook_adjacency(
    units: gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray, *, min_length: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Rook contiguity: unit pairs that share an edge of positive length.

    Candidate pairs come from an STRtree ``intersects`` query; a pair is kept when
    the length of the intersection of the two polygons exceeds ``min_length``
    (pairs touching at a single point are dropped, as in rook contiguity).

    Parameters
    ----------
    units : GeoDataFrame, GeoSeries or array of Polygons
        The units, in a metric CRS. Row order defines the integer ids.
    min_length : float, default 0.0
        Shared edge length (CRS units) a pair must exceed.

    Returns
    -------
    edges : numpy.ndarray
        ``(m, 2)`` int64 pairs ``i < j``, sorted.
    shared : numpy.ndarray
        ``(m,)`` float shared boundary length of each pair.

    Examples
    --------
    >>> from shapely import box
    >>> e, s = rook_adjacency(np.array([box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 1, 3, 2)]))
    >>> e.tolist(), s.tolist()
    ([[0, 1]], [1.0])
    """
    geoms = np.asarray(units.geometry.values if hasattr(units, "geometry") else units)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    inter = shapely.intersection(geoms[i], geoms[j])
    length = shapely.length(inter)
    keep = length > min_length
    edges = np.column_stack([i[keep], j[keep]]).astype(np.int64)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    return edges[order], length[keep][order]


def neighbour_lists(edges: np.ndarray, n: int) -> list[list[int]]:
    """Turn an edge array into sorted neighbour lists.

    Parameters
    ----------
    edges : numpy.ndarray
        ``(m, 2)`` int pairs, each undirected edge once.
    n : int
        Number of units.

    Returns
    -------
    list of list of int
        ``out[i]`` is the sorted list of the neighbours of unit ``i``.

    Examples
    --------
    >>> neighbour_lists(np.array([[0, 1], [1, 2]]), 4)
    [[1], [0, 2], [1], []]
    """
    out: list[list[int]] = [[] for _ in range(n)]
    for a, b in np.asarray(edges, dtype=np.int64).tolist():
        out[a].append(b)
        out[b].append(a)
    return [sorted(x) for x in out]
