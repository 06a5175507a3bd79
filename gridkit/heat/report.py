"""``report.md`` of ``gridkit heatmap``: inputs and filters, the density surface, top grids, early warning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridkit.heat.surface import HeatSurface

if TYPE_CHECKING:
    from gridkit.heat.job import HeatmapOptions

__all__ = ["heatmap_report"]


def heatmap_report(
    surface: HeatSurface, rates: pd.DataFrame, alerts: pd.DataFrame, summary: dict[str, Any], *,
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
        *([f"- warning: {summary['future_note']}"] if summary.get("future_note") else []),
        "", "## Density surface", "",
        (f"Gaussian kernel density ({_method_text(d)}) in {surface.crs.name} "
        f"(EPSG:{surface.crs.to_epsg()}), cells of {surface.cell_m:g} m, "
        f"{surface.shape[1]} x {surface.shape[0]} cells covering x {west:.0f}-{east:.0f}, "
        f"y {south:.0f}-{north:.0f} (the grids and incidents padded by 4 bandwidths)."), "",
        f"- **bandwidth: {surface.bandwidth_m:.1f} m, rule `{surface.bandwidth_rule}`**",
        f"- {_rule_text(surface.bandwidth_rule, d)}",
        f"- share of the kernel mass inside the raster: {surface.probability.sum() * surface.cell_m ** 2:.4f}",
        f"- highest density: {surface.density.max():,.0f} incidents per km²",
    ]
    page = summary.get("page_bytes")
    if page is not None:
        lines.append(f"- heatmap.html: {page / 2**20:.1f} MB (budget {round(summary['page_budget_bytes'] / 2**20, 1):g} MB), "
                     f"{summary['weeks_shown']} weekly surfaces of the same kernel and bandwidth"
                     + (f" (the latest of {summary['weeks_total']} weeks)"
                        if summary["weeks_total"] > summary["weeks_shown"] else ""))
    lines += ["", "## Grids with the highest rates", "",
              "| grid | incidents | households | per 100 households | per km² |", "|---|---:|---:|---:|---:|"]
    top = rates.sort_values(["per_100_households", "per_km2"], ascending=False, na_position="last").head(10)
    for code, row in top.iterrows():
        lines.append(f"| {code} | {int(row.incidents)} | {_num(row.households, 0)} | "
                     f"{_num(row.per_100_households, 1)} | {_num(row.per_km2, 0)} |")
    lines += _alert_section(alerts, o)
    lines += ["", "## Files", "", ("heat.tif (incidents per km², float32, nodata -9999), heat.png, choropleth.png, "
              "heatmap.html (offline: no tile basemap, Leaflet embedded; the surface and one surface per ISO week "
              "as images), alerts.csv (alerting grids only), report.md. Method and options: docs/heat.md"), ""]
    return "\n".join(lines)


def _method_text(d: dict[str, Any]) -> str:
    if d.get("method") == "exact":
        return "the exact sum of every incident's kernel at each cell centre"
    k = d.get("binning_factor", 1)
    where = "on the cells" if k == 1 else f"on a grid {k} times finer than the cells"
    return (f"incidents spread {where} by cubic interpolation weights, then an FFT convolution with the "
            "sampled kernel: within 0.5 % of the exact sum wherever the density exceeds 1 % of its peak")


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

