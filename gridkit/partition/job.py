"""The ``gridkit partition`` job: read the files, partition, write the outputs.

>>> from gridkit.datasets import get_path
>>> sample = get_path("sample_county")
>>> files = PartitionFiles(sample / "communities.gpkg", sample / "buildings.gpkg",
...                        streets=sample / "streets.gpkg", dedicated=sample / "dedicated.gpkg")
>>> sorted(read_partition_inputs(files))
['buildings', 'communities', 'dedicated', 'streets']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gridkit._progress import Progress
from gridkit._types import CoordSystem, PathLike
from gridkit.errors import GridkitError, ParameterError
from gridkit.io import read_layer
from gridkit.partition.options import PartitionOptions
from gridkit.partition.outputs import CHANGE_FILES, OUTPUT_FILES, write_partition
from gridkit.partition.pipeline import partition
from gridkit.partition.result import PartitionResult
from gridkit.partition.validate import Problems

__all__ = ["ESTIMATE_RULE", "PartitionFiles", "PartitionRun", "partition_files", "read_partition_inputs"]

#: how ``estimate_households`` counts, as the report states it
ESTIMATE_RULE = ("floor(footprint m2 x levels / 80 m2) for residential buildings (OSM building=apartments, "
                 "residential, dormitory, terrace, yes; houses hold 1, other types 0), levels from building:levels "
                 "or a levels field, else apartments 5, dormitory 5, residential 4, terrace 2, yes 2, others 1")


@dataclass(frozen=True)
class PartitionFiles:
    """The input files of a partition and how to read them.

    Attributes
    ----------
    boundaries
        Community/village polygons with a 12-digit division code.
    buildings
        Buildings with a households field, or household points (an OSM file with
        ``estimate_households``).
    streets, osm
        Street lines, or an OSM file to take the streets from (at most one).
    dedicated
        Polygons of dedicated compounds.
    estimate_households
        Estimate households from footprints and levels (:data:`ESTIMATE_RULE`).
    previous, locked
        A previous plan to adjust (its ``grids`` layer and, in a GeoPackage, its
        ``codes`` layer; see :func:`gridkit.partition.previous_plan.read_previous`), and
        codes of its grids to keep exactly.
    assume_crs, input_coords
        As :func:`gridkit.io.read_layer`.
    """

    boundaries: PathLike
    buildings: PathLike
    streets: PathLike | None = None
    osm: PathLike | None = None
    dedicated: PathLike | None = None
    estimate_households: bool = False
    assume_crs: str | None = None
    input_coords: CoordSystem = "wgs84"
    previous: PathLike | None = None
    locked: tuple[str, ...] = ()


@dataclass
class PartitionRun:
    """What :func:`partition_files` did: the result, its report and the files written."""

    result: PartitionResult
    report: dict[str, Any]
    outdir: Path
    files: tuple[Path, ...]


def read_partition_inputs(files: PartitionFiles, *, options: PartitionOptions | None = None
                          ) -> dict[str, Any]:
    """Read every input file; the problems of all of them are raised together.

    Returns the layers ``communities``, ``buildings``, ``streets`` and ``dedicated``
    (None when not given), and ``previous`` (a
    :class:`~gridkit.partition.previous_plan.PreviousPlan`) when ``files.previous`` is given.
    """
    opts = options or PartitionOptions()
    common: dict[str, Any] = {"assume_crs": files.assume_crs, "input_coords": files.input_coords}
    problems = Problems()
    layers: dict[str, Any] = {"communities": None, "buildings": None, "streets": None, "dedicated": None}

    def read(name: str, **kwargs: Any) -> None:
        try:
            layers[name] = read_layer(**kwargs)
        except GridkitError as err:
            problems.add(err)

    read("communities", path=files.boundaries, geometry="polygon", role="boundaries",
         required_fields=[opts.code_field], **common)
    if files.estimate_households:
        read("buildings", path=files.buildings, role="buildings", osm_kind="buildings", **common)
    else:
        read("buildings", path=files.buildings, role="buildings", **common)
    if files.streets is not None:
        read("streets", path=files.streets, geometry="line", role="streets", **common)
    elif files.osm is not None:
        read("streets", path=files.osm, osm_kind="streets", role="streets")
    if files.dedicated is not None:
        read("dedicated", path=files.dedicated, geometry="polygon", role="dedicated", **common)
    if files.previous is not None or files.locked:
        from gridkit.partition.previous_plan import read_previous

        if files.previous is None:
            problems.add(ParameterError("--lock needs --previous OLD_GRIDS", field="locked",
                                        hint="give the previous grids file whose grids to lock"))
        else:
            try:
                layers["previous"] = read_previous(files.previous, locked=files.locked, assume_crs=files.assume_crs)
            except GridkitError as err:
                problems.add(err)
    problems.raise_if_any()
    buildings = layers["buildings"]
    if files.estimate_households and buildings is not None:
        from gridkit.osm.features import estimate_households

        buildings[opts.households_field] = estimate_households(buildings).to_numpy()
        buildings.attrs["households_estimated"] = ESTIMATE_RULE
    return layers


def partition_files(
    files: PartitionFiles,
    outdir: PathLike,
    *,
    options: PartitionOptions | None = None,
    parameters: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> PartitionRun:
    """Read ``files``, partition them and write ``grids.gpkg``, ``report.json``/``report.md`` and ``map.html``.

    Nothing is written when a step fails. ``parameters`` are recorded in the report
    (default: the files and the options).
    """
    opts = options or PartitionOptions()
    layers = read_partition_inputs(files, options=opts)
    communities, buildings = layers["communities"], layers["buildings"]
    assert communities is not None and buildings is not None
    result = partition(communities, buildings, streets=layers["streets"], dedicated=layers["dedicated"],
                       options=opts, progress=progress, previous=layers.get("previous"))
    report = write_partition(result, outdir, parameters=_parameters(files, opts) if parameters is None else parameters,
                             streets=layers["streets"], workers=opts.workers)
    out = Path(outdir)
    names = OUTPUT_FILES + (CHANGE_FILES if result.changes is not None else ())
    return PartitionRun(result=result, report=report, outdir=out, files=tuple(out / name for name in names))


def _parameters(files: PartitionFiles, options: PartitionOptions) -> dict[str, Any]:
    """The files and options as the report records them (plain JSON values)."""
    values = {**asdict(files), **asdict(options)}
    return {k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in values.items() if v is not None}
