"""`gridkit attach`: components or incidents into their grids, per-grid statistics, the case evaluation."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gridkit.errors import MissingFieldError, ParameterError

_HELP = """\
Give every component (部件) or incident (事件) the grid_code and community_code of the grid
it lies in (a point on a shared edge goes to the grid with the smallest code; points outside
every grid are kept with empty codes and their distance outside_m), name its category, and
count points per grid. For incidents with reported_at (registered_at, closed_at, due_at,
status, level), also the case indicators per grid and the evaluation (考核) per grid and per
worker. Writes OUT.gpkg (layers components|incidents, grid_stats, evaluation) and, for
incidents, OUT_evaluation_grids.csv, OUT_evaluation_workers.csv (grids with a worker field)
and OUT_evaluation.md beside it."""


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
    p.add_argument("--input-coords", choices=["wgs84", "gcj02", "bd09"], default="wgs84",
                   help="lon/lat points taken from Amap (gcj02) or Baidu (bd09) are converted to WGS84")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit.incidents import attach as at
    from gridkit.io import list_layers, read_layer

    out = Path(args.output)
    if out.suffix.lower() != ".gpkg":
        raise ParameterError(f"-o must name a GeoPackage (.gpkg), got {out.name!r}", path=out,
                             hint="e.g. -o incidents_attached.gpkg")
    if args.kind != "incidents" and (args.month or args.as_of):
        raise ParameterError("--month and --as-of apply to incidents", hint="use them with --as incidents")
    if args.month:
        from gridkit.incidents.cases import month_bounds

        month_bounds(args.month)  # usage error before any reading
    grids_layer = args.grids_layer
    is_gpkg = Path(args.grids).suffix.lower() == ".gpkg" and Path(args.grids).is_file()
    if grids_layer is None and is_gpkg and "grids" in list_layers(args.grids):
        grids_layer = "grids"
    common: dict[str, Any] = {"assume_crs": args.assume_crs}
    grids = read_layer(args.grids, layer=grids_layer, geometry="polygon", role="grids",
                       required_fields=[args.grid_field], **common)
    if args.grid_field != "grid_code":
        grids = grids.rename(columns={args.grid_field: "grid_code"})
    points = at.read_points(args.points, layer=args.layer, input_coords=args.input_coords, role=args.kind,
                            **common)
    streets = read_layer(args.streets, geometry="line", role="streets", **common) if args.streets else None
    table = _category_table(args)

    attached = at.attach_points(points, grids)
    named = at.categories_for_points(attached, kind=args.kind, table=table)
    stats = at.grid_stats(grids, named, streets=streets)
    layers: dict[str, Any] = {args.kind: named}
    texts: dict[str, str] = {}
    frames: dict[str, Any] = {}
    evaluation = None
    if args.kind == "incidents" and "reported_at" in named.columns:
        evaluation = _evaluate(args, grids, named, stats)
        layers[args.kind] = evaluation["points"]
        stats = evaluation["stats"]
        texts[f"{out.stem}_evaluation.md"] = evaluation["markdown"]
        frames[f"{out.stem}_evaluation_grids.csv"] = evaluation["grids_table"]
        if evaluation["workers_table"] is not None:
            frames[f"{out.stem}_evaluation_workers.csv"] = evaluation["workers_table"]
    layers["grid_stats"] = stats
    if evaluation is not None:
        layers["evaluation"] = evaluation["layer"]
    written = _write_all(out, layers, frames, texts)
    _summary(named, stats, evaluation, written)
    return 0


def _category_table(args: argparse.Namespace) -> Any:
    if not args.categories:
        return None
    from gridkit.codes import component_categories, event_categories

    reader = component_categories if args.kind == "components" else event_categories
    return reader(args.categories)


def _evaluate(args: argparse.Namespace, grids: Any, named: Any, stats: Any) -> dict[str, Any]:
    """Case indicators into grid_stats, the evaluation tables and layer, deadlines on the incidents."""
    import pandas as pd

    from gridkit.incidents import cases as an

    limits = an.time_limits(args.time_limits)
    calendar = an.calendar_from_csv(args.holidays) if args.holidays else None
    cases = an.cases_from_incidents(named, as_of=args.as_of, month=args.month, limits=limits, calendar=calendar)
    codes = list(stats.index)
    per_grid = an.case_indicators(cases, index=codes)
    stats = stats.join(per_grid)

    worker_field = args.worker_field or ("worker_id" if "worker_id" in grids.columns else None)
    if worker_field is not None and worker_field not in grids.columns:
        raise MissingFieldError(
            f"the grids have no field {worker_field!r}", path=grids.attrs.get("source"), field=worker_field,
            hint="give the grids a worker field, or leave out --worker-field",
        )
    grid_table = an.evaluation_table(cases, index=codes)
    workers_table = None
    tables = {"Grids": grid_table}
    if worker_field is not None:
        worker_of = pd.Series(grids[worker_field].astype("string").fillna("").to_numpy(),
                              index=grids["grid_code"].astype(str).to_numpy())
        grid_table.insert(1, worker_field, worker_of.reindex(grid_table.index).to_numpy())
        case_worker = cases["grid_code"].map(worker_of).fillna("").rename(worker_field)
        inside = cases["grid_code"] != ""
        workers = sorted(set(worker_of) - {""})
        workers_table = an.evaluation_table(cases[inside], by=case_worker[inside], index=workers)
        n_grids = worker_of[worker_of != ""].groupby(worker_of[worker_of != ""]).size()
        workers_table.insert(1, "grids", n_grids.reindex(workers_table.index).fillna(0).astype(int).to_numpy())
        tables["Workers"] = workers_table
    totals = an.case_indicators(cases.assign(all_cases="all"), by="all_cases").iloc[0]
    markdown = an.evaluation_markdown(tables, as_of=cases.attrs["as_of"], month=args.month, totals=totals)

    layer = stats[["geometry"]].join(grid_table)
    layer = layer.sort_values("rank", kind="stable")
    points = named.copy()
    points["deadline"] = cases["due_at"].dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("").astype("str")
    points["closed_on_time"] = cases["closed_on_time"].to_numpy()
    points["overdue"] = cases["overdue"].to_numpy()
    return {"stats": stats, "layer": layer, "points": points, "markdown": markdown, "cases": cases,
            "grids_table": grid_table, "workers_table": workers_table, "totals": totals}


def _write_all(out: Path, layers: dict[str, Any], frames: dict[str, Any], texts: dict[str, str]) -> list[Path]:
    """Write every output into a staging folder beside OUT, then move them in: all or nothing."""
    from gridkit.io import write_layers

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_layers(staging / out.name, layers)
        for name, frame in frames.items():
            frame.to_csv(staging / name, encoding="utf-8")
        for name, text in texts.items():
            (staging / name).write_text(text, encoding="utf-8")
        written = [out, *(out.parent / name for name in [*frames, *texts])]
        for path in written:
            os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _summary(named: Any, stats: Any, evaluation: dict[str, Any] | None, written: list[Path]) -> None:
    n = len(named)
    outside = named["grid_code"] == ""
    line = f"{n:,} points in, {n - int(outside.sum()):,} attached to {len(stats):,} grids, {int(outside.sum()):,} outside"
    if outside.any():
        line += f" (max {named.loc[outside, 'outside_m'].max():,.0f} m from a grid)"
    print(line)
    unknown = named.attrs.get("unknown_categories", {})
    if unknown:
        shown = ", ".join(f"{code} ({count})" for code, count in unknown.items())
        print(f"{sum(unknown.values()):,} with an unknown category (kept, named 'unknown'): {shown}")
    else:
        print("every category known")
    if evaluation is not None:
        t = evaluation["totals"]
        cases = evaluation["cases"]

        def pct(v: float) -> str:
            return "–" if math.isnan(v) else f"{100 * v:.2f} %"

        print(f"cases as of {cases.attrs['as_of']:%Y-%m-%d %H:%M}"
              f"{' reported in ' + cases.attrs['month'] if cases.attrs['month'] else ''}: "
              f"{int(t['reported']):,} reported, {int(t['due']):,} due, {int(t['closed']):,} closed "
              f"({pct(t['closure_rate'])}), {int(t['closed_on_time']):,} on time ({pct(t['on_time_rate'])}), "
              f"backlog {int(t['backlog']):,}")
        if cases.attrs["without_limit"]:
            print(f"{len(cases.attrs['without_limit']):,} cases without a time limit (not counted as due)")
    print("wrote " + ", ".join(str(p) for p in written))
