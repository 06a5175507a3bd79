"""Why a region misses the household bounds: the data, proved, or the method.

A grid outside the bounds is explained by the data when one of these holds, checked in
this order: one building holds more than the maximum; the whole community holds less
than the minimum; the grid is a whole part of the community (cut off by its boundary, a
dedicated compound or a building above the maximum) and that part holds less than the
minimum; a building and the units reachable only through it (a pocket behind it, too
small to be a grid of its own) hold more than the maximum together; or no grouping of
the part's whole buildings fits the bounds at all, geography aside; or an exhaustive
search (within a budget) finds no division of the part into connected grids within the
bounds. A *part* is a connected piece of the community left once the units above the
maximum (grids of their own) are taken out. Anything else is reported as the method's
failure. The codes and their texts are
:data:`gridkit.partition.reasons.REASONS`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import networkx as nx
import numpy as np

from gridkit.partition.graph import Graph, components
from gridkit.partition.reasons import note

__all__ = ["Reasons", "divisible", "forced_overloads", "packable", "reasons_for_regions"]


class Reasons(NamedTuple):
    """A reason code per region (see :data:`gridkit.partition.reasons.REASONS`) and its note."""

    codes: list[str]
    notes: list[str]


def reasons_for_regions(graph: Graph, labels: np.ndarray, *, min_households: int, max_households: int) -> Reasons:
    """Why each region misses the bounds: code ``""`` and note ``""`` for a region that meets them.

    ``labels`` is any region label per node (``0..k-1``), not only what
    :func:`gridkit.partition.regionalize.regions_from_graph` returns: a reason other than
    ``method_failed`` is a fact about the data, whoever drew the regions.
    """
    lo, hi = min_households, max_households
    h = graph.households
    k = int(labels.max()) + 1
    totals = np.bincount(labels, weights=h, minlength=k)
    biggest = np.zeros(k)
    np.maximum.at(biggest, labels, h)
    # pieces divided separately: parts of the community, and what units above the
    # maximum (regions of their own) cut off
    over = h > hi
    keep = ~over[graph.u] & ~over[graph.v]
    n_comp, comp = components(graph.n, graph.u[keep], graph.v[keep])
    comp_units = np.bincount(comp, minlength=n_comp)
    comp_households = np.bincount(comp, weights=h, minlength=n_comp)
    grid_units = np.bincount(labels, minlength=k)
    grid_comp = np.zeros(k, dtype=np.int64)
    grid_comp[labels] = comp
    community_total = float(h.sum())
    overloads: dict[int, list[tuple[int, set[int]]]] = {}
    split_cache: dict[int, bool | None] = {}
    codes: list[str] = []
    notes: list[str] = []

    def cannot_divide(c: int) -> bool:
        if c not in split_cache:
            split_cache[c] = divisible(graph, np.flatnonzero(comp == c), min_households=lo, max_households=hi)
        return split_cache[c] is False

    def say(code: str, **figures: int) -> None:
        codes.append(code)
        notes.append(note(code, min=lo, max=hi, **figures))

    for g in range(k):
        c = int(grid_comp[g])
        if lo <= totals[g] <= hi:
            say("")
        elif totals[g] > hi and biggest[g] > hi:
            say("building_above_max", households=int(biggest[g]))
        elif totals[g] < lo and community_total < lo:
            say("community_below_min", households=int(community_total))
        elif totals[g] < lo and grid_units[g] == comp_units[c]:
            say("part_below_min", households=int(comp_households[c]))
        elif (found := _overload_here(g, c, labels, comp, graph, lo, hi, overloads)) is not None:
            unit, pocket = found
            say("pocket", building=int(h[unit]), pocket=int(h[list(pocket)].sum()))
        elif packable(h[comp == c], lo, hi) is False:
            say("no_grouping", households=int(comp_households[c]))
        elif cannot_divide(c):
            say("no_connected_split", households=int(comp_households[c]), units=int(comp_units[c]))
        else:
            say("method_failed", households=int(totals[g]))
    return Reasons(codes, notes)


def _overload_here(g, c, labels, comp, graph, lo, hi, cache):  # type: ignore[no-untyped-def]
    if c not in cache:
        nodes = np.flatnonzero(comp == c)
        cache[c] = forced_overloads(graph, nodes, min_households=lo, max_households=hi)
    members = set(np.flatnonzero(labels == g).tolist())
    for unit, pocket in cache[c]:
        if unit in members or pocket & members:
            return unit, pocket
    return None


def forced_overloads(
    graph: Graph, nodes: np.ndarray, *, min_households: int, max_households: int
) -> list[tuple[int, set[int]]]:
    """Units that must share a region with pockets too small to stand alone, beyond the maximum.

    A pocket of unit ``u`` is a piece of the graph left without ``u`` other than the
    piece with most households. It touches nothing but itself and ``u``, so when it holds
    less than the minimum it must join ``u``'s region. Returns ``(u, pocket units)`` for
    every ``u`` whose households plus such pockets exceed the maximum.
    """
    keep = np.isin(graph.u, nodes) & np.isin(graph.v, nodes)
    g = nx.Graph()
    g.add_nodes_from(nodes.tolist())
    g.add_edges_from(zip(graph.u[keep].tolist(), graph.v[keep].tolist()))
    h = graph.households
    found = []
    for u in sorted(nx.articulation_points(g)):
        rest = g.subgraph(set(g) - {u})
        pieces = sorted(nx.connected_components(rest), key=lambda p: (-h[list(p)].sum(), min(p)))
        small = [p for p in pieces[1:] if h[list(p)].sum() < min_households]
        pocket = set().union(*small) if small else set()
        if pocket and h[u] + h[list(pocket)].sum() > max_households:
            found.append((int(u), pocket))
    return found


def divisible(
    graph: Graph, nodes: np.ndarray, *, min_households: int, max_households: int, budget: int = 50_000
) -> bool | None:
    """Whether the connected units ``nodes`` can be divided into connected regions within the bounds.

    Exact search: the region holding the lowest unit left is chosen among the connected
    sets that fit the bounds, and what remains is divided piece by piece (pieces apart
    are independent). Returns None when the search budget runs out (treat as unknown).

    >>> g = Graph(households=np.array([150, 20, 150]), x=np.zeros(3), y=np.zeros(3),
    ...           block=np.zeros(3, dtype=np.int64), u=np.array([0, 1]), v=np.array([1, 2]), cost=np.ones(2))
    >>> divisible(g, np.arange(3), min_households=100, max_households=170)  # 150 + 20 | 150
    True
    >>> divisible(g, np.arange(3), min_households=100, max_households=160)  # the 20 fits nowhere
    False
    """
    lo, hi = min_households, max_households
    members = {int(n) for n in nodes}
    adj: dict[int, set[int]] = {n: set() for n in members}
    keep = np.isin(graph.u, nodes) & np.isin(graph.v, nodes)
    for a, b in zip(graph.u[keep].tolist(), graph.v[keep].tolist()):
        adj[a].add(b)
        adj[b].add(a)
    h = {n: int(graph.households[n]) for n in members}
    steps = 0
    memo: dict[frozenset[int], bool | None] = {}

    class _OutOfBudget(Exception):
        pass

    def pieces(rest: set[int]) -> list[frozenset[int]]:
        out, left = [], set(rest)
        while left:
            stack = [left.pop()]
            piece = set(stack)
            while stack:
                for m in adj[stack.pop()] & left:
                    left.discard(m)
                    piece.add(m)
                    stack.append(m)
            out.append(frozenset(piece))
        return out

    def regions(rest: frozenset[int], chosen: set[int], total: int, frontier: set[int], banned: set[int]
                ) -> Iterator[frozenset[int]]:
        # every connected set holding the first unit, within the maximum, found exactly once:
        # the lowest frontier unit is either left out for good or taken in
        nonlocal steps
        steps += 1
        if steps > budget:
            raise _OutOfBudget
        if not frontier:
            if total >= lo:
                yield frozenset(chosen)
            return
        x = min(frontier)
        yield from regions(rest, chosen, total, frontier - {x}, banned | {x})
        if total + h[x] <= hi:
            grown = (frontier - {x}) | ((adj[x] & rest) - chosen - banned - {x})
            yield from regions(rest, chosen | {x}, total + h[x], grown, banned)

    def solve(rest: frozenset[int]) -> bool:
        if rest in memo:
            return bool(memo[rest])
        total = sum(h[n] for n in rest)
        ok = False
        if lo <= total <= hi:
            ok = True
        elif total > hi:
            first = min(rest)
            for region in regions(rest, {first}, h[first], adj[first] & rest, set()) if h[first] <= hi else ():
                parts = pieces(set(rest - region))
                if all(sum(h[n] for n in p) >= lo for p in parts) and all(solve(p) for p in parts):
                    ok = True
                    break
        memo[rest] = ok
        return ok

    try:
        return solve(frozenset(members))
    except _OutOfBudget:
        return None


def packable(items: Sequence[int], lo: int, hi: int, *, budget: int = 50_000) -> bool | None:
    """Whether ``items`` can be grouped so that every group's sum lies in ``[lo, hi]``.

    Exact search over groupings (largest items first, groups kept in canonical order);
    returns None when the search budget runs out (treat as unknown).

    >>> packable([222, 44, 30, 21], 100, 300)
    False
    >>> packable([150, 60, 60, 30], 100, 300)
    True
    """
    values = sorted((int(v) for v in items if v > 0), reverse=True)
    total = sum(values)
    if total == 0:
        return False
    if values and values[0] > hi:
        return False
    steps = 0
    seen: set[tuple[int, tuple[int, ...]]] = set()

    def place(i: int, groups: tuple[int, ...]) -> bool | None:
        nonlocal steps
        steps += 1
        if steps > budget:
            return None
        if i == len(values):
            return all(g >= lo for g in groups)
        remaining = sum(values[i:])
        short = sum(max(0, lo - g) for g in groups)
        if short > remaining:
            return False
        key = (i, tuple(sorted(groups)))
        if key in seen:
            return False
        seen.add(key)
        unknown = False
        tried: set[int] = set()
        for j, g in enumerate(groups):
            if g in tried or g + values[i] > hi:
                continue
            tried.add(g)
            got = place(i + 1, groups[:j] + (g + values[i],) + groups[j + 1:])
            if got:
                return True
            unknown |= got is None
        got = place(i + 1, groups + (values[i],))
        if got:
            return True
        unknown |= got is None
        return None if unknown else False

    return place(0, ())
