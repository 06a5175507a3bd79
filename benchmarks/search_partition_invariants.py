"""Search many generated communities for an input that breaks a partition invariant.

The test suite checks a fixed (derandomized) set of generated communities so that main
stays green; this script keeps looking with fresh seeds and prints every failure with the
arguments that reproduce it (paste them into ``tests/partition_cases.make_case``).

    python benchmarks/search_partition_invariants.py --seed 1 --cases 500
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from partition_cases import make_case
from test_partition_properties import check_invariants

from gridkit.partition.pipeline import partition


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    failures = 0
    started = time.perf_counter()
    for _ in range(args.cases):
        kw = {
            "seed": int(rng.integers(2**31)), "streets": bool(rng.integers(2)),
            "kind": str(rng.choice(["city", "rural"])), "households": int(rng.integers(50, 6000)),
            "points": bool(rng.integers(2)), "multipart": bool(rng.random() < 0.2), "hole": bool(rng.random() < 0.2),
        }
        case = make_case(**kw)
        result = partition(case["communities"], case["buildings"], streets=case["streets"] if kw["streets"] else None)
        try:
            check_invariants(case, result)
        except AssertionError as err:
            failures += 1
            print(f"FAIL make_case(**{kw}): {str(err).splitlines()[0]}", flush=True)
    print(f"$ python benchmarks/search_partition_invariants.py --seed {args.seed} --cases {args.cases}")
    print(f"{args.cases} cases, {failures} failures, {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
