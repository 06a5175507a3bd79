"""Read any layer gridkit takes in, checked at the door; write layers and text atomically.

:func:`read_layer` reads GeoPackage, Shapefile (GBK or UTF-8 attributes), GeoJSON,
GeoParquet, CSV (lon/lat columns or a WKT column) and OSM XML, and checks what every
later step relies on: features present, a CRS, no missing geometries, the expected
geometry type, valid geometries (repaired, never dropped) and the required fields.
Each problem raises an error of :mod:`gridkit.errors` naming the file, the feature ids
and the field, with a hint on how to fix it.

:func:`write_layers`, :func:`write_text` and :func:`atomic_dir` write through a temporary
file or folder beside the target and move it into place only once it is complete, so a
crash never leaves a half-written file behind.

Examples
--------
>>> import tempfile, geopandas, shapely
>>> folder = Path(tempfile.mkdtemp())
>>> grids = geopandas.GeoDataFrame({"name": ["朝阳"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
>>> write_layers(folder / "out.gpkg", {"grids": grids}).name
'out.gpkg'
>>> back = read_layer(folder / "out.gpkg", geometry="polygon", required_fields=["name"])
>>> back.loc[1, "name"], back.attrs["repaired"]
('朝阳', 0)
"""

from __future__ import annotations

import codecs
import contextlib
import importlib
import io as _stdio
import logging
import os
import re
import secrets
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridkit._types import CoordSystem, PathLike
from gridkit.errors import (
    DependencyError,
    EmptyLayerError,
    GeometryTypeError,
    InputDataError,
    InputFileError,
    MissingCRSError,
    MissingFieldError,
    ParameterError,
    format_ids,
)

__all__ = [
    "SUPPORTED_READ",
    "SUPPORTED_WRITE",
    "atomic_dir",
    "codec_from_cpg",
    "file_format",
    "keep_dimension",
    "list_layers",
    "preferred_layer",
    "read_layer",
    "shapefile_encoding",
    "write_layers",
    "write_text",
]

logger = logging.getLogger(__name__)

GeometryKind = Literal["any", "polygon", "point", "line"]
OsmKind = Literal["streets", "buildings", "components"]

#: Extensions read by :func:`read_layer`, with the format each stands for.
SUPPORTED_READ: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".csv": "CSV",
    ".kml": "KML",
    ".osm": "OSM XML",
    ".osm.bz2": "OSM XML",
    ".osm.gz": "OSM XML",
    ".osm.pbf": "OSM PBF",
}
#: Extensions written by :func:`write_layers`, with the format each stands for.
SUPPORTED_WRITE: dict[str, str] = {
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}

_OSM_KINDS: tuple[str, ...] = get_args(OsmKind)
_OSM_BY_GEOMETRY = {"line": "streets", "polygon": "buildings", "point": "components"}
_GEOGRAPHIC_EPSG = (4326, 4490)
# shapely type ids accepted for each expected geometry, and the dimension kept on repair
_TYPE_IDS = {"point": (0, 4), "line": (1, 2, 5), "polygon": (3, 6)}
_DIMENSION = {"point": 0, "line": 1, "polygon": 2}
_LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
_LAT_NAMES = ("lat", "latitude", "y", "纬度")
_WKT_NAMES = ("wkt", "geometry", "geom")
_ROWS = "(row numbers count from 0 after the header)"
_DBF_SAMPLE_BYTES = 32 * 2**20
_SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qpj")


@dataclass(frozen=True)
class _Request:
    """What the caller of :func:`read_layer` asked for, checked and normalised."""

    path: Path
    fmt: str
    layer: str | None
    geometry: str
    required_fields: tuple[str, ...]
    assume_crs: CRS | None
    input_coords: str
    osm_kind: str | None
    role: str | None
    text_fields: tuple[str, ...] = ()

    def what(self) -> str:
        """The layer in words for messages: ``the buildings layer 'b'``."""
        text = f"the {self.role} layer" if self.role else "the layer"
        return f"{text} {self.layer!r}" if self.layer and self.fmt == ".gpkg" else text


# ----------------------------------------------------------------------------- reading


def read_layer(
    path: PathLike,
    *,
    layer: str | None = None,
    geometry: GeometryKind = "any",
    required_fields: Sequence[str] = (),
    assume_crs: Any = None,
    input_coords: CoordSystem = "wgs84",
    osm_kind: OsmKind | None = None,
    role: str | None = None,
    text_fields: Sequence[str] = (),
) -> gpd.GeoDataFrame:
    """Read one layer of a file and check it is fit for gridkit.

    Parameters
    ----------
    path
        A GeoPackage, Shapefile, GeoJSON, GeoParquet, CSV or OSM XML file, chosen by its
        extension (see :data:`SUPPORTED_READ`).
    layer
        The layer of a GeoPackage to read; needed when it holds several. For an OSM file
        it may name the kind of features instead of ``osm_kind``.
    geometry
        The geometry the caller needs: ``"polygon"``, ``"line"``, ``"point"`` (their
        multi-part forms included) or ``"any"``.
    required_fields
        Attribute fields that must be present.
    assume_crs
        The CRS of a file that declares none (anything :class:`pyproj.CRS` accepts). It
        never overrides a CRS the file declares. CSV files are EPSG:4326 unless given.
    input_coords
        ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu) for lon/lat data in those
        shifted systems: they are converted to WGS84.
    osm_kind
        For OSM files, which features to build: ``"streets"``, ``"buildings"`` or
        ``"components"``. By default chosen from ``geometry`` (line, polygon, point).
    role
        What the layer is for, in words ("boundaries", "buildings"), used in messages.
    text_fields
        CSV fields always kept as text (names in any case), besides the columns that
        look like codes (a leading zero, or 12 digits or more).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by feature id as the file knows it: the fid of a GeoPackage, otherwise the
        0-based row number (GeoParquet keeps the index it stored). ``attrs`` holds
        ``source`` (the path), ``repaired`` (how many invalid geometries were repaired),
        ``crs_assumed`` and, for Shapefile and CSV, ``encoding`` and ``encoding_from``.

    Raises
    ------
    InputFileError
        The file is missing or cannot be read.
    InputDataError
        The data breaks a rule; the subclasses :class:`~gridkit.errors.EmptyLayerError`,
        :class:`~gridkit.errors.MissingCRSError`, :class:`~gridkit.errors.GeometryTypeError`
        and :class:`~gridkit.errors.MissingFieldError` name the rule.
    ParameterError
        An option is invalid.
    """
    req = _request(path, layer, geometry, required_fields, assume_crs, input_coords, osm_kind, role, text_fields)
    gdf, attrs = _READERS[_reader_key(req.fmt)](req)
    gdf, checked = _validate(gdf, req)
    gdf.attrs.update({"source": str(req.path), **attrs, **checked})
    logger.info(
        "read %d features from %s%s (CRS %s, %d repaired)",
        len(gdf), req.path, f" layer {req.layer!r}" if req.layer else "", gdf.crs.to_string(),
        checked["repaired"],
    )
    return gdf


def file_format(path: PathLike) -> str:
    """The extension gridkit reads ``path`` by, e.g. ``".gpkg"`` or ``".osm.bz2"``.

    Raises
    ------
    InputDataError
        The extension is not one gridkit reads; the message lists those it does.

    Examples
    --------
    >>> file_format("roads.OSM.bz2")
    '.osm.bz2'
    """
    name = Path(path).name.lower()
    for ext in sorted(SUPPORTED_READ, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    if name.endswith(".pbf"):
        raise InputDataError(
            "a .pbf file is read as OSM PBF only when its name ends in .osm.pbf", path=path,
            hint="rename it to NAME.osm.pbf if it is an OpenStreetMap extract",
        )
    raise InputDataError(
        f"the file type {Path(path).suffix or '(no extension)'!r} is not supported",
        path=path, hint=f"use one of {', '.join(SUPPORTED_READ)}",
    )


def list_layers(path: PathLike) -> list[str]:
    """Names of the layers :func:`read_layer` can read from ``path``.

    A GeoPackage lists its layers; an OSM file holds ``streets``, ``buildings`` and
    ``components``; every other format holds one layer, named after the file.

    Raises
    ------
    InputFileError
        The file is missing or cannot be opened.
    """
    path = Path(path)
    fmt = file_format(path)
    _check_exists(path)
    if _reader_key(fmt) == ".osm":
        return list(_OSM_KINDS)
    if fmt in (".csv", ".parquet", ".geoparquet"):
        return [_single_layer_name(path, fmt)]
    return [str(name) for name, _ in _ogr_layers(path, fmt)]


def preferred_layer(path: PathLike, layer: str | None, *, preferred: str = "grids") -> str | None:
    """The layer to read from ``path``: ``layer`` when given, else ``preferred`` when the file has it.

    This is how every verb reads "the grids": a ``grids.gpkg`` written by ``gridkit
    partition`` holds grids, buildings, units and communities, and the grids are meant.
    """
    if layer is not None:
        return layer
    return preferred if preferred in list_layers(path) else None


def _request(
    path: PathLike,
    layer: str | None,
    geometry: str,
    required_fields: Sequence[str],
    assume_crs: Any,
    input_coords: str,
    osm_kind: str | None,
    role: str | None,
    text_fields: Sequence[str] = (),
) -> _Request:
    _check_choice("geometry", geometry, get_args(GeometryKind))
    _check_choice("input_coords", input_coords, get_args(CoordSystem))
    if osm_kind is not None:
        _check_choice("osm_kind", osm_kind, _OSM_KINDS)
    if isinstance(required_fields, str):
        required_fields = (required_fields,)
    path = Path(path)
    fmt = file_format(path)
    _check_exists(path)
    return _Request(
        path=path, fmt=fmt, layer=layer, geometry=geometry, required_fields=tuple(required_fields),
        assume_crs=_parse_crs(assume_crs), input_coords=input_coords, osm_kind=osm_kind, role=role,
        text_fields=tuple(str(f).strip().lower() for f in text_fields),
    )


def _check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _parse_crs(value: Any) -> CRS | None:
    if value is None:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError as err:
        raise ParameterError(
            f"{value!r} is not a CRS gridkit understands ({err})",
            hint="give an EPSG code such as EPSG:4326, EPSG:4490 or EPSG:4547",
        ) from None


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputFileError("the file does not exist", path=path,
                             hint="check the path and the current folder")
    if path.is_dir():
        raise InputFileError("this is a folder, not a file", path=path, hint="give the path of a file in it")


_READER_ALIASES = {".json": ".geojson", ".geoparquet": ".parquet", ".osm.bz2": ".osm", ".osm.gz": ".osm",
                   ".osm.pbf": ".osm"}


def _reader_key(fmt: str) -> str:
    return _READER_ALIASES.get(fmt, fmt)


_ReadResult = tuple[gpd.GeoDataFrame, dict[str, Any]]


# --- GeoPackage, Shapefile, GeoJSON: through pyogrio


def _read_gpkg(req: _Request) -> _ReadResult:
    return _read_ogr(req, _layer_to_read(req), fid_as_index=True, encoding=None), {}


def _read_geojson(req: _Request) -> _ReadResult:
    return _read_ogr(req, _layer_to_read(req), fid_as_index=False, encoding=None), {}


def _read_kml(req: _Request) -> _ReadResult:
    # KML is WGS84 lon/lat by definition; Google Earth and 奥维 write heights as a third coordinate
    gdf = _read_ogr(req, _layer_to_read(req), fid_as_index=False, encoding=None)
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.to_numpy()), crs=gdf.crs)
    return gdf, {}


def _read_shapefile(req: _Request) -> _ReadResult:
    layer = _layer_to_read(req)
    encoding, source = shapefile_encoding(req.path)
    gdf = _read_ogr(req, layer, fid_as_index=False, encoding=encoding)
    return gdf, {"encoding": encoding or "GDAL default", "encoding_from": source}


def _layer_to_read(req: _Request) -> str | None:
    """The layer name to read, after checking it exists; None when the file has one layer."""
    layers = _ogr_layers(req.path, req.fmt)
    names = [str(name) for name, _ in layers]
    listing = ", ".join(f"{name} ({kind or 'no geometry'})" for name, kind in layers)
    if not names:
        raise EmptyLayerError("the file holds no layers", path=req.path, hint="export the data again")
    if req.layer is None:
        if len(names) > 1:
            raise InputDataError(
                f"the file holds {len(names)} layers: {listing}", path=req.path,
                hint=f"choose one with --layer NAME (layer= in Python), e.g. --layer {names[0]}",
            )
        return None
    if req.layer not in names:
        raise InputDataError(
            f"there is no layer {req.layer!r}; the file holds: {listing}", path=req.path,
            hint="give one of these names to --layer (layer names are case-sensitive)",
        )
    return req.layer


def _ogr_layers(path: Path, fmt: str) -> list[tuple[str, str | None]]:
    try:
        return [(str(name), kind) for name, kind in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as err:
        raise _unreadable(path, fmt, err) from None


def _read_ogr(
    req: _Request, layer: str | None, *, fid_as_index: bool, encoding: str | None
) -> gpd.GeoDataFrame:
    try:
        gdf = pyogrio.read_dataframe(req.path, layer=layer, fid_as_index=fid_as_index, encoding=encoding)
    except UnicodeDecodeError as err:
        raise InputDataError(
            f"text fields cannot be decoded as {encoding} ({err.reason})", path=req.path,
            hint="fix or delete the .cpg file beside the .shp so gridkit detects the encoding",
        ) from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.CRSError) as err:
        raise _unreadable(req.path, req.fmt, err) from None
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise GeometryTypeError(
            f"{req.what()} has no geometry column: it is a plain table", path=req.path,
            hint="choose a layer with geometries (see 'gridkit inspect FILE')",
        )
    return gdf


def _unreadable(path: Path, fmt: str, err: Exception) -> InputFileError:
    hint = "check the file opens in QGIS; export it again if it does not"
    if fmt == ".shp":
        hint = "a Shapefile is several files (.shp, .shx, .dbf, .prj, .cpg): keep them together; " + hint
    return InputFileError(f"cannot be read as {SUPPORTED_READ[fmt]}: {err}", path=path, hint=hint)


# --- Shapefile encodings


def shapefile_encoding(path: PathLike) -> tuple[str | None, str]:
    """The encoding of a Shapefile's attributes, and where it was learnt.

    The ``.cpg`` file beside the ``.shp`` decides when gridkit understands it. Otherwise
    the text fields of the ``.dbf`` are decoded as UTF-8, then as GBK and GB18030; the
    first that decodes wins.

    Returns
    -------
    tuple
        The encoding (a Python codec name, or None to leave it to GDAL) and its source:
        ``".cpg"``, ``"detected"`` or ``"default"``.
    """
    path = Path(path)
    cpg = _sidecar(path, ".cpg")
    if cpg is not None:
        declared = cpg.read_bytes().decode("ascii", errors="replace").strip()
        codec = codec_from_cpg(declared)
        if codec is not None:
            return codec, ".cpg"
        logger.warning("%s: the .cpg names an unknown encoding %r; detecting it instead", cpg, declared)
    dbf = _sidecar(path, ".dbf")
    sample = _dbf_text_bytes(dbf) if dbf is not None else b""
    for codec in ("UTF-8", "GBK", "GB18030"):
        if _decodes(sample, codec):
            return codec, "detected"
    return None, "default"


def codec_from_cpg(text: str) -> str | None:
    """The Python codec a ``.cpg`` file names, or None when gridkit does not know it.

    Examples
    --------
    >>> codec_from_cpg("ANSI 936"), codec_from_cpg("65001"), codec_from_cpg("88591"), codec_from_cpg("GBK")
    ('cp936', 'UTF-8', 'ISO-8859-1', 'GBK')
    """
    text = text.strip()
    match = re.fullmatch(r"(?:ANSI\s*|CP|WINDOWS-?)?(\d+)", text, flags=re.IGNORECASE)
    if match:
        number = match.group(1)
        if number == "65001":
            return "UTF-8"
        iso = number.startswith("8859") and len(number) > 4
        text = f"ISO-8859-{number[4:]}" if iso else f"cp{number}"
    try:
        codecs.lookup(text)
    except LookupError:
        return None
    return text


def _sidecar(path: Path, ext: str) -> Path | None:
    for candidate in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if candidate.is_file():
            return candidate
    return None


def _dbf_text_bytes(dbf: Path) -> bytes:
    """The bytes of the field names and character fields of a .dbf (a sample of large files)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return b""
        header_len = int.from_bytes(head[8:10], "little")
        record_len = int.from_bytes(head[10:12], "little")
        descriptors = f.read(max(header_len - 32, 0))
        count = max(_DBF_SAMPLE_BYTES // max(record_len, 1), 1) * record_len
        records = np.fromfile(f, dtype=np.uint8, count=count)
    fields = _dbf_fields(descriptors)
    names = b" ".join(name for name, _, _ in fields)
    widths = np.array([width for _, _, width in fields], dtype=np.int64)
    is_text = np.array([kind == b"C" for _, kind, _ in fields], dtype=bool)
    n_records = len(records) // record_len if record_len else 0
    if n_records == 0 or not is_text.any() or widths.sum() + 1 != record_len:
        return names
    starts = 1 + np.concatenate([[0], np.cumsum(widths)[:-1]])
    spans = zip(starts[is_text], widths[is_text], strict=True)
    columns = np.concatenate([np.arange(start, start + width) for start, width in spans])
    table = records[: n_records * record_len].reshape(n_records, record_len)
    return names + b" " + table[:, columns].tobytes()


def _dbf_fields(descriptors: bytes) -> list[tuple[bytes, bytes, int]]:
    """(name, type, width) of each field descriptor of a .dbf header."""
    fields = []
    for start in range(0, len(descriptors) - 31, 32):
        item = descriptors[start:start + 32]
        if item[0] == 0x0D:
            break
        fields.append((item[:11].split(b"\0", 1)[0], item[11:12], item[16]))
    return fields


def _decodes(data: bytes, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)()
    try:
        decoder.decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


# --- GeoParquet


def _read_parquet(req: _Request) -> _ReadResult:
    _single_layer_only(req)
    try:
        importlib.import_module("pyarrow")
    except ImportError:
        raise DependencyError(
            "reading GeoParquet needs the pyarrow package", path=req.path, hint="pip install pyarrow",
        ) from None
    try:
        gdf = gpd.read_parquet(req.path)
    except (ValueError, OSError, TypeError) as err:
        raise InputFileError(
            f"cannot be read as GeoParquet: {err}", path=req.path,
            hint="write it with geopandas' to_parquet or 'gdal vector convert'; "
                 "a plain Parquet table has no geometry",
        ) from None
    return gdf, {}


def _single_layer_name(path: Path, fmt: str) -> str:
    return path.name[: -len(fmt)]


def _single_layer_only(req: _Request) -> None:
    if req.layer is not None and req.layer != _single_layer_name(req.path, req.fmt):
        raise ParameterError(
            f"{SUPPORTED_READ[req.fmt]} files hold one layer; there is no layer {req.layer!r}",
            path=req.path, hint="leave out --layer",
        )


# --- CSV


def _read_csv(req: _Request) -> _ReadResult:
    _single_layer_only(req)
    text, encoding = _decode_text(req.path)
    try:
        df = _typed_csv_columns(pd.read_csv(_stdio.StringIO(text), skipinitialspace=True, dtype=str),
                                keep_text=req.text_fields)
    except pd.errors.EmptyDataError:
        raise EmptyLayerError("the CSV file is empty", path=req.path, hint="export the data again") from None
    except pd.errors.ParserError as err:
        raise InputFileError(f"cannot be read as CSV: {err}", path=req.path,
                             hint="check the delimiter is a comma and quotes are balanced") from None
    crs = req.assume_crs or CRS.from_epsg(4326)
    wkt = _find_column(df.columns, _WKT_NAMES)
    gdf = _points_from_lonlat(df, crs, req) if wkt is None else _geometries_from_wkt(df, wkt, crs, req)
    return gdf, {"encoding": encoding, "encoding_from": "detected"}


_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"


def _typed_csv_columns(df: pd.DataFrame, *, keep_text: Sequence[str] = ()) -> pd.DataFrame:
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
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "UTF-8"
    for codec in ("UTF-8", "GB18030"):
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise InputFileError("the text is neither UTF-8 nor GB18030/GBK", path=path,
                         hint="save the file as UTF-8")


def _find_column(columns: Iterable[Any], names: Sequence[str]) -> str | None:
    """The first column whose name (trimmed, any case) is one of ``names``, in their order."""
    by_name: dict[str, str] = {}
    for column in columns:
        by_name.setdefault(str(column).strip().lower(), column)
    return next((by_name[name] for name in names if name in by_name), None)


def _points_from_lonlat(df: pd.DataFrame, crs: CRS, req: _Request) -> gpd.GeoDataFrame:
    lon, lat = _find_column(df.columns, _LON_NAMES), _find_column(df.columns, _LAT_NAMES)
    if lon is None or lat is None:
        missing = "longitude" if lon is None else "latitude"
        raise MissingFieldError(
            f"no {missing} column found; the columns are: {', '.join(map(str, df.columns))}",
            path=req.path,
            hint=f"name the coordinate columns lon/lat (or lng, longitude, x, 经度 / latitude, y, 纬度), "
                 f"or give a WKT geometry column named {'/'.join(_WKT_NAMES)}",
        )
    x = pd.to_numeric(df[lon], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df[lat], errors="coerce").to_numpy(dtype=float)
    field = f"{lon}/{lat}"
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise InputDataError(
            "coordinates are missing or not numbers", path=req.path, feature_ids=df.index[bad].tolist(),
            field=field, hint=f"fill in decimal degrees such as 116.397 {_ROWS}",
        )
    if crs.is_geographic:
        _check_lonlat_range(_out_of_lonlat(x, y), df.index, field, req)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x, y), crs=crs)


def _out_of_lonlat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (np.abs(x) > 180) | (np.abs(y) > 90)


def _check_lonlat_range(bad: np.ndarray, index: pd.Index, field: str, req: _Request) -> None:
    if bad.any():
        raise InputDataError(
            "coordinates are out of range for longitude/latitude (-180..180, -90..90)",
            path=req.path, feature_ids=index[bad].tolist(), field=field,
            hint="check longitude and latitude are not swapped; for projected coordinates pass "
                 f"--assume-crs with their CRS {_ROWS}",
        )


def _geometries_from_wkt(df: pd.DataFrame, column: str, crs: CRS, req: _Request) -> gpd.GeoDataFrame:
    text = df[column].astype("string").str.strip()
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    values = np.array(text.astype(object), dtype=object)
    values[missing] = None
    geoms = shapely.from_wkt(values, on_invalid="ignore")
    unparsed = shapely.is_missing(geoms) & ~missing
    if unparsed.any():
        raise InputDataError(
            "the WKT text cannot be read", path=req.path, feature_ids=df.index[unparsed].tolist(),
            field=column, hint=f"write geometries as WKT, e.g. POINT (116.397 39.908) {_ROWS}",
        )
    if crs.is_geographic:
        bounds = shapely.bounds(geoms)
        bad = _out_of_lonlat(bounds[:, 0], bounds[:, 1]) | _out_of_lonlat(bounds[:, 2], bounds[:, 3])
        _check_lonlat_range(bad, df.index, column, req)
    return gpd.GeoDataFrame(df.drop(columns=[column]), geometry=geoms, crs=crs)


# --- OSM XML


def _read_osm(req: _Request) -> _ReadResult:
    kind = _osm_kind(req)
    osm = importlib.import_module("gridkit.osm.features")
    reader: Callable[[Path], gpd.GeoDataFrame] = getattr(osm, f"{kind}_from_osm")
    try:
        gdf = reader(req.path)
    except (ET.ParseError, EOFError, OSError) as err:
        raise InputFileError(f"cannot be read as OSM XML: {err}", path=req.path,
                             hint="export the extract again (osmium, JOSM or overpass)") from None
    return gdf, {"osm_kind": kind}


def _osm_kind(req: _Request) -> str:
    if req.osm_kind is not None:
        return req.osm_kind
    if req.layer is not None:
        if req.layer not in _OSM_KINDS:
            raise InputDataError(
                f"there is no layer {req.layer!r}; an OSM file holds: {', '.join(_OSM_KINDS)}", path=req.path,
                hint="give one of these names to --layer",
            )
        return req.layer
    if req.geometry in _OSM_BY_GEOMETRY:
        return _OSM_BY_GEOMETRY[req.geometry]
    raise ParameterError(
        f"an OSM file holds {', '.join(_OSM_KINDS)}: say which to read", path=req.path,
        hint="pass --layer streets|buildings|components (osm_kind= in Python)",
    )


_READERS: dict[str, Callable[[_Request], _ReadResult]] = {
    ".gpkg": _read_gpkg,
    ".shp": _read_shapefile,
    ".geojson": _read_geojson,
    ".parquet": _read_parquet,
    ".csv": _read_csv,
    ".kml": _read_kml,
    ".osm": _read_osm,
}


# ----------------------------------------------------------------------------- validation


def _validate(gdf: gpd.GeoDataFrame, req: _Request) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Check a freshly read layer; return it (repaired, CRS set, converted) and facts for attrs."""
    if len(gdf) == 0:
        raise EmptyLayerError(f"{req.what()} has no features", path=req.path,
                              hint="check you chose the right file and layer")
    _check_fields(gdf, req)
    gdf, assumed = _with_crs(gdf, req)
    values = gdf.geometry.to_numpy()
    _check_present(values, gdf.index, req)
    _check_types(values, gdf.index, req)
    fixed, invalid = _repair(values, gdf.index, req)
    if invalid.any():
        gdf = gdf.set_geometry(gpd.GeoSeries(fixed, index=gdf.index, crs=gdf.crs))
        logger.warning(
            "%s: repaired %d invalid %s in %s (features %s)",
            req.path, int(invalid.sum()), "geometry" if invalid.sum() == 1 else "geometries", req.what(),
            format_ids(gdf.index[invalid]),
        )
    gdf = _to_wgs84(gdf, req)
    return gdf, {"repaired": int(invalid.sum()), "crs_assumed": assumed}


def _check_fields(gdf: gpd.GeoDataFrame, req: _Request) -> None:
    existing = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    missing = [f for f in req.required_fields if f not in gdf.columns]
    if not missing:
        return
    lower = {c.lower(): c for c in existing}
    near = [f"{lower[f.lower()]!r} for {f!r}" for f in missing if f.lower() in lower]
    hint = "rename the field in the file, or tell gridkit its name (e.g. --households-field)"
    if near:
        hint = f"field names are case-sensitive: did you mean {', '.join(near)}? Otherwise {hint}"
    raise MissingFieldError(
        f"{req.what()} lacks the required field{'s' if len(missing) > 1 else ''} "
        f"{', '.join(map(repr, missing))}; its fields are: {', '.join(existing) or '(none)'}",
        path=req.path, field=", ".join(missing), hint=hint,
    )


def _with_crs(gdf: gpd.GeoDataFrame, req: _Request) -> tuple[gpd.GeoDataFrame, bool]:
    if gdf.crs is None:
        if req.assume_crs is None:
            raise MissingCRSError(
                f"{req.what()} has no coordinate reference system", path=req.path,
                hint="pass --assume-crs with the CRS the coordinates are in (e.g. --assume-crs EPSG:4490), "
                     "or add a .prj / define the CRS in QGIS",
            )
        return gdf.set_crs(req.assume_crs), True
    if req.assume_crs is not None and not gdf.crs.equals(req.assume_crs) and req.fmt != ".csv":
        logger.warning("%s: the file declares %s; --assume-crs %s is not used",
                       req.path, gdf.crs.to_string(), req.assume_crs.to_string())
    return gdf, False


def _check_present(values: np.ndarray, index: pd.Index, req: _Request) -> None:
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if missing.any():
        raise InputDataError(
            f"{req.what()} has features without a geometry (null or empty)", path=req.path,
            feature_ids=index[missing].tolist(), field="geometry",
            hint="draw or delete these features; gridkit does not drop them for you",
        )


def _check_types(values: np.ndarray, index: pd.Index, req: _Request) -> None:
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


_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


def _repair(values: np.ndarray, index: pd.Index, req: _Request) -> tuple[np.ndarray, np.ndarray]:
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


def _to_wgs84(gdf: gpd.GeoDataFrame, req: _Request) -> gpd.GeoDataFrame:
    if req.input_coords == "wgs84":
        return gdf
    if gdf.crs.to_epsg() not in _GEOGRAPHIC_EPSG:
        raise ParameterError(
            f"--input-coords {req.input_coords} applies to longitude/latitude data, "
            f"but {req.what()} is in {gdf.crs.to_string()}",
            path=req.path,
            hint="leave out --input-coords, or give the lon/lat file as it came from Amap/Baidu",
        )
    convert_coords = importlib.import_module("gridkit.crs").convert_coords
    return convert_coords(gdf, source=req.input_coords, target="wgs84")


# ----------------------------------------------------------------------------- writing


def write_layers(
    path: PathLike,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    encoding: str | None = None,
) -> Path:
    """Write layers to a file atomically: all of it appears, or nothing changes.

    Parameters
    ----------
    path
        The file to write; its extension chooses the format (see :data:`SUPPORTED_WRITE`).
        A GeoPackage holds any number of layers; the other formats take exactly one. An
        existing file is replaced.
    layers
        Layer name to GeoDataFrame, in the order to write. A GeoPackage keeps an integer
        index as the feature id (fid); another index is written as a field when named.
    encoding
        Shapefile only: the attribute encoding, UTF-8 by default; a ``.cpg`` file records
        it. Pass ``"GBK"`` for software that expects it.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    ext = _write_format(path)
    _check_layers(path, ext, layers, encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _staging_dir(path) as staging:
        target = staging / path.name
        for name, gdf in layers.items():
            _WRITERS[ext](gdf, target, name, encoding)
        _move_written(staging, path, ext)
    logger.info("wrote %d layer(s) to %s: %s", len(layers), path, ", ".join(layers))
    return path


def write_text(path: PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write text to a file atomically (through a temporary file beside it).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temp, "x", encoding=encoding, newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%d characters)", path, len(text))
    return path


@contextlib.contextmanager
def atomic_dir(outdir: PathLike) -> Iterator[Path]:
    """Write a folder's files atomically: into a temporary folder, moved in on success.

    Yields a temporary folder beside ``outdir``. When the block ends without error its
    files are moved into ``outdir`` (created if needed; files of the same name are
    replaced, others kept). When the block raises, the temporary folder is removed and
    ``outdir`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with atomic_dir(out) as tmp:
    ...     _ = (tmp / "report.md").write_text("# ok")
    >>> sorted(p.name for p in out.iterdir())
    ['report.md']
    """
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ParameterError("the output folder is a file", path=outdir, hint="choose another -o folder")
    outdir.parent.mkdir(parents=True, exist_ok=True)
    with _staging_dir(outdir) as staging:
        yield staging
        outdir.mkdir(exist_ok=True)
        _merge_into(staging, outdir)
    logger.info("wrote folder %s", outdir)


def _write_format(path: Path) -> str:
    name = path.name.lower()
    for ext in sorted(SUPPORTED_WRITE, key=len, reverse=True):
        if name.endswith(ext):
            return ext
    raise ParameterError(
        f"cannot write {path.suffix or 'files without an extension'!r}", path=path,
        hint=f"use one of {', '.join(SUPPORTED_WRITE)}",
    )


def _check_layers(path: Path, ext: str, layers: Mapping[str, gpd.GeoDataFrame], encoding: str | None) -> None:
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


def _write_gpkg(gdf: gpd.GeoDataFrame, target: Path, name: str, encoding: str | None) -> None:
    # DATETIME as the GeoPackage standard writes it (…T08:30:00.000Z): GDAL reads it without a warning
    pyogrio.write_dataframe(_frame_for_ogr(gdf, keep_fid=True), target, layer=name, driver="GPKG",
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


_WRITERS: dict[str, Callable[[gpd.GeoDataFrame, Path, str, str | None], None]] = {
    ".gpkg": _write_gpkg,
    ".shp": _write_shapefile,
    ".geojson": _write_geojson,
    ".json": _write_geojson,
    ".parquet": _write_parquet,
    ".geoparquet": _write_parquet,
}


@contextlib.contextmanager
def _staging_dir(path: Path) -> Iterator[Path]:
    """A temporary folder beside ``path``, removed afterwards whatever happens."""
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_written(staging: Path, path: Path, ext: str) -> None:
    """Move the files written in ``staging`` to ``path`` (a Shapefile's sidecars too)."""
    written = [p for p in staging.iterdir() if p.is_file()]
    for file in written:
        with open(file, "rb") as f:
            os.fsync(f.fileno())
    if ext == ".shp":
        names = {p.name for p in written}
        for sidecar in _SHAPEFILE_SIDECARS:
            for stale in (path.with_suffix(sidecar), path.with_suffix(sidecar.upper())):
                if stale.name not in names and stale.is_file():
                    stale.unlink()
    main = staging / path.name
    for file in written:
        if file != main:
            os.replace(file, path.parent / file.name)
    os.replace(main, path)


def _merge_into(source: Path, target: Path) -> None:
    """Move everything in ``source`` into ``target``, replacing entries of the same name."""
    for entry in source.iterdir():
        dest = target / entry.name
        if entry.is_dir() and dest.is_dir():
            _merge_into(entry, dest)
            continue
        if dest.is_dir():
            shutil.rmtree(dest)
        os.replace(entry, dest)
