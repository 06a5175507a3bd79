"""GPS tracks of grid workers: read them (CSV or GPX), clean them, find their stops.

A *fix* is one GPS position of one worker at one time. :func:`read_tracks` reads fixes
from CSV files (``worker_id, time, lon, lat``) or GPX files and checks every row;
:func:`clean_tracks` sorts them, drops exact duplicates, repeated timestamps and jumps
(fixes that would need a speed above the limit from the last kept fix) and returns
what it kept and what it dropped, with the reason for each dropped fix;
:func:`stops_from_fixes` finds where a worker dwelt; :func:`lines_from_fixes` turns the
kept fixes into one line per worker and day.

Times are local times. Naive times (no offset, as in the sample data) are taken as
they are; times with an offset (GPX files carry UTC) are converted to ``timezone``
(China Standard Time by default) and the offset dropped. A worker-day is a calendar
day of these local times.

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

import datetime as dt
import io as _stdio
import logging
import os
import re
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridkit._types import CoordSystem, PathLike
from gridkit.crs import bd09_to_wgs84, gcj02_to_wgs84, local_crs
from gridkit.errors import EmptyLayerError, InputDataError, InputFileError, MissingFieldError, ParameterError

__all__ = [
    "DROP_REASONS",
    "clean_tracks",
    "lines_from_fixes",
    "read_tracks",
    "stops_from_fixes",
    "workday_keys",
]

logger = logging.getLogger(__name__)

TrackSource = PathLike | _stdio.StringIO

#: Why a fix was dropped by :func:`clean_tracks`.
DROP_REASONS: dict[str, str] = {
    "duplicate": "the same worker, time and position as an earlier fix",
    "same_time": "the same worker and time as an earlier fix at another position",
    "jump": "reaching it from the last kept fix needs a speed above the limit",
}

_FIELDS = ("worker_id", "time", "lon", "lat")
_ALIASES = {
    "worker_id": ("worker_id", "worker", "workerid", "user_id", "网格员编号"),
    "time": ("time", "timestamp", "datetime", "时间"),
    "lon": ("lon", "lng", "long", "longitude", "x", "经度"),
    "lat": ("lat", "latitude", "y", "纬度"),
}
_ROWS = "rows count from 0 after the header"
_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")
_TRACK_COLUMNS = ["worker_id", "time", "lon", "lat", "source", "row"]


# ----------------------------------------------------------------------------- reading


def read_tracks(
    sources: TrackSource | Sequence[TrackSource],
    *,
    input_coords: CoordSystem = "wgs84",
    timezone: str = "Asia/Shanghai",
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
    _check_timezone(timezone)
    frames = [_read_one(source, timezone) for source in _expand(sources)]
    fixes = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if input_coords != "wgs84":
        convert = gcj02_to_wgs84 if input_coords == "gcj02" else bd09_to_wgs84
        lon, lat = convert(fixes["lon"].to_numpy(), fixes["lat"].to_numpy())
        fixes["lon"], fixes["lat"] = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
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


def _read_one(source: TrackSource, timezone: str) -> pd.DataFrame:
    if isinstance(source, _stdio.StringIO):
        return _read_csv(source, "<text>", timezone)
    path = Path(source)
    ext = path.suffix.lower()
    if ext == ".gpx":
        return _read_gpx(path, timezone)
    if ext in (".csv", ".txt"):
        return _read_csv(path, path.name, timezone)
    raise InputDataError(f"track files must be .csv or .gpx, got {ext or 'no extension'!r}", path=path,
                         hint="export the tracks as CSV (worker_id, time, lon, lat) or GPX")


def _read_csv(source: PathLike | _stdio.StringIO, name: str, timezone: str) -> pd.DataFrame:
    where = source if isinstance(source, (str, os.PathLike)) else name
    try:
        raw = _csv_frame(source)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputFileError(f"cannot be read as CSV: {err}", path=where,
                             hint="save it as UTF-8 (or GBK) CSV with a header row") from None
    columns = {}
    for field, names in _ALIASES.items():
        found = next((c for c in raw.columns if str(c).strip().lower() in names), None)
        if found is None:
            raise MissingFieldError(
                f"the track table has no {field!r} column; it has: {', '.join(map(str, raw.columns))}",
                path=where, field=field, hint="name the columns worker_id, time, lon, lat")
        columns[field] = found
    if raw.empty:
        raise EmptyLayerError("the track table has no rows", path=where)
    index = pd.RangeIndex(len(raw))
    worker = raw[columns["worker_id"]].astype("string").str.strip()
    missing = worker.isna() | (worker == "")
    if missing.any():
        raise InputDataError(f"worker ids are missing ({_ROWS})", path=where, field=columns["worker_id"],
                             feature_ids=index[missing.to_numpy()].tolist(), hint="give every row a worker id")
    times = _parse_times(raw[columns["time"]], where, columns["time"], timezone)
    lon = _parse_coord(raw[columns["lon"]], where, columns["lon"], -180.0, 180.0)
    lat = _parse_coord(raw[columns["lat"]], where, columns["lat"], -90.0, 90.0)
    return pd.DataFrame({"worker_id": worker.astype(str).to_numpy(dtype=object), "time": times, "lon": lon,
                         "lat": lat, "source": name, "row": np.arange(len(raw), dtype=np.int64)})


def _csv_frame(source: PathLike | _stdio.StringIO) -> pd.DataFrame:
    """The table with worker ids and times as text; coordinates as numbers when they all are."""
    encodings = [None] if isinstance(source, _stdio.StringIO) else ["utf-8-sig", "gbk"]
    for encoding in encodings:
        try:
            header = pd.read_csv(source, nrows=0, encoding=encoding).columns
            as_text = {c: str for c in header
                       if str(c).strip().lower() in _ALIASES["worker_id"] + _ALIASES["time"]}
            if isinstance(source, _stdio.StringIO):
                source.seek(0)
            return pd.read_csv(source, dtype=as_text, keep_default_na=False, na_values=[""], encoding=encoding)
        except UnicodeDecodeError:
            if encoding == encodings[-1]:
                raise
    raise AssertionError("unreachable")


def _parse_times(values: pd.Series, where: Any, field: str, timezone: str) -> np.ndarray:
    try:  # the fast path: one ISO 8601 format throughout, all naive or all with an offset
        parsed = pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        pass
    else:
        if not parsed.isna().any():
            if parsed.dt.tz is not None:
                parsed = _to_local(parsed, timezone)
            return parsed.to_numpy(dtype="datetime64[ns]")
    text = values.astype("string").str.strip().str.replace("/", "-", regex=False)
    has_offset = text.str.contains(_OFFSET, na=False).to_numpy()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if (~has_offset).any():
        naive = pd.to_datetime(text[~has_offset], format="ISO8601", errors="coerce")
        out[~has_offset] = naive.astype("datetime64[ns]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], format="ISO8601", errors="coerce", utc=True)
        out[has_offset] = _to_local(aware, timezone).astype("datetime64[ns]")
    bad = out.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        example = values.iloc[rows[0]]
        raise InputDataError(
            f"times cannot be read, e.g. {example!r} ({_ROWS})", path=where, field=field,
            feature_ids=rows.tolist(), hint="write times as ISO 8601, e.g. 2024-06-26T08:30:00")
    return out.to_numpy()


def _to_local(aware: pd.Series, timezone: str) -> pd.Series:
    """Times with a zone as naive local times of ``timezone``."""
    return aware.dt.tz_convert(timezone).dt.tz_localize(None)


def _check_timezone(timezone: str) -> None:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ParameterError(f"unknown time zone {timezone!r} ({err})",
                             hint="give an IANA zone such as Asia/Shanghai") from None


def _parse_coord(values: pd.Series, where: Any, field: str, low: float, high: float) -> np.ndarray:
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not np.isfinite(numbers).all():  # spaces around numbers, then the checks below
        numbers = pd.to_numeric(values.astype("string").str.strip(), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers < low) | (numbers > high)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputDataError(
            f"coordinates are not numbers between {low:g} and {high:g} degrees, e.g. {values.iloc[rows[0]]!r} "
            f"({_ROWS})", path=where, field=field, feature_ids=rows.tolist(),
            hint="lon/lat must be decimal degrees (WGS84 or CGCS2000); use --input-coords for Amap/Baidu")
    return numbers


def _read_gpx(path: Path, timezone: str) -> pd.DataFrame:
    import gpxpy
    import gpxpy.gpx

    try:
        with open(path, encoding="utf-8") as f:
            gpx = gpxpy.parse(f)
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as err:
        raise InputFileError(f"cannot be read as GPX: {err}", path=path,
                             hint="check the file opens in a GPS tool; export it again if not") from None
    workers: list[str] = []
    times: list[dt.datetime | None] = []
    lons: list[float] = []
    lats: list[float] = []
    untimed: list[int] = []
    number = 0
    for track in gpx.tracks:
        worker = (track.name or "").strip() or path.stem
        for segment in track.segments:
            for point in segment.points:
                if point.time is None:
                    untimed.append(number)
                workers.append(worker)
                times.append(point.time)
                lons.append(point.longitude)
                lats.append(point.latitude)
                number += 1
    if not number:
        raise EmptyLayerError("the GPX file holds no track points", path=path,
                              hint="export the track (trk) with its points, not only waypoints or routes")
    if untimed:
        raise InputDataError("track points have no time (points count from 0 in file order)", path=path,
                             field="time", feature_ids=untimed, hint="export the GPX with timestamps")
    zone = zoneinfo.ZoneInfo(timezone)
    naive = [t if t is None or t.tzinfo is None else t.astimezone(zone).replace(tzinfo=None) for t in times]
    local = pd.to_datetime(pd.Series(naive, dtype=object)).to_numpy(dtype="datetime64[ns]")
    lon = _parse_coord(pd.Series(lons), path, "lon", -180.0, 180.0)
    lat = _parse_coord(pd.Series(lats), path, "lat", -90.0, 90.0)
    return pd.DataFrame({"worker_id": np.array(workers, dtype=object), "time": local, "lon": lon, "lat": lat,
                         "source": path.name, "row": np.arange(number, dtype=np.int64)})


# ----------------------------------------------------------------------------- cleaning


def clean_tracks(
    fixes: pd.DataFrame,
    *,
    max_speed_kmh: float = 25.0,
    crs: Any = None,
    anchor_gap_minutes: float = 10.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sort fixes by worker and time and drop duplicates, repeated times and jumps.

    A fix is dropped as a ``"duplicate"`` when an earlier fix (in file order) has the
    same worker, time and position; as ``"same_time"`` when an earlier one has the
    same worker and time but another position; and as a ``"jump"`` when reaching it
    from the worker's last kept fix needs a speed above ``max_speed_kmh``. A run of
    fixes far away (a GPS drift) is dropped until the track comes back within reach.
    When the fix before a jump starts the worker's track, or follows a gap of more than
    ``anchor_gap_minutes``, and the fixes after the jump agree with each other, that
    first fix is the stray one and is dropped instead. The jump search works on whole
    arrays: each pass settles the first jump of every worker that still has one.

    Parameters
    ----------
    fixes
        As returned by :func:`read_tracks` (``worker_id, time, lon, lat``; ``source``
        and ``row`` are kept when present).
    max_speed_kmh
        The fastest plausible speed: walking or cycling, 25 km/h by default.
    crs
        The metric CRS for distances; by default :func:`gridkit.crs.local_crs` of the
        fixes.
    anchor_gap_minutes
        A pause longer than this starts a new stretch whose first fix may be the stray.

    Returns
    -------
    kept, dropped : tuple of pandas.DataFrame
        ``kept``: the fixes kept, sorted by worker and time, with ``x``, ``y`` (metres
        in ``crs``; ``kept.attrs["crs"]``). ``dropped``: the other fixes with ``x``,
        ``y`` and ``reason`` (a key of :data:`DROP_REASONS`). Together they hold every
        input row once.
    """
    if not max_speed_kmh > 0:
        raise ParameterError(f"max_speed_kmh must be above 0, got {max_speed_kmh!r}")
    missing = [f for f in _FIELDS if f not in fixes.columns]
    if missing:
        raise MissingFieldError(f"fixes lack {', '.join(missing)}", field=missing[0],
                                hint="read them with gridkit.patrol.tracks.read_tracks")
    if crs is None:
        crs = local_crs((float(fixes["lon"].min()), float(fixes["lat"].min()),
                         float(fixes["lon"].max()), float(fixes["lat"].max())))
    crs = pyproj.CRS.from_user_input(crs)
    worker_codes = pd.factorize(fixes["worker_id"], sort=True)[0]
    file_order = np.arange(len(fixes))
    time_ns = fixes["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    order = np.lexsort((file_order, time_ns, worker_codes))
    frame = fixes.iloc[order].reset_index(drop=True)
    to_metric = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x, y = to_metric.transform(frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float))
    frame["x"], frame["y"] = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    reason = np.full(len(frame), "", dtype=object)
    dup = frame.duplicated(subset=["worker_id", "time", "lon", "lat"], keep="first").to_numpy()
    reason[dup] = "duplicate"
    same = frame.duplicated(subset=["worker_id", "time"], keep="first").to_numpy() & ~dup
    reason[same] = "same_time"
    alive = ~(dup | same)
    idx = np.flatnonzero(alive)
    jumps = _jumps(
        worker_codes[order][idx], time_ns[order][idx] / 1e9, frame["x"].to_numpy()[idx], frame["y"].to_numpy()[idx],
        max_speed_kmh / 3.6, anchor_gap_minutes * 60.0,
    )
    reason[idx[jumps]] = "jump"
    keep = reason == ""
    kept = frame[keep].reset_index(drop=True)
    dropped = frame[~keep].assign(reason=reason[~keep]).reset_index(drop=True)
    kept.attrs["crs"] = crs
    dropped.attrs["crs"] = crs
    logger.info("cleaned %d fixes: kept %d, dropped %s", len(frame), len(kept),
                dict(pd.Series(reason[~keep]).value_counts()) if (~keep).any() else 0)
    return kept, dropped


def _speed_ok(x: np.ndarray, y: np.ndarray, t: np.ndarray, a: np.ndarray, b: np.ndarray, vmax: float) -> np.ndarray:
    """Whether going from fix ``a`` to fix ``b`` (index arrays) stays within ``vmax`` m/s."""
    return np.hypot(x[b] - x[a], y[b] - y[a]) <= vmax * np.abs(t[b] - t[a])


def _jumps(w: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, vmax: float, gap: float) -> np.ndarray:
    """Fixes to drop as jumps; arrays sorted by worker then time, times strictly increasing per worker.

    Equivalent to walking each worker's fixes and dropping every fix not reachable
    from the last kept one, except that a stray first fix of a stretch (the worker's
    first fix, or the first after a pause longer than ``gap``) is dropped in place of
    what follows it. Each pass finds every violation on whole arrays and where each
    one's drifted run ends, then follows the chain of violations that remain once the
    earlier runs are dropped, all workers at once; a stray anchor ends the pass for its
    worker, which is scanned again.
    """
    n = len(w)
    drop = np.zeros(n, dtype=bool)
    if n < 2:
        return drop
    worker_start = np.r_[0, np.flatnonzero(w[1:] != w[:-1]) + 1]
    worker_end = np.r_[worker_start[1:], n]
    end_of = np.repeat(worker_end, np.diff(np.r_[worker_start, n]))
    stretch_start = np.r_[True, (w[1:] != w[:-1]) | (np.diff(t) > gap)]
    active = np.arange(len(worker_start))
    while active.size:
        rows = _rows_of(worker_start[active], worker_end[active])
        rows = rows[~drop[rows]]
        a, b = rows[:-1], rows[1:]
        bad = (w[a] == w[b]) & ~_speed_ok(x, y, t, a, b, vmax)
        if not bad.any():
            break
        k = np.flatnonzero(bad)
        p, i = a[k], b[k]
        # a stray anchor: p starts a stretch and i agrees with the fix after it
        after = b[np.minimum(k + 1, len(b) - 1)]
        has_after = (k + 1 < len(b)) & (w[after] == w[i])
        stray = stretch_start[p] & has_after & _speed_ok(x, y, t, i, after, vmax)
        # otherwise i .. j-1 go, j the first later fix reachable from p
        j = _first_reachable(p, i, end_of, drop, x, y, t, vmax)
        run, lone = _chain(p, j, w, stray)
        drop[p[lone]] = True
        _mark_runs(drop, i[run], j[run])
        active = np.unique(np.searchsorted(worker_start, p[lone], side="right") - 1)
    return drop


def _chain(p: np.ndarray, j: np.ndarray, w: np.ndarray, stray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The violations a sequential walk meets: from each worker's first, the next with its anchor at or after j.

    Returns masks over the violations: runs to drop, and stray anchors to drop (a stray
    ends its worker's chain: what precedes it must be checked again).
    """
    m = len(p)
    run = np.zeros(m, dtype=bool)
    lone = np.zeros(m, dtype=bool)
    frontier = np.flatnonzero(np.r_[True, w[p[1:]] != w[p[:-1]]])
    while frontier.size:
        s = stray[frontier]
        lone[frontier[s]] = True
        go = frontier[~s]
        run[go] = True
        nxt = np.searchsorted(p, j[go], side="left")
        inside = nxt < m
        same = np.zeros(go.size, dtype=bool)
        same[inside] = w[p[nxt[inside]]] == w[p[go[inside]]]
        frontier = nxt[same]
    return run, lone


def _rows_of(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """All positions from ``starts[k]`` to ``ends[k]`` (excluded), concatenated."""
    lengths = ends - starts
    offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return np.arange(int(lengths.sum())) + offsets


def _first_reachable(
    p: np.ndarray, i: np.ndarray, end_of: np.ndarray, drop: np.ndarray,
    x: np.ndarray, y: np.ndarray, t: np.ndarray, vmax: float,
) -> np.ndarray:
    """For each jump (p, i): the first kept position after i reachable from p (or the worker's end)."""
    j = end_of[i].copy()
    pending = np.arange(len(p))
    offset, block = 1, 8
    while pending.size:
        steps = np.arange(offset, offset + block)
        cand = i[pending, None] + steps[None, :]
        inside = cand < end_of[i[pending], None]
        safe = np.where(inside, cand, i[pending, None])
        ok = inside & ~drop[safe] & _speed_ok(x, y, t, np.broadcast_to(p[pending, None], cand.shape), safe, vmax)
        hit = ok.any(axis=1)
        j[pending[hit]] = cand[hit, ok[hit].argmax(axis=1)]
        pending = pending[~hit & inside[:, -1]]
        offset += block
        block = min(block * 2, 4096)
    return j


def _mark_runs(mask: np.ndarray, begin: np.ndarray, end: np.ndarray) -> None:
    """Set ``mask[begin[k]:end[k]] = True`` for every k, without a loop."""
    if not begin.size:
        return
    delta = np.zeros(len(mask) + 1, dtype=np.int64)
    np.add.at(delta, begin, 1)
    np.add.at(delta, end, -1)
    mask |= np.cumsum(delta[:-1]) > 0


# ----------------------------------------------------------------------------- days, lines, stops


def workday_keys(kept: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """A worker-day number per fix, and the table of worker-days (``worker_id``, ``day``).

    Fixes must be sorted by worker and time (as :func:`clean_tracks` returns them): a
    worker-day starts where the worker or the calendar day changes.
    """
    worker = pd.factorize(kept["worker_id"].to_numpy(), sort=False)[0]
    day = kept["time"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    start = np.r_[True, (worker[1:] != worker[:-1]) | (day[1:] != day[:-1])] if len(worker) else np.zeros(0, bool)
    codes = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    table = pd.DataFrame({
        "worker_id": kept["worker_id"].to_numpy()[first].astype(str),
        "day": pd.to_datetime(day[first], unit="D").strftime("%Y-%m-%d").to_numpy(dtype=object),
    })
    return codes.astype(np.int64), table


def lines_from_fixes(
    kept: pd.DataFrame,
    *,
    max_gap_minutes: float = 10.0,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """One (multi)line per worker-day through its kept fixes, broken where the GPS paused.

    Parameters
    ----------
    kept
        Kept fixes with ``x``, ``y`` (from :func:`clean_tracks`).
    max_gap_minutes
        A pause longer than this (lunch, signal lost) breaks the line: the track is not
        drawn straight across it. A lone fix between pauses becomes a zero-length part.
    crs
        The CRS of ``x``, ``y``; by default ``kept.attrs["crs"]``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``worker_id``, ``day`` (YYYY-MM-DD), ``fixes``, geometry (MultiLineString), in
        worker-day order of :func:`workday_keys`.
    """
    wd, table = workday_keys(kept)
    t = kept["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    xy = kept[["x", "y"]].to_numpy(dtype=float)
    brk = np.r_[True, (wd[1:] != wd[:-1]) | (np.diff(t) > max_gap_minutes * 60.0)]
    part = np.cumsum(brk) - 1
    lone = np.bincount(part) == 1
    # a lone fix is doubled so every part is a line
    doubled = lone[part]
    rep = np.where(doubled, 2, 1)
    coords = np.repeat(xy, rep, axis=0)
    parts = shapely.linestrings(coords, indices=np.repeat(part, rep))
    part_wd = wd[brk]
    geoms = shapely.multilinestrings(parts, indices=part_wd)
    out = table.assign(fixes=np.bincount(wd, minlength=len(table)))
    return gpd.GeoDataFrame(out, geometry=geoms, crs=crs if crs is not None else kept.attrs.get("crs"))


def stops_from_fixes(
    kept: pd.DataFrame,
    *,
    radius_m: float = 30.0,
    min_minutes: float = 2.0,
    max_gap_minutes: float = 10.0,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Stops: a worker staying within ``radius_m`` of a fix for at least ``min_minutes``.

    From each fix the stop reaches forward over the following fixes of the same
    worker-day while they stay within ``radius_m`` of it; when they span at least
    ``min_minutes`` they form a stop and the search continues after its last fix
    (the stay-point rule). A pause in the fixes longer than ``max_gap_minutes`` ends a
    stop: where the worker was meanwhile is not known. Reach is computed over whole
    arrays (each fix looks at most ``min_minutes`` ahead); the loop is over the stops
    found, each extended in growing blocks.

    Returns
    -------
    geopandas.GeoDataFrame
        ``worker_id``, ``day``, ``start``, ``end``, ``minutes``, ``fixes``, geometry
        (the mean position of the stop's fixes), in ``crs`` (default
        ``kept.attrs["crs"]``).

    Examples
    --------
    >>> import pandas as pd
    >>> times = pd.date_range("2024-06-26 08:00", periods=10, freq="30s")
    >>> kept = pd.DataFrame({"worker_id": "W1", "time": times, "x": [0, 1, 2, 1, 0, 1, 100, 200, 300, 400.0],
    ...                      "y": 0.0})
    >>> stops = stops_from_fixes(kept, crs=3857)
    >>> stops[["start", "end", "minutes", "fixes"]].astype(str).values.tolist()
    [['2024-06-26 08:00:00', '2024-06-26 08:02:30', '2.5', '6']]
    """
    wd, table = workday_keys(kept)
    n = len(kept)
    t = kept["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    x, y = kept["x"].to_numpy(dtype=float), kept["y"].to_numpy(dtype=float)
    stretch = np.cumsum(np.r_[True, (wd[1:] != wd[:-1]) | (np.diff(t) > max_gap_minutes * 60.0)])
    stretch_end = np.r_[np.flatnonzero(stretch[1:] != stretch[:-1]) + 1, n][stretch - 1]
    # a fix can start a stop when every fix up to min_minutes later is within the radius
    # (bounded windows: at most the fixes of min_minutes per fix)
    key = stretch * (t.max() - t.min() + 10.0 * min_minutes * 60.0 + 1.0) + (t - t.min()) if n else t
    due = np.searchsorted(key, key + min_minutes * 60.0, side="left")
    alive = np.flatnonzero(due < stretch_end)
    step = 1
    while alive.size:
        nxt = alive + step
        ok = np.hypot(x[nxt] - x[alive], y[nxt] - y[alive]) <= radius_m
        alive = alive[ok]
        reached = nxt[ok] >= due[alive]
        candidate_ok = alive[reached]
        if step == 1:
            candidates = candidate_ok
        else:
            candidates = np.concatenate([candidates, candidate_ok])
        alive = alive[~reached]
        step += 1
    if step == 1:
        candidates = np.zeros(0, dtype=np.int64)
    candidates = np.sort(candidates)
    # the stay-point walk: a stop from the first candidate on, as far as the radius holds
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    while True:
        at = int(np.searchsorted(candidates, pos))
        if at >= candidates.size:
            break
        start = int(candidates[at])
        end = _reach(x, y, start, int(due[start]), int(stretch_end[start]), radius_m)
        starts.append(start)
        ends.append(end)
        pos = end + 1
    first = np.asarray(starts, dtype=np.int64)
    last = np.asarray(ends, dtype=np.int64)
    count = last - first + 1
    member = np.repeat(np.arange(first.size), count)
    rows = np.repeat(first - np.r_[0, np.cumsum(count)[:-1]], count) + np.arange(int(count.sum()))
    mx = np.bincount(member, weights=x[rows], minlength=first.size) / np.maximum(count, 1)
    my = np.bincount(member, weights=y[rows], minlength=first.size) / np.maximum(count, 1)
    times = kept["time"].to_numpy(dtype="datetime64[ns]")
    out = pd.DataFrame({
        "worker_id": table["worker_id"].to_numpy()[wd[first]] if first.size else np.array([], dtype=object),
        "day": table["day"].to_numpy()[wd[first]] if first.size else np.array([], dtype=object),
        "start": times[first], "end": times[last],
        "minutes": np.round((t[last] - t[first]) / 60.0, 2), "fixes": count,
    })
    return gpd.GeoDataFrame(out, geometry=shapely.points(mx, my),
                            crs=crs if crs is not None else kept.attrs.get("crs"))


def _reach(x: np.ndarray, y: np.ndarray, start: int, known: int, limit: int, radius: float) -> int:
    """The last position before ``limit`` such that every fix from ``start`` to it is within ``radius``.

    Positions up to ``known`` are already known to be within it.
    """
    pos, block = known + 1, 16
    while pos < limit:
        stop = min(pos + block, limit)
        far = np.hypot(x[pos:stop] - x[start], y[pos:stop] - y[start]) > radius
        if far.any():
            return pos + int(np.argmax(far)) - 1
        pos, block = stop, block * 2
    return limit - 1
