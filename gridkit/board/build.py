"""Notice boards for grids: the HTML of one board, and every board of a run written to a folder."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit._progress import Progress, no_progress
from gridkit._types import PathLike
from gridkit.board.facts import (
    PERSONS_PER_HOUSEHOLD,
    BoardFacts,
    Lang,
    board_duties,
    facts_for_grids,
)
from gridkit.board.fonts import BoardFont, board_font
from gridkit.board.page import MAP_PANEL_MM, PAGE_MM, board_page, index_page
from gridkit.board.scene import MapLayers, Scene, scene_for_grid, scene_svg
from gridkit.board.workers import workers_for_grids, workers_from_grids
from gridkit.errors import DependencyError, InputDataError, MissingFieldError, ParameterError
from gridkit.io import atomic_dir, keep_dimension, write_text

__all__ = ["Format", "Renderer", "board_html", "boards_for_grids", "choose_renderer", "stale_boards"]

logger = logging.getLogger(__name__)

Renderer = Literal["auto", "chromium", "matplotlib"]
Format = Literal["html", "pdf", "png"]
_FORMATS: tuple[str, ...] = get_args(Format)


def choose_renderer(renderer: Renderer = "auto") -> Literal["chromium", "matplotlib"]:
    """The renderer that will make PDFs and PNGs: Chromium when the system has it.

    ``"auto"`` takes Chromium (see :func:`gridkit._chromium.find_chromium`) and falls back to
    matplotlib, which draws the same map and facts in a simpler layout.

    Raises
    ------
    DependencyError
        ``"chromium"`` was asked for and none is found.
    """
    from gridkit._chromium import ENV_VAR, find_chromium

    if renderer not in get_args(Renderer):
        raise ParameterError(f"unknown renderer {renderer!r}", hint=f"use one of {', '.join(get_args(Renderer))}")
    if renderer == "matplotlib":
        return "matplotlib"
    if find_chromium() is not None:
        return "chromium"
    if renderer == "chromium":
        raise DependencyError("no Chromium browser found",
                              hint=f"install the Debian package chromium (scripts/system-deps.sh), set {ENV_VAR}, "
                                   "or use the matplotlib renderer")
    logger.warning("no Chromium found: PDF and PNG boards are drawn with matplotlib")
    return "matplotlib"


class _Run:
    """Inputs checked once and shared by every board of a run."""

    def __init__(
        self,
        grids: gpd.GeoDataFrame,
        *,
        buildings: gpd.GeoDataFrame | None,
        streets: gpd.GeoDataFrame | None,
        routes: gpd.GeoDataFrame | None,
        workers: pd.DataFrame | None,
        contacts: pd.DataFrame | None,
        duties: Sequence[str] | None,
        photos: PathLike | None,
        lang: Lang,
        persons_per_household: float,
        base_url: str | None,
        issued: date | None,
    ) -> None:
        grids = _checked_grids(grids)
        buildings, streets, routes = (_repaired(layer, what) for layer, what in
                                      ((buildings, "building"), (streets, "street"), (routes, "route")))
        self.lang = lang
        self.layers = MapLayers.prepare(grids, buildings=buildings, streets=streets, routes=routes)
        crew = workers_from_grids(grids) if workers is None else workers_for_grids(grids, workers)
        area = _area(grids, self.layers)
        counts = _building_counts(grids, buildings, self.layers)
        self.facts: dict[str, BoardFacts] = facts_for_grids(
            grids, area_m2=area, buildings=counts, workers=crew, contacts=contacts,
            duties=board_duties(lang=lang) if duties is None else duties, photos=photos, lang=lang,
            persons_per_household=persons_per_household, issued=issued, base_url=base_url)
        self.codes = list(self.facts)

    def select(self, grid_codes: Sequence[str] | None) -> list[str]:
        if grid_codes is None:
            return sorted(self.codes)
        wanted = [str(c).strip() for c in grid_codes]
        unknown = [c for c in wanted if c not in self.facts]
        if unknown:
            raise ParameterError(
                f"no grid with code {', '.join(unknown)} in the grids", field="grid_code",
                hint=f"give a 15-digit grid_code of the grids file, e.g. {', '.join(sorted(self.codes)[:3])} "
                     f"({len(self.codes)} grids)")
        return list(dict.fromkeys(wanted))

    def scene(self, code: str) -> Scene:
        return scene_for_grid(self.layers, code, panel_mm=MAP_PANEL_MM, lang=self.lang)

    def html(self, code: str, scene: Scene) -> str:
        return board_page(self.facts[code], scene_svg(scene, lang=self.lang), legend_base=scene.base is not None,
                          legend_route=scene.route is not None)


def _checked_grids(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    path = grids.attrs.get("source")
    if "grid_code" not in grids.columns:
        raise MissingFieldError("the grids have no grid_code field", path=path, field="grid_code",
                                hint="use the grids layer written by 'gridkit partition'")
    if grids.crs is None:
        raise InputDataError("the grids have no CRS", path=path, hint="set the CRS of the grids layer")
    grids = _repaired(grids, "grid").copy()  # type: ignore[union-attr]
    grids["grid_code"] = grids["grid_code"].astype(str).str.strip()
    dup = grids.index[grids["grid_code"].duplicated(keep=False)]
    if len(dup):
        raise InputDataError(f"grid codes repeat: {', '.join(sorted(set(grids.loc[dup, 'grid_code'])))}",
                             path=path, feature_ids=list(dup), field="grid_code",
                             hint="every grid needs its own code; run 'gridkit partition' again")
    empty = grids.index[grids.geometry.is_empty | grids.geometry.isna()]
    if len(empty):
        raise InputDataError("grids without a geometry (none, or no area left once an invalid one is repaired)",
                             path=path, feature_ids=list(empty), field="geometry", hint="drop or redraw these grids")
    return grids


def _repaired(layer: gpd.GeoDataFrame | None, what: str) -> gpd.GeoDataFrame | None:
    """``layer`` with invalid geometries repaired as :func:`gridkit.io.read_layer` repairs them
    (``make_valid``, structure method, the parts of each geometry's own dimension): a library
    caller may hand the boards any geometry, and drawing an invalid one raised a GEOS error."""
    if layer is None:
        return None
    geoms = layer.geometry.to_numpy()
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if not bad.any():
        return layer
    fixed = geoms.copy()
    fixed[bad] = keep_dimension(shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False),
                                shapely.get_dimensions(geoms[bad]))
    logger.info("boards: %d invalid %s geometries repaired", int(bad.sum()), what)
    return layer.set_geometry(gpd.GeoSeries(fixed, index=layer.index, crs=layer.crs))


def _area(grids: gpd.GeoDataFrame, layers: MapLayers) -> pd.Series:
    if "area_m2" in grids.columns:
        values = pd.to_numeric(grids["area_m2"], errors="coerce")
        if values.notna().all():
            return values
    return pd.Series(shapely.area(layers.grids.geometry.to_numpy()), index=grids.index)


def _building_counts(grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None, layers: MapLayers) -> pd.Series:
    """Buildings per grid: the grids' ``buildings`` field, else counted from the buildings layer
    (by its grid_code, else by where each building's inner point lies); NA when neither is there."""
    if "buildings" in grids.columns:
        values = pd.to_numeric(grids["buildings"], errors="coerce")
        if values.notna().all():
            return values
    if buildings is None or layers.buildings is None:
        return pd.Series(pd.NA, index=grids.index, dtype="Int64")
    codes = grids["grid_code"].astype(str)
    if "grid_code" in layers.buildings.columns:
        counts = layers.buildings["grid_code"].astype(str).value_counts()
    else:
        points = shapely.point_on_surface(layers.buildings.geometry.to_numpy())
        inside, grid_i = layers.grids.sindex.query(points, predicate="within")
        counts = pd.Series(np.bincount(grid_i, minlength=len(codes)), index=layers.grids["grid_code"])
        del inside
    return pd.Series(codes.map(counts).fillna(0).astype(int).to_numpy(), index=grids.index)


def board_html(
    grid_code: str,
    grids: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    workers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    duties: Sequence[str] | None = None,
    photos: PathLike | None = None,
    lang: Lang = "zh",
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    base_url: str | None = None,
    issued: date | None = None,
) -> str:
    """The notice board (网格公示牌) of one grid as a self-contained A3-landscape HTML page.

    Parameters
    ----------
    grid_code
        The grid to draw (15-digit code, as text).
    grids
        The grids layer of ``gridkit partition``: ``grid_code``, ``community_code``,
        ``community_name``, ``households`` (``buildings``, ``area_m2``, ``dedicated``,
        ``dedicated_name`` and a ``population`` field are used when present).
    buildings, streets
        Layers drawn on the map (any CRS). Buildings with a ``grid_code`` are coloured by it.
    routes
        Patrol routes (lines: the first vertex is the base) or base points, with ``grid_code``.
    workers
        Workers table (see :func:`~gridkit.board.workers_for_grids`); by default the
        grids' own ``worker_name``/``worker_phone`` fields, if any.
    contacts
        Hotlines table from :func:`~gridkit.board.read_contacts`.
    duties
        The duty texts; by default the bundled list in ``lang``.
    photos
        A folder of ``<worker_id>.jpg``/``.png`` photos, inlined into the page.
    lang
        ``"zh"`` or ``"en"``.
    persons_per_household
        Population = households x this, unless the grids carry a population field.
    base_url
        Where the pages are published; the QR code points at ``base_url/<grid_code>.html``
        (``{grid_code}`` in it is replaced). By default the relative file name.
    issued
        Date of issue; today by default.

    Examples
    --------
    >>> import shapely
    >>> grids = gpd.GeoDataFrame({"grid_code": ["520199001001001"], "community_code": ["520199001001"],
    ...     "community_name": ["文昌社区"], "households": [300]},
    ...     geometry=[shapely.box(106.61, 26.46, 106.612, 26.462)], crs=4490)
    >>> page = board_html("520199001001001", grids)
    >>> "文昌社区第1网格" in page and "http" not in page
    True
    """
    run = _Run(grids, buildings=buildings, streets=streets, routes=routes, workers=workers, contacts=contacts,
               duties=duties, photos=photos, lang=lang, persons_per_household=persons_per_household,
               base_url=base_url, issued=issued)
    code = run.select([grid_code])[0]
    return run.html(code, run.scene(code))


def boards_for_grids(
    grids: gpd.GeoDataFrame,
    outdir: PathLike,
    *,
    grid_codes: Sequence[str] | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    workers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    duties: Sequence[str] | None = None,
    photos: PathLike | None = None,
    lang: Lang = "zh",
    formats: Sequence[Format] = ("html", "pdf", "png"),
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    base_url: str | None = None,
    issued: date | None = None,
    renderer: Renderer = "auto",
    progress: Progress | None = None,
) -> list[Path]:
    """Write the notice board of every grid (or of ``grid_codes``) into ``outdir``.

    Each board is ``<grid_code>.html`` (self-contained), ``<grid_code>.pdf`` (one A3
    landscape page) and ``<grid_code>.png`` (150 dpi), as ``formats`` asks, plus an
    ``index.html`` listing the boards of the run. PDF and PNG come from one headless
    Chromium for the whole run (or matplotlib, see :func:`choose_renderer`), set in the
    TrueType CJK font of :func:`gridkit.board.fonts.board_font`; without one the call
    refuses before writing anything. The folder is written atomically: on any error
    nothing is left behind. Boards an earlier run wrote into ``outdir`` for grids that
    are not in ``grids`` any more (see :func:`stale_boards`) are removed once the new
    ones are in place.

    Parameters are those of :func:`board_html`, plus:

    Parameters
    ----------
    outdir
        The output folder (created; files of the same name are replaced).
    grid_codes
        The grids to draw; all by default.
    formats
        Any of ``"html"``, ``"pdf"``, ``"png"``.
    renderer
        ``"auto"``, ``"chromium"`` or ``"matplotlib"``.
    progress
        Called as ``progress(done, total, label)`` per board and per rendering.

    Returns
    -------
    list of pathlib.Path
        The files written, board by board, then ``index.html``.

    Raises
    ------
    DependencyError
        PDF or PNG asked for and no TrueType CJK font (or, for ``"chromium"``, no
        Chromium) is found: the message says what to install.
    """
    formats = list(dict.fromkeys(formats))
    bad = [f for f in formats if f not in _FORMATS]
    if bad or not formats:
        raise ParameterError(f"unknown format(s) {', '.join(map(str, bad)) or '(none)'}",
                             hint=f"use any of {', '.join(_FORMATS)}")
    progress = progress or no_progress
    run = _Run(grids, buildings=buildings, streets=streets, routes=routes, workers=workers, contacts=contacts,
               duties=duties, photos=photos, lang=lang, persons_per_household=persons_per_household,
               base_url=base_url, issued=issued)
    codes = run.select(grid_codes)
    printed: list[str] = [f for f in formats if f != "html"]
    engine = choose_renderer(renderer) if printed else None
    font = board_font() if printed else None
    outdir = Path(outdir)
    names: dict[str, dict[str, str]] = {}
    with atomic_dir(outdir) as tmp:
        scenes: dict[str, Scene] = {}
        for i, code in enumerate(codes):
            scene = run.scene(code)
            if engine == "matplotlib":
                scenes[code] = scene
            (tmp / f"{code}.html").write_text(run.html(code, scene), encoding="utf-8")
            names[code] = {f: f"{code}.{f}" for f in formats}
            progress(i + 1, len(codes), "boards")
        if engine == "chromium" and font is not None:
            _render_chromium(tmp, codes, printed, font, progress)
        elif engine == "matplotlib" and font is not None:
            from gridkit.board.mplboard import save_board

            for i, code in enumerate(codes):
                save_board(run.facts[code], scenes[code], pdf=tmp / f"{code}.pdf" if "pdf" in printed else None,
                           png=tmp / f"{code}.png" if "png" in printed else None, font=font)
                progress(i + 1, len(codes), "PDF/PNG (matplotlib)")
        if "html" not in formats:
            for code in codes:
                (tmp / f"{code}.html").unlink()
        rows = [_index_row(run.facts[c], names[c]) for c in codes]
        write_text(tmp / "index.html", index_page(rows, lang=lang))
    written = [outdir / names[c][f] for c in codes for f in formats] + [outdir / "index.html"]
    removed = _remove(stale_boards(outdir, run.codes))
    logger.info("wrote %d boards (%s) to %s%s%s", len(codes), ", ".join(formats), outdir,
                f" rendered with {engine} in {font.family}" if engine and font else "",
                f"; removed {len(removed)} files of boards of grids no longer in the grids" if removed else "")
    return written


_GRID_META = re.compile(rb'<meta name="grid-code" content="([^"]*)">')
_BOARD_EXTS = tuple(f".{f}" for f in _FORMATS)


def stale_boards(outdir: PathLike, grid_codes: Iterable[str]) -> list[Path]:
    """Files of boards gridkit wrote into ``outdir`` for grids not among ``grid_codes``.

    A board page is recognised by its ``<meta name="grid-code">`` (every page
    :func:`board_html` writes has one); its PDF and PNG are the files of the same name.
    Other files in the folder are never touched.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "520199001001009.html").write_text('<head><meta name="grid-code" content="520199001001009">')
    >>> _ = (folder / "520199001001009.pdf").write_bytes(b"%PDF")
    >>> _ = (folder / "notes.html").write_text("<p>mine</p>")
    >>> [p.name for p in stale_boards(folder, ["520199001001001"])]
    ['520199001001009.html', '520199001001009.pdf']
    """
    folder = Path(outdir)
    if not folder.is_dir():
        return []
    keep = {str(c) for c in grid_codes}
    out: list[Path] = []
    for page in sorted(folder.glob("*.html")):
        try:
            with open(page, "rb") as handle:
                head = handle.read(4096)
        except OSError:
            continue
        found = _GRID_META.search(head)
        if found is None or found.group(1).decode("utf-8", "replace") in keep:
            continue
        out += [p for p in (page.with_suffix(ext) for ext in _BOARD_EXTS) if p.is_file()]
    return out


def _remove(paths: list[Path]) -> list[Path]:
    for path in paths:
        path.unlink(missing_ok=True)
    if paths:
        logger.info("removed %d files of boards of grids no longer in the grids: %s", len(paths),
                    ", ".join(sorted({p.stem for p in paths})[:10]))
    return paths


def _render_chromium(folder: Path, codes: list[str], printed: list[str], font: BoardFont,
                     progress: Progress) -> None:
    from gridkit._chromium import PageRenderer

    with PageRenderer(page_mm=PAGE_MM, font=font.path, font_family=font.family) as renderer:
        for i, code in enumerate(codes):
            renderer.render(folder / f"{code}.html", pdf=folder / f"{code}.pdf" if "pdf" in printed else None,
                            png=folder / f"{code}.png" if "png" in printed else None, selector=".board")
            progress(i + 1, len(codes), "PDF/PNG (Chromium)")


def _index_row(facts: BoardFacts, files: dict[str, str]) -> dict[str, str]:
    worker = "、".join(w.name for w in facts.workers)
    return {"grid_code": facts.grid_code, "name": facts.name, "households": f"{facts.households:,}",
            "worker": worker, **files}

