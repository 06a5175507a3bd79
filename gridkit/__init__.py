"""gridkit: household-balanced grids (网格) for Chinese communities and villages.

The library divides communities into grids that keep the rules of grid management
(households per grid within bounds, no grid across a boundary, exact tiling, one piece
per grid, no building split) and serves the daily work built on them.

The main verbs are importable from ``gridkit`` itself, each loaded on first use (so
``import gridkit`` costs nothing):

>>> import gridkit
>>> gridkit.heat_from_incidents.__module__
'gridkit.heat.density'

``gridkit.partition`` is both the package and the verb: ``gridkit.partition(communities,
buildings)`` calls :func:`gridkit.partition.pipeline.partition`.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# name -> module that defines it
_EXPORTS = {
    "PartitionOptions": "gridkit.partition.options",
    "partition_files": "gridkit.partition.job",
    "check_plan": "gridkit.partition.rules",
    "check_grids": "gridkit.check",
    "read_layer": "gridkit.io",
    "write_layers": "gridkit.io",
    "attach_points": "gridkit.incidents.attach",
    "read_points": "gridkit.incidents.attach",
    "grid_stats": "gridkit.incidents.stats",
    "case_indicators": "gridkit.incidents.cases",
    "heat_from_incidents": "gridkit.heat.density",
    "weekly_heat": "gridkit.heat.frames",
    "rates_for_grids": "gridkit.heat.rates",
    "alerts_for_grids": "gridkit.heat.alerts",
    "routes_for_grids": "gridkit.patrol.routes",
    "map_for_grids": "gridkit.maps.overview",
    "signoff_map": "gridkit.maps.signoff",
    "save_map": "gridkit.maps.offline",
    "boards_for_grids": "gridkit.board",
    "communities_from_osm": "gridkit.osm.communities",
    "synth_county": "gridkit.synth",
}

__all__ = [
    "PartitionOptions", "__version__", "alerts_for_grids", "attach_points", "boards_for_grids",
    "case_indicators", "check_grids", "check_plan", "communities_from_osm", "grid_stats", "heat_from_incidents",
    "map_for_grids", "partition", "partition_files", "rates_for_grids", "read_layer", "read_points",
    "routes_for_grids", "save_map", "signoff_map", "synth_county", "weekly_heat", "write_layers",
]


def __getattr__(name: str) -> Any:
    if name == "partition":
        return importlib.import_module("gridkit.partition")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gridkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
