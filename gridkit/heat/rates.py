"""Incident rates per grid: per 100 households and per km², for choropleths and the report."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from gridkit.crs import local_crs
from gridkit.errors import MissingFieldError

__all__ = ["rates_for_grids"]


def rates_for_grids(
    attached: pd.DataFrame,
    grids: gpd.GeoDataFrame,
    *,
    grid_field: str = "grid_code",
    households_field: str = "households",
    crs: pyproj.CRS | None = None,
) -> pd.DataFrame:
    """Incidents per grid, per 100 households and per km², indexed by grid code.

    Parameters
    ----------
    attached
        Incidents with a ``grid_field`` (from :func:`gridkit.attach.attach_points`); rows
        with an empty code (outside every grid) are not counted.
    grids
        The grids, with ``grid_field`` and, when present, ``households_field``; areas
        are measured in ``crs``.
    crs
        A metric CRS to measure areas in; None: :func:`gridkit.crs.local_crs` of the grids.

    Returns
    -------
    pandas.DataFrame
        One row per grid (in the grids' order): ``incidents``, ``households``,
        ``area_km2``, ``per_100_households`` (NaN for grids without households) and
        ``per_km2``.

    Examples
    --------
    >>> import shapely
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
    area_km2 = grids.geometry.to_crs(crs if crs is not None else local_crs(grids)).area.to_numpy() / 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        per_100 = np.where(households > 0, incidents / households * 100.0, np.nan)
        per_km2 = np.where(area_km2 > 0, incidents / area_km2, np.nan)
    return pd.DataFrame(
        {"incidents": incidents, "households": households, "area_km2": area_km2,
         "per_100_households": per_100, "per_km2": per_km2},
        index=pd.Index(codes, name=grid_field),
    )
