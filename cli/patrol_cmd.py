"""`gridkit patrol`: patrol routes (`plan`) and GPS track checks (`check`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from gridkit_cli import patrol_check_cmd, patrol_plan_cmd

    p = sub.add_parser("patrol", help="patrol routes per grid and GPS track checks",
                       description="Plan patrol routes that walk every street of each grid (plan), or check grid "
                                   "workers' GPS tracks against their grids (check).")
    subs = p.add_subparsers(dest="patrol_verb", metavar="plan|check", parser_class=type(p))
    patrol_plan_cmd.register(subs)
    patrol_check_cmd.register(subs)

    def run(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=run)
