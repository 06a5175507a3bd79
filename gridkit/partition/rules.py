"""The rules a partition keeps: bounds presets as data, checks as small functions.

Each check takes the grids layer (and what it needs besides) and returns one boolean per
grid, indexed like the grids, so the report can name every grid that fails a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.errors import ParameterError

__all__ = ["PRESETS", "RULES", "Bounds", "bounds_for", "inside_community", "one_piece", "tiling_error", "within_bounds"]

Kind = Literal["city", "rural"]


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


def within_bounds(grids: gpd.GeoDataFrame, bounds: dict[str, Bounds]) -> pd.Series:
    """Rule 1: households between the bounds of the grid's kind (dedicated grids are exempt)."""
    lo = grids["kind"].map(lambda k: bounds[k].min)
    hi = grids["kind"].map(lambda k: bounds[k].max)
    ok = grids["households"].between(lo, hi)
    return ok | grids["dedicated"].astype(bool)


def one_piece(grids: gpd.GeoDataFrame) -> pd.Series:
    """Rule 4: each grid is a single polygon."""
    geoms = grids.geometry.to_numpy()
    return pd.Series(
        (shapely.get_type_id(geoms) == 3) | (shapely.get_num_geometries(geoms) == 1),
        index=grids.index,
    )


def inside_community(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, *, tolerance: float = 1e-6) -> pd.Series:
    """Rule 2: each grid lies inside its own community (area outside below ``tolerance`` of its area)."""
    boundary = communities.set_index("community_code").geometry
    own = boundary.reindex(grids["community_code"]).to_numpy()
    outside = shapely.area(shapely.difference(grids.geometry.to_numpy(), own))
    return pd.Series(outside <= tolerance * np.maximum(grids.geometry.area.to_numpy(), 1.0), index=grids.index)


def tiling_error(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> pd.Series:
    """Rule 3: |sum of grid areas - community area| / community area, per community code.

    The grids of a community are disjoint by construction (faces of one overlay), so
    the area balance measures gaps and overlaps together.
    """
    area = communities.set_index("community_code").geometry.area
    covered = grids.geometry.area.groupby(grids["community_code"].to_numpy()).sum()
    covered = covered.reindex(area.index, fill_value=0.0)
    return ((covered - area).abs() / area.where(area > 0, 1.0)).rename("tiling_error")


RULES = {
    "households_within_bounds": "1. households per grid within the bounds",
    "inside_one_community": "2. no grid crosses a community boundary",
    "tiles_community": "3. the grids of a community tile it exactly",
    "one_piece": "4. each grid is one connected piece",
    "households_conserved": "5. every household counted in exactly one grid",
}
