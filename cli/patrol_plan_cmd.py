"""`gridkit patrol plan`: a closed patrol route per grid that walks all its streets."""

from __future__ import annotations

import argparse

_HELP = """\
For every grid, a closed walk from its base that walks every street of the grid at least once
(streets on the grid's edge count for both neighbours) with the least repeated distance (Chinese
postman: minimum-weight matching of the odd-degree crossings). Priority stops are visited first,
nearest first. The base is the grid's point in --base, else the street crossing nearest the
household-weighted centre of the grid's buildings (layer buildings of GRIDS), else its centroid.
--max-minutes cuts a long route into shifts, each a closed walk from the base.
Writes OUTDIR/routes.gpkg (layers routes, bases), turns.csv (turn by turn) and report.md."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("plan", help="patrol routes that walk every street of each grid",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="grids.gpkg from 'gridkit partition' (layer grids; buildings layer used if present)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--streets", help="street lines")
    src.add_argument("--osm", help="an OSM XML file (.osm, .osm.bz2) to take walkable streets from")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--base", help="points with a grid_code: each grid's base (start and end of its route)")
    p.add_argument("--priority", help="points to visit first (hotspots, components due), with a grid_code or "
                                      "taken by the grid they lie in")
    p.add_argument("--speed-kmh", type=float, default=4.5, help="walking speed for est_minutes (4.5)")
    p.add_argument("--max-minutes", type=float, help="cut longer routes into shifts of at most N minutes")
    p.add_argument("--grid", nargs="+", metavar="CODE", help="plan only these grids")
    p.add_argument("--grid-field", default="grid_code", help="grid code field (grid_code)")
    p.add_argument("--edge-tolerance-m", type=float, default=5.0,
                   help="streets along a grid's edge within this distance belong to it (5)")
    p.add_argument("--reach-m", type=float, default=300.0,
                   help="streets within this distance of a grid may be walked to connect its parts (300)")
    p.add_argument("--assume-crs", help="CRS for inputs that declare none (e.g. EPSG:4490)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit_cli._progress import progress_bar

    from gridkit.patrol.job import plan_job
    from gridkit.patrol.route_outputs import no_streets_text

    with progress_bar(args.quiet) as progress:
        job = plan_job(
            args.grids, args.outdir, streets=args.streets, osm=args.osm, base=args.base, priority=args.priority,
            grid_codes=args.grid, grid_field=args.grid_field, speed_kmh=args.speed_kmh, max_minutes=args.max_minutes,
            edge_tolerance_m=args.edge_tolerance_m, reach_m=args.reach_m, assume_crs=args.assume_crs,
            progress=progress)
    f = job.figures
    print(f"{f['grids']} grids, {f['shifts']} routes{no_streets_text(f)}: {f['route_km']:.1f} km to walk for "
          f"{f['required_km']:.1f} km of streets ({f['deadhead_share']:.1%} deadhead), coverage "
          f"{f['coverage_share']:.1%} of the street length of the {f['grids_with_streets']} grids with streets")
    if len(job.plan.issues):
        print(f"{len(job.plan.issues)} issues, listed in {job.outdir / 'report.md'}")
    print(f"wrote {job.outdir / 'routes.gpkg'}, turns.csv, report.md")
    return 0
