"""Community polygons derived from an OSM file's arterial streets, for places without a boundary file."""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import Geometry

from gridkit._types import PathLike
from gridkit.codes import reading_order
from gridkit.crs import local_crs
from gridkit.errors import InputDataError, MissingCRSError, ParameterError
from gridkit.osm.features import lines_from_selection
from gridkit.osm.files import read_osm
from gridkit.osm.network import network_filter
from gridkit.osm.repair import log_repairs, select
from gridkit.osm.tags import ARTERIAL_HIGHWAYS
from gridkit.partition.units import face_adjacency

__all__ = ["communities_from_osm"]

log = logging.getLogger(__name__)

# synthetic division codes: no Chinese province uses 99, township part 001-..., village
# part 001-199 (the urban residents' committee range, so the code reads as "city")
_SYNTHETIC_COUNTY = "990000"
_SERIALS_PER_TOWNSHIP = 199
# extended dead ends overshoot the line they reach by this much (metres)
_OVERSHOOT_M = 0.5


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
        OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf``).
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
        As :func:`gridkit.osm.streets_from_osm`; no street of the ``highways`` classes.
    ParameterError
        ``min_area_m2`` or ``extend_m`` negative, or ``highways`` empty.
    """
    path = Path(path)
    highways = tuple(highways)
    if not highways or min_area_m2 < 0:
        raise ParameterError("communities need at least one highway class and min_area_m2 >= 0",
                             hint=f"got highways={highways!r}, min_area_m2={min_area_m2!r}")
    if extend_m < 0:
        raise ParameterError("extend_m must be >= 0 (0: no dead end is prolonged)", hint=f"got {extend_m!r}")
    root = read_osm(path)
    selection = select(root, way_filter=network_filter("all"), mode="line")
    streets = lines_from_selection(selection)
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
    log_repairs(path, "streets", selection)
    log.info("%s: %d communities from %d faces of %d arterial streets",
             path, len(communities), len(faces), len(arterials))
    return communities


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


