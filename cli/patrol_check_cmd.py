"""`gridkit patrol check`: clean grid workers' GPS tracks and measure them against their grids."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

_HELP = """\
Clean GPS tracks (duplicates, repeated times, jumps above --max-speed-kmh) and measure
every worker-day (local time) against the worker's grid: distance, active hours, share
of time inside the grid, share of the grid's street length within 25 m of the track,
buildings passed within 30 m, stops (2 min within 30 m) and excursions outside the grid.
Writes OUTDIR/tracks.gpkg (layers tracks, stops, dropped[, unvisited]), coverage.csv
(worker-days), coverage_workers.csv (per worker), coverage.md and, with --month,
unvisited_buildings.csv."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="check GPS tracks against the grids (coverage, stops, excursions)",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", help="grids.gpkg from 'gridkit partition' (layer grids; buildings taken from it)")
    p.add_argument("tracks", nargs="+",
                   help="CSV (worker_id, time, lon, lat) or GPX files, or folders of them")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--workers", help="CSV with worker_id and grid_code (else: the grid where a worker spent most time)")
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

    from gridkit.patrol.coverage import check_tracks
    from gridkit.patrol.tracks import read_tracks

    grids, buildings = _grids_and_buildings(args)
    streets = _streets(args)
    workers = _workers(args.workers) if args.workers else None
    fixes = read_tracks(args.tracks, input_coords=args.input_coords, timezone=args.timezone)
    with progress_bar(args.quiet) as progress:
        result = check_tracks(fixes, grids, workers=workers, streets=streets, buildings=buildings,
                              month=args.month, grid_field=args.grid_field, max_speed_kmh=args.max_speed_kmh,
                              progress=progress)
    params = {k: v for k, v in vars(args).items() if k != "func" and v is not None}
    _write(result, Path(args.outdir), params)
    f = result.figures
    dropped = ", ".join(f"{n} {r}" for r, n in f["fixes_dropped"].items() if n) or "none"
    print(f"{f['fixes_read']:,} fixes of {f['workers']} workers on {f['worker_days']} worker-days; "
          f"kept {f['fixes_kept']:,}, dropped {dropped}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {Path(args.outdir) / 'tracks.gpkg'}, coverage.csv, coverage_workers.csv, coverage.md"
          + (", unvisited_buildings.csv" if result.unvisited is not None else ""))
    return 0


def _grids_and_buildings(args: argparse.Namespace) -> tuple[Any, Any]:
    from gridkit.io import list_layers, read_layer

    layers = list_layers(args.grids)
    grid_layer = "grids" if "grids" in layers else None
    grids = read_layer(args.grids, layer=grid_layer, geometry="polygon", role="grids",
                       required_fields=[args.grid_field])
    if args.buildings:
        buildings = read_layer(args.buildings, role="buildings")
    elif "buildings" in layers:
        buildings = read_layer(args.grids, layer="buildings", role="buildings")
    else:
        buildings = None
    return grids, buildings


def _streets(args: argparse.Namespace) -> Any:
    if not (args.streets or args.osm):
        return None
    from gridkit.patrol.streets import read_streets

    return read_streets(args.osm, source="osm") if args.osm else read_streets(args.streets)


def _workers(path: str) -> Any:
    import pandas as pd

    from gridkit.errors import InputFileError

    if not Path(path).is_file():
        raise InputFileError("the workers table does not exist", path=path, hint="check the path")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputFileError(f"cannot be read as CSV: {err}", path=path,
                             hint="save it as UTF-8 CSV with a header row") from None
    table.attrs["source"] = path
    return table


def _write(result: Any, outdir: Path, params: dict[str, Any]) -> None:
    from gridkit.io import atomic_dir, write_layers, write_text
    from gridkit.patrol.coverage import coverage_markdown

    layers = {"tracks": result.tracks, "stops": result.stops, "dropped": result.dropped}
    if result.unvisited is not None:
        layers["unvisited"] = result.unvisited
    def csv(frame: Any) -> str:
        return frame.to_csv(index=False, lineterminator="\n", float_format="%.4f")

    with atomic_dir(outdir) as tmp:
        write_layers(tmp / "tracks.gpkg", layers)
        write_text(tmp / "coverage.csv", csv(result.days))
        write_text(tmp / "coverage_workers.csv", csv(result.workers))
        write_text(tmp / "coverage.md", coverage_markdown(result, parameters=params))
        if result.unvisited is not None:
            write_text(tmp / "unvisited_buildings.csv", csv(result.unvisited.drop(columns="geometry")))
