"""`gridkit synth`: write a realistic synthetic county for demos, tests and benchmarks."""

from __future__ import annotations

import argparse

from gridkit.errors import ParameterError
from gridkit.synth.constants import FILES, HOUSEHOLDS_PER_COMMUNITY

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
    p.add_argument("--incidents-per-day", type=float, default=None, metavar="N",
                   help="instead of the county's year of incidents (0.42 per household), a district's: about N a "
                        "day, clustered round streets, homes and hotspots, written in chunks "
                        "(e.g. 3000 with --days 365: about 1.1 million)")
    p.add_argument("--days", type=int, default=None, metavar="D",
                   help="days of --incidents-per-day, ending 2024-06-30 (default 365)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.days is not None and args.incidents_per_day is None:
        raise ParameterError("--days needs --incidents-per-day", hint="e.g. --incidents-per-day 3000 --days 365")
    if args.no_incidents and args.incidents_per_day is not None:
        raise ParameterError("--no-incidents and --incidents-per-day exclude each other", hint="leave out one")
    from gridkit_cli._progress import progress_bar

    from gridkit.synth.job import synth_job

    with progress_bar(args.quiet) as progress:
        written = synth_job(
            args.output,
            seed=args.seed,
            communities=args.communities,
            villages=args.villages,
            households=args.households,
            incidents=not args.no_incidents,
            tracks=not args.no_tracks,
            incidents_per_day=args.incidents_per_day,
            days=365 if args.days is None else args.days,
            progress=progress,
        )
    for layer in written:
        extra = f", {layer.households:,} households" if layer.households is not None else ""
        print(f"{layer.path}: {layer.rows:,} {_NOUNS[layer.key]}{extra} ({_size(layer.size)})")
    return 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
