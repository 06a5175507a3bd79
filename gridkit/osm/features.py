"""Streets, the street graph, buildings and city components from OSM files.

Everything here reads a local OpenStreetMap file — XML (``.osm``, ``.osm.bz2``,
``.osm.gz``) or PBF (``.osm.pbf``, as Geofabrik and BBBike extracts come) — and goes
to no network. Geometry comes back in EPSG:4326.

Clipped extracts are repaired first (:mod:`gridkit.osm.repair`); every reader says what
the repair did in ``attrs`` (``graph.graph`` for the street graph) and in one warning
log line. A file is read whole into memory (a city district's extract, tens of MB of
XML, is fine); clip larger ones first, e.g. ``osmium extract --bbox ... -o part.osm.pbf``.

Examples
--------
>>> from gridkit.datasets import get_path
>>> streets = streets_from_osm(get_path("helsinki", "helsinki.osm.bz2"))
>>> streets.crs.to_epsg(), streets.attrs["trimmed_ways"] > 0
(4326, True)
"""

from __future__ import annotations

import logging
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely

from gridkit._types import PathLike
from gridkit.errors import InputDataError, MissingFieldError
from gridkit.io.tables import read_table
from gridkit.osm.files import read_osm, tags_of
from gridkit.osm.households import (
    estimate_households,  # noqa: F401  (its import path before the split)
    parse_levels,
)
from gridkit.osm.network import NetworkType, TagFilter, network_filter
from gridkit.osm.repair import Selection, count_unbuilt, log_repairs, select

__all__ = [
    "buildings_from_osm",
    "components_from_osm",
    "graph_from_osm",
    "streets_from_osm",
]

log = logging.getLogger(__name__)

_STREET_COLUMNS = ("osmid", "highway", "name", "ref", "service", "oneway", "bridge", "tunnel")
_BUILDING_COLUMNS = ("element", "osmid", "building", "name", "building:levels", "levels",
                     "addr:street", "addr:housenumber")
_COMPONENT_COLUMNS = ("element", "osmid", "key", "value", "category", "name")
_NO_STREETS_HINT = "check that the file covers a street network, or choose another network_type"


def streets_from_osm(path: PathLike, *, network_type: NetworkType = "all") -> gpd.GeoDataFrame:
    """One LineString per OSM street way, repaired where the extract is clipped.

    Parameters
    ----------
    path
        OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf``).
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
        The file is not OSM XML or PBF, or holds no street of this network type.
    """
    path = Path(path)
    selection = _street_selection(read_osm(path), network_type, path)
    streets = lines_from_selection(selection)
    streets.attrs.update(source=str(path), **selection.counts())
    log_repairs(path, "streets", selection)
    log.info("%s: %d streets (network type %s)", path, len(streets), network_type)
    return streets


def graph_from_osm(
    path: PathLike,
    *,
    network_type: NetworkType = "walk",
    simplify: bool = True,
    retain_all: bool = False,
) -> nx.MultiDiGraph:
    """The street graph of an OSM file, built by osmnx from the repaired streets.

    Parameters
    ----------
    path
        OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf``).
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
    selection = _street_selection(read_osm(path), network_type, path)
    bidirectional = network_type in ox.settings.bidirectional_network_types
    with tempfile.TemporaryDirectory(prefix="gridkit-osm-") as tmp:
        cleaned = selection.write(Path(tmp) / "streets.osm")
        graph = ox.graph_from_xml(cleaned, bidirectional=bidirectional, simplify=simplify, retain_all=retain_all)
    graph.graph.update(source=str(path), **selection.counts())
    log_repairs(path, "street graph", selection)
    log.info("%s: street graph with %d nodes and %d edges", path, len(graph), graph.number_of_edges())
    return graph


def buildings_from_osm(path: PathLike) -> gpd.GeoDataFrame:
    """Building footprints (ways and multipolygon relations tagged ``building=*``).

    Parameters
    ----------
    path
        OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf``).

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
        The file is missing, unreadable or not OSM XML or PBF.
    """
    path = Path(path)
    root = read_osm(path)
    wanted: TagFilter = lambda tags: "building" in tags
    selection = select(root, way_filter=wanted, relation_filter=wanted, mode="area")
    features = _features(selection, {"building": True})
    features = features[features.geom_type.isin(["Polygon", "MultiPolygon"])]
    count_unbuilt(selection, features)
    buildings = _with_columns(features, _BUILDING_COLUMNS)
    buildings["levels"] = parse_levels(buildings["building:levels"])
    buildings.attrs.update(source=str(path), **selection.counts())
    log_repairs(path, "buildings", selection)
    log.info("%s: %d buildings", path, len(buildings))
    return buildings


def components_from_osm(path: PathLike, *, table: PathLike | pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """City components (部件) mapped in OSM: street lamps, hydrants, benches and the like.

    Parameters
    ----------
    path
        OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf``).
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
        The file is missing, unreadable or not OSM XML or PBF; the table is malformed.
    """
    path = Path(path)
    mapping = component_table(table)
    pairs = set(zip(mapping["key"], mapping["value"]))
    wanted: TagFilter = lambda tags: any((k, v) in pairs for k, v in tags.items())
    root = read_osm(path)
    selection = select(root, way_filter=wanted, relation_filter=wanted, node_filter=wanted, mode="area")
    query: dict[str, bool | str | list[str]] = {
        str(key): sorted(group["value"]) for key, group in mapping.groupby("key", sort=True)
    }
    features = _features(selection, query)
    count_unbuilt(selection, features)
    components = _categorise(features, mapping)
    components.attrs.update(source=str(path), **selection.counts())
    log_repairs(path, "components", selection)
    log.info("%s: %d components in %d categories", path, len(components), components["category"].nunique())
    return components


def component_table(table: PathLike | pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``key``, ``value``, ``code`` table of OSM tags and component categories, checked.

    Parameters
    ----------
    table
        A CSV file or DataFrame; None for the bundled ``tables/osm_component_tags.csv``.

    Raises
    ------
    InputFileError, MissingFieldError
        The file is missing or unreadable, or lacks a column.
    InputDataError
        A code is not 4 digits.

    Examples
    --------
    >>> component_table().iloc[0].tolist()
    ['highway', 'street_lamp', '0118']
    """
    columns = ("key", "value", "code")
    source: PathLike | None = None
    if isinstance(table, pd.DataFrame):
        missing = [col for col in columns if col not in table.columns]
        if missing:
            raise MissingFieldError("the component tag table needs columns key, value, code",
                                    field=missing[0], hint="add the missing columns")
        frame = table[list(columns)].astype(str).apply(lambda col: col.str.strip())
    else:
        source = table
        frame = read_table(table, bundled="osm_component_tags", columns=columns,
                           what="component tag table")[list(columns)]
    bad = frame.index[~frame["code"].str.fullmatch(r"\d{4}")].tolist()
    if bad:
        raise InputDataError("component codes must be 4 digits (major + minor, e.g. 0118)", path=source,
                             feature_ids=bad, field="code", hint="write codes with leading zeros")
    return frame.reset_index(drop=True)


def lines_from_selection(selection: Selection) -> gpd.GeoDataFrame:
    """One LineString per selected way, with the street columns (EPSG:4326)."""
    refs = [[int(nd.get("ref", 0)) for nd in way.iter("nd")] for way in selection.ways]
    coords = np.array([selection.coords[r] for way_refs in refs for r in way_refs], dtype=float).reshape(-1, 2)
    index = np.repeat(np.arange(len(refs)), [len(r) for r in refs])
    geometry = shapely.linestrings(coords, indices=index) if len(refs) else np.array([], dtype=object)
    tags = [tags_of(way) for way in selection.ways]
    data = {col: [t.get(col) for t in tags] for col in _STREET_COLUMNS[1:]}
    frame = pd.DataFrame({"osmid": pd.array([int(w.get("id", 0)) for w in selection.ways], dtype="int64"), **data})
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def _street_selection(root: ET.Element, network_type: str, path: Path) -> Selection:
    selection = select(root, way_filter=network_filter(network_type), mode="line")
    if not selection.ways:
        raise InputDataError(f"no streets (network type {network_type!r}) found", path=path, hint=_NO_STREETS_HINT)
    return selection


def _features(selection: Selection, tags: dict[str, bool | str | list[str]]) -> gpd.GeoDataFrame:
    """osmnx features of the selection, flattened to ``element``/``osmid`` columns.

    osmnx refuses a file in which nothing matches ``tags`` (every wanted way may lose
    its geometry in the repair); one extra node carrying a queried tag, removed from the
    result, keeps that case an empty layer instead of an error.
    """
    empty = gpd.GeoDataFrame({"element": pd.Series([], dtype=object), "osmid": pd.Series([], dtype="int64")},
                             geometry=[], crs="EPSG:4326")
    if not selection.wanted:
        return empty
    key, value = next(iter(tags.items()))
    text = value if isinstance(value, str) else str(value[0]) if isinstance(value, list) and value else "yes"
    marker_id = min(min(selection.coords, default=0), 0) - 1
    marker = ET.Element("node", id=str(marker_id), lat="0", lon="0")
    ET.SubElement(marker, "tag", k=key, v=text)
    with tempfile.TemporaryDirectory(prefix="gridkit-osm-") as tmp:
        cleaned = selection.write(Path(tmp) / "features.osm", extra_nodes=[marker])
        features = ox.features_from_xml(cleaned, tags=tags)
    features = features.reset_index().rename(columns={"id": "osmid"})
    features["osmid"] = features["osmid"].astype("int64")
    features = features[~((features["element"] == "node") & (features["osmid"] == marker_id))]
    if features.empty:
        return empty
    return features.set_crs("EPSG:4326", allow_override=True)


def _with_columns(features: gpd.GeoDataFrame, columns: Iterable[str]) -> gpd.GeoDataFrame:
    """The given columns (missing values where absent) and the geometry, 0-based index."""
    frame = pd.DataFrame({col: features[col] if col in features else pd.Series(None, index=features.index,
                                                                                 dtype=object)
                          for col in columns}, index=features.index)
    return gpd.GeoDataFrame(frame, geometry=features.geometry, crs="EPSG:4326").reset_index(drop=True)


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
