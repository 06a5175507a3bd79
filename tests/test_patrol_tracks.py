"""GPS track checks: reading, cleaning, stops, coverage of streets and buildings, the CLI.

The fixtures are built in a projected CRS (CGCS2000 Gauss-Krüger CM 108°E, EPSG:4545,
the local CRS gridkit chooses there) and written as lon/lat CSV or GPX files, so every
test goes through the real readers; expected figures are computed by hand from the
layout.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import geopandas as gpd
import gpxpy
import gpxpy.gpx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.crs import wgs84_to_gcj02
from gridkit.errors import InputDataError
from gridkit.patrol.coverage import check_tracks
from gridkit.patrol.tracks import clean_tracks, read_tracks, stops_from_fixes

CRS = pyproj.CRS.from_epsg(4545)
X0, Y0 = 362_000.0, 2_930_000.0
TO_LONLAT = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_county"


def _fixes_csv(path: Path, worker: str, times: pd.DatetimeIndex | list, xy: np.ndarray) -> Path:
    lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    frame = pd.DataFrame({"worker_id": worker, "time": pd.DatetimeIndex(times).strftime("%Y-%m-%dT%H:%M:%S"),
                          "lon": np.round(lon, 9), "lat": np.round(lat, 9)})
    frame.to_csv(path, index=False)
    return path


def _walk(points: list[tuple[float, float]], step: float) -> np.ndarray:
    """Positions every ``step`` metres along a polyline (relative to X0, Y0), both ends included."""
    line = shapely.LineString([(X0 + x, Y0 + y) for x, y in points])
    d = np.r_[np.arange(0.0, line.length, step), line.length]
    return shapely.get_coordinates(shapely.line_interpolate_point(line, d))


# ----------------------------------------------------------------------------- layout


@pytest.fixture
def layout() -> dict[str, gpd.GeoDataFrame]:
    return _layout()


def _layout() -> dict[str, gpd.GeoDataFrame]:
    """One 400 m grid G1 with four 400 m streets 100 m apart, a neighbour G2 east, four buildings."""
    grids = gpd.GeoDataFrame({"grid_code": ["520199001001001", "520199001001002"]}, crs=CRS, geometry=[
        shapely.box(X0, Y0, X0 + 400, Y0 + 400), shapely.box(X0 + 400, Y0, X0 + 800, Y0 + 400)])
    streets = gpd.GeoDataFrame({"name": [f"s{y}" for y in (50, 150, 250, 350)]}, crs=CRS, geometry=[
        shapely.LineString([(X0 + 10, Y0 + y), (X0 + 390, Y0 + y)]) for y in (50, 150, 250, 350)])
    # nearest-edge distances to the walked streets (y = 50 and y = 250): 28, 45, 28, 32 m
    boxes = [(100, 78), (200, 95), (300, 278), (50, 250 - 32 - 10)]
    buildings = gpd.GeoDataFrame(
        {"building_id": ["B1", "B2", "B3", "B4"], "grid_code": "520199001001001", "households": [4, 6, 8, 2]},
        crs=CRS, geometry=[shapely.box(X0 + x, Y0 + y, X0 + x + 10, Y0 + y + 10) for x, y in boxes])
    return {"grids": grids, "streets": streets, "buildings": buildings}


def _two_street_day(tmp_path: Path) -> Path:
    """Walk street y=50 from x=10 to x=390 in the morning and y=250 back in the afternoon (10 s fixes)."""
    morning = _walk([(10, 50), (390, 50)], 12.0)
    afternoon = _walk([(390, 250), (10, 250)], 12.0)
    t0 = pd.Timestamp("2024-06-26 08:30:00")
    times = list(t0 + pd.to_timedelta(np.arange(len(morning)) * 10, "s"))
    t1 = pd.Timestamp("2024-06-26 14:00:00")
    times += list(t1 + pd.to_timedelta(np.arange(len(afternoon)) * 10, "s"))
    return _fixes_csv(tmp_path / "tracks.csv", "W1", times, np.vstack([morning, afternoon]))


def test_walking_two_of_four_streets_covers_half(layout, tmp_path):
    fixes = read_tracks(_two_street_day(tmp_path))
    result = check_tracks(fixes, layout["grids"], streets=layout["streets"], buildings=layout["buildings"],
                          month="2024-06")
    day = result.days.iloc[0]
    assert (day["worker_id"], day["day"], day["grid_code"], day["grid_from"]) == (
        "W1", "2024-06-26", "520199001001001", "most_time")
    assert day["street_km"] == pytest.approx(1.52)  # 4 x 380 m
    assert day["street_coverage"] == pytest.approx(0.5, abs=0.01)
    assert day["distance_km"] == pytest.approx(0.76, abs=1e-6)  # the lunch pause is not walked
    assert day["share_in_grid"] == pytest.approx(1.0)
    assert day["excursions"] == 0
    # B1 and B3 lie 28 m from the walked streets, B2 45 m and B4 32 m
    assert (day["buildings_in_grid"], day["buildings_passed"]) == (4, 2)
    assert sorted(result.unvisited["building_id"]) == ["B2", "B4"]
    assert set(result.unvisited["grid_code"]) == {"520199001001001"}
    line = result.tracks.geometry.iloc[0]
    assert line.geom_type == "MultiLineString" and len(line.geoms) == 2


def test_street_radius_is_25_metres(layout, tmp_path):
    streets = pd.concat([layout["streets"], gpd.GeoDataFrame({"name": ["north", "south"]}, crs=CRS, geometry=[
        shapely.LineString([(X0 + 100, Y0 + 74), (X0 + 200, Y0 + 74)]),   # 24 m from the y=50 walk
        shapely.LineString([(X0 + 100, Y0 + 26), (X0 + 300, Y0 + 26)])])],  # 24 m on the other side
        ignore_index=True)
    walk = _walk([(10, 50), (390, 50)], 12.0)
    times = pd.Timestamp("2024-06-26 09:00") + pd.to_timedelta(np.arange(len(walk)) * 10, "s")
    fixes = read_tracks(_fixes_csv(tmp_path / "t.csv", "W1", times, walk))
    day = check_tracks(fixes, layout["grids"], streets=streets).days.iloc[0]
    assert day["street_covered_km"] * 1000 == pytest.approx(380 + 100 + 200, abs=2)
    shifted = streets.copy()
    shifted.loc[4:, "geometry"] = shifted.geometry[4:].translate(yoff=2.5)  # now 26.5 m and 21.5 m
    day = check_tracks(fixes, layout["grids"], streets=shifted).days.iloc[0]
    assert day["street_covered_km"] * 1000 == pytest.approx(380 + 200, abs=2)


def test_workers_table_and_excursions(layout, tmp_path):
    # walk G1's y=50 street, go 150 m into G2 and back, for 10 s fixes
    there = _walk([(10, 50), (550, 50)], 12.0)
    back = _walk([(550, 50), (10, 50)], 12.0)[1:]
    xy = np.vstack([there, back])
    times = pd.Timestamp("2024-06-26 09:00") + pd.to_timedelta(np.arange(len(xy)) * 10, "s")
    fixes = read_tracks(_fixes_csv(tmp_path / "t.csv", "W1", times, xy))
    table = pd.DataFrame({"worker_id": ["W1", "W7"], "grid_code": ["520199001001001", "520199001001002"]})
    b5 = gpd.GeoDataFrame({"building_id": ["B5"], "grid_code": ["520199001001002"], "households": [3]}, crs=CRS,
                          geometry=[shapely.box(X0 + 700, Y0 + 300, X0 + 710, Y0 + 310)])
    buildings = pd.concat([layout["buildings"], b5], ignore_index=True)
    result = check_tracks(fixes, layout["grids"], workers=table, buildings=buildings, month="2024-06")
    # W1 walked only y=50 (B1 at 28 m); W7 has no track, so all of G2's buildings are unvisited
    assert sorted(zip(result.unvisited["grid_code"], result.unvisited["building_id"])) == [
        ("520199001001001", "B2"), ("520199001001001", "B3"), ("520199001001001", "B4"), ("520199001001002", "B5")]
    day = result.days.iloc[0]
    assert day["grid_from"] == "table"
    assert day["excursions"] == 1
    assert day["excursion_max_m"] == pytest.approx(150.0, abs=1e-3)
    # outside = more than 15 m beyond x=400, i.e. x > 415: 135 m there and back at 1.2 m/s
    assert day["excursion_minutes"] == pytest.approx(2 * 135 / 1.2 / 60, abs=0.25)
    summary = result.workers.set_index("worker_id")
    assert summary.loc["W7", "days"] == 0 and summary.loc["W7", "grid_from"] == "table"
    bad = table.assign(grid_code=["520199001001001", "999"])
    with pytest.raises(InputDataError, match="grid codes the grids do not hold") as err:
        check_tracks(fixes, layout["grids"], workers=bad)
    assert err.value.feature_ids == [1] and err.value.field == "grid_code"


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(0, 400), st.floats(0, 400)), min_size=2, max_size=6))
def test_street_coverage_matches_exact_geometry(tmp_path_factory, corners):
    """Covered length lies between the exact buffer intersections at 24.87 m and 25 m (5 m sampling slack);
    buildings passed between those within 27.3 m and 30 m."""
    layout = _layout()
    walk = _walk(corners, 10.0)
    if len(walk) < 2:
        return
    times = pd.Timestamp("2024-06-26 09:00") + pd.to_timedelta(np.arange(len(walk)) * 10, "s")
    path = _fixes_csv(tmp_path_factory.mktemp("walk") / "t.csv", "W1", times, walk)
    result = check_tracks(read_tracks(path), layout["grids"], streets=layout["streets"],
                          buildings=layout["buildings"], max_speed_kmh=1000, month="2024-06")
    covered = result.days["street_covered_km"].iloc[0] * 1000
    line = shapely.LineString(walk)
    streets = shapely.union_all(layout["streets"].geometry.to_numpy())

    def exact(radius: float) -> tuple[float, int]:
        part = shapely.intersection(streets, line.buffer(radius, quad_segs=64))
        return part.length, shapely.get_num_geometries(part)

    low, n_low = exact(np.sqrt(25**2 - 2.5**2))
    high, n_high = exact(25.0)
    assert low - 5.0 * n_low - 0.5 <= covered <= high + 5.0 * n_high + 0.5
    # buildings: outlines sampled every 5 m, so every one within 27.3 m counts and none beyond 30 m
    footprints = layout["buildings"].geometry.to_numpy()
    passed = set(layout["buildings"]["building_id"]) - set(result.unvisited["building_id"])
    surely = set(layout["buildings"]["building_id"][shapely.dwithin(footprints, line, 27.3)])
    maybe = set(layout["buildings"]["building_id"][shapely.dwithin(footprints, line, 30.0)])
    assert surely <= passed <= maybe
    assert result.days["buildings_passed"].iloc[0] == len(passed)


# ----------------------------------------------------------------------------- cleaning


def _frame(times: list[str], xy: list[tuple[float, float]], worker: str = "W1") -> pd.DataFrame:
    arr = np.asarray(xy, dtype=float)
    lon, lat = TO_LONLAT.transform(X0 + arr[:, 0], Y0 + arr[:, 1])
    return pd.DataFrame({"worker_id": worker, "time": pd.to_datetime(times), "lon": lon, "lat": lat,
                         "source": "t.csv", "row": np.arange(len(times))})


def test_clean_drops_duplicates_repeated_times_jumps_and_drift():
    times = [f"2024-06-26T09:{m:02d}:00" for m in range(10)]
    xy = [(0, 0), (60, 0), (120, 0), (5000, 0), (180, 0), (3000, 0), (3010, 0), (3020, 0), (240, 0), (300, 0)]
    frame = _frame(times, xy)
    frame = pd.concat([frame, frame.iloc[[1]], frame.iloc[[2]].assign(lon=frame["lon"][2] + 0.001, row=11)],
                      ignore_index=True)
    frame.loc[10, "row"] = 10
    kept, dropped = clean_tracks(frame, max_speed_kmh=25, crs=CRS)
    reasons = dict(zip(dropped["row"], dropped["reason"]))
    assert reasons == {3: "jump", 5: "jump", 6: "jump", 7: "jump", 10: "duplicate", 11: "same_time"}
    assert kept["row"].tolist() == [0, 1, 2, 4, 8, 9]
    assert kept["x"].to_numpy() - X0 == pytest.approx([0, 60, 120, 180, 240, 300], abs=1e-3)


def test_clean_drops_a_stray_first_fix():
    times = [f"2024-06-26T09:{m:02d}:00" for m in range(5)]
    frame = _frame(times, [(4000, 0), (0, 0), (60, 0), (120, 0), (180, 0)])
    kept, dropped = clean_tracks(frame, max_speed_kmh=25, crs=CRS)
    assert dropped["row"].tolist() == [0] and kept["row"].tolist() == [1, 2, 3, 4]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.data())
def test_clean_properties(data):
    workers = data.draw(st.integers(1, 3))
    frames = []
    for k in range(workers):
        n = data.draw(st.integers(1, 40))
        gaps = data.draw(st.lists(st.sampled_from([0, 5, 10, 30, 60, 900]), min_size=n, max_size=n))
        steps = data.draw(st.lists(st.floats(-80, 80), min_size=n, max_size=n))
        jumps = data.draw(st.lists(st.sampled_from([0.0, 0.0, 0.0, 2000.0, -3000.0]), min_size=n, max_size=n))
        t = pd.Timestamp("2024-06-26 08:00") + pd.to_timedelta(np.cumsum(gaps), "s")
        x = np.cumsum(steps) + np.asarray(jumps)
        frame = _frame(list(t.astype(str)), list(zip(x, np.zeros(n))), worker=f"W{k}")
        frame["row"] = np.arange(n) + 1000 * k
        frames.append(frame)
    fixes = pd.concat(frames, ignore_index=True)
    fixes = fixes.sample(frac=1.0, random_state=data.draw(st.integers(0, 1000))).reset_index(drop=True)
    kept, dropped = clean_tracks(fixes, max_speed_kmh=25, crs=CRS)
    assert sorted(kept["row"].tolist() + dropped["row"].tolist()) == sorted(fixes["row"].tolist())
    assert set(dropped["reason"]) <= {"duplicate", "same_time", "jump"}
    for _, track in kept.groupby("worker_id"):
        t = track["time"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
        assert (np.diff(t) > 0).all()
        speed = np.hypot(np.diff(track["x"]), np.diff(track["y"])) / np.diff(t)
        assert (speed <= 25 / 3.6 * (1 + 1e-9)).all()
    # every worker keeps at least one fix
    assert set(kept["worker_id"]) == set(fixes["worker_id"])


# ----------------------------------------------------------------------------- stops


def test_stop_of_four_minutes():
    rng = np.random.default_rng(3)
    walk_in = [(45.0 * k, 0.0) for k in range(11)]             # t = 0 .. 300 s, ends at x = 450
    dwell = [(450 + rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(8)]  # t = 330 .. 540 s
    walk_out = [(450 + 45.0 * k, 0.0) for k in range(1, 6)]    # t = 570 .. 690 s
    short = [(675 + rng.uniform(-3, 3), 0.0) for _ in range(2)]  # 90 s more near x = 675: too short
    xy = np.array(walk_in + dwell + walk_out + short)
    times = pd.Timestamp("2024-06-26 09:00") + pd.to_timedelta(np.arange(len(xy)) * 30, "s")
    kept = pd.DataFrame({"worker_id": "W1", "time": times, "x": X0 + xy[:, 0], "y": Y0 + xy[:, 1]})
    stops = stops_from_fixes(kept, crs=CRS)
    assert len(stops) == 1
    stop = stops.iloc[0]
    assert (stop["start"], stop["end"]) == (times[10], times[18])
    assert stop["minutes"] == 4.0 and stop["fixes"] == 9
    centre = xy[10:19].mean(axis=0)
    assert (stop.geometry.x - X0, stop.geometry.y - Y0) == pytest.approx(tuple(centre))


# ----------------------------------------------------------------------------- reading


def test_gpx_tracks_are_read(tmp_path):
    lon, lat = TO_LONLAT.transform(X0 + np.array([0.0, 30, 60]), Y0 + np.zeros(3))
    folder = tmp_path / "gpx"
    folder.mkdir()
    for name, file in (("W5", "X.gpx"), (None, "W6.gpx")):
        gpx = gpxpy.gpx.GPX()
        track = gpxpy.gpx.GPXTrack(name=name)
        segment = gpxpy.gpx.GPXTrackSegment()
        start = dt.datetime(2024, 6, 26, 1, 0, tzinfo=dt.UTC)
        for k in range(3):
            segment.points.append(gpxpy.gpx.GPXTrackPoint(lat[k], lon[k], time=start + dt.timedelta(seconds=30 * k)))
        track.segments.append(segment)
        gpx.tracks.append(track)
        (folder / file).write_text(gpx.to_xml(), encoding="utf-8")
    fixes = read_tracks(folder)
    assert fixes["worker_id"].tolist() == ["W6"] * 3 + ["W5"] * 3  # files in name order
    assert fixes["source"].tolist() == ["W6.gpx"] * 3 + ["X.gpx"] * 3
    # UTC 01:00 is 09:00 in China
    assert fixes["time"].iloc[0] == pd.Timestamp("2024-06-26 09:00:00")
    assert fixes["lon"].to_numpy()[:3] == pytest.approx(lon, abs=1e-7)
    kept, dropped = clean_tracks(fixes)
    assert len(kept) == 6 and dropped.empty


def test_bad_times_and_coordinates_name_file_rows_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("worker_id,time,lon,lat\nW1,2024-06-26T08:00:00,106.6,26.5\n"
                    "W1,yesterday,106.6,26.5\nW1,2024-06-26T08:01:00,106.6,26.5\nW1,2024-13-40,106.6,26.5\n")
    with pytest.raises(InputDataError) as err:
        read_tracks(path)
    assert err.value.path == str(path) and err.value.field == "time" and err.value.feature_ids == [1, 3]
    path.write_text("worker_id,time,lon,lat\nW1,2024-06-26T08:00:00,east,26.5\nW1,2024-06-26T08:01:00,206.6,26.5\n")
    with pytest.raises(InputDataError) as err:  # gridkit.io.read_layer: numbers first, then their range
        read_tracks(path)
    assert err.value.field == "lon/lat" and err.value.feature_ids == [0]
    path.write_text("worker_id,time,lon,lat\nW1,2024-06-26T08:00:00,106.6,26.5\nW1,2024-06-26T08:01:00,206.6,26.5\n")
    with pytest.raises(InputDataError) as err:
        read_tracks(path)
    assert err.value.field == "lon/lat" and err.value.feature_ids == [1]


def test_gcj02_input_is_converted(tmp_path):
    lon, lat = 106.62, 26.47
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = tmp_path / "amap.csv"
    path.write_text(f"worker_id,time,lon,lat\nW1,2024-06-26T08:00:00+08:00,{glon:.9f},{glat:.9f}\n")
    fixes = read_tracks(path, input_coords="gcj02")
    assert (fixes["lon"][0], fixes["lat"][0]) == pytest.approx((lon, lat), abs=1e-7)
    assert fixes["time"][0] == pd.Timestamp("2024-06-26 08:00:00")


# ----------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def sample_grids(tmp_path_factory) -> Path:
    from gridkit.io import read_layer
    from gridkit.partition.outputs import write_partition
    from gridkit.partition.pipeline import partition

    out = tmp_path_factory.mktemp("part")
    result = partition(read_layer(SAMPLE / "communities.gpkg"), read_layer(SAMPLE / "buildings.gpkg"),
                       streets=read_layer(SAMPLE / "streets.gpkg"), dedicated=read_layer(SAMPLE / "dedicated.gpkg"))
    write_partition(result, out, parameters={})
    return out / "grids.gpkg"


def test_cli_on_the_sample_county(sample_grids, tmp_path, capsys):
    from gridkit_cli.main import main

    out = tmp_path / "check"
    code = main(["--quiet", "patrol", "check", str(sample_grids), str(SAMPLE / "tracks.csv"), "-o", str(out),
                 "--streets", str(SAMPLE / "streets.gpkg"), "--workers", str(SAMPLE / "workers.csv"),
                 "--month", "2024-06"])
    assert code == 0, capsys.readouterr().err
    names = {p.name for p in out.iterdir()}
    assert {"tracks.gpkg", "coverage.csv", "coverage_workers.csv", "coverage.md", "unvisited_buildings.csv"} <= names
    days = pd.read_csv(out / "coverage.csv", dtype={"grid_code": str})
    raw = pd.read_csv(SAMPLE / "tracks.csv")
    assert len(days) == raw.groupby(["worker_id", raw["time"].str[:10]]).ngroups
    assert set(days["grid_from"]) == {"table"}  # workers.csv maps workers to communities: shared out as on boards
    assert days["street_coverage"].between(0, 1).all() and days["share_in_grid"].between(0, 1).all()
    tracks = gpd.read_file(out / "tracks.gpkg", layer="tracks")
    dropped = gpd.read_file(out / "tracks.gpkg", layer="dropped")
    assert days["fixes"].sum() + len(dropped) == len(raw)
    assert len(tracks) == len(days) and tracks.crs == gpd.read_file(sample_grids, layer="grids").crs
    assert "Dropped fixes" in (out / "coverage.md").read_text(encoding="utf-8")


def test_cli_bad_tracks_exit_3_and_write_nothing(sample_grids, tmp_path, capsys):
    from gridkit_cli.main import main

    bad = tmp_path / "bad.csv"
    bad.write_text("worker_id,time,lon,lat\nW1,2024-06-26T08:00:00,106.6,26.5\nW1,soon,106.6,26.5\n")
    out = tmp_path / "check"
    assert main(["--quiet", "patrol", "check", str(sample_grids), str(bad), "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "bad.csv" in err and "'time'" in err and "feature 1" in err
    assert not out.exists()


def test_cli_checks_workers_against_the_grids_their_boards_show(sample_grids, tmp_path, capsys):
    """The sample's workers.csv gives communities, not grids: patrol check shares them out as board does."""
    from gridkit_cli.main import main

    from gridkit.board import read_workers, workers_for_grids
    from gridkit.io import read_layer

    out = tmp_path / "check"
    assert main(["--quiet", "patrol", "check", str(sample_grids), str(SAMPLE / "tracks.csv"), "-o", str(out),
                 "--workers", str(SAMPLE / "workers.csv")]) == 0
    days = pd.read_csv(out / "coverage.csv", dtype={"grid_code": str})
    board = workers_for_grids(read_layer(sample_grids, layer="grids"), read_workers(SAMPLE / "workers.csv"))
    on_board = board.groupby("worker_id")["grid_code"].agg(set)
    assert (days["grid_from"] == "table").all()
    assert all(g in on_board[w] for w, g in zip(days["worker_id"], days["grid_code"], strict=True))
    assert "round-robin" in (out / "coverage.md").read_text(encoding="utf-8")


def _gpkg_datetimes(path: Path) -> list[str]:
    """Every DATETIME value stored in a GeoPackage, as the text SQLite holds."""
    import sqlite3

    values: list[str] = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("select table_name from gpkg_contents")]
        for table in tables:
            for _, name, kind, *_ in db.execute(f'pragma table_info("{table}")'):
                if kind.upper() == "DATETIME":
                    values += [r[0] for r in db.execute(f'select "{name}" from "{table}"') if r[0] is not None]
    return values


def test_tracks_gpkg_datetimes_are_geopackage_datetimes(sample_grids, tmp_path):
    """GeoPackage DATETIME is UTC text YYYY-MM-DDTHH:MM:SS.SSSZ; GDAL warns "non-conformant" on anything else."""
    import shutil
    import subprocess

    import pyogrio
    from gridkit_cli.main import main

    out = tmp_path / "check"
    assert main(["--quiet", "patrol", "check", str(sample_grids), str(SAMPLE / "tracks.csv"), "-o", str(out)]) == 0
    stored = _gpkg_datetimes(out / "tracks.gpkg")
    assert stored and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", v) for v in stored), stored[:3]
    # read back by GDAL (pyogrio), warnings are errors here: the same instants as the local times in the CSV
    dropped = pyogrio.read_dataframe(out / "tracks.gpkg", layer="dropped")
    raw = pd.read_csv(SAMPLE / "tracks.csv")
    local = pd.to_datetime(raw["time"]).iloc[dropped["row"].to_numpy()].to_numpy()
    back = dropped["time"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).to_numpy()
    assert (back == local).all()
    if shutil.which("ogrinfo"):  # the system's GDAL, when installed
        run = subprocess.run(["ogrinfo", "-ro", "-al", "-q", str(out / "tracks.gpkg"), "dropped"],
                             capture_output=True, text=True, check=True)
        assert "Non-conformant" not in run.stdout + run.stderr


def test_future_fix_times_are_reported_with_their_workers(sample_grids, tmp_path):
    from gridkit_cli.main import main

    raw = pd.read_csv(SAMPLE / "tracks.csv", dtype=str)
    late = raw["worker_id"].isin(["W00016", "W00030"]) & raw["time"].str.startswith("2024-06-27")
    assert late.any()
    raw.loc[late & (raw["worker_id"] == "W00016"), "time"] = raw["time"].str.replace("2024-", "2031-")
    raw.loc[late & (raw["worker_id"] == "W00030"), "time"] = raw["time"].str.replace("2024-", "2034-")
    path = tmp_path / "tracks.csv"
    raw.to_csv(path, index=False)
    fixes = read_tracks(path)
    result = check_tracks(fixes, gpd.read_file(sample_grids, layer="grids"), now="2026-01-01")
    assert result.figures["fixes_in_future"] == int(late.sum())
    assert result.figures["workers_in_future"] == ["W00016", "W00030"]
    note = next(n for n in result.notes if "timed after this check" in n)
    assert f"{int(late.sum()):,} fixes of 2 worker(s) (W00016, W00030)" in note and "2034-06-27" in note
    out = tmp_path / "check"
    assert main(["--quiet", "patrol", "check", str(sample_grids), str(path), "-o", str(out)]) == 0
    assert "W00016, W00030" in (out / "coverage.md").read_text(encoding="utf-8")
    # the sample's own times are in the past: nothing reported
    assert check_tracks(read_tracks(SAMPLE / "tracks.csv"), gpd.read_file(sample_grids, layer="grids"),
                        now="2026-01-01").figures["fixes_in_future"] == 0
