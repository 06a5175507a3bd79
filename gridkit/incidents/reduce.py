"""The chunked attach's figures added up: the statistics and the evaluation of the in-memory attach.

:func:`finish` takes the added-up :class:`~gridkit.incidents.stream.ChunkSummary` of all
chunks and their spills and builds what :func:`~gridkit.incidents.job.attach_outputs`
builds from all points at once: ``grid_stats`` with the case indicators, the evaluation
tables per grid and per worker, the totals and the report, figure for figure. Counts add
up; the medians and the repeat check come from the spills (:mod:`gridkit.incidents.spill`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import format_ids
from gridkit.incidents._checks import check_unique_ids
from gridkit.incidents.cases import KPI_COLUMNS
from gridkit.incidents.categories import require_categories
from gridkit.incidents.evaluation import Evaluation, evaluation_markdown, rank_rows
from gridkit.incidents.job import ID_FIELDS, evaluation_files, future_sentence
from gridkit.incidents.spill import medians_by_key, overall_median, repeated_ids
from gridkit.incidents.stats import grid_stats

if TYPE_CHECKING:
    from gridkit.incidents.stream import ChunkContext, ChunkSummary

__all__ = ["COUNTS", "MAJORS", "StreamResult", "finish"]

log = logging.getLogger(__name__)

#: The major categories counted per grid (then ``other``).
MAJORS = ("01", "02", "03", "04", "05", "06")
#: The case indicators that are counts (added up over chunks); the rates and the median are derived.
COUNTS = tuple(c for c in KPI_COLUMNS if c not in ("closure_rate", "on_time_rate", "median_hours"))


@dataclass(frozen=True, repr=False)
class StreamResult:
    """What :func:`finish` computed from the chunks (and :func:`write_stream` wrote)."""

    kind: str
    stats: gpd.GeoDataFrame
    """Per grid, as the in-memory ``AttachResult.stats``."""
    summary_of_chunks: ChunkSummary
    evaluation: Evaluation | None = None
    """Its ``cases`` is empty (the cases are in the parts); ``cases.attrs`` holds ``as_of`` and ``month``."""
    future_note: str = ""
    chunks: int = 0
    written: tuple[Path, ...] = ()

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The layers of the GeoPackage: ``grid_stats`` and (incidents) ``evaluation``."""
        out = {"grid_stats": self.stats}
        if self.evaluation is not None:
            out["evaluation"] = self.stats[["geometry"]].join(self.evaluation.grids).sort_values("rank", kind="stable")
        return out

    def files(self, stem: str) -> dict[str, pd.DataFrame | str]:
        """The evaluation files beside the GeoPackage, as the in-memory attach writes them."""
        return evaluation_files(self.evaluation, stem)

    def summary(self) -> list[str]:
        """The lines ``gridkit attach`` prints (the in-memory attach's, plus the chunks)."""
        s = self.summary_of_chunks
        line = (f"{s.rows:,} points in, {s.rows - s.outside:,} attached to {len(self.stats):,} grids, "
                f"{s.outside:,} outside")
        if s.outside:
            line += f" (max {s.max_outside_m:,.0f} m from a grid)"
        lines = [line]
        if s.unknown:
            shown = ", ".join(f"{code} ({count})" for code, count in sorted(s.unknown.items()))
            lines.append(f"{sum(s.unknown.values()):,} with an unknown category (kept, named 'unknown'): {shown}")
        else:
            lines.append("every category known")
        if self.evaluation is not None:
            attrs, t = self.evaluation.cases.attrs, self.evaluation.totals
            lines.append(
                f"cases as of {attrs['as_of']:%Y-%m-%d %H:%M}"
                f"{' reported in ' + attrs['month'] if attrs['month'] else ''}: "
                f"{int(t['reported']):,} reported, {int(t['due']):,} due, {int(t['closed']):,} closed "
                f"({_pct(t['closure_rate'])}), {int(t['closed_on_time']):,} on time ({_pct(t['on_time_rate'])}), "
                f"backlog {int(t['backlog']):,}")
            if s.without_limit:
                lines.append(f"{s.without_limit:,} cases without a time limit (not counted as due)")
        if self.future_note:
            lines.append("warning: " + self.future_note)
        lines.append(f"{self.chunks:,} chunks")
        if self.written:
            lines.append("wrote " + ", ".join(str(p) for p in self.written))
        return lines


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.2f} %"


def finish(
    ctx: ChunkContext,
    total: ChunkSummary,
    *,
    chunks: int,
    streets: gpd.GeoDataFrame | None,
    last_chunk: gpd.GeoDataFrame,
    points_path: PathLike,
) -> StreamResult:
    """From the added-up figures of ``chunks`` chunks and their spills: the result of the in-memory attach.

    Checks the ids (nothing repeats) and that some point had a category, takes the medians.
    """
    opts = ctx.options
    if not total.with_category:
        require_categories(last_chunk, kind=opts.kind)  # raises: not one row has a category
    _check_ids(ctx, points_path)
    empty = pd.DataFrame({"grid_code": pd.Series([], dtype="str"), "major": pd.Series([], dtype="str")})
    stats = grid_stats(ctx.grids, empty, streets=streets)
    assert total.counts is not None
    counts = total.counts[:-1]
    stats["count"] = counts.sum(axis=1).astype(np.int64)
    for i, m in enumerate(MAJORS):
        stats[f"count_{m}"] = counts[:, i].astype(np.int64)
    if counts[:, -1].any():
        stats.insert(stats.columns.get_loc(f"count_{MAJORS[-1]}") + 1, "count_other", counts[:, -1].astype(np.int64))
    stats["per_km2"] = stats["count"] / stats["area_km2"].where(stats["area_km2"] > 0)
    stats["per_100_households"] = 100 * stats["count"] / stats["households"].where(stats["households"] > 0)
    if "per_street_km" in stats.columns:
        stats["per_street_km"] = stats["count"] / stats["street_km"].where(stats["street_km"] > 0)
    result = StreamResult(kind=opts.kind, stats=stats, summary_of_chunks=total, chunks=chunks)
    if not ctx.evaluate:
        return result
    evaluation, note = _evaluation(ctx, total)
    return replace(result, stats=stats.join(evaluation.grids[list(KPI_COLUMNS)].reindex(stats.index)),
                   evaluation=evaluation, future_note=note)


def _check_ids(ctx: ChunkContext, points_path: PathLike) -> None:
    field_name = ID_FIELDS[ctx.options.kind]
    folder = ctx.spill / "ids"
    if not folder.exists():
        return
    rows = repeated_ids(folder, ctx.n_buckets)
    if len(rows):
        frame = pd.DataFrame({field_name: rows["id"].to_numpy()}, index=pd.Index(rows["row"].to_numpy()))
        frame.attrs["source"] = str(points_path)
        check_unique_ids(frame, field_name, what=ctx.options.kind)


def _indicators(counts: pd.DataFrame, median: pd.Series) -> pd.DataFrame:
    """The :data:`KPI_COLUMNS` from added-up counts and exact medians, as ``case_indicators`` derives them."""
    out = counts.astype(np.int64)
    out["median_hours"] = median.reindex(out.index).astype(float)
    due = out["due"].where(out["due"] > 0)
    out["closure_rate"] = out["closed"] / due
    out["on_time_rate"] = out["closed_on_time"] / due
    return out[list(KPI_COLUMNS)]


def _ranked(table: pd.DataFrame) -> pd.DataFrame:
    table.insert(0, "rank", rank_rows(table))
    return table.sort_values(["rank"], kind="stable")


def _evaluation(ctx: ChunkContext, total: ChunkSummary) -> tuple[Evaluation, str]:
    assert total.kpis is not None and ctx.as_of is not None
    opts = ctx.options
    hours = ctx.spill / "hours"
    counts = pd.DataFrame(total.kpis[:-1], columns=list(COUNTS), index=pd.Index(ctx.codes, name="grid_code"))
    by_grid = medians_by_key(hours, ctx.n_buckets, "grid", "hours") if total.closed else pd.Series(dtype=float)
    by_grid.index = ctx.codes[by_grid.index.to_numpy(dtype=np.int64)] if len(by_grid) else by_grid.index
    grid_table = _ranked(_indicators(counts, by_grid))
    tables = {"Grids": grid_table}
    workers_table = None
    if ctx.worker_field is not None:
        field_name = ctx.worker_field
        names = np.array([ctx.workers[w] if w >= 0 else "" for w in ctx.worker], dtype=object)
        grid_table.insert(1, field_name, pd.Series(names, index=ctx.codes).reindex(grid_table.index).to_numpy())
        has = ctx.worker >= 0
        wcounts = counts[has].groupby(names[has]).sum().reindex(list(ctx.workers), fill_value=0)
        wcounts.index.name = field_name
        by_worker = medians_by_key(hours, ctx.n_buckets, "worker", "hours") if total.closed else pd.Series(dtype=float)
        by_worker.index = pd.Index([ctx.workers[int(i)] for i in by_worker.index], dtype=object)
        workers_table = _ranked(_indicators(wcounts, by_worker))
        n_grids_of = pd.Series(names[has]).value_counts()
        workers_table.insert(1, "grids", n_grids_of.reindex(workers_table.index).fillna(0).astype(int).to_numpy())
        tables["Workers"] = workers_table
    all_counts = pd.DataFrame([total.kpis.sum(axis=0)], columns=list(COUNTS), index=pd.Index(["all"], name="all_cases"))
    median_all = overall_median(hours, ctx.n_buckets, "hours", count=total.closed, lo=total.hours_lo,
                                hi=total.hours_hi)
    totals = _indicators(all_counts, pd.Series([median_all], index=["all"])).iloc[0]
    note = ""
    if total.future:
        ids = [i for _, i in total.future_ids]
        note = future_sentence(total.future, format_ids(ids) + (
            f" and {total.future - len(ids)} more" if total.future > len(ids) else ""),
            ctx.now)
        log.warning("%s", note)
    cases = pd.DataFrame()
    cases.attrs.update({"as_of": ctx.as_of, "month": opts.month, "without_limit": []})
    markdown = evaluation_markdown(tables, as_of=ctx.as_of, month=opts.month, totals=totals,
                                   notes=[f"**Warning:** {note}."] if note else [])
    return Evaluation(cases=cases, grids=grid_table, workers=workers_table, totals=totals, markdown=markdown), note
