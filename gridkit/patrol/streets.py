"""Streets cut into pieces per grid: the street network a grid worker patrols.

A grid's streets are the parts of the street lines inside the grid polygon, plus the
streets that run along its edge: grid boundaries follow street centrelines, so a
street on the boundary belongs to *both* neighbouring grids (each worker walks it).
A street counts as running along the edge when a piece of it outside the grid stays
within ``edge_tolerance_m`` of the boundary for at least twice that distance and
mostly parallel to it; a street that merely crosses the boundary leaves only its
inside part to the grid.

Everything is vectorised: one STRtree query pairs streets with grids, one
``shapely.intersection`` over the pairs cuts them.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import LineString, box
>>> from gridkit.crs import local_crs
>>> crs = local_crs((106.6, 26.4, 106.7, 26.5))  # CGCS2000 Gauss-Kruger, 108°E
>>> x, y = 366_000, 2_925_000
>>> grids = gpd.GeoDataFrame({"grid_code": ["A", "B"]}, crs=crs, geometry=[
...     box(x, y, x + 100, y + 100), box(x + 100, y, x + 200, y + 100)])
>>> streets = gpd.GeoDataFrame({"name": ["edge", "across", "beside"]}, crs=crs, geometry=[
...     LineString([(x + 100, y), (x + 100, y + 100)]),     # the shared edge
...     LineString([(x + 50, y + 50), (x + 150, y + 50)]),  # crosses it
...     LineString([(x, y - 3), (x + 100, y - 3)])])        # 3 m south of A
>>> pieces = streets_for_grids(streets, grids)
>>> [(r.grid_code, r.name, round(r.length_m, 2)) for r in pieces.itertuples()]
[('A', 'edge', 100.0), ('A', 'across', 50.05), ('A', 'beside', 100.0), ('B', 'edge', 100.0), ('B', 'across', 50.05)]
"""

from __future__ import annotations

import logging
from os import PathLike
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.crs import local_crs
from gridkit.errors import EmptyLayerError, GeometryTypeError, MissingFieldError, ParameterError

__all__ = ["read_streets", "streets_for_grids"]

log = logging.getLogger(__name__)

#: Street attributes carried onto the pieces when the source has them.
CARRIED_FIELDS = ("name", "highway")
# an outside piece runs along the edge when the boundary distance between its ends is
# at least this share of its length
_ALONG_SHARE = 0.7
_LINESTRING = 1
# streets this close to a grid count as inside it (metres)
_EPS_M = 0.05
# shorter pieces are streets that only touch the grid from outside (metres)
_MIN_PIECE_M = 4 * _EPS_M


def streets_for_grids(
    streets: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    grid_field: str = "grid_code",
    edge_tolerance_m: float = 5.0,
) -> gpd.GeoDataFrame:
    """The street lines cut into pieces per grid, in the grids' local metric CRS.

    Parameters
    ----------
    streets
        Street lines (LineString or MultiLineString) in any CRS.
    grids
        Grid polygons with a ``grid_field`` column, in any CRS.
    grid_field
        The grid code column of ``grids``.
    edge_tolerance_m
        A street within this distance of a grid's boundary, running along it, belongs
        to the grid even when it lies just outside (so to both neighbours).

    Returns
    -------
    geopandas.GeoDataFrame
        One LineString per piece, a 0-based index, in ``gridkit.crs.local_crs(grids)``,
        sorted by grid code then street: ``grid_code`` (str), ``street_id`` (the index
        label of the source street), ``length_m``, plus ``name`` and ``highway`` when the
        streets have them. Pieces shorter than 20 cm (a street touching the grid from
        outside) are left out.

    Raises
    ------
    MissingFieldError
        ``grids`` has no ``grid_field`` column.
    EmptyLayerError, GeometryTypeError
        No grids or no streets; streets that are not lines.
    ParameterError
        A negative ``edge_tolerance_m``.
    """
    if grid_field not in grids.columns:
        raise MissingFieldError(f"the grids have no {grid_field!r} field", path=grids.attrs.get("source"),
                                field=grid_field, hint="pass the grid code field (grid_field=) or run partition")
    if len(grids) == 0:
        raise EmptyLayerError("there are no grids", path=grids.attrs.get("source"))
    if edge_tolerance_m < 0:
        raise ParameterError(f"edge_tolerance_m must be >= 0, got {edge_tolerance_m}")
    _check_lines(streets)
    crs = local_crs(grids)
    g = grids.to_crs(crs)
    s = streets.to_crs(crs)
    polys = shapely.make_valid(g.geometry.to_numpy())
    lines = s.geometry.to_numpy()

    tree = shapely.STRtree(lines)
    reach = shapely.buffer(polys, edge_tolerance_m) if edge_tolerance_m > 0 else polys
    ig, il = tree.query(reach, predicate="intersects")

    # a street on the boundary, or a hair outside it, is inside: cut with the grid grown by
    # _EPS_M, and take the outside strip beyond that, so the two never hold the same line
    grown = shapely.buffer(polys, _EPS_M, join_style="mitre")
    inside = shapely.line_merge(_lines_only(shapely.intersection(lines[il], grown[ig])))
    parts, owner = _explode(inside)
    if edge_tolerance_m > 0:
        edge_parts, edge_owner = _along_edge(lines[il], polys[ig], grown[ig], edge_tolerance_m)
        parts = np.concatenate([parts, edge_parts])
        owner = np.concatenate([owner, edge_owner])

    length = shapely.length(parts)
    keep = length >= _MIN_PIECE_M
    parts, owner, length = parts[keep], owner[keep], length[keep]
    out = pd.DataFrame({
        "grid_code": g[grid_field].astype(str).to_numpy()[ig[owner]],
        "street_id": s.index.to_numpy()[il[owner]],
        "length_m": length,
    })
    for name in CARRIED_FIELDS:
        if name in s.columns:
            out[name] = s[name].to_numpy()[il[owner]]
    start = shapely.get_coordinates(shapely.get_point(parts, 0)).reshape(-1, 2)
    out["_x"], out["_y"] = start[:, 0], start[:, 1]
    result = gpd.GeoDataFrame(out, geometry=parts, crs=crs)
    result = (result.sort_values(["grid_code", "street_id", "_x", "_y"], kind="stable")
              .drop(columns=["_x", "_y"]).reset_index(drop=True))
    log.info("streets_for_grids: %d pieces of %d streets in %d grids (%.1f km)",
             len(result), len(s), result["grid_code"].nunique(), result["length_m"].sum() / 1000)
    return result


def read_streets(path: str | PathLike[str], *, source: Literal["lines", "osm"] = "lines") -> gpd.GeoDataFrame:
    """Street lines from a line layer, or the walkable ways of an OSM XML file.

    Parameters
    ----------
    path
        A line layer any :func:`gridkit.io.read_layer` format reads, or an OSM XML
        file (``.osm``, ``.osm.bz2``).
    source
        ``"lines"``: every line of the layer is a street. ``"osm"``: the ways osmnx's
        ``walk`` network keeps (no motorways, no ``foot=no``).

    Returns
    -------
    geopandas.GeoDataFrame
        Lines with ``name`` (and ``highway`` when known), in the file's CRS.
    """
    if source == "osm":
        from gridkit.osm.features import streets_from_osm

        return streets_from_osm(path, network_type="walk")
    if source != "lines":
        raise ParameterError(f"source must be 'lines' or 'osm', got {source!r}")
    from gridkit.io import read_layer

    return read_layer(path, geometry="line", role="streets")


def _check_lines(streets: gpd.GeoDataFrame) -> None:
    if len(streets) == 0:
        raise EmptyLayerError("there are no streets", path=streets.attrs.get("source"),
                              hint="give a street layer that covers the grids")
    kinds = shapely.get_type_id(streets.geometry.to_numpy())
    bad = ~np.isin(kinds, (1, 5))
    if bad.any():
        raise GeometryTypeError("streets must be LineStrings or MultiLineStrings", path=streets.attrs.get("source"),
                                feature_ids=list(streets.index[bad]), hint="keep only the street centrelines")


def _lines_only(geoms: np.ndarray) -> np.ndarray:
    """Each geometry reduced to its line parts (a MultiLineString, possibly empty)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    parts2, owner2 = shapely.get_parts(parts, return_index=True)
    owner2 = owner[owner2]
    lines = (shapely.get_type_id(parts2) == _LINESTRING) & ~shapely.is_empty(parts2)
    collected = np.empty(len(geoms), dtype=object)
    collected[:] = shapely.MultiLineString()
    if lines.any():
        which = np.unique(owner2[lines])
        rank = np.searchsorted(which, owner2[lines])
        collected[which] = shapely.multilinestrings(parts2[lines], indices=rank)
    return collected


def _explode(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    parts, owner = shapely.get_parts(geoms, return_index=True)
    lines = (shapely.get_type_id(parts) == _LINESTRING) & ~shapely.is_empty(parts)
    return parts[lines], owner[lines]


def _along_edge(lines: np.ndarray, polys: np.ndarray, grown: np.ndarray,
                tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of the paired street outside the grid that run along its boundary."""
    boundary = shapely.boundary(polys)
    strip = shapely.difference(shapely.buffer(boundary, tol), grown)
    outside = shapely.line_merge(_lines_only(shapely.intersection(lines, strip)))
    parts, owner = _explode(outside)
    if len(parts) == 0:
        return parts, owner
    length = shapely.length(parts)
    ring = boundary[owner]
    a = shapely.line_locate_point(ring, shapely.get_point(parts, 0))
    b = shapely.line_locate_point(ring, shapely.get_point(parts, -1))
    perimeter = shapely.length(ring)
    along = np.abs(a - b)
    along = np.minimum(along, perimeter - along)  # a ring wraps around
    keep = (length >= 2 * tol) & (along >= _ALONG_SHARE * length)
    return parts[keep], owner[keep]
