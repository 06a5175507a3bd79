"""Balanced grids (任务相当) through the whole partition: figures, report, grid counts, options."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from gridkit_cli.main import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from partition_cases import make_case

from gridkit.datasets import get_path
from gridkit.io import read_layer
from gridkit.partition import partition
from gridkit.partition.workload import workload

SAMPLE = get_path("sample_county")
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def within_share(grids: gpd.GeoDataFrame, tolerance: float = 0.2) -> float:
    load = workload(grids, tolerance=tolerance)
    return float(load.grids.loc[load.grids["counted"], "balanced"].mean())


@pytest.fixture(scope="module")
def sample() -> dict[str, gpd.GeoDataFrame]:
    return {name: read_layer(SAMPLE / f"{name}.gpkg") for name in ("communities", "buildings", "streets", "dedicated")}


@SETTINGS
@given(seed=st.integers(0, 2**31), households=st.integers(1500, 6000), streets=st.booleans())
def test_balance_never_leaves_fewer_grids_within_the_tolerance_than_the_bisection(seed, households, streets):
    case = make_case(seed, households=households, streets=streets)
    kw = {"streets": case["streets"] if streets else None}
    plain = partition(case["communities"], case["buildings"], tolerance=None, **kw)
    balanced = partition(case["communities"], case["buildings"], **kw)
    assert within_share(balanced.grids_metric) >= within_share(plain.grids_metric) - 1e-9
    # the hard rules still hold: bounds where they held, one piece, households conserved
    assert balanced.grids["within_bounds"].sum() >= plain.grids["within_bounds"].sum()
    assert set(balanced.issues["rule"]) <= set(plain.issues["rule"]) | {"households_within_bounds"}
    assert balanced.grids["households"].sum() == plain.grids["households"].sum()
    assert len(balanced.grids) == len(plain.grids)


def test_sample_county_grids_are_balanced(sample):
    """The floor of the bundled sample's balance figures (measured 96.8 % within ±20 %, median CV 0.115)."""
    result = partition(sample["communities"], sample["buildings"], streets=sample["streets"],
                       dedicated=sample["dedicated"])
    o = result.figures["balance"]
    assert o["share_within_tolerance"] >= 0.95
    assert o["median_cv"] <= 0.125
    plain = partition(sample["communities"], sample["buildings"], streets=sample["streets"],
                      dedicated=sample["dedicated"], tolerance=None)
    assert plain.figures["balance"]["share_within_tolerance"] < 0.7  # what the bisection alone gives
    # every grid outside the tolerance has a stated reason
    assert set(result.figures["balance_reasons"][~result.grids_metric["balanced"].to_numpy()]) <= {
        "large_building", "no_move", "single_grid"}


def test_report_gives_the_balance_per_community(sample, tmp_path):
    out = tmp_path / "out"
    assert main(["--quiet", "partition", str(SAMPLE / "communities.gpkg"), "--buildings", str(SAMPLE / "buildings.gpkg"),
                 "--streets", str(SAMPLE / "streets.gpkg"), "--tolerance", "0.15", "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    o = report["overall"]
    assert o["balance_tolerance"] == 0.15
    city = [c for c in report["communities"] if c["kind"] == "city"]
    assert all(c["cv"] is not None and c["mean_households"] > 0 for c in city)
    for c in city:
        grids = gpd.read_file(out / "grids.gpkg", layer="grids")
        own = grids[(grids["community_code"] == c["community_code"]) & ~grids["dedicated"]]
        assert abs(own["households"].mean() - c["mean_households"]) < 0.06
        assert np.allclose(own["deviation"], (own["households"] - own["households"].mean()) / own["households"].mean(),
                           atol=1e-3)
        outside = {g["grid_code"] for g in c["outside_tolerance"]}
        assert outside == set(own.loc[(own["deviation"].abs() > 0.15 + 1e-9), "grid_code"])
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## Balance (任务相当, tolerance ±15% of the community's mean)" in text


def test_a_requested_number_of_grids_is_made_when_the_bounds_allow(tmp_path):
    case = make_case(21, households=4000, streets=True)  # two communities of 2,815 and 2,655 households
    for wanted in (7, 11):
        result = partition(case["communities"], case["buildings"], streets=case["streets"], grids=wanted)
        assert (result.grids.groupby("community_code").size() == wanted).all()
        assert result.grids["within_bounds"].all()
        assert result.figures["requested_grids"] == []
    # 2,815 households cannot make 20 grids of at least 200: no more than the bounds allow, and why not
    result = partition(case["communities"], case["buildings"], streets=case["streets"], grids=20)
    made = result.grids.groupby("community_code").size()
    households = result.grids.groupby("community_code")["households"].sum()
    assert (made <= households // 200).all() and result.grids["within_bounds"].all()
    missed = {m["community_code"]: m for m in result.figures["requested_grids"]}
    assert set(missed) == set(made.index)
    for c, m in missed.items():
        assert m["requested"] == 20 and m["grids"] == made[c]
        assert f"fit {-(-households[c] // 500)}-{households[c] // 200} regular grids of 200-500" in m["reason"]


def test_grid_counts_from_a_field_of_the_boundary_file(tmp_path):
    case = make_case(22, households=4000, streets=False)
    comm = case["communities"].assign(wanted=["9", ""])  # empty: chosen from the target
    paths = {}
    for name, layer in {**case, "communities": comm}.items():
        paths[name] = tmp_path / f"{name}.gpkg"
        layer.to_file(paths[name], layer=name)
    out = tmp_path / "out"
    assert main(["--quiet", "partition", str(paths["communities"]), "--buildings", str(paths["buildings"]),
                 "--grids", "wanted", "-o", str(out)]) == 0
    made = gpd.read_file(out / "grids.gpkg", layer="grids").groupby("community_code").size()
    default = partition(case["communities"], case["buildings"]).grids.groupby("community_code").size()
    assert made.iat[0] == 9 and made.iat[1] == default.iat[1]
    assert main(["--quiet", "partition", str(paths["communities"]), "--buildings", str(paths["buildings"]),
                 "--grids", "no_such_field", "-o", str(tmp_path / "bad")]) == 3
    assert not (tmp_path / "bad").exists()


def test_bad_balance_options_are_usage_errors(tmp_path):
    for args in (["--tolerance", "1.5"], ["--tolerance", "-0.1"], ["--grids", "0"]):
        assert main(["--quiet", "partition", str(SAMPLE / "communities.gpkg"), "--buildings",
                     str(SAMPLE / "buildings.gpkg"), *args, "-o", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_no_balance_keeps_the_bisection(sample):
    a = partition(sample["communities"], sample["buildings"], streets=sample["streets"], tolerance=None)
    assert "deviation" in a.grids and a.figures["tolerance"] is None
    assert a.figures["balance"]["tolerance"] == 0.2  # figures still given, for the default tolerance
