"""The county's output layers: communities, dedicated compounds, buildings, components, workers.

Frames are built in the metric CRS and turned into the output CRS by :func:`to_output`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gridkit.synth.constants import COUNTY_CODE, HALF_WIDTH, OUTPUT_CRS, WORK_CRS
from gridkit.synth.geometry import points_along
from gridkit.synth.names import community_name
from gridkit.synth.tables import building_types, component_rules
from gridkit.synth.tables import names as name_lists
from gridkit.synth.town import Town
from gridkit.synth.villages import Villages

__all__ = [
    "communities_frame",
    "components_along_streets",
    "dedicated_frame",
    "finish_buildings",
    "grid_workers",
    "lonlat",
    "to_output",
]


def communities_frame(town: Town, vill: Villages) -> gpd.GeoDataFrame:
    """Urban communities (numbered north to south, west to east) then villages, all MultiPolygons."""
    n = len(town.targets)
    blocks = town.comm.ravel()
    geoms = np.array([shapely.coverage_union_all(town.quads[blocks == c]) for c in range(n)], dtype=object)
    xy = shapely.get_coordinates(shapely.centroid(geoms))
    order = np.lexsort((xy[:, 0], -np.round(xy[:, 1], -2)))
    urban = pd.DataFrame({
        "index": order,
        "code": [f"{COUNTY_CODE}{k // 12 + 1:03d}{k % 12 + 1:03d}" for k in range(n)],
        "name": [community_name(k) for k in range(n)],
        "kind": "city", "class_code": "111", "geometry": geoms[order],
    })
    n_v = len(vill.polygons)
    first_half = (n_v + 1) // 2
    rural = pd.DataFrame({
        "index": -1 - np.arange(n_v),
        "code": [f"{COUNTY_CODE}{101 if k < first_half else 201:03d}"
                 f"{201 + (k if k < first_half else k - first_half):03d}" for k in range(n_v)],
        "name": vill.names, "kind": "rural", "class_code": "220", "geometry": vill.polygons,
    })
    frame = pd.concat([urban, rural], ignore_index=True)
    frame["geometry"] = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in frame["geometry"]]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=WORK_CRS)


def dedicated_frame(compounds: gpd.GeoDataFrame, comms: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    code = pd.Series(comms["code"].to_numpy(), index=comms["index"].to_numpy())
    frame = compounds.assign(community_code=code.reindex(compounds["community"].to_numpy()).to_numpy())
    return frame[["name", "kind", "community_code", "geometry"]]


def finish_buildings(buildings: pd.DataFrame, comms: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ids in reading order per community, the ``use`` field and the community position."""
    position = pd.Series(np.arange(len(comms)), index=comms["index"].to_numpy())
    frame = buildings.assign(community=position.reindex(buildings["community"].to_numpy()).to_numpy())
    xy = shapely.get_coordinates(shapely.centroid(frame["geometry"].to_numpy()))
    frame = frame.iloc[np.lexsort((xy[:, 0], -np.round(xy[:, 1], -1), frame["community"].to_numpy()))]
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame({
        "building_id": [f"B{k:07d}" for k in range(1, len(frame) + 1)],
        "households": frame["households"].to_numpy(dtype=np.int64),
        "levels": frame["levels"].to_numpy(dtype=np.int64),
        "use": building_types().use[frame["btype"].to_numpy(dtype=np.int64)],
        "name": frame["name"].to_numpy(dtype=object),
        "community": frame["community"].to_numpy(dtype=np.int64),
    })
    return gpd.GeoDataFrame(out, geometry=frame["geometry"].to_numpy(), crs=WORK_CRS)


def to_output(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry="geometry", crs=WORK_CRS).to_crs(OUTPUT_CRS)


def lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    to_out = Transformer.from_crs(WORK_CRS, OUTPUT_CRS, always_xy=True)
    lon, lat = to_out.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lon), np.asarray(lat)


def components_along_streets(streets: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """City components (部件) along the streets, ids in the 16-digit old scheme."""
    lines = streets.geometry.to_numpy()
    half = streets["highway"].map(HALF_WIDTH).to_numpy(dtype=float)
    frames = []
    for rule in component_rules():
        mask = streets["highway"].isin(rule.highways).to_numpy() & (streets["town"].to_numpy() == rule.town)
        xy = points_along(lines[mask], rule.spacing, half[mask] * rule.offset, rng)
        frames.append(pd.DataFrame({"category": rule.category, "name_zh": rule.name_zh, "x": xy[:, 0], "y": xy[:, 1]}))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.iloc[np.lexsort((frame["x"], -frame["y"].round(-1), frame["category"]))].reset_index(drop=True)
    serial = frame.groupby("category").cumcount().to_numpy() + 1
    frame.insert(0, "component_id", [f"{COUNTY_CODE}{c}{s:06d}" for c, s in zip(frame["category"], serial)])
    geometry = shapely.points(frame[["x", "y"]].to_numpy())
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=geometry, crs=WORK_CRS)


def grid_workers(comms: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One grid worker per expected grid: households / 300 in a community, / 200 in a village."""
    hh = buildings.groupby("community")["households"].sum().reindex(np.arange(len(comms)), fill_value=0)
    per = np.where(comms["kind"] == "city", 300, 200)
    count = np.maximum(1, np.round(hh.to_numpy() / per)).astype(np.int64)
    codes = np.repeat(comms["code"].to_numpy(), count)
    n = len(codes)
    lists = name_lists()
    names = [s + g for s, g in zip(rng.choice(lists["surname"], n), rng.choice(lists["given_name"], n))]
    k = np.arange(1, n + 1)
    return pd.DataFrame({
        "worker_id": [f"W{i:05d}" for i in k],
        "name": names,
        "phone": [f"1{38 + i // 10000}-0000-{i % 10000:04d}" for i in k],
        "community_code": codes,
    })

