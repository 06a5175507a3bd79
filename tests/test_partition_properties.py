"""Every partition invariant, as properties over generated communities."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from partition_cases import make_case

from gridkit.partition.pipeline import partition
from gridkit.partition.reasons import DATA_REASONS
from gridkit.partition.rules import PRESETS, RULES, Plan, check_plan

# derandomized: the same generated communities on every machine, so main stays green and a
# failure reproduces; known counterexamples found by random search are pinned below
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def check_invariants(case, result):
    grids = result.grids
    comm = case["communities"]
    bl = case["buildings"]
    # 2 + 3: inside one community, tiling it exactly
    for code, boundary in zip(comm["code"], comm.geometry):
        part = grids[grids["community_code"] == code].geometry.to_numpy()
        assert len(part) >= 1
        area = boundary.area
        union = shapely.union_all(part)
        assert abs(shapely.area(part).sum() - area) <= 1e-6 * area, "gap or overlap"
        assert abs(union.area - area) <= 1e-6 * area, "gap"
        assert shapely.difference(union, boundary).area <= 1e-6 * area, "grid outside its community"
    # 4: one piece
    assert (shapely.get_num_geometries(grids.geometry.to_numpy()) == 1).all()
    assert (grids.geometry.geom_type == "Polygon").all()
    # 5: every household counted once; every building has the grid its point lies in
    out = result.buildings
    inside = out["grid_code"] != ""
    assert grids["households"].sum() == bl.loc[inside, "households"].sum()
    assert result.figures["households_outside"] == bl.loc[~inside, "households"].sum()
    assert grids["buildings"].sum() == inside.sum()
    by_code = grids.set_index("grid_code").geometry
    geoms = bl.geometry.to_numpy()[inside.to_numpy()]
    own = by_code.reindex(out.loc[inside, "grid_code"]).to_numpy()
    assert shapely.intersects(own, geoms).all()
    # a building inside one community sits in its grid at its representative point
    within = shapely.covered_by(geoms, shapely.union_all(comm.geometry.to_numpy()))
    one = np.array([sum(shapely.intersects(g, comm.geometry.to_numpy())) == 1 for g in geoms]) & within
    assert shapely.intersects(own[one], shapely.point_on_surface(geoms[one])).all()
    # a footprint inside one community that overlaps no other building is never cut by a grid boundary
    polygonal = shapely.get_dimensions(geoms) == 2
    hits = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    overlapping = np.bincount(hits[0], minlength=len(geoms)) > 1
    whole = one & polygonal & ~overlapping
    share = shapely.area(shapely.intersection(geoms[whole], own[whole])) / shapely.area(geoms[whole])
    assert (share > 1 - 1e-6).all(), f"{int((share <= 1 - 1e-6).sum())} buildings cut by a grid boundary"
    # 1 + 8: bounds met unless the data makes it impossible, and then explained
    for _, g in grids.iterrows():
        b = PRESETS[g["kind"]]
        if not g["dedicated"] and not b.min <= g["households"] <= b.max:
            assert g["reason"] in DATA_REASONS and g["note"], (g["reason"], g["note"])
        else:
            assert g["reason"] == ("dedicated" if g["dedicated"] else ""), g["reason"]
    # the rule checks, run on the layers as returned, agree: nothing but explained bounds, cut
    # buildings that overlap others or straddle a boundary, and buildings outside every community
    plan = Plan.from_layers(grids, result.communities, buildings=result.buildings)
    found = check_plan(plan)
    assert set(found["rule"]) <= {"households_within_bounds", "building_not_split", "households_conserved"}, found
    assert set(found.loc[found["rule"] == "households_conserved", "code"]) <= {"outside_communities"}
    assert set(found["rule"]) <= set(RULES)
    # codes: 15 digits, unique, serials 001.. per community
    assert grids["grid_code"].str.fullmatch(r"\d{15}").all()
    assert grids["grid_code"].is_unique


@SETTINGS
@given(seed=st.integers(0, 2**31), streets=st.booleans(), kind=st.sampled_from(["city", "rural"]),
       households=st.integers(50, 6000), points=st.booleans())
def test_invariants_hold_on_generated_communities(seed, streets, kind, households, points):
    case = make_case(seed, streets=streets, kind=kind, households=households, points=points)
    result = partition(case["communities"], case["buildings"], streets=case["streets"] if streets else None)
    check_invariants(case, result)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31), hole=st.booleans())
def test_multipart_communities_keep_each_grid_in_one_part(seed, hole):
    case = make_case(seed, multipart=True, hole=hole, households=2500)
    result = partition(case["communities"], case["buildings"], streets=case["streets"])
    check_invariants(case, result)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31))
def test_same_inputs_same_grids(seed):
    case = make_case(seed, households=2000)
    a = partition(case["communities"], case["buildings"], streets=case["streets"])
    b = partition(case["communities"], case["buildings"], streets=case["streets"])
    assert a.grids["grid_code"].tolist() == b.grids["grid_code"].tolist()
    assert (shapely.to_wkb(a.grids.geometry.to_numpy()) == shapely.to_wkb(b.grids.geometry.to_numpy())).all()
    assert (a.buildings["grid_code"] == b.buildings["grid_code"]).all()


# counterexamples found by benchmarks/search_partition_invariants.py, kept as regressions
FOUND = [
    # a village whose 207-household compound sits between its hamlets: no sweep isolates it
    {"seed": 1877618918, "streets": True, "kind": "rural", "households": 337, "points": False},
    # a 264-household unit alone was taken as the side meant to hold two grids
    {"seed": 1627811394, "streets": False, "kind": "rural", "households": 1776, "points": False},
]


@pytest.mark.parametrize("kw", FOUND, ids=[f"seed{kw['seed']}" for kw in FOUND])
def test_found_counterexamples_hold(kw):
    case = make_case(**kw)
    check_invariants(case, partition(case["communities"], case["buildings"], streets=case.get("streets")))


def test_chain_of_moves_fixes_a_full_neighbour():
    # found by random search: one grid 1 household over, its only roomy neighbour behind a full one
    case = make_case(2410, streets=False, kind="rural", households=1700)
    check_invariants(case, partition(case["communities"], case["buildings"]))


def test_pieces_cut_off_by_a_move_go_along():
    # found by random search: the unit to give away was the only link between a tower and
    # two empty units; they move with it
    case = make_case(1312, streets=True, kind="rural", households=1306, points=True)
    check_invariants(case, partition(case["communities"], case["buildings"], streets=case["streets"]))
