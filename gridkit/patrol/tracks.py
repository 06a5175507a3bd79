"""GPS tracks of grid workers: read them (CSV or GPX), clean them, find their stops.

A *fix* is one GPS position of one worker at one time. :func:`read_tracks` reads fixes
from CSV files (``worker_id, time, lon, lat``, through :func:`gridkit.io.read_layer`) or
GPX files and checks every row; :func:`~gridkit.patrol.cleaning.clean_tracks` sorts them,
drops exact duplicates, repeated timestamps and jumps and says why for each dropped fix;
:func:`~gridkit.patrol.workdays.stops_from_fixes` finds where a worker dwelt and
:func:`~gridkit.patrol.workdays.lines_from_fixes` turns the kept fixes into one line per
worker and day (both importable from here too).

Times are local times, read by :func:`gridkit.times.local_times`: naive times (no
offset, as in the sample data) are taken as they are; times with an offset (GPX files
carry UTC) are converted to ``timezone`` (China Standard Time by default) and the offset
dropped. A worker-day is a calendar day of these local times.

Examples
--------
>>> import io
>>> text = "worker_id,time,lon,lat\\nW1,2024-06-26T08:30:00,106.6,26.5\\nW1,2024-06-26T08:30:00,106.6,26.5\\n"
>>> fixes = read_tracks(io.StringIO(text))
>>> kept, dropped = clean_tracks(fixes)
>>> len(kept), dropped["reason"].tolist()
(1, ['duplicate'])
"""

from __future__ import annotations

import io as _stdio
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gridkit._types import CoordSystem, PathLike
from gridkit.errors import EmptyLayerError, InputDataError, InputFileError, MissingFieldError, ParameterError
from gridkit.io import read_layer
from gridkit.patrol.cleaning import DROP_REASONS, FIX_FIELDS, clean_tracks
from gridkit.patrol.workdays import lines_from_fixes, stops_from_fixes, workday_keys
from gridkit.times import LOCAL_ZONE, check_timezone, local_times

__all__ = [
    "DROP_REASONS",
    "FIX_FIELDS",
    "clean_tracks",
    "lines_from_fixes",
    "read_tracks",
    "stops_from_fixes",
    "workday_keys",
]

logger = logging.getLogger(__name__)

TrackSource = PathLike | _stdio.StringIO

#: Column names read as the worker and the time (any case); lon/lat as read_layer reads them.
_ALIASES = {
    "worker_id": ("worker_id", "worker", "workerid", "user_id", "网格员编号"),
    "time": ("time", "timestamp", "datetime", "时间"),
}
_ROWS = "rows count from 0 after the header"


def read_tracks(
    sources: TrackSource | Sequence[TrackSource],
    *,
    input_coords: CoordSystem = "wgs84",
    timezone: str = LOCAL_ZONE,
) -> pd.DataFrame:
    """Read GPS fixes from CSV and GPX files (or folders of them), every row checked.

    Parameters
    ----------
    sources
        One or several CSV files (columns ``worker_id, time, lon, lat``; lon/lat in
        WGS84 or CGCS2000 degrees, times in ISO 8601), GPX files (the worker id is the
        track's name, else the file name without extension) or folders holding such
        files. A text buffer is read as CSV.
    input_coords
        ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu) for coordinates taken from
        those maps: they are converted to WGS84.
    timezone
        The local time zone that times carrying an offset are converted to.

    Returns
    -------
    pandas.DataFrame
        One row per fix in file order: ``worker_id`` (str), ``time`` (naive local
        datetime), ``lon``, ``lat`` (WGS84 degrees), ``source`` (file name) and ``row``
        (the row in the CSV counted from 0 after the header, or the point's number in
        the GPX file counted from 0).

    Raises
    ------
    InputFileError
        A file is missing or cannot be read.
    InputDataError
        A field is missing, or times, coordinates or worker ids cannot be read; the
        message names the file, the rows and the field.
    """
    if input_coords not in ("wgs84", "gcj02", "bd09"):
        raise ParameterError(f"input_coords must be wgs84, gcj02 or bd09, got {input_coords!r}")
    check_timezone(timezone)
    frames = [_read_one(source, input_coords, timezone) for source in _expand(sources)]
    fixes = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    logger.info("read %d fixes of %d workers from %d file(s)", len(fixes), fixes["worker_id"].nunique(),
                len(frames))
    return fixes


def _expand(sources: TrackSource | Sequence[TrackSource]) -> list[TrackSource]:
    if isinstance(sources, (str, os.PathLike, _stdio.StringIO)):
        sources = [sources]
    out: list[TrackSource] = []
    for source in sources:
        if isinstance(source, _stdio.StringIO):
            out.append(source)
            continue
        path = Path(source)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".gpx"))
            if not found:
                raise InputFileError("the folder holds no .csv or .gpx files", path=path,
                                     hint="give the track files themselves or a folder of them")
            out.extend(found)
        elif not path.exists():
            raise InputFileError("the file does not exist", path=path, hint="check the path and the current folder")
        else:
            out.append(path)
    if not out:
        raise ParameterError("no track files given")
    return out


def _read_one(source: TrackSource, input_coords: CoordSystem, timezone: str) -> pd.DataFrame:
    if isinstance(source, _stdio.StringIO):
        with tempfile.TemporaryDirectory(prefix="gridkit-tracks-") as folder:
            path = Path(folder) / "tracks.csv"
            path.write_text(source.getvalue(), encoding="utf-8")
            return _read_csv(path, input_coords, timezone)
    path = Path(source)
    ext = path.suffix.lower()
    if ext == ".gpx":
        return _read_gpx(path, input_coords, timezone)
    if ext in (".csv", ".txt"):
        return _read_csv(path, input_coords, timezone)
    raise InputDataError(f"track files must be .csv or .gpx, got {ext or 'no extension'!r}", path=path,
                         hint="export the tracks as CSV (worker_id, time, lon, lat) or GPX")


def _read_csv(path: Path, input_coords: CoordSystem, timezone: str) -> pd.DataFrame:
    text_fields = [name for names in _ALIASES.values() for name in names]
    points = read_layer(path, geometry="point", role="GPS tracks", input_coords=input_coords,
                        text_fields=text_fields)
    columns = {}
    for field, names in _ALIASES.items():
        found = next((c for c in points.columns if str(c).strip().lower() in names), None)
        if found is None:
            raise MissingFieldError(
                f"the track table has no {field!r} column; it has: "
                f"{', '.join(str(c) for c in points.columns if c != points.geometry.name)}",
                path=path, field=field, hint="name the columns worker_id, time, lon, lat")
        columns[field] = found
    worker = points[columns["worker_id"]].astype("string").str.strip()
    missing = worker.isna() | (worker == "")
    if missing.any():
        raise InputDataError(f"worker ids are missing ({_ROWS})", path=path, field=columns["worker_id"],
                             feature_ids=points.index[missing.to_numpy()].tolist(), hint="give every row a worker id")
    times = local_times(points[columns["time"]], field=columns["time"], path=path, timezone=timezone)
    if times.isna().any():
        raise InputDataError(f"times are missing ({_ROWS})", path=path, field=columns["time"],
                             feature_ids=points.index[times.isna().to_numpy()].tolist(),
                             hint="give every fix its time, e.g. 2024-06-26T08:30:00")
    xy = np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])
    return pd.DataFrame({"worker_id": worker.astype(str).to_numpy(dtype=object),
                         "time": times.to_numpy(dtype="datetime64[ns]"), "lon": xy[:, 0], "lat": xy[:, 1],
                         "source": path.name, "row": np.arange(len(points), dtype=np.int64)})


def _read_gpx(path: Path, input_coords: CoordSystem, timezone: str) -> pd.DataFrame:
    import gpxpy
    import gpxpy.gpx

    try:
        with open(path, encoding="utf-8") as f:
            gpx = gpxpy.parse(f)
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as err:
        raise InputFileError(f"cannot be read as GPX: {err}", path=path,
                             hint="check the file opens in a GPS tool; export it again if not") from None
    workers, times, lons, lats = [], [], [], []
    for track in gpx.tracks:
        worker = (track.name or "").strip() or path.stem
        for segment in track.segments:
            for point in segment.points:
                workers.append(worker)
                times.append(point.time)
                lons.append(point.longitude)
                lats.append(point.latitude)
    if not workers:
        raise EmptyLayerError("the GPX file holds no track points", path=path,
                              hint="export the track (trk) with its points, not only waypoints or routes")
    untimed = [k for k, t in enumerate(times) if t is None]
    if untimed:
        raise InputDataError("track points have no time (points count from 0 in file order)", path=path,
                             field="time", feature_ids=untimed, hint="export the GPX with timestamps")
    local = local_times(pd.Series(times), field="time", path=path, timezone=timezone)
    lon, lat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        raise InputDataError("coordinates are out of range for longitude/latitude (points count from 0)",
                             path=path, field="lon/lat", feature_ids=np.flatnonzero(bad).tolist(),
                             hint="export the GPX again in WGS84 degrees")
    if input_coords != "wgs84":
        from gridkit.crs import bd09_to_wgs84, gcj02_to_wgs84

        convert = gcj02_to_wgs84 if input_coords == "gcj02" else bd09_to_wgs84
        lon, lat = (np.asarray(v, dtype=float) for v in convert(lon, lat))
    return pd.DataFrame({"worker_id": np.array(workers, dtype=object),
                         "time": local.to_numpy(dtype="datetime64[ns]"), "lon": lon, "lat": lat,
                         "source": path.name, "row": np.arange(len(workers), dtype=np.int64)})
