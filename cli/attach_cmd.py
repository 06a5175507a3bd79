"""`gridkit attach`: components or incidents into their grids, per-grid statistics, the case evaluation."""

from __future__ import annotations

import argparse
from typing import Any

from gridkit_cli._options import add_input_coords

_HELP = """\
Give every component (部件) or incident (事件) the grid_code and community_code of the grid
it lies in (a point on a shared edge goes to the grid with the smallest code; points outside
every grid are kept with empty codes and their distance outside_m), name its category, and
count points per grid. For incidents with reported_at (registered_at, closed_at, due_at,
status, level), also the case indicators per grid and the evaluation (考核) per grid and per
worker. Writes OUT.gpkg (layers components|incidents, grid_stats, evaluation) and, for
incidents, OUT_evaluation_grids.csv, OUT_evaluation_workers.csv (grids with a worker field)
and OUT_evaluation.md beside it; incident times are GeoPackage datetimes (UTC).

Refused (exit 3, nothing written): points that are not points (polygons of components:
give a point per feature), repeated component_id / incident_id, a file without categories
(no category field, components also no component_id). Reported: incident times after the
run (a warning line, the future_time field and a line in OUT_evaluation.md)."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("attach", help="put components or incidents into their grids, per-grid statistics",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="grid polygons with grid_code (grids.gpkg of 'gridkit partition')")
    p.add_argument("points", help="components or incidents: GeoPackage, Shapefile, GeoJSON, GeoParquet, "
                                  "or CSV with lon/lat")
    p.add_argument("--as", dest="kind", required=True, choices=["components", "incidents"],
                   help="what the points are (chooses the category table)")
    p.add_argument("-o", "--output", required=True, help="the GeoPackage to write (.gpkg)")
    p.add_argument("--grids-layer", help="layer of GRIDS to read (default 'grids' when the file has it)")
    p.add_argument("--layer", help="layer of POINTS to read, when it holds several")
    p.add_argument("--grid-field", default="grid_code", help="grid-code field of the grids")
    add_input_coords(p, roles="grids, components, incidents")
    p.add_argument("--assume-crs", help="CRS for inputs that declare none (CSV default EPSG:4326)")
    p.add_argument("--streets", help="street lines: components per km of street in each grid")
    p.add_argument("--categories", help="a category table of your own (CSV: code, major, name_zh, name_en, "
                                        "major_zh, major_en)")
    p.add_argument("--time-limits", help="case time limits (CSV: category, limit, unit hours|working_hours|"
                                         "working_days); default the bundled table")
    p.add_argument("--holidays", help="holidays CSV (date[, kind holiday|workday]) for working time, or 'cn' "
                              "for the bundled 2023-2024 Chinese public holidays; default none (Mon-Fri, "
                              "09:00-12:00 and 13:00-18:00)")
    p.add_argument("--as-of", help="evaluation time, ISO 8601 (default: the latest time in the data, or the "
                                   "end of --month)")
    p.add_argument("--month", help="YYYY-MM: evaluate only cases reported in that month")
    p.add_argument("--worker-field", help="worker field of the grids for the per-worker evaluation "
                                          "(default worker_id when present)")
    p.add_argument("--memory-limit", help="attach in chunks within this memory (e.g. 2GB; with --workers "
                                          "all the processes together); points written as GeoParquet parts")
    p.add_argument("--workers", type=int, help="attach in chunks in N local worker processes (forked: no cluster "
                                               "to start; with --scheduler, Dask)")
    p.add_argument("--scheduler", help="attach in chunks on a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                                       "(the output folder must be shared with the workers)")
    p.add_argument("--chunk-rows", type=int, help="rows per chunk instead of what --memory-limit gives")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit.incidents.job import AttachOptions, attach_job

    options = AttachOptions(
        kind=args.kind, grids_layer=args.grids_layer, layer=args.layer, grid_field=args.grid_field,
        input_coords=args.input_coords, assume_crs=args.assume_crs, categories=args.categories,
        time_limits=args.time_limits, holidays=args.holidays, as_of=args.as_of, month=args.month,
        worker_field=args.worker_field,
    )
    chunked = {"memory_limit": args.memory_limit, "rows": args.chunk_rows, "streets_path": args.streets}
    result: Any
    if args.scheduler is not None:
        from gridkit.incidents.distributed import attach_dask_job

        result = attach_dask_job(args.grids, args.points, args.output, options=options,
                                 workers=args.workers or 2, scheduler=args.scheduler, **chunked)
    elif args.workers is not None:
        from gridkit.incidents.pool import attach_pool_job

        result = attach_pool_job(args.grids, args.points, args.output, options=options, workers=args.workers,
                                 **chunked)
    elif args.memory_limit is not None or args.chunk_rows is not None:
        from gridkit.incidents.stream import attach_stream_job

        result = attach_stream_job(args.grids, args.points, args.output, options=options, **chunked)
    else:
        result = attach_job(args.grids, args.points, args.output, options=options, streets_path=args.streets)
    for line in result.summary():
        print(line)
    return 0
