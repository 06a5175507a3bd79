"""Pages that render with no network: Leaflet and plugin assets embedded in the HTML.

folium links its JavaScript and CSS from CDNs. Government intranets have no internet,
so :func:`inline_assets` replaces every ``<script src=...>`` and stylesheet ``<link>``
with the file's content, taken from the ``folium-offline`` package (module
``offlinefolium``), which carries the exact files folium links as strings. Nothing is
copied into gridkit. Two details make the result strictly offline:

- CSS ``url(...)`` references to files the package does not carry (web fonts and
  images of icon sets gridkit maps do not use) are removed, so the browser never asks
  for them; ``data:`` URLs and ``#fragment`` references stay.
- ``</script`` inside embedded JavaScript is escaped so it cannot end the tag early.

A link the package does not carry raises :class:`~gridkit.errors.DependencyError`
naming it: the page is never written half-offline.

Examples
--------
>>> html = '<head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script></head>'
>>> page = inline_assets(html)
>>> external_references(html), external_references(page)
(['https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js'], [])
>>> len(page) > 100_000
True
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import folium

from gridkit.errors import DependencyError
from gridkit.io import write_text
from gridkit.maps.budget import MAP_BUDGET_BYTES, stamp_size

__all__ = ["external_references", "inline_assets", "render_page", "save_map", "save_page"]

log = logging.getLogger(__name__)

_SCRIPT = re.compile(r'<script\s+src="([^"]+)"\s*>\s*</script>', re.IGNORECASE)
_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>', re.IGNORECASE)
_FONT_FACE = re.compile(r"@font-face\s*\{[^{}]*\}", re.IGNORECASE)
_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
# a src entry of @font-face: url(...) with an optional format(...)
_SRC_ENTRY = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)(\s*format\([^)]*\))?", re.IGNORECASE | re.DOTALL)
_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""",
                       re.IGNORECASE)


def _keeps(url: str) -> bool:
    """A CSS url() that needs no request: inline data or a fragment."""
    u = url.strip()
    return u.startswith(("data:", "#"))


@lru_cache(maxsize=1)
def _assets() -> Mapping[str, str]:
    try:
        from offlinefolium.elements import _res
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise DependencyError("offline maps need the folium-offline package",
                              hint="pip install folium-offline") from err
    return _res


def _clean_css(css: str) -> str:
    def font_face(match: re.Match[str]) -> str:
        block = match.group(0)

        def entry(m: re.Match[str]) -> str:
            return m.group(0) if _keeps(m.group(2)) else ""

        # drop the src entries that would load a file, then tidy the lists they leave
        block = _SRC_ENTRY.sub(entry, block)
        block = re.sub(r"src\s*:\s*[,\s]*(;|\})", r"\1", block)
        block = re.sub(r",\s*(?:,\s*)+", ", ", block)
        block = re.sub(r"(src\s*:\s*),\s*", r"\1", block)
        block = re.sub(r",\s*(;|\})", r"\1", block)
        return block if "url(" in block else ""

    css = _FONT_FACE.sub(font_face, css)
    return _URL.sub(lambda m: m.group(0) if _keeps(m.group(2)) else "none", css)


def _script(url: str) -> str:
    body = _asset(url).replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return f"<script>/* {url} */\n{body}\n</script>"


def _style(url: str) -> str:
    body = _clean_css(_asset(url)).replace("</style", "<\\/style")
    return f"<style>/* {url} */\n{body}\n</style>"


def _asset(url: str) -> str:
    assets = _assets()
    if url.startswith("//"):
        url = "https:" + url
    if url not in assets:
        raise DependencyError(
            f"no embedded copy of {url} in folium-offline",
            hint=f"install the folium-offline release that matches folium {folium.__version__}, "
                 "or leave out the map element that links it",
        )
    return assets[url]


def inline_assets(html: str) -> str:
    """Replace CDN ``<script src>`` and stylesheet links of a folium page by their content.

    Local links (relative paths, ``file:`` and ``data:`` URLs) are kept as they are.

    Raises
    ------
    DependencyError
        A linked file that folium-offline does not carry.
    """
    def remote(url: str) -> bool:
        return url.startswith(("http://", "https://", "//"))

    html = _SCRIPT.sub(lambda m: _script(m.group(1)) if remote(m.group(1)) else m.group(0), html)
    html = _LINK.sub(lambda m: _style(m.group(1)) if remote(m.group(1)) else m.group(0), html)
    left = external_references(html)
    if left:
        raise DependencyError(f"the page still links {len(left)} remote files: {', '.join(left[:3])}",
                              hint="remove the elements that link them for an offline page")
    return html


def external_references(html: str) -> list[str]:
    """The remote files an HTML page loads through script, link, img or iframe tags."""
    found = []
    for m in _EXTERNAL.finditer(html):
        tail = html[m.start():html.find(">", m.start()) + 1]
        src = re.search(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", tail, re.IGNORECASE)
        found.append(src.group(1) if src else tail)
    return found


def save_map(m: folium.Map, path: str | Path, *, offline: bool = False,
             budget_bytes: int = MAP_BUDGET_BYTES, warn: bool = True) -> Path:
    """Write a folium map to an HTML file atomically; ``offline=True`` embeds every asset.

    The page states its size and ``budget_bytes`` (:func:`gridkit.maps.budget.stamp_size`);
    past the budget a warning is logged (the command line shows it), unless ``warn=False``
    (for a caller that says so itself).
    """
    return save_page(render_page(m, offline=offline, budget_bytes=budget_bytes), path, offline=offline,
                     budget_bytes=budget_bytes, warn=warn)


def render_page(m: folium.Map, *, offline: bool = False, budget_bytes: int = MAP_BUDGET_BYTES) -> str:
    """The HTML :func:`save_map` writes for ``m``: rendered, assets embedded when ``offline``, size stamped."""
    html = m.get_root().render()
    if offline:
        html = inline_assets(html)
    return stamp_size(html, budget_bytes=budget_bytes)


def save_page(html: str, path: str | Path, *, offline: bool = False, budget_bytes: int = MAP_BUDGET_BYTES,
              warn: bool = True) -> Path:
    """Write a page from :func:`render_page` atomically, logging a warning past ``budget_bytes``."""
    out = write_text(path, html)
    size = len(html.encode())
    log.info("wrote %s (%.1f MB%s)", out, size / 2**20, ", offline" if offline else "")
    if size > budget_bytes and warn:
        log.warning("%s is %.1f MB, over its budget of %.1f MB: it may open slowly", out, size / 2**20,
                    budget_bytes / 2**20)
    return out
