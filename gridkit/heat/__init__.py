"""Incident heat: density surfaces, weekly surfaces, rates per grid, early warning, the heatmap outputs.

Modules, one concern each: :mod:`~gridkit.heat.bandwidth` (Scott, Silverman, CV),
:mod:`~gridkit.heat.kde` (exact and binned-FFT Gaussian sums on a grid of nodes),
:mod:`~gridkit.heat.density` (incidents to a :class:`~gridkit.heat.surface.HeatSurface`),
:mod:`~gridkit.heat.frames` (one surface per ISO week), :mod:`~gridkit.heat.raster` (GeoTIFF,
Web Mercator), :mod:`~gridkit.heat.select` (reporting times, category and date filters),
:mod:`~gridkit.heat.rates`, :mod:`~gridkit.heat.alerts`, :mod:`~gridkit.heat.figures` (PNG),
:mod:`~gridkit.heat.page` (the offline page), :mod:`~gridkit.heat.report` and
:mod:`~gridkit.heat.job` (``gridkit heatmap``).

The names below are importable from ``gridkit.heat`` itself; each is loaded on first use, so
importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HeatSurface": "surface",
    "bandwidth_for_points": "bandwidth",
    "heat_from_incidents": "density",
    "heat_from_points": "density",
    "weekly_heat": "frames",
    "heat_to_geotiff": "raster",
    "filter_incidents": "select",
    "reported_times": "select",
    "with_reported_times": "select",
    "rates_for_grids": "rates",
    "alerts_for_grids": "alerts",
    "heatmap_job": "job",
}

__all__ = [
    "HeatSurface", "alerts_for_grids", "bandwidth_for_points", "filter_incidents", "heat_from_incidents",
    "heat_from_points", "heat_to_geotiff", "heatmap_job", "rates_for_grids", "reported_times", "weekly_heat",
    "with_reported_times",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gridkit.heat' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gridkit.heat.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
