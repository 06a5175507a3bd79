"""The partition map as a page a planner can sign off.

:func:`signoff_map` draws a partition so that a planner can see why each boundary runs
where it does and which grids need a second look:

- streets and buildings as context, buildings only from street zoom (``building_zoom``);
  both cut to the neighbourhood of the grids, merged per square of about 250 m and drawn
  on a canvas from packed coordinates of about 0.1 m (:class:`gridkit.maps._canvas.CanvasLayer`),
  so the page stays light whatever the county;
- each grid filled by its households against its community's mean grid size (the
  regular, non-dedicated grids of that community), its serial (the last three digits of
  ``grid_code``) as a label from ``label_zoom`` on, and households, the community mean and
  the deviation in its tooltip;
- grids that break a rule (``within_bounds`` false, or named in the ``issues`` table of
  the partition) outlined in red, grids outside the tolerance in orange, the reasons in
  the tooltip; problems of a whole community in the notes box;
- a legend, and the map opening at the extent of the grids.

:func:`signoff_table` is the table behind it. Save the map with
:func:`gridkit.maps.save_map` (``offline=True``: no network needed).

Examples
--------
>>> import geopandas, shapely
>>> grids = geopandas.GeoDataFrame(
...     {"grid_code": ["520199001001001", "520199001001002"], "households": [250, 350]},
...     geometry=[shapely.box(106.61, 26.46, 106.62, 26.47), shapely.box(106.62, 26.46, 106.63, 26.47)],
...     crs=4490)
>>> signoff_table(grids, tolerance=0.1)[["mean_households", "deviation", "within_tolerance"]]
   mean_households  deviation  within_tolerance
0            300.0  -0.166667             False
1            300.0   0.166667             False
>>> m = signoff_map(grids, communities=None, tolerance=0.2, lang="en")
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import MissingFieldError, ParameterError, format_ids
from gridkit.maps._canvas import CanvasLayer
from gridkit.maps._data import for_display, require_rows, to_geojson
from gridkit.maps._packed import PackedGeoJson
from gridkit.maps._page import Notes, Registry, ZoomRange, page_map
from gridkit.maps._signoff_parts import (
    CONTEXT_PANE,
    GRID_PANE,
    OUTLINE_PANE,
    SIGNOFF_CSS,
    Legend,
    SerialLabels,
    merged_shapes,
    near,
)
from gridkit.maps.labels import Lang, check_lang, field_alias, has_label, label

__all__ = ["RULE_COLOUR", "TOLERANCE_COLOUR", "signoff_map", "signoff_table"]

log = logging.getLogger(__name__)

#: Outline of a grid that breaks a rule, and of one outside the tolerance.
RULE_COLOUR = "#e31a1c"
TOLERANCE_COLOUR = "#ff7f00"
_LINE = "#3b3b3b"
# households against the community mean: far below, below, about the mean, above, far above
_CLASS_FILLS = ("#7b3294", "#c2a5cf", "#f7f7f7", "#a6dba0", "#008837")
_DEDICATED_FILL = "#bdbdbd"
_NO_DATA_FILL = "#ffffff"
_EPS = 1e-9


def signoff_table(grids: pd.DataFrame, *, issues: pd.DataFrame | None = None, tolerance: float = 0.2,
                  lang: Lang = "zh") -> pd.DataFrame:
    """Per grid: its community's mean grid size, its deviation, and the rules it breaks.

    Parameters
    ----------
    grids
        ``grid_code`` and ``households``; ``community_code`` (else the code's first 12
        digits), ``dedicated``, ``within_bounds`` and ``note`` (the partition's reason)
        when present.
    issues
        Rules not met, one row each (the partition's ``issues``): ``rule``, ``reason`` and
        ``grid_code`` (empty for a row about a whole community).
    tolerance
        The share of the community mean a grid may deviate by (0.2: ±20 %).
    lang
        Language of the reasons gridkit words itself.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``grids``: ``community_code``, ``mean_households`` (mean of the
        community's regular, non-dedicated grids), ``regular_grids``, ``deviation``
        (households / mean - 1; NaN for dedicated grids), ``within_tolerance``,
        ``breaks_rule`` and ``reasons`` (a list of texts per grid).
    """
    lang = check_lang(lang)
    tol = _check_tolerance(tolerance)
    for field in ("grid_code", "households"):
        if field not in grids.columns:
            raise MissingFieldError(f"the grids have no {field} field", field=field,
                                    hint="give the grids layer written by gridkit partition")
    codes = grids["grid_code"].astype("string").fillna("")
    community = (grids["community_code"].astype("string").fillna("") if "community_code" in grids.columns
                 else codes.str[:-3])
    households = pd.to_numeric(grids["households"], errors="coerce").astype(float)
    dedicated = (grids["dedicated"].fillna(False).astype(bool) if "dedicated" in grids.columns
                 else pd.Series(False, index=grids.index))
    regular = ~dedicated & households.notna()
    per = households[regular].groupby(community[regular]).agg(["mean", "size"])
    mean = community.map(per["mean"]).astype(float)
    n_regular = community.map(per["size"]).fillna(0).astype(int)
    deviation = (households / mean - 1).where(regular)
    within = ~(deviation.abs() > tol + _EPS)
    table = pd.DataFrame({"community_code": community.astype(str), "mean_households": mean,
                          "regular_grids": n_regular, "deviation": deviation, "within_tolerance": within},
                         index=grids.index)
    reasons, breaks = _rule_reasons(grids, codes, issues, lang)
    table["breaks_rule"] = breaks
    tol_text = f"{tol * 100:g} %"
    table["reasons"] = [
        rules + ([] if ok else [label("outside_tolerance", lang, dev=_percent(dev), tol=tol_text)])
        for rules, ok, dev in zip(reasons, within, deviation, strict=True)
    ]
    return table


def signoff_map(
    grids: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None,
    streets: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    issues: pd.DataFrame | None = None,
    tolerance: float = 0.2,
    lang: Lang = "zh",
    building_zoom: int = 16,
    label_zoom: int = 14,
) -> folium.Map:
    """The partition drawn for sign-off: context, serials, balance, rule breaks, a legend.

    Parameters
    ----------
    grids
        The grids (``grids`` layer of ``grids.gpkg``): ``grid_code`` and ``households``;
        ``community_code``, ``community_name``, ``dedicated``, ``dedicated_name``,
        ``within_bounds`` and ``note`` are used when present. Any CRS.
    communities
        Community outlines, drawn over the grids (None: none drawn).
    streets, buildings
        Context: street lines, building footprints (or household points). Only those
        near the grids are drawn; buildings from ``building_zoom`` on.
    issues
        The partition's rules not met (``rule``, ``grid_code``, ``reason``): grids named
        there are outlined in :data:`RULE_COLOUR` with the reason; rows about a whole
        community (no ``grid_code``) go to the notes box.
    tolerance
        Grids deviating from their community's mean by more than this share are outlined
        in :data:`TOLERANCE_COLOUR`.
    lang
        ``"zh"`` (default) or ``"en"``.
    building_zoom, label_zoom
        The zoom levels from which buildings and grid serials are drawn.

    Raises
    ------
    MissingFieldError
        Grids without ``grid_code`` or ``households``; issues without ``rule`` or ``reason``.
    ParameterError
        A tolerance below 0, a bad language or zoom level.
    """
    lang = check_lang(lang)
    for name, zoom in (("building_zoom", building_zoom), ("label_zoom", label_zoom)):
        if not 0 <= zoom <= 20:
            raise ParameterError(f"{name} must be a zoom level from 0 to 20, got {zoom}", field=name)
    notes: list[str] = []
    g = for_display(grids, role="grids", kinds=("polygon",), notes=notes, lang=lang, decimals=6)
    require_rows(g, "grids")
    table = signoff_table(g, issues=issues, tolerance=tolerance, lang=lang)
    notes.extend(_community_notes(g, issues, lang))

    m = page_map(g.total_bounds, None, lang, css=SIGNOFF_CSS)
    for pane, z, events in ((CONTEXT_PANE, 340, False), (GRID_PANE, 350, True), (OUTLINE_PANE, 360, False)):
        folium.map.CustomPane(pane, z_index=z, pointer_events=events).add_to(m)
    layers: dict[str, str] = {}
    zoomed: dict[str, int] = {}

    def add(key: str, layer: folium.map.Layer, min_zoom: int | None = None) -> None:
        layer.add_to(m)
        layers[key] = layer.get_name()
        if min_zoom is not None:
            zoomed[layer.get_name()] = min_zoom

    extent = g.total_bounds
    if streets is not None:
        s = near(for_display(streets, role="streets", kinds=("line",), notes=notes, lang=lang, decimals=6),
                 extent, role="streets", notes=notes, lang=lang)
        add("streets", CanvasLayer(merged_shapes(s), name=f"{label('streets', lang)} ({len(s):,})",
                                   style={"color": "#8c8c8c", "weight": 2, "opacity": 0.9}, pane=CONTEXT_PANE))
    if buildings is not None:
        b = near(for_display(buildings, role="buildings", kinds=("polygon", "point"), notes=notes, lang=lang,
                             decimals=6), extent, role="buildings", notes=notes, lang=lang)
        name = label("from_zoom", lang, layer=f"{label('buildings', lang)} ({len(b):,})", zoom=building_zoom)
        points = bool(len(b)) and bool(b.geom_type.isin(["Point", "MultiPoint"]).all())
        style = ({"color": "#737373", "weight": 0, "fill": True, "fillColor": "#737373", "fillOpacity": 0.8,
                  "radius": 2} if points else
                 {"color": "#737373", "weight": 0.6, "fillColor": "#969696", "fillOpacity": 0.6})
        add("buildings", CanvasLayer(merged_shapes(b), name=name, style=style, pane=CONTEXT_PANE, show=False),
            building_zoom)
    add("grids", _grid_layer(g, table, float(tolerance), lang))
    if communities is not None:
        c = for_display(communities, role="communities", kinds=("polygon",), notes=notes, lang=lang, decimals=6)
        add("communities", PackedGeoJson(to_geojson(c, []), name=f"{label('communities', lang)} ({len(c):,})",
                                          style_function=lambda _: {"color": "#252525", "weight": 3, "fill": False,
                                                                    "opacity": 0.9},
                                          interactive=False, pane=OUTLINE_PANE))
    add("serials", _serial_layer(g, table, lang, label_zoom), label_zoom)  # ZoomRange adds it from label_zoom

    Legend(_legend_html(table, tolerance, lang, building_zoom if buildings is not None else None,
                        communities is not None)).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if notes:
        Notes(label("notes", lang), notes).add_to(m)
    Registry(layers, lang, hidden=[]).add_to(m)
    ZoomRange(zoomed).add_to(m)
    log.info("sign-off map of %d grids: %d break a rule, %d outside the tolerance of %g", len(g),
             int(table["breaks_rule"].sum()), int((~table["within_tolerance"] & ~table["breaks_rule"]).sum()),
             tolerance)
    return m


# ----------------------------------------------------------------------------- the table


def _check_tolerance(tolerance: float) -> float:
    tol = float(tolerance)
    if not np.isfinite(tol) or tol < 0:
        raise ParameterError(f"the tolerance must be a share of the mean of 0 or more, got {tolerance}",
                             field="tolerance", hint="give e.g. 0.2 for ±20 %")
    return tol


def _percent(value: float) -> str:
    return f"{value * 100:+.0f} %"


def _rule_name(rule: str, lang: Lang) -> str:
    return label(f"rule_{rule}", lang) if has_label(f"rule_{rule}") else rule


def _issue_rows(issues: pd.DataFrame | None) -> pd.DataFrame:
    """The issues with ``rule``, ``reason``, ``grid_code`` and ``community_code`` as stripped text."""
    columns = ["rule", "reason", "grid_code", "community_code"]
    if issues is None or len(issues) == 0:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in columns})
    for field in ("rule", "reason"):
        if field not in issues.columns:
            raise MissingFieldError(f"the issues table has no {field} field", field=field,
                                    hint="give the partition's issues (rule, community_code, grid_code, reason)")
    out = pd.DataFrame(index=issues.index)
    for c in columns:
        values = issues[c] if c in issues.columns else pd.Series("", index=issues.index)
        out[c] = values.astype("string").fillna("").str.strip().astype(str)
    return out


def _rule_reasons(grids: pd.DataFrame, codes: pd.Series, issues: pd.DataFrame | None, lang: Lang
                  ) -> tuple[list[list[str]], pd.Series]:
    """The texts of the rules each grid breaks, and whether it breaks any."""
    rows = _issue_rows(issues)
    rows = rows[rows["grid_code"] != ""]
    by_code: dict[str, list[str]] = {}
    bounds_named: set[str] = set()
    for rule, reason, code in zip(rows["rule"], rows["reason"], rows["grid_code"], strict=True):
        text = f"{_rule_name(rule, lang)}：{reason}" if lang == "zh" else f"{_rule_name(rule, lang)}: {reason}"
        by_code.setdefault(code, [])
        if text not in by_code[code]:
            by_code[code].append(text)
        if rule == "households_within_bounds":
            bounds_named.add(code)
    out_of_bounds = (~grids["within_bounds"].fillna(True).astype(bool) if "within_bounds" in grids.columns
                     else pd.Series(False, index=grids.index))
    notes = (grids["note"].astype("string").fillna("").str.strip() if "note" in grids.columns
             else pd.Series("", index=grids.index))
    reasons = []
    for code, off, note in zip(codes, out_of_bounds, notes, strict=True):
        texts = list(by_code.get(code, []))
        if off and code not in bounds_named:
            name = _rule_name("households_within_bounds", lang)
            texts.insert(0, f"{name}{'：' if lang == 'zh' else ': '}{note}" if note else name)
        reasons.append(texts)
    return reasons, pd.Series([bool(t) for t in reasons], index=grids.index)


def _community_notes(grids: pd.DataFrame, issues: pd.DataFrame | None, lang: Lang) -> list[str]:
    """Notes for issues about a whole community, and for issues naming grids not in the grids."""
    rows = _issue_rows(issues)
    codes = set(grids["grid_code"].astype(str))
    names = {}
    if "community_code" in grids.columns and "community_name" in grids.columns:
        names = dict(zip(grids["community_code"].astype(str), grids["community_name"].astype(str), strict=True))
    notes = []
    whole = rows[rows["grid_code"] == ""]
    for rule, reason, community in zip(whole["rule"], whole["reason"], whole["community_code"], strict=True):
        where = f"{names.get(community, '')} {community}".strip() or "-"
        notes.append(label("issue_of_community", lang, community=where, rule=_rule_name(rule, lang), reason=reason))
    unknown = sorted(set(rows.loc[(rows["grid_code"] != "") & ~rows["grid_code"].isin(codes), "grid_code"]))
    if unknown:
        notes.append(label("issues_unknown", lang, n=len(unknown), codes=format_ids(unknown, limit=5)))
    return notes


# ----------------------------------------------------------------------------- the layers


def _fill(deviation: float, dedicated: bool, tol: float) -> str:
    if dedicated:
        return _DEDICATED_FILL
    if not np.isfinite(deviation):
        return _NO_DATA_FILL
    half = tol / 2
    edges = (-tol - _EPS, -half - _EPS, half + _EPS, tol + _EPS)
    return _CLASS_FILLS[int(np.searchsorted(edges, deviation, side="right"))]


def _grid_layer(g: gpd.GeoDataFrame, table: pd.DataFrame, tol: float, lang: Lang) -> folium.GeoJson:
    dedicated = (g["dedicated"].fillna(False).astype(bool) if "dedicated" in g.columns
                 else pd.Series(False, index=g.index))
    status = np.where(table["breaks_rule"], "rule", np.where(table["within_tolerance"], "ok", "tolerance"))
    data = g[[g.geometry.name]].copy()
    fields = [f for f in ("grid_code", "community_name", "dedicated_name", "households", "dedicated") if f in g.columns]
    rows = pd.DataFrame(g[fields]).to_dict("records")
    data["_tip"] = [_tooltip(row, t, lang) for row, t in zip(
        rows, table[["deviation", "mean_households", "regular_grids", "reasons"]].to_dict("records"), strict=True)]
    data["_fill"] = [_fill(d, ded, tol) for d, ded in zip(table["deviation"], dedicated, strict=True)]
    data["_stroke"] = np.select([status == "rule", status == "tolerance"], [RULE_COLOUR, TOLERANCE_COLOUR], _LINE)
    data["_status"] = status
    data["_dedicated"] = dedicated.to_numpy()
    data["grid_code"] = g["grid_code"].astype(str).to_numpy()
    # warnings drawn last, so their outlines lie on top of their neighbours'
    order = np.argsort(pd.Series(status).map({"ok": 0, "tolerance": 1, "rule": 2}).to_numpy(), kind="stable")
    geojson = to_geojson(data.iloc[order], ["grid_code", "_tip", "_fill", "_stroke", "_status", "_dedicated"])

    def style(feature: dict) -> dict:
        p = feature["properties"]
        warn = p["_status"] != "ok"
        return {"fillColor": p["_fill"], "color": p["_stroke"], "weight": 4 if warn else 1.2, "opacity": 1.0,
                "fillOpacity": 0.45, "dashArray": "5 4" if p["_dedicated"] and not warn else None}

    return PackedGeoJson(geojson, name=f"{label('grids', lang)} ({len(g):,})", style_function=style,
                          highlight_function=lambda _: {"weight": 5, "fillOpacity": 0.65},
                          tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False, sticky=True,
                                                        class_name="gridkit-tip"),
                          pane=GRID_PANE)


def _tooltip(grid: Mapping[Any, Any], row: Mapping[Any, Any], lang: Lang) -> str:
    code = str(grid["grid_code"])
    lines = [f"<b>{html.escape(code[-3:])}</b> {html.escape(code)}"]
    for field in ("community_name", "dedicated_name"):
        value = grid.get(field)
        if isinstance(value, str) and value.strip():
            lines.append(html.escape(value.strip()))
    households = grid.get("households")
    if households is not None and not pd.isna(households):
        lines.append(f"{html.escape(field_alias('households', lang))}: {float(households):,.0f}")
    if np.isfinite(row["deviation"]):
        mean = label("mean_of", lang, mean=row["mean_households"], n=row["regular_grids"])
        lines.append(f"{html.escape(label('community_mean', lang))}: {html.escape(mean)}")
        lines.append(f"{html.escape(label('deviation', lang))}: {_percent(row['deviation'])}")
    elif bool(grid.get("dedicated", False)):
        lines.append(html.escape(label("dedicated_no_mean", lang)))
    for reason in row["reasons"]:
        lines.append(f'<span class="gridkit-warn">{html.escape(reason)}</span>')
    return "<br>".join(lines)


def _serial_layer(g: gpd.GeoDataFrame, table: pd.DataFrame, lang: Lang, min_zoom: int) -> SerialLabels:
    geoms = g.geometry.to_numpy()
    drawn = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xy = np.round(shapely.get_coordinates(shapely.point_on_surface(geoms[drawn])), 6)
    status = np.where(table["breaks_rule"], "rule", np.where(table["within_tolerance"], "", "tolerance"))[drawn]
    serials = g["grid_code"].astype(str).str[-3:].to_numpy()[drawn]
    rows = [[float(y), float(x), str(text), str(s)] for (x, y), text, s in zip(xy, serials, status, strict=True)]
    return SerialLabels(rows, name=label("from_zoom", lang, layer=label("serials", lang), zoom=min_zoom), show=False)


def _legend_html(table: pd.DataFrame, tolerance: float, lang: Lang, building_zoom: int | None,
                 with_communities: bool) -> str:
    t, h = f"{tolerance * 100:g}", f"{tolerance * 50:g}"
    classes = (f"< −{t} %", f"−{t} … −{h} %", f"±{h} %", f"+{h} … +{t} %", f"> +{t} %")
    items = [f'<div><i style="background:{c}"></i>{html.escape(text)}</div>'
             for c, text in zip(_CLASS_FILLS, classes, strict=True)]
    items.append(f'<div><i style="background:{_DEDICATED_FILL};border:1px dashed #555"></i>'
                 f'{html.escape(label("dedicated", lang))}</div>')
    if table["mean_households"].isna().any():
        items.append(f'<div><i style="background:{_NO_DATA_FILL}"></i>'
                     f'{html.escape(label("legend_no_data", lang))}</div>')
    lines = [(RULE_COLOUR, 4, label("legend_rule", lang)),
             (TOLERANCE_COLOUR, 4, label("legend_tolerance", lang, tol=f"{t} %"))]
    if with_communities:
        lines.append(("#252525", 3, label("legend_community", lang)))
    items += [f'<div><i class="line" style="border-top:{w}px solid {c}"></i>{html.escape(text)}</div>'
              for c, w, text in lines]
    items.append(f'<div class="small">{html.escape(label("legend_serial", lang))}</div>')
    if building_zoom is not None:
        items.append(f'<div class="small">{html.escape(label("legend_buildings", lang, zoom=building_zoom))}</div>')
    return f'<b>{html.escape(label("legend_title", lang))}</b>' + "".join(items)
