"""One noded street network for a whole area, and each grid's part of it.

The patrol planner works on a single network built once for the whole study area:
every street line, plus the per-grid pieces from
:func:`gridkit.patrol.streets.streets_for_grids` (so that the points where grid
boundaries cut a street become nodes), is noded with snap rounding (1 cm) so that
lines meeting or crossing share a node. A street end that stops short of another
street by at most ``snap_m`` is joined to it by a short connector edge (walkable,
but not a street anyone must patrol).

A grid's *required* edges are the network edges that lie on its pieces; its
*working* edges are the network edges within ``reach_m`` of the grid, through which
the route may walk to reach a part of the grid or to repeat a street.

Examples
--------
>>> from shapely import LineString
>>> lines = [LineString([(0, 0), (100, 0)]), LineString([(50, -50), (50, 50)]),
...          LineString([(0, 10), (40, 10)]), LineString([(49.8, 30), (20, 30)])]
>>> net = street_network(lines, snap_m=0.5)
>>> len(net.x), len(net.u), round(float(net.length.sum()), 1)  # the T at 49.8 gets a 0.2 m connector
(10, 8, 270.0)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse

__all__ = ["StreetNetwork", "street_network"]

log = logging.getLogger(__name__)

_GRID_SIZE_M = 0.01  # snap rounding of the noding (metres)


@dataclass(frozen=True)
class StreetNetwork:
    """A noded street network as arrays (nodes ``0..n-1``, edges ``0..m-1``).

    Attributes
    ----------
    x, y
        Node coordinates (metres, local CRS).
    u, v
        Edge end nodes.
    length
        Edge lengths in metres.
    geometry
        Edge LineStrings, running from ``u`` to ``v``.
    source
        Index (position) of the input line each edge lies on; -1 for a connector.
    """

    x: np.ndarray
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    geometry: np.ndarray
    source: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.x)

    def midpoints(self) -> np.ndarray:
        """The point halfway along each edge."""
        return shapely.line_interpolate_point(self.geometry, 0.5, normalized=True)

    def matrix(self, edges: np.ndarray | None = None) -> sparse.csr_matrix:
        """A symmetric sparse distance matrix over all nodes (shortest parallel edge kept)."""
        e = np.arange(len(self.u)) if edges is None else edges
        return min_matrix(self.u[e], self.v[e], self.length[e], self.n_nodes)


def street_network(
    lines: Sequence[shapely.Geometry] | np.ndarray,
    *,
    split_at: Sequence[shapely.Geometry] | np.ndarray = (),
    snap_m: float = 0.5,
) -> StreetNetwork:
    """Node street lines into a network.

    Parameters
    ----------
    lines
        LineStrings or MultiLineStrings in a metric CRS.
    split_at
        More lines that add their ends and crossings as nodes (e.g. the per-grid pieces
        of the streets); where they overlap ``lines`` they add no new edge.
    snap_m
        A line end within this distance of another line (but not on it) is joined to
        it by a straight connector edge.

    Returns
    -------
    StreetNetwork
        Edges never overlap; ``source`` points into ``lines`` (-1: connector or a line
        only in ``split_at``).
    """
    lines = np.asarray(lines, dtype=object)
    parts, source = shapely.get_parts(lines, return_index=True)
    parts = parts[~shapely.is_empty(parts)] if len(parts) else parts
    extra = np.asarray(split_at, dtype=object)
    connectors = _connectors(parts, snap_m)
    everything = np.concatenate([parts, shapely.get_parts(extra) if len(extra) else extra, connectors])
    if len(everything) == 0:
        empty = np.empty(0)
        return StreetNetwork(empty, empty, empty.astype(int), empty.astype(int), empty, empty.astype(object),
                             empty.astype(int))
    noded = shapely.get_parts(shapely.union_all(everything, grid_size=_GRID_SIZE_M))
    noded = noded[(shapely.get_type_id(noded) == 1) & (shapely.length(noded) > 0)]
    start = shapely.get_coordinates(shapely.get_point(noded, 0))
    end = shapely.get_coordinates(shapely.get_point(noded, -1))
    keys = np.round(np.vstack([start, end]) / _GRID_SIZE_M).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    m = len(noded)
    u, v = inverse[:m], inverse[m:]
    xy = uniq * _GRID_SIZE_M
    # which input line each edge lies on: the nearest one to its midpoint
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    src = np.full(m, -1, dtype=np.int64)
    if len(parts):
        tree = shapely.STRtree(parts)
        mi, li = tree.query(mid, predicate="dwithin", distance=2 * _GRID_SIZE_M)
        first = np.r_[True, mi[1:] != mi[:-1]] if len(mi) else np.zeros(0, dtype=bool)
        src[mi[first]] = source[li[first]]
    net = StreetNetwork(xy[:, 0].copy(), xy[:, 1].copy(), u, v, shapely.length(noded), noded, src)
    log.debug("street network: %d nodes, %d edges, %d connectors", net.n_nodes, m, len(connectors))
    return net


def _connectors(parts: np.ndarray, snap_m: float) -> np.ndarray:
    """Short lines joining line ends that stop within ``snap_m`` of another line."""
    if len(parts) < 2 or snap_m <= 0:
        return np.empty(0, dtype=object)
    ends = np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)])
    own = np.concatenate([np.arange(len(parts)), np.arange(len(parts))])
    tree = shapely.STRtree(parts)
    pi, li = tree.query(ends, predicate="dwithin", distance=snap_m)
    other = li != own[pi]
    pi, li = pi[other], li[other]
    d = shapely.distance(ends[pi], parts[li])
    # an end touching some line needs nothing
    touching = np.zeros(len(ends), dtype=bool)
    touching[pi[d <= _GRID_SIZE_M]] = True
    gap = (d > _GRID_SIZE_M) & ~touching[pi]
    if not gap.any():
        return np.empty(0, dtype=object)
    pi, li, d = pi[gap], li[gap], d[gap]
    order = np.lexsort((d, pi))  # the nearest line per end
    pi, li = pi[order], li[order]
    first = np.r_[True, pi[1:] != pi[:-1]]
    return shapely.shortest_line(ends[pi[first]], parts[li[first]])


def min_matrix(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    a = np.minimum(u, v)
    b = np.maximum(u, v)
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])] if len(a) else np.zeros(0, dtype=bool)
    a, b, w = a[first], b[first], w[first]
    # zero-length edges would vanish from a sparse matrix: keep them as a tiny distance
    w = np.maximum(w, 1e-9)
    return sparse.csr_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
