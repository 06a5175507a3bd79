"""The one time parser: ISO 8601 text in a file or an option to naive local timestamps.

Every verb reads times through here (incident ``reported_at`` and friends, GPS fixes,
``--as-of``, ``--from``/``--to``, ``--month`` through :func:`month_bounds`), so a file with mixed UTC offsets means the
same thing on the map, in the heatmap, in the case indicators and in the track check.

Rules: a time with an offset (``Z``, ``+08:00``, ``+0800``) is converted to the local zone
(default Asia/Shanghai, China Standard Time) and the zone dropped; a time without one is
local already; ``/`` is accepted as a date separator; empty text is missing (NaT). Text
that is not a time is an :class:`~gridkit.errors.InputDataError` naming the rows and the
field, never a silent NaT.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

import pandas as pd

from gridkit.errors import InputDataError, ParameterError

__all__ = ["LOCAL_ZONE", "TIMES_HINT", "check_timezone", "local_now", "local_time", "local_times",
           "month_bounds"]

#: The zone naive times are taken in and times with an offset are converted to.
LOCAL_ZONE = "Asia/Shanghai"
TIMES_HINT = "write times as ISO 8601, e.g. 2024-06-03T09:30:00 (rows count from 0 after the header)"
_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def check_timezone(timezone: str) -> str:
    """``timezone`` if it is an IANA zone name, else a :class:`ParameterError`."""
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ParameterError(f"unknown time zone {timezone!r} ({err})",
                             hint="give an IANA zone such as Asia/Shanghai") from None
    return timezone


def local_times(values: pd.Series, *, field: str, path: Any = None, timezone: str = LOCAL_ZONE) -> pd.Series:
    """ISO 8601 text (empty = missing) as naive local times, indexed like ``values``.

    Parameters
    ----------
    values
        Text, or datetimes (aware ones are converted, naive ones kept).
    field, path
        Named in the error when a value is not a time.
    timezone
        The local zone.

    Returns
    -------
    pd.Series
        ``datetime64[s]``, NaT where the text was empty.

    Examples
    --------
    >>> local_times(pd.Series(["2024-06-30T00:15:00Z", "", "2024/07/01"]), field="t").tolist()
    [Timestamp('2024-06-30 08:15:00'), NaT, Timestamp('2024-07-01 00:00:00')]
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype("string").str.strip()
        text = text.mask(text == "")
        text = text.str.replace("/", "-", regex=False)
        # times with an offset and local times are parsed apart: one call would read both as UTC
        zoned = text.str.contains(_OFFSET, regex=True, na=False).to_numpy(dtype=bool)
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        if (~zoned).any():
            parsed[~zoned] = pd.to_datetime(text[~zoned], format="ISO8601", errors="coerce")
        if zoned.any():
            aware = pd.to_datetime(text[zoned], format="ISO8601", errors="coerce", utc=True)
            parsed[zoned] = aware.dt.tz_convert(timezone).dt.tz_localize(None)
        bad = text.notna() & parsed.isna()
        if bad.any():
            raise InputDataError(
                f"times cannot be read, e.g. {text[bad].iloc[0]!r}", path=path,
                feature_ids=list(values.index[bad]), field=field, hint=TIMES_HINT,
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
    return parsed.astype("datetime64[s]")


def local_time(value: Any, *, name: str, end_of_day: bool = False, timezone: str = LOCAL_ZONE) -> pd.Timestamp:
    """One date or time given by the user (an option such as ``--as-of``) as a naive local time.

    ``end_of_day`` makes a bare date (``2024-06-30``) mean the last instant of that day,
    as the end of a range should.

    Examples
    --------
    >>> local_time("2024-06-30T23:30:00Z", name="--as-of")
    Timestamp('2024-07-01 07:30:00')
    >>> local_time("2024-06-30", name="--to", end_of_day=True)
    Timestamp('2024-06-30 23:59:59.999999999')
    """
    problem = ParameterError(f"{name} is not a date or time: {value!r}",
                             hint="write it as YYYY-MM-DD or ISO 8601, e.g. 2024-06-03T09:30:00")
    if isinstance(value, str):
        text = value.strip().replace("/", "-")
        if not text:
            raise problem
        try:
            stamp = pd.Timestamp(text)
        except (ValueError, TypeError):
            raise problem from None
        bare_date = len(text) <= 10
    else:
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise problem from None
        bare_date = False
    if pd.isna(stamp):
        raise problem
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(timezone).tz_localize(None)
    if end_of_day and bare_date:
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return stamp


def month_bounds(month: Any, *, name: str = "--month") -> tuple[pd.Timestamp, pd.Timestamp]:
    """First instant of the month ``YYYY-MM`` and of the month after, naive local times.

    Examples
    --------
    >>> [str(t) for t in month_bounds("2024-12")]
    ['2024-12-01 00:00:00', '2025-01-01 00:00:00']
    """
    try:
        start = pd.Timestamp(datetime.strptime(str(month).strip(), "%Y-%m"))
    except ValueError:
        raise ParameterError(f"{name} is a month written YYYY-MM, got {month!r}",
                             hint=f"e.g. {name} 2024-06" if name.startswith("-") else "e.g. 2024-06") from None
    return start, start + pd.offsets.MonthBegin(1)


def local_now(timezone: str = LOCAL_ZONE) -> pd.Timestamp:
    """This machine's clock as a naive local time, to the second: "now" for times in the future."""
    return pd.Timestamp.now(tz=timezone).tz_localize(None).floor("s")
