"""The rule checks themselves catch broken grids (the pipeline's own grids never break them)."""

import geopandas as gpd
import pytest
import shapely

from gridkit.errors import ParameterError
from gridkit.partition.rules import (
    PRESETS,
    bounds_for,
    inside_community,
    one_piece,
    tiling_error,
    within_bounds,
)


def _layers(grid_geoms, households):
    comm = gpd.GeoDataFrame({"community_code": ["520102001001"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=4545)
    grids = gpd.GeoDataFrame(
        {"community_code": "520102001001", "kind": "city", "households": households, "dedicated": False},
        geometry=grid_geoms, crs=4545,
    )
    return grids, comm


def test_tiling_error_sees_a_gap_and_an_overlap():
    grids, comm = _layers([shapely.box(0, 0, 50, 100), shapely.box(50, 0, 100, 100)], [300, 300])
    assert tiling_error(grids, comm).iat[0] == 0
    gap, _ = _layers([shapely.box(0, 0, 50, 100), shapely.box(50, 0, 90, 100)], [300, 300])
    assert tiling_error(gap, comm).iat[0] == pytest.approx(0.1)
    overlap, _ = _layers([shapely.box(0, 0, 60, 100), shapely.box(50, 0, 100, 100)], [300, 300])
    assert tiling_error(overlap, comm).iat[0] == pytest.approx(0.1)


def test_inside_one_piece_and_bounds_flag_the_bad_grid():
    grids, comm = _layers(
        [shapely.box(0, 0, 50, 100), shapely.MultiPolygon([shapely.box(50, 0, 60, 10), shapely.box(70, 0, 80, 10)]),
         shapely.box(90, 90, 120, 100)],
        [300, 150, 501],
    )
    assert inside_community(grids, comm).tolist() == [True, True, False]
    assert one_piece(grids).tolist() == [True, False, True]
    assert within_bounds(grids, PRESETS).tolist() == [True, False, False]
    grids["dedicated"] = [False, True, True]
    assert within_bounds(grids, PRESETS).tolist() == [True, True, True]


def test_bounds_must_be_ordered():
    with pytest.raises(ParameterError, match="min <= target <= max"):
        bounds_for("city", min=400, max=300)
