"""Write a :class:`~gridkit.patrol.routes.RoutePlan`: routes.gpkg, turns.csv, report.md."""

from __future__ import annotations

import logging
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridkit.io import atomic_dir, write_layers
from gridkit.patrol.routes import RoutePlan

__all__ = ["no_streets_text", "plan_figures", "write_routes"]

log = logging.getLogger(__name__)

FILES = ("routes.gpkg", "turns.csv", "report.md")


def plan_figures(plan: RoutePlan) -> dict[str, Any]:
    """Totals of a plan: grids, shifts, kilometres walked and required, deadhead, coverage.

    ``shifts`` counts the routes that have a line (the features of the ``routes`` layer
    :func:`write_routes` writes); a grid without streets has no route and is counted in
    ``grids_without_streets`` (its codes in ``grids_without_streets_codes``); coverage is
    the share of the street length of the grids that have streets.
    """
    r = plan.routes
    drawn = r.geometry.notna().to_numpy() & ~r.geometry.is_empty.to_numpy() if len(r) else np.zeros(0, bool)
    per_grid = r.groupby("grid_code").agg(required_m=("required_m", "first"), length_m=("length_m", "sum"),
                                          deadhead_m=("deadhead_m", "sum"), coverage=("coverage_share", "sum"))
    per_grid.loc[per_grid["required_m"] <= 0, "coverage"] = np.nan  # shifts share out the coverage
    required = float(per_grid["required_m"].sum())
    covered = float((per_grid["coverage"].fillna(0) * per_grid["required_m"]).sum())
    length = float(per_grid["length_m"].sum())
    return {
        "grids": len(per_grid),
        "shifts": int(drawn.sum()),
        "grids_without_streets": int(per_grid["coverage"].isna().sum()) if len(r) else 0,
        "grids_without_streets_codes": sorted(per_grid.index[per_grid["coverage"].isna()].astype(str)) if len(r)
        else [],
        "required_km": required / 1000,
        "route_km": length / 1000,
        "deadhead_km": float(per_grid["deadhead_m"].sum()) / 1000,
        "deadhead_share": float(per_grid["deadhead_m"].sum()) / length if length else 0.0,
        "coverage_share": covered / required if required else float("nan"),
        "grids_fully_covered": int((per_grid["coverage"] >= 0.99995).sum()),
        "shifts_over_limit": int(r["over_limit"].sum()),
        "grids_with_streets": int(per_grid["coverage"].notna().sum()) if len(r) else 0,
        "median_minutes": float(r.groupby("grid_code")["est_minutes"].sum().median()) if len(r) else 0.0,
    }


def write_routes(plan: RoutePlan, outdir: str | PathLike[str]) -> Path:
    """Write ``routes.gpkg`` (layers ``routes``, ``bases``), ``turns.csv`` and ``report.md``.

    Geometry is written in ``plan.crs`` (the grids' CRS); all files appear together or
    not at all. A grid without streets has no route line: it is left out of the
    ``routes`` layer (so every feature there has a geometry, as GIS tools and
    :func:`gridkit.io.read_layer` expect) and named under Issues in ``report.md``.

    Returns
    -------
    pathlib.Path
        ``outdir``.
    """
    outdir = Path(outdir)
    routes, bases = plan.routes, plan.bases
    if plan.crs is not None:
        routes, bases = routes.to_crs(plan.crs), bases.to_crs(plan.crs)
    with atomic_dir(outdir) as tmp:
        drawn = routes.geometry.notna().to_numpy() & ~routes.geometry.is_empty.to_numpy()
        write_layers(tmp / "routes.gpkg", {"routes": routes[drawn], "bases": bases})
        plan.turns.to_csv(tmp / "turns.csv", index=False, encoding="utf-8")
        (tmp / "report.md").write_text(report_markdown(plan), encoding="utf-8")
    log.info("wrote patrol routes of %d grids to %s", plan.routes["grid_code"].nunique(), outdir)
    return outdir


def report_markdown(plan: RoutePlan) -> str:
    """The plan's report: figures, parameters, the longest routes, and every issue."""
    f = plan_figures(plan)
    p = plan.parameters
    lines = [
        "# Patrol routes",
        "",
        (f"{f['grids']} grids, {f['shifts']} routes (shifts){no_streets_text(f)}. Streets to patrol: "
         f"{f['required_km']:.1f} km; routes: {f['route_km']:.1f} km, of which {f['deadhead_km']:.1f} km "
         f"({f['deadhead_share']:.1%}) walk a street again or outside the grid. Coverage: "
         f"{_pct(f['coverage_share'])} of the street length of the {f['grids_with_streets']} grids with streets; "
         f"{f['grids_fully_covered']} of {f['grids']} grids fully covered."),
        "",
        f"Walking speed {p.get('speed_kmh')} km/h; median route {f['median_minutes']:.0f} minutes per grid"
        + (f"; shifts of at most {p['max_minutes']:g} minutes, each a closed walk from the base"
           f" ({f['shifts_over_limit']} over the limit)" if p.get("max_minutes") else "") + ".",
        "",
        ("How: each route starts and ends at the grid's base, visits priority stops first (nearest first), then "
         "walks every street of the grid (streets on the grid's edge included) at least once; repeated streets are "
         "chosen by a minimum-weight matching of the odd-degree crossings (Chinese postman). "
         f"Streets within {p.get('reach_m')} m of the grid may be used to connect parts of it."),
        "",
        "## Parameters",
        "",
        *[f"- {k}: {v}" for k, v in p.items()],
        "",
        "## Issues",
        "",
    ]
    if len(plan.issues):
        lines += ["| grid | issue | detail |", "| --- | --- | --- |"]
        lines += [f"| {r['grid_code'] or '-'} | {r['issue']} | {r['detail']} |"
                  for r in plan.issues.to_dict("records")]
    else:
        lines.append("None: every grid's streets are covered.")
    lines += ["", "## Longest routes", "", "| grid | shifts | km | deadhead km | minutes | coverage |",
              "| --- | --- | --- | --- | --- | --- |"]
    per = (plan.routes.groupby("grid_code")
           .agg(shifts=("shift", "count"), length_m=("length_m", "sum"), deadhead_m=("deadhead_m", "sum"),
                minutes=("est_minutes", "sum"), coverage=("coverage_share", "sum"))
           .sort_values("length_m", ascending=False).head(10))
    for code, r in per.iterrows():
        lines.append(f"| {code} | {r.shifts} | {r.length_m / 1000:.2f} | {r.deadhead_m / 1000:.2f} | "
                     f"{r.minutes:.0f} | {_pct(r.coverage)} |")
    return "\n".join(lines) + "\n"


def no_streets_text(figures: dict[str, Any]) -> str:
    """``"; 1 grid has no street to patrol and no route (520199001003005)"``, or ``""``."""
    n = figures["grids_without_streets"]
    if not n:
        return ""
    codes = figures["grids_without_streets_codes"]
    shown = ", ".join(codes[:5]) + (" ..." if len(codes) > 5 else "")
    return f"; {n} grid{' has' if n == 1 else 's have'} no street to patrol and no route ({shown})"


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) or pd.isna(x) else f"{x:.1%}"
