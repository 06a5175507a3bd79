"""CSV points: lon/lat columns (or a WKT column) into a layer, with numbers and codes typed.

CSV files come from spreadsheets and platform exports: UTF-8 (with or without BOM) or
GBK, coordinate columns under many names (``lon``, ``lng``, ``经度``…), codes with
leading zeros that must stay text. :func:`read_csv_layer` reads one into a
GeoDataFrame (EPSG:4326 unless ``--assume-crs`` says otherwise) and checks the
coordinates are numbers a longitude/latitude can be; :func:`typed_csv_columns` is the
typing rule, used by every CSV point reader.
"""

from __future__ import annotations

import codecs
import io as _stdio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gridkit.errors import EmptyLayerError, InputDataError, InputFileError, MissingFieldError
from gridkit.io._request import ReadResult, Request, single_layer_only
from gridkit.io.coords import check_lonlat

__all__ = ["LAT_NAMES", "LON_NAMES", "WKT_NAMES", "find_column", "geometries_from_wkt", "points_from_columns",
           "read_csv_layer", "typed_csv_columns"]

#: Column names taken as longitude, latitude and WKT geometry (trimmed, any case), in this order.
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
WKT_NAMES = ("wkt", "geometry", "geom")
_ROWS = " (row numbers count from 0 after the header)"


def read_csv_layer(req: Request) -> ReadResult:
    """Read the CSV file of ``req`` into points (lon/lat) or geometries (WKT); check their coordinates."""
    single_layer_only(req)
    text, encoding = _decode_text(req.path)
    try:
        df = typed_csv_columns(pd.read_csv(_stdio.StringIO(text), skipinitialspace=True, dtype=str),
                                keep_text=req.text_fields)
    except pd.errors.EmptyDataError:
        raise EmptyLayerError("the CSV file is empty", path=req.path, hint="export the data again") from None
    except pd.errors.ParserError as err:
        raise InputFileError(f"cannot be read as CSV: {err}", path=req.path,
                             hint="check the delimiter is a comma and quotes are balanced") from None
    crs = req.assume_crs or CRS.from_epsg(4326)
    wkt = find_column(df.columns, WKT_NAMES)
    gdf = _points_from_lonlat(df, crs, req) if wkt is None else _geometries_from_wkt(df, wkt, crs, req)
    return gdf, {"encoding": encoding, "encoding_from": "detected"}


_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def typed_csv_columns(df: pd.DataFrame, *, keep_text: Sequence[str] = ()) -> pd.DataFrame:
    """Numbers become numbers, but codes stay text.

    A column of digit strings is a code (kept as text, leading zeros intact) when any
    value starts with ``0`` or has 12 digits or more: category ``0101``, division code
    ``520199001001``, component id ``3205080101000001``. Other columns whose every
    non-empty value is a number become numeric (integers when none is missing); the
    columns named in ``keep_text`` (lower case) stay text whatever they hold.
    Vectorised string checks first, so text columns are never parsed as numbers.
    """
    out: dict[Any, Any] = {}
    for name in df.columns:
        col = df[name]
        text = col.astype("string").str.strip()
        filled = text.notna() & (text != "")
        n = int(filled.sum())
        if str(name).strip().lower() in keep_text or n == 0 or not bool(text[filled].str.fullmatch(_NUMBER).all()):
            out[name] = col
            continue
        values = text[filled]
        integers = bool(values.str.fullmatch(r"[+-]?\d+").all())
        if integers and bool((values.str.match(r"[+-]?0\d") | (values.str.len() >= 12)).any()):
            out[name] = col
        elif integers and n == len(col):
            out[name] = text.astype("int64").to_numpy()
        else:
            out[name] = text.where(filled).astype("float64").to_numpy()
    return pd.DataFrame(out, index=df.index)


def _decode_text(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputFileError(f"cannot be read: {err.strerror or err}", path=path,
                             hint="check the file is readable by you (its permissions)") from None
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "UTF-8"
    for codec in ("UTF-8", "GB18030"):
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise InputFileError("the text is neither UTF-8 nor GB18030/GBK", path=path,
                         hint="save the file as UTF-8")


def find_column(columns: Iterable[Any], names: Sequence[str]) -> str | None:
    """The first column whose name (trimmed, any case) is one of ``names``, in their order."""
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(str(column).strip().lower(), column)
    return next((by_name[name] for name in names if name in by_name), None)


def _points_from_lonlat(df: pd.DataFrame, crs: CRS, req: Request) -> gpd.GeoDataFrame:
    lon, lat = find_column(df.columns, LON_NAMES), find_column(df.columns, LAT_NAMES)
    if lon is None or lat is None:
        missing = "longitude" if lon is None else "latitude"
        raise MissingFieldError(
            f"no {missing} column found; the columns are: {', '.join(map(str, df.columns))}",
            path=req.path,
            hint=f"name the coordinate columns lon/lat (or lng, longitude, x, 经度 / latitude, y, 纬度), "
                 f"or give a WKT geometry column named {'/'.join(WKT_NAMES)}",
        )
    return points_from_columns(df, lon, lat, crs, path=req.path, what=req.what(), fmt=req.fmt)


def points_from_columns(df: pd.DataFrame, lon: str, lat: str, crs: CRS, *, path: Any, what: str,
                        fmt: str | None = ".csv") -> gpd.GeoDataFrame:
    """Points from the ``lon``/``lat`` columns of a CSV table, checked as every reader checks them.

    Raises :class:`~gridkit.errors.InputDataError` naming the rows whose coordinates are
    missing, not numbers, or cannot be in ``crs`` (:func:`gridkit.io.coords.check_lonlat`).
    Used by :func:`read_csv_layer` and by readers of a CSV file in chunks.
    """
    x = pd.to_numeric(df[lon], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df[lat], errors="coerce").to_numpy(dtype=float)
    field = f"{lon}/{lat}"
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise InputDataError(
            "coordinates are missing or not numbers", path=path, feature_ids=df.index[bad].tolist(),
            field=field, hint=f"fill in decimal degrees such as 116.397{_ROWS}",
        )
    points = gpd.points_from_xy(x, y)
    check_lonlat(np.asarray(points), df.index, crs, path=path, what=what, field=field, fmt=fmt,
                 note=_ROWS)
    return gpd.GeoDataFrame(df, geometry=points, crs=crs)


def _geometries_from_wkt(df: pd.DataFrame, column: str, crs: CRS, req: Request) -> gpd.GeoDataFrame:
    return geometries_from_wkt(df, column, crs, path=req.path, what=req.what(), fmt=req.fmt)


def geometries_from_wkt(df: pd.DataFrame, column: str, crs: CRS, *, path: Any, what: str,
                        fmt: str | None = ".csv") -> gpd.GeoDataFrame:
    """Geometries from the WKT ``column`` of a CSV table (dropped from the attributes), checked.

    Raises :class:`~gridkit.errors.InputDataError` naming the rows whose text is not WKT
    or whose coordinates cannot be in ``crs``.
    """
    text = df[column].astype("string").str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    values = np.array(text.astype(object), dtype=object)
    values[missing] = None
    geoms = shapely.from_wkt(values, on_invalid="ignore")
    unparsed = shapely.is_missing(geoms) & ~missing
    if unparsed.any():
        raise InputDataError(
            "the WKT text cannot be read", path=path, feature_ids=df.index[unparsed].tolist(),
            field=column, hint=f"write geometries as WKT, e.g. POINT (116.397 39.908){_ROWS}",
        )
    check_lonlat(geoms, df.index, crs, path=path, what=what, field=column, fmt=fmt, note=_ROWS)
    return gpd.GeoDataFrame(df.drop(columns=[column]), geometry=geoms, crs=crs)
