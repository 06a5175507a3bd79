"""What the partition refuses or repairs before any geometry work: each bad input named, all at once."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from gridkit_cli.main import main
from partition_cases import CRS, X0, Y0, make_case

from gridkit.errors import GridkitError, InputDataError, MissingFieldError, ParameterError
from gridkit.partition.pipeline import partition


def _small_case():
    return make_case(4, households=800)


@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e19, 1e12, 2.5])
def test_implausible_household_counts_are_refused_with_the_feature(value):
    case = _small_case()
    b = case["buildings"].copy()
    b["households"] = b["households"].astype(float)
    b.loc[[2, 7], "households"] = value
    with pytest.raises(InputDataError) as err:
        partition(case["communities"], b)
    assert err.value.field == "households"
    assert err.value.feature_ids == [2, 7]


def test_the_household_ceiling_is_an_option():
    case = _small_case()
    b = case["buildings"].copy()
    b.loc[3, "households"] = 7_000
    with pytest.raises(InputDataError, match="5,000"):
        partition(case["communities"], b)
    result = partition(case["communities"], b, max_households_per_building=10_000)
    assert result.grids["households"].sum() == b["households"].sum()
    with pytest.raises(ParameterError):
        partition(case["communities"], b, max_households_per_building=0)


def test_report_counts_are_never_negative():
    case = _small_case()
    result = partition(case["communities"], case["buildings"])
    assert (result.grids["households"] >= 0).all()
    for key in ("households_in", "households_in_grids", "households_outside", "buildings_outside", "buildings_cut"):
        assert 0 <= result.figures[key] < 2**53


def test_overlapping_communities_name_both_codes_and_the_area():
    case = _small_case()
    comm = case["communities"].copy()
    first = comm.geometry.iat[0]
    strip = shapely.box(X0 - 2000, Y0 - 2000, X0 + 2000, Y0 - 150).intersection(first)
    comm.loc[1, "geometry"] = comm.geometry.iat[1].union(strip)
    overlap = comm.geometry.iat[0].intersection(comm.geometry.iat[1]).area
    assert overlap > 1000
    with pytest.raises(InputDataError) as err:
        partition(comm, case["buildings"])
    text = str(err.value)
    assert comm["code"].iat[0] in text and comm["code"].iat[1] in text
    assert f"{overlap / 10_000:.2f} ha" in text
    assert sorted(err.value.feature_ids) == [0, 1]


def test_dedicated_compound_outside_every_community_is_refused():
    case = _small_case()
    ded = gpd.GeoDataFrame({"name": ["第一小学", "远处工厂"]}, crs=CRS,
                           geometry=[shapely.box(X0 - 30, Y0 - 30, X0 + 30, Y0 + 30),
                                     shapely.box(X0 + 9000, Y0, X0 + 9100, Y0 + 100)])
    with pytest.raises(InputDataError, match="outside every community") as err:
        partition(case["communities"], case["buildings"], dedicated=ded)
    assert err.value.feature_ids == [1]


def test_dedicated_compound_touching_a_community_from_outside_is_not_a_grid():
    # it shares an edge with the community and no area: before, a regular grid got its flag
    comm = gpd.GeoDataFrame({"code": ["520102001001"]}, geometry=[shapely.box(X0, Y0, X0 + 400, Y0 + 400)], crs=CRS)
    pts = np.random.default_rng(1).uniform([X0 + 5, Y0 + 5], [X0 + 395, Y0 + 395], (40, 2))
    b = gpd.GeoDataFrame({"households": np.full(len(pts), 20)}, geometry=shapely.points(pts), crs=CRS)
    ded = gpd.GeoDataFrame({"name": ["外"]}, geometry=[shapely.box(X0 + 400, Y0, X0 + 500, Y0 + 100)], crs=CRS)
    with pytest.raises(InputDataError, match="outside every community"):
        partition(comm, b, dedicated=ded)


def test_overlapping_dedicated_compounds_are_refused():
    case = _small_case()
    ded = gpd.GeoDataFrame({"name": ["a", "b"]}, crs=CRS,
                           geometry=[shapely.box(X0 - 30, Y0 - 30, X0 + 30, Y0 + 30),
                                     shapely.box(X0, Y0, X0 + 50, Y0 + 50)])
    with pytest.raises(InputDataError, match="overlap") as err:
        partition(case["communities"], case["buildings"], dedicated=ded)
    assert err.value.feature_ids == [0, 1]


def test_swapped_lat_lon_is_an_input_error_naming_the_layer():
    comm = gpd.GeoDataFrame({"code": ["520102001001"]}, geometry=[shapely.box(26.4, 106.6, 26.5, 106.7)], crs=4326)
    b = gpd.GeoDataFrame({"households": [10, 20]}, geometry=shapely.points([(26.42, 106.62), (26.45, 106.65)]),
                         crs=4326)
    with pytest.raises(InputDataError, match="latitude") as err:
        partition(comm, b)
    assert "swapped" in str(err.value)


def test_a_community_with_no_area_for_units_is_a_gridkit_error_naming_it():
    from gridkit.partition.units import generator_points, units_for_community

    sliver = shapely.box(X0, Y0, X0 + 1e-4, Y0 + 1e-4)  # 1e-8 m²: below the smallest face kept
    pts = shapely.points([(X0 + 5e-5, Y0 + 5e-5)])
    gens = generator_points(pts, np.array([sliver], dtype=object))
    with pytest.raises(GridkitError, match="520102001001"):
        units_for_community(sliver, gens, np.array([3]), np.ones(1), community="520102001001")


def test_invalid_buildings_are_repaired_as_the_reader_does():
    case = _small_case()
    b = case["buildings"].copy()
    geoms = b.geometry.to_numpy().copy()
    for i in (0, 4):  # bow-ties over the footprint, crossing other buildings' edges
        x0, y0, x1, y1 = geoms[i].bounds
        geoms[i] = shapely.Polygon([(x0 - 30, y0 - 30), (x1 + 30, y1 + 30), (x1 + 30, y0 - 30), (x0 - 30, y1 + 30)])
    b = b.set_geometry(gpd.GeoSeries(geoms, index=b.index, crs=CRS))
    assert not shapely.is_valid(geoms[0])
    result = partition(case["communities"], b)
    assert result.figures["repaired"] == {"buildings": 2}
    assert result.grids["households"].sum() + result.figures["households_outside"] == b["households"].sum()


def test_a_community_whose_repair_leaves_a_line_is_partitioned():
    # a polygon with a spike: repaired by the linework method it was a collection with a line,
    # and units.py failed with a TypeError
    spike = shapely.Polygon([(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0 + 50, Y0 + 100),
                             (X0 + 50, Y0 + 200), (X0 + 50, Y0 + 100), (X0, Y0 + 100)])
    comm = gpd.GeoDataFrame({"code": ["520102001201"]}, geometry=[spike], crs=CRS)
    b = gpd.GeoDataFrame({"households": [60, 70]}, geometry=shapely.points([(X0 + 10, Y0 + 10), (X0 + 60, Y0 + 60)]),
                         crs=CRS)
    result = partition(comm, b)
    assert result.grids["households"].tolist() == [130]
    assert result.grids.geometry.iat[0].geom_type == "Polygon"


def test_every_input_problem_is_reported_at_once(tmp_path):
    case = _small_case()
    comm = case["communities"].drop(columns="code")
    b = case["buildings"].copy()
    b["households"] = b["households"].astype(float)
    b.loc[3, "households"] = np.nan
    b.loc[5, "households"] = 1e12
    streets = gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0)], crs=CRS)
    with pytest.raises(InputDataError) as err:
        partition(comm, b, streets=streets)
    text = str(err.value)
    assert "4 problems" in text  # no code field; a missing and a huge count; points as streets
    assert "'code'" in text and "--code-field" in text
    assert "'households'" in text and "feature 3)" in text and "feature 5)" in text
    assert "streets must be LineString" in text
    assert type(err.value.problems[0]) is MissingFieldError


def test_one_problem_keeps_its_own_error_class():
    case = _small_case()
    with pytest.raises(MissingFieldError, match="--code-field"):
        partition(case["communities"].drop(columns="code"), case["buildings"])


def test_cli_names_every_problem_and_exits_3(tmp_path, capsys):
    case = _small_case()
    case["buildings"].loc[2, "households"] = 9_999
    comm = case["communities"].copy()
    comm.loc[1, "geometry"] = comm.geometry.iat[1].union(comm.geometry.iat[0].buffer(-200))
    paths = {}
    for name, layer in {"communities": comm, "buildings": case["buildings"]}.items():
        paths[name] = tmp_path / f"{name}.gpkg"
        layer.to_file(paths[name])
    out = tmp_path / "out"
    code = main(["partition", str(paths["communities"]), "--buildings", str(paths["buildings"]), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 3 and not out.exists()
    assert "communities.gpkg" in err and "buildings.gpkg" in err and "Traceback" not in err
    assert "--max-households-per-building" in err


def test_cli_swapped_lat_lon_exits_3_without_an_internal_error(tmp_path, capsys):
    comm = gpd.GeoDataFrame({"code": ["520102001001"]}, geometry=[shapely.box(26.4, 106.6, 26.5, 106.7)], crs=4490)
    b = gpd.GeoDataFrame({"households": [10, 20]}, geometry=shapely.points([(26.42, 106.62), (26.45, 106.65)]),
                         crs=4490)
    comm.to_file(tmp_path / "c.gpkg")
    b.to_file(tmp_path / "b.gpkg")
    code = main(["partition", str(tmp_path / "c.gpkg"), "--buildings", str(tmp_path / "b.gpkg"), "-o",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and "internal error" not in err and "c.gpkg" in err
    assert not (tmp_path / "out").exists()
