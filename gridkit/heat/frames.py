"""Weekly heat: one density surface per ISO week, from the same kernel and bandwidth as the surface.

:func:`weekly_heat` evaluates, for every ISO week from the first to the last incident (empty
weeks too, at most the latest ``max_weeks``), the density of that week's incidents with the
bandwidth and evaluation method of the whole period's :class:`~gridkit.heat.surface.HeatSurface`
(:func:`gridkit.heat.density.density_on_nodes`, one pass for all weeks). The frames are
computed on a subset of the surface's cell centres (every ``step``-th in both directions, the
coarsest step that keeps nodes at most a quarter of a bandwidth apart and the longer side at
most ``max_side`` nodes), so the page stays the same size whatever the number of incidents.
Week ``w``'s frame is the density of its incidents alone: the frames add up to the surface
at those nodes (when no week is cut).

Examples
--------
>>> import shapely, pandas as pd
>>> from gridkit.heat.density import heat_from_points
>>> xy = np.array([[0.0, 0.0], [300.0, 100.0], [100.0, 400.0]])
>>> times = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-17", "2024-01-18"]))
>>> surface = heat_from_points(xy, crs=pyproj.CRS(4545), bandwidth=200.0, cell_m=25.0)
>>> frames = weekly_heat(xy, times, surface)
>>> frames.labels, frames.step
(['2024-W01', '2024-W02', '2024-W03'], 2)
>>> bool(np.allclose(frames.density.sum(axis=0), frames.overall))
True
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyproj
from affine import Affine
from numpy.typing import NDArray

from gridkit.heat.density import choose_method, density_on_nodes
from gridkit.heat.kde import MAX_BIN_SPACING
from gridkit.heat.surface import HeatSurface

__all__ = ["WeeklyHeat", "week_numbers", "weekly_heat"]

log = logging.getLogger(__name__)

_CHUNK_CELLS = 4_000_000  # weeks x nodes evaluated at once (bounds memory)


@dataclass(frozen=True)
class WeeklyHeat:
    """Density per ISO week (incidents per km²) on a coarser raster of the surface's cell centres.

    Attributes
    ----------
    labels
        ``YYYY-Www`` per frame (ISO year and week), oldest first.
    mondays
        The Monday each frame's week starts.
    density
        ``(weeks, rows, cols)`` incidents per km² from that week's incidents, north up.
    overall
        The whole surface's density at the same nodes (incidents per km², every incident).
    counts
        Incidents per frame.
    transform, crs
        Of the frames' raster (cells ``step`` times the surface's, centred on its cell centres).
    step
        Surface cells per frame cell along each axis.
    weeks_total
        Weeks from the first to the last incident (more than ``len(labels)`` when cut).
    """

    labels: list[str]
    mondays: pd.DatetimeIndex
    density: NDArray[np.float64]
    overall: NDArray[np.float64]
    counts: NDArray[np.int64]
    transform: Affine
    crs: pyproj.CRS
    step: int
    weeks_total: int


def week_numbers(times: pd.Series) -> tuple[NDArray[np.int64], pd.DatetimeIndex]:
    """Each time's week (0 = the week of the earliest) and the Monday of every week in between."""
    values = pd.DatetimeIndex(times)
    monday = (values.normalize() - pd.to_timedelta(values.day_of_week, unit="D")).to_numpy()
    first = monday.min()
    weeks = pd.date_range(first, monday.max(), freq="7D")
    number = ((monday - first) // np.timedelta64(7, "D")).astype(np.int64)
    return number, weeks


def weekly_heat(
    xy: NDArray[np.float64],
    times: pd.Series,
    surface: HeatSurface,
    *,
    max_weeks: int = 104,
    max_side: int = 1024,
) -> WeeklyHeat:
    """One density surface per ISO week of the incidents at ``xy`` (metres in ``surface.crs``).

    Parameters
    ----------
    xy
        (n, 2) the incidents the surface was computed from, in its CRS.
    times
        Their reporting times (naive local ``datetime64``), in the same order.
    surface
        Gives the bandwidth, the evaluation method and the nodes.
    max_weeks
        Keep at most the latest this many weeks.
    max_side
        Most nodes along the longer side of the frames.
    """
    if len(xy) != len(times):
        raise ValueError("xy and times must have one row per incident")
    number, weeks = week_numbers(times)
    total = len(weeks)
    first = max(0, total - max_weeks)
    keep = number >= first
    xy, number, weeks = xy[keep], number[keep] - first, weeks[first:]

    rows, cols = surface.shape
    h, cell = surface.bandwidth_m, surface.cell_m
    step = max(1, math.floor(MAX_BIN_SPACING * h / cell + 1e-9), math.ceil(max(rows, cols) / max_side))
    nx, ny = math.ceil(cols / step), math.ceil(rows / step)
    xs, ys = surface.centre_axes()
    x0, y_north = float(xs[0]), float(ys[0])
    y0 = y_north - (ny - 1) * step * cell  # the southern node row
    method = str(surface.detail.get("method", "fft"))
    method, _ = choose_method(method, len(xy), ny, nx, step * cell, h)  # type: ignore[arg-type]

    density = np.empty((len(weeks), ny, nx))
    chunk = max(1, _CHUNK_CELLS // (nx * ny))
    for start in range(0, len(weeks), chunk):
        stop = min(start + chunk, len(weeks))
        part = (number >= start) & (number < stop)
        frames = density_on_nodes(xy[part], x0, y0, step * cell, nx, ny, h, method,
                                  groups=number[part] - start, n_groups=stop - start)
        density[start:stop] = frames[:, ::-1] * 1e6
    overall = surface.density[: ny * step : step, : nx * step : step]
    half = (step - 1) * cell / 2
    transform = Affine(step * cell, 0.0, surface.transform.c - half, 0.0, -step * cell, surface.transform.f + half)
    iso = weeks.isocalendar()
    labels = [f"{y}-W{w:02d}" for y, w in zip(iso["year"], iso["week"])]
    counts = np.bincount(number, minlength=len(weeks)).astype(np.int64)
    log.info("weekly heat: %d weeks (of %d), %d x %d nodes every %d cells, %s", len(weeks), total, nx, ny, step,
             method)
    return WeeklyHeat(labels, weeks, density, np.ascontiguousarray(overall), counts, transform, surface.crs,
                      step, total)
