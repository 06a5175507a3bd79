"""Division codes, grid codes, component ids (gridkit.codes) and the category tables (gridkit.incidents.categories)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.codes import (
    ComponentId,
    codes_for_grids,
    grid_codes,
    kind_from_class,
    kind_from_code,
    kinds_from_classes,
    kinds_from_codes,
    parse_component_id,
    parse_component_ids,
    parse_division_code,
    reading_order,
    validate_division_code,
    validate_division_codes,
)
from gridkit.errors import (
    InputDataError,
    InputFileError,
    MissingFieldError,
    ParameterError,
)
from gridkit.incidents.categories import (
    category_names,
    component_categories,
    event_categories,
    osm_component_tags,
)

# --------------------------------------------------------------------------- division codes


@pytest.mark.parametrize("code", ["110101001001", 110101001001, " 110101001001", np.int64(110101001001), 110101001001.0])
def test_division_code_accepts_text_and_whole_numbers(code):
    assert validate_division_code(code) == "110101001001"


@pytest.mark.parametrize(
    "bad",
    ["11010100100", "1101010010011", "11010100100a", "000101001001", "", None, 1.5, True, "1.10101e11"],
)
def test_division_code_error_names_file_feature_and_field(bad):
    with pytest.raises(InputDataError) as info:
        validate_division_code(bad, path="communities.gpkg", feature_id=17, field="code")
    text = str(info.value)
    assert text.startswith("communities.gpkg: ")
    assert "field 'code'" in text and "feature 17" in text and "12 digits" in text
    assert info.value.feature_ids == [17]


def test_division_codes_collect_every_bad_row_at_once():
    values = pd.Series(["110101001001", "1101", None, 520102200201, "abc"], index=[3, 5, 8, 13, 21])
    with pytest.raises(InputDataError) as info:
        validate_division_codes(values, path="c.shp", field="XZQDM")
    err = info.value
    assert err.feature_ids == [5, 8, 21] and err.field == "XZQDM" and err.path == "c.shp"
    assert "3 values" in str(err) and "'1101'" in str(err)


def test_division_codes_keep_the_index_and_give_strings():
    values = pd.Series([110101001001, 520102200201], index=["a", "b"])
    out = validate_division_codes(values)
    assert out.to_dict() == {"a": "110101001001", "b": "520102200201"}
    floats = validate_division_codes(pd.Series([110101001001.0, 520102200201.0]))
    assert floats.tolist() == ["110101001001", "520102200201"]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("110101001001", "sub-district"),
        ("110101099001", "sub-district"),
        ("110112104213", "town"),
        ("522701200201", "township"),
        ("650102400001", "farm"),
        ("650102599001", "farm"),
        ("650102600001", "other"),
        ("110101000000", "other"),
    ],
)
def test_township_kind_from_ttt(code, kind):
    assert parse_division_code(code).township_kind == kind


def test_parse_division_code_parts():
    parts = parse_division_code(320508104213)
    assert parts[:5] == ("32", "3205", "320508", "104", "213")
    assert parts.code == "320508104213"
    with pytest.raises(InputDataError):
        parse_division_code("3205081042")


@pytest.mark.parametrize(
    ("code", "kind"),
    [("110101001001", "city"), ("110101001199", "city"), ("520102200200", "rural"),
     ("520102200399", "rural"), ("520102200400", None), ("520102200000", None)],
)
def test_kind_from_code(code, kind):
    assert kind_from_code(code) == kind


def test_kinds_from_codes_keep_index_and_refuse_bad_codes():
    values = pd.Series(["110101001001", "520102200201", "520102200499"], index=[7, 8, 9])
    out = kinds_from_codes(values)
    assert list(out.index) == [7, 8, 9]
    assert out.iloc[:2].tolist() == ["city", "rural"] and pd.isna(out.iloc[2])
    with pytest.raises(InputDataError) as info:
        kinds_from_codes(pd.Series(["110101001001", "x"], index=[1, 2]), field="code")
    assert info.value.feature_ids == [2]


@pytest.mark.parametrize(
    ("class_code", "kind"),
    [(111, "city"), ("112", "city"), ("121", "city"), (122, "city"), ("123", "city"),
     (210, "rural"), ("220", "rural"), (220.0, "rural"), ("311", None), ("11", None), ("", None), (None, None)],
)
def test_kind_from_class(class_code, kind):
    assert kind_from_class(class_code) == kind


def test_kinds_from_classes_vectorised():
    out = kinds_from_classes(pd.Series([111, 220, np.nan, 999], index=list("abcd")))
    assert list(out.index) == list("abcd")
    assert out.iloc[:2].tolist() == ["city", "rural"] and out.iloc[2:].isna().all()


# --------------------------------------------------------------------------- grid codes


def test_reading_order_on_a_lattice():
    # 3 x 3 lattice, 100 m apart, given in a scrambled order
    xs, ys = np.meshgrid([0.0, 100.0, 200.0], [200.0, 100.0, 0.0])  # row-major, north first
    xs, ys = xs.ravel(), ys.ravel()
    scramble = np.random.default_rng(3).permutation(9)
    order = reading_order(xs[scramble], ys[scramble], row_height=50)
    np.testing.assert_array_equal(order, scramble)  # point i of the lattice is position i
    codes = grid_codes("110101001001", xs[scramble], ys[scramble])
    assert codes == [f"110101001001{i + 1:03d}" for i in scramble]


def test_reading_order_tolerates_jitter_within_a_row():
    xs = np.array([0, 100, 200, 0, 100, 200], dtype=float)
    ys = np.array([200, 190, 205, 100, 95, 104], dtype=float)  # wobbly rows
    np.testing.assert_array_equal(reading_order(xs, ys, row_height=50), [0, 1, 2, 3, 4, 5])
    assert grid_codes("110101001001", xs, ys)[-1] == "110101001001006"


def test_reading_order_ties_are_deterministic():
    # same x in one row: the northern point first; identical points: input order
    order = reading_order([5, 5, 5, 5], [10, 12, 10, 12], row_height=100)
    np.testing.assert_array_equal(order, [2, 0, 3, 1])


@st.composite
def grid_points(draw):
    n = draw(st.integers(1, 60))
    coord = st.floats(-5000, 5000, allow_nan=False).map(lambda v: round(v, 1))
    xs = draw(st.lists(coord, min_size=n, max_size=n))
    ys = draw(st.lists(coord, min_size=n, max_size=n))
    return np.array(xs), np.array(ys)


@settings(max_examples=150, deadline=None)
@given(points=grid_points(), row_height=st.sampled_from([None, 1.0, 250.0, 1e4]))
def test_grid_codes_read_rows_north_to_south_and_west_to_east(points, row_height):
    xs, ys = points
    codes = grid_codes("520102001003", xs, ys, row_height=row_height)
    assert all(c.startswith("520102001003") and len(c) == 15 for c in codes)
    serials = np.array([int(c[-3:]) for c in codes])
    assert sorted(serials) == list(range(1, len(xs) + 1))
    by_serial = np.argsort(serials)
    height = row_height if row_height is not None else max(np.sqrt(np.ptp(xs) * np.ptp(ys) / len(xs)), 1.0)
    rows = np.floor((ys.max() - ys) / height)[by_serial]
    x_read = xs[by_serial]
    assert np.all(np.diff(rows) >= 0)  # rows north to south
    same_row = np.diff(rows) == 0
    assert np.all(np.diff(x_read)[same_row] >= 0)  # west to east inside a row
    again = grid_codes("520102001003", xs, ys, row_height=row_height)
    assert again == codes


def test_codes_for_grids_numbers_each_community_on_its_own():
    communities = pd.Series(
        ["110101001001", "110101001002", "110101001001", "110101001002", "110101001001"], index=[10, 11, 12, 13, 14]
    )
    xs = np.array([0.0, 50.0, 100.0, 0.0, 50.0])
    ys = np.array([100.0, 0.0, 100.0, 0.0, 0.0])
    out = codes_for_grids(communities, xs, ys)
    assert list(out.index) == [10, 11, 12, 13, 14]
    first = communities == "110101001001"
    assert out[first].tolist() == grid_codes("110101001001", xs[first.to_numpy()], ys[first.to_numpy()])
    assert out.to_dict() == {
        10: "110101001001001", 11: "110101001002002", 12: "110101001001002",
        13: "110101001002001", 14: "110101001001003",
    }


def test_grid_codes_refuse_more_than_999_grids_and_bad_input():
    xs = np.arange(1000.0)
    with pytest.raises(InputDataError, match="999"):
        grid_codes("110101001001", xs, xs)
    assert len(grid_codes("110101001001", xs[:999], xs[:999])) == 999
    with pytest.raises(InputDataError, match="12 digits"):
        grid_codes("1101", [0], [0])
    with pytest.raises(InputDataError, match="missing or infinite") as info:
        grid_codes("110101001001", [0, np.nan, 1], [0, 1, 1])
    assert info.value.feature_ids == [1]
    with pytest.raises(ParameterError):
        reading_order([0, 1], [0, 1], row_height=0)
    with pytest.raises(ParameterError):
        reading_order([0, 1], [0], row_height=1)
    assert grid_codes("110101001001", [], []) == []


# --------------------------------------------------------------------------- component ids


def test_old_and_new_component_ids():
    old = parse_component_id("3205080101000001")
    assert old == ComponentId("320508", "01", "01", "000001", "0101", "old", "3205080101000001")
    new = parse_component_id(32050801118000002)
    assert (new.county, new.major, new.minor, new.serial) == ("320508", "01", "118", "000002")
    assert new.category == "01118" and new.scheme == "new"
    lamp = parse_component_id("1101050118123456")
    assert lamp.category == "0118"
    assert category_names([lamp.category], component_categories()).tolist() == ["路灯"]


def test_component_id_errors_name_the_feature():
    with pytest.raises(InputDataError) as info:
        parse_component_id("32050801010001", path="parts.csv", feature_id=9, field="BJBM")
    text = str(info.value)
    assert text.startswith("parts.csv: ") and "feature 9" in text and "field 'BJBM'" in text
    values = pd.Series(["3205080101000001", "12", "320508011180000020", None], index=[1, 2, 3, 4])
    with pytest.raises(InputDataError) as info:
        parse_component_ids(values)
    assert info.value.feature_ids == [2, 3, 4]


def test_parse_component_ids_keeps_the_index():
    out = parse_component_ids(pd.Series(["3205080118000007", "32050802209000001"], index=["p", "q"]))
    assert list(out.index) == ["p", "q"]
    assert out["category"].tolist() == ["0118", "02209"]
    assert out["serial"].tolist() == ["000007", "000001"]


# --------------------------------------------------------------------------- tables

# every row of DOMAIN.md's component table: code, Chinese, English
DOMAIN_COMPONENTS = [
    ("0101", "上水井盖", "water-supply manhole cover"), ("0102", "污水井盖", "sewage manhole cover"),
    ("0103", "雨水井盖", "storm-water manhole cover"), ("0104", "雨水箅子", "storm inlet grate"),
    ("0105", "电力井盖", "power manhole cover"), ("0111", "燃气井盖", "gas manhole cover"),
    ("0113", "消防设施", "fire facility (hydrant)"), ("0117", "立杆", "utility pole"),
    ("0118", "路灯", "street light"), ("0121", "报刊亭", "newsstand"),
    ("0123", "邮筒", "mailbox"), ("0126", "健身设施", "fitness equipment"),
    ("0201", "停车场", "parking lot"), ("0203", "公交站亭", "bus shelter"),
    ("0205", "过街天桥", "pedestrian overpass"), ("0209", "交通标志牌", "traffic sign"),
    ("0211", "交通护栏", "traffic railing"), ("0212", "存车支架", "bicycle rack"),
    ("0301", "公共厕所", "public toilet"), ("0305", "垃圾箱", "litter bin"),
    ("0307", "广告牌匾", "shop sign / billboard"), ("0401", "古树名木", "heritage tree"),
    ("0402", "行道树", "street tree"), ("0405", "绿地", "green space"),
    ("0407", "街头坐椅", "street bench"), ("0501", "宣传栏", "bulletin board"),
]
DOMAIN_COMPONENT_MAJORS = ["公用设施", "道路交通", "市容环境", "园林绿化", "房屋土地", "其他设施"]
DOMAIN_EVENTS = [
    ("0101", "私搭乱建"), ("0102", "暴露垃圾"), ("0103", None), ("0104", None), ("0201", "非法小广告"),
    ("0301", "施工扰民"), ("0302", "工地扬尘"), ("0401", "路面塌陷"), ("0402", None),
    ("0501", "无照经营游商"), ("0505", "机动车乱停放"), ("0506", None),
]
DOMAIN_EVENT_MAJORS = ["市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序"]
DOMAIN_OSM = [
    ("highway", "street_lamp", "0118"), ("emergency", "fire_hydrant", "0113"), ("amenity", "bench", "0407"),
    ("amenity", "waste_basket", "0305"), ("amenity", "toilets", "0301"), ("highway", "bus_stop", "0203"),
    ("amenity", "post_box", "0123"), ("amenity", "bicycle_parking", "0212"), ("natural", "tree", "0402"),
]


def test_component_table_holds_every_domain_row():
    table = component_categories().set_index("code")
    for code, zh, en in DOMAIN_COMPONENTS:
        assert (table.loc[code, "name_zh"], table.loc[code, "name_en"]) == (zh, en), code
        assert table.loc[code, "major"] == code[:2]
        assert table.loc[code, "major_zh"] == table.loc[code[:2], "name_zh"]
    assert [table.loc[f"0{i}", "name_zh"] for i in range(1, 7)] == DOMAIN_COMPONENT_MAJORS
    assert table.loc["0108", "name_en"] == "cable-TV manhole cover"  # not the street light


def test_event_table_holds_every_domain_row():
    table = event_categories().set_index("code")
    for code, zh in DOMAIN_EVENTS:
        assert code in table.index
        if zh is not None:
            assert table.loc[code, "name_zh"] == zh
    assert [table.loc[f"0{i}", "name_zh"] for i in range(1, 6)] == DOMAIN_EVENT_MAJORS
    assert table.loc["0506", "name_en"] == "illegal bike parking"


def test_osm_tag_table_matches_domain():
    tags = osm_component_tags()
    assert sorted(map(tuple, tags[["key", "value", "code"]].to_numpy())) == sorted(DOMAIN_OSM)
    known = set(component_categories()["code"])
    assert set(tags["code"]) <= known


def test_tables_are_strings_with_leading_zeros():
    for table in (component_categories(), event_categories(), osm_component_tags()):
        assert all(pd.api.types.is_string_dtype(table[c]) for c in table.columns)
        assert table["code"].str.fullmatch(r"\d{2,5}").all()


def test_a_city_table_overrides_the_bundled_one(tmp_path):
    path = tmp_path / "mycity.csv"
    path.write_text(
        "code,major,name_zh,name_en,major_zh,major_en,limit_hours\n"
        "0210,02,交通信号灯,traffic signal,道路交通,road traffic,24\n",
        encoding="utf-8",
    )
    table = component_categories(path)
    assert table["code"].tolist() == ["0210"] and table["limit_hours"].tolist() == ["24"]
    assert category_names(["0210", "0118"], table, lang="en").tolist()[0] == "traffic signal"


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("code,name_zh\n0118,路灯\n", MissingFieldError, "major"),
        ("code,major,name_zh,name_en,major_zh,major_en\n118,01,路灯,lamp,a,b\n118,01,x,y,a,b\n", InputDataError, "more than once"),
        ("code,major,name_zh,name_en,major_zh,major_en\nA1,01,路灯,lamp,a,b\n", InputDataError, "2-5 digits"),
    ],
)
def test_bad_tables_are_refused_with_the_path(tmp_path, text, error, match):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(error, match=match) as info:
        event_categories(path)
    assert info.value.path == str(path)


def test_unreadable_tables(tmp_path):
    with pytest.raises(InputFileError, match="osm component tags table file does not exist"):
        osm_component_tags(tmp_path / "missing.csv")
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("code,major,name_zh,name_en,major_zh,major_en\n0118,01,路灯,l,公用设施,u\n".encode("gbk"))
    with pytest.raises(InputFileError, match="UTF-8"):
        component_categories(gbk)


def test_category_names_keep_unknowns_as_na_and_the_index():
    codes = pd.Series(["0118", "9999", None, "0402"], index=[5, 6, 7, 8])
    zh = category_names(codes, component_categories())
    assert list(zh.index) == [5, 6, 7, 8]
    assert zh[5] == "路灯" and zh[8] == "行道树" and zh[[6, 7]].isna().all()
    en = category_names(codes, component_categories(), lang="en")
    assert en[5] == "street light"
    with pytest.raises(ParameterError):
        category_names(codes, component_categories(), lang="fr")
    with pytest.raises(MissingFieldError):
        category_names(codes, osm_component_tags())


def test_province_99_is_reserved_for_areas_without_a_chinese_code():
    # gridkit.osm.communities_from_osm numbers derived communities 990000TTTVVV
    assert validate_division_code("990000001001") == "990000001001"
    assert kind_from_code("990000001001") == "city"
