"""Which incidents a heat layer uses: reporting times, category codes, date ranges.

Times are read by :func:`gridkit.times.local_times` (columns) and
:func:`gridkit.times.local_time` (the ``start``/``end`` options), the one parser of every
verb. A column that already holds datetimes is not parsed again, so a job parses its
incidents' ``reported_at`` once (:func:`with_reported_times`) and every later step reuses it.

Examples
--------
>>> df = gpd.GeoDataFrame({"category": ["0101", "0505"], "reported_at": ["2024-02-01T23:30:00Z", "2024-02-02"]})
>>> filter_incidents(with_reported_times(df), end="2024-02-01").index.tolist()
[]
>>> filter_incidents(df, categories="05").index.tolist()
[1]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridkit.errors import InputDataError, MissingFieldError, ParameterError
from gridkit.times import local_time, local_times

__all__ = ["category_mask", "filter_incidents", "reported_times", "with_reported_times"]

log = logging.getLogger(__name__)


def reported_times(
    incidents: pd.DataFrame, *, field: str = "reported_at", required: bool = True
) -> pd.Series:
    """The reporting time of each incident as ``datetime64`` (local time, no time zone).

    Read by :func:`gridkit.times.local_times`: ISO 8601 text, times with a UTC offset converted
    to local time (China Standard Time) and the zone dropped; a column of datetimes is not
    parsed again.

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


def with_reported_times(incidents: pd.DataFrame, *, field: str = "reported_at") -> pd.DataFrame:
    """``incidents`` with ``field`` parsed to local ``datetime64`` (a shallow copy; the frame itself
    when it is parsed already), checked as :func:`reported_times` does.

    Every later call of :func:`reported_times`, :func:`filter_incidents` or
    :func:`gridkit.heat.alerts.alerts_for_grids` on the result reads the times without parsing.
    """
    if field in incidents.columns and pd.api.types.is_datetime64_any_dtype(incidents[field]):
        return incidents
    times = reported_times(incidents, field=field)
    out = incidents.copy(deep=False)
    out[field] = times
    out.attrs = dict(incidents.attrs)
    return out


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
    lo = local_time(start, name="start (--from)") if start is not None else pd.Timestamp.min
    hi = local_time(end, name="end (--to)", end_of_day=True) if end is not None else pd.Timestamp.max
    if hi < lo:
        raise ParameterError(f"the date range ends ({end}) before it starts ({start})")
    return lo, hi
