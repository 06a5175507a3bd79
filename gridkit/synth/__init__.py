"""Realistic synthetic counties for demos, tests and benchmarks.

:func:`synth_county` builds one (:mod:`~gridkit.synth.county`, from the town lattice of
:mod:`~gridkit.synth.town`, :mod:`~gridkit.synth.streets`, :mod:`~gridkit.synth.buildings`,
:mod:`~gridkit.synth.villages`, :mod:`~gridkit.synth.layers`, the incidents of
:mod:`~gridkit.synth.incidents` or :mod:`~gridkit.synth.district`, the tracks of
:mod:`~gridkit.synth.tracks`; data tables in ``gridkit/tables/synth_*.csv`` read by
:mod:`~gridkit.synth.tables`); :func:`write_county` writes it (:mod:`~gridkit.synth.writing`).
The names below are imported on first use, so the command line can describe
``gridkit synth`` from :mod:`~gridkit.synth.constants` without loading the generator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridkit.synth.constants import COUNTY_CODE, FILES, HOUSEHOLDS_PER_COMMUNITY, OUTPUT_CRS, WORK_CRS
    from gridkit.synth.county import synth_county
    from gridkit.synth.district import DistrictIncidents
    from gridkit.synth.writing import write_county

__all__ = [
    "COUNTY_CODE",
    "FILES",
    "HOUSEHOLDS_PER_COMMUNITY",
    "OUTPUT_CRS",
    "WORK_CRS",
    "DistrictIncidents",
    "synth_county",
    "write_county",
]

_HOMES = {
    "COUNTY_CODE": "constants",
    "FILES": "constants",
    "HOUSEHOLDS_PER_COMMUNITY": "constants",
    "OUTPUT_CRS": "constants",
    "WORK_CRS": "constants",
    "DistrictIncidents": "district",
    "synth_county": "county",
    "write_county": "writing",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'gridkit.synth' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gridkit.synth.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
