"""`gridkit export FILE --format F -o OUT`: write layers in the format a platform needs.

Reads the layer (or every layer) of FILE with the same checks as every verb, and writes
it with :func:`gridkit.export.export_layers`: Shapefile (UTF-8 or GBK, field names from
the documented table), GeoJSON (RFC 7946), GeoParquet, KML, CSV with WKT, GeoPackage.
Prints what was written and what the format could not keep.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, cast

from gridkit_cli._options import add_input_coords

from gridkit.errors import ParameterError

if TYPE_CHECKING:  # the parser is built without geopandas; run() imports the export job
    from gridkit.export.layers import ExportFormat, ExportSummary

#: The formats of :data:`gridkit.export.layers.FORMATS`, written here so that building the
#: parser imports no geopandas (tests/test_cli_startup.py checks the two agree).
FORMAT_CHOICES = ("gpkg", "shp", "geojson", "parquet", "kml", "csv")

_SHIFTED_NAMES = {"gcj02": "GCJ-02", "bd09": "BD-09"}
_BASEMAPS = {"gcj02": "Amap/Tencent", "bd09": "Baidu"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export",
        help="write layers as GeoPackage, Shapefile (GBK/UTF-8), GeoJSON, GeoParquet, KML or CSV",
        description=(
            "Write a layer (or all layers) of FILE in the format a platform needs. Shapefile field names "
            "come from gridkit's documented table (a <name>_fields.csv beside the file lists them); "
            "GeoJSON and KML are always WGS84 lon/lat. Files appear whole or not at all."
        ),
    )
    p.add_argument("file", metavar="FILE", help="GeoPackage, Shapefile, GeoJSON, GeoParquet, CSV or OSM XML")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="file to write; a folder for several layers in a one-layer format")
    p.add_argument("--format", choices=FORMAT_CHOICES, default=None,
                   help="output format (default: from the extension of OUT)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--layer", metavar="NAME", help="the layer of FILE to export")
    which.add_argument("--all-layers", action="store_true", help="export every layer of FILE")
    p.add_argument("--to-crs", metavar="CRS",
                   help="CRS to write in: 4490, EPSG:4549, a PROJ string, gcj02 (Amap) or bd09 (Baidu)")
    p.add_argument("--encoding", choices=("utf-8", "gbk"), default="utf-8",
                   help="text encoding of Shapefile and CSV attributes (default utf-8)")
    p.add_argument("--fields", choices=("en", "zh"), default="en",
                   help="field names: en as in FILE, zh the Chinese names (网格编码, 户数, ...)")
    p.add_argument("--excel", action="store_true", help="CSV: UTF-8 with a byte-order mark for Excel")
    p.add_argument("--split-geometry", action="store_true",
                   help="Shapefile: one file per geometry type when a layer mixes points, lines, polygons")
    p.add_argument("--field-names", metavar="CSV",
                   help="your own field-name table (layout of the bundled one)")
    p.add_argument("--assume-crs", metavar="CRS", help="the CRS of a FILE that declares none, e.g. EPSG:4490")
    add_input_coords(p, roles=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit import io
    from gridkit.export.layers import FORMATS, export_layers, format_from_path

    fmt = cast("ExportFormat", args.format or format_from_path(args.output))
    if fmt is None:
        raise ParameterError(f"cannot tell the format from {args.output!r}",
                             hint=f"pass --format ({', '.join(FORMATS)}) or end OUT in its extension")
    names = io.list_layers(args.file) if args.all_layers else [args.layer]
    layers = {}
    for name in names:
        gdf = io.read_layer(args.file, layer=name, assume_crs=args.assume_crs, input_coords=args.input_coords)
        layers[name or _default_name(args.file)] = gdf
    summary = export_layers(
        layers, args.output, format=fmt, to_crs=args.to_crs, encoding=args.encoding, fields=args.fields,
        excel=args.excel, split_geometry=args.split_geometry, field_names=args.field_names,
    )
    for line in summary_lines(summary, repaired={n: g.attrs.get("repaired", 0) for n, g in layers.items()}):
        print(line)
    return 0


def _default_name(file: str) -> str:
    from gridkit import io

    layers = io.list_layers(file)
    return layers[0] if len(layers) == 1 else Path(file).stem


def summary_lines(summary: ExportSummary, *, repaired: dict[str, int] | None = None) -> list[str]:
    """What the export wrote, for the terminal."""
    features = ", ".join(f"{name} {count:,}" for name, count in summary.layers.items())
    shifted = _SHIFTED_NAMES.get(summary.coords, "")
    coords = f" ({shifted} coordinates labelled as WGS84)" if shifted else ""
    lines = [f"exported {features} feature(s) as {summary.format}, {summary.crs}{coords}, "
             + f"text {summary.encoding}"]
    lines += [f"wrote {path}" for path in summary.files]
    for layer, renamed in summary.renamed.items():
        pairs = ", ".join(f"{old}->{new}" for old, new in renamed.items())
        lines.append(f"fields of {layer} renamed in the file: {pairs}")
    for layer, count in (repaired or {}).items():
        if count:
            lines.append(f"note: {count} invalid geometries of {layer} were repaired on reading")
    if summary.coords != "wgs84":
        lines.append(f"note: the coordinates are {shifted}, for {_BASEMAPS[summary.coords]} basemaps only, "
                     "though the file declares WGS84; the *_coords.txt note beside it says so")
    lines += [f"warning: {warning}" for warning in summary.warnings]
    return lines
