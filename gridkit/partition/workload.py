"""How equal the grids of each community are (任务相当): deviation, CV, share within the tolerance, why not.

The figures work on any grid layer with ``grid_code``, ``community_code``,
``households`` and ``dedicated`` (and, for the reasons, the units or buildings with
their ``grid_code`` and ``households``), so they serve a new partition, a previous plan
and a hand-drawn one alike.

A community's *mean* is the mean households of its regular grids — dedicated grids
(专属网格) and grids of one building above the maximum (a tower) are left out, since no
grid could be like them. A grid is *balanced* when its households lie within
``tolerance`` of that mean. The share is counted over the regular grids of communities
with at least two of them. A grid outside the tolerance gets a reason:

- ``large_building``: one building in it holds more than the tolerance allows (or the
  grid is one building above the maximum) — whole buildings make it so;
- ``single_grid``: the community has one regular grid, nothing to compare it with;
- ``no_move``: no move of whole buildings between neighbouring grids brings it within
  the tolerance without breaking a rule (bounds, one piece, streets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BALANCE_REASONS", "Workload", "workload"]

BALANCE_REASONS = {
    "": "within the tolerance",
    "large_building": "one building holds more households than the tolerance allows",
    "single_grid": "the community has one regular grid",
    "no_move": ("no move of whole buildings between neighbouring grids brings it within the tolerance "
                "without breaking a rule (bounds, one piece, streets)"),
    "dedicated": "a dedicated grid (专属网格), not balanced",
}


@dataclass
class Workload:
    """Balance figures: ``grids`` (per grid, indexed like the input) and ``communities`` (per code)."""

    grids: pd.DataFrame
    communities: pd.DataFrame
    tolerance: float

    def overall(self) -> dict[str, Any]:
        """Share within the tolerance, median and mean CV, over communities with two or more grids."""
        counted = self.grids["counted"]
        comm = self.communities[self.communities["regular_grids"] >= 2]
        return {
            "tolerance": self.tolerance,
            "grids_counted": int(counted.sum()),
            "share_within_tolerance": float(self.grids.loc[counted, "balanced"].mean()) if counted.any() else 1.0,
            "median_cv": float(comm["cv"].median()) if len(comm) else 0.0,
            "mean_cv": float(comm["cv"].mean()) if len(comm) else 0.0,
            "outside_by_reason": {k: int(v) for k, v in
                                  self.grids.loc[counted & ~self.grids["balanced"], "balance_reason"]
                                  .value_counts().sort_index().items()},
        }


def workload(
    grids: pd.DataFrame,
    *,
    tolerance: float,
    max_households: pd.Series | None = None,
    members: pd.DataFrame | None = None,
) -> Workload:
    """Deviation from the community mean, balance and reasons per grid; mean, CV, share per community.

    Parameters
    ----------
    grids
        ``grid_code``, ``community_code``, ``households``, ``dedicated``.
    tolerance
        The share of the mean a balanced grid may differ by.
    max_households
        The upper household bound of each grid (indexed like ``grids``); a grid of one
        building above it is a tower, left out of the mean. None: no such grids.
    members
        What the grids are made of — units or buildings with ``grid_code`` and
        ``households`` — for the ``large_building`` reason (None: that reason is not given).

    Examples
    --------
    >>> g = pd.DataFrame({"grid_code": ["a", "b", "c"], "community_code": "x",
    ...                   "households": [300, 310, 200], "dedicated": False})
    >>> w = workload(g, tolerance=0.2)
    >>> w.grids["balanced"].tolist(), round(w.communities.loc["x", "mean"])
    ([True, True, False], 270)
    """
    hh = grids["households"].to_numpy(dtype=float)
    dedicated = grids["dedicated"].astype(bool).to_numpy()
    code = grids["grid_code"].astype(str).to_numpy()
    largest = np.zeros(len(grids))
    parts: np.ndarray = np.ones(len(grids), dtype=np.int64)
    if members is not None and len(members):
        per = members[members["grid_code"].astype(str) != ""].groupby(members["grid_code"].astype(str))["households"]
        largest = per.max().reindex(code).fillna(0).to_numpy(dtype=float)
        parts = per.size().reindex(code).fillna(0).to_numpy(dtype=np.int64)
    tower = np.zeros(len(grids), dtype=bool)
    if max_households is not None:
        tower = (hh > max_households.to_numpy(dtype=float)) & (parts <= 1)
    regular = ~dedicated
    in_mean = regular & ~tower
    comm = grids["community_code"].astype(str).to_numpy()
    frame = pd.DataFrame({"community_code": comm, "households": hh, "in_mean": in_mean, "regular": regular})
    by = frame.groupby("community_code", sort=True)
    counted_in_mean = frame[frame["in_mean"]].groupby("community_code")["households"]
    # a community whose every grid is left out of the mean (all dedicated or towers) uses them all
    mean = counted_in_mean.mean().reindex(by.size().index).fillna(by["households"].mean())
    std = counted_in_mean.std(ddof=0).reindex(mean.index).fillna(0.0)
    n_regular = by["regular"].sum().astype(np.int64)
    m = mean.reindex(comm).to_numpy(dtype=float)
    deviation = np.where(m > 0, (hh - m) / np.where(m > 0, m, 1.0), 0.0)
    balanced = np.abs(deviation) <= tolerance + 1e-12
    counted = regular & (n_regular.reindex(comm).to_numpy() >= 2)
    reason = np.full(len(grids), "", dtype=object)
    outside = regular & ~balanced
    reason[outside] = "no_move"
    reason[outside & ((largest > (1 + tolerance) * m) | tower)] = "large_building"
    reason[regular & (n_regular.reindex(comm).to_numpy() < 2) & ~balanced] = "single_grid"
    reason[dedicated] = "dedicated"
    per_grid = pd.DataFrame({
        "deviation": deviation.round(4), "balanced": balanced | dedicated, "counted": counted,
        "balance_reason": reason,
    }, index=grids.index)
    within = pd.Series(balanced & counted).groupby(comm).sum()
    counted_n = pd.Series(counted).groupby(comm).sum()
    communities = pd.DataFrame({
        "regular_grids": n_regular,
        "mean": mean.round(1),
        "cv": (std / mean.where(mean > 0)).fillna(0.0).round(4),
        "share_within_tolerance": (within / counted_n.where(counted_n > 0)).reindex(mean.index),
    })
    return Workload(per_grid, communities, tolerance)
