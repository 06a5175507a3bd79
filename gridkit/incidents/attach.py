"""Put points (city components, incidents) into their grids.

:func:`attach_points` gives every point the ``grid_code`` and ``community_code`` of the
grid it lies in, found with one query over all points at once. A point on an edge or
vertex shared by several grids goes to the grid with the smallest ``grid_code`` among
those it touches, whatever the row order. Points outside every grid are kept, with empty
codes and their distance to the nearest grid in metres (``outside_m``), measured in the
local metric CRS of the grids (:func:`gridkit.crs.local_crs`).

:func:`read_points` reads components or incidents from any layer format with their codes
kept as text. Categories are named in :mod:`gridkit.incidents.categories`, points counted
per grid in :mod:`gridkit.incidents.stats`.

Examples
--------
>>> import shapely
>>> grids = gpd.GeoDataFrame(
...     {"grid_code": ["520199001001002", "520199001001001"], "community_code": ["520199001001"] * 2},
...     geometry=[shapely.box(106.600, 26.5, 106.601, 26.501), shapely.box(106.601, 26.5, 106.602, 26.501)],
...     crs=4490)
>>> points = gpd.GeoDataFrame(geometry=shapely.points([106.6005, 106.601, 106.603], [26.5005] * 3), crs=4490)
>>> out = attach_points(points, grids)
>>> out["grid_code"].tolist(), out["outside_m"].round().tolist()
(['520199001001002', '520199001001001', ''], [0.0, 0.0, 100.0])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit._types import CoordSystem, PathLike
from gridkit.crs import local_crs
from gridkit.errors import InputDataError
from gridkit.incidents._checks import OUTSIDE, check_layer, grid_code_arrays

__all__ = ["OUTSIDE", "TEXT_FIELDS", "GridLookup", "attach_points", "read_points"]

log = logging.getLogger(__name__)

#: Fields always read as text from a CSV (codes and ids lose leading zeros or digits as numbers).
TEXT_FIELDS = ("category", "component_id", "incident_id", "grid_code", "community_code", "worker_id", "id")


# --------------------------------------------------------------------------- attach


def attach_points(
    points: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    grid_field: str = "grid_code",
    community_field: str = "community_code",
    lookup: GridLookup | None = None,
) -> gpd.GeoDataFrame:
    """Give every point the codes of the grid it lies in.

    Parameters
    ----------
    points
        Any geometries (usually points) with a CRS; a geometry that meets several grids
        goes to one of them (see below).
    grids
        Grid polygons with a CRS (it may differ from the points'), a unique, non-empty
        ``grid_field`` and, when present, ``community_field``.
    grid_field, community_field
        The code fields of ``grids``. Without a community field the points'
        ``community_code`` is empty.
    lookup
        ``GridLookup(grids)`` built beforehand, for many calls on the same grids (the
        chunks of a large input): the grids are then prepared once.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``points`` (same index, same CRS, same row order) with ``grid_code``
        (str; ``""`` outside every grid), ``community_code`` (str; ``""`` outside) and
        ``outside_m`` (float: 0.0 inside or on the edge of a grid, otherwise the distance
        in metres to the nearest grid, measured in the grids' local metric CRS). Existing
        columns of these names are replaced.

    Raises
    ------
    MissingCRSError
        Points or grids without a CRS.
    MissingFieldError
        ``grid_field`` is not a field of ``grids``.
    InputDataError
        Grid codes empty or repeated; missing or empty point geometries (naming the rows).

    Notes
    -----
    The test is ``intersects`` in the grids' CRS (points are reprojected when their CRS
    differs). A point on an edge or vertex shared by several grids goes to the grid with
    the smallest ``grid_code`` (as text) among the grids it intersects, so the answer
    does not depend on the row order of either layer. One STRtree query over all points,
    then a group minimum in numpy: no Python loop over points.
    """
    check_layer(points, "points")
    if lookup is None:
        lookup = GridLookup(grids, grid_field=grid_field, community_field=community_field)
    out, _ = lookup.attach(points)
    return out


def _point_geometries(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> np.ndarray:
    """The points' geometries in the grids' CRS, checked present and non-empty."""
    series = points.geometry
    if not series.crs.equals(grids.crs):
        series = series.to_crs(grids.crs)
    geoms = series.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise InputDataError(
            "points without a geometry", path=points.attrs.get("source"), feature_ids=list(points.index[bad]),
            hint="give every row its coordinates",
        )
    return np.asarray(geoms, dtype=object)


class GridLookup:
    """The grid side of :func:`attach_points`, prepared once for many calls (the chunks of a large input).

    Holds the grids' codes in code order, prepared copies of their polygons, the bucket
    raster over their bounding boxes and (built at the first point outside) the tree of
    their outline in the local metric CRS. :meth:`attach` gives what
    :func:`attach_points` gives, plus each point's grid as its rank in code order.
    Pickled without the prepared parts (rebuilt where it is unpickled).

    Parameters
    ----------
    grids, grid_field, community_field
        As :func:`attach_points`.
    """

    def __init__(self, grids: gpd.GeoDataFrame, *, grid_field: str = "grid_code",
                 community_field: str = "community_code") -> None:
        check_layer(grids, "grids")
        self.grids = grids
        self.grid_field, self.community_field = grid_field, community_field
        self._build()

    def _build(self) -> None:
        self.codes, self.communities = grid_code_arrays(self.grids, self.grid_field, self.community_field)
        # rank of each grid by its code: the smallest code wins a tie on a shared edge
        self.order = np.argsort(self.codes, kind="stable")
        self.rank = np.empty(len(self.codes), dtype=np.int64)
        self.rank[self.order] = np.arange(len(self.codes))
        # copies: preparing must not touch the caller's geometries
        self.prepared = shapely.from_wkb(shapely.to_wkb(self.grids.geometry.to_numpy()))
        shapely.prepare(self.prepared)
        self.raster = _bucket_raster(shapely.bounds(self.prepared))
        self._tree: shapely.STRtree | None = None
        self._outline: tuple[Any, shapely.STRtree] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"grids": self.grids, "grid_field": self.grid_field, "community_field": self.community_field}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()

    def attach(self, points: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, np.ndarray]:
        """:func:`attach_points` of ``points``, and each point's grid rank in code order (``len(codes)``: outside)."""
        check_layer(points, "points")
        codes, communities = self.codes, self.communities
        geoms = _point_geometries(points, self.grids)
        point_idx, grid_idx = self._intersecting_pairs(geoms)
        best = np.full(len(geoms), len(codes), dtype=np.int64)  # len(codes) = outside
        np.minimum.at(best, point_idx, self.rank[grid_idx])
        inside = best < len(codes)
        chosen = np.where(inside, self.order[np.minimum(best, len(codes) - 1)], -1)

        outside_m = np.zeros(len(geoms), dtype=np.float64)
        if not inside.all():
            outside_m[~inside] = self._distances(geoms[~inside])
        code_table = np.append(codes, OUTSIDE).astype(object)
        community_table = np.append(communities, OUTSIDE).astype(object)
        out = points.copy()
        out["grid_code"] = pd.Series(code_table[chosen], index=out.index, dtype="str")
        out["community_code"] = pd.Series(community_table[chosen], index=out.index, dtype="str")
        out["outside_m"] = pd.Series(outside_m, index=out.index)
        n_out = int((~inside).sum())
        log.info(
            "attached %d of %d points to %d grids; %d outside (max %.1f m)",
            len(out) - n_out, len(out), len(codes), n_out, float(outside_m.max()) if len(out) else 0.0,
        )
        return out, best


    def _intersecting_pairs(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index pairs (point, grid) of every point that intersects a grid (edges and vertices included).

        The same pairs as ``STRtree.query(geoms, predicate="intersects")``, found faster:
        candidate grids from the bucket raster over the grids' bounding boxes (points) or
        the tree (other geometries), then one vectorised test against the prepared grids
        (point-in-polygon in logarithmic time), taken grid by grid so each prepared polygon
        stays in the cache.
        """
        grid_geoms = self.prepared
        points = bool((shapely.get_type_id(geoms) == 0).all())
        xy = shapely.get_coordinates(geoms) if points else None
        pairs = _bucket_candidates(xy, self.raster) if xy is not None and self.raster is not None else None
        if pairs is None:
            if self._tree is None:
                self._tree = shapely.STRtree(grid_geoms)
            pairs = self._tree.query(geoms)
        point_idx, grid_idx = pairs
        by_grid = np.argsort(grid_idx.astype(np.uint16 if len(grid_geoms) <= 2**16 else np.uint32), kind="stable")
        point_idx, grid_idx = point_idx[by_grid], grid_idx[by_grid]
        if xy is not None:
            hit = shapely.intersects_xy(grid_geoms[grid_idx], xy[point_idx, 0], xy[point_idx, 1])
        else:
            hit = shapely.intersects(grid_geoms[grid_idx], geoms[point_idx])
        return point_idx[hit], grid_idx[hit]

    def _distances(self, geoms: np.ndarray) -> np.ndarray:
        """Distance in metres from each geometry (outside every grid) to the nearest grid, in the grids' local CRS.

        Outside the grids, the distance to the nearest grid is the distance to the outline
        of their union, so the search runs over the grids' edges less those shared by two
        grids (an edge traversed both ways by counter-clockwise rings has a grid on each
        side): for grids that tile an area only the outline is left, and the nearest-edge
        search is fast. The outline's tree is built at the first call and kept.
        """
        grids = self.grids
        if self._outline is None:
            crs = local_crs(grids)
            edges = gpd.GeoSeries(_outline_edges(grids.geometry.to_numpy()), crs=grids.crs).to_crs(crs).to_numpy()
            self._outline = (crs, shapely.STRtree(edges))
        crs, tree = self._outline
        local_points = gpd.GeoSeries(geoms, crs=grids.crs).to_crs(crs).to_numpy()
        (point_idx, _), dist = tree.query_nearest(local_points, return_distance=True, all_matches=False)
        out = np.full(len(geoms), np.inf)
        np.minimum.at(out, point_idx, dist)
        return out


# cells of the bucket raster per grid at most (else the tree is used: grids spread far apart)
_MAX_CELLS_PER_GRID = 64


@dataclass(frozen=True)
class _Raster:
    """Square cells over the grids' bounding boxes, each listing the grids whose box reaches it."""

    ox: float
    oy: float
    size: float
    nx: int
    ny: int
    entries: np.ndarray
    """Grid indices, cell after cell."""
    cell_start: np.ndarray
    cell_count: np.ndarray


def _bucket_raster(bounds: np.ndarray) -> _Raster | None:
    """The raster of :func:`_bucket_candidates` over the grids' ``bounds``; None when one does not fit.

    The raster has square cells of a quarter of the median bounding-box side. A grid is
    listed in every cell its box touches (both ends included).
    """
    n_grids = len(bounds)
    if n_grids == 0 or not np.isfinite(bounds).all():
        return None
    sides = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    size = float(np.median(sides)) / 4
    if not size > 0:
        return None
    ox, oy = bounds[:, 0].min(), bounds[:, 1].min()
    nx = int((bounds[:, 2].max() - ox) // size) + 1
    ny = int((bounds[:, 3].max() - oy) // size) + 1
    i0, i1 = ((bounds[:, 0] - ox) // size).astype(np.int64), ((bounds[:, 2] - ox) // size).astype(np.int64)
    j0, j1 = ((bounds[:, 1] - oy) // size).astype(np.int64), ((bounds[:, 3] - oy) // size).astype(np.int64)
    per_grid = (i1 - i0 + 1) * (j1 - j0 + 1)
    if nx * ny > _MAX_CELLS_PER_GRID * n_grids or per_grid.sum() > _MAX_CELLS_PER_GRID * n_grids:
        return None
    # every (cell, grid) entry: expand each grid's block of cells
    grid_of = np.repeat(np.arange(n_grids), per_grid)
    k = np.arange(len(grid_of)) - np.repeat(np.cumsum(per_grid) - per_grid, per_grid)
    width = (i1 - i0 + 1)[grid_of]
    cell_of = (j0[grid_of] + k // width) * nx + (i0[grid_of] + k % width)
    order = np.argsort(cell_of, kind="stable")
    cell_count = np.bincount(cell_of, minlength=nx * ny)
    return _Raster(ox=float(ox), oy=float(oy), size=size, nx=nx, ny=ny, entries=grid_of[order],
                   cell_start=np.cumsum(cell_count) - cell_count, cell_count=cell_count)


def _bucket_candidates(xy: np.ndarray, raster: _Raster) -> tuple[np.ndarray, np.ndarray]:
    """(point, grid) pairs whose raster cell the grid's bounding box reaches.

    A point looks in the one cell it falls in, found with the same arithmetic as the
    grids' cells, so a point on a box edge still meets the box.
    """
    r = raster
    pi = (xy[:, 0] - r.ox) // r.size
    pj = (xy[:, 1] - r.oy) // r.size
    inside = (pi >= 0) & (pi < r.nx) & (pj >= 0) & (pj < r.ny)
    points = np.flatnonzero(inside)
    cells = pj[inside].astype(np.int64) * r.nx + pi[inside].astype(np.int64)
    count = r.cell_count[cells]
    point_idx = np.repeat(points, count)
    first = np.repeat(r.cell_start[cells] - (np.cumsum(count) - count), count)
    grid_idx = r.entries[first + np.arange(len(point_idx))]
    return point_idx, grid_idx


def _outline_edges(polygons: np.ndarray) -> np.ndarray:
    """The edges of the polygons as 2-point lines, without the edges two polygons share."""
    rings = shapely.get_rings(shapely.orient_polygons(shapely.get_parts(polygons)))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    # an edge is shared when the reverse edge is also present (exact coordinates, as in a coverage)
    forward = pd.MultiIndex.from_arrays([start[:, 0], start[:, 1], end[:, 0], end[:, 1]])
    backward = pd.MultiIndex.from_arrays([end[:, 0], end[:, 1], start[:, 0], start[:, 1]])
    keep = ~backward.isin(forward) & (start != end).any(axis=1)
    if not keep.any():  # degenerate input: fall back to every edge
        keep = np.ones(len(start), dtype=bool)
    return shapely.linestrings(np.stack([start[keep], end[keep]], axis=1))


# --------------------------------------------------------------------------- reading


def read_points(
    path: PathLike,
    *,
    layer: str | None = None,
    input_coords: CoordSystem = "wgs84",
    assume_crs: Any = None,
    role: str = "points",
    text_fields: Sequence[str] = TEXT_FIELDS,
    geometry: Literal["any", "point"] = "any",
) -> gpd.GeoDataFrame:
    """Read components or incidents from any format :func:`gridkit.io.read_layer` reads.

    A CSV needs lon/lat columns (or a WKT column); codes and ids stay text: the fields
    named in ``text_fields``, and any column of digits with a leading zero or 12 digits
    or more, are read as strings (``"0101"`` stays ``"0101"``).

    Parameters
    ----------
    path
        GeoPackage, Shapefile, GeoJSON, GeoParquet or CSV.
    layer
        The layer of a GeoPackage holding several.
    input_coords
        ``"gcj02"`` (Amap) or ``"bd09"`` (Baidu) lon/lat are converted to WGS84.
    assume_crs
        The CRS of a file that declares none (CSV: EPSG:4326 unless given).
    role
        What the points are, for messages ("incidents").
    text_fields
        Fields always read as text from a CSV.
    geometry
        ``"point"`` refuses any feature that is not a Point or MultiPoint (a
        :class:`~gridkit.errors.GeometryTypeError` naming them), as ``gridkit attach`` does;
        ``"any"`` keeps what the file holds.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed as :func:`gridkit.io.read_layer` indexes (GeoPackage fid, else row number).
    """
    from gridkit.io import read_layer

    return read_layer(path, layer=layer, geometry=geometry, role=role, input_coords=input_coords,
                      assume_crs=assume_crs, text_fields=text_fields)
