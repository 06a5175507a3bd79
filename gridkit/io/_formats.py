"""The format writers behind :func:`gridkit.io.write_layers`: GeoPackage, Shapefile, GeoJSON, GeoParquet.

Each writes one layer into a file inside a staging folder; :mod:`gridkit.io.write` checks
the layers first and moves the file into place.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridkit.errors import DependencyError, ParameterError

__all__ = ["SUPPORTED_WRITE", "WRITERS", "check_layers", "write_format"]

#: Extensions written by :func:`write_layers`, with the format each stands for.
SUPPORTED_WRITE: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}


def write_format(path: Path) -> str:
    name = path.name.lower()
    for ext in sorted(SUPPORTED_WRITE, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    raise ParameterError(
        f"cannot write {path.suffix or 'files without an extension'!r}", path=path,
        hint=f"use one of {', '.join(SUPPORTED_WRITE)}",
    )


def check_layers(path: Path, ext: str, layers: Mapping[str, gpd.GeoDataFrame], encoding: str | None) -> None:
    if not layers:
        raise ParameterError("no layers to write", path=path)
    if ext != ".gpkg" and len(layers) != 1:
        raise ParameterError(
            f"a {SUPPORTED_WRITE[ext]} file holds one layer, got {len(layers)}: {', '.join(layers)}",
            path=path, hint="write a .gpkg, or one file per layer",
        )
    if encoding is not None and ext != ".shp":
        raise ParameterError(f"{SUPPORTED_WRITE[ext]} text is always UTF-8", path=path,
                             hint="leave out encoding")
    for name, gdf in layers.items():
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise ParameterError(f"layer {name!r} is a {type(gdf).__name__}, not a GeoDataFrame", path=path)
        if gdf.crs is None:
            raise ParameterError(f"layer {name!r} has no CRS", path=path,
                                 hint="set one with .set_crs() first")


def _frame_for_ogr(gdf: gpd.GeoDataFrame, *, keep_fid: bool) -> gpd.GeoDataFrame:
    """The frame to hand to pyogrio: an integer index as fid (GeoPackage), a named index as a field."""
    index = gdf.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
    if default:
        return gdf
    integer = pd.api.types.is_integer_dtype(index) and index.is_unique
    as_fid = keep_fid and integer and index.name in (None, "fid")
    if as_fid and "fid" not in gdf.columns:
        return gdf.reset_index(names="fid")
    if index.name is not None and index.name not in gdf.columns:
        return gdf.reset_index()
    return gdf.reset_index(drop=True)


def _utc_datetimes(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Time-zone aware datetime columns (and columns of aware Timestamps) in UTC, as GeoPackage stores them."""
    changed = {}
    for name in gdf.columns:
        if name == gdf.geometry.name:
            continue
        column = gdf[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            if str(column.dtype.tz) != "UTC":
                changed[name] = column.dt.tz_convert("UTC")
        elif column.dtype == object:
            filled = column.dropna()
            if len(filled) and all(isinstance(v, pd.Timestamp) and v.tzinfo is not None for v in filled):
                changed[name] = pd.to_datetime(column, utc=True)
    return gdf.assign(**changed) if changed else gdf


def _write_gpkg(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    # DATETIME as the GeoPackage standard writes it (UTC, …T08:30:00.000Z): GDAL reads it without a warning
    frame = _utc_datetimes(_frame_for_ogr(gdf, keep_fid=True))
    pyogrio.write_dataframe(frame, target, layer=name, driver="GPKG",
                            layer_options={"DATETIME_PRECISION": "MILLISECOND"})


def _write_shapefile(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    frame = _frame_for_ogr(gdf, keep_fid=False)
    pyogrio.write_dataframe(frame, target, driver="ESRI Shapefile", encoding=encoding or "UTF-8")


def _write_geojson(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    pyogrio.write_dataframe(_frame_for_ogr(gdf, keep_fid=False), target, layer=name, driver="GeoJSON")


def _write_parquet(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise DependencyError("writing GeoParquet needs the pyarrow package",
                              hint="pip install pyarrow") from None
    gdf.to_parquet(target)


WRITERS: dict[str, Callable[[gpd.GeoDataFrame, Path, str, str | None], None]] = {
    ".gpkg": _write_gpkg,
    ".shp": _write_shapefile,
    ".geojson": _write_geojson,
    ".json": _write_geojson,
    ".parquet": _write_parquet,
    ".geoparquet": _write_parquet,
}
