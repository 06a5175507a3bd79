"""The evaluation (考核): case indicators ranked per grid and per worker, as tables and Markdown.

:func:`evaluation_table` adds a ``rank`` to :func:`~gridkit.incidents.cases.case_indicators`:
on-time rate, then closure rate (both higher first), then backlog (lower first); equal
keys share a rank; rows without due cases come last. :func:`evaluation_for_grids` builds
what ``gridkit attach`` writes for incidents: the table per grid (with each grid's worker),
per worker (the cases of all their grids added up before the rates are taken), the totals
and the Markdown report.

Examples
--------
>>> from gridkit.incidents.cases import cases_from_incidents
>>> incidents = pd.DataFrame({"grid_code": ["G1", "G1", "G2"], "category": ["0102", "0505", "0102"],
...     "reported_at": ["2024-06-03T09:00", "2024-06-03T10:00", "2024-06-04T08:00"],
...     "closed_at": ["2024-06-03T11:00", "", "2024-06-04T16:00"]})
>>> cases = cases_from_incidents(incidents, as_of="2024-06-05T00:00")
>>> evaluation_table(cases)[["rank", "due", "on_time_rate"]].reset_index()
  grid_code  rank  due  on_time_rate
0        G1     1    2           0.5
1        G2     2    1           0.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gridkit.errors import MissingFieldError
from gridkit.incidents._checks import as_text
from gridkit.incidents.cases import case_indicators

__all__ = ["Evaluation", "evaluation_for_grids", "evaluation_markdown", "evaluation_table", "rank_rows"]


@dataclass(frozen=True, repr=False)
class Evaluation:
    """The evaluation of the cases of some grids, as :func:`evaluation_for_grids` returns it."""

    cases: pd.DataFrame
    """Per case, as :func:`~gridkit.incidents.cases.cases_from_incidents` returns it."""
    grids: pd.DataFrame
    """:func:`evaluation_table` per grid code (every grid), with the worker field when there is one."""
    workers: pd.DataFrame | None
    """:func:`evaluation_table` per worker (with ``grids``, how many each has), or None."""
    totals: pd.Series
    """The indicators over every case (outside cases included)."""
    markdown: str
    """The report: totals, notes, one table per grid and per worker."""

    def __repr__(self) -> str:
        t = self.totals
        month = self.cases.attrs.get("month")
        return (f"<Evaluation as of {self.cases.attrs['as_of']:%Y-%m-%d %H:%M}"
                f"{' of ' + month if month else ''}: {int(t['reported']):,} reported, {int(t['due']):,} due, "
                f"{int(t['closed']):,} closed ({_percent(t['closure_rate'])}), "
                f"{int(t['closed_on_time']):,} on time ({_percent(t['on_time_rate'])}); {len(self.grids):,} grids"
                f"{'' if self.workers is None else f', {len(self.workers):,} workers'}>")


def evaluation_for_grids(
    cases: pd.DataFrame,
    grids: pd.DataFrame,
    *,
    index: Iterable[Any] | None = None,
    worker_field: str | None = None,
    notes: Sequence[str] = (),
) -> Evaluation:
    """The evaluation per grid and, when the grids name their workers, per worker.

    Parameters
    ----------
    cases
        As returned by :func:`~gridkit.incidents.cases.cases_from_incidents`, with ``grid_code``.
    grids
        The grids, with ``grid_code`` (and ``worker_field``).
    index
        The grid codes to report, in order (default every grid code, sorted).
    worker_field
        The grids' field naming each grid's worker (default ``worker_id`` when present).
    notes
        Lines for the Markdown report (warnings about the data).

    Raises
    ------
    MissingFieldError
        ``worker_field`` is not a field of the grids.
    """
    codes = list(index) if index is not None else sorted(set(as_text(grids["grid_code"])))
    field = worker_field or ("worker_id" if "worker_id" in grids.columns else None)
    if field is not None and field not in grids.columns:
        raise MissingFieldError(
            f"the grids have no field {field!r}", path=grids.attrs.get("source"), field=field,
            hint="give the grids a worker field, or leave out --worker-field",
        )
    grid_table = evaluation_table(cases, index=codes)
    workers_table = None
    tables = {"Grids": grid_table}
    if field is not None:
        worker_of = pd.Series(grids[field].astype("string").fillna("").to_numpy(),
                              index=grids["grid_code"].astype(str).to_numpy())
        grid_table.insert(1, field, worker_of.reindex(grid_table.index).to_numpy())
        case_worker = cases["grid_code"].map(worker_of).fillna("").rename(field)
        inside = cases["grid_code"] != ""
        workers = sorted(set(worker_of) - {""})
        workers_table = evaluation_table(cases[inside], by=case_worker[inside], index=workers)
        assigned = worker_of[worker_of != ""]
        n_grids = assigned.groupby(assigned).size()
        workers_table.insert(1, "grids", n_grids.reindex(workers_table.index).fillna(0).astype(int).to_numpy())
        tables["Workers"] = workers_table
    totals = case_indicators(cases.assign(all_cases="all"), by="all_cases").iloc[0]
    markdown = evaluation_markdown(tables, as_of=cases.attrs["as_of"], month=cases.attrs.get("month"),
                                   totals=totals, notes=notes)
    return Evaluation(cases=cases, grids=grid_table, workers=workers_table, totals=totals, markdown=markdown)


def rank_rows(indicators: pd.DataFrame) -> pd.Series:
    """Rank rows: on-time rate, then closure rate (higher first), then backlog (lower first).

    Equal keys share the smallest rank; rows without due cases (NaN rates) rank after
    every row with due cases.

    Examples
    --------
    >>> kpis = pd.DataFrame({"on_time_rate": [0.9, 0.9, np.nan, 0.95], "closure_rate": [1.0, 1.0, np.nan, 0.8],
    ...                      "backlog": [2, 2, 0, 5]}, index=["a", "b", "c", "d"])
    >>> rank_rows(kpis).tolist()
    [2, 2, 4, 1]
    """
    k1 = -indicators["on_time_rate"].to_numpy(dtype=float)
    k2 = -indicators["closure_rate"].to_numpy(dtype=float)
    k3 = indicators["backlog"].to_numpy(dtype=float)
    k1 = np.where(np.isnan(k1), np.inf, k1)
    k2 = np.where(np.isnan(k2), np.inf, k2)
    order = np.lexsort((k3, k2, k1))
    keys = np.column_stack([k1, k2, k3])[order]
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        new[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    first = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = first + 1
    return pd.Series(rank, index=indicators.index, name="rank")


def evaluation_table(
    cases: pd.DataFrame,
    *,
    by: str | pd.Series = "grid_code",
    index: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """The evaluation (考核) table: :func:`~gridkit.incidents.cases.case_indicators` plus ``rank``, sorted by rank.

    Parameters
    ----------
    cases
        As returned by :func:`~gridkit.incidents.cases.cases_from_incidents`.
    by, index
        As in :func:`~gridkit.incidents.cases.case_indicators` (e.g. every grid code, or each case's worker).
    """
    table = case_indicators(cases, by=by, index=index)
    table.insert(0, "rank", rank_rows(table))
    return table.sort_values(["rank"], kind="stable")


def evaluation_markdown(
    tables: Mapping[str, pd.DataFrame],
    *,
    as_of: pd.Timestamp,
    month: str | None = None,
    totals: pd.Series | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The evaluation tables as Markdown: one section per table, rates in percent.

    Parameters
    ----------
    tables
        Title to :func:`evaluation_table` result (extra leading columns such as
        ``worker_id`` are shown too).
    as_of, month
        Named in the heading.
    totals
        One row of :func:`~gridkit.incidents.cases.case_indicators` for everything (outside
        cases included).
    notes
        Lines to print below the totals (warnings about the data).
    """
    scope = f"cases reported in {month}" if month else "all cases"
    lines = [f"# Case evaluation (考核), {scope}, as of {as_of:%Y-%m-%d %H:%M}", ""]
    lines.append("Due (应结案) = registered cases whose deadline has passed; closure rate (结案率) = "
                 "closed / due; on-time rate (按期结案率) = closed on time / due. Ranked by on-time rate, "
                 "then closure rate (higher first), then backlog (lower first); equal keys share a rank; "
                 "rows without due cases come last.")
    lines.append("")
    if totals is not None:
        lines += [
            (f"All: {int(totals['reported'])} reported, {int(totals['due'])} due, {int(totals['closed'])} closed "
             f"({_percent(totals['closure_rate'])}), {int(totals['closed_on_time'])} closed on time "
             f"({_percent(totals['on_time_rate'])}), backlog {int(totals['backlog'])} "
             f"({int(totals['overdue'])} overdue), median {_number(totals['median_hours'])} h to close."),
            "",
        ]
    for note in notes:
        lines += [note, ""]
    for title, table in tables.items():
        lines += [f"## {title}", ""]
        frame = table.reset_index()
        shown = [c for c in frame.columns if c not in ("closed_total",) and not c.startswith("level_")]
        lines.append("| " + " | ".join(_HEAD.get(c, c) for c in shown) + " |")
        lines.append("|" + "|".join("---:" if c in _NUMERIC else "---" for c in shown) + "|")
        for _, row in frame[shown].iterrows():
            lines.append("| " + " | ".join(_cell(c, row[c]) for c in shown) + " |")
        lines.append("")
    return "\n".join(lines)


_HEAD = {"closure_rate": "closure rate", "on_time_rate": "on-time rate", "median_hours": "median h",
         "closed_on_time": "on time"}
_NUMERIC = {"rank", "reported", "registered", "due", "closed", "closed_on_time", "closure_rate", "on_time_rate",
            "median_hours", "backlog", "overdue", "grids"}


def _percent(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f} %"


def _number(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def _cell(column: str, value: Any) -> str:
    if column.endswith("_rate"):
        return _percent(value)
    if column == "median_hours":
        return _number(value)
    return str(value).replace("|", "\\|")
