"""How fast ``gridkit synth`` builds and writes large synthetic counties.

Run on demand (not part of the test suite)::

    python benchmarks/bench_synth.py [--households 17000 100000 1000000] [--seed 0]
                                     [--no-incidents] [--no-tracks] [--keep DIR]
                                     [--incidents-per-day 3000 [--days 365]]

Each size runs in a fresh Python process (so its peak memory is its own): it times
``synth_county(households=N)`` and ``write_county`` into a temporary folder and reports
the figures; with ``--incidents-per-day`` the county's incidents are a district's
(``synth_county(incidents_per_day=N, days=D)``, written to CSV 30 days at a time), so
``--households 1000000 --incidents-per-day 3000`` measures the input of the heat and map
benchmarks (about 1.1 million incidents). The script prints the exact command, then a Markdown table, then the
environment. Progress goes to stderr, so ``> table.md`` captures only the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_one(
    households: int, seed: int, incidents: bool, tracks: bool, outdir: Path,
    per_day: float | None = None, days: int = 365,
) -> dict[str, float]:
    """Build and write one county in this process; return its figures."""
    from gridkit.synth import synth_county, write_county

    start = time.perf_counter()
    county = synth_county(
        seed=seed, households=households, incidents=incidents, tracks=tracks,
        incidents_per_day=per_day, days=days,
    )
    built = time.perf_counter()
    paths = write_county(county, outdir)
    done = time.perf_counter()
    comms = county["communities"]
    return {
        "communities": int((comms["kind"] == "city").sum()),
        "buildings": len(county["buildings"]),
        "households": int(county["buildings"]["households"].sum()),
        "components": len(county["components"]),
        "incidents": len(county.get("incidents", ())),
        "synth_s": built - start,
        "write_s": done - built,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "output_mb": sum(p.stat().st_size for p in paths.values()) / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--households", type=int, nargs="+", default=[17_000, 100_000, 1_000_000]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-incidents", action="store_true")
    parser.add_argument("--no-tracks", action="store_true")
    parser.add_argument("--incidents-per-day", type=float, help="a district's incidents, about N a day")
    parser.add_argument("--days", type=int, default=365, help="days of --incidents-per-day (default 365)")
    parser.add_argument(
        "--keep", type=Path, help="write each county into DIR/<households> and keep it"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        figures = run_one(
            args.one, args.seed, not args.no_incidents, not args.no_tracks, args.out,
            args.incidents_per_day, args.days,
        )
        print(json.dumps(figures))
        return 0
    print(
        "command: python benchmarks/bench_synth.py "
        + " ".join(sys.argv[1:] if argv is None else argv)
    )
    print()
    print(
        "| households asked | communities | buildings | households | components | incidents "
        "| synth s | write s | total s | peak MB | files MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.households:
        print(f"running {n:,} households ...", file=sys.stderr, flush=True)
        f = _in_child(n, args)
        print(
            f"| {n:,} | {f['communities']:,} | {f['buildings']:,} | {f['households']:,} | {f['components']:,} "
            f"| {f['incidents']:,} | {f['synth_s']:.1f} | {f['write_s']:.1f} | {f['synth_s'] + f['write_s']:.1f} "
            f"| {f['peak_mb']:.0f} | {f['output_mb']:.1f} |",
            flush=True,
        )
    print()
    print(
        f"environment: Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {_versions()}"
    )
    return 0


def _in_child(n: int, args: argparse.Namespace) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    out = (args.keep / str(n)) if args.keep else tmp / "county"
    command = [
        sys.executable,
        __file__,
        "--one",
        str(n),
        "--seed",
        str(args.seed),
        "--out",
        str(out),
    ]
    command += ["--no-incidents"] * args.no_incidents + ["--no-tracks"] * args.no_tracks
    if args.incidents_per_day is not None:
        command += ["--incidents-per-day", str(args.incidents_per_day), "--days", str(args.days)]
    try:
        result = subprocess.run(command, check=True, capture_output=True, text=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _versions() -> str:
    import geopandas
    import numpy
    import shapely

    return f"shapely {shapely.__version__}, geopandas {geopandas.__version__}, numpy {numpy.__version__}"


if __name__ == "__main__":
    sys.exit(main())
