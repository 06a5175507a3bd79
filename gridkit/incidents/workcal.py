"""Working time for case deadlines: weekdays, working periods, holidays and make-up days.

A :class:`WorkingCalendar` says when the clock of a case runs: by default Monday to Friday,
09:00-12:00 and 13:00-18:00, no holidays. :func:`calendar_from_csv` adds a city's
holidays and make-up working days (调休) from a CSV, or China's 2023-2024 public holidays
bundled with gridkit. :func:`add_working_time` adds calendar hours, working hours or
working days to many start times at once, through the cumulative working time of each day.

Examples
--------
>>> start = np.datetime64("2024-06-07T17:00")  # a Friday
>>> add_working_time([start], 2, "working_hours")[0]
np.datetime64('2024-06-10T10:00:00')
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import InputDataError, ParameterError
from gridkit.io.tables import read_table

__all__ = ["UNITS", "WorkingCalendar", "add_working_time", "calendar_from_csv"]

log = logging.getLogger(__name__)

Unit = Literal["hours", "working_hours", "working_days"]
#: Units of a time limit: calendar hours, working hours, working days (of ``day_seconds``).
UNITS: tuple[str, ...] = ("hours", "working_hours", "working_days")
_DAY = 86_400


# --------------------------------------------------------------------------- working calendar


@dataclass(frozen=True)
class WorkingCalendar:
    """Working time: weekdays, daily working periods, holidays and make-up working days.

    Parameters
    ----------
    weekdays
        Working days of the week, Monday = 0.
    periods
        Working periods of a working day as ``("HH:MM", "HH:MM")`` pairs, in order and
        not overlapping.
    holidays
        Dates off although they fall on a working weekday (法定节假日).
    workdays
        Dates worked although they fall on a weekend (调休 make-up days).

    Examples
    --------
    >>> cal = WorkingCalendar()
    >>> cal.day_seconds / 3600
    8.0
    >>> cal.is_working_day(date(2024, 6, 8)), cal.is_working_day(date(2024, 6, 10))
    (False, True)
    """

    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    periods: tuple[tuple[str, str], ...] = (("09:00", "12:00"), ("13:00", "18:00"))
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.periods:
            raise ParameterError("a working calendar needs at least one working period")
        bounds = self._bounds()
        if (np.diff(bounds.ravel()) <= 0).any() or bounds[0, 0] < 0 or bounds[-1, 1] > _DAY:
            raise ParameterError(
                f"working periods must be in order, not overlapping, within a day; got {self.periods}",
                hint='give periods such as (("09:00", "12:00"), ("13:00", "18:00"))',
            )
        if not set(self.weekdays) <= set(range(7)):
            raise ParameterError(f"weekdays are 0 (Monday) to 6 (Sunday), got {self.weekdays}")

    def _bounds(self) -> np.ndarray:
        """Periods as seconds after midnight, shape (n, 2)."""
        return np.array([[_clock_seconds(a), _clock_seconds(b)] for a, b in self.periods], dtype=np.int64)

    @property
    def day_seconds(self) -> int:
        """Working seconds in a working day."""
        bounds = self._bounds()
        return int((bounds[:, 1] - bounds[:, 0]).sum())

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        return bool(self._working(np.array([(day - date(1970, 1, 1)).days]))[0])

    def _working(self, days: np.ndarray) -> np.ndarray:
        """Working-day flags for days counted from 1970-01-01 (a Thursday)."""
        weekday = (days + 3) % 7
        flags = np.isin(weekday, list(self.weekdays))
        if self.holidays:
            flags &= ~np.isin(days, _day_numbers(self.holidays))
        if self.workdays:
            flags |= np.isin(days, _day_numbers(self.workdays))
        return flags


def _clock_seconds(text: str) -> int:
    try:
        hours, minutes = (int(part) for part in str(text).split(":"))
    except ValueError:
        raise ParameterError(f"a clock time is HH:MM, got {text!r}") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 24 * 60:
        raise ParameterError(f"a clock time is 00:00-24:00, got {text!r}")
    return hours * 3600 + minutes * 60


def _day_numbers(days: Iterable[date]) -> list[int]:
    return [(d - date(1970, 1, 1)).days for d in days]


def calendar_from_csv(
    path: PathLike | Literal["cn"], *, base: WorkingCalendar | None = None
) -> WorkingCalendar:
    """A working calendar with the holidays (and make-up working days) of a CSV.

    Parameters
    ----------
    path
        A CSV with a ``date`` column (YYYY-MM-DD) and an optional ``kind`` column:
        ``holiday`` (the default) or ``workday`` (a weekend day worked, 调休). ``"cn"``
        reads the bundled table of China's public holidays 2023-2024 (State Council
        notices; check it against your city's).
    base
        The calendar whose weekdays and periods to keep (default :class:`WorkingCalendar`).

    Examples
    --------
    >>> cal = calendar_from_csv("cn")
    >>> cal.is_working_day(date(2024, 10, 1)), cal.is_working_day(date(2024, 10, 12))  # 国庆, 调休
    (False, True)
    """
    base = base or WorkingCalendar()
    bundled = str(path) == "cn"
    table = read_table(None if bundled else path, bundled="holidays_cn_2023_2024", columns=("date",),
                       what="holiday table")
    where = "holidays_cn_2023_2024.csv (bundled with gridkit)" if bundled else path
    parsed = pd.to_datetime(table["date"], format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna()
    if bad.any():
        raise InputDataError(
            "dates must be written YYYY-MM-DD", path=where, feature_ids=list(table.index[bad]), field="date",
            hint="rows count from 0 after the header",
        )
    kind = table["kind"].str.lower() if "kind" in table.columns else pd.Series("holiday", index=table.index)
    kind = kind.replace("", "holiday")
    wrong = ~kind.isin(["holiday", "workday"])
    if wrong.any():
        raise InputDataError(
            "kind must be holiday or workday", path=where, feature_ids=list(table.index[wrong]), field="kind",
            hint="holiday: a day off; workday: a weekend day worked (调休)",
        )
    days = parsed.dt.date
    return WorkingCalendar(
        weekdays=base.weekdays, periods=base.periods,
        holidays=frozenset(days[kind == "holiday"]) | base.holidays,
        workdays=frozenset(days[kind == "workday"]) | base.workdays,
    )


def add_working_time(
    start: Any,
    amount: Any,
    unit: Unit | Sequence[str] | np.ndarray,
    *,
    calendar: WorkingCalendar | None = None,
) -> np.ndarray:
    """Deadlines: ``start`` plus ``amount`` of ``unit``, vectorised.

    Parameters
    ----------
    start
        Start times (anything :func:`numpy.asarray` turns into ``datetime64``), local time.
    amount
        Positive amounts, one per start or one for all.
    unit
        ``"hours"`` (calendar hours), ``"working_hours"`` or ``"working_days"`` (of
        ``calendar.day_seconds`` each), one per start or one for all.
    calendar
        The working calendar (default :class:`WorkingCalendar`).

    Returns
    -------
    numpy.ndarray
        ``datetime64[s]`` deadlines. A deadline that falls at the end of a working
        period is that end (18:00), not the start of the next one.

    Examples
    --------
    >>> friday_5pm = np.datetime64("2024-06-07T17:00")
    >>> add_working_time([friday_5pm] * 3, [2, 1, 2], ["working_hours", "working_days", "hours"]).tolist()
    [datetime.datetime(2024, 6, 10, 10, 0), datetime.datetime(2024, 6, 10, 17, 0), datetime.datetime(2024, 6, 7, 19, 0)]
    """
    calendar = calendar or WorkingCalendar()
    start_s = np.atleast_1d(np.asarray(start, dtype="datetime64[s]")).astype(np.int64)
    n = len(start_s)
    amounts = np.broadcast_to(np.asarray(amount, dtype=np.float64), (n,))
    units = np.broadcast_to(np.asarray(unit, dtype=object), (n,))
    unknown = ~np.isin(units, UNITS)
    if unknown.any():
        raise ParameterError(f"unknown time-limit unit {units[unknown][0]!r}", hint=f"use one of {', '.join(UNITS)}")
    if not (np.isfinite(amounts) & (amounts > 0)).all():
        raise ParameterError("time limits must be positive numbers")
    out = np.empty(n, dtype=np.int64)
    calendar_hours = units == "hours"
    out[calendar_hours] = start_s[calendar_hours] + np.round(amounts[calendar_hours] * 3600).astype(np.int64)
    working = ~calendar_hours
    if working.any():
        day = calendar.day_seconds
        seconds = np.where(units[working] == "working_days", amounts[working] * day, amounts[working] * 3600)
        out[working] = _add_working_seconds(start_s[working], np.round(seconds).astype(np.int64), calendar)
    return out.astype("datetime64[s]")


def _add_working_seconds(start: np.ndarray, seconds: np.ndarray, calendar: WorkingCalendar) -> np.ndarray:
    """``start`` (epoch seconds) plus working ``seconds``: through cumulative working time per day."""
    bounds = calendar._bounds()
    lengths = bounds[:, 1] - bounds[:, 0]
    first_day = int(start.min() // _DAY) - 1
    span = int(seconds.max() // max(calendar.day_seconds, 1)) + 1
    margin = 2 * span + 14 + len(calendar.holidays)
    while True:
        days = np.arange(first_day, int(start.max() // _DAY) + margin + 1)
        daily = np.where(calendar._working(days), calendar.day_seconds, 0).astype(np.int64)
        cum = np.concatenate([[0], np.cumsum(daily)])  # working seconds before each day
        k = start // _DAY - first_day
        clock = start % _DAY
        elapsed_today = np.clip(clock[:, None] - bounds[None, :, 0], 0, lengths[None, :]).sum(axis=1)
        target = cum[k] + np.where(daily[k] > 0, elapsed_today, 0) + seconds
        if target.max() <= cum[-1]:
            break
        if not daily.any() and margin > 3660:
            raise ParameterError("the working calendar has no working day", hint="check weekdays and holidays")
        margin *= 2
    day_of = np.searchsorted(cum, target, side="left") - 1  # last day with working time before target
    left = target - cum[day_of]  # in (0, day_seconds]
    before = np.concatenate([[0], np.cumsum(lengths)])
    period = np.clip(np.searchsorted(before, left, side="left") - 1, 0, len(lengths) - 1)
    clock_out = bounds[period, 0] + (left - before[period])
    return (days[day_of] * _DAY + clock_out).astype(np.int64)
