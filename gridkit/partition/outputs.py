"""Write a partition: ``grids.gpkg`` (grids, buildings, units, communities), reports, an offline map.

The only module of the partition that knows about maps: the pipeline and the rules
never import :mod:`gridkit.maps`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd

from gridkit._types import PathLike
from gridkit.io import atomic_dir, write_layers, write_text
from gridkit.maps import signoff_map
from gridkit.maps.offline import render_page, save_page
from gridkit.partition.report import report_from_result, report_json, report_markdown
from gridkit.partition.result import PartitionResult
from gridkit.scale import Beside, auto_workers

__all__ = ["CHANGE_FILES", "GRID_COLUMNS", "OUTPUT_FILES", "write_partition"]

#: the columns of the ``grids`` layer, in file order
GRID_COLUMNS = ["grid_code", "community_code", "community_name", "kind", "households", "buildings", "area_m2",
                "compactness", "within_bounds", "dedicated", "dedicated_name", "deviation", "balanced", "reason", "note",
                "geometry"]

#: what :func:`write_partition` puts in the output folder
OUTPUT_FILES = ("grids.gpkg", "report.json", "report.md", "map.html")

#: what it adds for a re-partition against a previous plan (and the ``codes`` layer of grids.gpkg)
CHANGE_FILES = ("changes.csv", "changes.html")


def write_partition(result: PartitionResult, outdir: PathLike, *, parameters: dict[str, Any] | None = None,
                    streets: gpd.GeoDataFrame | None = None, workers: int | None = None) -> dict[str, Any]:
    """Write every output into ``outdir`` at once (nothing appears there if a step fails).

    ``map.html`` is the sign-off page (:func:`gridkit.maps.signoff_map`): the grids with
    their serials, households and deviation from the community mean, grids breaking a
    rule or outside the tolerance outlined with the reason, over ``streets`` and the
    buildings. With ``workers`` above 1 (None: when the county is big enough to pay,
    :func:`gridkit.scale.auto_workers`) the page is built in a second process while this
    one writes the layers and reports; the files are the same. Returns the report dictionary.
    """
    parallel = (workers if workers is not None else auto_workers(2, len(result.buildings))) > 1
    page = Beside(_signoff_page, result, streets, enabled=parallel)
    try:
        report = report_from_result(result, parameters=parameters)
        with atomic_dir(outdir) as tmp:
            layers = {
                "grids": result.grids[GRID_COLUMNS],
                "buildings": result.buildings,
                "units": result.units,
                "communities": result.communities,
            }
            if result.changes is not None:  # against a previous plan: codes table, changes.csv, change map
                from gridkit.partition.changes import write_changes

                layers["codes"] = result.changes.codes
                write_changes(result, tmp)
            write_layers(Path(tmp) / "grids.gpkg", layers)
            write_text(Path(tmp) / "report.json", report_json(report))
            write_text(Path(tmp) / "report.md", report_markdown(report))
            save_page(page.result(), Path(tmp) / "map.html", offline=True)
    finally:
        page.close()
    return report


def _signoff_page(result: PartitionResult, streets: gpd.GeoDataFrame | None) -> str:
    """The HTML of the sign-off page ``map.html``."""
    tolerance = result.figures.get("tolerance")
    page = signoff_map(result.grids[GRID_COLUMNS], communities=result.communities, streets=streets,
                       buildings=result.buildings, issues=result.issues,
                       tolerance=0.2 if tolerance is None else tolerance)
    return render_page(page, offline=True)
