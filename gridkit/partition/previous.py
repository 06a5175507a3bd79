"""Re-partition against a previous plan (动态调整): fit the previous grids to the units, repair only what breaks.

A previous plan — gridkit's own ``grids.gpkg``, or grids drawn by hand or by another
tool and edited in QGIS — gives every unit of a community an initial grid:
:func:`fit_units` sends each unit to the previous grid holding its largest part and
measures how much area that moved (none for a plan that follows the units, as
gridkit's grids do). :func:`regions_from_previous` then keeps every grid that still
keeps the rules, exactly, and repairs the others:

1. units in no previous grid join the neighbouring grid they share the longest
   boundary with; parts of a grid cut off from its main piece do the same;
2. grids outside the household bounds (towers of one unit above the maximum are
   exempt, as in a fresh partition) are grouped into clusters of touching grids; each
   cluster is repaired with the fewest grids it can: first by moving boundary units
   between the cluster and its neighbouring grids (the bisection's bound repair, then
   the balance search among the grids that changed), and only where moves cannot
   restore the bounds by splitting the grid (an overfull grid re-divided alone) or
   merging it (an underfull grid re-divided together with one neighbour, then with all);
3. locked grids never change, whatever rule they break.

A repair is kept only when it brings the cluster within the bounds, or failing that
lowers its bound violation; otherwise the grids stay as they were (and the report
says which rule they break). Then a grid whose households changed since the previous
plan and that now lies outside the balance tolerance of its community's mean trades
units with one neighbour, when that brings it within without taking the neighbour out
of the bounds or the tolerance. A grid whose households did not change keeps its place
whatever its deviation: the tolerance is a soft objective (rule 8), and what kept it
out before (a large building, streets) still does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import shapely

from gridkit.partition.balance import BalanceOptions, balance_regions
from gridkit.partition.graph import Graph, components, spread_labels, subgraph
from gridkit.partition.regionalize import regions_from_graph, repair_bounds
from gridkit.partition.units import assign_to_polygons

__all__ = ["PreviousFit", "PreviousGrids", "fit_units", "regions_from_previous"]

log = logging.getLogger(__name__)


@dataclass
class PreviousGrids:
    """The previous grids of one community, in the local metric CRS.

    Attributes
    ----------
    geometries
        Grid polygons as the previous plan has them.
    codes
        Their 15-digit grid codes.
    locked
        True for grids kept exactly, whatever rule they break.
    households
        Households the previous plan gave each grid (-1 where it gave none).
    """

    geometries: np.ndarray
    codes: np.ndarray
    locked: np.ndarray
    households: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


@dataclass
class PreviousFit:
    """How one community's units relate to its previous grids.

    Attributes
    ----------
    unit_previous
        Per unit, the previous grid (index into :class:`PreviousGrids`) holding its
        largest part, or -1 when none holds any of it.
    building_previous
        Per building of the community job, the previous grid of its unit (-1: none).
    moved_m2
        Per previous grid, the area that fitting it to the units moved: unit area added
        outside its outline plus its area left to other grids (0 for a grid that follows
        the units).
    """

    unit_previous: np.ndarray
    building_previous: np.ndarray
    moved_m2: np.ndarray


def fit_units(unit_geoms: np.ndarray, previous: PreviousGrids, boundary: shapely.Geometry | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """The previous grid of each unit (largest overlap, -1 for none) and the area fitting moved per grid.

    ``boundary`` (the community polygon) limits the area a previous grid is measured
    by, so a grid drawn a little over the community boundary does not count the part
    outside as moved.
    """
    n_prev = len(previous)
    moved = np.zeros(n_prev)
    if len(unit_geoms) == 0 or n_prev == 0:
        return np.full(len(unit_geoms), -1, dtype=np.int64), moved
    prev = np.asarray(previous.geometries)
    unit_prev = assign_to_polygons(unit_geoms, prev)
    held = np.flatnonzero(unit_prev >= 0)
    area = shapely.area(unit_geoms[held])
    inside = area.copy()
    target = prev[unit_prev[held]]
    partial = np.flatnonzero(~shapely.covered_by(unit_geoms[held], target))
    if len(partial):
        inside[partial] = shapely.area(shapely.intersection(unit_geoms[held[partial]], target[partial]))
    p = unit_prev[held]
    gained = np.bincount(p, weights=area - inside, minlength=n_prev)
    kept = np.bincount(p, weights=inside, minlength=n_prev)
    own = prev if boundary is None else shapely.intersection(prev, boundary)
    lost = np.maximum(shapely.area(own) - kept, 0.0)
    moved = gained + lost
    return unit_prev, moved


def _violation(totals: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.maximum(lo - totals, 0) + np.maximum(totals - hi, 0)


class _Regions:
    """Labels of a community's units while the previous grids are repaired."""

    def __init__(self, graph: Graph, labels: np.ndarray, locked: set[int], lo: int, hi: int, target: int,
                 balance: BalanceOptions | None) -> None:
        self.g = graph
        self.lab = labels
        self.locked = locked
        self.lo, self.hi, self.target = lo, hi, target
        self.balance = balance
        self.next = int(labels.max()) + 1 if len(labels) else 0
        self.weight = graph.length if graph.length is not None else graph.cost

    # ------------------------------------------------------------------ figures

    def totals(self) -> np.ndarray:
        return np.bincount(self.lab, weights=self.g.households, minlength=self.next).astype(np.int64)

    def sizes(self) -> np.ndarray:
        return np.bincount(self.lab, minlength=self.next)

    def violation(self, regions: np.ndarray, lab: np.ndarray | None = None) -> int:
        lab = self.lab if lab is None else lab
        size = max(self.next, int(lab.max()) + 1)
        totals = np.bincount(lab, weights=self.g.households, minlength=size).astype(np.int64)
        counts = np.bincount(lab, minlength=size)
        tower = (counts == 1) & (totals > self.hi)
        v = _violation(totals, self.lo, self.hi)
        v[tower | (counts == 0)] = 0
        live = regions[regions < size]
        return int(v[live].sum())

    def bad(self) -> np.ndarray:
        """Regions outside the bounds (not locked, not a one-unit tower)."""
        totals, counts = self.totals(), self.sizes()
        out = (counts > 0) & ((totals < self.lo) | (totals > self.hi)) & ~((counts == 1) & (totals > self.hi))
        return np.array([r for r in np.flatnonzero(out) if r not in self.locked], dtype=np.int64)

    def neighbours(self, regions: np.ndarray) -> np.ndarray:
        """Regions touching ``regions`` (not themselves, not locked)."""
        lu, lv = self.lab[self.g.u], self.lab[self.g.v]
        inside = np.isin(lu, regions)
        other = np.isin(lv, regions)
        touch = np.union1d(lv[inside & ~other], lu[other & ~inside])
        return np.array([r for r in touch if r not in self.locked], dtype=np.int64)

    # ------------------------------------------------------------------ preparing the fit

    def fill(self) -> None:
        """Units in no grid join the labelled neighbour sharing the longest boundary; islands become grids."""
        lab = spread_labels(self.lab, self.g.u, self.g.v, self.weight,
                            frozen=np.fromiter(self.locked, dtype=np.int64, count=len(self.locked)))
        empty = np.flatnonzero(lab < 0)
        if len(empty):
            sub, nodes = subgraph(self.g, lab < 0)
            _, comp = components(sub.n, sub.u, sub.v)
            lab[nodes] = self.next + comp
            self.next = int(lab.max()) + 1

    def connect(self) -> None:
        """Parts of a grid cut off from its main piece join the neighbour they share the longest boundary with."""
        for _ in range(8):  # a part may need a second round when its neighbour was a part too
            changed = False
            cross = self.lab[self.g.u] == self.lab[self.g.v]
            _, comp = components(self.g.n, self.g.u[cross], self.g.v[cross])
            h = self.g.households
            for r in np.unique(self.lab):
                if int(r) in self.locked:
                    continue
                mine = np.flatnonzero(self.lab == r)
                pieces = np.unique(comp[mine])
                if len(pieces) < 2:
                    continue
                weight = [(int(h[mine[comp[mine] == p]].sum()), int((comp[mine] == p).sum()), -int(p))
                          for p in pieces]
                main = pieces[max(range(len(pieces)), key=lambda i: weight[i])]
                for p in pieces:
                    if p == main:
                        continue
                    part = mine[comp[mine] == p]
                    dest = self._longest_neighbour(part)
                    if dest is None:
                        dest = self.next
                        self.next += 1
                    self.lab[part] = dest
                    changed = True
            if not changed:
                return

    def _longest_neighbour(self, part: np.ndarray) -> int | None:
        u, v, w = self.g.u, self.g.v, self.weight
        inside = np.zeros(self.g.n, dtype=bool)
        inside[part] = True
        a = inside[u] & ~inside[v]
        b = inside[v] & ~inside[u]
        other = np.r_[self.lab[v[a]], self.lab[u[b]]]
        length = np.r_[w[a], w[b]]
        keep = ~np.isin(other, list(self.locked))
        other, length = other[keep], length[keep]
        if len(other) == 0:
            return None
        total = np.bincount(other, weights=length)
        return int(np.argmax(total))

    # ------------------------------------------------------------------ repair

    def clusters(self, bad: np.ndarray) -> list[np.ndarray]:
        """Groups of touching bad regions, in the order of their lowest unit."""
        if len(bad) == 0:
            return []
        pos = {int(r): i for i, r in enumerate(bad)}
        lu, lv = self.lab[self.g.u], self.lab[self.g.v]
        both = np.isin(lu, bad) & np.isin(lv, bad) & (lu != lv)
        a = np.array([pos[int(x)] for x in lu[both]], dtype=np.int64)
        b = np.array([pos[int(x)] for x in lv[both]], dtype=np.int64)
        _, comp = components(len(bad), a, b)
        first_unit = np.array([int(np.flatnonzero(self.lab == r)[0]) for r in bad])
        groups = [bad[comp == c] for c in np.unique(comp)]
        return sorted(groups, key=lambda grp: int(first_unit[np.isin(bad, grp)].min()))

    def _attempt_moves(self, free: np.ndarray) -> np.ndarray | None:
        """Labels after moving boundary units among ``free`` regions (None: nothing to move)."""
        keep = np.isin(self.lab, free)
        if int(self.g.households[keep].sum()) > len(free) * self.hi:
            return None  # more households than the grids can hold: moves cannot help, a split must
        sub, nodes = subgraph(self.g, keep)
        regions, local = np.unique(self.lab[nodes], return_inverse=True)
        if len(regions) < 2:
            return None
        moved = repair_bounds(local.ravel(), sub, self.lo, self.hi)
        moved = self._balance_changed(sub, local.ravel(), moved)
        return self._written(nodes, moved, local.ravel(), regions)

    def _balance_changed(self, sub: Graph, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Balance the regions whose units changed (they are reshaped anyway)."""
        if self.balance is None:
            return after
        changed_units = np.zeros(len(after), dtype=bool)
        # a region changed when its unit set differs from every region before
        for r in np.unique(after):
            mine = after == r
            olds = np.unique(before[mine])
            if len(olds) != 1 or int((before == olds[0]).sum()) != int(mine.sum()):
                changed_units |= mine
        if not changed_units.any():
            return after
        part, nodes = subgraph(sub, changed_units)
        regions, local = np.unique(after[nodes], return_inverse=True)
        if len(regions) < 2:
            return after
        balanced = balance_regions(part, local.ravel(), min_households=self.lo, max_households=self.hi,
                                   options=self.balance)
        out = after.copy()
        out[nodes] = regions[balanced]
        return out

    def _attempt_divide(self, free: np.ndarray) -> np.ndarray:
        """Labels after dividing the units of ``free`` afresh (a split or a merge)."""
        keep = np.isin(self.lab, free)
        sub, nodes = subgraph(self.g, keep)
        labels = regions_from_graph(sub, min_households=self.lo, max_households=self.hi, target=self.target,
                                    balance=self.balance)
        regions, local = np.unique(self.lab[nodes], return_inverse=True)
        return self._written(nodes, labels, local.ravel(), regions)

    def _written(self, nodes: np.ndarray, labels: np.ndarray, before: np.ndarray, regions: np.ndarray) -> np.ndarray:
        """Full labels with ``labels`` written over ``nodes``; a region whose units did not change keeps its label."""
        out = self.lab.copy()
        fresh = self.next
        for r in np.unique(labels):
            mine = labels == r
            olds = np.unique(before[mine])
            if len(olds) == 1 and int((before == olds[0]).sum()) == int(mine.sum()):
                out[nodes[mine]] = regions[olds[0]]
            else:
                out[nodes[mine]] = fresh
                fresh += 1
        return out

    def repair(self, cluster: np.ndarray) -> str:
        """Bring one cluster of bad regions within the bounds with as few grids as possible; what was done."""
        base = self.violation(cluster)
        ring = np.union1d(cluster, self.neighbours(cluster))
        attempts: list[tuple[str, np.ndarray]] = []

        def tried(name: str, labels: np.ndarray | None, regions: np.ndarray) -> bool:
            if labels is None:
                return False
            touched = np.union1d(regions, np.unique(labels[np.isin(self.lab, regions)]))
            attempts.append((name, labels))
            return self.violation(touched, labels) == 0

        def accept(name: str, labels: np.ndarray) -> str:
            self.lab = labels
            self.next = max(self.next, int(labels.max()) + 1)
            return name

        if len(cluster) > 1 and tried("moves", self._attempt_moves(cluster), cluster):
            return accept(*attempts[-1])
        if tried("moves", self._attempt_moves(ring), ring):
            return accept(*attempts[-1])
        totals = self.totals()
        if all(totals[r] > self.hi for r in cluster):
            if tried("split", self._attempt_divide(cluster), cluster):
                return accept(*attempts[-1])
        else:
            for r in self.neighbours(cluster)[np.argsort(totals[self.neighbours(cluster)], kind="stable")]:
                free = np.append(cluster, r)
                if tried("merge", self._attempt_divide(free), free):
                    return accept(*attempts[-1])
        if tried("divide", self._attempt_divide(ring), ring):
            return accept(*attempts[-1])
        scored = [(self.violation(np.union1d(ring, np.unique(lab[np.isin(self.lab, ring)])), lab), i)
                  for i, (_, lab) in enumerate(attempts)]
        if scored:
            best, i = min(scored)
            if best < base:
                return accept(attempts[i][0] + " (bounds not fully restored)", attempts[i][1])
        return "unchanged (no move, split or merge restores the bounds)"

    # ------------------------------------------------------------------ balance

    def rebalance(self, before: np.ndarray) -> int:
        """Grids whose households changed and left the tolerance trade units with one neighbour; how many did.

        ``before`` holds the previous plan's households per previous grid (-1: not known,
        taken as changed). The mean is the community's (one-unit towers left out, as the
        workload figures do). A trade is kept when the grid comes within the tolerance, its
        neighbour stays within the bounds and, if it was within the tolerance, within it.
        """
        assert self.balance is not None
        tol = self.balance.tolerance
        totals, counts = self.totals(), self.sizes()
        live = (counts > 0) & ~((counts == 1) & (totals > self.hi))
        if live.sum() < 2:
            return 0
        mean = float(totals[live].mean())
        if mean <= 0:
            return 0
        n_prev = len(before)

        def outside(r: int, t: np.ndarray) -> bool:
            return abs(float(t[r]) - mean) > tol * mean + 1e-9

        changed = [r for r in np.flatnonzero(live) if int(r) not in self.locked and outside(int(r), totals)
                   and not (r < n_prev and before[r] >= 0 and before[r] == totals[r])]
        done = 0
        for r in sorted(changed, key=lambda q: (-abs(float(totals[q]) - mean), int(q))):
            totals = self.totals()
            if not outside(int(r), totals) or not (self.lab == r).any():
                continue
            sign = 1.0 if totals[r] > mean else -1.0
            near = [int(q) for q in self.neighbours(np.array([r])) if live[q] and q < len(live)]
            for q in sorted(near, key=lambda q: (sign * (float(totals[q]) - mean), q)):
                labels = self._attempt_pair(int(r), q)
                if labels is None:
                    continue
                t = np.bincount(labels, weights=self.g.households, minlength=self.next).astype(np.int64)
                ok_q = self.lo <= t[q] <= self.hi or not self.lo <= totals[q] <= self.hi
                if not outside(int(r), t) and ok_q and (outside(q, totals) or not outside(q, t)):
                    self.lab = labels
                    done += 1
                    break
        return done

    def _attempt_pair(self, r: int, q: int) -> np.ndarray | None:
        """Labels after the balance search between regions ``r`` and ``q`` alone (they keep their labels)."""
        assert self.balance is not None
        keep = (self.lab == r) | (self.lab == q)
        sub, nodes = subgraph(self.g, keep)
        local = (self.lab[nodes] == q).astype(np.int64)
        moved = balance_regions(sub, local, min_households=self.lo, max_households=self.hi, options=self.balance)
        if (moved == local).all() or len(np.unique(moved)) < 2:
            return None
        out = self.lab.copy()
        out[nodes] = np.where(moved == 1, q, r)
        return out


def regions_from_previous(
    graph: Graph,
    prior: np.ndarray,
    *,
    locked: np.ndarray,
    min_households: int,
    max_households: int,
    target: int,
    balance: BalanceOptions | None = None,
    households: np.ndarray | None = None,
) -> np.ndarray:
    """A region label per unit, starting from the previous grids and repairing only those that break the bounds.

    Parameters
    ----------
    graph
        The unit graph of one community's regular (non-dedicated) units.
    prior
        Per unit, its previous grid (0..P-1) or -1 (see :func:`fit_units`).
    locked
        Per previous grid, True when it must be kept exactly.
    min_households, max_households, target
        The bounds, and the target size of grids a split or merge makes.
    balance
        How the grids a repair reshapes are balanced among themselves (None: not).
    households
        The previous plan's households per previous grid (-1: not known). With
        ``balance``, a grid whose households changed since and that now lies outside the
        tolerance of the community's mean trades units with one neighbour, when that
        brings it within (see :meth:`_Regions.rebalance`); grids whose households did not
        change keep their place whatever their deviation.

    Returns
    -------
    numpy.ndarray
        Labels 0..k-1: first the regions still holding a previous grid's label (in the
        order of those grids), then the ones a repair made.
    """
    prior = np.asarray(prior, dtype=np.int64)
    if graph.n == 0:
        return prior.copy()
    n_prev = len(locked)
    locked_ids = {int(i) for i in np.flatnonzero(np.asarray(locked, dtype=bool))}
    if (prior < 0).all() and not locked_ids:
        return regions_from_graph(graph, min_households=min_households, max_households=max_households,
                                  target=target, balance=balance)
    work = _Regions(graph, prior.copy(), locked_ids, min_households, max_households, target, balance)
    work.next = max(work.next, n_prev)
    work.fill()
    work.connect()
    done = []
    for cluster in work.clusters(work.bad()):
        # an earlier repair may have fixed or absorbed part of this cluster
        live = np.array([r for r in cluster if (work.lab == r).any()], dtype=np.int64)
        still = live[np.isin(live, work.bad())]
        if len(still):
            done.append(work.repair(still))
    if balance is not None and households is not None:
        traded = work.rebalance(np.asarray(households, dtype=np.int64))
        if traded:
            done.append(f"{traded} grids balanced with a neighbour")
    if done:
        log.debug("previous grids repaired: %s", ", ".join(done))
    _, order = np.unique(work.lab, return_inverse=True)
    return order.ravel()
