"""The rule checks themselves catch broken grids, on any plan (the pipeline's own grids never break them)."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gridkit.errors import ParameterError
from gridkit.partition.rules import (
    PRESETS,
    RULES,
    SOFT_RULES,
    Plan,
    bounds_for,
    check_plan,
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


def _hand_drawn():
    """Two communities side by side and a hand-drawn plan with one problem of each kind planted."""
    comm = gpd.GeoDataFrame({"community_code": ["520102001001", "520102001002"]}, crs=4545,
                            geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)])
    grids = gpd.GeoDataFrame({
        "grid_code": ["520102001001001", "520102001001002", "520102001002001", "520102001002002"],
        "community_code": ["520102001001", "520102001001", "520102001002", "520102001002"],
        "kind": "city", "households": [300, 150, 300, 300], "dedicated": False,
    }, crs=4545, geometry=[
        shapely.box(0, 0, 60, 100),                                    # overlaps the next one by 10 x 90
        shapely.MultiPolygon([shapely.box(50, 0, 90, 50), shapely.box(50, 60, 90, 100)]),  # two parts; gap 90-100
        shapely.box(100, 0, 160, 100),
        shapely.box(160, 0, 210, 100),                                 # 10 m outside its community
    ])
    buildings = gpd.GeoDataFrame({
        "households": [300, 150, 300, 250, 40],
        "grid_code": ["520102001001001", "520102001001002", "520102001002001", "520102001002002", ""],
    }, index=[11, 12, 13, 14, 15], crs=4545, geometry=[
        shapely.box(10, 10, 20, 20), shapely.box(70, 10, 80, 20),
        shapely.box(150, 40, 170, 50),                                 # split by the boundary at x = 160
        shapely.box(180, 10, 190, 20), shapely.box(300, 300, 310, 310),  # outside every community
    ])
    return Plan(grids, comm, buildings=buildings)


def test_every_rule_is_data_and_a_callable():
    assert set(RULES) == {"households_within_bounds", "inside_one_community", "tiles_community", "one_piece",
                          "building_not_split", "households_conserved", "grid_codes"}
    assert set(SOFT_RULES) == {"balanced", "codes_in_reading_order"}
    for rule_id, (text, check) in {**RULES, **SOFT_RULES}.items():
        assert text and callable(check), rule_id


def test_each_planted_problem_is_found_at_its_place():
    plan = _hand_drawn()
    found = check_plan(plan)
    by = {rule: part for rule, part in found.groupby("rule")}
    bounds = by["households_within_bounds"]
    assert bounds["grid_code"].tolist() == ["520102001001002"] and bounds["code"].iat[0] == "not_analysed"
    pieces = by["one_piece"]
    assert pieces["grid_code"].tolist() == ["520102001001002"] and "2 parts" in pieces["reason"].iat[0]
    inside = by["inside_one_community"]
    assert inside["grid_code"].tolist() == ["520102001002002"]
    assert inside.geometry.iat[0].area == pytest.approx(1000)
    tiling = by["tiles_community"].set_index("code")
    assert tiling.loc["overlap", "geometry"].area == pytest.approx(900)  # x 50-60, y 0-50 and 60-100
    assert "520102001001002" in tiling.loc["overlap", "reason"]
    assert tiling.loc["gap", "geometry"].area == pytest.approx(300 + 1000)  # 60-90 x 50-60, 90-100 x 0-100
    split = by["building_not_split"]
    assert split["community_code"].tolist() == ["520102001002"] and "features 13" in split["reason"].iat[0]
    conserved = by["households_conserved"].set_index("code")
    assert "features 15" in conserved.loc["outside_communities", "reason"]
    assert "counts 300 households, its buildings hold 250" in conserved.loc["count_mismatch", "reason"]
    assert found.crs == plan.grids.crs and found.geometry.notna().all()


def test_a_plan_that_keeps_the_rules_has_no_findings():
    comm = gpd.GeoDataFrame({"community_code": ["520102001001"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=4545)
    grids = gpd.GeoDataFrame({"grid_code": ["520102001001001", "520102001001002"], "community_code": "520102001001",
                              "households": [300, 250]}, geometry=[shapely.box(0, 0, 50, 100),
                                                                   shapely.box(50, 0, 100, 100)], crs=4545)
    buildings = gpd.GeoDataFrame({"households": [300, 250]}, geometry=[shapely.box(10, 10, 20, 20),
                                                                       shapely.Point(70, 70)], crs=4545)
    plan = Plan.from_layers(grids.to_crs(4490), comm.to_crs(4490), buildings=buildings.to_crs(4490))
    assert plan.buildings["grid_code"].tolist() == ["520102001001001", "520102001001002"]
    assert len(check_plan(plan)) == 0


def test_report_classifies_grids_by_reason_code_not_by_text():
    from gridkit.partition.report import feasible_communities

    grids = pd.DataFrame({
        "community_code": ["A", "A", "B", "C"], "within_bounds": [True, False, False, True],
        "reason": ["", "method_failed", "pocket", ""],
        # notes that a prefix match would have misread
        "note": ["", "a pocket, says the text", "no split of the units met [200, 500] here", ""],
    })
    assert feasible_communities(grids) == {"A", "C"}


def test_a_plan_with_a_grid_code_twice_is_refused_naming_it():
    from gridkit.errors import InputDataError

    plan = _hand_drawn()
    grids = plan.grids.copy()
    grids.loc[3, "grid_code"] = grids.loc[0, "grid_code"]
    with pytest.raises(InputDataError, match="520102001001001") as err:
        Plan(grids, plan.communities)
    assert err.value.feature_ids == [0, 3]
