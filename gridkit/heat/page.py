"""The incident heat map page: a self-contained HTML file that needs no network.

:func:`heatmap_page` builds a Leaflet map with the ``folium-offline`` package
(:mod:`offlinefolium`), which embeds Leaflet and the heat-map plugins' JavaScript and CSS
in the page itself. There is no tile basemap: the grid outlines give the context, so the
page opens the same on an intranet with no internet access. Layers:

- grid outlines (网格), with the grid code and community in a tooltip;
- the incident rate per grid (per 100 households, and per km², hidden at first);
- a heat layer of all incidents (Leaflet.heat);
- a heat layer with one frame per ISO week (HeatMapWithTime, with a time slider);
- a layer control and a legend of the rate colours.

Examples
--------
>>> import shapely
>>> grids = gpd.GeoDataFrame({"grid_code": ["520199001001001"]},
...                          geometry=[shapely.box(106.61, 26.46, 106.63, 26.48)], crs=4490)
>>> pts = gpd.GeoDataFrame({"reported_at": ["2024-06-03", "2024-06-12"]},
...                        geometry=shapely.points([106.62, 106.625], [26.47, 26.472]), crs=4490)
>>> html = heatmap_page(pts, grids).get_root().render()
>>> '<script src="http' in html, "L.heatLayer" in html, "2024-W23" in html
(False, True, True)
"""

from __future__ import annotations

import html as _html
import logging
import os
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import Figure

from gridkit.heat.density import reported_times

__all__ = ["heatmap_page", "week_frames", "write_page"]

log = logging.getLogger(__name__)

_COLOURS = ("#fff7ec", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000")  # OrRd, 5 classes
_NO_DATA = "#dddddd"
_RATE_LAYERS = (
    ("per_100_households", "每百户事件数 incidents per 100 households", False),
    ("per_km2", "每平方公里事件数 incidents per km²", False),
)


def week_frames(
    incidents: gpd.GeoDataFrame, *, time_field: str = "reported_at", max_points: int = 50_000
) -> tuple[list[list[list[float]]], list[str]]:
    """Incident positions per ISO week, for a time-slider heat layer.

    Every week from the first to the last reported incident gets a frame (empty weeks
    too), labelled ``YYYY-Www`` (ISO year and week). Positions are ``[lat, lon]`` in
    WGS84, or ``[lat, lon, count]`` when points are binned (see :func:`heatmap_page`).

    Examples
    --------
    >>> import shapely
    >>> pts = gpd.GeoDataFrame({"reported_at": ["2024-01-01", "2024-01-17"]},
    ...                        geometry=shapely.points([106.6, 106.7], [26.4, 26.5]), crs=4326)
    >>> frames, labels = week_frames(pts)
    >>> labels, [len(f) for f in frames]
    (['2024-W01', '2024-W02', '2024-W03'], [1, 0, 1])
    """
    times = reported_times(incidents, field=time_field)
    if times.empty:
        return [], []
    monday = (times.dt.normalize() - pd.to_timedelta(times.dt.day_of_week, unit="D")).to_numpy()
    weeks = pd.date_range(monday.min(), monday.max(), freq="7D")
    frame_of = ((monday - weeks[0].to_datetime64()) // np.timedelta64(7, "D")).astype(np.int64)
    latlon = _latlon(incidents)
    budget = max_points if len(latlon) <= max_points else max(1, max_points // len(weeks))
    frames = [_thin(latlon[frame_of == i], budget) for i in range(len(weeks))]
    iso = weeks.isocalendar()
    labels = [f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"])]
    return frames, labels


def _latlon(incidents: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    geoms = incidents.geometry.to_crs(4326)
    return np.column_stack([geoms.y.to_numpy(), geoms.x.to_numpy()])


def _thin(latlon: np.ndarray, max_points: int) -> list[list[float]]:
    """``[lat, lon]`` of every point when few enough, else ``[lat, lon, count]`` of occupied bins.

    Bins are cells of 10⁻⁵ degree (about 1 m), then 10⁻⁴, ... until few enough remain.
    """
    if len(latlon) <= max_points:
        return np.round(latlon, 6).tolist()
    for decimals in (5, 4, 3, 2, 1):
        cells, counts = np.unique(np.round(latlon, decimals), axis=0, return_counts=True)
        if len(cells) <= max_points:
            break
    return np.column_stack([cells, counts]).tolist()


def heatmap_page(
    incidents: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    rates: pd.DataFrame | None = None,
    grid_field: str = "grid_code",
    time_field: str = "reported_at",
    title: str | None = None,
    max_points: int = 50_000,
    radius: int = 15,
) -> Any:
    """Build the offline heat map page of incidents over the grids.

    Parameters
    ----------
    incidents
        Incident points with a CRS and ``time_field`` (for the weekly frames).
    grids
        Grid polygons with ``grid_field`` (and ``community_name`` for tooltips if present).
    rates
        From :func:`gridkit.heat.rates_for_grids`; None: no rate layers.
    title
        Shown at the top of the page.
    max_points
        Above this many incidents, the heat layers show counts per small cell (about
        1 m, coarser if needed) instead of every point, keeping the page light.
    radius
        Heat radius in screen pixels.

    Returns
    -------
    offlinefolium.Map
        Save it with :func:`write_page`.
    """
    import offlinefolium
    from offlinefolium.plugins import HeatMap, HeatMapWithTime

    outline = grids.to_crs(4326)
    west, south, east, north = outline.total_bounds
    fmap = offlinefolium.Map(tiles=None, control_scale=True, prefer_canvas=False)
    fmap.fit_bounds([[south, west], [north, east]])

    tooltip_fields = [f for f in (grid_field, "community_name", "households") if f in outline.columns]
    plain = outline[[*tooltip_fields, "geometry"]].copy()
    for column in tooltip_fields:
        plain[column] = plain[column].astype(str)
    offlinefolium.GeoJson(
        plain.to_json(drop_id=True), name="网格 grids",
        style_function=lambda _: {"color": "#333333", "weight": 1, "fill": False},
        tooltip=offlinefolium.GeoJsonTooltip(fields=tooltip_fields) if tooltip_fields else None,
    ).add_to(fmap)

    if rates is not None:
        for column, label, show in _RATE_LAYERS:
            _rate_layer(outline, rates, column, label, grid_field, show).add_to(fmap)
        _figure(fmap).html.add_child(offlinefolium.Element(_legend(rates)))

    data = _thin(_latlon(incidents), max_points)
    HeatMap(data, name="事件热力 incident heat", radius=radius, blur=radius, min_opacity=0.3).add_to(fmap)
    frames, labels = week_frames(incidents, time_field=time_field, max_points=max_points)
    if frames:
        HeatMapWithTime(frames, index=labels, name="按周热力 heat by ISO week", radius=radius, show=False,
                        max_opacity=0.8, auto_play=False, position="bottomleft").add_to(fmap)
    offlinefolium.LayerControl(collapsed=False).add_to(fmap)
    heading = title or f"事件热力图 incident heat map: {len(incidents):,} incidents"
    _figure(fmap).header.add_child(offlinefolium.Element(
        f"<title>{_html.escape(heading)}</title><meta charset='utf-8'>"))
    _figure(fmap).html.add_child(offlinefolium.Element(
        "<div id='gridkit-title' style='position:fixed;top:8px;left:60px;z-index:1000;background:white;"
        f"padding:4px 8px;border:1px solid #999;font:14px sans-serif'>{_html.escape(heading)}</div>"))
    log.info("heat map page: %d incidents, %d grids, %d weekly frames", len(incidents), len(grids), len(frames))
    return fmap


def _breaks(values: np.ndarray) -> np.ndarray:
    """Class limits: quintiles of the finite values (unique, at least two)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.array([0.0, 1.0])
    limits = np.unique(np.quantile(finite, np.linspace(0, 1, len(_COLOURS) + 1)))
    return limits if len(limits) >= 2 else np.array([limits[0], limits[0] + 1.0])


def _colour(value: float, limits: np.ndarray) -> str:
    if not np.isfinite(value):
        return _NO_DATA
    i = int(np.clip(np.searchsorted(limits, value, side="right") - 1, 0, len(limits) - 2))
    return _COLOURS[min(i, len(_COLOURS) - 1)]


def _rate_layer(
    outline: gpd.GeoDataFrame, rates: pd.DataFrame, column: str, label: str, grid_field: str, show: bool
) -> Any:
    import offlinefolium

    values = rates[column].reindex(outline[grid_field].astype(str)).to_numpy(dtype=float)
    limits = _breaks(values)
    shown = pd.Series(np.round(values, 2)).astype(str).replace("nan", "—").to_numpy()
    layer = gpd.GeoDataFrame(
        {grid_field: outline[grid_field].astype(str).to_numpy(), "rate": shown,
         "incidents": rates["incidents"].reindex(outline[grid_field].astype(str)).fillna(0).astype(int)
         .astype(str).to_numpy(),
         "fill": [_colour(v, limits) for v in values]},
        geometry=outline.geometry.to_numpy(), crs=outline.crs,
    )
    return offlinefolium.GeoJson(
        layer.to_json(drop_id=True), name=label, show=show,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.6, "color": "#555555",
                                  "weight": 0.5},
        tooltip=offlinefolium.GeoJsonTooltip(fields=[grid_field, "incidents", "rate"],
                                             aliases=["网格 grid", "事件 incidents", label]),
    )


def _legend(rates: pd.DataFrame) -> str:
    rows = []
    for column, label, _ in _RATE_LAYERS:
        limits = _breaks(rates[column].to_numpy(dtype=float))
        items = "".join(
            f"<div><span style='display:inline-block;width:14px;height:10px;background:{_COLOURS[i]};"
            f"border:1px solid #999'></span> {limits[i]:.1f}–{limits[i + 1]:.1f}</div>"
            for i in range(min(len(limits) - 1, len(_COLOURS)))
        )
        rows.append(f"<div style='margin-top:4px'><b>{_html.escape(label)}</b>{items}</div>")
    rows.append(f"<div><span style='display:inline-block;width:14px;height:10px;background:{_NO_DATA};"
                "border:1px solid #999'></span> 无住户 no households</div>")
    return ("<div id='gridkit-legend' style='position:fixed;bottom:90px;right:10px;z-index:1000;background:white;"
            "padding:6px 8px;border:1px solid #999;font:12px sans-serif'>" + "".join(rows) + "</div>")


def write_page(fmap: Any, path: str | os.PathLike[str]) -> Path:
    """Write a map page atomically (a temporary file beside ``path``, then moved in)."""
    from gridkit.io import write_text

    path = Path(path)
    write_text(path, fmap.get_root().render())
    return path


def _figure(fmap: Any) -> Figure:
    """The page a map sits in (folium types ``get_root`` as a plain Element)."""
    return cast(Figure, fmap.get_root())
