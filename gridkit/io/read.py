"""Read any layer gridkit takes in, checked at the door.

:func:`read_layer` reads GeoPackage, Shapefile (GBK or UTF-8 attributes, :mod:`gridkit.io.shapefile`),
GeoJSON, GeoParquet, KML, CSV (lon/lat columns or a WKT column, :mod:`gridkit.io.csv`) and
OSM XML, and checks what every later step relies on (:mod:`gridkit.io.checks`): features
present, a CRS, no missing geometries, coordinates the CRS can hold
(:mod:`gridkit.io.coords`), the expected geometry type, valid geometries (repaired,
never dropped) and the required fields. Each problem raises an error of
:mod:`gridkit.errors` naming the file, the feature ids and the field, with a hint on how
to fix it.

Examples
--------
>>> import tempfile, geopandas, shapely
>>> from gridkit.io.write import write_layers
>>> folder = Path(tempfile.mkdtemp())
>>> grids = geopandas.GeoDataFrame({"name": ["朝阳"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
>>> write_layers(folder / "out.gpkg", {"grids": grids}).name
'out.gpkg'
>>> back = read_layer(folder / "out.gpkg", geometry="polygon", required_fields=["name"])
>>> back.loc[1, "name"], back.attrs["repaired"]
('朝阳', 0)
"""

from __future__ import annotations

import importlib
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS

from gridkit._types import PathLike
from gridkit.errors import (
    DependencyError,
    EmptyLayerError,
    GeometryTypeError,
    InputDataError,
    InputFileError,
    ParameterError,
)
from gridkit.io._request import (
    OSM_KINDS,
    SUPPORTED_READ,
    GeometryKind,
    OsmKind,
    ReadResult,
    Request,
    check_exists,
    file_format,
    make_request,
    reader_key,
    single_layer_name,
    single_layer_only,
)
from gridkit.io.checks import validate
from gridkit.io.csv import read_csv_layer
from gridkit.io.shapefile import shapefile_encoding

__all__ = ["SUPPORTED_READ", "file_format", "list_layers", "preferred_layer", "read_layer"]

logger = logging.getLogger(__name__)

_OSM_BY_GEOMETRY = {"line": "streets", "polygon": "buildings", "point": "components"}
# a GeoJSON that names its CRS does so before its features: GDAL and QGIS write "crs" first
_GEOJSON_HEAD_BYTES = 1 << 16
_GEOJSON_CRS = re.compile(rb'"crs"\s*:')
_WGS84 = CRS.from_epsg(4326)
#: Formats that say nothing of their CRS: WGS84 lon/lat by definition or by gridkit's default.
_CRS_IMPLIED = (".csv", ".kml")


def read_layer(
    path: PathLike,
    *,
    layer: str | None = None,
    geometry: GeometryKind = "any",
    required_fields: Sequence[str] = (),
    assume_crs: Any = None,
    input_coords: str = "wgs84",
    osm_kind: OsmKind | None = None,
    role: str | None = None,
    text_fields: Sequence[str] = (),
    field_options: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer of a file and check it is fit for gridkit.

    Parameters
    ----------
    path
        A GeoPackage, Shapefile, GeoJSON, GeoParquet, CSV, KML or OSM XML file, chosen by
        its extension (see :data:`SUPPORTED_READ`).
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
        replaces a declared CRS only when that is geographic and the coordinates cannot
        be longitude/latitude (metres in a file that says EPSG:4490, a GeoJSON of
        projected coordinates). CSV files are EPSG:4326 unless given.
    input_coords
        ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu) for lon/lat data in those
        shifted systems: converted to WGS84 when the file declares no CRS of its own
        (CSV, KML, a GeoJSON whose ``crs`` is absent or WGS84, a file read with ``assume_crs``).
        ``"gcj02:NAME,NAME"`` applies to the inputs named by role or file name only,
        whatever they declare. A file that declares its CRS and is not named is read as
        it says (a warning says so): a boundary file in CGCS2000 is never shifted.
    osm_kind
        For OSM files, which features to build: ``"streets"``, ``"buildings"`` or
        ``"components"``. By default chosen from ``geometry`` (line, polygon, point).
    role
        What the layer is for, in words ("boundaries", "buildings"), used in messages.
    text_fields
        CSV fields always kept as text (names in any case), besides the columns that
        look like codes (a leading zero, or 12 digits or more).
    field_options
        For the message of a missing required field: the option that renames it, by
        field (``{"code": "--code-field"}``). Boundaries default to ``--code-field``.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by feature id as the file knows it: the fid of a GeoPackage, otherwise the
        0-based row number (GeoParquet keeps the index it stored). ``attrs`` holds
        ``source`` (the path), ``repaired`` (how many invalid geometries were repaired),
        ``crs_assumed``, ``crs_declared``, ``crs_replaced`` (the declared CRS, when
        ``assume_crs`` replaced it), ``coords_converted`` (``"gcj02"``, ``"bd09"`` or None)
        and, for Shapefile and CSV, ``encoding`` and ``encoding_from``.

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
    req = make_request(path, layer, geometry, required_fields, assume_crs, input_coords, osm_kind, role,
                       text_fields, field_options)
    gdf, attrs = _READERS[reader_key(req.fmt)](req)
    declared = bool(attrs.pop("crs_declared", req.fmt not in _CRS_IMPLIED))
    gdf, checked = validate(gdf, req, declared=declared)
    gdf.attrs.update({"source": str(req.path), **attrs, **checked})
    logger.info(
        "read %d features from %s%s (CRS %s, %d repaired)",
        len(gdf), req.path, f" layer {req.layer!r}" if req.layer else "", gdf.crs.to_string(),
        checked["repaired"],
    )
    return gdf


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
    check_exists(path)
    if reader_key(fmt) == ".osm":
        return list(OSM_KINDS)
    if fmt in (".csv", ".parquet", ".geoparquet"):
        return [single_layer_name(path, fmt)]
    return [str(name) for name, _ in _ogr_layers(path, fmt)]


def preferred_layer(path: PathLike, layer: str | None, *, preferred: str = "grids") -> str | None:
    """The layer to read from ``path``: ``layer`` when given, else ``preferred`` when the file has it.

    This is how every verb reads "the grids": a ``grids.gpkg`` written by ``gridkit
    partition`` holds grids, buildings, units and communities, and the grids are meant.
    """
    if layer is not None:
        return layer
    return preferred if preferred in list_layers(path) else None



# --- GeoPackage, Shapefile, GeoJSON: through pyogrio


def _read_gpkg(req: Request) -> ReadResult:
    return _read_ogr(req, _layer_to_read(req), fid_as_index=True, encoding=None), {}


def _read_geojson(req: Request) -> ReadResult:
    gdf = _read_ogr(req, _layer_to_read(req), fid_as_index=False, encoding=None)
    return gdf, {"crs_declared": _geojson_names_crs(req.path, gdf)}


def _geojson_names_crs(path: Path, gdf: gpd.GeoDataFrame) -> bool:
    """Whether a GeoJSON names a CRS of its own: a (pre-RFC 7946) ``crs`` member that is not WGS84 lon/lat.

    Without one, or with one restating WGS84 (GDAL and QGIS write ``CRS84``), it is lon/lat by definition.
    """
    if gdf.crs is None or gdf.crs.equals(_WGS84, ignore_axis_order=True):
        return False
    with path.open("rb") as f:
        return _GEOJSON_CRS.search(f.read(_GEOJSON_HEAD_BYTES)) is not None


def _read_kml(req: Request) -> ReadResult:
    # KML is WGS84 lon/lat by definition; Google Earth and 奥维 write heights as a third coordinate
    gdf = _read_ogr(req, _layer_to_read(req), fid_as_index=False, encoding=None)
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    gdf = gdf.set_geometry(shapely.force_2d(gdf.geometry.to_numpy()), crs=gdf.crs)
    return gdf, {}


def _read_shapefile(req: Request) -> ReadResult:
    layer = _layer_to_read(req)
    encoding, source = shapefile_encoding(req.path)
    gdf = _read_ogr(req, layer, fid_as_index=False, encoding=encoding)
    return gdf, {"encoding": encoding or "GDAL default", "encoding_from": source}


def _layer_to_read(req: Request) -> str | None:
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
    req: Request, layer: str | None, *, fid_as_index: bool, encoding: str | None
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



# --- GeoParquet


def _read_parquet(req: Request) -> ReadResult:
    single_layer_only(req)
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



# --- OSM XML


def _read_osm(req: Request) -> ReadResult:
    kind = _osm_kind(req)
    osm = importlib.import_module("gridkit.osm.features")
    reader: Callable[[Path], gpd.GeoDataFrame] = getattr(osm, f"{kind}_from_osm")
    try:
        gdf = reader(req.path)
    except (ET.ParseError, EOFError, OSError) as err:
        raise InputFileError(f"cannot be read as OSM XML: {err}", path=req.path,
                             hint="export the extract again (osmium, JOSM or overpass)") from None
    return gdf, {"osm_kind": kind}


def _osm_kind(req: Request) -> str:
    if req.osm_kind is not None:
        return req.osm_kind
    if req.layer is not None:
        if req.layer not in OSM_KINDS:
            raise InputDataError(
                f"there is no layer {req.layer!r}; an OSM file holds: {', '.join(OSM_KINDS)}", path=req.path,
                hint="give one of these names to --layer",
            )
        return req.layer
    if req.geometry in _OSM_BY_GEOMETRY:
        return _OSM_BY_GEOMETRY[req.geometry]
    raise ParameterError(
        f"an OSM file holds {', '.join(OSM_KINDS)}: say which to read", path=req.path,
        hint="pass --layer streets|buildings|components (osm_kind= in Python)",
    )


_READERS: dict[str, Callable[[Request], ReadResult]] = {
    ".gpkg": _read_gpkg,
    ".shp": _read_shapefile,
    ".geojson": _read_geojson,
    ".parquet": _read_parquet,
    ".csv": read_csv_layer,
    ".kml": _read_kml,
    ".osm": _read_osm,
}
