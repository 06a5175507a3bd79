"""`gridkit partition` on real files: outputs, reports, bad input, and each infeasibility reason."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from browser import Browser
from gridkit_cli.main import main
from partition_cases import CRS, X0, Y0, make_case

from gridkit.partition.pipeline import partition


def write_case(case, folder):
    paths = {}
    for name, layer in case.items():
        paths[name] = folder / f"{name}.gpkg"
        layer.to_file(paths[name], layer=name)
    return paths


def test_partition_writes_every_output(tmp_path):
    case = make_case(3, households=4000)
    ded = gpd.GeoDataFrame({"name": ["第一小学"]}, geometry=[shapely.box(X0 - 60, Y0 - 40, X0 + 60, Y0 + 40)], crs=CRS)
    paths = write_case({**case, "dedicated": ded}, tmp_path)
    out = tmp_path / "out"
    code = main(["--quiet", "partition", str(paths["communities"]), "--buildings", str(paths["buildings"]),
                 "--streets", str(paths["streets"]), "--dedicated", str(paths["dedicated"]), "-o", str(out)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["grids.gpkg", "map.html", "report.json", "report.md"]
    layers = {name for name, _ in pyogrio.list_layers(out / "grids.gpkg")}
    assert layers == {"grids", "buildings", "units", "communities"}
    grids = gpd.read_file(out / "grids.gpkg", layer="grids")
    for col in ["grid_code", "community_code", "community_name", "kind", "households", "buildings", "area_m2",
                "compactness", "within_bounds", "dedicated"]:
        assert col in grids
    assert grids["dedicated"].sum() == 1
    assert grids.loc[grids["dedicated"], "dedicated_name"].iat[0] == "第一小学"
    assert grids["community_name"].isin(["文昌社区", "龙井村"]).all()
    buildings = gpd.read_file(out / "grids.gpkg", layer="buildings")
    assert len(buildings) == len(case["buildings"])
    assert buildings["grid_code"].isin(grids["grid_code"]).sum() + (buildings["grid_code"] == "").sum() == len(buildings)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    o = report["overall"]
    assert o["households_conserved"] and o["share_one_piece"] == 1.0
    assert o["households_in"] == int(case["buildings"]["households"].sum())
    assert "seed" not in report["reproduce"] and "shapely" in report["reproduce"]["versions"]
    assert o["balance_tolerance"] == 0.2 and 0 <= o["balance_share_within_tolerance"] <= 1
    assert grids["grid_code"].iat[0] in (out / "map.html").read_text(encoding="utf-8")
    # the quick-look map opens with the network blocked and draws every grid
    with Browser() as browser:
        page = browser.open(out / "map.html", wait_for="window.gridkit !== undefined")
        assert page.blocked == [] and page.failed == [] and page.errors == []
        drawn = page.evaluate("""() => gridkit.layers.grids.getLayers()
            .filter(l => l._path && l._path.isConnected).length""")
        assert drawn == len(grids)


def test_bad_households_exit_3_and_write_nothing(tmp_path, capsys):
    case = make_case(4, households=800)
    case["buildings"].loc[[2, 5], "households"] = -3
    paths = write_case(case, tmp_path)
    out = tmp_path / "out"
    code = main(["partition", str(paths["communities"]), "--buildings", str(paths["buildings"]), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 3
    assert "buildings.gpkg" in err and "'households'" in err and "Traceback" not in err
    assert not out.exists()


def test_missing_code_field_names_the_field(tmp_path, capsys):
    case = make_case(5, households=800)
    paths = write_case(case, tmp_path)
    code = main(["partition", str(paths["communities"]), "--buildings", str(paths["buildings"]),
                 "--code-field", "区划代码", "-o", str(tmp_path / "o")])
    assert code == 3
    assert "区划代码" in capsys.readouterr().err


def _one(geom, hh, kind="city"):
    vvv = "001" if kind == "city" else "201"
    comm = gpd.GeoDataFrame({"code": [f"520102001{vvv}"]}, geometry=[geom], crs=CRS)
    return comm, gpd.GeoDataFrame({"households": hh[0]}, geometry=hh[1], crs=CRS)


def _squares(xy):
    xy = np.asarray(xy, dtype=float)
    return shapely.box(xy[:, 0] - 5, xy[:, 1] - 5, xy[:, 0] + 5, xy[:, 1] + 5)


def test_reason_community_below_minimum():
    comm, b = _one(shapely.box(X0, Y0, X0 + 200, Y0 + 200), ([20, 40], _squares([(X0 + 50, Y0 + 50), (X0 + 150, Y0 + 150)])), "rural")
    r = partition(comm, b)
    assert len(r.grids) == 1 and r.grids["households"].iat[0] == 60
    assert "below the minimum 100" in r.grids["note"].iat[0]
    assert (r.issues["rule"] == "households_within_bounds").sum() == 1


def test_reason_building_above_maximum():
    pts = [(X0 + 50 + 40 * i, Y0 + 100) for i in range(10)]
    hh = [800] + [40] * 9
    comm, b = _one(shapely.box(X0, Y0, X0 + 500, Y0 + 200), (hh, _squares(pts)))
    r = partition(comm, b)
    over = r.grids[r.grids["households"] > 500]
    assert len(over) == 1 and over["households"].iat[0] == 800
    assert "one building holds 800 households" in over["note"].iat[0]
    assert r.grids.loc[r.grids["households"] <= 500, "within_bounds"].all()


def test_reason_detached_part_below_minimum():
    main_part = shapely.box(X0, Y0, X0 + 400, Y0 + 400)
    island = shapely.box(X0 + 600, Y0, X0 + 650, Y0 + 50)
    rng = np.random.default_rng(0)
    pts = rng.uniform([X0 + 10, Y0 + 10], [X0 + 390, Y0 + 390], (40, 2)).tolist() + [(X0 + 625, Y0 + 25)]
    hh = [25] * 40 + [30]
    comm, b = _one(shapely.MultiPolygon([main_part, island]), (hh, _squares(pts)))
    r = partition(comm, b)
    assert (shapely.get_num_geometries(r.grids.geometry.to_numpy()) == 1).all()
    small = r.grids[r.grids["households"] == 30]
    assert len(small) == 1 and "part of the community" in small["note"].iat[0]
    assert r.grids["households"].sum() == sum(hh)


def test_reason_no_grouping_of_whole_buildings():
    pts = [(X0 + 50, Y0 + 50), (X0 + 150, Y0 + 50), (X0 + 50, Y0 + 150), (X0 + 150, Y0 + 150)]
    comm, b = _one(shapely.box(X0, Y0, X0 + 200, Y0 + 200), ([222, 44, 30, 21], _squares(pts)), "rural")
    r = partition(comm, b)
    assert not r.grids["within_bounds"].all()
    assert any("no grouping of whole buildings" in n for n in r.grids["note"])
    assert r.grids["households"].sum() == 317


def test_buildings_outside_every_community_are_reported():
    comm, b = _one(shapely.box(X0, Y0, X0 + 300, Y0 + 300),
                   ([100, 100, 100, 77], _squares([(X0 + 50, Y0 + 50), (X0 + 150, Y0 + 150), (X0 + 250, Y0 + 250),
                                                   (X0 + 900, Y0 + 900)])))
    r = partition(comm, b)
    assert r.figures["households_outside"] == 77
    assert r.buildings["grid_code"].iat[3] == ""
    assert (r.issues["rule"] == "households_conserved").sum() == 1


def test_estimated_households_are_declared_in_the_report(tmp_path):
    osm = tmp_path / "town.osm"
    nodes: list[str] = []
    ways: list[str] = []
    # a street across a square and two 6-storey apartment blocks beside it (lon/lat near Guiyang)
    lon0, lat0 = 106.62, 26.47

    def node(dx, dy):
        nodes.append(f'<node id="{len(nodes) + 1}" lat="{lat0 + dy:.6f}" lon="{lon0 + dx:.6f}"/>')
        return len(nodes)

    a, b = node(0, 0.001), node(0.004, 0.001)
    ways.append(f'<way id="1"><nd ref="{a}"/><nd ref="{b}"/><tag k="highway" v="residential"/></way>')
    for w, (x, y) in enumerate([(0.001, 0.0015), (0.001, 0.0002)], start=2):
        ring = [node(x, y), node(x + 0.0004, y), node(x + 0.0004, y + 0.0003), node(x, y + 0.0003)]
        refs = "".join(f'<nd ref="{r}"/>' for r in [*ring, ring[0]])
        ways.append(f'<way id="{w}">{refs}<tag k="building" v="apartments"/><tag k="building:levels" v="6"/></way>')
    osm.write_text('<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">' + "".join(nodes) + "".join(ways)
                   + "</osm>", encoding="utf-8")
    comm = gpd.GeoDataFrame({"code": ["520102001001"], "name": ["文昌社区"]},
                            geometry=[shapely.box(lon0 - 0.001, lat0 - 0.001, lon0 + 0.005, lat0 + 0.003)], crs=4490)
    comm.to_file(tmp_path / "c.gpkg")
    out = tmp_path / "out"
    code = main(["--quiet", "partition", str(tmp_path / "c.gpkg"), "--buildings", str(osm), "--estimate-households",
                 "--osm", str(osm), "-o", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "building:levels" in report["overall"]["households_counted_as"]
    assert "Households were counted as" in (out / "report.md").read_text(encoding="utf-8")
    grids = gpd.read_file(out / "grids.gpkg", layer="grids")
    assert grids["households"].sum() > 0


def test_reason_pocket_behind_a_building():
    # a strip: the 40-household building at the end is reachable only through the 480 one
    xs = [50, 150] + [250 + 100 * i for i in range(8)]
    comm, b = _one(shapely.box(X0, Y0, X0 + 1000, Y0 + 60), ([40, 480] + [30] * 8,
                                                             _squares([(X0 + x, Y0 + 30) for x in xs])))
    r = partition(comm, b)
    bad = r.grids[~r.grids["within_bounds"]]
    assert len(bad) == 1
    assert "reachable only through it" in bad["note"].iat[0]
    assert r.grids["households"].sum() == 40 + 480 + 240


def test_household_points_without_a_count_are_one_household_each(tmp_path, capsys):
    rng = np.random.default_rng(3)
    xy = rng.uniform([X0 + 5, Y0 + 5], [X0 + 395, Y0 + 395], (900, 2))
    xy[:300] = xy[:300].round(-1)  # households of one building share a point
    comm = gpd.GeoDataFrame({"code": ["520102001001"]}, geometry=[shapely.box(X0, Y0, X0 + 400, Y0 + 400)], crs=CRS)
    points = gpd.GeoDataFrame({"name": ["户"] * len(xy)}, geometry=shapely.points(xy), crs=CRS)
    comm.to_file(tmp_path / "c.gpkg")
    points.to_file(tmp_path / "p.gpkg")
    out = tmp_path / "out"
    assert main(["--quiet", "partition", str(tmp_path / "c.gpkg"), "--buildings", str(tmp_path / "p.gpkg"),
                 "-o", str(out)]) == 0
    grids = gpd.read_file(out / "grids.gpkg", layer="grids")
    assert grids["households"].sum() == 900 and grids["within_bounds"].all() and len(grids) == 3
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "one household per point" in report["overall"]["households_counted_as"]
    # polygons without the field are still an error naming it
    case = make_case(6, households=500)
    case["buildings"].drop(columns="households").to_file(tmp_path / "b.gpkg")
    assert main(["partition", str(tmp_path / "c.gpkg"), "--buildings", str(tmp_path / "b.gpkg"),
                 "-o", str(tmp_path / "o2")]) == 3
    assert "'households'" in capsys.readouterr().err


def test_the_job_reads_partitions_and_writes_without_the_command_line(tmp_path):
    from gridkit.partition.job import PartitionFiles, partition_files
    from gridkit.partition.options import PartitionOptions

    paths = write_case(make_case(8, households=1500), tmp_path)
    out = tmp_path / "out"
    run = partition_files(PartitionFiles(paths["communities"], paths["buildings"], streets=paths["streets"]), out,
                          options=PartitionOptions(tolerance=0.15))
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in run.files)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["reproduce"]["parameters"]["tolerance"] == 0.15
    assert report["overall"]["balance_tolerance"] == 0.15
    assert report["reproduce"]["parameters"]["boundaries"] == str(paths["communities"])
    assert set(report["rules"]) == {"households_within_bounds", "inside_one_community", "tiles_community",
                                    "one_piece", "building_not_split", "households_conserved", "grid_codes"}
    assert run.report["overall"]["grids"] == len(gpd.read_file(out / "grids.gpkg", layer="grids"))


def test_the_job_names_every_unreadable_file_at_once(tmp_path):
    from gridkit.errors import InputDataError
    from gridkit.partition.job import PartitionFiles, partition_files

    (tmp_path / "broken.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(InputDataError) as err:
        partition_files(PartitionFiles(tmp_path / "missing.gpkg", tmp_path / "broken.gpkg"), tmp_path / "out")
    assert "2 problems" in str(err.value) and "missing.gpkg" in str(err.value) and "broken.gpkg" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_the_result_prints_a_short_summary():
    case = make_case(9, households=1200)
    result = partition(case["communities"], case["buildings"], streets=case["streets"])
    text = repr(result)
    assert text.startswith(f"PartitionResult: 2 communities, {len(result.grids)} grids")
    assert "within the household bounds" in text and len(text.splitlines()) <= 4
    assert "POLYGON" not in text and "geometry" not in text


def test_options_by_keyword_or_dataclass_give_the_same_grids():
    from gridkit.errors import ParameterError
    from gridkit.partition.options import PartitionOptions

    case = make_case(10, households=900, kind="rural")
    a = partition(case["communities"], case["buildings"], kind="rural", max_households=250, tolerance=0.3)
    b = partition(case["communities"], case["buildings"], options=PartitionOptions(kind="rural", max_households=250,
                                                                                   tolerance=0.3))
    assert a.grids["grid_code"].tolist() == b.grids["grid_code"].tolist()
    assert (a.grids["households"] <= 250).sum() == (b.grids["households"] <= 250).sum()
    with pytest.raises(ParameterError, match="households_field"):
        partition(case["communities"], case["buildings"], household_field="户数")


def test_the_core_of_the_partition_draws_no_map():
    import subprocess
    import sys

    code = ("import sys, gridkit.partition, gridkit.partition.pipeline, gridkit.partition.rules, "
            "gridkit.partition.report, gridkit.partition.community; "
            "print(sorted(m for m in sys.modules if m.startswith(('gridkit.maps', 'folium'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
