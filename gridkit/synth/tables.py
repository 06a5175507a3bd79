"""The synthetic county's data tables, read once from ``gridkit/tables/synth_*.csv``.

Building types and their sizes, block kinds and their building mix, names, component
spacing rules, incident sources, categories, hours, seasons and case levels are data,
not code: each loader here reads its table through :func:`gridkit.io.tables.read_table`,
checks it and returns arrays of the types the generator draws from. The order of rows
matters (it is the order random draws are made in), so the same tables and seed give the
same county.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from gridkit.errors import InputDataError
from gridkit.io.tables import read_table

__all__ = [
    "BLOCK_KINDS",
    "BUILDING_TYPES",
    "BlockKinds",
    "BuildingTypes",
    "CaseRules",
    "ComponentRule",
    "HotspotKind",
    "IncidentSource",
    "block_kinds",
    "building_types",
    "case_rules",
    "category_weights",
    "component_rules",
    "district_hotspots",
    "district_sources",
    "hour_profiles",
    "incident_sources",
    "names",
    "season_rules",
    "street_weights",
    "zone_kind_p",
]

#: Building types, in the order of their ids (schools and later are compounds' buildings).
BUILDING_TYPES = ("walkup", "tower", "lowrise", "shop", "office", "school", "hospital", "government")
#: Block kinds, in the order of their ids.
BLOCK_KINDS = ("walkup", "tower", "lowrise", "commercial", "school", "hospital", "government", "site")
_ZONES = ("centre", "middle", "edge")

WALKUP, TOWER, LOWRISE, SHOP, OFFICE, SCHOOL, HOSPITAL, GOVERNMENT = range(len(BUILDING_TYPES))
K_WALKUP, K_TOWER, K_LOWRISE, K_COMMERCIAL, K_SCHOOL, K_HOSPITAL, K_GOVERNMENT, K_SITE = range(len(BLOCK_KINDS))
#: The block kind of each kind of dedicated compound.
COMPOUND_KIND = {"school": K_SCHOOL, "hospital": K_HOSPITAL, "government": K_GOVERNMENT}


@dataclass(frozen=True)
class BuildingTypes:
    """Per building type: its ``use`` field and the ranges of length, depth (m) and levels."""

    use: np.ndarray
    length: np.ndarray  # (types, 2) float
    depth: np.ndarray  # (types, 2) float
    levels: np.ndarray  # (types, 2) int


@dataclass(frozen=True)
class BlockKinds:
    """Per block kind: the building cell size (m) and the mix of building types in its cells."""

    cell: np.ndarray  # (kinds, 2) float
    mix: np.ndarray  # (kinds, building types) float


@dataclass(frozen=True)
class ComponentRule:
    """Components of one category placed every ``spacing`` metres along some street classes."""

    category: str
    name_zh: str
    highways: tuple[str, ...]
    spacing: float
    offset: float  # distance from the centre line as a share of the street's half width
    town: bool  # town streets (True) or village roads (False)


@dataclass(frozen=True)
class IncidentSource:
    """Where a share of the incidents comes from: categories with weights, hours of day."""

    share: float
    count: int  # a fixed number instead of a share (the spike), else 0
    categories: Mapping[str, float]
    hours: np.ndarray


@dataclass(frozen=True)
class CaseRules:
    """Who resolves cases (level shares, speed as a share of the limit) and each category's limit."""

    levels: tuple[str, ...]
    level_p: np.ndarray
    level_speed: np.ndarray


def _table(name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    return read_table(None, bundled=name, columns=columns, what=f"synthetic county table {name}.csv")


def _rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """The rows of a table read by :func:`read_table` (every value is text)."""
    return [{str(k): str(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _bad(name: str, message: str) -> InputDataError:
    return InputDataError(f"{message}", path=f"{name}.csv (bundled with gridkit)",
                          hint="reinstall gridkit: its bundled tables are damaged")


def _in_order(frame: pd.DataFrame, column: str, expected: tuple[str, ...], name: str) -> None:
    if tuple(frame[column]) != expected:
        raise _bad(name, f"column {column!r} must list {', '.join(expected)} in this order")


@cache
def building_types() -> BuildingTypes:
    """The building types table (``synth_building_types.csv``)."""
    name = "synth_building_types"
    frame = _table(name, ("type", "use", "length_min", "length_max", "depth_min", "depth_max",
                          "levels_min", "levels_max"))
    _in_order(frame, "type", BUILDING_TYPES, name)
    return BuildingTypes(
        use=frame["use"].to_numpy(dtype=str),
        length=frame[["length_min", "length_max"]].to_numpy(dtype=float),
        depth=frame[["depth_min", "depth_max"]].to_numpy(dtype=float),
        levels=frame[["levels_min", "levels_max"]].astype(int).to_numpy(),
    )


@cache
def block_kinds() -> BlockKinds:
    """The block kinds table (``synth_block_kinds.csv``)."""
    name = "synth_block_kinds"
    frame = _table(name, ("kind", "cell_width", "cell_depth", *BUILDING_TYPES))
    _in_order(frame, "kind", BLOCK_KINDS, name)
    return BlockKinds(cell=frame[["cell_width", "cell_depth"]].to_numpy(dtype=float),
                      mix=frame[list(BUILDING_TYPES)].to_numpy(dtype=float))


@cache
def zone_kind_p() -> np.ndarray:
    """(zones, 4) probabilities of the walk-up, tower, low-rise and commercial kinds per zone."""
    name = "synth_zone_kinds"
    frame = _table(name, ("zone", *BLOCK_KINDS[:4]))
    _in_order(frame, "zone", _ZONES, name)
    return frame[list(BLOCK_KINDS[:4])].to_numpy(dtype=float)


@cache
def names() -> Mapping[str, tuple[str, ...]]:
    """Name lists (``synth_names.csv``): community and village roots, street roots, surnames..."""
    frame = _table("synth_names", ("list", "name"))
    return {str(key): tuple(group["name"]) for key, group in frame.groupby("list", sort=False)}


@cache
def component_rules() -> tuple[ComponentRule, ...]:
    """Component spacing rules (``synth_component_rules.csv``), in placement order."""
    name = "synth_component_rules"
    frame = _table(name, ("category", "name_zh", "highways", "spacing_m", "offset", "town"))
    if not frame["town"].isin(["yes", "no"]).all():
        raise _bad(name, "column 'town' must be yes or no")
    return tuple(ComponentRule(row["category"], row["name_zh"], tuple(row["highways"].split()),
                               float(row["spacing_m"]), float(row["offset"]), row["town"] == "yes")
                 for row in _rows(frame))


@cache
def hour_profiles() -> Mapping[str, np.ndarray]:
    """Relative incident rate by hour of day (24 values) of each profile (``synth_hour_profiles.csv``)."""
    name = "synth_hour_profiles"
    frame = _table(name, ("hour",))
    if frame["hour"].astype(int).tolist() != list(range(24)):
        raise _bad(name, "column 'hour' must run 0 to 23")
    return {str(col): frame[col].to_numpy(dtype=float) for col in frame.columns if col != "hour"}


@cache
def category_weights() -> Mapping[str, Mapping[str, float]]:
    """Incident categories and their weights per source (``synth_incident_categories.csv``), in table order."""
    frame = _table("synth_incident_categories", ("source", "category", "weight"))
    return {str(source): dict(zip(group["category"], group["weight"].astype(float)))
            for source, group in frame.groupby("source", sort=False)}


@cache
def incident_sources() -> Mapping[str, IncidentSource]:
    """The sample's incident sources in draw order (``synth_incident_sources.csv``)."""
    sources = _table("synth_incident_sources", ("source", "share", "count", "hours"))
    weights = category_weights()
    hours = hour_profiles()
    out = {}
    for row in _rows(sources):
        if row["source"] not in weights or row["hours"] not in hours:
            raise _bad("synth_incident_sources", f"source {row['source']!r} needs categories and a known hour profile")
        out[str(row["source"])] = IncidentSource(
            share=float(row["share"]) if row["share"] else 0.0, count=int(row["count"]) if row["count"] else 0,
            categories=weights[row["source"]], hours=hours[row["hours"]])
    return out


@dataclass(frozen=True)
class HotspotKind:
    """One kind of incident hotspot of a district-sized period (``synth_district_hotspots.csv``)."""

    kind: str
    per_1000_buildings: float
    hours: np.ndarray
    along_m: float  # spread along the hotspot's axis (a street for markets)
    across_m: float
    active_days: tuple[int, int] | None  # (shortest, longest) run of active days; None: always
    intensity: float  # incidents a day relative to other hotspots


@cache
def district_sources() -> Mapping[str, float]:
    """Shares of ``streets``, ``homes`` and ``hotspots`` in a district's incidents."""
    frame = _table("synth_district_sources", ("source", "share"))
    _in_order(frame, "source", ("streets", "homes", "hotspots"), "synth_district_sources")
    return dict(zip(frame["source"], frame["share"].astype(float)))


@cache
def district_hotspots() -> tuple[HotspotKind, ...]:
    """The kinds of hotspots of a district's incidents, each with categories in ``synth_incident_categories.csv``."""
    name = "synth_district_hotspots"
    frame = _table(name, ("kind", "per_1000_buildings", "hours", "along_m", "across_m", "active_days_min",
                          "active_days_max", "intensity"))
    hours, weights = hour_profiles(), category_weights()
    kinds = []
    for row in _rows(frame):
        if row["kind"] not in weights or row["hours"] not in hours:
            raise _bad(name, f"hotspot kind {row['kind']!r} needs categories and a known hour profile")
        active = (int(row["active_days_min"]), int(row["active_days_max"])) if row["active_days_min"] else None
        kinds.append(HotspotKind(row["kind"], float(row["per_1000_buildings"]), hours[row["hours"]],
                                 float(row["along_m"]), float(row["across_m"]), active, float(row["intensity"])))
    return tuple(kinds)


@cache
def street_weights() -> Mapping[str, float]:
    """Relative incidents per metre of each street class (``synth_street_weights.csv``)."""
    frame = _table("synth_street_weights", ("highway", "weight"))
    return dict(zip(frame["highway"], frame["weight"].astype(float)))


@cache
def season_rules() -> tuple[tuple[str, np.ndarray, float], ...]:
    """(category, months 1-12, factor) rows: the relative rate of a category in those months."""
    frame = _table("synth_seasons", ("category", "months", "factor"))
    return tuple((row["category"], np.array(row["months"].split(), dtype=int), float(row["factor"]))
                 for row in _rows(frame))


@cache
def case_rules() -> CaseRules:
    """Case levels (``synth_case_levels.csv``); time limits come from ``case_time_limits.csv``."""
    levels = _table("synth_case_levels", ("level", "share", "speed"))
    return CaseRules(levels=tuple(levels["level"]), level_p=levels["share"].to_numpy(dtype=float),
                     level_speed=levels["speed"].to_numpy(dtype=float))
