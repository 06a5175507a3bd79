"""The ``gridkit heatmap`` job: read grids and incidents, compute, write every output at once.

:func:`read_heatmap_inputs` reads and checks the two inputs (every problem raises a
:mod:`gridkit.errors` error naming the file, rows and field, before anything is
written). :func:`heatmap_outputs` filters the incidents, attaches them to the grids, builds
the density surface, the per-grid rates, the offline page and the early warning, and
writes ``heat.tif``, ``heat.png``, ``choropleth.png``, ``heatmap.html``, ``alerts.csv`` and
``report.md`` into a folder atomically (:func:`gridkit.io.atomic_dir`).

The heat layers use all filters (categories, ``start``, ``end``). The early warning uses
the category filter and ends its last window at ``end`` (or the latest incident), but
ignores ``start``: its baseline needs the weeks before the window.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit._progress import Progress, no_progress
from gridkit.errors import InputDataError, MissingFieldError, ParameterError

__all__ = ["HeatmapOptions", "heatmap_outputs", "heatmap_report", "read_heatmap_inputs"]

log = logging.getLogger(__name__)

OUTPUT_FILES = ("heat.tif", "heat.png", "choropleth.png", "heatmap.html", "alerts.csv", "report.md")


@dataclass(frozen=True)
class HeatmapOptions:
    """Options of :func:`heatmap_outputs` (the command line's flags)."""

    categories: str | None = None
    start: str | None = None
    end: str | None = None
    bandwidth: str | float = "scott"
    cell_m: float = 50.0
    window_days: int = 7
    baseline_weeks: int = 8
    alpha: float = 0.01
    min_count: int = 3
    grid_field: str = "grid_code"
    category_field: str = "category"
    time_field: str = "reported_at"
    seed: int = 0


def read_heatmap_inputs(
    grids_path: str | os.PathLike[str],
    incidents_path: str | os.PathLike[str],
    *,
    grids_layer: str | None = None,
    grid_field: str = "grid_code",
    category_field: str = "category",
    time_field: str = "reported_at",
    input_coords: str = "wgs84",
    assume_crs: Any = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the grids and the incidents, checked: point geometries, categories and reporting times.

    A GeoPackage holding a ``grids`` layer is read from that layer unless ``grids_layer``
    says otherwise. Incident codes stay text (:func:`gridkit.attach.read_points`).

    Raises
    ------
    InputFileError, InputDataError
        A file that cannot be read; missing fields; incidents that are not points, have
        no category or a reporting time that is not a date (naming the rows).
    """
    import shapely

    from gridkit.heat.density import reported_times
    from gridkit.incidents.attach import read_points
    from gridkit.io import file_format, list_layers, read_layer

    if grids_layer is None and file_format(grids_path) == ".gpkg" and "grids" in list_layers(grids_path):
        grids_layer = "grids"
    grids = read_layer(grids_path, layer=grids_layer, geometry="polygon", role="grids",
                       required_fields=[grid_field], assume_crs=assume_crs)
    incidents = read_points(incidents_path, role="incidents", input_coords=input_coords,  # type: ignore[arg-type]
                            assume_crs=assume_crs)
    for name in (category_field, time_field):
        if name not in incidents.columns:
            raise MissingFieldError(
                f"the incidents have no {name!r} field", path=incidents_path, field=name,
                hint="incidents need an event category code (e.g. 0101) and a reporting time (ISO 8601)",
            )
    geoms = incidents.geometry.to_numpy()
    not_point = shapely.get_type_id(geoms) != 0
    if not_point.any():
        raise InputDataError(
            "incidents must be single points", path=incidents_path, field="geometry",
            feature_ids=list(incidents.index[not_point]), hint="give each incident one position",
        )
    codes = incidents[category_field].astype("string").str.strip()
    bad = (codes.isna() | ~codes.str.fullmatch(r"\d{2,5}").fillna(False)).to_numpy(dtype=bool)
    if bad.any():
        raise InputDataError(
            "incidents without a valid category code (2-5 digits)", path=incidents_path, field=category_field,
            feature_ids=list(incidents.index[bad]), hint="write event codes as digits, e.g. 0101 (see DOMAIN.md)",
        )
    incidents[category_field] = codes.astype(str)
    reported_times(incidents, field=time_field)  # raises on bad or missing times, naming the rows
    return grids, incidents


def heatmap_outputs(
    grids: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    outdir: str | os.PathLike[str],
    *,
    options: HeatmapOptions = HeatmapOptions(),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Compute everything, then write the six output files into ``outdir`` atomically.

    Returns
    -------
    dict
        Figures for a summary: incidents read, used, outside every grid; bandwidth;
        cells; alerts and grids tested; as-of time.

    Raises
    ------
    ParameterError
        The filters keep no incident, or an option is out of range.
    """
    from gridkit.heat.alerts import alerts_for_grids
    from gridkit.heat.density import filter_incidents, heat_from_incidents, heat_to_geotiff, rates_for_grids
    from gridkit.heat.figures import choropleth_png, heat_png
    from gridkit.heat.page import heatmap_page, write_page
    from gridkit.incidents.attach import attach_points
    from gridkit.io import atomic_dir, write_text

    progress = progress or no_progress
    o = options
    attached = attach_points(incidents, grids, grid_field=o.grid_field)
    heat_set = filter_incidents(attached, categories=o.categories, start=o.start, end=o.end,
                                category_field=o.category_field, time_field=o.time_field)
    if heat_set.empty:
        raise ParameterError(
            f"no incident matches the filters (category {o.categories}, from {o.start}, to {o.end})",
            hint="widen the category or date filters",
        )
    alert_set = filter_incidents(attached, categories=o.categories, end=o.end,
                                 category_field=o.category_field, time_field=o.time_field)
    surface = heat_from_incidents(heat_set, area=grids, cell_m=o.cell_m, bandwidth=o.bandwidth,  # type: ignore[arg-type]
                                  rng=o.seed, progress=progress)
    rates = rates_for_grids(heat_set, grids, grid_field=o.grid_field)
    alerts = alerts_for_grids(alert_set, window_days=o.window_days, baseline_weeks=o.baseline_weeks, alpha=o.alpha,
                              as_of=o.end, min_count=o.min_count, grid_field=o.grid_field,
                              category_field=o.category_field, time_field=o.time_field)
    page = heatmap_page(heat_set, grids, rates=rates, grid_field=o.grid_field, time_field=o.time_field)
    summary = {
        "incidents_read": len(incidents), "incidents_used": len(heat_set),
        "incidents_outside": int((heat_set[o.grid_field] == "").sum()),
        "bandwidth_m": surface.bandwidth_m, "bandwidth_rule": surface.bandwidth_rule,
        "cells": int(surface.probability.size), "alerts": int(alerts["alert"].sum()),
        "grids_tested": len(alerts), "as_of": str(alerts.attrs.get("as_of")),
    }
    report = heatmap_report(surface, rates, alerts, summary, options=o, sources=_sources(grids, incidents))
    with atomic_dir(outdir) as tmp:
        heat_to_geotiff(surface, tmp / "heat.tif")
        heat_png(surface, tmp / "heat.png", grids=grids)
        choropleth_png(grids, rates, tmp / "choropleth.png", grid_field=o.grid_field)
        write_page(page, tmp / "heatmap.html")
        table = alerts[alerts["alert"]].drop(columns="alert").reset_index()
        write_text(tmp / "alerts.csv", "\ufeff" + table.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S"))
        write_text(tmp / "report.md", report)
    log.info("wrote %s: %s", outdir, ", ".join(OUTPUT_FILES))
    return summary


def _sources(grids: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame) -> dict[str, str]:
    return {"grids": str(grids.attrs.get("source", "(in memory)")),
            "incidents": str(incidents.attrs.get("source", "(in memory)"))}


def heatmap_report(
    surface: Any, rates: pd.DataFrame, alerts: pd.DataFrame, summary: dict[str, Any], *,
    options: HeatmapOptions, sources: dict[str, str],
) -> str:
    """The Markdown report: inputs and filters, the density surface, top grids, early warning."""
    o = options
    d = surface.detail
    west, south, east, north = surface.bounds
    lines = [
        "# 事件热力与预警 Incident heat and early warning", "",
        f"- grids: `{sources['grids']}`", f"- incidents: `{sources['incidents']}`",
        (f"- filters: category {o.categories or 'all'}, reported from {o.start or 'the first'} "
        f"to {o.end or 'the last'} incident"),
        (f"- incidents: {summary['incidents_read']:,} read, {summary['incidents_used']:,} kept by the filters, "
        f"{summary['incidents_outside']:,} of them outside every grid (kept in the surface, not in grid rates)"),
        "", "## Density surface", "",
        (f"Gaussian kernel density (scikit-learn `KernelDensity`) in {surface.crs.name} "
        f"(EPSG:{surface.crs.to_epsg()}), cells of {surface.cell_m:g} m, "
        f"{surface.shape[1]} x {surface.shape[0]} cells covering x {west:.0f}-{east:.0f}, "
        f"y {south:.0f}-{north:.0f} (the grids and incidents padded by 4 bandwidths)."), "",
        f"- **bandwidth: {surface.bandwidth_m:.1f} m, rule `{surface.bandwidth_rule}`**",
        f"- {_rule_text(surface.bandwidth_rule, d)}",
        f"- share of the kernel mass inside the raster: {surface.probability.sum() * surface.cell_m ** 2:.4f}",
        f"- highest density: {surface.density.max():,.0f} incidents per km²",
    ]
    if "binned_to" in d:
        lines.append(f"- the {surface.n_incidents:,} incidents were binned to {d['binned_to']:,} squares of "
                     f"{d['bin_m']:.1f} m (weights = counts) before scoring")
    lines += ["", "## Grids with the highest rates", "",
              "| grid | incidents | households | per 100 households | per km² |", "|---|---:|---:|---:|---:|"]
    top = rates.sort_values(["per_100_households", "per_km2"], ascending=False, na_position="last").head(10)
    for code, row in top.iterrows():
        lines.append(f"| {code} | {int(row.incidents)} | {_num(row.households, 0)} | "
                     f"{_num(row.per_100_households, 1)} | {_num(row.per_km2, 0)} |")
    lines += _alert_section(alerts, o)
    lines += ["", "## Files", "", ("heat.tif (incidents per km², float32), heat.png, choropleth.png, heatmap.html "
              "(offline: no tile basemap, Leaflet embedded), alerts.csv (alerting grids only), report.md"), ""]
    return "\n".join(lines)


def _rule_text(rule: str, d: dict[str, Any]) -> str:
    if rule == "scott":
        return f"Scott: sigma x n^(-1/6), sigma = {d['sigma']:.1f} m (pooled SD of x and y), n = {d['n']:,}"
    if rule == "silverman":
        return (f"Silverman: min(SD, IQR/1.349) x n^(-1/6), robust spread {d['robust_sigma']:.1f} m "
                f"(SD {d['sigma']:.1f} m), n = {d['n']:,}")
    if rule == "cv":
        grid = d["cv_grid"]
        return (f"cross-validation: {d['cv_folds']}-fold held-out log-likelihood over {len(grid)} bandwidths "
                f"{grid[0]:.1f}-{grid[-1]:.1f} m (log grid) on a sample of {d['cv_sample']:,} of {d['n']:,} "
                f"incidents; best {d['cv_best_for_sample']:.1f} m for the sample, scaled by (n/sample)^(-1/6)"
                + (" (at the edge of the grid)" if d.get("cv_at_grid_edge") else ""))
    return f"fixed by the user, n = {d['n']:,}"


def _num(value: float, digits: int) -> str:
    return "—" if not np.isfinite(value) else f"{value:,.{digits}f}"


def _alert_section(alerts: pd.DataFrame, o: HeatmapOptions) -> list[str]:
    a = alerts.attrs
    lines = [
        "", "## 预警 Early warning", "",
        (f"Window: the {o.window_days} days up to {a.get('as_of')}; baseline: the mean count of the "
        f"{o.baseline_weeks} windows of {o.window_days} days before it (from {a.get('baseline_start')}). "
        "One-sided Poisson test p = P(X >= observed | Poisson(baseline mean)) (a grid with an empty "
        f"baseline is tested against 0.5/{o.baseline_weeks} per window); p-values adjusted by "
        f"Benjamini-Hochberg over the {a.get('grids_tested', len(alerts))} grids with any incident in "
        f"the window or baseline; a grid alerts when q <= {o.alpha} and it had at least {o.min_count} "
        "incidents in the window. The driving category has the largest excess over its own baseline mean."),
        "",
    ]
    hits = alerts[alerts["alert"]]
    if hits.empty:
        lines.append("No grid alerts.")
        return lines
    lines += [("| grid | community | observed | baseline mean | ratio | p | q | driving category | in window | "
              "its baseline |"), "|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for code, r in hits.iterrows():
        name = " ".join(str(x) for x in (r.category, r.category_zh, r.category_en) if pd.notna(x))
        lines.append(f"| {code} | {r.community_code if pd.notna(r.community_code) else ''} | {r.observed} | "
                     f"{r.baseline_mean:.2f} | {r.ratio:.1f} | {r.p_value:.2e} | {r.q_value:.2e} | {name} | "
                     f"{r.category_observed} | {r.category_baseline_mean:.2f} |")
    return lines

