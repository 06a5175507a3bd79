"""The balance local search on its own: hard rules kept, balance never worse, determinism."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridkit.partition.balance import BalanceOptions, balance_regions
from gridkit.partition.graph import graph_from_polygons
from gridkit.partition.regionalize import regions_from_graph

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
LO, HI, TARGET = 200, 500, 300


def units(seed: int, n: int, *, blocks: int, tower_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voronoi units of random points in a square, households, and street blocks (vertical strips)."""
    rng = np.random.default_rng(seed)
    side = 50.0 * np.sqrt(n)
    pts = rng.uniform(0, side, size=(n, 2))
    frame = shapely.box(0, 0, side, side)
    cells = np.asarray(shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame,
                                                                   ordered=True)))
    cells = shapely.intersection(cells, frame, grid_size=0.01)
    households = np.where(rng.random(n) < tower_share, rng.integers(120, 260, n), rng.integers(0, 60, n))
    block = np.minimum((pts[:, 0] / side * blocks).astype(np.int64), blocks - 1) if blocks > 1 else np.zeros(n, int)
    return cells, households, block


def region_sizes(labels: np.ndarray, households: np.ndarray) -> np.ndarray:
    return np.bincount(labels, weights=households, minlength=labels.max() + 1)


def connected(graph, labels: np.ndarray) -> bool:
    inside = labels[graph.u] == labels[graph.v]
    n = graph.n
    _, comp = connected_components(coo_matrix((np.ones(inside.sum()), (graph.u[inside], graph.v[inside])),
                                              shape=(n, n)), directed=False)
    return all(len(np.unique(comp[labels == r])) == 1 for r in np.unique(labels))


def within_tolerance(graph, labels: np.ndarray, households: np.ndarray, tol: float,
                     mean_of: np.ndarray | None = None) -> set[int]:
    """Regions within ``tol`` of the mean of their connected piece (the mean as in ``mean_of``)."""
    n = graph.n
    _, comp = connected_components(coo_matrix((np.ones(len(graph.u)), (graph.u, graph.v)), shape=(n, n)),
                                   directed=False)
    base = labels if mean_of is None else mean_of
    out = set()
    sizes = region_sizes(labels, households)
    base_sizes = region_sizes(base, households)
    for piece in np.unique(comp):
        regions = np.unique(base[comp == piece])
        regular = [r for r in regions if not (base_sizes[r] > HI and (base == r).sum() == 1)]
        if not regular:
            continue
        mean = base_sizes[regular].mean()
        out |= {int(r) for r in regular if abs(sizes[r] - mean) <= tol * mean}
    return out


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(60, 400), blocks=st.sampled_from([1, 4, 12]),
       tower_share=st.sampled_from([0.0, 0.03, 0.1]))
def test_balance_keeps_every_hard_rule_and_never_worsens_the_spread(seed, n, blocks, tower_share):
    cells, households, block = units(seed, n, blocks=blocks, tower_share=tower_share)
    graph = graph_from_polygons(cells, households, block)
    before = regions_from_graph(graph, min_households=LO, max_households=HI, target=TARGET, balance=None)
    after = balance_regions(graph, before, min_households=LO, max_households=HI)
    # same regions, each still one piece
    assert set(np.unique(after)) == set(np.unique(before))
    assert connected(graph, after)
    # a region inside the bounds stays inside; one outside never moves further out
    s0, s1 = region_sizes(before, households), region_sizes(after, households)
    inside = (s0 >= LO) & (s0 <= HI)
    assert ((s1[inside] >= LO) & (s1[inside] <= HI)).all()
    assert (s1[s0 < LO] >= s0[s0 < LO]).all() and (s1[s0 > HI] <= s0[s0 > HI]).all()
    # households conserved, a region of one unit above the maximum untouched
    assert s1.sum() == s0.sum()
    for r in np.flatnonzero((s0 > HI) & (np.bincount(before) == 1)):
        assert (after == r).sum() == 1 and np.array_equal(after == r, before == r)
    # balance is never worse than the bisection's: no grid within ±20 % of its piece's mean leaves it
    for r in within_tolerance(graph, before, households, 0.2):
        assert r in within_tolerance(graph, after, households, 0.2, mean_of=before)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(60, 300))
def test_fixed_units_keep_their_region(seed, n):
    cells, households, block = units(seed, n, blocks=4, tower_share=0.03)
    graph = graph_from_polygons(cells, households, block)
    before = regions_from_graph(graph, min_households=LO, max_households=HI, target=TARGET, balance=None)
    rng = np.random.default_rng(seed)
    locked_region = int(rng.integers(0, before.max() + 1))
    fixed = before == locked_region
    after = balance_regions(graph, before, min_households=LO, max_households=HI, fixed=fixed)
    assert np.array_equal(after == locked_region, fixed)


def test_balance_is_deterministic_and_independent_of_input_copy():
    cells, households, block = units(7, 500, blocks=8, tower_share=0.03)
    graph = graph_from_polygons(cells, households, block)
    before = regions_from_graph(graph, min_households=LO, max_households=HI, target=TARGET, balance=None)
    kept = before.copy()
    a = balance_regions(graph, before, min_households=LO, max_households=HI)
    b = balance_regions(graph, before, min_households=LO, max_households=HI)
    assert np.array_equal(a, b)
    assert np.array_equal(before, kept), "the input labels were changed"


def test_balance_brings_most_regions_within_the_tolerance():
    """On fine units (no blocks), nearly every region ends within ±20 % of the mean."""
    cells, households, block = units(3, 2000, blocks=1, tower_share=0.0)
    graph = graph_from_polygons(cells, households, block)
    before = regions_from_graph(graph, min_households=LO, max_households=HI, target=TARGET, balance=None)
    after = balance_regions(graph, before, min_households=LO, max_households=HI,
                            options=BalanceOptions(tolerance=0.2))
    for labels, floor in ((before, 0.0), (after, 0.95)):
        sizes = region_sizes(labels, households)
        share = np.mean(np.abs(sizes - sizes.mean()) <= 0.2 * sizes.mean())
        assert share >= floor
    assert np.mean(np.abs(region_sizes(after, households) - region_sizes(after, households).mean())
                   <= 0.2 * region_sizes(after, households).mean()) > np.mean(
        np.abs(region_sizes(before, households) - region_sizes(before, households).mean())
        <= 0.2 * region_sizes(before, households).mean())


def test_a_tighter_tolerance_balances_harder():
    cells, households, block = units(11, 1500, blocks=1, tower_share=0.0)
    graph = graph_from_polygons(cells, households, block)
    before = regions_from_graph(graph, min_households=LO, max_households=HI, target=TARGET, balance=None)
    cv = []
    for tol in (0.3, 0.1):
        after = balance_regions(graph, before, min_households=LO, max_households=HI,
                                options=BalanceOptions(tolerance=tol))
        sizes = region_sizes(after, households)
        cv.append(sizes.std() / sizes.mean())
    assert cv[1] < cv[0]
