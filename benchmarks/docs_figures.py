"""Re-measure the figures ``docs/*.md`` quote: every benchmark script they come from, in one go.

Run on demand (not part of the test suite), on a quiet machine::

    python benchmarks/docs_figures.py --out /tmp/docfigs [--only NAME ...] [--repeat 3] [--quick] [--list]

Each job is one benchmark script with the options the docs quote (or, where that size takes
too long for one sitting, a smaller one: the job says so and which doc sentence it feeds),
run with ``--repeat`` (default 3) in its own process. Each script prints its command, the
machine (CPU, cores, load average before and after) and its tables with the median and the
spread (fastest–slowest) of every timing; that report is written to ``OUT/NAME.md`` and its
progress to ``OUT/NAME.log``. Two figures of ``docs/patrol.md`` have no script of their own
(the Helsinki patrol plan, the sample county's track check): the job ``commands`` times
those commands whole, with ``readme_figures.py``'s machinery, into ``OUT/commands.md``.

``OUT/index.md`` lists every job: the doc it feeds, the command, its wall time and exit
code, and the machine with the load average before and after the whole run; ``OUT/
durations.json`` keeps each job's wall time (per number of runs), so the next run's
expected time at the start is the last measured one. A job that fails is reported in the index with the tail of its log, the
others still run, and the script exits 1.

``--quick`` is a smoke test: one run and small sizes (its figures are not the docs'). Progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _measure import REPO, Session, fmt

_HERE = Path(__file__).resolve().parent
_HELSINKI = "data/helsinki/helsinki.osm.bz2"
_SAMPLE = "data/sample_county"


@dataclass(frozen=True)
class Job:
    """One script run whose tables the docs quote.

    Attributes
    ----------
    name : str
        ``--only`` name and the report's file name.
    feeds : str
        The doc figures it re-measures (file and what).
    script : str
        The benchmark script (in ``benchmarks/``), or ``"commands"`` for the whole-command rows.
    args : list of str
        Its options, as the docs quote them or smaller (see ``size_note``).
    quick : list of str
        Its options for ``--quick``.
    estimate_s : float
        Rough wall time of the whole job on a quiet 2-core machine with 3 runs (setup included),
        used when no earlier run's duration is known.
    size_note : str
        Where the options differ from those the doc quotes: what and why ("" when the same).
    """

    name: str
    feeds: str
    script: str
    args: list[str]
    quick: list[str]
    estimate_s: float
    size_note: str = ""


JOBS = [
    Job("attach", "docs/attach.md Speed table (and README attach row)", "bench_attach.py",
        [], ["--points", "100000", "--grids", "1000"], 70),
    Job("export", "docs/export.md Speed (its figures are in the README export section)", "bench_export.py",
        ["--households", "100000"], ["--households", "5000"], 45),
    Job("patrol-check", "docs/patrol.md GPS track check figures (clean + check, read, peak, peer 18x)",
        "bench_patrol_check.py", ["--peer-share", "0.05", "--workdir", "{out}/work/patrol-check"],
        ["--households", "20000", "--workers", "20", "--days", "1", "--peer-share", "0.5",
         "--workdir", "{out}/work/patrol-check"], 100),
    Job("patrol-hard", "docs/patrol.md hard cases (100,000 noisy fixes, a phone on a desk)",
        "bench_patrol_check.py", ["--hard-cases"], ["--hard-cases"], 10),
    Job("patrol-routes", "docs/patrol.md route figures (routes_for_grids 400,000 households, networkx 1.6x)",
        "bench_patrol_routes.py", ["--households", "400000", "--seed", "1", "--workdir", "{out}/work/patrol-routes"],
        ["--households", "20000", "--workdir", "{out}/work/patrol-routes"], 150),
    Job("commands", "docs/patrol.md: Helsinki patrol plan (16 s), sample county track check (under a second)",
        "commands", [], [], 80),
    Job("board", "docs/board.md Speed table", "bench_board.py", ["--synth-households", "100000"],
        ["--render", "2"], 210),
    Job("map", "docs/maps.md Figures tables (gridkit map against explore; sign-off page)", "bench_map.py",
        ["--households", "18427", "100000"], ["--households", "5000"], 240,
        "100,000 households instead of the doc's 200,000: explore's 47 MB page takes about a minute "
        "to load per run in Chromium; re-run `--households 18427 200000` to replace the 200,000 row"),
    Job("heat", "docs/heat.md page sizes and the README's surface comparison", "bench_heat.py",
        ["--households", "200000", "--district", "1100000"],
        ["--households", "20000", "--district", "20000", "--peer-cells", "50"], 170,
        "a 200,000-household county instead of the default 1,000,000 (synth + partition of 1 M take "
        "2-3 minutes); the district year keeps 1.1 M incidents. heat.md's '2 MB for a 1M-household "
        "county' is a size: `python benchmarks/bench_heat.py --repeat 1` re-measures it"),
    Job("scale-attach", "docs/scale.md attach table (streaming, Dask, dask_geopandas)", "bench_scale.py",
        ["--incidents", "1000000", "--in-memory-max", "0", "--grids", "10000", "--skip-partition"],
        ["--incidents", "200000", "--in-memory-max", "0", "--grids", "1000", "--skip-partition"], 150,
        "1,000,000 incidents only (streaming, Dask, dask_geopandas), no in-memory run: the doc's 2 M, 10 M and "
        "50 M rows take 0.5-11 minutes a run (`--incidents 2000000,10000000 --in-memory-max 0 --skip-partition`; "
        "`--incidents 50000000 --methods dask --skip-partition --repeat 1` alone), the 1 M in-memory row "
        "about a minute a run (`--incidents 1000000 --in-memory-max 1000000 --methods in-memory`)"),
    Job("scale-partition", "docs/scale.md partition table (serial against 2 Dask workers)", "bench_scale.py",
        ["--skip-attach", "--households", "200000"], ["--skip-attach", "--households", "5000"], 100,
        "the 200,000-household rows only; the doc's 100,000 rows: `--skip-attach --households 100000,200000`"),
    Job("pages", "README page weights (docs/maps.md names the script)", "bench_pages.py",
        ["--households", "200000"], ["--households", "5000", "--incidents-per-day", "50", "--days", "60"], 150,
        "200,000 households instead of the default 1,000,000 (its synth and partition take minutes); "
        "not in docs/ figures, so not in the default set"),
    Job("repartition", "docs/previous.md (the script it names; no figure quoted)", "bench_repartition.py",
        [], ["--households", "8000"], 150, "not in the default set: docs/previous.md quotes no figure"),
    Job("check", "README check figure (docs/check.md quotes none)", "bench_check.py",
        ["--workdir", "{out}/work/check"],
        ["--households", "20000", "--workdir", "{out}/work/check"], 200,
        "not in the default set: docs/check.md quotes no figure"),
]

#: Run when no ``--only`` is given: the jobs behind figures in docs/.
DEFAULT = [j.name for j in JOBS if j.name not in ("pages", "repartition", "check")]


def _command_rows(quick: bool) -> list:
    """The whole-command rows of the ``commands`` job (``readme_figures.Row``)."""
    from readme_figures import Row

    hel = ["gridkit", "--quiet", "communities", "--osm", _HELSINKI, "-o", "{w}/hel/communities.gpkg"]
    hel_part = ["gridkit", "--quiet", "partition", "{w}/hel/communities.gpkg", "--buildings", _HELSINKI,
                "--estimate-households", "--osm", _HELSINKI, "-o", "{w}/helpart"]
    sample_part = ["gridkit", "--quiet", "partition", f"{_SAMPLE}/communities.gpkg", "--buildings",
                   f"{_SAMPLE}/buildings.gpkg", "--streets", f"{_SAMPLE}/streets.gpkg", "--dedicated",
                   f"{_SAMPLE}/dedicated.gpkg", "-o", "{w}/samplepart"]
    rows = [Row("patrol-check-sample", "`gridkit patrol check` of the sample county's tracks (docs/patrol.md)",
                "under a second",
                ["gridkit", "--quiet", "patrol", "check", "{w}/samplepart/grids.gpkg", f"{_SAMPLE}/tracks.csv",
                 "--workers", f"{_SAMPLE}/workers.csv", "--streets", f"{_SAMPLE}/streets.gpkg", "-o", "{out}"],
                [sample_part])]
    if not quick:
        rows.insert(0, Row("patrol-plan-helsinki", "`gridkit patrol plan` of Helsinki's grids, OSM streets "
                           "(docs/patrol.md)", "16 s",
                           ["gridkit", "--quiet", "patrol", "plan", "{w}/helpart/grids.gpkg", "--osm", _HELSINKI,
                            "-o", "{out}"], [hel, hel_part]))
    return rows


def _run_commands(out: Path, repeat: int, quick: bool, timeout: float | None) -> int:
    """The ``commands`` job, in this process: time each row's command and write ``commands.md``."""
    from readme_figures import measure, table

    session = Session(["--only", "commands", "--repeat", str(repeat)] + (["--quick"] if quick else []),
                      script=str(_HERE / "docs_figures.py"))
    work = out / "work" / "commands"
    work.mkdir(parents=True, exist_ok=True)
    measured = []
    for row in _command_rows(quick):
        print(f"[commands] {row.label}", file=sys.stderr, flush=True)
        measured.append((row, measure(row, work, repeat=repeat, timeout=timeout)))
    setups = "\n".join(f"    {' '.join(s)}".replace("{w}", "$W") for r, _ in measured for s in r.setup)
    text = (session.header(repeat, note="quick smoke test" if quick else "") + "\n"
            + table(measured, repeat=repeat, stated="docs stated") + "\n\n"
            + f"Made once before the rows (not timed), `$W` being {work}:\n\n{setups}\n")
    (out / "commands.md").write_text(text, encoding="utf-8")
    return 1 if any(got.failure for _, got in measured) else 0


def _argv(job: Job, out: Path, repeat: int, quick: bool) -> list[str]:
    args = [a.replace("{out}", str(out)) for a in (job.quick if quick else job.args)]
    return [sys.executable, str(_HERE / job.script), *args, "--repeat", str(repeat)]


def _shown(job: Job, repeat: int, quick: bool) -> str:
    if job.script == "commands":
        return "python benchmarks/docs_figures.py --only commands" + (" --quick" if quick else "")
    args = [a.replace("{out}", "$OUT") for a in (job.quick if quick else job.args)]
    words = [f"benchmarks/{job.script}", *args, "--repeat", str(repeat)]
    return "python " + " ".join(w if re.fullmatch(r"[\w@%+=:,./$-]+", w) else shlex.quote(w) for w in words)


def _estimate(job: Job, known: dict[str, float], repeat: int, quick: bool) -> float:
    """The job's last measured wall time with as many runs, else its estimate."""
    if f"{job.name}@{repeat}" in known:
        return known[f"{job.name}@{repeat}"]
    return 20.0 if quick else job.estimate_s * repeat / 3


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (1 when a job failed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/docfigs"),
                        help="folder for the reports (NAME.md, NAME.log, index.md); default /tmp/docfigs")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="jobs to run: " + ", ".join(j.name for j in JOBS) + " (default: "
                             + ", ".join(DEFAULT) + ")")
    parser.add_argument("--repeat", type=int, help="runs behind each figure (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 run, small sizes")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds one job may take; 0 = no limit (default 3600)")
    parser.add_argument("--list", action="store_true", help="print the jobs (doc, command, size notes) and stop")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    names = [j.name for j in JOBS]
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"unknown jobs {', '.join(unknown)}; choose from {', '.join(names)}")
    chosen = [j for j in JOBS if j.name in (args.only or DEFAULT)]
    if args.list:
        for job in JOBS:
            mark = "*" if job.name in DEFAULT else " "
            print(f"{mark} {job.name}: {job.feeds}\n    {_shown(job, repeat, False)}"
                  + (f"\n    size: {job.size_note}" if job.size_note else ""))
        print("\n* = in the default set")
        return 0
    timeout = args.timeout or None
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    durations_file = out / ("durations-quick.json" if args.quick else "durations.json")
    known: dict[str, float] = {}
    if durations_file.exists():
        known = json.loads(durations_file.read_text(encoding="utf-8"))
    total = sum(_estimate(j, known, repeat, args.quick) for j in chosen)
    measured = sum(f"{j.name}@{repeat}" in known for j in chosen)
    print(f"{len(chosen)} jobs, {repeat} run{'s' if repeat > 1 else ''} each; expected about "
          f"{total / 60:.0f} min ({measured} of {len(chosen)} jobs as last measured in {out}, the others "
          f"estimated for a quiet 2-core machine); reports in {out}", file=sys.stderr, flush=True)

    session = Session(argv, script=str(_HERE / "docs_figures.py"))
    results = []
    for job in chosen:
        print(f"[{job.name}] {_shown(job, repeat, args.quick)} (about {_estimate(job, known, repeat, args.quick):.0f} s)",
              file=sys.stderr, flush=True)
        start = time.perf_counter()
        if job.script == "commands":
            code = _run_commands(out, repeat, args.quick, timeout)
            failure = "a command failed: see commands.md" if code else ""
        else:
            with open(out / f"{job.name}.md", "w", encoding="utf-8") as report, \
                    open(out / f"{job.name}.log", "w", encoding="utf-8") as log:
                # a session of its own, so a timeout ends the script's children too (Dask workers, browsers)
                proc = subprocess.Popen(_argv(job, out, repeat, args.quick), cwd=REPO, stdout=report, stderr=log,
                                        start_new_session=True)
                try:
                    code = proc.wait(timeout=timeout)
                    failure = "" if code == 0 else f"exit {code}"
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    code, failure = -1, f"over the {timeout:g} s limit"
            if failure:
                tail = (out / f"{job.name}.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-2:]
                failure += ": " + " / ".join(tail)
        seconds = time.perf_counter() - start
        if not failure:
            known[f"{job.name}@{repeat}"] = seconds
        results.append((job, seconds, failure))
        print(f"[{job.name}] {'FAILED ' + failure if failure else 'done'} in {seconds:.0f} s", file=sys.stderr,
              flush=True)
        durations_file.write_text(json.dumps(known, indent=1), encoding="utf-8")

    lines = [session.header(repeat, note="quick smoke test: not the docs' sizes" if args.quick else ""),
             "| job | feeds | command | report | wall | status | size |",
             "| --- | --- | --- | --- | ---: | --- | --- |"]
    for job, seconds, failure in results:
        name = "commands.md" if job.script == "commands" else f"{job.name}.md"
        cells = [job.name, job.feeds, f"`{_shown(job, repeat, args.quick)}`", name, f"{fmt(seconds)} s",
                 failure or "ok", "quick smoke-test size" if args.quick else job.size_note or "as the doc"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    (out / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 1 if any(failure for _, _, failure in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
