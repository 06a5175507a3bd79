"""Which OSM ways are streets of a network type, with osmnx's meaning of the type names.

osmnx documents six network types (``all``, ``all_public``, ``bike``, ``drive``,
``drive_service``, ``walk``) and selects their ways with Overpass tag filters when it
downloads. An OSM file read here is not downloaded, so the same selection is written
below as data: a way belongs to a network when it has a ``highway`` tag and, for each
listed key, the key is absent or its value contains none of the listed words (Overpass
``["key"!~"a|b"]``: a search, so ``motor`` also excludes ``motorway``).

Examples
--------
>>> walk = network_filter("walk")
>>> walk({"highway": "footway"}), walk({"highway": "motorway"}), walk({"highway": "steps", "foot": "no"})
(True, False, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Literal

from gridkit.errors import ParameterError

__all__ = ["NETWORK_TYPES", "NetworkType", "network_filter"]

NetworkType = Literal["all", "all_public", "bike", "drive", "drive_service", "walk"]
TagFilter = Callable[[dict[str, str]], bool]

# highway values that are not a usable way for any network: disused, not yet built,
# or not a way (platforms, rest areas)
_NOT_IN_USE = ("abandoned", "construction", "no", "planned", "platform", "proposed", "raceway", "razed",
               "rest_area", "services")
# ways cars may not use
_NOT_FOR_CARS = ("bridleway", "bus_guideway", "corridor", "cycleway", "elevator", "escalator", "footway",
                 "path", "pedestrian", "steps", "track")
_CAR_SERVICE = ("emergency_access", "parking", "parking_aisle", "private")
_SIDEWALK_KEYS = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")

_Exclusions = tuple[tuple[str, tuple[str, ...]], ...]

#: For each network type: (key, words) pairs; a way is excluded when the value of a
#: key contains one of its words. Every type also needs ``highway`` and excludes ``area=yes``.
NETWORK_TYPES: Mapping[str, _Exclusions] = MappingProxyType({
    "all": (("highway", _NOT_IN_USE),),
    "all_public": (("access", ("private",)), ("highway", _NOT_IN_USE), ("service", ("private",))),
    "bike": (
        ("access", ("private",)),
        ("highway", (*_NOT_IN_USE, "bus_guideway", "corridor", "elevator", "escalator", "footway", "motor",
                     "steps")),
        ("bicycle", ("no",)),
        ("service", ("private",)),
    ),
    "drive": (
        ("access", ("private",)),
        ("highway", (*_NOT_IN_USE, *_NOT_FOR_CARS, "service")),
        ("motor_vehicle", ("no",)),
        ("motorcar", ("no",)),
        ("service", ("alley", "driveway", *_CAR_SERVICE)),
    ),
    "drive_service": (
        ("access", ("private",)),
        ("highway", (*_NOT_IN_USE, *_NOT_FOR_CARS)),
        ("motor_vehicle", ("no",)),
        ("motorcar", ("no",)),
        ("service", _CAR_SERVICE),
    ),
    "walk": (
        ("access", ("private",)),
        ("highway", (*_NOT_IN_USE, "bus_guideway", "cycleway", "motor")),
        ("foot", ("no",)),
        ("service", ("private",)),
        *((key, ("separate",)) for key in _SIDEWALK_KEYS),
    ),
})


def network_filter(network_type: str) -> TagFilter:
    """A predicate over a way's tags: True when the way is a street of ``network_type``.

    Raises
    ------
    ParameterError
        An unknown network type.
    """
    if network_type not in NETWORK_TYPES:
        raise ParameterError(f"unknown network type {network_type!r}",
                             hint=f"use one of {', '.join(NETWORK_TYPES)}")
    tests = [(key, re.compile("|".join(map(re.escape, words)))) for key, words in NETWORK_TYPES[network_type]]
    tests.append(("area", re.compile("yes")))

    def keep(tags: dict[str, str]) -> bool:
        if "highway" not in tags:
            return False
        return not any(key in tags and pattern.search(tags[key]) for key, pattern in tests)

    return keep
