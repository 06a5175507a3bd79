"""Unit adjacency graphs for regionalization: the :class:`Graph` and how to build it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridkit.partition.units import CommunityUnits

__all__ = ["Graph", "components", "graph_from_community", "graph_from_polygons", "rook_edges", "spread_labels",
           "subgraph"]


@dataclass
class Graph:
    """Units as nodes with households and positions; edges weighted by cut cost.

    Attributes
    ----------
    households
        Households per unit (integers >= 0).
    x, y
        A representative position per unit (metres).
    block
        Street block (enclosure) per unit; units of a block are kept together in sweeps.
    u, v
        Edge end points (unit indices).
    cost
        What cutting each edge costs.
    length
        Shared boundary length of each edge (metres); None when only costs are known.
    area, perimeter
        Area and perimeter of each unit (the compactness of regions); optional.
    block_x, block_y
        Mean position of each block's units (derived; sweeps order blocks by it).
    """

    households: np.ndarray
    x: np.ndarray
    y: np.ndarray
    block: np.ndarray
    u: np.ndarray
    v: np.ndarray
    cost: np.ndarray
    length: np.ndarray | None = None
    area: np.ndarray | None = None
    perimeter: np.ndarray | None = None
    block_x: np.ndarray = field(init=False, repr=False)
    block_y: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n_blocks = int(self.block.max()) + 1 if len(self.block) else 0
        count = np.bincount(self.block, minlength=n_blocks).astype(float)
        count[count == 0] = 1
        self.block_x = np.bincount(self.block, weights=self.x, minlength=n_blocks) / count
        self.block_y = np.bincount(self.block, weights=self.y, minlength=n_blocks) / count

    @property
    def n(self) -> int:
        return len(self.households)


def components(n: int, u: np.ndarray, v: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the graph on nodes ``0..n-1`` with edges ``(u, v)``.

    Returns the number of components and a component label per node.

    >>> components(4, np.array([0, 2]), np.array([1, 3]))[1].tolist()
    [0, 0, 1, 1]
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    if n > _SMALL_GRAPH:
        m = coo_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n, n)).tocsr()
        n_comp, labels = connected_components(m, directed=False)
        return int(n_comp), labels
    # small graphs (the bisection's thousands of calls): hooking and pointer jumping in numpy, without
    # scipy's sparse set-up; the same labels, numbered by each component's lowest node as scipy does
    root = np.arange(n)
    while len(u):
        ru, rv = root[u], root[v]
        apart = ru != rv
        if not apart.any():
            break
        ru, rv = ru[apart], rv[apart]
        np.minimum.at(root, np.maximum(ru, rv), np.minimum(ru, rv))  # each root hooks under its lowest neighbour
        while True:
            up = root[root]
            if (up == root).all():
                break
            root = up
    low, labels = np.unique(root, return_inverse=True)
    return len(low), labels.ravel().astype(np.int32)


#: above this many nodes :func:`components` hands the graph to scipy
_SMALL_GRAPH = 600


#: cutting a shared edge inside a street block costs this many times cutting along a street
INSIDE_BLOCK_COST = 6.0


def rook_edges(polygons: np.ndarray, *, tolerance: float = 1e-9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of polygons sharing boundary of positive length, with that length.

    Works on any polygons (no shared noding needed); for a coverage built by
    :mod:`gridkit.partition.units`, :func:`gridkit.partition.units.face_adjacency` is exact and faster.
    """
    tree = shapely.STRtree(polygons)
    i, j = tree.query(polygons, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(polygons[i]), shapely.boundary(polygons[j])))
    keep = shared > tolerance
    return i[keep], j[keep], shared[keep]


def graph_from_polygons(polygons: np.ndarray, households: np.ndarray, block: np.ndarray | None = None) -> Graph:
    """A regionalization graph from any polygons (rook contiguity, cost = shared length)."""
    polygons = np.asarray(polygons)
    u, v, length = rook_edges(polygons)
    pts = shapely.point_on_surface(polygons)
    xy = shapely.get_coordinates(pts)
    if block is None:
        block = np.zeros(len(polygons), dtype=np.int64)
        cost = length
    else:
        block = np.asarray(block, dtype=np.int64)
        cost = np.where(block[u] == block[v], length * INSIDE_BLOCK_COST, length)
    return Graph(
        households=np.asarray(households, dtype=np.int64),
        x=xy[:, 0], y=xy[:, 1], block=block, u=u, v=v, cost=cost,
        length=length, area=shapely.area(polygons), perimeter=shapely.length(polygons),
    )


def graph_from_community(cu: CommunityUnits, geoms: np.ndarray, *, inside_cost: float = INSIDE_BLOCK_COST) -> Graph:
    """The graph of one community's units (see :func:`gridkit.partition.units.units_for_community`)."""
    xy = shapely.get_coordinates(shapely.point_on_surface(geoms))
    e = cu.edges
    length = e["length"].to_numpy()
    cost = np.where(e["street"].to_numpy(), length, length * inside_cost)
    return Graph(
        households=cu.unit_households, x=xy[:, 0], y=xy[:, 1], block=cu.unit_enclosure,
        u=e["u"].to_numpy(), v=e["v"].to_numpy(), cost=cost,
        length=length, area=shapely.area(geoms), perimeter=shapely.length(geoms),
    )


def subgraph(graph: Graph, keep: np.ndarray) -> tuple[Graph, np.ndarray]:
    """The graph induced by the nodes where ``keep`` is True, and their original indices."""
    nodes = np.flatnonzero(keep)
    local = np.full(graph.n, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    e = keep[graph.u] & keep[graph.v]
    sub = Graph(
        households=graph.households[nodes], x=graph.x[nodes], y=graph.y[nodes], block=graph.block[nodes],
        u=local[graph.u[e]], v=local[graph.v[e]], cost=graph.cost[e],
        length=None if graph.length is None else graph.length[e],
        area=None if graph.area is None else graph.area[nodes],
        perimeter=None if graph.perimeter is None else graph.perimeter[nodes],
    )
    return sub, nodes


def spread_labels(labels: np.ndarray, u: np.ndarray, v: np.ndarray, weight: np.ndarray, *,
                  frozen: np.ndarray | None = None) -> np.ndarray:
    """Give each unlabelled node (label < 0) the label of its labelled neighbour sharing the heaviest edge.

    Repeats until no unlabelled node touches a labelled one; nodes whose label is in
    ``frozen`` pass theirs on to nobody. Ties go to the lower neighbour index. ``labels``
    is changed in place and returned; nodes out of reach stay below 0.

    >>> spread_labels(np.array([0, -1, -1, 1]), np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([1.0, 1.0, 5.0]))
    array([0, 0, 1, 1])
    """
    src, dst, wt = np.r_[u, v], np.r_[v, u], np.r_[weight, weight]
    while True:
        open_ = (labels[dst] < 0) & (labels[src] >= 0)
        if frozen is not None and len(frozen):
            open_ &= ~np.isin(labels[src], frozen)
        if not open_.any():
            return labels
        d, s, ww = dst[open_], src[open_], wt[open_]
        pick = np.lexsort((s, -ww, d))
        d, s = d[pick], s[pick]
        first = np.ones(len(d), dtype=bool)
        first[1:] = d[1:] != d[:-1]
        labels[d[first]] = labels[s[first]]
