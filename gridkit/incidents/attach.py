"""Put points (city components, incidents) into their grids, name their categories, count them per grid.

:func:`attach_points` gives every point the ``grid_code`` and ``community_code`` of the
grid it lies in, found with one STRtree query over all points at once. A point on an
edge or vertex shared by several grids goes to the grid with the smallest ``grid_code``
among those it touches, whatever the row order. Points outside every grid are kept, with
empty codes and their distance to the nearest grid in metres (``outside_m``), measured in
the local metric CRS of the grids (:func:`gridkit.crs.local_crs`).

:func:`categories_for_points` names component and incident categories from the code
tables of :mod:`gridkit.codes` (unknown codes are kept and named "unknown");
:func:`grid_stats` counts points per grid: totals, by major category, per km², per 100
households and per km of street.

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
import re
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit._types import CoordSystem, PathLike
from gridkit.crs import local_crs
from gridkit.errors import EmptyLayerError, InputDataError, MissingCRSError, MissingFieldError, ParameterError

__all__ = [
    "OUTSIDE",
    "UNKNOWN",
    "attach_points",
    "categories_for_points",
    "grid_stats",
    "read_points",
    "street_length_by_grid",
]

log = logging.getLogger(__name__)

#: The grid and community code given to points outside every grid.
OUTSIDE = ""
#: The English name given to a category code that is not in the table (Chinese: 未知).
UNKNOWN = "unknown"
UNKNOWN_ZH = "未知"

PointKind = Literal["components", "incidents"]


# fields kept as text when a CSV is read (codes and ids lose leading zeros or digits as numbers)
_TEXT_FIELDS = ("category", "component_id", "incident_id", "grid_code", "community_code", "worker_id", "id")
_CODE_LIKE = re.compile(r"^\s*\d+\s*$")


# --------------------------------------------------------------------------- attach


def attach_points(
    points: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    grid_field: str = "grid_code",
    community_field: str = "community_code",
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
    _check_crs(points, "points")
    _check_crs(grids, "grids")
    codes, communities = _grid_codes(grids, grid_field, community_field)
    geoms = _point_geometries(points, grids)
    grid_geoms = grids.geometry.to_numpy()

    # rank of each grid by its code: the smallest code wins a tie on a shared edge
    order = np.argsort(codes, kind="stable")
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes))

    point_idx, grid_idx = _intersecting_pairs(geoms, grid_geoms)
    best = np.full(len(geoms), len(codes), dtype=np.int64)  # len(codes) = outside
    np.minimum.at(best, point_idx, rank[grid_idx])
    inside = best < len(codes)
    chosen = np.where(inside, order[np.minimum(best, len(codes) - 1)], -1)

    outside_m = np.zeros(len(geoms), dtype=np.float64)
    if not inside.all():
        outside_m[~inside] = _distances(geoms[~inside], grids)

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
    return out


def _check_crs(gdf: gpd.GeoDataFrame, what: str) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ParameterError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise MissingCRSError(
            f"the {what} have no CRS", path=gdf.attrs.get("source"),
            hint="set one with .set_crs(...) (or --assume-crs on the command line)",
        )


def _grid_codes(
    grids: gpd.GeoDataFrame, grid_field: str, community_field: str
) -> tuple[np.ndarray, np.ndarray]:
    """Grid codes and community codes as text arrays, checked: present, non-empty, unique."""
    source = grids.attrs.get("source")
    if len(grids) == 0:
        raise EmptyLayerError("the grids layer has no features", path=source,
                              hint="give the grids layer of 'gridkit partition' (grids.gpkg)")
    if grid_field not in grids.columns:
        fields = ", ".join(str(c) for c in grids.columns if c != grids.geometry.name)
        raise MissingFieldError(
            f"the grids have no field {grid_field!r}; their fields are: {fields or '(none)'}",
            path=source, field=grid_field,
            hint="give the grids layer of 'gridkit partition' (grids.gpkg), or name the code field "
                 "(--grid-field / grid_field=)",
        )
    codes = _text(grids[grid_field])
    empty = codes == ""
    if empty.any():
        raise InputDataError(
            "grids without a grid code", path=source, feature_ids=list(grids.index[empty]), field=grid_field,
            hint="give every grid its code",
        )
    dup = pd.Series(codes).duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputDataError(
            f"grid codes repeat, e.g. {codes[dup][0]!r}", path=source, feature_ids=list(grids.index[dup]),
            field=grid_field, hint="one row per grid: dissolve the pieces of a grid into one (Multi)Polygon",
        )
    if community_field in grids.columns:
        communities = _text(grids[community_field])
    else:
        log.info("the grids have no %r field: community codes left empty", community_field)
        communities = np.full(len(codes), OUTSIDE, dtype=object)
    return codes, communities


def _text(values: pd.Series) -> np.ndarray:
    """A column as stripped text (``""`` for missing; no spreadsheet ``.0``)."""
    text = values.astype("string").str.strip()
    dotted = text.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
    if dotted.any():  # the regex only where it can match: it is slow over a million rows
        text[dotted] = text[dotted].str.replace(r"(?<=\d)\.0*$", "", regex=True)
    return text.fillna("").to_numpy(dtype=object)


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


def _intersecting_pairs(geoms: np.ndarray, grid_geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (point, grid) of every point that intersects a grid (edges and vertices included).

    The same pairs as ``STRtree.query(geoms, predicate="intersects")``, found faster:
    candidate grids from a bucket raster over the grids' bounding boxes (points) or the
    tree (other geometries), then one vectorised test against prepared copies of the grids
    (point-in-polygon in logarithmic time), taken grid by grid so each prepared polygon
    stays in the cache.
    """
    grid_geoms = shapely.from_wkb(shapely.to_wkb(grid_geoms))  # copies: preparing must not touch the caller's
    shapely.prepare(grid_geoms)
    points = bool((shapely.get_type_id(geoms) == 0).all())
    xy = shapely.get_coordinates(geoms) if points else None
    pairs = _bucket_candidates(xy, shapely.bounds(grid_geoms)) if xy is not None else None
    if pairs is None:
        pairs = shapely.STRtree(grid_geoms).query(geoms)
    point_idx, grid_idx = pairs
    by_grid = np.argsort(grid_idx.astype(np.uint16 if len(grid_geoms) <= 2**16 else np.uint32), kind="stable")
    point_idx, grid_idx = point_idx[by_grid], grid_idx[by_grid]
    if xy is not None:
        hit = shapely.intersects_xy(grid_geoms[grid_idx], xy[point_idx, 0], xy[point_idx, 1])
    else:
        hit = shapely.intersects(grid_geoms[grid_idx], geoms[point_idx])
    return point_idx[hit], grid_idx[hit]


# cells of the bucket raster per grid at most (else the tree is used: grids spread far apart)
_MAX_CELLS_PER_GRID = 64


def _bucket_candidates(xy: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(point, grid) pairs whose raster cell the grid's bounding box reaches; None when a raster does not fit.

    The raster has square cells of a quarter of the median bounding-box side. A grid is listed in
    every cell its box touches (both ends included) and a point looks in the one cell it
    falls in, both found with the same arithmetic, so a point on a box edge still meets it.
    """
    n_grids = len(bounds)
    sides = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    size = float(np.median(sides)) / 4
    if n_grids == 0 or not np.isfinite(bounds).all() or not size > 0:
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
    entries = grid_of[order]
    cell_count = np.bincount(cell_of, minlength=nx * ny)
    cell_start = np.cumsum(cell_count) - cell_count
    # each point: the entries of its cell
    pi = (xy[:, 0] - ox) // size
    pj = (xy[:, 1] - oy) // size
    inside = (pi >= 0) & (pi < nx) & (pj >= 0) & (pj < ny)
    points = np.flatnonzero(inside)
    cells = pj[inside].astype(np.int64) * nx + pi[inside].astype(np.int64)
    count = cell_count[cells]
    point_idx = np.repeat(points, count)
    first = np.repeat(cell_start[cells] - (np.cumsum(count) - count), count)
    grid_idx = entries[first + np.arange(len(point_idx))]
    return point_idx, grid_idx


def _distances(geoms: np.ndarray, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Distance in metres from each geometry (outside every grid) to the nearest grid, in the grids' local CRS.

    Outside the grids, the distance to the nearest grid is the distance to the outline of
    their union, so the search runs over the grids' edges less those shared by two grids
    (an edge traversed both ways by counter-clockwise rings has a grid on each side): for
    grids that tile an area only the outline is left, and the nearest-edge search is fast.
    """
    crs = _metric_crs(grids)
    edges = gpd.GeoSeries(_outline_edges(grids.geometry.to_numpy()), crs=grids.crs).to_crs(crs).to_numpy()
    local_points = gpd.GeoSeries(geoms, crs=grids.crs).to_crs(crs).to_numpy()
    tree = shapely.STRtree(edges)
    (point_idx, _), dist = tree.query_nearest(local_points, return_distance=True, all_matches=False)
    out = np.full(len(geoms), np.inf)
    np.minimum.at(out, point_idx, dist)
    return out


def _metric_crs(layer: gpd.GeoDataFrame) -> Any:
    """:func:`gridkit.crs.local_crs` of a layer; from its lon/lat bounds directly when it is geographic."""
    if layer.crs is not None and layer.crs.is_geographic:
        minx, miny, maxx, maxy = (float(v) for v in layer.total_bounds)
        if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
            return local_crs((minx, miny, maxx, maxy))
    return local_crs(layer)


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
    text_fields: Sequence[str] = _TEXT_FIELDS,
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

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed as :func:`gridkit.io.read_layer` indexes (GeoPackage fid, else row number).
    """
    from gridkit.io import read_layer

    return read_layer(path, layer=layer, role=role, input_coords=input_coords, assume_crs=assume_crs,
                      text_fields=text_fields)


# --------------------------------------------------------------------------- categories


def categories_for_points(
    points: pd.DataFrame,
    *,
    kind: PointKind,
    table: pd.DataFrame | None = None,
    category_field: str = "category",
    id_field: str = "component_id",
) -> pd.DataFrame:
    """Name the category of every component or incident, in Chinese and English.

    Parameters
    ----------
    points
        Components carry a 4-digit ``category`` (major + minor, ``"0118"``) and/or a
        16/17-digit ``component_id`` the category is read from (digits 7-10, or 7-11 in the
        new scheme); incidents carry a 4-digit ``category``. Where both are given the
        ``category`` field wins.
    kind
        ``"components"`` (部件, table :func:`gridkit.codes.component_categories`) or
        ``"incidents"`` (事件, :func:`gridkit.codes.event_categories`).
    table
        A category table of your own, with the columns of those tables.
    category_field, id_field
        The fields to read.

    Returns
    -------
    pandas.DataFrame
        A copy of ``points`` (same index) with ``category`` (text, ``""`` when there is
        none), ``major`` (its first two digits), ``category_zh``, ``category_en``,
        ``major_zh``, ``major_en`` and ``category_known`` (bool). Rows are never dropped:
        a code missing from the table is kept, its names are ``"未知"`` / ``"unknown"``
        (the major's names are still given when the major is known), and
        ``attrs["unknown_categories"]`` counts the rows per unknown code.

    Examples
    --------
    >>> frame = pd.DataFrame({"category": ["0118", "118", "9901", None],
    ...                       "component_id": [None, None, None, "5201990305000001"]})
    >>> named = categories_for_points(frame, kind="components")
    >>> named[["category", "category_en", "major_en"]].values.tolist()
    [['0118', 'street light', 'public utilities'], ['0118', 'street light', 'public utilities'], ['9901', 'unknown', 'unknown'], ['0305', 'litter bin', 'city appearance and sanitation']]
    >>> named.attrs["unknown_categories"]
    {'9901': 1}
    """
    from gridkit import codes as _codes

    if kind not in ("components", "incidents"):
        raise ParameterError(f"kind must be components or incidents, got {kind!r}")
    if table is None:
        table = _codes.component_categories() if kind == "components" else _codes.event_categories()
    category = _category_codes(points, kind, category_field, id_field)
    lookup = table.assign(code=table["code"].astype(str).str.strip()).drop_duplicates("code").set_index("code")
    major = category.str[:2].where(category.str.fullmatch(r"\d{4,5}"), "")
    out = points.copy()
    out["category"] = category
    out["major"] = major
    known = category.isin(lookup.index)
    major_known = major.isin(lookup.index)
    for column, source, index_known, key in (
        ("category_zh", "name_zh", known, category), ("category_en", "name_en", known, category),
        ("major_zh", "name_zh", major_known, major), ("major_en", "name_en", major_known, major),
    ):
        names = key.map(lookup[source]).where(index_known)
        fallback = UNKNOWN_ZH if column.endswith("_zh") else UNKNOWN
        out[column] = names.fillna(fallback).astype("str")
    out["category_known"] = known.to_numpy(dtype=bool)
    unknown = category[~known].replace("", "(none)").value_counts(sort=False)
    out.attrs["unknown_categories"] = {str(k): int(v) for k, v in unknown.sort_index().items()}
    if len(unknown):
        log.warning("%d %s with a category not in the table: %s", int(unknown.sum()), kind,
                    ", ".join(f"{k} ({v})" for k, v in out.attrs["unknown_categories"].items()))
    return out


def _category_codes(points: pd.DataFrame, kind: str, category_field: str, id_field: str) -> pd.Series:
    """The category code of each row as text: the category field, else parsed from the component id."""
    from gridkit.codes import parse_component_ids

    category = pd.Series("", index=points.index, dtype="str")
    if category_field in points.columns:
        category = pd.Series(_text(points[category_field]), index=points.index, dtype="str")
        # a code read as a number lost its leading zero: 118 -> 0118 (no major is 00)
        category = category.where(~category.str.fullmatch(r"\d{3}"), category.str.zfill(4))
    if kind == "components" and id_field in points.columns:
        ids = pd.Series(_text(points[id_field]), index=points.index, dtype="str")
        parseable = (category == "") & ids.str.fullmatch(r"\d{16,17}")
        if parseable.any():
            parsed = parse_component_ids(ids[parseable])["category"].astype("str")
            category = category.copy()
            category[parseable] = parsed
    return category


# --------------------------------------------------------------------------- per-grid counts


def grid_stats(
    grids: gpd.GeoDataFrame,
    points: pd.DataFrame,
    *,
    majors: Sequence[str] = ("01", "02", "03", "04", "05", "06"),
    grid_field: str = "grid_code",
    households_field: str = "households",
    streets: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Count attached points per grid: totals, by major category, densities.

    Parameters
    ----------
    grids
        The grid polygons, with ``grid_field`` (and ``households`` when the densities per
        household are wanted).
    points
        Points as returned by :func:`attach_points` (and :func:`categories_for_points`
        for the counts by major category). Points outside every grid are not counted
        here; :func:`attach_points` reports them.
    majors
        The major category codes to give a ``count_<major>`` column each, present or not.
    grid_field, households_field
        Fields of ``grids``.
    streets
        Street lines (any CRS) for ``street_km`` and ``per_street_km``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per grid, indexed by ``grid_code`` in code order, every grid present (zero
        counts included), in the grids' CRS: ``community_code`` (when the grids carry it),
        ``area_km2`` (in the local metric CRS), ``households`` (NaN without the field),
        ``count``, ``count_01`` … ``count_06`` (plus ``count_other`` for codes with another
        or no major: unknown categories), ``per_km2``, ``per_100_households`` (NaN for
        grids without households) and, with ``streets``, ``street_km`` (street length
        inside the grid; a street along a shared grid boundary counts for each grid it
        borders) and ``per_street_km`` (NaN without streets in the grid).

    Examples
    --------
    >>> import shapely
    >>> x, y = 500_000, 2_930_000  # CGCS2000 / 3-degree GK CM 108E, metres (easting, northing)
    >>> grids = gpd.GeoDataFrame({"grid_code": ["G2", "G1"], "households": [200, 0]},
    ...     geometry=[shapely.box(x, y, x + 1000, y + 1000), shapely.box(x + 1000, y, x + 2000, y + 1000)],
    ...     crs=4545)
    >>> pts = pd.DataFrame({"grid_code": ["G1", "G2", "G2", ""], "major": ["01", "01", "03", "01"]})
    >>> grid_stats(grids, pts)[["count", "count_01", "count_03", "per_km2", "per_100_households"]].reset_index()
      grid_code  count  count_01  count_03  per_km2  per_100_households
    0        G1      1         1         0      1.0                 NaN
    1        G2      2         1         1      2.0                 1.0
    """
    _check_crs(grids, "grids")
    codes, _ = _grid_codes(grids, grid_field, "")
    base = grids.assign(**{grid_field: codes}).set_index(grid_field).sort_index()
    base.index.name = "grid_code"
    out = gpd.GeoDataFrame(index=base.index, geometry=base.geometry, crs=grids.crs)
    if "community_code" in base.columns:
        out.insert(0, "community_code", _text(base["community_code"]))
    metric = base.geometry.to_crs(_metric_crs(grids))
    out["area_km2"] = metric.area.to_numpy() / 1e6
    if households_field in base.columns:
        out["households"] = pd.to_numeric(base[households_field], errors="coerce").to_numpy(dtype=float)
    else:
        out["households"] = np.nan
    if "grid_code" not in points.columns:
        raise ParameterError("the points carry no grid_code: attach them first (attach_points)")
    where = pd.Series(_text(points["grid_code"]), index=points.index)
    counted = where != OUTSIDE
    stray = counted & ~where.isin(out.index)
    if stray.any():
        raise InputDataError(
            "points name grid codes the grids do not have", feature_ids=list(points.index[stray]),
            field="grid_code", hint="attach the points to these grids again",
        )
    out["count"] = where[counted].value_counts().reindex(out.index, fill_value=0).astype(np.int64)
    if "major" in points.columns:
        major = pd.Series(_text(points["major"]), index=points.index)
        major = major.where(major.isin(list(majors)), "other")[counted]
        table = pd.crosstab(where[counted], major).reindex(index=out.index, fill_value=0)
        for m in majors:
            out[f"count_{m}"] = table[m].astype(np.int64) if m in table.columns else 0
        if "other" in table.columns:
            out["count_other"] = table["other"].astype(np.int64)
    out["per_km2"] = out["count"] / out["area_km2"].where(out["area_km2"] > 0)
    out["per_100_households"] = 100 * out["count"] / out["households"].where(out["households"] > 0)
    if streets is not None:
        out["street_km"] = street_length_by_grid(out, streets) / 1000
        out["per_street_km"] = out["count"] / out["street_km"].where(out["street_km"] > 0)
    return out


def street_length_by_grid(grids: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> pd.Series:
    """Length in metres of the streets inside each grid, in the grids' local metric CRS.

    A street running along an edge shared by two grids counts for both (it serves both
    sides). Indexed like ``grids``.

    Examples
    --------
    >>> import shapely
    >>> x, y = 500_000, 2_930_000  # CGCS2000 / 3-degree GK CM 108E, metres
    >>> grids = gpd.GeoDataFrame(geometry=[shapely.box(x, y, x + 100, y + 100),
    ...                                    shapely.box(x + 100, y, x + 200, y + 100)], crs=4545, index=["a", "b"])
    >>> streets = gpd.GeoDataFrame(geometry=[shapely.LineString([(x + 50, y + 50), (x + 150, y + 50)]),
    ...                                      shapely.LineString([(x + 100, y), (x + 100, y + 100)])], crs=4545)
    >>> street_length_by_grid(grids, streets).round(6).tolist()
    [150.0, 150.0]
    """
    _check_crs(streets, "streets")
    crs = _metric_crs(grids)
    g = grids.geometry.to_crs(crs).to_numpy()
    lines = streets.geometry.to_crs(crs).to_numpy()
    street_idx, grid_idx = shapely.STRtree(lines).query(g, predicate="intersects")[::-1]
    pieces = shapely.intersection(lines[street_idx], g[grid_idx])
    lengths = np.bincount(grid_idx, weights=shapely.length(pieces), minlength=len(g))
    return pd.Series(lengths, index=grids.index, name="street_m")
