"""The progress-callback type shared by long-running library calls.

The library never draws a progress bar; it calls ``progress(done, total, label)``
and the command line turns that into a bar.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, label: str) -> None:
    """A progress callback that does nothing."""
