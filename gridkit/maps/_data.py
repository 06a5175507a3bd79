"""Data preparation for maps: lon/lat for display, GeoJSON properties, bounded point sets."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.crs import wgs84_to_gcj02
from gridkit.errors import EmptyLayerError, GeometryTypeError, InputDataError, MissingCRSError, ParameterError
from gridkit.maps.labels import Lang, has_label, label
from gridkit.times import local_times

# 7 decimals of a degree is about 1 cm: enough for any map, and a third shorter than full precision
_DECIMALS = 7
_TIME_FIELDS = ("reported_at", "time", "timestamp", "datetime", "date", "registered_at")
_M_PER_DEG = 111_320.0


def for_display(layer: gpd.GeoDataFrame, *, role: str, coords: str = "wgs84",
                kinds: Sequence[str] = (), notes: list[str] | None = None, lang: Lang = "zh",
                decimals: int = _DECIMALS) -> gpd.GeoDataFrame:
    """The layer in lon/lat (EPSG:4326), optionally shifted to GCJ-02, coordinates rounded to ``decimals``.

    Rows without geometry stay in the table but cannot be drawn: ``notes`` gets a line
    saying how many (6 decimals are about 0.1 m, 5 about 1 m).
    """
    if not isinstance(layer, gpd.GeoDataFrame):
        raise ParameterError(f"the {role} must be a GeoDataFrame, got {type(layer).__name__}", field=role)
    if layer.crs is None:
        raise MissingCRSError(f"the {role} layer has no CRS", field=role,
                              hint="set one (e.g. layer.set_crs(4490)) or read it with assume_crs")
    out = layer.to_crs(4326) if layer.crs.to_epsg() != 4326 else layer.copy()
    for column in out.columns:  # times stored in UTC (GeoPackage datetimes) are shown in local time
        if column != out.geometry.name and getattr(out[column].dtype, "tz", None) is not None:
            out[column] = local_times(out[column], field=str(column))
    if kinds:
        types = shapely.get_type_id(out.geometry.to_numpy())
        allowed = {"point": (0, 4), "line": (1, 5), "polygon": (3, 6)}
        ok = np.isin(types, [t for k in kinds for t in allowed[k]]) | (types < 0) | shapely.is_empty(
            out.geometry.to_numpy())
        if not ok.all():
            raise GeometryTypeError(f"the {role} layer holds {', '.join(sorted(set(out.geom_type[~ok])))} "
                                    f"geometries; a map draws {' or '.join(kinds)}s here",
                                    feature_ids=list(out.index[~ok]), field=role)
    undrawn = int((out.geometry.isna() | out.geometry.is_empty).sum())
    if undrawn and notes is not None:
        notes.append(label("undrawn", lang, layer=label(role, lang) if has_label(role) else role, n=undrawn))
    shift = coords == "gcj02"

    def move(xy: np.ndarray) -> np.ndarray:
        if shift and len(xy):
            lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            xy = np.column_stack([lon, lat])
        return np.round(xy, decimals)

    out.geometry = shapely.transform(out.geometry.to_numpy(), move)
    return out


def require_rows(layer: gpd.GeoDataFrame, role: str) -> None:
    if len(layer) == 0:
        raise EmptyLayerError(f"the {role} layer has no features", field=role)


def to_geojson(layer: gpd.GeoDataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with plain-JSON properties (NaN as null, numbers rounded)."""
    props = pd.DataFrame(index=layer.index)
    for col in columns:
        props[col] = _json_values(layer[col])
    drawn = layer.geometry.notna() & ~layer.geometry.is_empty
    geoms = shapely.to_geojson(layer.geometry[drawn].to_numpy())
    records = props[drawn].to_dict("records")
    shapes = json.loads("[" + ",".join(geoms.tolist()) + "]")  # one parse, not one per feature
    features = [{"type": "Feature", "properties": rec, "geometry": g}
                for rec, g in zip(records, shapes, strict=True)]
    return {"type": "FeatureCollection", "features": features}


def _json_values(values: pd.Series) -> list[Any]:
    if pd.api.types.is_bool_dtype(values):
        return [None if pd.isna(v) else bool(v) for v in values]
    if pd.api.types.is_integer_dtype(values):
        return [None if pd.isna(v) else int(v) for v in values]
    if pd.api.types.is_float_dtype(values):
        return [None if not np.isfinite(v) else (int(v) if float(v).is_integer() else round(float(v), 3))
                for v in values.astype(float)]
    return [None if _missing(v) else str(v) for v in values]


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def numeric_fields(layer: gpd.GeoDataFrame) -> list[str]:
    """The numeric, non-boolean attribute fields of a layer."""
    return [str(c) for c in layer.columns if c != layer.geometry.name and pd.api.types.is_numeric_dtype(layer[c])
            and not pd.api.types.is_bool_dtype(layer[c])]


def even_sample(n: int, cap: int) -> np.ndarray:
    """Positions of at most ``cap`` of ``n`` rows, evenly spread (deterministic)."""
    if n <= cap:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, cap).round().astype(np.intp))


def time_field(layer: pd.DataFrame, wanted: str | None) -> str | None:
    if wanted is not None:
        if wanted not in layer.columns:
            raise ParameterError(f"no time field {wanted!r} in the layer", field=wanted,
                                 hint=f"fields: {', '.join(map(str, layer.columns))}")
        return wanted
    return next((f for f in _TIME_FIELDS if f in layer.columns), None)


def drawable_times(values: pd.Series, *, field: str) -> pd.Series:
    """Naive local times (China Standard Time) read by :func:`gridkit.times.local_times`.

    A map draws what it can: values that are not times become NaT here (the caller
    counts them in the map's notes) instead of stopping the whole map, as they stop
    the heatmap. Every value that is a time means exactly what it means to the heatmap.
    """
    at = values.reset_index(drop=True)
    try:
        times = local_times(at, field=field)
    except InputDataError as err:
        # the error names every row that is not a time: those are the NaT, the rest is parsed as it is
        times = local_times(at.mask(at.index.isin(err.feature_ids)), field=field)
    times.index = values.index
    return times


def week_starts(times: pd.Series) -> pd.Series:
    """The Monday 00:00 of each timestamp's ISO week."""
    return (times - pd.to_timedelta(times.dt.day_of_week, unit="D")).dt.normalize()


def cell_size_deg(cell_m: float, lat: float) -> tuple[float, float]:
    """Cell width and height in degrees for a square of ``cell_m`` metres at latitude ``lat``."""
    return cell_m / (_M_PER_DEG * max(math.cos(math.radians(lat)), 0.01)), cell_m / _M_PER_DEG


def bin_points(lon: np.ndarray, lat: np.ndarray, keys: np.ndarray | None, *, cell_m: float
               ) -> pd.DataFrame:
    """Count points per square cell of about ``cell_m`` metres (and per key, when given).

    Returns columns ``key`` (when given), ``lon``, ``lat`` (the mean of the points in the
    cell, so a lone point stays where it is) and ``count``.
    """
    w, h = cell_size_deg(cell_m, float(np.nanmean(lat)) if len(lat) else 0.0)
    frame = pd.DataFrame({"ix": np.floor(lon / w).astype(np.int64), "iy": np.floor(lat / h).astype(np.int64),
                          "lon": lon, "lat": lat})
    by = ["ix", "iy"]
    if keys is not None:
        frame["key"] = keys
        by = ["key", *by]
    out = frame.groupby(by, sort=True).agg(lon=("lon", "mean"), lat=("lat", "mean"), count=("lon", "size"))
    return out.reset_index().drop(columns=["ix", "iy"])
