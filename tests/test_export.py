"""gridkit.export.layers: GeoPackage, Shapefile, GeoJSON, GeoParquet, KML and CSV, round trips on real files."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from gridkit_cli.main import main
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit import datasets
from gridkit.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridkit.errors import GeometryTypeError, InputDataError, ParameterError
from gridkit.export.field_names import names_in_file
from gridkit.export.layers import export_layer, export_layers, field_table, read_exported, target_crs
from gridkit.io import read_layer

SAMPLE = datasets.get_path("sample_county")
TEXT_FORMATS = ("shp", "kml", "csv")  # empty text comes back missing in these

# (format, extension, options) for every way of writing a file
WAYS = {
    "gpkg": ("gpkg", ".gpkg", {}),
    "shp-utf8": ("shp", ".shp", {"encoding": "utf-8"}),
    "shp-gbk": ("shp", ".shp", {"encoding": "gbk"}),
    "geojson": ("geojson", ".geojson", {}),
    "parquet": ("parquet", ".parquet", {}),
    "kml": ("kml", ".kml", {}),
    "csv": ("csv", ".csv", {}),
    "csv-excel": ("csv", ".csv", {"excel": True}),
    "csv-gbk": ("csv", ".csv", {"encoding": "gbk"}),
}


@pytest.fixture(scope="module")
def grids_file(tmp_path_factory):
    """grids.gpkg made by `gridkit partition` on the bundled sample county."""
    out = tmp_path_factory.mktemp("partition")
    code = main(["--quiet", "partition", str(SAMPLE / "communities.gpkg"),
                 "--buildings", str(SAMPLE / "buildings.gpkg"), "--streets", str(SAMPLE / "streets.gpkg"),
                 "--dedicated", str(SAMPLE / "dedicated.gpkg"), "-o", str(out)])
    assert code == 0
    return out / "grids.gpkg"


@pytest.fixture(scope="module")
def grids(grids_file):
    return read_layer(grids_file, layer="grids")


@pytest.fixture(scope="module")
def components():
    return read_layer(SAMPLE / "components.gpkg")


def text_or_none(values, *, empty_is_missing):
    """Values for comparing, missing as None (and empty text too where the format cannot tell)."""
    out = []
    for v in values:
        if v is None or (not isinstance(v, str) and pd.isna(v)) or empty_is_missing and v == "":
            v = None
        elif isinstance(v, np.generic):
            v = v.item()
        out.append(v)
    return out


def assert_same_attributes(original, back, fmt):
    fields = [c for c in original.columns if c != original.geometry.name]
    assert [c for c in back.columns if c != back.geometry.name] == fields
    for name in fields:
        a = original[name].reset_index(drop=True)
        b = back[name].reset_index(drop=True)
        if pd.api.types.is_float_dtype(a.dtype):
            np.testing.assert_allclose(b.to_numpy(dtype=float), a.to_numpy(dtype=float),
                                       rtol=1e-12, atol=1e-12, err_msg=name)
            continue
        empty = fmt in TEXT_FORMATS
        assert text_or_none(b, empty_is_missing=empty) == text_or_none(a, empty_is_missing=empty), name


def assert_same_geometry(original, back, tolerance):
    assert back.crs is not None
    moved = back.to_crs(original.crs) if not back.crs.equals(original.crs) else back
    # normalised: GeoJSON turns rings counterclockwise, so compare the same ring order and start
    a, b = shapely.normalize(original.geometry.to_numpy()), shapely.normalize(moved.geometry.to_numpy())
    assert len(a) == len(b)
    if tolerance == 0:
        assert shapely.equals_exact(a, b, tolerance=0).all()
        return
    # rounding may change which vertex normalisation starts a ring at: compare the shapes, vertex count too
    assert (shapely.get_num_coordinates(a) == shapely.get_num_coordinates(b)).all()
    assert (shapely.hausdorff_distance(a, b) <= tolerance).all()


# --------------------------------------------------------------------------- the field table


def test_field_table_names_fit_and_are_unique():
    table = field_table()
    for column, encoding in (("shp_name", "ascii"), ("shp_zh_gbk", "gbk"), ("shp_zh_utf8", "utf-8")):
        assert all(len(name.encode(encoding)) <= 10 for name in table[column]), column
        assert table[column].str.casefold().is_unique, column
    assert table["name_zh"].is_unique
    assert table.loc["grid_code", "name_zh"] == "网格编码"
    assert table.loc["households", "name_zh"] == "户数"


def test_field_table_lists_every_field_gridkit_writes(grids_file, tmp_path):
    """Every field of the files gridkit's verbs write, sample inputs included, has a row in the table."""
    verbs = {
        "attach": ["attach", str(grids_file), str(SAMPLE / "incidents.csv"), "--as", "incidents",
                   "-o", str(tmp_path / "attached.gpkg")],
        "plan": ["patrol", "plan", str(grids_file), "--streets", str(SAMPLE / "streets.gpkg"),
                 "-o", str(tmp_path / "plan")],
        "check": ["patrol", "check", str(grids_file), str(SAMPLE / "tracks.csv"),
                  "--streets", str(SAMPLE / "streets.gpkg"), "-o", str(tmp_path / "check")],
        "heatmap": ["heatmap", str(grids_file), str(SAMPLE / "incidents.csv"), "-o", str(tmp_path / "heat")],
    }
    for verb, args in verbs.items():
        assert main(["--quiet", *args]) == 0, verb
    files = [grids_file, SAMPLE / "components.gpkg", *tmp_path.rglob("*.gpkg")]
    fields = set()
    for path in files:
        for layer in pyogrio.list_layers(path)[:, 0]:
            fields |= set(pyogrio.read_info(path, layer=layer)["fields"])
    for table in [SAMPLE / "incidents.csv", SAMPLE / "workers.csv", *tmp_path.rglob("*.csv")]:
        fields |= set(pd.read_csv(table, nrows=1, encoding="utf-8-sig").columns)
    assert len(fields) > 100
    assert sorted(fields - set(field_table().index)) == []


def test_a_broken_field_table_is_refused_with_its_lines(tmp_path):
    bad = field_table().reset_index()
    bad.loc[3, "shp_zh_utf8"] = "网格编码长"  # 15 bytes in UTF-8
    path = tmp_path / "mine.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(InputDataError) as err:
        field_table(path)
    assert err.value.field == "shp_zh_utf8" and err.value.feature_ids == [5]


def test_long_names_get_deterministic_unique_short_names():
    columns = ["community_name", "population_density_per_km2", "population_density_per_ha",
               "社区网格员姓名电话", "A", "a"]
    for encoding in ("utf-8", "gbk"):
        first = names_in_file(columns, fmt="shp", fields="en", encoding=encoding, table=field_table())
        again = names_in_file(columns, fmt="shp", fields="en", encoding=encoding, table=field_table())
        assert first == again
        assert first["community_name"] == "comm_name"
        assert all(len(n.encode(encoding)) <= 10 for n in first.values())
        assert len({n.casefold() for n in first.values()}) == len(columns)


# --------------------------------------------------------------------------- round trips, every format


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("data", ["grids", "components"])
def test_round_trip_keeps_geometry_and_attributes(way, data, request, tmp_path):
    original = request.getfixturevalue(data)
    fmt, ext, options = WAYS[way]
    path = export_layer(original, tmp_path / f"{data}{ext}", format=fmt, **options)
    assert path == tmp_path / f"{data}{ext}" and path.is_file()
    back = read_exported(path)
    assert_same_attributes(original, back, fmt)
    # GeoJSON rounds to 7 decimals (each coordinate within 0.5e-7 degrees, a vertex within 0.71e-7);
    # KML is written in EPSG:4326 from EPSG:4490
    tolerance = {"geojson": 0.75e-7, "kml": 1e-9}.get(fmt, 0.0)
    assert_same_geometry(original, back, tolerance)
    if fmt in ("gpkg", "parquet"):
        assert back.crs.equals(original.crs)
    else:
        assert back.crs.to_epsg() == (4326 if fmt in ("geojson", "kml") else 4490)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_shapefile_chinese_text_reads_back_with_gridkit_and_pyogrio(grids, components, encoding, tmp_path):
    for name, gdf, field in (("grids", grids, "community_name"), ("components", components, "name_zh")):
        path = export_layer(gdf, tmp_path / f"{name}.shp", format="shp", encoding=encoding)
        assert path.with_suffix(".cpg").read_text().strip().upper() == encoding.upper()
        short = field_table().loc[field, "shp_name"]
        by_gridkit = read_layer(path)
        assert by_gridkit.attrs["encoding"].upper() == encoding.upper()
        assert by_gridkit.attrs["encoding_from"] == ".cpg"
        by_pyogrio = pyogrio.read_dataframe(path)  # GDAL honours the .cpg
        for back in (by_gridkit, by_pyogrio):
            assert back[short].tolist() == gdf[field].tolist()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in "".join(gdf[field]))


@pytest.mark.parametrize(("fmt", "ext", "encoding"), [("shp", ".shp", "gbk"), ("shp", ".shp", "utf-8"),
                                                      ("gpkg", ".gpkg", "utf-8"), ("csv", ".csv", "utf-8")])
def test_chinese_field_names_round_trip(grids, fmt, ext, encoding, tmp_path):
    path = export_layer(grids, tmp_path / f"grids{ext}", format=fmt, encoding=encoding, fields="zh")
    table = field_table()
    column = {"shp": "shp_zh_gbk" if encoding == "gbk" else "shp_zh_utf8"}.get(fmt, "name_zh")
    expected = [table.loc[f, column] for f in grids.columns if f != "geometry"]
    if fmt == "csv":
        in_file = pd.read_csv(path, nrows=0).columns.tolist()[: len(expected)]
    else:
        in_file = list(pyogrio.read_info(path)["fields"])
    assert in_file == expected
    assert "网格编码" in in_file or "网格码" in in_file
    if fmt == "shp":  # the dBase header itself: every name at most 10 bytes in the encoding
        with open(path.with_suffix(".dbf"), "rb") as dbf:
            header = dbf.read(32 + 32 * len(expected))[32:]
        raw = [header[i:i + 11].split(b"\0", 1)[0] for i in range(0, len(header), 32)]
        assert [name.decode(encoding) for name in raw] == expected
        assert max(len(name) for name in raw) <= 10
    assert_same_attributes(grids, read_exported(path), fmt)


@pytest.mark.parametrize("way", list(WAYS))
def test_types_formats_lack_come_back_through_the_mapping(way, tmp_path):
    fmt, ext, options = WAYS[way]
    layer = gpd.GeoDataFrame({
        "grid_code": ["520199001001001", "520199001001002", "520199001001003"],
        "households": pd.array([302, None, 18], dtype="Int64"),
        "reported_at": pd.to_datetime(["2024-06-26T08:30:00+08:00", "2024-06-27T00:00:05+08:00", None],
                                      utc=True),
        "est_minutes": pd.to_timedelta([95, 30, None], unit="min"),
        "within_bounds": [True, False, True],
    }, geometry=[shapely.Point(106.6 + i / 100, 26.5) for i in range(3)], crs=4490)
    path = export_layer(layer, tmp_path / f"t{ext}", format=fmt, fields="zh", **options)
    back = read_exported(path)
    for name in ("reported_at", "est_minutes", "households", "within_bounds"):
        assert back[name].dtype == layer[name].dtype, name
        assert back[name].isna().tolist() == layer[name].isna().tolist(), name
        assert (back[name].dropna().to_numpy() == layer[name].dropna().to_numpy()).all(), name
    assert back["grid_code"].tolist() == layer["grid_code"].tolist()


# --------------------------------------------------------------------------- property: Shapefile round trip

CHINESE = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=",\"'")
FIELD_NAME = st.text(st.one_of(CHINESE, st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ_0123456789")),
                     min_size=1, max_size=24)
TEXT = st.text(st.one_of(CHINESE, ASCII, st.just(" ")), max_size=30).map(str.strip)


@st.composite
def attribute_tables(draw):
    names = draw(st.lists(FIELD_NAME, min_size=1, max_size=6, unique=True))
    n = draw(st.integers(1, 6))
    data = {}
    for name in names:
        kind = draw(st.sampled_from(["text", "int", "float"]))
        if kind == "text":
            data[name] = draw(st.lists(st.one_of(TEXT, st.none()), min_size=n, max_size=n))
        elif kind == "int":
            ints = draw(st.lists(st.integers(-2**31, 2**31), min_size=n, max_size=n))
            data[name] = np.array(ints, dtype="int64")
        else:
            values = st.floats(-1e7, 1e7, allow_nan=False).map(lambda v: round(v, 6))
            data[name] = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype="float64")
    points = [shapely.Point(106.6 + i * 0.001, 26.5) for i in range(n)]
    return gpd.GeoDataFrame(data, geometry=points, crs=4490)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(table=attribute_tables(), encoding=st.sampled_from(["utf-8", "gbk"]))
def test_shapefile_round_trip_restores_every_value_through_the_mapping(table, encoding, tmp_path_factory):
    folder = tmp_path_factory.mktemp("prop")
    summary = export_layers({"layer": table}, folder / "t.shp", format="shp", encoding=encoding)
    assert not summary.warnings
    in_file = list(pyogrio.read_info(folder / "t.shp")["fields"])
    assert all(len(name.encode(encoding)) <= 10 for name in in_file)
    assert len({name.casefold() for name in in_file}) == len(in_file)
    mapping = pd.read_csv(folder / "t_fields.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert mapping["field"].tolist() == [c for c in table.columns if c != "geometry"]
    assert mapping["name_in_file"].tolist() == in_file
    back = read_exported(folder / "t.shp")
    assert_same_attributes(table, back, "shp")
    assert_same_geometry(table, back, 0.0)


# --------------------------------------------------------------------------- Shapefile limits


def mixed_layer():
    geoms = [shapely.box(106.6, 26.5, 106.61, 26.51), shapely.Point(106.6, 26.5),
             shapely.LineString([(106.6, 26.5), (106.61, 26.52)]), shapely.box(106.62, 26.5, 106.63, 26.51)]
    return gpd.GeoDataFrame({"name": ["网格", "路灯", "道路", "网格二"]}, geometry=geoms, crs=4490)


def test_mixed_geometry_is_an_error_naming_the_features_or_split_into_files(tmp_path):
    layer = mixed_layer()
    with pytest.raises(GeometryTypeError) as err:
        export_layer(layer, tmp_path / "mixed.shp", format="shp")
    assert err.value.feature_ids in ([1], [2]) and "--split-geometry" in str(err.value)
    assert list(tmp_path.iterdir()) == []
    summary = export_layers({"mixed": layer}, tmp_path / "mixed.shp", format="shp", split_geometry=True)
    parts = {p.name: read_exported(p) for p in summary.files if p.suffix == ".shp"}
    assert set(parts) == {"mixed_points.shp", "mixed_lines.shp", "mixed_polygons.shp"}
    assert sum(len(p) for p in parts.values()) == len(layer)
    assert sorted(v for p in parts.values() for v in p["name"]) == sorted(layer["name"])
    assert parts["mixed_polygons.shp"]["name"].tolist() == ["网格", "网格二"]
    assert any("3 Shapefiles" in w for w in summary.warnings)


def test_points_and_multipoints_share_one_file(tmp_path):
    layer = gpd.GeoDataFrame({"n": [1, 2]}, geometry=[shapely.Point(106.6, 26.5), shapely.MultiPoint(
        [(106.6, 26.5), (106.7, 26.6)])], crs=4490)
    summary = export_layers({"pts": layer}, tmp_path / "pts.shp", format="shp")
    back = read_exported(tmp_path / "pts.shp")
    assert shapely.equals(back.geometry.to_numpy(), layer.geometry.to_numpy()).all()
    assert any("one-point MultiPoints" in w for w in summary.warnings)


def test_date_times_are_text_in_a_shapefile_and_come_back_as_date_times(tmp_path):
    incidents = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, nrows=50)
    times = pd.to_datetime(incidents["reported_at"], format="ISO8601")
    layer = gpd.GeoDataFrame({"incident_id": incidents["incident_id"], "reported_at": times},
                             geometry=gpd.points_from_xy(incidents["lon"].astype(float),
                                                         incidents["lat"].astype(float)), crs=4326)
    path = export_layer(layer, tmp_path / "incidents.shp", format="shp")
    info = pyogrio.read_info(path)
    short = field_table().loc["reported_at", "shp_name"]
    assert dict(zip(info["fields"], info["ogr_types"], strict=True))[short] == "OFTString"
    assert pyogrio.read_dataframe(path)[short].tolist() == incidents["reported_at"].tolist()
    back = read_exported(path)
    assert (back["reported_at"] == times).all() and back["reported_at"].dtype == times.dtype
    assert back["incident_id"].tolist() == incidents["incident_id"].tolist()


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_text_over_254_bytes_is_cut_at_a_character_and_reported(encoding, tmp_path):
    long_text = "网格化服务管理" * 30  # 210 characters: 630 bytes in UTF-8, 420 in GBK
    layer = gpd.GeoDataFrame({"note": ["短", long_text]}, geometry=[shapely.Point(106.6, 26.5)] * 2, crs=4490)
    summary = export_layers({"grids": layer}, tmp_path / "g.shp", format="shp", encoding=encoding)
    (warning,) = summary.warnings
    assert "'note'" in warning and "features 1" in warning and "254" in warning
    back = read_exported(tmp_path / "g.shp")
    cut = back.loc[1, "note"]
    assert long_text.startswith(cut) and len(cut.encode(encoding)) <= 254
    assert len(cut) == 254 // len("网".encode(encoding))
    assert back.loc[0, "note"] == "短"


def test_text_gbk_cannot_hold_is_an_error_naming_field_and_feature(tmp_path):
    points = [shapely.Point(106.6, 26.5)] * 2
    layer = gpd.GeoDataFrame({"name": ["文昌", "𠀀社区"]}, geometry=points, crs=4490)
    with pytest.raises(InputDataError) as err:
        export_layer(layer, tmp_path / "g.shp", format="shp", encoding="gbk")
    assert err.value.field == "name" and err.value.feature_ids == [1] and "utf-8" in err.value.hint
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- GeoJSON per RFC 7946


def test_geojson_follows_rfc_7946(tmp_path):
    # a projected polygon with a clockwise exterior and a counterclockwise hole: both the wrong way round
    outer = shapely.LinearRing([(500000, 2930000), (500000, 2931000), (501000, 2931000), (501000, 2930000)])
    hole = shapely.LinearRing([(500200, 2930200), (500800, 2930200), (500800, 2930800), (500200, 2930800)])
    assert not outer.is_ccw and hole.is_ccw
    layer = gpd.GeoDataFrame({"grid_code": ["520199001001001"], "community_name": ["文昌社区"]},
                             geometry=[shapely.Polygon(outer, [hole])], crs=4545)
    path = export_layer(layer, tmp_path / "g.geojson", format="geojson")
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    assert "crs" not in doc
    feature = doc["features"][0]
    assert feature["properties"]["community_name"] == "文昌社区"
    exterior, interior = feature["geometry"]["coordinates"]
    assert shapely.LinearRing(exterior).is_ccw and not shapely.LinearRing(interior).is_ccw
    coords = np.array(exterior + interior)
    assert (np.abs(coords[:, 0]) <= 180).all() and (np.abs(coords[:, 1]) <= 90).all()
    assert 106 < coords[:, 0].min() < 109 and 26 < coords[:, 1].min() < 27  # lon/lat order, CM 108°E
    assert np.allclose(coords * 1e7, np.round(coords * 1e7), atol=1e-3, rtol=0)  # at most 7 decimals
    expected = layer.to_crs(4326).geometry.iloc[0]
    back = read_layer(path).geometry.iloc[0]
    assert shapely.equals_exact(back.normalize(), expected.normalize(), tolerance=1e-7)


@pytest.mark.parametrize("fmt", ["geojson", "kml"])
def test_lon_lat_formats_refuse_another_crs(grids, fmt, tmp_path):
    with pytest.raises(ParameterError, match="WGS84"):
        export_layer(grids, tmp_path / f"g.{fmt}", format=fmt, to_crs="EPSG:4549")
    assert export_layer(grids, tmp_path / f"g.{fmt}", format=fmt, to_crs="EPSG:4326").is_file()


# --------------------------------------------------------------------------- KML and CSV specifics


def test_kml_labels_placemarks_and_keeps_attributes_as_extended_data(grids, tmp_path):
    path = export_layer(grids, tmp_path / "grids.kml", format="kml")
    text = path.read_text(encoding="utf-8")
    first = grids.iloc[0]
    assert f"<name>{first['grid_code']}</name>" in text
    assert f'<SimpleData name="community_name">{first["community_name"]}</SimpleData>' in text
    raw = pyogrio.read_dataframe(path)
    assert raw["Name"].tolist() == grids["grid_code"].tolist()
    assert raw["community_name"].tolist() == grids["community_name"].tolist()


def test_csv_has_wkt_and_lon_lat_for_points_and_opens_in_excel(components, tmp_path):
    path = export_layer(components, tmp_path / "c.csv", format="csv", excel=True)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    assert list(table.columns[-3:]) == ["lon", "lat", "wkt"]
    assert table["component_id"].tolist() == components["component_id"].tolist()  # leading zeros kept
    np.testing.assert_array_equal(table["lon"].astype(float), components.geometry.x)
    assert (table["name_zh"] == components["name_zh"].to_numpy()).all()
    types = path.with_suffix(".csvt").read_text().strip().split(",")
    assert types[0] == '"String"' and types[-1] == '"WKT"'
    gbk = export_layer(components, tmp_path / "gbk.csv", format="csv", encoding="gbk")
    assert pd.read_csv(gbk, dtype=str, encoding="gbk")["name_zh"].tolist() == components["name_zh"].tolist()
    assert read_layer(gbk).attrs["encoding"] == "GB18030"  # gridkit reads GBK CSV too


# --------------------------------------------------------------------------- --to-crs


GK_108 = "+proj=tmerc +lon_0=108 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"


@pytest.mark.parametrize("value", ["4549", "EPSG:4545", 4490, GK_108])
def test_to_crs_takes_epsg_codes_and_proj_strings(grids, value, tmp_path):
    path = export_layer(grids, tmp_path / "g.gpkg", format="gpkg", to_crs=value)
    back = read_layer(path)
    expected = grids.to_crs(target_crs(value)[0])
    assert back.crs.equals(expected.crs)
    assert shapely.equals_exact(back.geometry.to_numpy(), expected.geometry.to_numpy(), tolerance=0).all()


@pytest.mark.parametrize(("coords", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_to_gcj02_and_bd09_moves_points_by_the_offset_and_says_so(components, coords, forward, tmp_path):
    summary = export_layers({"c": components}, tmp_path / "c.gpkg", format="gpkg", to_crs=coords)
    assert summary.coords == coords and summary.crs == "EPSG:4326"
    back = read_layer(tmp_path / "c.gpkg")
    assert back.crs.to_epsg() == 4326
    lon, lat = forward(components.geometry.x.to_numpy(), components.geometry.y.to_numpy())
    np.testing.assert_allclose(back.geometry.x, lon, atol=1e-9, rtol=0)
    np.testing.assert_allclose(back.geometry.y, lat, atol=1e-9, rtol=0)
    # the offset is hundreds of metres in Guizhou: measure it in the local metric CRS
    moved = gpd.GeoSeries(back.geometry.to_numpy(), crs=4326).to_crs(4545)
    distance = moved.distance(components.geometry.to_crs(4545).set_axis(moved.index))
    assert distance.min() > 100 and distance.max() < 1500
    note = (tmp_path / "c_coords.txt").read_text(encoding="utf-8")
    assert {"gcj02": "GCJ-02", "bd09": "BD-09"}[coords] in note and "EPSG:4326" in note


@pytest.mark.parametrize("value", ["EPSG:99999", "mars", ""])
def test_unknown_crs_is_a_usage_error(value):
    with pytest.raises(ParameterError):
        target_crs(value)


# --------------------------------------------------------------------------- atomic writing


def test_a_failed_export_leaves_the_earlier_files_untouched(grids, tmp_path):
    path = export_layer(grids, tmp_path / "grids.shp", format="shp")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(GeometryTypeError):
        export_layer(mixed_layer(), tmp_path / "grids.shp", format="shp")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert read_exported(path)["grid_code"].tolist() == grids["grid_code"].tolist()


def test_several_layers_appear_together_or_not_at_all(grids, components, tmp_path):
    out = tmp_path / "new"
    with pytest.raises(GeometryTypeError):
        export_layers({"grids": grids, "mixed": mixed_layer()}, out, format="shp")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    summary = export_layers({"grids": grids, "components": components}, out, format="shp")
    assert sorted(p.name for p in out.glob("*.shp")) == ["components.shp", "grids.shp"]
    assert set(out.iterdir()) == set(summary.files)


def test_a_new_export_removes_sidecars_of_the_old_one(components, tmp_path):
    export_layer(components, tmp_path / "c.geojson", format="geojson", to_crs="gcj02")
    assert (tmp_path / "c_coords.txt").is_file()
    export_layer(components, tmp_path / "c.geojson", format="geojson")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.geojson"]


def test_multi_layer_files_hold_every_layer(grids_file, tmp_path):
    layers = {name: read_layer(grids_file, layer=name) for name in ("grids", "communities")}
    for fmt in ("gpkg", "kml"):
        summary = export_layers(layers, tmp_path / f"all.{fmt}", format=fmt)
        assert [str(n) for n in pyogrio.list_layers(summary.files[0])[:, 0]] == list(layers)
        for name, gdf in layers.items():
            assert_same_attributes(gdf, read_exported(summary.files[0], layer=name), fmt)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"format": "dxf"}, "unknown export format"),
    ({"format": "geojson", "encoding": "gbk"}, "always UTF-8"),
    ({"format": "shp", "excel": True}, "--excel"),
    ({"format": "gpkg", "split_geometry": True}, "--split-geometry"),
    ({"format": "shp", "fields": "fr"}, "en or zh"),
])
def test_bad_options_are_usage_errors(grids, kwargs, message, tmp_path):
    with pytest.raises(ParameterError, match=message):
        export_layer(grids, tmp_path / "g.shp", **kwargs)


def test_output_path_must_match_the_format(grids, tmp_path):
    with pytest.raises(ParameterError, match=r"must end in \.shp"):
        export_layer(grids, tmp_path / "g.gpkg", format="shp")
    assert export_layer(grids, tmp_path, format="shp", layer="grids") == tmp_path / "grids.shp"


# --------------------------------------------------------------------------- command line


def test_cli_exports_shapefile_gbk_with_chinese_field_names(grids_file, grids, tmp_path, capsys):
    out = tmp_path / "out" / "grids.shp"
    code = main(["export", str(grids_file), "--layer", "grids", "--format", "shp", "--encoding", "gbk",
                 "--fields", "zh", "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"grids {len(grids)} feature(s) as shp" in printed and "text GBK" in printed
    assert "grid_code->网格编码" in printed
    assert out.with_suffix(".cpg").read_text().strip() == "GBK"
    assert pyogrio.read_dataframe(out)["社区名称"].tolist() == grids["community_name"].tolist()


def test_cli_all_layers_to_a_folder_and_gcj02_note(grids_file, tmp_path, capsys):
    assert main(["export", str(grids_file), "--all-layers", "--format", "geojson", "--to-crs", "gcj02",
                 "-o", str(tmp_path / "gj")]) == 0
    printed = capsys.readouterr().out
    assert "GCJ-02" in printed
    names = sorted(p.name for p in (tmp_path / "gj").iterdir())
    assert names == sorted(f"{n}{s}" for n in ("grids", "buildings", "units", "communities")
                           for s in (".geojson", "_coords.txt"))


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--layer", "grids", "--format", "dxf"], 2, "invalid choice"),
    (["--layer", "grids", "--to-crs", "EPSG:4549", "--format", "geojson"], 2, "WGS84"),
    (["--layer", "grids", "--to-crs", "EPSG:99999", "--format", "gpkg"], 2, "not a CRS"),
    (["--layer", "grids", "--format", "shp", "--excel"], 2, "--excel"),
    (["--layer", "grids"], 2, "cannot tell the format"),
    (["--layer", "nope", "--format", "shp"], 3, "grids (Polygon), buildings"),
    (["--format", "shp"], 3, "--layer"),
])
def test_cli_exit_codes(grids_file, tmp_path, capsys, args, code, message):
    ext = next((e for e in ("shp", "gpkg", "geojson") if e in args), "bin")
    assert run_cli(["export", str(grids_file), *args, "-o", str(tmp_path / f"out.{ext}")]) == code
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def run_cli(args):
    """The exit code of ``gridkit ARGS``, argparse's own exits included."""
    try:
        return main(args)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("content", [None, b"not a geopackage at all"])
def test_cli_missing_or_unreadable_input_exits_3(tmp_path, capsys, content):
    source = tmp_path / "in.gpkg"
    if content is not None:
        source.write_bytes(content)
    assert run_cli(["export", str(source), "--format", "shp", "-o", str(tmp_path / "out.shp")]) == 3
    assert str(source) in capsys.readouterr().err
    assert not (tmp_path / "out.shp").exists()
