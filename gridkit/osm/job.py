"""The ``gridkit communities`` job: read an OSM file, derive communities, write them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd

from gridkit._types import PathLike
from gridkit.io import write_layers
from gridkit.osm.communities import communities_from_osm
from gridkit.osm.tags import ARTERIAL_HIGHWAYS

__all__ = ["communities_job"]


def communities_job(
    osm: PathLike,
    output: PathLike,
    *,
    highways: Iterable[str] = ARTERIAL_HIGHWAYS,
    min_area_m2: float = 100_000.0,
    extend_m: float = 100.0,
) -> tuple[gpd.GeoDataFrame, Path]:
    """Derive communities from ``osm`` (:func:`gridkit.osm.communities_from_osm`) and write them.

    The layer ``communities`` is written atomically to ``output`` (any format
    :func:`gridkit.io.write_layers` writes); nothing is written when reading or deriving fails.

    Returns
    -------
    (GeoDataFrame, Path)
        The communities (with their ``attrs``) and the path written.
    """
    communities = communities_from_osm(osm, highways=highways, min_area_m2=min_area_m2, extend_m=extend_m)
    return communities, write_layers(output, {"communities": communities})
