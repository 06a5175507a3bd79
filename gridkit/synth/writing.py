"""Writing a synthetic county: one file per layer, all of them or none, byte-reproducible.

Every file goes through :mod:`gridkit.io`: the folder is written with
:func:`gridkit.io.atomic_dir` (files appear only when every one is complete), GeoPackages
with :func:`gridkit.io.write_layers` under a fixed modification date, so the same county
gives byte-identical files; CSV tables are written in chunks, so a district's year of
incidents never has to be one frame in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from gridkit._progress import Progress, no_progress
from gridkit._types import PathLike
from gridkit.errors import ParameterError
from gridkit.io import atomic_dir, write_layers
from gridkit.synth.constants import FILE_DATE, FILES

if TYPE_CHECKING:
    from gridkit.synth.district import DistrictIncidents

__all__ = ["write_county"]


def write_county(
    county: Mapping[str, gpd.GeoDataFrame | pd.DataFrame | DistrictIncidents],
    outdir: PathLike,
    *,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write a county from :func:`gridkit.synth.synth_county` into ``outdir``, one file per layer.

    The files are written into a temporary folder beside ``outdir`` and moved in when
    all are complete, so a failed run leaves ``outdir`` as it was (other files in it are
    kept). GeoPackages get a fixed modification date, so the same county gives
    byte-identical files.

    Parameters
    ----------
    county
        Layers keyed as in ``FILES``: GeoDataFrames are written as GeoPackages, tables as
        CSV; a district's year of incidents (``incidents_per_day=``) is written chunk by chunk.
    outdir
        Folder to write into (created when missing).
    progress
        Called as ``progress(done, total, label)`` after each file.

    Returns
    -------
    dict
        The path of each file written, keyed like ``county``.

    Examples
    --------
    >>> import tempfile
    >>> from gridkit.synth import synth_county
    >>> county = synth_county(seed=1, communities=1, villages=0, incidents=False, tracks=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     sorted(path.name for path in write_county(county, tmp).values())
    ['buildings.gpkg', 'communities.gpkg', 'components.gpkg', 'dedicated.gpkg', 'streets.gpkg', 'workers.csv']
    """
    unknown = sorted(set(county) - set(FILES))
    if unknown:
        raise ParameterError(f"unknown county layers {unknown}", hint=f"use the keys {', '.join(FILES)}")
    folder = Path(outdir)
    report = progress or no_progress
    with atomic_dir(folder) as staging, _fixed_file_date():
        for done, (key, layer) in enumerate(county.items(), start=1):
            target = staging / FILES[key]
            if isinstance(layer, gpd.GeoDataFrame):
                write_layers(target, {key: layer})
            elif isinstance(layer, pd.DataFrame):
                _write_csv(target, [layer])
            else:
                _write_csv(target, layer.chunks())
            report(done, len(county), FILES[key])
    return {key: folder / FILES[key] for key in county}


def _write_csv(path: Path, chunks: Iterable[pd.DataFrame]) -> None:
    """A UTF-8 CSV with ``\\n`` line ends from one or more frames of the same columns."""
    with open(path, "x", encoding="utf-8", newline="") as stream:
        for k, chunk in enumerate(chunks):
            chunk.to_csv(stream, index=False, header=k == 0, lineterminator="\n")


@contextlib.contextmanager
def _fixed_file_date() -> Iterator[None]:
    """GDAL stamps GeoPackages with this date instead of the current time."""
    import pyogrio

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FILE_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
