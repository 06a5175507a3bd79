"""A grid plan as the rules see it: bounds presets as data, the :class:`Plan`, a :class:`Rule`.

:mod:`gridkit.partition.rules` holds the rules themselves (and re-exports these names).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import InputDataError, MissingFieldError, ParameterError
from gridkit.io import keep_dimension

__all__ = ["GRID_CODE_PATTERN", "ISSUE_COLUMNS", "PRESETS", "SLIVER_WIDTH", "TOLERANCE", "Bounds", "Kind", "Plan",
           "Rule", "bounds_for", "issue_frame"]

Kind = Literal["city", "rural"]

#: areas below this share (of the grid, the community or the building concerned) count as zero
TOLERANCE = 1e-6

#: a gap, overlap or part outside a community counts only where it is wider than this, in
#: metres (mean width 2 x area / perimeter, measured in the metric CRS): a file written in
#: degrees from metric grids has slivers a few cm wide along long boundaries, where straight
#: edges of one CRS are slightly curved in the other
SLIVER_WIDTH = 0.2

#: columns of what a rule check returns: the rule id, a finding code (for the bounds rule,
#: the grid's reason code), where (community, grid), why in words, and the geometry of the place
ISSUE_COLUMNS = ["rule", "code", "community_code", "grid_code", "reason", "geometry"]

#: a grid code: the community's 12-digit division code and a 3-digit serial
GRID_CODE_PATTERN = r"\d{15}"


@dataclass(frozen=True)
class Bounds:
    """Households per grid: at least ``min``, at most ``max``; ``target`` decides how many grids."""

    min: int
    max: int
    target: int

    def __post_init__(self) -> None:
        if not 0 < self.min <= self.target <= self.max:
            raise ParameterError(
                f"household bounds must satisfy 0 < min <= target <= max, got min={self.min}, "
                f"target={self.target}, max={self.max}",
                hint="adjust --min, --target and --max",
            )


#: Provincial practice: city communities 200-500 households per grid, rural villages 100-300.
PRESETS: dict[str, Bounds] = {
    "city": Bounds(min=200, max=500, target=300),
    "rural": Bounds(min=100, max=300, target=200),
}


def bounds_for(kind: Kind, *, min: int | None = None, max: int | None = None, target: int | None = None) -> Bounds:
    """The preset for ``kind`` with any of its numbers overridden.

    A target outside overridden bounds moves to their midpoint.

    >>> bounds_for("rural", max=250)
    Bounds(min=100, max=250, target=200)
    >>> bounds_for("city", min=350, max=450)
    Bounds(min=350, max=450, target=400)
    """
    base = PRESETS[kind]
    lo = base.min if min is None else int(min)
    hi = base.max if max is None else int(max)
    if target is None:
        tgt = base.target if lo <= base.target <= hi else (lo + hi) // 2
    else:
        tgt = int(target)
    return Bounds(min=lo, max=hi, target=tgt)


@dataclass
class Plan:
    """A grid plan as the rules read it, every layer in one CRS (metric, or any with areas measured in m²).

    Grid codes must be unique (an :class:`~gridkit.errors.InputDataError` names those
    that are not): the rules name grids by them.

    Attributes
    ----------
    grids
        ``grid_code``, ``community_code``, ``households``, ``kind`` ("city"/"rural"),
        ``dedicated`` (bool) and polygons; ``reason`` (a code of
        :data:`gridkit.partition.reasons.REASONS`) and ``note`` when known.
    communities
        ``community_code`` and polygons.
    buildings
        Optional: ``households``, ``grid_code`` (``""`` for a building in no grid) and
        footprints or points; the index holds the feature ids reports name.
    streets
        Optional street lines (they tell why a building is cut).
    bounds
        Household bounds per kind.
    tolerance
        The balance tolerance (share of the community's mean) of the soft rule
        ``balanced``; None: 0.2.
    metric_crs
        The CRS areas are measured in (m²); default the plan's CRS when it is in metres,
        else the local metric CRS of the communities (:func:`gridkit.crs.local_crs`).

    Grids may carry ``code_given``: their codes as a file has them, when ``grid_code``
    had to be made unique to name them (the code rules then check ``code_given``).
    """

    grids: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None = None
    streets: np.ndarray | None = None
    bounds: Mapping[str, Bounds] | None = None
    tolerance: float | None = None
    metric_crs: Any = None

    def __post_init__(self) -> None:
        if self.bounds is None:
            self.bounds = dict(PRESETS)
        for layer, fields in (("grids", ("grid_code", "community_code", "households")),
                              ("communities", ("community_code",))):
            missing = [f for f in fields if f not in getattr(self, layer)]
            if missing:
                raise MissingFieldError(f"the {layer} layer of a plan lacks {', '.join(missing)}",
                                        field=missing[0], hint="name the fields, or compute them first")
        codes = self.grids["grid_code"]
        if codes.duplicated().any():
            twice = codes[codes.duplicated(keep=False)]
            raise InputDataError(f"{twice.nunique()} grid codes appear more than once, e.g. {twice.iat[0]}",
                                 feature_ids=list(twice.index), field="grid_code",
                                 hint="give every grid its own code: the rules name grids by it")
        if self.buildings is not None:
            missing = [f for f in ("households", "grid_code") if f not in self.buildings]
            if missing:
                raise MissingFieldError(f"the buildings of a plan lack {', '.join(missing)}", field=missing[0],
                                        hint="give each building its households and the code of its grid")

    @classmethod
    def from_layers(
        cls,
        grids: gpd.GeoDataFrame,
        communities: gpd.GeoDataFrame,
        *,
        buildings: gpd.GeoDataFrame | None = None,
        streets: gpd.GeoDataFrame | None = None,
        bounds: Mapping[str, Bounds] | None = None,
        crs: Any = None,
    ) -> Plan:
        """A plan from layers in any CRS: projected to ``crs`` (default the local metric CRS).

        Grids without ``kind`` take their community's (``kind`` in ``communities``,
        else "city"); without ``dedicated`` none is dedicated. Buildings without
        ``grid_code`` go to the grid holding their largest part (``""`` when none does).
        """
        from gridkit.crs import local_crs
        from gridkit.partition.units import assign_to_polygons

        target = local_crs(communities) if crs is None else crs
        comm = communities.to_crs(target)
        g = grids.to_crs(target).copy()
        if "kind" not in g:
            kinds = comm.set_index("community_code")["kind"] if "kind" in comm else pd.Series(dtype=object)
            mapped = g["community_code"].map(kinds)
            g["kind"] = np.where(mapped.notna(), mapped.astype(object), "city")
        if "dedicated" not in g:
            g["dedicated"] = False
        b = None
        if buildings is not None:
            b = buildings.to_crs(target).copy()
            if "grid_code" not in b:
                where = assign_to_polygons(b.geometry.to_numpy(), g.geometry.to_numpy())
                codes = g["grid_code"].astype(str).to_numpy()
                b["grid_code"] = np.where(where >= 0, codes[np.maximum(where, 0)], "")
        lines = None if streets is None else np.asarray(shapely.get_parts(streets.to_crs(target).geometry.to_numpy()))
        return cls(grids=g, communities=comm, buildings=b, streets=lines, bounds=bounds)

    def community_geometry(self, codes: Any) -> np.ndarray:
        """The polygon of each community code (None where the code is not a community)."""
        by_code = self.communities.set_index("community_code").geometry
        return by_code.reindex(pd.Index(codes)).to_numpy()

    def measure_crs(self) -> Any:
        """The metric CRS areas are measured in (see ``metric_crs``)."""
        if self.metric_crs is None:
            crs = self.grids.crs
            metres = crs is not None and crs.is_projected and crs.axis_info[0].unit_name in ("metre", "meter")
            if metres:
                self.metric_crs = crs
            else:
                from gridkit.crs import local_crs

                self.metric_crs = local_crs(self.communities)
        return self.metric_crs

    def to_metric(self, geoms: Any) -> np.ndarray:
        """Geometries of the plan's CRS in :meth:`measure_crs` (the same array when that is the plan's)."""
        values = np.asarray(geoms, dtype=object).reshape(-1)
        crs = self.measure_crs()
        if self.grids.crs is None or crs == self.grids.crs:
            return values
        return gpd.GeoSeries(values, crs=self.grids.crs).to_crs(crs).to_numpy()

    def area_m2(self, geoms: Any) -> np.ndarray:
        """Area in m² of geometries in the plan's CRS (one value per geometry)."""
        return np.asarray(shapely.area(self.to_metric(geoms)), dtype=float)

    def wide(self, geoms: Any) -> np.ndarray:
        """Whether each polygon is wider than :data:`SLIVER_WIDTH` (mean width 2 x area / perimeter, in m)."""
        metric = self.to_metric(geoms)
        perimeter = np.asarray(shapely.length(metric), dtype=float)
        width = 2 * shapely.area(metric) / np.where(perimeter > 0, perimeter, 1.0)
        return np.asarray(width > SLIVER_WIDTH, dtype=bool)

    def wide_parts(self, geoms: Any) -> np.ndarray:
        """The polygonal pieces of each geometry wider than :data:`SLIVER_WIDTH`, as one geometry (None if none)."""
        values = keep_dimension(np.asarray(geoms, dtype=object).reshape(-1), 2)
        parts, which = shapely.get_parts(values, return_index=True)
        keep = self.wide(parts) if len(parts) else np.zeros(0, dtype=bool)
        out = np.full(len(values), None, dtype=object)
        if keep.any():
            shapely.multipolygons(parts[keep], indices=which[keep], out=out)
        single = shapely.get_num_geometries(out) == 1
        out[single] = shapely.get_geometry(out[single], 0)
        return out


class Rule(NamedTuple):
    """A rule of grid management: its text, and the check that lists where a plan breaks it."""

    text: str
    check: Callable[[Plan], gpd.GeoDataFrame]


def issue_frame(rows: list[dict[str, Any]], plan: Plan) -> gpd.GeoDataFrame:
    """The rows as a GeoDataFrame of :data:`ISSUE_COLUMNS`, plus ``grid_codes`` when a row names several grids."""
    extra = ["grid_codes"] if any("grid_codes" in r for r in rows) else []
    frame = pd.DataFrame(rows, columns=ISSUE_COLUMNS + extra)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=plan.grids.crs)

