"""Balance the grids of a community (任务相当): a local search after the bisection.

The bisection keeps every grid inside the household bounds, but two grids of one
community can still hold 204 and 499 households. :func:`balance_regions` then moves
units between neighbouring grids to bring every grid close to its community's mean,
never breaking a hard rule:

- a move takes a *piece* — the units of one street block that a grid holds, so the new
  boundary runs along streets — or, where no piece fits, one unit (one building), or a
  short path through units without households (a yard, an empty block) to the building
  behind them, which a move of the empty units alone would never reach;
- the giving grid stays connected (checked exactly), the receiving grid touches what it
  receives, so every grid stays one piece;
- a grid inside the bounds stays inside them, and one outside them never moves further out;
  likewise a grid within the tolerance never leaves it;
- grids of one unit above the maximum (a tower) and units given as ``fixed`` (dedicated
  compounds, locked grids) never change.

The search lowers one objective, summed over the grids of a community: a balance
penalty that grows gently with a grid's deviation from the mean, steeply beyond three
quarters of the tolerance and by a step outside it; plus ``cut_weight`` times the grid
boundary drawn inside street blocks (so boundaries stay on streets); minus
``compactness_weight`` times the grids' Polsby-Popper compactness (exact, from unit areas
and shared lengths). Moves go from grids above their mean to grids below and must lower
the balance penalty; then a polish lets any move through that lowers the objective
(compactness and streets inside the tolerance). When no single move helps a grid outside
the tolerance, a chain of up to ``chain_depth`` moves is tried: households passed on
through a neighbour to a third grid, or a swap (give a piece, take another), so a grid
holding one large building can trade it for smaller ones. Every step lowers the
objective, so the search ends; the result is deterministic.

Work per step is kept small: each grid's edge units, penalty and compactness are updated
on every move, and a grid that found no move is scored again only against the
neighbours that changed since.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gridkit.partition.graph import Graph

__all__ = ["BalanceOptions", "balance_regions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BalanceOptions:
    """How hard the local search balances.

    Attributes
    ----------
    tolerance
        A grid is balanced when its households lie within this share of its
        community's mean (0.2: ±20 %).
    cut_weight
        Weight of extra grid boundary inside street blocks against balance; higher keeps
        the bisection's street-following boundaries, lower balances harder.
    compactness_weight
        Weight of the grids' summed Polsby-Popper compactness (when the graph carries
        unit areas and perimeters).
    max_piece
        Largest number of units moved at once as one block piece.
    chain_candidates
        First moves tried per grid when looking for a chain of moves (fewer at each
        later step).
    chain_depth
        Most moves in one chain.
    max_path
        Most units without households on a path from a grid's edge to the building
        behind them (see :meth:`_Search.paths`); 0: no such paths.
    max_steps
        A safety bound on accepted steps.
    """

    tolerance: float = 0.2
    cut_weight: float = 1.0
    compactness_weight: float = 1.5
    max_piece: int = 40
    chain_candidates: int = 8
    chain_depth: int = 3
    max_path: int = 1
    max_steps: int = 200_000


#: a step must lower the objective by at least this much (no endless crawl of tiny gains)
_MIN_GAIN = 1e-4
#: the penalty of a grid outside the tolerance, over its smooth part (so a grid just outside counts)
_STEP = 2.0

_Move = tuple[float, float, int, frozenset, int, int, int]  # score, dpen, first unit, units, src, dst, households


class _Search:
    def __init__(self, graph: Graph, labels: np.ndarray, lo: int, hi: int, fixed: np.ndarray,
                 opts: BalanceOptions) -> None:
        g = graph
        self.opts = opts
        self.cw, self.pw = opts.cut_weight, opts.compactness_weight
        self.lo, self.hi = lo, hi
        n = len(labels)
        self.h = g.households.astype(np.int64).tolist()
        self.lab = labels.astype(np.int64).tolist()
        u, v, cost = g.u, g.v, g.cost
        rows, cols, c = np.r_[u, v], np.r_[v, u], np.r_[cost, cost]
        order = np.lexsort((cols, rows))
        rows, cols, c = rows[order], cols[order], c[order]
        ptr = np.searchsorted(rows, np.arange(n + 1))
        cols_l, c_l = cols.tolist(), c.tolist()
        self.nbr = [cols_l[ptr[i]:ptr[i + 1]] for i in range(n)]
        self.ncost = [c_l[ptr[i]:ptr[i + 1]] for i in range(n)]
        self.block = g.block.tolist()
        k = int(labels.max()) + 1 if n else 0
        self.k = k
        self.T = np.bincount(labels, weights=g.households, minlength=k).astype(np.int64).tolist()
        self.members: list[set[int]] = [set() for _ in range(k)]
        for i, r in enumerate(self.lab):
            self.members[r].add(i)
        _, comp = connected_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)), directed=False)
        piece_of = [0] * k
        for i, r in enumerate(self.lab):
            piece_of[r] = int(comp[i])
        self.piece_of = piece_of
        #: bumped whenever a grid changes; what :meth:`single` found for a grid before stays
        #: true while it and its neighbours keep their versions
        self.ver = [0] * k
        self._failed: dict[tuple[bool, int], tuple[int, dict[int, int]]] = {}
        self.around: set[int] = set()
        #: the units of each grid with a neighbour in another grid
        lab_a = labels.astype(np.int64)
        on_edge = np.zeros(n, dtype=bool)
        cut = lab_a[u] != lab_a[v]
        on_edge[u[cut]] = True
        on_edge[v[cut]] = True
        self.edge: list[set[int]] = [set() for _ in range(k)]
        for i in np.flatnonzero(on_edge).tolist():
            self.edge[self.lab[i]].add(i)
        size = [len(m) for m in self.members]
        self.fixed = [(size[r] == 1 and self.T[r] > hi) for r in range(k)]
        for i in np.flatnonzero(fixed).tolist():
            self.fixed[self.lab[i]] = True
        self.mean = [0.0] * k
        by_piece: dict[int, list[int]] = {}
        for r in range(k):
            if not self.fixed[r]:
                by_piece.setdefault(piece_of[r], []).append(r)
        for rs in by_piece.values():
            m = sum(self.T[r] for r in rs) / len(rs)
            for r in rs:
                self.mean[r] = m
        cross = labels[u] != labels[v]
        self.scale = float(cost[cross].sum()) / max(k, 1) or 1.0
        self.inner = 0.75 * opts.tolerance
        self._pieces: dict[int, dict[int, frozenset | None]] = {}  # block -> unit -> its piece
        length = cost if g.length is None else g.length
        self.nlen = self._per_entry(length, order, ptr, n)
        blocks = g.block
        # without street blocks (one block for all) there is nothing to keep to streets
        self.has_blocks = n > 0 and int(blocks.max()) != int(blocks.min())
        if not self.has_blocks:
            inside = np.zeros(len(u), dtype=bool)
        elif g.length is not None:
            inside = cost > 1.5 * g.length  # the graph charges more inside a block
        else:
            inside = blocks[u] == blocks[v]
        self.inside = self._per_entry(inside.astype(float), order, ptr, n)
        area, perimeter = g.area, g.perimeter
        self.shape = area is not None and perimeter is not None and opts.compactness_weight > 0
        if self.shape:
            shared = np.bincount(np.r_[u, v], weights=np.r_[length, length], minlength=n)
            self.ext = np.maximum(np.asarray(perimeter, dtype=float) - shared, 0.0).tolist()
            self.uarea = np.asarray(area, dtype=float).tolist()
            self.A = np.bincount(labels, weights=area, minlength=k).tolist()
            pr = np.bincount(labels, weights=np.asarray(perimeter, dtype=float), minlength=k)
            internal = np.bincount(labels[u][~cross], weights=2 * length[~cross], minlength=k)
            self.P = (pr - internal).tolist()
            self.pp = [self.compactness(a, p) for a, p in zip(self.A, self.P)]
        #: (neighbour, cut cost, shared length, inside a block) per unit
        self.adj = [list(zip(*t)) for t in zip(self.nbr, self.ncost, self.nlen, self.inside)]
        self.pen = [self.penalty(self.T[r], self.mean[r]) if self.mean[r] > 0 else 0.0 for r in range(k)]

    @staticmethod
    def _per_entry(values: np.ndarray, order: np.ndarray, ptr: np.ndarray, n: int) -> list[list[float]]:
        """Per-edge values as per-unit lists, in the order of :attr:`nbr`."""
        vals = np.r_[values, values][order].tolist()
        return [vals[ptr[i]:ptr[i + 1]] for i in range(n)]

    # ------------------------------------------------------------------ objective

    def penalty(self, t: float, m: float) -> float:
        x = abs(t - m) / m
        over = x - self.inner
        # gentle inside the tolerance, steep beyond three quarters of it, and a step outside it
        return x * x + (100.0 * over * over if over > 0 else 0.0) + (_STEP if x > self.opts.tolerance else 0.0)

    def deviation(self, r: int) -> float:
        m = self.mean[r]
        return abs(self.T[r] - m) / m if m > 0 else 0.0

    def compactness(self, a: float, p: float) -> float:
        return 4.0 * np.pi * a / (p * p) if p > 0 else 0.0

    def within(self, r: int) -> bool:
        return abs(self.T[r] - self.mean[r]) <= self.opts.tolerance * self.mean[r]

    def evaluate(self, units: frozenset, src: int, dst: int, *, strict: bool = True, gain: bool = False
                 ) -> tuple[float, float, int] | None:
        if len(units) == 1:
            (x,) = units
            hs = self.h[x]
        else:
            hs = sum(self.h[x] for x in units)
        ts, td = self.T[src], self.T[dst]
        lo, hi = self.lo, self.hi
        # never leave the bounds; outside them, never move further out
        if ts - hs < lo and not ts < lo or td + hs > hi and not td > hi:
            return None
        if ts < lo and ts - hs < ts or td > hi and hs > 0:
            return None
        m = self.mean[src]
        if m <= 0:
            return None  # a piece without households: nothing to balance
        # a grid within the tolerance never leaves it (the share within can only grow)
        band = self.opts.tolerance * m
        if strict and (abs(ts - m) <= band < abs(ts - hs - m) or abs(td - m) <= band < abs(td + hs - m)):
            return None
        pen = self.pen
        dpen = self.penalty(ts - hs, m) + self.penalty(td + hs, m) - pen[src] - pen[dst]
        if gain and dpen > -_MIN_GAIN:
            return None  # the balancing phase takes only moves that balance
        inside_cut = dcut = 0.0
        l_src = l_dst = l_other = 0.0
        lab, adj = self.lab, self.adj
        for x in units:
            for w, c, ln, ins in adj[x]:
                lw = lab[w]
                if lw == src:
                    if w in units:
                        continue
                    l_src += ln
                    dcut += c
                    if ins:
                        inside_cut += ln
                elif lw == dst:
                    l_dst += ln
                    dcut -= c
                    if ins:
                        inside_cut -= ln
                else:
                    l_other += ln
        if not self.shape:
            return dpen + self.cw * dcut / self.scale, dpen, hs
        score = dpen + self.cw * 6.0 * inside_cut / self.scale
        if len(units) == 1:
            (x,) = units
            ext, a = self.ext[x], self.uarea[x]
        else:
            ext = sum(self.ext[x] for x in units)
            a = sum(self.uarea[x] for x in units)
        ps = self.P[src] + l_src - l_dst - l_other - ext
        pd_ = self.P[dst] + l_src + l_other + ext - l_dst
        after = self.compactness(self.A[src] - a, ps) + self.compactness(self.A[dst] + a, pd_)
        score -= self.pw * (after - self.pp[src] - self.pp[dst])
        return score, dpen, hs

    # ------------------------------------------------------------------ moves

    def block_piece(self, unit: int, src: int) -> frozenset | None:
        """The units of ``unit``'s block held by ``src`` and connected to it, if small enough."""
        if not self.has_blocks:
            return frozenset([unit])
        b = self.block[unit]
        cached = self._pieces.get(b)
        if cached is not None and unit in cached:
            piece = cached[unit]
            return None if piece is None or len(piece) >= len(self.members[src]) else piece
        lab, limit = self.lab, self.opts.max_piece
        got = {unit}
        stack = [unit]
        while stack:
            x = stack.pop()
            for y in self.nbr[x]:
                if y not in got and lab[y] == src and self.block[y] == b:
                    got.add(y)
                    stack.append(y)
        piece = frozenset(got) if len(got) <= limit else None
        self._pieces.setdefault(b, {}).update(dict.fromkeys(got, piece))
        if piece is None or len(piece) >= len(self.members[src]):
            return None
        return piece

    def paths(self, unit: int, src: int) -> list[frozenset]:
        """Units of ``src`` with households reached from ``unit`` through units without any.

        Empty units (a yard, a block without homes) on a grid's edge would otherwise wall
        off the buildings behind them: moving one alone changes no household count. Each
        path runs from ``unit`` through empty units of ``src`` to one unit with households.
        """
        lab, h, nbr = self.lab, self.h, self.nbr
        parent = {unit: -1}
        level = [unit]
        found: list[int] = []
        for _ in range(self.opts.max_path):  # each level one more empty unit on the path
            nxt: list[int] = []
            for x in level:
                for y in nbr[x]:
                    if y in parent or lab[y] != src:
                        continue
                    parent[y] = x
                    (found if h[y] > 0 else nxt).append(y)
            level = nxt
        out = []
        for y in found:
            path = [y]
            while parent[path[-1]] != -1:
                path.append(parent[path[-1]])
            if len(path) < len(self.members[src]):
                out.append(frozenset(path))
        return out

    def candidates(self, r: int, *, both: bool = False, strict: bool = True, gain: bool = False,
                   memo: bool = False) -> list[_Move]:
        """Moves that take households out of ``r`` (above its mean) or into it (below).

        With ``both``, moves in either direction (the compactness polish). With ``memo``
        (:meth:`single`), moves between ``r`` and a neighbour are left out when an earlier
        search found none of them good and neither grid has changed since (see
        :meth:`_settled`). :attr:`around` is left holding the neighbouring grids of ``r``.
        """
        lab, nbr = self.lab, self.nbr
        above = self.T[r] > self.mean[r]
        boundary = sorted(self.edge[r])
        outside = sorted({(w, lab[w]) for x in boundary for w in nbr[x] if lab[w] != r})
        self.around = {q for _, q in outside}
        own, theirs = self._settled(r, both) if memo else (set(), set())
        skip = own | theirs
        pairs: list[tuple[int, int]] = []
        if above or both:
            pairs += [(x, r) for x in boundary]
        if not above or both:
            pairs += [(w, q) for w, q in outside if q not in skip]
        out: list[_Move] = []
        seen: set[tuple[frozenset, int]] = set()
        for x, src in pairs:
            if self.fixed[src]:
                continue
            sets = []
            piece = self.block_piece(x, src)
            if piece is not None:
                sets.append(piece)
            if piece is None or len(piece) > 1:  # a single building (splitting its block costs cut_weight)
                sets.append(frozenset([x]))
            n_plain = len(sets)
            if self.h[x] == 0:
                sets += self.paths(x, src)
            # a path from an edge unit not on the neighbour's side: that neighbour's search never saw it
            near = {lab[w] for w in nbr[x]} if len(sets) > n_plain and theirs else set()
            for i, units in enumerate(sets):
                drop = skip if i < n_plain else own | (theirs & near)
                if src == r:
                    dsts = sorted({lab[w] for y in units for w in nbr[y]} - {src})
                else:
                    dsts = [r]
                for d in dsts:
                    if (self.fixed[d] or self.piece_of[d] != self.piece_of[src] or (units, d) in seen
                            or d in drop):
                        continue
                    seen.add((units, d))
                    ev = self.evaluate(units, src, d, strict=strict, gain=gain)
                    if ev is not None:
                        out.append((ev[0], ev[1], min(units), units, src, d, ev[2]))
        out.sort(key=lambda m: (m[0], m[2], m[5]))
        return out

    def stays_connected(self, src: int, units: frozenset) -> bool:
        rest = self.members[src] - units
        if not rest:
            return False
        lab, nbr = self.lab, self.nbr
        # only the neighbours of the moved units can fall apart from each other
        targets = {w for x in units for w in nbr[x] if lab[w] == src and w not in units}
        if len(targets) <= 1:
            return True
        start = min(targets)
        targets.discard(start)
        seen = {start}
        stack = [start]
        while stack and targets:
            x = stack.pop()
            for y in nbr[x]:
                if y not in seen and lab[y] == src and y not in units:
                    seen.add(y)
                    targets.discard(y)
                    stack.append(y)
        return not targets

    def apply(self, units: frozenset, src: int, dst: int, hs: int) -> None:
        if self.shape:
            lab = self.lab
            l_src = l_dst = l_other = 0.0
            for x in units:
                for w, ln in zip(self.nbr[x], self.nlen[x]):
                    if w in units:
                        continue
                    lw = lab[w]
                    if lw == src:
                        l_src += ln
                    elif lw == dst:
                        l_dst += ln
                    else:
                        l_other += ln
            ext = sum(self.ext[x] for x in units)
            a = sum(self.uarea[x] for x in units)
            self.P[src] += l_src - l_dst - l_other - ext
            self.P[dst] += l_src + l_other + ext - l_dst
            self.A[src] -= a
            self.A[dst] += a
        lab, nbr, edge = self.lab, self.nbr, self.edge
        for x in units:
            lab[x] = dst
            self._pieces.pop(self.block[x], None)
        for x in units:
            edge[src].discard(x)
            for y in (x, *nbr[x]):
                ly = lab[y]
                if any(lab[w] != ly for w in nbr[y]):
                    edge[ly].add(y)
                else:
                    edge[ly].discard(y)
        self.members[src] -= units
        self.members[dst] |= units
        self.ver[src] += 1
        self.ver[dst] += 1
        self.T[src] -= hs
        self.T[dst] += hs
        for r in (src, dst):
            if self.mean[r] > 0:
                self.pen[r] = self.penalty(self.T[r], self.mean[r])
            if self.shape:
                self.pp[r] = self.compactness(self.A[r], self.P[r])

    def single(self, r: int, *, both: bool = False) -> tuple[int, int] | None:
        """The best move of ``r`` that lowers the objective, applied; None when there is none.

        When ``r`` found no move before and has not changed since, only moves with the
        neighbours that changed are scored: the others would fail again (same result,
        less work).
        """
        for score, _, _, units, src, dst, hs in self.candidates(r, both=both, gain=not both, memo=True):
            if score >= -_MIN_GAIN:
                break
            if self.stays_connected(src, units):
                self.apply(units, src, dst, hs)
                return src, dst
        self._failed[(both, r)] = (self.ver[r], {q: self.ver[q] for q in self.around})
        return None

    def _settled(self, r: int, both: bool) -> tuple[set[int], set[int]]:
        """Neighbours of ``r`` (in :attr:`around`) whose moves with ``r`` need no new look.

        A search of :meth:`single` that found no move covered every move between its grid
        and each neighbour in the direction it looked; while both grids keep their
        versions, those moves score and connect as they did, and fail again. That covers
        the moves of ``r`` with ``q`` when the search was ``r``'s own, or ``q``'s when
        ``q``'s covered them: in the polish (both directions) always, while balancing when
        ``q`` was above its mean (it gave) and ``r`` is below (it takes). Returns the
        neighbours settled by ``r``'s own search, and those settled by theirs (which saw
        ``r``'s paths through empty units only from the units on their side).
        """
        ver, failed = self.ver, self._failed
        mine = failed.get((both, r))
        snap = mine[1] if mine is not None and mine[0] == ver[r] else {}
        own = {q for q in self.around if snap.get(q) == ver[q]}
        theirs: set[int] = set()
        if both or self.T[r] <= self.mean[r]:
            for q in self.around:
                f = failed.get((both, q))
                if f is not None and f[0] == ver[q] and f[1].get(r) == ver[r] and (both or self.T[q] > self.mean[q]):
                    theirs.add(q)
        return own, theirs - own

    def chain(self, r: int) -> tuple[int, ...] | None:
        """A chain of up to ``chain_depth`` moves that brings ``r`` closer to its mean as a whole.

        The first move may take a neighbour out of the tolerance (or push it over its mean)
        when a later move brings it back: a move out of that neighbour into a third grid
        (households pass *through* it), or a move back into ``r`` (a swap of two pieces).
        The chain is kept when it lowers the objective and every grid it touched that was
        within the tolerance still is; otherwise every move is undone.
        """
        within0: dict[int, bool] = {}
        done: list[tuple[frozenset, int, int, int]] = []

        def ok(touched: set[int]) -> bool:
            return all(self.within(q) or not within0[q] for q in touched)

        def step(heads: list[int], total: float, depth: int, touched: set[int]) -> bool:
            width = self.opts.chain_candidates if depth == 0 else max(2, self.opts.chain_candidates // (2 * depth))
            moves: list[_Move] = []
            for q in heads:
                moves += self.candidates(q, strict=False, gain=depth > 0)
            moves.sort(key=lambda m: (m[1] + (m[0] - m[1]) * 0.5, m[2], m[4], m[5]))
            tried = 0
            last = done[-1] if done else None
            for score, _, _, units, src, dst, hs in moves:
                if tried >= width:
                    break
                if last is not None and units == last[0] and src == last[2] and dst == last[1]:
                    continue  # undoing the previous move
                if not self.stays_connected(src, units):
                    continue
                tried += 1
                for q in (src, dst):
                    within0.setdefault(q, self.within(q))
                self.apply(units, src, dst, hs)
                done.append((units, src, dst, hs))
                now = total + score
                t2 = touched | {src, dst}
                if now < -_MIN_GAIN and ok(t2):
                    return True
                if depth + 1 < self.opts.chain_depth:
                    nxt = [dst if src in heads else src]
                    if r not in nxt:
                        nxt.append(r)
                    if step(nxt, now, depth + 1, t2):
                        return True
                done.pop()
                self.apply(units, dst, src, hs)
            return False

        if step([r], 0.0, 0, set()):
            out: list[int] = []
            for _, src, dst, _ in done:
                out += [src, dst]
            return tuple(out)
        return None

    def neighbours(self, regions: Iterable[int]) -> set[int]:
        out = set(regions)
        for r in list(out):
            for x in self.edge[r]:
                for w in self.nbr[x]:
                    out.add(self.lab[w])
        return out

    def polish(self) -> int:
        """Moves in either direction that lower the objective: compactness inside the tolerance."""
        steps = 0
        active = [r for r in range(self.k) if not self.fixed[r]]
        while active and steps < self.opts.max_steps:
            nxt: set[int] = set()
            for r in active:
                touched = self.single(r, both=True)
                if touched is not None:
                    steps += 1
                    nxt |= {q for q in self.neighbours(touched) if not self.fixed[q]}
            active = sorted(nxt)
        return steps

    def run(self) -> int:
        steps = 0
        tol = self.opts.tolerance
        active = {r for r in range(self.k) if not self.fixed[r]}
        stuck: set[int] = set()
        while active and steps < self.opts.max_steps:
            heap = [(-self.deviation(r), r) for r in active]
            heapq.heapify(heap)
            active = set()
            while heap and steps < self.opts.max_steps:
                _, r = heapq.heappop(heap)
                if self.deviation(r) == 0:
                    continue
                touched: tuple[int, ...] | None = self.single(r)
                if touched is None and self.deviation(r) > self.opts.tolerance and r not in stuck:
                    touched = self.chain(r)
                    if touched is None:
                        stuck.add(r)
                if touched is not None:
                    steps += 1
                    changed = self.neighbours(touched)
                    stuck -= changed
                    active |= {q for q in changed if not self.fixed[q]}
        if self.shape:
            steps += self.polish()
        log.debug("balance: %d steps, %d grids outside ±%.0f %%", steps,
                  sum(self.deviation(r) > tol for r in range(self.k) if not self.fixed[r]), 100 * tol)
        return steps


def balance_regions(
    graph: Graph,
    labels: np.ndarray,
    *,
    min_households: int,
    max_households: int,
    fixed: np.ndarray | None = None,
    options: BalanceOptions | None = None,
) -> np.ndarray:
    """Move units between neighbouring regions until their households are as equal as allowed.

    Parameters
    ----------
    graph
        The unit graph (:class:`gridkit.partition.graph.Graph`): households,
        blocks, edges and their cut costs.
    labels
        A region label per unit, every region connected (the bisection's output).
    min_households, max_households
        The bounds: a region inside them stays inside.
    fixed
        Units whose regions must not change (dedicated compounds, locked grids).
    options
        See :class:`BalanceOptions`.

    Returns
    -------
    numpy.ndarray
        New labels (same region numbers; the input is not changed).
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0 or labels.max() < 1:
        return labels.copy()
    fixed = np.zeros(len(labels), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    search = _Search(graph, labels, min_households, max_households, fixed, options or BalanceOptions())
    search.run()
    return np.asarray(search.lab, dtype=np.int64)
