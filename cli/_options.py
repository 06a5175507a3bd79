"""Options several verbs share, defined once so their help says the same thing."""

from __future__ import annotations

import argparse

_SYSTEMS = ("wgs84", "gcj02", "bd09")
_RULE = ("converted to WGS84 for the inputs without a CRS of their own (CSV, KML, GeoJSON, "
         "files read with --assume-crs); SYSTEM:NAME,NAME converts only the inputs named, by file name or "
         "role ({roles}), whatever they declare. A file that declares its CRS (boundaries in CGCS2000, "
         "EPSG:4490) is read as it says unless named; a warning says so")


def _input_coords(text: str) -> str:
    """``SYSTEM`` or ``SYSTEM:NAME,NAME``; checked fully by :func:`gridkit.io.read_layer`."""
    system, sep, names = text.partition(":")
    if system.strip().lower() not in _SYSTEMS:
        raise argparse.ArgumentTypeError(f"{system!r} is not one of {', '.join(_SYSTEMS)}")
    if sep and not names.strip(" ,"):
        raise argparse.ArgumentTypeError(f"{text!r} names no input after the colon")
    return text


#: In reports: which inputs ``--input-coords`` shifted.
INPUT_COORDS_RULE = ("the inputs without a CRS of their own (CSV, KML, GeoJSON, read with --assume-crs) "
                     "and those named after ':'; inputs declaring a CRS were read as declared")
_ONE_FILE = ("converted to WGS84 when FILE declares no CRS of its own (CSV, KML, GeoJSON, "
             "read with --assume-crs); SYSTEM:FILENAME converts it whatever it declares")


def add_input_coords(parser: argparse.ArgumentParser, *, roles: str | None) -> None:
    """``--input-coords SYSTEM[:NAME,…]``: lon/lat from Amap (gcj02) or Baidu (bd09), and which inputs it is for.

    ``roles`` lists the inputs of the verb by role, for the help; None for a verb of one FILE.
    """
    rule = _ONE_FILE if roles is None else _RULE.format(roles=roles)
    parser.add_argument(
        "--input-coords", type=_input_coords, default="wgs84", metavar="SYSTEM[:NAME,...]",
        help="wgs84 (default), gcj02 (Amap, Tencent) or bd09 (Baidu) lon/lat: " + rule,
    )
