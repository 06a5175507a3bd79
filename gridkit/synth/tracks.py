"""GPS tracks of grid workers: three working days of 30-second fixes walking their streets.

The fixes are raw, as a phone reports them: GPS noise of a few metres, a few duplicated
fixes and one or two jumps of hundreds of metres per worker, for the track checks to clean.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit.synth.cases import iso_times
from gridkit.synth.constants import TRACK_DAYS
from gridkit.synth.layers import lonlat
from gridkit.synth.town import Town

__all__ = ["worker_tracks"]


def worker_tracks(town: Town, workers: pd.DataFrame, comms: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Three working days of 30-second GPS fixes of eight grid workers walking their streets."""
    urban = comms[comms["kind"] == "city"]
    chosen = _track_workers(workers, urban["code"].tolist())
    index_of = dict(zip(urban["code"], urban["index"]))
    frames = []
    for worker_id, code in chosen:
        frames.append(_worker_track(town, int(index_of[code]), worker_id, rng))
    frame = pd.concat(frames, ignore_index=True)
    lon, lat = lonlat(frame[["x", "y"]].to_numpy())
    return pd.DataFrame({"worker_id": frame["worker_id"], "time": iso_times(frame["time"].to_numpy()),
                         "lon": np.round(lon, 7), "lat": np.round(lat, 7)})


def _track_workers(workers: pd.DataFrame, codes: list[str]) -> list[tuple[str, str]]:
    """Eight workers taken in turn from the urban communities."""
    by_code = {c: workers.loc[workers["community_code"] == c, "worker_id"].tolist() for c in codes}
    chosen: list[tuple[str, str]] = []
    rank = 0
    while len(chosen) < 8 and any(len(v) > rank for v in by_code.values()):
        chosen += [(v[rank], c) for c, v in by_code.items() if len(v) > rank][: 8 - len(chosen)]
        rank += 1
    return chosen


def _worker_track(town: Town, community: int, worker_id: str, rng: np.random.Generator) -> pd.DataFrame:
    ii, jj = np.nonzero(town.comm == community)
    box = (ii.min(), ii.max() + 1, jj.min(), jj.max() + 1)
    frames = []
    for day in TRACK_DAYS:
        times = np.concatenate([np.datetime64(f"{day}T08:30:00") + np.arange(420) * np.timedelta64(30, "s"),
                                np.datetime64(f"{day}T14:00:00") + np.arange(420) * np.timedelta64(30, "s")])
        step = _walking_steps(len(times), rng)
        path = _random_walk(town, box, float(step.sum()) + 50, rng)
        xy = _along_path(path, np.cumsum(step))
        frames.append(pd.DataFrame({"time": times, "x": xy[:, 0], "y": xy[:, 1]}))
    frame = pd.concat(frames, ignore_index=True)
    frame[["x", "y"]] += rng.normal(0, 3.5, (len(frame), 2))
    jumps = rng.choice(len(frame), size=int(rng.integers(1, 3)), replace=False)
    away = rng.uniform(0, 2 * np.pi, len(jumps))
    frame.loc[jumps, "x"] += rng.uniform(300, 900, len(jumps)) * np.cos(away)
    frame.loc[jumps, "y"] += rng.uniform(300, 900, len(jumps)) * np.sin(away)
    dupes = rng.choice(len(frame), size=int(rng.integers(3, 7)), replace=False)
    frame = pd.concat([frame, frame.loc[dupes]]).sort_values("time", kind="stable").reset_index(drop=True)
    return frame.assign(worker_id=worker_id)


def _walking_steps(n: int, rng: np.random.Generator) -> np.ndarray:
    """Metres walked between fixes: about 1.2 m/s, with stops of a few minutes."""
    stopped = np.zeros(n, dtype=bool)
    u = rng.random(n)
    for k in range(1, n):
        stopped[k] = u[k] < (0.75 if stopped[k - 1] else 0.05)
    speed = rng.normal(1.2, 0.15, n).clip(0.6, 1.8)
    return np.where(stopped, 0.0, speed * 30)


def _random_walk(
    town: Town, box: tuple[int, int, int, int], length: float, rng: np.random.Generator
) -> np.ndarray:
    """Vertices of a walk along the lattice streets of a community's node box."""
    i0, i1, j0, j1 = box
    i, j = int(rng.integers(i0, i1 + 1)), int(rng.integers(j0, j1 + 1))
    parts, total, prev = [town.nodes[i, j][None]], 0.0, (-1, -1)
    while total < length:
        options = [(a, b) for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1))
                   if i0 <= a <= i1 and j0 <= b <= j1 and (a, b) != prev]
        a, b = options[int(rng.integers(len(options)))]
        edge = _edge(town, (i, j), (a, b))
        parts.append(edge[1:])
        total += float(np.hypot(*np.diff(edge, axis=0).T).sum())
        prev, i, j = (i, j), a, b
    return np.concatenate(parts)


def _edge(town: Town, a: tuple[int, int], b: tuple[int, int]) -> np.ndarray:
    (i, j), (k, m) = a, b
    if j == m:
        coords = town.hedges[min(i, k), j]
        return coords if k > i else coords[::-1]
    coords = town.vedges[i, min(j, m)]
    return coords if m > j else coords[::-1]


def _along_path(path: np.ndarray, distance: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    return np.stack([np.interp(distance, cum, path[:, 0]), np.interp(distance, cum, path[:, 1])], axis=1)

