"""The hostile-input matrix of issue 17: every case × every verb it applies to, through the real
``gridkit`` command, classified.

Run on demand (not part of the test suite)::

    python benchmarks/hostile_matrix.py [--only SUBSTRING] [--scope input|output|interrupt] [--jobs 2]
                                        [--keep DIR] [--verbose]

Builds a clip of data/sample_county (two communities) and its grids in a temporary folder,
then for each case writes the broken input (or locks the output folder, fills a tiny tmpfs,
sends SIGINT) and runs ``gridkit`` on it. The outcome of each cell is ``exit 0, documented``
(a documented repair or report), ``exit N, clear`` (the message names the file, the field or
features and ends with a fix; nothing partial left) or a failure: ``internal error``,
``traceback``, ``partial output``, ``silent change``, ``vague message``, ``exit N, documented M``.
The cases and their documented behaviour live in ``tests/hostile_cases.py`` (inputs, also run
by ``tests/test_hostile_inputs.py``) and ``tests/hostile_run.py`` (outputs and interrupts);
docs/errors.md ("hostile inputs") documents each.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hostile_base import VERBS, make_base
from hostile_run import Outcome, all_cases, run_case

SHORT = {"exit 0, documented": "ok0", "exit 2, clear": "ok2", "exit 3, clear": "ok3", "exit 4, clear": "ok4",
         "exit 130, clear": "ok130", "internal error": "INTERNAL", "traceback": "TRACEBACK",
         "partial output": "PARTIAL", "silent change": "SILENT", "vague message": "VAGUE", "skipped": "skip"}


def _cell(o: Outcome) -> str:
    if o.kind in SHORT:
        return SHORT[o.kind]
    return o.kind.replace("exit ", "x").replace(", documented ", "≠")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run the cases whose id contains this")
    parser.add_argument("--scope", choices=("input", "output", "interrupt"))
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--keep", type=Path, help="keep the work folders here")
    parser.add_argument("--verbose", action="store_true", help="print the output of every failing case")
    args = parser.parse_args(argv)
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # a shell starts background jobs with SIGINT ignored, and the commands would inherit that
        signal.signal(signal.SIGINT, signal.default_int_handler)

    cases = [c for c in all_cases() if (not args.only or args.only in c.id) and (not args.scope or c.scope == args.scope)]
    root = Path(tempfile.mkdtemp(prefix="hostile-")) if args.keep is None else args.keep
    start = time.monotonic()
    base = make_base(root / "base")
    for verb in ("board", "patrol check"):   # references some cases compare with
        if any(c.verb == verb for c in cases):
            base.reference(verb)

    def one(item: tuple[int, object]) -> Outcome:
        i, case = item
        return run_case(case, base, root / f"case{i:03d}")  # type: ignore[arg-type]

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        outcomes = list(pool.map(one, enumerate(cases)))
    wall = time.monotonic() - start
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)

    families = list(dict.fromkeys(o.case.family for o in outcomes))
    verbs = [v for v in VERBS if any(o.case.verb == v for o in outcomes)]
    grid = {(o.case.family, o.case.verb): o for o in outcomes}
    width = max(len(f) for f in families)
    heads = [v.replace("patrol ", "p.") for v in verbs]
    print(f"{'case':<{width}} | " + " | ".join(f"{h:>9}" for h in heads))
    print("-" * width + "-+-" + "-+-".join("-" * 9 for _ in heads))
    for fam in families:
        cells = [(_cell(grid[(fam, v)]) + ("" if grid[(fam, v)].ok or grid[(fam, v)].kind == "skipped" else " ✗"))
                 if (fam, v) in grid else "" for v in verbs]
        print(f"{fam:<{width}} | " + " | ".join(f"{c:>9}" for c in cells))

    counts = Counter(o.kind for o in outcomes)
    good = sum(o.ok for o in outcomes)
    skipped = counts.get("skipped", 0)
    print(f"\n{len(outcomes)} cases: {good} as documented, {len(outcomes) - good - skipped} not, {skipped} skipped "
          f"({wall:.0f} s wall, {args.jobs} at once)")
    for kind, n in counts.most_common():
        print(f"  {n:4d}  {kind}")
    bad = [o for o in outcomes if not o.ok and o.kind != "skipped"]
    if bad:
        print("\nnot as documented:")
        for o in bad:
            line = o.text.strip().splitlines()[-1][:160] if o.text.strip() else ""
            print(f"  {o.case.id}: {o.kind}{' — ' + o.detail if o.detail else ''}\n      {line}")
            if args.verbose:
                print("      " + o.explain().replace("\n", "\n      "))
    for o in outcomes:
        if o.kind == "skipped":
            print(f"  skipped {o.case.id}: {o.detail}")
    print(f"\ncommand: python benchmarks/hostile_matrix.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
