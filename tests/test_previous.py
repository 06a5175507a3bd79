"""Re-partition against a previous plan (partition --previous): kept grids, stable codes, locks, hand edits."""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from partition_cases import make_case

from gridkit.datasets import get_path
from gridkit.errors import InputDataError, ParameterError
from gridkit.partition import partition
from gridkit.partition.previous import PreviousGrids, fit_units
from gridkit.partition.reasons import DATA_REASONS
from gridkit.partition.report import report_from_result, report_markdown
from gridkit.partition.rules import Plan, check_plan

SETTINGS = settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _geoms(grids: gpd.GeoDataFrame) -> pd.Series:
    return pd.Series(shapely.normalize(grids.geometry.to_numpy()), index=grids["grid_code"].to_numpy())


def _same(a, b) -> bool:
    return bool(shapely.equals_exact(a, b, 0))


def _changed(case: dict, rng: np.random.Generator, share: float = 0.3) -> gpd.GeoDataFrame:
    """The buildings with a share of them gaining or losing up to half their households (or more)."""
    b = case["buildings"].copy()
    pick = rng.random(len(b)) < share
    factor = rng.uniform(0.3, 2.2, pick.sum())
    b.loc[pick, "households"] = (b.loc[pick, "households"] * factor).round().astype(int)
    return b


def check_repartition(result, before, *, locked=()):
    """The hard rules hold, kept codes keep their geometry, retired codes are gone for good."""
    grids = result.grids
    plan = Plan.from_layers(grids, result.communities, buildings=result.buildings)
    found = check_plan(plan)
    assert set(found["rule"]) <= {"households_within_bounds", "building_not_split", "households_conserved"}, found
    assert set(found.loc[found["rule"] == "households_conserved", "code"]) <= {"outside_communities"}
    for _, g in grids.iterrows():
        b = result.figures["bounds"][g["kind"]]
        if not g["dedicated"] and not b["min"] <= g["households"] <= b["max"] and g["grid_code"] not in locked:
            assert g["reason"] in DATA_REASONS, (g["grid_code"], g["households"], g["reason"], g["note"])
    assert grids["grid_code"].str.fullmatch(r"\d{15}").all() and grids["grid_code"].is_unique
    assert (grids["grid_code"].str[:12] == grids["community_code"]).all()
    table = result.changes.table
    old, new = _geoms(before), _geoms(grids)
    for code in table.loc[table["change"] == "kept", "grid_code"]:
        assert _same(old[code], new[code]), code
    retired = set(table.loc[table["change"] == "retired", "grid_code"])
    assert not retired & set(grids["grid_code"])
    codes = result.changes.codes
    assert set(codes.loc[codes["status"] == "active", "code"]) == set(grids["grid_code"])
    assert retired <= set(codes.loc[codes["status"] == "retired", "code"])
    # the buildings layer says which buildings changed grid, as many as the change table counts
    b = result.buildings
    moved = (b["previous_grid_code"] != b["grid_code"]) & (b["grid_code"] != "")
    assert int(moved.sum()) == result.changes.figures["buildings_changed_grid"] == int(table["buildings_in"].sum())
    # every previous code is kept by one grid or retired, never both
    kept_or_gone = set(table.loc[table["change"] != "new", "grid_code"]) & set(before["grid_code"])
    assert kept_or_gone == set(before["grid_code"]) & set(codes["code"])


@SETTINGS
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["city", "rural"]), households=st.integers(300, 2500))
def test_unchanged_input_gives_identical_output(seed, kind, households):
    case = make_case(seed, kind=kind, households=households)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    again = partition(case["communities"], case["buildings"], streets=case["streets"], previous=first.grids)
    assert again.grids["grid_code"].tolist() == first.grids["grid_code"].tolist()
    assert (shapely.to_wkb(again.grids.geometry.to_numpy()) == shapely.to_wkb(first.grids.geometry.to_numpy())).all()
    assert (again.buildings["grid_code"] == first.buildings["grid_code"]).all()
    assert set(again.changes.table["change"]) == {"kept"}


@SETTINGS
@given(seed=st.integers(0, 2**31), kind=st.sampled_from(["city", "rural"]), households=st.integers(600, 3000))
def test_household_changes_keep_the_rules_and_the_codes(seed, kind, households):
    rng = np.random.default_rng(seed)
    case = make_case(seed, kind=kind, households=households)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    year1 = partition(case["communities"], _changed(case, rng), streets=case["streets"], previous=first)
    check_repartition(year1, first.grids)
    # a second year against the first: no code retired in either year comes back
    year2 = partition(case["communities"], _changed(case, rng, 0.5), streets=case["streets"], previous=year1)
    check_repartition(year2, year1.grids)
    gone = set(year1.changes.codes.loc[year1.changes.codes["status"] == "retired", "code"])
    assert not gone & set(year2.grids["grid_code"])
    assert gone <= set(year2.changes.codes.loc[year2.changes.codes["status"] == "retired", "code"])


def _moved_vertices(grids: gpd.GeoDataFrame, rng: np.random.Generator, metres: float) -> gpd.GeoDataFrame:
    """Each grid edited alone, as in QGIS without snapping: about a third of its vertices moved by up to ``metres``.

    A vertex moves the same way wherever it recurs in one grid (rings stay closed) and
    differently in each grid, so neighbours gain gaps and overlaps.
    """
    metric = grids.to_crs(grids.estimate_utm_crs())
    salts = rng.uniform(0, 1000, len(metric))

    def edit(geom, salt):
        def shift(xy):
            noise = np.sin(xy[:, :1] * 12.9898 + xy[:, 1:] * 78.233 + salt) * 43758.5453
            u = noise - np.floor(noise)
            move = (u * 7 % 1) < 0.35
            return xy + move * metres * (np.c_[u, (u * 13) % 1] * 2 - 1)
        out = shapely.make_valid(shapely.transform(geom, shift))
        return shapely.union_all([p for p in shapely.get_parts(out) if p.geom_type == "Polygon"])

    edited = [edit(g, salt) for g, salt in zip(metric.geometry.to_numpy(), salts)]
    return metric.set_geometry(edited).to_crs(grids.crs)


@settings(max_examples=2, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31))
def test_a_plan_edited_by_moving_vertices_is_accepted(seed):
    rng = np.random.default_rng(seed)
    case = make_case(seed, households=2000)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    edited = _moved_vertices(first.grids, rng, 4.0)
    assert check_plan(Plan.from_layers(edited, first.communities))["rule"].eq("tiles_community").any()
    again = partition(case["communities"], case["buildings"], streets=case["streets"], previous=edited)
    check_repartition(again, first.grids)
    fig = again.changes.figures
    assert fig["fitted_m2"] > 0 and fig["grids_fitted"] > 0
    # locked, a hand-edited grid keeps its units and says its outline was fitted
    code = again.changes.table.sort_values("fitted_m2")["grid_code"].iat[-1]
    locked = partition(case["communities"], case["buildings"], streets=case["streets"], previous=edited,
                       locked=[code])
    row = locked.changes.table.set_index("grid_code").loc[code]
    assert row["locked"] and "fitted" in row["note"] and row["change"] == "kept"
    # a few metres of hand editing moves few buildings: nearly every code survives
    assert set(again.grids["grid_code"]) <= set(first.grids["grid_code"]) | set(
        again.changes.table.loc[again.changes.table["change"].isin(["new", "split"]), "grid_code"])
    assert len(set(again.grids["grid_code"]) & set(first.grids["grid_code"])) >= 0.8 * len(first.grids)


def test_locked_grids_are_kept_exactly_even_when_they_break_a_rule():
    case = make_case(7, households=3000)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    grids = first.grids
    target = grids.loc[~grids["dedicated"]].iloc[0]
    other = grids.loc[~grids["dedicated"]].iloc[1]
    # its buildings triple their households: far above the maximum
    b = case["buildings"].copy()
    inside = first.buildings["grid_code"] == target["grid_code"]
    b.loc[inside, "households"] *= 3
    prev = grids.assign(locked=grids["grid_code"] == target["grid_code"])
    result = partition(case["communities"], b, streets=case["streets"], previous=prev, locked=[other["grid_code"]])
    new = _geoms(result.grids)
    old = _geoms(grids)
    for code in (target["grid_code"], other["grid_code"]):
        assert _same(old[code], new[code])
    row = result.grids.set_index("grid_code").loc[target["grid_code"]]
    assert row["households"] > 500
    assert target["grid_code"] in set(result.issues.loc[result.issues["rule"] == "households_within_bounds",
                                                        "grid_code"])
    table = result.changes.table.set_index("grid_code")
    assert bool(table.loc[target["grid_code"], "locked"]) and bool(table.loc[other["grid_code"], "locked"])
    check_repartition(result, grids, locked={target["grid_code"]})
    report = report_from_result(result)
    assert target["grid_code"] in {r["grid_code"] for r in report["changes"]["locked_breaking"]}
    assert "Locked grids kept although they break a rule" in report_markdown(report)


def test_new_grids_take_the_next_free_serial_and_retired_codes_stay_retired():
    case = make_case(11, households=3000)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    code = first.grids["community_code"].iat[0]
    own = first.grids[first.grids["community_code"] == code]
    top = own["grid_code"].str[12:].astype(int).max()
    # a codes table that once used serial top + 5 (since retired): new grids start above it
    history = pd.DataFrame({"code": [f"{code}{top + 5:03d}"], "status": ["retired"], "since": ["2020-01-01"],
                            "retired": ["2022-06-30"]})
    from gridkit.partition.previous_plan import previous_plan

    plan = previous_plan(first.grids, codes=history)
    b = case["buildings"].copy()
    b["households"] *= 2  # every grid far over the maximum: split
    result = partition(case["communities"], b, streets=case["streets"], previous=plan, as_of="2025-01-01")
    check_repartition(result, first.grids)
    mine = result.grids[result.grids["community_code"] == code]["grid_code"]
    fresh = sorted(set(mine) - set(own["grid_code"]))
    assert fresh and min(int(c[12:]) for c in fresh) == top + 6
    codes = result.changes.codes.set_index("code")
    assert codes.loc[f"{code}{top + 5:03d}", "status"] == "retired"
    assert codes.loc[f"{code}{top + 5:03d}", "retired"] == "2022-06-30"
    assert (codes.loc[fresh, "since"] == "2025-01-01").all()
    assert set(result.changes.table.loc[result.changes.table["grid_code"].isin(fresh), "change"]) == {"split"}


def test_bad_previous_plans_are_refused_naming_the_features():
    case = make_case(3, households=1500)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    twice = first.grids.copy()
    twice.loc[twice.index[1], "grid_code"] = twice["grid_code"].iat[0]
    with pytest.raises(InputDataError, match="more than once") as err:
        partition(case["communities"], case["buildings"], previous=twice)
    assert list(err.value.feature_ids) == list(twice.index[:2])
    short = first.grids.assign(grid_code="52010200100101")
    with pytest.raises(InputDataError, match="not 15 digits"):
        partition(case["communities"], case["buildings"], previous=short)
    with pytest.raises(ParameterError, match="not previous grids"):
        partition(case["communities"], case["buildings"], previous=first.grids, locked=["520102001001999"])
    with pytest.raises(ParameterError, match="--grids"):
        partition(case["communities"], case["buildings"], previous=first.grids, grids=3)
    with pytest.raises(ParameterError, match="previous plan"):
        partition(case["communities"], case["buildings"], locked=[first.grids["grid_code"].iat[0]])


def test_cli_previous_and_lock_on_the_sample_county(tmp_path):
    sample = get_path("sample_county")
    base = [sys.executable, "-m", "gridkit_cli.main", "--quiet", "partition", str(sample / "communities.gpkg"),
            "--buildings"]
    rest = ["--streets", str(sample / "streets.gpkg"), "--dedicated", str(sample / "dedicated.gpkg")]
    run0 = subprocess.run([*base, str(sample / "buildings.gpkg"), *rest, "-o", str(tmp_path / "y0")],
                          capture_output=True, text=True, check=False)
    assert run0.returncode == 0, run0.stderr
    grids0 = gpd.read_file(tmp_path / "y0" / "grids.gpkg", layer="grids")
    # a year later: one community's buildings hold half again as many households
    b = gpd.read_file(sample / "buildings.gpkg")
    out0 = gpd.read_file(tmp_path / "y0" / "grids.gpkg", layer="buildings")
    code = grids0["community_code"].iat[0]
    more = (out0["community_code"] == code).to_numpy()
    b.loc[more, "households"] = (b.loc[more, "households"] * 1.6).round().astype(int)
    b.to_file(tmp_path / "buildings1.gpkg")
    lock = grids0["grid_code"].iat[-1]
    run1 = subprocess.run([*base, str(tmp_path / "buildings1.gpkg"), *rest, "--previous",
                           str(tmp_path / "y0" / "grids.gpkg"), "--lock", lock, "-o", str(tmp_path / "y1")],
                          capture_output=True, text=True, check=False)
    assert run1.returncode == 0, run1.stderr
    assert "against the previous plan" in run1.stdout
    out = tmp_path / "y1"
    changes = pd.read_csv(out / "changes.csv", dtype={"grid_code": str, "community_code": str, "related": str})
    grids1 = gpd.read_file(out / "grids.gpkg", layer="grids")
    assert set(changes.loc[changes["change"] != "retired", "grid_code"]) == set(grids1["grid_code"])
    assert (changes["change"] != "kept").any() and (changes["change"] == "kept").any()
    assert changes.set_index("grid_code").loc[lock, "locked"]
    assert "codes" in pyogrio.list_layers(out / "grids.gpkg")[:, 0]
    assert "## Changes since the previous plan" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "changes.html").stat().st_size > 0
    # the next year reads the codes table back: the retired codes stay retired
    run2 = subprocess.run([*base, str(sample / "buildings.gpkg"), *rest, "--previous", str(out / "grids.gpkg"),
                           "-o", str(tmp_path / "y2")], capture_output=True, text=True, check=False)
    assert run2.returncode == 0, run2.stderr
    codes1 = pyogrio.read_dataframe(out / "grids.gpkg", layer="codes", read_geometry=False)
    codes2 = pyogrio.read_dataframe(tmp_path / "y2" / "grids.gpkg", layer="codes", read_geometry=False)
    assert set(codes1["code"]) <= set(codes2["code"])
    gone = set(codes1.loc[codes1["status"] == "retired", "code"])
    assert gone <= set(codes2.loc[codes2["status"] == "retired", "code"])
    # a lock naming no previous grid is a usage error, and nothing is written
    bad = subprocess.run([*base, str(sample / "buildings.gpkg"), "--previous", str(out / "grids.gpkg"), "--lock",
                          "520199001001999", "-o", str(tmp_path / "bad")], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "520199001001999" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_the_change_map_shows_each_kind_offline_in_chromium(tmp_path):
    from browser import Browser, chromium_available

    from gridkit.partition.changes import CHANGE_COLOURS, write_changes

    if not chromium_available():
        pytest.skip("needs playwright and /usr/bin/chromium")
    case = make_case(5, households=2500)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    b = case["buildings"].copy()
    own = (first.buildings["community_code"] == first.grids["community_code"].iat[0]).to_numpy()
    b.loc[own, "households"] *= 2
    result = partition(case["communities"], b, streets=case["streets"], previous=first)
    write_changes(result, tmp_path)
    kinds = result.changes.table.drop_duplicates("grid_code").set_index("grid_code")["change"]
    wanted = kinds.reindex(result.grids["grid_code"]).value_counts()
    assert wanted.get("split", 0) > 0 and wanted.get("kept", 0) > 0
    with Browser() as browser:
        page = browser.open(tmp_path / "changes.html", wait_for="document.querySelector('.gridkit-legend') !== null")
        assert page.blocked == [] and page.failed == [] and page.errors == []
        fills = page.evaluate("Array.from(document.querySelectorAll('path.leaflet-interactive'))"
                              ".map(p => p.getAttribute('fill'))")
        legend = page.evaluate("document.querySelector('.gridkit-legend').textContent")
    for kind, n in wanted.items():
        assert fills.count(CHANGE_COLOURS[kind]) == n, kind
        assert f"{kind}" in legend


def test_a_shrinking_village_merges_grids_and_retires_their_codes():
    case = make_case(21, kind="rural", households=1200, towers=False)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    b = case["buildings"].copy()
    b["households"] = (b["households"] * 0.35).round().astype(int)  # too few households for as many grids
    year1 = partition(case["communities"], b, streets=case["streets"], previous=first)
    check_repartition(year1, first.grids)
    table = year1.changes.table
    retired = set(table.loc[table["change"] == "retired", "grid_code"])
    assert retired and len(year1.grids) < len(first.grids)
    assert (table["change"] == "merged").any()
    merged = table[table["change"] == "merged"]
    assert set(";".join(merged["related"]).split(";")) <= retired
    # the village grows back: new grids get new serials, the retired codes stay retired
    year2 = partition(case["communities"], case["buildings"], streets=case["streets"], previous=year1)
    check_repartition(year2, year1.grids)
    assert not retired & set(year2.grids["grid_code"])
    assert len(year2.grids) > len(year1.grids)


def test_fit_units_sends_each_unit_to_its_largest_overlap_and_measures_the_area_moved():
    units = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10), shapely.box(20, 0, 30, 10)])
    # drawn by hand: the first grid reaches 3 m into the second unit, the second stops 1 m short of the end
    prev = PreviousGrids(geometries=np.array([shapely.box(0, 0, 13, 10), shapely.box(13, 0, 29, 10)]),
                         codes=np.array(["520102001001001", "520102001001002"]), locked=np.zeros(2, dtype=bool),
                         households=np.full(2, -1))
    unit_prev, moved = fit_units(units, prev, shapely.box(0, 0, 30, 10))
    assert unit_prev.tolist() == [0, 1, 1]
    # grid 0 leaves its 30 m² in unit 1; grid 1 gains those 30 m² and the 10 m² strip it did not reach
    assert moved.tolist() == pytest.approx([30.0, 40.0])
    nothing = PreviousGrids(geometries=np.array([shapely.box(100, 100, 110, 110)]), codes=np.array(["520102001001003"]),
                            locked=np.zeros(1, dtype=bool), households=np.full(1, -1))
    assert fit_units(units, nothing)[0].tolist() == [-1, -1, -1]


def test_repartition_on_a_dask_cluster_equals_serial():
    from distributed import LocalCluster

    case = make_case(13, households=2500)
    first = partition(case["communities"], case["buildings"], streets=case["streets"])
    b = _changed(case, np.random.default_rng(13), 0.4)
    serial = partition(case["communities"], b, streets=case["streets"], previous=first)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        remote = partition(case["communities"], b, streets=case["streets"], previous=first,
                           scheduler=cluster.scheduler_address)
    assert serial.grids["grid_code"].tolist() == remote.grids["grid_code"].tolist()
    assert serial.grids.geometry.geom_equals_exact(remote.grids.geometry, 0).all()
    assert serial.changes.table.equals(remote.changes.table)
