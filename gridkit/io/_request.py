"""What a caller of :func:`gridkit.io.read_layer` asked for, checked once: the file, its format, the options.

Shared by the readers (:mod:`gridkit.io.read`, :mod:`gridkit.io.csv`) and the checks
(:mod:`gridkit.io.checks`) so that every message names the layer the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import geopandas as gpd
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridkit._types import CoordSystem, PathLike
from gridkit.errors import InputDataError, InputFileError, ParameterError

GeometryKind = Literal["any", "polygon", "point", "line"]
OsmKind = Literal["streets", "buildings", "components"]

#: Extensions read by :func:`gridkit.io.read_layer`, with the format each stands for.
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

OSM_KINDS: tuple[str, ...] = get_args(OsmKind)
_READER_ALIASES = {".json": ".geojson", ".geoparquet": ".parquet", ".osm.bz2": ".osm", ".osm.gz": ".osm",
                   ".osm.pbf": ".osm"}
_COORD_SYSTEMS: tuple[str, ...] = get_args(CoordSystem)

#: What a reader returns: the layer and the facts it learnt (for ``attrs``).
ReadResult = tuple[gpd.GeoDataFrame, dict[str, Any]]


@dataclass(frozen=True)
class Request:
    """What the caller of :func:`gridkit.io.read_layer` asked for, checked and normalised."""

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
    coords_named: bool = False
    field_options: Mapping[str, str] | None = None

    def what(self) -> str:
        """The layer in words for messages: ``the buildings layer 'b'``."""
        text = f"the {self.role} layer" if self.role else "the layer"
        return f"{text} {self.layer!r}" if self.layer and self.fmt == ".gpkg" else text


def make_request(
    path: PathLike,
    layer: str | None,
    geometry: str,
    required_fields: Sequence[str],
    assume_crs: Any,
    input_coords: str,
    osm_kind: str | None,
    role: str | None,
    text_fields: Sequence[str] = (),
    field_options: Mapping[str, str] | None = None,
) -> Request:
    """Check the options of a read and the file's existence; raise before anything is read."""
    check_choice("geometry", geometry, get_args(GeometryKind))
    if osm_kind is not None:
        check_choice("osm_kind", osm_kind, OSM_KINDS)
    if isinstance(required_fields, str):
        required_fields = (required_fields,)
    path = Path(path)
    system, named = input_coords_for(input_coords, path=path, role=role)
    fmt = file_format(path)
    check_exists(path)
    return Request(
        path=path, fmt=fmt, layer=layer, geometry=geometry, required_fields=tuple(required_fields),
        assume_crs=parse_crs(assume_crs), input_coords=system, osm_kind=osm_kind, role=role,
        text_fields=tuple(str(f).strip().lower() for f in text_fields), coords_named=named,
        field_options=field_options,
    )


def input_coords_for(spec: str, *, path: Path, role: str | None) -> tuple[str, bool]:
    """The coordinate system ``spec`` gives the input at ``path``, and whether it names it.

    ``spec`` is ``wgs84``, ``gcj02`` or ``bd09`` (every input without a declared CRS of
    its own, see :func:`gridkit.io.read_layer`), or ``gcj02:NAME,NAME`` naming the inputs
    it applies to by role (``buildings``, ``incidents``…) or file name (``poi.csv`` or
    ``poi``). An input not named is read as WGS84.

    >>> input_coords_for("gcj02:incidents", path=Path("a/poi.csv"), role="incidents")
    ('gcj02', True)
    >>> input_coords_for("gcj02:poi.csv", path=Path("a/communities.gpkg"), role="boundaries")
    ('wgs84', False)
    """
    text = str(spec).strip()
    system, sep, names = text.partition(":")
    system = system.strip().lower()
    check_choice("input_coords", system, _COORD_SYSTEMS)
    if not sep:
        return system, False
    wanted = {n.strip().casefold() for n in re.split(r"[,\s]+", names) if n.strip()}
    if not wanted:
        raise ParameterError(f"--input-coords {text!r} names no input",
                             hint=f"write {system} for every input without a CRS, or {system}:NAME,NAME")
    ours = {path.name.casefold(), path.stem.casefold()} | ({role.casefold()} if role else set())
    return (system, True) if ours & wanted else ("wgs84", False)


def check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def parse_crs(value: Any) -> CRS | None:
    if value is None:
        return None
    try:
        return CRS.from_user_input(value)
    except CRSError as err:
        raise ParameterError(
            f"{value!r} is not a CRS gridkit understands ({err})",
            hint="give an EPSG code such as EPSG:4326, EPSG:4490 or EPSG:4547",
        ) from None


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


def check_exists(path: Path) -> None:
    if not path.exists():
        raise InputFileError("the file does not exist", path=path,
                             hint="check the path and the current folder")
    if path.is_dir():
        raise InputFileError("this is a folder, not a file", path=path, hint="give the path of a file in it")


def reader_key(fmt: str) -> str:
    """The reader of a format: ``.json`` is read as ``.geojson``, ``.osm.bz2`` as ``.osm``."""
    return _READER_ALIASES.get(fmt, fmt)


def single_layer_name(path: Path, fmt: str) -> str:
    return path.name[: -len(fmt)]


def single_layer_only(req: Request) -> None:
    if req.layer is not None and req.layer != single_layer_name(req.path, req.fmt):
        raise ParameterError(
            f"{SUPPORTED_READ[req.fmt]} files hold one layer; there is no layer {req.layer!r}",
            path=req.path, hint="leave out --layer",
        )
