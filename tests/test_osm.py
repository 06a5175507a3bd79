"""Streets, graphs, buildings, components, communities and households from OSM XML and PBF (gridkit.osm)."""

import argparse
import bz2
import logging
import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from gridkit_cli import communities_cmd

from gridkit import osm
from gridkit.errors import (
    InputDataError,
    InputFileError,
    MissingCRSError,
    MissingFieldError,
    ParameterError,
)
from gridkit.io import file_format, read_layer

# the checkout's copy (gridkit.datasets.get_path finds the same files once every sample is in place)
HELSINKI_DIR = Path(__file__).resolve().parents[1] / "data" / "helsinki"
HELSINKI = HELSINKI_DIR / "helsinki.osm.bz2"
HELSINKI_PBF = HELSINKI_DIR / "helsinki.osm.pbf"  # the same extract, written by make_pbf.py
README = HELSINKI_DIR / "README.md"

# the figures data/helsinki/README.md quotes (test_readme_quotes_these_figures keeps them in step)
HELSINKI_STREETS = {"rows": 2469, "trimmed_ways": 102, "dropped_ways": 69}
HELSINKI_WALK_GRAPH = {"nodes": 2277, "edges": 6294, "trimmed_ways": 85, "dropped_ways": 63}
HELSINKI_BUILDINGS = {"rows": 486, "trimmed_ways": 43, "dropped_ways": 14, "trimmed_relations": 3,
                      "dropped_relations": 3}
HELSINKI_COMPONENTS = {"0118": 586, "0113": 37, "0407": 162, "0305": 36, "0301": 18, "0203": 92,
                       "0123": 22, "0212": 53, "0402": 649}
DOMAIN_TABLE = pd.DataFrame(
    [("highway", "street_lamp", "0118"), ("emergency", "fire_hydrant", "0113"), ("amenity", "bench", "0407"),
     ("amenity", "waste_basket", "0305"), ("amenity", "toilets", "0301"), ("highway", "bus_stop", "0203"),
     ("amenity", "post_box", "0123"), ("amenity", "bicycle_parking", "0212"), ("natural", "tree", "0402")],
    columns=["key", "value", "code"],
)


# --------------------------------------------------------------------------- tiny hand-written files


def write_osm(path, nodes, ways=(), relations=()):
    """Write OSM XML: nodes {id: (lon, lat[, tags])}, ways [(id, refs, tags)], relations [(id, members, tags)]."""
    def tags_xml(tags):
        return "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="hand">']
    for nid, (lon, lat, *rest) in nodes.items():
        lines.append(f'<node id="{nid}" lat="{lat}" lon="{lon}">{tags_xml(rest[0] if rest else {})}</node>')
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{wid}">{nds}{tags_xml(tags)}</way>')
    for rid, members, tags in relations:
        mem = "".join(f'<member type="way" ref="{ref}" role="{role}"/>' for ref, role in members)
        lines.append(f'<relation id="{rid}">{mem}{tags_xml(tags)}</relation>')
    lines.append("</osm>")
    text = "\n".join(lines)
    if str(path).endswith(".bz2"):
        path.write_bytes(bz2.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


# a row of nodes along a street in Beijing, 0.001° (about 85 m) apart; 99 is not in the file
ROW = {i: (116.400 + 0.001 * i, 39.900) for i in range(1, 7)}


@pytest.fixture
def clipped(tmp_path):
    return write_osm(tmp_path / "clipped.osm", ROW, ways=[
        (10, [1, 2, 3, 99], {"highway": "residential", "name": "Dongsi"}),  # trimmed at its end
        (11, [1, 2, 99, 4, 5, 6], {"highway": "residential"}),  # a gap: keeps 4-5-6, no shortcut
        (12, [6, 99], {"highway": "footway"}),  # one node left: dropped
        (13, [3, 4], {"waterway": "ditch"}),  # not a street
    ])


def test_streets_from_clipped_file_are_trimmed_and_counted(clipped, caplog):
    with caplog.at_level(logging.WARNING, logger="gridkit.osm"):
        streets = osm.streets_from_osm(clipped)
    assert streets["osmid"].tolist() == [10, 11]
    assert streets.attrs["trimmed_ways"] == 2
    assert streets.attrs["dropped_ways"] == 1
    assert streets.crs.to_epsg() == 4326
    assert streets.loc[0, ["highway", "name"]].tolist() == ["residential", "Dongsi"]
    assert pd.isna(streets.loc[1, "name"])
    assert shapely.get_coordinates(streets.geometry[0]).tolist() == [list(ROW[i]) for i in (1, 2, 3)]
    assert shapely.get_coordinates(streets.geometry[1]).tolist() == [list(ROW[i]) for i in (4, 5, 6)]
    assert "trimmed ways 2, dropped ways 1" in caplog.text and str(clipped) in caplog.text


def test_ring_street_keeps_its_way_round_the_gap(tmp_path):
    square = {1: (116.40, 39.90), 2: (116.41, 39.90), 3: (116.41, 39.91), 4: (116.40, 39.91)}
    path = write_osm(tmp_path / "ring.osm", square, ways=[(20, [1, 2, 99, 3, 4, 1], {"highway": "service"})])
    streets = osm.streets_from_osm(path)
    assert shapely.get_coordinates(streets.geometry[0]).tolist() == [list(square[i]) for i in (3, 4, 1, 2)]


def test_network_type_filters_like_osmnx(tmp_path):
    path = write_osm(tmp_path / "types.osm", ROW, ways=[
        (1, [1, 2], {"highway": "motorway"}), (2, [2, 3], {"highway": "footway"}),
        (3, [3, 4], {"highway": "residential", "access": "private"}), (4, [4, 5], {"highway": "proposed"}),
    ])
    assert osm.streets_from_osm(path)["osmid"].tolist() == [1, 2, 3]
    assert osm.streets_from_osm(path, network_type="walk")["osmid"].tolist() == [2]
    assert osm.streets_from_osm(path, network_type="drive")["osmid"].tolist() == [1]
    with pytest.raises(ParameterError, match="unknown network type 'car'"):
        osm.streets_from_osm(path, network_type="car")


def test_graph_from_clipped_file(clipped):
    graph = osm.graph_from_osm(clipped, network_type="all", simplify=False, retain_all=True)
    assert isinstance(graph, nx.MultiDiGraph)
    assert sorted(graph.nodes) == [1, 2, 3, 4, 5, 6]
    assert 99 not in graph
    assert graph.graph["trimmed_ways"] == 2 and graph.graph["dropped_ways"] == 1
    assert graph.number_of_edges() == 8  # 1-2-3 and 4-5-6, both directions


def test_buildings_from_clipped_file(tmp_path):
    nodes = {1: (116.400, 39.900), 2: (116.401, 39.900), 3: (116.401, 39.901), 4: (116.400, 39.901),
             5: (116.402, 39.900), 6: (116.403, 39.900)}
    path = write_osm(tmp_path / "b.osm.bz2", nodes, ways=[
        (30, [1, 2, 3, 4, 1], {"building": "apartments", "building:levels": "6;7", "name": "1号楼"}),
        (31, [1, 2, 99, 3, 1], {"building": "yes"}),  # trimmed, still a polygon
        (32, [5, 6, 98, 5], {"building": "house"}),  # two nodes left: dropped
        (33, [1, 2], {"highway": "service"}),
    ])
    buildings = osm.buildings_from_osm(path)
    assert buildings["osmid"].tolist() == [30, 31]
    assert buildings.loc[0, "levels"] == 6.0 and np.isnan(buildings.loc[1, "levels"])
    assert buildings.loc[0, "name"] == "1号楼"
    assert set(buildings.geom_type) == {"Polygon"}
    assert (buildings.attrs["trimmed_ways"], buildings.attrs["dropped_ways"]) == (1, 1)


def test_multipolygon_building_losing_its_outline_is_counted(tmp_path):
    nodes = {1: (116.400, 39.900), 2: (116.401, 39.900), 3: (116.401, 39.901)}
    path = write_osm(tmp_path / "rel.osm", nodes, ways=[(40, [1, 2, 3, 1], {})],
                     relations=[(50, [(40, "outer"), (41, "inner")], {"type": "multipolygon", "building": "yes"}),
                                (51, [(42, "outer")], {"type": "multipolygon", "building": "yes"})])
    buildings = osm.buildings_from_osm(path)
    assert buildings[["element", "osmid"]].values.tolist() == [["relation", 50]]
    assert (buildings.attrs["trimmed_relations"], buildings.attrs["dropped_relations"]) == (1, 1)


def test_no_buildings_is_an_empty_layer(clipped):
    buildings = osm.buildings_from_osm(clipped)
    assert buildings.empty and "levels" in buildings and buildings.crs.to_epsg() == 4326


def test_components_from_nodes_and_areas(tmp_path):
    nodes = {1: (116.400, 39.900, {"highway": "street_lamp"}), 2: (116.401, 39.900, {"amenity": "bench"}),
             3: (116.402, 39.900, {"amenity": "cafe"}), 4: (116.403, 39.900), 5: (116.404, 39.900),
             6: (116.404, 39.901)}
    path = write_osm(tmp_path / "c.osm", nodes, ways=[(60, [4, 5, 6, 4], {"amenity": "bicycle_parking"})])
    components = osm.components_from_osm(path, table=DOMAIN_TABLE)
    assert components[["element", "osmid", "category"]].values.tolist() == [
        ["node", 1, "0118"], ["node", 2, "0407"], ["way", 60, "0212"]]
    assert set(components.geom_type) == {"Point"}
    assert components.geometry[2].within(shapely.Polygon([nodes[i][:2] for i in (4, 5, 6)]))


def test_component_table_from_csv_keeps_leading_zeros(tmp_path, clipped):
    table = tmp_path / "tags.csv"
    table.write_text("key,value,code\nhighway,residential,0209\n", encoding="utf-8")
    components = osm.components_from_osm(clipped, table=table)
    assert components["category"].tolist() == ["0209", "0209"]
    table.write_text("key,value,code\nhighway,residential,209\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"tags\.csv: component codes must be 4 digits"):
        osm.components_from_osm(clipped, table=table)
    table.write_text("key,code\nhighway,0209\n", encoding="utf-8")
    with pytest.raises(MissingFieldError, match="field 'value'"):
        osm.components_from_osm(clipped, table=table)


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path):
    missing = tmp_path / "nowhere.osm"
    with pytest.raises(InputFileError, match=re.escape(f"{missing}: file not found")):
        osm.streets_from_osm(missing)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("text.osm", b"hello, not xml", "not readable as OSM XML"),
    ("cut.osm", b'<osm version="0.6"><node id="1" lat="1"', "not readable as OSM XML"),
    ("gpx.osm", b'<gpx version="1.1"></gpx>', "root element is <gpx>"),
    ("broken.osm.bz2", b"BZh91AY&SY not really bzip2", "OSM XML|damaged"),
    ("broken.osm.gz", b"\x1f\x8b\x08\x00 not really gzip", "OSM XML|damaged"),
    ("extract.osm.pbf", b"\x00\x00\x00\x0d\x0a\x09OSMHeader", "not readable as OSM PBF"),
    ("text.osm.pbf", b"hello, not a PBF file", "not readable as OSM PBF"),
    ("empty.osm.pbf", b"", "not readable as OSM PBF"),
])
def test_unreadable_files_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    for reader in (osm.streets_from_osm, osm.buildings_from_osm, osm.components_from_osm):
        with pytest.raises(InputDataError, match=message) as err:
            reader(path)
        assert str(path) in str(err.value)


def test_file_without_streets(tmp_path):
    path = write_osm(tmp_path / "trees.osm", {1: (116.4, 39.9, {"natural": "tree"})})
    with pytest.raises(InputDataError, match=r"trees\.osm: no streets \(network type 'all'\) found"):
        osm.streets_from_osm(path)
    with pytest.raises(InputDataError, match="no streets"):
        osm.graph_from_osm(path)
    with pytest.raises(InputDataError, match="no streets of the classes motorway, trunk"):
        osm.communities_from_osm(path)


# --------------------------------------------------------------------------- communities on a tiny town


@pytest.fixture
def town(tmp_path):
    """A 0.01° square in Beijing cut by a primary and a secondary street that stop 40 m short of its edges."""
    corners = {1: (116.40, 39.90), 2: (116.41, 39.90), 3: (116.41, 39.91), 4: (116.40, 39.91)}
    streets = {11: (116.4005, 39.905), 12: (116.4095, 39.905), 13: (116.405, 39.9005), 14: (116.405, 39.9095),
               15: (116.402, 39.9005), 16: (116.402, 39.9045)}
    return write_osm(tmp_path / "town.osm", {**corners, **streets}, ways=[
        (1, [11, 12], {"highway": "primary", "name": "Chang'an Jie"}),
        (2, [13, 14], {"highway": "secondary", "name": "Wangfujing"}),
        (3, [15, 16], {"highway": "residential", "name": "Hutong"}),  # not an arterial: cuts nothing
    ])


def test_communities_of_a_tiny_town(town):
    communities = osm.communities_from_osm(town, min_area_m2=0)
    assert communities["code"].tolist() == ["990000001001", "990000001002", "990000001003", "990000001004"]
    points = communities.representative_point()
    assert (points.x.to_numpy() < 116.405).tolist() == [True, False, True, False]  # west to east
    assert (points.y.to_numpy() > 39.905).tolist() == [True, True, False, False]  # north to south
    assert set(communities["kind"]) == {"city"}
    # Wangfujing runs longest along every quarter; once taken, the next street, then numbers
    assert communities["name"].tolist() == ["Wangfujing", "Chang'an Jie", "Wangfujing 2", "Wangfujing 3"]
    assert communities.attrs["crs_local"] == "EPSG:4548"  # CGCS2000 / 3-degree GK CM 117E
    assert_tiles(communities, shapely.box(116.40, 39.90, 116.41, 39.91))


def test_small_faces_merge_until_large_enough(town):
    communities = osm.communities_from_osm(town, min_area_m2=300_000)  # each quarter is about 235 000 m²
    assert len(communities) == 2 and (communities["area_m2"] >= 300_000).all()
    assert communities.attrs["merged_faces"] == 2 and communities.attrs["small_communities"] == []
    everything = osm.communities_from_osm(town, min_area_m2=10e6)
    assert len(everything) == 1 and everything.attrs["small_communities"] == ["990000001001"]
    assert_tiles(everything, shapely.box(116.40, 39.90, 116.41, 39.91))


def test_communities_inside_a_given_boundary(town):
    boundary = gpd.GeoDataFrame(geometry=[shapely.box(116.401, 39.901, 116.407, 39.908)], crs=4326)
    communities = osm.communities_from_osm(town, min_area_m2=0, boundary=boundary)
    assert len(communities) == 4
    assert_tiles(communities, boundary.geometry[0])


def test_communities_without_extension_leave_faces_open(town):
    assert len(osm.communities_from_osm(town, min_area_m2=0, extend_m=0)) == 1


def test_communities_parameters_are_checked(town):
    with pytest.raises(ParameterError):
        osm.communities_from_osm(town, highways=())
    with pytest.raises(ParameterError):
        osm.communities_from_osm(town, min_area_m2=-1)


def assert_tiles(communities, area):
    """Valid connected polygons that tile ``area`` with no gap and no overlap (checked in metres)."""
    metric = communities.to_crs(communities.attrs["crs_local"])
    assert metric.is_valid.all() and set(metric.geom_type) == {"Polygon"}
    union = metric.union_all()
    assert abs(metric.area.sum() - union.area) <= 1e-6 * union.area  # no overlap
    expected = gpd.GeoSeries([area], crs=4326).to_crs(metric.crs)[0]
    assert union.symmetric_difference(expected).area <= 1e-6 * expected.area  # no gap
    assert communities["code"].str.fullmatch(r"990000\d{6}").all() and communities["code"].is_unique


# --------------------------------------------------------------------------- households


def footprints(kinds, sizes, levels=None):
    """Square footprints of the given side lengths (metres), side by side, in Beijing (EPSG:4548)."""
    x = 450_000 + np.cumsum([0, *[s + 10 for s in sizes[:-1]]])
    geoms = [shapely.box(x0, 4_420_000, x0 + s, 4_420_000 + s) for x0, s in zip(x, sizes)]
    data = {"building": kinds}
    if levels is not None:
        data["levels"] = levels
    return gpd.GeoDataFrame(data, geometry=geoms, crs=4548, index=pd.Index([f"b{i}" for i in range(len(kinds))]))


def test_households_from_footprints():
    b = footprints(["apartments", "church", "house", "yes", "residential", "yes", "school", None],
                   [20, 40, 30, 5, 5, 20, 30, 10], levels=[5, 3, 2, None, None, 3, 4, None])
    households = osm.estimate_households(b)
    # 400 m² x 5 / 80 = 25; church 0; house 1; 25 m² shed 0; small residential at least 1;
    # 400 m² x 3 / 80 = 15; school 0; no building type 0
    assert households.tolist() == [25, 0, 1, 0, 1, 15, 0, 0]
    assert households.index.equals(b.index) and households.name == "households"
    assert households.dtype == np.int64


def test_household_levels_and_defaults():
    b = footprints(["apartments", "apartments", "yes", "dormitory"], [20, 20, 20, 20])
    b["building:levels"] = ["3;4", "many", None, "0"]  # read as the tag when there is no levels column
    assert osm.estimate_households(b).tolist() == [15, 25, 10, 25]  # 3, default 5, default 2, default 5
    assert osm.estimate_households(b, default_levels=1).tolist() == [15, 5, 5, 5]
    assert osm.estimate_households(b, default_levels={"yes": 6}, dwelling_m2=100).tolist() == [12, 20, 24, 20]
    assert osm.estimate_households(b, residential_tags=["apartments"]).tolist() == [15, 25, 0, 0]
    houses = footprints(["house", "detached"], [20, 20])
    assert osm.estimate_households(houses).tolist() == [1, 1]
    assert osm.estimate_households(houses, residential_tags=["detached"]).tolist() == [0, 1]


def test_households_in_lonlat_are_measured_in_metres():
    b = footprints(["apartments"], [20], levels=[5]).to_crs(4326)
    assert osm.estimate_households(b).tolist() == [25]
    assert osm.estimate_households(b.iloc[:0]).tolist() == []


def test_household_errors():
    b = footprints(["apartments"], [20])
    with pytest.raises(MissingFieldError, match="field 'building'"):
        osm.estimate_households(b.rename(columns={"building": "type"}))
    with pytest.raises(MissingCRSError):
        osm.estimate_households(b.set_crs(None, allow_override=True))
    with pytest.raises(ParameterError, match="dwelling_m2"):
        osm.estimate_households(b, dwelling_m2=0)


# --------------------------------------------------------------------------- the Helsinki extract


@pytest.fixture(scope="module")
def helsinki():
    """Every Helsinki read, once for the module (about 8 s together)."""
    return {
        "streets": osm.streets_from_osm(HELSINKI),
        "buildings": osm.buildings_from_osm(HELSINKI),
        "components": osm.components_from_osm(HELSINKI),
        "communities": osm.communities_from_osm(HELSINKI),
    }


def test_helsinki_streets(helsinki):
    streets = helsinki["streets"]
    assert len(streets) == HELSINKI_STREETS["rows"]
    assert streets.attrs["trimmed_ways"] == HELSINKI_STREETS["trimmed_ways"] > 0
    assert streets.attrs["dropped_ways"] == HELSINKI_STREETS["dropped_ways"] > 0
    assert set(streets.geom_type) == {"LineString"} and streets.is_valid.all()
    assert streets["osmid"].is_unique
    assert {"primary", "secondary", "residential", "footway"} <= set(streets["highway"])
    assert "Mannerheimintie" in set(streets["name"])


def test_helsinki_walk_graph():
    graph = osm.graph_from_osm(HELSINKI)
    assert (len(graph), graph.number_of_edges()) == (HELSINKI_WALK_GRAPH["nodes"], HELSINKI_WALK_GRAPH["edges"])
    assert graph.graph["trimmed_ways"] == HELSINKI_WALK_GRAPH["trimmed_ways"]
    assert graph.graph["dropped_ways"] == HELSINKI_WALK_GRAPH["dropped_ways"]
    assert nx.is_weakly_connected(graph)


def test_helsinki_buildings(helsinki):
    buildings = helsinki["buildings"]
    assert len(buildings) == HELSINKI_BUILDINGS["rows"]
    for key in ("trimmed_ways", "dropped_ways", "trimmed_relations", "dropped_relations"):
        assert buildings.attrs[key] == HELSINKI_BUILDINGS[key], key
    assert set(buildings.geom_type) <= {"Polygon", "MultiPolygon"} and buildings.is_valid.all()
    assert buildings["levels"].notna().sum() > 100 and (buildings["levels"].dropna() >= 1).all()
    households = osm.estimate_households(buildings)
    assert households[buildings["building"] == "church"].eq(0).all()
    assert households[buildings["building"] == "apartments"].ge(1).all()


def test_helsinki_components(helsinki):
    components = helsinki["components"]
    assert components["category"].value_counts().to_dict() == HELSINKI_COMPONENTS
    lamps = components[components["category"] == "0118"]
    assert (lamps["key"] + "=" + lamps["value"]).eq("highway=street_lamp").all()
    assert set(components.geom_type) == {"Point"}
    # the default table maps at least the tags DOMAIN.md lists, to the same codes
    default = osm.component_table()
    assert DOMAIN_TABLE.merge(default, how="left", on=["key", "value"], suffixes=("", "_default")).pipe(
        lambda m: (m["code"] == m["code_default"]).all())


def test_helsinki_communities(helsinki):
    communities = helsinki["communities"]
    assert len(communities) == 6
    assert_tiles(communities, shapely.MultiPoint(shapely.get_coordinates(helsinki_nodes())).convex_hull)
    assert (communities["area_m2"] >= 100_000).all()
    assert communities["name"].is_unique and not communities["name"].str.startswith("Area").any()


def helsinki_nodes():
    with bz2.open(HELSINKI, "rt", encoding="utf-8") as f:
        text = f.read()
    return [shapely.Point(float(lon), float(lat))
            for lat, lon in re.findall(r'<node id="\d+" [^>]*lat="([-\d.]+)" lon="([-\d.]+)"', text)]


def test_readme_quotes_these_figures():
    readme = README.read_text(encoding="utf-8")
    rows = {
        "streets_from_osm": [HELSINKI_STREETS["rows"], HELSINKI_STREETS["trimmed_ways"],
                             HELSINKI_STREETS["dropped_ways"]],
        "graph_from_osm": [HELSINKI_WALK_GRAPH["nodes"], HELSINKI_WALK_GRAPH["edges"],
                           HELSINKI_WALK_GRAPH["trimmed_ways"], HELSINKI_WALK_GRAPH["dropped_ways"]],
        "buildings_from_osm": [HELSINKI_BUILDINGS[k] for k in ("rows", "trimmed_ways", "dropped_ways",
                                                               "trimmed_relations", "dropped_relations")],
        "components_from_osm": [sum(HELSINKI_COMPONENTS.values())],
    }
    for reader, figures in rows.items():
        line = next(line for line in readme.splitlines() if line.startswith(f"| `{reader}`"))
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", line.split("|", 2)[2])]
        assert numbers[:len(figures)] == figures, reader
    assert "421" in readme and "ODbL" in readme and "© OpenStreetMap contributors" in readme
    assert "helsinki.osm.pbf" in readme and "make_pbf.py" in readme


# --------------------------------------------------------------------------- PBF, as Geofabrik and BBBike extracts come


def to_pbf(source, dest):
    """The same elements as OSM PBF, written by pyosmium (what ``osmium cat -o x.osm.pbf`` does)."""
    import osmium

    with osmium.SimpleWriter(str(dest)) as writer:
        for obj in osmium.FileProcessor(str(source)):
            writer.add(obj)
    return dest


def assert_same_layer(pbf, xml):
    """Same rows, fields, repair counts and geometries (within 1e-9 degrees, about 0.1 mm)."""
    assert pbf.attrs["source"].endswith(".pbf") and not xml.attrs["source"].endswith(".pbf")
    counts = [k for k in xml.attrs if k != "source"]
    assert counts and {k: pbf.attrs[k] for k in counts} == {k: xml.attrs[k] for k in counts}
    assert pbf.crs == xml.crs and len(pbf) == len(xml)
    pd.testing.assert_frame_equal(pd.DataFrame(pbf.drop(columns="geometry")),
                                  pd.DataFrame(xml.drop(columns="geometry")))
    assert pbf.geometry.geom_equals_exact(xml.geometry, tolerance=1e-9).all()


@pytest.fixture
def clipped_everything(tmp_path):
    """A clipped extract with streets, buildings (one a multipolygon losing a member) and components."""
    nodes = {**ROW, 7: (116.400, 39.901), 8: (116.401, 39.901, {"highway": "street_lamp"}),
             9: (116.402, 39.901, {"amenity": "bench", "name": "长椅"}), 20: (116.403, 39.902),
             21: (116.404, 39.902), 22: (116.404, 39.903)}
    return write_osm(tmp_path / "clipped.osm.bz2", nodes, ways=[
        (10, [1, 2, 3, 99], {"highway": "residential", "name": "Dongsi"}),
        (11, [1, 2, 99, 4, 5, 6], {"highway": "residential"}),
        (12, [6, 99], {"highway": "footway"}),
        (30, [1, 2, 96, 7, 1], {"building": "apartments", "building:levels": "6"}),  # trimmed
        (31, [2, 3, 98, 2], {"building": "house"}),  # two nodes left: dropped
        (40, [20, 21, 22, 20], {}),
        (41, [20, 21, 97, 20], {"amenity": "bicycle_parking"}),  # an area component, trimmed
    ], relations=[(50, [(40, "outer"), (42, "inner")], {"type": "multipolygon", "building": "yes"}),
                  (51, [(43, "outer")], {"type": "multipolygon", "building": "yes"})])


def test_clipped_pbf_is_repaired_and_counted_like_its_xml(clipped_everything, tmp_path):
    pbf = to_pbf(clipped_everything, tmp_path / "clipped.osm.pbf")
    for reader in (osm.streets_from_osm, osm.buildings_from_osm, osm.components_from_osm):
        xml_layer, pbf_layer = reader(clipped_everything), reader(pbf)
        assert len(xml_layer) > 0
        assert_same_layer(pbf_layer, xml_layer)
    buildings = osm.buildings_from_osm(pbf)
    assert sorted(buildings[["element", "osmid"]].values.tolist()) == [["relation", 50], ["way", 30]]
    assert [buildings.attrs[k] for k in ("trimmed_ways", "dropped_ways", "trimmed_relations",
                                         "dropped_relations")] == [1, 1, 1, 1]
    xml_graph = osm.graph_from_osm(clipped_everything, network_type="all", simplify=False, retain_all=True)
    pbf_graph = osm.graph_from_osm(pbf, network_type="all", simplify=False, retain_all=True)
    assert sorted(pbf_graph.nodes) == sorted(xml_graph.nodes) == [1, 2, 3, 4, 5, 6]
    assert sorted(pbf_graph.edges) == sorted(xml_graph.edges)
    assert (pbf_graph.graph["trimmed_ways"], pbf_graph.graph["dropped_ways"]) == (2, 1)


@pytest.fixture(scope="module")
def helsinki_pbf():
    return {
        "streets": osm.streets_from_osm(HELSINKI_PBF),
        "buildings": osm.buildings_from_osm(HELSINKI_PBF),
        "components": osm.components_from_osm(HELSINKI_PBF),
    }


def test_helsinki_pbf_gives_the_streets_buildings_and_components_of_the_xml(helsinki, helsinki_pbf):
    for kind in ("streets", "buildings", "components"):
        assert_same_layer(helsinki_pbf[kind], helsinki[kind])
    streets, buildings = helsinki_pbf["streets"], helsinki_pbf["buildings"]
    assert [len(streets), streets.attrs["trimmed_ways"], streets.attrs["dropped_ways"]] == list(
        HELSINKI_STREETS.values())
    assert [len(buildings), *(buildings.attrs[k] for k in list(HELSINKI_BUILDINGS)[1:])] == list(
        HELSINKI_BUILDINGS.values())
    assert helsinki_pbf["components"]["category"].value_counts().to_dict() == HELSINKI_COMPONENTS


def test_helsinki_pbf_holds_every_element_of_the_xml():
    import osmium

    def elements(path):
        return sorted((obj.type_str(), obj.id, obj.version, len(obj.tags)) for obj in osmium.FileProcessor(str(path)))

    assert elements(HELSINKI_PBF) == elements(HELSINKI)
    assert HELSINKI_PBF.stat().st_size < 1_000_000


def test_read_layer_and_the_communities_command_take_pbf(town, tmp_path, capsys):
    assert file_format("Guizhou-latest.OSM.PBF") == ".osm.pbf"
    pbf = to_pbf(town, tmp_path / "town.osm.pbf")
    streets = read_layer(pbf, osm_kind="streets")
    assert sorted(streets["osmid"]) == [1, 2, 3] and streets.crs.to_epsg() == 4326
    with pytest.raises(InputDataError, match=r"\.osm\.pbf"):
        file_format(tmp_path / "tiles.pbf")
    out = tmp_path / "communities.gpkg"
    args = parser().parse_args(["communities", "--osm", str(pbf), "-o", str(out), "--min-area", "0"])
    assert args.func(args) == 0
    assert "wrote 4 communities" in capsys.readouterr().out
    from_xml = osm.communities_from_osm(town, min_area_m2=0)
    written = gpd.read_file(out, layer="communities")
    assert written["code"].tolist() == from_xml["code"].tolist()
    assert written.geometry.geom_equals_exact(from_xml.geometry, tolerance=1e-9).all()


# --------------------------------------------------------------------------- command line


def parser():
    p = argparse.ArgumentParser(prog="gridkit")
    communities_cmd.register(p.add_subparsers(dest="verb"))
    return p


def test_cli_writes_communities(town, tmp_path, capsys):
    out = tmp_path / "out" / "communities.gpkg"
    args = parser().parse_args(["communities", "--osm", str(town), "-o", str(out), "--min-area", "0"])
    assert args.func(args) == 0
    assert "wrote 4 communities" in capsys.readouterr().out
    assert pyogrio.list_layers(out).tolist() == [["communities", "Polygon"]]
    written = gpd.read_file(out, layer="communities")
    assert written["code"].tolist() == ["990000001001", "990000001002", "990000001003", "990000001004"]
    assert [p.name for p in out.parent.iterdir()] == ["communities.gpkg"]  # no temporary file left


def test_cli_errors_leave_no_file(tmp_path):
    out = tmp_path / "c.gpkg"
    args = parser().parse_args(["communities", "--osm", str(tmp_path / "none.osm"), "-o", str(out)])
    with pytest.raises(InputFileError):
        args.func(args)
    args = parser().parse_args(["communities", "--osm", "x.osm", "-o", str(out), "--highways", " , "])
    with pytest.raises(ParameterError):
        args.func(args)
    assert not out.exists()
