"""Reading every input format with its checks, and atomic writing (gridkit.io)."""

import logging
import sys
import tempfile
import types
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit import io
from gridkit.errors import (
    EmptyLayerError,
    GeometryTypeError,
    InputDataError,
    InputFileError,
    MissingCRSError,
    MissingFieldError,
    OutputError,
    ParameterError,
)

NAMES = ["朝阳社区", "海淀村", "西湖街道"]
BOWTIE = "POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))"
# two squares overlapping on [1, 2] x [1, 2]: invalid as a MultiPolygon
OVERLAP = "MULTIPOLYGON (((0 0, 2 0, 2 2, 0 2, 0 0)), ((1 1, 3 1, 3 3, 1 3, 1 1)))"


def polygons(n=3, crs=4326, names=NAMES):
    boxes = [shapely.box(116 + i * 0.01, 39.9, 116.005 + i * 0.01, 39.905) for i in range(n)]
    data = {"name": names[:n], "households": np.arange(n) * 100 + 50}
    return gpd.GeoDataFrame(data, geometry=boxes, crs=crs)


def write_gpkg(path, layers):
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG")
    return path


# ----------------------------------------------------------------------------- formats


def test_geopackage_index_is_fid_and_attrs_are_set(tmp_path):
    path = tmp_path / "b.gpkg"
    gdf = polygons()
    pyogrio.write_dataframe(gdf.set_axis(pd.Index([7, 8, 12], name="fid")).reset_index(), path, layer="b")
    back = io.read_layer(path, geometry="polygon", required_fields=["name", "households"], role="buildings")
    assert back.index.tolist() == [7, 8, 12]
    assert back["name"].tolist() == NAMES
    assert back.crs.to_epsg() == 4326
    assert back.attrs["source"] == str(path) and back.attrs["repaired"] == 0


def test_geopackage_with_several_layers_needs_a_layer(tmp_path):
    path = write_gpkg(tmp_path / "two.gpkg", {"communities": polygons(), "roads": polygons(2)})
    with pytest.raises(InputDataError) as exc:
        io.read_layer(path)
    text = str(exc.value)
    assert "two.gpkg" in text and "communities" in text and "roads" in text and "--layer" in text
    assert len(io.read_layer(path, layer="roads")) == 2


def test_geopackage_unknown_layer_lists_the_layers(tmp_path):
    path = write_gpkg(tmp_path / "two.gpkg", {"communities": polygons(), "roads": polygons(2)})
    with pytest.raises(InputDataError, match=r"no layer 'Roads'.*communities.*roads"):
        io.read_layer(path, layer="Roads")


def test_geopackage_table_without_geometry_is_refused(tmp_path):
    path = tmp_path / "t.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1, 2]}), path, layer="table", driver="GPKG")
    with pytest.raises(GeometryTypeError, match="no geometry"):
        io.read_layer(path)


def test_shapefile_geojson_and_parquet_read_with_row_numbers(tmp_path):
    gdf = polygons()
    pyogrio.write_dataframe(gdf, tmp_path / "a.shp", encoding="UTF-8")
    pyogrio.write_dataframe(gdf, tmp_path / "a.geojson", driver="GeoJSON")
    gdf.to_parquet(tmp_path / "a.parquet")
    for name in ("a.shp", "a.geojson", "a.parquet"):
        back = io.read_layer(tmp_path / name, geometry="polygon")
        assert back.index.tolist() == [0, 1, 2], name
        assert back["name"].tolist() == NAMES, name
        assert back["households"].tolist() == [50, 150, 250], name
        assert back.crs.to_epsg() == 4326, name
        normalized = shapely.normalize(back.geometry.values), shapely.normalize(gdf.geometry.values)
        same = shapely.equals_exact(*normalized, tolerance=1e-9)
        assert same.all(), name


def test_plain_parquet_without_geometry_is_unreadable(tmp_path):
    path = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(InputFileError, match=r"plain\.parquet.*GeoParquet"):
        io.read_layer(path)


@pytest.mark.parametrize("codec", ["GBK", "UTF-8"])
def test_shapefile_without_cpg_keeps_chinese_text(tmp_path, codec):
    path = tmp_path / "村.shp"
    gdf = polygons().rename(columns={"name": "名称"})
    pyogrio.write_dataframe(gdf, path, encoding=codec)
    path.with_suffix(".cpg").unlink()
    back = io.read_layer(path, required_fields=["名称"])
    assert back["名称"].tolist() == NAMES
    assert back.attrs["encoding"] == codec and back.attrs["encoding_from"] == "detected"


@pytest.mark.parametrize("declared", ["GBK", "936", "ANSI 936", "CP936"])
def test_shapefile_cpg_is_honoured(tmp_path, declared):
    path = tmp_path / "a.shp"
    pyogrio.write_dataframe(polygons(), path, encoding="GBK")
    path.with_suffix(".cpg").write_text(declared)
    back = io.read_layer(path)
    assert back["name"].tolist() == NAMES
    assert back.attrs["encoding_from"] == ".cpg"


def test_shapefile_cpg_that_lies_is_a_data_error(tmp_path):
    path = tmp_path / "a.shp"
    pyogrio.write_dataframe(polygons(), path, encoding="GBK")
    path.with_suffix(".cpg").write_text("UTF-8")
    with pytest.raises(InputDataError, match=r"a\.shp.*UTF-8.*\.cpg"):
        io.read_layer(path)


def test_csv_lonlat_with_chinese_headers_in_gbk(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes("名称,经度,纬度\n路灯,116.3975,39.9087\n井盖,116.40,39.91\n".encode("gbk"))
    back = io.read_layer(path, geometry="point")
    assert back.crs.to_epsg() == 4326
    assert back["名称"].tolist() == ["路灯", "井盖"]
    assert shapely.get_coordinates(back.geometry.values).tolist() == [[116.3975, 39.9087], [116.40, 39.91]]
    assert back.attrs["encoding"] == "GB18030"


def test_kml_from_google_earth_reads_as_2d_lonlat_with_chinese_names(tmp_path):
    path = tmp_path / "片区.kml"
    path.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>片区</name>
<Placemark><name>文昌社区第1网格</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
106.60,26.46,0 106.61,26.46,0 106.61,26.47,0 106.60,26.47,0 106.60,26.46,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><name>文昌社区第2网格</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
106.61,26.46,12 106.62,26.46,12 106.62,26.47,12 106.61,26.47,12 106.61,26.46,12
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Document></kml>""", encoding="utf-8")
    back = io.read_layer(path, geometry="polygon")
    assert back.crs.to_epsg() == 4326
    assert back["Name"].tolist() == ["文昌社区第1网格", "文昌社区第2网格"]
    assert not back.geometry.has_z.any()
    assert back.geometry.iloc[1].equals(shapely.box(106.61, 26.46, 106.62, 26.47))
    assert io.list_layers(path) == ["片区"]


def test_csv_codes_stay_text_and_numbers_become_numbers(tmp_path):
    path = tmp_path / "incidents.csv"
    path.write_text(
        "category,code,component_id,households,score,lon,lat\n"
        "0101,520199001001,3205080101000001,12,1.5,106.6,26.4\n"
        "1302,520199001002,3205080118000002,,2,106.7,26.5\n"
    )
    back = io.read_layer(path)
    assert back["category"].tolist() == ["0101", "1302"]
    assert back["code"].tolist() == ["520199001001", "520199001002"]
    assert back["component_id"].tolist() == ["3205080101000001", "3205080118000002"]
    assert pd.api.types.is_numeric_dtype(back["households"]) and back["households"].iloc[0] == 12
    assert np.isnan(back["households"].iloc[1])
    assert back["score"].tolist() == [1.5, 2.0]
    named = io.read_layer(path, text_fields=["Households"])  # a field the caller knows is a code
    assert named["households"].tolist()[0] == "12" and named["score"].tolist() == [1.5, 2.0]


@pytest.mark.parametrize("lon, lat", [("LNG", "Lat"), ("Longitude", "LATITUDE"), ("x", "y"), ("long", "lat")])
def test_csv_finds_lonlat_columns_by_common_names(tmp_path, lon, lat):
    path = tmp_path / "p.csv"
    path.write_text(f"id,{lon},{lat}\n1,120.1,30.2\n", encoding="utf-8-sig")
    back = io.read_layer(path)
    assert (back.geometry.x.iloc[0], back.geometry.y.iloc[0]) == (120.1, 30.2)


def test_csv_wkt_column_and_assumed_projected_crs(tmp_path):
    path = tmp_path / "w.csv"
    triangle = "POLYGON ((500000 3000000, 500100 3000000, 500100 3000100, 500000 3000000))"
    path.write_text(f'name,WKT\na,"{triangle}"\n')
    back = io.read_layer(path, geometry="polygon", assume_crs="EPSG:4547")
    assert back.crs.to_epsg() == 4547
    assert list(back.columns) == ["name", "geometry"]
    assert back.geometry.area.iloc[0] == pytest.approx(5000)


def test_csv_projected_coordinates_without_crs_are_flagged(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text('name,wkt\na,POINT (10 20)\nb,"POINT (500000 3000000)"\n')
    with pytest.raises(InputDataError) as exc:
        io.read_layer(path)
    assert "w.csv" in str(exc.value) and "feature 1" in str(exc.value) and "'wkt'" in str(exc.value)
    assert "--assume-crs" in str(exc.value)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-180, 180, allow_nan=False), st.floats(-90, 90, allow_nan=False)),
        min_size=1, max_size=20,
    ).filter(lambda pts: not all(26 <= x <= 49.2 and y >= 73.4 for x, y in pts))  # swapped western China
)
def test_csv_lonlat_round_trip(points):
    frame = pd.DataFrame(points, columns=["lon", "lat"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pts.csv"
        frame.to_csv(path, index=False)
        back = io.read_layer(path, geometry="point")
    assert back.index.tolist() == list(range(len(points)))
    assert shapely.get_coordinates(back.geometry.values).tolist() == [list(p) for p in points]


OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="39.900" lon="116.400" version="1"/>
  <node id="2" lat="39.900" lon="116.402" version="1"/>
  <node id="3" lat="39.902" lon="116.402" version="1"/>
  <node id="4" lat="39.9005" lon="116.4005" version="1"/>
  <node id="5" lat="39.9005" lon="116.4010" version="1"/>
  <node id="6" lat="39.9010" lon="116.4010" version="1"/>
  <node id="7" lat="39.9010" lon="116.4005" version="1"/>
  <node id="8" lat="39.9015" lon="116.4015" version="1">
    <tag k="highway" v="street_lamp"/>
  </node>
  <way id="10" version="1">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="长安街"/>
  </way>
  <way id="20" version="1">
    <nd ref="4"/><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="4"/>
    <tag k="building" v="apartments"/>
  </way>
</osm>
"""


@pytest.mark.parametrize(
    "options, geom_type",
    [({"geometry": "line"}, "LineString"), ({"geometry": "polygon"}, "Polygon"),
     ({"geometry": "point"}, "Point"), ({"osm_kind": "buildings"}, "Polygon"),
     ({"layer": "streets"}, "LineString")],
)
def test_osm_xml_dispatch_on_a_real_file(tmp_path, options, geom_type):
    path = tmp_path / "tiny.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    back = io.read_layer(path, **options)
    assert len(back) == 1
    assert back.geom_type.tolist() == [geom_type]
    assert back.crs.to_epsg() == 4326


def test_osm_dispatch_calls_the_reader_for_the_kind(tmp_path, monkeypatch):
    calls = []

    def reader(kind, geom):
        def read(path):
            calls.append((kind, Path(path)))
            return gpd.GeoDataFrame({"kind": [kind]}, geometry=[geom], crs=4326)
        return read

    fake = types.ModuleType("gridkit.osm.features")
    fake.streets_from_osm = reader("streets", shapely.LineString([(0, 0), (1, 1)]))
    fake.buildings_from_osm = reader("buildings", shapely.box(0, 0, 1, 1))
    fake.components_from_osm = reader("components", shapely.Point(0, 0))
    monkeypatch.setitem(sys.modules, "gridkit.osm.features", fake)
    path = tmp_path / "x.osm.bz2"
    path.write_bytes(b"")
    assert io.read_layer(path, geometry="line")["kind"].tolist() == ["streets"]
    assert io.read_layer(path, geometry="polygon")["kind"].tolist() == ["buildings"]
    assert io.read_layer(path, geometry="point")["kind"].tolist() == ["components"]
    assert io.read_layer(path, osm_kind="components")["kind"].tolist() == ["components"]
    assert [c[0] for c in calls] == ["streets", "buildings", "components", "components"]
    assert all(c[1] == path for c in calls)
    with pytest.raises(GeometryTypeError):
        io.read_layer(path, osm_kind="streets", geometry="polygon")
    with pytest.raises(ParameterError, match="streets, buildings, components"):
        io.read_layer(path)


# ----------------------------------------------------------------------------- checks


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match=r"nothere\.gpkg: the file does not exist"):
        io.read_layer(tmp_path / "nothere.gpkg")


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"this is not a geopackage at all" * 10)
    with pytest.raises(InputFileError, match=r"broken\.gpkg: cannot be read as GeoPackage"):
        io.read_layer(path)


def test_shapefile_without_its_shx_names_the_sidecars(tmp_path):
    path = tmp_path / "a.shp"
    pyogrio.write_dataframe(polygons(), path)
    path.with_suffix(".shx").unlink()
    with pytest.raises(InputFileError, match=r"a\.shp.*\.shx"):
        io.read_layer(path)


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(InputDataError) as exc:
        io.read_layer(path)
    assert "data.xlsx" in str(exc.value) and ".gpkg" in str(exc.value) and ".csv" in str(exc.value)


def test_empty_layer(tmp_path):
    path = tmp_path / "e.gpkg"
    pyogrio.write_dataframe(polygons().iloc[:0], path, layer="buildings")
    with pytest.raises(EmptyLayerError, match=r"e\.gpkg: the buildings layer has no features"):
        io.read_layer(path, role="buildings")


def test_missing_crs_hints_assume_crs_and_assume_crs_fixes_it(tmp_path):
    path = tmp_path / "a.shp"
    pyogrio.write_dataframe(polygons(), path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(MissingCRSError) as exc:
        io.read_layer(path)
    assert "a.shp" in str(exc.value) and "--assume-crs" in str(exc.value)
    back = io.read_layer(path, assume_crs="EPSG:4490")
    assert back.crs.to_epsg() == 4490 and back.attrs["crs_assumed"] is True


def test_assume_crs_never_overrides_a_declared_crs(tmp_path):
    path = write_gpkg(tmp_path / "a.gpkg", {"a": polygons()})
    assert io.read_layer(path, assume_crs="EPSG:4547").crs.to_epsg() == 4326


def test_bad_assume_crs_is_a_parameter_error(tmp_path):
    path = write_gpkg(tmp_path / "a.gpkg", {"a": polygons()})
    with pytest.raises(ParameterError, match="EPSG:99999999"):
        io.read_layer(path, assume_crs="EPSG:99999999")


def test_null_and_empty_geometries_are_listed_by_fid(tmp_path):
    gdf = polygons(3)
    gdf.loc[1, "geometry"] = None
    gdf.loc[2, "geometry"] = shapely.Polygon()
    path = write_gpkg(tmp_path / "b.gpkg", {"b": gdf})
    with pytest.raises(InputDataError) as exc:
        io.read_layer(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: the layer has features without a geometry")
    assert "features 2, 3" in text and "field 'geometry'" in text


def test_invalid_polygons_are_repaired_keeping_area(tmp_path, caplog):
    spike = "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0, -1 -1, 0 0))"
    valid = "POLYGON ((5 5, 6 5, 6 6, 5 5))"
    geoms = shapely.from_wkt([BOWTIE, OVERLAP, spike, valid])
    gdf = gpd.GeoDataFrame({"n": [1, 2, 3, 4]}, geometry=geoms, crs=3857)
    path = write_gpkg(tmp_path / "r.gpkg", {"r": gdf})
    with caplog.at_level(logging.WARNING, logger="gridkit.io"):
        back = io.read_layer(path, geometry="polygon")
    assert back.attrs["repaired"] == 3
    assert back.is_valid.all()
    assert back.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert back.geometry.area.tolist() == pytest.approx([2.0, 7.0, 1.0, 0.5])
    assert back.index.tolist() == [1, 2, 3, 4]
    assert "repaired 3 invalid geometries" in caplog.text and "features 1, 2, 3" in caplog.text


def test_invalid_geometry_collapsing_on_repair_is_an_error(tmp_path):
    flat = "POLYGON ((0 0, 1 1, 2 2, 0 0))"
    geoms = shapely.from_wkt(["POLYGON ((0 0, 1 0, 1 1, 0 0))", flat])
    gdf = gpd.GeoDataFrame({"n": [1, 2]}, geometry=geoms, crs=3857)
    path = write_gpkg(tmp_path / "c.gpkg", {"c": gdf})
    with pytest.raises(InputDataError, match=r"c\.gpkg.*collapse.*feature 2\)"):
        io.read_layer(path, geometry="polygon")


def test_keep_dimension_cleans_collections():
    mixed = shapely.from_wkt([
        "GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 0)), LINESTRING (0 0, 5 5), POINT (3 3))",
        "GEOMETRYCOLLECTION (MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5))), POINT (1 1))",
        "GEOMETRYCOLLECTION (LINESTRING (0 0, 5 5), POINT (3 3))",
        "LINESTRING (0 0, 1 1)",
    ])
    out = io.keep_dimension(mixed, np.array([2, 2, 0, 2]))
    assert [g.geom_type if g is not None else None for g in out] == ["Polygon", "MultiPolygon", "Point", None]
    assert out[1].area == pytest.approx(1.0)


def test_wrong_geometry_type_lists_ids(tmp_path):
    gdf = polygons(3)
    gdf.loc[2, "geometry"] = shapely.Point(116, 39.9)
    pyogrio.write_dataframe(gdf, tmp_path / "mixed.geojson", driver="GeoJSON")
    with pytest.raises(GeometryTypeError) as exc:
        io.read_layer(tmp_path / "mixed.geojson", geometry="polygon", role="boundaries")
    text = str(exc.value)
    assert "mixed.geojson" in text and "boundaries" in text and "1 Point" in text
    assert "feature 2" in text and "field 'geometry'" in text


def test_missing_required_field_lists_existing_fields(tmp_path):
    path = write_gpkg(tmp_path / "b.gpkg", {"b": polygons()})
    with pytest.raises(MissingFieldError) as exc:
        io.read_layer(path, required_fields=["households", "Name", "code"])
    text = str(exc.value)
    assert "b.gpkg" in text and "field 'Name, code'" in text
    assert "its fields are: name, households" in text and "'name' for 'Name'" in text


@pytest.mark.parametrize(
    "rows, ids, field",
    [("a,116.4,39.9\nb,abc,39.9\nc,,39.9\n", "features 1, 2", "lon/lat"),
     ("a,116.4,39.9\nb,39.9,116.4\n", "feature 1)", "lon/lat"),
     ("a,200,39.9\n", "feature 0)", "lon/lat")],
)
def test_csv_bad_coordinates_name_rows_and_field(tmp_path, rows, ids, field):
    path = tmp_path / "pts.csv"
    path.write_text("name,lon,lat\n" + rows)
    with pytest.raises(InputDataError) as exc:
        io.read_layer(path)
    text = str(exc.value)
    assert "pts.csv" in text and ids in text and f"field '{field}'" in text


def test_csv_unreadable_wkt_is_listed(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text('n,geometry\n1,POINT (1 2)\n2,POINT (1\n3,\n')
    with pytest.raises(InputDataError) as exc:
        io.read_layer(path)
    assert "w.csv: the WKT text cannot be read" in str(exc.value) and "feature 1)" in str(exc.value)


def test_csv_without_coordinates_lists_its_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("name,households\na,3\n")
    with pytest.raises(MissingFieldError, match=r"t\.csv.*columns are: name, households"):
        io.read_layer(path)


def test_input_coords_named_needs_lonlat_data(tmp_path):
    path = write_gpkg(tmp_path / "p.gpkg", {"p": polygons(crs=3857)})
    with pytest.raises(ParameterError, match=r"p\.gpkg.*EPSG:3857"):
        io.read_layer(path, input_coords="gcj02:p.gpkg")


def test_input_coords_are_handed_to_convert_coords(tmp_path, monkeypatch):
    seen = {}

    def convert_coords(gdf, *, source, target):
        seen.update(source=source, target=target, n=len(gdf))
        return gdf.set_geometry(gdf.geometry.translate(1, 0))

    monkeypatch.setitem(sys.modules, "gridkit.crs", types.SimpleNamespace(convert_coords=convert_coords))
    path = tmp_path / "p.csv"
    path.write_text("lon,lat\n116.4,39.9\n")
    back = io.read_layer(path, input_coords="bd09")
    assert seen == {"source": "bd09", "target": "wgs84", "n": 1}
    assert back.geometry.x.iloc[0] == pytest.approx(117.4)
    assert back.attrs["source"] == str(path)


def test_gcj02_points_come_back_in_wgs84(tmp_path):
    from gridkit.crs import wgs84_to_gcj02

    lon, lat = np.array([116.3975, 121.47]), np.array([39.9087, 31.23])
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = tmp_path / "amap.csv"
    pd.DataFrame({"lng": glon, "lat": glat}).to_csv(path, index=False)
    back = io.read_layer(path, input_coords="gcj02")
    xy = shapely.get_coordinates(back.geometry.values)
    assert np.abs(xy - np.column_stack([lon, lat])).max() < 1e-5
    assert np.abs(glon - lon).min() > 1e-3


# ----------------------------------------------------------------------------- writing


def test_multi_layer_geopackage_round_trip(tmp_path):
    path = tmp_path / "out" / "grids.gpkg"
    grids = polygons().set_axis([5, 6, 9])  # e.g. rows kept by a filter: the index is the fid
    xy = gpd.points_from_xy([116, 117], [39, 40])
    points = gpd.GeoDataFrame({"类别": ["路灯", "井盖"]}, geometry=xy, crs=4490)
    assert io.write_layers(path, {"grids": grids, "components": points}) == path
    assert io.list_layers(path) == ["grids", "components"]
    back = io.read_layer(path, layer="grids")
    assert back.index.tolist() == [5, 6, 9]
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                  pd.DataFrame(grids.drop(columns="geometry")).rename_axis("fid"))
    assert shapely.equals(back.geometry.values, grids.geometry.values).all()
    pts = io.read_layer(path, layer="components")
    assert pts["类别"].tolist() == ["路灯", "井盖"] and pts.crs.to_epsg() == 4490
    assert sorted(p.name for p in path.parent.iterdir()) == ["grids.gpkg"]


def test_named_index_is_written_as_a_field(tmp_path):
    gdf = polygons().set_index("name")
    io.write_layers(tmp_path / "g.gpkg", {"g": gdf})
    assert io.read_layer(tmp_path / "g.gpkg")["name"].tolist() == NAMES


@pytest.mark.parametrize("encoding, cpg", [(None, "UTF-8"), ("GBK", "GBK")])
def test_shapefile_written_with_cpg_and_chinese_text(tmp_path, encoding, cpg):
    path = tmp_path / "grids.shp"
    path.with_suffix(".qix").write_bytes(b"stale index")
    io.write_layers(path, {"grids": polygons()}, encoding=encoding)
    assert path.with_suffix(".cpg").read_text().strip() == cpg
    assert not path.with_suffix(".qix").exists()
    assert io.read_layer(path)["name"].tolist() == NAMES
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("name", ["a.geojson", "a.parquet"])
def test_single_layer_formats_written(tmp_path, name):
    io.write_layers(tmp_path / name, {"a": polygons()})
    assert io.read_layer(tmp_path / name)["name"].tolist() == NAMES
    with pytest.raises(ParameterError, match="one layer"):
        io.write_layers(tmp_path / name, {"a": polygons(), "b": polygons()})


def test_writer_refuses_unknown_format_and_missing_crs(tmp_path):
    with pytest.raises(ParameterError, match=r"\.kml"):
        io.write_layers(tmp_path / "a.kml", {"a": polygons()})
    with pytest.raises(ParameterError, match="no CRS"):
        io.write_layers(tmp_path / "a.gpkg", {"a": polygons().set_crs(None, allow_override=True)})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "grids.gpkg"
    bad = polygons().assign(z=[1j, 2j, 3j])
    with pytest.raises(NotImplementedError, match="complex"):
        io.write_layers(path, {"grids": polygons(), "bad": bad})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "grids.gpkg"
    io.write_layers(path, {"grids": polygons(1)})
    before = path.read_bytes()
    real = pyogrio.write_dataframe

    def write_then_fail(df, target, **kwargs):
        real(df, target, **kwargs)
        assert Path(target).exists()
        raise OSError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        io.write_layers(path, {"grids": polygons(3)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["grids.gpkg"]


def test_write_text_is_atomic(tmp_path):
    path = tmp_path / "report.md"
    io.write_text(path, "# 报告\n")
    assert path.read_text(encoding="utf-8") == "# 报告\n"
    with pytest.raises(UnicodeEncodeError):
        io.write_text(path, "# 新报告\n", encoding="ascii")
    assert path.read_text(encoding="utf-8") == "# 报告\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_atomic_dir_moves_files_in_on_success(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    (out / "report.md").write_text("old")
    with io.atomic_dir(out) as tmp:  # an existing folder is staged in itself: its parent may be read-only
        assert tmp.parent == out and tmp.name.startswith(".gridkit-tmp-")
        (tmp / "report.md").write_text("new")
        (tmp / "maps").mkdir()
        (tmp / "maps" / "a.html").write_text("<html>")
    assert (out / "report.md").read_text() == "new"
    assert (out / "keep.txt").read_text() == "old"
    assert (out / "maps" / "a.html").read_text() == "<html>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"), io.atomic_dir(out) as tmp:
        io.write_layers(tmp / "grids.gpkg", {"grids": polygons()})
        io.write_text(tmp / "report.md", "half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_refuses_a_file_as_outdir(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(OutputError, match="is a file"), io.atomic_dir(tmp_path / "run"):
        pass
