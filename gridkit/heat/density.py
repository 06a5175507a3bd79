"""Incident density surfaces: kernel density estimates in metres, GeoTIFF output, per-grid rates.

:func:`heat_from_incidents` projects incidents to the local metric CRS
(:func:`gridkit.crs.local_crs`), chooses a Gaussian kernel bandwidth in metres (a stated rule
or cross-validation, see :func:`bandwidth_for_points`) and evaluates scikit-learn's
``KernelDensity`` at the centre of every cell of a north-up raster. The result,
:class:`HeatSurface`, holds the probability density (per m², integrating to 1 over the plane)
and the incident density (incidents per km², the probability density times the number of
incidents). :func:`heat_to_geotiff` writes it with its CRS and transform.

:func:`filter_incidents` keeps incidents by category code and reporting date, and
:func:`rates_for_grids` turns attached incidents into rates per grid (per 100 households and
per km²) for choropleths.

Examples
--------
>>> import shapely
>>> pts = gpd.GeoDataFrame(geometry=shapely.points([106.62, 106.621, 106.622], [26.47, 26.471, 26.47]),
...                        crs=4490)
>>> surface = heat_from_incidents(pts, bandwidth=80.0, cell_m=20.0)
>>> surface.crs.to_epsg(), surface.bandwidth_m, surface.n_incidents
(4545, 80.0, 3)
>>> round(float(surface.probability.sum() * surface.cell_m ** 2), 3)
1.0
"""

from __future__ import annotations

import logging
import math
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from affine import Affine
from numpy.typing import NDArray

from gridkit._progress import Progress, no_progress
from gridkit._rng import RNGLike, as_rng
from gridkit.crs import local_crs
from gridkit.errors import EmptyLayerError, InputDataError, MissingFieldError, ParameterError
from gridkit.times import local_times

__all__ = [
    "BandwidthRule",
    "HeatSurface",
    "bandwidth_for_points",
    "filter_incidents",
    "heat_from_incidents",
    "heat_to_geotiff",
    "rates_for_grids",
    "reported_times",
]

log = logging.getLogger(__name__)

BandwidthRule = Literal["scott", "silverman", "cv"]
_RULES = ("scott", "silverman", "cv")
_IQR_PER_SIGMA = 1.349  # interquartile range of a standard normal
_SCORE_CHUNK = 65_536  # cells scored per call (bounds memory, feeds the progress callback)


@dataclass(frozen=True)
class HeatSurface:
    """A kernel density raster in a metric CRS, north up (row 0 is the northern edge).

    Attributes
    ----------
    probability
        Probability density per m² at each cell centre; ``probability.sum() * cell_m**2``
        is the share of the kernel mass inside the raster (about 1 with the default padding).
    transform
        Affine transform from (col, row) to the CRS's (x, y), as rasterio uses it.
    crs
        The local metric CRS of the raster.
    cell_m
        Cell size in metres.
    bandwidth_m
        Standard deviation of the Gaussian kernel in metres.
    bandwidth_rule
        How the bandwidth was chosen: ``"scott"``, ``"silverman"``, ``"cv"`` or ``"fixed"``.
    n_incidents
        Incidents the surface was fitted to.
    detail
        How the bandwidth was found (spread of the points, CV grid and sample size, ...).
    """

    probability: NDArray[np.float64]
    transform: Affine
    crs: pyproj.CRS
    cell_m: float
    bandwidth_m: float
    bandwidth_rule: str
    n_incidents: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def density(self) -> NDArray[np.float64]:
        """Incidents per km² at each cell centre (probability density x incidents x 10⁶)."""
        return self.probability * self.n_incidents * 1e6

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.probability.shape  # type: ignore[return-value]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the raster in its CRS."""
        rows, cols = self.shape
        west, north = self.transform.c, self.transform.f
        return west, north - rows * self.cell_m, west + cols * self.cell_m, north

    def cell_centres(self) -> NDArray[np.float64]:
        """(rows x cols, 2) array of cell-centre coordinates, row by row from the north-west."""
        rows, cols = self.shape
        west, _south, _east, north = self.bounds
        xs = west + (np.arange(cols) + 0.5) * self.cell_m
        ys = north - (np.arange(rows) + 0.5) * self.cell_m
        gx, gy = np.meshgrid(xs, ys)
        return np.column_stack([gx.ravel(), gy.ravel()])


# --------------------------------------------------------------------------- bandwidth


def bandwidth_for_points(
    xy: NDArray[np.float64],
    *,
    rule: BandwidthRule = "scott",
    cv_max_points: int = 2000,
    cv_folds: int = 5,
    cv_steps: int = 20,
    rng: RNGLike = None,
) -> tuple[float, dict[str, Any]]:
    """A Gaussian kernel bandwidth in the units of ``xy`` (metres for projected points).

    The kernel is isotropic, so one bandwidth serves both axes; the spread ``sigma`` is
    the pooled standard deviation ``sqrt((var_x + var_y) / 2)``.

    - ``"scott"``: ``h = sigma * n ** (-1/6)`` (Scott's factor ``n ** (-1 / (d + 4))``, d = 2).
    - ``"silverman"``: ``h = A * n ** (-1/6)`` with Silverman's robust spread
      ``A = min(sigma, IQR / 1.349)`` per axis, pooled. In two dimensions Silverman's
      factor ``(n (d + 2) / 4) ** (-1 / (d + 4))`` equals Scott's, so the rules differ only
      by the robust spread, which is smaller for clustered points with long tails.
    - ``"cv"``: the bandwidth maximising the held-out log-likelihood (``GridSearchCV`` over
      ``cv_steps`` values spaced evenly in log scale from Scott's ``h / 20`` to ``2 h``,
      ``cv_folds``-fold shuffled cross-validation). At most ``cv_max_points`` points, a
      random subsample drawn with ``rng``, take part: the search costs O(sample²) per
      candidate, and the bandwidth found for the sample is scaled to all ``n`` points by
      Scott's factor ``(n / sample) ** (-1/6)``.

    Returns
    -------
    (float, dict)
        The bandwidth and what it was computed from (``sigma``, ``n``; for CV the grid,
        the sample size and the score of each candidate).

    Examples
    --------
    >>> xy = np.random.default_rng(0).normal(0, 100, (64, 2))
    >>> h, detail = bandwidth_for_points(xy)
    >>> round(h / detail["sigma"], 4) == round(64 ** (-1 / 6), 4)
    True
    """
    if rule not in _RULES:
        raise ParameterError(f"unknown bandwidth rule {rule!r}", hint="use scott, silverman, cv or metres")
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    if n < 2:
        raise InputDataError(
            f"a bandwidth rule needs at least 2 incidents, got {n}",
            hint="give the bandwidth in metres (--bandwidth 150) or widen the filters",
        )
    sigma = float(np.sqrt(xy.var(axis=0, ddof=1).mean()))
    if not sigma > 0:
        raise InputDataError(
            "all incidents are at the same place: their spread is zero",
            hint="give the bandwidth in metres (--bandwidth 150)",
        )
    factor = n ** (-1.0 / 6.0)
    detail: dict[str, Any] = {"sigma": sigma, "n": n}
    if rule == "scott":
        return sigma * factor, detail
    if rule == "silverman":
        std = xy.std(axis=0, ddof=1)
        iqr = np.subtract(*np.percentile(xy, [75, 25], axis=0)) / _IQR_PER_SIGMA
        spread = np.where(iqr > 0, np.minimum(std, iqr), std)
        robust = float(np.sqrt((spread**2).mean()))
        detail["robust_sigma"] = robust
        return robust * factor, detail
    return _cv_bandwidth(xy, sigma * factor, cv_max_points, cv_folds, cv_steps, as_rng(rng), detail)


def _cv_bandwidth(
    xy: NDArray[np.float64], h_scott: float, max_points: int, folds: int, steps: int,
    rng: np.random.Generator, detail: dict[str, Any],
) -> tuple[float, dict[str, Any]]:
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KernelDensity

    n = len(xy)
    if max_points < 2 * folds:
        raise ParameterError(f"cv_max_points must be at least {2 * folds}, got {max_points}")
    sample = xy if n <= max_points else xy[np.sort(rng.choice(n, max_points, replace=False))]
    m = len(sample)
    folds = min(folds, m)
    # the grid is relative to Scott's bandwidth for the sample
    h_sample = h_scott * (m / n) ** (-1.0 / 6.0)
    grid = h_sample * np.logspace(np.log10(1 / 20), np.log10(2), steps)
    search = GridSearchCV(
        KernelDensity(kernel="gaussian"), {"bandwidth": grid},
        cv=KFold(folds, shuffle=True, random_state=int(rng.integers(2**31 - 1))),
    )
    search.fit(sample)
    best = float(search.best_params_["bandwidth"])
    h = best * (n / m) ** (-1.0 / 6.0)
    at_edge = bool(best in (grid[0], grid[-1]))
    if at_edge:
        log.warning("cross-validated bandwidth %.1f m is at the edge of the searched grid", best)
    detail.update({
        "cv_sample": m, "cv_folds": folds, "cv_grid": [float(g) for g in grid],
        "cv_scores": [float(s) for s in search.cv_results_["mean_test_score"]],
        "cv_best_for_sample": best, "cv_at_grid_edge": at_edge,
    })
    return h, detail


# --------------------------------------------------------------------------- surface


def heat_from_incidents(
    incidents: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    cell_m: float = 50.0,
    bandwidth: BandwidthRule | float = "scott",
    pad_bandwidths: float = 4.0,
    crs: pyproj.CRS | str | int | None = None,
    max_cells: int = 4_000_000,
    max_fit_points: int = 200_000,
    rtol: float = 1e-4,
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
    max_cells
        Refuse rasters with more cells (choose a larger ``cell_m``).
    max_fit_points
        Above this many incidents, points are binned to squares of a tenth of the bandwidth
        and the kernel is fitted to the bin centres weighted by their counts: the scoring
        cost then grows with the occupied bins, not the incidents, and every point moves
        by at most 0.071 bandwidths (the surface changes by well under 1 % of its peak).
    rtol
        Relative tolerance of scikit-learn's tree-based evaluation: each cell's density is
        within this fraction of the exact sum over all points. 1e-4 scores cells about five
        times faster than an exact evaluation when many incidents fall within a few
        bandwidths of each cell.
    cv_max_points
        Sample size for ``bandwidth="cv"``.
    rng
        Random generator for the cross-validation sample and folds.
    progress
        Called as ``progress(done, total, "heat")`` while cells are scored.

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
        A bad bandwidth, cell size or raster too large.
    """
    from sklearn.neighbors import KernelDensity

    progress = progress or no_progress
    cell_m = _positive("cell_m", cell_m)
    pad_bandwidths = float(pad_bandwidths)
    if not (pad_bandwidths >= 0 and math.isfinite(pad_bandwidths)):
        raise ParameterError(f"pad_bandwidths must be >= 0, got {pad_bandwidths}")
    target = pyproj.CRS.from_user_input(crs) if crs is not None else local_crs(incidents)
    xy = _projected_points(incidents, target)
    n = len(xy)

    if isinstance(bandwidth, str):
        h, detail = bandwidth_for_points(xy, rule=bandwidth, cv_max_points=cv_max_points, rng=rng)  # type: ignore[arg-type]
        rule: str = bandwidth
    else:
        h, detail, rule = _positive("bandwidth", bandwidth), {"n": n}, "fixed"
    if cell_m > h:
        log.warning("cell size %.0f m exceeds the bandwidth %.0f m: the surface is undersampled", cell_m, h)

    west, south, east, north = _extent(xy, area, target, h * pad_bandwidths, cell_m)
    cols, rows = round((east - west) / cell_m), round((north - south) / cell_m)
    if rows * cols > max_cells:
        raise ParameterError(
            f"the raster would have {rows} x {cols} = {rows * cols:,} cells, more than {max_cells:,}",
            hint=f"use a larger cell size (--cell-m {math.ceil(cell_m * math.sqrt(rows * cols / max_cells))})",
        )
    transform = Affine(cell_m, 0.0, west, 0.0, -cell_m, north)

    points, weights = xy, None
    if n > max_fit_points:
        points, weights = _binned(xy, h / 10.0)
        detail["binned_to"] = len(points)
        detail["bin_m"] = h / 10.0
    kde = KernelDensity(kernel="gaussian", bandwidth=h, rtol=rtol).fit(points, sample_weight=weights)

    surface = HeatSurface(np.empty((rows, cols)), transform, target, cell_m, float(h), rule, n, detail)
    centres = surface.cell_centres()
    logp = np.empty(len(centres))
    for start in range(0, len(centres), _SCORE_CHUNK):
        stop = min(start + _SCORE_CHUNK, len(centres))
        logp[start:stop] = kde.score_samples(centres[start:stop])
        progress(stop, len(centres), "heat")
    surface.probability[:] = np.exp(logp).reshape(rows, cols)
    log.info(
        "heat surface of %d incidents: %d x %d cells of %.0f m, bandwidth %.1f m (%s), EPSG:%s",
        n, rows, cols, cell_m, h, rule, target.to_epsg(),
    )
    return surface


def _positive(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number of metres, got {value!r}") from None
    if not (number > 0 and math.isfinite(number)):
        raise ParameterError(f"{name} must be a positive number of metres, got {value!r}")
    return number


def _projected_points(incidents: gpd.GeoDataFrame | gpd.GeoSeries, crs: pyproj.CRS) -> NDArray[np.float64]:
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
    projected = geoms.to_crs(crs)
    return shapely.get_coordinates(projected.to_numpy())


def _extent(
    xy: NDArray[np.float64], area: gpd.GeoDataFrame | gpd.GeoSeries | None, crs: pyproj.CRS,
    pad: float, cell_m: float,
) -> tuple[float, float, float, float]:
    """Bounds of the points and the area, padded, snapped outward to whole cells."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    if area is not None and len(area):
        b = area.to_crs(crs).total_bounds
        lo, hi = np.minimum(lo, b[:2]), np.maximum(hi, b[2:])
    lo = np.floor((lo - pad) / cell_m) * cell_m
    hi = np.ceil((hi + pad) / cell_m) * cell_m
    hi = np.maximum(hi, lo + cell_m)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _binned(xy: NDArray[np.float64], size: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Centres of the occupied square bins of side ``size`` and how many points each holds."""
    keys = np.floor(xy / size).astype(np.int64)
    unique, counts = np.unique(keys, axis=0, return_counts=True)
    return ((unique + 0.5) * size).astype(np.float64), counts.astype(np.float64)


# --------------------------------------------------------------------------- GeoTIFF


def heat_to_geotiff(
    surface: HeatSurface, path: str | os.PathLike[str], *, values: Literal["density", "probability"] = "density"
) -> Path:
    """Write a surface as a single-band float32 GeoTIFF (CRS, transform, units in the tags).

    The file is written beside ``path`` and moved into place when complete.

    Parameters
    ----------
    values
        ``"density"``: incidents per km²; ``"probability"``: probability density per m².

    Examples
    --------
    >>> import rasterio, shapely, tempfile
    >>> pts = gpd.GeoDataFrame(geometry=shapely.points([106.62, 106.63], [26.47, 26.48]), crs=4490)
    >>> out = heat_to_geotiff(heat_from_incidents(pts, bandwidth=200.0),
    ...                       Path(tempfile.mkdtemp()) / "heat.tif")
    >>> with rasterio.open(out) as src:
    ...     src.crs.to_epsg(), src.res, src.tags()["units"]
    (4545, (50.0, 50.0), 'incidents per km2')
    """
    import rasterio

    if values not in ("density", "probability"):
        raise ParameterError(f"values must be density or probability, got {values!r}")
    data = (surface.density if values == "density" else surface.probability).astype(np.float32)
    units = "incidents per km2" if values == "density" else "probability per m2"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with rasterio.open(
            tmp, "w", driver="GTiff", width=surface.shape[1], height=surface.shape[0], count=1,
            dtype="float32", crs=surface.crs.to_wkt(), transform=surface.transform,
            compress="deflate", predictor=3, tiled=surface.shape[0] >= 256 and surface.shape[1] >= 256,
        ) as dst:
            dst.write(data, 1)
            dst.update_tags(
                units=units, bandwidth_m=f"{surface.bandwidth_m:.3f}", bandwidth_rule=surface.bandwidth_rule,
                incidents=str(surface.n_incidents), kernel="gaussian",
            )
            dst.set_band_description(1, f"incident density ({units})")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s (%d x %d)", path, *surface.shape)
    return path


# --------------------------------------------------------------------------- incidents: filters


def reported_times(
    incidents: pd.DataFrame, *, field: str = "reported_at", required: bool = True
) -> pd.Series:
    """The reporting time of each incident as ``datetime64`` (local time, no time zone).

    ISO 8601 text is parsed; time-zone-aware values are converted to China Standard Time
    (UTC+8) and the zone dropped.

    Raises
    ------
    MissingFieldError
        No ``field`` column.
    InputDataError
        Values that are empty (when ``required``) or not dates, naming the rows.

    Examples
    --------
    >>> reported_times(pd.DataFrame({"reported_at": ["2024-06-30T08:15:00", "2024-07-01"]})).dt.day.tolist()
    [30, 1]
    """
    source = incidents.attrs.get("source")
    if field not in incidents.columns:
        raise MissingFieldError(
            f"the incidents have no {field!r} field", path=source, field=field,
            hint="give each incident its reporting time as ISO 8601 text, e.g. 2024-06-30T08:15:00",
        )
    times = local_times(incidents[field], field=field, path=source)
    missing = times.isna().to_numpy()
    if required and missing.any():
        raise InputDataError(
            "incidents without a reporting time", path=source, feature_ids=list(incidents.index[missing]),
            field=field, hint="fill in when each incident was reported (ISO 8601)",
        )
    return times.astype("datetime64[ns]").rename(field)


def filter_incidents(
    incidents: gpd.GeoDataFrame,
    *,
    categories: Sequence[str] | str | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    category_field: str = "category",
    time_field: str = "reported_at",
) -> gpd.GeoDataFrame:
    """The incidents of some categories reported in a date range (a copy; the index is kept).

    Parameters
    ----------
    categories
        Category codes: a 2-digit major code keeps all its minors (``"01"``), a longer code
        keeps exactly that category (``"0101"``). A comma-separated string works too.
    start, end
        Dates or times, inclusive; a date alone as ``end`` takes in that whole day.

    Examples
    --------
    >>> df = gpd.GeoDataFrame({"category": ["0101", "0102", "0501"],
    ...                        "reported_at": ["2024-01-01", "2024-02-01", "2024-02-03T10:00"]})
    >>> filter_incidents(df, categories="01").index.tolist()
    [0, 1]
    >>> filter_incidents(df, start="2024-02-01", end="2024-02-03").index.tolist()
    [1, 2]
    """
    keep = np.ones(len(incidents), dtype=bool)
    if categories is not None:
        codes = _category_codes(categories)
        if category_field not in incidents.columns:
            raise MissingFieldError(
                f"the incidents have no {category_field!r} field to filter by", field=category_field,
                path=incidents.attrs.get("source"), hint="give each incident its event category code",
            )
        keep &= category_mask(incidents[category_field], codes)
    if start is not None or end is not None:
        times = reported_times(incidents, field=time_field)
        lo, hi = _date_range(start, end)
        keep &= ((times >= lo) & (times <= hi)).to_numpy()
    out = incidents.loc[keep].copy()
    out.attrs = dict(incidents.attrs)
    log.info("kept %d of %d incidents (categories %s, from %s to %s)", len(out), len(incidents),
             categories, start, end)
    return out


def category_mask(values: pd.Series, codes: Iterable[str]) -> NDArray[np.bool_]:
    """True where a category code equals one of ``codes`` or, for 2-digit codes, starts with it."""
    text = values.astype("string").str.strip().fillna("")
    keep = np.zeros(len(values), dtype=bool)
    for code in codes:
        keep |= (text.str.startswith(code) if len(code) == 2 else text == code).to_numpy(dtype=bool)
    return keep


def _category_codes(categories: Sequence[str] | str) -> list[str]:
    items = categories.split(",") if isinstance(categories, str) else list(categories)
    codes = [str(c).strip() for c in items if str(c).strip()]
    bad = [c for c in codes if not (c.isdigit() and len(c) in (2, 4, 5))]
    if bad or not codes:
        raise ParameterError(
            f"category codes must be 2 digits (major) or 4-5 digits (minor), got {', '.join(bad) or '(none)'}",
            hint="e.g. --category 01 or --category 0101,0505",
        )
    return codes


def _date_range(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    lo = _timestamp("start (--from)", start) if start is not None else pd.Timestamp.min
    hi = pd.Timestamp.max
    if end is not None:
        hi = _timestamp("end (--to)", end)
        if isinstance(end, str) and len(end.strip()) <= 10:  # a date: the whole day
            hi = hi + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    if hi < lo:
        raise ParameterError(f"the date range ends ({end}) before it starts ({start})")
    return lo, hi


def _timestamp(name: str, value: Any) -> pd.Timestamp:
    """A user's date or time as a naive local timestamp (aware ones converted to UTC+8)."""
    problem = ParameterError(f"{name} is not a date: {value!r}", hint="write dates as YYYY-MM-DD")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise problem from None
    if pd.isna(stamp):
        raise problem
    return stamp.tz_convert("Asia/Shanghai").tz_localize(None) if stamp.tzinfo else stamp


# --------------------------------------------------------------------------- per-grid rates


def rates_for_grids(
    attached: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    grid_field: str = "grid_code",
    households_field: str = "households",
) -> pd.DataFrame:
    """Incidents per grid, per 100 households and per km², indexed by grid code.

    Parameters
    ----------
    attached
        Incidents with a ``grid_field`` (from :func:`gridkit.attach.attach_points`); rows
        with an empty code (outside every grid) are not counted.
    grids
        The grids, with ``grid_field`` and, when present, ``households_field``; areas
        are measured in the local metric CRS.

    Returns
    -------
    pandas.DataFrame
        One row per grid (in the grids' order): ``incidents``, ``households``,
        ``area_km2``, ``per_100_households`` (NaN for grids without households) and
        ``per_km2``.

    Examples
    --------
    >>> g = gpd.GeoDataFrame({"grid_code": ["a", "b"], "households": [200, 0]}, crs=4545, geometry=[
    ...     shapely.box(361000, 2929000, 362000, 2930000), shapely.box(362000, 2929000, 363000, 2929500)])
    >>> rates = rates_for_grids(pd.DataFrame({"grid_code": ["a", "a", "b", ""]}), g)
    >>> rates.loc["a", ["incidents", "per_100_households", "per_km2"]].round(3).tolist()
    [2.0, 1.0, 2.0]
    >>> rates.loc["b", ["incidents", "per_100_households", "per_km2"]].round(3).tolist()
    [1.0, nan, 2.0]
    """
    for frame, what in ((attached, "incidents"), (grids, "grids")):
        if grid_field not in frame.columns:
            raise MissingFieldError(f"the {what} have no {grid_field!r} field", field=grid_field,
                                    path=frame.attrs.get("source"), hint="attach the incidents to the grids first")
    codes = grids[grid_field].astype(str).to_numpy()
    counts = attached[grid_field].astype(str).value_counts()
    incidents = counts.reindex(codes, fill_value=0).to_numpy(dtype=np.int64)
    households = (pd.to_numeric(grids[households_field], errors="coerce").to_numpy(dtype=float)
                  if households_field in grids.columns else np.full(len(grids), np.nan))
    area_km2 = grids.geometry.to_crs(local_crs(grids)).area.to_numpy() / 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        per_100 = np.where(households > 0, incidents / households * 100.0, np.nan)
        per_km2 = np.where(area_km2 > 0, incidents / area_km2, np.nan)
    return pd.DataFrame(
        {"incidents": incidents, "households": households, "area_km2": area_km2,
         "per_100_households": per_100, "per_km2": per_km2},
        index=pd.Index(codes, name=grid_field),
    )
