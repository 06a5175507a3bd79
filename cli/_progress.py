"""Progress bars for the terminal, fed by the library's progress callbacks."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from gridkit._progress import Progress, no_progress


@contextmanager
def progress_bar(quiet: bool = False) -> Iterator[Progress]:
    """Yield a ``progress(done, total, label)`` callback drawing a tqdm bar on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield no_progress
        return
    bar: tqdm | None = None

    def update(done: int, total: int, label: str) -> None:
        nonlocal bar
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = tqdm(total=total, file=sys.stderr, leave=False, dynamic_ncols=True)
        bar.set_description(label, refresh=False)
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
