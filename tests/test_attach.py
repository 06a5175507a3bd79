"""Points into grids (gridkit.incidents.attach, .categories, .stats) and the `gridkit attach` command.

Properties over generated square lattices and Voronoi grids with points on edges and
vertices; expected values from a brute-force all-pairs check or worked out by hand.
"""

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.datasets import get_path
from gridkit.errors import InputDataError, MissingCRSError, MissingFieldError
from gridkit.incidents import attach as at
from gridkit.incidents.categories import categories_for_points
from gridkit.incidents.stats import grid_stats

# EPSG:4545 is CGCS2000 / 3-degree GK CM 108E; near its central meridian local_crs chooses it
# too, so distances measured by attach_points are the plain planar distances here.
X0, Y0 = 500_000, 2_930_000
COMMUNITY = "520199001001"
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


def brute_force(points, grids):
    """Expected grid code (smallest code among the grids a point intersects) and distance."""
    g = grids.geometry.to_numpy()
    p = points.geometry.to_crs(grids.crs).to_numpy()
    hits = shapely.intersects(g[:, None], p[None, :])
    codes = grids["grid_code"].to_numpy(dtype=object)
    expected = []
    for k in range(len(p)):
        mine = sorted(codes[hits[:, k]])
        expected.append(mine[0] if mine else "")
    distance = shapely.distance(g[:, None], p[None, :]).min(axis=0)
    return np.array(expected, dtype=object), np.where(hits.any(axis=0), 0.0, distance)


@st.composite
def lattices(draw):
    """A lattice of square grids with shuffled codes, and points on its vertices, edges, inside and outside."""
    nx, ny = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    size = draw(st.sampled_from([50, 100, 250]))
    serials = draw(st.permutations(range(1, nx * ny + 1)))
    boxes = [shapely.box(X0 + i * size, Y0 + j * size, X0 + (i + 1) * size, Y0 + (j + 1) * size)
             for j in range(ny) for i in range(nx)]
    grids = gpd.GeoDataFrame({"grid_code": [f"{COMMUNITY}{s:03d}" for s in serials], "community_code": COMMUNITY},
                             geometry=boxes, crs=4545)
    kinds = st.sampled_from(["vertex", "x-edge", "y-edge", "inside", "outside"])
    specs = draw(st.lists(st.tuples(kinds, st.integers(0, nx), st.integers(0, ny), st.integers(1, 3),
                                    st.integers(1, 500)), min_size=1, max_size=40))
    xy = []
    for kind, i, j, q, d in specs:
        x, y = X0 + i * size, Y0 + j * size
        if kind == "x-edge":
            x = X0 + min(i, nx - 1) * size + q * size / 4
        elif kind == "y-edge":
            y = Y0 + min(j, ny - 1) * size + q * size / 4
        elif kind == "inside":
            x, y = X0 + (min(i, nx - 1) + q / 4) * size, Y0 + (min(j, ny - 1) + 0.5) * size
        elif kind == "outside":
            x = X0 - d if q == 1 else X0 + nx * size + d
        xy.append((x, y))
    index = pd.Index(draw(st.permutations(range(100, 100 + len(xy)))), name="fid")
    points = gpd.GeoDataFrame({"label": [f"p{k}" for k in index]}, geometry=shapely.points(xy), crs=4545, index=index)
    return grids, points, draw(st.randoms(use_true_random=False))


@st.composite
def voronoi_grids(draw):
    """Voronoi cells clipped to a box, and points on their vertices (shared by 2-3 cells) and elsewhere."""
    n = draw(st.integers(2, 12))
    seeds = draw(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=n, max_size=n,
                          unique=True))
    box = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)
    cells = shapely.voronoi_polygons(shapely.multipoints(np.array(seeds, float) + [X0, Y0]), extend_to=box)
    cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), box)
    serials = draw(st.permutations(range(1, len(cells) + 1)))
    grids = gpd.GeoDataFrame({"grid_code": [f"{COMMUNITY}{s:03d}" for s in serials]}, geometry=cells, crs=4545)
    vertices = np.unique(shapely.get_coordinates(cells), axis=0)
    picks = draw(st.lists(st.integers(0, len(vertices) - 1), max_size=30))
    extra = draw(st.lists(st.tuples(st.integers(-200, 1200), st.integers(-200, 1200)), max_size=20))
    xy = np.concatenate([vertices[picks].reshape(-1, 2), np.array(extra, float).reshape(-1, 2) + [X0, Y0]])
    points = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=4545)
    return grids, points, draw(st.randoms(use_true_random=False))


def check_attached(points, grids, out):
    # conservation: every input point exactly once, same index, same order, geometry untouched
    assert out.index.equals(points.index)
    assert len(out) == len(points)
    assert shapely.equals_exact(out.geometry.to_numpy(), points.geometry.to_numpy(), tolerance=0).all()
    assert out.crs == points.crs
    expected, distance = brute_force(points, grids)
    assert out["grid_code"].tolist() == expected.tolist()
    np.testing.assert_allclose(out["outside_m"].to_numpy(), distance, atol=1e-6)
    inside = out["grid_code"] != ""
    assert (out.loc[inside, "outside_m"] == 0).all() and (out.loc[~inside, "outside_m"] > 0).all()
    assert (out.loc[~inside, "community_code"] == "").all()


def check_order_independent(points, grids, out, rnd):
    grid_order = list(range(len(grids)))
    point_order = list(range(len(points)))
    rnd.shuffle(grid_order)
    rnd.shuffle(point_order)
    again = at.attach_points(points.iloc[point_order], grids.iloc[grid_order])
    pd.testing.assert_frame_equal(again.loc[out.index], out)


@SETTINGS
@given(lattices())
def test_lattice_every_point_once_smallest_code_on_shared_edges(case):
    grids, points, rnd = case
    out = at.attach_points(points, grids)
    check_attached(points, grids, out)
    assert (out.loc[out["grid_code"] != "", "community_code"] == COMMUNITY).all()
    check_order_independent(points, grids, out, rnd)


@SETTINGS
@given(voronoi_grids())
def test_voronoi_every_point_once_smallest_code_on_shared_vertices(case):
    grids, points, rnd = case
    out = at.attach_points(points, grids)
    check_attached(points, grids, out)
    assert (out["community_code"] == "").all()  # these grids carry no community field
    check_order_independent(points, grids, out, rnd)


def test_shared_vertex_of_four_grids_goes_to_the_smallest_code():
    codes = ["520199001001004", "520199001001002", "520199001001003", "520199001001001"]
    boxes = [shapely.box(X0 + i * 100, Y0 + j * 100, X0 + (i + 1) * 100, Y0 + (j + 1) * 100)
             for j in range(2) for i in range(2)]
    grids = gpd.GeoDataFrame({"grid_code": codes}, geometry=boxes, crs=4545)
    centre = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 100, Y0 + 100)], crs=4545)
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        assert at.attach_points(centre, grids.iloc[order])["grid_code"].tolist() == ["520199001001001"]


def test_outside_distance_by_hand():
    grids = gpd.GeoDataFrame({"grid_code": ["G1"]}, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)], crs=4545)
    # 30 m east of the east edge; 30 m east and 40 m north of the north-east corner (a 3-4-5 triangle)
    points = gpd.GeoDataFrame(geometry=shapely.points([(X0 + 130, Y0 + 50), (X0 + 130, Y0 + 140)]), crs=4545)
    out = at.attach_points(points, grids)
    assert out["grid_code"].tolist() == ["", ""]
    np.testing.assert_allclose(out["outside_m"], [30.0, 50.0], atol=1e-9)


def test_points_in_another_crs_are_reprojected_and_keep_their_crs():
    grids = gpd.GeoDataFrame({"grid_code": ["A", "B"]}, crs=4545,
                             geometry=[shapely.box(X0, Y0, X0 + 500, Y0 + 500),
                                       shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 500)])
    local = gpd.GeoDataFrame(geometry=shapely.points([(X0 + 250, Y0 + 250), (X0 + 750, Y0 + 250),
                                                      (X0 + 1300, Y0 + 250)]), crs=4545)
    lonlat = local.to_crs(4490)
    out = at.attach_points(lonlat, grids)
    assert out.crs.to_epsg() == 4490
    assert out["grid_code"].tolist() == ["A", "B", ""]
    assert out["outside_m"].iloc[2] == pytest.approx(300.0, abs=0.01)
    # grids in lon/lat, points projected: distances still in metres
    out2 = at.attach_points(local, grids.to_crs(4326))
    assert out2["grid_code"].tolist() == ["A", "B", ""]
    assert out2["outside_m"].iloc[2] == pytest.approx(300.0, rel=1e-3)


def test_bad_grids_and_points_name_the_problem():
    grids = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4545)
    grids.attrs["source"] = "grids.gpkg"
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0.5, 0.5)], crs=4545)
    with pytest.raises(MissingFieldError) as exc:
        at.attach_points(points, grids)
    assert "grids.gpkg" in str(exc.value) and "'grid_code'" in str(exc.value)
    with pytest.raises(InputDataError, match="repeat") as exc:
        at.attach_points(points, grids.rename(columns={"code": "grid_code"}).assign(grid_code="A"))
    assert "features 0, 1" in str(exc.value)
    with pytest.raises(MissingCRSError):
        at.attach_points(points.set_crs(None, allow_override=True), grids.rename(columns={"code": "grid_code"}))
    empty = gpd.GeoDataFrame(geometry=[shapely.Point(0.5, 0.5), None], crs=4545, index=[7, 9])
    with pytest.raises(InputDataError, match="without a geometry") as exc:
        at.attach_points(empty, grids.rename(columns={"code": "grid_code"}))
    assert "feature 9" in str(exc.value)


# --------------------------------------------------------------------------- categories and counts


def test_categories_from_codes_and_ids_unknown_kept():
    frame = pd.DataFrame({
        "category": ["0118", None, "9999", "", "0101"],
        "component_id": [None, "5201990305000001", None, "52019901118000012", "5201990203000009"],
    }, index=[10, 11, 12, 13, 14])
    named = categories_for_points(frame, kind="components")
    assert named.index.tolist() == [10, 11, 12, 13, 14]
    # the category field wins over the id (row 14); 17-digit ids give 5-digit categories
    assert named["category"].tolist() == ["0118", "0305", "9999", "01118", "0101"]
    assert named["category_zh"].tolist() == ["路灯", "垃圾箱", "未知", "未知", "上水井盖"]
    assert named["category_en"].tolist()[:3] == ["street light", "litter bin", "unknown"]
    assert named["major_en"].tolist() == ["public utilities", "city appearance and sanitation", "unknown",
                                          "public utilities", "public utilities"]
    assert named["category_known"].tolist() == [True, True, False, False, True]
    assert named.attrs["unknown_categories"] == {"01118": 1, "9999": 1}


def test_incident_categories_and_csv_codes_stay_text(tmp_path):
    path = tmp_path / "incidents.csv"
    path.write_text("incident_id,category,lon,lat\n520199202307010001,0505,106.6,26.5\n"
                    "520199202307010002,0102,106.61,26.5\n520199202307010003,0999,106.62,26.5\n", encoding="utf-8")
    points = at.read_points(path, role="incidents")
    assert points["category"].tolist() == ["0505", "0102", "0999"]
    assert points["incident_id"].tolist()[0] == "520199202307010001"
    named = categories_for_points(points, kind="incidents")
    assert named["category_zh"].tolist() == ["机动车乱停放", "暴露垃圾", "未知"]
    assert named.attrs["unknown_categories"] == {"0999": 1}


def test_grid_stats_by_hand():
    # two 1 km x 0.5 km grids (0.5 km2 each), 250 and 0 households
    grids = gpd.GeoDataFrame({"grid_code": ["G2", "G1"], "community_code": COMMUNITY, "households": [250, 0]},
                             geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 500),
                                       shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 500)], crs=4545)
    xy = [(X0 + 100, Y0 + 100), (X0 + 200, Y0 + 100), (X0 + 300, Y0 + 100), (X0 + 3000, Y0)]
    points = gpd.GeoDataFrame({"category": ["0118", "0305", "7777", "0118"]}, geometry=shapely.points(xy), crs=4545)
    named = categories_for_points(at.attach_points(points, grids), kind="components")
    # a street across both grids at y = 250 (1 km in each) and one along their shared edge (0.5 km)
    streets = gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0 + 250), (X0 + 2000, Y0 + 250)]),
                                         shapely.LineString([(X0 + 1000, Y0), (X0 + 1000, Y0 + 500)])], crs=4545)
    stats = grid_stats(grids, named, streets=streets)
    assert stats.index.tolist() == ["G1", "G2"]  # every grid, in code order, zero counts included
    g2, g1 = stats.loc["G2"], stats.loc["G1"]
    assert (g2["count"], g2["count_01"], g2["count_03"], g2["count_other"]) == (3, 1, 1, 1)
    assert (g1["count"], g1["count_01"]) == (0, 0)
    assert g2["area_km2"] == pytest.approx(0.5) and g2["per_km2"] == pytest.approx(6.0)
    assert g2["per_100_households"] == pytest.approx(100 * 3 / 250) and np.isnan(g1["per_100_households"])
    assert g2["street_km"] == pytest.approx(1.5) and g1["street_km"] == pytest.approx(1.5)
    assert g2["per_street_km"] == pytest.approx(2.0) and g1["per_street_km"] == 0
    assert stats["count"].sum() == (named["grid_code"] != "").sum() == 3


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def sample_grids(tmp_path_factory):
    """Grids of the sample county (gridkit partition), with a worker per grid added."""
    from gridkit_cli.main import main

    sample = get_path("sample_county")
    out = tmp_path_factory.mktemp("part")
    code = main(["--quiet", "partition", str(sample / "communities.gpkg"), "--buildings",
                 str(sample / "buildings.gpkg"), "--streets", str(sample / "streets.gpkg"), "-o", str(out)])
    assert code == 0
    grids = pyogrio.read_dataframe(out / "grids.gpkg", layer="grids")
    # every worker looks after two grids of a community (the last one maybe one)
    serial = grids.groupby("community_code").cumcount()
    grids["worker_id"] = grids["community_code"] + "-W" + (serial // 2).astype(str)
    path = out / "grids_workers.gpkg"
    pyogrio.write_dataframe(grids, path, layer="grids")
    return out / "grids.gpkg", path


def gpkg_layers(path):
    with sqlite3.connect(path) as db:
        return {name: n for name, n in db.execute("select table_name, 0 from gpkg_contents")}


def run_cli(args):
    from gridkit_cli.main import main

    return main(["--quiet", "attach", *map(str, args)])


def test_cli_components_end_to_end(sample_grids, tmp_path, capsys):
    grids, _ = sample_grids
    sample = get_path("sample_county")
    out = tmp_path / "components.gpkg"
    assert run_cli([grids, sample / "components.gpkg", "--as", "components", "--streets",
                    sample / "streets.gpkg", "-o", out]) == 0
    assert set(gpkg_layers(out)) == {"components", "grid_stats"}
    source = pyogrio.read_dataframe(sample / "components.gpkg", fid_as_index=True)
    attached = pyogrio.read_dataframe(out, layer="components")
    stats = pyogrio.read_dataframe(out, layer="grid_stats")
    n_grids = len(pyogrio.read_dataframe(grids, layer="grids"))
    assert len(attached) == len(source) and sorted(attached["component_id"]) == sorted(source["component_id"])
    inside = attached["grid_code"] != ""
    assert len(stats) == n_grids and stats["count"].sum() == inside.sum()
    assert (stats["street_km"] > 0).any()
    text = capsys.readouterr().out
    assert f"{len(source):,} points in, {inside.sum():,} attached" in text
    assert f"{(~inside).sum():,} outside" in text and "every category known" in text


def test_cli_incidents_evaluation_per_grid_and_worker(sample_grids, tmp_path, capsys):
    _, grids = sample_grids
    sample = get_path("sample_county")
    out = tmp_path / "out" / "incidents.gpkg"
    assert run_cli([grids, sample / "incidents.csv", "--as", "incidents", "--month", "2024-06", "-o", out]) == 0
    assert set(gpkg_layers(out)) == {"incidents", "grid_stats", "evaluation"}
    incidents = pyogrio.read_dataframe(out, layer="incidents")
    source = pd.read_csv(sample / "incidents.csv", dtype=str)
    assert len(incidents) == len(source)
    assert incidents["category"].tolist() == source["category"].tolist()  # "0101" kept as text
    evaluation = pyogrio.read_dataframe(out, layer="evaluation")
    grids_csv = pd.read_csv(out.parent / "incidents_evaluation_grids.csv", dtype={"grid_code": str})
    workers_csv = pd.read_csv(out.parent / "incidents_evaluation_workers.csv", dtype={"worker_id": str})
    markdown = (out.parent / "incidents_evaluation.md").read_text(encoding="utf-8")
    # June cases only: reported counts add up to the June incidents inside a grid
    june = pd.to_datetime(source["reported_at"]).dt.strftime("%Y-%m") == "2024-06"
    inside_june = (june.to_numpy() & (incidents["grid_code"] != "").to_numpy()).sum()
    assert grids_csv["reported"].sum() == inside_june == workers_csv["reported"].sum()
    assert len(evaluation) == len(grids_csv) and evaluation["rank"].min() == 1
    assert grids_csv["rank"].is_monotonic_increasing
    assert set(workers_csv["worker_id"]) == set(pyogrio.read_dataframe(grids)["worker_id"])
    assert "## Grids" in markdown and "## Workers" in markdown and "2024-06" in markdown
    # the data ends before the month does: evaluated at the latest time in the data
    latest = max(pd.to_datetime(source[c].replace("", None)).max() for c in ("reported_at", "registered_at",
                                                                             "closed_at"))
    assert latest < pd.Timestamp("2024-07-01")
    assert f"cases as of {latest:%Y-%m-%d %H:%M} reported in 2024-06" in capsys.readouterr().out


def test_cli_bad_inputs_exit_3_without_output(sample_grids, tmp_path, capsys):
    grids, _ = sample_grids
    bad = tmp_path / "bad.csv"
    bad.write_text("incident_id,category,lon,latitude_wrong\n1,0101,106.6,26.5\n", encoding="utf-8")
    out = tmp_path / "o.gpkg"
    assert run_cli([grids, bad, "--as", "incidents", "-o", out]) == 3
    assert "latitude" in capsys.readouterr().err and not out.exists()

    dates = tmp_path / "dates.csv"
    dates.write_text("incident_id,category,lon,lat,reported_at\n1,0101,106.62,26.47,2024-06-01T09:00\n"
                     "2,0102,106.62,26.47,last tuesday\n", encoding="utf-8")
    assert run_cli([grids, dates, "--as", "incidents", "-o", out]) == 3
    err = capsys.readouterr().err
    assert "dates.csv" in err and "'reported_at'" in err and "feature 1" in err
    assert not out.exists() and list(tmp_path.glob("o*")) == [] and list(tmp_path.glob(".o.gpkg*")) == []

    nocode = tmp_path / "nocode.gpkg"
    frame = pyogrio.read_dataframe(grids, layer="grids").drop(columns=["grid_code"])
    pyogrio.write_dataframe(frame, nocode, layer="grids")
    assert run_cli([nocode, dates, "--as", "incidents", "-o", out]) == 3
    assert "grid_code" in capsys.readouterr().err and not out.exists()
    assert run_cli([grids, dates, "--as", "incidents", "-o", tmp_path / "o.csv"]) == 2
    assert run_cli([grids, dates, "--as", "incidents", "-o", out, "--as-of", ""]) == 2
    assert "--as-of" in capsys.readouterr().err and not out.exists()


def test_cli_gcj02_input_is_converted(sample_grids, tmp_path):
    from gridkit.crs import wgs84_to_gcj02

    grids, _ = sample_grids
    source = pd.read_csv(get_path("sample_county", "incidents.csv"), dtype=str).iloc[::25]
    plain, shifted = tmp_path / "plain.csv", tmp_path / "amap.csv"
    source.to_csv(plain, index=False)
    lon, lat = wgs84_to_gcj02(source["lon"].astype(float).to_numpy(), source["lat"].astype(float).to_numpy())
    source.assign(lon=lon, lat=lat).to_csv(shifted, index=False)
    for name, extra in (("plain", []), ("amap", ["--input-coords", "gcj02"]), ("raw", [])):
        path = shifted if name != "plain" else plain
        assert run_cli([grids, path, "--as", "incidents", "-o", tmp_path / f"{name}.gpkg", *extra]) == 0
    codes = {name: pyogrio.read_dataframe(tmp_path / f"{name}.gpkg", layer="incidents")["grid_code"]
             for name in ("plain", "amap", "raw")}
    assert codes["amap"].tolist() == codes["plain"].tolist()
    # read as WGS84, the Amap points sit a few hundred metres off: many land in another grid
    assert (codes["raw"] != codes["plain"]).mean() > 0.3


# --------------------------------------------------------------------------- refused and reported inputs


def _incidents_csv(tmp_path, name, rows=None, step=50):
    """A slice of the sample's incidents as a CSV (every ``step``-th row), changed by ``rows``."""
    source = pd.read_csv(get_path("sample_county", "incidents.csv"), dtype=str, keep_default_na=False)
    frame = source.iloc[::step].reset_index(drop=True)
    if rows is not None:
        frame = rows(frame)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path, frame


def test_cli_tracks_as_incidents_is_refused_naming_the_file_and_field(sample_grids, tmp_path, capsys):
    grids, _ = sample_grids
    out = tmp_path / "t.gpkg"
    assert run_cli([grids, get_path("sample_county", "tracks.csv"), "--as", "incidents", "-o", out]) == 3
    err = capsys.readouterr().err
    assert "tracks.csv" in err and "no incident categories" in err and "'category'" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_polygon_components_are_refused(sample_grids, tmp_path, capsys):
    grids, _ = sample_grids
    source = pyogrio.read_dataframe(get_path("sample_county", "components.gpkg")).iloc[:200]
    polygons = source.set_geometry(source.to_crs(4545).buffer(3).to_crs(source.crs))
    path = tmp_path / "areas.gpkg"
    pyogrio.write_dataframe(polygons, path, layer="components")
    out = tmp_path / "a.gpkg"
    assert run_cli([grids, path, "--as", "components", "-o", out]) == 3
    err = capsys.readouterr().err
    assert "areas.gpkg" in err and "200 Polygon" in err and "points in" not in err
    assert not out.exists()


def test_cli_duplicate_incident_ids_are_refused(sample_grids, tmp_path, capsys):
    grids, _ = sample_grids
    path, frame = _incidents_csv(tmp_path, "dup.csv", lambda f: pd.concat([f, f.iloc[[3, 7]]], ignore_index=True))
    out = tmp_path / "d.gpkg"
    assert run_cli([grids, path, "--as", "incidents", "-o", out]) == 3
    err = capsys.readouterr().err
    n = len(frame) - 2
    assert "dup.csv" in err and "'incident_id'" in err and frame["incident_id"].iloc[3] in err
    assert f"features 3, 7, {n}, {n + 1}" in err
    assert not out.exists()


def test_cli_future_times_are_reported(sample_grids, tmp_path, capsys):
    grids, _ = sample_grids

    def future(f):
        f.loc[4, "reported_at"] = "2031-05-01T10:00:00"
        f.loc[4, ["registered_at", "closed_at", "due_at", "status"]] = ["", "", "", "reported"]
        f.loc[9, "closed_at"] = "2034-01-01T00:00:00"
        return f

    path, _ = _incidents_csv(tmp_path, "future.csv", future)
    out = tmp_path / "f.gpkg"
    assert run_cli([grids, path, "--as", "incidents", "-o", out]) == 0
    text = capsys.readouterr().out
    assert "warning: 2 incidents have times after this run" in text
    layer = pyogrio.read_dataframe(out, layer="incidents")
    assert np.flatnonzero(layer["future_time"]).tolist() == [4, 9]  # CSV rows 4 and 9, in file order
    assert "2 incidents have times after this run" in (tmp_path / "f_evaluation.md").read_text(encoding="utf-8")


def test_cli_incident_times_are_geopackage_datetimes(sample_grids, tmp_path):
    grids, _ = sample_grids
    path, frame = _incidents_csv(tmp_path, "times.csv")
    out = tmp_path / "times.gpkg"
    assert run_cli([grids, path, "--as", "incidents", "-o", out]) == 0
    info = pyogrio.read_info(out, layer="incidents")
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    for field in ("reported_at", "registered_at", "closed_at", "due_at", "deadline"):
        assert types[field].startswith("datetime64"), (field, types[field])
    # as GeoPackage says: UTC with a Z; China Standard Time is 8 hours ahead
    with sqlite3.connect(out) as db:
        stored = [row[0] for row in db.execute("select reported_at from incidents order by fid")]
    assert all(s.endswith("Z") for s in stored)
    expected = pd.to_datetime(frame["reported_at"]) - pd.Timedelta(hours=8)
    assert pd.to_datetime(stored).tz_localize(None).tolist() == expected.tolist()
    layer = pyogrio.read_dataframe(out, layer="incidents")  # GDAL reads them without a warning
    assert layer["registered_at"].isna().tolist() == (frame["registered_at"] == "").tolist()
    # the written layer is an input like the CSV: the same evaluation from it
    again = tmp_path / "again.gpkg"
    assert run_cli([grids, out, "--layer", "incidents", "--as", "incidents", "-o", again]) == 0
    first = pd.read_csv(tmp_path / "times_evaluation_grids.csv")
    second = pd.read_csv(tmp_path / "again_evaluation_grids.csv")
    pd.testing.assert_frame_equal(first, second)


def test_points_without_any_category_are_refused_by_the_library():
    empty = pd.DataFrame({"category": ["", None], "incident_id": ["1", "2"]})
    empty.attrs["source"] = "cases.csv"
    with pytest.raises(MissingFieldError, match="no row has a value in 'category'") as exc:
        categories_for_points(empty, kind="incidents")
    assert exc.value.path == "cases.csv" and exc.value.field == "category"
    with pytest.raises(MissingFieldError, match="no field 'category' or 'component_id'"):
        categories_for_points(pd.DataFrame({"name": ["lamp"]}), kind="components")
    # components named by their id alone are fine; one empty row among named ones is kept
    ids = pd.DataFrame({"component_id": ["5201990118000001", ""]})
    assert categories_for_points(ids, kind="components")["category"].tolist() == ["0118", ""]


def test_job_result_prints_a_summary_not_frames(sample_grids, tmp_path):
    from gridkit.incidents.job import AttachOptions, attach_job

    _, grids = sample_grids
    path, frame = _incidents_csv(tmp_path, "some.csv", step=20)
    out = tmp_path / "job" / "some.gpkg"
    result = attach_job(grids, path, out, options=AttachOptions(kind="incidents"), now="2025-01-01")
    text = repr(result)
    assert text.startswith("<AttachResult: ") and len(text) < 300 and "\n" not in text
    inside = int((result.points["grid_code"] != "").sum())
    assert f"{len(frame):,} incidents, {inside:,} in {len(result.stats):,} grids" in text
    assert result.written[0] == out and all(p.exists() for p in result.written)
    assert [p.name for p in result.written] == ["some.gpkg", "some_evaluation_grids.csv",
                                                "some_evaluation_workers.csv", "some_evaluation.md"]
    ev = repr(result.evaluation)
    assert ev.startswith("<Evaluation as of ") and "workers>" in ev and "\n" not in ev
    assert result.n_future == 0 and result.summary()[-1].startswith("wrote ")
    assert set(pyogrio.list_layers(out)[:, 0]) == {"incidents", "grid_stats", "evaluation"}
