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
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.crs import local_crs
from gridkit.errors import InputDataError, MissingCRSError, MissingFieldError, ParameterError

__all__ = [
    "OUTSIDE",
    "attach_points",
    "read_points",
]

log = logging.getLogger(__name__)

#: The grid and community code given to points outside every grid.
OUTSIDE = ""

InputCoords = Literal["wgs84", "gcj02", "bd09"]
StrPath = str | PathLike[str]

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
    text = values.astype("string").str.strip().str.replace(r"(?<=\d)\.0*$", "", regex=True)
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

    The same pairs as ``STRtree.query(geoms, predicate="intersects")``, found faster for
    points: bounding-box candidates from the tree, then one vectorised test against
    prepared copies of the grids (point-in-polygon in logarithmic time).
    """
    grid_geoms = shapely.from_wkb(shapely.to_wkb(grid_geoms))  # copies: preparing must not touch the caller's
    shapely.prepare(grid_geoms)
    point_idx, grid_idx = shapely.STRtree(grid_geoms).query(geoms)
    # test the pairs grid by grid: the prepared polygon stays in cache (several times faster)
    by_grid = np.argsort(grid_idx.astype(np.uint16 if len(grid_geoms) <= 2**16 else np.uint32), kind="stable")
    point_idx, grid_idx = point_idx[by_grid], grid_idx[by_grid]
    if (shapely.get_type_id(geoms) == 0).all():
        xy = shapely.get_coordinates(geoms)
        hit = shapely.intersects_xy(grid_geoms[grid_idx], xy[point_idx, 0], xy[point_idx, 1])
    else:
        hit = shapely.intersects(grid_geoms[grid_idx], geoms[point_idx])
    return point_idx[hit], grid_idx[hit]


def _distances(geoms: np.ndarray, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Distance in metres from each geometry to the nearest grid, in the grids' local CRS."""
    crs = local_crs(grids)
    local_grids = grids.geometry.to_crs(crs).to_numpy()
    local_points = gpd.GeoSeries(geoms, crs=grids.crs).to_crs(crs).to_numpy()
    tree = shapely.STRtree(local_grids)
    (point_idx, _), dist = tree.query_nearest(local_points, return_distance=True, all_matches=False)
    out = np.full(len(geoms), np.inf)
    np.minimum.at(out, point_idx, dist)
    return out


# --------------------------------------------------------------------------- reading


def read_points(
    path: StrPath,
    *,
    layer: str | None = None,
    input_coords: InputCoords = "wgs84",
    assume_crs: Any = None,
    role: str = "points",
    text_fields: Sequence[str] = _TEXT_FIELDS,
) -> gpd.GeoDataFrame:
    """Read components or incidents from any format :func:`gridkit.io.read_layer` reads.

    A CSV needs lon/lat columns (or a WKT column); codes and ids stay text: the fields
    named in ``text_fields``, and any column of digits with a leading zero or more than
    15 digits, are read as strings (``"0101"`` stays ``"0101"``).

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
    from gridkit.io import file_format, read_layer

    gdf = read_layer(path, layer=layer, role=role, input_coords=input_coords, assume_crs=assume_crs)
    if file_format(path) == ".csv":
        gdf = _csv_text_fields(gdf, Path(path), text_fields)
    return gdf


def _csv_text_fields(gdf: gpd.GeoDataFrame, path: Path, text_fields: Sequence[str]) -> gpd.GeoDataFrame:
    """Replace numeric-looking code columns of a CSV by their text as written."""
    import io as _stdio

    data = path.read_bytes()
    encoding = str(gdf.attrs.get("encoding", "UTF-8"))
    text = data.decode("utf-8-sig" if encoding.upper() == "UTF-8" else encoding)
    raw = pd.read_csv(_stdio.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    raw.index = gdf.index
    wanted = {f.lower() for f in text_fields}
    for column in gdf.columns:
        if column == gdf.geometry.name or column not in raw.columns:
            continue
        values = raw[column].str.strip()
        if str(column).strip().lower() in wanted:
            gdf[column] = values.replace("", pd.NA).astype("str")
            continue
        if pd.api.types.is_numeric_dtype(gdf[column]) and _looks_like_codes(values):
            gdf[column] = values.replace("", pd.NA).astype("str")
    return gdf


def _looks_like_codes(values: pd.Series) -> bool:
    filled = values[values != ""]
    if filled.empty or not filled.str.fullmatch(r"\d+").all():
        return False
    return bool(filled.str.match(r"0\d").any() or (filled.str.len() > 15).any())
