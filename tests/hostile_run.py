"""Run a hostile case through the real ``gridkit`` command and classify what happened.

Outcomes: ``exit 0, documented`` (a documented repair or report), ``exit N, clear`` (the message
names the file, the field or features and a fix), or a failure: ``internal error``,
``traceback``, ``partial output``, ``silent change`` (exit 0 where the input should have been
refused, or a documented report or repair missing), ``vague message`` or ``exit N, documented M``.
Also the cases about output locations and interrupts (scope ``output``/``interrupt``), which
only ``benchmarks/hostile_matrix.py`` runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hostile_base import Base, gridkit_command, output_of, verb_argv
from hostile_cases import Case, Expect, Run, input_cases, says

OK_KINDS = ("exit 0, documented", "exit 2, clear", "exit 3, clear", "exit 4, clear", "exit 130, clear")


@dataclass
class Outcome:
    case: Case
    kind: str
    code: int | None
    text: str
    left: list[str]
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind in OK_KINDS

    def explain(self) -> str:
        left = f"; left behind: {self.left[:5]}" if self.left else ""
        return (f"{self.case.id}: {self.kind} (exit {self.code}, documented exit {self.case.expect.exit})"
                f"{': ' + self.detail if self.detail else ''}{left}\n--- output ---\n{self.text[-1500:]}")


def _tree(folder: Path) -> set[str]:
    if not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _wait_open(proc: subprocess.Popen[str], target: Path, timeout: float = 60) -> bool:
    """Wait until ``proc`` has ``target`` open (it is reading it)."""
    fds = Path(f"/proc/{proc.pid}/fd")
    want = str(target.resolve())
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            if any(os.readlink(fd) == want for fd in fds.iterdir()):
                return True
        except OSError:
            pass
        time.sleep(0.005)
    return False


def execute(run: Run, cwd: Path, timeout: float = 300) -> tuple[int | None, str]:
    """Run the case's command; its exit code and everything it printed."""
    argv = [*gridkit_command(), "--quiet", *run.argv]
    if run.wrap:
        argv = run.wrap(argv)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if run.sigint_when_open is not None or run.sigint_after is not None:
        if run.sigint_when_open is not None:
            _wait_open(proc, run.sigint_when_open)
        else:
            time.sleep(run.sigint_after or 0)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        else:  # the command was done before it could be interrupted: nothing to judge
            proc.communicate()
            return None, _NOT_SENT
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return None, out + "\n[timed out]"
    return proc.returncode, out


class Zygote:
    """A warm ``gridkit`` (``hostile_zygote.py``) that forks one child process per command."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("hostile_zygote.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        json.loads(self.proc.stdout.readline())

    def execute(self, run: Run, cwd: Path, timeout: float = 300) -> tuple[int | None, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        log = cwd / "gridkit.log"
        request = {"argv": ["--quiet", *run.argv], "cwd": str(cwd), "log": str(log), "timeout": int(timeout)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        code = json.loads(self.proc.stdout.readline())["code"]
        return (None if code == -signal.SIGALRM else code), log.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()


_NOT_SENT = "[the command finished before SIGINT could be sent]"


def classify(case: Case, run: Run, code: int | None, text: str, left: list[str], out: Path) -> tuple[str, str]:
    """The outcome's kind and what is missing or wrong."""
    exp: Expect = case.expect
    if "Traceback (most recent call last)" in text:
        return "traceback", ""
    if "internal error" in text:
        return "internal error", ""
    if code is None:
        return "timed out", ""
    if code == 0:
        if exp.exit != 0:
            return "silent change", f"exit 0 where exit {exp.exit} is documented"
        missing = [p for p in exp.says if not says(text, p)]
        if missing:
            return "silent change", f"the documented report is missing (no {missing})"
        problem = run.check(out) if run.check else None
        if problem:
            return "silent change", problem
        return "exit 0, documented", ""
    if left:
        return "partial output", ""
    if code in (2, 3, 4, 130):
        named = (_name_pattern(run.subject),) if run.subject else ()
        missing = [p for p in (*named, *exp.says) if not says(text, p)]
        if exp.fix and code != 130 and not says(text, r"fix:"):
            missing.append("Fix:")
        if code != exp.exit:
            return f"exit {code}, documented {exp.exit}", f"{'message lacks ' + str(missing) if missing else ''}"
        if missing:
            return "vague message", f"lacks {missing}"
        return f"exit {code}, clear", ""
    return f"exit {code}", ""


def _name_pattern(subject: str) -> str:
    return re.escape(subject)


def run_case(case: Case, base: Base, work: Path, zygote: Zygote | None = None) -> Outcome:
    """Build ``case`` in the empty folder ``work`` and run it (through ``zygote`` when given)."""
    (work / "in").mkdir(parents=True, exist_ok=True)
    (work / "out").mkdir(parents=True, exist_ok=True)
    reason = case.skip()
    if reason:
        return Outcome(case, "skipped", None, reason, [], reason)
    run = case.build(base, work)
    before = _tree(work / "out")
    start = time.monotonic()
    plain = run.wrap is None and run.sigint_when_open is None and run.sigint_after is None
    code, text = zygote.execute(run, work) if zygote is not None and plain else execute(run, work)
    seconds = time.monotonic() - start
    if text == _NOT_SENT:
        return Outcome(case, "skipped", None, text, [], "the command read its input faster than the harness "
                       "could interrupt it", seconds)
    if run.listing is not None:
        left = sorted(set(run.listing.read_text().split()) - set()) if run.listing.exists() else []
    else:
        left = sorted(_tree(work / "out") - before) if code != 0 else []
    kind, detail = classify(case, run, code, text, left, work / "out")
    return Outcome(case, kind, code, text, left, detail, seconds)


# ----------------------------------------------------------------------------- outputs and interrupts

WRITING_VERBS = ("partition", "attach", "export", "heatmap", "map", "board", "patrol plan", "patrol check")


@cache
def _unprivileged() -> tuple[list[str], str] | None:
    """A command prefix that runs gridkit without root's permission bypass, and what it is."""
    if os.geteuid() != 0:
        return [], "not root"
    nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run([*nobody, *gridkit_command(), "--version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return nobody, "setpriv as nobody"
    # the interpreter is not readable by nobody (e.g. under /root): stay root without the capabilities
    # that bypass file permissions
    caps = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    probe = subprocess.run([*caps, *gridkit_command(), "--version"], capture_output=True, check=False)
    return (caps, "root without CAP_DAC_OVERRIDE (setpriv --bounding-set)") if probe.returncode == 0 else None


@cache
def _tmpfs_works() -> bool:
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d"'],
                           capture_output=True, check=False)
    return probe.returncode == 0


def _unwritable(verb: str) -> Case:
    def build(base: Base, work: Path) -> Run:
        out = work / "out" / "locked"
        out.mkdir(parents=True)
        out.chmod(0o555)
        prefix = (_unprivileged() or ([], ""))[0]
        return Run(verb_argv(verb, base, out, {}), subject="locked", wrap=lambda a: [*prefix, *a])
    return Case("output folder not writable", verb, build, Expect(4, ("permission|writ",)), scope="output",
                skip=lambda: None if _unprivileged() else "no way to drop root's permission bypass here",
                doc="exit 4: the path named; fix: choose a writable folder; nothing left")


def _occupied(verb: str) -> Case:
    def build(base: Base, work: Path) -> Run:
        target = output_of(verb, work / "out")
        if target.suffix:           # a file verb: its output is a folder
            target.mkdir(parents=True)
            (target / "keep.txt").write_text("x")
        else:                       # a folder verb: its output folder is a file
            target.write_text("x")
        return Run(verb_argv(verb, base, work / "out", {}), subject=target.name)
    return Case("output path taken (file/folder)", verb, build, Expect(4), scope="output",
                doc="exit 4: the path is a file where a folder is needed (or the reverse), named")


def _full_disk(verb: str) -> Case:
    def build(base: Base, work: Path) -> Run:
        out = work / "out" / "tiny"
        out.mkdir(parents=True)
        listing = work / "left.txt"
        script = (f'mount -t tmpfs -o size=48k tmpfs "{out}" && "$@"; rc=$?; '
                  f'(cd "{out}" && find . -mindepth 1) > "{listing}"; exit $rc')
        return Run(verb_argv(verb, base, out, {}), subject="tiny",
                   wrap=lambda a: ["unshare", "-rm", "sh", "-c", script, "sh", *a], listing=listing)
    return Case("disk full", verb, build, Expect(4, ("space|full",)), scope="output",
                skip=lambda: None if _tmpfs_works() else "unshare -rm cannot mount a tmpfs here",
                doc="exit 4: no space left, the path named; nothing left, temporary folder removed")


def _stale_tmp(verb: str) -> Case:
    def build(base: Base, work: Path) -> Run:
        target = output_of(verb, work / "out")
        stale = target.parent / f".{target.name}.tmp-killed0"
        stale.mkdir(parents=True)
        (stale / "half.gpkg").write_bytes(b"\0" * 1000)

        def check(out: Path) -> str | None:
            return f"the stale {stale.name} of an earlier killed run is still there" if stale.exists() else None
        return Run(verb_argv(verb, base, work / "out", {}), subject=target.name, check=check)
    return Case("stale temporary folder (SIGKILL)", verb, build, Expect(0), scope="output",
                doc="exit 0: the temporary folder of a killed run is removed (or reported)")


def _sigint(verb: str, *, early: bool) -> Case:
    def build(base: Base, work: Path) -> Run:
        argv = verb_argv(verb, base, work / "out", {})
        reading = Path(argv[{"partition": 1, "attach": 2, "heatmap": 1, "export": 1}[verb]])
        if early:
            return Run(argv, subject="", sigint_after=0.15)
        return Run(argv, subject="", sigint_when_open=reading)
    family = "SIGINT at start" if early else "SIGINT while reading"
    return Case(family, verb, build, Expect(130, ("gridkit: interrupted",), fix=False), scope="interrupt",
                doc="exit 130: `gridkit: interrupted`, no traceback, nothing partial")


def output_cases() -> list[Case]:
    cases = [c(v) for c in (_unwritable, _full_disk, _occupied) for v in WRITING_VERBS]
    cases += [_stale_tmp(v) for v in ("attach", "export", "partition")]
    cases += [_sigint(v, early=False) for v in ("partition", "attach", "heatmap", "export")]
    cases.append(_sigint("partition", early=True))
    return cases


def all_cases() -> list[Case]:
    return [*input_cases(), *output_cases()]
