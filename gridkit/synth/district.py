"""A district's incidents over a period — e.g. 3,000 a day for a year, about 1.1 million —
generated in chunks of 30 days, never as one frame.

The incidents have the columns of the sample's year (:data:`gridkit.synth.cases.INCIDENT_COLUMNS`)
and are clustered as city incidents are, at several scales (``synth_district_sources.csv``):

- **streets** (35 %): along every street, weighted by length and class (an arterial draws
  three times a residential street per metre; village roads a third of the town's rate);
- **homes** (25 %): round residential buildings, weighted by their households;
- **hotspots** (40 %): markets and night markets strung along minor town streets, building
  sites active for part of the period, and one-week spikes at single spots
  (``synth_district_hotspots.csv``), their numbers scaled to the county's buildings and
  their intensities drawn from a log-normal, so a few hotspots draw most incidents.

Categories come from each source's weights (``synth_incident_categories.csv``) and follow
the seasons of ``synth_seasons.csv``; hours follow the source's profile; weekends are
slower. Daily totals are Poisson round ``per_day``. Each chunk has its own random generator
spawned from the seed, so a chunk can be generated again on its own and gives the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import ParameterError
from gridkit.synth.cases import END, INCIDENT_COLUMNS, incident_table, seasonal
from gridkit.synth.constants import HALF_WIDTH
from gridkit.synth.geometry import interpolate, rotate
from gridkit.synth.tables import (
    category_weights,
    district_hotspots,
    district_sources,
    hour_profiles,
    street_weights,
)

__all__ = ["CHUNK_DAYS", "MAX_DAYS", "MAX_PER_DAY", "DistrictIncidents", "district_incidents"]

CHUNK_DAYS = 30
"""Days generated (and held in memory) at a time."""
MAX_PER_DAY = 100_000
MAX_DAYS = 3660
_HOME_SPREAD_M = 12.0  # incidents round a home: standard deviation of the offset, metres
_MARKET_STREETS = ("tertiary", "residential")  # where markets and night markets are strung
_STREETS, _HOMES, _HOTSPOTS = range(3)


@dataclass(frozen=True)
class _Places:
    """Where incidents happen, in the metric CRS: streets, homes and hotspots with their weights."""

    lines: np.ndarray
    line_p: np.ndarray
    line_spread: np.ndarray
    homes: np.ndarray  # (n, 2)
    home_p: np.ndarray
    hot_xy: np.ndarray  # (k, 2)
    hot_angle: np.ndarray
    hot_kind: np.ndarray  # index into district_hotspots()
    hot_weight: np.ndarray
    hot_days: np.ndarray  # (k, 2) first and last + 1 active day


@dataclass(frozen=True, repr=False)
class DistrictIncidents:
    """A district's incidents over ``days`` days ending 2024-06-30, generated chunk by chunk.

    ``len()`` is the number of rows; :meth:`chunks` yields frames of :data:`CHUNK_DAYS`
    days in time order (the same rows on every call); :meth:`to_frame` is all of them in
    one frame. :func:`gridkit.synth.write_county` writes them to CSV chunk by chunk.
    """

    per_day: float
    days: int
    daily: np.ndarray  # incidents on each day of the period
    start: np.datetime64
    places: _Places
    seeds: tuple[np.random.SeedSequence, ...]  # one per chunk
    serial_digits: int

    columns = INCIDENT_COLUMNS

    def __len__(self) -> int:
        return int(self.daily.sum())

    def __repr__(self) -> str:
        first = str(self.start.astype("datetime64[D]"))
        return (f"DistrictIncidents({len(self):,} incidents, {self.days} days from {first}, "
                f"{len(self.places.hot_weight)} hotspots, {len(self.seeds)} chunks)")

    def chunks(self) -> Iterator[pd.DataFrame]:
        """The incidents, :data:`CHUNK_DAYS` days at a time, in time order."""
        for k in range(len(self.seeds)):
            yield self.chunk(k)

    def chunk(self, k: int) -> pd.DataFrame:
        """The incidents of days ``30 k`` to ``30 k + 29`` of the period (from its own generator)."""
        rng = np.random.default_rng(self.seeds[k])
        d0, d1 = k * CHUNK_DAYS, min((k + 1) * CHUNK_DAYS, self.days)
        day = np.repeat(np.arange(d0, d1), self.daily[d0:d1])
        if len(day) == 0:
            return pd.DataFrame({col: pd.Series(dtype=float if col in ("lon", "lat") else object)
                                 for col in INCIDENT_COLUMNS})
        shares = district_sources()
        source = rng.choice(3, size=len(day), p=np.array(list(shares.values())) / sum(shares.values()))
        hotspot = self._pick_hotspots(day, source, rng)
        kinds = district_hotspots()
        group = np.where(source == _HOTSPOTS, self.places.hot_kind[np.maximum(hotspot, 0)] + 2, source)
        # group 0 streets, 1 homes, 2 + k hotspots of kind k
        names = ["streets", "homes", *(kind.kind for kind in kinds)]
        day_hours = hour_profiles()["day"]
        hours = [day_hours, day_hours, *(kind.hours for kind in kinds)]
        xy = self._places_of(source, hotspot, rng)
        category = self._categories(day, group, names, rng)
        hour = np.zeros(len(day), dtype=np.int64)
        for g in np.unique(group):
            mine = group == g
            hour[mine] = rng.choice(24, size=int(mine.sum()), p=hours[g] / hours[g].sum())
        seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, len(day))
        frame = pd.DataFrame({"category": category, "x": xy[:, 0], "y": xy[:, 1],
                              "reported": self.start + seconds.astype("timedelta64[s]")})
        return incident_table(frame, rng, serial_digits=self.serial_digits)

    def to_frame(self) -> pd.DataFrame:
        """Every incident in one frame (about 1 GB for a million rows: prefer :meth:`chunks`)."""
        chunks = list(self.chunks())
        filled = [chunk for chunk in chunks if len(chunk)]
        return pd.concat(filled or chunks[:1], ignore_index=True)

    def _pick_hotspots(self, day: np.ndarray, source: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The hotspot of each hotspot incident (-1 for others), among those active that day.

        A hotspot incident on a day when no hotspot is active becomes a homes incident.
        """
        p = self.places
        hotspot = np.full(len(day), -1, dtype=np.int64)
        for d in np.unique(day[source == _HOTSPOTS]):
            mine = np.flatnonzero((day == d) & (source == _HOTSPOTS))
            weight = p.hot_weight * ((p.hot_days[:, 0] <= d) & (d < p.hot_days[:, 1]))
            if weight.sum() <= 0:
                source[mine] = _HOMES
                continue
            cum = np.cumsum(weight)
            hotspot[mine] = np.searchsorted(cum, rng.random(len(mine)) * cum[-1], side="right")
        return np.minimum(hotspot, len(p.hot_weight) - 1)

    def _places_of(self, source: np.ndarray, hotspot: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self.places
        xy = np.empty((len(source), 2))
        on_street = np.flatnonzero(source == _STREETS)
        pick = rng.choice(len(p.lines), size=len(on_street), p=p.line_p)
        at, _ = interpolate(p.lines, pick, rng.random(len(on_street)) * shapely.length(p.lines)[pick])
        xy[on_street] = at + rng.normal(0, 1, (len(on_street), 2)) * p.line_spread[pick][:, None]
        at_home = np.flatnonzero(source == _HOMES)
        pick = rng.choice(len(p.homes), size=len(at_home), p=p.home_p)
        xy[at_home] = p.homes[pick] + rng.normal(0, _HOME_SPREAD_M, (len(at_home), 2))
        hot = np.flatnonzero(source == _HOTSPOTS)
        which = hotspot[hot]
        kinds = district_hotspots()
        spread = np.array([[kind.along_m, kind.across_m] for kind in kinds])[p.hot_kind[which]]
        offset = rotate(rng.normal(0, 1, (len(hot), 2)) * spread, p.hot_angle[which])
        xy[hot] = p.hot_xy[which] + offset
        return xy

    def _categories(self, day: np.ndarray, group: np.ndarray, names: list[str],
                    rng: np.random.Generator) -> np.ndarray:
        """A category per incident from its group's weights and the season of its month."""
        months = (self.start.astype("datetime64[D]") + day).astype("datetime64[M]").astype(int) % 12 + 1
        category = np.empty(len(day), dtype=object)
        weights = category_weights()
        for g in np.unique(group):
            codes = list(weights[names[g]])
            base = np.array(list(weights[names[g]].values()))
            for month in np.unique(months[group == g]):
                mine = np.flatnonzero((group == g) & (months == month))
                w = base * np.array([seasonal(code, np.array([month]))[0] for code in codes])
                category[mine] = np.asarray(codes)[rng.choice(len(codes), size=len(mine), p=w / w.sum())]
        return category


def district_incidents(
    streets: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    per_day: float,
    days: int = 365,
    rng: np.random.Generator,
) -> DistrictIncidents:
    """A district's incidents over ``days`` days ending 2024-06-30, about ``per_day`` a day.

    Parameters
    ----------
    streets
        Street lines in a metric CRS with ``highway`` (and ``town``: False for village roads).
    buildings
        Footprints in the same CRS with ``households`` (and ``town``: False for village
        houses; building sites and spikes are in the town).
    per_day
        Mean incidents a day (0 < per_day <= 100,000).
    days
        Length of the period in days (1-3,660), ending with 2024-06-30.
    rng
        Generator the hotspots, daily totals and the chunks' own seeds are drawn from.

    Returns
    -------
    DistrictIncidents
        The incidents, generated when iterated (:meth:`DistrictIncidents.chunks`).
    """
    if not 0 < per_day <= MAX_PER_DAY:
        raise ParameterError(f"incidents per day must be above 0 and at most {MAX_PER_DAY:,}, got {per_day}",
                             field="incidents_per_day")
    if not 1 <= days <= MAX_DAYS:
        raise ParameterError(f"days must be 1-{MAX_DAYS:,}, got {days}", field="days")
    start = END - np.timedelta64(int(days), "D").astype("timedelta64[s]")
    places = _places(streets, buildings, days, rng)
    dates = start.astype("datetime64[D]") + np.arange(days)
    weekly = np.where((dates.astype(int) + 3) % 7 >= 5, 0.85, 1.0)  # 0 Monday: a slower weekend
    daily = rng.poisson(per_day * weekly / weekly.mean()).astype(np.int64)
    root = np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    seeds = tuple(root.spawn(-(-days // CHUNK_DAYS)))
    digits = max(4, len(str(int(daily.max()))))
    return DistrictIncidents(float(per_day), int(days), daily, start, places, seeds, digits)


def _places(streets: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, days: int,
            rng: np.random.Generator) -> _Places:
    """Streets, homes and hotspots of the county, with their weights."""
    lines = streets.geometry.to_numpy()
    town = streets["town"].to_numpy(dtype=bool) if "town" in streets else np.ones(len(lines), dtype=bool)
    per_metre = streets["highway"].map(street_weights()).fillna(1.0).to_numpy(dtype=float)
    weight = shapely.length(lines) * per_metre * np.where(town, 1.0, 0.3)
    half = streets["highway"].map(HALF_WIDTH).fillna(HALF_WIDTH["residential"]).to_numpy(dtype=float)
    households = buildings["households"].to_numpy(dtype=float)
    homes = buildings[households > 0]
    if homes.empty or weight.sum() <= 0:
        raise ParameterError("a district's incidents need streets and buildings with households")
    home_xy = shapely.get_coordinates(shapely.centroid(homes.geometry.to_numpy()))
    home_p = households[households > 0] / households[households > 0].sum()
    in_town = homes["town"].to_numpy(dtype=bool) if "town" in homes else np.ones(len(homes), dtype=bool)
    town_home_p = home_p * in_town if in_town.any() else home_p
    town_home_p = town_home_p / town_home_p.sum()
    kinds = district_hotspots()
    counts = [max(1, round(len(buildings) / 1000 * kind.per_1000_buildings)) for kind in kinds]
    market_lines = np.flatnonzero(town & streets["highway"].isin(_MARKET_STREETS).to_numpy())
    if len(market_lines) == 0:
        market_lines = np.arange(len(lines))
    xy, angle, kind_of, active = [], [], [], []
    for k, (kind, n) in enumerate(zip(kinds, counts)):
        if kind.kind in ("market", "night"):
            pick = rng.choice(market_lines, size=n, p=weight[market_lines] / weight[market_lines].sum())
            at, direction = interpolate(lines, pick, rng.random(n) * shapely.length(lines)[pick])
            xy.append(at)
            angle.append(np.arctan2(direction[:, 1], direction[:, 0]))
        else:
            xy.append(home_xy[rng.choice(len(home_xy), size=n, p=town_home_p)])
            angle.append(rng.uniform(0, np.pi, n))
        kind_of.append(np.full(n, k))
        active.append(_active_days(kind.active_days, n, days, rng))
    kind_index = np.concatenate(kind_of)
    intensity = np.array([kind.intensity for kind in kinds])[kind_index]
    return _Places(
        lines=lines, line_p=weight / weight.sum(), line_spread=half / 2 + 2, homes=home_xy, home_p=home_p,
        hot_xy=np.concatenate(xy), hot_angle=np.concatenate(angle), hot_kind=kind_index,
        hot_weight=intensity * rng.lognormal(0.0, 0.8, len(kind_index)), hot_days=np.concatenate(active),
    )


def _active_days(span: tuple[int, int] | None, n: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) first and last + 1 day each hotspot is active: the whole period, or a run of ``span`` days."""
    if span is None:
        return np.tile([0, days], (n, 1))
    length = np.minimum(rng.integers(span[0], span[1] + 1, n), days)
    first = np.floor(rng.random(n) * (days - length + 1)).astype(np.int64)
    return np.stack([first, first + length], axis=1)
