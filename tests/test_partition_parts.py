"""Properties of the partition's parts on their own: units, regionalize, feasibility.

The end-to-end properties (tests/test_partition_properties.py) see these parts only
through the grids; here each is fed generated inputs directly, so a failure points at
the part. Derandomized like the end-to-end properties, so main stays green.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from partition_cases import X0, Y0, random_polygon

from gridkit.partition.feasibility import packable, reasons_for_regions
from gridkit.partition.graph import Graph, components, rook_edges
from gridkit.partition.reasons import REASONS
from gridkit.partition.regionalize import regions_from_graph
from gridkit.partition.units import _ring_coordinates, generator_points, units_for_community

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- units


def _community(seed: int, *, streets: bool, points: bool, hole: bool, multipart: bool, dedicated: bool):
    """One boundary with buildings (footprints or points), streets and a compound, all random."""
    rng = np.random.default_rng(seed)
    radius = rng.uniform(150, 400)
    boundary = random_polygon(rng, X0, Y0, radius)
    if hole:
        boundary = boundary.difference(shapely.Point(X0 + radius * 0.1, Y0).buffer(radius * 0.2))
    if multipart:
        boundary = shapely.MultiPolygon([*shapely.get_parts(boundary), random_polygon(rng, X0 + 2.3 * radius, Y0,
                                                                                       radius * 0.3, n=7)])
    minx, miny, maxx, maxy = boundary.bounds
    n = int(rng.integers(1, 120))
    xy = rng.uniform([minx, miny], [maxx, maxy], (n * 3, 2))
    if points:
        geoms = shapely.points(xy)
        geoms[: n // 3] = shapely.points(xy[: n // 3].round(-1))  # several households share a point
    else:
        w = rng.uniform(4, 40, len(xy))
        geoms = shapely.box(xy[:, 0] - w / 2, xy[:, 1] - w / 3, xy[:, 0] + w / 2, xy[:, 1] + w / 3)
    geoms = geoms[shapely.intersects(geoms, boundary)][:n]
    households = rng.integers(0, 80, len(geoms))
    lines = None
    if streets:
        ys = np.linspace(miny, maxy, int(rng.integers(2, 6)))[1:-1]
        xs = np.linspace(minx, maxx, int(rng.integers(2, 6)))[1:-1]
        lines = np.array([shapely.LineString([(minx - 20, y), (maxx + 20, y + rng.normal(0, 15))]) for y in ys]
                         + [shapely.LineString([(x, miny - 20), (x + rng.normal(0, 15), maxy + 20)]) for x in xs]
                         + [shapely.LineString([(X0, Y0), (X0 + radius * 0.3, Y0 + radius * 0.2)])], dtype=object)
    compounds = None
    if dedicated:
        compounds = np.array([shapely.intersection(shapely.box(X0 - 40, Y0 - 60, X0 + 40, Y0 + 10), boundary)],
                             dtype=object)
        if shapely.is_empty(compounds[0]) or shapely.get_dimensions(compounds[0]) < 2:
            compounds = None
    return boundary, geoms, households, lines, compounds


@SETTINGS
@given(seed=st.integers(0, 2**31), streets=st.booleans(), points=st.booleans(), hole=st.booleans(),
       multipart=st.booleans(), dedicated=st.booleans())
def test_units_tile_conserve_and_touch_symmetrically(seed, streets, points, hole, multipart, dedicated):
    boundary, geoms, households, lines, compounds = _community(seed, streets=streets, points=points, hole=hole,
                                                               multipart=multipart, dedicated=dedicated)
    gens = generator_points(geoms, np.full(len(geoms), boundary, dtype=object))
    cu = units_for_community(boundary, gens, households, np.ones(len(geoms)), streets=lines, dedicated=compounds,
                             outlines=None if points else geoms)
    area = boundary.area
    units = cu.unit_geometries()
    # tiling exact: the faces, and the units made of them, cover the boundary once
    assert abs(shapely.area(cu.faces).sum() - area) <= 1e-6 * area
    assert abs(shapely.area(units).sum() - area) <= 1e-6 * area
    assert abs(shapely.union_all(units).area - area) <= 1e-6 * area
    assert shapely.difference(shapely.union_all(units), boundary).area <= 1e-6 * area
    # households and buildings conserved
    assert cu.unit_households.sum() == households.sum()
    assert cu.unit_buildings.sum() == len(geoms)
    # every building's generator in exactly one unit: its own (a generator in a sliver face too small to
    # keep, a footprint grazing the boundary, goes to the nearest unit, a rounding error away)
    assert len(cu.generator_unit) == len(geoms)
    assert (shapely.distance(units[cu.generator_unit], gens) < 1e-3).all()
    inside_other = shapely.STRtree(units).query(gens, predicate="within")
    assert (inside_other[1] == cu.generator_unit[inside_other[0]]).all()
    # adjacency: each pair once (u < v), positive shared length, exactly the pairs whose outlines share a line
    e = cu.edges
    pairs = list(zip(e["u"], e["v"]))
    assert (e["u"] < e["v"]).all() and len(set(pairs)) == len(pairs) and (e["length"] > 0).all()
    ru, rv, rlen = rook_edges(units, tolerance=1e-6)
    assert set(pairs) == set(zip(ru.tolist(), rv.tolist()))
    shared = dict(zip(zip(ru.tolist(), rv.tolist()), rlen))
    assert np.allclose(e["length"], [shared[p] for p in pairs], rtol=1e-6, atol=1e-6)
    # household points: the units of a dedicated compound tile it (footprints that straddle its outline
    # are kept whole, so their units may reach out of it)
    if compounds is not None and points:
        ded = cu.unit_dedicated >= 0
        assert abs(shapely.union_all(units[ded]).area - compounds[0].area) <= 1e-6 * area
        outside = shapely.area(shapely.difference(units[ded], compounds[0]))
        assert (outside <= 1e-6 * shapely.area(units[ded]) + 1e-6).all()


def test_a_face_whose_probe_lands_on_the_boundary_is_kept():
    # found by the property above: a 4 m² face between a compound and the edge of a hole had its
    # representative point 3e-11 m outside the community and was dropped, leaving a gap
    test_units_tile_conserve_and_touch_symmetrically.hypothesis.inner_test(
        seed=178954571, streets=False, points=False, hole=True, multipart=True, dedicated=True)


# ----------------------------------------------------------------------------- regionalize


def _lattice(seed: int, nx_: int, ny: int, *, heavy: float, drop: float) -> Graph:
    """Units on a jittered lattice, rook neighbours (some edges dropped, staying connected), blocks of 2x2."""
    rng = np.random.default_rng(seed)
    ix, iy = np.meshgrid(np.arange(nx_), np.arange(ny), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    n = len(ix)
    node = (ix * ny + iy)
    right = node[ix < nx_ - 1], node[ix < nx_ - 1] + ny
    up = node[iy < ny - 1], node[iy < ny - 1] + 1
    u = np.concatenate([right[0], up[0]])
    v = np.concatenate([right[1], up[1]])
    keep = rng.random(len(u)) >= drop
    # keep a spanning tree so the graph stays connected
    g = nx.Graph(list(zip(u.tolist(), v.tolist())))
    tree = {tuple(sorted(edge)) for edge in nx.minimum_spanning_edges(g, data=False)}
    keep |= np.array([(min(a, b), max(a, b)) in tree for a, b in zip(u, v)], dtype=bool)
    u, v = u[keep], v[keep]
    households = rng.integers(0, 60, n)
    big = rng.random(n) < heavy
    households[big] = rng.integers(150, 450, big.sum())
    x = ix * 50.0 + rng.normal(0, 5, n)
    y = iy * 50.0 + rng.normal(0, 5, n)
    block = (ix // 2) * ((ny + 1) // 2) + iy // 2
    return Graph(households=households.astype(np.int64), x=x, y=y, block=block.astype(np.int64), u=u, v=v,
                 cost=rng.uniform(10, 60, len(u)))


def _connected_split_exists(adj: dict[int, set[int]], h: dict[int, int], lo: int, hi: int) -> bool:
    """Brute force over subsets (small pieces only): can the piece be cut into connected sets in [lo, hi]?"""
    nodes = sorted(adj)
    bit = {n: 1 << i for i, n in enumerate(nodes)}
    weight = {}

    def connected(mask: int) -> bool:
        members = [n for n in nodes if mask & bit[n]]
        seen, stack = {members[0]}, [members[0]]
        while stack:
            for m in adj[stack.pop()]:
                if mask & bit[m] and m not in seen:
                    seen.add(m)
                    stack.append(m)
        return len(seen) == len(members)

    memo: dict[int, bool] = {}

    def solve(mask: int) -> bool:
        if mask == 0:
            return True
        if mask in memo:
            return memo[mask]
        low = mask & -mask
        rest = mask ^ low
        sub = rest
        ok = False
        while True:  # every subset of the rest, with the lowest unit added
            region = sub | low
            if region not in weight:
                weight[region] = sum(h[n] for n in nodes if region & bit[n])
            if lo <= weight[region] <= hi and connected(region) and solve(mask ^ region):
                ok = True
                break
            if sub == 0:
                break
            sub = (sub - 1) & rest
        memo[mask] = ok
        return ok

    return solve((1 << len(nodes)) - 1)


def _light_piece(graph: Graph, members: set[int], hi: int) -> tuple[dict[int, set[int]], dict[int, int]]:
    """The connected piece of the graph without units above the maximum that holds ``members``."""
    h = graph.households
    g = nx.Graph()
    g.add_nodes_from(i for i in range(graph.n) if h[i] <= hi)
    g.add_edges_from((a, b) for a, b in zip(graph.u.tolist(), graph.v.tolist()) if h[a] <= hi and h[b] <= hi)
    piece = next(c for c in nx.connected_components(g) if members & c)
    return {n: set(g.neighbors(n)) for n in piece}, {n: int(h[n]) for n in piece}


def _connected(graph: Graph, labels: np.ndarray) -> bool:
    same = labels[graph.u] == labels[graph.v]
    n_comp, _ = components(graph.n, graph.u[same], graph.v[same])
    return n_comp == labels.max() + 1


@SETTINGS
@given(seed=st.integers(0, 2**31), nx_=st.integers(1, 14), ny=st.integers(1, 14),
       heavy=st.sampled_from([0.0, 0.02, 0.1]), drop=st.sampled_from([0.0, 0.3]),
       bounds=st.sampled_from([(200, 500, 300), (100, 300, 200)]))
def test_regions_are_connected_deterministic_and_explained(seed, nx_, ny, heavy, drop, bounds):
    lo, hi, target = bounds
    graph = _lattice(seed, nx_, ny, heavy=heavy, drop=drop)
    labels = regions_from_graph(graph, min_households=lo, max_households=hi, target=target)
    assert labels.min() == 0 and set(np.unique(labels)) == set(range(labels.max() + 1))
    assert _connected(graph, labels)
    again = regions_from_graph(graph, min_households=lo, max_households=hi, target=target)
    assert (labels == again).all()
    # bounds kept wherever the data allows: a region outside them has a reason of the data; the
    # method may fail only on a piece too big for the exact search to decide
    found = reasons_for_regions(graph, labels, min_households=lo, max_households=hi)
    totals = np.bincount(labels, weights=graph.households)
    for r, code in enumerate(found.codes):
        assert (code == "") == (lo <= totals[r] <= hi), (r, code, totals[r])
        if code == "method_failed":
            adj, h = _light_piece(graph, set(np.flatnonzero(labels == r).tolist()), hi)
            assert len(adj) > 14, (found.notes[r], _connected_split_exists(adj, h, lo, hi))


@SETTINGS
@given(seed=st.integers(0, 2**31), nx_=st.integers(2, 12), ny=st.integers(2, 12))
def test_units_far_below_the_minimum_always_fit_the_bounds(seed, nx_, ny):
    graph = _lattice(seed, nx_, ny, heavy=0.0, drop=0.0)
    graph.households[:] = np.random.default_rng(seed).integers(0, 20, graph.n)
    if graph.households.sum() < 200:
        graph.households[0] += 200
    labels = regions_from_graph(graph, min_households=200, max_households=500, target=300)
    totals = np.bincount(labels, weights=graph.households)
    assert ((totals >= 200) & (totals <= 500)).all(), totals


# ----------------------------------------------------------------------------- feasibility


def _random_connected_labels(graph: Graph, rng: np.random.Generator) -> np.ndarray:
    """Regions grown from random seeds over the graph's edges (every region connected)."""
    g = nx.Graph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from(zip(graph.u.tolist(), graph.v.tolist()))
    labels = np.full(graph.n, -1, dtype=np.int64)
    seeds = rng.choice(graph.n, size=int(rng.integers(1, max(2, graph.n // 2))), replace=False)
    frontier = []
    for k, s in enumerate(seeds):
        labels[s] = k
        frontier.append(int(s))
    while frontier:
        i = frontier.pop(int(rng.integers(len(frontier))))
        for j in g.neighbors(i):
            if labels[j] < 0:
                labels[j] = labels[i]
                frontier.append(j)
    for comp in nx.connected_components(g):  # parts no seed reached: a region each
        nodes = list(comp)
        if labels[nodes[0]] < 0:
            labels[nodes] = labels.max() + 1
    return np.unique(labels, return_inverse=True)[1].ravel()


def _groupable(items: list[int], lo: int, hi: int) -> bool:
    """Brute force: can the items be split into groups each summing to [lo, hi]?"""
    items = [i for i in items if i > 0]
    if not items:
        return False

    def partitions(seq):
        if not seq:
            yield []
            return
        first, rest = seq[0], seq[1:]
        for part in partitions(rest):
            for i in range(len(part)):
                yield part[:i] + [[first, *part[i]]] + part[i + 1:]
            yield [[first], *part]

    return any(all(lo <= sum(p) <= hi for p in parts) for parts in partitions(items))


@SETTINGS
@given(seed=st.integers(0, 2**31), nx_=st.integers(1, 5), ny=st.integers(1, 5),
       heavy=st.sampled_from([0.0, 0.15, 0.3]), drop=st.sampled_from([0.0, 0.5]), own=st.booleans())
def test_a_reason_given_is_true(seed, nx_, ny, heavy, drop, own):
    lo, hi = 100, 300
    graph = _lattice(seed, nx_, ny, heavy=heavy, drop=drop)
    rng = np.random.default_rng(seed)
    graph.households[:] = np.where(rng.random(graph.n) < 0.5, graph.households, graph.households * 3)
    labels = (regions_from_graph(graph, min_households=lo, max_households=hi, target=200) if own
              else _random_connected_labels(graph, rng))
    found = reasons_for_regions(graph, labels, min_households=lo, max_households=hi)
    h = graph.households
    totals = np.bincount(labels, weights=h)
    g = nx.Graph()
    g.add_nodes_from(range(graph.n))
    g.add_edges_from(zip(graph.u.tolist(), graph.v.tolist()))
    over = h > hi
    light = g.subgraph([i for i in range(graph.n) if not over[i]])
    for r, (code, text) in enumerate(zip(found.codes, found.notes)):
        members = set(np.flatnonzero(labels == r).tolist())
        assert code in REASONS and (code == "") == (text == "")
        assert (code == "") == (lo <= totals[r] <= hi)
        if code == "building_above_max":
            assert totals[r] > hi and h[list(members)].max() > hi
        elif code == "community_below_min":
            assert totals[r] < lo and h.sum() < lo
        elif code == "part_below_min":
            # the region is a whole piece of the graph left without the units above the maximum
            assert totals[r] < lo and any(members == set(c) for c in nx.connected_components(light))
        elif code == "pocket":  # within the part: units above the maximum are grids of their own
            part = light.subgraph(next(c for c in nx.connected_components(light) if members & c))
            assert any(_forced_pocket(part, h, u, members, lo, hi) for u in nx.articulation_points(part))
        elif code == "no_grouping":
            piece = next(c for c in nx.connected_components(light) if members & c)
            items = h[list(piece)].tolist()
            if sum(1 for i in items if i > 0) <= 9:
                assert not _groupable(items, lo, hi), items
        elif code == "no_connected_split":
            adj, hh = _light_piece(graph, members, hi)
            if len(adj) <= 14:
                assert not _connected_split_exists(adj, hh, lo, hi)


def _forced_pocket(g: nx.Graph, h: np.ndarray, u: int, members: set[int], lo: int, hi: int) -> bool:
    """Unit u and the pieces behind it, each too small to stand alone, exceed the maximum and meet the region."""
    pieces = sorted(nx.connected_components(g.subgraph(set(g) - {u})), key=lambda p: (-h[list(p)].sum(), min(p)))
    pocket = set().union(*[p for p in pieces[1:] if h[list(p)].sum() < lo])
    return bool(pocket) and h[u] + h[list(pocket)].sum() > hi and bool(({u} | pocket) & members)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(items=st.lists(st.integers(0, 320), min_size=1, max_size=7))
def test_packable_agrees_with_brute_force(items):
    got = packable(items, 100, 300)
    if got is not None:
        assert got == _groupable(items, 100, 300)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_components_of_a_path(n):
    u = np.arange(n - 1)
    count, labels = components(n, u, u + 1)
    assert count == 1 and (labels == 0).all()
    assert components(n, u[:0], u[:0])[0] == n
    assert len(list(itertools.islice(labels, n))) == n


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.one_of(st.integers(1, 60), st.integers(590, 620)))
def test_components_label_like_networkx_numbered_by_lowest_node(data, n):
    """Small graphs take the numpy path, larger ones scipy's: the same labels either way."""
    m = data.draw(st.integers(0, 3 * n))
    u = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    v = np.asarray(data.draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(u.tolist(), v.tolist()))
    expected = np.empty(n, dtype=np.int64)
    for label, piece in enumerate(sorted(nx.connected_components(g), key=min)):
        expected[list(piece)] = label
    count, labels = components(n, u, v)
    assert count == nx.number_connected_components(g)
    assert labels.tolist() == expected.tolist()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 8))
def test_ring_coordinates_are_those_of_the_rings(seed, n):
    """Faces with holes, without, and empty ones: the coordinates, ring and face numbers of get_rings."""
    rng = np.random.default_rng(seed)
    faces = []
    for _ in range(n):
        x, y = rng.uniform(0, 1000, 2)
        outer = shapely.box(x, y, x + 100, y + 100)
        holes = [shapely.box(x + 10 + 30 * k, y + 10, x + 30 + 30 * k, y + 30).exterior.coords
                 for k in range(int(rng.integers(0, 3)))]
        faces.append(shapely.Polygon() if rng.random() < 0.15 else shapely.Polygon(outer.exterior.coords, holes))
    faces_arr = np.array(faces, dtype=object)
    rings, ring_face = shapely.get_rings(faces_arr, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    got_coords, got_ring, got_face = _ring_coordinates(faces_arr)
    assert got_coords.tolist() == coords.tolist()
    assert got_ring.tolist() == ring_idx.tolist()
    assert got_face.tolist() == ring_face.tolist()
