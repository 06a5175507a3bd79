"""What every benchmark script prints around its figures: the command, the machine, the load, median and spread.

Used by ``readme_figures.py``, ``docs_figures.py`` and the ``bench_*.py`` scripts (run from the
repository root or from ``benchmarks/``; the scripts put this folder on ``sys.path``)::

    from _measure import Samples, Session, add_repeat

    session = Session()                    # load average before, the command line
    samples = Samples()
    for _ in range(args.repeat):
        t = time.perf_counter(); work(); samples.add("work", time.perf_counter() - t)
    print(session.header(args.repeat))     # "$ python benchmarks/...", machine, load before and after
    print(samples.cell("work"))            # "2.21 (2.10–2.40)"

A figure is the median of the runs; the spread is the fastest to the slowest run.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def machine() -> str:
    """CPU model, cores, RAM, OS and Python of this machine.

    Returns
    -------
    str
        For example ``"Intel(R) Xeon(R) CPU @ 2.20GHz, 2 cores, 23.5 GiB RAM, Linux 6.1, Python 3.11.7"``.
    """
    model = platform.processor() or "unknown CPU"
    ram = "? GiB"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
        with open("/proc/meminfo", encoding="utf-8") as f:
            kib = next(int(ln.split()[1]) for ln in f if ln.startswith("MemTotal"))
        ram = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"{model}, {os.cpu_count()} cores, {ram} RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def load() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"0.12, 0.30, 0.41"``."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def gridkit_version() -> str:
    """The installed gridkit's version, or ``"not installed"``."""
    from importlib import metadata

    try:
        return metadata.version("gridkit")
    except metadata.PackageNotFoundError:
        return "not installed"


def command_line(argv: Sequence[str] | None = None, script: str | None = None) -> str:
    """The command that ran this script, as typed from the repository root.

    Parameters
    ----------
    argv
        The arguments (default ``sys.argv[1:]``).
    script
        The script's path (default ``sys.argv[0]``); shown relative to the repository root.
    """
    path = Path(script or sys.argv[0]).resolve()
    try:
        shown = str(path.relative_to(REPO))
    except ValueError:
        shown = str(path)
    return "python " + shlex.join([shown, *(sys.argv[1:] if argv is None else argv)])


class Session:
    """One run of a benchmark script: the command and the load average when it started.

    Parameters
    ----------
    argv
        The script's arguments (default ``sys.argv[1:]``).
    script
        The script's path (default ``sys.argv[0]``).
    """

    def __init__(self, argv: Sequence[str] | None = None, script: str | None = None) -> None:
        self.command = command_line(argv, script)
        self.load_before = load()
        self.started = time.perf_counter()

    def header(self, repeat: int, *, note: str = "") -> str:
        """The lines above a table: the command, the machine, the load before and now, the runs.

        Parameters
        ----------
        repeat
            Runs behind each figure.
        note
            Appended to the last line (e.g. "quick smoke test: not the docs' sizes").
        """
        runs = f"median of {repeat} runs, spread (min–max) in brackets" if repeat > 1 else "one run (no spread)"
        took = time.perf_counter() - self.started
        return (f"$ {self.command}\n\n"
                f"Machine: {machine()}; load average {self.load_before} before, {load()} after "
                f"({took:.0f} s). gridkit {gridkit_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
                f"Figures: {runs}{'; ' + note if note else ''}.\n")


def add_repeat(parser: argparse.ArgumentParser, default: int = 3) -> None:
    """Add ``--repeat N`` (runs behind each figure) to a script's parser."""
    parser.add_argument("--repeat", type=_positive, default=default,
                        help=f"runs behind each figure: median and (min–max) spread are shown (default {default})")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def fmt(x: float) -> str:
    """A figure with three significant digits or one decimal, e.g. ``0.432``, ``4.32``, ``43.2``, ``432``."""
    if math.isnan(x):
        return "—"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def median(values: Sequence[float]) -> float:
    """The median of the runs."""
    return float(statistics.median(values))


def spread(values: Sequence[float], digits: str | None = None) -> str:
    """``"min–max"`` of the runs (empty for one run)."""
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    return f"{lo:{digits}}–{hi:{digits}}" if digits else f"{fmt(lo)}–{fmt(hi)}"


def cell(values: Sequence[float], digits: str | None = None, unit: str = "") -> str:
    """The median with the spread in brackets, e.g. ``"2.21 (2.10–2.40)"``, or ``"—"`` for no runs (NaN left out).

    Parameters
    ----------
    values
        One figure per run.
    digits
        A format spec for the numbers (e.g. ``".1f"``); default :func:`fmt`.
    unit
        Appended to the median (e.g. ``" s"``).
    """
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    mid = median(values)
    text = (f"{mid:{digits}}" if digits else fmt(mid)) + unit
    sp = spread(values, digits)
    return f"{text} ({sp})" if sp else text


class Samples:
    """Figures per name across runs: ``add(name, value)`` once per run, then ``cell(name)``."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add(self, name: str, value: float) -> float:
        """Record one run's figure; returns it."""
        self.values.setdefault(name, []).append(float(value))
        return value

    def median(self, name: str) -> float:
        """The median of the figure's runs."""
        return median(self.values[name])

    def cell(self, name: str, digits: str | None = None, unit: str = "") -> str:
        """The median with its spread (see :func:`cell`)."""
        return cell(self.values.get(name, []), digits, unit)

    def ratio(self, num: str, den: str, digits: str = ".1f") -> str:
        """The ratio of two figures' medians with its spread over runs (each run's own ratio), e.g. ``"2.0x (1.8–2.2)"``."""
        a, b = self.values.get(num, []), self.values.get(den, [])
        per_run = [x / y for x, y in zip(a, b) if y]
        if not per_run:
            return "—"
        sp = spread(per_run, digits)
        return f"{median(per_run):{digits}}x" + (f" ({sp})" if sp else "")


def run_command(argv: Sequence[str], *, cwd: Path | None = None, timeout: float | None = None,
                capture: bool = False) -> tuple[float, float, str]:
    """Run one command; wall seconds, peak RSS of its largest process (MiB) and its standard output.

    Parameters
    ----------
    argv
        The command.
    cwd
        Its folder (default the repository root).
    timeout
        Seconds it may take (``None``: no limit).
    capture
        Return what it printed (default: its output is thrown away and ``""`` returned).

    Raises
    ------
    RuntimeError
        The command failed or ran over ``timeout``; the message has the tail of its stderr.
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd or REPO, stdout=out if capture else subprocess.DEVNULL,
                                stderr=err)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"over the {timeout:g} s limit")
            time.sleep(0.02)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            raise RuntimeError(f"exit {proc.returncode}: " + " / ".join(tail))
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return seconds, usage.ru_maxrss / 1024, text  # ru_maxrss is KiB on Linux


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (MiB): over all runs of an in-process benchmark."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
