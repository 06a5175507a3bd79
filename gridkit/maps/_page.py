"""The parts every gridkit map page shares: the Leaflet map itself, its notes box, ``window.gridkit``.

Also the small scripts some pages add: open a weekly layer at its latest week, and
layers shown only from a zoom level on (buildings at street zoom, labels).
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
from branca.element import MacroElement
from folium.template import Template

from gridkit.maps.basemaps import Basemap
from gridkit.maps.labels import Lang, label

__all__ = ["LatestWeek", "Notes", "Registry", "ZoomRange", "page_map"]

_STYLE = ("html body .leaflet-container { background: #f7f7f2; font-family: 'Noto Sans CJK SC', 'Microsoft YaHei', "
          "'PingFang SC', sans-serif; }\n.leaflet-control-layers-overlays label { font-size: 13px; }\n"
          ".legend.leaflet-control { background: rgba(255, 255, 255, 0.88); border-radius: 4px; padding: 0 6px; }")


def page_map(bounds: Sequence[float], base: Basemap | None, lang: Lang, *, css: str = "") -> folium.Map:
    """A map without default tiles opening at ``bounds`` (minx, miny, maxx, maxy in lon/lat), with its tiles.

    ``css`` is added to the page's style sheet.
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=14, tiles=None, control_scale=True)
    m.options["maxZoom"] = 20  # a map without tiles needs its own (marker clusters ask for it)
    fit = folium.map.FitBounds([[miny, minx], [maxy, maxx]])
    fit.options["animate"] = False  # at the extent at once: no zoom animation running while the layers build
    m.add_child(fit, name="fit_bounds")
    style = _STYLE + ("\n" + css if css else "")
    m.get_root().header.add_child(folium.Element(f"<style>{style}</style>"), name="gridkit_style")  # type: ignore[attr-defined]
    if base is not None:
        gcj = base.coords == "gcj02"
        for n, tile in enumerate(base.tiles):
            attribution = tile.attribution + ("; " + label("gcj02_note", lang) if gcj and n == 0 else "")
            folium.TileLayer(tiles=tile.url, attr=attribution, name=f"{label('basemap', lang)} {base.name}"
                             + (f" {n + 1}" if n else ""), subdomains=tile.subdomains, max_zoom=20,
                             max_native_zoom=tile.max_zoom, overlay=n > 0, control=n == 0).add_to(m)
    return m


class Notes(MacroElement):
    """A small box at the bottom right listing what the map simplified or converted."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function() {
            var box = L.control({position: "bottomright"});
            box.onAdd = function() {
                var div = L.DomUtil.create("div", "gridkit-notes leaflet-bar");
                div.style.cssText = "background: rgba(255,255,255,0.92); padding: 6px 9px; font-size: 12px;"
                    + " max-width: 360px; line-height: 1.45;";
                var head = document.createElement("b");
                head.textContent = {{ this.title|tojson }};
                div.appendChild(head);
                {{ this.notes|tojson }}.forEach(function(text) {
                    var line = document.createElement("div");
                    line.textContent = text;
                    div.appendChild(line);
                });
                return div;
            };
            box.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, title: str, notes: list[str]) -> None:
        super().__init__()
        self._name = "GridkitNotes"
        self.title = title
        self.notes = notes


class LatestWeek(MacroElement):
    """Open the weekly heat layer at its latest week (where early warning looks)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function(td) { var t = td.getAvailableTimes(); td.setCurrentTime(t[t.length - 1]); })(
            {{ this._parent.get_name() }}.timeDimension);
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "GridkitLatestWeek"


class Registry(MacroElement):
    """``window.gridkit``: the map and its layers by role, for scripts and tests.

    Layers in ``hidden`` start unticked in the layer control.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        window.gridkit = {
            map: {{ this._parent.get_name() }},
            lang: {{ this.lang|tojson }},
            layers: { {% for key, var in this.layers.items() %}{{ key|tojson }}: {{ var }}, {% endfor %} }
        };
        {% for key in this.hidden %}window.gridkit.map.removeLayer(window.gridkit.layers[{{ key|tojson }}]);
        {% endfor %}
        {% endmacro %}
    """)

    def __init__(self, layers: dict[str, str], lang: str, hidden: list[str]) -> None:
        super().__init__()
        self._name = "GridkitRegistry"
        self.hidden = hidden
        self.layers = layers
        self.lang = lang


class ZoomRange(MacroElement):
    """Layers drawn only from a zoom level on: ``{layer variable: minimum zoom}``.

    Below its zoom a layer is taken off the map (the layer control shows it unticked);
    from its zoom on it is drawn again, unless the user unticked it in the layer control.
    Add it after the layers and the layer control.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function(map) {
            var rules = [{% for var, zoom in this.layers.items() %}{layer: {{ var }}, zoom: {{ zoom }}, wanted: true},
                {% endfor %}];
            var updating = false;  // the layer control reports our own adds and removes too
            map.on("overlayadd overlayremove", function(e) {
                if (updating) { return; }
                rules.forEach(function(r) { if (e.layer === r.layer) { r.wanted = e.type === "overlayadd"; } });
            });
            function update() {
                var z = map.getZoom();
                updating = true;
                rules.forEach(function(r) {
                    var show = r.wanted && z >= r.zoom;
                    if (show && !map.hasLayer(r.layer)) { map.addLayer(r.layer); }
                    if (!show && map.hasLayer(r.layer)) { map.removeLayer(r.layer); }
                });
                updating = false;
            }
            map.on("zoomend", update);
            update();
        })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, layers: dict[str, int]) -> None:
        super().__init__()
        self._name = "GridkitZoomRange"
        self.layers = layers
