"""The ``gridkit heatmap`` job: read grids and incidents, compute, write every output at once.

:func:`heatmap_job` is what the command line calls. :func:`read_heatmap_inputs` reads and
checks the two inputs (every problem raises a :mod:`gridkit.errors` error naming the file,
rows and field, before anything is written) and parses the reporting times, once: every
later step reads the parsed column. :func:`heatmap_outputs` chooses the local metric CRS
once (:func:`gridkit.crs.local_crs` of the grids) and hands it to every step, filters the
incidents, attaches them to the grids, builds the density surface and the weekly surfaces,
the per-grid rates, the offline page and the early warning, and writes ``heat.tif``,
``heat.png``, ``choropleth.png``, ``heatmap.html``, ``alerts.csv`` and ``report.md`` into a
folder atomically (:func:`gridkit.io.atomic_dir`).

The heat layers use all filters (categories, ``start``, ``end``). The early warning uses
the category filter and ends its last window at ``end`` (or the latest incident), but
ignores ``start``: its baseline needs the weeks before the window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd

from gridkit._progress import Progress, no_progress
from gridkit._types import PathLike
from gridkit.errors import InputDataError, MissingFieldError, ParameterError
from gridkit.heat.report import heatmap_report

__all__ = ["OUTPUT_FILES", "HeatmapOptions", "heatmap_job", "heatmap_outputs", "heatmap_report",
           "read_heatmap_inputs"]

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
    max_weeks: int = 104
    now: str | None = None  # the run's time for reporting times in the future (default this machine's clock)


def heatmap_job(
    grids_path: PathLike,
    incidents_path: PathLike,
    outdir: PathLike,
    *,
    options: HeatmapOptions = HeatmapOptions(),
    grids_layer: str | None = None,
    input_coords: str = "wgs84",
    assume_crs: Any = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``gridkit heatmap``: read the two files, compute, write the six outputs into ``outdir``.

    Returns the summary of :func:`heatmap_outputs`.
    """
    grids, incidents = read_heatmap_inputs(
        grids_path, incidents_path, grids_layer=grids_layer, grid_field=options.grid_field,
        category_field=options.category_field, time_field=options.time_field, input_coords=input_coords,
        assume_crs=assume_crs,
    )
    return heatmap_outputs(grids, incidents, outdir, options=options, progress=progress)


def read_heatmap_inputs(
    grids_path: PathLike,
    incidents_path: PathLike,
    *,
    grids_layer: str | None = None,
    grid_field: str = "grid_code",
    category_field: str = "category",
    time_field: str = "reported_at",
    input_coords: str = "wgs84",
    assume_crs: Any = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the grids and the incidents, checked: point geometries, categories, reporting times and
    ``incident_id`` given once (the same case twice would weigh twice in the heat and the alerts).

    A GeoPackage holding a ``grids`` layer is read from that layer unless ``grids_layer``
    says otherwise. Incident codes stay text (:func:`gridkit.incidents.attach.read_points`);
    ``time_field`` is parsed to local ``datetime64`` (:func:`gridkit.heat.select.with_reported_times`).

    Raises
    ------
    InputFileError, InputDataError
        A file that cannot be read; missing fields; incidents that are not points, have
        no category or a reporting time that is not a date, or repeat an ``incident_id``
        (naming the rows).
    """
    import shapely

    from gridkit.heat.select import with_reported_times
    from gridkit.incidents._checks import check_unique_ids
    from gridkit.incidents.attach import read_points
    from gridkit.io import preferred_layer, read_layer

    grids = read_layer(grids_path, layer=preferred_layer(grids_path, grids_layer), geometry="polygon", role="grids",
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
            feature_ids=list(incidents.index[bad]), hint="write event codes as digits, e.g. 0101 (the codes: gridkit/tables/event_categories.csv, "
                 "docs/heat.md)",
        )
    incidents[category_field] = codes.astype(str)
    check_unique_ids(incidents, "incident_id", what="incidents")
    # parsed once here (raising on bad or missing times, naming the rows); later steps reuse it
    return grids, with_reported_times(incidents, field=time_field)


def heatmap_outputs(
    grids: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    outdir: PathLike,
    *,
    options: HeatmapOptions = HeatmapOptions(),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Compute everything, then write the six output files into ``outdir`` atomically.

    Returns
    -------
    dict
        Figures for a summary: incidents read, used, outside every grid; bandwidth; cells
        and evaluation method; alerts and grids tested; as-of time; the page's size
        (``page_bytes``), budget (``page_budget_bytes``), ``page_over_budget`` and weeks.

    Raises
    ------
    ParameterError
        The filters keep no incident, or an option is out of range.
    """
    from gridkit.crs import local_crs
    from gridkit.heat.alerts import alerts_for_grids
    from gridkit.heat.density import heat_from_points, projected_points
    from gridkit.heat.figures import choropleth_png, heat_png
    from gridkit.heat.frames import weekly_heat
    from gridkit.heat.page import PAGE_BUDGET_BYTES, heatmap_page, page_html
    from gridkit.heat.raster import heat_to_geotiff
    from gridkit.heat.rates import rates_for_grids
    from gridkit.heat.select import filter_incidents, with_reported_times
    from gridkit.incidents.attach import attach_points
    from gridkit.io import atomic_dir, write_text
    from gridkit.times import local_now, local_time

    progress = progress or no_progress
    o = options
    crs = local_crs(grids)  # the one metric CRS of the run
    incidents = with_reported_times(incidents, field=o.time_field)  # no-op when read_heatmap_inputs parsed them
    now = local_now() if o.now is None else local_time(o.now, name="now")
    future = (incidents[o.time_field] > now).to_numpy(dtype=bool)
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
    xy = projected_points(heat_set, crs)
    local = grids.to_crs(crs)  # projected once, for the area, the rates and the figures
    area = tuple(float(v) for v in local.total_bounds)
    surface = heat_from_points(xy, crs=crs, area_bounds=area, cell_m=o.cell_m,  # type: ignore[arg-type]
                               bandwidth=o.bandwidth, rng=o.seed, progress=progress)  # type: ignore[arg-type]
    weeks = weekly_heat(xy, heat_set[o.time_field], surface, max_weeks=o.max_weeks)
    rates = rates_for_grids(heat_set, local, grid_field=o.grid_field, crs=crs)
    alerts = alerts_for_grids(alert_set, window_days=o.window_days, baseline_weeks=o.baseline_weeks, alpha=o.alpha,
                              as_of=o.end, min_count=o.min_count, grid_field=o.grid_field,
                              category_field=o.category_field, time_field=o.time_field)
    html = page_html(heatmap_page(surface, weeks, grids, rates=rates, grid_field=o.grid_field))
    page_bytes = len(html.encode("utf-8"))
    summary = {
        "incidents_read": len(incidents), "incidents_used": len(heat_set),
        "incidents_outside": int((heat_set[o.grid_field] == "").sum()),
        "bandwidth_m": surface.bandwidth_m, "bandwidth_rule": surface.bandwidth_rule,
        "cells": int(surface.probability.size), "method": surface.detail["method"],
        "alerts": int(alerts["alert"].sum()), "grids_tested": len(alerts), "as_of": str(alerts.attrs.get("as_of")),
        "page_bytes": page_bytes, "page_budget_bytes": PAGE_BUDGET_BYTES,
        "page_over_budget": page_bytes > PAGE_BUDGET_BYTES,
        "weeks_shown": len(weeks.labels), "weeks_total": weeks.weeks_total,
        "incidents_in_future": int(future.sum()), "future_note": _future_note(incidents, future, now, o.time_field),
    }
    if summary["page_over_budget"]:
        log.warning("heatmap.html is %.1f MB, over its budget of %.1f MB", page_bytes / 2**20, PAGE_BUDGET_BYTES / 2**20)
    report = heatmap_report(surface, rates, alerts, summary, options=o, sources=_sources(grids, incidents))
    with atomic_dir(outdir) as tmp:
        heat_to_geotiff(surface, tmp / "heat.tif")
        heat_png(surface, tmp / "heat.png", grids=local)
        choropleth_png(local, rates, tmp / "choropleth.png", grid_field=o.grid_field, crs=crs)
        write_text(tmp / "heatmap.html", html)
        table = alerts[alerts["alert"]].drop(columns="alert").reset_index()
        write_text(tmp / "alerts.csv", "\ufeff" + table.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S"))
        write_text(tmp / "report.md", report)
    log.info("wrote %s: %s", outdir, ", ".join(OUTPUT_FILES))
    return summary


def _future_note(incidents: gpd.GeoDataFrame, future: Any, now: Any, field: str) -> str:
    """A sentence on incidents reported after ``now`` (a wrong year or clock), or ``""``."""
    from gridkit.errors import format_ids

    n = int(future.sum())
    if not n:
        return ""
    latest = incidents[field][future].max()
    return (f"{n:,} incident{'s are' if n > 1 else ' is'} reported after this run ({now:%Y-%m-%d %H:%M}), up to "
            f"{latest:%Y-%m-%dT%H:%M:%S}: features {format_ids(incidents.index[future])}; they are mapped as given "
            f"({field}): check their year or the export's clock")


def _sources(grids: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame) -> dict[str, str]:
    return {"grids": str(grids.attrs.get("source", "(in memory)")),
            "incidents": str(incidents.attrs.get("source", "(in memory)"))}
