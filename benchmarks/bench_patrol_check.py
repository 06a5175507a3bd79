"""How fast ``gridkit patrol check`` measures a million GPS fixes, against a plain geopandas approach.

Run on demand (not part of the test suite)::

    python benchmarks/bench_patrol_check.py [--households 100000] [--workers 300] [--days 4]
                                            [--seed 1] [--workdir DIR] [--peer-share 1.0] [--no-peer] [--repeat 3]
    python benchmarks/bench_patrol_check.py --hard-cases [--repeat 3]

Preparation (cached in ``--workdir``): a synthetic county (``gridkit synth``, no incidents
or tracks), its grids (``gridkit partition``), and ``tracks.csv``: each of ``--workers``
workers walks the streets of one grid for ``--days`` days, 08:30-12:00 and 14:00-17:30,
a fix every 30 s (840 fixes a day; 300 x 4 days = 1,008,000 fixes), at about 1.2 m/s
along the streets of its grid and of the neighbouring grids within 150 m of it
with stops of a few minutes, 3.5 m of GPS noise, 1-2 jumps of 300-900 m and 3-6
duplicated fixes a day.

Then, each in a fresh Python process (its peak memory its own):

- ``gridkit``: ``read_tracks`` + ``check_tracks`` (cleaning, worker grids, distance,
  time in grid, street coverage 25 m, buildings passed 30 m, stops, excursions,
  unvisited buildings of the month);
- ``peer``: the same measures written the plain way: pandas ``drop_duplicates``, a
  Python loop per fix for jumps and for stops, ``geopandas.sjoin`` of the fixes with the
  grids, one LineString per worker-day buffered 25 m and intersected with its grid's
  street pieces, buffered 30 m and joined with the buildings. ``--peer-share`` runs it
  on that share of the workers (its time is then scaled up, all but the fixed cost of
  cutting the streets per grid, and the table says so). Its cost is mostly
  ``buffer`` of noisy day lines that cross themselves (about a second each here).

The script prints the command, a Markdown table (time, peak memory, ratio) and how far
the two agree on street coverage and buildings passed. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _measure import Samples, Session, add_repeat

_START = ("08:30:00", "14:00:00")
_PER_STRETCH = 420
_STEP_S = 30


# ----------------------------------------------------------------------------- preparation


def prepare(workdir: Path, households: int, workers: int, days: int, seed: int) -> Path:
    """Write the county, its grids and tracks.csv into ``workdir`` (once); return the tracks path."""
    county = workdir / "county"
    grids = workdir / "part" / "grids.gpkg"
    tracks = workdir / f"tracks_{workers}x{days}_s{seed}.csv"
    if not (county / "streets.gpkg").exists():
        _log(f"synth county of {households:,} households")
        subprocess.run(["gridkit", "--quiet", "synth", "-o", str(county), "--seed", str(seed), "--households",
                        str(households), "--no-incidents", "--no-tracks"], check=True, stdout=subprocess.DEVNULL)
    if not grids.exists():
        _log("partition")
        subprocess.run(["gridkit", "--quiet", "partition", str(county / "communities.gpkg"), "--buildings",
                        str(county / "buildings.gpkg"), "--streets", str(county / "streets.gpkg"), "--dedicated",
                        str(county / "dedicated.gpkg"), "-o", str(workdir / "part")], check=True,
                       stdout=subprocess.DEVNULL)
    if not tracks.exists():
        _log(f"tracks of {workers} workers x {days} days")
        _write_tracks(county / "streets.gpkg", grids, tracks, workers, days, seed)
    return tracks


def _write_tracks(streets_path: Path, grids_path: Path, out: Path, workers: int, days: int, seed: int) -> None:
    import geopandas as gpd
    import pandas as pd
    import pyproj
    import shapely

    from gridkit.patrol.streets import streets_for_grids

    rng = np.random.default_rng(seed)
    grids = gpd.read_file(grids_path, layer="grids")
    grids = grids[grids["kind"] == "city"]
    pieces = streets_for_grids(gpd.read_file(streets_path), grids)
    crs = pieces.crs
    # a worker walks the streets of the own grid and of the grids around it (same community)
    graphs = _graphs(pieces)
    codes = sorted(c for c in graphs if len(graphs[c][0]) >= 4)
    chosen = rng.choice(codes, size=workers, replace=len(codes) < workers)
    frames = []
    for w, code in enumerate(chosen):
        nodes, adj = graphs[code]
        for d in range(days):
            day = pd.Timestamp("2024-06-03") + pd.Timedelta(days=d)
            frames.append(_worker_day(f"W{w:05d}", day, nodes, adj, rng))
    frame = pd.concat(frames, ignore_index=True)
    lon, lat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(frame["x"], frame["y"])
    out_frame = pd.DataFrame({"worker_id": frame["worker_id"], "time": frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
                              "lon": np.round(lon, 7), "lat": np.round(lat, 7)})
    tmp = out.with_suffix(".tmp")
    out_frame.to_csv(tmp, index=False)
    os.replace(tmp, out)
    del shapely


def _graphs(pieces) -> dict[str, tuple[np.ndarray, list[list[int]]]]:
    """Per grid: node coordinates and adjacency lists of the street pieces of the grid and its
    neighbours in the community, within 150 m of the grid (vertices joined at 0.1 m)."""
    import shapely

    out: dict[str, tuple[np.ndarray, list[list[int]]]] = {}
    hulls = pieces.dissolve("grid_code").geometry.envelope.buffer(150)
    community = pieces["grid_code"].str[:12]
    for code, hull in hulls.items():
        group = pieces[(community == code[:12]).to_numpy()]
        group = group[group.intersects(hull)]
        coords, which = shapely.get_coordinates(group.geometry.to_numpy(), return_index=True)
        keys = np.round(coords, 1)
        uniq, node = np.unique(keys, axis=0, return_inverse=True)
        node = node.ravel()
        same = which[1:] == which[:-1]
        a, b = node[:-1][same], node[1:][same]
        adj: list[list[int]] = [[] for _ in range(len(uniq))]
        for u, v in zip(a.tolist(), b.tolist()):
            if u != v:
                adj[u].append(v)
                adj[v].append(u)
        out[str(code)] = (uniq, adj)
    return out


def _worker_day(worker: str, day, nodes: np.ndarray, adj: list[list[int]], rng: np.random.Generator):
    import pandas as pd

    n = 2 * _PER_STRETCH
    times = np.concatenate([
        np.datetime64(f"{day:%Y-%m-%d}T{start}") + np.arange(_PER_STRETCH) * np.timedelta64(_STEP_S, "s")
        for start in _START])
    # stops: a stop starts at 4 % of fixes and lasts a geometric number of fixes (mean 4)
    stopped = np.zeros(n + 64, dtype=np.int64)
    starts = np.flatnonzero(rng.random(n) < 0.04)
    lengths = rng.geometric(0.25, size=starts.size)
    np.add.at(stopped, starts, 1)
    np.add.at(stopped, np.minimum(starts + lengths, n + 63), -1)
    moving = np.cumsum(stopped)[:n] == 0
    step = np.where(moving, rng.normal(1.2, 0.15, n).clip(0.6, 1.8) * _STEP_S, 0.0)
    xy = np.empty((n, 2))
    for k in range(2):
        part = slice(k * _PER_STRETCH, (k + 1) * _PER_STRETCH)
        dist = np.cumsum(step[part]) - step[part][0]
        path = _random_walk(nodes, adj, float(dist[-1]) + 50.0, rng)
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
        xy[part, 0] = np.interp(dist, cum, path[:, 0])
        xy[part, 1] = np.interp(dist, cum, path[:, 1])
    xy += rng.normal(0, 3.5, xy.shape)
    jumps = rng.choice(n, size=int(rng.integers(1, 3)), replace=False)
    away = rng.uniform(0, 2 * np.pi, jumps.size)
    reach = rng.uniform(300, 900, jumps.size)
    xy[jumps, 0] += reach * np.cos(away)
    xy[jumps, 1] += reach * np.sin(away)
    frame = pd.DataFrame({"worker_id": worker, "time": times, "x": xy[:, 0], "y": xy[:, 1]})
    dupes = rng.choice(n, size=int(rng.integers(3, 7)), replace=False)
    return pd.concat([frame, frame.iloc[dupes]]).sort_values("time", kind="stable")


def _random_walk(nodes: np.ndarray, adj: list[list[int]], length: float, rng: np.random.Generator) -> np.ndarray:
    start = int(rng.integers(len(nodes)))
    while not adj[start]:
        start = int(rng.integers(len(nodes)))
    path, prev, here, total = [start], -1, start, 0.0
    while total < length:
        options = [v for v in adj[here] if v != prev] or adj[here]
        nxt = options[int(rng.integers(len(options)))]
        total += float(np.hypot(*(nodes[nxt] - nodes[here])))
        prev, here = here, nxt
        path.append(here)
    return nodes[path]


# ----------------------------------------------------------------------------- the runs


def run_gridkit(workdir: Path, tracks: Path) -> dict:
    import geopandas as gpd

    from gridkit.patrol.coverage import check_tracks
    from gridkit.patrol.tracks import read_tracks

    grids_path = workdir / "part" / "grids.gpkg"
    grids = gpd.read_file(grids_path, layer="grids")
    buildings = gpd.read_file(grids_path, layer="buildings")
    streets = gpd.read_file(workdir / "county" / "streets.gpkg")
    t0 = time.perf_counter()
    fixes = read_tracks(tracks)
    t1, c1 = time.perf_counter(), time.process_time()
    result = check_tracks(fixes, grids, streets=streets, buildings=buildings, month="2024-06")
    t2, c2 = time.perf_counter(), time.process_time()
    days = result.days[["worker_id", "day", "grid_code", "street_coverage", "buildings_passed"]]
    return {"fixes": len(fixes), "worker_days": len(result.days), "read_s": t1 - t0, "check_s": t2 - t1,
            "check_cpu_s": c2 - c1,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "days": days.astype({"buildings_passed": float}).to_dict("list"),
            "dropped": result.figures["fixes_dropped"]}


def run_peer(workdir: Path, tracks: Path, share: float) -> dict:
    """The same measures the plain way: pandas, Python loops per fix, geopandas sjoin/buffer/intersection."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from gridkit.crs import local_crs
    from gridkit.patrol.streets import streets_for_grids

    grids_path = workdir / "part" / "grids.gpkg"
    grids = gpd.read_file(grids_path, layer="grids")
    buildings = gpd.read_file(grids_path, layer="buildings")
    streets = gpd.read_file(workdir / "county" / "streets.gpkg")
    t0 = time.perf_counter()
    df = pd.read_csv(tracks, dtype={"worker_id": str})
    if share < 1.0:
        ids = np.sort(df["worker_id"].unique())
        df = df[df["worker_id"].isin(ids[: max(1, int(len(ids) * share))])]
    df["time"] = pd.to_datetime(df["time"])
    t1, c1 = time.perf_counter(), time.process_time()
    crs = local_crs(grids)
    g = grids.to_crs(crs)[["grid_code", "geometry"]]
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326).to_crs(crs)
    pts = pts.sort_values(["worker_id", "time"], kind="stable")
    pts = pts.drop_duplicates(["worker_id", "time", "lon", "lat"]).drop_duplicates(["worker_id", "time"])
    pts["x"], pts["y"] = pts.geometry.x, pts.geometry.y
    # jumps: the textbook loop, from the last kept fix
    keep = np.ones(len(pts), dtype=bool)
    vmax = 25 / 3.6
    xs, ys = pts["x"].to_numpy(), pts["y"].to_numpy()
    ts = pts["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    ws = pts["worker_id"].to_numpy()
    last = 0
    for k in range(1, len(pts)):
        if ws[k] != ws[last]:
            last = k
            continue
        if np.hypot(xs[k] - xs[last], ys[k] - ys[last]) > vmax * (ts[k] - ts[last]):
            keep[k] = False
        else:
            last = k
    pts = pts[keep].copy()
    pts["day"] = pts["time"].dt.strftime("%Y-%m-%d")
    joined = gpd.sjoin(pts, g, how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    pts["grid_code"] = joined["grid_code"]
    pts["dt"] = pts.groupby("worker_id")["time"].diff().dt.total_seconds().fillna(0).clip(upper=600)
    own = pts.groupby(["worker_id", "grid_code"])["dt"].sum().reset_index().sort_values(
        ["worker_id", "dt"], ascending=[True, False]).drop_duplicates("worker_id").set_index("worker_id")["grid_code"]
    pts["own"] = pts["worker_id"].map(own)
    # one line per worker-day, broken at pauses of more than 10 minutes
    gap = pts.groupby(["worker_id", "day"])["time"].diff().dt.total_seconds().fillna(1e9) > 600
    pts["part"] = gap.cumsum()
    parts = pts.groupby(["worker_id", "day", "part"]).apply(
        lambda f: shapely.LineString(np.repeat(f[["x", "y"]].to_numpy(), 2 if len(f) == 1 else 1, axis=0)),
        include_groups=False).rename("geometry").reset_index()
    lines = parts.groupby(["worker_id", "day"])["geometry"].apply(
        lambda s: shapely.MultiLineString(list(s))).reset_index()
    lines = gpd.GeoDataFrame(lines, geometry="geometry", crs=crs)
    lines["grid_code"] = lines["worker_id"].map(own)
    t_fixed = time.perf_counter()
    pieces = streets_for_grids(streets, grids)  # a fixed cost, not scaled with --peer-share
    fixed = time.perf_counter() - t_fixed
    total = pieces.groupby("grid_code")["length_m"].sum()
    buf = lines.assign(geometry=lines.buffer(25))
    pairs = buf.merge(pieces[["grid_code", "geometry"]].rename(columns={"geometry": "piece"}), on="grid_code")
    pairs["covered"] = gpd.GeoSeries(pairs["piece"], crs=crs).intersection(pairs.geometry).length
    covered = pairs.groupby(["worker_id", "day"])["covered"].sum()
    days = lines[["worker_id", "day", "grid_code"]].set_index(["worker_id", "day"])
    days["street_coverage"] = covered / days["grid_code"].map(total).to_numpy()
    b = buildings.to_crs(crs)[["building_id", "grid_code", "geometry"]].rename(columns={"grid_code": "b_grid"})
    near = gpd.sjoin(lines.assign(geometry=lines.buffer(30)), b, predicate="intersects")
    near = near[near["b_grid"] == near["grid_code"]]
    days["buildings_passed"] = near.groupby(["worker_id", "day"]).size().reindex(days.index, fill_value=0)
    # share of time inside the own grid (15 m tolerance), excursions
    own_geom = pts["own"].map(g.set_index("grid_code").geometry)
    dist = gpd.GeoSeries(own_geom.to_numpy(), crs=crs).distance(pts.geometry.reset_index(drop=True))
    pts["inside"] = dist.to_numpy() <= 15
    days["share_in_grid"] = pts.groupby(["worker_id", "day"]).apply(
        lambda f: (f["dt"] * f["inside"]).sum() / max(f["dt"].sum(), 1e-9), include_groups=False)
    # stops: the textbook stay-point loop
    stops = 0
    for _, f in pts.groupby(["worker_id", "day"]):
        x, y, t = f["x"].to_numpy(), f["y"].to_numpy(), f["time"].to_numpy(dtype="datetime64[s]").astype(float)
        i = 0
        while i < len(f):
            j = i + 1
            while j < len(f) and np.hypot(x[j] - x[i], y[j] - y[i]) <= 30:
                j += 1
            if t[j - 1] - t[i] >= 120:
                stops += 1
                i = j
            else:
                i += 1
    t2, c2 = time.perf_counter(), time.process_time()
    days = days.reset_index()
    return {"fixes": len(df), "worker_days": len(days), "read_s": t1 - t0, "check_s": t2 - t1, "fixed_s": fixed,
            "check_cpu_s": c2 - c1,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "stops": stops,
            "days": days[["worker_id", "day", "grid_code", "street_coverage", "buildings_passed"]]
            .astype({"buildings_passed": float}).to_dict("list")}


# ----------------------------------------------------------------------------- driver


def _log(text: str) -> None:
    print(f"[bench_patrol_check] {text}", file=sys.stderr, flush=True)


def _child(which: str, workdir: Path, tracks: Path, share: float) -> dict:
    cmd = [sys.executable, __file__, "--child", which, "--workdir", str(workdir), "--tracks", str(tracks),
           "--peer-share", str(share)]
    _log(f"running {which}")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=300)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/gridkit_bench_patrol_check")
    parser.add_argument("--peer-share", type=float, default=1.0)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--hard-cases", action="store_true",
                        help="only the hard cases: dense noisy fixes full of jumps, a phone left on a desk")
    parser.add_argument("--child", choices=["gridkit", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--tracks", help=argparse.SUPPRESS)
    add_repeat(parser)
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    if args.child:
        tracks = Path(args.tracks)
        result = run_gridkit(workdir, tracks) if args.child == "gridkit" else run_peer(workdir, tracks, args.peer_share)
        print(json.dumps(result))
        return 0
    session = Session(argv)
    if args.hard_cases:
        rows = hard_cases(args.repeat)
        print(session.header(args.repeat))
        print(rows)
        return 0
    workdir.mkdir(parents=True, exist_ok=True)
    tracks = prepare(workdir, args.households, args.workers, args.days, args.seed)
    runs: dict[str, list[dict]] = {"gridkit": []}
    if not args.no_peer:
        runs["peer"] = []
    for i in range(args.repeat):
        for name, got in runs.items():
            _log(f"run {i + 1}/{args.repeat}")
            got.append(_child(name, workdir, tracks, 1.0 if name == "gridkit" else args.peer_share))
    results = {name: got[0] for name, got in runs.items()}
    gk = results["gridkit"]
    s = Samples()
    for name, got in runs.items():
        for r, ours in zip(got, runs["gridkit"]):
            scale = gk["fixes"] / r["fixes"]
            fixed = r.get("fixed_s", 0.0)
            check = s.add(f"{name} check", (r["check_s"] - fixed) * scale + fixed)
            s.add(f"{name} cpu", (r["check_cpu_s"] - fixed) * scale + fixed)
            s.add(f"{name} read", r["read_s"] * scale)
            s.add(f"{name} peak", r["peak_mb"])
            s.add(f"{name} ratio", check / ours["check_s"])
    print(session.header(args.repeat))
    print("| approach | fixes | worker-days | read s | clean + check s (wall) | CPU s | peak MB | time / gridkit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        scale = gk["fixes"] / r["fixes"]
        note = "" if scale == 1 else f" (ran {r['fixes']:,} fixes, time x{scale:.2f})"
        print(f"| {name}{note} | {gk['fixes']:,} | {gk['worker_days']:,} | {s.cell(name + ' read')} | "
              f"{s.cell(name + ' check')} | {s.cell(name + ' cpu')} | {s.cell(name + ' peak', '.0f')} | "
              f"{s.cell(name + ' ratio', '.1f')} |")
    print(f"\ndropped by gridkit: {gk['dropped']}")
    if "peer" in results:
        _agreement(gk["days"], results["peer"]["days"])
    return 0


def hard_cases(repeat: int) -> str:
    """Cleaning and stops where a pass-per-jump or a look-ahead-per-fix design would crawl: the table."""
    import pandas as pd
    import pyproj

    from gridkit.patrol.tracks import clean_tracks, stops_from_fixes

    rng = np.random.default_rng(0)
    n = 100_000
    x = 362_000 + np.cumsum(rng.normal(0, 1.0, n)) + rng.normal(0, 5, n)
    y = 2_930_000 + rng.normal(0, 5, n)
    lon, lat = pyproj.Transformer.from_crs(4545, 4326, always_xy=True).transform(x, y)
    times = pd.Timestamp("2024-06-26 08:00") + pd.to_timedelta(np.arange(n), "s")
    fixes = pd.DataFrame({"worker_id": "W1", "time": times, "lon": lon, "lat": lat})
    s = Samples()
    for _ in range(repeat):
        t0 = time.perf_counter()
        _, dropped = clean_tracks(fixes, crs=4545)
        s.add("clean", time.perf_counter() - t0)
    m = 8 * 3600
    desk = pd.DataFrame({"worker_id": "W2", "time": pd.Timestamp("2024-06-26 08:00") + pd.to_timedelta(np.arange(m), "s"),
                         "x": rng.normal(0, 4, m), "y": rng.normal(0, 4, m)})
    for _ in range(repeat):
        t0 = time.perf_counter()
        stops = stops_from_fixes(desk, crs=4545)
        s.add("stops", time.perf_counter() - t0)
    return "\n".join([
        "| case | fixes | result | s |",
        "| --- | ---: | --- | ---: |",
        (f"| one worker, a fix a second, 5 m noise: clean_tracks | {n:,} | {len(dropped):,} jumps dropped | "
         f"{s.cell('clean', '.2f')} |"),
        (f"| a phone 8 h on a desk, a fix a second: stops_from_fixes | {m:,} | {len(stops)} stop of "
         f"{stops['minutes'].iloc[0]:.0f} min | {s.cell('stops', '.2f')} |")])


def _agreement(ours: dict, peer: dict) -> None:
    import pandas as pd

    a = pd.DataFrame(ours).set_index(["worker_id", "day"]).add_suffix("_gridkit")
    b = pd.DataFrame(peer).set_index(["worker_id", "day"]).add_suffix("_peer")
    both = a.join(b, how="inner")
    same = both["grid_code_gridkit"] == both["grid_code_peer"]
    print(f"\nthe two give the same grid on {same.mean():.1%} of {len(both):,} worker-days "
          "(gridkit weighs time between fixes and counts 15 m beyond the edge as inside); on those:")
    both = both[same]
    cov = (both["street_coverage_gridkit"] - both["street_coverage_peer"]).abs()
    bld = (both["buildings_passed_gridkit"] - both["buildings_passed_peer"]).abs()
    print(f"agreement on {len(both):,} worker-days: street coverage differs by at most {cov.max():.4f} "
          f"(mean {cov.mean():.5f}; gridkit mean {both['street_coverage_gridkit'].mean():.3f}); buildings passed differ on {(bld > 0).mean():.1%} of days "
          f"(at most {bld.max():.0f})")


if __name__ == "__main__":
    sys.exit(main())
