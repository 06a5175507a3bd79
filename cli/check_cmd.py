"""`gridkit check`: check any grid file against the rules of grid management."""

from __future__ import annotations

import argparse
import sys

_HELP = """\
Check a grid file — gridkit's grids.gpkg, a hand-drawn plan, another tool's, one edited in
QGIS — against every rule: households within the bounds (from --buildings when given, each
building in the grid holding its largest part or its centroid; else the grids' households
field) and within the balance tolerance of the community's mean, each grid inside one
community, no gaps or overlaps (exact predicates in the grid file's CRS; slivers under
0.2 m wide are ignored), each grid in one piece, no building split by a grid boundary,
households conserved, codes of 15 digits, unique, starting with the community's code,
serials in reading order.

Writes OUTDIR/report.md, report.json and problems.gpkg (layer 'problems', in the grid
file's CRS: the place of each finding with its rule, severity, grid codes, households and
area in m²), to open over the grids in QGIS. Balance and reading order are soft: reported,
failing only with --strict; what the data makes unavoidable (a village below the minimum,
one building above the maximum) is reported and does not fail.

Exit codes: 0 every rule holds, 1 a rule is broken, 2 usage error, 3 bad input (the
message names the file, the features and the field)."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="check any grid file against the rules (gaps, overlaps, bounds, codes…)",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="grid polygons (grids.gpkg from 'gridkit partition', or any layer)")
    p.add_argument("--communities", required=True, help="community/village polygons with a 12-digit division code")
    p.add_argument("--buildings", help="buildings with a households field (or household points): count from them")
    p.add_argument("--kind", choices=["auto", "city", "rural"], default="auto",
                   help="auto reads a kind field, a class_code field or digits 10-12 of the code")
    p.add_argument("--min", type=int, help="minimum households per grid")
    p.add_argument("--max", type=int, help="maximum households per grid")
    p.add_argument("--tolerance", type=float, default=0.2,
                   help="report grids more than this share from their community's mean (default 0.2 = ±20 %%)")
    p.add_argument("--strict", action="store_true", help="soft findings (balance, reading order) fail too")
    p.add_argument("--assign", choices=["overlap", "centroid"], default="overlap",
                   help="a building counts in the grid holding its largest part (default) or its centroid")
    p.add_argument("--code-field", default="code", help="division-code field of the communities")
    p.add_argument("--name-field", default="name", help="name field of the communities")
    p.add_argument("--households-field", default="households",
                   help="households field of the buildings, or of the grids without --buildings")
    p.add_argument("--grid-code-field", default="grid_code", help="grid code field of the grids")
    p.add_argument("--dedicated-field", default="dedicated",
                   help="field marking dedicated grids (专属网格, exempt from the bounds)")
    p.add_argument("--max-households-per-building", type=int, default=5_000,
                   help="refuse a building counting more households than this (default 5000)")
    p.add_argument("--layer", help="layer of the grids file (default: 'grids' when present)")
    p.add_argument("--communities-layer", help="layer of the communities file (default: 'communities' when present)")
    p.add_argument("--buildings-layer", help="layer of the buildings file (default: 'buildings' when present)")
    p.add_argument("--assume-crs", help="CRS for inputs that declare none (e.g. EPSG:4490)")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit.check import CheckFiles, CheckOptions, check_files

    files = CheckFiles(args.grids, args.communities, buildings=args.buildings, grids_layer=args.layer,
                       communities_layer=args.communities_layer, buildings_layer=args.buildings_layer,
                       assume_crs=args.assume_crs)
    options = CheckOptions(kind=args.kind, min_households=args.min, max_households=args.max,
                           tolerance=args.tolerance, code_field=args.code_field, name_field=args.name_field,
                           households_field=args.households_field, grid_code_field=args.grid_code_field,
                           dedicated_field=args.dedicated_field, assign=args.assign,
                           max_households_per_building=args.max_households_per_building, strict=args.strict)
    params = {k: v for k, v in vars(args).items() if k != "func" and v is not None}
    done = check_files(files, args.outdir, options=options, parameters=params)
    fig = done.report["overall"]
    counts = fig["findings"]
    print(f"{fig['grids']} grids in {fig['communities']} communities, {fig['households_in_grids']:,} households "
          f"in grids; findings: {counts['broken']} broken, {counts['unavoidable']} unavoidable, {counts['soft']} soft")
    print(f"wrote {done.outdir / 'report.md'}, report.json, problems.gpkg")
    if not done.result.ok:
        broken = done.result.problems
        failing = ("broken", "soft") if done.result.strict else ("broken",)
        rules = broken.loc[broken["severity"].isin(failing), "rule"].value_counts()
        print("rules broken: " + ", ".join(f"{rule} ({n})" for rule, n in rules.items()), file=sys.stderr)
        return 1
    print("every rule holds")
    return 0
