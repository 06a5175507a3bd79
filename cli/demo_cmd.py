"""`gridkit demo`."""

from __future__ import annotations

import argparse

from gridkit.errors import ParameterError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="(being built)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise ParameterError("'gridkit demo' is being built")
