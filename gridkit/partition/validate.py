"""Check the partition's inputs before any geometry work, collecting every problem.

:func:`checked_inputs` looks at every layer and every field it uses, repairs invalid
geometries as :func:`gridkit.io.read_layer` does (so the library and the command line
partition the same data), moves everything to the local metric CRS and checks what
only that CRS can show (communities or dedicated compounds that overlap, compounds
outside every community). Problems are collected and raised once: the error itself
when there is one, else an :class:`~gridkit.errors.InputDataError` listing each (its
``problems`` attribute holds them), so one run tells the user everything to fix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridkit import codes as division_codes
from gridkit.crs import work_crs
from gridkit.errors import (
    GeometryTypeError,
    GridkitError,
    InputDataError,
    MissingCRSError,
    MissingFieldError,
)
from gridkit.io import keep_dimension
from gridkit.partition.options import PartitionOptions
from gridkit.partition.rules import TOLERANCE
from gridkit.partition.units import assign_to_polygons

__all__ = ["Inputs", "Problems", "check_overlaps", "checked_inputs", "community_table", "household_counts", "layer_geometries"]

log = logging.getLogger(__name__)

_KIND_WORDS = {"city": "city", "urban": "city", "社区": "city", "居委会": "city", "城市": "city",
               "rural": "rural", "village": "rural", "村": "rural", "村委会": "rural", "农村": "rural"}

_POLYGONS = ("Polygon", "MultiPolygon")
_LINES = ("LineString", "MultiLineString")
_BUILDINGS = (*_POLYGONS, "Point", "MultiPoint")

# households are summed in float64 (numpy bincount weights): exact below 2**53
_EXACT_SUM = 2**53


class Problems:
    """Input problems collected across layers and fields, raised together."""

    def __init__(self) -> None:
        self.items: list[GridkitError] = []

    def add(self, problem: GridkitError) -> None:
        self.items.append(problem)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise the one problem, or an InputDataError listing them all (``.problems``)."""
        if not self.items:
            return
        if len(self.items) == 1:
            raise self.items[0]
        lines = "\n".join(f"  {i}. {p}" for i, p in enumerate(self.items, start=1))
        paths = {p.path for p in self.items}
        err = InputDataError(f"{len(self.items)} problems in the inputs:\n{lines}\n",
                             path=paths.pop() if len(paths) == 1 else None,
                             hint="fix each of them; gridkit checks everything before it divides")
        err.problems = list(self.items)  # type: ignore[attr-defined]
        raise err


@dataclass
class Inputs:
    """The checked inputs, geometries in the local metric CRS ``metric``.

    ``communities`` has ``community_code``, ``community_name``, ``kind`` and the input's
    index; ``households`` is one whole count per building row; ``counted_as`` says how
    households were counted when not read as given; ``repaired`` counts the invalid
    geometries repaired per layer; ``building_geometries`` are the buildings as
    repaired, in their own CRS, and ``community_geometries`` the boundaries so.
    """

    communities: gpd.GeoDataFrame
    buildings: np.ndarray
    households: np.ndarray
    counted_as: str | None
    streets: np.ndarray | None
    dedicated: np.ndarray | None
    dedicated_names: np.ndarray
    metric: pyproj.CRS
    output_crs: object
    building_geometries: np.ndarray
    repaired: dict[str, int] = field(default_factory=dict)
    community_geometries: np.ndarray | None = None


def checked_inputs(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None,
    dedicated: gpd.GeoDataFrame | None,
    options: PartitionOptions,
) -> Inputs:
    """Every input checked (all problems raised at once), repaired and in the local metric CRS."""
    problems = Problems()
    repaired: dict[str, int] = {}
    comm = community_table(communities, options, problems)
    hh, counted_as = household_counts(buildings, options, problems)
    geoms = {
        "communities": layer_geometries(communities, "communities", _POLYGONS, problems, repaired),
        "buildings": layer_geometries(buildings, "buildings", _BUILDINGS, problems, repaired),
        "streets": None if streets is None else layer_geometries(streets, "streets", _LINES, problems, repaired),
        "dedicated": None if dedicated is None else layer_geometries(dedicated, "dedicated", _POLYGONS, problems,
                                                                repaired),
    }
    layers = {"communities": communities, "buildings": buildings, "streets": streets, "dedicated": dedicated}
    if geoms["communities"] is None or comm is None:
        problems.raise_if_any()  # an unusable boundary layer is always one of the problems
    metric = _metric_crs(communities.set_geometry(gpd.GeoSeries(geoms["communities"], index=communities.index,
                                                                crs=communities.crs)), problems)
    projected: dict[str, np.ndarray | None] = {}
    if metric is not None:
        for name, values in geoms.items():
            layer = layers[name]
            if values is None or layer is None:
                projected[name] = None
                continue
            projected[name] = _project(values, layer, name, metric, problems)
    boundaries = projected.get("communities")
    if metric is None or boundaries is None:  # nothing geometric can be checked further
        problems.raise_if_any()
    assert comm is not None and metric is not None and boundaries is not None
    comm_m = gpd.GeoDataFrame(comm, geometry=boundaries, crs=metric, index=communities.index)
    check_overlaps(boundaries, communities.index, comm_m["community_code"].to_numpy(),
                    communities.attrs.get("source"), problems, what="communities")
    ded = projected["dedicated"]
    if ded is not None:
        assert dedicated is not None
        path = dedicated.attrs.get("source")
        check_overlaps(ded, dedicated.index, np.asarray(dedicated.index.astype(str)), path, problems,
                        what="dedicated compounds")
        _check_dedicated_inside(ded, boundaries, dedicated.index, path, problems)
    problems.raise_if_any()
    for name, n in repaired.items():
        log.warning("repaired %d invalid geometries of the %s layer (made valid as gridkit.io.read_layer does)",
                    n, name)
    names = np.full(0 if ded is None else len(ded), "", dtype=object)
    if dedicated is not None and options.dedicated_name_field in dedicated:
        names = dedicated[options.dedicated_name_field].astype(str).to_numpy(dtype=object)
    lines = projected["streets"]
    return Inputs(
        communities=comm_m, buildings=projected["buildings"] if projected["buildings"] is not None else
        np.zeros(0, dtype=object), households=hh if hh is not None else np.zeros(0, dtype=np.int64),
        counted_as=counted_as, streets=None if lines is None else np.asarray(shapely.get_parts(lines)),
        dedicated=ded, dedicated_names=names, metric=metric,
        output_crs=communities.crs if options.output_crs is None else options.output_crs,
        building_geometries=geoms["buildings"] if geoms["buildings"] is not None else np.zeros(0, dtype=object),
        repaired=repaired, community_geometries=geoms["communities"],
    )


def _fields_of(layer: gpd.GeoDataFrame) -> str:
    return ", ".join(map(str, layer.columns.drop(layer.geometry.name))) or "(none)"


def community_table(communities: gpd.GeoDataFrame, options: PartitionOptions, problems: Problems
                     ) -> pd.DataFrame | None:
    """community_code, community_name and kind per row, checked (None when it cannot be built)."""
    path = communities.attrs.get("source")
    code_field = options.code_field
    if len(communities) == 0:
        problems.add(InputDataError("the boundary layer has no features", path=path, hint="check the file and layer"))
        return None
    if code_field not in communities:
        problems.add(MissingFieldError(
            f"no division-code field {code_field!r} (fields: {_fields_of(communities)})",
            path=path, field=code_field, hint="name the code field with --code-field",
        ))
        return None
    try:
        code = division_codes.validate_division_codes(communities[code_field], path=path, field=code_field)
    except GridkitError as err:
        problems.add(err)
        return None
    dup = code[code.duplicated(keep=False)]
    if len(dup):
        problems.add(InputDataError(
            f"{dup.nunique()} division codes appear more than once, e.g. {dup.iat[0]}",
            path=path, feature_ids=list(dup.index), field=code_field,
            hint="merge the polygons of one community into one feature, or fix the codes"))
    name_field = options.name_field
    name = communities[name_field].astype(str) if name_field in communities else pd.Series("", index=communities.index)
    kinds = _kinds(communities, code, options, problems)
    return pd.DataFrame({"community_code": code.to_numpy(), "community_name": name.to_numpy(),
                         "kind": kinds.to_numpy(), "requested_grids": _requested_grids(communities, options, problems)},
                        index=communities.index)


def _requested_grids(communities: gpd.GeoDataFrame, options: PartitionOptions, problems: Problems) -> np.ndarray:
    """Grids asked for per community (0: none asked, the target decides)."""
    wanted = options.grids
    if wanted is None:
        return np.zeros(len(communities), dtype=np.int64)
    if not isinstance(wanted, str):
        return np.full(len(communities), int(wanted), dtype=np.int64)
    path = communities.attrs.get("source")
    if wanted not in communities:
        problems.add(MissingFieldError(f"no field {wanted!r} with the grids wanted (fields: {_fields_of(communities)})",
                                       path=path, field=wanted, hint="name the field with --grids, or give a number"))
        return np.zeros(len(communities), dtype=np.int64)
    text = communities[wanted].astype("string").str.strip().fillna("")
    values = pd.to_numeric(text.mask(text == "", "0"), errors="coerce")
    bad = values.isna() | (values < 0) | (values != values.round()) | (values > 10_000)
    if bad.any():
        problems.add(InputDataError(f"{int(bad.sum())} values of {wanted!r} are not whole numbers of grids",
                                    path=path, feature_ids=list(communities.index[bad.to_numpy()]), field=wanted,
                                    hint="give each community its number of grids, or leave it empty"))
        return np.zeros(len(communities), dtype=np.int64)
    return values.to_numpy(dtype=np.int64)


def _kinds(communities: gpd.GeoDataFrame, code: pd.Series, options: PartitionOptions, problems: Problems) -> pd.Series:
    if options.kind != "auto":
        return pd.Series(options.kind, index=communities.index)
    kinds = pd.Series(pd.NA, index=communities.index, dtype=object)
    if options.kind_field in communities:
        kinds = communities[options.kind_field].astype(str).str.strip().str.lower().map(_KIND_WORDS)
    if "class_code" in communities:
        kinds = kinds.fillna(division_codes.kinds_from_classes(communities["class_code"]))
    kinds = kinds.fillna(division_codes.kinds_from_codes(code))
    unknown = kinds.isna()
    if unknown.any():
        problems.add(InputDataError(
            "cannot tell city from rural: no kind field, no class_code and a village-level code outside 001-399",
            path=communities.attrs.get("source"), feature_ids=list(communities.index[unknown]),
            field=options.code_field, hint="give --kind city or --kind rural, or a 'kind' field"))
    return kinds


def household_counts(buildings: gpd.GeoDataFrame, options: PartitionOptions, problems: Problems
                ) -> tuple[np.ndarray | None, str | None]:
    """Households per row, and how they were counted when not read from the field as given."""
    path = buildings.attrs.get("source")
    name = options.households_field
    if name not in buildings and buildings.geom_type.isin(["Point"]).all():
        return np.ones(len(buildings), dtype=np.int64), f"one household per point (the layer has no {name!r} field)"
    if name not in buildings:
        problems.add(MissingFieldError(
            f"no households field {name!r} (fields: {_fields_of(buildings)})", path=path, field=name,
            hint="name it with --households-field, or estimate from footprints with --estimate-households"))
        return None, None
    values = pd.to_numeric(buildings[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(values)
    whole = np.zeros(len(values), dtype=bool)
    whole[finite] = (values[finite] >= 0) & (values[finite] == np.round(values[finite]))
    if not whole.all():
        problems.add(InputDataError(
            f"{int((~whole).sum())} households values are not whole numbers >= 0 (empty, text, negative, "
            "fractional or infinite)", path=path, feature_ids=list(buildings.index[~whole]), field=name,
            hint="fill in the household count of every building (0 for a shop or office)"))
    ceiling = options.max_households_per_building
    huge = whole & (np.where(whole, values, 0) > ceiling)
    if huge.any():
        problems.add(InputDataError(
            f"{int(huge.sum())} households values are above {ceiling:,} households for one building, more than "
            f"any real building holds (largest {values[huge].max():,.0f})",
            path=path, feature_ids=list(buildings.index[huge]), field=name,
            hint="check these counts; if they are real, raise the ceiling with --max-households-per-building "
                 "(max_households_per_building= in the library)"))
    if not whole.all() or huge.any():
        return None, None
    counts = values.astype(np.int64)
    if counts.sum(dtype=np.float64) >= _EXACT_SUM:
        problems.add(InputDataError(f"the households add up to {counts.sum(dtype=np.float64):.3g}, too many to "
                                    "count exactly", path=path, field=name, hint="check the counts"))
        return None, None
    return counts, buildings.attrs.get("households_estimated")


def layer_geometries(layer: gpd.GeoDataFrame, role: str, allowed: tuple[str, ...], problems: Problems,
                repaired: dict[str, int]) -> np.ndarray | None:
    """The layer's geometries checked and repaired, in its own CRS (None when unusable)."""
    path = layer.attrs.get("source")
    usable = True
    if layer.crs is None:
        problems.add(MissingCRSError(f"the {role} layer has no CRS", path=path,
                                     hint="pass --assume-crs EPSG:4490 (or the right one)"))
        usable = False
    values = layer.geometry.to_numpy()
    empty = shapely.is_missing(values) | shapely.is_empty(values)
    if empty.any():
        problems.add(InputDataError(f"{int(empty.sum())} {role} features have no geometry", path=path,
                                    feature_ids=list(layer.index[empty]), field="geometry",
                                    hint="remove them or draw their geometry"))
        usable = False
    types = np.asarray(layer.geom_type.to_numpy(), dtype=object)
    wrong = ~empty & ~np.isin(types, allowed)
    if wrong.any():
        found = ", ".join(sorted(set(types[wrong])))
        problems.add(GeometryTypeError(f"{role} must be {' or '.join(allowed)}, found {found}", path=path,
                                       feature_ids=list(layer.index[wrong]), field="geometry",
                                       hint=f"give a {role} layer of that type"))
        usable = False
    if not usable:
        return None
    if layer.crs.is_geographic:
        xy = shapely.get_coordinates(values)
        _, where = shapely.get_coordinates(values, return_index=True)
        off = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90) | ~np.isfinite(xy).all(axis=1)
        if off.any():
            ids = list(layer.index[np.unique(where[off])])
            problems.add(InputDataError(
                f"{len(ids)} {role} features have coordinates outside longitude -180..180 / latitude -90..90 "
                f"under {layer.crs.to_string()}: longitude and latitude swapped, or metres in a file that "
                "says degrees", path=path, feature_ids=ids, field="geometry",
                hint="swap the axes, or give the CRS the coordinates are really in (--assume-crs for a file "
                     "without one; fix the .prj or the layer's CRS otherwise)"))
            return None
    invalid = ~shapely.is_valid(values)
    if not invalid.any():
        return values
    dims = shapely.get_dimensions(values[invalid])
    fixed = keep_dimension(shapely.make_valid(values[invalid], method="structure", keep_collapsed=False), dims)
    collapsed = shapely.is_missing(fixed) | shapely.is_empty(fixed)
    if collapsed.any():
        problems.add(InputDataError(
            f"{int(collapsed.sum())} invalid {role} geometries collapse when repaired (no area or length left)",
            path=path, feature_ids=list(layer.index[invalid][collapsed]), field="geometry",
            hint="redraw or delete these features"))
        return None
    out = values.copy()
    out[invalid] = fixed
    repaired[role] = int(invalid.sum())
    return out


def _metric_crs(communities: gpd.GeoDataFrame, problems: Problems) -> pyproj.CRS | None:
    if communities.crs is None:
        return None
    try:
        return work_crs(communities)
    except GridkitError as err:
        problems.add(err)
        return None


def _project(values: np.ndarray, layer: gpd.GeoDataFrame, role: str, metric: pyproj.CRS, problems: Problems
             ) -> np.ndarray | None:
    if layer.crs is None:
        return None
    out = gpd.GeoSeries(values, index=layer.index, crs=layer.crs).to_crs(metric).to_numpy()
    xy, where = shapely.get_coordinates(out, return_index=True)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        ids = list(layer.index[np.unique(where[bad])])
        problems.add(InputDataError(
            f"{len(ids)} {role} features cannot be moved to the local metric CRS {metric.to_string()}: their "
            f"coordinates are not where {layer.crs.to_string()} can be projected",
            path=layer.attrs.get("source"), feature_ids=ids, field="geometry",
            hint="check that the layer's CRS is the one its coordinates are in"))
        return None
    return out


def check_overlaps(geoms: np.ndarray, index: pd.Index, names: np.ndarray, path: object, problems: Problems, *,
                    what: str) -> None:
    """Polygons whose interiors overlap by more than the tiling tolerance of the smaller one."""
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    inner = shapely.relate_pattern(geoms[i], geoms[j], "2********")
    i, j = i[inner], j[inner]
    if len(i) == 0:
        return
    area = shapely.area(shapely.intersection(geoms[i], geoms[j]))
    big = area > TOLERANCE * np.minimum(shapely.area(geoms[i]), shapely.area(geoms[j]))
    i, j, area = i[big], j[big], area[big]
    if len(i) == 0:
        return
    pairs = "; ".join(f"{names[a]} and {names[b]} by {s / 10_000:.2f} ha ({s:,.0f} m²)"
                      for a, b, s in list(zip(i, j, area))[:10])
    more = f" and {len(i) - 10} more pairs" if len(i) > 10 else ""
    ids = list(index[np.unique(np.r_[i, j])])
    problems.add(InputDataError(
        f"{len(i)} pairs of {what} overlap: {pairs}{more}", path=None if path is None else str(path),
        feature_ids=ids, field="geometry",
        hint=f"each place belongs to one of the {what} only: remove the overlap (in QGIS: the Topology "
             "Checker finds it, Vector > Geoprocessing > Difference removes it) and run again"))


def _check_dedicated_inside(ded: np.ndarray, boundaries: np.ndarray, index: pd.Index, path: object,
                            problems: Problems) -> None:
    where = assign_to_polygons(ded, boundaries)
    inside = np.zeros(len(ded), dtype=bool)
    has = where >= 0
    inside[has] = shapely.area(shapely.intersection(ded[has], boundaries[where[has]])) > \
        TOLERANCE * shapely.area(ded[has])
    if not inside.all():
        ids = list(index[~inside])
        problems.add(InputDataError(
            f"{len(ids)} dedicated compounds lie outside every community, so they cannot be grids", path=None if path is None else str(path), feature_ids=ids, field="geometry",
            hint="remove them from the dedicated file, or add the community they belong to"))

