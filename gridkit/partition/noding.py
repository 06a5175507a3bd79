"""Grids rebuilt in the output CRS so that the file as written tiles exactly.

The partition cuts each community in the work CRS (:func:`gridkit.crs.work_crs`). Moving
the grid polygons to the output CRS vertex by vertex would leave the vertices added
on a community's border (where a street or a cell edge meets it) a rounding error or,
after a change of projection, millimetres off the border's straight edges, and each
community would place them on its own: neighbouring grids would overlap by slivers and
stick out of their community when checked with exact predicates.

:func:`grids_in_output_crs` instead builds every grid from

- the community's own rings, every vertex exactly as in the boundary file (or as
  moved to ``--to-crs``), and
- the interior cut lines (the edges between two grids), moved to the output CRS;

where a cut meets the border, its end is placed on the border edge (at the same share
of the edge as in the work CRS) and that node is inserted into the border edge of
*every* community sharing it, once, so both sides of a shared border carry the same
vertices. One polygonize per community of these lines gives faces that tile it
exactly; each face takes the grid that covers most of it. The community outlines
written are the union of the same faces: the original rings plus the nodes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridkit.partition.graph import spread_labels
from gridkit.partition.units import dissolve_faces, face_adjacency, face_segments

__all__ = ["exact_output", "grids_in_output_crs"]

log = logging.getLogger(__name__)

#: a cut vertex this close (work CRS metres) to the border lies on it: rounding of a noded intersection
_TOUCH_M = 1e-6
#: a loose cut end this close to the border is taken to end on it (a sliver face left out on the way)
_DANGLE_M = 1e-2
#: a face probe this close (metres) to an edge is weighed by area: moving the grids to the output CRS
#: may bend their edges by millimetres
_PROBE_M = 0.05
#: a face needs this share of its area in one grid to be that grid's (else it joins a neighbour)
_MIN_SHARE = 0.5

Move = Callable[[np.ndarray], np.ndarray]


@dataclass
class _Border:
    """Every ring segment of every community, in the work and the output CRS."""

    a_w: np.ndarray
    b_w: np.ndarray
    a_o: np.ndarray
    b_o: np.ndarray
    community: np.ndarray
    key: np.ndarray  # the same id for the same segment of two communities (either direction)
    flipped: np.ndarray  # True when the segment runs hi -> lo of its key
    starts: np.ndarray  # segments of community c: starts[c]:starts[c + 1]


def grids_in_output_crs(
    grids_w: np.ndarray,
    grid_community: np.ndarray,
    boundaries_w: np.ndarray,
    boundaries_o: np.ndarray,
    *,
    move: Move | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grids and community outlines in the output CRS that tile exactly.

    Parameters
    ----------
    grids_w
        Grid polygons in the work CRS (each community's from one polygonize, so
        neighbouring grids share their edges vertex for vertex).
    grid_community
        Position in ``boundaries_w`` of each grid's community.
    boundaries_w, boundaries_o
        The community polygons in the work CRS and in the output CRS, vertex for vertex
        the same (``boundaries_w`` is ``boundaries_o`` projected).
    move
        Work-CRS coordinates (n × 2) to output-CRS ones; None when the two CRSs are one.

    Returns
    -------
    tuple of numpy.ndarray
        The grids in the output CRS (in the order of ``grids_w``) and the community
        outlines (the original rings with the cut nodes inserted; the union of their grids).
    """
    n = len(boundaries_w)
    border = _border(boundaries_w, boundaries_o)
    # output-CRS distance within which a face's probe point cannot decide alone
    probe = _PROBE_M * _scale(np.vstack([border.a_o, border.b_o]), np.vstack([border.a_w, border.b_w]))
    order = np.argsort(grid_community, kind="stable")
    gstarts = np.searchsorted(grid_community[order], np.arange(n + 1))
    cuts = []
    req_seg: list[np.ndarray] = []
    req_t: list[np.ndarray] = []
    for c in range(n):
        mine = order[gstarts[c]:gstarts[c + 1]]
        cut = _cuts_of(grids_w[mine], boundaries_w[c], border, c)
        cuts.append(cut)
        req_seg.append(cut.node_seg[cut.node_seg >= 0])
        req_t.append(cut.node_t[cut.node_seg >= 0])
    nodes = _Nodes.build(border, np.concatenate(req_seg), np.concatenate(req_t))
    req_start = np.concatenate([[0], np.cumsum([len(r) for r in req_seg])])
    grids_o = np.full(len(grids_w), None, dtype=object)
    outlines = np.full(n, None, dtype=object)
    for c in range(n):
        mine = order[gstarts[c]:gstarts[c + 1]]
        cut = cuts[c]
        ring_p, ring_q = nodes.ring_segments(border, c)
        cut_p, cut_q = cut.segments_o(move, nodes.of_request[req_start[c]:req_start[c + 1]], nodes, border)
        faces = _faces(np.concatenate([ring_p, cut_p]), np.concatenate([ring_q, cut_q]), boundaries_o[c], probe)
        approx = grids_w[mine] if move is None else shapely.transform(grids_w[mine], move)
        labels = _labels(faces, approx, probe)
        segments = face_segments(faces)
        grids_o[mine] = dissolve_faces(faces, labels, len(mine), segments=segments)
        outlines[c] = dissolve_faces(faces, np.zeros(len(faces), dtype=np.int64), 1, segments=segments)[0]
        lost = shapely.is_empty(grids_o[mine])
        if lost.any():  # a grid the rebuilt faces missed: keep it as moved rather than drop it
            log.warning("community %d: %d grids could not be rebuilt on the exact border; written as projected",
                        c, int(lost.sum()))
            grids_o[mine[lost]] = approx[lost]
    return grids_o, outlines


def exact_output(grids_w: gpd.GeoDataFrame, communities_w: gpd.GeoDataFrame, boundaries: np.ndarray,
                 boundary_crs: object, output_crs: object) -> tuple[gpd.GeoSeries, gpd.GeoSeries]:
    """The grids and community outlines of a partition in ``output_crs``, tiling exactly there.

    ``grids_w`` and ``communities_w`` are in the work CRS (``community_code`` links them);
    ``boundaries`` are the community polygons as the user gave them (repaired), in
    ``boundary_crs``, in the order of ``communities_w``. When ``output_crs`` is
    ``boundary_crs`` every vertex of ``boundaries`` is kept exactly.
    """
    work = pyproj.CRS.from_user_input(communities_w.crs)
    out = pyproj.CRS.from_user_input(output_crs)
    own = gpd.GeoSeries(boundaries, crs=boundary_crs)
    boundaries_o = own.to_numpy() if own.crs == out else own.to_crs(out).to_numpy()
    move: Move | None = None
    if out != work:
        to_out = pyproj.Transformer.from_crs(work, out, always_xy=True)

        def move(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(to_out.transform(xy[:, 0], xy[:, 1]))

    position = dict(zip(communities_w["community_code"], range(len(communities_w))))
    grid_community = grids_w["community_code"].map(position).to_numpy(dtype=np.int64)
    grids_o, outlines = grids_in_output_crs(grids_w.geometry.to_numpy(), grid_community,
                                            communities_w.geometry.to_numpy(), boundaries_o, move=move)
    return (gpd.GeoSeries(grids_o, index=grids_w.index, crs=out),
            gpd.GeoSeries(outlines, index=communities_w.index, crs=out))


def _segments(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end and owner (position in ``geoms``) of every ring segment."""
    parts, part_owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    owner = part_owner[ring_part]
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    same = ring_idx[1:] == ring_idx[:-1]
    return coords[:-1][same], coords[1:][same], owner[ring_idx[:-1][same]]


def _keys(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One id per undirected segment, and whether each runs against its key's direction."""
    flipped = (q[:, 0] < p[:, 0]) | ((q[:, 0] == p[:, 0]) & (q[:, 1] < p[:, 1]))
    lo = np.where(flipped[:, None], q, p)
    hi = np.where(flipped[:, None], p, q)
    rows = np.ascontiguousarray(np.hstack([lo, hi])).view(np.dtype((np.void, 32))).ravel()
    _, key = np.unique(rows, return_inverse=True)
    return key.ravel(), flipped


def _border(boundaries_w: np.ndarray, boundaries_o: np.ndarray) -> _Border:
    a_w, b_w, comm_w = _segments(boundaries_w)
    a_o, b_o, comm_o = _segments(boundaries_o)
    if len(a_w) != len(a_o) or not np.array_equal(comm_w, comm_o):
        raise ValueError("the boundaries in the work and output CRS differ in their vertices")
    a_w, b_w, a_o, b_o, comm_o = _split_at_neighbours(a_w, b_w, a_o, b_o, comm_o)
    key, flipped = _keys(a_o, b_o)
    starts = np.searchsorted(comm_o, np.arange(len(boundaries_o) + 1))
    return _Border(a_w, b_w, a_o, b_o, comm_o, key, flipped, starts)


def _split_at_neighbours(a_w: np.ndarray, b_w: np.ndarray, a_o: np.ndarray, b_o: np.ndarray, comm: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Border segments split at every vertex of another ring lying on them (a T-junction).

    A border drawn as the difference of two polygons has the crossing points as
    vertices on one side only; inserting them (exact copies of that side's vertices)
    into the other side makes the two carry the same segments.
    """
    if len(a_w) == 0:
        return a_w, b_w, a_o, b_o, comm
    # found in the output CRS, where the user's edges are straight, at the touch distance scaled there
    tol = _TOUCH_M * _scale(np.vstack([a_o, b_o]), np.vstack([a_w, b_w]))
    verts_o, first = np.unique(a_o, axis=0, return_index=True)
    verts_w = a_w[first]
    lines = shapely.linestrings(np.stack([a_o, b_o], axis=1))
    pi, si = shapely.STRtree(lines).query(shapely.points(verts_o), predicate="dwithin", distance=tol)
    x, sa, sb = verts_o[pi], a_o[si], b_o[si]
    inner = (np.hypot(*(x - sa).T) > tol) & (np.hypot(*(x - sb).T) > tol)
    pi, si = pi[inner], si[inner]
    if len(pi) == 0:
        return a_w, b_w, a_o, b_o, comm
    ab = b_o[si] - a_o[si]
    t = ((verts_o[pi] - a_o[si]) * ab).sum(axis=1) / (ab * ab).sum(axis=1)
    owner = np.r_[np.arange(len(a_w)), si]
    pos = np.r_[np.full(len(a_w), -1.0), t]
    xy_w = np.vstack([a_w, verts_w[pi]])
    xy_o = np.vstack([a_o, verts_o[pi]])
    order = np.lexsort((pos, owner))
    owner, xy_w, xy_o = owner[order], xy_w[order], xy_o[order]
    nxt_w, nxt_o = np.empty_like(xy_w), np.empty_like(xy_o)
    nxt_w[:-1], nxt_o[:-1] = xy_w[1:], xy_o[1:]
    last = np.ones(len(owner), dtype=bool)
    last[:-1] = owner[1:] != owner[:-1]
    nxt_w[last], nxt_o[last] = b_w[owner[last]], b_o[owner[last]]
    keep = (xy_o != nxt_o).any(axis=1)
    return xy_w[keep], nxt_w[keep], xy_o[keep], nxt_o[keep], comm[owner[keep]]


def _scale(xy_o: np.ndarray, xy_w: np.ndarray) -> float:
    """Output-CRS units per work-CRS metre, over the extent of the data."""
    span_o = np.hypot(*(xy_o.max(axis=0) - xy_o.min(axis=0)))
    span_w = np.hypot(*(xy_w.max(axis=0) - xy_w.min(axis=0)))
    return float(span_o / span_w) if span_w > 0 else 1.0


@dataclass
class _Cuts:
    """The edges between two grids of one community, as work-CRS vertices and segments."""

    verts_w: np.ndarray
    seg: np.ndarray  # (m, 2) vertex positions
    node_seg: np.ndarray  # per vertex: the border segment it is placed on, or -1
    node_t: np.ndarray  # its share along that segment (start to end)
    at_vertex: np.ndarray  # per vertex: the border vertex (as a segment start, output CRS) it is, or -1

    def segments_o(self, move: Move | None, node_ids: np.ndarray, nodes: _Nodes, border: _Border
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The cut segments in the output CRS, their border ends on the nodes (``node_ids``: per request)."""
        verts = self.verts_w if move is None or len(self.verts_w) == 0 else move(self.verts_w)
        verts = np.array(verts, dtype=np.float64)
        on_node = np.flatnonzero(self.node_seg >= 0)
        inner = node_ids >= 0
        verts[on_node[inner]] = nodes.xy[node_ids[inner]]
        ends = on_node[~inner]
        verts[ends] = np.where((self.node_t[ends] < 0.5)[:, None], border.a_o[self.node_seg[ends]],
                               border.b_o[self.node_seg[ends]])
        at = self.at_vertex >= 0
        verts[at] = border.a_o[self.at_vertex[at]]
        p, q = verts[self.seg[:, 0]], verts[self.seg[:, 1]]
        keep = (p != q).any(axis=1)
        return p[keep], q[keep]


def _cuts_of(grids_w: np.ndarray, boundary_w: shapely.Geometry, border: _Border, c: int) -> _Cuts:
    p, q, _ = _segments(grids_w)
    key, _ = _keys(p, q)
    count = np.bincount(key)
    first = np.unique(key, return_index=True)[1]
    shared = first[count[key[first]] >= 2]  # between two grids: once
    single = first[count[key[first]] == 1]
    ring = shapely.boundary(boundary_w)
    shapely.prepare(ring)
    if len(single):  # the border itself, or the rim of a sliver left out of the faces
        mid = shapely.points((p[single] + q[single]) / 2)
        off = shapely.distance(ring, mid) > _TOUCH_M
        single = single[off]
    seg_ids = np.concatenate([shared, single])
    verts, inv = np.unique(np.vstack([p[seg_ids], q[seg_ids]]), axis=0, return_inverse=True)
    inv = inv.ravel()
    seg = np.stack([inv[:len(seg_ids)], inv[len(seg_ids):]], axis=1)
    node_seg = np.full(len(verts), -1, dtype=np.int64)
    node_t = np.zeros(len(verts))
    at_vertex = np.full(len(verts), -1, dtype=np.int64)
    if len(verts) == 0:
        return _Cuts(verts, seg, node_seg, node_t, at_vertex)
    degree = np.bincount(seg.ravel(), minlength=len(verts))
    pts = shapely.points(verts)
    dist = shapely.distance(ring, pts)
    snap = np.flatnonzero((dist < _TOUCH_M) | ((degree == 1) & (dist < _DANGLE_M)))
    if len(snap) == 0:
        return _Cuts(verts, seg, node_seg, node_t, at_vertex)
    lo, hi = border.starts[c], border.starts[c + 1]
    a, b = border.a_w[lo:hi], border.b_w[lo:hi]
    tree = shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1)))
    nearest = tree.query_nearest(pts[snap], all_matches=False)[1]
    x = verts[snap]
    sa, sb = a[nearest], b[nearest]
    ab = sb - sa
    length2 = (ab * ab).sum(axis=1)
    t = np.clip(((x - sa) * ab).sum(axis=1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    near_a = np.hypot(*(x - sa).T) < _TOUCH_M
    near_b = ~near_a & (np.hypot(*(x - sb).T) < _TOUCH_M)
    mid = ~near_a & ~near_b
    gseg = lo + nearest
    at_vertex[snap[near_a]] = gseg[near_a]
    # a segment's end is the next segment's start, in the output CRS too
    node_seg[snap[near_b]] = gseg[near_b]
    node_t[snap[near_b]] = 1.0
    node_seg[snap[mid]] = gseg[mid]
    node_t[snap[mid]] = t[mid]
    return _Cuts(verts, seg, node_seg, node_t, at_vertex)


@dataclass
class _Nodes:
    """Nodes on border segments, keyed by undirected segment, merged where they fall together."""

    key: np.ndarray  # sorted
    t: np.ndarray  # share along the key's direction (lo -> hi)
    xy: np.ndarray
    of_request: np.ndarray  # the node each request was merged into (-1: at the segment's end)

    @classmethod
    def build(cls, border: _Border, seg: np.ndarray, t: np.ndarray) -> _Nodes:
        """Nodes for requests ``t`` (share from start to end) on border segments ``seg``."""
        of_request = np.full(len(seg), -1, dtype=np.int64)
        inner = np.flatnonzero((t > 0) & (t < 1))
        s = seg[inner]
        key = border.key[s]
        tk = np.where(border.flipped[s], 1.0 - t[inner], t[inner])
        order = np.lexsort((tk, key))
        key, tk, s, req = key[order], tk[order], s[order], inner[order]
        length = np.hypot(*(border.b_w[s] - border.a_w[s]).T)
        new = np.ones(len(key), dtype=bool)
        new[1:] = (key[1:] != key[:-1]) | ((tk[1:] - tk[:-1]) * length[1:] >= _TOUCH_M)
        of_request[req] = np.cumsum(new) - 1  # merged into the first node of its run
        key, tk, s = key[new], tk[new], s[new]
        lo = np.where(border.flipped[s][:, None], border.b_o[s], border.a_o[s])
        hi = np.where(border.flipped[s][:, None], border.a_o[s], border.b_o[s])
        return cls(key, tk, lo + tk[:, None] * (hi - lo), of_request)

    def ring_segments(self, border: _Border, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Community ``c``'s border segments in the output CRS, split at every node on them."""
        lo, hi = border.starts[c], border.starts[c + 1]
        segs = np.arange(lo, hi)
        first = np.searchsorted(self.key, border.key[segs], side="left")
        last = np.searchsorted(self.key, border.key[segs], side="right")
        count = last - first
        if not count.any():
            return border.a_o[lo:hi], border.b_o[lo:hi]
        # points along each segment: its start, then its nodes in its own direction
        owner = np.repeat(segs, count + 1)
        pos = np.zeros(len(owner))
        xy = np.empty((len(owner), 2))
        starts = np.concatenate([[0], np.cumsum(count + 1)[:-1]])
        xy[starts] = border.a_o[segs]
        pos[starts] = -1.0
        node_rows = np.flatnonzero(count)
        for i in node_rows:
            idx = np.arange(first[i], last[i])
            t = self.t[idx]
            if border.flipped[segs[i]]:
                t = 1.0 - t
            sl = slice(starts[i] + 1, starts[i] + 1 + count[i])
            xy[sl] = self.xy[idx]
            pos[sl] = t
        order = np.lexsort((pos, owner))
        owner, xy = owner[order], xy[order]
        nxt = np.empty_like(xy)
        nxt[:-1] = xy[1:]
        same = np.zeros(len(owner), dtype=bool)
        same[:-1] = owner[1:] == owner[:-1]
        nxt[~same] = border.b_o[owner[~same]]
        return xy, nxt


def _faces(p: np.ndarray, q: np.ndarray, boundary_o: shapely.Geometry, probe_m: float) -> np.ndarray:
    """The faces of these lines that lie inside the community (not in its holes)."""
    lines = shapely.linestrings(np.stack([p, q], axis=1))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(lines)))
    if len(faces) == 0:
        return faces
    probe = shapely.point_on_surface(faces)
    inside = shapely.contains_properly(boundary_o, probe)
    # a probe at the border (a thin face) is decided by area
    doubt = np.flatnonzero(shapely.distance(shapely.boundary(boundary_o), probe) <= probe_m)
    if len(doubt):
        share = shapely.area(shapely.intersection(faces[doubt], boundary_o)) / np.maximum(
            shapely.area(faces[doubt]), 1e-300)
        inside[doubt] = share > _MIN_SHARE
    return faces[inside]


def _labels(faces: np.ndarray, grids: np.ndarray, probe_m: float) -> np.ndarray:
    """The grid covering most of each face; faces no grid covers join their longest-touching neighbour.

    A face's probe point farther than ``probe_m`` from the edges of the grid holding it
    decides; the other faces are weighed by area.
    """
    label = np.full(len(faces), -1, dtype=np.int64)
    if len(faces) == 0:
        return label
    tree = shapely.STRtree(grids)
    probe = shapely.point_on_surface(faces)
    pi, pg = tree.query(probe, predicate="within")
    once = np.bincount(pi, minlength=len(faces))[pi] == 1
    pi, pg = pi[once], pg[once]
    clear = shapely.distance(shapely.boundary(grids[pg]), probe[pi]) > probe_m
    label[pi[clear]] = pg[clear]
    doubt = np.flatnonzero(label < 0)
    fi, gi = tree.query(faces[doubt], predicate="intersects")
    fi = doubt[fi]
    if len(fi):
        area = shapely.area(shapely.intersection(faces[fi], grids[gi]))
        pick = np.lexsort((gi, -area, fi))
        fi, gi, area = fi[pick], gi[pick], area[pick]
        first = np.ones(len(fi), dtype=bool)
        first[1:] = fi[1:] != fi[:-1]
        fi, gi, area = fi[first], gi[first], area[first]
        ok = area >= _MIN_SHARE * shapely.area(faces[fi])
        label[fi[ok]] = gi[ok]
    if (label < 0).any():
        adj = face_adjacency(faces)
        spread_labels(label, adj["a"].to_numpy(), adj["b"].to_numpy(), adj["length"].to_numpy())
        label[label < 0] = 0  # an isolated face no grid covers: the first grid keeps the area
    return label
