"""`gridkit heatmap`: incident density surface, per-grid rates, offline heat map page and early warning."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gridkit_cli._options import add_input_coords

_HELP = """\
Map where incidents concentrate and which grids rise above their own baseline.
Writes OUTDIR/heat.tif (incidents per km², local metric CRS), heat.png, choropleth.png
(incidents per 100 households and per km² per grid), heatmap.html (offline: the surface,
one surface per ISO week with a slider, rates, grid outlines; a warning is printed when it is
over its size budget), alerts.csv (grids whose last window is significantly above
their trailing baseline) and report.md. The heat uses the --category/--from/--to
filters; the early warning uses --category and ends at --to (its baseline needs the
weeks before --from)."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("heatmap", help="incident density surfaces, per-grid rates and early warning",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="grids (grids.gpkg from 'gridkit partition', layer 'grids')")
    p.add_argument("incidents", help="incident points (CSV with lon/lat, or any layer) with category and reported_at")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--category", metavar="CODE[,CODE]",
                   help="keep these event categories: 2-digit major (01) or 4-digit minor (0101) codes")
    p.add_argument("--from", dest="start", metavar="DATE", help="keep incidents reported on or after DATE")
    p.add_argument("--to", dest="end", metavar="DATE", help="keep incidents reported on or before DATE")
    p.add_argument("--bandwidth", default="scott", metavar="scott|silverman|cv|METRES",
                   help="kernel bandwidth: a rule or metres (default scott)")
    p.add_argument("--cell-m", type=float, default=50.0, metavar="N", help="raster cell size in metres (default 50)")
    p.add_argument("--window-days", type=int, default=7, metavar="N", help="early-warning window in days (default 7)")
    p.add_argument("--baseline-weeks", type=int, default=8, metavar="N",
                   help="windows before the last one that make the baseline (default 8)")
    p.add_argument("--alpha", type=float, default=0.01, help="false discovery rate of the alerts (default 0.01)")
    p.add_argument("--min-count", type=int, default=3, metavar="N",
                   help="fewest incidents in the window that can alert (default 3)")
    p.add_argument("--grids-layer", help="layer of the grids file (default: 'grids' when present)")
    p.add_argument("--grid-field", default="grid_code", help="grid code field of the grids")
    add_input_coords(p, roles="grids, incidents")
    p.add_argument("--assume-crs", help="CRS for inputs that declare none (CSV: EPSG:4326 unless given)")
    p.add_argument("--seed", type=int, default=0, help="random seed for --bandwidth cv (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit_cli._progress import progress_bar

    from gridkit.heat.job import HeatmapOptions, heatmap_job

    options = HeatmapOptions(
        categories=args.category, start=args.start, end=args.end, bandwidth=_bandwidth(args.bandwidth),
        cell_m=args.cell_m, window_days=args.window_days, baseline_weeks=args.baseline_weeks, alpha=args.alpha,
        min_count=args.min_count, grid_field=args.grid_field, seed=args.seed,
    )
    with progress_bar(args.quiet) as progress:
        summary = heatmap_job(args.grids, args.incidents, args.outdir, options=options, grids_layer=args.grids_layer,
                              input_coords=args.input_coords, assume_crs=args.assume_crs, progress=progress)
    outdir = Path(args.outdir)
    print(f"{summary['incidents_used']:,} of {summary['incidents_read']:,} incidents mapped "
          f"({summary['incidents_outside']:,} outside every grid); bandwidth {summary['bandwidth_m']:.0f} m "
          f"({summary['bandwidth_rule']}), {summary['cells']:,} cells of {options.cell_m:g} m ({summary['method']})")
    print(f"early warning as of {summary['as_of']}: {summary['alerts']} of {summary['grids_tested']} grids alert")
    print(f"wrote {outdir / 'heat.tif'}, heat.png, choropleth.png, heatmap.html "
          f"({summary['page_bytes'] / 2**20:.1f} MB, {summary['weeks_shown']} weeks), alerts.csv, report.md")
    if summary.get("future_note"):
        print(f"warning: {summary['future_note']}", file=sys.stderr)
    if summary["page_over_budget"]:
        print(f"warning: heatmap.html is {summary['page_bytes'] / 2**20:.1f} MB, over its budget of "
              f"{round(summary['page_budget_bytes'] / 2**20, 1):g} MB: it may open slowly", file=sys.stderr)
    return 0


def _bandwidth(text: str) -> str | float:
    from gridkit.errors import ParameterError

    value = text.strip().lower()
    if value in ("scott", "silverman", "cv"):
        return value
    try:
        metres = float(value)
    except ValueError:
        raise ParameterError(f"--bandwidth must be scott, silverman, cv or metres, got {text!r}") from None
    if not metres > 0:
        raise ParameterError(f"--bandwidth in metres must be positive, got {text!r}")
    return metres
