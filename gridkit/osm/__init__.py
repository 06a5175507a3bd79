"""OpenStreetMap files: streets, buildings, components, derived communities, household estimates.

Modules, one concern each: :mod:`~gridkit.osm.files` (reading XML, bzip2/gzip XML and
PBF into one tree), :mod:`~gridkit.osm.repair` (clipped extracts), :mod:`~gridkit.osm.network`
(osmnx's network types as tag filters), :mod:`~gridkit.osm.features` (streets, graph,
buildings, components), :mod:`~gridkit.osm.communities`, :mod:`~gridkit.osm.households`,
:mod:`~gridkit.osm.tags` (tag vocabularies) and :mod:`~gridkit.osm.job` (the
``gridkit communities`` command). The public names below are imported on first use, so
``import gridkit.osm`` stays cheap until a file is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridkit.osm.communities import communities_from_osm
    from gridkit.osm.features import (
        buildings_from_osm,
        component_table,
        components_from_osm,
        graph_from_osm,
        streets_from_osm,
    )
    from gridkit.osm.households import estimate_households
    from gridkit.osm.network import NETWORK_TYPES
    from gridkit.osm.tags import (
        ARTERIAL_HIGHWAYS,
        DEFAULT_LEVELS,
        RESIDENTIAL_BUILDINGS,
        SINGLE_DWELLING_BUILDINGS,
    )

__all__ = [
    "ARTERIAL_HIGHWAYS",
    "DEFAULT_LEVELS",
    "NETWORK_TYPES",
    "RESIDENTIAL_BUILDINGS",
    "SINGLE_DWELLING_BUILDINGS",
    "buildings_from_osm",
    "communities_from_osm",
    "component_table",
    "components_from_osm",
    "estimate_households",
    "graph_from_osm",
    "streets_from_osm",
]

_HOMES = {
    "ARTERIAL_HIGHWAYS": "tags",
    "DEFAULT_LEVELS": "tags",
    "RESIDENTIAL_BUILDINGS": "tags",
    "SINGLE_DWELLING_BUILDINGS": "tags",
    "NETWORK_TYPES": "network",
    "buildings_from_osm": "features",
    "component_table": "features",
    "components_from_osm": "features",
    "graph_from_osm": "features",
    "streets_from_osm": "features",
    "communities_from_osm": "communities",
    "estimate_households": "households",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'gridkit.osm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gridkit.osm.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
