"""The verbs of the ``gridkit`` command, each registered by its own module."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Register = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]


def registry() -> list[Register]:
    """Every verb's register function, in the order ``--help`` lists them."""
    from gridkit_cli import (
        attach_cmd,
        board_cmd,
        check_cmd,
        communities_cmd,
        demo_cmd,
        export_cmd,
        heatmap_cmd,
        inspect_cmd,
        map_cmd,
        partition_cmd,
        patrol_cmd,
        synth_cmd,
    )

    return [
        partition_cmd.register,
        check_cmd.register,
        communities_cmd.register,
        attach_cmd.register,
        heatmap_cmd.register,
        patrol_cmd.register,
        map_cmd.register,
        board_cmd.register,
        export_cmd.register,
        synth_cmd.register,
        demo_cmd.register,
        inspect_cmd.register,
    ]
