"""The OSM tag vocabularies gridkit's readers and estimates use (plain data, cheap to import)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["ARTERIAL_HIGHWAYS", "DEFAULT_LEVELS", "RESIDENTIAL_BUILDINGS", "SINGLE_DWELLING_BUILDINGS"]

#: Street classes whose lines cut derived communities (:func:`gridkit.osm.communities_from_osm`).
ARTERIAL_HIGHWAYS = ("motorway", "trunk", "primary", "secondary", "tertiary")
#: ``building=*`` values counted as homes by :func:`gridkit.osm.estimate_households`.
RESIDENTIAL_BUILDINGS = ("apartments", "residential", "dormitory", "terrace", "yes",
                         "house", "detached", "semidetached_house", "bungalow", "farm", "cabin")
#: ``building=*`` values that hold exactly one household whatever their size.
SINGLE_DWELLING_BUILDINGS = ("house", "detached", "semidetached_house", "bungalow", "farm", "cabin")
#: Levels assumed when ``building:levels`` is absent, by ``building=*`` value.
DEFAULT_LEVELS: Mapping[str, float] = MappingProxyType({
    "apartments": 5.0, "residential": 4.0, "dormitory": 5.0, "terrace": 2.0, "yes": 2.0,
})
