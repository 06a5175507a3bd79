"""Basemap choices for gridkit maps: none, OSM, a local tile server, Tianditu, Amap.

``"none"`` (the default) draws no tiles at all: streets and buildings from the data
give the context, and the page needs no network. The others load tiles from a server
when the page is opened; the overlays never depend on them.

Amap (高德) tiles are drawn in GCJ-02 coordinates, offset from WGS84 by a few hundred
metres in China: :func:`basemap_from` marks them ``coords="gcj02"`` and
:func:`gridkit.maps.map_for_grids` converts every overlay to GCJ-02 so that it lines up,
and says so in the attribution. Tianditu (天地图) uses CGCS2000, which agrees with WGS84
to well below a metre for mapping.

Examples
--------
>>> basemap_from("none") is None
True
>>> basemap_from("amap").coords
'gcj02'
>>> basemap_from("http://127.0.0.1:8080/{z}/{x}/{y}.png").tiles[0].url
'http://127.0.0.1:8080/{z}/{x}/{y}.png'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from gridkit.errors import ParameterError
from gridkit.maps.labels import Lang, check_lang

__all__ = ["BASEMAP_NAMES", "Basemap", "TileSpec", "basemap_from"]

BASEMAP_NAMES: tuple[str, ...] = ("none", "osm", "tianditu", "amap")

_OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_TIANDITU = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
             "&TILECOL={x}&tk={key}")
_AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang={lang}&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
_TOKEN = re.compile(r"\{(-?y|x|z)\}")


@dataclass(frozen=True)
class TileSpec:
    """One tile layer: a Leaflet URL template and its options."""

    url: str
    attribution: str
    subdomains: str = "abc"
    max_zoom: int = 19


@dataclass(frozen=True)
class Basemap:
    """A basemap: its tile layers (drawn in order) and the coordinates its tiles are in."""

    name: str
    tiles: tuple[TileSpec, ...]
    coords: Literal["wgs84", "gcj02"] = "wgs84"


def basemap_from(spec: str, *, tianditu_key: str | None = None, lang: Lang = "zh") -> Basemap | None:
    """The basemap for a name or a tile URL template; ``None`` for ``"none"``.

    Parameters
    ----------
    spec
        ``"none"``, ``"osm"``, ``"tianditu"``, ``"amap"`` (also ``"gaode"``), or a Leaflet
        URL template with ``{z}``, ``{x}`` and ``{y}`` such as
        ``http://127.0.0.1:8080/{z}/{x}/{y}.png`` (a local tile server: its tiles are taken
        to be in WGS84/CGCS2000 web mercator).
    tianditu_key
        The Tianditu API key (天地图 tk), needed for ``"tianditu"``.
    lang
        Label language of the Tianditu annotation and the Amap tiles.

    Raises
    ------
    ParameterError
        An unknown name, a URL template without ``{z}``/``{x}``/``{y}``, or Tianditu
        without a key.
    """
    check_lang(lang)
    name = spec.strip()
    low = name.lower()
    if low == "none":
        return None
    if low == "osm":
        return Basemap("osm", (TileSpec(_OSM, "&copy; OpenStreetMap contributors", subdomains="abc"),))
    if low == "tianditu":
        return _tianditu(tianditu_key, lang)
    if low in ("amap", "gaode"):
        url = _AMAP.replace("{lang}", "zh_cn" if lang == "zh" else "en")
        attribution = "&copy; 高德地图 AutoNavi" if lang == "zh" else "&copy; Amap (AutoNavi)"
        return Basemap("amap", (TileSpec(url, attribution, subdomains="1234", max_zoom=18),), coords="gcj02")
    if "://" in name or name.startswith("/"):
        found = set(_TOKEN.findall(name))
        if not {"z", "x"} <= found or not found & {"y", "-y"}:
            raise ParameterError(f"the tile URL template {name!r} lacks {{z}}, {{x}} or {{y}}", field="basemap",
                                 hint="give a template such as http://127.0.0.1:8080/{z}/{x}/{y}.png")
        return Basemap("url", (TileSpec(name, "tiles: " + name.split("/{")[0]),))
    raise ParameterError(f"unknown basemap {spec!r}", field="basemap",
                         hint="use none, osm, tianditu, amap or a tile URL template with {z}/{x}/{y}")


def _tianditu(key: str | None, lang: Lang) -> Basemap:
    if not key or not key.strip():
        raise ParameterError("the Tianditu basemap needs an API key", field="tianditu_key",
                             hint="get a key (tk) at https://console.tianditu.gov.cn and pass --tianditu-key KEY")
    key = key.strip()
    if not re.fullmatch(r"[0-9A-Za-z]+", key):
        raise ParameterError(f"the Tianditu key {key!r} is not a plain letters-and-digits key", field="tianditu_key",
                             hint="copy the key (tk) exactly as the Tianditu console shows it")
    attribution = "&copy; 天地图 Tianditu" if lang == "zh" else "&copy; Tianditu"
    notes = "cva" if lang == "zh" else "eva"
    layers = tuple(
        TileSpec(_TIANDITU.replace("{layer}", layer).replace("{key}", key), attribution, subdomains="01234567",
                 max_zoom=18)
        for layer in ("vec", notes)
    )
    return Basemap("tianditu", layers)
