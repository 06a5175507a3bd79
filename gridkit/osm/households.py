"""Households per building, estimated from OSM footprints and levels."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit.crs import local_crs
from gridkit.errors import MissingCRSError, MissingFieldError, ParameterError
from gridkit.osm.tags import DEFAULT_LEVELS, RESIDENTIAL_BUILDINGS, SINGLE_DWELLING_BUILDINGS

__all__ = ["estimate_households", "parse_levels"]

log = logging.getLogger(__name__)

# building=* values counted only by area (no minimum of one household): mostly sheds,
# kiosks and shops when small, so floor() may give them none
_GENERIC_BUILDINGS = ("yes",)


def estimate_households(
    buildings: gpd.GeoDataFrame,
    *,
    dwelling_m2: float = 80.0,
    default_levels: float | Mapping[str, float] | None = None,
    residential_tags: Iterable[str] = RESIDENTIAL_BUILDINGS,
    single_dwelling_tags: Iterable[str] = SINGLE_DWELLING_BUILDINGS,
) -> pd.Series:
    """Households per building, estimated from the footprint and the number of levels.

    ``floor(footprint m² × levels ÷ dwelling_m2)`` for residential buildings, at
    least 1 for an explicitly residential type (``apartments``, ``residential``,
    ``dormitory``, ``terrace``); ``building=yes`` (type unknown) counts by area
    alone, so sheds and kiosks get 0; house-like types (``house``, ``detached``,
    ``semidetached_house``, ``bungalow``, ``farm``, ``cabin``) hold exactly 1;
    every other type (commercial, retail, industrial, office, church, school, ...)
    holds 0. Levels come from the ``levels`` column (or the ``building:levels``
    tag), else the default of the building type: apartments 5, dormitory 5,
    residential 4, terrace 2, yes 2, anything else 1.

    ``building=yes`` is counted because most buildings in Chinese OSM data carry
    nothing more specific. Where offices and shops are tagged ``yes`` too (a city
    centre) this overestimates: pass ``residential_tags`` without ``"yes"``.

    Parameters
    ----------
    buildings
        Footprints with a CRS and a ``building`` column (as
        :func:`buildings_from_osm` returns).
    dwelling_m2
        Gross floor area per household, square metres (default 80).
    default_levels
        Levels where the data has none: one number for every type, or a mapping
        ``{building type: levels}`` overriding the defaults above (default None).
    residential_tags
        ``building=*`` values that hold homes (default
        :data:`RESIDENTIAL_BUILDINGS`).
    single_dwelling_tags
        Values among ``residential_tags`` that hold exactly one household
        (default :data:`SINGLE_DWELLING_BUILDINGS`).

    Returns
    -------
    pandas.Series
        Integer households, indexed like ``buildings``, named ``households``.

    Raises
    ------
    MissingFieldError
        No ``building`` column.
    MissingCRSError
        ``buildings`` has no CRS.
    ParameterError
        ``dwelling_m2`` not positive.

    Examples
    --------
    >>> from shapely import box
    >>> x, y = 386_000, 6_672_000  # Helsinki, UTM zone 35N
    >>> b = gpd.GeoDataFrame(
    ...     {"building": ["apartments", "church", "house"], "levels": [5, None, None]},
    ...     geometry=[box(x, y, x + 20, y + 20), box(x + 30, y, x + 60, y + 30), box(x + 70, y, x + 80, y + 10)],
    ...     crs=32635)
    >>> estimate_households(b).tolist()  # 400 m² x 5 levels / 80 m²; a church; a house
    [25, 0, 1]
    """
    if dwelling_m2 <= 0:
        raise ParameterError("dwelling_m2 must be positive", hint=f"got {dwelling_m2!r}")
    source = buildings.attrs.get("source")
    if "building" not in buildings.columns:
        raise MissingFieldError("buildings need a 'building' column (the OSM building=* value)",
                                path=source, field="building", hint="read them with buildings_from_osm")
    if buildings.crs is None:
        raise MissingCRSError("buildings have no CRS", path=source, hint="set the layer's CRS")
    if buildings.empty:
        return pd.Series(np.zeros(0, dtype=np.int64), index=buildings.index, name="households")
    kind = buildings["building"].astype("string").str.strip().str.lower()
    levels = _levels_or_default(buildings, kind, default_levels)
    area = buildings.geometry.to_crs(local_crs(buildings)).area
    # rounded first: a footprint drawn as 400 m² may measure 399.9999999 after projection
    by_area = np.floor(np.round(area.to_numpy() * levels.to_numpy() / dwelling_m2, 6))
    residential = _is_one_of(kind, residential_tags)
    single = _is_one_of(kind, single_dwelling_tags)
    at_least_one = ~_is_one_of(kind, _GENERIC_BUILDINGS)
    households = np.where(at_least_one, np.maximum(by_area, 1), by_area)
    households = np.where(residential, np.where(single, 1, households), 0)
    result = pd.Series(households.astype(np.int64), index=buildings.index, name="households")
    log.info("estimated %d households in %d buildings", int(result.sum()), len(result))
    return result



def parse_levels(values: pd.Series) -> pd.Series:
    """The first number in ``building:levels`` (``"5"``, ``"5;6"``, ``"3.5"``), else NaN.

    >>> parse_levels(pd.Series(["5", "5;6", "many", "0", None])).tolist()
    [5.0, 5.0, nan, nan, nan]
    """
    numbers = values.astype("string").str.extract(r"(\d+(?:\.\d+)?)", expand=False)
    levels = pd.to_numeric(numbers, errors="coerce").astype(float)
    return levels.where(levels > 0)


def _is_one_of(kind: pd.Series, values: Iterable[str]) -> np.ndarray:
    return kind.isin(list(values)).fillna(False).to_numpy(dtype=bool)


def _levels_or_default(buildings: gpd.GeoDataFrame, kind: pd.Series,
                       default_levels: float | Mapping[str, float] | None) -> pd.Series:
    if "levels" in buildings:
        levels = pd.to_numeric(buildings["levels"], errors="coerce").astype(float)
    elif "building:levels" in buildings:
        levels = parse_levels(buildings["building:levels"])
    else:
        levels = pd.Series(np.nan, index=buildings.index)
    levels = levels.where(levels > 0)
    if isinstance(default_levels, (int, float)):
        fallback = pd.Series(float(default_levels), index=buildings.index)
    else:
        table = {**DEFAULT_LEVELS, **(default_levels or {})}
        fallback = kind.map(table).astype(float).fillna(1.0)
    return levels.fillna(fallback)
