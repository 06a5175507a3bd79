"""Atomic units: street enclosures, a tessellation around buildings, household totals.

A community is cut into *faces* by one planar overlay of three kinds of line: its own
boundary, the streets inside it (and the outlines of dedicated compounds), and the
Voronoi edges between building generator points. Street lines and the boundary alone
give the *enclosures* (blocks). A face holding a building's generator point is that
building's unit; faces without one (cell pieces cut off by a street, empty blocks) join
the neighbouring unit of the same block they share the longest edge with, and a block
without any building becomes one empty unit.

Because every face comes from the same noded linework, neighbouring faces share their
edges vertex for vertex: adjacency and shared lengths are read exactly by hashing ring
segments, and the units tile the community with no gap or overlap by construction.

Every building lands in exactly one unit (through its generator point), so households
are conserved exactly; a building crossing a street or a community boundary is given
to the side holding its largest part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely import Geometry

from gridkit.errors import InputDataError

__all__ = ["CommunityUnits", "FaceSegments", "assign_to_polygons", "dissolve_faces", "face_adjacency", "face_segments",
           "generator_points", "units_for_community"]

log = logging.getLogger(__name__)


@dataclass
class CommunityUnits:
    """The units of one community and how they touch.

    Attributes
    ----------
    faces
        Polygons of the planar overlay (each inside exactly one enclosure).
    face_unit
        Unit number of each face.
    face_enclosure
        Enclosure (block) number of each face.
    unit_households, unit_buildings
        Totals per unit.
    unit_enclosure
        The enclosure each unit lies in.
    unit_dedicated
        Index of the dedicated compound a unit lies in, or -1.
    generator_unit
        Unit number of each generator point passed in.
    edges
        Unit adjacency: columns ``u < v``, ``length`` (shared boundary, metres) and
        ``street`` (True when the shared boundary runs between two enclosures).
    n_enclosures
        Number of enclosures (blocks).
    """

    faces: np.ndarray
    face_unit: np.ndarray
    face_enclosure: np.ndarray
    unit_households: np.ndarray
    unit_buildings: np.ndarray
    unit_enclosure: np.ndarray
    unit_dedicated: np.ndarray
    generator_unit: np.ndarray
    edges: pd.DataFrame
    n_enclosures: int
    segments: FaceSegments | None = None

    @property
    def n_units(self) -> int:
        return len(self.unit_households)

    def unit_geometries(self) -> np.ndarray:
        """One polygon per unit, the union of its faces."""
        return dissolve_faces(self.faces, self.face_unit, self.n_units, segments=self.segments)


def assign_to_polygons(geoms: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each geometry's largest part, or -1 when none does.

    Points on a shared edge go to the polygon with the lowest index, so the result is
    deterministic.
    """
    result = np.full(len(geoms), -1, dtype=np.int64)
    if len(geoms) == 0 or len(polygons) == 0:
        return result
    tree = shapely.STRtree(polygons)
    gi, pi = tree.query(geoms, predicate="intersects")
    if len(gi) == 0:
        return result
    order = np.lexsort((pi, gi))
    gi, pi = gi[order], pi[order]
    counts = np.bincount(gi, minlength=len(geoms))
    multi = counts[gi] > 1
    # one candidate: take it
    result[gi[~multi]] = pi[~multi]
    if multi.any():
        mg, mp = gi[multi], pi[multi]
        area = shapely.area(shapely.intersection(geoms[mg], polygons[mp]))
        # ties (points, lines, equal parts) keep the lowest polygon index: sort by -area, then index
        pick = np.lexsort((mp, -area, mg))
        mg, mp = mg[pick], mp[pick]
        first = np.ones(len(mg), dtype=bool)
        first[1:] = mg[1:] != mg[:-1]
        result[mg[first]] = mp[first]
    return result


def generator_points(geoms: np.ndarray, containers: np.ndarray) -> np.ndarray:
    """A point inside each geometry's part that lies in its container polygon."""
    pts = shapely.point_on_surface(geoms)
    outside = ~shapely.intersects(pts, containers)
    if outside.any():
        parts = shapely.intersection(geoms[outside], containers[outside])
        pts[outside] = shapely.point_on_surface(parts)
    return pts


@dataclass
class FaceSegments:
    """Every ring segment of a set of faces (:func:`face_segments`), computed once for several uses.

    ``lo``/``hi`` are the end points (orientation-free), ``face`` the owning face, ``order``
    sorts equal segments next to each other and ``dup`` holds the positions ``i`` in
    ``order`` where segments ``order[i]`` and ``order[i + 1]`` coincide.
    """

    lo: np.ndarray
    hi: np.ndarray
    face: np.ndarray
    order: np.ndarray
    dup: np.ndarray


def face_segments(faces: np.ndarray) -> FaceSegments:
    """The ring segments of ``faces``, for :func:`face_adjacency` and :func:`dissolve_faces` on the same faces."""
    lo, hi, seg_face, order = _ring_segments(faces)
    return FaceSegments(lo, hi, seg_face, order, _shared(lo, hi, order))


def _ring_segments(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every ring segment of every face, orientation-free: (lo, hi) end points, owning face, and
    the permutation sorting segments so that a segment shared by two faces sits in two
    neighbouring rows."""
    coords, ring_idx, ring_face = _ring_coordinates(faces)
    same_ring = ring_idx[1:] == ring_idx[:-1]
    p = coords[:-1][same_ring]
    q = coords[1:][same_ring]
    seg_face = ring_face[ring_idx[:-1][same_ring]]
    swap = (q[:, 0] < p[:, 0]) | ((q[:, 0] == p[:, 0]) & (q[:, 1] < p[:, 1]))
    lo = np.where(swap[:, None], q, p)
    hi = np.where(swap[:, None], p, q)
    keys = np.ascontiguousarray(np.hstack([lo, hi])).view(np.dtype((np.void, 32))).ravel()
    order = np.argsort(keys, kind="stable")
    return lo, hi, seg_face, order


def _ring_coordinates(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coordinates of every ring of every face, the ring of each, and the face of each ring.

    As ``get_coordinates(get_rings(faces))`` gives them, without copying the rings of the
    faces without holes (nearly all), whose one ring is all their coordinates.
    """
    coords, coord_face = shapely.get_coordinates(faces, return_index=True)
    holes = shapely.get_num_interior_rings(faces)
    rings_per_face = np.where(shapely.is_empty(faces) | shapely.is_missing(faces), 0, holes + 1)
    ring_face = np.repeat(np.arange(len(faces)), rings_per_face)
    ring_len = np.bincount(coord_face, minlength=len(faces))[ring_face]  # a face's one ring: all of it
    holed = np.flatnonzero(rings_per_face > 1)
    if len(holed):
        first = np.cumsum(rings_per_face) - rings_per_face  # position of each face's first ring
        at = np.repeat(first[holed], rings_per_face[holed]) + _ranges(rings_per_face[holed])
        ring_len[at] = shapely.get_num_coordinates(shapely.get_rings(faces[holed]))
    ring_idx = np.repeat(np.arange(len(ring_len)), ring_len)
    return coords, ring_idx, ring_face


def _ranges(counts: np.ndarray) -> np.ndarray:
    """``0..c-1`` for each count ``c``, concatenated."""
    ends = np.cumsum(counts)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - counts, counts)


def _shared(lo: np.ndarray, hi: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Positions ``i`` in ``order`` where segments ``order[i]`` and ``order[i + 1]`` coincide."""
    a, b = order[:-1], order[1:]
    return np.flatnonzero((lo[a] == lo[b]).all(axis=1) & (hi[a] == hi[b]).all(axis=1))


def face_adjacency(faces: np.ndarray, *, segments: FaceSegments | None = None) -> pd.DataFrame:
    """Pairs of faces sharing boundary segments, with the shared length.

    Faces must come from one polygonize call (identical vertices on shared edges).
    Returns columns ``a < b`` and ``length``. ``segments``: :func:`face_segments` of
    ``faces``, when already at hand.
    """
    seg = face_segments(faces) if segments is None else segments
    lo, hi, seg_face, order, dup = seg.lo, seg.hi, seg.face, seg.order, seg.dup
    a = seg_face[order[dup]]
    b = seg_face[order[dup + 1]]
    length = np.hypot(*(hi[order[dup]] - lo[order[dup]]).T)
    keep = a != b
    a, b, length = a[keep], b[keep], length[keep]
    pairs = pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b), "length": length})
    return pairs.groupby(["a", "b"], as_index=False, sort=True).agg(length=("length", "sum"))


def dissolve_faces(faces: np.ndarray, labels: np.ndarray, n: int, *, segments: FaceSegments | None = None
                   ) -> np.ndarray:
    """One geometry per label 0..n-1: the union of its faces, without a union per label.

    The outline of every label is the set of face segments whose two sides carry
    different labels (or that have one side only); one polygonize of those segments
    gives the label polygons, which a probe point per polygon sends to its label.
    Faces must come from one polygonize call. ``segments``: :func:`face_segments` of
    ``faces``, when already at hand.
    """
    seg = face_segments(faces) if segments is None else segments
    lo, hi, seg_face, order, dup = seg.lo, seg.hi, seg.face, seg.order, seg.dup
    edge = np.ones(len(lo), dtype=bool)
    edge[order[dup + 1]] = False  # a shared segment once
    same = labels[seg_face[order[dup]]] == labels[seg_face[order[dup + 1]]]
    edge[order[dup[same]]] = False  # and not at all inside a label
    lines = shapely.linestrings(np.stack([lo[edge], hi[edge]], axis=1))
    polys = np.asarray(shapely.get_parts(shapely.polygonize(lines)))
    face_tree = shapely.STRtree(faces)
    probe = shapely.point_on_surface(polys)
    pi, fi = face_tree.query(probe, predicate="intersects")
    poly_label = np.full(len(polys), -1, dtype=np.int64)
    last_lowest = np.lexsort((-fi, pi))  # on an edge, the lowest face index is written last and wins
    poly_label[pi[last_lowest]] = labels[fi[last_lowest]]
    # polygons that lie in no face fill holes of the area (a community's enclave): not ours
    polys, poly_label = polys[poly_label >= 0], poly_label[poly_label >= 0]
    out = np.full(n, None, dtype=object)
    order_p = np.argsort(poly_label, kind="stable")
    sorted_labels = poly_label[order_p]
    starts = np.searchsorted(sorted_labels, np.arange(n), side="left")
    ends = np.searchsorted(sorted_labels, np.arange(n), side="right")
    single = ends - starts == 1
    out[single] = polys[order_p[starts[single]]]
    for label in np.flatnonzero(ends - starts > 1):  # a label in several pieces (rare)
        out[label] = shapely.multipolygons(polys[order_p[starts[label]:ends[label]]])
    for label in np.flatnonzero(ends == starts):
        out[label] = shapely.Polygon()
    return out


#: faces below this area (m²) are slivers of nearly collinear lines (real street data); they are
#: left out, which moves no building and changes a community's area by far less than 1e-6
_MIN_FACE_M2 = 1e-6


#: a face probe this close to the boundary ring is checked by area, not by the probe alone
_PROBE_TOLERANCE_M = 1e-6


def _polygonize_inside(lines: Geometry, boundary: Geometry) -> np.ndarray:
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))))
    if len(faces) == 0:
        return faces
    faces = faces[shapely.area(faces) > _MIN_FACE_M2]
    probe = shapely.point_on_surface(faces)
    inside = shapely.contains_properly(boundary, probe)
    # a thin face's probe can land on the boundary itself, or a rounding error outside: decide by area
    on_edge = np.flatnonzero(~inside)
    on_edge = on_edge[shapely.distance(shapely.boundary(boundary), probe[on_edge]) < _PROBE_TOLERANCE_M]
    if len(on_edge):
        share = shapely.area(shapely.intersection(faces[on_edge], boundary)) / shapely.area(faces[on_edge])
        inside[on_edge[share > 0.5]] = True
    return faces[inside]


def units_for_community(
    boundary: Geometry,
    generators: np.ndarray,
    households: np.ndarray,
    buildings: np.ndarray,
    *,
    streets: np.ndarray | None = None,
    dedicated: np.ndarray | None = None,
    outlines: np.ndarray | None = None,
    community: str | None = None,
) -> CommunityUnits:
    """Tessellate one community into units around its generator points.

    Parameters
    ----------
    boundary
        The community polygon (metric CRS).
    generators
        One point per building (or household point), inside ``boundary``.
    households, buildings
        Households and building count carried by each generator.
    streets
        Street lines (any extent; clipped here).
    dedicated
        Polygons of dedicated compounds inside the community; each becomes its own
        enclosure so that no unit straddles its outline.
    outlines
        The building footprints behind the generators (points are skipped). A
        footprint that reaches out of its point's Voronoi cell (touching or large
        buildings), or that a street crosses, has its outline added to the overlay and owns the faces inside it,
        so its unit wraps it and grid boundaries pass around it, not through it.
    community
        The community's code, to name it in errors.

    Raises
    ------
    InputDataError
        When the boundary is not a polygon or leaves no area to divide (a degenerate
        polygon, or coordinates that are not in the CRS the layer declares).
    """
    if shapely.get_type_id(boundary) not in (3, 6) or shapely.is_empty(boundary):
        kind = "an empty polygon" if shapely.is_empty(boundary) else getattr(boundary, "geom_type", "missing")
        raise _no_area(community, f"its boundary is {kind}, not a polygon with area")
    # Lines are noded unclipped: clipping first would leave end points a rounding
    # error off the boundary ring, and polygonize would drop them as dangles.
    shapely.prepare(boundary)
    frame = shapely.envelope(boundary).buffer(10.0, join_style="mitre")
    cut_lines = [shapely.boundary(boundary)]
    if streets is not None and len(streets):
        cut_lines.extend(streets[shapely.intersects(streets, boundary)])
    if dedicated is not None and len(dedicated):
        cut_lines.extend(shapely.boundary(np.asarray(dedicated)))
    cut_lines = [g for g in cut_lines if shapely.get_dimensions(g) == 1 and not shapely.is_empty(g)]
    block_lines = shapely.unary_union(cut_lines)
    enclosures = _polygonize_inside(block_lines, boundary)

    # generators sharing a location (household points of one building) share a site
    site_xy, gen_site = np.unique(shapely.get_coordinates(generators), axis=0, return_inverse=True)
    gen_site = gen_site.ravel()
    site_owner = np.full(len(site_xy), len(generators), dtype=np.int64)
    np.minimum.at(site_owner, gen_site, np.arange(len(generators)))

    lines = [[block_lines]]
    cells = np.zeros(0, dtype=object)
    if len(site_xy) >= 2:
        cells = np.asarray(shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(site_xy), extend_to=frame, ordered=True)))
        lines.append(shapely.boundary(cells))
    wrapped = _footprints_to_wrap(outlines, cells, gen_site, block_lines)
    if len(wrapped):
        assert outlines is not None  # only footprints can be wrapped
        lines.append(shapely.boundary(outlines[wrapped]))
    all_lines = shapely.unary_union(np.concatenate(lines))
    faces = _polygonize_inside(all_lines, boundary)
    if len(faces) == 0 or len(enclosures) == 0:
        raise _no_area(community, f"its boundary encloses no area above {_MIN_FACE_M2:g} m² "
                                  f"(area {shapely.area(boundary):.3g} m²)")

    probe = shapely.point_on_surface(faces)
    enc_tree = shapely.STRtree(enclosures)
    fi, ei = enc_tree.query(probe, predicate="within")
    face_enclosure = np.full(len(faces), -1, dtype=np.int64)
    face_enclosure[fi] = ei
    if (face_enclosure < 0).any():
        # a face whose probe sits on an enclosure edge through rounding: nearest enclosure
        lost = np.flatnonzero(face_enclosure < 0)
        face_enclosure[lost] = enc_tree.nearest(probe[lost])

    site_face = assign_to_polygons(shapely.points(site_xy), faces)
    missing = site_face < 0
    if missing.any():
        site_face[missing] = shapely.STRtree(faces).nearest(shapely.points(site_xy[missing]))
    gen_face = site_face[gen_site]
    face_owner = np.full(len(faces), -1, dtype=np.int64)
    held = np.arange(len(site_face))[::-1]  # the lowest site wins a face reached twice by rounding
    face_owner[site_face[held]] = site_owner[held]
    if len(wrapped):
        # faces inside a wrapped footprint belong to it (the lowest row where footprints overlap)
        assert outlines is not None
        fi, wi = shapely.STRtree(outlines[wrapped]).query(probe, predicate="within")
        last_lowest = np.lexsort((-wrapped[wi], fi))
        face_owner[fi[last_lowest]] = wrapped[wi[last_lowest]]

    segments = face_segments(faces)
    adjacency = face_adjacency(faces, segments=segments)
    face_unit = _label_faces(face_owner, gen_face, face_enclosure, adjacency)
    n_units = int(face_unit.max()) + 1

    gen_unit = face_unit[gen_face]
    unit_households = np.bincount(gen_unit, weights=households, minlength=n_units).round().astype(np.int64)
    unit_buildings = np.bincount(gen_unit, weights=buildings, minlength=n_units).round().astype(np.int64)
    unit_enclosure = np.zeros(n_units, dtype=np.int64)
    unit_enclosure[face_unit] = face_enclosure

    unit_dedicated = np.full(n_units, -1, dtype=np.int64)
    if dedicated is not None and len(dedicated):
        enc_ded = assign_to_polygons(shapely.point_on_surface(enclosures), np.asarray(dedicated))
        unit_dedicated = enc_ded[unit_enclosure]

    ua = face_unit[adjacency["a"].to_numpy()]
    ub = face_unit[adjacency["b"].to_numpy()]
    street = face_enclosure[adjacency["a"].to_numpy()] != face_enclosure[adjacency["b"].to_numpy()]
    between = ua != ub
    unit_edges = pd.DataFrame(
        {
            "u": np.minimum(ua, ub)[between],
            "v": np.maximum(ua, ub)[between],
            "length": adjacency["length"].to_numpy()[between],
            "street": street[between],
        }
    )
    unit_edges = unit_edges.groupby(["u", "v"], as_index=False, sort=True).agg(
        length=("length", "sum"), street=("street", "max")
    )
    return CommunityUnits(
        faces=faces,
        face_unit=face_unit,
        face_enclosure=face_enclosure,
        unit_households=unit_households,
        unit_buildings=unit_buildings,
        unit_enclosure=unit_enclosure,
        unit_dedicated=unit_dedicated,
        generator_unit=gen_unit,
        edges=unit_edges,
        n_enclosures=len(enclosures),
        segments=segments,
    )


def _no_area(community: str | None, why: str) -> InputDataError:
    name = f"community {community}" if community else "a community"
    return InputDataError(
        f"{name} cannot be divided: {why}",
        field="geometry",
        hint="check the boundary polygon, and that the coordinates are in the CRS the file declares "
             "(longitude/latitude swapped, or metres under a geographic CRS)",
    )


def _footprints_to_wrap(
    outlines: np.ndarray | None, cells: np.ndarray, gen_site: np.ndarray, block_lines: Geometry
) -> np.ndarray:
    """Rows whose footprint reaches out of the Voronoi cell of its point, or that a street crosses."""
    if outlines is None:
        return np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(shapely.get_dimensions(outlines) == 2)
    shapely.prepare(block_lines)
    wrap = shapely.intersects(block_lines, outlines[rows])
    if len(cells):
        wrap |= ~shapely.covered_by(outlines[rows], cells[gen_site[rows]])
    return rows[wrap]


def _label_faces(
    face_owner: np.ndarray, gen_face: np.ndarray, face_enclosure: np.ndarray, adjacency: pd.DataFrame
) -> np.ndarray:
    """Unit label per face.

    A building's unit is the connected set of its faces that holds its generator; its
    other faces, and faces with no site, join the same-block neighbour they share the
    longest edge with; a block without any unit becomes one empty unit.
    """
    n_faces = len(face_owner)
    a = adjacency["a"].to_numpy()
    b = adjacency["b"].to_numpy()
    length = adjacency["length"].to_numpy()
    same_owner = (face_owner[a] >= 0) & (face_owner[a] == face_owner[b])
    _, comp = connected_components(
        coo_matrix((np.ones(same_owner.sum()), (a[same_owner], b[same_owner])), shape=(n_faces, n_faces)),
        directed=False,
    )
    rows = np.arange(len(gen_face))
    own_main = face_owner[gen_face] == rows
    main_comps = np.unique(comp[gen_face[own_main]])
    label = np.full(n_faces, -1, dtype=np.int64)
    kept = np.isin(comp, main_comps) & (face_owner >= 0)
    label[kept] = np.searchsorted(main_comps, comp[kept])

    same_block = face_enclosure[a] == face_enclosure[b]
    a, b, length = a[same_block], b[same_block], length[same_block]
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    weight = np.concatenate([length, length])
    while True:
        open_ = (label[dst] < 0) & (label[src] >= 0)
        if not open_.any():
            break
        d, s, w = dst[open_], src[open_], weight[open_]
        pick = np.lexsort((s, -w, d))
        d, s = d[pick], s[pick]
        first_of = np.ones(len(d), dtype=bool)
        first_of[1:] = d[1:] != d[:-1]
        label[d[first_of]] = label[s[first_of]]
    # blocks with no building: one empty unit per block
    empty = np.flatnonzero(label < 0)
    if len(empty):
        _, block_label = np.unique(face_enclosure[empty], return_inverse=True)
        label[empty] = label.max() + 1 + block_label.ravel()
    return label
