"""Layers to the files other software needs: GeoPackage, Shapefile, GeoJSON, GeoParquet, KML, CSV.

:func:`export_layer` writes one layer, :func:`export_layers` several, each atomically:
every file appears (a Shapefile with all its sidecar files), or nothing changes.

- **Shapefile**: attributes in UTF-8 or GBK with a ``.cpg`` naming the encoding. Field
  names are cut to 10 bytes by the documented table ``gridkit/tables/field_names.csv``
  (:func:`field_table`), never by GDAL's silent truncation; a name the table does not
  know gets a deterministic unique short name. ``<name>_fields.csv`` beside the file
  maps every field to its name in the file and its type, and :func:`read_exported`
  uses it to restore names and types. Date/time fields are written as ISO text; text
  over 254 bytes is cut at a character boundary and reported; one geometry type per
  file (``split_geometry=True`` writes one file per type).
- **GeoJSON** per RFC 7946: WGS84 lon/lat, 7 decimals, counterclockwise exteriors, no
  ``crs`` member.
- **GeoParquet** with the CRS in its metadata; **KML** (GDAL's LIBKML driver) with a
  label per feature and the attributes as ExtendedData; **CSV** with a WKT column
  (plus ``lon``/``lat`` for points), UTF-8, UTF-8 with a BOM for Excel, or GBK.
- ``to_crs`` takes EPSG codes, PROJ strings and ``"gcj02"``/``"bd09"`` (Amap, Baidu):
  those coordinates are labelled WGS84 in the file, and a ``<name>_coords.txt`` note
  beside it says which they are.
- ``fields="zh"`` writes the Chinese field names of the table (网格编码, 户数, ...).

Examples
--------
>>> import tempfile, geopandas, shapely
>>> grids = geopandas.GeoDataFrame(
...     {"grid_code": ["520199001001001"], "community_name": ["文昌社区"], "households": [302]},
...     geometry=[shapely.box(106.61, 26.46, 106.62, 26.47)], crs=4490)
>>> folder = Path(tempfile.mkdtemp())
>>> export_layer(grids, folder / "grids.shp", format="shp", encoding="gbk", fields="zh").name
'grids.shp'
>>> sorted(p.name for p in folder.iterdir())
['grids.cpg', 'grids.dbf', 'grids.prj', 'grids.shp', 'grids.shx', 'grids_fields.csv']
>>> back = read_exported(folder / "grids.shp")
>>> back.loc[0, "community_name"], int(back.loc[0, "households"])
('文昌社区', 302)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import geopandas as gpd
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridkit._types import CoordSystem, PathLike
from gridkit.crs import convert_coords
from gridkit.errors import OutputError, ParameterError
from gridkit.export import files as files_
from gridkit.export import prepare as prep
from gridkit.export.field_names import field_table
from gridkit.io import read_layer

__all__ = [
    "FORMATS",
    "ExportSummary",
    "export_layer",
    "export_layers",
    "field_table",
    "format_from_path",
    "read_exported",
    "target_crs",
]

logger = logging.getLogger(__name__)

ExportFormat = Literal["gpkg", "shp", "geojson", "parquet", "kml", "csv"]
Encoding = Literal["utf-8", "gbk"]
FieldNames = Literal["en", "zh"]

#: Each format and the file extensions it is written with (the first is the default).
FORMATS: dict[str, tuple[str, ...]] = {
    "gpkg": (".gpkg",),
    "shp": (".shp",),
    "geojson": (".geojson", ".json"),
    "parquet": (".parquet", ".geoparquet"),
    "kml": (".kml",),
    "csv": (".csv",),
}
_MULTI_LAYER = ("gpkg", "kml")
_LONLAT_ONLY = ("geojson", "kml")
_WGS84 = CRS.from_epsg(4326)
_SHIFTED = {"gcj02": "gcj02", "gcj": "gcj02", "amap": "gcj02",
            "bd09": "bd09", "bd09ll": "bd09", "baidu": "bd09"}


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_layers` wrote.

    Attributes
    ----------
    format
        The format written.
    files
        Every file written, data files first.
    layers
        Features written per layer.
    crs
        The CRS the files declare.
    coords
        The coordinates actually in the files: ``"wgs84"`` (meaning: as declared),
        ``"gcj02"`` or ``"bd09"``.
    encoding
        The text encoding of the attributes.
    renamed
        Per layer, the fields whose name in the file differs from the layer's.
    warnings
        What the format could not keep (text cut to 254 bytes, ...), for the user.
    """

    format: str
    files: tuple[Path, ...]
    layers: dict[str, int]
    crs: str
    coords: str
    encoding: str
    renamed: dict[str, dict[str, str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def export_layer(
    gdf: gpd.GeoDataFrame,
    path: PathLike,
    *,
    format: ExportFormat,
    to_crs: Any = None,
    encoding: Encoding = "utf-8",
    fields: FieldNames = "en",
    excel: bool = False,
    split_geometry: bool = False,
    layer: str | None = None,
    field_names: PathLike | None = None,
) -> Path:
    """Write one layer to ``path`` in ``format``, atomically.

    Parameters
    ----------
    gdf
        The layer, with a CRS.
    path
        The file to write, with the format's extension (see :data:`FORMATS`), or an
        existing folder to write ``<layer>.<ext>`` into.
    format
        ``"gpkg"``, ``"shp"``, ``"geojson"``, ``"parquet"``, ``"kml"`` or ``"csv"``.
    to_crs
        The CRS to write in: an EPSG code (``4490``, ``"EPSG:4549"``), a PROJ string,
        or ``"gcj02"``/``"bd09"`` for Amap/Baidu lon/lat. Default: the layer's CRS
        (GeoJSON and KML are always WGS84 lon/lat).
    encoding
        Text encoding of Shapefile and CSV attributes: ``"utf-8"`` or ``"gbk"``.
    fields
        ``"en"``: the layer's field names; ``"zh"``: the Chinese names of the table.
    excel
        CSV only: UTF-8 with a byte-order mark, so Excel shows Chinese text.
    split_geometry
        Shapefile only: write a layer of mixed points, lines and polygons as one file
        per type (``<name>_points.shp``, ...) instead of raising an error.
    layer
        The layer name inside the file (GeoPackage, KML, GeoJSON ``name``); by default
        the file's name without extension.
    field_names
        A city's own field-name table (the layout of :func:`field_table`).

    Returns
    -------
    pathlib.Path
        The data file written (the first one when a Shapefile is split by type).

    Raises
    ------
    ParameterError
        An unknown format or CRS, an option the format does not take, a path with the
        wrong extension.
    GeometryTypeError
        Mixed geometry types for a Shapefile without ``split_geometry``.
    InputDataError
        Text a GBK file cannot hold.
    """
    path = Path(path)
    if layer is None:
        source = gdf.attrs.get("source") if isinstance(gdf, gpd.GeoDataFrame) else None
        layer = path.stem if not path.is_dir() else Path(source).stem if source else "layer"
    options = {"to_crs": to_crs, "encoding": encoding, "fields": fields, "excel": excel,
               "split_geometry": split_geometry, "field_names": field_names}
    summary = export_layers({layer: gdf}, path, format=format, **options)
    return summary.files[0]


def export_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: PathLike,
    *,
    format: ExportFormat,
    to_crs: Any = None,
    encoding: Encoding = "utf-8",
    fields: FieldNames = "en",
    excel: bool = False,
    split_geometry: bool = False,
    field_names: PathLike | None = None,
) -> ExportSummary:
    """Write several layers, atomically: into one file (GeoPackage, KML) or one file each.

    For GeoPackage and KML ``path`` is the file; for the formats that hold one layer a
    file (one layer) or a folder, which receives ``<layer>.<ext>`` per layer. The
    options are those of :func:`export_layer`; without ``to_crs`` every layer is written
    in the first layer's CRS.

    Returns
    -------
    ExportSummary
        The files written and what the format could not keep.

    Examples
    --------
    >>> import tempfile, geopandas, shapely
    >>> pts = geopandas.GeoDataFrame({"name_zh": ["路灯"]}, geometry=[shapely.Point(106.6, 26.5)], crs=4490)
    >>> out = Path(tempfile.mkdtemp()) / "lights.geojson"
    >>> summary = export_layers({"lights": pts}, out, format="geojson", to_crs="gcj02")
    >>> summary.crs, summary.coords, [p.name for p in summary.files]
    ('EPSG:4326', 'gcj02', ['lights.geojson', 'lights_coords.txt'])
    """
    fmt, text_encoding, language = _check_options(format, encoding, fields, excel, split_geometry)
    if not layers:
        raise ParameterError("no layers to export")
    crs, coords = target_crs(to_crs)
    if fmt in _LONLAT_ONLY:
        crs = _lonlat_only(fmt, crs, coords, to_crs)
    first = next(iter(layers.values()))
    if crs is None and coords == "wgs84" and isinstance(first, gpd.GeoDataFrame) and first.crs is not None:
        crs = CRS.from_user_input(first.crs)  # one CRS for every layer: the first layer's unless asked
    table = field_table(field_names)
    targets = _targets(Path(path), fmt, list(layers))
    prepared: dict[str, prep.Prepared] = {}
    for name, gdf in layers.items():
        frame = _project(_checked(name, gdf), crs, coords)
        prepared[name] = prep.prepare(frame, fmt=fmt, encoding=text_encoding, fields=language, table=table,
                                      layer=name)
    files: list[Path] = []
    with files_.staged(targets) as staging:
        for target, held in targets.items():
            files += files_.write_target(staging, target, {n: prepared[n] for n in held}, fmt=fmt,
                                         encoding=text_encoding, excel=excel, split_geometry=split_geometry,
                                         coords=coords)
    summary = ExportSummary(
        format=fmt, files=tuple(files), layers={n: len(layers[n]) for n in layers},
        crs=_crs_label(next(iter(prepared.values())).frame.crs), coords=coords,
        encoding=_encoding_label(fmt, text_encoding, excel),
        renamed={n: p.renamed for n, p in prepared.items() if p.renamed},
        warnings=tuple(w for p in prepared.values() for w in p.warnings),
    )
    for warning in summary.warnings:
        logger.warning("%s", warning)
    logger.info("exported %d layer(s) as %s to %s", len(layers), fmt, ", ".join(map(str, files)))
    return summary


def target_crs(value: Any) -> tuple[CRS | None, CoordSystem]:
    """Read a ``to_crs`` value: the CRS to label the file with, and the coordinates it holds.

    Examples
    --------
    >>> crs, coords = target_crs("EPSG:4549")
    >>> crs.to_epsg(), coords
    (4549, 'wgs84')
    >>> target_crs("4490")[0].to_epsg(), target_crs("GCJ-02")[1], target_crs(None)
    (4490, 'gcj02', (None, 'wgs84'))
    """
    if value is None:
        return None, "wgs84"
    if isinstance(value, str):
        text = value.strip()
        key = re.sub(r"[\s_\-]", "", text.lower())
        if key in _SHIFTED:
            shifted: CoordSystem = _SHIFTED[key]  # type: ignore[assignment]
            return _WGS84, shifted
        if text.isdigit():
            value = int(text)
    try:
        return CRS.from_user_input(value), "wgs84"
    except (CRSError, TypeError, ValueError) as err:
        raise ParameterError(
            f"{value!r} is not a CRS gridkit understands ({err})",
            hint="give an EPSG code (4490, EPSG:4326, EPSG:4549), a PROJ string, gcj02 or bd09",
        ) from None


def format_from_path(path: PathLike) -> str | None:
    """The export format an output path's extension stands for, or None.

    >>> format_from_path("out/grids.SHP"), format_from_path("grids.json"), format_from_path("grids")
    ('shp', 'geojson', None)
    """
    name = Path(path).name.lower()
    for fmt, extensions in FORMATS.items():
        if name.endswith(extensions):
            return fmt
    return None


def read_exported(path: PathLike, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a file written by :func:`export_layer` back with its fields' names and types.

    The ``<name>_fields.csv`` beside the file (Shapefile, CSV, KML, and any file with
    Chinese field names) maps the names in the file back to the layer's and gives their
    types; a file without it is read as it is. Text that a Shapefile, CSV or KML left
    empty comes back missing: those formats do not tell the two apart.

    Raises
    ------
    InputFileError
        The file is missing or cannot be read.
    """
    path = Path(path)
    fmt = format_from_path(path)
    if fmt is None:
        raise ParameterError(f"not a file gridkit exports: {path.name}", path=path,
                             hint=f"use one of {', '.join(e for x in FORMATS.values() for e in x)}")
    mapping = prep.read_mapping(files_.sidecar(path, "_fields.csv"), layer)
    if fmt == "kml":
        gdf = prep.read_kml(path, layer, mapping)
    elif fmt == "csv" and mapping is not None:
        gdf = prep.read_csv(path, mapping, files_.sidecar(path, ".prj"))
    else:
        gdf = read_layer(path, layer=layer)
    return prep.restore(gdf, mapping)


# ----------------------------------------------------------------------------- checks


def _check_options(
    format: str, encoding: str, fields: str, excel: bool, split_geometry: bool
) -> tuple[str, str, str]:
    fmt = str(format).lower().lstrip(".")
    fmt = {"shapefile": "shp", "json": "geojson", "geoparquet": "parquet", "geopackage": "gpkg"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ParameterError(f"unknown export format {format!r}", hint=f"use one of {', '.join(FORMATS)}")
    encoding = str(encoding).lower().replace("_", "-")
    encoding = {"utf8": "utf-8", "cp936": "gbk", "936": "gbk"}.get(encoding, encoding)
    if encoding not in get_args(Encoding):
        raise ParameterError(f"unknown encoding {encoding!r}", hint="use utf-8 or gbk")
    if encoding == "gbk" and fmt not in ("shp", "csv"):
        raise ParameterError(f"{fmt} text is always UTF-8; --encoding gbk is for shp and csv",
                             hint="leave out --encoding")
    if fields not in get_args(FieldNames):
        raise ParameterError(f"fields must be en or zh, got {fields!r}")
    if excel and fmt != "csv":
        raise ParameterError("--excel is for CSV files", hint="leave out --excel, or use --format csv")
    if excel and encoding == "gbk":
        raise ParameterError("--excel writes UTF-8 with a byte-order mark; it excludes --encoding gbk",
                             hint="choose one: --excel (any Excel) or --encoding gbk (older Chinese Excel)")
    if split_geometry and fmt != "shp":
        raise ParameterError("--split-geometry is for Shapefiles; other formats hold mixed geometry types",
                             hint="leave out --split-geometry")
    return fmt, encoding, fields


def _lonlat_only(fmt: str, crs: CRS | None, coords: str, asked: Any) -> CRS:
    if crs is None or coords != "wgs84" or crs.equals(_WGS84, ignore_axis_order=True):
        return _WGS84
    raise ParameterError(
        f"{fmt.upper() if fmt == 'kml' else 'GeoJSON (RFC 7946)'} is always WGS84 longitude/latitude "
        f"(EPSG:4326); cannot write it in {asked}",
        hint="leave out --to-crs (or give gcj02/bd09 for Amap/Baidu), or use --format gpkg or shp",
    )


def _checked(name: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ParameterError(f"layer {name!r} is a {type(gdf).__name__}, not a GeoDataFrame")
    if gdf.crs is None:
        raise ParameterError(f"layer {name!r} has no CRS", path=gdf.attrs.get("source"),
                             hint="set one with .set_crs() (or --assume-crs when reading)")
    return gdf


def _project(gdf: gpd.GeoDataFrame, crs: CRS | None, coords: CoordSystem) -> gpd.GeoDataFrame:
    if coords != "wgs84":
        lonlat = gdf if gdf.crs.to_epsg() in (4326, 4490) else gdf.to_crs(_WGS84)
        return convert_coords(lonlat, source="wgs84", target=coords).set_crs(_WGS84, allow_override=True)
    if crs is None or gdf.crs.equals(crs):
        return gdf
    return gdf.to_crs(crs)


def _targets(path: Path, fmt: str, names: list[str]) -> dict[Path, list[str]]:
    """Each file to write and the layers it holds."""
    extension = FORMATS[fmt][0]
    if fmt in _MULTI_LAYER or (len(names) == 1 and not path.is_dir()):
        if path.is_dir():
            raise OutputError(f"{path} is a folder; give the {fmt} file to write", path=path,
                                 hint=f"e.g. -o {path / ('layers' + extension)}")
        if format_from_path(path) != fmt:
            raise ParameterError(
                f"the output of --format {fmt} must end in {' or '.join(FORMATS[fmt])}", path=path,
                hint=f"e.g. -o {path.with_suffix(extension).name}",
            )
        return {path: names}
    if path.exists() and not path.is_dir():
        raise OutputError(f"{len(names)} layers make {len(names)} {fmt} files; give a folder, not a file",
                             path=path, hint="e.g. -o exported/")
    if format_from_path(path) is not None:
        raise ParameterError(f"a {fmt} file holds one layer; give a folder for {len(names)} layers",
                             path=path, hint=f"e.g. -o {path.with_suffix('')}")
    files = [path / (_safe_name(n) + extension) for n in names]
    twice = {f.name for f in files if files.count(f) > 1}
    if twice:
        raise ParameterError(f"layers would share the file names {', '.join(sorted(twice))}", path=path)
    return {f: [n] for f, n in zip(files, names, strict=True)}


def _safe_name(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("._") or "layer"


# ----------------------------------------------------------------------------- writing


def _crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _encoding_label(fmt: str, encoding: str, excel: bool) -> str:
    if fmt == "csv" and excel:
        return "UTF-8 with BOM"
    if fmt in ("shp", "csv"):
        return encoding.upper()
    return "UTF-8"
