"""`gridkit partition`: grids from a boundary file and a buildings file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridkit_cli._options import INPUT_COORDS_RULE, add_input_coords

_HELP = """\
Divide every community/village into household-balanced grids that follow streets.
Defaults: city communities 200-500 households per grid (target 300), rural villages
100-300 (target 200); --min/--max/--target override both kinds. Writes OUTDIR/grids.gpkg
(layers grids, buildings, units, communities), report.json, report.md and map.html.

Refused before any work, every problem listed at once (exit 3): household counts that are
not whole numbers >= 0 or exceed --max-households-per-building (default 5,000, beyond any
real building), coordinates outside their CRS, overlapping communities (each pair named
with the overlap area), dedicated compounds outside every community. Invalid geometries
are repaired as the reader does, and the report says how many.

With --previous OLD_GRIDS (a grids.gpkg, or grids drawn by hand or by another tool) the
previous plan is adjusted (动态调整): grids that still keep the rules keep their geometry
and code; only grids that break one are repaired, by moving boundary units first and
splitting or merging where moves cannot. New grids take the next free serial of their
community, a retired code is never reused. Grids named by --lock, or marked in a locked
field, are kept exactly even when they break a rule. Adds changes.csv, changes.html (the
change map) and the codes layer of grids.gpkg; report.md says what changed."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("partition", help="divide communities into household-balanced grids",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("boundaries", help="community/village polygons with a 12-digit division code")
    p.add_argument("--buildings", required=True,
                   help="building polygons with a households field, or household points (one household each "
                        "unless they carry a households field)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--streets", help="street lines (grids follow them)")
    src.add_argument("--osm", help="an OSM XML file (.osm, .osm.bz2) to take streets from")
    p.add_argument("--dedicated", help="polygons of dedicated compounds (专属网格), one grid each")
    p.add_argument("--kind", choices=["auto", "city", "rural"], default="auto",
                   help="auto reads a kind field, a class_code field or digits 10-12 of the code")
    p.add_argument("--min", type=int, help="minimum households per grid")
    p.add_argument("--max", type=int, help="maximum households per grid")
    p.add_argument("--target", type=int, help="target households per grid (decides how many grids)")
    p.add_argument("--households-field", default="households", help="households field of the buildings")
    p.add_argument("--max-households-per-building", type=int, default=5_000,
                   help="refuse a building (or household point) counting more households than this "
                        "(default 5000)")
    p.add_argument("--estimate-households", action="store_true",
                   help="estimate households from footprints and levels (OSM buildings); the report states the rule")
    p.add_argument("--code-field", default="code", help="division-code field of the boundaries")
    p.add_argument("--name-field", default="name", help="name field of the boundaries")
    p.add_argument("--assume-crs", help="CRS for inputs that declare none (e.g. EPSG:4490)")
    add_input_coords(p, roles="boundaries, buildings, streets, dedicated")
    p.add_argument("--tolerance", type=float, default=0.2,
                   help="balance the grids of a community to within this share of its mean households "
                        "(任务相当; default 0.2 = ±20 %%) as far as whole buildings, streets and the bounds allow; "
                        "the report says, per community, how many are within it and why the others are not")
    p.add_argument("--no-balance", action="store_true",
                   help="keep the bisection's grids (within the bounds, not balanced)")
    p.add_argument("--grids", metavar="N|FIELD",
                   help="grids wanted per community (dedicated grids included): a number, or a field of the "
                        "boundary file holding it; met where the bounds allow, else the report says why not")
    p.add_argument("--workers", type=int, default=None,
                   help="divide communities in N local processes (default: every core when the county has "
                        "several communities and 20,000 buildings or more; 1: this process only; same grids "
                        "whatever N)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--previous", metavar="OLD_GRIDS",
                   help="a previous plan to adjust: its grids (grid_code; locked and households used when present)")
    p.add_argument("--lock", nargs="+", default=[], metavar="CODE",
                   help="codes of previous grids to keep exactly, even when they break a rule")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit_cli._progress import progress_bar

    from gridkit.partition.job import PartitionFiles, partition_files
    from gridkit.partition.options import PartitionOptions

    files = PartitionFiles(args.boundaries, args.buildings, streets=args.streets, osm=args.osm,
                           dedicated=args.dedicated, estimate_households=args.estimate_households,
                           assume_crs=args.assume_crs, input_coords=args.input_coords, previous=args.previous,
                           locked=tuple(args.lock))
    options = PartitionOptions(
        kind=args.kind, min_households=args.min, max_households=args.max, target=args.target,
        households_field=args.households_field, code_field=args.code_field, name_field=args.name_field,
        max_households_per_building=args.max_households_per_building, workers=args.workers,
        scheduler=args.scheduler, tolerance=None if args.no_balance else args.tolerance,
        grids=_grids_option(args.grids),
    )
    params = {k: v for k, v in vars(args).items() if k not in ("func",) and v is not None}
    if args.input_coords != "wgs84":  # the report says which inputs were shifted
        params["input_coords_applied_to"] = INPUT_COORDS_RULE
    with progress_bar(args.quiet) as progress:
        done = partition_files(files, args.outdir, options=options, parameters=params, progress=progress)
    _summary(done.report, done.outdir)
    return 0


def _grids_option(value: str | None) -> int | str | None:
    """``--grids 12`` is a number for every community; any other text names a field."""
    if value is None:
        return None
    return int(value) if value.strip().isdigit() else value.strip()


def _summary(report: dict[str, Any], outdir: Any) -> None:
    o = report["overall"]
    print(f"{o['grids']} grids in {o['communities']} communities; "
          f"{o['share_within_bounds_feasible']:.1%} within bounds (feasible communities), "
          f"{o['share_one_piece']:.1%} one piece, mean compactness {o['mean_compactness']:.2f}, "
          f"{o['share_boundary_on_streets']:.0%} of grid boundaries on streets")
    print(f"households: {o['households_in']:,} in, {o['households_in_grids']:,} in grids, "
          f"{o['households_outside']:,} outside every community")
    repaired = o.get("geometries_repaired") or {}
    if repaired:
        print("repaired invalid geometries: " + ", ".join(f"{layer} {n}" for layer, n in repaired.items()))
    n = len(report["rules_not_met"])
    if n:
        print(f"{n} rule exceptions, explained in {outdir / 'report.md'}", file=sys.stderr)
    changes = report.get("changes")
    if changes:
        c = changes["summary"]["counts"]
        print(f"against the previous plan: {c['kept']} grids kept, {c['reshaped']} reshaped, {c['split']} split, "
              f"{c['merged']} merged, {c['new']} new, {c['retired']} retired")
    extra = ", changes.csv, changes.html" if changes else ""
    print(f"wrote {outdir / 'grids.gpkg'}, report.json, report.md, map.html{extra}")
