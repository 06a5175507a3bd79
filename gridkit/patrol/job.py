"""The ``gridkit patrol plan`` and ``gridkit patrol check`` jobs: reading, computing, writing.

:func:`plan_job` and :func:`check_job` do what the commands do, from file names to the
files written; the command line parses the arguments and prints what they return.

Times in ``tracks.gpkg`` are GeoPackage DATETIME values: UTC with a ``Z`` and
milliseconds (``2024-06-26T00:30:00.000Z`` for 08:30 in China), as the GeoPackage
standard writes them and GDAL reads them without a warning; QGIS and pandas show them
in local time again. The CSV tables keep local times, as the report does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridkit._progress import Progress
from gridkit._types import CoordSystem, PathLike
from gridkit.board.workers import read_workers
from gridkit.errors import ParameterError
from gridkit.io import atomic_dir, list_layers, preferred_layer, read_layer, write_layers, write_text
from gridkit.patrol.coverage import TrackCheck, check_tracks
from gridkit.patrol.coverage_report import coverage_markdown
from gridkit.patrol.route_outputs import plan_figures, write_routes
from gridkit.patrol.routes import RoutePlan, routes_for_grids
from gridkit.patrol.streets import read_streets
from gridkit.patrol.tracks import read_tracks
from gridkit.times import LOCAL_ZONE, check_timezone

__all__ = ["CHECK_FILES", "CheckJob", "PlanJob", "check_job", "plan_job", "utc_times"]

logger = logging.getLogger(__name__)

#: The files ``gridkit patrol check`` writes (``unvisited_buildings.csv`` only with a month).
CHECK_FILES = ("tracks.gpkg", "coverage.csv", "coverage_workers.csv", "coverage.md", "unvisited_buildings.csv")


@dataclass
class PlanJob:
    """What :func:`plan_job` planned and wrote: the plan, its figures and the output folder."""

    plan: RoutePlan
    figures: dict[str, Any]
    outdir: Path


@dataclass
class CheckJob:
    """What :func:`check_job` measured and wrote: the check and the files written."""

    result: TrackCheck
    files: list[Path]


def _grids_layer(path: PathLike, grid_field: str, assume_crs: Any = None) -> gpd.GeoDataFrame:
    return read_layer(path, layer=preferred_layer(path, None), geometry="polygon", role="grids",
                      required_fields=[grid_field], assume_crs=assume_crs)


def _buildings_of(path: PathLike, assume_crs: Any = None) -> gpd.GeoDataFrame | None:
    """The ``buildings`` layer of a grids file written by ``gridkit partition``, when it has one."""
    if "buildings" not in list_layers(path):
        return None
    return read_layer(path, layer="buildings", role="buildings", assume_crs=assume_crs)


def plan_job(
    grids_path: PathLike,
    outdir: PathLike,
    *,
    streets: PathLike | None = None,
    osm: PathLike | None = None,
    base: PathLike | None = None,
    priority: PathLike | None = None,
    grid_codes: Sequence[str] | None = None,
    grid_field: str = "grid_code",
    speed_kmh: float = 4.5,
    max_minutes: float | None = None,
    edge_tolerance_m: float = 5.0,
    reach_m: float = 300.0,
    assume_crs: Any = None,
    progress: Progress | None = None,
) -> PlanJob:
    """Read the grids (and their buildings), the streets (lines or OSM) and the optional bases and
    priority stops; plan a route per grid (:func:`~gridkit.patrol.routes_for_grids`); write
    ``routes.gpkg``, ``turns.csv`` and ``report.md`` into ``outdir`` atomically."""
    if (streets is None) == (osm is None):
        raise ParameterError("give the streets as lines or as an OSM file, one of the two",
                             hint="use --streets FILE or --osm FILE")
    grids = _grids_layer(grids_path, grid_field, assume_crs)
    buildings = _buildings_of(grids_path, assume_crs)
    if osm is not None:
        lines = read_streets(osm, source="osm")
    else:
        lines = read_layer(streets, geometry="line", role="streets", assume_crs=assume_crs)  # type: ignore[arg-type]
    bases = (read_layer(base, geometry="point", role="bases", required_fields=[grid_field], assume_crs=assume_crs)
             if base is not None else None)
    stops = read_layer(priority, geometry="point", role="priority", assume_crs=assume_crs) if priority else None
    plan = routes_for_grids(
        lines, grids, grid_field=grid_field, bases=bases, buildings=buildings, priority=stops, grid_codes=grid_codes,
        speed_kmh=speed_kmh, max_minutes=max_minutes, edge_tolerance_m=edge_tolerance_m, reach_m=reach_m,
        progress=progress)
    plan.parameters.update({"grids_file": str(grids_path), "streets": str(streets or osm)})
    out = write_routes(plan, outdir)
    return PlanJob(plan=plan, figures=plan_figures(plan), outdir=Path(out))


def check_job(
    grids_path: PathLike,
    tracks: PathLike | Sequence[PathLike],
    outdir: PathLike,
    *,
    workers: PathLike | None = None,
    streets: PathLike | None = None,
    osm: PathLike | None = None,
    buildings: PathLike | None = None,
    month: str | None = None,
    grid_field: str = "grid_code",
    max_speed_kmh: float = 25.0,
    input_coords: CoordSystem = "wgs84",
    timezone: str = LOCAL_ZONE,
    now: datetime | str | None = None,
    parameters: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> CheckJob:
    """Read the grids, their buildings, the streets, the workers table (:func:`gridkit.board.read_workers`,
    the table the boards use) and the tracks; check them (:func:`~gridkit.patrol.coverage.check_tracks`);
    write ``tracks.gpkg``, ``coverage.csv``, ``coverage_workers.csv``, ``coverage.md`` (and with ``month``
    ``unvisited_buildings.csv``) into ``outdir`` atomically.

    ``now`` is the time of the check (default the current time in ``timezone``): fixes
    after it are reported (see :func:`~gridkit.patrol.coverage.future_fixes`).
    """
    check_timezone(timezone)
    grids = _grids_layer(grids_path, grid_field)
    building_layer = (read_layer(buildings, role="buildings") if buildings is not None
                      else _buildings_of(grids_path))
    lines = None
    if osm is not None:
        lines = read_streets(osm, source="osm")
    elif streets is not None:
        lines = read_streets(streets)
    crew = read_workers(workers) if workers is not None else None
    fixes = read_tracks(tracks, input_coords=input_coords, timezone=timezone)  # type: ignore[arg-type]
    moment = now if now is not None else pd.Timestamp.now(tz=timezone).tz_localize(None)
    result = check_tracks(fixes, grids, workers=crew, streets=lines, buildings=building_layer, month=month,
                          grid_field=grid_field, max_speed_kmh=max_speed_kmh, now=moment, progress=progress)
    files = _write_check(result, Path(outdir), parameters or {}, timezone)
    return CheckJob(result=result, files=files)


def utc_times(frame: pd.DataFrame, timezone: str = LOCAL_ZONE) -> pd.DataFrame:
    """A copy of ``frame`` whose naive local datetime columns are UTC times (GeoPackage DATETIME)."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values) and getattr(values.dt, "tz", None) is None:
            out[column] = values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return out


def _write_check(result: TrackCheck, outdir: Path, parameters: dict[str, Any], timezone: str) -> list[Path]:
    layers = {"tracks": result.tracks, "stops": result.stops, "dropped": result.dropped}
    if result.unvisited is not None:
        layers["unvisited"] = result.unvisited
    layers = {name: utc_times(layer, timezone) for name, layer in layers.items()}

    def csv(frame: pd.DataFrame) -> str:
        return frame.to_csv(index=False, lineterminator="\n", float_format="%.4f")

    names = list(CHECK_FILES if result.unvisited is not None else CHECK_FILES[:-1])
    with atomic_dir(outdir) as tmp:
        write_layers(tmp / "tracks.gpkg", layers)
        write_text(tmp / "coverage.csv", csv(result.days))
        write_text(tmp / "coverage_workers.csv", csv(result.workers))
        write_text(tmp / "coverage.md", coverage_markdown(result, parameters=parameters))
        if result.unvisited is not None:
            write_text(tmp / "unvisited_buildings.csv", csv(result.unvisited.drop(columns="geometry")))
    return [outdir / n for n in names]
