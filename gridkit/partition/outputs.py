"""Write a partition: ``grids.gpkg`` (grids, buildings, units, communities), reports, an offline map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gridkit.io import atomic_dir, write_layers, write_text
from gridkit.maps import map_for_grids, save_map
from gridkit.partition.pipeline import PartitionResult
from gridkit.partition.report import _np_default, report_from_result, report_markdown

__all__ = ["write_partition"]

GRID_COLUMNS = ["grid_code", "community_code", "community_name", "kind", "households", "buildings", "area_m2",
                "compactness", "within_bounds", "dedicated", "dedicated_name", "note", "geometry"]


def write_partition(result: PartitionResult, outdir: str | Path, *, parameters: dict[str, Any] | None = None) -> dict:
    """Write every output into ``outdir`` at once (nothing appears there if a step fails).

    Returns the report dictionary.
    """
    report = report_from_result(result, parameters=parameters)
    with atomic_dir(outdir) as tmp:
        write_layers(Path(tmp) / "grids.gpkg", {
            "grids": result.grids[GRID_COLUMNS],
            "buildings": result.buildings,
            "units": result.units,
            "communities": result.communities,
        })
        write_text(Path(tmp) / "report.json", json.dumps(report, ensure_ascii=False, indent=2, default=_np_default))
        write_text(Path(tmp) / "report.md", report_markdown(report))
        # the quick look: grids coloured by households over the community outlines, readable offline
        page = map_for_grids(result.grids[GRID_COLUMNS], communities=result.communities)
        save_map(page, Path(tmp) / "map.html", offline=True)
    return report
