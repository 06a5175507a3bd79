"""Realistic synthetic counties for demos, tests and benchmarks.

The model is a Guizhou county seat that divided its urban communities (社区) of about
4,250 households each into grids of about 300 households, with a few rural villages (村)
around it. The town is a jittered street lattice with a curved street, a diagonal
avenue, through lanes (巷) and dead-end service lanes; community boundaries run along
arterial streets; buildings sit inside street blocks with a setback from every street;
villages are hamlets of low-rise houses along a few rural roads, one village has a
detached part (飞地) and one has only about 60 households.

Everything is generated in the CGCS2000 3-degree Gauss-Krüger zone 36 (EPSG:4545,
central meridian 108°E) and returned in CGCS2000 geographic coordinates (EPSG:4490).
The same seed gives identical frames and byte-identical files.

Randomness: the county itself (streets, buildings, components, workers) and the sample's
year of incidents draw, in this order, from the generator of ``seed``; the GPS tracks and
a district's incidents (``incidents_per_day=``) each draw from their own generator spawned
from it (:meth:`numpy.random.Generator.spawn`). So switching incidents or tracks off, or
choosing the district's incidents, changes no other layer.

Examples
--------
>>> county = synth_county(seed=1, communities=1, villages=1, incidents=False, tracks=False)
>>> sorted(county)
['buildings', 'communities', 'components', 'dedicated', 'streets', 'workers']
>>> county["communities"][["code", "kind", "class_code"]].to_dict("records")[0]
{'code': '520199001001', 'kind': 'city', 'class_code': '111'}
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from gridkit._progress import Progress, no_progress
from gridkit._rng import RNGLike, as_rng
from gridkit.errors import ParameterError
from gridkit.synth.buildings import town_buildings
from gridkit.synth.constants import (
    CENTRE_LONLAT,
    COUNTY_CODE,
    FILES,
    HOUSEHOLDS_PER_COMMUNITY,
    OUTPUT_CRS,
    WORK_CRS,
)
from gridkit.synth.district import DistrictIncidents, district_incidents
from gridkit.synth.incidents import year_of_incidents
from gridkit.synth.layers import (
    communities_frame,
    components_along_streets,
    dedicated_frame,
    finish_buildings,
    grid_workers,
    to_output,
)
from gridkit.synth.streets import streets_frame
from gridkit.synth.town import build_town
from gridkit.synth.tracks import worker_tracks
from gridkit.synth.villages import build_villages, village_buildings
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

log = logging.getLogger(__name__)

County = dict[str, gpd.GeoDataFrame | pd.DataFrame | DistrictIncidents]


def synth_county(
    *,
    seed: RNGLike = 0,
    communities: int | None = None,
    villages: int = 4,
    households: int | None = None,
    incidents: bool = True,
    tracks: bool = True,
    incidents_per_day: float | None = None,
    days: int = 365,
    progress: Progress | None = None,
) -> County:
    """Generate a synthetic county: a county seat of urban communities and villages around it.

    Parameters
    ----------
    seed
        Seed or generator; the same seed gives identical frames.
    communities
        Urban communities (社区). None: 4, or ``households / 4250`` when ``households``
        is given.
    villages
        Rural villages (村) around the town, 0-12. With two or more, the second has only
        about 60 households (below the rural minimum of 100, the infeasible case) and
        the first has a detached part (a MultiPolygon).
    households
        Households in the town in total, spread over the communities. None: about
        4,250 per community. Scales to millions for benchmarks.
    incidents
        Generate a year of incidents (``incidents`` key); about 0.42 per household, at
        most 200,000.
    tracks
        Generate three days of GPS fixes of eight grid workers (``tracks`` key).
    incidents_per_day
        Instead of the year above, a district's incidents: about this many a day over
        ``days`` days ending 2024-06-30 (3,000 a day for 365 days is about 1.1 million),
        with the same columns, clustered round streets, homes and hotspots
        (:mod:`gridkit.synth.district`). ``incidents`` is then a
        :class:`~gridkit.synth.district.DistrictIncidents`, generated in chunks when
        written or iterated.
    days
        Days of a district's incidents (1-3,660; default 365); only with ``incidents_per_day``.
    progress
        Called as ``progress(done, total, label)`` after each stage.

    Returns
    -------
    dict
        ``communities``, ``streets``, ``buildings``, ``dedicated``, ``components``
        (GeoDataFrames in EPSG:4490), ``workers`` and, when asked for, ``incidents`` and
        ``tracks`` (DataFrames with ``lon``/``lat`` in EPSG:4490). See ``FILES``.
    """
    n_comm, targets = _check_parameters(communities, villages, households)
    if incidents_per_day is not None and not incidents:
        raise ParameterError("incidents_per_day asks for incidents, but incidents=False",
                             field="incidents_per_day", hint="leave out one of them")
    rng = as_rng(seed)
    tracks_rng, district_rng = rng.spawn(2)  # spawning does not move rng's own stream
    step = _stepper(progress, 6 + incidents + tracks)
    town = build_town(n_comm, targets, _town_centre(), rng)
    step("streets and blocks")
    vill = build_villages(town, villages, rng)
    streets = streets_frame(town, vill.roads)
    step("villages")
    buildings, dedicated = town_buildings(town, streets, rng)
    buildings = pd.concat([buildings, village_buildings(vill, streets, rng)], ignore_index=True)
    step("buildings")
    comms = communities_frame(town, vill)
    buildings = finish_buildings(buildings, comms)
    components = components_along_streets(streets, rng)
    step("components")
    workers = grid_workers(comms, buildings, rng)
    step("workers")
    out: County = {
        "communities": to_output(comms.drop(columns=["index"])),
        "streets": to_output(streets[["name", "highway", "geometry"]]),
        "buildings": to_output(buildings.drop(columns=["community"])),
        "dedicated": to_output(dedicated_frame(dedicated, comms)),
        "components": to_output(components),
    }
    if incidents_per_day is not None:
        in_town = buildings["community"].to_numpy() < n_comm  # urban communities come first
        out["incidents"] = district_incidents(streets, buildings.assign(town=in_town), per_day=incidents_per_day,
                                              days=days, rng=district_rng)
        step("incidents")
    elif incidents:
        out["incidents"] = year_of_incidents(town, streets, int(buildings["households"].sum()), rng)
        step("incidents")
    if tracks:
        out["tracks"] = worker_tracks(town, workers, comms, tracks_rng)
        step("tracks")
    out["workers"] = workers
    step("done")
    log.info("synthetic county: %d communities, %d villages, %d buildings, %d households",
             n_comm, villages, len(buildings), int(buildings["households"].sum()))
    return out


def _check_parameters(
    communities: int | None, villages: int, households: int | None
) -> tuple[int, np.ndarray]:
    """Number of communities and the household total of each (before jitter)."""
    if communities is not None and not 1 <= communities <= 5000:
        raise ParameterError(f"communities must be 1-5000, got {communities}", field="communities")
    if not 0 <= villages <= 12:
        raise ParameterError(f"villages must be 0-12, got {villages}", field="villages")
    if households is not None and not 100 <= households <= 20_000_000:
        raise ParameterError(f"households must be 100-20,000,000, got {households}", field="households")
    if households is None:
        n = 4 if communities is None else communities
        return n, np.full(n, float(HOUSEHOLDS_PER_COMMUNITY))
    n = communities if communities is not None else max(1, round(households / HOUSEHOLDS_PER_COMMUNITY))
    if households < 100 * n:
        raise ParameterError(f"{households} households are too few for {n} communities",
                             field="households", hint="give at least 100 households per community")
    return n, np.full(n, households / n)


def _stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    report = progress or no_progress
    state = {"done": 0}

    def step(label: str) -> None:
        state["done"] = min(state["done"] + 1, total)
        report(state["done"], total, label)

    return step


def _town_centre() -> np.ndarray:
    to_work = Transformer.from_crs(OUTPUT_CRS, WORK_CRS, always_xy=True)
    x, y = to_work.transform(*CENTRE_LONLAT)
    return np.array([round(x, -2), round(y, -2)])
