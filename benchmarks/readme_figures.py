"""Re-measure the timings the top-level README states, as a Markdown table ready to paste.

Run on demand (not part of the test suite), on a quiet machine::

    python benchmarks/readme_figures.py [--repeat 3] [--rows NAME ...] [--workdir DIR] [--quick]

Each row is one command a README figure comes from (the demo; the three steps of the
test command, ``ruff check .``, ``mypy`` and ``pytest``; the partition of the sample
county, of Helsinki's OpenStreetMap extract and of 200,000 and 1,000,000 synthetic
households; the heatmap of the 200,000-household county). Inputs a row needs (a
``gridkit synth`` county, its grids, Helsinki's communities) are made once before the row
and not timed. Each command then runs ``--repeat`` times (default 3), each time into a
fresh output folder, in its own process; the row gives the median wall time, the spread
(fastest–slowest), and the median peak resident memory of the largest process
(``os.wait4``). Printed: the command line of this script, the machine (CPU model, cores,
RAM, load average before and after), the table with each command beside its figure and
the figure the README stated when the row was written, the setup commands, and the
commands of the other benchmark scripts whose figures the README and ``docs/`` quote
(each prints its own table).

``--quick`` is a smoke test: one repetition, 20,000 and 50,000 synthetic households
instead of 200,000 and 1,000,000, and one file for mypy and for pytest instead of all. Its
figures are not the README's.

Progress goes to stderr; ``> figures.md`` keeps only the report.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Session, fmt, median, run_command, spread

_REPO = Path(__file__).resolve().parent.parent
_SAMPLE = _REPO / "data" / "sample_county"
_HELSINKI = _REPO / "data" / "helsinki" / "helsinki.osm.bz2"

#: Figures measured by the other benchmark scripts (README or docs/): what, and the command.
OTHER_BENCHMARKS = [
    ("every figure docs/*.md quote, each script with --repeat 3, in one go",
     "python benchmarks/docs_figures.py --out /tmp/docfigs"),
    ("attach 1,000,000 incidents onto 10,000 grids (README, docs/attach.md)",
     "python benchmarks/bench_attach.py --repeat 3"),
    ("density surface against scikit-learn / scipy / KDEpy (README, docs/heat.md)",
     "python benchmarks/bench_heat.py --repeat 3"),
    ("patrol routes, 400,000 households (README, docs/patrol.md)",
     "python benchmarks/bench_patrol_routes.py --households 400000 --seed 1 --repeat 3"),
    ("GPS track check, 1,013,454 fixes (README, docs/patrol.md)",
     "python benchmarks/bench_patrol_check.py --peer-share 0.05 --repeat 3"),
    ("overview map against GeoDataFrame.explore (README, docs/maps.md)", "python benchmarks/bench_map.py --repeat 3"),
    ("notice boards, HTML / PDF / PNG (README, docs/board.md)", "python benchmarks/bench_board.py --repeat 3"),
    ("serial against a local Dask cluster, 1,000,000 households (README)",
     "python benchmarks/bench_scale.py --repeat 3"),
    ("peer regionalization tools (benchmarks/README.md)",
     "python benchmarks/compare_peers.py --units 500 2000 8000 --seed 0 --timeout 300"),
]


@dataclass(frozen=True)
class Row:
    """One README figure and the command that makes it.

    Attributes
    ----------
    name : str
        ``--rows`` name.
    label : str
        What the figure is, as the README's table would name it.
    readme : str
        The figure the README stated when this row was written (shown beside the new one).
    command : list of str
        The timed command; ``{w}`` is replaced by the work folder, ``{out}`` by a fresh
        output folder for each repetition.
    setup : list of list of str
        Commands run once before the row (untimed), with the same placeholders but no
        ``{out}``; a setup whose first output path already exists is skipped.
    """

    name: str
    label: str
    readme: str
    command: list[str]
    setup: list[list[str]] = field(default_factory=list)


def rows(*, quick: bool) -> list[Row]:
    """The rows to measure; ``quick`` uses smaller counties and one test file.

    Parameters
    ----------
    quick : bool
        Smoke-test sizes (20,000 and 50,000 households, ``tests/test_codes.py`` only).

    Returns
    -------
    list of Row
    """
    small, large = (20_000, 50_000) if quick else (200_000, 1_000_000)
    s = str(_SAMPLE)

    def synth(households: int, *extra: str) -> list[str]:
        return ["gridkit", "--quiet", "synth", "-o", f"{{w}}/synth{households}", "--seed", "1",
                "--households", str(households), *extra]

    def partition(folder: str, out: str) -> list[str]:
        return ["gridkit", "--quiet", "partition", f"{folder}/communities.gpkg", "--buildings",
                f"{folder}/buildings.gpkg", "--streets", f"{folder}/streets.gpkg", "--dedicated",
                f"{folder}/dedicated.gpkg", "-o", out]

    small_dir = f"{{w}}/synth{small}"
    tests = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider"] + (["tests/test_codes.py"] if quick else [])
    # a cold run, as on a fresh clone: no cache read or written
    typed = ["python", "-m", "mypy", "--cache-dir", "/dev/null"] + (["gridkit/codes.py"] if quick else [])
    return [
        Row("demo", "`gridkit demo` (every verb on the sample county)", "about 10 s",
            ["gridkit", "demo", "-o", "{out}"]),
        Row("ruff", "lint, the test command's `ruff check .`", "—", ["python", "-m", "ruff", "check", "--no-cache", "."]),
        Row("mypy", "type check, the test command's `mypy`" + (" (quick: gridkit/codes.py only)" if quick else ""),
            "—", typed),
        Row("tests", "test suite, `pytest`" + (" (quick: tests/test_codes.py only)" if quick else ""),
            "under two minutes", tests),
        Row("sample", "partition `data/sample_county` (18,427 households)", "3.3 s, 0.38 GB",
            partition(s, "{out}")),
        Row("helsinki", "partition `data/helsinki` (OSM, households estimated)", "5.9 s, 0.49 GB",
            ["gridkit", "--quiet", "partition", "{w}/hel/communities.gpkg", "--buildings", str(_HELSINKI),
             "--estimate-households", "--osm", str(_HELSINKI), "-o", "{out}"],
            [["gridkit", "--quiet", "communities", "--osm", str(_HELSINKI), "-o", "{w}/hel/communities.gpkg"]]),
        Row("synth-small", f"partition `gridkit synth --households {small:,}`",
            "5.3 s, 0.43 GB" if not quick else "— (quick size)",
            partition(small_dir, "{out}"), [synth(small)]),
        Row("synth-large", f"partition `gridkit synth --households {large:,}`",
            "20.1 s, 0.65 GB" if not quick else "— (quick size)",
            partition(f"{{w}}/synth{large}", "{out}"), [synth(large, "--no-incidents", "--no-tracks")]),
        Row("heatmap", f"`gridkit heatmap`, {small:,}-household county",
            "24.5 s, 0.56 GB" if not quick else "— (quick size)",
            ["gridkit", "--quiet", "heatmap", f"{small_dir}/part/grids.gpkg", f"{small_dir}/incidents.csv",
             "-o", "{out}"],
            [synth(small), partition(small_dir, f"{small_dir}/part")]),
    ]


# ------------------------------------------------------------------------ running


def _argv(template: list[str], work: Path, out: Path | None) -> list[str]:
    """Fill the placeholders; ``gridkit`` and ``python`` become this environment's."""
    bindir = Path(sys.executable).parent
    filled = [a.replace("{w}", str(work)).replace("{out}", str(out) if out else "{out}") for a in template]
    if filled[0] == "gridkit":
        exe = bindir / "gridkit"
        filled[0] = str(exe) if exe.exists() else shutil.which("gridkit") or "gridkit"
    elif filled[0] == "python":
        filled[0] = sys.executable
    return filled


def _shown(template: list[str]) -> str:
    """The command as the table shows it (placeholders as shell variables, paths from the repository root)."""
    shown = []
    for arg in template:
        text = arg.replace("{w}", "$W").replace("{out}", "$OUT").replace(str(_REPO) + "/", "")
        shown.append(text if re.fullmatch(r"[\w@%+=:,./$-]+", text) else shlex.quote(text))
    return " ".join(shown)


@dataclass
class Measured:
    """Wall seconds and peak MiB of each repetition, or why the row has none."""

    seconds: list[float] = field(default_factory=list)
    peak_mib: list[float] = field(default_factory=list)
    failure: str = ""


def run_once(argv: list[str], *, timeout: float | None) -> tuple[float, float]:
    """Run one command from the repository root; wall seconds and peak RSS (MiB) of its largest process.

    Raises
    ------
    RuntimeError
        The command failed or ran over ``timeout``; the message has the tail of its stderr.
    """
    seconds, peak, _ = run_command(argv, cwd=_REPO, timeout=timeout)
    return seconds, peak


def measure(row: Row, work: Path, *, repeat: int, timeout: float | None) -> Measured:
    """Run the row's setup once, then its command ``repeat`` times into fresh folders."""
    got = Measured()
    for step in row.setup:
        argv = _argv(step, work, None)
        target = Path(argv[argv.index("-o") + 1]) if "-o" in argv else None
        if target is not None and target.exists():
            continue
        print(f"  setup: {_shown(step)}", file=sys.stderr, flush=True)
        try:
            run_once(argv, timeout=timeout)
        except RuntimeError as exc:
            got.failure = f"setup failed: {exc}"
            return got
    for i in range(repeat):
        out = work / "out" / f"{row.name}-{i}"
        shutil.rmtree(out, ignore_errors=True)
        try:
            seconds, peak = run_once(_argv(row.command, work, out), timeout=timeout)
        except RuntimeError as exc:
            got.failure = str(exc)
            return got
        finally:
            shutil.rmtree(out, ignore_errors=True)
        got.seconds.append(seconds)
        got.peak_mib.append(peak)
        print(f"  run {i + 1}/{repeat}: {seconds:.1f} s, {peak:.0f} MiB", file=sys.stderr, flush=True)
    return got


# ------------------------------------------------------------------------- report


def table(measured: list[tuple[Row, Measured]], *, repeat: int, stated: str = "README stated") -> str:
    """The Markdown table: figure, median, spread, peak memory, runs, the figure stated today, command."""
    lines = [f"| figure | median s | spread s (min–max) | peak memory (median) | runs | {stated} | command |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for row, got in measured:
        cmd = f"`{_shown(row.command)}`"
        if got.failure:
            cells = [row.label, "—", "—", "—", f"{len(got.seconds)}/{repeat}", row.readme,
                     f"{cmd} — {got.failure}"]
        else:
            cells = [row.label, fmt(median(got.seconds)), spread(got.seconds) or "—", f"{median(got.peak_mib) / 1024:.2f} GB",
                     str(len(got.seconds)), row.readme, cmd]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (1 when a row failed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, help="runs per row (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 run, 20,000/50,000 households, one test file")
    parser.add_argument("--rows", nargs="+", metavar="NAME",
                        help="rows to measure: " + ", ".join(r.name for r in rows(quick=False)) + " (default all)")
    parser.add_argument("--workdir", type=Path,
                        help="folder for inputs and outputs (kept, so a second run skips the setup); "
                             "default a temporary folder, removed at the end")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds one command may take; 0 = no limit (default 1800)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    all_rows = rows(quick=args.quick)
    names = [r.name for r in all_rows]
    unknown = sorted(set(args.rows or []) - set(names))
    if unknown:
        parser.error(f"unknown rows {', '.join(unknown)}; choose from {', '.join(names)}")
    chosen = [r for r in all_rows if not args.rows or r.name in args.rows]
    timeout = args.timeout or None

    work = args.workdir or Path(tempfile.mkdtemp(prefix="readme-figures-"))
    work.mkdir(parents=True, exist_ok=True)
    session = Session(argv)
    measured: list[tuple[Row, Measured]] = []
    try:
        for row in chosen:
            print(f"[{row.name}] {row.label}", file=sys.stderr, flush=True)
            measured.append((row, measure(row, work, repeat=repeat, timeout=timeout)))
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    print(session.header(repeat, note="quick smoke test: not the README sizes" if args.quick else ""))
    print(table(measured, repeat=repeat))
    setups = [s for r, _ in measured for s in r.setup]
    if setups:
        print("\nMade once before the rows (not timed), `$W` being the work folder:\n")
        seen: set[str] = set()
        for step in setups:
            text = _shown(step)
            if text not in seen:
                seen.add(text)
                print(f"    {text}")
    print("\nFigures from the other benchmark scripts (each prints its own table and command):\n")
    for what, cmd in OTHER_BENCHMARKS:
        print(f"- {what}: `{cmd}`")
    return 1 if any(got.failure for _, got in measured) else 0


if __name__ == "__main__":
    raise SystemExit(main())
