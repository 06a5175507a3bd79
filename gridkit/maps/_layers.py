"""The point and line layers of the overview map: components, incidents, routes, tracks, stops."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Sequence

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import format_ids
from gridkit.incidents.categories import component_categories
from gridkit.maps._canvas import CanvasLayer
from gridkit.maps._data import (
    bin_points,
    drawable_times,
    even_sample,
    time_field,
    to_geojson,
    week_starts,
)
from gridkit.maps._packed import PackedGeoJson
from gridkit.maps._signoff_parts import merged_shapes
from gridkit.maps.labels import Lang, field_alias, label

log = logging.getLogger(__name__)

# one colour per major component category (01-06), then a fallback
MAJOR_COLOURS = {"01": "#1f78b4", "02": "#6a3d9a", "03": "#33a02c", "04": "#b15928", "05": "#e31a1c",
                 "06": "#ff7f00"}
OTHER_COLOUR = "#636363"
LINE_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#17becf")

# rows [lat, lon, tooltip]; the colour is the sub-layer's
_CIRCLE_CALLBACK = """
function callback(row) {
    var marker = L.circleMarker(new L.LatLng(row[0], row[1]),
        {radius: 5, color: "#ffffff", weight: 1, fillColor: %s, fillOpacity: 0.9});
    if (row[2]) { marker.bindTooltip(row[2]); }
    return marker;
}
"""


def tooltip_fields(layer: pd.DataFrame, preferred: Sequence[str]) -> list[str]:
    return [f for f in preferred if f in layer.columns]


def geojson_tooltip(fields: Sequence[str], lang: Lang) -> folium.GeoJsonTooltip | None:
    if not fields:
        return None
    return folium.GeoJsonTooltip(fields=list(fields), aliases=[field_alias(f, lang) for f in fields], sticky=True)


# ----------------------------------------------------------------------------- components


def component_categories_of(layer: pd.DataFrame) -> pd.Series:
    """The 4- or 5-digit category of each component, ``""`` when unknown.

    From a ``category`` field (numbers padded back to 4 digits) or else from 16/17-digit
    ``component_id`` values.
    """
    if "category" in layer.columns:
        raw = layer["category"]
        if pd.api.types.is_numeric_dtype(raw):
            text = raw.astype("Int64").astype("string").str.zfill(4)
        else:
            text = raw.astype("string").str.strip()
        return text.fillna("")
    if "component_id" in layer.columns:
        ids = layer["component_id"].astype("string").str.strip()
        digits = ids.str.fullmatch(r"\d{16,17}").fillna(False).astype(bool)
        cat = ids.str[6:10].where(ids.str.len() == 16, ids.str[6:11])
        return cat.where(digits, "").fillna("")
    return pd.Series("", index=layer.index, dtype="string")


def component_layers(layer: gpd.GeoDataFrame, *, lang: Lang, max_points: int, notes: list[str]
                     ) -> list[folium.plugins.FastMarkerCluster]:
    """One clustered sub-layer per major category; at most ``max_points`` markers in all."""
    total = len(layer)
    keep = even_sample(total, max_points)
    if len(keep) < total:
        notes.append(f"{label('components', lang)}: {label('shown_of', lang, shown=len(keep), total=total)}")
        log.info("components: %d of %d drawn (evenly sampled)", len(keep), total)
    layer = layer.iloc[keep]
    layer = layer[layer.geometry.notna() & ~layer.geometry.is_empty]
    pts = shapely.get_coordinates(layer.geometry.representative_point().to_numpy())
    cats = component_categories_of(layer).to_numpy(dtype=object)
    table = component_categories().set_index("code")
    name_col, major_col = f"name_{lang}", f"major_{lang}"
    names = pd.Series(cats).map(table[name_col]).fillna(pd.Series(cats)).to_numpy(dtype=object)
    majors = np.array([c[:2] if re.fullmatch(r"\d{4,5}", c or "") else "" for c in cats], dtype=object)
    ids = layer["component_id"].astype("string").fillna("").to_numpy(dtype=object) \
        if "component_id" in layer.columns else np.full(len(layer), "", dtype=object)
    out = []
    for major in sorted(set(majors), key=lambda m: (m == "", m)):
        sel = majors == major
        known = major in table.index
        title = table.loc[major, major_col] if known else label("other", lang)
        colour = MAJOR_COLOURS.get(major, OTHER_COLOUR)
        tips = [html.escape(f"{n} {i}".strip()) for n, i in zip(names[sel], ids[sel], strict=True)]
        data = [[float(y), float(x), t] for (x, y), t in zip(pts[sel], tips, strict=True)]
        name = f"{label('components', lang)} · {title} ({int(sel.sum()):,})"
        out.append(folium.plugins.FastMarkerCluster(data, callback=_CIRCLE_CALLBACK % json.dumps(colour), name=name,
                                                    options={"disableClusteringAtZoom": 19}))
    return out


def component_canvas_layers(layer: gpd.GeoDataFrame, *, lang: Lang, cluster_below: int, notes: list[str]
                            ) -> list[CanvasLayer]:
    """One canvas point layer per major category, every component drawn (no markers, no tooltips).

    Below ``cluster_below`` zoom each layer draws, per square of about 40 screen pixels, one
    circle with the number of its components there.
    """
    layer = layer[layer.geometry.notna() & ~layer.geometry.is_empty]
    points = gpd.GeoSeries(layer.geometry.representative_point().to_numpy(), crs=layer.crs)
    cats = component_categories_of(layer).to_numpy(dtype=object)
    majors = np.array([c[:2] if re.fullmatch(r"\d{4,5}", c or "") else "" for c in cats], dtype=object)
    table = component_categories().set_index("code")
    out = []
    for major in sorted(set(majors), key=lambda m: (m == "", m)):
        sel = majors == major
        title = table.loc[major, f"major_{lang}"] if major in table.index else label("other", lang)
        colour = MAJOR_COLOURS.get(major, OTHER_COLOUR)
        shapes = merged_shapes(gpd.GeoDataFrame(geometry=points[sel]))  # per square of 250 m: shorter steps
        out.append(CanvasLayer(shapes, name=f"{label('components', lang)} · {title} ({int(sel.sum()):,})",
                               style={"color": "#ffffff", "weight": 1, "fill": True, "fillColor": colour,
                                      "fillOpacity": 0.9, "radius": 3.5}, cluster_below=cluster_below))
    notes.append(label("components_canvas", lang, n=len(layer), zoom=cluster_below))
    log.info("components: %d drawn on canvas layers, clustered below zoom %d", len(layer), cluster_below)
    return out


# ----------------------------------------------------------------------------- incidents


def incident_layer(layer: gpd.GeoDataFrame, *, lang: Lang, cell_m: float, max_weeks: int,
                   time: str | None, notes: list[str], max_cells: int = 100_000) -> folium.map.Layer:
    """A heat layer with a weekly time slider, or a static one when there are no times.

    Incidents are counted per week on square cells of about ``cell_m`` metres; at most the
    latest ``max_weeks`` weeks are kept. When that gives more than ``max_cells`` cell-weeks
    (the page's weight), the cell size doubles until they fit; the notes give the size
    used. Weights are counts divided by the 99th percentile of the cell-week counts
    (capped at 1), the same scale for every week.
    """
    wanted = cell_m
    layer = layer[layer.geometry.notna() & ~layer.geometry.is_empty]
    pts = shapely.get_coordinates(layer.geometry.representative_point().to_numpy())
    field = time_field(layer, time)
    times = drawable_times(layer[field], field=field) if field else None
    if times is None or times.isna().all():
        cells, cell_m = _bin_within(pts[:, 0], pts[:, 1], None, cell_m=cell_m, max_cells=max_cells)
        _note_grown(cell_m, wanted, max_cells, lang, notes)
        scale = _scale(cells["count"].to_numpy())
        notes.append(label("incident_static", lang, n=len(layer)))
        data = _heat_rows(cells, scale)
        return folium.plugins.HeatMap(data, name=f"{label('incidents', lang)} ({len(layer):,})", radius=15,
                                      max_zoom=18)
    ok = times.notna().to_numpy()
    if not ok.all():
        notes.append(label("incident_untimed", lang, n=int((~ok).sum())))
        log.warning("%s: %d incidents have a %s that is not a time (features %s): drawn in no week, "
                    "the page's notes say so; fix their %s to read as ISO 8601 times",
                    layer.attrs.get("source", "incidents"), int((~ok).sum()), field,
                    format_ids(list(layer.index[~ok])), field)
    weeks = week_starts(times[ok])
    all_weeks = pd.date_range(weeks.min(), weeks.max(), freq="7D")
    if len(all_weeks) > max_weeks:
        notes.append(label("incident_weeks_cut", lang, weeks=max_weeks, total=len(all_weeks)))
        all_weeks = all_weeks[-max_weeks:]
    keep = weeks.isin(all_weeks).to_numpy()
    cells, cell_m = _bin_within(pts[ok][keep, 0], pts[ok][keep, 1], weeks.to_numpy()[keep], cell_m=cell_m,
                                max_cells=max_cells)
    _note_grown(cell_m, wanted, max_cells, lang, notes)
    scale = _scale(cells["count"].to_numpy())
    frames: list[list[list[float]]] = [[] for _ in all_weeks]
    for pos, row in zip(all_weeks.get_indexer(pd.DatetimeIndex(cells["key"])), _heat_rows(cells, scale),
                        strict=True):
        frames[pos].append(row)
    shown = int(keep.sum())
    notes.append(label("incident_bins", lang, n=shown, cell=int(cell_m), weeks=len(all_weeks)))
    index = [w.strftime("%Y-%m-%d") for w in all_weeks]
    return folium.plugins.HeatMapWithTime(
        frames, index=index, name=f"{label('incidents_by_week', lang)} ({shown:,})",
        radius=18, min_opacity=0.1, max_opacity=0.8, auto_play=False, max_speed=4, position="bottomleft",
    )


def _bin_within(lon: np.ndarray, lat: np.ndarray, keys: np.ndarray | None, *, cell_m: float, max_cells: int
                ) -> tuple[pd.DataFrame, float]:
    """:func:`bin_points` on cells of ``cell_m``, doubled until at most ``max_cells`` rows; the rows and the size."""
    cells = bin_points(lon, lat, keys, cell_m=cell_m)
    while len(cells) > max_cells:
        cell_m *= 2
        cells = bin_points(lon, lat, keys, cell_m=cell_m)
    return cells, cell_m


def _note_grown(cell_m: float, wanted: float, max_cells: int, lang: Lang, notes: list[str]) -> None:
    if cell_m > wanted:
        notes.append(label("incident_cells_grown", lang, cell=int(cell_m), wanted=int(wanted), cells=max_cells))


def _heat_rows(cells: pd.DataFrame, scale: float) -> list[list[float]]:
    """``[lat, lon, weight]`` per cell (6 decimals, about 0.1 m), weights on a common scale capped at 1 (3 decimals)."""
    weight = np.round(np.minimum(cells["count"].to_numpy(dtype=float) / scale, 1.0), 3)
    return np.column_stack([np.round(cells["lat"].to_numpy(dtype=float), 6),
                            np.round(cells["lon"].to_numpy(dtype=float), 6), weight]).tolist()


def _scale(counts: np.ndarray) -> float:
    return max(float(np.percentile(counts, 99)) if len(counts) else 1.0, 1.0)


# ----------------------------------------------------------------------------- lines and points


def line_layer(layer: gpd.GeoDataFrame, *, name: str, key: str | None, fields: Sequence[str], lang: Lang,
               weight: float, dash: str | None = None) -> folium.GeoJson:
    """Lines coloured by ``key`` (a route per grid, a track per worker) with a tooltip."""
    layer = layer.copy()
    if key and key in layer.columns:
        values = layer[key].astype("string").fillna("")
        order = {v: i for i, v in enumerate(sorted(values.unique()))}
        layer["_colour"] = [LINE_COLOURS[order[v] % len(LINE_COLOURS)] for v in values]
    else:
        layer["_colour"] = LINE_COLOURS[0]
    data = to_geojson(layer, [*fields, "_colour"])

    def style(feature: dict) -> dict:
        return {"color": feature["properties"]["_colour"], "weight": weight, "opacity": 0.85,
                "dashArray": dash}

    return PackedGeoJson(data, name=name, style_function=style, tooltip=geojson_tooltip(fields, lang),
                          highlight_function=lambda _: {"weight": weight + 3, "opacity": 1.0})


def point_layer(layer: gpd.GeoDataFrame, *, name: str, fields: Sequence[str], lang: Lang, colour: str,
                radius: float) -> folium.GeoJson:
    layer = layer.copy()
    layer.geometry = layer.geometry.representative_point()
    data = to_geojson(layer, fields)
    marker = folium.CircleMarker(radius=radius, color="#ffffff", weight=1.5, fill=True, fill_color=colour,
                                 fill_opacity=0.95, interactive=bool(fields))
    return PackedGeoJson(data, name=name, marker=marker, tooltip=geojson_tooltip(fields, lang))


def lines_from_fixes(fixes: gpd.GeoDataFrame, *, time: str | None, notes: list[str], lang: Lang
                     ) -> gpd.GeoDataFrame | None:
    """Track lines from GPS fixes: one line per worker and day, fixes in time order.

    Needs a ``worker_id`` and a time field; returns None without them (the fixes are then
    drawn as points). Worker-days with a single fix stay points.
    """
    field = time_field(fixes, time)
    if "worker_id" not in fixes.columns or field is None:
        return None
    times = drawable_times(fixes[field], field=field)
    xy = shapely.get_coordinates(fixes.geometry.representative_point().to_numpy())
    frame = pd.DataFrame({"worker_id": fixes["worker_id"].astype("string").fillna("").to_numpy(),
                          "t": times.to_numpy(), "x": xy[:, 0], "y": xy[:, 1]})
    untimed = frame["t"].isna()
    if untimed.any():
        notes.append(label("fixes_untimed", lang, n=int(untimed.sum())))
    frame = frame[~untimed].sort_values(["worker_id", "t"], kind="stable")
    frame["date"] = frame["t"].dt.strftime("%Y-%m-%d")
    groups = frame.groupby(["worker_id", "date"], sort=True)
    sizes = groups.size()
    multi = sizes[sizes >= 2]
    if len(multi) < len(sizes):
        notes.append(label("fixes_single", lang, n=int((sizes < 2).sum())))
    notes.append(label("fixes_lines", lang, n=int(multi.sum()), lines=len(multi)))
    frame = frame.set_index(["worker_id", "date"]).loc[multi.index].reset_index()
    codes = np.repeat(np.arange(len(multi)), multi.to_numpy())
    lines = shapely.linestrings(frame[["x", "y"]].to_numpy(), indices=codes)
    out = gpd.GeoDataFrame({"worker_id": multi.index.get_level_values(0).to_numpy(),
                            "date": multi.index.get_level_values(1).to_numpy(),
                            "fixes": multi.to_numpy()}, geometry=lines, crs=fixes.crs)
    return out
