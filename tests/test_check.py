"""`gridkit check` on real files: gridkit's own plan passes, planted problems are found at their place."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from gridkit_cli.main import main
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.check import CheckOptions, check_grids
from gridkit.datasets import get_path

SAMPLE = get_path("sample_county")
METRIC = 4545  # CGCS2000 3-degree Gauss-Krüger CM 108°E, the sample's own
X0, Y0 = 362_000.0, 2_929_000.0


@pytest.fixture(scope="session")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gridkit's own partition of the sample county, written by the command line."""
    out = tmp_path_factory.mktemp("plan")
    code = main(["--quiet", "partition", str(SAMPLE / "communities.gpkg"), "--buildings",
                 str(SAMPLE / "buildings.gpkg"), "--streets", str(SAMPLE / "streets.gpkg"), "--dedicated",
                 str(SAMPLE / "dedicated.gpkg"), "-o", str(out)])
    assert code == 0
    return out


def _check(grids: Path, out: Path, *extra: str, buildings: Path | None = SAMPLE / "buildings.gpkg",
           communities: Path = SAMPLE / "communities.gpkg") -> int:
    args = ["--quiet", "check", str(grids), "--communities", str(communities), "-o", str(out), *extra]
    if buildings is not None:
        args += ["--buildings", str(buildings)]
    return main(args)


def test_gridkits_own_sample_plan_passes(plan_dir: Path, tmp_path: Path) -> None:
    assert _check(plan_dir / "grids.gpkg", tmp_path / "a") == 0
    report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    assert report["ok"] and report["overall"]["findings"]["broken"] == 0
    assert report["overall"]["households_conserved"] and report["overall"]["households_in_grids"] == 18_427
    # the village of 56 households is one grid below the minimum: reported, unavoidable
    bounds = [p for p in report["problems"] if p["rule"] == "households_within_bounds"]
    assert [(p["grid_code"], p["severity"], p["code"]) for p in bounds] == [
        ("520199101202001", "unavoidable", "community_below_min")]
    # without buildings the grids' households field is used, with the same verdict
    assert _check(plan_dir / "grids.gpkg", tmp_path / "b", buildings=None) == 0
    # soft findings fail only with --strict (two grids are 21 % above their community's mean)
    soft = [p for p in report["problems"] if p["severity"] == "soft"]
    assert soft and {p["rule"] for p in soft} == {"balanced"}
    assert _check(plan_dir / "grids.gpkg", tmp_path / "c", "--strict") == 1
    assert "Every rule holds" in (tmp_path / "a" / "report.md").read_text(encoding="utf-8")


def test_problems_layer_opens_in_gdal_in_the_grids_crs(plan_dir: Path, tmp_path: Path) -> None:
    grids = gpd.read_file(plan_dir / "grids.gpkg", layer="grids")
    moved = grids.to_crs(METRIC)
    before = moved.geometry[3]
    moved.loc[3, "geometry"] = before.buffer(-15)
    path = tmp_path / "moved.gpkg"
    moved.to_file(path, layer="grids")
    assert _check(path, tmp_path / "out") == 1
    info = pyogrio.read_info(tmp_path / "out" / "problems.gpkg")
    assert info["layer_name"] == "problems" and info["crs"] == "EPSG:4545"
    assert {"rule", "severity", "code", "community_code", "grid_code", "grid_codes", "households", "area_m2",
            "reason"} <= set(info["fields"])
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert info["features"] == len(report["problems"])
    layer = gpd.read_file(tmp_path / "out" / "problems.gpkg")
    gaps = layer[layer["code"] == "gap"]
    ring = before.difference(moved.geometry[3])
    # the gap is the 15 m ring the shrunk grid left, measured in m²
    assert len(gaps) == 1 and gaps.geometry.iat[0].intersects(ring)
    assert gaps["area_m2"].iat[0] == pytest.approx(ring.area, rel=0.02)
    assert grids.loc[3, "grid_code"] in gaps["grid_codes"].iat[0]


# ----------------------------------------------------------------------------- a hand-drawn plan, planted


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _hand_drawn(tmp: Path) -> dict[str, Path]:
    """Four 600 x 400 m communities of two grids each, one problem of each kind planted; files in EPSG:4490."""
    codes = [f"52019900100{i}" for i in range(1, 5)]
    comm = gpd.GeoDataFrame({"code": codes, "name": ["甲", "乙", "丙", "丁"], "kind": "city"}, crs=METRIC,
                            geometry=[_box(600 * i, 0, 600 * i + 600, 400) for i in range(4)])
    grid_rows, geoms, b_geoms, b_hh = [], [], [], []
    for i, code in enumerate(codes):
        x = 600 * i
        left, right = _box(x, 0, x + 300, 400), _box(x + 300, 0, x + 600, 400)
        if i == 0:  # a gap: a 40 x 40 m hole in the left grid; and a stray part: an island of the right grid in it
            left = left.difference(_box(x + 100, 100, x + 140, 140)).difference(_box(x + 200, 20, x + 230, 50))
            right = shapely.union(right, _box(x + 200, 20, x + 230, 50))
        if i == 1:  # an overlap: the left grid reaches 30 m into the right one
            left = _box(x, 0, x + 330, 400)
        if i == 3:  # crossing the community boundary: the right grid reaches 20 m beyond the county
            right = _box(x + 300, 0, x + 620, 400)
        geoms += [left, right]
        grid_rows += [{"grid_code": code + "001", "community_code": code},
                      {"grid_code": code + "002", "community_code": code}]
        for gx, hh in ((x + 20, 100), (x + 200, 100), (x + 350, 100), (x + 500, 100)):
            b_geoms.append(_box(gx, 250, gx + 20, 270))
            b_hh.append(hh)
        b_geoms.append(_box(x + 20, 300, x + 40, 320))
        b_hh.append(100)
        b_geoms.append(_box(x + 500, 300, x + 520, 320))
        b_hh.append(100)
    # a building split by the grid boundary at x = 1500 (community 3)
    b_geoms.append(_box(1490, 350, 1510, 370))
    b_hh.append(40)
    # community 4's left grid holds 600 households: above the maximum 500 (the community could have two of 450)
    b_geoms += [_box(1820, 50, 1840, 70), _box(1860, 50, 1880, 70), _box(1900, 50, 1920, 70)]
    b_hh += [100, 100, 100]
    grids = gpd.GeoDataFrame(grid_rows, geometry=geoms, crs=METRIC)
    grids.loc[3, "grid_code"] = grids.loc[2, "grid_code"]  # a duplicate code (community 2)
    grids.loc[4, "grid_code"] = "52019900100300"  # 14 digits (community 3)
    grids.loc[5, "grid_code"] = "520199001009002"  # another community's prefix (community 3)
    buildings = gpd.GeoDataFrame({"households": b_hh}, geometry=b_geoms, crs=METRIC)
    paths = {"grids": tmp / "grids.gpkg", "communities": tmp / "communities.gpkg", "buildings": tmp / "buildings.gpkg"}
    for name, layer in (("grids", grids), ("communities", comm), ("buildings", buildings)):
        layer.to_crs(4490).to_file(paths[name], layer=name)
    return paths


def _at(x: float, y: float) -> shapely.Point:
    """A planted place (metres from the origin of the hand-drawn plan) in EPSG:4490."""
    return gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y)], crs=METRIC).to_crs(4490).iat[0]


def test_each_planted_problem_is_found_at_its_place(tmp_path: Path) -> None:
    paths = _hand_drawn(tmp_path)
    assert _check(paths["grids"], tmp_path / "out", buildings=paths["buildings"],
                  communities=paths["communities"]) == 1
    found = gpd.read_file(tmp_path / "out" / "problems.gpkg")
    assert found.crs.to_epsg() == 4490

    def one(rule: str, code: str) -> gpd.GeoDataFrame:
        rows = found[(found["rule"] == rule) & (found["code"] == code)]
        assert len(rows) >= 1, (rule, code, found[["rule", "code"]].values.tolist())
        assert (rows["severity"] == "broken").all()
        return rows

    gap = one("tiles_community", "gap")
    assert len(gap) == 1 and gap.geometry.iat[0].intersects(_at(120, 120))
    assert gap["area_m2"].iat[0] == pytest.approx(1600, rel=1e-3)
    assert gap["grid_codes"].iat[0] == "520199001001001"
    overlap = one("tiles_community", "overlap")
    assert len(overlap) == 1 and overlap.geometry.iat[0].intersects(_at(915, 200))
    assert not overlap.geometry.iat[0].intersects(_at(880, 200))
    assert overlap["area_m2"].iat[0] == pytest.approx(30 * 400, rel=1e-3)
    # the two grids share a code: each is named by it and its feature id (GeoPackage fids count from 1)
    assert overlap["grid_codes"].iat[0] == "520199001002001 (feature 3), 520199001002001 (feature 4)"
    split = one("building_not_split", "split")
    assert split.geometry.iat[0].intersects(_at(1500, 360)) and "520199001009002" in split["grid_codes"].iat[0]
    bounds = one("households_within_bounds", "outside_bounds")
    assert bounds["grid_code"].tolist() == ["520199001004001"] and bounds["households"].iat[0] == 600
    assert bounds.geometry.iat[0].intersects(_at(1850, 200))
    outside = one("inside_one_community", "outside_community")
    assert outside["grid_code"].tolist() == ["520199001004002"] and outside.geometry.iat[0].intersects(_at(2410, 200))
    assert outside["area_m2"].iat[0] == pytest.approx(20 * 400, rel=1e-3)
    stray = one("one_piece", "parts")
    assert stray["grid_code"].tolist() == ["520199001001002"] and stray.geometry.iat[0].intersects(_at(215, 35))
    assert not stray.geometry.iat[0].intersects(_at(450, 200))  # the grid's main part is not the problem
    assert stray["area_m2"].iat[0] == pytest.approx(900, rel=1e-3)
    codes = found[found["rule"] == "grid_codes"].set_index("code")
    assert set(codes.index) == {"duplicate", "not_15_digits", "wrong_community"}
    duplicate = found[found["code"] == "duplicate"]
    assert len(duplicate) == 2 and all(g.intersects(_at(1050, 200)) or g.intersects(_at(750, 200))
                                       for g in duplicate.geometry)
    assert codes.loc["not_15_digits", "geometry"].intersects(_at(1350, 200))
    assert codes.loc["wrong_community", "geometry"].intersects(_at(1650, 200))
    # every finding of a broken rule is one the plan was planted with: nothing else is flagged
    planted = {("tiles_community", "gap"), ("tiles_community", "overlap"), ("building_not_split", "split"),
               ("households_within_bounds", "outside_bounds"), ("inside_one_community", "outside_community"),
               ("grid_codes", "duplicate"), ("grid_codes", "not_15_digits"), ("grid_codes", "wrong_community"),
               ("one_piece", "parts")}
    broken = found[found["severity"] == "broken"]
    assert set(zip(broken["rule"], broken["code"])) == planted
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "Rules are broken" in report and "1,600.0" in report


def test_a_hand_edited_plan_with_moved_vertices_is_checked(plan_dir: Path, tmp_path: Path) -> None:
    grids = gpd.read_file(plan_dir / "grids.gpkg", layer="grids")
    communities = gpd.read_file(SAMPLE / "communities.gpkg")
    buildings = gpd.read_file(SAMPLE / "buildings.gpkg")
    # a vertex shared by exactly two grids, away from the community boundaries and from other vertices
    xy, owner = shapely.get_coordinates(grids.geometry.to_numpy(), return_index=True)
    held = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "owner": owner}).drop_duplicates()
    by_vertex = held.groupby(["x", "y"])["owner"].agg(list)
    edge = shapely.boundary(shapely.union_all(communities.geometry.to_numpy()))
    target = holders = None
    for (x, y), owners in by_vertex.items():
        if len(owners) != 2:
            continue
        point = shapely.Point(x, y)
        others = shapely.points(xy[np.isin(owner, owners) & ~((xy[:, 0] == x) & (xy[:, 1] == y))])
        if point.distance(edge) > 1e-3 and shapely.distance(point, others).min() > 2e-4:
            target, holders = np.array([x, y]), owners
            break
    assert target is not None and holders is not None
    moved_to = target + np.array([3e-5, 2e-5])  # about 3 m east, 2 m north

    def move(geom: shapely.Geometry) -> shapely.Geometry:
        coords = shapely.get_coordinates(geom)
        coords[(coords == target).all(axis=1)] = moved_to
        return shapely.set_coordinates(geom, coords)

    # moved in both grids: still a tiling, nothing of rule 3 is flagged
    both = grids.copy()
    both.loc[holders, "geometry"] = [move(g) for g in both.geometry[holders]]
    result = check_grids(both, communities, buildings=buildings)
    assert not (result.problems["rule"] == "tiles_community").any(), result.problems
    # moved in one grid only, as a slip of the mouse in QGIS: a wedge of gap or overlap at the vertex
    one = grids.copy()
    one.loc[holders[0], "geometry"] = move(one.geometry[holders[0]])
    path = tmp_path / "edited.gpkg"
    one.to_file(path, layer="grids")
    assert _check(path, tmp_path / "out") == 1
    found = gpd.read_file(tmp_path / "out" / "problems.gpkg")
    tiles = found[found["rule"] == "tiles_community"]
    assert len(tiles) >= 1
    near = shapely.Point(target).buffer(1e-4)
    assert tiles.geometry.intersects(near).all()
    assert grids.loc[holders[0], "grid_code"] in ", ".join(tiles["grid_codes"])


def test_bad_input_exits_3_naming_file_and_field_and_writes_nothing(plan_dir: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert _check(plan_dir / "grids.gpkg", out, "--code-field", "division") == 3
    err = capsys.readouterr().err
    assert "communities.gpkg" in err and "'division'" in err
    assert _check(plan_dir / "grids.gpkg", out, "--households-field", "hh", buildings=None) == 3
    err = capsys.readouterr().err
    assert "grids.gpkg" in err and "'hh'" in err and "--buildings" in err
    points = gpd.read_file(plan_dir / "grids.gpkg", layer="grids")
    points["geometry"] = points.geometry.representative_point()
    points.to_file(tmp_path / "points.gpkg", layer="grids")
    assert _check(tmp_path / "points.gpkg", out) == 3
    assert "polygon" in capsys.readouterr().err
    bad = gpd.read_file(plan_dir / "grids.gpkg", layer="grids")
    bad["dedicated"] = bad["dedicated"].astype(str)
    bad.loc[2, "dedicated"] = "maybe"
    bad.to_file(tmp_path / "bad.gpkg", layer="grids")
    assert _check(tmp_path / "bad.gpkg", out) == 3
    err = capsys.readouterr().err
    assert "bad.gpkg" in err and "'dedicated'" in err and "feature 3" in err  # GeoPackage fids count from 1
    assert not out.exists()


# ----------------------------------------------------------------------------- property


def _strip(a: int, b: int, xs: list[int], hh: list[int], geographic: bool, codes: list[str]
           ) -> tuple[gpd.GeoDataFrame, ...]:
    """One 600 x 200 m community of two grids [0, a] and [b, 600]; 10 x 10 m buildings at ``xs``."""
    comm = gpd.GeoDataFrame({"code": ["520199001001"], "kind": "city"}, geometry=[_box(0, 0, 600, 200)], crs=METRIC)
    grids = gpd.GeoDataFrame({"grid_code": codes}, geometry=[_box(0, 0, a, 200), _box(b, 0, 600, 200)], crs=METRIC)
    buildings = gpd.GeoDataFrame({"households": hh}, geometry=[_box(x, 50, x + 10, 60) for x in xs], crs=METRIC)
    layers = (grids, comm, buildings)
    return tuple(layer.to_crs(4490) for layer in layers) if geographic else layers


#: a code edit and whether it breaks the code rule (serials swapped only break the soft reading order)
_CODE_EDITS = {"none": (["520199001001001", "520199001001002"], False),
               "swapped": (["520199001001002", "520199001001001"], False),
               "gaps in serials": (["520199001001004", "520199001001009"], False),
               "duplicate": (["520199001001001", "520199001001001"], True),
               "short": (["520199001001001", "52019900100102"], True),
               "other community": (["520199001001001", "520199001002002"], True),
               "missing": (["520199001001001", ""], True)}


@settings(max_examples=30, deadline=None, derandomize=True)
@given(a=st.integers(260, 340), shift=st.sampled_from([0, 0, 0, -3, -1, 1, 4]),
       xs=st.lists(st.integers(0, 590), min_size=2, max_size=8), hh=st.lists(st.integers(40, 160), min_size=8,
                                                                               max_size=8),
       geographic=st.booleans(), edit=st.sampled_from(sorted(_CODE_EDITS)))
def test_perturbed_plans_are_flagged_iff_a_rule_breaks(a: int, shift: int, xs: list[int], hh: list[int],
                                                        geographic: bool, edit: str) -> None:
    b = a + shift  # shift > 0: a gap of that width; < 0: an overlap
    hh = hh[:len(xs)]
    codes, bad_code = _CODE_EDITS[edit]
    grids, comm, buildings = _strip(a, b, xs, hh, geographic, codes)
    result = check_grids(grids, comm, buildings=buildings, options=CheckOptions(tolerance=0.2))
    # the rules, worked out from the numbers alone: with the edges apart there is a gap or an
    # overlap; with them together, a building across x = a is split, and each grid holds the
    # buildings on its side
    split = any(x < a < x + 10 for x in xs)
    left = sum(h for x, h in zip(xs, hh) if x + 10 <= a)
    right = sum(h for x, h in zip(xs, hh) if x >= a)
    expect_ok = shift == 0 and not split and all(200 <= n <= 500 for n in (left, right)) and not bad_code
    assert result.ok == expect_ok, (result.problems[["rule", "code", "reason"]].values.tolist(), left, right)
    if shift:
        assert (result.problems["code"] == ("gap" if shift > 0 else "overlap")).sum() == 1
    if shift == 0 and split:
        assert (result.problems["rule"] == "building_not_split").any()
    assert (result.problems["rule"] == "grid_codes").any() == bad_code
    out_of_order = (result.problems["rule"] == "codes_in_reading_order").any()
    assert out_of_order == (edit == "swapped")


def test_a_building_counts_by_largest_part_or_by_centroid() -> None:
    comm = gpd.GeoDataFrame({"code": ["520199001001"], "kind": "city"}, geometry=[_box(0, 0, 600, 200)], crs=METRIC)
    grids = gpd.GeoDataFrame({"grid_code": ["520199001001001", "520199001001002"]},
                             geometry=[_box(0, 0, 300, 200), _box(300, 0, 600, 200)], crs=METRIC)
    # an L: 1,000 m² west of x = 300, 400 m² east of it, its centroid at x = 302 (east)
    ell = shapely.union(_box(290, 0, 300, 100), _box(300, 0, 340, 10))
    buildings = gpd.GeoDataFrame({"households": [50, 250, 250]}, crs=METRIC,
                                 geometry=[ell, _box(100, 100, 120, 120), _box(400, 100, 420, 120)])
    by_part = check_grids(grids, comm, buildings=buildings)
    by_centroid = check_grids(grids, comm, buildings=buildings, assign="centroid")
    assert by_part.grids["households"].tolist() == [300, 250]
    assert by_centroid.grids["households"].tolist() == [250, 300]
    for result in (by_part, by_centroid):
        split = result.problems[result.problems["rule"] == "building_not_split"]
        assert len(split) == 1 and split.geometry.iat[0].equals(ell) and not result.ok
    assert "largest part" in by_part.figures["households_counted_as"]
    assert "centroid" in by_centroid.figures["households_counted_as"]


def test_another_tools_plan_without_codes_is_checked_by_its_households_field(tmp_path: Path) -> None:
    grids, comm, _ = _strip(300, 300, [], [], False, ["", ""])
    grids = grids.drop(columns="grid_code").assign(户数=[320, 280])
    grids.to_file(tmp_path / "theirs.shp")
    comm.to_file(tmp_path / "communities.gpkg")
    assert _check(tmp_path / "theirs.shp", tmp_path / "out", "--households-field", "户数", buildings=None,
                  communities=tmp_path / "communities.gpkg") == 1
    found = gpd.read_file(tmp_path / "out" / "problems.gpkg")
    assert set(zip(found["rule"], found["code"])) == {("grid_codes", "missing")}
    assert found["grid_code"].tolist() == ["no code (feature 0)", "no code (feature 1)"]
    assert found["households"].tolist() == [320, 280]
