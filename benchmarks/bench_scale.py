"""Past one machine: the attach of millions of incidents in chunks and on Dask, and the partition on Dask.

Run on demand (not part of the test suite)::

    python benchmarks/bench_scale.py [--incidents 10000000,50000000] [--in-memory-max 10000000]
                                     [--grids 10000] [--memory-limit 2GB] [--households 1000000,5000000]
                                     [--workers 2] [--seed 1] [--skip-partition] [--skip-attach]
                                     [--methods in-memory,streaming,processes,dask,dask_geopandas.sjoin]
                                     [--repeat 3]

**Attach.** Grids are Voronoi cells clipped to a 20 km x 25 km box (as in
``bench_attach.py``), written to a GeoPackage. Incidents are generated in chunks of one
million (never held whole) and written as a partitioned GeoParquet folder, one file per
million, row groups of 250,000: uniform points over a box 2 % wider (some outside every
grid), a category of the bundled table, ``incident_id``, ``reported_at`` and ``closed_at``
(ISO text, a year of cases). Each method then runs in a fresh Python process, timed from
its start to its last file written (the data is made before, untimed); peak memory is
sampled every 0.1 s as the resident memory of that process and all its children added up
(the Dask workers included), and as their proportional memory (PSS: a page shared by
forked processes counted once in all):

- ``in-memory``: ``geopandas.read_parquet`` of the whole folder + ``attach_outputs`` +
  ``write_attach`` (a GeoPackage; only up to ``--in-memory-max`` points);
- ``streaming``: ``attach_stream_job(memory_limit=--memory-limit)``, one process;
- ``processes``: ``attach_pool_job(workers=--workers, memory_limit=--memory-limit)``
  (``gridkit attach --workers N``): forked worker processes, each reading its own row
  groups, no cluster;
- ``dask``: ``attach_dask_job(workers=--workers, memory_limit=--memory-limit)``, a local
  cluster of worker processes (start-up included);
- ``dask_geopandas.sjoin``: ``read_parquet`` + ``sjoin(grids, predicate="intersects")`` +
  ``to_parquet`` on a local cluster of as many workers, with Dask's default worker memory
  limit (in a share of the budget its workers pause at 80 % and the run stalls): the plain
  join (inner: points outside are dropped; no tie-break, no distances, no statistics, no
  evaluation).

**Partition.** A synthetic county of ``--households`` households, partitioned serially
and with ``workers=--workers`` (cluster start-up included); the grids must be identical.

Each method (and each pair of partitions) runs ``--repeat`` times; a figure is the median with
the spread (fastest–slowest) in brackets. The script prints the command, the machine with the
load average before and after, and Markdown tables (the attach table also gives the load
average when each method started).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import Samples, Session, add_repeat

X0, Y0, WIDTH, HEIGHT = 480_000.0, 2_920_000.0, 20_000.0, 25_000.0  # EPSG:4545, near Guiyang
CHUNK = 1_000_000


# --------------------------------------------------------------------------- data


def make_grids(path: Path, n_grids: int, seed: int) -> None:
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    box = shapely.box(X0, Y0, X0 + WIDTH, Y0 + HEIGHT)
    seeds = rng.uniform((X0, Y0), (X0 + WIDTH, Y0 + HEIGHT), size=(n_grids, 2))
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box)
    cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), box)
    codes = [f"520199001{k // 999 + 1:03d}{k % 999 + 1:03d}" for k in range(len(cells))]
    grids = gpd.GeoDataFrame({"grid_code": codes, "community_code": [c[:12] for c in codes],
                              "households": rng.integers(200, 500, len(cells))}, geometry=cells, crs=4545)
    grids.to_crs(4490).to_file(path, layer="grids")


def make_incidents(folder: Path, n_points: int, seed: int) -> None:
    """A partitioned GeoParquet folder of ``n_points`` incidents, one file per million, written chunk by chunk."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    from gridkit.incidents.categories import event_categories

    folder.mkdir(parents=True, exist_ok=True)
    codes = event_categories()["code"]
    codes = codes[codes.str.len() == 4].to_numpy()
    start = np.datetime64("2024-01-01T00:00:00")
    margin = 0.02
    for i, first in enumerate(range(0, n_points, CHUNK)):
        rng = np.random.default_rng([seed, i])
        n = min(CHUNK, n_points - first)
        xy = rng.uniform((X0 - margin * WIDTH, Y0 - margin * HEIGHT),
                         (X0 + (1 + margin) * WIDTH, Y0 + (1 + margin) * HEIGHT), size=(n, 2))
        reported = start + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]")
        closed = reported + rng.exponential(20 * 3600, n).astype("int64").astype("timedelta64[s]")
        open_ = rng.random(n) < 0.03
        frame = pd.DataFrame({
            "incident_id": [f"I{first + k:010d}" for k in range(n)],
            "category": rng.choice(codes, n),
            "reported_at": pd.Series(reported).dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(),
            "closed_at": pd.Series(closed).dt.strftime("%Y-%m-%dT%H:%M:%S").where(~open_, "").to_numpy(),
        }, index=pd.RangeIndex(first, first + n))
        points = gpd.GeoDataFrame(frame, geometry=shapely.points(xy), crs=4545).to_crs(4490)
        points.to_parquet(folder / f"part.{i:04d}.parquet", row_group_size=250_000, index=True)


# --------------------------------------------------------------------------- one method (in a fresh process)


def run_method(method: str, data: Path, out: Path, workers: int, memory_limit: str) -> None:
    from gridkit.incidents.job import AttachOptions

    grids, points = data / "grids.gpkg", data / "incidents"
    options = AttachOptions(kind="incidents", as_of="2025-01-01")
    if method == "in-memory":
        import geopandas as gpd

        from gridkit.incidents.job import attach_outputs, write_attach
        from gridkit.io import read_layer

        incidents = gpd.read_parquet(points)  # the whole folder at once (read_layer takes one file)
        result = attach_outputs(read_layer(grids, layer="grids"), incidents, options=options)
        write_attach(result, out)
    elif method == "streaming":
        from gridkit.incidents.stream import attach_stream_job

        attach_stream_job(grids, points, out, options=options, memory_limit=memory_limit)
    elif method == "processes":
        from gridkit.incidents.pool import attach_pool_job

        attach_pool_job(grids, points, out, options=options, workers=workers, memory_limit=memory_limit)
    elif method == "dask":
        from gridkit.incidents.distributed import attach_dask_job

        attach_dask_job(grids, points, out, options=options, workers=workers, memory_limit=memory_limit)
    else:
        raise SystemExit(f"unknown method {method}")


def run_sjoin(data: Path, out: Path, workers: int) -> None:
    import dask_geopandas
    import geopandas as gpd

    from gridkit.scale import dask_client

    grids = gpd.read_file(data / "grids.gpkg", layer="grids")
    # Dask's default worker limit: in a share of the 2 GB budget its workers pause (80 % of 667 MB) and stall
    with dask_client(workers=workers):
        points = dask_geopandas.read_parquet(data / "incidents", split_row_groups=True)  # partitions of 250,000
        joined = dask_geopandas.sjoin(points, grids, how="inner", predicate="intersects")  # the only one it has
        joined.to_parquet(out.parent / "sjoin")


# --------------------------------------------------------------------------- harness


def measure(cmd: list[str]) -> tuple[float, float, float, float, int]:
    """Wall time (s), CPU time of the process tree (s), its peak resident and proportional memory (MB), exit code.

    Sampled every 0.1 s: memory as the sum over the process and its children (the Dask
    workers, the forked worker processes), CPU as each process's last user + system
    time. CPU time is the figure load distorts least on a shared machine. The resident
    sum counts a page shared by several processes (a forked worker's inherited pages)
    once per process; the proportional sum (PSS) splits it between them: the memory the
    tree really holds.
    """
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(proc.pid)
    peak = peak_pss = 0
    cpu: dict[int, float] = {}
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            rss = pss = 0
            for p in tree:
                with p.oneshot():
                    info = p.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                    t = p.cpu_times()
                    cpu[p.pid] = t.user + t.system
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.stderr.write(proc.stderr.read().decode()[-3000:] if proc.stderr else "")
    return seconds, sum(cpu.values()), peak / 1e6, peak_pss / 1e6, proc.returncode


def attach_table(sizes: list[int], args: argparse.Namespace) -> list[str]:
    rows = [("| incidents | method | wall time (s) | s per million | CPU time (s) | CPU s per million "
             "| peak memory (MB) | peak PSS (MB) | load (1 min) at start |"),
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        for n in sizes:
            data = Path(tmp) / f"n{n}"
            data.mkdir()
            t = time.perf_counter()
            make_grids(data / "grids.gpkg", args.grids, args.seed)
            make_incidents(data / "incidents", n, args.seed)
            print(f"made {n:,} incidents in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            methods = ["streaming", "processes", "dask", "dask_geopandas.sjoin"]
            if n <= args.in_memory_max:
                methods.insert(0, "in-memory")
            methods = [m for m in methods if m in args.methods.split(",")]
            for method in methods:
                s = Samples()
                status, load_at_start = "", os.getloadavg()[0]
                for i in range(args.repeat):
                    out = data / f"{method.replace('.', '_')}_{i}" / "a.gpkg"
                    out.parent.mkdir()
                    cmd = [sys.executable, __file__, "--run", method, "--data", str(data), "--out", str(out),
                           "--workers", str(args.workers), "--memory-limit", args.memory_limit]
                    seconds, cpu, peak, pss, code = measure(cmd)
                    shutil.rmtree(out.parent, ignore_errors=True)
                    if code != 0:
                        status = f" (failed, exit {code})"
                        break
                    s.add("wall", seconds)
                    s.add("wall per M", seconds / n * 1e6)
                    s.add("cpu", cpu)
                    s.add("cpu per M", cpu / n * 1e6)
                    s.add("peak", peak)
                    s.add("pss", pss)
                    print(f"  {n:,} {method} run {i + 1}/{args.repeat}: {seconds:.1f} s", file=sys.stderr)
                rows.append(f"| {n:,} | {method}{status} | {s.cell('wall', '.1f')} | {s.cell('wall per M', '.1f')} | "
                            f"{s.cell('cpu', '.1f')} | {s.cell('cpu per M', '.1f')} | {s.cell('peak', ',.0f')} | {s.cell('pss', ',.0f')} | "
                            f"{load_at_start:.2f} |")
                print(rows[-1], file=sys.stderr)
            for p in (data / "incidents").iterdir():
                p.unlink()
    return rows


def partition_table(sizes: list[int], workers: int, seed: int, repeat: int) -> list[str]:
    from gridkit.partition.pipeline import partition
    from gridkit.synth.county import synth_county

    rows = ["| households | communities | grids | run | wall time (s) | speed-up | identical |",
            "| ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    for households in sizes:
        county = synth_county(seed=seed, households=households, incidents=False, tracks=False)
        inputs = (county["communities"], county["buildings"])
        opts = {"streets": county["streets"], "dedicated": county["dedicated"]}
        s = Samples()
        same = True
        for _ in range(repeat):
            results = {}
            for w in (1, workers):
                start = time.perf_counter()
                results[w] = partition(*inputs, **opts, workers=w)
                s.add(str(w), time.perf_counter() - start)
            a, b = results[1].grids, results[workers].grids
            same = same and a.drop(columns="geometry").equals(b.drop(columns="geometry")) and bool(
                a.geometry.geom_equals_exact(b.geometry, 0).all())
        for w in (1, workers):
            name = "serial" if w == 1 else f"local Dask cluster, {w} worker processes"
            rows.append(f"| {households:,} | {len(county['communities'])} | {len(a):,} | {name} | "
                        f"{s.cell(str(w), '.1f')} | {s.ratio('1', str(w), '.2f')} | {same} |")
        print(rows[-1], file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", default="10000000,50000000")
    parser.add_argument("--in-memory-max", type=int, default=10_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--households", default="1000000,5000000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--methods", default="in-memory,streaming,processes,dask,dask_geopandas.sjoin")
    parser.add_argument("--skip-partition", action="store_true")
    parser.add_argument("--skip-attach", action="store_true")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    add_repeat(parser)
    args = parser.parse_args(argv)
    if args.run:
        if args.run == "dask_geopandas.sjoin":
            run_sjoin(Path(args.data), Path(args.out), args.workers)
        else:
            run_method(args.run, Path(args.data), Path(args.out), args.workers, args.memory_limit)
        return 0

    session = Session(argv)
    report = []
    if not args.skip_attach:
        sizes = [int(s) for s in args.incidents.split(",") if s]
        report += [f"attach: {args.grids:,} grids, memory limit {args.memory_limit}, {args.workers} Dask workers", "",
                   *attach_table(sizes, args), ""]
    if not args.skip_partition:
        sizes = [int(s) for s in args.households.split(",") if s]
        report += ["partition: serial against a local Dask cluster", "",
                   *partition_table(sizes, args.workers, args.seed, args.repeat), ""]
    print(session.header(args.repeat))
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
