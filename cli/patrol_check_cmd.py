"""`gridkit patrol check`: clean grid workers' GPS tracks and measure them against their grids."""

from __future__ import annotations

import argparse

_HELP = """\
Clean GPS tracks (duplicates, repeated times, jumps above --max-speed-kmh) and measure
every worker-day (local time) against the worker's grid: distance, active hours, share
of time inside the grid, share of the grid's street length within 25 m of the track,
buildings passed within 30 m, stops (2 min within 30 m) and excursions outside the grid.
Writes OUTDIR/tracks.gpkg (layers tracks, stops, dropped[, unvisited]), coverage.csv
(worker-days), coverage_workers.csv (per worker), coverage.md and, with --month,
unvisited_buildings.csv. Times in tracks.gpkg are GeoPackage datetimes (UTC); the CSV
tables and the report use local time. Fixes timed after the check (a wrong GPS clock)
are measured as given and reported: how many, which workers."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="check GPS tracks against the grids (coverage, stops, excursions)",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="grids.gpkg from 'gridkit partition' (layer grids; buildings taken from it)")
    p.add_argument("tracks", nargs="+",
                   help="CSV (worker_id, time, lon, lat) or GPX files, or folders of them")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--workers", help="CSV with worker_id and grid_code or community_code, the table 'gridkit board' "
                                     "reads (a community's workers are shared out over its grids as on the boards; "
                                     "else: the grid where a worker spent most time)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--streets", help="street lines, for street coverage")
    src.add_argument("--osm", help="an OSM XML file to take walkable streets from")
    p.add_argument("--buildings", help="building footprints (default: the buildings layer of GRIDS)")
    p.add_argument("--max-speed-kmh", type=float, default=25.0, help="fixes needing a faster speed are jumps (25)")
    p.add_argument("--month", help="YYYY-MM: list the buildings of each worker's grid never passed that month")
    p.add_argument("--input-coords", choices=["wgs84", "gcj02", "bd09"], default="wgs84",
                   help="track coordinates from Amap (gcj02) or Baidu (bd09) are converted to WGS84")
    p.add_argument("--timezone", default="Asia/Shanghai",
                   help="times with an offset (GPX: UTC) are converted to this zone; naive times are local")
    p.add_argument("--grid-field", default="grid_code", help="grid code field of the grids and workers table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit_cli._progress import progress_bar

    from gridkit.patrol.job import check_job

    params = {k: v for k, v in vars(args).items() if k != "func" and v is not None}
    with progress_bar(args.quiet) as progress:
        job = check_job(args.grids, args.tracks, args.outdir, workers=args.workers, streets=args.streets,
                        osm=args.osm, buildings=args.buildings, month=args.month, grid_field=args.grid_field,
                        max_speed_kmh=args.max_speed_kmh, input_coords=args.input_coords, timezone=args.timezone,
                        parameters=params, progress=progress)
    f = job.result.figures
    dropped = ", ".join(f"{n} {r}" for r, n in f["fixes_dropped"].items() if n) or "none"
    print(f"{f['fixes_read']:,} fixes of {f['workers']} workers on {f['worker_days']} worker-days; "
          f"kept {f['fixes_kept']:,}, dropped {dropped}")
    for note in job.result.notes:
        print(f"note: {note}")
    print(f"wrote {job.files[0]}, {', '.join(p.name for p in job.files[1:])}")
    return 0
