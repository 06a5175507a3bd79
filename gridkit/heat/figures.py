"""PNG figures of incident heat: the density surface and per-grid rate choropleths.

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot state, no
display needed). Labels are bilingual when a CJK font is installed (Noto Sans CJK SC,
Source Han Sans, WenQuanYi, ...) and English only otherwise, so no glyph is ever missing.

Examples
--------
>>> import tempfile, shapely
>>> from gridkit.heat.density import heat_from_incidents
>>> grids = gpd.GeoDataFrame({"grid_code": ["a"]}, geometry=[shapely.box(106.61, 26.46, 106.63, 26.48)], crs=4490)
>>> pts = gpd.GeoDataFrame(geometry=shapely.points([106.62, 106.625], [26.47, 26.472]), crs=4490)
>>> out = heat_png(heat_from_incidents(pts, area=grids, bandwidth=300.0), Path(tempfile.mkdtemp()) / "h.png",
...                grids=grids)
>>> out.read_bytes()[:4] == b"\\x89PNG"
True
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.heat.surface import HeatSurface

__all__ = ["choropleth_png", "cjk_font_family", "heat_png"]

log = logging.getLogger(__name__)

_CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
                 "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC")
_CJK_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "SourceHanSansSC-Regular.otf",
              "wqy-zenhei.ttc", "wqy-microhei.ttc", "msyh.ttc", "simhei.ttf")
_DPI = 150


@functools.cache
def cjk_font_family() -> str | None:
    """The name of an installed font family that draws Chinese, or None.

    Fonts installed after matplotlib built its font cache are registered from the
    system font folders.
    """
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((family for family in _CJK_FAMILIES if family in names), None)

    found = known()
    if found:
        return found
    for path in font_manager.findSystemFonts():
        if os.path.basename(path) in _CJK_FILES:
            font_manager.fontManager.addfont(path)
    found = known()
    if found is None:
        log.warning("no CJK font found (install fonts-noto-cjk): figure labels are in English only")
    return found


@contextmanager
def _style() -> Iterator[bool]:
    """matplotlib settings for one figure; yields whether Chinese text can be drawn."""
    import matplotlib

    family = cjk_font_family()
    fonts = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": fonts, "axes.unicode_minus": False}):
        yield family is not None


def _label(zh: str, en: str, cjk: bool) -> str:
    return f"{zh} {en}" if cjk else en


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: PathLike) -> Path:
    from gridkit.io import atomic_dir

    path = Path(path)
    with atomic_dir(path.parent) as tmp:
        fig.savefig(tmp / path.name, format="png", dpi=_DPI)
    log.info("wrote %s", path)
    return path


def _outline(ax: Any, grids: gpd.GeoDataFrame | None, crs: Any, **style: Any) -> None:
    if grids is None or not len(grids):
        return
    import shapely
    from matplotlib.collections import LineCollection

    lines = shapely.get_parts(shapely.boundary(grids.geometry.to_crs(crs).to_numpy()))
    lines = shapely.get_parts(lines)  # MultiLineStrings of polygons with holes
    coords, index = shapely.get_coordinates(lines, return_index=True)
    breaks = np.flatnonzero(np.diff(index)) + 1
    ax.add_collection(LineCollection(np.split(coords, breaks), **style))


def _polygon_paths(geoms: np.ndarray) -> list[Any]:
    """One matplotlib path per polygon part (exterior and holes), for a PathCollection."""
    import shapely
    from matplotlib.path import Path as MplPath

    parts = shapely.get_parts(geoms)
    rings, part_of = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    starts = np.flatnonzero(np.r_[True, np.diff(ring_of) != 0])
    codes[starts] = MplPath.MOVETO
    codes[np.r_[starts[1:], len(coords)] - 1] = MplPath.CLOSEPOLY
    part_of_vertex = part_of[ring_of]
    bounds = np.r_[0, np.flatnonzero(np.diff(part_of_vertex)) + 1, len(coords)]
    return [MplPath(coords[a:b], codes[a:b]) for a, b in itertools.pairwise(bounds.tolist())]


def heat_png(
    surface: HeatSurface,
    path: PathLike,
    *,
    grids: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    cmap: str = "YlOrRd",
) -> Path:
    """Draw a density surface (incidents per km²) with a colour bar and grid outlines.

    Parameters
    ----------
    surface
        From :func:`gridkit.heat.heat_from_incidents`.
    path
        The PNG to write (atomically).
    grids
        Grid polygons drawn as outlines for context (any CRS).
    title
        Overrides the title (incidents, bandwidth and rule by default).
    """
    with _style() as cjk:
        fig = _new_figure(8, 8)
        ax = fig.add_subplot()
        west, south, east, north = surface.bounds
        image = ax.imshow(surface.density, extent=(west, east, south, north), origin="upper", cmap=cmap,
                          vmin=0.0, interpolation="nearest")
        _outline(ax, grids, surface.crs, colors="#333333", linewidths=0.5, alpha=0.8)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        bar.set_label(_label("事件密度 (件/km²)", "incidents per km²", cjk))
        ax.set_xlim(west, east)
        ax.set_ylim(south, north)
        ax.set_aspect("equal")
        epsg = surface.crs.to_epsg()
        ax.set_xlabel(f"x (m, EPSG:{epsg})")
        ax.set_ylabel(f"y (m, EPSG:{epsg})")
        ax.ticklabel_format(style="plain", useOffset=False)
        ax.set_title(title or _label(
            "事件核密度", f"incident density: {surface.n_incidents:,} incidents, Gaussian kernel "
            f"bandwidth {surface.bandwidth_m:.0f} m ({surface.bandwidth_rule})", cjk), fontsize=10)
        return _save(fig, path)


_RATES = (
    ("per_100_households", "每百户事件数", "incidents per 100 households"),
    ("per_km2", "每平方公里事件数", "incidents per km²"),
)


def choropleth_png(
    grids: gpd.GeoDataFrame,
    rates: pd.DataFrame,
    path: PathLike,
    *,
    grid_field: str = "grid_code",
    title: str | None = None,
    cmap: str = "OrRd",
    crs: Any = None,
) -> Path:
    """Two maps of the grids coloured by incident rate: per 100 households and per km².

    Parameters
    ----------
    grids
        Grid polygons with ``grid_field``.
    rates
        From :func:`gridkit.heat.rates_for_grids` (indexed by grid code). Grids without
        households (no rate per household) are hatched grey.
    path
        The PNG to write (atomically).
    crs
        The metric CRS to draw in; None: :func:`gridkit.crs.local_crs` of the grids.
    """
    from matplotlib.collections import PathCollection
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    from gridkit.crs import local_crs

    local = grids.to_crs(crs if crs is not None else local_crs(grids))
    joined = local.join(rates[[c for c, _, _ in _RATES]], on=grid_field)
    geoms = joined.geometry.to_numpy()
    west, south, east, north = joined.total_bounds
    with _style() as cjk:
        fig = _new_figure(14, 7)
        axes = fig.subplots(1, 2)
        for ax, (column, zh, en) in zip(axes, _RATES):
            values = joined[column].to_numpy(dtype=float)
            finite = np.isfinite(values)
            top = float(values[finite].max()) if finite.any() and values[finite].max() > 0 else 1.0
            norm = Normalize(vmin=0.0, vmax=top)
            ax.add_collection(PathCollection(
                _polygon_paths(geoms[finite]), array=values[finite], cmap=cmap, norm=norm, edgecolors="#444444",
                linewidths=0.4))
            if (~finite).any():
                ax.add_collection(PathCollection(_polygon_paths(geoms[~finite]), facecolors="#dddddd", hatch="//",
                                                 edgecolors="#888888", linewidths=0.4))
                ax.legend(handles=[Patch(facecolor="#dddddd", hatch="//", edgecolor="#888888",
                                         label=_label("无住户", "no households", cjk))], loc="lower right",
                          fontsize=8)
            from matplotlib.cm import ScalarMappable

            bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7)
            bar.set_label(_label(zh, en, cjk))
            ax.set_title(_label(zh, en, cjk), fontsize=10)
            ax.set_xlim(west, east)
            ax.set_ylim(south, north)
            ax.set_aspect("equal")
            ax.set_axis_off()
        if title:
            fig.suptitle(title)
        return _save(fig, path)
