"""Maps: the overview map of a partition, basemaps, and offline pages.

- :func:`map_for_grids`: one folium map of the grids and every layer given.
- :func:`signoff_map`: the partition drawn for a planner's sign-off (context, serials, balance, rule breaks).
- :func:`save_map`: write it as HTML, ``offline=True`` embedding every asset.
- :func:`basemap_from`: none, OSM, Tianditu, Amap or a tile URL template.
- :func:`inline_assets`: make any folium page render with no network.
- :func:`map_job`: the ``gridkit map`` job (read the files, join the stats, build, save).
- :data:`MAP_BUDGET_BYTES`: the size every saved page states as its budget (warned past).
"""

from __future__ import annotations

from gridkit.maps.basemaps import BASEMAP_NAMES, Basemap, TileSpec, basemap_from
from gridkit.maps.budget import MAP_BUDGET_BYTES
from gridkit.maps.job import MapFiles, MapOptions, MapSummary, map_job
from gridkit.maps.offline import external_references, inline_assets, save_map
from gridkit.maps.overview import map_for_grids
from gridkit.maps.signoff import signoff_map, signoff_table

__all__ = [
    "BASEMAP_NAMES",
    "MAP_BUDGET_BYTES",
    "Basemap",
    "MapFiles",
    "MapOptions",
    "MapSummary",
    "TileSpec",
    "basemap_from",
    "external_references",
    "inline_assets",
    "map_for_grids",
    "map_job",
    "save_map",
    "signoff_map",
    "signoff_table",
]
