"""Incident rows and their case workflow: report times, ids, levels, due and closing times, status.

Shared by the sample-sized year of incidents (:mod:`gridkit.synth.incidents`) and the
district-sized one written in chunks (:mod:`gridkit.synth.district`), so both have the
same columns (:data:`INCIDENT_COLUMNS`) with the same meaning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gridkit.incidents.cases import deadlines_for_categories
from gridkit.synth.constants import COUNTY_CODE, NOW, YEAR_START
from gridkit.synth.layers import lonlat
from gridkit.synth.tables import case_rules, season_rules

__all__ = [
    "END",
    "INCIDENT_COLUMNS",
    "START",
    "incident_rows",
    "incident_table",
    "iso_times",
    "seasonal",
    "weighted_choice",
    "year_days",
]

START = np.datetime64(YEAR_START, "s")
"""The first instant of the sample's year of incidents (local time, no offset)."""
END = np.datetime64(NOW, "s")
"""The end of every synthetic period of incidents: workflow status is as of this instant."""
#: The columns of every synthetic incident table, in order.
INCIDENT_COLUMNS = ("incident_id", "category", "lon", "lat", "reported_at", "registered_at", "closed_at",
                    "due_at", "status", "level")


def year_days() -> int:
    """Days in the sample's year of incidents."""
    return int((END - START) // np.timedelta64(1, "D"))


def weighted_choice(items: list[str], weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` items drawn with the given (unnormalised) weights."""
    return np.asarray(items)[rng.choice(len(items), size=n, p=weights / weights.sum())]


def seasonal(category: str, months: np.ndarray) -> np.ndarray:
    """Relative incident rate of ``category`` by month (``synth_seasons.csv``: rain, dust, festivals).

    >>> seasonal("0401", np.array([1, 6])).tolist(), seasonal("0501", np.array([2, 7])).tolist()
    ([1.0, 2.2], [1.6, 1.2])
    """
    factor = np.ones(len(months))
    for code, in_months, value in season_rules():
        if code == category:
            factor[np.isin(months, in_months)] *= value
    return factor


def incident_rows(
    category: np.ndarray, day: np.ndarray, hours: np.ndarray, xy: np.ndarray, rng: np.random.Generator,
    *, start: np.datetime64 = START,
) -> pd.DataFrame:
    """Incidents of the given categories on days counted from ``start``, at hours drawn from ``hours``."""
    n = len(category)
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    reported = start + seconds.astype("timedelta64[s]")
    return pd.DataFrame({"category": category, "x": xy[:, 0], "y": xy[:, 1], "reported": reported})


def incident_table(frame: pd.DataFrame, rng: np.random.Generator, *, serial_digits: int = 4) -> pd.DataFrame:
    """Case workflow times, status and level; ids by report time; lon/lat in EPSG:4490.

    ``frame`` holds ``category``, ``x``, ``y`` (metric CRS) and ``reported`` of whole
    days: the daily serial of the ids (``serial_digits`` wide) counts within ``frame``.
    """
    rules = case_rules()
    frame = frame.iloc[np.lexsort((frame["x"].to_numpy(), frame["reported"].to_numpy()))].reset_index(drop=True)
    frame = frame[frame["reported"] < END].reset_index(drop=True)
    n = len(frame)
    reported = frame["reported"].to_numpy().astype("datetime64[s]")
    level = rng.choice(len(rules.levels), size=n, p=rules.level_p)
    delay = np.where(level == 0, rng.integers(120, 1800, n), rng.integers(600, 7200, n))
    registered = reported + delay.astype("timedelta64[s]")
    due = deadlines_for_categories(frame["category"].to_numpy(), registered)  # the time-limit table
    limit = (due - registered).astype(np.int64).astype(float)  # seconds
    duration = np.exp(rng.normal(np.log(limit * rules.level_speed[level]), 0.7)).clip(300)
    closed = registered + duration.astype(np.int64).astype("timedelta64[s]")
    status = _status(registered, duration)
    not_registered = status == "reported"
    not_closed = status != "closed"
    day = reported.astype("datetime64[D]")
    serial = pd.Series(day).groupby(day).cumcount().to_numpy() + 1
    stamp = np.char.replace(np.datetime_as_string(day, unit="D").astype(str), "-", "")
    lon, lat = lonlat(frame[["x", "y"]].to_numpy())
    return pd.DataFrame({
        "incident_id": [f"{COUNTY_CODE}{d}{s:0{serial_digits}d}" for d, s in zip(stamp, serial)],
        "category": frame["category"].to_numpy(),
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "reported_at": iso_times(reported),
        "registered_at": iso_times(registered, blank=not_registered),
        "closed_at": iso_times(closed, blank=not_closed),
        "due_at": iso_times(due, blank=not_registered),
        "status": status,
        "level": np.asarray(rules.levels)[level],
    })


def iso_times(times: np.ndarray, blank: np.ndarray | None = None) -> np.ndarray:
    """ISO 8601 local times to the second (object array), ``""`` where ``blank``."""
    text = np.datetime_as_string(times.astype("datetime64[s]"), unit="s").astype(object)
    if blank is not None:
        text[blank] = ""
    return text


def _status(registered: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Workflow stage at the end of the period, from how far each case has got."""
    elapsed = (END - registered).astype(np.int64)
    share = elapsed / duration
    status = np.select([elapsed < 0, share < 0.1, share < 0.4, share < 0.9, share < 1.0],
                       ["reported", "registered", "dispatched", "handling", "verified"], "closed")
    return status.astype(object)
