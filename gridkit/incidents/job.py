"""The ``gridkit attach`` job: read grids and points, attach, name, count, evaluate, write it all at once.

:func:`attach_job` is the whole verb: :func:`read_attach_inputs` reads and checks the
inputs (points must be points, ids must not repeat), :func:`attach_outputs` attaches the
points, names their categories, counts them per grid and, for incidents with
``reported_at``, evaluates the cases (考核), and :func:`write_attach` writes the
GeoPackage and the evaluation files beside it in one step (:func:`gridkit.io.atomic_dir`):
all of them, or none. The returned :class:`AttachResult` prints a short summary; its
:meth:`~AttachResult.summary` lines are what the command prints.

Incident times are written as GeoPackage datetimes: UTC with a ``Z``, as the GeoPackage
standard stores them (a case reported at 09:30 in China is stored as 01:30Z; GIS software
and :func:`gridkit.times.local_times` read it back as the same instant).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridkit._types import CoordSystem, PathLike
from gridkit.errors import ParameterError, format_ids
from gridkit.incidents._checks import check_unique_ids
from gridkit.incidents.attach import attach_points, read_points
from gridkit.incidents.cases import (
    TIME_FIELDS,
    calendar_from_csv,
    case_indicators,
    cases_from_incidents,
    future_cases,
    time_limits,
)
from gridkit.incidents.categories import PointKind, categories_for_points, category_table, require_categories
from gridkit.incidents.evaluation import Evaluation, evaluation_for_grids
from gridkit.incidents.stats import grid_stats
from gridkit.times import LOCAL_ZONE, local_now, local_time, local_times, month_bounds

__all__ = ["AttachOptions", "AttachResult", "attach_job", "attach_outputs", "read_attach_inputs", "write_attach"]

log = logging.getLogger(__name__)

#: The id field that must not repeat, per kind of point.
ID_FIELDS = {"components": "component_id", "incidents": "incident_id"}


@dataclass(frozen=True)
class AttachOptions:
    """Options of :func:`attach_job` (the command line's flags)."""

    kind: PointKind
    grids_layer: str | None = None
    layer: str | None = None
    grid_field: str = "grid_code"
    input_coords: CoordSystem = "wgs84"
    assume_crs: str | None = None
    categories: PathLike | None = None
    time_limits: PathLike | None = None
    holidays: str | None = None
    as_of: str | None = None
    month: str | None = None
    worker_field: str | None = None


@dataclass(frozen=True, repr=False)
class AttachResult:
    """What :func:`attach_outputs` computed (and :func:`write_attach` wrote)."""

    kind: PointKind
    points: gpd.GeoDataFrame
    """Every input point with its grid, category names and, for incidents, deadline and flags."""
    stats: gpd.GeoDataFrame
    """:func:`~gridkit.incidents.stats.grid_stats` per grid (plus the case indicators for incidents)."""
    evaluation: Evaluation | None = None
    """The evaluation (考核) of incidents with ``reported_at``; None otherwise."""
    future: pd.Series | None = None
    """Per incident, whether it carries a time after the run (None without an evaluation)."""
    now: pd.Timestamp | None = None
    """The run's time the future times were compared with."""
    written: tuple[Path, ...] = field(default=())
    """The files written, GeoPackage first."""

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The layers of the GeoPackage, in order: points, ``grid_stats`` and (incidents) ``evaluation``."""
        out = {self.kind: self.points, "grid_stats": self.stats}
        if self.evaluation is not None:
            layer = self.stats[["geometry"]].join(self.evaluation.grids)
            out["evaluation"] = layer.sort_values("rank", kind="stable")
        return out

    def files(self, stem: str) -> dict[str, pd.DataFrame | str]:
        """The files beside the GeoPackage ``<stem>.gpkg``: evaluation CSVs and Markdown (incidents)."""
        return evaluation_files(self.evaluation, stem)

    @property
    def n_future(self) -> int:
        """How many incidents carry a time after the run."""
        return 0 if self.future is None else int(self.future.sum())

    def summary(self) -> list[str]:
        """The lines ``gridkit attach`` prints."""
        n = len(self.points)
        outside = self.points["grid_code"] == ""
        n_out = int(outside.sum())
        line = f"{n:,} points in, {n - n_out:,} attached to {len(self.stats):,} grids, {n_out:,} outside"
        if n_out:
            line += f" (max {self.points.loc[outside, 'outside_m'].max():,.0f} m from a grid)"
        lines = [line]
        unknown = self.points.attrs.get("unknown_categories", {})
        if unknown:
            shown = ", ".join(f"{code} ({count})" for code, count in unknown.items())
            lines.append(f"{sum(unknown.values()):,} with an unknown category (kept, named 'unknown'): {shown}")
        else:
            lines.append("every category known")
        if self.evaluation is not None:
            cases, t = self.evaluation.cases, self.evaluation.totals
            lines.append(
                f"cases as of {cases.attrs['as_of']:%Y-%m-%d %H:%M}"
                f"{' reported in ' + cases.attrs['month'] if cases.attrs['month'] else ''}: "
                f"{int(t['reported']):,} reported, {int(t['due']):,} due, {int(t['closed']):,} closed "
                f"({_pct(t['closure_rate'])}), {int(t['closed_on_time']):,} on time ({_pct(t['on_time_rate'])}), "
                f"backlog {int(t['backlog']):,}")
            if cases.attrs["without_limit"]:
                lines.append(f"{len(cases.attrs['without_limit']):,} cases without a time limit (not counted as due)")
        if self.n_future:
            lines.append("warning: " + self.future_note())
        if self.written:
            lines.append("wrote " + ", ".join(str(p) for p in self.written))
        return lines

    def future_note(self) -> str:
        """One sentence on the incidents with times after the run ("" when there are none)."""
        if not self.n_future or self.future is None or self.now is None:
            return ""
        rows = self.future.index[self.future.to_numpy(dtype=bool)]
        return future_sentence(len(rows), format_ids(rows), self.now)

    def __repr__(self) -> str:
        inside = int((self.points["grid_code"] != "").sum())
        parts = [f"{len(self.points):,} {self.kind}", f"{inside:,} in {len(self.stats):,} grids",
                 f"{len(self.points) - inside:,} outside"]
        unknown = self.points.attrs.get("unknown_categories", {})
        if unknown:
            parts.append(f"{sum(unknown.values()):,} with an unknown category")
        if self.evaluation is not None:
            parts.append(f"evaluated as of {self.evaluation.cases.attrs['as_of']:%Y-%m-%d %H:%M}")
        if self.n_future:
            parts.append(f"{self.n_future:,} with future times")
        if self.written:
            parts.append(f"written to {self.written[0]}")
        return f"<AttachResult: {', '.join(parts)}>"


def future_sentence(count: int, ids: str, now: pd.Timestamp) -> str:
    """The sentence on ``count`` incidents with times after the run ``now``; ``ids`` names them."""
    verb = "incident has" if count == 1 else "incidents have"
    return (f"{count:,} {verb} times after this run ({now:%Y-%m-%d %H:%M}): features "
            f"{ids}; they are counted as given (field future_time): check their year "
            f"and the clock of the system they came from")


def evaluation_files(evaluation: Evaluation | None, stem: str) -> dict[str, pd.DataFrame | str]:
    """The files written beside ``<stem>.gpkg`` for an evaluation: the ranked CSVs and the Markdown."""
    if evaluation is None:
        return {}
    out: dict[str, pd.DataFrame | str] = {f"{stem}_evaluation_grids.csv": evaluation.grids}
    if evaluation.workers is not None:
        out[f"{stem}_evaluation_workers.csv"] = evaluation.workers
    out[f"{stem}_evaluation.md"] = evaluation.markdown
    return out


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.2f} %"


# --------------------------------------------------------------------------- the job


def attach_job(
    grids_path: PathLike,
    points_path: PathLike,
    output: PathLike,
    *,
    options: AttachOptions,
    streets_path: PathLike | None = None,
    now: Any = None,
) -> AttachResult:
    """``gridkit attach``: read, attach, evaluate and write; the result names the files written.

    Parameters
    ----------
    grids_path, points_path
        The grids (layer ``grids`` when the file has one) and the components or incidents.
    output
        The GeoPackage to write (``.gpkg``); evaluation files go beside it.
    options
        The verb's options.
    streets_path
        Street lines, for components per km of street.
    now
        The run's time, for incident times in the future (default this machine's clock).

    Raises
    ------
    ParameterError
        A bad option (before anything is read).
    gridkit.errors.GridkitError
        Bad inputs, naming the file, the features and the field; nothing is written.
    """
    output = check_attach_options(output, options)
    grids, points, streets = read_attach_inputs(grids_path, points_path, options=options,
                                                streets_path=streets_path)
    result = attach_outputs(grids, points, options=options, streets=streets, now=now)
    return replace(result, written=tuple(write_attach(result, output)))


def check_attach_options(output: PathLike, options: AttachOptions) -> Path:
    """The output path, checked with the options before any reading: usage errors first."""
    out = Path(output)
    if out.suffix.lower() != ".gpkg":
        raise ParameterError(f"-o must name a GeoPackage (.gpkg), got {out.name!r}", path=out,
                             hint="e.g. -o incidents_attached.gpkg")
    if options.kind not in ID_FIELDS:
        raise ParameterError(f"--as must be components or incidents, got {options.kind!r}")
    if options.kind != "incidents" and (options.month is not None or options.as_of is not None):
        raise ParameterError("--month and --as-of apply to incidents", hint="use them with --as incidents")
    if options.month is not None:
        month_bounds(options.month)
    if options.as_of is not None:
        local_time(options.as_of, name="--as-of")
    return out


def read_attach_inputs(
    grids_path: PathLike,
    points_path: PathLike,
    *,
    options: AttachOptions,
    streets_path: PathLike | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """The grids (``grid_field`` renamed ``grid_code``), the points and the streets, read and checked.

    Points must be points (a polygon of a component is refused, naming the features: give
    a point per component, e.g. QGIS "Point on Surface"), must carry categories (GPS tracks
    given as incidents are refused) and their ids (``component_id``, ``incident_id``) must
    not repeat: the same case twice would be counted twice.
    """
    from gridkit.io import preferred_layer, read_layer

    layer = preferred_layer(grids_path, options.grids_layer)
    grids = read_layer(grids_path, layer=layer, geometry="polygon", role="grids",
                       required_fields=[options.grid_field], assume_crs=options.assume_crs)
    if options.grid_field != "grid_code":
        grids = grids.rename(columns={options.grid_field: "grid_code"})
    points = read_points(points_path, layer=options.layer, input_coords=options.input_coords, role=options.kind,
                         assume_crs=options.assume_crs, geometry="point")
    require_categories(points, kind=options.kind)
    check_unique_ids(points, ID_FIELDS[options.kind], what=options.kind)
    streets = (read_layer(streets_path, geometry="line", role="streets", assume_crs=options.assume_crs)
               if streets_path is not None else None)
    return grids, points, streets


def attach_outputs(
    grids: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    options: AttachOptions,
    streets: gpd.GeoDataFrame | None = None,
    now: Any = None,
) -> AttachResult:
    """Attach, name and count the points; evaluate incidents that carry ``reported_at``.

    Nothing is written. See :func:`attach_job` for the parameters.
    """
    table = category_table(options.kind, options.categories) if options.categories else None
    attached = attach_points(points, grids)
    named = categories_for_points(attached, kind=options.kind, table=table)
    stats = grid_stats(grids, named, streets=streets)
    if options.kind != "incidents" or "reported_at" not in named.columns:
        return AttachResult(kind=options.kind, points=named, stats=stats)

    now_t = local_now() if now is None else local_time(now, name="now")
    limits = time_limits(options.time_limits)
    calendar = calendar_from_csv(options.holidays) if options.holidays else None
    cases = cases_from_incidents(named, as_of=options.as_of, month=options.month, limits=limits, calendar=calendar)
    future = future_cases(cases, now=now_t)
    codes = list(stats.index)
    stats = stats.join(case_indicators(cases, index=codes))
    draft = AttachResult(kind=options.kind, points=named, stats=stats, future=future, now=now_t)
    note = draft.future_note()
    if note:
        log.warning("%s", note)
    evaluation = evaluation_for_grids(cases, grids, index=codes, worker_field=options.worker_field,
                                      notes=[f"**Warning:** {note}."] if note else [])
    return replace(draft, points=_incident_fields(named, cases, future), evaluation=evaluation)


def _incident_fields(named: gpd.GeoDataFrame, cases: pd.DataFrame, future: pd.Series) -> gpd.GeoDataFrame:
    """The incidents as written: times as datetimes (UTC), the deadline and the case flags."""
    points = named.copy()
    for name in TIME_FIELDS:
        if name in points.columns:
            source = cases[name] if name != "due_at" else local_times(points[name], field=name,
                                                                      path=named.attrs.get("source"))
            points[name] = _utc(source)
    points["deadline"] = _utc(cases["due_at"])
    points["closed_on_time"] = cases["closed_on_time"].to_numpy()
    points["overdue"] = cases["overdue"].to_numpy()
    points["future_time"] = future.to_numpy(dtype=bool)
    return points


def _utc(local: pd.Series) -> pd.Series:
    """Naive local times as UTC datetimes: what a GeoPackage stores (``…Z``)."""
    aware = local.dt.tz_localize(LOCAL_ZONE, ambiguous=False, nonexistent="shift_forward")
    return aware.dt.tz_convert("UTC")


def write_attach(result: AttachResult, output: PathLike) -> list[Path]:
    """Write the GeoPackage and the files beside it, all or nothing; the paths written, GeoPackage first."""
    from gridkit.crs import layers_in_crs
    from gridkit.io import atomic_dir, write_layers

    out = Path(output)
    files = result.files(out.stem)
    with atomic_dir(out.parent) as staging:
        write_layers(staging / out.name, layers_in_crs(result.layers(), result.stats.crs))  # the grids' CRS
        for name, content in files.items():
            if isinstance(content, str):
                (staging / name).write_text(content, encoding="utf-8")
            else:
                content.to_csv(staging / name, encoding="utf-8")
    return [out, *(out.parent / name for name in files)]
