"""Case-workflow indicators (案件指标): each case's state at an evaluation time, added up per grid or worker.

An incident (事件) goes report (上报) → register (立案) → dispatch → handle → verify →
close (结案). From its timestamps (``reported_at``, ``registered_at``, ``closed_at``,
``due_at``), its ``status`` and its ``level`` (who resolved it: grid, community, street,
district), :func:`cases_from_incidents` decides, at an evaluation time ``as_of``, which
cases count as what, and :func:`case_indicators` adds them up per grid (or any key):

===================  ====================================================================
``reported``         cases reported by ``as_of`` (受理数)
``registered``       of these, registered by ``as_of`` (立案数)
``due``              registered cases whose deadline has passed: ``due_at <= as_of`` (应结案数)
``closed``           due cases closed by ``as_of`` (结案数)
``closed_on_time``   closed cases with ``closed_at <= due_at`` (按期结案数)
``closure_rate``     closed / due (结案率); NaN without due cases
``on_time_rate``     closed_on_time / due (按期结案率); NaN without due cases
``closed_total``     every case closed by ``as_of``, due or not yet due
``median_hours``     median of ``closed_at - reported_at`` over ``closed_total``, in hours
``backlog``          reported cases not closed by ``as_of`` (积压)
``overdue``          backlog cases past their deadline
``level_*``          reported cases by level: grid, community, street, district, other
===================  ====================================================================

With ``due`` as the denominator the figures check out the way a city's monthly report
does (911 closed of 972 due = 93.72 %). A case is closed when its ``closed_at`` is at
or before ``as_of`` and, when there is a ``status`` field, its status is ``closed``
(a reopened case keeps its old ``closed_at`` but is open). A case without ``due_at``
gets its deadline from the time-limit table (:func:`time_limits`): ``registered_at``
(else ``reported_at``) plus the limit of its category, looked up as the 4-digit
category, else its 2-digit major, else the ``*`` row. Units:

- ``hours``: calendar hours, around the clock (emergencies);
- ``working_hours``: hours of working time in a :class:`WorkingCalendar` (default
  Monday-Friday, 09:00-12:00 and 13:00-18:00, no holidays unless given); the clock
  stops outside working time and a case registered at night starts at 09:00;
- ``working_days``: that many working days of 8 working hours each (a case registered
  at 10:00 with 1 working day is due at 10:00 the next working day).

The working calendar lives in :mod:`gridkit.incidents.workcal` (re-exported here), the
ranking and the evaluation (考核) tables in :mod:`gridkit.incidents.evaluation`. Times are
read by :mod:`gridkit.times`: local wall-clock times (China Standard Time, no offset);
ISO 8601 text with an offset is converted to UTC+8 and its offset dropped.

Examples
--------
>>> incidents = pd.DataFrame({
...     "grid_code": ["G1", "G1", "G2"], "category": ["0102", "0505", "0102"],
...     "reported_at": ["2024-06-03T09:00", "2024-06-03T10:00", "2024-06-04T08:00"],
...     "closed_at": ["2024-06-03T11:00", "", "2024-06-04T16:00"]})
>>> cases = cases_from_incidents(incidents, as_of="2024-06-05T00:00")
>>> cases["due_at"].dt.strftime("%a %H:%M").tolist()  # 4 and 2 working hours; lunch 12-13; days from 09:00
['Mon 14:00', 'Mon 12:00', 'Tue 14:00']
>>> case_indicators(cases)[["due", "closed", "closed_on_time", "on_time_rate", "backlog"]].reset_index()
  grid_code  due  closed  closed_on_time  on_time_rate  backlog
0        G1    2       1               1           0.5        1
1        G2    1       1               0           0.0        0
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import InputDataError, MissingFieldError, ParameterError, format_ids
from gridkit.incidents.workcal import UNITS, WorkingCalendar, add_working_time, calendar_from_csv
from gridkit.io.tables import read_table
from gridkit.times import TIMES_HINT, local_now, local_time, local_times, month_bounds

__all__ = [
    "KPI_COLUMNS",
    "LEVELS",
    "WorkingCalendar",
    "add_working_time",
    "calendar_from_csv",
    "case_indicators",
    "cases_from_incidents",
    "deadlines_for_categories",
    "due_times",
    "future_cases",
    "latest_time",
    "month_bounds",
    "time_limits",
]

log = logging.getLogger(__name__)

#: Escalation levels (who resolved the case), in order.
LEVELS: tuple[str, ...] = ("grid", "community", "street", "district")
#: The indicator columns of :func:`case_indicators`, in order.
KPI_COLUMNS: tuple[str, ...] = (
    "reported", "registered", "due", "closed", "closed_on_time", "closure_rate", "on_time_rate",
    "closed_total", "median_hours", "backlog", "overdue",
    *(f"level_{lv}" for lv in LEVELS), "level_other",
)
#: The time fields of an incident, in workflow order.
TIME_FIELDS: tuple[str, ...] = ("reported_at", "registered_at", "closed_at", "due_at")


# --------------------------------------------------------------------------- time limits


def time_limits(path: PathLike | None = None) -> pd.DataFrame:
    """The case time-limit table: ``category``, ``limit`` (float), ``unit``.

    ``category`` is a 4-digit category (``0102``), a 2-digit major (``01``: its other
    minors) or ``*`` (anything else); ``unit`` is ``hours``, ``working_hours`` or
    ``working_days``. Extra columns (``name_zh``, ``note``) are kept.

    Parameters
    ----------
    path
        A city's own CSV (UTF-8) with these columns; default the bundled
        ``gridkit/tables/case_time_limits.csv`` (illustrative limits: cities set their own).

    Examples
    --------
    >>> limits = time_limits().set_index("category")
    >>> float(limits.loc["0102", "limit"]), limits.loc["0102", "unit"]
    (4.0, 'working_hours')
    """
    table = read_table(path, bundled="case_time_limits", columns=("category", "limit", "unit"),
                       what="time-limit table").copy()
    where = path if path is not None else "case_time_limits.csv (bundled with gridkit)"
    table["unit"] = table["unit"].str.lower()
    limit = pd.to_numeric(table["limit"], errors="coerce")
    bad_limit = ~(limit > 0)
    if bad_limit.any():
        raise InputDataError("time limits must be positive numbers", path=where,
                             feature_ids=list(table.index[bad_limit]), field="limit",
                             hint="rows count from 0 after the header")
    table["limit"] = limit.astype(float)
    bad_unit = ~table["unit"].isin(UNITS)
    if bad_unit.any():
        raise InputDataError(f"the unit must be one of {', '.join(UNITS)}", path=where,
                             feature_ids=list(table.index[bad_unit]), field="unit",
                             hint="hours: calendar hours; working_hours / working_days: in the working calendar")
    bad_code = ~table["category"].str.fullmatch(r"\d{2}|\d{4,5}|\*")
    if bad_code.any():
        raise InputDataError("category must be 4 digits (0102), a 2-digit major (01) or *", path=where,
                             feature_ids=list(table.index[bad_code]), field="category",
                             hint="keep leading zeros: save the column as text")
    dup = table["category"].duplicated(keep=False)
    if dup.any():
        raise InputDataError("a category is listed more than once", path=where,
                             feature_ids=list(table.index[dup]), field="category", hint="keep one row per category")
    return table


def _limit_rows(categories: pd.Series, limits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Limit and unit per case: its category, else its major, else ``*``; NaN/None when none applies."""
    table = limits.set_index("category")
    # per distinct category (a few hundred among millions of cases), then back to the cases
    codes, distinct = pd.factorize(categories.fillna("").astype(str))
    cats = pd.Series(np.asarray(distinct, dtype=object), dtype="str")
    key = cats.where(cats.isin(table.index), cats.str[:2])
    key = key.where(key.isin(table.index), "*")
    found = key.isin(table.index)
    limit = key.map(table["limit"]).where(found).to_numpy(dtype=float)
    unit = key.map(table["unit"]).where(found).to_numpy(dtype=object)
    return limit[codes], unit[codes]


# --------------------------------------------------------------------------- cases


def latest_time(incidents: pd.DataFrame) -> pd.Timestamp:
    """The latest timestamp in the data: the default evaluation time ``as_of``.

    The maximum of ``reported_at``, ``registered_at`` and ``closed_at`` (not ``due_at``,
    a deadline in the future).
    """
    path = incidents.attrs.get("source")
    latest = [local_times(incidents[c], field=c, path=path).max() for c in TIME_FIELDS[:3] if c in incidents.columns]
    latest = [t for t in latest if pd.notna(t)]
    if not latest:
        raise MissingFieldError("the incidents carry no times", path=path, field="reported_at",
                                hint="give reported_at (ISO 8601) for every incident")
    return pd.Timestamp(max(latest))


def deadlines_for_categories(
    categories: pd.Series | np.ndarray,
    start: Any,
    *,
    limits: pd.DataFrame | None = None,
    calendar: WorkingCalendar | None = None,
) -> np.ndarray:
    """Deadlines from the time-limit table: each start plus the limit of its category.

    The one place a deadline is computed from :func:`time_limits` (the case indicators
    and the synthetic county both use it).

    Parameters
    ----------
    categories
        Category codes as text (``"0102"``), one per start.
    start
        Start times (``registered_at``), local time; NaT gives NaT.
    limits
        The time-limit table (default the bundled one).
    calendar
        The working calendar for working-hour and working-day limits.

    Returns
    -------
    numpy.ndarray
        ``datetime64[s]``; NaT where the start is missing or no row of the table applies.

    Examples
    --------
    >>> friday = np.datetime64("2024-06-07T17:00")
    >>> deadlines_for_categories(["0102", "0401"], [friday, friday]).tolist()  # 4 working hours; 24 hours
    [datetime.datetime(2024, 6, 10, 12, 0), datetime.datetime(2024, 6, 8, 17, 0)]
    """
    limits = time_limits() if limits is None else limits
    starts = np.atleast_1d(np.asarray(start, dtype="datetime64[s]"))
    cats = pd.Series(np.asarray(categories, dtype=object)).astype("string").fillna("")
    if len(cats) != len(starts):
        raise ParameterError(f"{len(cats)} categories but {len(starts)} start times")
    out = np.full(len(starts), np.datetime64("NaT"), dtype="datetime64[s]")
    limit, unit = _limit_rows(cats, limits)
    has = ~np.isnan(limit) & ~np.isnat(starts)
    if has.any():
        out[has] = add_working_time(starts[has], limit[has], unit[has], calendar=calendar)
    return out


def due_times(
    incidents: pd.DataFrame,
    *,
    limits: pd.DataFrame | None = None,
    calendar: WorkingCalendar | None = None,
) -> pd.Series:
    """Each case's deadline: its ``due_at`` when given, else start + the limit of its category.

    The start is ``registered_at`` (else ``reported_at``); a case not yet registered
    (status ``reported``, or an empty ``registered_at`` beside a filled one elsewhere) has
    no deadline (NaT). ``attrs["without_limit"]`` lists the rows no limit applies to (a
    table without a ``*`` row), also NaT.

    Returns
    -------
    pandas.Series
        ``datetime64[s]``, indexed like ``incidents``.
    """
    path = incidents.attrs.get("source")
    limits = time_limits() if limits is None else limits
    due = (local_times(incidents["due_at"], field="due_at", path=path) if "due_at" in incidents.columns
           else pd.Series(pd.NaT, index=incidents.index, dtype="datetime64[s]"))
    start = _start_times(incidents, path)
    need = (due.isna() & start.notna()).to_numpy(dtype=bool)
    without: list[Any] = []
    if need.any():
        cats = incidents["category"] if "category" in incidents.columns else pd.Series("", index=incidents.index)
        computed = deadlines_for_categories(cats[need].to_numpy(), start[need].to_numpy(), limits=limits,
                                            calendar=calendar)
        without = list(incidents.index[need][np.isnat(computed)])
        values = due.to_numpy(dtype="datetime64[s]").copy()
        values[need] = computed
        due = pd.Series(values, index=incidents.index)
    due = due.astype("datetime64[s]")
    due.attrs["without_limit"] = without
    return due


def _start_times(incidents: pd.DataFrame, path: Any) -> pd.Series:
    """When each case's clock starts: registration, or the report where there is no registration field."""
    if "registered_at" in incidents.columns:
        start = local_times(incidents["registered_at"], field="registered_at", path=path)
    else:
        start = local_times(incidents["reported_at"], field="reported_at", path=path)
    if "status" in incidents.columns:
        status = incidents["status"].astype("string").str.strip().str.lower()
        start = start.where(status != "reported")
    return start


def cases_from_incidents(
    incidents: pd.DataFrame,
    *,
    as_of: Any = None,
    month: str | None = None,
    limits: pd.DataFrame | None = None,
    calendar: WorkingCalendar | None = None,
) -> pd.DataFrame:
    """The workflow state of every case at the evaluation time ``as_of``.

    Parameters
    ----------
    incidents
        Rows with ``reported_at`` (required) and any of ``registered_at``, ``closed_at``,
        ``due_at``, ``status``, ``level``, ``category``, ``grid_code``; times as ISO 8601
        text or datetimes.
    as_of
        The evaluation time, read by :func:`gridkit.times.local_time` (ISO 8601 text, an
        offset converted to local time, or a timestamp); default the latest timestamp in
        the data, or with ``month`` the end of that month when the data goes beyond it.
    month
        ``YYYY-MM``: only cases reported in that month are in scope.
    limits
        Time-limit table (:func:`time_limits`), for cases without ``due_at``.
    calendar
        Working calendar for working-hour limits.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``incidents``: ``grid_code`` (when given), ``level``, ``reported_at``,
        ``registered_at``, ``closed_at``, ``due_at`` and the flags ``in_scope``,
        ``registered``, ``closed`` (by ``as_of``), ``due``, ``closed_on_time``, ``open``,
        ``overdue`` and ``hours_to_close``. ``attrs``: ``as_of``, ``month``,
        ``without_limit`` (row ids without a deadline).

    Raises
    ------
    InputDataError
        Unreadable times (naming the rows), a closed status without ``closed_at``, a
        case closed before it was reported.
    """
    path = incidents.attrs.get("source")
    if "reported_at" not in incidents.columns:
        raise MissingFieldError(
            "the incidents have no reported_at field", path=path, field="reported_at",
            hint="give the report time of every case (ISO 8601), e.g. 2024-06-03T09:30:00",
        )
    reported = local_times(incidents["reported_at"], field="reported_at", path=path)
    if reported.isna().any():
        raise InputDataError("cases without a report time", path=path,
                             feature_ids=list(incidents.index[reported.isna()]), field="reported_at",
                             hint=TIMES_HINT)
    missing = pd.Series(pd.NaT, index=incidents.index, dtype="datetime64[s]")
    registered_at = (local_times(incidents["registered_at"], field="registered_at", path=path)
                     if "registered_at" in incidents.columns else missing)
    closed_at = (local_times(incidents["closed_at"], field="closed_at", path=path)
                 if "closed_at" in incidents.columns else missing)
    status = (incidents["status"].astype("string").str.strip().str.lower().fillna("")
              if "status" in incidents.columns else None)
    _check_consistent(incidents, reported, closed_at, status, path)
    due_at = due_times(incidents, limits=limits, calendar=calendar)

    if as_of is None:
        as_of_t = latest_time(incidents)
        if month is not None:
            as_of_t = min(as_of_t, month_bounds(month)[1])
    else:
        as_of_t = local_time(as_of, name="the evaluation time as_of (--as-of)")

    scope = reported <= as_of_t
    if month is not None:
        start, end = month_bounds(month)
        scope &= (reported >= start) & (reported < end)
    if "registered_at" in incidents.columns:
        is_registered = registered_at.notna() & (registered_at <= as_of_t)
    elif status is not None:
        is_registered = status != "reported"
    else:
        is_registered = pd.Series(True, index=incidents.index)
    is_closed = closed_at.notna() & (closed_at <= as_of_t)
    if status is not None:
        is_closed &= status == "closed"
    is_registered = (is_registered | is_closed) & scope
    is_closed &= scope
    is_due = is_registered & due_at.notna() & (due_at <= as_of_t)
    on_time = is_due & is_closed & (closed_at <= due_at)
    hours = (closed_at - reported).dt.total_seconds() / 3600

    out = pd.DataFrame(index=incidents.index)
    if "grid_code" in incidents.columns:
        out["grid_code"] = incidents["grid_code"].astype("string").fillna("").astype("str")
    if "level" in incidents.columns:
        out["level"] = incidents["level"].astype("string").str.strip().str.lower().fillna("").astype("str")
    else:
        out["level"] = pd.Series("", index=incidents.index, dtype="str")
    out["reported_at"] = reported
    out["registered_at"] = registered_at
    out["closed_at"] = closed_at
    out["due_at"] = due_at
    out["in_scope"] = scope.to_numpy(dtype=bool)
    out["registered"] = is_registered.to_numpy(dtype=bool)
    out["closed"] = is_closed.to_numpy(dtype=bool)
    out["due"] = is_due.to_numpy(dtype=bool)
    out["closed_on_time"] = on_time.to_numpy(dtype=bool)
    out["open"] = (scope & ~is_closed).to_numpy(dtype=bool)
    out["overdue"] = (out["open"] & is_due).to_numpy(dtype=bool)
    out["hours_to_close"] = hours.where(is_closed).to_numpy(dtype=float)
    out.attrs.update({"as_of": as_of_t, "month": month, "without_limit": due_at.attrs.get("without_limit", [])})
    if out.attrs["without_limit"]:
        log.warning("%d cases have no time limit (no due_at, no matching row in the table): %s",
                    len(out.attrs["without_limit"]), format_ids(out.attrs["without_limit"]))
    log.info("%d cases in scope at %s: %d due, %d closed, %d open", int(scope.sum()), as_of_t,
             int(is_due.sum()), int(is_closed.sum()), int(out["open"].sum()))
    return out


def future_cases(cases: pd.DataFrame, *, now: Any = None) -> pd.Series:
    """Which cases carry a time after ``now``: reported, registered or closed in the future.

    Such times are mistakes in the data (a wrong year, a clock not set) or a test file;
    the case indicators still count them as given, so ``gridkit attach`` reports them.
    A deadline (``due_at``) in the future is normal and not counted.

    Parameters
    ----------
    cases
        As returned by :func:`cases_from_incidents` (or incidents with time fields as text).
    now
        The run's time, local (default: the clock of this machine in :data:`gridkit.times.LOCAL_ZONE`).

    Returns
    -------
    pandas.Series
        Booleans indexed like ``cases``, named ``future_time``.

    Examples
    --------
    >>> frame = pd.DataFrame({"reported_at": ["2024-06-03T09:00", "2031-05-01T10:00"], "closed_at": ["", ""]})
    >>> future_cases(frame, now="2025-01-01").tolist()
    [False, True]
    """
    now_t = local_now() if now is None else local_time(now, name="now")
    path = cases.attrs.get("source")
    future = pd.Series(False, index=cases.index, name="future_time")
    for field in TIME_FIELDS[:3]:
        if field in cases.columns:
            future |= (local_times(cases[field], field=field, path=path) > now_t).to_numpy(dtype=bool)
    return future


def _check_consistent(
    incidents: pd.DataFrame, reported: pd.Series, closed_at: pd.Series, status: pd.Series | None, path: Any
) -> None:
    if status is not None:
        no_time = (status == "closed") & closed_at.isna()
        if no_time.any():
            raise InputDataError(
                "cases are closed but have no closed_at", path=path, feature_ids=list(incidents.index[no_time]),
                field="closed_at", hint="fill in when each case was closed (ISO 8601)",
            )
    backwards = closed_at.notna() & (closed_at < reported)
    if backwards.any():
        raise InputDataError(
            "cases closed before they were reported", path=path, feature_ids=list(incidents.index[backwards]),
            field="closed_at", hint="check closed_at and reported_at of these rows",
        )


# --------------------------------------------------------------------------- indicators


def case_indicators(
    cases: pd.DataFrame,
    *,
    by: str | pd.Series = "grid_code",
    index: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """Add up case flags into the indicators of :data:`KPI_COLUMNS` per key.

    Parameters
    ----------
    cases
        As returned by :func:`cases_from_incidents`.
    by
        A column of ``cases`` or a Series aligned with it (e.g. each case's worker).
    index
        Every key to report, in order (zero rows included); default the keys present.

    Returns
    -------
    pandas.DataFrame
        Indexed by key: counts (int), rates and median hours (float, NaN when undefined).
    """
    keys = cases[by] if isinstance(by, str) else by.reindex(cases.index)
    name = by if isinstance(by, str) else (by.name or "key")
    scope = cases["in_scope"].to_numpy(dtype=bool)
    frame = pd.DataFrame({
        "key": keys.to_numpy(),
        "reported": scope,
        "registered": cases["registered"].to_numpy(dtype=bool),
        "due": cases["due"].to_numpy(dtype=bool),
        "closed": cases["due"].to_numpy(dtype=bool) & cases["closed"].to_numpy(dtype=bool),
        "closed_on_time": cases["closed_on_time"].to_numpy(dtype=bool),
        "closed_total": cases["closed"].to_numpy(dtype=bool),
        "backlog": cases["open"].to_numpy(dtype=bool),
        "overdue": cases["overdue"].to_numpy(dtype=bool),
    })
    level = cases["level"].astype(str).to_numpy() if "level" in cases.columns else np.full(len(cases), "")
    for lv in LEVELS:
        frame[f"level_{lv}"] = scope & (level == lv)
    frame["level_other"] = scope & ~np.isin(level, LEVELS)
    frame["hours"] = cases["hours_to_close"].to_numpy(dtype=float)
    grouped = frame.groupby("key", sort=True)
    counts = grouped[[c for c in frame.columns if c not in ("key", "hours")]].sum().astype(np.int64)
    median = grouped["hours"].median()
    keys_index = pd.Index(list(index) if index is not None else counts.index, name=name)
    out = counts.reindex(keys_index, fill_value=0)
    out["median_hours"] = median.reindex(keys_index)
    due = out["due"].where(out["due"] > 0)
    out["closure_rate"] = out["closed"] / due
    out["on_time_rate"] = out["closed_on_time"] / due
    return out[list(KPI_COLUMNS)]
