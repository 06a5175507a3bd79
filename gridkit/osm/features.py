"""Streets, buildings, city components and derived communities from OSM XML files.

Everything here reads a local OpenStreetMap XML file (``.osm``, ``.osm.bz2`` or
``.osm.gz``); nothing goes to the network. Geometry comes back in EPSG:4326.

Extracts cut out of a larger map are *clipped*: some ways reference nodes that are not
in the file, which osmnx refuses ("Some edges missing nodes"). Every reader here first
repairs the ways it needs and says what it did, in ``attrs`` (``graph.graph`` for the
street graph) and in one warning log line:

- a street (a line) keeps its longest run of consecutive nodes present in the file,
  so no straight shortcut is drawn across the missing part (``trimmed_ways``);
- an area (a building, a multipolygon member) keeps the nodes present and is closed
  again (``trimmed_ways``);
- a way left with fewer than 2 nodes (3 distinct nodes for an area) is dropped
  (``dropped_ways``); a multipolygon relation loses the member ways that are not in
  the file (``trimmed_relations``) and is dropped when no outline can be built from
  the rest (``dropped_relations``).

A file is read whole into memory (a city district's extract, tens of MB of XML, is
fine); clip larger ones first, e.g. ``osmium extract --bbox ... -o part.osm.bz2``.

Examples
--------
>>> from gridkit.datasets import get_path
>>> streets = streets_from_osm(get_path("helsinki", "helsinki.osm.bz2"))
>>> streets.crs.to_epsg(), streets.attrs["trimmed_ways"] > 0
(4326, True)
"""

from __future__ import annotations

import bz2
import gzip
import logging
import math
import re
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely
from osmnx._errors import InsufficientResponseError
from osmnx._overpass import _get_network_filter
from shapely import Geometry

from gridkit._types import PathLike
from gridkit.codes import reading_order
from gridkit.crs import local_crs
from gridkit.errors import (
    GridkitError,
    InputDataError,
    InputFileError,
    MissingCRSError,
    MissingFieldError,
    ParameterError,
)
from gridkit.partition.units import face_adjacency

__all__ = [
    "ARTERIAL_HIGHWAYS",
    "DEFAULT_LEVELS",
    "RESIDENTIAL_BUILDINGS",
    "SINGLE_DWELLING_BUILDINGS",
    "buildings_from_osm",
    "communities_from_osm",
    "components_from_osm",
    "estimate_households",
    "graph_from_osm",
    "streets_from_osm",
]

log = logging.getLogger(__name__)

NetworkType = Literal["all", "all_public", "bike", "drive", "drive_service", "walk"]
Tags = dict[str, str]
TagFilter = Callable[[Tags], bool]

_NETWORK_TYPES = ("all", "all_public", "bike", "drive", "drive_service", "walk")
_MULTIPOLYGON_TYPES = ("multipolygon", "boundary")  # the relation types osmnx builds
_STREET_COLUMNS = ("osmid", "highway", "name", "ref", "service", "oneway", "bridge", "tunnel")
_BUILDING_COLUMNS = ("element", "osmid", "building", "name", "building:levels", "levels",
                     "addr:street", "addr:housenumber")
_COMPONENT_COLUMNS = ("element", "osmid", "key", "value", "category", "name")
_COMPONENT_TABLE = "osm_component_tags.csv"

#: Street classes whose lines cut derived communities (:func:`communities_from_osm`).
ARTERIAL_HIGHWAYS = ("motorway", "trunk", "primary", "secondary", "tertiary")
#: ``building=*`` values counted as homes by :func:`estimate_households`.
RESIDENTIAL_BUILDINGS = ("apartments", "residential", "dormitory", "terrace", "yes",
                         "house", "detached", "semidetached_house", "bungalow", "farm", "cabin")
#: ``building=*`` values that hold exactly one household whatever their size.
SINGLE_DWELLING_BUILDINGS = ("house", "detached", "semidetached_house", "bungalow", "farm", "cabin")
#: Levels assumed when ``building:levels`` is absent, by ``building=*`` value.
DEFAULT_LEVELS: Mapping[str, float] = MappingProxyType({
    "apartments": 5.0, "residential": 4.0, "dormitory": 5.0, "terrace": 2.0, "yes": 2.0,
})
# building=* values counted only by area (no minimum of one household): mostly sheds,
# kiosks and shops when small, so floor() may give them none
_GENERIC_BUILDINGS = ("yes",)

# synthetic division codes: no Chinese province uses 99, township part 001-..., village
# part 001-199 (the urban residents' committee range, so the code reads as "city")
_SYNTHETIC_COUNTY = "990000"
_SERIALS_PER_TOWNSHIP = 199
# extended dead ends overshoot the line they reach by this much (metres)
_OVERSHOOT_M = 0.5


# --------------------------------------------------------------------------- public API


def streets_from_osm(path: PathLike, *, network_type: NetworkType = "all") -> gpd.GeoDataFrame:
    """One LineString per OSM street way, repaired where the extract is clipped.

    Parameters
    ----------
    path
        OSM XML file (``.osm``, ``.osm.bz2``, ``.osm.gz``).
    network_type
        Which ways count as streets, with osmnx's meaning: ``"all"`` (default; every
        highway in use, private ones included), ``"all_public"``, ``"bike"``,
        ``"drive"``, ``"drive_service"`` or ``"walk"``.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, a 0-based index, columns ``osmid``, ``highway``, ``name``, ``ref``,
        ``service``, ``oneway``, ``bridge``, ``tunnel`` (missing where untagged).
        ``attrs``: ``source``, ``trimmed_ways``, ``dropped_ways``.

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    InputDataError
        The file is not OSM XML, or holds no street of this network type.
    """
    path = Path(path)
    root = _read_osm(path)
    selection = _select(root, way_filter=_network_filter(network_type), mode="line")
    if not selection.ways:
        raise InputDataError(f"no streets (network type {network_type!r}) found", path=path,
                             hint="check that the file covers a street network, or choose another network_type")
    streets = _lines_from_selection(selection)
    streets.attrs.update(source=str(path), **selection.counts())
    _log_repairs(path, "streets", selection)
    log.info("%s: %d streets (network type %s)", path, len(streets), network_type)
    return streets


def graph_from_osm(
    path: PathLike,
    *,
    network_type: NetworkType = "walk",
    simplify: bool = True,
    retain_all: bool = False,
) -> nx.MultiDiGraph:
    """The street graph of an OSM XML file, built by osmnx from the repaired streets.

    Parameters
    ----------
    path
        OSM XML file (``.osm``, ``.osm.bz2``, ``.osm.gz``).
    network_type
        osmnx network type (default ``"walk"``: ways a grid worker can walk, both
        directions on one-way streets). See :func:`streets_from_osm`.
    simplify
        Merge the nodes that are not intersections or dead ends (osmnx
        ``simplify_graph``); default True.
    retain_all
        Keep every connected piece; default False keeps the largest one.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx's graph (EPSG:4326 ``x``/``y`` on nodes, ``length`` in metres on edges);
        ``graph.graph`` also holds ``source``, ``trimmed_ways``, ``dropped_ways``.

    Raises
    ------
    InputFileError, InputDataError
        As :func:`streets_from_osm`.
    """
    path = Path(path)
    root = _read_osm(path)
    selection = _select(root, way_filter=_network_filter(network_type), mode="line")
    if not selection.ways:
        raise InputDataError(f"no streets (network type {network_type!r}) found", path=path,
                             hint="check that the file covers a street network, or choose another network_type")
    bidirectional = network_type in ox.settings.bidirectional_network_types
    with tempfile.TemporaryDirectory(prefix="gridkit-osm-") as tmp:
        cleaned = selection.write(Path(tmp) / "streets.osm")
        graph = ox.graph_from_xml(cleaned, bidirectional=bidirectional, simplify=simplify, retain_all=retain_all)
    graph.graph.update(source=str(path), **selection.counts())
    _log_repairs(path, "street graph", selection)
    log.info("%s: street graph with %d nodes and %d edges", path, len(graph), graph.number_of_edges())
    return graph


def buildings_from_osm(path: PathLike) -> gpd.GeoDataFrame:
    """Building footprints (ways and multipolygon relations tagged ``building=*``).

    Parameters
    ----------
    path
        OSM XML file (``.osm``, ``.osm.bz2``, ``.osm.gz``).

    Returns
    -------
    geopandas.GeoDataFrame
        Polygons and MultiPolygons in EPSG:4326, a 0-based index, columns ``element``
        (``"way"`` or ``"relation"``), ``osmid``, ``building``, ``name``,
        ``building:levels`` (the tag as written), ``levels`` (its number, NaN when
        absent or not a number), ``addr:street``, ``addr:housenumber``. May be empty.
        ``attrs``: ``source``, ``trimmed_ways``, ``dropped_ways``,
        ``trimmed_relations``, ``dropped_relations``.

    Raises
    ------
    InputFileError, InputDataError
        The file is missing, unreadable or not OSM XML.
    """
    path = Path(path)
    root = _read_osm(path)
    wanted: TagFilter = lambda tags: "building" in tags
    selection = _select(root, way_filter=wanted, relation_filter=wanted, mode="area")
    features = _features(selection, {"building": True}, path)
    features = features[features.geom_type.isin(["Polygon", "MultiPolygon"])]
    _count_unbuilt(selection, features)
    buildings = _with_columns(features, _BUILDING_COLUMNS)
    buildings["levels"] = _parse_levels(buildings["building:levels"])
    buildings.attrs.update(source=str(path), **selection.counts())
    _log_repairs(path, "buildings", selection)
    log.info("%s: %d buildings", path, len(buildings))
    return buildings


def components_from_osm(path: PathLike, *, table: PathLike | pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """City components (部件) mapped in OSM: street lamps, hydrants, benches and the like.

    Parameters
    ----------
    path
        OSM XML file (``.osm``, ``.osm.bz2``, ``.osm.gz``).
    table
        Which OSM tags are which component: a CSV file or DataFrame with columns
        ``key``, ``value``, ``code`` (the 4-digit category, a string). Default:
        gridkit's ``tables/osm_component_tags.csv`` (``highway=street_lamp`` → 0118,
        ``emergency=fire_hydrant`` → 0113, ``amenity=bench`` → 0407, ...). When an
        element matches several rows, the first row wins.

    Returns
    -------
    geopandas.GeoDataFrame
        Points in EPSG:4326 (a point on the surface for components mapped as ways or
        relations), a 0-based index, columns ``element``, ``osmid``, ``key``,
        ``value``, ``category``, ``name``. May be empty.
        ``attrs``: ``source`` and the repair counts as :func:`buildings_from_osm`.

    Raises
    ------
    InputFileError, InputDataError
        The file is missing, unreadable or not OSM XML; the table is malformed.
    """
    path = Path(path)
    mapping = _component_table(table)
    pairs = set(zip(mapping["key"], mapping["value"]))
    wanted: TagFilter = lambda tags: any((k, v) in pairs for k, v in tags.items())
    root = _read_osm(path)
    selection = _select(root, way_filter=wanted, relation_filter=wanted, node_filter=wanted, mode="area")
    query: dict[str, bool | str | list[str]] = {
        str(key): sorted(group["value"]) for key, group in mapping.groupby("key", sort=True)
    }
    features = _features(selection, query, path)
    _count_unbuilt(selection, features)
    components = _categorise(features, mapping)
    components.attrs.update(source=str(path), **selection.counts())
    _log_repairs(path, "components", selection)
    log.info("%s: %d components in %d categories", path, len(components), components["category"].nunique())
    return components


def communities_from_osm(
    path: PathLike,
    *,
    highways: Iterable[str] = ARTERIAL_HIGHWAYS,
    min_area_m2: float = 100_000.0,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | Geometry | None = None,
    extend_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Community polygons derived from the arterial streets, for places without a boundary file.

    The area (``boundary``, or the convex hull of every node in the file) is cut by
    the streets of the classes in ``highways`` into faces, in a local metric CRS;
    dead ends are prolonged up to ``extend_m`` to close their faces.
    A face smaller than ``min_area_m2`` joins the neighbour it shares the longest
    edge with, smallest faces first, until every face is large enough (or has no
    neighbour left). The communities tile the area: no gap, no overlap, each one
    connected.

    Codes are synthetic and cannot be mistaken for real ones: 12 digits
    ``990000TTTVVV``, county part ``990000`` (no province is numbered 99), township
    ``TTT`` from 001, village part ``VVV`` 001-199 (so the code reads as urban),
    numbered like grids (:func:`gridkit.codes.reading_order`: rows north to south,
    west to east in a row) by each community's point on surface, rows as high as
    the square root of the median community area.

    Parameters
    ----------
    path
        OSM XML file (``.osm``, ``.osm.bz2``, ``.osm.gz``).
    highways
        ``highway=*`` classes that separate communities (default
        motorway, trunk, primary, secondary, tertiary).
    min_area_m2
        Smallest community, square metres (default 100 000, i.e. 0.1 km²).
    boundary
        The area to divide (a polygon in EPSG:4326, or a layer with a CRS whose
        union is used); default the convex hull of the file's nodes.
    extend_m
        A street that ends without meeting another (cut by the extract's edge, or
        stopping short of the next arterial) is prolonged straight ahead up to this
        many metres to the first street or the area's edge it meets (default 100).

    Returns
    -------
    geopandas.GeoDataFrame
        Polygons in EPSG:4326, indexed 0.., columns ``code`` (string), ``name`` (the
        street name running longest along its outline, else ``"Area N"``; repeated
        names get `` 2``, `` 3``...), ``kind`` (``"city"``), ``area_m2``.
        ``attrs``: ``source``, ``crs_local`` (the metric CRS used),
        ``merged_faces`` (faces joined to a neighbour), ``small_communities``
        (codes of communities still under ``min_area_m2``), and the street repair
        counts.

    Raises
    ------
    InputFileError, InputDataError
        As :func:`streets_from_osm`; no street of the ``highways`` classes.
    ParameterError
        ``min_area_m2`` negative or ``highways`` empty.
    """
    path = Path(path)
    highways = tuple(highways)
    if not highways or min_area_m2 < 0:
        raise ParameterError("communities need at least one highway class and min_area_m2 >= 0",
                             hint=f"got highways={highways!r}, min_area_m2={min_area_m2!r}")
    root = _read_osm(path)
    selection = _select(root, way_filter=_network_filter("all"), mode="line")
    streets = _lines_from_selection(selection)
    arterials = streets[streets["highway"].isin(highways)]
    if arterials.empty:
        raise InputDataError(f"no streets of the classes {', '.join(highways)} found", path=path,
                             hint="pass highways= with the street classes the area has (e.g. add 'residential')")
    area = _area_to_divide(root, boundary, path)
    crs = local_crs(area)
    area_m = area.to_crs(crs).union_all()
    faces = _faces(arterials.to_crs(crs).geometry.to_numpy(), area_m, extend_m)
    labels = _merge_small_faces(faces, min_area_m2)
    shapes = np.array([shapely.coverage_union_all(faces[labels == lab]) for lab in np.unique(labels)])
    communities = _describe_communities(shapes, streets.to_crs(crs), crs, min_area_m2)
    communities.attrs.update(source=str(path), crs_local=crs.to_string(),
                             merged_faces=int(len(faces) - len(shapes)), **selection.counts())
    _log_repairs(path, "streets", selection)
    log.info("%s: %d communities from %d faces of %d arterial streets",
             path, len(communities), len(faces), len(arterials))
    return communities


def estimate_households(
    buildings: gpd.GeoDataFrame,
    *,
    dwelling_m2: float = 80.0,
    default_levels: float | Mapping[str, float] | None = None,
    residential_tags: Iterable[str] = RESIDENTIAL_BUILDINGS,
    single_dwelling_tags: Iterable[str] = SINGLE_DWELLING_BUILDINGS,
) -> pd.Series:
    """Households per building, estimated from the footprint and the number of levels.

    ``floor(footprint m² × levels ÷ dwelling_m2)`` for residential buildings, at
    least 1 for an explicitly residential type (``apartments``, ``residential``,
    ``dormitory``, ``terrace``); ``building=yes`` (type unknown) counts by area
    alone, so sheds and kiosks get 0; house-like types (``house``, ``detached``,
    ``semidetached_house``, ``bungalow``, ``farm``, ``cabin``) hold exactly 1;
    every other type (commercial, retail, industrial, office, church, school, ...)
    holds 0. Levels come from the ``levels`` column (or the ``building:levels``
    tag), else the default of the building type: apartments 5, dormitory 5,
    residential 4, terrace 2, yes 2, anything else 1.

    ``building=yes`` is counted because most buildings in Chinese OSM data carry
    nothing more specific. Where offices and shops are tagged ``yes`` too (a city
    centre) this overestimates: pass ``residential_tags`` without ``"yes"``.

    Parameters
    ----------
    buildings
        Footprints with a CRS and a ``building`` column (as
        :func:`buildings_from_osm` returns).
    dwelling_m2
        Gross floor area per household, square metres (default 80).
    default_levels
        Levels where the data has none: one number for every type, or a mapping
        ``{building type: levels}`` overriding the defaults above (default None).
    residential_tags
        ``building=*`` values that hold homes (default
        :data:`RESIDENTIAL_BUILDINGS`).
    single_dwelling_tags
        Values among ``residential_tags`` that hold exactly one household
        (default :data:`SINGLE_DWELLING_BUILDINGS`).

    Returns
    -------
    pandas.Series
        Integer households, indexed like ``buildings``, named ``households``.

    Raises
    ------
    MissingFieldError
        No ``building`` column.
    MissingCRSError
        ``buildings`` has no CRS.
    ParameterError
        ``dwelling_m2`` not positive.

    Examples
    --------
    >>> from shapely import box
    >>> x, y = 386_000, 6_672_000  # Helsinki, UTM zone 35N
    >>> b = gpd.GeoDataFrame(
    ...     {"building": ["apartments", "church", "house"], "levels": [5, None, None]},
    ...     geometry=[box(x, y, x + 20, y + 20), box(x + 30, y, x + 60, y + 30), box(x + 70, y, x + 80, y + 10)],
    ...     crs=32635)
    >>> estimate_households(b).tolist()  # 400 m² x 5 levels / 80 m²; a church; a house
    [25, 0, 1]
    """
    if dwelling_m2 <= 0:
        raise ParameterError("dwelling_m2 must be positive", hint=f"got {dwelling_m2!r}")
    source = buildings.attrs.get("source")
    if "building" not in buildings.columns:
        raise MissingFieldError("buildings need a 'building' column (the OSM building=* value)",
                                path=source, field="building", hint="read them with buildings_from_osm")
    if buildings.crs is None:
        raise MissingCRSError("buildings have no CRS", path=source, hint="set the layer's CRS")
    if buildings.empty:
        return pd.Series(np.zeros(0, dtype=np.int64), index=buildings.index, name="households")
    kind = buildings["building"].astype("string").str.strip().str.lower()
    levels = _levels_or_default(buildings, kind, default_levels)
    area = buildings.geometry.to_crs(local_crs(buildings)).area
    # rounded first: a footprint drawn as 400 m² may measure 399.9999999 after projection
    by_area = np.floor(np.round(area.to_numpy() * levels.to_numpy() / dwelling_m2, 6))
    residential = _is_one_of(kind, residential_tags)
    single = _is_one_of(kind, single_dwelling_tags)
    at_least_one = ~_is_one_of(kind, _GENERIC_BUILDINGS)
    households = np.where(at_least_one, np.maximum(by_area, 1), by_area)
    households = np.where(residential, np.where(single, 1, households), 0)
    result = pd.Series(households.astype(np.int64), index=buildings.index, name="households")
    log.info("estimated %d households in %d buildings", int(result.sum()), len(result))
    return result


# --------------------------------------------------------------------------- reading


def _read_osm(path: Path) -> ET.Element:
    """Parse an OSM XML file (plain, bz2 or gz) into its ``<osm>`` root element."""
    if not path.exists():
        raise InputFileError("file not found", path=path, hint="check the path")
    if path.suffix.lower() == ".pbf":
        raise InputDataError("OSM PBF files are not read, only OSM XML", path=path,
                             hint=f"convert it, e.g. `osmium cat {path.name} -o {path.stem}.bz2`")
    try:
        with _open_binary(path) as stream:
            root = ET.parse(stream).getroot()
    except ET.ParseError as err:
        raise InputDataError(f"not readable as OSM XML ({err})", path=path,
                             hint="give an OSM XML file (.osm, .osm.bz2 or .osm.gz)") from err
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InputDataError(f"the compressed data is damaged ({err})", path=path,
                             hint="download or export the file again") from err
    except OSError as err:
        if isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise InputFileError(f"cannot read the file ({err.strerror})", path=path) from err
        raise InputDataError(f"not readable as OSM XML ({err})", path=path,
                             hint="give an OSM XML file (.osm, .osm.bz2 or .osm.gz)") from err
    if root.tag != "osm":
        raise InputDataError(f"not OSM XML: the root element is <{root.tag}>, not <osm>", path=path,
                             hint="give an OSM XML file (.osm, .osm.bz2 or .osm.gz)")
    return root


def _open_binary(path: Path) -> BinaryIO | bz2.BZ2File | gzip.GzipFile:
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _tags(element: ET.Element) -> Tags:
    return {tag.get("k", ""): tag.get("v", "") for tag in element.iter("tag")}


def _network_filter(network_type: str) -> TagFilter:
    """osmnx's way filter for a network type, as a predicate over a way's tags.

    osmnx writes its filters in Overpass QL (``["highway"]["area"!~"yes"]...``); each
    clause is translated here, so the network types mean exactly what osmnx says.
    """
    if network_type not in _NETWORK_TYPES:
        raise ParameterError(f"unknown network type {network_type!r}", hint=f"use one of {', '.join(_NETWORK_TYPES)}")
    clauses = _parse_overpass_filter(_get_network_filter(network_type))

    def keep(tags: Tags) -> bool:
        return all(test(tags) for test in clauses)

    return keep


_CLAUSE = re.compile(r'\["([^"]+)"(?:(!~|~|!=|=)"([^"]*)")?\]')


def _parse_overpass_filter(text: str) -> list[TagFilter]:
    clauses: list[TagFilter] = []
    end = 0
    for match in _CLAUSE.finditer(text):
        if match.start() != end:
            raise GridkitError(f"cannot read the osmnx network filter {text!r}", hint="report this as a gridkit bug")
        end = match.end()
        clauses.append(_clause(*match.groups()))
    if end != len(text):
        raise GridkitError(f"cannot read the osmnx network filter {text!r}", hint="report this as a gridkit bug")
    return clauses


def _clause(key: str, op: str | None, value: str | None) -> TagFilter:
    # Overpass semantics: a negated test also passes when the key is absent
    if op is None:
        return lambda tags: key in tags
    if op == "=":
        return lambda tags: tags.get(key) == value
    if op == "!=":
        return lambda tags: tags.get(key) != value
    pattern = re.compile(value or "")
    if op == "~":
        return lambda tags: key in tags and pattern.search(tags[key]) is not None
    return lambda tags: key not in tags or pattern.search(tags[key]) is None


# --------------------------------------------------------------------------- repairing clipped extracts


@dataclass
class _Selection:
    """The elements one reader needs, repaired, and what the repair did."""

    coords: dict[int, tuple[float, float]]
    nodes: list[ET.Element] = field(default_factory=list)
    ways: list[ET.Element] = field(default_factory=list)
    relations: list[ET.Element] = field(default_factory=list)
    wanted: set[tuple[str, int]] = field(default_factory=set)
    repairs: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        keys = ("trimmed_ways", "dropped_ways", "trimmed_relations", "dropped_relations")
        return {key: int(self.repairs[key]) for key in keys}

    def write(self, dest: Path) -> Path:
        """Write the selection as OSM XML osmnx can read."""
        root = ET.Element("osm", version="0.6", generator="gridkit")
        needed = {int(nd.get("ref", 0)) for way in self.ways for nd in way.iter("nd")}
        root.extend(ET.Element("node", id=str(i), lat=repr(self.coords[i][1]), lon=repr(self.coords[i][0]))
                    for i in sorted(needed - {int(n.get("id", 0)) for n in self.nodes}))
        root.extend(self.nodes)
        root.extend(self.ways)
        root.extend(self.relations)
        ET.ElementTree(root).write(dest, encoding="utf-8", xml_declaration=True)
        return dest


def _select(
    root: ET.Element,
    *,
    way_filter: TagFilter,
    relation_filter: TagFilter | None = None,
    node_filter: TagFilter | None = None,
    mode: Literal["line", "area"],
) -> _Selection:
    """The wanted nodes, ways and multipolygon relations, with clipped ways repaired."""
    coords = {int(n.get("id", 0)): (float(n.get("lon", "nan")), float(n.get("lat", "nan"))) for n in root.iter("node")}
    selection = _Selection(coords)
    if node_filter is not None:
        for node in root.iter("node"):
            if node_filter(_tags(node)):
                selection.nodes.append(node)
                selection.wanted.add(("node", int(node.get("id", 0))))
    relations = [r for r in root.iter("relation") if relation_filter is not None
                 and _tags(r).get("type") in _MULTIPOLYGON_TYPES and relation_filter(_tags(r))]
    members = {int(m.get("ref", 0)) for r in relations for m in r.iter("member") if m.get("type") == "way"}
    for way in root.iter("way"):
        way_id = int(way.get("id", 0))
        is_wanted = way_filter(_tags(way))
        if (is_wanted or way_id in members) and _repair_way(way, coords, mode, selection.repairs):
            selection.ways.append(way)
            if is_wanted:
                selection.wanted.add(("way", way_id))
    kept = {int(w.get("id", 0)) for w in selection.ways}
    for relation in relations:
        if _repair_relation(relation, kept, selection.repairs):
            selection.relations.append(relation)
            selection.wanted.add(("relation", int(relation.get("id", 0))))
    return selection


def _repair_way(way: ET.Element, coords: Mapping[int, object], mode: str, repairs: Counter[str]) -> bool:
    """Drop the way's references to absent nodes; False when too little is left."""
    refs = [int(nd.get("ref", 0)) for nd in way.iter("nd")]
    present = [ref in coords for ref in refs]
    if all(present) and len(refs) >= 2:
        return True
    closed = len(refs) >= 4 and refs[0] == refs[-1]
    kept = _area_refs(refs, present, closed) if mode == "area" else _longest_run(refs, present, closed)
    if kept is None:
        repairs["dropped_ways"] += 1
        return False
    repairs["trimmed_ways"] += 1
    for nd in list(way.iter("nd")):
        way.remove(nd)
    for pos, ref in enumerate(kept):
        way.insert(pos, ET.Element("nd", ref=str(ref)))
    return True


def _longest_run(refs: list[int], present: list[bool], closed: bool) -> list[int] | None:
    """The longest stretch of consecutive present nodes (a ring is read round the loop)."""
    if closed and not all(present):
        first_gap = present.index(False)
        refs = refs[first_gap + 1:-1] + refs[:first_gap + 1]
        present = present[first_gap + 1:-1] + present[:first_gap + 1]
    best: list[int] = []
    run: list[int] = []
    for ref, ok in zip(refs, present):
        run = [*run, ref] if ok else []
        if len(run) > len(best):
            best = run
    return best if len(best) >= 2 else None


def _area_refs(refs: list[int], present: list[bool], closed: bool) -> list[int] | None:
    """The present nodes in order, closed again for a ring; None when degenerate."""
    kept = [ref for ref, ok in zip(refs, present) if ok]
    kept = [ref for i, ref in enumerate(kept) if i == 0 or ref != kept[i - 1]]
    if not closed:
        return kept if len(kept) >= 2 else None
    if kept and kept[0] != kept[-1]:
        kept.append(kept[0])
    return kept if len(set(kept)) >= 3 else None


def _repair_relation(relation: ET.Element, kept_ways: set[int], repairs: Counter[str]) -> bool:
    """Remove members that are not (or no longer) in the file; False when no outline is left."""
    lost = [m for m in relation.iter("member") if m.get("type") == "way" and int(m.get("ref", 0)) not in kept_ways]
    for member in lost:
        relation.remove(member)
    if not any(m.get("type") == "way" and m.get("role", "outer") in ("outer", "") for m in relation.iter("member")):
        repairs["dropped_relations"] += 1
        return False
    repairs["trimmed_relations"] += bool(lost)
    return True


def _count_unbuilt(selection: _Selection, features: gpd.GeoDataFrame) -> None:
    """Count wanted ways/relations osmnx could not turn into a geometry as dropped."""
    built = set(zip(features["element"], features["osmid"]))
    for element, osmid in sorted(selection.wanted - built):
        if element != "node":
            selection.repairs[f"dropped_{element}s"] += 1
            log.debug("%s %d has no usable geometry after repair", element, osmid)


def _log_repairs(path: Path, what: str, selection: _Selection) -> None:
    counts = {k: v for k, v in selection.counts().items() if v}
    if counts:
        log.warning("%s: clipped extract, %s: %s", path, what, ", ".join(f"{k.replace('_', ' ')} {v}"
                                                                         for k, v in counts.items()))


# --------------------------------------------------------------------------- building geometries


def _lines_from_selection(selection: _Selection) -> gpd.GeoDataFrame:
    """One LineString per selected way, with the street columns."""
    refs = [[int(nd.get("ref", 0)) for nd in way.iter("nd")] for way in selection.ways]
    coords = np.array([selection.coords[r] for way_refs in refs for r in way_refs], dtype=float).reshape(-1, 2)
    index = np.repeat(np.arange(len(refs)), [len(r) for r in refs])
    geometry = shapely.linestrings(coords, indices=index) if len(refs) else np.array([], dtype=object)
    tags = [_tags(way) for way in selection.ways]
    data = {col: [t.get(col) for t in tags] for col in _STREET_COLUMNS[1:]}
    frame = pd.DataFrame({"osmid": pd.array([int(w.get("id", 0)) for w in selection.ways], dtype="int64"), **data})
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def _features(selection: _Selection, tags: dict[str, bool | str | list[str]], path: Path) -> gpd.GeoDataFrame:
    """osmnx features of the selection, flattened to ``element``/``osmid`` columns."""
    if not selection.wanted:
        return gpd.GeoDataFrame({"element": [], "osmid": []}, geometry=[], crs="EPSG:4326")
    with tempfile.TemporaryDirectory(prefix="gridkit-osm-") as tmp:
        cleaned = selection.write(Path(tmp) / "features.osm")
        try:
            features = ox.features_from_xml(cleaned, tags=tags)
        except InsufficientResponseError:
            return gpd.GeoDataFrame({"element": [], "osmid": []}, geometry=[], crs="EPSG:4326")
    features = features.reset_index().rename(columns={"id": "osmid"})
    features["osmid"] = features["osmid"].astype("int64")
    return features.set_crs("EPSG:4326", allow_override=True)


def _with_columns(features: gpd.GeoDataFrame, columns: Iterable[str]) -> gpd.GeoDataFrame:
    """The given columns (missing values where absent) and the geometry, 0-based index."""
    frame = pd.DataFrame({col: features[col] if col in features else pd.Series(None, index=features.index,
                                                                                 dtype=object)
                          for col in columns}, index=features.index)
    return gpd.GeoDataFrame(frame, geometry=features.geometry, crs="EPSG:4326").reset_index(drop=True)


def _parse_levels(values: pd.Series) -> pd.Series:
    """The first number in ``building:levels`` (``"5"``, ``"5;6"``, ``"3.5"``), else NaN."""
    numbers = values.astype("string").str.extract(r"(\d+(?:\.\d+)?)", expand=False)
    levels = pd.to_numeric(numbers, errors="coerce").astype(float)
    return levels.where(levels > 0)


def _component_table(table: PathLike | pd.DataFrame | None) -> pd.DataFrame:
    """The key,value,code table, validated; codes kept as strings."""
    if isinstance(table, pd.DataFrame):
        frame, source = table.copy(), None
    else:
        path = Path(table) if table is not None else Path(str(resources.files("gridkit") / "tables" / _COMPONENT_TABLE))
        if not path.exists():
            raise InputFileError("component tag table not found", path=path,
                                 hint="give a CSV with columns key,value,code")
        frame, source = pd.read_csv(path, dtype=str, keep_default_na=False), path
    missing = [col for col in ("key", "value", "code") if col not in frame.columns]
    if missing:
        raise MissingFieldError("the component tag table needs columns key, value, code", path=source,
                                field=missing[0], hint="add the missing columns")
    frame = frame[["key", "value", "code"]].astype(str).apply(lambda col: col.str.strip())
    bad = frame.index[~frame["code"].str.fullmatch(r"\d{4}")].tolist()
    if bad:
        raise InputDataError("component codes must be 4 digits (major + minor, e.g. 0118)", path=source,
                             feature_ids=bad, field="code", hint="write codes with leading zeros")
    return frame.reset_index(drop=True)


def _categorise(features: gpd.GeoDataFrame, mapping: pd.DataFrame) -> gpd.GeoDataFrame:
    """Points with the key, value and category of the first matching table row."""
    key = pd.Series(None, index=features.index, dtype=object)
    value = key.copy()
    category = key.copy()
    for row in mapping.itertuples(index=False):
        if row.key not in features:
            continue
        hit = (features[row.key] == row.value).astype(bool) & category.isna()
        key[hit], value[hit], category[hit] = row.key, row.value, row.code
    features = features.assign(key=key, value=value, category=category)
    features = features[features["category"].notna()]
    points = _with_columns(features, _COMPONENT_COLUMNS)
    return points.set_geometry(points.geometry.representative_point() if len(points) else points.geometry)


# --------------------------------------------------------------------------- communities


def _area_to_divide(root: ET.Element, boundary: gpd.GeoDataFrame | gpd.GeoSeries | Geometry | None,
                    path: Path) -> gpd.GeoSeries:
    """The area communities must tile, in EPSG:4326."""
    if boundary is None:
        coords = np.array([(float(n.get("lon", "nan")), float(n.get("lat", "nan"))) for n in root.iter("node")])
        hull = shapely.convex_hull(shapely.multipoints(coords)) if len(coords) else shapely.Polygon()
        if hull.geom_type != "Polygon" or hull.is_empty:
            raise InputDataError("the file's nodes do not span an area", path=path, hint="pass boundary=")
        return gpd.GeoSeries([hull], crs="EPSG:4326")
    if isinstance(boundary, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if boundary.crs is None:
            raise MissingCRSError("the boundary has no CRS", hint="set its CRS")
        geom = boundary.to_crs("EPSG:4326").union_all()
    else:
        geom = boundary
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise ParameterError("boundary must be a (multi)polygon", hint=f"got {geom.geom_type}")
    return gpd.GeoSeries([shapely.make_valid(geom)], crs="EPSG:4326")


def _faces(lines: np.ndarray, area: Geometry, extend_m: float) -> np.ndarray:
    """Faces of the area cut by the lines (one noded polygonize, so edges match exactly)."""
    segments = np.asarray(shapely.get_parts(shapely.union_all(shapely.get_parts(lines))))
    extensions = _extend_dangles(segments, area.boundary, extend_m)
    linework = shapely.union_all(np.concatenate([segments, extensions, [area.boundary]]))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(linework))))
    inside = shapely.contains_properly(area, shapely.point_on_surface(faces))
    return faces[inside]


def _extend_dangles(segments: np.ndarray, rim: Geometry, reach: float) -> np.ndarray:
    """Straight extensions of dead-end lines to the first line or rim ahead, within ``reach``.

    A street cut short by the extract's edge, or ending a little before the next
    arterial, would otherwise leave its face open.
    """
    if reach <= 0 or len(segments) == 0:
        return np.array([], dtype=object)
    ends = np.stack([shapely.get_coordinates(shapely.get_point(segments, 0)),
                     shapely.get_coordinates(shapely.get_point(segments, -1))], axis=1)  # (n, 2 ends, xy)
    _, inverse, degree = np.unique(ends.reshape(-1, 2), axis=0, return_inverse=True, return_counts=True)
    targets = np.concatenate([segments, [rim]])
    tree = shapely.STRtree(targets)
    extensions = []
    for flat in np.flatnonzero(degree[inverse.ravel()] == 1):
        seg, end = divmod(int(flat), 2)
        ray = _ray(segments[seg], end, reach + _OVERSHOOT_M)
        hits = [t for t in tree.query(ray, predicate="intersects").tolist() if t != seg]
        if not hits:
            continue
        points = shapely.get_parts(shapely.intersection(targets[hits], ray))
        nearest = float(np.min(shapely.line_locate_point(ray, points)))
        if nearest <= reach:
            # go a little past the line hit, so the crossing is a real one that union
            # nodes (an end merely touching a line may miss it by a rounding error);
            # the stub beyond is a dangle polygonize ignores
            tip = shapely.get_point(ray, 0)
            extensions.append(shapely.LineString([tip, shapely.line_interpolate_point(ray, nearest + _OVERSHOOT_M)]))
    return np.array(extensions, dtype=object)


def _ray(segment: Geometry, end: int, reach: float) -> Geometry:
    """The straight line of length ``reach`` continuing ``segment`` beyond one of its ends."""
    coords = shapely.get_coordinates(segment)
    tip, before = (coords[0], coords[1]) if end == 0 else (coords[-1], coords[-2])
    direction = tip - before
    direction = direction / np.hypot(*direction)
    return shapely.LineString([tip, tip + direction * reach])


def _merge_small_faces(faces: np.ndarray, min_area: float) -> np.ndarray:
    """A group label per face: small groups join the neighbour with the longest shared edge."""
    labels = np.arange(len(faces))
    area = dict(enumerate(shapely.area(faces).tolist()))
    shared: dict[int, Counter[int]] = {i: Counter() for i in range(len(faces))}
    for a, b, length in face_adjacency(faces).itertuples(index=False):
        shared[int(a)][int(b)] += length
        shared[int(b)][int(a)] += length
    while True:
        small = [g for g in area if area[g] < min_area and shared[g]]
        if not small:
            return labels
        group = min(small, key=lambda g: (area[g], g))
        target = max(shared[group], key=lambda g: (shared[group][g], -g))
        _join(group, target, labels, area, shared)


def _join(group: int, target: int, labels: np.ndarray, area: dict[int, float],
          shared: dict[int, Counter[int]]) -> None:
    labels[labels == group] = target
    area[target] += area.pop(group)
    for other, length in shared.pop(group).items():
        shared[other].pop(group, None)
        if other != target:
            shared[target][other] += length
            shared[other][target] += length


def _describe_communities(shapes: np.ndarray, streets: gpd.GeoDataFrame, crs: object,
                          min_area: float) -> gpd.GeoDataFrame:
    """Codes in reading order, names from the streets along the outline, areas."""
    anchor = shapely.point_on_surface(shapes)
    x, y = shapely.get_x(anchor), shapely.get_y(anchor)
    row_height = max(math.sqrt(float(np.median(shapely.area(shapes)))), 1.0)
    shapes = shapes[np.argsort(reading_order(x, y, row_height=row_height))]
    codes = [_synthetic_code(i) for i in range(len(shapes))]
    names = _names_along(shapes, streets)
    communities = gpd.GeoDataFrame(
        {"code": codes, "name": names, "kind": "city", "area_m2": shapely.area(shapes)},
        geometry=shapes, crs=crs,
    )
    communities.attrs["small_communities"] = communities.loc[communities["area_m2"] < min_area, "code"].tolist()
    return communities.to_crs("EPSG:4326")


def _synthetic_code(i: int) -> str:
    township, serial = divmod(i, _SERIALS_PER_TOWNSHIP)
    return f"{_SYNTHETIC_COUNTY}{township + 1:03d}{serial + 1:03d}"


def _names_along(shapes: np.ndarray, streets: gpd.GeoDataFrame, *, reach_m: float = 15.0) -> list[str]:
    """A street name per outline: the longest-running within ``reach_m`` not yet taken.

    Communities are named in code order; one whose streets are all taken gets its
    best name with a number (``"Unioninkatu 2"``); one without named streets
    ``"Area N"``.
    """
    named = streets[streets["name"].notna()]
    rims = shapely.buffer(shapely.boundary(shapes), reach_m)
    hits_rim, hits_street = named.sindex.query(rims, predicate="intersects")
    lengths = shapely.length(shapely.intersection(named.geometry.to_numpy()[hits_street], rims[hits_rim]))
    runs = pd.DataFrame({"shape": hits_rim, "name": named["name"].to_numpy()[hits_street], "length": lengths})
    totals = runs.groupby(["shape", "name"])["length"].sum().reset_index()
    totals = totals.sort_values(["shape", "length", "name"], ascending=[True, False, True])
    candidates = totals.groupby("shape")["name"].agg(list).to_dict()
    taken: Counter[str] = Counter()
    names = []
    for i in range(len(shapes)):
        options = candidates.get(i, [])
        name = next((n for n in options if not taken[n]), options[0] if options else f"Area {i + 1}")
        taken[name] += 1
        names.append(name if taken[name] == 1 else f"{name} {taken[name]}")
    return names


# --------------------------------------------------------------------------- households


def _is_one_of(kind: pd.Series, values: Iterable[str]) -> np.ndarray:
    return kind.isin(list(values)).fillna(False).to_numpy(dtype=bool)


def _levels_or_default(buildings: gpd.GeoDataFrame, kind: pd.Series,
                       default_levels: float | Mapping[str, float] | None) -> pd.Series:
    if "levels" in buildings:
        levels = pd.to_numeric(buildings["levels"], errors="coerce").astype(float)
    elif "building:levels" in buildings:
        levels = _parse_levels(buildings["building:levels"])
    else:
        levels = pd.Series(np.nan, index=buildings.index)
    levels = levels.where(levels > 0)
    if isinstance(default_levels, (int, float)):
        fallback = pd.Series(float(default_levels), index=buildings.index)
    else:
        table = {**DEFAULT_LEVELS, **(default_levels or {})}
        fallback = kind.map(table).astype(float).fillna(1.0)
    return levels.fillna(fallback)
