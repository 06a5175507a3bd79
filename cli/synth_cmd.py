"""`gridkit synth`: write a realistic synthetic county for demos, tests and benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path

from gridkit_cli._progress import progress_bar

from gridkit.synth.county import FILES, HOUSEHOLDS_PER_COMMUNITY, synth_county, write_county

_NOUNS = {
    "communities": "communities and villages",
    "streets": "streets",
    "buildings": "buildings",
    "dedicated": "dedicated compounds",
    "components": "components",
    "incidents": "incidents",
    "tracks": "GPS fixes",
    "workers": "grid workers",
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "synth",
        help="write a realistic synthetic county (demos, tests, benchmarks)",
        description=(
            "Write a synthetic Guizhou county seat (urban communities of about "
            f"{HOUSEHOLDS_PER_COMMUNITY:,} households) with villages around it: "
            + ", ".join(FILES.values())
            + ". The same seed writes byte-identical files."
        ),
    )
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder to write into")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--communities", type=int, default=None, metavar="N",
                   help="urban communities (default 4, or households / 4,250 with --households)")
    p.add_argument("--villages", type=int, default=4, metavar="N", help="rural villages, 0-12 (default 4)")
    p.add_argument("--households", type=int, default=None, metavar="N",
                   help="households in the town in total, e.g. 1000000 for a benchmark")
    p.add_argument("--no-incidents", action="store_true", help="skip incidents.csv")
    p.add_argument("--no-tracks", action="store_true", help="skip tracks.csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with progress_bar(args.quiet) as progress:
        county = synth_county(
            seed=args.seed,
            communities=args.communities,
            villages=args.villages,
            households=args.households,
            incidents=not args.no_incidents,
            tracks=not args.no_tracks,
            progress=progress,
        )
        paths = write_county(county, args.output, progress=progress)
    for key, path in paths.items():
        print(_summary(key, path, county[key]))
    return 0


def _summary(key: str, path: Path, frame: object) -> str:
    count = len(frame)  # type: ignore[arg-type]
    extra = ""
    if key == "buildings":
        extra = f", {int(frame['households'].sum()):,} households"  # type: ignore[index]
    return f"{path}: {count:,} {_NOUNS[key]}{extra} ({_size(path.stat().st_size)})"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
