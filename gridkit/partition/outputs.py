"""Write a partition: ``grids.gpkg`` (grids, buildings, units, communities), reports, a quick map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np

from gridkit.io import atomic_dir, write_layers, write_text
from gridkit.partition.pipeline import PartitionResult
from gridkit.partition.report import _np_default, report_from_result, report_markdown

__all__ = ["quick_map", "write_partition"]

GRID_COLUMNS = ["grid_code", "community_code", "community_name", "kind", "households", "buildings", "area_m2",
                "compactness", "within_bounds", "dedicated", "dedicated_name", "note", "geometry"]


def write_partition(result: PartitionResult, outdir: str | Path, *, parameters: dict[str, Any] | None = None) -> dict:
    """Write every output into ``outdir`` at once (nothing appears there if a step fails).

    Returns the report dictionary.
    """
    report = report_from_result(result, parameters=parameters)
    with atomic_dir(outdir) as tmp:
        write_layers(Path(tmp) / "grids.gpkg", {
            "grids": result.grids[GRID_COLUMNS],
            "buildings": result.buildings,
            "units": result.units,
            "communities": result.communities,
        })
        write_text(Path(tmp) / "report.json", json.dumps(report, ensure_ascii=False, indent=2, default=_np_default))
        write_text(Path(tmp) / "report.md", report_markdown(report))
        quick_map(result.grids, result.communities).save(str(Path(tmp) / "map.html"))
    return report


def quick_map(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> folium.Map:
    """A quick-look map: grids coloured by households, community outlines, no basemap."""
    g = grids.to_crs(4326)
    c = communities.to_crs(4326)
    minx, miny, maxx, maxy = g.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None, zoom_start=14, control_scale=True)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    hi = max(int(g["households"].max()), 1) if len(g) else 1

    def style(feature: dict) -> dict:
        p = feature["properties"]
        share = min(p["households"] / hi, 1.0)
        colour = "#999999" if p["dedicated"] else _ramp(share)
        return {"fillColor": colour, "color": "#333333" if p["within_bounds"] else "#d7191c",
                "weight": 1 if p["within_bounds"] else 3, "fillOpacity": 0.6}

    cols = ["grid_code", "community_name", "households", "buildings", "within_bounds", "dedicated", "geometry"]
    folium.GeoJson(
        g[cols].to_json(default=_np_default), name="grids 网格", style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=["grid_code", "community_name", "households", "buildings"],
                                      aliases=["网格编码", "社区", "户数", "建筑"]),
    ).add_to(m)
    folium.GeoJson(
        c[["community_code", "community_name", "geometry"]].to_json(), name="communities 社区",
        style_function=lambda _: {"fill": False, "color": "#000000", "weight": 3},
    ).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def _ramp(share: float) -> str:
    """Light yellow to dark green."""
    lo = np.array([255, 255, 204])
    hi = np.array([0, 104, 55])
    r, g, b = (lo + (hi - lo) * share).round().astype(int)
    return f"#{r:02x}{g:02x}{b:02x}"
