"""The ``gridkit board`` job: read the grids and the tables, write the boards, say what happened.

:func:`board_job` does what the command does, from file names to files written; the
command line only parses its arguments and prints the :class:`BoardJob` it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pandas as pd
import pyogrio

from gridkit._progress import Progress
from gridkit._types import PathLike
from gridkit.board.build import Renderer, boards_for_grids, choose_renderer, stale_boards
from gridkit.board.facts import POPULATION_FIELDS, board_duties, read_contacts
from gridkit.board.fonts import board_font
from gridkit.board.workers import read_workers, workers_for_grids
from gridkit.errors import MissingFieldError, ParameterError
from gridkit.io import list_layers, preferred_layer, read_layer

__all__ = ["BoardJob", "board_job", "routes_for_boards"]

logger = logging.getLogger(__name__)


@dataclass
class BoardJob:
    """What :func:`board_job` wrote and the facts its summary needs.

    Attributes
    ----------
    paths
        The files written, board by board, then ``index.html``.
    boards
        How many boards.
    formats
        The formats written.
    renderer
        ``"chromium"``, ``"matplotlib"`` or None (HTML only).
    renderer_reason
        Why that renderer: ``"asked for"``, ``"found"`` or ``"no Chromium found"``.
    font
        The family the PDF/PNG text is set in (None for HTML only).
    population_from
        Where the population figures come from, in words.
    removed
        Files of boards of grids that are no longer in the grids, removed from the folder.
    notes
        Statements for the reader: workers shared out, routes without geometry.
    """

    paths: list[Path]
    boards: int
    formats: list[str]
    renderer: Literal["chromium", "matplotlib"] | None
    renderer_reason: str
    font: str | None
    population_from: str
    removed: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def board_job(
    grids_path: PathLike,
    outdir: PathLike,
    *,
    layer: str | None = None,
    grid_codes: Sequence[str] | None = None,
    workers: PathLike | None = None,
    contacts: PathLike | None = None,
    duties: PathLike | None = None,
    streets: PathLike | None = None,
    buildings: PathLike | None = None,
    routes: PathLike | None = None,
    photos: PathLike | None = None,
    lang: Literal["zh", "en"] = "zh",
    formats: Sequence[str] = ("html", "pdf", "png"),
    persons_per_household: float = 2.62,
    base_url: str | None = None,
    issued: date | None = None,
    renderer: Renderer = "auto",
    progress: Progress | None = None,
) -> BoardJob:
    """Read the grids (the ``grids`` layer when the file has one) and the optional tables, write
    the notice boards into ``outdir`` (see :func:`~gridkit.board.boards_for_grids`).

    Raises
    ------
    ParameterError
        An unknown format or grid code.
    DependencyError
        PDF or PNG asked for without a CJK TrueType font (or, for ``renderer="chromium"``,
        without Chromium): nothing is written.
    """
    wanted = [f.strip() for f in formats if f.strip()]
    bad = [f for f in wanted if f not in ("html", "pdf", "png")]
    if bad or not wanted:
        raise ParameterError(f"unknown format {', '.join(bad) or '(empty)'}", hint="use any of html,pdf,png")
    printed = [f for f in wanted if f != "html"]
    engine = choose_renderer(renderer) if printed else None
    font = board_font() if printed else None
    grid_layer = preferred_layer(grids_path, layer)
    grids = read_layer(grids_path, layer=grid_layer, geometry="polygon", role="grids", required_fields=["grid_code"])
    grids["grid_code"] = grids["grid_code"].astype(str)
    if grid_codes:
        known = set(grids["grid_code"])
        unknown = [c for c in grid_codes if c not in known]
        if unknown:
            raise ParameterError(f"--grid {', '.join(unknown)}: no such grid code in {grids_path}",
                                 hint=f"use a grid_code of the grids, e.g. {', '.join(sorted(known)[:3])} "
                                      f"({len(known)} grids; 'gridkit inspect {grids_path}' lists the layer)")
    notes: list[str] = []
    building_layer = None
    if buildings is not None:
        building_layer = read_layer(buildings, geometry="polygon", role="buildings")
    elif "buildings" in list_layers(grids_path) and grid_layer != "buildings":
        building_layer = read_layer(grids_path, layer="buildings", geometry="polygon", role="buildings")
    street_layer = read_layer(streets, geometry="line", role="streets") if streets is not None else None
    route_layer = routes_for_boards(routes, notes) if routes is not None else None
    crew = None
    if workers is not None:
        crew = read_workers(workers)
        shared = workers_for_grids(grids, crew)
        shared = shared[shared["assigned_by"] == "round-robin"]
        if len(shared):
            notes.append(f"{workers} gives communities, not grids, for {shared['worker_id'].nunique()} workers: "
                         "each community's workers are assigned to its grids in grid_code order, round-robin "
                         f"({_sharing(shared)})")
    contact_table = read_contacts(contacts) if contacts is not None else None
    duty_lines = board_duties(duties, lang=lang) if duties is not None else None
    removed = stale_boards(outdir, grids["grid_code"])
    paths = boards_for_grids(
        grids, outdir, grid_codes=grid_codes, buildings=building_layer, streets=street_layer, routes=route_layer,
        workers=crew, contacts=contact_table, duties=duty_lines, photos=photos, lang=lang,
        formats=tuple(wanted),  # type: ignore[arg-type]
        persons_per_household=persons_per_household, base_url=base_url, issued=issued,
        renderer=engine or "auto", progress=progress)
    population = ("the grids' population field" if any(c in grids.columns for c in POPULATION_FIELDS)
                  else f"households x {persons_per_household:g}")
    reason = "" if engine is None else ("asked for" if renderer == engine else
                                        "found" if engine == "chromium" else "no Chromium found")
    return BoardJob(paths=paths, boards=(len(paths) - 1) // len(wanted), formats=wanted, renderer=engine,
                    renderer_reason=reason, font=None if font is None else font.family,
                    population_from=population, removed=removed, notes=notes)


def routes_for_boards(path: PathLike, notes: list[str] | None = None) -> gpd.GeoDataFrame:
    """Every layer of a routes file that has a grid_code, as one layer of lines and points.

    ``routes.gpkg`` of ``gridkit patrol plan`` holds the routes and their bases. A feature
    without a geometry (a grid with no street to walk) gives that grid no route on its
    board; ``notes`` gets a line saying which.
    """
    parts = []
    for name in list_layers(path):
        part = pyogrio.read_dataframe(path, layer=name)
        if "grid_code" not in part.columns:
            raise MissingFieldError("the routes have no grid_code field", path=path, field="grid_code",
                                    hint="give the routes.gpkg of 'gridkit patrol plan' or points with grid_code")
        empty = part.geometry.isna() | part.geometry.is_empty
        if empty.any() and notes is not None:
            notes.append(f"{path} layer {name}: {int(empty.sum())} features without a geometry (grids "
                         f"{', '.join(part.loc[empty, 'grid_code'].astype(str)[:5])}): their boards show no {name}")
        kept = part.loc[~empty]
        parts.append(gpd.GeoDataFrame({"grid_code": kept["grid_code"].astype(str).to_numpy()},
                                      geometry=kept.geometry.to_numpy(), crs=part.crs))
    return pd.concat([p.to_crs(parts[0].crs) for p in parts], ignore_index=True)


def _sharing(shared: pd.DataFrame) -> str:
    per_worker = shared.groupby("worker_id")["grid_code"].nunique()
    per_grid = shared.groupby("grid_code")["worker_id"].nunique()
    parts = [f"{shared['grid_code'].nunique()} grids"]
    if (per_worker > 1).any():
        parts.append(f"{int((per_worker > 1).sum())} workers serve more than one grid")
    if (per_grid > 1).any():
        parts.append(f"{int((per_grid > 1).sum())} grids have more than one worker")
    return "; ".join(parts)
