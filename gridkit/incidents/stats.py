"""Points counted per grid: totals, by major category, per km², per 100 households, per km of street.

:func:`grid_stats` gives every grid a row (zero counts included), indexed by
``grid_code``; :func:`street_length_by_grid` measures the streets inside each grid in the
grids' local metric CRS (:func:`gridkit.crs.local_crs`).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.crs import local_crs
from gridkit.errors import InputDataError, ParameterError
from gridkit.incidents._checks import OUTSIDE, as_text, check_layer, grid_code_arrays

__all__ = ["grid_stats", "street_length_by_grid"]


def grid_stats(
    grids: gpd.GeoDataFrame,
    points: pd.DataFrame,
    *,
    majors: Sequence[str] = ("01", "02", "03", "04", "05", "06"),
    grid_field: str = "grid_code",
    households_field: str = "households",
    streets: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Count attached points per grid: totals, by major category, densities.

    Parameters
    ----------
    grids
        The grid polygons, with ``grid_field`` (and ``households`` when the densities per
        household are wanted).
    points
        Points as returned by :func:`~gridkit.incidents.attach.attach_points` (and
        :func:`~gridkit.incidents.categories.categories_for_points`
        for the counts by major category). Points outside every grid are not counted
        here; ``attach_points`` reports them.
    majors
        The major category codes to give a ``count_<major>`` column each, present or not.
    grid_field, households_field
        Fields of ``grids``.
    streets
        Street lines (any CRS) for ``street_km`` and ``per_street_km``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per grid, indexed by ``grid_code`` in code order, every grid present (zero
        counts included), in the grids' CRS: ``community_code`` (when the grids carry it),
        ``area_km2`` (in the local metric CRS), ``households`` (NaN without the field),
        ``count``, ``count_01`` … ``count_06`` (plus ``count_other`` for codes with another
        or no major: unknown categories), ``per_km2``, ``per_100_households`` (NaN for
        grids without households) and, with ``streets``, ``street_km`` (street length
        inside the grid; a street along a shared grid boundary counts for each grid it
        borders) and ``per_street_km`` (NaN without streets in the grid).

    Examples
    --------
    >>> import shapely
    >>> x, y = 500_000, 2_930_000  # CGCS2000 / 3-degree GK CM 108E, metres (easting, northing)
    >>> grids = gpd.GeoDataFrame({"grid_code": ["G2", "G1"], "households": [200, 0]},
    ...     geometry=[shapely.box(x, y, x + 1000, y + 1000), shapely.box(x + 1000, y, x + 2000, y + 1000)],
    ...     crs=4545)
    >>> pts = pd.DataFrame({"grid_code": ["G1", "G2", "G2", ""], "major": ["01", "01", "03", "01"]})
    >>> grid_stats(grids, pts)[["count", "count_01", "count_03", "per_km2", "per_100_households"]].reset_index()
      grid_code  count  count_01  count_03  per_km2  per_100_households
    0        G1      1         1         0      1.0                 NaN
    1        G2      2         1         1      2.0                 1.0
    """
    check_layer(grids, "grids")
    codes, _ = grid_code_arrays(grids, grid_field, "")
    base = grids.assign(**{grid_field: codes}).set_index(grid_field).sort_index()
    base.index.name = "grid_code"
    out = gpd.GeoDataFrame(index=base.index, geometry=base.geometry, crs=grids.crs)
    if "community_code" in base.columns:
        out.insert(0, "community_code", as_text(base["community_code"]))
    metric = base.geometry.to_crs(local_crs(grids))
    out["area_km2"] = metric.area.to_numpy() / 1e6
    if households_field in base.columns:
        out["households"] = pd.to_numeric(base[households_field], errors="coerce").to_numpy(dtype=float)
    else:
        out["households"] = np.nan
    if "grid_code" not in points.columns:
        raise ParameterError("the points carry no grid_code: attach them first (attach_points)")
    where = pd.Series(as_text(points["grid_code"]), index=points.index)
    counted = where != OUTSIDE
    stray = counted & ~where.isin(out.index)
    if stray.any():
        raise InputDataError(
            "points name grid codes the grids do not have", feature_ids=list(points.index[stray]),
            field="grid_code", hint="attach the points to these grids again",
        )
    out["count"] = where[counted].value_counts().reindex(out.index, fill_value=0).astype(np.int64)
    if "major" in points.columns:
        major = pd.Series(as_text(points["major"]), index=points.index)
        major = major.where(major.isin(list(majors)), "other")[counted]
        table = pd.crosstab(where[counted], major).reindex(index=out.index, fill_value=0)
        for m in majors:
            out[f"count_{m}"] = table[m].astype(np.int64) if m in table.columns else 0
        if "other" in table.columns:
            out["count_other"] = table["other"].astype(np.int64)
    out["per_km2"] = out["count"] / out["area_km2"].where(out["area_km2"] > 0)
    out["per_100_households"] = 100 * out["count"] / out["households"].where(out["households"] > 0)
    if streets is not None:
        out["street_km"] = street_length_by_grid(out, streets) / 1000
        out["per_street_km"] = out["count"] / out["street_km"].where(out["street_km"] > 0)
    return out


def street_length_by_grid(grids: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> pd.Series:
    """Length in metres of the streets inside each grid, in the grids' local metric CRS.

    A street running along an edge shared by two grids counts for both (it serves both
    sides). Indexed like ``grids``.

    Examples
    --------
    >>> import shapely
    >>> x, y = 500_000, 2_930_000  # CGCS2000 / 3-degree GK CM 108E, metres
    >>> grids = gpd.GeoDataFrame(geometry=[shapely.box(x, y, x + 100, y + 100),
    ...                                    shapely.box(x + 100, y, x + 200, y + 100)], crs=4545, index=["a", "b"])
    >>> streets = gpd.GeoDataFrame(geometry=[shapely.LineString([(x + 50, y + 50), (x + 150, y + 50)]),
    ...                                      shapely.LineString([(x + 100, y), (x + 100, y + 100)])], crs=4545)
    >>> street_length_by_grid(grids, streets).round(6).tolist()
    [150.0, 150.0]
    """
    check_layer(streets, "streets")
    crs = local_crs(grids)
    g = grids.geometry.to_crs(crs).to_numpy()
    lines = streets.geometry.to_crs(crs).to_numpy()
    street_idx, grid_idx = shapely.STRtree(lines).query(g, predicate="intersects")[::-1]
    pieces = shapely.intersection(lines[street_idx], g[grid_idx])
    lengths = np.bincount(grid_idx, weights=shapely.length(pieces), minlength=len(g))
    return pd.Series(lengths, index=grids.index, name="street_m")
