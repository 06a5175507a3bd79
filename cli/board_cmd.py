"""`gridkit board`: a notice-board page (网格公示牌) per grid, as HTML, PDF and PNG."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from gridkit.errors import ParameterError

_HELP = """\
For each grid (or the ones named with --grid) write OUTDIR/<grid_code>.html, a self-contained
A3-landscape notice board (map of the grid, households, population, area, buildings, grid
worker with phone and photo, hotlines, duties, date of issue, QR code), and print-ready
OUTDIR/<grid_code>.pdf (one A3 page) and .png (150 dpi), plus OUTDIR/index.html.
PDF and PNG are rendered by headless Chromium (GRIDKIT_CHROMIUM, /usr/bin/chromium, ...),
or by matplotlib when there is none, in a TrueType Chinese font (GRIDKIT_FONTS, the
paperang-p2-fonts-cjk package installed with gridkit, or the system's); without one the
command stops and says what to install. Boards an earlier run left in OUTDIR for grids
that are no longer in GRIDS are removed. Nothing on a page needs the network."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("board", help="notice-board pages (网格公示牌) per grid, HTML/PDF/PNG",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="the grids (grids.gpkg of 'gridkit partition', or any polygons with grid_code)")
    p.add_argument("--layer", help="layer of GRIDS to read (default: 'grids' when the file has it)")
    p.add_argument("--grid", action="append", metavar="CODE", help="draw only this grid (repeatable)")
    p.add_argument("--workers", metavar="CSV",
                   help="worker_id, name, phone and grid_code or community_code (a community's workers are "
                        "then shared out over its grids in grid_code order, round-robin); default: worker_name/"
                        "worker_phone fields of the grids, if any")
    p.add_argument("--contacts", metavar="CSV",
                   help="community hotlines: community_code, name, phone (empty community_code: every board; "
                        "optional grid_code column: one grid)")
    p.add_argument("--duties", metavar="CSV", help="duties to print instead of the standard list (order, zh, en)")
    p.add_argument("--streets", metavar="FILE", help="street lines drawn on the maps (name, highway)")
    p.add_argument("--buildings", metavar="FILE",
                   help="building footprints (default: the buildings layer of GRIDS when it has one)")
    p.add_argument("--routes", metavar="FILE",
                   help="patrol routes with grid_code: lines (routes.gpkg of 'gridkit patrol plan': its routes and "
                        "bases layers are both read) or base points; without a point the base is the route's start")
    p.add_argument("--photos", metavar="DIR", help="folder of worker photos <worker_id>.jpg or .png")
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the boards")
    p.add_argument("--format", default="html,pdf,png",
                   help="comma-separated formats: html, pdf, png (default all three)")
    p.add_argument("--persons-per-household", type=float, default=2.62,
                   help="population = households x this when the grids carry no population field (default 2.62, "
                        "the 2020 census average)")
    p.add_argument("--base-url", help="where the pages will be published: the QR code points at "
                                      "BASE_URL/<grid_code>.html ({grid_code} in it is replaced); "
                                      "default the relative file name")
    p.add_argument("--date", help="date of issue, YYYY-MM-DD (default today)")
    p.add_argument("--renderer", choices=["auto", "chromium", "matplotlib"], default="auto",
                   help="PDF/PNG renderer (auto: Chromium when found, else matplotlib)")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit_cli._progress import progress_bar

    from gridkit.board.job import board_job

    with progress_bar(args.quiet) as progress:
        job = board_job(
            args.grids, args.outdir, layer=args.layer, grid_codes=args.grid, workers=args.workers,
            contacts=args.contacts, duties=args.duties, streets=args.streets, buildings=args.buildings,
            routes=args.routes, photos=args.photos, lang=args.lang, formats=args.format.split(","),
            persons_per_household=args.persons_per_household, base_url=args.base_url, issued=_date(args.date),
            renderer=args.renderer, progress=progress)
    for note in job.notes:
        print(note)
    if job.renderer:
        print(f"PDF/PNG rendered with {job.renderer} ({job.renderer_reason}), text in {job.font}")
    if job.removed:
        codes = sorted({p.stem for p in job.removed})
        print(f"removed {len(job.removed)} files of {len(codes)} boards of grids no longer in {args.grids}: "
              f"{', '.join(codes[:5])}{' ...' if len(codes) > 5 else ''}")
    print(f"{job.boards} boards ({', '.join(job.formats)}) in {Path(args.outdir)}; population from "
          f"{job.population_from}; index: {Path(args.outdir) / 'index.html'}")
    return 0


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--date {text!r} is not a date", hint="write it as YYYY-MM-DD, e.g. 2026-11-25") from None
