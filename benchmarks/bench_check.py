"""`gridkit check` on the grids of a large synthetic county (goal: 1,000,000 households in at most 30 s).

Run on demand (not part of the test suite)::

    python benchmarks/bench_check.py [--households 1000000] [--seed 1] [--workdir DIR] [--repeat 3]

It writes ``gridkit synth --households N --seed S --no-incidents --no-tracks`` and its
``gridkit partition`` into ``--workdir`` (kept: a second run reuses them), then times the
whole ``gridkit check GRIDS --communities … --buildings …`` command ``--repeat`` times, each in a fresh process
(start-up, reading, every rule, writing the report and problems.gpkg), and prints the
command and the machine, then a Markdown table (median and spread of the wall time, of the
time in the library and of the peak memory of the check process; grids, buildings,
findings, exit code).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import Samples, Session, add_repeat


def _gridkit() -> list[str]:
    exe = shutil.which("gridkit", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "gridkit_cli.main"]


def _run(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, exit code and the peak RSS (MiB) of one command, in a fresh process of its own."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code not in (0, 1):
            log.seek(0)
            sys.stderr.write(log.read())
            raise SystemExit(f"command failed with exit {code}: {' '.join(cmd)}")
    return wall, code, usage.ru_maxrss // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the county and its partition are kept (default: a folder in the temp dir)")
    add_repeat(parser)
    args = parser.parse_args(argv)
    work = args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / f"gridkit-bench-check-{args.households}-{args.seed}"
    county, plan, out = work / "county", work / "plan", work / "check"
    gk = _gridkit()
    session = Session(argv)
    print("made once, not timed:", file=sys.stderr)
    if not (county / "buildings.gpkg").is_file():
        synth = [*gk, "--quiet", "synth", "-o", str(county), "--households", str(args.households),
                 "--seed", str(args.seed), "--no-incidents", "--no-tracks"]
        print("  " + " ".join(synth), f"({_run(synth)[0]:.1f} s)", file=sys.stderr)
    if not (plan / "grids.gpkg").is_file():
        part = [*gk, "--quiet", "partition", str(county / "communities.gpkg"), "--buildings",
                str(county / "buildings.gpkg"), "--streets", str(county / "streets.gpkg"), "--dedicated",
                str(county / "dedicated.gpkg"), "-o", str(plan)]
        print("  " + " ".join(part), f"({_run(part)[0]:.1f} s)", file=sys.stderr)
    check = [*gk, "--quiet", "check", str(plan / "grids.gpkg"), "--communities", str(county / "communities.gpkg"),
             "--buildings", str(county / "buildings.gpkg"), "-o", str(out)]
    s = Samples()
    for i in range(args.repeat):
        print(f"run {i + 1}/{args.repeat}: " + " ".join(check), file=sys.stderr, flush=True)
        wall, code, peak = _run(check)
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        o = report["overall"]
        s.add("wall", wall)
        s.add("peak", peak)
        s.add("library", o["seconds"])
    f = o["findings"]
    print(session.header(args.repeat))
    print("`$W` = " + str(work) + "; made once before (not timed): `gridkit synth -o $W/county --households "
          f"{args.households} --seed {args.seed} --no-incidents --no-tracks`, `gridkit partition` of it into `$W/plan`")
    print()
    print("    " + " ".join(["gridkit", *check[len(gk):]]).replace(str(work), "$W"))
    print()
    print("| households | grids | buildings | `gridkit check` wall | in the library | peak memory | findings "
          "(broken / unavoidable / soft) | exit |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    print(f"| {o['households_in']:,} | {o['grids']:,} | {o['buildings']:,} | {s.cell('wall', unit=' s')} | {s.cell('library', unit=' s')} | "
          f"{s.cell('peak', ',.0f', ' MiB')} | {f['broken']} / {f['unavoidable']} / {f['soft']} | {code} |")
    print()
    print(f"goal: at most 30 s — {'met' if s.median('wall') <= 30 else 'not met'} (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
