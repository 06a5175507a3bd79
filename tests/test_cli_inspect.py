"""`gridkit inspect`: what it prints for good files, and exit code 3 for bad data."""

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from gridkit_cli.main import main

NAMES = ["朝阳社区", "海淀村"]


def layer(n=2, crs=4326):
    boxes = [shapely.box(116 + i * 0.01, 39.9, 116.005 + i * 0.01, 39.905) for i in range(n)]
    return gpd.GeoDataFrame(
        {"名称": NAMES[:n], "households": np.arange(n) * 10 + 5, "area": np.arange(n) / 2},
        geometry=boxes, crs=crs,
    )


def inspect(capsys, *args):
    code = main(["inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_geopackage_layers_rows_crs_types_and_fields(tmp_path, capsys):
    path = tmp_path / "county.gpkg"
    pyogrio.write_dataframe(layer(2), path, layer="communities")
    points = gpd.GeoDataFrame({"kind": ["lamp"]}, geometry=[shapely.Point(116, 39.9)], crs=4490)
    pyogrio.write_dataframe(points, path, layer="components")
    code, out, err = inspect(capsys, path)
    assert code == 0, err
    assert "2 layers: communities, components" in out
    assert "layer communities" in out and "layer components" in out
    assert "rows      2 (feature ids 1 to 2)" in out
    assert "EPSG:4326 (WGS 84)" in out and "EPSG:4490" in out
    assert "geometry  Polygon 2" in out and "geometry  Point 1" in out
    assert "名称" in out and "text" in out
    assert "households  integer" in out and "real" in out
    assert "repaired  0 invalid geometries" in out


def test_one_layer_chosen_with_layer(tmp_path, capsys):
    path = tmp_path / "county.gpkg"
    pyogrio.write_dataframe(layer(2), path, layer="a")
    pyogrio.write_dataframe(layer(1), path, layer="b")
    code, out, _ = inspect(capsys, path, "--layer", "b")
    assert code == 0
    assert "layer b" in out and "layer a" not in out and "rows      1" in out


def test_gbk_shapefile_shows_detected_encoding_and_chinese_field(tmp_path, capsys):
    path = tmp_path / "村.shp"
    pyogrio.write_dataframe(layer(2), path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    code, out, err = inspect(capsys, path)
    assert code == 0, err
    assert "encoding  GBK (detected)" in out
    assert "名称" in out and "Shapefile, 1 layer" in out


def test_repairs_are_counted(tmp_path, capsys):
    path = tmp_path / "r.geojson"
    bad = layer(2)
    bad.loc[1, "geometry"] = shapely.from_wkt("POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))")
    pyogrio.write_dataframe(bad, path, driver="GeoJSON")
    code, out, err = inspect(capsys, path)
    assert code == 0, err
    assert "repaired  1 invalid geometry" in out
    assert "MultiPolygon 1" in out


def test_assume_crs_fills_a_missing_crs(tmp_path, capsys):
    path = tmp_path / "a.shp"
    pyogrio.write_dataframe(layer(1), path)
    path.with_suffix(".prj").unlink()
    code, out, _ = inspect(capsys, path, "--assume-crs", "EPSG:4490")
    assert code == 0
    assert "EPSG:4490" in out and "assumed" in out


def test_csv_in_gcj02_is_converted(tmp_path, capsys):
    path = tmp_path / "amap.csv"
    path.write_text("name,lng,lat\na,116.4039,39.9151\n", encoding="utf-8")
    code, out, err = inspect(capsys, path, "--input-coords", "gcj02")
    assert code == 0, err
    assert "converted from GCJ02 to WGS84" in out and "Point 1" in out


def _no_crs(tmp_path):
    path = tmp_path / "noprj.shp"
    pyogrio.write_dataframe(layer(1), path)
    path.with_suffix(".prj").unlink()
    return path, ["noprj.shp", "--assume-crs"]


def _null_geometry(tmp_path):
    path = tmp_path / "holes.gpkg"
    gdf = layer(2)
    gdf.loc[1, "geometry"] = None
    pyogrio.write_dataframe(gdf, path, layer="b")
    return path, ["holes.gpkg", "feature 2", "field 'geometry'"]


def _bad_csv(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("name,lon,lat\na,116,39.9\nb,north,39.9\nc,116,95\n")
    return path, ["pts.csv", "feature 1", "field 'lon/lat'"]


def _corrupt(tmp_path):
    path = tmp_path / "junk.gpkg"
    path.write_bytes(b"\x00\x01 not sqlite" * 20)
    return path, ["junk.gpkg", "cannot be read"]


def _missing(tmp_path):
    return tmp_path / "gone.shp", ["gone.shp", "does not exist"]


def _unknown_extension(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"x")
    return path, ["table.xlsx", ".gpkg"]


def _unknown_layer(tmp_path):
    path = tmp_path / "one.gpkg"
    pyogrio.write_dataframe(layer(1), path, layer="grids")
    return path, ["one.gpkg", "no layer 'nope'", "grids"]


def _empty(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    return path, ["empty.geojson", "no features"]


@pytest.mark.parametrize(
    "make",
    [_no_crs, _null_geometry, _bad_csv, _corrupt, _missing, _unknown_extension, _unknown_layer, _empty],
)
def test_bad_data_exits_3_with_a_message_and_no_traceback(tmp_path, capsys, make):
    path, expected = make(tmp_path)
    extra = ["--layer", "nope"] if make is _unknown_layer else []
    code, out, err = inspect(capsys, path, *extra)
    assert code == 3
    assert "Traceback" not in err and "Traceback" not in out
    assert err.startswith("gridkit: error: ")
    for text in expected:
        assert text in err


def test_one_bad_layer_among_good_ones(tmp_path, capsys):
    path = tmp_path / "county.gpkg"
    pyogrio.write_dataframe(layer(2), path, layer="good")
    bad = layer(2)
    bad.loc[0, "geometry"] = None
    pyogrio.write_dataframe(bad, path, layer="bad")
    code, out, err = inspect(capsys, path)
    assert code == 3
    assert "layer good" in out and "rows      2" in out
    assert "layer bad: cannot be used" in out
    assert "county.gpkg" in err and "feature 1" in err and "Traceback" not in err


def test_input_coords_on_projected_data_is_a_usage_error_when_named(tmp_path, capsys):
    path = tmp_path / "m.gpkg"
    pyogrio.write_dataframe(layer(1, crs=3857), path, layer="m")
    code, _, err = inspect(capsys, path, "--input-coords", "bd09:m.gpkg")
    assert code == 2
    assert "m.gpkg" in err and "EPSG:3857" in err


def test_input_coords_leaves_a_file_that_declares_its_crs_alone(tmp_path, capsys):
    path = tmp_path / "cgcs.gpkg"
    pyogrio.write_dataframe(layer(1, crs=4490), path, layer="c")
    code, out, err = inspect(capsys, path, "--input-coords", "gcj02")
    assert code == 0, err
    assert "not converted from GCJ02" in out and "converted from GCJ02 to WGS84" not in out
