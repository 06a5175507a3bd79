"""From a boundary layer and buildings to grids: the whole partition job.

:func:`partition` validates the inputs (collecting every problem), moves everything to
the local metric CRS, cuts each community into units, divides the units into grids,
numbers the grids and measures every rule. It returns plain GeoDataFrames and a report
dictionary; writing them is :func:`gridkit.partition.outputs.write_partition`'s job.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit import codes as division_codes
from gridkit._progress import Progress, no_progress
from gridkit._rng import RNGLike
from gridkit.crs import local_crs
from gridkit.errors import GeometryTypeError, InputDataError, MissingFieldError, ParameterError, format_ids
from gridkit.partition.community import CommunityJob, grids_for_community
from gridkit.partition.rules import (
    bounds_for,
    inside_community,
    one_piece,
    tiling_error,
    within_bounds,
)
from gridkit.partition.units import assign_to_polygons
from gridkit.scale import map_jobs

__all__ = ["PartitionResult", "partition"]

log = logging.getLogger(__name__)

KindOption = Literal["auto", "city", "rural"]

_KIND_WORDS = {"city": "city", "urban": "city", "社区": "city", "居委会": "city", "城市": "city",
               "rural": "rural", "village": "rural", "村": "rural", "村委会": "rural", "农村": "rural"}


@dataclass
class PartitionResult:
    """What :func:`partition` produces: layers in the output CRS, and the grids and
    communities also in the local metric CRS the figures were measured in."""

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    issues: pd.DataFrame
    grids_metric: gpd.GeoDataFrame
    communities_metric: gpd.GeoDataFrame
    figures: dict[str, Any] = field(default_factory=dict)


def partition(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    dedicated: gpd.GeoDataFrame | None = None,
    kind: KindOption = "auto",
    min_households: int | None = None,
    max_households: int | None = None,
    target: int | None = None,
    households_field: str = "households",
    code_field: str = "code",
    name_field: str = "name",
    kind_field: str = "kind",
    dedicated_name_field: str = "name",
    output_crs: Any = None,
    rng: RNGLike = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> PartitionResult:
    """Divide every community into household-balanced grids.

    Parameters
    ----------
    communities
        Community (社区) and village (村) polygons with a 12-digit division code.
    buildings
        Building polygons with a households column, or household points: with a
        households column, or one household per point when there is none. When the
        counts are estimates, say how in ``buildings.attrs["households_estimated"]``;
        the report repeats it.
    streets
        Street lines; grids then follow them. Without streets, units are the
        tessellation of the whole community.
    dedicated
        Polygons of self-contained compounds (专属网格); each becomes one grid.
    kind
        ``"auto"`` reads the kind from a ``kind`` field, a ``class_code`` field
        (城乡分类代码) or digits 10-12 of the code; or force ``"city"``/``"rural"``.
    min_households, max_households, target
        Override the bounds of every kind (defaults: city 200-500, target 300;
        rural 100-300, target 200).
    households_field, code_field, name_field, kind_field, dedicated_name_field
        Field names in the inputs.
    output_crs
        CRS of the returned layers; default the communities' CRS.
    rng
        Seed or generator; the method is deterministic, the seed is recorded.
    workers, scheduler
        Divide the communities in parallel: ``workers`` processes of a local Dask
        cluster, or the Dask scheduler at ``scheduler`` (``"tcp://host:8786"``).
        The grids are identical to a serial run.
    progress
        ``progress(done, total, label)`` called per community.

    Returns
    -------
    PartitionResult
    """
    started = time.perf_counter()
    progress = progress or no_progress
    bounds = {k: bounds_for(k, min=min_households, max=max_households, target=target) for k in ("city", "rural")}
    comm = _community_table(communities, code_field=code_field, name_field=name_field,
                            kind=kind, kind_field=kind_field)
    hh, counted_as = _households(buildings, households_field)
    _check_geometry(buildings, ("Polygon", "MultiPolygon", "Point", "MultiPoint"), "buildings")
    if streets is not None:
        _check_geometry(streets, ("LineString", "MultiLineString"), "streets")
    if dedicated is not None:
        _check_geometry(dedicated, ("Polygon", "MultiPolygon"), "dedicated")

    metric = local_crs(communities)
    out_crs = communities.crs if output_crs is None else output_crs
    comm_m = comm.to_crs(metric)
    bgeom = buildings.geometry.to_crs(metric).to_numpy()
    sgeom = None if streets is None else shapely.get_parts(streets.geometry.to_crs(metric).to_numpy())
    dgeom = None if dedicated is None else dedicated.geometry.to_crs(metric).to_numpy()

    boundaries = comm_m.geometry.to_numpy()
    building_comm = assign_to_polygons(bgeom, boundaries)
    ded_comm = assign_to_polygons(dgeom, boundaries) if dgeom is not None else np.zeros(0, dtype=np.int64)
    street_tree = shapely.STRtree(sgeom) if sgeom is not None and len(sgeom) else None

    order = np.argsort(building_comm, kind="stable")
    starts = np.searchsorted(building_comm[order], np.arange(len(comm_m) + 1))
    jobs: list[CommunityJob] = []
    for ci in range(len(comm_m)):
        boundary = boundaries[ci]
        near = None if street_tree is None or sgeom is None else sgeom[street_tree.query(boundary, predicate="intersects")]
        ded_idx = np.flatnonzero(ded_comm == ci)
        ded_polys = None
        if len(ded_idx):
            assert dgeom is not None  # ded_comm is empty without dedicated input
            ded_polys = shapely.intersection(dgeom[ded_idx], boundary)
        b_idx = order[starts[ci] : starts[ci + 1]]
        jobs.append(CommunityJob(boundary=boundary, buildings=bgeom[b_idx], households=hh[b_idx], streets=near,
                                 dedicated=ded_polys, bounds=bounds[comm_m["kind"].iat[ci]]))
    labels = [f"community {c}" for c in comm_m["community_code"]]
    done = map_jobs(grids_for_community, jobs, labels=labels, workers=workers, scheduler=scheduler,
                    progress=progress)

    grid_parts: list[dict[str, Any]] = []
    unit_parts: list[pd.DataFrame] = []
    building_grid = np.full(len(bgeom), -1, dtype=np.int64)
    street_len = 0.0
    cut_len = 0.0
    grid_offset = 0
    for ci, out in enumerate(done):
        k = len(out.households)
        ded_idx = np.flatnonzero(ded_comm == ci)
        is_ded = np.zeros(k, dtype=bool)
        ded_name = np.full(k, "", dtype=object)
        for j, d in enumerate(ded_idx):
            assert dedicated is not None
            is_ded[j] = True
            ded_name[j] = str(dedicated[dedicated_name_field].iat[d]) if dedicated_name_field in dedicated else ""
        grid_parts.append({
            "community": np.full(k, ci), "households": out.households, "buildings": out.buildings,
            "dedicated": is_ded, "dedicated_name": ded_name, "geometry": out.geometries, "reason": out.reasons,
        })
        building_grid[order[starts[ci] : starts[ci + 1]]] = grid_offset + out.building_grid
        units = out.units.assign(community=ci, grid=grid_offset + out.units["grid"].to_numpy())
        unit_parts.append(units[["community", "block", "households", "buildings", "grid", "geometry"]])
        cut_len += out.cut_length
        street_len += out.street_cut_length
        grid_offset += k

    grids_m = _grid_table(grid_parts, comm_m, metric)
    codes = division_codes.codes_for_grids(
        grids_m["community_code"], *shapely.get_coordinates(shapely.point_on_surface(grids_m.geometry.to_numpy())).T
    )
    grids_m.insert(0, "grid_code", codes.to_numpy())
    grids_m.insert(grids_m.columns.get_loc("compactness") + 1, "within_bounds", within_bounds(grids_m, bounds))
    issues = _issues(grids_m, comm_m)

    grid_code = grids_m["grid_code"].to_numpy()
    out_buildings = buildings.copy()
    inside = building_grid >= 0
    out_buildings["grid_code"] = np.where(inside, grid_code[np.maximum(building_grid, 0)], "")
    out_buildings["community_code"] = np.where(
        inside, comm_m["community_code"].to_numpy()[np.maximum(building_comm, 0)], "")
    outside_ids = list(buildings.index[~inside])
    if outside_ids:
        issues = pd.concat([issues, pd.DataFrame([{
            "rule": "households_conserved", "community_code": "", "grid_code": "",
            "reason": f"{int((~inside).sum())} buildings with {int(hh[~inside].sum())} households lie outside "
                      f"every community boundary (features {format_ids(outside_ids)})",
        }])], ignore_index=True)
    cut = _cut_buildings(bgeom, building_grid, grids_m.geometry.to_numpy(), sgeom, boundaries, building_comm)
    if len(cut):
        rows = []
        for code, part in cut.groupby(comm_m["community_code"].to_numpy()[building_comm[cut.index]], sort=True):
            ids = list(buildings.index[part.index])
            crossing = int(part["crosses"].sum())
            rows.append({"rule": "building_not_split", "community_code": code, "grid_code": "",
                         "reason": f"{len(part)} buildings are cut by a grid boundary, {crossing} of them because "
                                   f"they cross a street or the community boundary; each is counted in the grid "
                                   f"holding its point (features {format_ids(ids)})"})
        issues = pd.concat([issues, pd.DataFrame(rows)], ignore_index=True)

    units = pd.concat(unit_parts, ignore_index=True)
    units_gdf = gpd.GeoDataFrame({
        "unit_id": np.arange(len(units)),
        "community_code": comm_m["community_code"].to_numpy()[units["community"].to_numpy()],
        "grid_code": grid_code[units["grid"].to_numpy()],
        "block": units["block"].to_numpy(),
        "households": units["households"].to_numpy(),
        "buildings": units["buildings"].to_numpy(),
    }, geometry=units["geometry"].to_numpy(), crs=metric)

    comm_out = comm_m.copy()
    per = grids_m.groupby("community_code")
    comm_out["households"] = comm_out["community_code"].map(per["households"].sum()).fillna(0).astype(np.int64)
    comm_out["grids"] = comm_out["community_code"].map(per.size()).fillna(0).astype(np.int64)
    comm_out["min_households"] = comm_out["kind"].map(lambda k: bounds[k].min)
    comm_out["max_households"] = comm_out["kind"].map(lambda k: bounds[k].max)

    figures = {
        "households_in": int(hh.sum()),
        "households_in_grids": int(grids_m["households"].sum()),
        "households_outside": int(hh[~inside].sum()),
        "buildings_outside": len(outside_ids),
        "buildings_cut": len(cut),
        "households_counted_as": counted_as,
        "grid_boundary_m": cut_len,
        "grid_boundary_on_streets_m": street_len,
        "metric_crs": metric.to_string(),
        "bounds": {k: vars(v) for k, v in bounds.items()},
        "seed": rng if isinstance(rng, int) or rng is None else "generator",
        "seconds": time.perf_counter() - started,
    }
    log.info("partitioned %d communities into %d grids in %.1f s", len(comm_m), len(grids_m), figures["seconds"])
    return PartitionResult(
        grids=grids_m.to_crs(out_crs),
        buildings=out_buildings,
        units=units_gdf.to_crs(out_crs),
        communities=comm_out.to_crs(out_crs),
        issues=issues,
        grids_metric=grids_m,
        communities_metric=comm_m,
        figures=figures,
    )


def _cut_buildings(
    bgeom: np.ndarray, building_grid: np.ndarray, grids: np.ndarray, streets: np.ndarray | None,
    boundaries: np.ndarray, building_comm: np.ndarray, *, tolerance: float = 0.01,
) -> pd.DataFrame:
    """Footprints with more than ``tolerance`` of their area outside their own grid.

    Returns one row per such building (indexed by position), with ``crosses``: whether a
    street or its community boundary runs through it (then no grid boundary can avoid it).
    """
    rows = np.flatnonzero((building_grid >= 0) & (shapely.get_dimensions(bgeom) == 2))
    own = grids[building_grid[rows]]
    rows = rows[~shapely.covered_by(bgeom[rows], own)]
    if len(rows) == 0:
        return pd.DataFrame({"crosses": np.zeros(0, dtype=bool)}, index=rows)
    area = shapely.area(bgeom[rows])
    inside = shapely.area(shapely.intersection(bgeom[rows], grids[building_grid[rows]]))
    rows = rows[inside < (1 - tolerance) * area]
    crosses = shapely.intersects(bgeom[rows], shapely.boundary(boundaries[building_comm[rows]]))
    if streets is not None and len(streets):
        hit = shapely.STRtree(streets).query(bgeom[rows], predicate="intersects")[0]
        crosses[np.unique(hit)] = True
    return pd.DataFrame({"crosses": crosses}, index=rows)


def _grid_table(parts: list[dict[str, Any]], comm_m: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ci = cols.pop("community")
    geoms = cols.pop("geometry")
    area = shapely.area(geoms)
    perimeter = shapely.length(geoms)
    kind = comm_m["kind"].to_numpy()[ci]
    hh = cols["households"]
    return gpd.GeoDataFrame({
        "community_code": comm_m["community_code"].to_numpy()[ci],
        "community_name": comm_m["community_name"].to_numpy()[ci],
        "kind": kind,
        "households": hh,
        "buildings": cols["buildings"],
        "area_m2": area.round(1),
        "compactness": np.where(perimeter > 0, 4 * np.pi * area / np.maximum(perimeter, 1e-12) ** 2, 0.0).round(4),
        "dedicated": cols["dedicated"],
        "dedicated_name": cols["dedicated_name"],
        "note": cols["reason"],
    }, geometry=geoms, crs=crs)


def _issues(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per rule a grid or community does not meet, with where and why (metric layers)."""
    rows = []
    for _, g in grids[~grids["within_bounds"]].iterrows():
        rows.append({"rule": "households_within_bounds", "community_code": g["community_code"],
                     "grid_code": g["grid_code"], "reason": g["note"]})
    for _, g in grids[~one_piece(grids)].iterrows():
        rows.append({"rule": "one_piece", "community_code": g["community_code"], "grid_code": g["grid_code"],
                     "reason": f"the grid has {shapely.get_num_geometries(g.geometry)} parts"})
    for _, g in grids[~inside_community(grids, communities)].iterrows():
        rows.append({"rule": "inside_one_community", "community_code": g["community_code"],
                     "grid_code": g["grid_code"], "reason": "part of the grid lies outside its community"})
    error = tiling_error(grids, communities)
    for code, err in error[error > 1e-6].items():
        rows.append({"rule": "tiles_community", "community_code": code, "grid_code": "",
                     "reason": f"grid areas differ from the community area by {err:.2e} of it"})
    return pd.DataFrame(rows, columns=["rule", "community_code", "grid_code", "reason"])


def _community_table(
    communities: gpd.GeoDataFrame, *, code_field: str, name_field: str, kind: KindOption, kind_field: str
) -> gpd.GeoDataFrame:
    """community_code, community_name, kind and geometry, checked."""
    path = communities.attrs.get("source")
    if len(communities) == 0:
        raise InputDataError("the boundary layer has no features", path=path, hint="check the file and layer")
    if code_field not in communities:
        raise MissingFieldError(
            f"no division-code field {code_field!r} (fields: {', '.join(map(str, communities.columns.drop('geometry')))})",
            path=path, field=code_field, hint="name the code field with --code-field",
        )
    _check_geometry(communities, ("Polygon", "MultiPolygon"), "communities")
    code = division_codes.validate_division_codes(communities[code_field], path=path, field=code_field)
    dup = code[code.duplicated(keep=False)]
    if len(dup):
        raise InputDataError(f"{dup.nunique()} division codes appear more than once, e.g. {dup.iat[0]}",
                             path=path, feature_ids=list(dup.index), field=code_field,
                             hint="merge the polygons of one community into one feature, or fix the codes")
    name = communities[name_field].astype(str) if name_field in communities else pd.Series("", index=communities.index)
    if kind != "auto":
        if kind not in ("city", "rural"):
            raise ParameterError(f"kind must be auto, city or rural, got {kind!r}")
        kinds = pd.Series(kind, index=communities.index)
    else:
        kinds = pd.Series(pd.NA, index=communities.index, dtype=object)
        if kind_field in communities:
            kinds = communities[kind_field].astype(str).str.strip().str.lower().map(_KIND_WORDS)
        if "class_code" in communities:
            kinds = kinds.fillna(division_codes.kinds_from_classes(communities["class_code"]))
        kinds = kinds.fillna(division_codes.kinds_from_codes(code))
        unknown = kinds.isna()
        if unknown.any():
            raise InputDataError(
                "cannot tell city from rural: no kind field, no class_code and a village-level code "
                "outside 001-399",
                path=path, feature_ids=list(communities.index[unknown]), field=code_field,
                hint="give --kind city or --kind rural, or a 'kind' field",
            )
    geoms = communities.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return gpd.GeoDataFrame(
        {"community_code": code.to_numpy(), "community_name": name.to_numpy(), "kind": kinds.to_numpy()},
        geometry=geoms, crs=communities.crs, index=communities.index,
    )


def _households(buildings: gpd.GeoDataFrame, field: str) -> tuple[np.ndarray, str | None]:
    """Households per row, and how they were counted when not read from ``field`` as given."""
    path = buildings.attrs.get("source")
    if field not in buildings and buildings.geom_type.isin(["Point"]).all():
        return np.ones(len(buildings), dtype=np.int64), f"one household per point (the layer has no {field!r} field)"
    if field not in buildings:
        raise MissingFieldError(
            f"no households field {field!r} (fields: {', '.join(map(str, buildings.columns.drop('geometry')))})",
            path=path, field=field,
            hint="name it with --households-field, or estimate from footprints with --estimate-households",
        )
    values = pd.to_numeric(buildings[field], errors="coerce")
    bad = values.isna() | (values < 0) | (values != values.round())
    if bad.any():
        raise InputDataError(
            f"{int(bad.sum())} households values are not whole numbers >= 0",
            path=path, feature_ids=list(buildings.index[bad.to_numpy()]), field=field,
            hint="fill in the household count of every building (0 for a shop or office)",
        )
    return values.to_numpy(dtype=np.int64), buildings.attrs.get("households_estimated")


def _check_geometry(layer: gpd.GeoDataFrame, allowed: tuple[str, ...], role: str) -> None:
    path = layer.attrs.get("source")
    geoms = layer.geometry
    empty = geoms.isna().to_numpy() | geoms.is_empty.to_numpy()
    if empty.any():
        raise InputDataError(f"{int(empty.sum())} {role} features have no geometry", path=path,
                             feature_ids=list(layer.index[empty]), hint="remove them or draw their geometry")
    wrong = ~geoms.geom_type.isin(allowed).to_numpy()
    if wrong.any():
        found = ", ".join(sorted(set(geoms.geom_type[wrong])))
        raise GeometryTypeError(f"{role} must be {' or '.join(allowed)}, found {found}", path=path,
                                feature_ids=list(layer.index[wrong]), hint=f"give a {role} layer of that type")
    if layer.crs is None:
        from gridkit.errors import MissingCRSError

        raise MissingCRSError(f"the {role} layer has no CRS", path=path, hint="pass --assume-crs EPSG:4490 (or the right one)")
