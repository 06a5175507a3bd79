"""The track check as a Markdown report (``coverage.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridkit.patrol.cleaning import DROP_REASONS

if TYPE_CHECKING:
    from gridkit.patrol.coverage import TrackCheck

__all__ = ["coverage_markdown"]


def coverage_markdown(result: TrackCheck, *, parameters: dict[str, Any] | None = None) -> str:
    """The check as a Markdown report: notes, dropped fixes, per-worker and per-worker-day tables."""
    f = result.figures
    lines = ["# GPS track check", ""]
    lines.append(f"{f['fixes_read']:,} fixes of {f['workers']} workers on {f['worker_days']} worker-days; "
                 f"{f['fixes_kept']:,} kept.")
    lines += ["", "Days are calendar days of local time (times without an offset are taken as local).", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    lines += ["## Dropped fixes", "", "| reason | fixes | meaning |", "| --- | ---: | --- |"]
    lines += [f"| {r} | {n:,} | {DROP_REASONS[r]} |" for r, n in f["fixes_dropped"].items()]
    lines += ["", "Every dropped fix is in the `dropped` layer of tracks.gpkg, with its file and row.", ""]
    lines += ["## Workers", ""]
    lines += _table(result.workers, {
        "worker_id": "worker", "grid_code": "grid", "grid_from": "grid from", "days": "days",
        "distance_km": "km", "active_hours": "hours", "share_in_grid": "in grid",
        "street_coverage_all_days": "streets (all days)", "buildings_passed_all_days": "buildings passed",
        "buildings_in_grid": "of", "stops": "stops", "excursions": "excursions", "fixes_dropped": "dropped",
    })
    lines += ["", "## Worker-days", ""]
    lines += _table(result.days, {
        "worker_id": "worker", "day": "day", "grid_code": "grid", "first_fix": "from", "last_fix": "to",
        "distance_km": "km", "active_hours": "hours", "share_in_grid": "in grid", "street_coverage": "streets",
        "buildings_passed": "buildings", "buildings_share": "share", "stops": "stops",
        "stop_minutes": "stop min", "excursions": "excursions", "excursion_minutes": "out min",
        "excursion_max_m": "max out m",
    })
    if result.unvisited is not None:
        per_grid = result.unvisited.groupby("grid_code").size()
        lines += ["", "## Buildings never passed in the month", "", "| grid | buildings |", "| --- | ---: |"]
        lines += [f"| {code} | {n} |" for code, n in per_grid.items()]
    if parameters:
        lines += ["", "## Parameters", "", "```"]
        lines += [f"{k}: {v}" for k, v in parameters.items()]
        lines += ["```"]
    return "\n".join(lines) + "\n"


_SHARES = {"share_in_grid", "street_coverage", "street_coverage_all_days", "buildings_share"}


def _table(frame: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    cols = [c for c in columns if c in frame.columns]
    out = ["| " + " | ".join(columns[c] for c in cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for row in frame[cols].itertuples(index=False):
        out.append("| " + " | ".join(_cell(c, v) for c, v in zip(cols, row)) + " |")
    return out


def _cell(column: str, value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if column in _SHARES:
        return f"{value:.0%}"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.1f}"
    return str(value)
