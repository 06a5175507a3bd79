"""The weight budget of a page: every page gridkit writes says how big it is and what it is meant to stay under.

:func:`stamp_size` writes into a rendered page a ``<meta name="gridkit-size-budget">`` tag
and a small line at the bottom left, "page 3.2 MB (budget 16 MB)", with the page's own
final size. :func:`gridkit.maps.save_map` stamps every page it writes and logs a warning
past the budget (which the command line shows); the heat page does the same with its own
budget (:data:`gridkit.heat.page.PAGE_BUDGET_BYTES`).

Examples
--------
>>> html = stamp_size("<html><head></head><body></body></html>", budget_bytes=2**20)
>>> 'content="1048576"' in html, "(budget 1 MB)" in html
(True, True)
>>> page_size(html) == len(html.encode("utf-8"))
True
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAP_BUDGET_BYTES", "PageSize", "page_size", "stamp_size"]

#: The size an overview or sign-off page is meant to stay under, whatever the data (16 MiB).
MAP_BUDGET_BYTES = 16 * 2**20

_MARK = "@@GRIDKIT_PAGE_MB@@"
_SIZE_RE = re.compile(r'<meta name="gridkit-page-bytes" content="(\d+)">')


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f}".rstrip("0").rstrip(".") if n >= 2**20 else f"{n / 2**20:.2f}"


def stamp_size(html: str, *, budget_bytes: int, label: str = "page / 页面") -> str:
    """``html`` with its size and budget in a meta tag and a line on the page.

    The size written is the size of the returned text in UTF-8 bytes.
    """
    head = (f'<meta name="gridkit-size-budget" content="{int(budget_bytes)}">'
            f'<meta name="gridkit-page-bytes" content="{_MARK}">')
    line = ('<div id="gridkit-page-size" style="position:fixed;left:4px;bottom:2px;z-index:900;'
            'font:10px sans-serif;color:#555;background:rgba(255,255,255,0.7);padding:0 3px">'
            f'{_html.escape(label)} {_MARK} MB (budget {_mb(int(budget_bytes))} MB)</div>')
    html = html.replace("</head>", head + "</head>", 1) if "</head>" in html else head + html
    html = html.replace("</body>", line + "</body>", 1) if "</body>" in html else html + line
    # the size depends on the digits written: settle it (two rounds at most)
    size = len(html.encode("utf-8"))
    for _ in range(3):
        text = html.replace(f'content="{_MARK}"', f'content="{size}"').replace(f"{_MARK} MB", f"{_mb(size)} MB")
        final = len(text.encode("utf-8"))
        if final == size:
            return text
        size = final
    return text


def page_size(html: str) -> int | None:
    """The size a page stamped by :func:`stamp_size` says it has, or None."""
    found = _SIZE_RE.search(html)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class PageSize:
    """A written page, its size and its budget."""

    path: Path
    size_bytes: int
    budget_bytes: int

    @property
    def over_budget(self) -> bool:
        """True when the page is larger than its budget."""
        return self.size_bytes > self.budget_bytes
