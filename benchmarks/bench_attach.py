"""How fast ``gridkit.incidents.attach.attach_points`` puts incidents into grids, against ``geopandas.sjoin``.

Run on demand (not part of the test suite)::

    python benchmarks/bench_attach.py [--points 1000000] [--grids 10000] [--seed 0] [--repeat 3]

The grids are Voronoi cells of random seeds clipped to a 20 km x 25 km box (500 km²,
0.05 km² a grid, about the size of Beijing Haidian's unit grids), with 15-digit codes;
the incidents are uniform random points over a box 2 % wider on every side, so some fall
outside every grid. Both layers are in CGCS2000 lon/lat (EPSG:4490), as ``gridkit
partition`` writes grids and an incidents CSV holds points.

Timing: both methods run in one process on the same data, alternating, ``--repeat``
times each; the table gives the median wall-clock and CPU time (``time.process_time``,
steadier on a shared machine) with the spread (fastest–slowest), and the ratio of the
medians. Memory: each method runs ``--repeat`` times more, each in a fresh Python process that builds the same data
from the seed, resets the kernel's high-water mark, runs the call and reports the peak
resident memory (``VmHWM``: the data plus all the call allocated) and the data alone.

- ``attach_points``: the whole call (codes for every point, the smallest code on shared
  edges, outside points kept with their distance to the nearest grid in metres, a copy of
  the points with the new columns).
- ``geopandas.sjoin``: ``sjoin(points, grids, how="left", predicate="intersects")``, the
  plain spatial join (every point kept; no tie-break, no distances).

The script prints the exact command and the machine (load average before and after), then a
Markdown table, then the library versions.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

from _measure import Samples, Session, add_repeat

METHODS = ("attach_points", "geopandas.sjoin")
X0, Y0, WIDTH, HEIGHT = 480_000.0, 2_920_000.0, 20_000.0, 25_000.0  # EPSG:4545, near Guiyang


def make_data(n_points: int, n_grids: int, seed: int):
    """Voronoi grids and uniform points, both in EPSG:4490."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    box = shapely.box(X0, Y0, X0 + WIDTH, Y0 + HEIGHT)
    seeds = rng.uniform((X0, Y0), (X0 + WIDTH, Y0 + HEIGHT), size=(n_grids, 2))
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box)
    cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), box)
    codes = [f"520199001{k // 999 + 1:03d}{k % 999 + 1:03d}" for k in range(len(cells))]
    grids = gpd.GeoDataFrame({"grid_code": codes, "community_code": [c[:12] for c in codes]},
                             geometry=cells, crs=4545).to_crs(4490)
    margin = 0.02
    xy = rng.uniform((X0 - margin * WIDTH, Y0 - margin * HEIGHT),
                     (X0 + (1 + margin) * WIDTH, Y0 + (1 + margin) * HEIGHT), size=(n_points, 2))
    points = gpd.GeoDataFrame({"incident_id": np.arange(n_points)}, geometry=shapely.points(xy),
                              crs=4545).to_crs(4490)
    return points, grids


def call(method: str, points, grids) -> tuple[int, int]:
    """Run one method; return (rows out, points in a grid)."""
    import geopandas as gpd

    from gridkit.incidents.attach import attach_points

    if method == "attach_points":
        out = attach_points(points, grids)
        return len(out), int((out["grid_code"] != "").sum())
    out = gpd.sjoin(points, grids, how="left", predicate="intersects")
    return len(out), int(out.index.unique()[out["index_right"].notna().groupby(level=0).any()].size)


def time_both(n_points: int, n_grids: int, seed: int, repeat: int) -> dict[str, dict]:
    """Both methods on one data set, alternating; the wall and CPU seconds of every run per method."""
    points, grids = make_data(n_points, n_grids, seed)
    walls: dict[str, list[float]] = {m: [] for m in METHODS}
    cpus: dict[str, list[float]] = {m: [] for m in METHODS}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(repeat):
        for method in METHODS:
            wall, cpu = time.perf_counter(), time.process_time()
            counts[method] = call(method, points, grids)
            walls[method].append(time.perf_counter() - wall)
            cpus[method].append(time.process_time() - cpu)
    return {m: {"wall": walls[m], "cpu": cpus[m], "rows": counts[m][0], "attached": counts[m][1],
                "grids": len(grids), "peak_mb": [], "data_mb": []}
            for m in METHODS}


def memory_one(method: str, n_points: int, n_grids: int, seed: int) -> dict[str, float]:
    """Peak resident memory of one call in this (fresh) process, and of the data before it (MB).

    The kernel's high-water mark is reset once the data is built (``/proc/self/clear_refs``),
    so the peak is the call's own plus the data it works on.
    """
    points, grids = make_data(n_points, n_grids, seed)
    data_mb = _status_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    call(method, points, grids)
    return {"peak_mb": _status_mb("VmHWM"), "data_mb": data_mb}


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    add_repeat(parser)
    parser.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(memory_one(args.one, args.points, args.grids, args.seed)))
        return 0
    session = Session(argv)
    print("timing ...", file=sys.stderr)
    results = time_both(args.points, args.grids, args.seed, args.repeat)
    for _ in range(args.repeat):
        for method in METHODS:
            print(f"memory of {method} ...", file=sys.stderr)
            cmd = [sys.executable, __file__, "--one", method, "--points", str(args.points), "--grids",
                   str(args.grids), "--seed", str(args.seed)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                results[method][key].append(value)
    first = results["attach_points"]
    print(session.header(args.repeat))
    print(f"{args.points:,} incident points onto {first['grids']:,} Voronoi grids (EPSG:4490), "
          f"{args.repeat} run{'s' if args.repeat > 1 else ''} each, alternating in one process; memory from a fresh "
          "process per run")
    print()
    print("| method | wall s | CPU s | ratio to sjoin (wall) | ratio (CPU) "
          "| rows out | points in a grid | peak memory MB | of which data MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    s = Samples()
    for method, r in results.items():
        for key in ("wall", "cpu", "peak_mb", "data_mb"):
            for value in r[key]:
                s.add(f"{method} {key}", value)
    for method, r in results.items():
        print(f"| {method} | {s.cell(method + ' wall', '.2f')} | {s.cell(method + ' cpu', '.2f')} | "
              f"{s.ratio(method + ' wall', 'geopandas.sjoin wall', '.2f')} | "
              f"{s.ratio(method + ' cpu', 'geopandas.sjoin cpu', '.2f')} | {r['rows']:,} | "
              f"{r['attached']:,} | {s.cell(method + ' peak_mb', ',.0f')} | {s.cell(method + ' data_mb', ',.0f')} |")
    print()
    print("ratio < 1: faster than geopandas.sjoin. sjoin returns a row per (point, grid) pair, so more rows "
          "than points when a point meets several grids; attach_points returns each point once.")
    print()
    import geopandas
    import shapely

    print(f"environment: Python {platform.python_version()}, geopandas {geopandas.__version__}, "
          f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
