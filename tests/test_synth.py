"""The synthetic county: geometry invariants, household figures, codes, files and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from gridkit_cli.main import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gridkit.errors import ParameterError
from gridkit.synth import (
    COUNTY_CODE,
    FILES,
    HOUSEHOLDS_PER_COMMUNITY,
    WORK_CRS,
    DistrictIncidents,
    synth_county,
    write_county,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_county"
SAMPLE_SEED = 2024
EVENT_CODES = {"0101", "0102", "0103", "0104", "0201", "0301", "0302", "0401", "0402", "0501", "0505", "0506"}
STATUSES = {"reported", "registered", "dispatched", "handling", "verified", "closed"}


@pytest.fixture(scope="module")
def small():
    return synth_county(seed=11, communities=2, villages=2)


@pytest.fixture(scope="module")
def default():
    return synth_county(seed=SAMPLE_SEED)


def metric(frame: gpd.GeoDataFrame) -> np.ndarray:
    return frame.to_crs(WORK_CRS).geometry.to_numpy()


def check_geometry(county) -> None:
    """Every geometric invariant other modules rely on."""
    comms, buildings = metric(county["communities"]), metric(county["buildings"])
    streets, dedicated = metric(county["streets"]), metric(county["dedicated"])
    assert shapely.is_valid(comms).all() and shapely.is_valid(buildings).all()
    tree = shapely.STRtree(comms)
    inside, _ = tree.query(buildings, predicate="within")
    assert np.array_equal(np.sort(inside), np.arange(len(buildings))), "each building within exactly one community"
    touching, _ = tree.query(buildings, predicate="intersects")
    assert len(touching) == len(buildings), "no building touches a second community"
    assert shapely.within(buildings, shapely.union_all(comms)).all()
    crossing, _ = shapely.STRtree(streets).query(buildings, predicate="intersects")
    assert len(crossing) == 0, "no building crosses a street"
    a, b = shapely.STRtree(buildings).query(buildings, predicate="intersects")
    assert (a == b).all(), "buildings do not overlap"
    a, b = tree.query(comms, predicate="intersects")
    overlap = shapely.area(shapely.intersection(comms[a[a < b]], comms[b[a < b]]))
    assert (overlap < 1e-6).all(), "communities do not overlap"
    d_idx, d_owner = tree.query(dedicated, predicate="within")
    assert len(d_idx) == len(dedicated), "each dedicated compound inside one community"
    codes = county["communities"]["code"].to_numpy()
    assert (codes[d_owner[np.argsort(d_idx)]] == county["dedicated"]["community_code"].to_numpy()).all()


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames_and_another_seed_does_not(small):
    again = synth_county(seed=11, communities=2, villages=2)
    assert list(again) == list(small)
    for key, frame in small.items():
        if isinstance(frame, gpd.GeoDataFrame):
            assert_geodataframe_equal(again[key], frame, check_less_precise=False)
        else:
            pd.testing.assert_frame_equal(again[key], frame)
    other = synth_county(seed=12, communities=2, villages=2)
    mine, theirs = small["buildings"].geometry, other["buildings"].geometry
    n = min(len(mine), len(theirs))
    assert not mine.iloc[:n].geom_equals_exact(theirs.iloc[:n], 0, align=False).all()
    assert not other["incidents"]["reported_at"].equals(small["incidents"]["reported_at"])


def test_written_files_are_byte_identical_and_no_temporary_files_remain(small, tmp_path):
    first = write_county(small, tmp_path / "a")
    second = write_county(synth_county(seed=11, communities=2, villages=2), tmp_path / "b")
    assert sorted(p.name for p in first.values()) == sorted(FILES.values())
    for key, path in first.items():
        assert path.read_bytes() == second[key].read_bytes(), key
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(FILES.values())


def test_a_failed_write_leaves_no_file(small, tmp_path):
    out = tmp_path / "county"
    out.mkdir()
    (out / "notes.txt").write_text("kept", encoding="utf-8")
    no_crs = small["streets"].set_crs(None, allow_override=True)
    with pytest.raises(ParameterError, match="no CRS"):
        write_county({"buildings": small["buildings"], "workers": small["workers"], "streets": no_crs}, out)
    assert [p.name for p in tmp_path.iterdir()] == ["county"], "no temporary folder left"
    assert [p.name for p in out.iterdir()] == ["notes.txt"], "no file of the failed write appears"


def test_switching_a_layer_off_changes_no_other_layer():
    # before each layer had its own generator, tracks continued the incidents' stream
    both = synth_county(seed=7, communities=1, villages=1)
    no_incidents = synth_county(seed=7, communities=1, villages=1, incidents=False)
    no_tracks = synth_county(seed=7, communities=1, villages=1, tracks=False)
    assert "incidents" not in no_incidents and "tracks" not in no_tracks
    pd.testing.assert_frame_equal(no_incidents["tracks"], both["tracks"])
    pd.testing.assert_frame_equal(no_tracks["incidents"], both["incidents"])
    district = synth_county(seed=7, communities=1, villages=1, incidents_per_day=50, days=20)
    pd.testing.assert_frame_equal(district["tracks"], both["tracks"])
    for key in ("communities", "streets", "buildings", "dedicated", "components", "workers"):
        for other in (no_incidents, no_tracks, district):
            pd.testing.assert_frame_equal(other[key], both[key])


# --------------------------------------------------------------------------- geometry


def test_geometric_invariants_hold(small, default):
    check_geometry(small)
    check_geometry(default)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), communities=st.integers(1, 2), villages=st.integers(0, 3))
def test_geometric_invariants_hold_for_any_seed(seed, communities, villages):
    check_geometry(synth_county(seed=seed, communities=communities, villages=villages,
                                incidents=False, tracks=False))


def test_community_boundaries_run_along_arterial_streets(default):
    comms = default["communities"]
    streets = default["streets"]
    arterial = shapely.union_all(metric(streets[streets["highway"].isin(["primary", "secondary"])]))
    for geom in metric(comms[comms["kind"] == "city"]):
        assert shapely.covers(shapely.buffer(arterial, 0.01), shapely.boundary(geom))


def test_town_blocks_are_enclosed_and_between_80_and_250_metres(default):
    comms = default["communities"]
    town = shapely.union_all(metric(comms[comms["kind"] == "city"]))
    lines = metric(default["streets"])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))))
    blocks = faces[shapely.within(shapely.point_on_surface(faces), town)]
    assert abs(shapely.area(blocks).sum() - shapely.area(town)) < 1.0, "street blocks tile the town"
    corners = shapely.get_coordinates(shapely.oriented_envelope(blocks)).reshape(-1, 5, 2)
    sides = np.hypot(*(corners[:, 1:3] - corners[:, 0:2]).transpose(2, 0, 1))
    assert 80 <= np.median(sides.max(axis=1)) <= 250
    assert sides.max() <= 260


def test_streets_meet_only_at_shared_vertices(default):
    lines = default["streets"].geometry.to_numpy()
    a, b = shapely.STRtree(lines).query(lines, predicate="intersects")
    for i, j in zip(a[a < b], b[a < b]):
        for point in shapely.get_coordinates(shapely.intersection(lines[i], lines[j])):
            for k in (i, j):
                assert (np.abs(shapely.get_coordinates(lines[k]) - point).max(axis=1) < 1e-9).any()


def test_one_village_has_a_detached_part_with_houses(default):
    comms = default["communities"]
    villages = comms[comms["kind"] == "rural"]
    parts = villages.geometry.apply(lambda g: len(shapely.get_parts(g)))
    assert (parts == 2).sum() == 1 and (parts[parts != 2] == 1).all()
    detached = min(shapely.get_parts(metric(villages[parts == 2])[0]), key=shapely.area)
    assert shapely.within(metric(default["buildings"]), detached).sum() >= 3


def test_dedicated_compounds_hold_their_buildings(default):
    dedicated = default["dedicated"]
    assert set(dedicated["kind"]) == {"school", "hospital", "government"}
    geoms = metric(dedicated)
    buildings = default["buildings"]
    streets = shapely.union_all(metric(default["streets"]))
    in_town = _in_kind(default, "city")
    for kind, geom in zip(dedicated["kind"], geoms):
        of_kind = buildings[in_town & (buildings["use"] == kind).to_numpy()]
        assert shapely.within(metric(of_kind), geom).all(), f"every {kind} building of the town in its compound"
        mine = buildings[shapely.within(metric(buildings), geom)]
        assert len(mine) > 0 and (mine["use"] == kind).all() and (mine["households"] == 0).all()
        if kind == "government":
            assert not shapely.intersects(geom, streets), "a compound inside its block"
        else:
            assert shapely.covers(shapely.buffer(streets, 0.01), shapely.boundary(geom)), "follows block edges"


# --------------------------------------------------------------------------- households


def test_households_per_building_follow_the_building_type(default):
    b = default["buildings"]
    res = b[b["use"] == "residential"]
    walkups, towers, lowrise = res[res["levels"].between(5, 7)], res[res["levels"] >= 15], res[res["levels"] <= 3]
    assert len(walkups) and len(towers) and len(lowrise)
    assert len(walkups) + len(towers) + len(lowrise) == len(res)
    assert walkups["households"].between(12, 60).all()
    assert towers["households"].between(90, 200).all() and towers["levels"].le(33).all()
    assert lowrise["households"].between(1, 8).all()
    assert (b.loc[b["use"] != "residential", "households"] == 0).all()
    assert b["building_id"].is_unique and b["households"].dtype.kind == "i"


def community_households(county) -> pd.Series:
    comms = county["communities"]
    inside, owner = shapely.STRtree(metric(comms)).query(metric(county["buildings"]), predicate="within")
    hh = county["buildings"]["households"].to_numpy()[inside]
    return pd.Series(hh).groupby(comms["code"].to_numpy()[owner]).sum()


def test_urban_communities_hold_about_4250_households_and_villages_100_to_600(default):
    comms = default["communities"].set_index("code")
    hh = community_households(default)
    city = hh[comms.loc[hh.index, "kind"] == "city"]
    assert len(city) == 4
    assert (abs(city / HOUSEHOLDS_PER_COMMUNITY - 1) < 0.08).all()
    assert abs(city.sum() - 17_000) < 0.05 * 17_000
    rural = hh.reindex(comms.index[comms["kind"] == "rural"], fill_value=0).sort_values()
    assert 40 <= rural.iloc[0] < 100, "one village below the rural minimum"
    assert rural.iloc[1:].between(100, 600).all()
    village_houses = default["buildings"][default["buildings"]["building_id"].isin(
        default["buildings"]["building_id"][_in_kind(default, "rural")])]
    assert village_houses["households"].le(8).all() and village_houses["levels"].le(3).all()


def _in_kind(county, kind: str) -> np.ndarray:
    comms = county["communities"]
    area = shapely.union_all(metric(comms[comms["kind"] == kind]))
    return shapely.within(metric(county["buildings"]), area)


def test_households_option_scales_the_town():
    county = synth_county(seed=3, households=20_000, villages=0, incidents=False, tracks=False)
    comms = county["communities"]
    assert len(comms) == round(20_000 / HOUSEHOLDS_PER_COMMUNITY)
    assert abs(county["buildings"]["households"].sum() - 20_000) < 0.03 * 20_000
    assert "incidents" not in county and "tracks" not in county


@pytest.mark.parametrize("kwargs", [{"villages": 13}, {"communities": 0}, {"households": 50},
                                    {"communities": 10, "households": 500}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ParameterError):
        synth_county(**kwargs)


# --------------------------------------------------------------------------- codes and tables


def test_division_codes_and_classes(default):
    comms = default["communities"]
    assert comms["code"].str.fullmatch(r"\d{12}").all() and comms["code"].is_unique
    assert comms["code"].str.startswith(COUNTY_CODE).all()
    village_part = comms["code"].str[9:].astype(int)
    township = comms["code"].str[6:9].astype(int)
    city = comms["kind"] == "city"
    assert village_part[city].between(1, 199).all() and township[city].between(1, 99).all()
    assert village_part[~city].between(200, 399).all() and township[~city].between(100, 399).all()
    assert (comms.loc[city, "class_code"] == "111").all() and (comms.loc[~city, "class_code"] == "220").all()
    assert all(re.search(r"(社区|村)$", n) for n in comms["name"])


def test_streets_have_chinese_names_and_known_classes(default):
    streets = default["streets"]
    assert set(streets["highway"]) <= {"primary", "secondary", "tertiary", "residential", "service", "track"}
    assert {"primary", "secondary", "residential", "track"} <= set(streets["highway"])
    assert streets["name"].str.contains(r"[路街巷]$").all()
    assert (streets.geom_type == "LineString").all()


def test_component_ids_have_16_digits_and_sit_near_streets(default):
    comp = default["components"]
    assert 2_000 <= len(comp) <= 20_000
    assert comp["component_id"].str.fullmatch(r"\d{16}").all() and comp["component_id"].is_unique
    assert (comp["component_id"].str[:6] == COUNTY_CODE).all()
    assert (comp["component_id"].str[6:10] == comp["category"]).all()
    assert {"0118", "0113", "0101", "0102", "0103", "0105", "0305", "0407", "0203"} <= set(comp["category"])
    streets = shapely.union_all(metric(default["streets"]))
    assert (shapely.distance(metric(comp), streets) < 16).all()
    buildings = shapely.union_all(metric(default["buildings"]))
    assert not shapely.intersects(shapely.multipoints(metric(comp)), buildings)


# --------------------------------------------------------------------------- incidents, tracks, workers


def test_incident_workflow_times_and_status(default):
    inc = default["incidents"]
    assert list(inc.columns) == ["incident_id", "category", "lon", "lat", "reported_at", "registered_at",
                                 "closed_at", "due_at", "status", "level"]
    assert 3_000 <= len(inc) <= 10_000 and inc["incident_id"].is_unique
    assert set(inc["category"]) == EVENT_CODES and set(inc["status"]) <= STATUSES
    times = {c: pd.to_datetime(inc[c].replace("", None)) for c in ("reported_at", "registered_at", "closed_at", "due_at")}
    closed = inc["status"] == "closed"
    assert times["closed_at"].notna().eq(closed).all()
    assert times["registered_at"].isna().eq(inc["status"] == "reported").all()
    assert (times["reported_at"] <= times["registered_at"]).all()
    assert (times["registered_at"][closed] <= times["closed_at"][closed]).all()
    assert (times["reported_at"][closed] <= times["closed_at"][closed]).all()
    assert (times["due_at"].dropna() > times["registered_at"].dropna()).all()
    assert times["reported_at"].between("2023-07-01", "2024-06-30 23:59:59").all()
    share = inc["level"].value_counts(normalize=True)
    assert 0.65 < share["grid"] < 0.75 and 0.15 < share["community"] < 0.25


def test_incidents_have_seasons_and_a_recent_spike(default):
    inc = default["incidents"]
    reported = pd.to_datetime(inc["reported_at"])
    rain = inc["category"].isin(["0401", "0402"])
    months = reported.dt.month
    assert rain[months.between(5, 9)].sum() / 5 > 1.3 * rain[months.isin([11, 12, 1, 2, 3])].sum() / 5
    x, y = Transformer.from_crs("EPSG:4490", WORK_CRS, always_xy=True).transform(inc["lon"], inc["lat"])
    cell = pd.Series(list(zip(np.floor(x / 200), np.floor(y / 200))))
    recent = reported >= "2024-06-24"
    last_week = cell[recent.to_numpy()].value_counts()
    before = cell[~recent.to_numpy()].value_counts() / 51
    ratio = (last_week + 1) / (before.reindex(last_week.index, fill_value=0) + 1)
    assert ratio.max() > 10


def check_tracks(tracks: pd.DataFrame, workers: pd.DataFrame) -> None:
    """8 workers, a fix every 30 s, a few duplicates and one or two jumps each."""
    assert tracks["worker_id"].nunique() == 8 and set(tracks["worker_id"]) <= set(workers["worker_id"])
    assert len(tracks) < 40_000
    for _, fixes in tracks.groupby("worker_id"):
        time = pd.to_datetime(fixes["time"])
        gaps = time.diff().dt.total_seconds().dropna()
        assert set(gaps[gaps < 3600]) <= {0.0, 30.0}
        assert 3 <= fixes.duplicated().sum() <= 6
        x, y = Transformer.from_crs("EPSG:4490", WORK_CRS, always_xy=True).transform(fixes["lon"], fixes["lat"])
        step = np.hypot(np.diff(x), np.diff(y))[gaps.to_numpy() == 30]
        assert 2 <= (step > 250).sum() <= 4, "one or two jumps (each gives two long steps)"
        assert np.median(step) < 60


def test_tracks_every_30_seconds_with_noise_duplicates_and_jumps(default):
    check_tracks(default["tracks"], default["workers"])


def test_workers_have_fake_phones_and_known_communities(default):
    workers = default["workers"]
    assert workers["phone"].str.fullmatch(r"1\d{2}-0000-\d{4}").all() and workers["worker_id"].is_unique
    assert set(workers["community_code"]) == set(default["communities"]["code"])
    per = workers.groupby("community_code").size()
    city = default["communities"].loc[default["communities"]["kind"] == "city", "code"]
    assert per[city].between(12, 17).all()
    assert 50 <= len(workers) <= 80


# --------------------------------------------------------------------------- bundled sample and CLI


def test_bundled_sample_matches_the_documented_seed(default, tmp_path):
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert f"--seed {SAMPLE_SEED}" in readme
    written = write_county(default, tmp_path / "again")
    # tracks.csv was written before the tracks had their own generator (the README says so);
    # every other file is what the documented command writes today, byte for byte
    for key, path in written.items():
        if key != "tracks":
            assert path.read_bytes() == (SAMPLE / FILES[key]).read_bytes(), key
    assert "tracks.csv" in readme and "gridkit 0.1.0" in readme
    stored = pd.read_csv(SAMPLE / "tracks.csv", dtype={"worker_id": str})
    assert list(stored.columns) == list(default["tracks"].columns)
    assert sorted(stored["worker_id"].unique()) == sorted(default["tracks"]["worker_id"].unique())
    check_tracks(stored, default["workers"])


def test_cli_writes_every_file_and_prints_one_line_each(tmp_path, capsys):
    out = tmp_path / "county"
    assert main(["--quiet", "synth", "-o", str(out), "--communities", "1", "--villages", "1", "--seed", "5"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(FILES) and any("households" in line for line in lines)
    assert len(gpd.read_file(out / "communities.gpkg")) == 2


def test_cli_skips_incidents_and_tracks_and_refuses_bad_options(tmp_path, capsys):
    out = tmp_path / "county"
    assert main(["--quiet", "synth", "-o", str(out), "--households", "5000", "--villages", "0",
                 "--no-incidents", "--no-tracks"]) == 0
    assert not (out / "incidents.csv").exists() and not (out / "tracks.csv").exists()
    assert (out / "buildings.gpkg").exists()
    assert main(["--quiet", "synth", "-o", str(out), "--villages", "20"]) == 2
    assert "villages" in capsys.readouterr().err


# --------------------------------------------------------------------------- a district's incidents


@pytest.fixture(scope="module")
def district():
    return synth_county(seed=21, communities=2, villages=1, tracks=False, incidents_per_day=400, days=120)


def cells_200m(incidents: pd.DataFrame) -> pd.Series:
    x, y = Transformer.from_crs("EPSG:4490", WORK_CRS, always_xy=True).transform(incidents["lon"], incidents["lat"])
    return pd.Series(list(zip(np.floor(x / 200), np.floor(y / 200))))


def test_district_incidents_have_the_columns_and_workflow_of_the_sample(district, default):
    year = district["incidents"]
    assert isinstance(year, DistrictIncidents)
    inc = year.to_frame()
    assert list(inc.columns) == list(default["incidents"].columns) == list(year.columns)
    assert len(inc) == len(year) == int(year.daily.sum())
    assert abs(len(inc) - 400 * 120) < 5 * np.sqrt(400 * 120), "Poisson daily totals round the rate"
    assert inc["incident_id"].is_unique and inc["incident_id"].str.fullmatch(r"520199\d{12}").all()
    assert (inc["incident_id"].str[6:14] == inc["reported_at"].str[:10].str.replace("-", "")).all()
    assert set(inc["category"]) == EVENT_CODES and set(inc["status"]) <= STATUSES
    reported = pd.to_datetime(inc["reported_at"])
    assert reported.is_monotonic_increasing
    assert reported.min() >= pd.Timestamp("2024-03-03") and reported.max() < pd.Timestamp("2024-07-01")
    registered = pd.to_datetime(inc["registered_at"].replace("", None))
    assert (registered.dropna() >= reported[registered.notna()]).all()
    share = inc["level"].value_counts(normalize=True)
    assert 0.65 < share["grid"] < 0.75
    weekend = reported.dt.day_of_week >= 5
    per_day = reported.dt.date.groupby(weekend.to_numpy()).agg(lambda d: len(d) / d.nunique())
    assert per_day[True] < 0.95 * per_day[False], "a slower weekend"


def test_district_incidents_cluster_round_streets_homes_and_hotspots(district):
    inc = district["incidents"].to_frame()
    counts = cells_200m(inc).value_counts()
    top = counts.iloc[:max(1, len(counts) // 20)].sum() / len(inc)
    assert top > 0.3, "the busiest 5 % of 200 m cells hold more than 30 % of the incidents"
    streets = shapely.union_all(metric(district["streets"]))
    points = shapely.points(np.column_stack(Transformer.from_crs("EPSG:4490", WORK_CRS, always_xy=True)
                                           .transform(inc["lon"], inc["lat"])))
    assert np.median(shapely.distance(points, streets)) < 40, "incidents happen in the street"
    town = shapely.union_all(metric(district["communities"][district["communities"]["kind"] == "city"]))
    assert shapely.within(points, town).mean() > 0.8


def test_district_chunks_are_the_same_on_every_pass_and_written_alike(district, tmp_path):
    year = district["incidents"]
    assert len(year.seeds) == 4  # 120 days in chunks of 30
    first = list(year.chunks())
    pd.testing.assert_frame_equal(year.chunk(2), first[2])
    path = write_county({"incidents": year}, tmp_path)["incidents"]
    assert path.read_text(encoding="utf-8") == pd.concat(first).to_csv(index=False, lineterminator="\n")
    again = synth_county(seed=21, communities=2, villages=1, tracks=False, incidents_per_day=400, days=120)
    assert write_county({"incidents": again["incidents"]}, tmp_path / "b")["incidents"].read_bytes() == \
        path.read_bytes()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), per_day=st.floats(1, 300), days=st.integers(1, 70))
def test_district_incidents_for_any_rate_and_period(seed, per_day, days):
    year = synth_county(seed=seed, communities=1, villages=0, tracks=False, incidents_per_day=per_day,
                        days=days)["incidents"]
    inc = year.to_frame()
    assert len(inc) == len(year) and len(year.seeds) == -(-days // 30)
    assert inc["incident_id"].is_unique
    reported = pd.to_datetime(inc["reported_at"])
    assert (reported >= pd.Timestamp("2024-07-01") - pd.Timedelta(days=days)).all()
    assert (reported < pd.Timestamp("2024-07-01")).all()


@pytest.mark.parametrize("kwargs", [{"incidents_per_day": 0}, {"incidents_per_day": 200_000},
                                    {"incidents_per_day": 10, "days": 0},
                                    {"incidents_per_day": 10, "incidents": False}])
def test_bad_district_options_are_refused(kwargs):
    with pytest.raises(ParameterError):
        synth_county(communities=1, villages=0, tracks=False, **kwargs)


def test_cli_writes_a_district_year_of_incidents(tmp_path, capsys):
    out = tmp_path / "county"
    assert main(["--quiet", "synth", "-o", str(out), "--communities", "1", "--villages", "0", "--no-tracks",
                 "--incidents-per-day", "300", "--days", "45", "--seed", "3"]) == 0
    written = pd.read_csv(out / "incidents.csv", dtype=str, keep_default_na=False)
    line = next(line for line in capsys.readouterr().out.splitlines() if "incidents.csv" in line)
    assert f"{len(written):,} incidents" in line and abs(len(written) - 300 * 45) < 600
    assert written["reported_at"].min() >= "2024-05-17"
    assert main(["--quiet", "synth", "-o", str(tmp_path / "x"), "--days", "30"]) == 2
    assert main(["--quiet", "synth", "-o", str(tmp_path / "x"), "--no-incidents", "--incidents-per-day", "5"]) == 2
    assert "--incidents-per-day" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
