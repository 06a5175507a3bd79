"""The ``gridkit check`` job: read the files, check the plan, write the report and the problems layer.

>>> import tempfile
>>> from gridkit.datasets import get_path
>>> sample = get_path("sample_county")
>>> out = tempfile.mkdtemp()
>>> run = check_files(CheckFiles(sample / "communities.gpkg", sample / "communities.gpkg",
...                              communities_layer="communities"), out, code_field="code", households_field="x")
Traceback (most recent call last):
...
gridkit.errors.MissingFieldError: ...communities.gpkg: the grids have no households field 'x' ...
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd

from gridkit._types import PathLike
from gridkit.check.checker import PROBLEM_COLUMNS, CheckResult, check_grids
from gridkit.check.options import CheckOptions
from gridkit.check.report import report_from_check, report_json, report_markdown
from gridkit.errors import GridkitError
from gridkit.io import atomic_dir, preferred_layer, read_layer, write_layers, write_text
from gridkit.partition.validate import Problems

__all__ = ["OUTPUT_FILES", "CheckFiles", "CheckRun", "check_files", "read_check_inputs", "write_check"]

#: what :func:`check_files` writes into the output folder
OUTPUT_FILES = ("report.md", "report.json", "problems.gpkg")


@dataclass(frozen=True)
class CheckFiles:
    """The files of a check and how to read them.

    Attributes
    ----------
    grids
        The grid polygons: gridkit's ``grids.gpkg`` (its ``grids`` layer is read), a
        hand-drawn or another tool's file in any format gridkit reads.
    communities
        Community/village polygons with their 12-digit division code.
    buildings
        Optional buildings with households; the grids' households are counted from them.
    grids_layer, communities_layer, buildings_layer
        The layer to read from a GeoPackage with several (defaults: ``grids``,
        ``communities``, ``buildings`` when the file has them).
    assume_crs
        The CRS of files that declare none.
    """

    grids: PathLike
    communities: PathLike
    buildings: PathLike | None = None
    grids_layer: str | None = None
    communities_layer: str | None = None
    buildings_layer: str | None = None
    assume_crs: str | None = None


@dataclass
class CheckRun:
    """What :func:`check_files` did: the result, its report and the files written."""

    result: CheckResult
    report: dict[str, Any]
    outdir: Path
    files: tuple[Path, ...]


def read_check_inputs(files: CheckFiles, *, options: CheckOptions | None = None) -> dict[str, gpd.GeoDataFrame | None]:
    """Read the grids, communities and buildings (None when not given); every file's problems raised together."""
    opts = options or CheckOptions()
    problems = Problems()
    layers: dict[str, gpd.GeoDataFrame | None] = {"grids": None, "communities": None, "buildings": None}

    def read(name: str, path: PathLike, layer: str | None, **kwargs: Any) -> None:
        try:
            layers[name] = read_layer(path, layer=preferred_layer(path, layer, preferred=name), role=name,
                                      assume_crs=files.assume_crs, **kwargs)
        except GridkitError as err:
            problems.add(err)

    read("grids", files.grids, files.grids_layer, geometry="polygon", text_fields=[opts.grid_code_field])
    read("communities", files.communities, files.communities_layer, geometry="polygon",
         required_fields=[opts.code_field], text_fields=[opts.code_field])
    if files.buildings is not None:
        read("buildings", files.buildings, files.buildings_layer)
    problems.raise_if_any()
    return layers


def check_files(
    files: CheckFiles,
    outdir: PathLike,
    *,
    options: CheckOptions | None = None,
    parameters: dict[str, Any] | None = None,
    **overrides: Any,
) -> CheckRun:
    """Read ``files``, check the plan and write ``report.md``, ``report.json`` and ``problems.gpkg``.

    ``problems.gpkg`` holds one layer, ``problems``, in the grids' CRS: each finding's
    geometry (gap pieces, overlaps, split buildings, parts outside a community, the grids
    outside the bounds…) with :data:`~gridkit.check.checker.PROBLEM_COLUMNS`, to open over
    the grids in QGIS. Nothing is written when the inputs are bad (the error names the
    file, the features and the field). ``parameters`` are recorded in the report
    (default: the files and the options).
    """
    opts = (options or CheckOptions()).with_overrides(**overrides)
    layers = read_check_inputs(files, options=opts)
    grids, communities = layers["grids"], layers["communities"]
    assert grids is not None and communities is not None
    result = check_grids(grids, communities, buildings=layers["buildings"], options=opts)
    report = write_check(result, outdir, parameters=_parameters(files, opts) if parameters is None else parameters)
    out = Path(outdir)
    return CheckRun(result=result, report=report, outdir=out, files=tuple(out / name for name in OUTPUT_FILES))


def write_check(result: CheckResult, outdir: PathLike, *, parameters: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """Write the report and the problems layer into ``outdir`` at once; return the report."""
    report = report_from_check(result, parameters=parameters)
    with atomic_dir(outdir) as tmp:
        write_text(Path(tmp) / "report.json", report_json(report))
        write_text(Path(tmp) / "report.md", report_markdown(report))
        write_layers(Path(tmp) / "problems.gpkg", {"problems": result.problems[PROBLEM_COLUMNS]})
    return report


def _parameters(files: CheckFiles, options: CheckOptions) -> dict[str, Any]:
    values = {**asdict(files), **asdict(options)}
    return {k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in values.items() if v is not None}
