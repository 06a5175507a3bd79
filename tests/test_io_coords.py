"""Coordinates that cannot be what the CRS says, in every reader, and which inputs --input-coords shifts."""

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
from pyproj import Transformer

from gridkit import io
from gridkit.crs import wgs84_to_gcj02
from gridkit.errors import InputDataError, ParameterError
from gridkit.io.coords import impossible_lonlat, projected_guess

LONLAT = [(106.60, 26.50), (106.61, 26.50), (106.62, 26.51)]  # Guiyang


def boxes_in(crs: int) -> list[shapely.Polygon]:
    """Three 500 m squares at Guiyang, in ``crs`` coordinates."""
    to = Transformer.from_crs(4490, crs, always_xy=True)
    out = []
    for lon, lat in LONLAT:
        x, y = to.transform(lon, lat)
        size = 500 if crs != 4490 else 0.005
        out.append(shapely.box(x, y, x + size, y + size))
    return out


def layer(geoms: list, crs: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["520102001001", "520102001002", "520102001003"]}, geometry=geoms, crs=crs)


METRES_4547 = boxes_in(4547)  # CGCS2000 3-degree Gauss-Kruger CM 114E: metres without the zone number
METRES_4523 = boxes_in(4523)  # CGCS2000 3-degree Gauss-Kruger zone 35, with the zone number: x ~ 35.5e6


@pytest.mark.parametrize("ext, driver", [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_metres_in_a_file_that_says_cgcs2000_degrees(tmp_path: Path, ext: str, driver: str) -> None:
    path = tmp_path / f"communities{ext}"
    pyogrio.write_dataframe(layer(METRES_4523, 4523).set_crs(4490, allow_override=True), path, driver=driver)
    with pytest.raises(InputDataError) as err:
        io.read_layer(path, geometry="polygon", role="boundaries")
    text = str(err.value)
    assert err.value.path == str(path) and err.value.feature_ids == ([0, 1, 2] if ext == ".shp" else [1, 2, 3])
    assert "cannot be longitude/latitude" in text and "EPSG:4490" in text and "projected metres" in text
    assert "zone 35 (EPSG:4523)" in text and "--assume-crs EPSG:4523" in text and "Set CRS" in text


def test_assume_crs_replaces_a_geographic_crs_the_coordinates_cannot_be_in(tmp_path: Path) -> None:
    path = tmp_path / "communities.gpkg"
    pyogrio.write_dataframe(layer(METRES_4523, 4523).set_crs(4490, allow_override=True), path, driver="GPKG")
    back = io.read_layer(path, geometry="polygon", assume_crs="EPSG:4523")
    assert back.crs.to_epsg() == 4523 and back.attrs["crs_replaced"] == "EPSG:4490"
    assert shapely.equals(back.geometry.values, np.array(METRES_4523)).all()
    plausible = tmp_path / "right.gpkg"  # a declared CRS the coordinates can be in is never replaced
    pyogrio.write_dataframe(layer(boxes_in(4490), 4490), plausible, driver="GPKG")
    assert io.read_layer(plausible, assume_crs="EPSG:4523").crs.to_epsg() == 4490


@pytest.mark.parametrize("ext, driver", [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
def test_degrees_in_a_file_that_says_projected_metres(tmp_path: Path, ext: str, driver: str) -> None:
    path = tmp_path / f"communities{ext}"
    pyogrio.write_dataframe(layer(boxes_in(4490), 4490).set_crs(4547, allow_override=True), path, driver=driver)
    with pytest.raises(InputDataError) as err:
        io.read_layer(path, geometry="polygon", role="boundaries")
    text = str(err.value)
    assert err.value.path == str(path) and len(err.value.feature_ids) == 3
    assert "cannot be in EPSG:4547" in text and "longitude/latitude in degrees" in text and "EPSG:4490" in text
    back = io.read_layer(path, geometry="polygon", assume_crs="EPSG:4490")
    assert back.crs.to_epsg() == 4490 and back.attrs["crs_replaced"] == "EPSG:4547"
    # the same squares in metres are what EPSG:4547 holds: read as they are
    right = tmp_path / f"right{ext}"
    pyogrio.write_dataframe(layer(METRES_4547, 4547), right, driver=driver)
    assert io.read_layer(right, geometry="polygon").crs.to_epsg() == 4547


def test_geojson_of_projected_metres(tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    collection = json.loads(layer(METRES_4547, 4547).to_json(to_wgs84=False))
    collection.pop("crs", None)  # RFC 7946: no crs member, lon/lat by definition
    path.write_text(json.dumps(collection), encoding="utf-8")
    with pytest.raises(InputDataError) as err:
        io.read_layer(path, geometry="polygon")
    message = str(err.value)
    assert "GeoJSON coordinates are longitude/latitude by definition" in message and "--assume-crs" in message
    assert err.value.feature_ids == [0, 1, 2]
    back = io.read_layer(path, geometry="polygon", assume_crs="EPSG:4547")
    assert back.crs.to_epsg() == 4547 and back.geometry.area.round().tolist() == [250_000.0] * 3


def test_swapped_lat_lon_of_china_data_beyond_90(tmp_path: Path) -> None:
    path = tmp_path / "buildings.gpkg"
    swapped = [shapely.box(lat, lon, lat + 0.001, lon + 0.001) for lon, lat in LONLAT]
    pyogrio.write_dataframe(layer(swapped, 4490), path, layer="b", driver="GPKG")
    with pytest.raises(InputDataError) as err:
        io.read_layer(path, role="buildings")
    assert "latitude and longitude swapped" in str(err.value) and err.value.feature_ids == [1, 2, 3]
    assert "the buildings layer" in str(err.value)


def test_swapped_lat_lon_within_range_puts_china_in_the_arctic(tmp_path: Path) -> None:
    # Kashgar and Urumqi swapped: latitudes 76..88 are legal, but nobody grids the Arctic Ocean
    path = tmp_path / "west.geojson"
    points = gpd.GeoDataFrame({"n": [1, 2]}, geometry=shapely.points([(39.47, 75.99), (43.82, 87.61)]), crs=4326)
    pyogrio.write_dataframe(points, path, driver="GeoJSON")
    with pytest.raises(InputDataError, match="swapped") as err:
        io.read_layer(path)
    assert err.value.feature_ids == [0, 1]
    real = tmp_path / "arctic.geojson"  # data of the far north that swapped would not be in China is kept
    arctic = gpd.GeoDataFrame({"n": [1]}, geometry=shapely.points([(15.6, 78.2)]), crs=4326)  # Svalbard
    pyogrio.write_dataframe(arctic, real, driver="GeoJSON")
    assert len(io.read_layer(real)) == 1


def test_csv_metres_and_swapped_columns_name_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "incidents.csv"
    path.write_text("id,lon,lat\n1,106.6,26.5\n2,26.5,106.6\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="swapped") as err:
        io.read_layer(path)
    assert err.value.feature_ids == [1] and err.value.field == "lon/lat" and "row numbers" in str(err.value)
    path.write_text("id,x,y\n1,35500000,2930000\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="projected metres") as err:
        io.read_layer(path)
    assert "EPSG:4523" in str(err.value)
    assert io.read_layer(path, assume_crs="EPSG:4523").crs.to_epsg() == 4523


def test_the_cli_stops_before_any_geometry_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    comm = tmp_path / "c.gpkg"
    pyogrio.write_dataframe(layer(METRES_4523, 4523).set_crs(4490, allow_override=True), comm, driver="GPKG")
    b = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"households": [10]}, geometry=[shapely.Point(106.6, 26.5)],
                                             crs=4490), b, driver="GPKG")
    for argv in (["partition", str(comm), "--buildings", str(b), "-o", str(tmp_path / "out")],
                 ["export", str(comm), "--format", "geojson", "-o", str(tmp_path / "c.geojson")],
                 ["inspect", str(comm)]):
        assert main(["--quiet", *argv]) == 3, argv
        err = capsys.readouterr().err
        assert "c.gpkg" in err and "cannot be longitude/latitude" in err and "--assume-crs" in err
        assert "internal error" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.gpkg", "c.gpkg"]


def test_impossible_lonlat_and_guesses() -> None:
    geoms = np.array([shapely.Point(106.6, 26.5), shapely.Point(500_000, 2_900_000), None, shapely.Point()])
    from pyproj import CRS

    assert impossible_lonlat(geoms, CRS.from_epsg(4326)).tolist() == [False, True, False, False]
    assert not impossible_lonlat(geoms, CRS.from_epsg(4547)).any()
    assert "EPSG:3857" in projected_guess(11_867_000, 3_058_000)
    assert "EPSG:4534-4554" in projected_guess(500_000, 2_900_000)
    assert projected_guess(5.0, 7.0) == ""


# ----------------------------------------------------------------------------- --input-coords


def gcj_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.array([106.62]), np.array([26.47])
    glon, glat = wgs84_to_gcj02(lon, lat)
    pd.DataFrame({"lon": glon, "lat": glat}).to_csv(path, index=False)
    return lon, lat


def test_input_coords_shifts_inputs_without_a_crs_and_leaves_declared_ones(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    csv = tmp_path / "amap.csv"
    lon, lat = gcj_csv(csv)
    back = io.read_layer(csv, input_coords="gcj02")
    assert back.attrs["coords_converted"] == "gcj02"
    assert abs(back.geometry.x.iloc[0] - lon[0]) < 1e-6 and abs(back.geometry.y.iloc[0] - lat[0]) < 1e-6
    cgcs = tmp_path / "communities.gpkg"
    boundaries = layer(boxes_in(4490), 4490)
    pyogrio.write_dataframe(boundaries, cgcs, driver="GPKG")
    kept = io.read_layer(cgcs, input_coords="gcj02", role="boundaries")
    assert kept.attrs["coords_converted"] is None
    assert shapely.equals(kept.geometry.values, boundaries.geometry.values).all()  # not shifted
    assert "not applied to the boundaries layer" in caplog.text and "--input-coords gcj02:boundaries" in caplog.text


def test_input_coords_names_the_inputs_it_applies_to(tmp_path: Path) -> None:
    wgs = tmp_path / "wgs.gpkg"
    labelled = layer(boxes_in(4490), 4326)  # e.g. a GCJ-02 export labelled WGS84, as Amap tools write them
    pyogrio.write_dataframe(labelled, wgs, driver="GPKG")
    named = io.read_layer(wgs, input_coords="gcj02:buildings,wgs.gpkg", role="grids")
    assert named.attrs["coords_converted"] == "gcj02"
    assert not shapely.equals(named.geometry.values, labelled.geometry.values).any()
    by_role = io.read_layer(wgs, input_coords="gcj02:grids", role="grids")
    assert by_role.attrs["coords_converted"] == "gcj02"
    other = tmp_path / "other.csv"
    gcj_csv(other)  # a CSV not named is read as WGS84
    assert io.read_layer(other, input_coords="gcj02:wgs.gpkg").attrs["coords_converted"] is None
    with pytest.raises(ParameterError, match="names no input"):
        io.read_layer(other, input_coords="gcj02:")
    with pytest.raises(ParameterError, match="input_coords must be one of"):
        io.read_layer(other, input_coords="gcj03")


def test_partition_shifts_the_buildings_not_the_cgcs2000_boundaries(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    comm = tmp_path / "c.gpkg"
    box = shapely.box(106.600, 26.460, 106.604, 26.464)
    communities = gpd.GeoDataFrame({"code": ["520102001001"], "name": ["文昌社区"], "kind": ["city"]},
                                   geometry=[box], crs=4490)
    pyogrio.write_dataframe(communities, comm, driver="GPKG")
    rng = np.random.default_rng(3)
    lon = rng.uniform(106.6005, 106.6035, 40)
    lat = rng.uniform(26.4605, 26.4635, 40)
    glon, glat = wgs84_to_gcj02(lon, lat)
    points = tmp_path / "households.csv"
    pd.DataFrame({"lon": glon, "lat": glat, "households": 10}).to_csv(points, index=False)
    out = tmp_path / "out"
    code = main(["--quiet", "partition", str(comm), "--buildings", str(points), "--input-coords", "gcj02",
                 "--min", "100", "--max", "300", "--target", "200", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    grids = pyogrio.read_dataframe(out / "grids.gpkg", layer="grids")
    assert grids["households"].sum() == 400  # every shifted point lies inside the unshifted boundary
    assert grids.union_all().symmetric_difference(box).area < 1e-8  # the boundary as given (shifted: ~2e-5)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "inputs declaring a CRS were read as declared" in report["reproduce"]["parameters"][
        "input_coords_applied_to"]
    assert "input_coords_applied_to" in (out / "report.md").read_text(encoding="utf-8")
    assert "not applied to the boundaries layer" in caplog.text


def test_a_geojson_restating_wgs84_counts_as_without_a_crs(tmp_path: Path) -> None:
    lon, lat = np.array([106.62]), np.array([26.47])
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = tmp_path / "amap.geojson"
    pyogrio.write_dataframe(gpd.GeoDataFrame(geometry=shapely.points(np.c_[glon, glat]), crs=4326), path,
                            driver="GeoJSON")
    assert '"crs"' in path.read_text(encoding="utf-8")  # GDAL restates CRS84
    back = io.read_layer(path, input_coords="gcj02")
    assert back.attrs["coords_converted"] == "gcj02" and abs(back.geometry.x.iloc[0] - lon[0]) < 1e-6
    legacy = tmp_path / "mercator.geojson"  # a legacy crs member naming a projected CRS is a CRS of its own
    pyogrio.write_dataframe(gpd.GeoDataFrame(geometry=[shapely.Point(11_867_000, 3_058_000)], crs=3857), legacy,
                            driver="GeoJSON")
    kept = io.read_layer(legacy, input_coords="gcj02")
    assert kept.crs.to_epsg() == 3857 and kept.attrs["coords_converted"] is None
