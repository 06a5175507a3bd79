"""Household-balanced, contiguous, street-following grids.

Parts: :mod:`~gridkit.partition.rules` (bounds presets and per-grid rule checks),
:mod:`~gridkit.partition.graph` (unit adjacency), :mod:`~gridkit.partition.regionalize`
(recursive balanced bisection), :mod:`~gridkit.partition.report` (quality report) and
:mod:`~gridkit.partition.pipeline` (communities + buildings to grids).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from gridkit._rng import RNGLike
from gridkit.partition.graph import graph_from_polygons
from gridkit.partition.regionalize import grid_count, regions_from_graph

__all__ = ["grid_count", "regions_from_units"]


def regions_from_units(
    units: gpd.GeoDataFrame,
    *,
    households: str = "households",
    min_households: int,
    max_households: int,
    target: int,
    block: str | None = None,
    rng: RNGLike = None,
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
    rng
        Accepted for a uniform signature; the method is deterministic.

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
    return regions_from_graph(graph, min_households=min_households, max_households=max_households, target=target)
