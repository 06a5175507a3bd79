"""The map of one grid for its board, as a scene of clipped geometries in page units.

:func:`scene_for_grid` chooses the view (the grid with a margin, at the aspect ratio of the
map panel), clips every layer to it with vectorised shapely calls and places the labels,
in SVG user units (x to the right, y down). :func:`scene_svg` writes it as an inline SVG
element; the matplotlib fallback draws the same scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import ops

from gridkit.crs import local_crs

__all__ = ["MapLayers", "Scene", "scene_for_grid", "scene_svg", "svg_path"]

#: Street widths drawn, in metres, by OSM highway class.
STREET_WIDTH_M = {"motorway": 18.0, "trunk": 16.0, "primary": 14.0, "secondary": 11.0, "tertiary": 8.0,
                  "residential": 6.0, "unclassified": 6.0, "living_street": 5.0, "service": 4.0,
                  "pedestrian": 4.0, "footway": 2.5, "path": 2.0, "track": 3.0}
_DEFAULT_WIDTH_M = 5.0
#: Colours shared by the SVG and the matplotlib renderers.
COLOURS = {
    "paper": "#f4f1ea", "neighbour": "#dedbd4", "neighbour_edge": "#ffffff", "neighbour_text": "#77736b",
    "grid": "#fff4de", "grid_edge": "#c62828", "building": "#c9a882", "building_edge": "#9b7b58",
    "building_out": "#cdc9c1", "street_casing": "#b3aea4", "street": "#ffffff", "street_text": "#5c574f",
    "route": "#1565c0", "base": "#1565c0", "ink": "#2b2b2b",
}
_SVG_WIDTH = 1000.0


@dataclass
class MapLayers:
    """The layers every board draws from, in one local metric CRS (prepared once per run)."""

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None = None
    streets: gpd.GeoDataFrame | None = None
    routes: gpd.GeoDataFrame | None = None

    @classmethod
    def prepare(
        cls,
        grids: gpd.GeoDataFrame,
        *,
        buildings: gpd.GeoDataFrame | None = None,
        streets: gpd.GeoDataFrame | None = None,
        routes: gpd.GeoDataFrame | None = None,
    ) -> MapLayers:
        """Project every layer to the grids' local metric CRS."""
        crs = local_crs(grids)

        def local(layer: gpd.GeoDataFrame | None, keep: tuple[str, ...]) -> gpd.GeoDataFrame | None:
            if layer is None or layer.empty:
                return None
            columns = [c for c in keep if c in layer.columns]
            out = layer[[*columns, layer.geometry.name]].to_crs(crs)
            return out.reset_index(drop=True).rename_geometry("geometry") if out.geometry.name != "geometry" else \
                out.reset_index(drop=True)

        g = local(grids, ("grid_code", "community_code", "community_name"))
        assert g is not None
        g["grid_code"] = g["grid_code"].astype(str)
        return cls(g, local(buildings, ("grid_code",)), local(streets, ("name", "highway")),
                   local(routes, ("grid_code",)))


@dataclass
class Scene:
    """One grid's map in SVG user units (x right, y down), ready to draw."""

    width: float
    height: float
    unit_per_mm: float
    metres_per_unit: float
    grid: shapely.Geometry
    neighbours: np.ndarray
    buildings_in: np.ndarray
    buildings_out: np.ndarray
    streets: np.ndarray
    street_widths: np.ndarray
    street_names: np.ndarray
    route: shapely.Geometry | None
    base: tuple[float, float] | None
    labels: list[tuple[float, float, float, str, str]] = field(default_factory=list)
    scale_bar: tuple[float, str] = (0.0, "")
    lang: str = "zh"

    def font(self, mm: float) -> float:
        """A font size of ``mm`` millimetres on paper, in SVG units."""
        return mm * self.unit_per_mm


def scene_for_grid(
    layers: MapLayers, grid_code: str, *, panel_mm: tuple[float, float], lang: str = "zh"
) -> Scene:
    """The map scene of one grid for a panel of ``panel_mm`` (width, height) millimetres."""
    grids = layers.grids
    row = grids.index[grids["grid_code"] == grid_code][0]
    grid = grids.geometry.iat[row]
    width, height = _SVG_WIDTH, _SVG_WIDTH * panel_mm[1] / panel_mm[0]
    x0, y0, x1, y1 = _view(grid.bounds, width / height)
    s = width / (x1 - x0)

    def to_page(geoms: np.ndarray) -> np.ndarray:
        clipped = shapely.clip_by_rect(geoms, x0, y0, x1, y1)
        clipped = clipped[~shapely.is_empty(clipped)]
        return shapely.transform(clipped, lambda xy: np.column_stack([(xy[:, 0] - x0) * s, (y1 - xy[:, 1]) * s]))

    box = shapely.box(x0, y0, x1, y1)
    near = grids.sindex.query(box, predicate="intersects")
    near = near[near != row]
    neighbours = to_page(grids.geometry.to_numpy()[near])
    scene = Scene(
        width=width, height=height, unit_per_mm=width / panel_mm[0], metres_per_unit=1 / s,
        grid=to_page(np.array([grid]))[0], neighbours=neighbours,
        buildings_in=np.empty(0, dtype=object), buildings_out=np.empty(0, dtype=object),
        streets=np.empty(0, dtype=object), street_widths=np.empty(0), street_names=np.empty(0, dtype=object), route=None, base=None,
        lang=lang,
    )
    if layers.buildings is not None:
        hit = layers.buildings.sindex.query(box, predicate="intersects")
        geoms = layers.buildings.geometry.to_numpy()[hit]
        if "grid_code" in layers.buildings.columns:
            mine = layers.buildings["grid_code"].astype(str).to_numpy()[hit] == grid_code
        else:
            mine = shapely.contains_properly(grid, shapely.point_on_surface(geoms))
        scene.buildings_in, scene.buildings_out = to_page(geoms[mine]), to_page(geoms[~mine])
    scene.scale_bar = _scale_bar(width / s)
    u = scene.unit_per_mm
    bar = scene.scale_bar[0] * s
    taken = [shapely.box(width - 26 * u, 0, width, 32 * u), shapely.box(0, height - 19 * u, bar + 14 * u, height)]
    if layers.streets is not None:
        _add_streets(scene, layers.streets, box, to_page, s)
    if layers.routes is not None:
        _add_route(scene, layers.routes, grid_code, to_page)
    if scene.base is not None:  # the marker and its label, to the right of it
        bx, by = scene.base
        taken.append(shapely.box(bx - 3 * u, by - 3 * u, bx + 3 * u + 4 * scene.font(3.2), by + 3 * u))
    _add_grid_labels(scene, grids, near, row, lang, taken)
    _add_street_labels(scene, taken)
    return scene


def _view(bounds: tuple[float, float, float, float], aspect: float) -> tuple[float, float, float, float]:
    """The grid's bounds with a margin, widened to the panel's aspect ratio (width / height)."""
    x0, y0, x1, y1 = bounds
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    pad = max(0.16 * max(w, h), 40.0)
    w, h = w + 2 * pad, h + 2 * pad
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _add_streets(scene: Scene, streets: gpd.GeoDataFrame, box: shapely.Geometry, to_page, s: float) -> None:
    hit = streets.sindex.query(box, predicate="intersects")
    if not len(hit):
        return
    part = streets.iloc[hit]
    widths = part["highway"].map(STREET_WIDTH_M).fillna(_DEFAULT_WIDTH_M).to_numpy() if "highway" in part \
        else np.full(len(part), _DEFAULT_WIDTH_M)
    order = np.argsort(widths, kind="stable")  # wide streets drawn last, on top
    clipped = shapely.clip_by_rect(part.geometry.to_numpy()[order], *box.bounds)
    keep = ~shapely.is_empty(clipped)
    scene.streets = to_page(part.geometry.to_numpy()[order][keep])
    scene.street_widths = np.maximum(widths[order][keep] * s, scene.font(0.9))
    scene.street_names = part["name"].fillna("").astype(str).to_numpy()[order][keep] if "name" in part \
        else np.full(keep.sum(), "", dtype=object)


def _add_street_labels(scene: Scene, taken: list[shapely.Geometry]) -> None:
    """Street names along the longest stretch of each named street in view, where they fit
    without touching another label or the north arrow and scale bar."""
    if not len(scene.streets):
        return
    size = scene.font(LABEL_STYLE["street"][0])
    lines = pd.Series(list(scene.streets)).groupby(scene.street_names)
    for name, group in sorted(lines, key=lambda kv: -shapely.length(kv[1].to_numpy()).sum()):
        if not name:
            continue
        merged = shapely.line_merge(shapely.union_all(group.to_numpy()))
        longest = max(shapely.get_parts(merged), key=lambda g: g.length)
        need = len(name) * size * 1.05
        if longest.length < need * 1.6:
            continue
        for where in (0.5, 0.3, 0.7):
            mid = longest.length * where
            a = longest.interpolate(max(mid - need / 2, 0))
            b = longest.interpolate(min(mid + need / 2, longest.length))
            footprint = shapely.buffer(shapely.LineString([a, b]), size * 0.6)
            if not any(footprint.intersects(t) for t in taken):
                break
        else:
            continue
        centre = longest.interpolate(mid)
        angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
        if angle > 90:
            angle -= 180
        elif angle <= -90:
            angle += 180
        taken.append(footprint)
        scene.labels.append((centre.x, centre.y, angle, str(name), "street"))


def _add_route(scene: Scene, routes: gpd.GeoDataFrame, grid_code: str, to_page) -> None:
    """The grid's patrol route (its lines, merged) and base: a point of the grid if the layer has
    one (the ``bases`` layer of ``gridkit patrol plan``), else the route's first vertex."""
    if "grid_code" not in routes:
        return
    mine = routes.geometry[routes["grid_code"].astype(str) == grid_code].to_numpy()
    if not len(mine):
        return
    points = mine[np.isin(shapely.get_type_id(mine), (0, 4))]
    lines = mine[np.isin(shapely.get_type_id(mine), (1, 2, 5))]
    if len(lines):
        drawn = to_page(np.array([shapely.union_all(lines)]))
        scene.route = drawn[0] if len(drawn) else None
    source = points if len(points) else lines
    if not len(source):
        return
    start = shapely.get_coordinates(source[0])[0]
    base = to_page(np.array([shapely.Point(start)]))
    if len(base) and base[0].geom_type == "Point":
        scene.base = (base[0].x, base[0].y)


def _add_grid_labels(
    scene: Scene, grids: gpd.GeoDataFrame, near: np.ndarray, row: int, lang: str, taken: list[shapely.Geometry]
) -> None:
    """The grid's own label where it is freest of buildings and streets, then each neighbour's
    serial inside the visible part of it, away from the north arrow and the scale bar."""
    size = scene.font(LABEL_STYLE["grid"][0])
    text = _grid_label(str(grids["grid_code"].iat[row]), lang)
    clutter = [*scene.buildings_in, *shapely.buffer(scene.streets, scene.street_widths / 2)]
    free = shapely.difference(scene.grid, shapely.union_all([*clutter, *taken]))
    x, y = _label_point(free if not free.is_empty else scene.grid)
    scene.labels.append((x, y, 0.0, text, "grid"))
    taken.append(_text_box(x, y, text, size))
    own_community = str(grids["community_code"].iat[row]) if "community_code" in grids else ""
    size = scene.font(LABEL_STYLE["neighbour"][0])
    for i, piece in zip(near, scene.neighbours, strict=False):
        if piece.geom_type not in ("Polygon", "MultiPolygon") or piece.area < (size * 4) ** 2:
            continue
        text = _grid_label(str(grids["grid_code"].iat[i]), lang)
        community = str(grids["community_code"].iat[i]) if "community_code" in grids else ""
        if community != own_community and "community_name" in grids:
            name = grids["community_name"].iat[i]
            text = f"{name}{text}" if lang == "zh" else f"{name} {text}"
        room = shapely.difference(piece, shapely.union_all(taken))
        if room.is_empty or room.area < (size * 3) ** 2:
            continue
        x, y = _label_point(room)
        box = _text_box(x, y, text, size)
        inside = shapely.box(size * 0.4, size * 0.4, scene.width - size * 0.4, scene.height - size * 0.4)
        if not (shapely.contains(piece.buffer(size), box) and shapely.contains(inside, box)) \
                or any(box.intersects(t) for t in taken):
            continue
        scene.labels.append((x, y, 0.0, text, "neighbour"))
        taken.append(box)


def _label_point(area: shapely.Geometry) -> tuple[float, float]:
    """The point deepest inside the largest part of ``area`` (pole of inaccessibility)."""
    polygons = [g for g in shapely.get_parts(area) if g.geom_type == "Polygon"]
    if not polygons:
        p = area.representative_point()
        return p.x, p.y
    p = ops.polylabel(max(polygons, key=lambda g: g.area), tolerance=2.0)
    return p.x, p.y


def _text_box(x: float, y: float, text: str, size: float) -> shapely.Geometry:
    half = sum(1.0 if ord(ch) > 0x2E7F else 0.6 for ch in text) * size / 2 + size * 0.6  # with a margin
    return shapely.box(x - half, y - size * 0.75, x + half, y + size * 0.75)


def _grid_label(code: str, lang: str) -> str:
    if not (len(code) == 15 and code.isdigit()):
        return code
    return f"第{int(code[-3:])}网格" if lang == "zh" else f"Grid {int(code[-3:])}"


def _scale_bar(view_m: float) -> tuple[float, str]:
    """A round length near a fifth of the view's width, and its label."""
    target = view_m / 5
    power = 10 ** math.floor(math.log10(target))
    length = max(m * power for m in (1, 2, 5) if m * power <= target)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    return length, label


# ----------------------------------------------------------------------------- SVG


def svg_path(geoms: np.ndarray | list[shapely.Geometry]) -> str:
    """The SVG path data (``d``) of polygons or lines, one decimal place.

    >>> svg_path([shapely.box(0, 0, 2, 1)])
    'M2 0L2 1L0 1L0 0L2 0Z'
    """
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return ""
    parts = shapely.get_parts(geoms)
    polygonal = shapely.get_type_id(parts) == 3
    rings = np.concatenate([shapely.get_rings(parts[polygonal]), parts[~polygonal]])
    closed = np.concatenate([np.ones(len(rings) - int((~polygonal).sum()), bool), np.zeros(int((~polygonal).sum()), bool)])
    coords, index = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return ""
    text = np.char.add(np.char.add(_num(coords[:, 0]), " "), _num(coords[:, 1]))
    first = np.r_[True, index[1:] != index[:-1]]
    last = np.r_[index[1:] != index[:-1], True]
    tokens = np.where(first, np.char.add("M", text), np.char.add("L", text)).astype(object)
    tokens[last & closed[index]] += "Z"
    return "".join(tokens)


def _num(values: np.ndarray) -> np.ndarray:
    rounded = np.round(values, 1) + 0.0  # no negative zero
    text = np.char.mod("%.1f", rounded)
    return np.char.rstrip(np.char.rstrip(text, "0"), ".")


def scene_svg(scene: Scene, *, lang: str = "zh") -> str:
    """The scene as an inline ``<svg>`` element (no namespace or external reference needed in HTML)."""
    c = COLOURS
    w, h = scene.width, scene.height
    out = [f'<svg class="map" viewBox="0 0 {w:.0f} {h:.0f}" preserveAspectRatio="xMidYMid meet" role="img">',
           f'<rect width="{w:.0f}" height="{h:.0f}" fill="{c["paper"]}"/>']
    out.append(f'<path d="{svg_path(scene.neighbours)}" fill="{c["neighbour"]}" stroke="{c["neighbour_edge"]}" '
               f'stroke-width="{scene.font(0.8):.1f}" fill-rule="evenodd"/>')
    out.append(f'<path d="{svg_path([scene.grid])}" fill="{c["grid"]}" fill-rule="evenodd"/>')
    out.append(f'<path d="{svg_path(scene.buildings_out)}" fill="{c["building_out"]}" fill-rule="evenodd"/>')
    if len(scene.streets):
        for colour, extra in ((c["street_casing"], scene.font(0.5)), (c["street"], 0.0)):
            for width in np.unique(scene.street_widths):
                d = svg_path(scene.streets[scene.street_widths == width])
                out.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width + extra:.1f}" '
                           'stroke-linecap="round" stroke-linejoin="round"/>')
    out.append(f'<path d="{svg_path(scene.buildings_in)}" fill="{c["building"]}" stroke="{c["building_edge"]}" '
               f'stroke-width="{scene.font(0.15):.1f}" fill-rule="evenodd"/>')
    out.append(f'<path d="{svg_path([scene.grid])}" fill="none" stroke="{c["grid_edge"]}" '
               f'stroke-width="{scene.font(1.3):.1f}" stroke-linejoin="round"/>')
    if scene.route is not None:
        out.append(f'<path d="{svg_path([scene.route])}" fill="none" stroke="{c["route"]}" '
                   f'stroke-width="{scene.font(0.6):.1f}" stroke-dasharray="{scene.font(2):.0f} {scene.font(1.2):.0f}" '
                   'stroke-linejoin="round" opacity="0.8"/>')
    halos: dict[str, str] = {}
    out.extend(_svg_labels(scene, halos))
    if scene.base is not None:
        out.append(_svg_base(scene, lang, halos))
    out.append(_svg_north(scene, lang))
    out.append(_svg_scale(scene))
    out.append("</svg>")
    out.insert(1, "<defs>" + "".join(halos.values()) + "</defs>")
    return "".join(out)


def _halo(radius: float, halos: dict[str, str]) -> str:
    """The id of a filter that draws a white halo ``radius`` units wide around what it is applied to.

    Labels get their halo from a white copy under them that this filter dilates, not from
    a stroke around the glyphs: Chromium's PDF writer turns stroked text into Type 3 fonts,
    while the label itself stays plain text in the PDF's TrueType font.
    """
    key = f"{radius:.1f}"
    name = f"halo-{key.replace('.', '-')}"
    if key not in halos:
        halos[key] = (f'<filter id="{name}" x="-20%" y="-50%" width="140%" height="200%">'
                      f'<feMorphology in="SourceAlpha" operator="dilate" radius="{key}"/>'
                      '<feColorMatrix values="0 0 0 0 1  0 0 0 0 1  0 0 0 0 1  0 0 0 1 0"/></filter>')
    return name


def _haloed_text(attrs: str, text: str, radius: float, halos: dict[str, str], extra: str = "") -> str:
    """A label over its white halo (see :func:`_halo`)."""
    body = escape(text)
    return (f'<text {attrs} fill="#ffffff" filter="url(#{_halo(radius, halos)})" aria-hidden="true" '
            f'class="halo">{body}</text><text {attrs}{extra}>{body}</text>')


LABEL_STYLE = {"street": (3.4, "street_text", "normal"), "neighbour": (3.6, "neighbour_text", "bold"),
                "grid": (7.0, "grid_edge", "bold")}


def _svg_labels(scene: Scene, halos: dict[str, str]) -> list[str]:
    out = []
    for x, y, angle, text, kind in scene.labels:
        mm, colour, weight = LABEL_STYLE[kind]
        size = scene.font(mm)
        rotate = f' transform="rotate({angle:.1f} {x:.1f} {y:.1f})"' if angle else ""
        attrs = (f'x="{x:.1f}" y="{y:.1f}" font-size="{size:.1f}" font-weight="{weight}" text-anchor="middle" '
                 f'dominant-baseline="central"{rotate}')
        out.append(_haloed_text(attrs, text, size * 0.11, halos,
                                extra=f' fill="{COLOURS[colour]}" class="label-{kind}"'))
    return out


def _svg_base(scene: Scene, lang: str, halos: dict[str, str]) -> str:
    x, y = scene.base  # type: ignore[misc]
    r = scene.font(2.2)
    label = "巡查起点" if lang == "zh" else "Patrol base"
    attrs = (f'x="{x + r * 1.6:.1f}" y="{y:.1f}" font-size="{scene.font(3.2):.1f}" font-weight="bold" '
             'dominant-baseline="central"')
    return (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{COLOURS["base"]}" stroke="#fff" '
            f'stroke-width="{r * 0.35:.1f}"/>'
            + _haloed_text(attrs, label, scene.font(0.35), halos, extra=f' fill="{COLOURS["base"]}"'))


def _svg_north(scene: Scene, lang: str) -> str:
    u = scene.unit_per_mm
    cx, top = scene.width - 14 * u, 8 * u
    half, length = 4 * u, 13 * u
    return (f'<g class="north"><circle cx="{cx:.1f}" cy="{top + length * 0.62:.1f}" r="{9 * u:.1f}" fill="#fff" '
            f'fill-opacity="0.85" stroke="{COLOURS["ink"]}" stroke-width="{0.3 * u:.1f}"/>'
            f'<path d="M{cx:.1f} {top + 2 * u:.1f}L{cx + half:.1f} {top + length:.1f}L{cx:.1f} '
            f'{top + length * 0.78:.1f}Z" fill="{COLOURS["ink"]}"/>'
            f'<path d="M{cx:.1f} {top + 2 * u:.1f}L{cx - half:.1f} {top + length:.1f}L{cx:.1f} '
            f'{top + length * 0.78:.1f}Z" fill="#fff" stroke="{COLOURS["ink"]}" stroke-width="{0.3 * u:.1f}"/>'
            f'<text x="{cx:.1f}" y="{top + length + 3.2 * u:.1f}" font-size="{3.6 * u:.1f}" font-weight="bold" '
            f'text-anchor="middle" dominant-baseline="central" fill="{COLOURS["ink"]}">'
            f'{"北" if lang == "zh" else "N"}</text></g>')


def _svg_scale(scene: Scene) -> str:
    u = scene.unit_per_mm
    length_m, label = scene.scale_bar
    bar = length_m / scene.metres_per_unit
    x, y, t = 8 * u, scene.height - 9 * u, 1.6 * u
    half = bar / 2
    return (f'<g class="scale"><rect x="{x - 3 * u:.1f}" y="{y - 7.5 * u:.1f}" width="{bar + 6 * u:.1f}" '
            f'height="{11 * u:.1f}" fill="#fff" fill-opacity="0.85" rx="{u:.1f}"/>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{half:.1f}" height="{t:.1f}" fill="{COLOURS["ink"]}"/>'
            f'<rect x="{x + half:.1f}" y="{y:.1f}" width="{half:.1f}" height="{t:.1f}" fill="#fff" '
            f'stroke="{COLOURS["ink"]}" stroke-width="{0.3 * u:.1f}"/>'
            f'<text x="{x:.1f}" y="{y - 2.5 * u:.1f}" font-size="{3.2 * u:.1f}" text-anchor="start" '
            f'fill="{COLOURS["ink"]}">0</text>'
            f'<text x="{x + bar:.1f}" y="{y - 2.5 * u:.1f}" font-size="{3.2 * u:.1f}" text-anchor="middle" '
            f'fill="{COLOURS["ink"]}">{label}</text></g>')
