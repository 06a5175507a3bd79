"""Household-balanced, contiguous, street-following grids.

Parts, in the order the data flows through them:

- :mod:`~gridkit.partition.options` — :class:`PartitionOptions`, every option checked;
- :mod:`~gridkit.partition.validate` — the inputs checked, all problems raised at once;
- :mod:`~gridkit.partition.units` — one community cut into units (enclosures, tessellation);
- :mod:`~gridkit.partition.graph` — the unit adjacency :class:`~gridkit.partition.graph.Graph`;
- :mod:`~gridkit.partition.regionalize` — recursive balanced bisection and bound repair;
- :mod:`~gridkit.partition.balance` — the local search that makes a community's grids equal (任务相当);
- :mod:`~gridkit.partition.feasibility` — why a grid is outside the bounds
  (codes in :mod:`~gridkit.partition.reasons`);
- :mod:`~gridkit.partition.community` — one community's job, what Dask workers run;
- :mod:`~gridkit.partition.assemble` — jobs from the inputs, county layers from the results;
- :mod:`~gridkit.partition.plan` — bounds presets, the :class:`~gridkit.partition.plan.Plan` the rules read;
- :mod:`~gridkit.partition.rules` — every rule as ``Rule(text, check)``
  over any :class:`~gridkit.partition.rules.Plan`;
- :mod:`~gridkit.partition.pipeline` — :func:`partition`, the steps in order;
- :mod:`~gridkit.partition.workload` — deviation, CV and the share within the tolerance;
- :mod:`~gridkit.partition.report`, :mod:`~gridkit.partition.outputs` — the report and
  the files (the only module that draws a map);
- :mod:`~gridkit.partition.job` — the ``gridkit partition`` verb: files in, files out.

The package is callable as its verb: ``gridkit.partition(communities, buildings)`` is
``gridkit.partition.partition(communities, buildings)``.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import geopandas as gpd
import numpy as np

from gridkit.partition.balance import BalanceOptions
from gridkit.partition.graph import graph_from_polygons
from gridkit.partition.options import PartitionOptions
from gridkit.partition.pipeline import partition
from gridkit.partition.reasons import REASONS
from gridkit.partition.regionalize import grid_count, regions_from_graph
from gridkit.partition.result import PartitionResult
from gridkit.partition.rules import PRESETS, RULES, Plan, check_plan

__all__ = ["PRESETS", "REASONS", "RULES", "BalanceOptions", "PartitionOptions", "PartitionResult", "Plan", "check_plan", "grid_count",
           "partition", "regions_from_units"]


def regions_from_units(
    units: gpd.GeoDataFrame,
    *,
    households: str = "households",
    min_households: int,
    max_households: int,
    target: int,
    block: str | None = None,
    tolerance: float | None = 0.2,
    grids: int | None = None,
) -> np.ndarray:
    """Group polygon units into connected regions of balanced households.

    Parameters
    ----------
    units
        Polygons that tile an area, in a metric CRS, with a households column.
    households
        Name of that column.
    min_households, max_households, target
        Bounds and target size of a region.
    block
        Optional column of street-block ids: cutting inside a block costs more.
    tolerance
        Balance the regions to within this share of their mean as far as the units
        allow (None: the bisection's regions, inside the bounds but not balanced).
    grids
        How many regions to make, where the bounds allow (default: from ``target``).

    Returns
    -------
    numpy.ndarray
        A region label (0..k-1) per unit, in the order of ``units``.
    """
    graph = graph_from_polygons(
        units.geometry.to_numpy(),
        units[households].to_numpy(),
        None if block is None else units[block].to_numpy(),
    )
    balance = None if tolerance is None else BalanceOptions(tolerance=tolerance)
    return regions_from_graph(graph, min_households=min_households, max_households=max_households, target=target,
                              balance=balance, grids=grids)


class _VerbModule(types.ModuleType):
    """This package, callable as its main verb: ``gridkit.partition(...)`` is :func:`partition`."""

    def __call__(self, *args: Any, **kwargs: Any) -> PartitionResult:
        return partition(*args, **kwargs)


sys.modules[__name__].__class__ = _VerbModule
