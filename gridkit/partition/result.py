"""What a partition returns: layers, the rules not met, and figures, printed as a short summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

if TYPE_CHECKING:
    from gridkit.partition.changes import Changes

__all__ = ["PartitionResult"]


@dataclass(repr=False)
class PartitionResult:
    """What :func:`gridkit.partition.pipeline.partition` produces.

    Attributes
    ----------
    grids, buildings, units, communities
        The layers, all in the output CRS (``buildings`` is the input with ``grid_code``
        and ``community_code`` added). ``grids`` and ``communities`` tile exactly there:
        rebuilt on the boundary file's own rings (:mod:`gridkit.partition.noding`).
    issues
        One row per place a rule is not met: ``rule`` (a key of
        :data:`gridkit.partition.rules.RULES`), ``code``, ``community_code``,
        ``grid_code``, ``reason``.
    grids_metric, communities_metric
        Grids and communities in the local metric CRS the figures were measured in.
    figures
        Counts, lengths, bounds, the metric CRS, the seed, the repairs and the run time.
    changes
        Against a previous plan (``partition(..., previous=...)``): what changed per grid
        and the codes table (:class:`gridkit.partition.changes.Changes`); else None.
    """

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    issues: pd.DataFrame
    grids_metric: gpd.GeoDataFrame
    communities_metric: gpd.GeoDataFrame
    figures: dict[str, Any] = field(default_factory=dict)
    changes: Changes | None = None

    def summary(self) -> str:
        """Communities, grids, the share within bounds and the rules not met, in a few lines."""
        g = self.grids_metric
        regular = g[~g["dedicated"].astype(bool)]
        share = float(regular["within_bounds"].mean()) if len(regular) else 1.0
        fig = self.figures
        lines = [
            (f"PartitionResult: {len(self.communities_metric)} communities, {len(g)} grids "
             f"({int(g['dedicated'].sum())} dedicated), {share:.1%} of the other grids within the household bounds"),
            (f"  households: {fig.get('households_in', 0):,} in, {fig.get('households_in_grids', 0):,} in grids, "
             f"{fig.get('households_outside', 0):,} outside every community"),
        ]
        if len(self.issues):
            counts = self.issues["rule"].value_counts(sort=False)
            lines.append("  rules not met: " + ", ".join(f"{rule} ({n})" for rule, n in counts.items()))
        else:
            lines.append("  every rule met")
        if self.changes is not None:
            c = self.changes.figures.get("counts", {})
            lines.append("  against the previous plan: " + ", ".join(f"{n} {kind}" for kind, n in c.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()
