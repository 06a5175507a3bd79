"""The checks every layer passes at the door, in order, before any geometry work.

Features present; the required fields (a missing one names the option that renames it);
a CRS (declared, or ``--assume-crs``); geometries present; coordinates the CRS can hold
(:mod:`gridkit.io.coords`: a geographic CRS the coordinates cannot be in is replaced by
``--assume-crs`` when given, else refused); the expected geometry type; valid
geometries (repaired with ``make_valid``, never dropped); and last the GCJ-02/BD-09
shift for the inputs ``--input-coords`` applies to.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import (
    EmptyLayerError,
    GeometryTypeError,
    InputDataError,
    MissingCRSError,
    MissingFieldError,
    ParameterError,
    format_ids,
)
from gridkit.io._request import Request
from gridkit.io.coords import check_lonlat, degrees_in_projected, impossible_lonlat

__all__ = ["keep_dimension", "validate"]

logger = logging.getLogger(__name__)

_GEOGRAPHIC_EPSG = (4326, 4490)
# shapely type ids accepted for each expected geometry, and the dimension kept on repair
_TYPE_IDS = {"point": (0, 4), "line": (1, 2, 5), "polygon": (3, 6)}
_DIMENSION = {"point": 0, "line": 1, "polygon": 2}
_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
#: The option that names a field, by the role of the layer, for the message of a missing field.
_FIELD_OPTIONS_BY_ROLE = {"boundaries": "--code-field"}


def validate(gdf: gpd.GeoDataFrame, req: Request, *, declared: bool = True
             ) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Check a freshly read layer; return it (repaired, CRS set, converted) and facts for ``attrs``.

    ``declared`` is False when the format says nothing of its CRS (CSV, KML, a GeoJSON
    without a ``crs`` member other than WGS84): those are the inputs a plain
    ``--input-coords`` applies to.
    """
    if len(gdf) == 0:
        raise EmptyLayerError(f"{req.what()} has no features", path=req.path,
                              hint="check you chose the right file and layer")
    _check_fields(gdf, req)
    gdf, assumed = _with_crs(gdf, req)
    values = gdf.geometry.to_numpy()
    _check_present(values, gdf.index, req)
    gdf, replaced = _plausible_crs(gdf, values, req, assumed)
    _check_types(values, gdf.index, req)
    fixed, invalid = _repair(values, gdf.index, req)
    if invalid.any():
        gdf = gdf.set_geometry(gpd.GeoSeries(fixed, index=gdf.index, crs=gdf.crs))
        logger.warning(
            "%s: repaired %d invalid %s in %s (features %s)",
            req.path, int(invalid.sum()), "geometry" if invalid.sum() == 1 else "geometries", req.what(),
            format_ids(gdf.index[invalid]),
        )
    gdf, converted = _to_wgs84(gdf, req, declared=declared and not assumed and replaced is None)
    facts: dict[str, Any] = {"repaired": int(invalid.sum()), "crs_assumed": assumed or replaced is not None,
                             "crs_declared": declared and not assumed, "coords_converted": converted}
    if replaced is not None:
        facts["crs_replaced"] = replaced
    return gdf, facts


def _check_fields(gdf: gpd.GeoDataFrame, req: Request) -> None:
    existing = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    missing = [f for f in req.required_fields if f not in gdf.columns]
    if not missing:
        return
    lower = {c.lower(): c for c in existing}
    near = [f"{lower[f.lower()]!r} for {f!r}" for f in missing if f.lower() in lower]
    options = dict(req.field_options or {})
    named = sorted({options[f] for f in missing if f in options})
    if not named and req.role in _FIELD_OPTIONS_BY_ROLE:
        named = [_FIELD_OPTIONS_BY_ROLE[req.role]]
    if named:
        hint = f"rename the field in the file, or tell gridkit its name with {' / '.join(named)} FIELD"
    else:
        hint = "rename the field in the file, or tell gridkit its name (the command's --…-field option)"
    if near:
        hint = f"field names are case-sensitive: did you mean {', '.join(near)}? Otherwise {hint}"
    raise MissingFieldError(
        f"{req.what()} lacks the required field{'s' if len(missing) > 1 else ''} "
        f"{', '.join(map(repr, missing))}; its fields are: {', '.join(existing) or '(none)'}",
        path=req.path, field=", ".join(missing), hint=hint,
    )


def _with_crs(gdf: gpd.GeoDataFrame, req: Request) -> tuple[gpd.GeoDataFrame, bool]:
    if gdf.crs is not None:
        return gdf, False
    if req.assume_crs is None:
        raise MissingCRSError(
            f"{req.what()} has no coordinate reference system", path=req.path,
            hint="pass --assume-crs with the CRS the coordinates are in (e.g. --assume-crs EPSG:4490), "
                 "or add a .prj / define the CRS in QGIS",
        )
    return gdf.set_crs(req.assume_crs), True


def _plausible_crs(gdf: gpd.GeoDataFrame, values: np.ndarray, req: Request, assumed: bool
                   ) -> tuple[gpd.GeoDataFrame, str | None]:
    """Coordinates the CRS can hold; ``--assume-crs`` replaces a CRS they cannot be in.

    Returns the layer and the CRS replaced (None when kept). CSV coordinates were checked
    as they were read.
    """
    assume = req.assume_crs
    replaced = None
    if (assume is not None and not assumed and not gdf.crs.equals(assume)
            and (impossible_lonlat(values, gdf.crs).any() or degrees_in_projected(values, gdf.crs))):
        replaced = gdf.crs.to_string()
        logger.warning("%s: %s says %s, but its coordinates cannot be in it; read in %s "
                       "as --assume-crs says", req.path, req.what(), replaced, assume.to_string())
        gdf = gdf.set_crs(assume, allow_override=True)
    elif assume is not None and not assumed and not gdf.crs.equals(assume) and req.fmt != ".csv":
        logger.warning("%s: the file declares %s; --assume-crs %s is not used",
                       req.path, gdf.crs.to_string(), assume.to_string())
    if req.fmt != ".csv":
        check_lonlat(values, gdf.index, gdf.crs, path=req.path, what=req.what(), fmt=req.fmt)
    return gdf, replaced


def _check_present(values: np.ndarray, index: pd.Index, req: Request) -> None:
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if missing.any():
        raise InputDataError(
            f"{req.what()} has features without a geometry (null or empty)", path=req.path,
            feature_ids=index[missing].tolist(), field="geometry",
            hint="draw or delete these features; gridkit does not drop them for you",
        )


def _check_types(values: np.ndarray, index: pd.Index, req: Request) -> None:
    if req.geometry == "any":
        return
    type_ids = shapely.get_type_id(values)
    wrong = ~np.isin(type_ids, _TYPE_IDS[req.geometry])
    if wrong.any():
        found = pd.Series(shapely.get_type_id(values[wrong])).map(_TYPE_NAMES).value_counts()
        raise GeometryTypeError(
            f"{req.what()} needs {req.geometry} geometries; found "
            f"{', '.join(f'{n} {kind}' for kind, n in found.items())}",
            path=req.path, feature_ids=index[wrong].tolist(), field="geometry",
            hint=f"use a {req.geometry} layer, or convert or delete these features",
        )


def _repair(values: np.ndarray, index: pd.Index, req: Request) -> tuple[np.ndarray, np.ndarray]:
    """Make invalid geometries valid, keeping parts of the expected dimension only.

    Returns the geometries and the mask of those repaired. A geometry with nothing of
    its dimension left after repair (a polygon of zero area) is an error, not a drop.
    """
    invalid = ~shapely.is_valid(values)
    if not invalid.any():
        return values, invalid
    bad = values[invalid]
    if req.geometry == "any":
        dims = shapely.get_dimensions(bad)
    else:
        dims = np.full(len(bad), _DIMENSION[req.geometry])
    fixed = keep_dimension(shapely.make_valid(bad, method="structure", keep_collapsed=False), dims)
    collapsed = shapely.is_missing(fixed) | shapely.is_empty(fixed)
    if collapsed.any():
        raise InputDataError(
            f"{req.what()} has invalid geometries that collapse when repaired (no area or length left)",
            path=req.path, feature_ids=index[invalid][collapsed].tolist(), field="geometry",
            hint="redraw or delete these features",
        )
    out = values.copy()
    out[invalid] = fixed
    return out, invalid


def keep_dimension(geoms: np.ndarray, dims: np.ndarray | int) -> np.ndarray:
    """Keep the parts of each geometry that have the given dimension (0 point, 1 line, 2 area).

    Collections become the multi-geometry of that dimension, a single part its plain
    geometry; a geometry with no part of the dimension becomes None.

    Examples
    --------
    >>> mixed = shapely.from_wkt("GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 0)), LINESTRING (0 0, 5 5))")
    >>> keep_dimension([mixed], 2)[0].wkt
    'POLYGON ((0 0, 1 0, 1 1, 0 0))'
    """
    geoms = np.asarray(geoms, dtype=object)
    dims = np.broadcast_to(np.asarray(dims), geoms.shape)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    parts, sub = shapely.get_parts(parts, return_index=True)
    idx = idx[sub]
    keep = (shapely.get_dimensions(parts) == dims[idx]) & ~shapely.is_empty(parts)
    out = np.full(len(geoms), None, dtype=object)
    for dim, collect in ((0, shapely.multipoints), (1, shapely.multilinestrings), (2, shapely.multipolygons)):
        chosen = keep & (dims[idx] == dim)
        if chosen.any():
            collect(parts[chosen], indices=idx[chosen], out=out)
    single = shapely.get_num_geometries(out) == 1
    out[single] = shapely.get_geometry(out[single], 0)
    return out


def _to_wgs84(gdf: gpd.GeoDataFrame, req: Request, *, declared: bool) -> tuple[gpd.GeoDataFrame, str | None]:
    """Shift GCJ-02/BD-09 lon/lat to WGS84 for the inputs ``--input-coords`` applies to.

    A plain ``--input-coords gcj02`` applies to inputs without a CRS of their own (CSV,
    KML, GeoJSON, a file read with ``--assume-crs``); ``gcj02:NAME``
    to the inputs it names. A file that declares its CRS is read as declared unless
    named: a boundary file in CGCS2000 is never shifted by accident.
    """
    if req.input_coords == "wgs84":
        return gdf, None
    if declared and not req.coords_named:
        logger.warning(
            "%s: --input-coords %s is not applied to %s: the file declares %s. If its lon/lat are %s, "
            "name it: --input-coords %s:%s", req.path, req.input_coords, req.what(), gdf.crs.to_string(),
            req.input_coords.upper(), req.input_coords, req.role or req.path.name,
        )
        return gdf, None
    if gdf.crs.to_epsg() not in _GEOGRAPHIC_EPSG:
        raise ParameterError(
            f"--input-coords {req.input_coords} applies to longitude/latitude data, "
            f"but {req.what()} is in {gdf.crs.to_string()}",
            path=req.path,
            hint="leave out --input-coords, or give the lon/lat file as it came from Amap/Baidu",
        )
    convert_coords = importlib.import_module("gridkit.crs").convert_coords
    return convert_coords(gdf, source=req.input_coords, target="wgs84"), req.input_coords
