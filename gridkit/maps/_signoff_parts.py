"""Pieces of the sign-off page: light context layers, grid serial labels, the legend, panes and style."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium.template import Template

from gridkit.maps._data import cell_size_deg
from gridkit.maps.labels import Lang, label

# streets and buildings under the grids, the grids, community outlines over them (mouse goes through)
CONTEXT_PANE = "gridkit_context"
GRID_PANE = "gridkit_grids"
OUTLINE_PANE = "gridkit_outlines"

SIGNOFF_CSS = """
.gridkit-serial span { position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
  font-size: 12px; font-weight: 600; color: #1a1a1a; text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; }
.gridkit-serial.rule span { color: #c00000; }
.gridkit-serial.tolerance span { color: #b35300; }
.gridkit-tip td { font-size: 12px; line-height: 1.45; }
.gridkit-warn { color: #c00000; font-weight: 600; }
.gridkit-legend { background: rgba(255, 255, 255, 0.92); padding: 6px 9px; font-size: 12px; line-height: 1.5;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3); max-width: 260px; }
.gridkit-legend i { display: inline-block; width: 16px; height: 11px; margin-right: 6px; vertical-align: -1px;
  border: 1px solid #777; box-sizing: border-box; }
.gridkit-legend i.line { height: 0; border-left: 0; border-right: 0; border-bottom: 0; vertical-align: 3px; }
.gridkit-legend .small { color: #555; font-size: 11px; }
"""

# context shapes merged per square of about this size: few objects for the browser, whole ones off screen skipped
_CELL_M = 250.0
# context drawn this far around the grids: a share of their extent, at least about 300 m
_MARGIN_SHARE = 0.15
_MARGIN_DEG = 0.003


def near(layer: gpd.GeoDataFrame, extent: Sequence[float], *, role: str, notes: list[str], lang: Lang
         ) -> gpd.GeoDataFrame:
    """The features of a lon/lat layer near ``extent`` (minx, miny, maxx, maxy); a note says how many of all."""
    minx, miny, maxx, maxy = (float(v) for v in extent)
    margin = max(_MARGIN_SHARE * max(maxx - minx, maxy - miny), _MARGIN_DEG)
    geoms = layer.geometry.to_numpy()
    b = shapely.bounds(geoms)
    drawn = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    keep = drawn & (b[:, 2] >= minx - margin) & (b[:, 0] <= maxx + margin) & (b[:, 3] >= miny - margin) \
        & (b[:, 1] <= maxy + margin)
    if int(keep.sum()) < int(drawn.sum()):
        notes.append(label("context_near", lang, layer=label(role, lang), shown=int(keep.sum()),
                           total=int(drawn.sum())))
    return layer[keep]


def merged_shapes(layer: gpd.GeoDataFrame) -> np.ndarray:
    """The layer's shapes merged per square of about 250 m: MultiPolygons, MultiLineStrings, MultiPoints.

    Every part is kept as it is (nothing is dissolved or simplified); missing and empty
    geometries are left out.
    """
    geoms = layer.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        return np.array([], dtype=object)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    b = shapely.bounds(geoms)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    w, h = cell_size_deg(_CELL_M, float(np.mean(cy)))
    cell = np.floor(cx / w).astype(np.int64) * 1_000_003 + np.floor(cy / h).astype(np.int64)
    types = shapely.get_type_id(parts)
    out = []
    for type_ids, build in (((3,), shapely.multipolygons), ((1, 2), shapely.multilinestrings),
                            ((0,), shapely.multipoints)):
        sel = np.isin(types, type_ids)
        if not sel.any():
            continue
        keys = cell[owner[sel]]
        order = np.argsort(keys, kind="stable")
        _, groups = np.unique(keys[order], return_inverse=True)
        out.append(build(parts[sel][order], indices=groups))
    return np.concatenate(out)


def merged_context(layer: gpd.GeoDataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of :func:`merged_shapes`, no properties."""
    features = [{"type": "Feature", "properties": {}, "geometry": geometry}
                for geometry in _geojson_geometries(merged_shapes(layer))]
    return {"type": "FeatureCollection", "features": features}


def _geojson_geometries(geoms: np.ndarray) -> list[dict[str, Any]]:
    import json

    return [json.loads(text) for text in shapely.to_geojson(geoms)]


class SerialLabels(folium.map.Layer):
    """Grid serials as text at a point of each grid: rows of ``[lat, lon, text, status]``.

    ``status`` (``"rule"``, ``"tolerance"`` or ``""``) colours the text. The labels take
    no mouse events, so the grid tooltips under them still open.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup({{ this.rows|tojson }}.map(function(r) {
            var span = document.createElement("span");
            span.textContent = r[2];
            return L.marker([r[0], r[1]], {interactive: false, keyboard: false,
                icon: L.divIcon({className: "gridkit-serial " + r[3], html: span, iconSize: null})});
        }));
        {% endmacro %}
    """)

    def __init__(self, rows: list[list[Any]], *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GridkitSerials"
        self.rows = rows


class Legend(MacroElement):
    """A legend box at the bottom left; ``content`` is HTML whose texts are already escaped."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function() {
            var box = L.control({position: "bottomleft"});
            box.onAdd = function() {
                var div = L.DomUtil.create("div", "gridkit-legend");
                div.innerHTML = {{ this.content|tojson }};
                return div;
            };
            box.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "GridkitLegend"
        self.content = content

