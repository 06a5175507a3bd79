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
or by matplotlib when there is none. Nothing on a page needs the network."""


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

    from gridkit.board import boards_for_grids, choose_renderer, read_contacts, workers_for_grids
    from gridkit.board.facts import board_duties, read_table
    from gridkit.io import list_layers, read_layer

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("html", "pdf", "png")]
    if bad or not formats:
        raise ParameterError(f"unknown --format {', '.join(bad) or '(empty)'}", hint="use any of html,pdf,png")
    issued = _date(args.date)
    layers = list_layers(args.grids)
    layer = args.layer or ("grids" if "grids" in layers else None)
    grids = read_layer(args.grids, layer=layer, geometry="polygon", role="grids", required_fields=["grid_code"])
    grids["grid_code"] = grids["grid_code"].astype(str)
    if args.grid:
        known = set(grids["grid_code"])
        unknown = [c for c in args.grid if c not in known]
        if unknown:
            raise ParameterError(f"--grid {', '.join(unknown)}: no such grid code in {args.grids}",
                                 hint=f"use a grid_code of the grids, e.g. {', '.join(sorted(known)[:3])} "
                                      f"({len(known)} grids; 'gridkit inspect {args.grids}' lists the layer)")
    buildings = None
    if args.buildings:
        buildings = read_layer(args.buildings, geometry="polygon", role="buildings")
    elif "buildings" in layers and layer != "buildings":
        buildings = read_layer(args.grids, layer="buildings", geometry="polygon", role="buildings")
    streets = read_layer(args.streets, geometry="line", role="streets") if args.streets else None
    routes = _routes(args.routes) if args.routes else None
    workers = None
    if args.workers:
        table = read_table(args.workers, required=("worker_id", "name", "phone"), what="workers")
        workers = workers_for_grids(grids, table)
        shared = workers[workers["assigned_by"] == "round-robin"]
        if len(shared):
            print(f"{args.workers} gives communities, not grids, for {shared['worker_id'].nunique()} workers: "
                  f"each community's workers are assigned to its grids in grid_code order, round-robin "
                  f"({_sharing(shared)})")
    contacts = read_contacts(args.contacts) if args.contacts else None
    duties = board_duties(args.duties, lang=args.lang) if args.duties else None
    printed = [f for f in formats if f != "html"]
    renderer = choose_renderer(args.renderer) if printed else None
    if renderer:
        print(f"PDF/PNG rendered with {renderer}" + ("" if renderer == "chromium" else " (no Chromium found)"))
    with progress_bar(args.quiet) as progress:
        paths = boards_for_grids(
            grids, args.outdir, grid_codes=args.grid, buildings=buildings, streets=streets, routes=routes,
            workers=workers, contacts=contacts, duties=duties, photos=args.photos, lang=args.lang,
            formats=formats, persons_per_household=args.persons_per_household, base_url=args.base_url,
            issued=issued, renderer=renderer or "auto", progress=progress)
    boards = (len(paths) - 1) // len(formats)
    population = "the grids' population field" if any(c in grids.columns for c in ("population", "人口")) \
        else f"households x {args.persons_per_household:g}"
    print(f"{boards} boards ({', '.join(formats)}) in {Path(args.outdir)}; population from {population}; "
          f"index: {Path(args.outdir) / 'index.html'}")
    return 0


def _routes(path: str):  # type: ignore[no-untyped-def]
    """Every layer of the routes file that has a grid_code (routes.gpkg of 'gridkit patrol plan' holds
    the routes and their bases), as one layer. A grid whose route has no geometry (no street to walk)
    gets no route on its board; the command says which."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    from gridkit.errors import MissingFieldError
    from gridkit.io import list_layers

    parts = []
    for name in list_layers(path):
        part = pyogrio.read_dataframe(path, layer=name)
        if "grid_code" not in part.columns:
            raise MissingFieldError("the routes have no grid_code field", path=path, field="grid_code",
                                    hint="give the routes.gpkg of 'gridkit patrol plan' or points with grid_code")
        empty = part.geometry.isna() | part.geometry.is_empty
        if empty.any():
            print(f"{path} layer {name}: {int(empty.sum())} features without a geometry (grids "
                  f"{', '.join(part.loc[empty, 'grid_code'].astype(str)[:5])}): their boards show no {name}")
        kept = part.loc[~empty]
        parts.append(gpd.GeoDataFrame({"grid_code": kept["grid_code"].astype(str).to_numpy()},
                                      geometry=kept.geometry.to_numpy(), crs=part.crs))
    return pd.concat([p.to_crs(parts[0].crs) for p in parts], ignore_index=True)


def _sharing(shared) -> str:  # type: ignore[no-untyped-def]
    per_worker = shared.groupby("worker_id")["grid_code"].nunique()
    per_grid = shared.groupby("grid_code")["worker_id"].nunique()
    parts = [f"{shared['grid_code'].nunique()} grids"]
    if (per_worker > 1).any():
        parts.append(f"{int((per_worker > 1).sum())} workers serve more than one grid")
    if (per_grid > 1).any():
        parts.append(f"{int((per_grid > 1).sum())} grids have more than one worker")
    return "; ".join(parts)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--date {text!r} is not a date", hint="write it as YYYY-MM-DD, e.g. 2026-11-25") from None
