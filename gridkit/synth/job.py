"""The ``gridkit synth`` job: generate a county and write it, one file per layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gridkit._progress import Progress
from gridkit._rng import RNGLike
from gridkit._types import PathLike
from gridkit.synth.county import synth_county
from gridkit.synth.writing import write_county

__all__ = ["WrittenLayer", "synth_job"]


@dataclass(frozen=True)
class WrittenLayer:
    """One file of a written county: its layer, path, rows, size and (buildings) households."""

    key: str
    path: Path
    rows: int
    size: int
    households: int | None = None


def synth_job(
    outdir: PathLike,
    *,
    seed: RNGLike = 0,
    communities: int | None = None,
    villages: int = 4,
    households: int | None = None,
    incidents: bool = True,
    tracks: bool = True,
    incidents_per_day: float | None = None,
    days: int = 365,
    progress: Progress | None = None,
) -> list[WrittenLayer]:
    """:func:`~gridkit.synth.county.synth_county` with these options, written by
    :func:`~gridkit.synth.writing.write_county` into ``outdir``; what was written, file by file."""
    county = synth_county(seed=seed, communities=communities, villages=villages, households=households,
                          incidents=incidents, tracks=tracks, incidents_per_day=incidents_per_day, days=days,
                          progress=progress)
    paths = write_county(county, outdir, progress=progress)
    written = []
    for key, path in paths.items():
        layer = county[key]
        homes = int(layer["households"].sum()) if key == "buildings" else None  # type: ignore[index]
        written.append(WrittenLayer(key, path, len(layer), path.stat().st_size, homes))
    return written
