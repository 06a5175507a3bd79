"""Notice boards (网格公示牌): one printable A3 page per grid.

A board shows the grid's name and code, its map (outline, neighbouring grids, streets,
buildings, the patrol base, a north arrow and a scale bar), households, population, area
and buildings, the grid worker with phone and photo, community hotlines, the worker's
duties, the date of issue and a QR code pointing at the page. :func:`board_html` gives one
self-contained HTML page; :func:`boards_for_grids` writes every board as HTML, PDF and PNG
(headless Chromium, or matplotlib when the system has no Chromium).

Examples
--------
>>> from gridkit.io import read_layer
>>> from gridkit.datasets import get_path
>>> grids = read_layer(get_path("sample_county", "communities.gpkg"))  # any polygons with codes
>>> grids = grids.assign(grid_code=grids["code"] + "001", community_code=grids["code"],
...                      community_name=grids["name"], households=grids.index * 100)
>>> page = board_html("520199001001001", grids)
>>> "文昌社区第1网格" in page
True
"""

from gridkit.board.build import Format, Renderer, board_html, boards_for_grids, choose_renderer, stale_boards
from gridkit.board.facts import (
    PERSONS_PER_HOUSEHOLD,
    BoardFacts,
    Contact,
    Worker,
    board_duties,
    national_hotlines,
    read_contacts,
)
from gridkit.board.workers import read_workers, workers_for_grids, workers_from_grids

__all__ = [
    "PERSONS_PER_HOUSEHOLD",
    "BoardFacts",
    "Contact",
    "Format",
    "Renderer",
    "Worker",
    "board_duties",
    "board_html",
    "boards_for_grids",
    "choose_renderer",
    "national_hotlines",
    "read_contacts",
    "read_workers",
    "stale_boards",
    "workers_for_grids",
    "workers_from_grids",
]
