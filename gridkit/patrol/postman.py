"""Route inspection (Chinese postman) on a grid's part of the street network.

:func:`covering_walk` finds a walk that traverses every *required* edge at least once
and returns to where it started, with as little extra ("deadhead") distance as this
method allows:

1. Priority stops first: from the start, the nearest stop not yet visited (by walking
   distance), and so on; the walk there is part of the route and the required
   streets it passes count as covered.
2. The rest is a postman walk from the last stop back to the start. Where the
   required streets fall into pieces that do not touch (a grid cut by a river, a
   cul-de-sac whose access lies in the next grid), the pieces are joined by the
   shortest walks between them over the *working* edges (the required ones plus the
   streets around the grid), chosen as a minimum spanning tree over the pieces.
   A piece that cannot be reached at all is left out and reported
   (:attr:`Walk.unreached`), never dropped silently.
3. Nodes of odd degree are paired by a minimum-weight perfect matching on their
   shortest-walk distances (networkx ``min_weight_matching`` on the complete graph of
   the odd nodes, :func:`odd_pairs`), and each pair's shortest walk is added: with one
   piece and no stops this is the optimal Chinese postman tour (Edmonds and Johnson
   1973). Beyond :data:`EXACT_UP_TO` odd nodes the matching considers each node's
   :data:`CANDIDATES` nearest partners only (near-optimal, much faster). The
   joins of step 2 are a heuristic: the general case (rural postman) is NP-hard.
4. An Eulerian circuit (Hierholzer's algorithm, :func:`euler_circuit`) of the
   required edges plus the added walks gives the route.

Examples
--------
Two blocks side by side (a 200 m x 100 m rectangle cut by a middle street): the two
ends of the middle street are the only odd nodes, so it is walked twice.

>>> from shapely import LineString
>>> from gridkit.patrol.network import street_network
>>> lines = [LineString([(0, 0), (200, 0)]), LineString([(0, 100), (200, 100)]),
...          LineString([(0, 0), (0, 100)]), LineString([(100, 0), (100, 100)]),
...          LineString([(200, 0), (200, 100)])]
>>> net = street_network(lines)
>>> walk = covering_walk(net, required=np.arange(len(net.u)), start=0)
>>> walk.length_m, walk.deadhead_m, walk.nodes[0] == walk.nodes[-1] == 0
(800.0, 100.0, True)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from gridkit.errors import ParameterError
from gridkit.patrol.network import StreetNetwork, min_matrix

__all__ = ["CANDIDATES", "EXACT_UP_TO", "Walk", "covering_walk", "euler_circuit", "odd_pairs", "split_walk"]

log = logging.getLogger(__name__)

#: Odd nodes up to this many are paired exactly (complete graph).
EXACT_UP_TO = 40
#: Beyond that, each odd node's candidate partners: its nearest this many.
CANDIDATES = 10


@dataclass
class Walk:
    """A walk over network edges.

    Attributes
    ----------
    edges
        Network edge ids in walking order.
    forward
        Per edge, True when walked from its ``u`` to its ``v``.
    nodes
        Network node ids, one more than ``edges`` (a lone start node for an empty walk).
    length_m
        Total walked distance.
    covered_m
        Length of the required edges walked (each counted once).
    unreached
        Required edge ids the walk could not reach.
    stops_unreached
        Priority stop nodes that could not be reached.
    """

    edges: list[int]
    forward: list[bool]
    nodes: list[int]
    length_m: float
    covered_m: float
    unreached: list[int] = field(default_factory=list)
    stops_unreached: list[int] = field(default_factory=list)

    @property
    def deadhead_m(self) -> float:
        """Distance walked beyond the first pass over each required edge."""
        return max(self.length_m - self.covered_m, 0.0)


class _Local:
    """The working edges renumbered 0..k-1, with shortest walks between their nodes."""

    def __init__(self, net: StreetNetwork, working: np.ndarray) -> None:
        self.net = net
        self.edges = working
        self.nodes, inverse = np.unique(np.r_[net.u[working], net.v[working]], return_inverse=True)
        m = len(working)
        self.lu, self.lv = inverse[:m], inverse[m:]
        self.matrix: sparse.csr_matrix = min_matrix(self.lu, self.lv, net.length[working], len(self.nodes))
        # the shortest edge between each pair of nodes, for turning node paths into edges
        a, b = np.minimum(self.lu, self.lv), np.maximum(self.lu, self.lv)
        order = np.lexsort((net.length[working], b, a))[::-1]
        self.best = dict(zip(zip(a[order].tolist(), b[order].tolist()), working[order].tolist()))

    def local(self, nodes: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.nodes, nodes)
        idx = np.minimum(idx, len(self.nodes) - 1)
        if len(idx) and not np.all(self.nodes[idx] == np.asarray(nodes)):
            raise ParameterError("a node is not on the working edges", hint="snap points to the grid's streets")
        return idx

    def dijkstra(self, sources: Sequence[int] | np.ndarray, *, min_only: bool = False):
        return csgraph.dijkstra(self.matrix, directed=False, indices=np.asarray(sources),
                                return_predecessors=True, min_only=min_only)

    def path_edges(self, pred: np.ndarray, target: int) -> list[int]:
        """Network edge ids of the shortest walk ending at local node ``target`` (source first)."""
        chain = [target]
        while pred[chain[-1]] >= 0:
            chain.append(int(pred[chain[-1]]))
        chain.reverse()
        return [self.best[(min(a, b), max(a, b))] for a, b in pairwise(chain)]


def covering_walk(
    net: StreetNetwork,
    required: np.ndarray,
    *,
    start: int,
    working: np.ndarray | None = None,
    stops: Sequence[int] = (),
) -> Walk:
    """A closed walk from ``start`` over every required edge (see the module text).

    Parameters
    ----------
    net
        The street network.
    required
        Edge ids to walk at least once.
    start
        The node the walk starts and ends at (the base).
    working
        Edge ids the walk may use (default: the required ones); the required ones are
        always added.
    stops
        Nodes to visit first, in nearest-neighbour order.

    Returns
    -------
    Walk
    """
    required = np.unique(np.asarray(required, dtype=np.int64))
    work = required if working is None else np.union1d(np.asarray(working, dtype=np.int64), required)
    if len(work) == 0:
        return Walk([], [], [start], 0.0, 0.0, [], list(stops))
    loc = _Local(net, work)
    if not np.isin(start, loc.nodes):
        raise ParameterError(f"start node {start} is not on the required or working edges",
                             hint="start from a node of the grid's streets")
    s = int(loc.local([start])[0])

    head: list[int] = []
    cur = s
    stops_left = [int(x) for x in loc.local([t for t in stops if np.isin(t, loc.nodes)])]
    stops_unreached = [t for t in stops if not np.isin(t, loc.nodes)]
    while stops_left:
        dist, pred = loc.dijkstra([cur])
        d = dist[0, stops_left]
        if not np.isfinite(d).any():
            stops_unreached += [int(loc.nodes[t]) for t in stops_left]
            break
        nxt = stops_left.pop(int(np.argmin(d)))
        head += loc.path_edges(pred[0], nxt)
        cur = nxt
    todo = np.setdiff1d(required, np.asarray(head, dtype=np.int64))
    tail, unreached = _postman(loc, todo, cur, s)
    edges = head + tail
    return _as_walk(net, edges, int(loc.nodes[s]), required, unreached, stops_unreached)


def _postman(loc: _Local, todo: np.ndarray, begin: int, end: int) -> tuple[list[int], list[int]]:
    """Edges of a walk from local node ``begin`` to ``end`` over all ``todo`` edges."""
    pos = np.searchsorted(loc.edges, todo)
    a: list[int] = loc.lu[pos].tolist()
    b: list[int] = loc.lv[pos].tolist()
    ids: list[int] = todo.tolist()  # -1 marks the virtual edge
    if begin != end:
        a.append(begin)
        b.append(end)
        ids.append(-1)
    unreached: list[int] = []
    if ids:
        ids, a, b, unreached = _join_pieces(loc, ids, a, b, end)
    if not ids:
        if begin == end:
            return [], unreached
        dist, pred = loc.dijkstra([begin])
        return loc.path_edges(pred[0], end), unreached
    deg = np.bincount(np.r_[a, b], minlength=len(loc.nodes))
    odd = np.flatnonzero(deg % 2)
    if len(odd):
        dist, pred = loc.dijkstra(odd)
        for p, q in odd_pairs(dist[:, odd]):
            for e in loc.path_edges(pred[p], int(odd[q])):
                ids.append(e)
                a.append(_lu(loc, e))
                b.append(_lv(loc, e))
    circuit = euler_circuit(a, b, end, len(loc.nodes))
    if begin != end:
        at = next(i for i, k in enumerate(circuit) if ids[k] == -1)
        # the circuit from `end` walks the virtual edge as end->begin or begin->end
        before = _node_before(circuit[:at], a, b, end)
        if before == end:  # end->begin: walk the rest from begin, then the start of the circuit
            circuit = circuit[at + 1:] + circuit[:at]
        else:
            circuit = circuit[:at][::-1] + circuit[at + 1:][::-1]
    return [ids[k] for k in circuit], unreached


def odd_pairs(dist: np.ndarray, *, exact_up_to: int = EXACT_UP_TO, candidates: int = CANDIDATES) -> list[tuple[int, int]]:
    """Pair the odd nodes so that the summed distance is least (a perfect matching).

    Exact (networkx ``min_weight_matching`` on the complete graph) for up to
    ``exact_up_to`` nodes. Beyond, the blossom algorithm is too slow in pure Python on
    a complete graph, so it runs on each node's ``candidates`` nearest partners, and
    the few nodes left single are matched exactly among themselves.

    Parameters
    ----------
    dist
        Symmetric matrix of walking distances between the odd nodes (inf: unreachable).

    Returns
    -------
    list of (i, j)
        Pairs of row indices.
    """
    n = len(dist)
    if n <= exact_up_to:
        return _matching(dist, np.arange(n), None)
    near = np.argsort(dist, axis=1)[:, 1:candidates + 1]
    pairs = _matching(dist, np.arange(n), near)
    single = np.setdiff1d(np.arange(n), np.asarray(pairs, dtype=np.int64).ravel())
    if len(single):
        pairs += _matching(dist, single, None)
    return pairs


def _matching(dist: np.ndarray, nodes: np.ndarray, near: np.ndarray | None) -> list[tuple[int, int]]:
    graph = nx.Graph()
    if near is None:
        i, j = np.triu_indices(len(nodes), 1)
        i, j = nodes[i], nodes[j]
    else:
        i = np.repeat(nodes, near.shape[1])
        j = near.ravel()
    w = dist[i, j]
    ok = np.isfinite(w) & (i != j)
    graph.add_weighted_edges_from(zip(i[ok].tolist(), j[ok].tolist(), w[ok].tolist()))
    return [(int(p), int(q)) for p, q in nx.min_weight_matching(graph)]


def euler_circuit(a: Sequence[int], b: Sequence[int], source: int, n: int) -> list[int]:
    """Edge indices of an Eulerian circuit from ``source`` (Hierholzer; every degree even).

    ``a[k]``, ``b[k]`` are the end nodes (``0..n-1``) of edge ``k``; parallel edges and
    loops are fine. Same result as networkx ``eulerian_circuit`` on a MultiGraph,
    without building one.

    >>> euler_circuit([0, 1, 2, 0, 3], [1, 2, 0, 3, 0], 0, 4)
    [0, 1, 2, 3, 4]
    """
    adj: list[list[int]] = [[] for _ in range(n)]
    for k, (x, y) in enumerate(zip(a, b)):
        adj[x].append(k)
        if y != x:
            adj[y].append(k)
    used = bytearray(len(a))
    ptr = [0] * n
    stack = [(source, -1)]
    circuit: list[int] = []
    while stack:
        v, via = stack[-1]
        edges, i = adj[v], ptr[v]
        while i < len(edges) and used[edges[i]]:
            i += 1
        ptr[v] = i
        if i == len(edges):
            stack.pop()
            if via >= 0:
                circuit.append(via)
        else:
            k = edges[i]
            used[k] = 1
            stack.append((b[k] if a[k] == v else a[k], k))
    circuit.reverse()
    return circuit


def _node_before(prefix: list[int], a: list[int], b: list[int], start: int) -> int:
    node = start
    for k in prefix:
        node = b[k] if a[k] == node else a[k]
    return node


def _lu(loc: _Local, e: int) -> int:
    return int(loc.lu[np.searchsorted(loc.edges, e)])


def _lv(loc: _Local, e: int) -> int:
    return int(loc.lv[np.searchsorted(loc.edges, e)])


def _join_pieces(loc: _Local, ids: list[int], a: list[int], b: list[int],
                 end: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """Join the pieces of the edges to walk by shortest walks (an MST over the pieces)."""
    n = len(loc.nodes)
    ea, eb = np.asarray(a + [end]), np.asarray(b + [end])
    graph = sparse.csr_matrix((np.ones(len(ea)), (ea, eb)), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=False)
    touched = np.unique(np.r_[ea, eb])
    pieces = np.unique(label[touched])
    if len(pieces) == 1:
        return ids, a, b, []
    members = [touched[label[touched] == p] for p in pieces]
    k = len(pieces)
    gap = np.full((k, k), np.inf)
    reach: list[tuple[np.ndarray, np.ndarray]] = []
    for i, nodes in enumerate(members):
        dist, pred, _src = csgraph.dijkstra(loc.matrix, directed=False, indices=nodes,
                                            return_predecessors=True, min_only=True)
        reach.append((dist, pred))
        for j, other in enumerate(members):
            if i != j:
                gap[i, j] = dist[other].min()
    home = int(np.flatnonzero(pieces == label[end])[0])
    weights = np.where(np.isfinite(gap), gap + 1e-6, 0.0)
    tree = csgraph.minimum_spanning_tree(sparse.csr_matrix(weights)).tocoo()
    adjacency = nx.Graph()
    adjacency.add_nodes_from(range(k))
    adjacency.add_edges_from(zip(tree.row.tolist(), tree.col.tolist()))
    joined = nx.node_connected_component(adjacency, home)
    piece_of = np.searchsorted(pieces, label[np.asarray(a)])
    keep = [t for t in range(len(ids)) if piece_of[t] in joined]
    unreached = [ids[t] for t in range(len(ids)) if piece_of[t] not in joined and ids[t] >= 0]
    ids, a, b = [ids[t] for t in keep], [a[t] for t in keep], [b[t] for t in keep]
    for i, j in zip(tree.row.tolist(), tree.col.tolist()):
        if i not in joined:
            continue
        dist, pred = reach[i]
        target = int(members[j][np.argmin(dist[members[j]])])
        for e in loc.path_edges(pred, target):
            ids.append(e)
            a.append(_lu(loc, e))
            b.append(_lv(loc, e))
    return ids, a, b, unreached


def _as_walk(net: StreetNetwork, edges: list[int], start: int, required: np.ndarray,
             unreached: list[int], stops_unreached: list[int]) -> Walk:
    nodes = [start]
    forward = []
    for e in edges:
        here = nodes[-1]
        fwd = bool(net.u[e] == here)
        forward.append(fwd)
        nodes.append(int(net.v[e] if fwd else net.u[e]))
    walked = np.unique(np.asarray(edges, dtype=np.int64))
    covered = np.intersect1d(walked, required)
    return Walk(edges, forward, nodes, float(net.length[edges].sum()) if edges else 0.0,
                float(net.length[covered].sum()), sorted(unreached), stops_unreached)


def split_walk(net: StreetNetwork, walk: Walk, *, max_m: float, required: np.ndarray,
               working: np.ndarray) -> list[Walk]:
    """Cut a closed walk into closed walks from its start of at most ``max_m`` each.

    Each part walks from the start to where the previous part stopped, follows the
    route as far as it can while still getting back within ``max_m``, and walks back.
    A part longer than ``max_m`` starts with a route edge whose round trip from the
    start alone is longer, and is no longer than that round trip (callers report it).

    Parameters
    ----------
    net
        The street network.
    walk
        A closed walk (first node == last node).
    max_m
        The longest walk per part, in metres.
    required
        The edges the walk had to cover (what counts as covered, not deadhead).
    working
        Edge ids the walks to and from the start may use.
    """
    if walk.length_m <= max_m or not walk.edges:
        return [walk]
    base = walk.nodes[0]
    loc = _Local(net, np.union1d(np.asarray(working, dtype=np.int64), np.asarray(walk.edges, dtype=np.int64)))
    b = int(loc.local([base])[0])
    dist, pred = loc.dijkstra([b])
    to_base = np.full(net.n_nodes, np.inf)
    to_base[loc.nodes] = dist[0]
    required = np.unique(np.asarray(required, dtype=np.int64))
    parts: list[list[int]] = []
    i, n = 0, len(walk.edges)
    while i < n:
        entry = walk.nodes[i]
        approach = loc.path_edges(pred[0], int(loc.local([entry])[0]))
        used = float(to_base[entry])
        # a part too long for max_m with its first edge alone may go on as long as it
        # stays within that unavoidable length
        first = used + float(net.length[walk.edges[i]]) + float(to_base[walk.nodes[i + 1]])
        limit = max(max_m, first)
        j = i
        while j < n:
            step = float(net.length[walk.edges[j]])
            if j > i and used + step + to_base[walk.nodes[j + 1]] > limit:
                break
            used += step
            j += 1
        back_node = walk.nodes[j]
        back = loc.path_edges(pred[0], int(loc.local([back_node])[0]))[::-1]
        parts.append(approach + walk.edges[i:j] + back)
        i = j
    done: set[int] = set()
    out = []
    for edges in parts:
        part = _as_walk(net, edges, base, np.setdiff1d(required, np.asarray(sorted(done), dtype=np.int64)), [], [])
        done.update(edges)
        out.append(part)
    return out
