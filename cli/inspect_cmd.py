"""`gridkit inspect FILE`: what a file holds and whether gridkit can read it.

Prints the layers in the file and, for each (or the one chosen with ``--layer``), its
rows, CRS, geometry types, fields with their types, the encoding detected for a
Shapefile and how many invalid geometries were repaired. The layers go through the same
checks as every other verb, so a layer gridkit cannot use fails here with the message
that names the file, the features and the field (exit code 3).
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from typing import TYPE_CHECKING

from gridkit_cli._options import add_input_coords

from gridkit.errors import InputDataError, InputFileError

if TYPE_CHECKING:  # the parser is built without geopandas and pandas; run() imports them
    import geopandas as gpd
    import pandas as pd

_ENCODING_FROM = {".cpg": "from the .cpg file", "detected": "detected", "default": "GDAL default"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "inspect",
        help="describe a layer file: layers, rows, CRS, geometry types, fields, encoding, repairs",
        description="Describe what a file holds, after the checks gridkit runs on every input.",
    )
    p.add_argument("file", metavar="FILE", help="GeoPackage, Shapefile, GeoJSON, GeoParquet, CSV or OSM XML")
    p.add_argument("--layer", metavar="NAME",
                   help="the layer to describe (default: all; in OSM files streets, buildings or components)")
    p.add_argument("--assume-crs", metavar="CRS", help="the CRS of a file that declares none, e.g. EPSG:4490")
    add_input_coords(p, roles=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Describe the file's layers; exit 3 when one of them fails the input checks."""
    from gridkit import io

    layers = io.list_layers(args.file)
    names = [args.layer] if args.layer else layers
    print(f"file    {args.file}")
    kind = io.SUPPORTED_READ[io.file_format(args.file)]
    print(f"format  {kind}, {_count(len(layers), 'layer')}: {', '.join(layers)}")
    failed: list[InputDataError | InputFileError] = []
    for name in names:
        try:
            gdf = io.read_layer(args.file, layer=name, assume_crs=args.assume_crs,
                                input_coords=args.input_coords)
        except (InputDataError, InputFileError) as err:
            if len(names) == 1:
                raise
            failed.append(err)
            print(f"\nlayer {name}: cannot be used, see the error below")
            continue
        print()
        print(describe_layer(name, gdf, input_coords=args.input_coords))
    if not failed:
        return 0
    if args.debug:
        raise failed[0]
    for problem in failed:
        print(f"gridkit: error: {problem}", file=sys.stderr)
    return 3


def describe_layer(name: str, gdf: gpd.GeoDataFrame, *, input_coords: str = "wgs84") -> str:
    """The lines that describe one layer read by :func:`gridkit.io.read_layer`."""
    lines = [
        f"layer {name}",
        f"  rows      {len(gdf)}{_id_range(gdf.index)}",
        f"  crs       {_crs_text(gdf, input_coords)}",
        f"  geometry  {_geometry_text(gdf)}",
        "  extent    " + " ".join(f"{v:.10g}" for v in gdf.total_bounds),
    ]
    if "encoding" in gdf.attrs:
        where = _ENCODING_FROM.get(gdf.attrs.get("encoding_from", ""), gdf.attrs.get("encoding_from", ""))
        lines.append(f"  encoding  {gdf.attrs['encoding']} ({where})")
    repaired = _count(gdf.attrs.get("repaired", 0), "invalid geometry", "invalid geometries")
    lines.append(f"  repaired  {repaired}")
    lines.append(f"  fields    {len(gdf.columns) - 1}")
    lines += _field_lines(gdf)
    return "\n".join(lines)


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _id_range(index: pd.Index) -> str:
    from pandas.api import types

    if len(index) == 0 or not types.is_integer_dtype(index):
        return ""
    return f" (feature ids {index.min()} to {index.max()})"


def _crs_text(gdf: gpd.GeoDataFrame, input_coords: str) -> str:
    crs = gdf.crs
    text = f"{crs.to_string()} ({crs.name})"
    if gdf.attrs.get("crs_replaced"):
        text += f", assumed with --assume-crs (the file says {gdf.attrs['crs_replaced']})"
    elif gdf.attrs.get("crs_assumed"):
        text += ", assumed with --assume-crs"
    converted = gdf.attrs.get("coords_converted")
    if converted:
        text += f", converted from {converted.upper()} to WGS84"
    elif input_coords != "wgs84":
        text += f", not converted from {input_coords.split(':')[0].upper()} (the file declares its CRS)"
    return text


def _geometry_text(gdf: gpd.GeoDataFrame) -> str:
    counts = gdf.geom_type.value_counts()
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


def _field_lines(gdf: gpd.GeoDataFrame) -> list[str]:
    fields = [c for c in gdf.columns if c != gdf.geometry.name]
    width = max((_display_width(str(c)) for c in fields), default=0)
    return [f"    {c}{' ' * (width - _display_width(str(c)))}  {_type_name(gdf[c])}" for c in fields]


def _display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _type_name(column: pd.Series) -> str:
    from pandas.api import types

    dtype = column.dtype
    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_integer_dtype(dtype):
        return f"integer ({dtype})"
    if types.is_float_dtype(dtype):
        return f"real ({dtype})"
    if types.is_datetime64_any_dtype(dtype):
        return f"datetime ({dtype})"
    if types.is_string_dtype(dtype) or types.is_object_dtype(dtype):
        return "text"
    return str(dtype)
