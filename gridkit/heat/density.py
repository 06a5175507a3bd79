"""Incident density surfaces: Gaussian kernel density estimates in metres on a north-up raster.

:func:`heat_from_incidents` projects incidents to the local metric CRS
(:func:`gridkit.crs.local_crs`, or the CRS the caller chose once for a whole job), chooses a
Gaussian kernel bandwidth in metres (a stated rule or cross-validation, see
:func:`~gridkit.heat.bandwidth.bandwidth_for_points`) and evaluates the density at the centre
of every cell (:mod:`gridkit.heat.kde`): by cubic binning and FFT convolution, or by the exact
sum over every incident for small inputs (``method="auto"``) or on request. The result,
:class:`~gridkit.heat.surface.HeatSurface`, holds the probability density (per m²,
integrating to 1 over the plane) and the incident density (incidents per km²).

Examples
--------
>>> import shapely
>>> pts = gpd.GeoDataFrame(geometry=shapely.points([106.62, 106.621, 106.622], [26.47, 26.471, 26.47]),
...                        crs=4490)
>>> surface = heat_from_incidents(pts, bandwidth=80.0, cell_m=20.0)
>>> surface.crs.to_epsg(), surface.bandwidth_m, surface.n_incidents, surface.detail["method"]
(4545, 80.0, 3, 'exact')
>>> round(float(surface.probability.sum() * surface.cell_m ** 2), 3)
1.0
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from affine import Affine
from numpy.typing import NDArray

from gridkit._progress import Progress, no_progress
from gridkit._rng import RNGLike
from gridkit.crs import local_crs
from gridkit.errors import EmptyLayerError, InputDataError, MissingCRSError, ParameterError
from gridkit.heat.bandwidth import BandwidthRule, bandwidth_for_points
from gridkit.heat.kde import binning_factor, kde_binned, kde_exact
from gridkit.heat.surface import HeatSurface

__all__ = ["EXACT_WORK", "FINE_CELLS", "Method", "choose_method", "density_on_nodes", "heat_from_incidents", "heat_from_points", "projected_points"]

log = logging.getLogger(__name__)

Method = Literal["auto", "fft", "exact"]
#: ``method="auto"`` sums exactly while incidents x cells stays at most this (well under a second).
EXACT_WORK = 1e8
#: Most cells a binning grid may have (``binning_factor² x cells``; 256 MB of float64).
FINE_CELLS = 2**25


def heat_from_incidents(
    incidents: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    cell_m: float = 50.0,
    bandwidth: BandwidthRule | float = "scott",
    pad_bandwidths: float = 4.0,
    crs: pyproj.CRS | str | int | None = None,
    method: Method = "auto",
    max_cells: int = 4_000_000,
    cv_max_points: int = 2000,
    rng: RNGLike = None,
    progress: Progress | None = None,
) -> HeatSurface:
    """A Gaussian kernel density surface of incident points, in metres in the local CRS.

    Parameters
    ----------
    incidents
        Point geometries with a CRS (any; they are projected).
    area
        Layer whose extent the raster must cover (usually the grids); None: the incidents'.
        The raster covers the incidents and the area, padded on every side.
    cell_m
        Cell size in metres. It should be well under the bandwidth (a warning is logged
        when it is larger): the surface is sampled at cell centres.
    bandwidth
        ``"scott"``, ``"silverman"``, ``"cv"`` (see :func:`bandwidth_for_points`) or the
        kernel's standard deviation in metres.
    pad_bandwidths
        Padding around the extent, in bandwidths; 4 keeps all but 0.01 % of the kernel
        mass of a point in a corner of the extent inside the raster.
    crs
        The metric CRS of the raster; None: :func:`gridkit.crs.local_crs` of the incidents.
    method
        ``"fft"``: cubic binning and FFT convolution (:func:`gridkit.heat.kde.kde_binned`),
        within 0.5 % of the exact sum wherever the density exceeds 1 % of its peak;
        ``"exact"``: the sum over every incident; ``"auto"``: exact while incidents x cells
        is at most :data:`EXACT_WORK`, else FFT.
    max_cells
        Refuse rasters with more cells (choose a larger ``cell_m``).
    cv_max_points
        Sample size for ``bandwidth="cv"``.
    rng
        Random generator for the cross-validation sample and folds.
    progress
        Called as ``progress(done, total, "heat")`` while the surface is computed.

    Returns
    -------
    HeatSurface

    Raises
    ------
    EmptyLayerError
        No incidents.
    InputDataError
        Missing or non-point geometries (naming the rows), or a bandwidth rule that cannot
        be applied (fewer than 2 incidents, all at one place).
    ParameterError
        A bad bandwidth, cell size, method or raster too large.
    """
    target = pyproj.CRS.from_user_input(crs) if crs is not None else local_crs(incidents)
    xy = projected_points(incidents, target)
    bounds = None
    if area is not None and len(area):
        bounds = tuple(float(b) for b in area.to_crs(target).total_bounds)
    return heat_from_points(xy, crs=target, area_bounds=bounds, cell_m=cell_m, bandwidth=bandwidth,  # type: ignore[arg-type]
                            pad_bandwidths=pad_bandwidths, method=method, max_cells=max_cells,
                            cv_max_points=cv_max_points, rng=rng, progress=progress)


def heat_from_points(
    xy: NDArray[np.float64],
    *,
    crs: pyproj.CRS,
    area_bounds: tuple[float, float, float, float] | None = None,
    cell_m: float = 50.0,
    bandwidth: BandwidthRule | float = "scott",
    pad_bandwidths: float = 4.0,
    method: Method = "auto",
    max_cells: int = 4_000_000,
    cv_max_points: int = 2000,
    rng: RNGLike = None,
    progress: Progress | None = None,
) -> HeatSurface:
    """:func:`heat_from_incidents` of points already in the metric ``crs`` ((n, 2) metres).

    ``area_bounds`` is ``(west, south, east, north)`` in ``crs``; the other parameters are
    those of :func:`heat_from_incidents`.
    """
    progress = progress or no_progress
    if method not in ("auto", "fft", "exact"):
        raise ParameterError(f"method must be auto, fft or exact, got {method!r}")
    cell_m = _positive("cell_m", cell_m)
    pad_bandwidths = float(pad_bandwidths)
    if not (pad_bandwidths >= 0 and math.isfinite(pad_bandwidths)):
        raise ParameterError(f"pad_bandwidths must be >= 0, got {pad_bandwidths}")
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    if n == 0:
        raise EmptyLayerError("there are no incidents to map",
                              hint="check the file, or widen the category and date filters")
    if isinstance(bandwidth, str):
        h, detail = bandwidth_for_points(xy, rule=bandwidth, cv_max_points=cv_max_points, rng=rng)  # type: ignore[arg-type]
        rule: str = bandwidth
    else:
        h, detail, rule = _positive("bandwidth", bandwidth), {"n": n}, "fixed"
    if cell_m > h:
        log.warning("cell size %.0f m exceeds the bandwidth %.0f m: the surface is undersampled", cell_m, h)

    west, south, east, north = _extent(xy, area_bounds, h * pad_bandwidths, cell_m)
    cols, rows = round((east - west) / cell_m), round((north - south) / cell_m)
    if rows * cols > max_cells:
        raise ParameterError(
            f"the raster would have {rows} x {cols} = {rows * cols:,} cells, more than {max_cells:,}",
            hint=f"use a larger cell size (--cell-m {math.ceil(cell_m * math.sqrt(rows * cols / max_cells))})",
        )
    transform = Affine(cell_m, 0.0, west, 0.0, -cell_m, north)
    chosen, k = choose_method(method, n, rows, cols, cell_m, h)
    detail.update({"method": chosen, "binning_factor": k})
    progress(0, 1, "heat")
    # nodes from the south-western cell centre; rows come out south to north, flipped below
    grid = density_on_nodes(xy, west + cell_m / 2, south + cell_m / 2, cell_m, cols, rows, h, chosen)
    progress(1, 1, "heat")
    probability = np.ascontiguousarray(grid[::-1]) / n
    log.info(
        "heat surface of %d incidents: %d x %d cells of %.0f m, bandwidth %.1f m (%s), %s, EPSG:%s",
        n, rows, cols, cell_m, h, rule, chosen, crs.to_epsg(),
    )
    return HeatSurface(probability, transform, crs, cell_m, float(h), rule, n, detail)


def choose_method(method: Method, n: int, rows: int, cols: int, cell_m: float, h: float) -> tuple[str, int]:
    """The evaluation ``method="auto"`` picks (``"exact"`` or ``"fft"``) and the binning factor."""
    k = binning_factor(cell_m, h)
    fine = k * k * rows * cols
    if method == "auto":
        method = "exact" if n * rows * cols <= EXACT_WORK or fine > FINE_CELLS else "fft"
    if method == "fft" and fine > FINE_CELLS:
        raise ParameterError(
            f"the cells ({cell_m:g} m) are too coarse for the bandwidth ({h:.0f} m): binning would need "
            f"{fine:,} cells", hint="use a smaller cell size, or method='exact'",
        )
    return method, (k if method == "fft" else 0)


def density_on_nodes(xy: NDArray[np.float64], x0: float, y0: float, cell: float, nx: int, ny: int, h: float,
              method: str, **groups: Any) -> NDArray[np.float64]:
    if method == "exact":
        xs = (x0 + np.arange(nx) * cell).astype(np.float64)
        ys = (y0 + np.arange(ny) * cell).astype(np.float64)
        return kde_exact(xy, xs, ys, h, **groups)
    return kde_binned(xy, x0, y0, cell, nx, ny, h, **groups)


def _positive(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number of metres, got {value!r}") from None
    if not (number > 0 and math.isfinite(number)):
        raise ParameterError(f"{name} must be a positive number of metres, got {value!r}")
    return number


def projected_points(incidents: gpd.GeoDataFrame | gpd.GeoSeries, crs: pyproj.CRS) -> NDArray[np.float64]:
    """(n, 2) coordinates of single-point incidents in ``crs``.

    Raises
    ------
    EmptyLayerError
        No incidents.
    InputDataError
        Missing, empty or non-point geometries, naming the rows.
    MissingCRSError
        Incidents without a CRS.
    """
    source = incidents.attrs.get("source")
    if len(incidents) == 0:
        raise EmptyLayerError("there are no incidents to map", path=source,
                              hint="check the file, or widen the category and date filters")
    geoms = incidents.geometry if isinstance(incidents, gpd.GeoDataFrame) else incidents
    values = geoms.to_numpy()
    bad = shapely.is_missing(values) | shapely.is_empty(values) | (shapely.get_type_id(values) != 0)
    if bad.any():
        raise InputDataError(
            "incidents must be single points with coordinates", path=source,
            feature_ids=list(incidents.index[bad]), field="geometry",
            hint="give each incident one lon/lat position",
        )
    if geoms.crs is None:
        raise MissingCRSError("the incidents have no coordinate reference system", path=source,
                              hint="set one with .set_crs(...) (or --assume-crs on the command line)")
    xy = shapely.get_coordinates(values)
    if not pyproj.CRS.from_user_input(geoms.crs).equals(crs):
        to_local = pyproj.Transformer.from_crs(geoms.crs, crs, always_xy=True)
        x, y = to_local.transform(xy[:, 0], xy[:, 1])
        xy = np.column_stack([x, y])
    return xy


def _extent(
    xy: NDArray[np.float64], area_bounds: tuple[float, float, float, float] | None, pad: float, cell_m: float,
) -> tuple[float, float, float, float]:
    """Bounds of the points and the area, padded, snapped outward to whole cells."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    if area_bounds is not None:
        b = np.asarray(area_bounds, dtype=np.float64)
        lo, hi = np.minimum(lo, b[:2]), np.maximum(hi, b[2:])
    lo = np.floor((lo - pad) / cell_m) * cell_m
    hi = np.ceil((hi + pad) / cell_m) * cell_m
    hi = np.maximum(hi, lo + cell_m)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
