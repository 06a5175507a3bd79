"""The incident heat map page: a self-contained HTML file that needs no network and stays light.

:func:`heatmap_page` builds a Leaflet page (folium, with Leaflet only: no jQuery, Bootstrap or
icon fonts) whose assets :func:`write_page` embeds through :func:`gridkit.maps.offline.inline_assets`,
as every gridkit page does. There is no tile basemap: the grid outlines give the context, so
the page opens the same on an intranet with no internet access. Layers:

- grid outlines (网格), with the grid code, community, incidents and rates in a tooltip;
- the incident rate per grid (per 100 households, and per km²; hidden at first), drawn from
  the same grid data as the outlines (the geometry is written once);
- the density surface (the one in ``heat.tif``) as an image overlay, warped to Web Mercator;
- the weekly density surfaces (:func:`gridkit.heat.frames.weekly_heat`) as image overlays
  with a week slider and a play button (hidden at first), on one colour scale for all weeks;
- a layer control, a legend and a note of the page's size against its budget.

No layer holds one item per incident: the page's size depends on the grids, the weeks and the
frames' raster (at most ``max_side`` pixels a side), not on the number of incidents.
:data:`PAGE_BUDGET_BYTES` is the size the page is meant to stay under; the page states it.

Examples
--------
>>> import shapely, pandas as pd, pyproj
>>> from gridkit.heat.density import heat_from_incidents, projected_points
>>> from gridkit.heat.frames import weekly_heat
>>> from gridkit.maps.offline import external_references
>>> grids = gpd.GeoDataFrame({"grid_code": ["520199001001001"]},
...                          geometry=[shapely.box(106.61, 26.46, 106.63, 26.48)], crs=4490)
>>> pts = gpd.GeoDataFrame(geometry=shapely.points([106.62, 106.625], [26.47, 26.472]), crs=4490)
>>> surface = heat_from_incidents(pts, area=grids, bandwidth=300.0)
>>> weeks = weekly_heat(projected_points(pts, surface.crs), pd.Series(pd.to_datetime(["2024-06-03", "2024-06-12"])),
...                     surface)
>>> html = page_html(heatmap_page(surface, weeks, grids))
>>> weeks.labels, external_references(html), "2024-W24" in html
(['2024-W23', '2024-W24'], [], True)
"""

from __future__ import annotations

import base64
import html as _html
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template
from numpy.typing import NDArray

from gridkit._types import PathLike
from gridkit.heat.frames import WeeklyHeat
from gridkit.heat.raster import to_web_mercator
from gridkit.heat.surface import HeatSurface
from gridkit.maps.offline import inline_assets

__all__ = ["PAGE_BUDGET_BYTES", "PageWritten", "heatmap_page", "page_html", "write_page"]

log = logging.getLogger(__name__)

#: The size the heat page is meant to stay under (stated in the page; the CLI warns past it).
PAGE_BUDGET_BYTES = 8 * 2**20
_COLOURS = ("#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")  # OrRd, 5 classes
_NO_DATA = "#dddddd"
_RATE_LAYERS = (
    ("per_100_households", "每百户事件数 incidents per 100 households"),
    ("per_km2", "每平方公里事件数 incidents per km²"),
)
_LEVELS = 32  # colour levels of the heat images (level 0: transparent)
_TRANSPARENT_BELOW = 0.01  # share of the image's top value under which a cell is not drawn
_SIZE_MARK = "@@GRIDKIT_PAGE_SIZE@@"
_QUANTUM = 1e-6  # degrees per unit of the page's grid coordinates (about 0.1 m)


class _LeafletOnly(folium.Map):
    """A folium map that links Leaflet alone (the heat page uses no markers, icons or jQuery)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_js = [js for js in folium.Map.default_js if js[0] == "leaflet"]
        self.default_css = [css for css in folium.Map.default_css if css[0] == "leaflet_css"]


class _HeatLayers(MacroElement):
    """The page's layers, controls and ``window.gridkit``, from one JSON payload."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function(map, data) {
            function ring(flat) {
                var out = [], x = 0, y = 0;
                for (var i = 0; i < flat.length; i += 2) {
                    x += flat[i]; y += flat[i + 1];
                    out.push([x * data.grids.scale, y * data.grids.scale]);
                }
                out.push(out[0]);
                return out;
            }
            var collection = {type: "FeatureCollection", features: data.grids.features.map(function(p) {
                var g = p.g; delete p.g;
                return {type: "Feature", properties: p, geometry: {type: "MultiPolygon",
                    coordinates: g.map(function(polygon) { return polygon.map(ring); })}};
            })};
            map.createPane("gkrates").style.zIndex = 410;
            var heatPane = map.createPane("gkheat");
            heatPane.style.zIndex = 420; heatPane.style.pointerEvents = "none";
            map.createPane("gkgrids").style.zIndex = 430;
            function tip(p) {
                var rows = [["网格 grid", p.c], ["社区 community", p.n], ["住户 households", p.hh],
                            ["事件 incidents", p.i], [data.rates[0], p.r1], [data.rates[1], p.r2]];
                return rows.filter(function(r) { return r[1] !== undefined && r[1] !== null; })
                    .map(function(r) { var b = document.createElement("div");
                        b.textContent = r[0] + ": " + r[1]; return b.outerHTML; }).join("");
            }
            function bind(f, layer) { layer.bindTooltip(tip(f.properties), {sticky: true}); }
            var grids = L.geoJSON(collection, {pane: "gkgrids", onEachFeature: bind,
                style: function() { return {color: "#333333", weight: 1, fill: false}; }});
            function rateLayer(key) {
                return L.geoJSON(collection, {pane: "gkrates", onEachFeature: bind, style: function(f) {
                    var k = f.properties[key];
                    return {fillColor: k < 0 ? data.noData : data.colours[k], fillOpacity: 0.6,
                            color: "#555555", weight: 0.5};
                }});
            }
            var bounds = [[data.box[0], data.box[1]], [data.box[2], data.box[3]]];
            var heat = L.imageOverlay(data.overall, bounds, {pane: "gkheat", opacity: 1, className: "gk-heat"});
            var weekly = L.imageOverlay(data.frames[data.frames.length - 1] || data.overall, bounds,
                                        {pane: "gkheat", opacity: 1, className: "gk-heat-week"});
            var layers = {grids: grids, per_100_households: rateLayer("f1"), per_km2: rateLayer("f2"),
                          heat: heat, heat_by_week: weekly};
            var names = {grids: "网格 grids", per_100_households: data.rates[0], per_km2: data.rates[1],
                         heat: "事件热力 incident heat", heat_by_week: "按周热力 heat by ISO week"};
            var overlays = {};
            Object.keys(layers).forEach(function(k) { overlays[names[k]] = layers[k]; });
            heat.addTo(map); grids.addTo(map);
            L.control.layers(null, overlays, {collapsed: false}).addTo(map);

            var week = data.frames.length - 1, timer = null;
            var bar = L.control({position: "bottomleft"});
            bar.onAdd = function() {
                var div = L.DomUtil.create("div", "gridkit-weeks leaflet-bar");
                div.style.cssText = "background: white; padding: 6px 8px; font: 12px sans-serif; display: none";
                div.innerHTML = "<button type='button' class='gk-play'>▶</button> "
                    + "<input type='range' class='gk-week' min='0' step='1' style='width: 220px'> "
                    + "<span class='gk-week-label'></span>";
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            bar.addTo(map);
            var box = bar.getContainer(), slider = box.querySelector(".gk-week");
            var labelOf = box.querySelector(".gk-week-label"), play = box.querySelector(".gk-play");
            slider.max = String(Math.max(0, data.frames.length - 1));
            function setWeek(i) {
                week = Math.max(0, Math.min(data.frames.length - 1, i));
                slider.value = String(week);
                weekly.setUrl(data.frames[week]);
                labelOf.textContent = data.labels[week] + " (" + data.counts[week] + " 起 incidents)";
            }
            slider.addEventListener("input", function() { setWeek(Number(slider.value)); });
            play.addEventListener("click", function() {
                if (timer) { clearInterval(timer); timer = null; play.textContent = "▶"; return; }
                if (week >= data.frames.length - 1) { setWeek(0); }
                play.textContent = "❚❚";
                timer = setInterval(function() {
                    if (week >= data.frames.length - 1) { clearInterval(timer); timer = null; play.textContent = "▶"; }
                    else { setWeek(week + 1); }
                }, 700);
            });
            map.on("overlayadd", function(e) { if (e.layer === weekly) { box.style.display = "block"; } });
            map.on("overlayremove", function(e) { if (e.layer === weekly) { box.style.display = "none"; } });
            if (data.frames.length) { setWeek(week); }
            window.gridkit = {map: map, layers: layers, labels: data.labels, setWeek: setWeek,
                              week: function() { return week; }};
        })({{ this._parent.get_name() }}, {{ this.data|tojson }});
        {% endmacro %}
    """)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GridkitHeatLayers"
        self.data = data


def heatmap_page(
    surface: HeatSurface,
    weeks: WeeklyHeat | None,
    grids: gpd.GeoDataFrame,
    *,
    rates: pd.DataFrame | None = None,
    grid_field: str = "grid_code",
    title: str | None = None,
    max_side: int = 1024,
) -> folium.Map:
    """Build the offline heat map page of a density surface and its weekly frames over the grids.

    Parameters
    ----------
    surface
        From :func:`gridkit.heat.heat_from_incidents` (drawn as one image).
    weeks
        From :func:`gridkit.heat.frames.weekly_heat` (one image per week); None: no weekly layer.
    grids
        Grid polygons with ``grid_field`` (``community_name``, ``households`` for tooltips if present).
    rates
        From :func:`gridkit.heat.rates_for_grids`; None: no rate layers.
    title
        Shown at the top of the page.
    max_side
        Most pixels along the longer side of each image.

    Returns
    -------
    folium.Map
        Write it with :func:`write_page` (or render it with :func:`page_html`).
    """
    outline = grids.to_crs(4326)
    west, south, east, north = outline.total_bounds
    fmap = _LeafletOnly(tiles=None, control_scale=True, prefer_canvas=False)
    fit = folium.map.FitBounds([[south, west], [north, east]])
    fit.options["animate"] = False  # at the extent at once, as the other pages: no zoom animation at load
    fmap.add_child(fit, name="fit_bounds")

    if weeks is not None and len(weeks.labels):
        stack = np.concatenate([weeks.overall[None], weeks.density])
        warped = to_web_mercator(stack, weeks.transform, weeks.crs, max_side=max_side)
    else:
        warped = to_web_mercator(surface.density, surface.transform, surface.crs, max_side=max_side)
    overall_top = float(warped.data[0].max())
    week_top = float(warped.data[1:].max()) if len(warped.data) > 1 else 0.0
    data = {
        "grids": _grid_features(outline, rates, grid_field),
        "rates": [label for _, label in _RATE_LAYERS], "colours": list(_COLOURS), "noData": _NO_DATA,
        "box": [warped.south, warped.west, warped.north, warped.east],
        "overall": _png_uri(warped.data[0], overall_top),
        "frames": [_png_uri(frame, week_top) for frame in warped.data[1:]],
        "labels": list(weeks.labels) if weeks is not None else [],
        "counts": [int(c) for c in weeks.counts] if weeks is not None else [],
    }
    _HeatLayers(data).add_to(fmap)
    heading = title or f"事件热力图 incident heat map: {surface.n_incidents:,} incidents"
    root = fmap.get_root()
    root.header.add_child(folium.Element(  # type: ignore[attr-defined]
        f"<title>{_html.escape(heading)}</title><meta charset='utf-8'>"
        f"<meta name='gridkit-size-budget' content='{PAGE_BUDGET_BYTES}'>"
        "<style>.gk-heat, .gk-heat-week { image-rendering: auto; }</style>"))
    root.html.add_child(folium.Element(  # type: ignore[attr-defined]
        "<div id='gridkit-title' style='position:fixed;top:8px;left:60px;z-index:1000;background:white;"
        f"padding:4px 8px;border:1px solid #999;font:14px sans-serif'>{_html.escape(heading)}</div>"
        + _legend(rates, surface, overall_top, week_top, weeks)))
    log.info("heat map page: %d grids, %d weekly frames of %d x %d pixels", len(grids),
             len(data["frames"]), warped.data.shape[2], warped.data.shape[1])
    return fmap


def _grid_features(outline: gpd.GeoDataFrame, rates: pd.DataFrame | None, grid_field: str) -> dict[str, Any]:
    """The grids once: short property names, and outlines as quantised, delta-encoded rings.

    Each grid's ``g`` is a list of polygons, each a list of rings, each ring a flat list of
    integers: the first vertex in units of 1e-6 degree (about 0.1 m), then the step to each next
    vertex (the closing vertex left out). The page decodes them into GeoJSON.
    """
    codes = outline[grid_field].astype(str)
    props = pd.DataFrame({"c": codes.to_numpy()})
    if "community_name" in outline.columns:
        props["n"] = outline["community_name"].astype(str).to_numpy()
    if "households" in outline.columns:
        props["hh"] = pd.to_numeric(outline["households"], errors="coerce").round().astype("Int64").to_numpy()
    if rates is not None:
        props["i"] = rates["incidents"].reindex(codes).fillna(0).astype(int).to_numpy()
        for key, fill, (column, _) in (("r1", "f1", _RATE_LAYERS[0]), ("r2", "f2", _RATE_LAYERS[1])):
            values = rates[column].reindex(codes).to_numpy(dtype=float)
            limits = _breaks(rates[column].to_numpy(dtype=float))
            props[key] = [round(v, 2) if np.isfinite(v) else None for v in values]
            props[fill] = [_class(v, limits) for v in values]
    shapes = _quantised_rings(outline.geometry.to_numpy())
    records: list[dict[str, Any]] = []
    for row, shape in zip(props.to_dict("records"), shapes):
        plain = {str(k): _plain(v) for k, v in row.items() if not _missing(v)}
        plain["g"] = shape
        records.append(plain)
    return {"scale": _QUANTUM, "features": records}


def _quantised_rings(geoms: NDArray[np.object_]) -> list[list[list[list[int]]]]:
    """Per geometry, its polygons' rings as [x0, y0, dx1, dy1, ...] in units of :data:`_QUANTUM` degree."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, part_of = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    q = np.round(coords / _QUANTUM).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(ring_of) != 0])
    steps = np.diff(q, axis=0, prepend=q[:1])
    steps[starts] = q[starts]
    ends = np.r_[starts[1:], len(q)] - 1  # the closing vertex repeats the first: left out
    flat = steps.ravel().tolist()
    shapes: list[list[list[list[int]]]] = [[] for _ in range(len(geoms))]
    polygon_lists: list[list[list[int]]] = []
    for p in range(len(parts)):
        polygon_lists.append([])
        shapes[owner[p]].append(polygon_lists[p])
    for r, (start, end) in enumerate(zip(starts, ends)):
        polygon_lists[part_of[r]].append(flat[2 * start: 2 * end])
    return shapes


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and not np.isfinite(value))


def _breaks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Class limits: quintiles of the finite values (unique, at least two)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    limits = np.unique(np.quantile(finite, np.linspace(0, 1, len(_COLOURS) + 1)))
    return limits if len(limits) >= 2 else np.array([limits[0], limits[0] + 1.0])


def _class(value: float, limits: NDArray[np.float64]) -> int:
    """Colour class of a rate (-1: no value)."""
    if not np.isfinite(value):
        return -1
    i = int(np.clip(np.searchsorted(limits, value, side="right") - 1, 0, len(limits) - 2))
    return min(i, len(_COLOURS) - 1)


def _palette() -> tuple[list[int], bytes]:
    from matplotlib import colormaps

    cmap = colormaps["YlOrRd"]
    rgb = [0, 0, 0]
    alpha = [0]
    for level in range(1, _LEVELS + 1):
        r, g, b, _ = cmap(level / _LEVELS)
        rgb += [round(r * 255), round(g * 255), round(b * 255)]
        alpha.append(round(255 * (0.35 + 0.5 * level / _LEVELS)))
    return rgb, bytes(alpha)


def _png_uri(values: NDArray[np.float64], top: float) -> str:
    """A palette PNG of ``values`` on the scale 0..``top`` as a data: URI (transparent below 1 %)."""
    from PIL import Image

    levels = np.zeros(values.shape, dtype=np.uint8)
    if top > 0:
        scaled = np.ceil(values / top * _LEVELS)
        levels = np.clip(scaled, 0, _LEVELS).astype(np.uint8)
        levels[values < _TRANSPARENT_BELOW * top] = 0
    image = Image.fromarray(levels, mode="P")
    rgb, alpha = _palette()
    image.putpalette(rgb)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=alpha, optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _swatches(stops: list[tuple[str, str]]) -> str:
    return "".join(
        f"<div><span style='display:inline-block;width:14px;height:10px;background:{colour};"
        f"border:1px solid #999'></span> {_html.escape(text)}</div>" for colour, text in stops)


def _legend(rates: pd.DataFrame | None, surface: HeatSurface, overall_top: float, week_top: float,
            weeks: WeeklyHeat | None) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["YlOrRd"]
    heat = [(to_hex(cmap(q)), f"{q * overall_top:,.0f}") for q in (0.25, 0.5, 0.75, 1.0)]
    parts = [f"<div><b>事件密度 incidents per km²</b> (bandwidth {surface.bandwidth_m:.0f} m)</div>",
             _swatches(heat)]
    if weeks is not None and len(weeks.labels):
        parts.append(f"<div>按周 per week: 0–{week_top:,.0f} per km², {len(weeks.labels)} weeks</div>")
        if weeks.weeks_total > len(weeks.labels):
            parts.append(f"<div>仅最近 {len(weeks.labels)} 周 latest {len(weeks.labels)} of "
                         f"{weeks.weeks_total} weeks shown</div>")
    if rates is not None:
        for column, label in _RATE_LAYERS:
            limits = _breaks(rates[column].to_numpy(dtype=float))
            stops = [(_COLOURS[i], f"{limits[i]:.1f}–{limits[i + 1]:.1f}")
                     for i in range(min(len(limits) - 1, len(_COLOURS)))]
            parts.append(f"<div style='margin-top:4px'><b>{_html.escape(label)}</b></div>" + _swatches(stops))
        parts.append(_swatches([(_NO_DATA, "无住户 no households")]))
    parts.append(f"<div id='gridkit-size' style='margin-top:4px;color:#555'>页面 page {_SIZE_MARK} MB "
                 f"(预算 budget {round(PAGE_BUDGET_BYTES / 2**20, 1):g} MB)</div>")
    return ("<div id='gridkit-legend' style='position:fixed;bottom:30px;right:10px;z-index:1000;background:white;"
            "padding:6px 8px;border:1px solid #999;font:12px sans-serif;max-width:260px'>" + "".join(parts) + "</div>")


def page_html(fmap: folium.Map) -> str:
    """The page as self-contained HTML (assets embedded by :func:`gridkit.maps.offline.inline_assets`),
    with its own size written into it."""
    html = inline_assets(fmap.get_root().render())
    size = len(html.encode("utf-8"))
    return html.replace(_SIZE_MARK, f"{size / 2**20:.1f}")


@dataclass(frozen=True)
class PageWritten:
    """What :func:`write_page` wrote: the file, its size and the budget."""

    path: Path
    size_bytes: int
    budget_bytes: int = PAGE_BUDGET_BYTES

    @property
    def over_budget(self) -> bool:
        """True when the page is larger than its budget."""
        return self.size_bytes > self.budget_bytes


def write_page(fmap: folium.Map, path: PathLike) -> PageWritten:
    """Write a heat page atomically with its assets embedded; log a warning past the budget."""
    from gridkit.io import write_text

    html = page_html(fmap)
    out = write_text(path, html)
    written = PageWritten(Path(out), len(html.encode("utf-8")))
    if written.over_budget:
        log.warning("%s is %.1f MB, over its budget of %.1f MB", out, written.size_bytes / 2**20,
                    written.budget_bytes / 2**20)
    return written
