"""`gridkit demo`: the whole pipeline built so far, on the bundled sample county."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run the pipeline on the bundled sample county",
                       description="Partition data/sample_county into grids; writes under maps/demo/ by default.")
    p.add_argument("-o", "--outdir", default=str(Path("maps") / "demo"), help="output folder (default maps/demo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridkit_cli import partition_cmd

    from gridkit.datasets import get_path

    sample = get_path("sample_county")
    print(f"sample county: {sample}")
    argv = [str(sample / "communities.gpkg"), "--buildings", str(sample / "buildings.gpkg"),
            "--streets", str(sample / "streets.gpkg"), "--dedicated", str(sample / "dedicated.gpkg"),
            "-o", str(Path(args.outdir) / "partition")]
    sub = argparse.ArgumentParser()
    partition_cmd.register(sub.add_subparsers())
    pargs = sub.parse_args(["partition", *argv])
    pargs.quiet = args.quiet
    pargs.debug = args.debug
    return partition_cmd.run(pargs)
