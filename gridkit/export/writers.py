"""Writers behind :mod:`gridkit.export.layers`: one function per format, into a staging folder.

Each writer takes layers already prepared by :mod:`gridkit.export.layers` (projected, fields
renamed, types a format can hold) and the target path inside a staging folder; it
returns the files it created. Formats that hold one layer per file get exactly one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gridkit.io import write_layers

logger = logging.getLogger(__name__)

#: GeoJSON coordinate precision (decimal places): 1e-7 degrees is about 1 cm.
GEOJSON_PRECISION = 7
#: Name of the CSV column holding the geometry as WKT (the name gridkit.io reads).
WKT_COLUMN = "wkt"

_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")

Layers = Mapping[str, gpd.GeoDataFrame]


def write_gpkg(layers: Layers, target: Path, *, encoding: str, excel: bool) -> list[Path]:
    write_layers(target, layers)
    return [target]


def write_parquet(layers: Layers, target: Path, *, encoding: str, excel: bool) -> list[Path]:
    write_layers(target, layers)
    return [target]


def write_shp(layers: Layers, target: Path, *, encoding: str, excel: bool) -> list[Path]:
    write_layers(target, layers, encoding="GBK" if encoding == "gbk" else "UTF-8")
    files = [target.with_suffix(s) for s in _SHAPEFILE_PARTS]
    missing = [f.name for f in files if not f.is_file()]
    if missing:  # GDAL writes all of them; make sure, since a Shapefile is useless without them
        raise RuntimeError(f"GDAL did not write {', '.join(missing)} for {target.name}")
    return files


def write_geojson(layers: Layers, target: Path, *, encoding: str, excel: bool) -> list[Path]:
    """RFC 7946: EPSG:4326 lon/lat, polygons with counterclockwise exteriors, no ``crs`` member."""
    (name, frame), = layers.items()
    values = frame.geometry.to_numpy()
    frame = frame.set_geometry(gpd.GeoSeries(shapely.orient_polygons(values, exterior_cw=False),
                                             index=frame.index, crs=frame.crs))
    pyogrio.write_dataframe(
        frame, target, driver="GeoJSON", layer=name,
        layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": str(GEOJSON_PRECISION), "WRITE_NAME": "YES"},
    )
    return [target]


def write_kml(layers: Layers, target: Path, *, encoding: str, excel: bool) -> list[Path]:
    """KML through GDAL's LIBKML driver: one folder per layer, attributes as ExtendedData.

    Booleans are written as integers 0/1: GDAL's KML readers take ``true``/``false`` as 0.
    """
    for i, (name, frame) in enumerate(layers.items()):
        pyogrio.write_dataframe(_booleans_as_integers(frame), target, driver="LIBKML", layer=name, append=i > 0)
    return [target]


def _booleans_as_integers(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    flags = [c for c in frame.columns if c != frame.geometry.name and pd.api.types.is_bool_dtype(frame[c].dtype)]
    if not flags:
        return frame
    return frame.assign(**{c: frame[c].astype("Int32" if frame[c].hasnans else "int32") for c in flags})


def write_csv(layers: Layers, target: Path, *, encoding: str, excel: bool) -> list[Path]:
    """CSV: the attributes, ``lon``/``lat`` (or ``x``/``y``) for points, and the geometry as WKT.

    A ``.csvt`` file beside it gives GDAL and QGIS the column types, so codes stay text.
    """
    (_, frame), = layers.items()
    geoms = frame.geometry.to_numpy()
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if len(geoms) and np.all(shapely.get_type_id(geoms) == 0):
        x_name, y_name = ("lon", "lat") if frame.crs.is_geographic else ("x", "y")
        if x_name not in table.columns and y_name not in table.columns:
            table[x_name] = shapely.get_x(geoms)
            table[y_name] = shapely.get_y(geoms)
    table[WKT_COLUMN] = shapely.to_wkt(geoms, rounding_precision=-1)
    codec = "utf-8-sig" if excel else ("gbk" if encoding == "gbk" else "utf-8")
    with open(target, "w", encoding=codec, newline="") as handle:
        table.to_csv(handle, index=False, lineterminator="\r\n")
    csvt = target.with_suffix(".csvt")
    csvt.write_text(",".join(_csvt_type(table[c], c) for c in table.columns) + "\r\n", encoding="ascii")
    return [target, csvt]


def _csvt_type(column: pd.Series, name: str) -> str:
    dtype = column.dtype
    if name == WKT_COLUMN:
        return '"WKT"'
    if pd.api.types.is_bool_dtype(dtype):
        return '"Integer(Boolean)"'
    if pd.api.types.is_integer_dtype(dtype):
        return '"Integer64"'
    if pd.api.types.is_float_dtype(dtype):
        return '"Real"'
    return '"String"'


Writer = Callable[..., list[Path]]

WRITERS: dict[str, Writer] = {
    "gpkg": write_gpkg,
    "shp": write_shp,
    "geojson": write_geojson,
    "parquet": write_parquet,
    "kml": write_kml,
    "csv": write_csv,
}
