"""The overview map of a partition: grids and every layer the daily work adds to them.

:func:`map_for_grids` returns one :class:`folium.Map` with a layer control: communities,
grids coloured by households (or any numeric field) with a legend, buildings, streets,
components clustered per major category, incidents as a heat layer with a weekly time
slider, alerts, patrol routes and bases, GPS tracks and stops. Labels are Chinese by
default (``lang="en"`` for English). Save it with :func:`gridkit.maps.save_map`
(``offline=True`` embeds Leaflet and the plugins so that the page needs no network).

The page stays light whatever the data (a county of a million households, a year of a
district's incidents): buildings and streets are drawn on a canvas from packed,
quantised coordinates (:class:`gridkit.maps._canvas.CanvasLayer`), buildings only from
street zoom (``building_zoom``); up to ``max_points`` components are clustered markers,
beyond that every component is a canvas point, counted per square of the screen below
street zoom; incidents are summed per week on cells of ``incident_cell_m`` metres (larger
cells when the cell-weeks would pass ``max_heat_cells``) for the latest ``max_weeks``
weeks. Nothing is sampled away; what is aggregated or cut is said in a notes box on the
map, and the saved page states its size and budget (:mod:`gridkit.maps.budget`).

The page exposes ``window.gridkit = {map, layers: {grids, communities, ...}, lang}`` for
scripts and tests.

Examples
--------
>>> import geopandas, shapely
>>> grids = geopandas.GeoDataFrame(
...     {"grid_code": ["520199001001001", "520199001001002"], "households": [280, 310]},
...     geometry=[shapely.box(106.61, 26.46, 106.62, 26.47), shapely.box(106.62, 26.46, 106.63, 26.47)],
...     crs=4490)
>>> m = map_for_grids(grids, lang="en")
>>> "520199001001002" in m.get_root().render()
True
"""

from __future__ import annotations

import logging
from typing import Literal

import branca.colormap
import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit.errors import MissingFieldError, ParameterError
from gridkit.maps._canvas import CanvasLayer
from gridkit.maps._data import even_sample, for_display, numeric_fields, require_rows, to_geojson
from gridkit.maps._layers import (
    component_canvas_layers,
    component_layers,
    geojson_tooltip,
    incident_layer,
    line_layer,
    lines_from_fixes,
    point_layer,
    tooltip_fields,
)
from gridkit.maps._packed import PackedGeoJson
from gridkit.maps._page import LatestWeek, Notes, Registry, ZoomRange, page_map
from gridkit.maps._signoff_parts import merged_shapes
from gridkit.maps.basemaps import Basemap, basemap_from
from gridkit.maps.labels import Lang, check_lang, field_alias, label

__all__ = ["GRID_TOOLTIP_FIELDS", "map_for_grids"]

log = logging.getLogger(__name__)

GRID_TOOLTIP_FIELDS = ("grid_code", "grid_name", "community_name", "dedicated_name", "households", "population",
                       "worker_name", "worker", "worker_id", "phone")
_WORKER_FIELDS = ("worker_name", "worker", "worker_id")
_ROUTE_FIELDS = ("grid_code", "length_m", "deadhead_m", "est_minutes", "coverage_share", "shift")
_TRACK_FIELDS = ("worker_id", "worker_name", "grid_code", "date", "day", "distance_m", "fixes")
_STOP_FIELDS = ("worker_id", "grid_code", "day", "start", "end", "minutes", "duration_s", "fixes")
_BASE_FIELDS = ("grid_code", "name")
_ALERT_FIELDS = ("category_{lang}", "top_category", "category", "observed", "count", "expected", "baseline",
                 "baseline_mean", "ratio", "p_value", "window_start", "window_end", "level", "reason", "message")
BASE_PANE = "gridkit_base"
_RAMP = ["#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837"]
_NO_DATA = "#bdbdbd"


def map_for_grids(
    grids: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    components: gpd.GeoDataFrame | None = None,
    incidents: gpd.GeoDataFrame | None = None,
    alerts: pd.DataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    bases: gpd.GeoDataFrame | None = None,
    tracks: gpd.GeoDataFrame | None = None,
    stops: gpd.GeoDataFrame | None = None,
    color_by: str = "households",
    lang: Lang = "zh",
    basemap: str | Basemap | None = "none",
    tianditu_key: str | None = None,
    max_points: int = 20_000,
    max_buildings: int | None = None,
    incident_cell_m: float = 50.0,
    max_weeks: int = 104,
    max_heat_cells: int = 100_000,
    building_zoom: int = 16,
    time_field: str | None = None,
) -> folium.Map:
    """One interactive map of the grids with every layer given, under a layer control.

    Parameters
    ----------
    grids
        Grid polygons with ``grid_code`` (the ``grids`` layer of ``grids.gpkg``). The
        tooltip shows the code, community, households and the worker (``worker_name``,
        ``worker`` or ``worker_id``) when present. Any CRS; drawn in lon/lat.
    communities, buildings, streets
        Context layers: community outlines, building footprints (grey), street lines.
    components
        City component points with ``category`` (or 16/17-digit ``component_id``): one
        sub-layer per major category, clustered markers up to ``max_points`` components,
        canvas points beyond (counted per square of the screen below ``building_zoom``).
    incidents
        Incident points; with a time field (``reported_at``, ``time``, ... or
        ``time_field``) a heat layer with a weekly time slider, else a static heat layer.
    alerts
        A table with ``grid_code`` (``alerts.csv`` of ``gridkit heatmap``): those grids
        are outlined in red, the alert fields in their tooltip.
    routes, bases
        Patrol routes (lines with ``grid_code``, ``length_m`` ...) and their base points.
    tracks, stops
        GPS tracks: lines, or fixes with ``worker_id`` and a time (joined per worker and
        day); stop points.
    color_by
        The numeric grid field that colours the grids (legend included).
    lang
        ``"zh"`` (default) or ``"en"``: layer names, tooltips, legend and notes.
    basemap
        ``"none"`` (default: no tiles, the data is the context), ``"osm"``,
        ``"tianditu"`` (needs ``tianditu_key``), ``"amap"`` (every overlay is converted to
        GCJ-02 to line up with its tiles, and the map says so), a tile URL template, or a
        :class:`~gridkit.maps.basemaps.Basemap`.
    max_points
        Most components drawn as clustered markers; beyond, all are canvas points.
    max_buildings
        Most building outlines drawn (evenly sampled beyond, and the notes say so); None
        (default): every building.
    incident_cell_m, max_weeks, max_heat_cells
        Incident heat: cell size in metres, the number of latest weeks kept, and the most
        cell-weeks in the page (the cell size doubles until they fit; the notes give it).
    building_zoom
        The zoom from which buildings (and single canvas components) are drawn.
    time_field
        The time field of incidents and track fixes, when not one of the usual names.

    Raises
    ------
    MissingFieldError
        Grids without ``grid_code``; alerts without ``grid_code``.
    ParameterError
        ``color_by`` not a numeric grid field; a bad language or basemap.
    """
    lang = check_lang(lang)
    base = basemap if isinstance(basemap, Basemap) or basemap is None else basemap_from(
        basemap, tianditu_key=tianditu_key, lang=lang)
    coords = base.coords if base else "wgs84"
    notes: list[str] = []
    for cap, name in ((max_points, "max_points"), (max_buildings or 1, "max_buildings"), (max_weeks, "max_weeks"),
                      (max_heat_cells, "max_heat_cells")):
        if cap < 1:
            raise ParameterError(f"{name} must be at least 1, got {cap}", field=name)
    if not 0 <= building_zoom <= 20:
        raise ParameterError(f"building_zoom must be a zoom level from 0 to 20, got {building_zoom}",
                             field="building_zoom")
    if incident_cell_m <= 0:
        raise ParameterError(f"incident_cell_m must be positive, got {incident_cell_m}", field="incident_cell_m")

    g = for_display(grids, role="grids", coords=coords, kinds=("polygon",), notes=notes, lang=lang)
    require_rows(g, "grids")
    if "grid_code" not in g.columns:
        raise MissingFieldError("the grids layer has no grid_code field", field="grid_code",
                                hint="map the grids.gpkg written by gridkit partition")
    _check_color_field(g, color_by)

    m = _base_map(g, base, lang)
    layers: dict[str, str] = {}
    zoomed: dict[str, int] = {}
    if coords == "gcj02":
        notes.append(label("gcj02_note", lang))

    def add(key: str, layer: folium.map.Layer) -> None:
        layer.add_to(m)
        layers[key] = layer.get_name()

    layer: folium.map.Layer
    grid_layer, legend = _grid_layer(g, color_by, lang)
    add("grids", grid_layer)
    if buildings is not None:
        b = for_display(buildings, role="buildings", coords=coords, kinds=("polygon", "point"), notes=notes,
                        lang=lang, decimals=6)
        if max_buildings is not None and len(b) > max_buildings:
            keep = even_sample(len(b), max_buildings)
            notes.append(f"{label('buildings', lang)}: {label('shown_of', lang, shown=len(keep), total=len(b))}")
            b = b.iloc[keep]
        name = label("from_zoom", lang, layer=f"{label('buildings', lang)} ({len(b):,})", zoom=building_zoom)
        points = bool(b.geom_type.isin(["Point", "MultiPoint"]).all())  # household points
        style = ({"color": "#ffffff", "weight": 0, "fill": True, "fillColor": "#737373", "fillOpacity": 0.9,
                  "radius": 2.5} if points else
                 {"color": "#737373", "weight": 0.5, "fillColor": "#969696", "fillOpacity": 0.55})
        # off the map until street zoom (ZoomRange adds it there)
        layer = CanvasLayer(merged_shapes(b), name=name, style=style, pane=BASE_PANE, show=False)
        add("buildings", layer)
        zoomed[layer.get_name()] = building_zoom
    if streets is not None:
        s = for_display(streets, role="streets", coords=coords, kinds=("line",), notes=notes, lang=lang, decimals=6)
        layer = CanvasLayer(merged_shapes(s), name=f"{label('streets', lang)} ({len(s):,})",
                            style={"color": "#525252", "weight": 1.5, "opacity": 0.8}, pane=BASE_PANE)
        add("streets", layer)
    if communities is not None:
        c = for_display(communities, role="communities", coords=coords, kinds=("polygon",), notes=notes, lang=lang)
        layer = _context_polygons(c, f"{label('communities', lang)} ({len(c):,})",
                                  {"color": "#252525", "weight": 3, "fill": False, "opacity": 0.9})
        add("communities", layer)
    if alerts is not None:
        alert_layer = _alert_layer(g, alerts, lang, notes)
        if alert_layer is not None:
            add("alerts", alert_layer)
    if incidents is not None:
        i = for_display(incidents, role="incidents", coords=coords, kinds=("point",), notes=notes, lang=lang)
        if len(i):
            layer = incident_layer(i, lang=lang, cell_m=incident_cell_m, max_weeks=max_weeks, time=time_field,
                                   notes=notes, max_cells=max_heat_cells)
            add("incidents", layer)
            if isinstance(layer, folium.plugins.HeatMapWithTime):
                LatestWeek().add_to(m)
    if routes is not None:
        r = for_display(routes, role="routes", coords=coords, kinds=("line",), notes=notes, lang=lang, decimals=6)
        layer = line_layer(r, name=f"{label('routes', lang)} ({len(r):,})", key="grid_code",
                           fields=tooltip_fields(r, _ROUTE_FIELDS), lang=lang, weight=3)
        add("routes", layer)
    if tracks is not None:
        layer = _track_layer(tracks, coords, lang, time_field, notes)
        add("tracks", layer)
    for key, data, fields, colour, radius in (("stops", stops, _STOP_FIELDS, "#d95f02", 5),
                                              ("bases", bases, _BASE_FIELDS, "#000000", 3)):
        if data is not None:
            p = for_display(data, role=key, coords=coords, kinds=("point", "polygon"), notes=notes, lang=lang)
            layer = point_layer(p, name=f"{label(key, lang)} ({len(p):,})", fields=tooltip_fields(p, fields),
                                lang=lang, colour=colour, radius=radius)
            add(key, layer)
    if components is not None:
        comp = for_display(components, role="components", coords=coords, kinds=("point",), notes=notes, lang=lang,
                           decimals=6)
        many = len(comp) > max_points
        made = (component_canvas_layers(comp, lang=lang, cluster_below=building_zoom, notes=notes) if many
                else component_layers(comp, lang=lang, max_points=max_points, notes=notes))
        for n, layer in enumerate(made):
            add(f"components_{n}", layer)

    legend.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if notes:
        Notes(label("notes", lang), notes).add_to(m)
    # component clusters and stop points crowd out the grids at a town's zoom: they start unticked
    hidden = [k for k in layers if k.startswith("components_") or k == "stops"]
    Registry(layers, lang, hidden=hidden).add_to(m)
    ZoomRange(zoomed).add_to(m)
    log.info("map of %d grids with %s (%s, basemap %s)", len(g), ", ".join(layers), lang,
             base.name if base else "none")
    return m


def _check_color_field(g: gpd.GeoDataFrame, field: str) -> None:
    numeric = numeric_fields(g)
    if field not in numeric:
        where = "is not numeric" if field in g.columns else "is not a field of the grids"
        raise ParameterError(f"cannot colour the grids by {field!r}: it {where}", field=field,
                             hint=f"numeric grid fields: {', '.join(numeric) or 'none'}")


def _base_map(g: gpd.GeoDataFrame, base: Basemap | None, lang: Lang) -> folium.Map:
    m = page_map(g.total_bounds, base, lang,
                 css="/* the incident heat canvas (overlay pane, under its lines): transparent to the mouse */\n"
                     ".leaflet-overlay-pane > div.leaflet-zoom-hide { pointer-events: none; }")
    # grids and context sit in a pane under the overlay pane, so that the incident heat (drawn in the
    # overlay pane, below its SVG) covers the grid fills but not routes, tracks and alerts
    folium.map.CustomPane(BASE_PANE, z_index=350, pointer_events=True).add_to(m)
    return m


def _grid_layer(g: gpd.GeoDataFrame, field: str, lang: Lang) -> tuple[folium.GeoJson, branca.colormap.ColorMap]:
    values = g[field].astype(float)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    cmap = branca.colormap.LinearColormap(_RAMP, vmin=lo, vmax=hi, caption=field_alias(field, lang))
    data = g.copy()
    data["_fill"] = [cmap(v) if np.isfinite(v) else _NO_DATA for v in values]
    fields = tooltip_fields(data, GRID_TOOLTIP_FIELDS)
    if field not in fields:
        fields.append(field)
    if "dedicated" in data.columns:
        data["_dedicated"] = data["dedicated"].fillna(False).astype(bool)
    geojson = to_geojson(data, [*fields, "_fill", *(["_dedicated"] if "_dedicated" in data.columns else [])])

    def style(feature: dict) -> dict:
        p = feature["properties"]
        return {"fillColor": p["_fill"], "color": "#3b3b3b", "weight": 1.2, "fillOpacity": 0.7,
                "dashArray": "4 3" if p.get("_dedicated") else None}

    layer = PackedGeoJson(geojson, name=f"{label('grids', lang)} ({len(g):,})", style_function=style,
                           highlight_function=lambda _: {"weight": 3, "color": "#000000", "fillOpacity": 0.85},
                           tooltip=geojson_tooltip(fields, lang), pane=BASE_PANE)
    return layer, cmap


def _context_polygons(layer: gpd.GeoDataFrame, name: str, style: dict) -> folium.GeoJson:
    geojson = to_geojson(layer, [])
    return PackedGeoJson(geojson, name=name, style_function=lambda _: style, interactive=False, pane=BASE_PANE)


def _alert_layer(g: gpd.GeoDataFrame, alerts: pd.DataFrame, lang: Lang, notes: list[str]) -> folium.GeoJson | None:
    if "grid_code" not in alerts.columns:
        raise MissingFieldError("the alerts table has no grid_code field", field="grid_code",
                                hint="give the alerts.csv written by gridkit heatmap")
    table = pd.DataFrame(alerts.drop(columns=[alerts.geometry.name]) if isinstance(alerts, gpd.GeoDataFrame)
                         else alerts).copy()
    codes = table["grid_code"].astype("string").str.strip()
    missing = codes.isna() | (codes == "")
    if missing.any():
        notes.append(label("alerts_missing_codes", lang, n=int(missing.sum())))
    table = table[~missing.to_numpy()]
    codes = codes[~missing]
    known = codes.isin(g["grid_code"].astype("string"))
    if not known.all():
        unknown = sorted(set(codes[~known]))
        notes.append(label("alerts_unknown", lang, n=int((~known).sum()), codes=", ".join(unknown[:5])
                           + (" …" if len(unknown) > 5 else "")))
    if not known.any():
        return None
    preferred = [f.format(lang=lang) for f in _ALERT_FIELDS]
    if f"category_{lang}" in table.columns:  # a named category says what a code would not
        preferred = [f for f in preferred if f not in ("category", "top_category")]
    shown = [f for f in preferred if f in table.columns] or [c for c in table.columns if c != "grid_code"][:4]
    text = pd.Series([
        "; ".join(f"{field_alias(f, lang)} {v}" for f, v in zip(shown, row, strict=True) if not pd.isna(v))
        for row in table[shown].itertuples(index=False, name=None)
    ], index=table.index, dtype=object)
    per_grid = pd.DataFrame({"grid_code": codes, "alert": text})[known.to_numpy()]
    per_grid = per_grid.groupby("grid_code", sort=True).agg(alert=("alert", " | ".join),
                                                            alerts=("alert", "size"))
    hit = g.assign(grid_code=g["grid_code"].astype("string")).merge(per_grid, left_on="grid_code",
                                                                    right_index=True, how="inner")
    geojson = to_geojson(hit, ["grid_code", "alerts", "alert"])
    tooltip = folium.GeoJsonTooltip(fields=["grid_code", "alerts", "alert"],
                                    aliases=[field_alias("grid_code", lang), label("alerts", lang),
                                             field_alias("message", lang)], sticky=True)
    return PackedGeoJson(geojson, name=f"{label('alerts', lang)} ({len(hit):,})", tooltip=tooltip,
                          style_function=lambda _: {"color": "#d7191c", "weight": 4, "fillColor": "#d7191c",
                                                    "fillOpacity": 0.25})


def _track_layer(tracks: gpd.GeoDataFrame, coords: Literal["wgs84", "gcj02"], lang: Lang, time: str | None,
                 notes: list[str]) -> folium.GeoJson:
    t = for_display(tracks, role="tracks", coords=coords, kinds=("line", "point"), notes=notes, lang=lang,
                    decimals=6)
    points = t.geom_type.isin(["Point", "MultiPoint"]).all()
    if points:
        lines = lines_from_fixes(t, time=time, notes=notes, lang=lang)
        if lines is None:
            return point_layer(t, name=f"{label('tracks', lang)} ({len(t):,})",
                               fields=tooltip_fields(t, _TRACK_FIELDS), lang=lang, colour="#377eb8", radius=3)
        t = lines
    return line_layer(t, name=f"{label('tracks', lang)} ({len(t):,})", key="worker_id",
                      fields=tooltip_fields(t, _TRACK_FIELDS), lang=lang, weight=2.5, dash="6 4")
