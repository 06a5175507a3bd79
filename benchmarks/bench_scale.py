"""The partition in one process against the same job on a local Dask cluster.

Run on demand (not part of the test suite)::

    python benchmarks/bench_scale.py [--households 1000000] [--workers 2] [--seed 1]

It builds one synthetic county in memory, partitions it serially and then with
``workers=N`` processes of a local Dask cluster (cluster start-up included), checks
that both give the same grids, and prints the command, a Markdown table with the
speed-up, and the machine. The communities are independent, so the speed-up is
bounded by the cores and by the largest community.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from gridkit.partition.pipeline import partition
    from gridkit.synth.county import synth_county

    county = synth_county(seed=args.seed, households=args.households, incidents=False, tracks=False)
    inputs = (county["communities"], county["buildings"])
    opts = {"streets": county["streets"], "dedicated": county["dedicated"]}

    rows = []
    results = {}
    for workers in (1, args.workers):
        start = time.perf_counter()
        results[workers] = partition(*inputs, **opts, workers=workers)
        rows.append((workers, time.perf_counter() - start))
    a, b = results[1].grids, results[args.workers].grids
    same = a.drop(columns="geometry").equals(b.drop(columns="geometry")) and bool(
        a.geometry.geom_equals_exact(b.geometry, 0).all())

    print("command: python benchmarks/" + os.path.basename(__file__) + " " + " ".join(sys.argv[1:]))
    print()
    print(f"{args.households:,} households, {len(county['communities'])} communities and villages, "
          f"{len(a):,} grids; identical grids: {same}")
    print()
    print("| run | wall time (s) | speed-up |")
    print("| --- | ---: | ---: |")
    base = rows[0][1]
    for workers, seconds in rows:
        name = "serial" if workers == 1 else f"local Dask cluster, {workers} worker processes"
        print(f"| {name} | {seconds:.1f} | {base / seconds:.2f}x |")
    print()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
