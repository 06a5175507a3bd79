"""The notice board drawn with matplotlib, for systems without Chromium.

The same facts and the same map scene as the HTML page, in a simpler A3-landscape layout:
a red title band with the QR code, the map on the left, the figures, worker, hotlines and
duties on the right. Text is set in the board font (:func:`gridkit.board.fonts.board_font`,
TrueType) and embedded in the PDF as a CID TrueType font (``pdf.fonttype: 42``), so the
PDF's text can be searched and copied and print shops take it; glyphs that font lacks
fall back to DejaVu Sans, and those missing from both are counted in one log line.
"""

from __future__ import annotations

import logging
import re
import textwrap
import warnings
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import segno
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gridkit.board.facts import BoardFacts
from gridkit.board.fonts import BoardFont, board_font
from gridkit.board.page import LABELS, MAP_PANEL_MM, PAGE_MM, area_text
from gridkit.board.scene import COLOURS, LABEL_STYLE, Scene

__all__ = ["board_figure", "save_board"]

logger = logging.getLogger(__name__)

_PT_PER_MM = 72 / 25.4
_RED = "#c62828"


@lru_cache(maxsize=4)
def _registered(font: BoardFont) -> list[str]:
    """The font family list for matplotlib: the board font (registered once), then DejaVu Sans."""
    font_manager.fontManager.addfont(str(font.path))
    return [font.family, "DejaVu Sans"]


def _font_family(font: BoardFont | None = None) -> list[str]:
    return _registered(font or board_font())


@lru_cache(maxsize=4)
def _has_bold(family: str) -> bool:
    """Whether matplotlib knows a bold face of ``family`` (else bold text is set regular, not faked)."""
    weights = [f.weight for f in font_manager.fontManager.ttflist if f.name == family]
    return any(w in ("bold", "heavy", "black", "extra bold", "semibold", "demibold") or
               (isinstance(w, int) and w >= 600) for w in weights)


def board_figure(facts: BoardFacts, scene: Scene, *, font: BoardFont | None = None) -> Figure:
    """One board as a matplotlib figure of A3 landscape size, set in ``font`` (default :func:`board_font`)."""
    fig = Figure(figsize=(PAGE_MM[0] / 25.4, PAGE_MM[1] / 25.4))
    family = _font_family(font)
    t = LABELS[facts.lang]
    W, H = PAGE_MM

    def at(x_mm: float, y_mm: float) -> tuple[float, float]:  # from the top-left corner
        return x_mm / W, 1 - y_mm / H

    bold = _has_bold(family[0])

    def text(x: float, y: float, s: str, size: float, **kw: object) -> None:
        if not bold:
            kw.pop("weight", None)
        fig.text(*at(x, y), s, fontsize=size, family=family, va=kw.pop("va", "top"), **kw)  # type: ignore[arg-type]

    fig.patches.append(Rectangle((0, 1 - 38 / H), 1, 38 / H, transform=fig.transFigure, color="#c62828", zorder=0))
    text(11, 7, t["title"], 15, color="white", weight="bold")
    text(11, 16, facts.name, 34, color="white", weight="bold")
    qr_mm = 31.0
    text(W - 16 - qr_mm, 10, t["code"], 12, color="white", ha="right")
    text(W - 16 - qr_mm, 17, facts.grid_code, 22, color="white", ha="right", weight="bold")
    qr = fig.add_axes((1 - (11 + qr_mm) / W, 1 - (3.5 + qr_mm) / H, qr_mm / W, qr_mm / H))
    qr.imshow(_qr_matrix(facts.url), cmap="gray_r", interpolation="nearest", vmin=0, vmax=1)
    qr.set_axis_off()
    qr.set_zorder(1)  # above the title band (figure patches draw after axes of the same zorder)

    mx, my = 11, 43
    ax = fig.add_axes((mx / W, 1 - (my + MAP_PANEL_MM[1]) / H, MAP_PANEL_MM[0] / W, MAP_PANEL_MM[1] / H))
    draw_scene(ax, scene, font=font)
    text(mx, my + MAP_PANEL_MM[1] + 2, t["map"], 11, weight="bold")

    x, y = 264.0, 43.0
    area, unit, _ = area_text(facts.area_m2, facts.lang)
    pop = ("约" if facts.lang == "zh" and facts.population_estimated and facts.population else "")
    tiles = [(t["households"], f"{facts.households:,} {t['hh_unit']}"),
             (t["population"], f"{pop}{facts.population:,} {t['pop_unit']}"),
             (t["area"], f"{area} {unit}"),
             (t["buildings"], "—" if facts.buildings is None else f"{facts.buildings:,} {t['bld_unit']}")]
    for i, (label, value) in enumerate(tiles):
        tx, ty = x + (i % 2) * 74, y + (i // 2) * 24
        fig.patches.append(Rectangle(at(tx, ty + 21), 71 / W, 21 / H, transform=fig.transFigure, color="#fbf3f2"))
        fig.patches.append(Rectangle(at(tx, ty + 21), 1.6 / W, 21 / H, transform=fig.transFigure, color=_RED))
        text(tx + 4, ty + 2, label, 11, color="#6d4c4a")
        text(tx + 4, ty + 8, value, 22, weight="bold")
    if facts.population_estimated:
        text(x, y + 47, t["pop_note"].format(pph=f"{facts.persons_per_household:g}"), 9, color="#8d6e6c")

    y += 55
    text(x, y, t["worker"], 15, color="#b71c1c", weight="bold")
    y += 9
    fig.patches.append(Rectangle(at(x, y + 36), 27 / W, 36 / H, transform=fig.transFigure, fill=False,
                                 edgecolor="#9e9e9e", linewidth=1.2))
    if facts.workers and facts.workers[0].photo is not None:
        photo = fig.add_axes((x / W, 1 - (y + 36) / H, 27 / W, 36 / H))
        photo.imshow(_image(facts.workers[0].photo))
        photo.set_axis_off()
    else:
        text(x + 13.5, y + 16, t["photo"], 12, color="#9e9e9e", ha="center")
    if facts.workers:
        w = facts.workers[0]
        others = "、".join(o.name for o in facts.workers[1:])
        text(x + 33, y + 6, w.name, 24, weight="bold")
        text(x + 33, y + 18, f"{t['phone']} {w.phone}", 18, color="#b71c1c", weight="bold")
        if others:
            text(x + 33, y + 28, others, 12)
    else:
        text(x + 33, y + 8, f"{t['name']}：________", 14)
        text(x + 33, y + 20, f"{t['phone']}：________", 14)

    y += 42
    text(x, y, t["hotlines"], 15, color="#b71c1c", weight="bold")
    y += 9
    for c in facts.contacts[:5] or ():
        text(x, y, c.name, 12)
        text(x + 146, y, c.phone, 13, ha="right", weight="bold")
        y += 6.5
    if not facts.contacts:
        text(x, y, t["no_contacts"], 12)
        y += 6.5
    text(x, y, "   ".join(f"{c.name} {c.phone}" for c in facts.national), 11, color="#444")

    y += 10
    text(x, y, t["duties"], 15, color="#b71c1c", weight="bold")
    y += 9
    width = 36 if facts.lang == "zh" else 78  # characters of 10.5 pt in the 146 mm column
    for i, duty in enumerate(facts.duties, 1):
        lines = textwrap.wrap(duty, width)
        text(x, y, f"{i}. " + "\n    ".join(lines), 10.5, linespacing=1.35)
        y += 5.2 * len(lines) + 1.2
        if y > H - 20:
            break

    fig.patches.append(Rectangle(at(11, H - 13), (W - 22) / W, 0.6 / H, transform=fig.transFigure, color=_RED))
    issued = (f"{facts.issued.year}年{facts.issued.month}月{facts.issued.day}日" if facts.lang == "zh"
              else facts.issued.isoformat())
    text(11, H - 10, f"{facts.community_name}    {t['code']} {facts.grid_code}", 10.5, color="#555")
    text(W - 11, H - 10, f"{t['issued']}：{issued}", 10.5, color="#555", ha="right")
    return fig


def draw_scene(ax, scene: Scene, *, font: BoardFont | None = None) -> None:  # type: ignore[no-untyped-def]
    """Draw a map scene on matplotlib axes (the scene's units, y down)."""
    c = COLOURS
    pt = _PT_PER_MM / scene.unit_per_mm  # points per scene unit
    family = _font_family(font)
    ax.set_xlim(0, scene.width)
    ax.set_ylim(scene.height, 0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.add_patch(Rectangle((0, 0), scene.width, scene.height, color=c["paper"], zorder=0))

    def polygons(geoms: np.ndarray, **kw: object) -> None:
        if len(geoms):
            gpd.GeoSeries(list(geoms)).plot(ax=ax, **kw)

    polygons(scene.neighbours, color=c["neighbour"], edgecolor=c["neighbour_edge"], linewidth=0.8 * _PT_PER_MM)
    polygons(np.array([scene.grid]), color=c["grid"], linewidth=0)
    polygons(scene.buildings_out, color=c["building_out"], linewidth=0)
    for colour, extra in ((c["street_casing"], scene.font(0.5)), (c["street"], 0.0)):
        for width in np.unique(scene.street_widths):
            gpd.GeoSeries(list(scene.streets[scene.street_widths == width])).plot(
                ax=ax, color=colour, linewidth=(width + extra) * pt, capstyle="round")
    polygons(scene.buildings_in, color=c["building"], edgecolor=c["building_edge"], linewidth=0.15 * _PT_PER_MM)
    gpd.GeoSeries([scene.grid.boundary]).plot(ax=ax, color=c["grid_edge"], linewidth=1.3 * _PT_PER_MM)
    if scene.route is not None:
        gpd.GeoSeries([scene.route]).plot(ax=ax, color=c["route"], linewidth=0.6 * _PT_PER_MM, linestyle="--")
    if scene.base is not None:
        ax.plot(*scene.base, "o", color=c["base"], markersize=4.4 * _PT_PER_MM, markeredgecolor="white")
    for x, y, angle, label, kind in scene.labels:
        mm, colour, weight = LABEL_STYLE[kind]
        ax.text(x, y, label, fontsize=mm * _PT_PER_MM, color=COLOURS[colour],
                weight=weight if _has_bold(family[0]) else "normal", rotation=-angle,
                ha="center", va="center", family=family, rotation_mode="anchor")
    u = scene.unit_per_mm
    cx, top = scene.width - 14 * u, 8 * u
    ax.annotate("", xy=(cx, top + 2 * u), xytext=(cx, top + 14 * u),
                arrowprops={"arrowstyle": "-|>", "color": c["ink"], "linewidth": 2})
    ax.text(cx, top + 17 * u, "北" if scene.lang == "zh" else "N",
            fontsize=12, ha="center", va="center", weight="bold" if _has_bold(family[0]) else "normal",
            family=family)
    length_m, text = scene.scale_bar
    bar = length_m / scene.metres_per_unit
    x0, y0 = 8 * u, scene.height - 9 * u
    ax.add_patch(Rectangle((x0, y0), bar, 1.6 * u, color=c["ink"]))
    ax.text(x0, y0 - 2.5 * u, "0", fontsize=9, family=family)
    ax.text(x0 + bar, y0 - 2.5 * u, text, fontsize=9, ha="center", family=family)


def _image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _qr_matrix(url: str) -> np.ndarray:
    """The QR code of ``url`` as a 0/1 matrix with a two-module quiet zone (as on the HTML page)."""
    code = segno.make(url, error="m", micro=False)
    return np.array([list(row) for row in code.matrix_iter(scale=1, border=2)], dtype=float)


_MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from font")


def save_board(facts: BoardFacts, scene: Scene, *, pdf: Path | None = None, png: Path | None = None,
               dpi: float = 150.0, font: BoardFont | None = None) -> int:
    """Write one board as a one-page A3 PDF and/or a PNG with matplotlib.

    Returns
    -------
    int
        How many distinct characters no font had (drawn as boxes); said in one log line.
    """
    font = font or board_font()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = board_figure(facts, scene, font=font)
        with mpl.rc_context({"pdf.fonttype": 42, "svg.fonttype": "none"}):
            if pdf is not None:
                fig.savefig(pdf, format="pdf")
            if png is not None:
                fig.savefig(png, format="png", dpi=dpi)
    missing = set()
    for item in caught:
        found = _MISSING_GLYPH.search(str(item.message))
        if found is None:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        else:
            missing.add(int(found.group(1)))
    if missing:
        sample = "".join(chr(c) for c in sorted(missing)[:10])
        logger.warning("board %s: %d characters are in neither %s nor DejaVu Sans and print as boxes (%s)",
                       facts.grid_code, len(missing), font.family, sample)
    return len(missing)
