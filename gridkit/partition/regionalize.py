"""Balanced contiguous regions over a unit adjacency graph.

The method is recursive bisection. A region that must hold ``k`` grids is cut in two
parts holding ``k1 = k // 2`` and ``k - k1`` grids. Candidate cuts are sweeps: the units
are ordered along one of several directions, block by block (units of one street block
stay together in the order, so a cut between blocks runs along streets), and every
prefix of that order whose households fit the window

    max(k1 * min, H - k2 * max) <= H1 <= min(k1 * max, H - k2 * min)

is a candidate. Cutting an edge costs its shared length, times ``inside_cost`` when the
edge lies inside a block; a small balance term pulls towards ``H * k1 / k``. The
cheapest candidates over all directions are tried in turn; a cut that leaves one side in
several pieces is repaired (stray pieces join the other side, which they always touch)
and kept if it still fits the window. Because the window guarantees that both sides can
still be divided within the bounds, the leaves meet them whenever the units allow. When
no sweep fits (a sweep never isolates a unit in the middle, such as a village's large
compound between its hamlets), sides grown from single units are tried as well.

The cost of one bisection is a sort and a pass over the edges per direction, so the whole
run is O(D · n log n · log k).
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable

import numpy as np
from scipy.sparse import coo_matrix

from gridkit.partition.balance import BalanceOptions, balance_regions
from gridkit.partition.graph import Graph, components

__all__ = ["Graph", "grid_count", "piece_counts", "regions_from_graph"]

log = logging.getLogger(__name__)

_DIRECTIONS = 8
_CANDIDATES_PER_DIRECTION = 3
# when no sweep fits the window: grow connected sets from up to this many seed units,
# in pieces of at most this many units (the fallback is a Python loop)
_GROW_SEEDS = 64
_GROW_MAX_NODES = 5000
_BALANCED = BalanceOptions()


def grid_count(households: int, *, min_households: int, max_households: int, target: int) -> int:
    """How many grids a piece with ``households`` gets.

    ``k = clamp(round(H / target), ceil(H / max), floor(H / min))``, at least 1; when no k
    meets both bounds (H below the minimum), the smallest k meeting the maximum.

    >>> grid_count(17000, min_households=200, max_households=500, target=300)
    57
    >>> grid_count(60, min_households=100, max_households=300, target=200)
    1
    """
    if households <= 0:
        return 1
    lo = math.ceil(households / max_households)
    hi = households // min_households
    if lo > hi:
        return max(1, lo)
    return int(min(max(round(households / target), lo), hi))


def regions_from_graph(
    graph: Graph,
    *,
    min_households: int,
    max_households: int,
    target: int,
    balance: BalanceOptions | None = _BALANCED,
    fixed: np.ndarray | None = None,
    grids: int | None = None,
) -> np.ndarray:
    """A region label per unit: connected regions whose households meet the bounds where possible.

    Units holding more than the maximum alone become regions of their own. Pieces of the
    graph that are not connected (a community in several parts, or parts cut off by such
    units) are divided separately. Regions left under the minimum join a neighbour when
    the sum stays within the maximum. Then ``balance`` (see
    :func:`gridkit.partition.balance.balance_regions`; None leaves the bisection's regions)
    moves units between neighbours to make the regions as equal as the bounds and whole
    buildings allow; units where ``fixed`` is True keep their region. ``grids`` asks for
    that many regions in all (units above the maximum included); each piece gets a count
    its households allow, as close to the request as the bounds permit.
    """
    n = graph.n
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    h = graph.households
    oversize = h > max_households
    next_label = 0
    for i in np.flatnonzero(oversize):
        labels[i] = next_label
        next_label += 1

    keep = ~oversize[graph.u] & ~oversize[graph.v]
    eu, ev, ec = graph.u[keep], graph.v[keep], graph.cost[keep]
    rest = np.flatnonzero(~oversize)
    if len(rest):
        local = np.full(n, -1, dtype=np.int64)
        local[rest] = np.arange(len(rest))
        n_comp, comp = components(len(rest), local[eu], local[ev])
        edge_comp = comp[local[eu]]
        order = np.argsort(edge_comp, kind="stable")
        bounds = np.searchsorted(edge_comp[order], np.arange(n_comp + 1))
        node_order = np.argsort(comp, kind="stable")
        node_bounds = np.searchsorted(comp[node_order], np.arange(n_comp + 1))
        bisector = _Bisector(graph, min_households, max_households)
        piece_nodes = [rest[node_order[node_bounds[c] : node_bounds[c + 1]]] for c in range(n_comp)]
        counts = piece_counts([int(h[nodes].sum()) for nodes in piece_nodes], min_households=min_households,
                              max_households=max_households, target=target,
                              total=None if grids is None else grids - next_label)
        for c in range(n_comp):
            nodes = piece_nodes[c]
            edges = order[bounds[c] : bounds[c + 1]]
            for part in bisector.split(nodes, eu[edges], ev[edges], ec[edges], counts[c]):
                labels[part] = next_label
                next_label += 1
    # repair first: a region under the minimum is often the one that can take what a full
    # neighbour must give; merge what is still too small, then repair what merging left
    labels = repair_bounds(labels, graph, min_households, max_households)
    labels = _merge_small(labels, graph, min_households, max_households)
    labels = repair_bounds(labels, graph, min_households, max_households)
    if balance is not None:
        labels = balance_regions(graph, labels, min_households=min_households, max_households=max_households,
                                 fixed=fixed, options=balance)
    return labels


def piece_counts(households: list[int], *, min_households: int, max_households: int, target: int,
                 total: int | None = None) -> list[int]:
    """Grids per connected piece: from the target, or summing to ``total`` where the bounds allow.

    Each piece keeps a count whose grids can hold its households within the bounds
    (``ceil(H / max)`` to ``floor(H / min)``); towards ``total`` the piece with the largest
    (or smallest) grids after the change changes first.

    >>> piece_counts([3000, 900], min_households=200, max_households=500, target=300)
    [10, 3]
    >>> piece_counts([3000, 900], min_households=200, max_households=500, target=300, total=11)
    [8, 3]
    """
    counts = [grid_count(H, min_households=min_households, max_households=max_households, target=target)
              for H in households]
    if total is None or not counts:
        return counts
    low = [max(1, math.ceil(H / max_households)) for H in households]
    high = [max(lo, H // min_households) for lo, H in zip(low, households)]
    while sum(counts) < total:
        room = [i for i in range(len(counts)) if counts[i] < high[i]]
        if not room:
            break
        counts[max(room, key=lambda i: (households[i] / (counts[i] + 1), -i))] += 1
    while sum(counts) > total:
        room = [i for i in range(len(counts)) if counts[i] > low[i]]
        if not room:
            break
        counts[min(room, key=lambda i: (households[i] / (counts[i] - 1), i))] -= 1
    return counts


class _Bisector:
    def __init__(self, graph: Graph, min_households: int, max_households: int) -> None:
        self.g = graph
        self.lo = min_households
        self.hi = max_households
        angles = np.arange(_DIRECTIONS) * (np.pi / _DIRECTIONS)
        self.cos = np.cos(angles)[:, None]
        self.sin = np.sin(angles)[:, None]
        self.local = np.full(graph.n, -1, dtype=np.int64)

    def split(self, nodes: np.ndarray, u: np.ndarray, v: np.ndarray, c: np.ndarray, k: int) -> list[np.ndarray]:
        """Divide a connected node set into k connected parts (iteratively, largest first)."""
        out: list[np.ndarray] = []
        stack = [(nodes, u, v, c, k)]
        while stack:
            nodes, u, v, c, k = stack.pop()
            if k <= 1 or len(nodes) <= 1:
                out.append(nodes)
                continue
            a_mask = self._bisect(nodes, u, v, c, k)
            k1 = k // 2
            self.local[nodes] = np.arange(len(nodes))
            in_a_u = a_mask[self.local[u]]
            in_a_v = a_mask[self.local[v]]
            ea = in_a_u & in_a_v
            eb = ~in_a_u & ~in_a_v
            stack.append((nodes[~a_mask], u[eb], v[eb], c[eb], k - k1))
            stack.append((nodes[a_mask], u[ea], v[ea], c[ea], k1))
        return out

    def _bisect(self, nodes: np.ndarray, u: np.ndarray, v: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
        g = self.g
        n = len(nodes)
        k1 = k // 2
        k2 = k - k1
        h = g.households[nodes]
        total = int(h.sum())
        lo: float = max(k1 * self.lo, total - k2 * self.hi)
        hi: float = min(k1 * self.hi, total - k2 * self.lo)
        ideal = total * k1 / k
        if lo > hi:  # cannot meet both bounds: aim at the proportional split
            lo = hi = ideal

        self.local[nodes] = np.arange(n)
        lu, lv = self.local[u], self.local[v]
        x, y = g.x[nodes], g.y[nodes]
        blk = g.block[nodes]
        bx, by = g.block_x[blk], g.block_y[blk]
        # sweep order: block position first, then unit position (ties by index)
        block_key = bx * self.cos + by * self.sin
        unit_key = x * self.cos + y * self.sin
        order = np.lexsort((np.broadcast_to(np.arange(n), block_key.shape), unit_key, block_key), axis=1)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(n)[None, :], axis=1)
        cum = np.cumsum(h[order], axis=1)  # households of the prefix ending at position i

        # cut cost of the split after position i: edges with one end at or before i
        ru, rv = rank[:, lu], rank[:, lv]
        first = np.minimum(ru, rv)
        last = np.maximum(ru, rv)
        offset = (np.arange(_DIRECTIONS) * (n + 1))[:, None]
        size = _DIRECTIONS * (n + 1)
        cc = np.broadcast_to(c, first.shape).ravel()
        diff = np.bincount((first + offset).ravel(), weights=cc, minlength=size)
        diff -= np.bincount((last + offset).ravel(), weights=cc, minlength=size)
        cut = np.cumsum(diff.reshape(_DIRECTIONS, n + 1), axis=1)[:, :n]

        span = math.sqrt(max(np.ptp(x) * np.ptp(y), 1.0))
        scale = total / k if total else 1.0
        score = cut + 2.0 * span * ((cum - ideal) / scale) ** 2
        feasible = (cum >= lo) & (cum <= hi)
        feasible[:, n - 1] = False  # both sides non-empty
        if not feasible.any():
            # nothing fits: the split nearest the window
            gap = np.maximum(lo - cum, cum - hi).astype(float)
            gap[:, n - 1] = np.inf
            score = gap * 1e9 + score
            feasible = np.isfinite(gap)
        score = np.where(feasible, score, np.inf)

        best_mask: np.ndarray | None = None
        best_gap = float("inf")
        for d, i in self._candidates(score):
            a_mask = np.zeros(n, dtype=bool)
            a_mask[order[d, : i + 1]] = True
            a_mask = _repair(a_mask, lu, lv, h)
            h1 = int(h[a_mask].sum())
            miss = max(float(lo - h1), float(h1 - hi), 0.0) + self._short(h, a_mask, k1) + self._short(h, ~a_mask, k2)
            if miss == 0:
                return a_mask
            if miss < best_gap:
                best_gap, best_mask = miss, a_mask
        if lo <= hi:
            grown = _grown_split(lu, lv, h, lo=lo, hi=hi,
                                 divisible=lambda m: self._short(h, m, k1) + self._short(h, ~m, k2) == 0)
            if grown is not None:
                return grown
        if best_mask is None:  # pragma: no cover - a connected set of >= 2 nodes has a cut
            best_mask = np.zeros(n, dtype=bool)
            best_mask[0] = True
        log.debug("no split within [%s, %s] for %d households in %d grids", lo, hi, total, k)
        return best_mask

    def _short(self, h: np.ndarray, side: np.ndarray, k: int) -> float:
        """Households a side lacks to hold ``k`` grids whatever grid its largest unit is in.

        The other ``k - 1`` grids need ``(k - 1) * min`` households from the other units:
        a single 264-household unit can never be two grids of at least 100.
        """
        if k <= 1:
            return 0.0
        hs = h[side]
        if len(hs) < k:
            return float((k - 1) * self.lo)
        return max(0.0, float((k - 1) * self.lo - (int(hs.sum()) - int(hs.max()))))

    @staticmethod
    def _candidates(score: np.ndarray) -> list[tuple[int, int]]:
        """Best positions per direction, cheapest first."""
        picks: list[tuple[float, int, int]] = []
        per = min(_CANDIDATES_PER_DIRECTION, score.shape[1])
        best = np.argpartition(score, per - 1, axis=1)[:, :per] if score.shape[1] > per else np.tile(
            np.arange(score.shape[1]), (score.shape[0], 1))
        for d in range(score.shape[0]):
            for i in best[d]:
                if np.isfinite(score[d, i]):
                    picks.append((float(score[d, i]), d, int(i)))
        picks.sort()
        return [(d, i) for _, d, i in picks]


def _grown_split(
    lu: np.ndarray, lv: np.ndarray, h: np.ndarray, *, lo: float, hi: float,
    divisible: Callable[[np.ndarray], bool] = lambda mask: True,
) -> np.ndarray | None:
    """A split no sweep can make: one side grown from a single unit.

    A sweep cuts off a prefix along a direction, so it never isolates a unit in the
    middle (a village whose one large compound sits between the others). Here each seed
    unit (heaviest first) grows by its lightest neighbour until the side fits
    ``[lo, hi]``, or until the other side does; the split is kept when both sides are
    connected and ``divisible``. Returns the mask of side A, or None.
    """
    n = len(h)
    if n < 2 or n > _GROW_MAX_NODES:
        return None
    total = int(h.sum())
    order = np.argsort(np.concatenate([lu, lv]), kind="stable")
    ends = np.concatenate([lv, lu])[order]
    starts = np.searchsorted(np.concatenate([lu, lv])[order], np.arange(n + 1))
    seeds = np.arange(n) if n <= _GROW_SEEDS else np.linspace(0, n - 1, _GROW_SEEDS).round().astype(np.int64)
    seeds = seeds[np.argsort(-h[seeds], kind="stable")]
    for want_lo, want_hi, flip in ((lo, hi, False), (total - hi, total - lo, True)):
        for seed in seeds:
            side = _grow(int(seed), starts, ends, h, want_lo, want_hi)
            if side is None:
                continue
            a_mask = ~side if flip else side
            rest = ~a_mask
            if (a_mask.any() and rest.any() and _pieces(_pieces_of(a_mask, lu, lv), a_mask) == 1
                    and _pieces(_pieces_of(rest, lu, lv), rest) == 1 and divisible(a_mask)):
                return a_mask
    return None


def _grow(seed: int, starts: np.ndarray, ends: np.ndarray, h: np.ndarray, lo: float, hi: float) -> np.ndarray | None:
    """Grow a connected set from ``seed`` by its lightest neighbour until it holds ``lo`` or more."""
    inside = np.zeros(len(h), dtype=bool)
    inside[seed] = True
    held = int(h[seed])
    frontier = [(int(h[j]), int(j)) for j in ends[starts[seed] : starts[seed + 1]]]
    heapq.heapify(frontier)
    while held < lo and frontier:
        weight, j = heapq.heappop(frontier)
        if inside[j]:
            continue
        inside[j] = True
        held += weight
        for m in ends[starts[j] : starts[j + 1]]:
            if not inside[m]:
                heapq.heappush(frontier, (int(h[m]), int(m)))
    return inside if lo <= held <= hi else None


def _repair(a_mask: np.ndarray, lu: np.ndarray, lv: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Make both sides connected: keep the main piece of A, the main piece of the rest as B.

    The region is connected, so every other piece of the rest touches A's main piece
    and can join it without breaking it.
    """
    comp_a = _pieces_of(a_mask, lu, lv)
    if _pieces(comp_a, a_mask) > 1:
        a_mask = comp_a == _main_piece(comp_a, a_mask, h)
    rest = ~a_mask
    comp_r = _pieces_of(rest, lu, lv)
    if _pieces(comp_r, rest) > 1:
        a_mask = comp_r != _main_piece(comp_r, rest, h)
    return a_mask


def _pieces_of(mask: np.ndarray, lu: np.ndarray, lv: np.ndarray) -> np.ndarray:
    """Component id per node of the subgraph induced by ``mask`` (other nodes: singletons)."""
    both = mask[lu] & mask[lv]
    return components(len(mask), lu[both], lv[both])[1]


def _pieces(comp: np.ndarray, mask: np.ndarray) -> int:
    return len(np.unique(comp[mask]))


def _main_piece(comp: np.ndarray, mask: np.ndarray, h: np.ndarray) -> int:
    """The piece of ``mask`` with the most households (most units on ties, then lowest id)."""
    ids = comp[mask]
    weight = np.bincount(ids, weights=h[mask].astype(float), minlength=comp.max() + 1)
    size = np.bincount(ids, minlength=comp.max() + 1)
    candidates = np.unique(ids)
    order = np.lexsort((candidates, -size[candidates], -weight[candidates]))
    return int(candidates[order[0]])


def _merge_small(labels: np.ndarray, graph: Graph, min_households: int, max_households: int) -> np.ndarray:
    """Let regions under the minimum join the smallest neighbour that stays within the maximum."""
    labels = labels.copy()
    while True:
        n_reg = labels.max() + 1
        totals = np.bincount(labels, weights=graph.households, minlength=n_reg)
        lu, lv = labels[graph.u], labels[graph.v]
        cross = lu != lv
        a = np.concatenate([lu[cross], lv[cross]])
        b = np.concatenate([lv[cross], lu[cross]])
        small = totals[a] < min_households
        fits = totals[a] + totals[b] <= max_households
        ok = small & fits
        if not ok.any():
            break
        a, b = a[ok], b[ok]
        # smallest region first; it joins its smallest neighbour (ties: lowest label)
        pick = np.lexsort((b, totals[b], a))
        a, b = a[pick], b[pick]
        first = np.ones(len(a), dtype=bool)
        first[1:] = a[1:] != a[:-1]
        a, b = a[first], b[first]
        src = a[np.argmin(totals[a])]
        dst = b[np.argmin(totals[a])]
        labels[labels == src] = dst
        labels = np.unique(labels, return_inverse=True)[1].ravel()
    return labels


def _violation(total: float, lo: int, hi: int) -> float:
    return max(0.0, lo - total) + max(0.0, total - hi)


def repair_bounds(labels: np.ndarray, graph: Graph, lo: int, hi: int, *, max_moves: int = 10_000) -> np.ndarray:
    """Move boundary units between neighbouring regions while that reduces bound violations.

    See :class:`_BoundRepair`. Returns new labels; the input is not changed.
    """
    totals = np.bincount(labels, weights=graph.households, minlength=labels.max() + 1)
    if all(_violation(t, lo, hi) == 0 for t in totals):
        return labels
    repair = _BoundRepair(labels.copy(), graph, lo, hi)
    repair.run(max_moves)
    return repair.labels


class _BoundRepair:
    """Contiguity-preserving moves that reduce the summed bound violation.

    A move takes a small set of units (one unit, or a unit and one neighbour of the
    same region) from a region to a neighbouring one; a region under the minimum may
    also be absorbed whole by a neighbour that then passes units on. Pieces of the giving region that
    the move would cut off go along: they touched only the moved units, so the
    receiving region stays connected and the giving region keeps its main piece. When no
    single move helps a region over the maximum, a chain of two moves is tried: a full
    neighbour takes units and passes others on. Every accepted step lowers the summed
    violation, so the repair ends.
    """

    def __init__(self, labels: np.ndarray, graph: Graph, lo: int, hi: int) -> None:
        self.labels = labels
        self.h = graph.households.astype(float)
        self.lo, self.hi = lo, hi
        n = graph.n
        adj = coo_matrix((np.ones(2 * len(graph.u), dtype=np.int8),
                          (np.r_[graph.u, graph.v], np.r_[graph.v, graph.u])), shape=(n, n)).tocsr()
        self.indptr, self.indices = adj.indptr, adj.indices
        self.totals = np.bincount(labels, weights=self.h, minlength=labels.max() + 1)
        self.members: dict[int, set[int]] = {}
        for i, r in enumerate(labels):
            self.members.setdefault(int(r), set()).add(i)

    def v(self, r: int, delta: float = 0.0) -> float:
        if not self.members[r] and delta == 0:
            return 0.0  # a region absorbed by a neighbour no longer exists
        return _violation(self.totals[r] + delta, self.lo, self.hi)

    def neighbours(self, unit: int) -> set[int]:
        return {int(b) for b in self.indices[self.indptr[unit]:self.indptr[unit + 1]]}

    def touching(self, units: frozenset[int]) -> set[int]:
        """Regions next to ``units``, other than their own."""
        return {int(self.labels[b]) for m in units for b in self.neighbours(m)} - {int(self.labels[m]) for m in units}

    def carry(self, donor: int, moved: frozenset[int]) -> frozenset[int] | None:
        """``moved`` plus the pieces of ``donor`` it would cut off; None if nothing would remain."""
        rest = self.members[donor] - moved
        if not rest:
            return None
        pieces: list[set[int]] = []
        left = set(rest)
        while left:
            start = left.pop()
            piece = {start}
            stack = [start]
            while stack:
                for b in self.neighbours(stack.pop()):
                    if b in left:
                        left.discard(b)
                        piece.add(b)
                        stack.append(b)
            pieces.append(piece)
        if len(pieces) == 1:
            return moved
        main = max(pieces, key=lambda p: (sum(self.h[m] for m in p), len(p), -min(p)))
        return moved | frozenset(rest - main)

    def seeds(self, unit: int, donor: int) -> list[frozenset[int]]:
        """The unit alone, or with one neighbour of the same region (to pass a bottleneck)."""
        return [frozenset([unit])] + [frozenset([unit, w]) for w in sorted(self.neighbours(unit) & self.members[donor])]

    def moves_from(self, donor: int, units: list[int], exclude: set[int]) -> list[tuple[frozenset[int], float]]:
        out = []
        for u in units:
            for seed in self.seeds(u, donor):
                moved = self.carry(donor, seed)
                if moved is not None and not (exclude and moved & exclude):
                    out.append((moved, float(sum(self.h[m] for m in moved))))
        return out

    def apply(self, moved: frozenset[int], donor: int, target: int, weight: float) -> None:
        for m in moved:
            self.labels[m] = target
        self.members[donor] -= moved
        self.members[target] |= moved
        self.totals[donor] -= weight
        self.totals[target] += weight

    def best_single(self, r: int) -> tuple[frozenset[int], int, int, float] | None:
        best = None
        if self.totals[r] > self.hi:  # give units away
            candidates = [(moved, w, r, t) for moved, w in self.moves_from(r, sorted(self.members[r]), set())
                          for t in sorted(self.touching(moved))]
        else:  # take units in
            edge = sorted(set().union(*(self.neighbours(a) for a in self.members[r])) - self.members[r])
            candidates = [(moved, w, int(self.labels[u]), r) for u in edge
                          for moved, w in self.moves_from(int(self.labels[u]), [u], set())]
        for moved, w, donor, target in candidates:
            gain = self.v(donor, -w) + self.v(target, w) - self.v(donor) - self.v(target)
            if gain < 0 and (best is None or (gain, len(moved)) < best[0]):
                best = ((gain, len(moved)), moved, donor, target, w)
        return None if best is None else best[1:]

    def chain(self, r: int) -> bool:
        """Give units to a neighbour s that passes units on to t; True if done."""
        for moved, w in self.moves_from(r, sorted(self.members[r]), set()):
            for s in sorted(self.touching(moved)):
                before = self.v(r) + self.v(s)
                self.apply(moved, r, s, w)
                for moved2, w2 in self.moves_from(s, sorted(self.members[s] - moved), set(moved)):
                    for t in sorted(self.touching(moved2) - {r}):
                        after = self.v(r) + self.v(s, -w2) + self.v(t, w2)
                        if after < before + self.v(t):
                            self.apply(moved2, s, t, w2)
                            return True
                self.apply(moved, s, r, w)
        return False

    def absorb(self, r: int) -> bool:
        """A region under the minimum joins a neighbour s, which passes units on if that leaves it full."""
        moved = frozenset(self.members[r])
        weight = float(self.totals[r])
        for s in sorted(self.touching(moved)):
            before = self.v(r) + self.v(s)
            self.apply(moved, r, s, weight)
            if self.v(s) < before:
                return True
            for moved2, w2 in self.moves_from(s, sorted(self.members[s]), set()):
                for t in sorted(self.touching(moved2)):
                    if self.v(s, -w2) + self.v(t, w2) < before + self.v(t):
                        self.apply(moved2, s, t, w2)
                        return True
            self.apply(moved, s, r, weight)
        return False

    def run(self, max_moves: int) -> None:
        for _ in range(max_moves):
            bad = sorted((q for q in range(len(self.totals)) if self.v(q) > 0), key=lambda q: (-self.v(q), q))
            for r in bad:
                step = self.best_single(r)
                if step is not None:
                    self.apply(*step)
                    break
                if self.totals[r] > self.hi and self.chain(r):
                    break
                if self.totals[r] < self.lo and self.absorb(r):
                    break
            else:
                break
        # absorbed regions leave gaps in the labels
        self.labels = np.unique(self.labels, return_inverse=True)[1].ravel()
