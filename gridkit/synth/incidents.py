"""A year of a county's incidents (事件): street background, hotspots, seasons and a recent spike.

About 0.42 incidents per household (at most 200,000), from the sources of
``synth_incident_sources.csv``: along the streets (villages at a third of the town's
rate), the market street, the night-market street and the construction site, with each
category's seasonal and weekly profile; then 45 incidents in the last seven days round one
block, for early-warning demos.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.synth.cases import START, incident_rows, incident_table, seasonal, weighted_choice, year_days
from gridkit.synth.constants import HALF_WIDTH, INCIDENTS_PER_HOUSEHOLD, MAX_INCIDENTS
from gridkit.synth.geometry import interpolate
from gridkit.synth.tables import incident_sources
from gridkit.synth.town import Town

__all__ = ["year_of_incidents"]

_SITE_DAYS = (60, 300)  # the construction site is active on these days of the year (from, to)


def year_of_incidents(town: Town, streets: gpd.GeoDataFrame, households: int, rng: np.random.Generator) -> pd.DataFrame:
    """A year of incidents (事件) with hotspots, seasonality and a spike in the last seven days."""
    total = min(MAX_INCIDENTS, round(INCIDENTS_PER_HOUSEHOLD * households))
    places = _hotspot_places(town)
    parts = []
    for name, source in incident_sources().items():
        if source.count:
            continue
        n = round(total * source.share)
        cats = source.categories
        category = weighted_choice(list(cats), np.array(list(cats.values()), float), n, rng)
        day = _incident_days(category, name, rng)
        parts.append(incident_rows(category, day, source.hours, _incident_places(name, n, places, streets, rng), rng))
    spike = incident_sources()["spike"]
    cats = spike.categories
    category = weighted_choice(list(cats), np.array(list(cats.values()), float), spike.count, rng)
    day = rng.integers(year_days() - 7, year_days(), spike.count)
    xy = places["spike"] + rng.normal(0, 25, (spike.count, 2))
    parts.append(incident_rows(category, day, spike.hours, xy, rng))
    return incident_table(pd.concat(parts, ignore_index=True), rng)


def _incident_days(category: np.ndarray, source: str, rng: np.random.Generator) -> np.ndarray:
    """Day of the year of each incident, by its category's seasonal and weekly profile."""
    n_days = year_days()
    dates = START.astype("datetime64[D]") + np.arange(n_days)
    months = dates.astype("datetime64[M]").astype(int) % 12 + 1
    weekday = (dates.astype(int) + 3) % 7  # 0 Monday
    weekly = np.where(weekday >= 5, 0.85, 1.0)
    if source == "site":
        weekly = weekly * ((np.arange(n_days) >= _SITE_DAYS[0]) & (np.arange(n_days) < _SITE_DAYS[1]))
    day = np.empty(len(category), dtype=np.int64)
    for code in np.unique(category):
        p = seasonal(str(code), months) * weekly
        mask = category == code
        day[mask] = rng.choice(n_days, size=int(mask.sum()), p=p / p.sum())
    return day


def _hotspot_places(town: Town) -> dict[str, Any]:
    """Lines and points the hotspots are drawn around."""
    def stretch(j: int | None) -> shapely.Geometry:
        if j is None:
            j = town.ny // 2
        lo = max(0, town.nx // 2 - 2)
        return shapely.linestrings(town.hedges[lo:lo + 4, j, :4].reshape(-1, 2))

    site = town.quads[town.site] if town.site >= 0 else town.quads[0]
    spike_block = int(np.flatnonzero(town.comm.ravel() == min(1, len(town.targets) - 1))[-1])
    return {
        "market": stretch(town.names.market),
        "night": stretch(town.names.night),
        "site": shapely.get_exterior_ring(site),
        "spike": shapely.get_coordinates(shapely.centroid(town.quads[spike_block]))[0],
    }


def _incident_places(
    source: str, n: int, places: dict[str, Any], streets: gpd.GeoDataFrame, rng: np.random.Generator
) -> np.ndarray:
    """Coordinates of ``n`` incidents from one source: along streets or around a hotspot."""
    if source == "streets":
        lines = streets.geometry.to_numpy()
        half = streets["highway"].map(HALF_WIDTH).to_numpy(dtype=float)
        weight = shapely.length(lines) * np.where(streets["town"], 1.0, 0.3)
        pick = rng.choice(len(streets), size=n, p=weight / weight.sum())
        spread = half[pick] / 2 + 2
    else:
        lines = np.array([places[source]], dtype=object)
        pick = np.zeros(n, dtype=np.int64)
        spread = np.full(n, 10.0 if source == "site" else 6.0)
    at, _ = interpolate(lines, pick, rng.random(n) * shapely.length(lines)[pick])
    return at + rng.normal(0, 1, (n, 2)) * spread[:, None]
