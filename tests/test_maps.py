"""gridkit map: the overview map, basemaps, offline pages; checked on files and in a real Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from browser import Browser, chromium_available
from gridkit_cli.main import main
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.crs import wgs84_to_gcj02
from gridkit.errors import DependencyError, MissingCRSError, MissingFieldError, ParameterError
from gridkit.io import write_layers
from gridkit.maps import basemap_from, external_references, inline_assets, map_for_grids, save_map
from gridkit.maps._data import bin_points, for_display
from gridkit.maps._layers import component_layers, lines_from_fixes
from gridkit.maps.offline import _clean_css

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_county"
READY = "window.gridkit !== undefined"
# every <script src> and <link href> of a page
_SRC = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)""", re.IGNORECASE)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample county partitioned, plus routes and alerts built here from its grids."""
    root = tmp_path_factory.mktemp("county")
    code = main(["--quiet", "partition", str(SAMPLE / "communities.gpkg"), "--buildings",
                 str(SAMPLE / "buildings.gpkg"), "--streets", str(SAMPLE / "streets.gpkg"), "--dedicated",
                 str(SAMPLE / "dedicated.gpkg"), "-o", str(root / "part")])
    assert code == 0
    grids = gpd.read_file(root / "part" / "grids.gpkg", layer="grids")
    # patrol routes: the outline of three grids, with the documented fields
    some = grids.iloc[:3]
    metric = some.to_crs(4545)
    routes = gpd.GeoDataFrame({"grid_code": some["grid_code"].to_numpy(),
                               "length_m": metric.boundary.length.round(1).to_numpy()},
                              geometry=some.boundary.to_numpy(), crs=grids.crs)
    bases = gpd.GeoDataFrame({"grid_code": some["grid_code"].to_numpy()},
                             geometry=some.geometry.representative_point().to_numpy(), crs=grids.crs)
    write_layers(root / "routes.gpkg", {"routes": routes, "bases": bases})
    alerts = pd.DataFrame({"grid_code": [grids["grid_code"].iloc[5], grids["grid_code"].iloc[5], "520199009009009"],
                           "top_category": ["0101", "0103", "0101"], "observed": [30, 12, 4],
                           "expected": [1.2, 0.8, 0.5]})
    alerts.to_csv(root / "alerts.csv", index=False)
    return {"root": root, "grids": root / "part" / "grids.gpkg", "routes": root / "routes.gpkg",
            "alerts": root / "alerts.csv"}


@pytest.fixture(scope="module")
def grids(county: dict[str, Path]) -> gpd.GeoDataFrame:
    return gpd.read_file(county["grids"], layer="grids")


@pytest.fixture(scope="module")
def full_page(county: dict[str, Path]) -> Path:
    """The offline map of the sample county with every layer, written by the CLI."""
    out = county["root"] / "full.html"
    code = main(["--quiet", "map", str(county["grids"]), "--streets", str(SAMPLE / "streets.gpkg"),
                 "--components", str(SAMPLE / "components.gpkg"), "--incidents", str(SAMPLE / "incidents.csv"),
                 "--tracks", str(SAMPLE / "tracks.csv"), "--routes", str(county["routes"]),
                 "--alerts", str(county["alerts"]), "--offline", "-o", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.skip("needs playwright and /usr/bin/chromium")
    with Browser() as b:
        yield b


def _box_grids(crs: int | str = 4490, n: int = 3) -> gpd.GeoDataFrame:
    cells = [shapely.box(106.61 + 0.005 * i, 26.46, 106.615 + 0.005 * i, 26.465) for i in range(n)]
    return gpd.GeoDataFrame({"grid_code": [f"520199001001{i + 1:03d}" for i in range(n)],
                             "households": [250 + 20 * i for i in range(n)]},
                            geometry=cells, crs=4490).to_crs(crs)


def _legend(m):
    return next(c for c in m._children.values() if type(c).__name__ == "LinearColormap")


def _notes(m) -> list[str]:
    return next(c for c in m._children.values() if type(c).__name__ == "Notes").notes


def _layer_named(m, prefix: str):
    return [c for c in m._children.values() if str(getattr(c, "layer_name", "")).startswith(prefix)]


# ----------------------------------------------------------------------------- pages without a browser


def test_offline_page_links_no_remote_file(full_page: Path) -> None:
    html = full_page.read_text(encoding="utf-8")
    sources = _SRC.findall(html)
    assert not [s for s in sources if re.match(r"(?i)(https?:)?//", s)], sources
    assert external_references(html) == []
    from offlinefolium.elements import _res

    for url in ("https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js",
                "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js",
                "https://cdn.jsdelivr.net/npm/leaflet-timedimension@1.1.1/dist/leaflet.timedimension.min.js"):
        assert _res[url].strip()[-3000:] in html


def test_online_page_links_the_cdns(grids: gpd.GeoDataFrame, tmp_path: Path) -> None:
    out = save_map(map_for_grids(grids), tmp_path / "online.html", offline=False)
    html = out.read_text(encoding="utf-8")
    assert any(s.startswith("https://") for s in _SRC.findall(html))
    assert len(html) < len(inline_assets(html))


def test_inline_assets_refuses_an_unknown_cdn_file() -> None:
    html = '<script src="https://cdn.example.org/nothing-like-this.js"></script>'
    with pytest.raises(DependencyError, match="nothing-like-this"):
        inline_assets(html)


def test_css_cleaning_keeps_data_urls_and_drops_files() -> None:
    css = ("@font-face { font-family: 'A'; src: url('//cdn.x/a.eot'); "
           "src: url('//cdn.x/a.eot?#iefix') format('embedded-opentype'), url(data:font/woff;base64,AAAA) "
           "format('woff'); }\n@font-face { font-family: 'B'; src: url(../fonts/b.woff2) format('woff2'); }\n"
           ".x { background: url(images/layers.png) no-repeat; } .y { fill: url(#grad); }")
    out = _clean_css(css)
    assert "cdn.x" not in out and "b.woff2" not in out and "layers.png" not in out
    assert "url(data:font/woff;base64,AAAA)" in out and "url(#grad)" in out
    assert "font-family: 'A'" in out and "font-family: 'B'" not in out
    assert ".x { background: none no-repeat; }" in out


def test_grid_tooltip_and_legend_fields(grids: gpd.GeoDataFrame) -> None:
    g = grids.assign(worker_name=[f"网格员{i}" for i in range(len(grids))])
    m = map_for_grids(g)
    layer = _layer_named(m, "网格")[0]
    tooltip = next(c for c in layer._children.values() if type(c).__name__ == "GeoJsonTooltip")
    assert tooltip.fields[:2] == ["grid_code", "community_name"]
    assert {"households", "worker_name"} <= set(tooltip.fields)
    assert tooltip.aliases[tooltip.fields.index("worker_name")] == "网格员"
    assert len(layer.data["features"]) == len(grids)
    assert layer.data["features"][0]["properties"]["worker_name"] == "网格员0"
    fills = {f["properties"]["_fill"] for f in layer.data["features"]}
    assert len(fills) > 5  # a ramp, not one colour
    legend = _legend(m)
    assert legend.caption == "户数" and legend.vmin == grids["households"].min()
    assert legend.vmax == grids["households"].max()


def test_color_by_any_numeric_field_and_clear_error(grids: gpd.GeoDataFrame) -> None:
    m = map_for_grids(grids, color_by="area_m2", lang="en")
    assert _legend(m).caption == "area (m²)" and _legend(m).vmax == pytest.approx(grids["area_m2"].max())
    with pytest.raises(ParameterError, match="households") as err:
        map_for_grids(grids, color_by="community_name")
    assert "not numeric" in str(err.value)


def test_projected_and_geographic_inputs_draw_the_same_place() -> None:
    a = for_display(_box_grids(4490), role="grids")
    b = for_display(_box_grids(4545), role="grids")
    assert np.abs(shapely.get_coordinates(a.geometry) - shapely.get_coordinates(b.geometry)).max() < 2e-7


def test_missing_crs_and_grid_code_are_named() -> None:
    with pytest.raises(MissingCRSError):
        map_for_grids(_box_grids().set_crs(None, allow_override=True))
    with pytest.raises(MissingFieldError, match="grid_code"):
        map_for_grids(_box_grids().drop(columns="grid_code"))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(100.0, 120.0), st.floats(20.0, 40.0)), min_size=1, max_size=20))
def test_amap_shift_is_the_gcj02_formula(points: list[tuple[float, float]]) -> None:
    layer = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*zip(*points, strict=True)), crs=4326)
    shifted = shapely.get_coordinates(for_display(layer, role="p", coords="gcj02").geometry)
    lon, lat = wgs84_to_gcj02(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    assert np.abs(shifted - np.column_stack([lon, lat])).max() <= 6e-8
    assert np.all(np.hypot(shifted[:, 0] - [p[0] for p in points], shifted[:, 1] - [p[1] for p in points]) > 1e-4)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(106.60, 106.64), st.floats(26.45, 26.48), st.integers(0, 3)),
                min_size=1, max_size=60), st.sampled_from([20.0, 50.0, 200.0]))
def test_binning_keeps_every_incident(rows: list[tuple[float, float, int]], cell: float) -> None:
    lon, lat, week = (np.array(v) for v in zip(*rows, strict=True))
    cells = bin_points(lon, lat, week, cell_m=cell)
    assert cells["count"].sum() == len(rows)
    assert set(cells["key"]) == set(week.tolist())
    assert len(cells) <= len(rows)


def test_weekly_heat_on_a_hand_made_series() -> None:
    # three incidents in one spot in the week of Mon 2024-06-03, one in the week of 06-17, none between
    pts = gpd.GeoDataFrame(
        {"reported_at": ["2024-06-03T08:00:00", "2024-06-05T09:00:00", "2024-06-09T23:59:00",
                         "2024-06-18T10:00:00", "not a time"]},
        geometry=gpd.points_from_xy([106.62, 106.62001, 106.62002, 106.63, 106.63], [26.46] * 5), crs=4490)
    m = map_for_grids(_box_grids(), incidents=pts)
    heat = _layer_named(m, "事件热力")[0]
    assert heat.index == ["2024-06-03", "2024-06-10", "2024-06-17"]
    assert [len(frame) for frame in heat.data] == [1, 0, 1]
    assert heat.data[0][0][2] == 1.0  # 3 incidents: the top of the scale
    assert _notes(m) == ["1 起事件无有效时间，未进入时间轴", "4 起事件，按周汇总到约 50 米格元，3 周"]


# Sunday 2024-06-09 23:30 UTC is Monday 2024-06-10 07:30 China Standard Time: the week of 06-10
_UTC_TIMES = ["2024-06-03T00:00:00Z", "2024-06-09T23:30:00Z"]


@pytest.mark.parametrize("as_datetimes", [False, True], ids=["text", "aware-datetimes"])
def test_incident_weeks_are_those_of_local_time(as_datetimes: bool) -> None:
    from gridkit.heat.frames import week_numbers
    from gridkit.times import local_times

    times = pd.Series(_UTC_TIMES)
    values = pd.to_datetime(times, utc=True) if as_datetimes else times
    pts = gpd.GeoDataFrame({"reported_at": values}, geometry=gpd.points_from_xy([106.62, 106.63], [26.46] * 2),
                           crs=4490)
    heat = _layer_named(map_for_grids(_box_grids(), incidents=pts), "事件热力")[0]
    local = local_times(times, field="reported_at")
    mondays = (local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")
    assert heat.index == sorted(set(mondays)) == ["2024-06-03", "2024-06-10"]
    assert [len(frame) for frame in heat.data] == [1, 1]
    number, weeks = week_numbers(local)  # the heatmap puts them in the same two weeks
    assert list(weeks.strftime("%Y-%m-%d")) == heat.index and number.tolist() == [0, 1]


def test_cli_maps_incidents_with_mixed_utc_offsets(county: dict[str, Path], tmp_path: Path) -> None:
    from gridkit.heat.frames import week_numbers
    from gridkit.heat.select import reported_times
    from gridkit.incidents.attach import read_points

    # local, +08:00 and Z in one column, as the heatmap accepts it
    pd.DataFrame({"category": ["0101"] * 3, "lon": [106.62, 106.621, 106.63], "lat": [26.465] * 3,
                  "reported_at": ["2024-06-03T08:00:00", "2024-06-05T09:00:00+08:00", "2024-06-09T23:30:00Z"]}
                 ).to_csv(tmp_path / "mixed.csv", index=False)
    out = tmp_path / "m.html"
    assert main(["--quiet", "map", str(county["grids"]), "--incidents", str(tmp_path / "mixed.csv"),
                 "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "TimeDimensionCustom(['2024-06-03', '2024-06-10']" in html
    _, weeks = week_numbers(reported_times(read_points(tmp_path / "mixed.csv")))
    assert list(weeks.strftime("%Y-%m-%d")) == ["2024-06-03", "2024-06-10"]


def test_track_days_are_local_days() -> None:
    # 15:50Z is 23:50 local on the 26th; 16:10Z and 16:20Z are past local midnight, on the 27th
    fixes = gpd.GeoDataFrame({"worker_id": ["W1"] * 3,
                              "time": ["2024-06-26T15:50:00Z", "2024-06-26T16:10:00Z", "2024-06-26T16:20:00Z"]},
                             geometry=gpd.points_from_xy([1.0, 2.0, 3.0], [0.0] * 3), crs=4326)
    lines = lines_from_fixes(fixes, time=None, notes=[], lang="en")
    assert lines["date"].tolist() == ["2024-06-27"] and lines["fixes"].tolist() == [2]


def test_incidents_without_times_give_a_static_heat_layer() -> None:
    pts = gpd.GeoDataFrame({"category": ["0101"] * 3}, geometry=gpd.points_from_xy([106.62] * 3, [26.46] * 3),
                           crs=4326)
    m = map_for_grids(_box_grids(), incidents=pts, lang="en")
    layer = _layer_named(m, "incident heat")[0]
    assert type(layer).__name__ == "HeatMap"


def test_components_one_sub_layer_per_major_and_a_stated_cap() -> None:
    comp = gpd.GeoDataFrame(
        {"category": [101, 118, 203, 9999, 305, 118]},  # numbers as a CSV reader gives them
        geometry=gpd.points_from_xy(np.linspace(106.61, 106.62, 6), [26.461] * 6), crs=4490)
    notes: list[str] = []
    layers = component_layers(for_display(comp, role="c"), lang="en", max_points=100, notes=notes)
    names = [layer.layer_name for layer in layers]
    assert names == ["components · public utilities (3)", "components · road traffic (1)",
                     "components · city appearance and sanitation (1)", "components · other (1)"]
    assert sum(len(layer.data) for layer in layers) == len(comp) and notes == []
    capped = component_layers(for_display(comp, role="c"), lang="en", max_points=4, notes=notes)
    assert sum(len(layer.data) for layer in capped) == 4
    assert notes == ["components: 4 of 6 shown (evenly sampled)"]


def test_component_category_from_the_id_when_no_category_field() -> None:
    comp = gpd.GeoDataFrame({"component_id": ["5201990118000001", "52019902030000002", "bad"]},
                            geometry=gpd.points_from_xy([106.61, 106.611, 106.612], [26.46] * 3), crs=4490)
    layers = component_layers(for_display(comp, role="c"), lang="zh", max_points=10, notes=[])
    assert [layer.layer_name for layer in layers] == ["部件 · 公用设施 (1)", "部件 · 道路交通 (1)", "部件 · 其他 (1)"]


def test_tracks_from_fixes_one_line_per_worker_day() -> None:
    fixes = gpd.GeoDataFrame(
        {"worker_id": ["W1", "W1", "W1", "W2", "W2", "W1"],
         "time": ["2024-06-26T08:00:30", "2024-06-26T08:00:00", "2024-06-26T08:01:00", "2024-06-26T08:00:00",
                  "2024-06-27T08:00:00", "2024-06-27T09:00:00"]},
        geometry=gpd.points_from_xy([2.0, 1.0, 3.0, 5.0, 6.0, 7.0], [0.0] * 6), crs=4326)
    notes: list[str] = []
    lines = lines_from_fixes(fixes, time=None, notes=notes, lang="en")
    assert len(lines) == 1 and lines.iloc[0]["worker_id"] == "W1" and lines.iloc[0]["fixes"] == 3
    assert shapely.get_coordinates(lines.geometry.iloc[0])[:, 0].tolist() == [1.0, 2.0, 3.0]  # time order
    assert notes == ["3 worker-days with a single fix drawn as no line",
                     "3 GPS fixes joined into 1 tracks (one per worker and day)"]


def test_routes_and_alerts_degrade_without_optional_fields(grids: gpd.GeoDataFrame) -> None:
    routes = gpd.GeoDataFrame(geometry=[grids.geometry.iloc[0].boundary], crs=grids.crs)  # no field at all
    alerts = pd.DataFrame({"grid_code": [grids["grid_code"].iloc[0], "999"], "note": ["x", "y"]})
    m = map_for_grids(grids, routes=routes, alerts=alerts, lang="en")
    assert _layer_named(m, "patrol routes (1)") and _layer_named(m, "alerts (1)")
    assert _notes(m) == ["1 alerts name grid codes not in the grids: 999"]
    with pytest.raises(MissingFieldError, match="grid_code"):
        map_for_grids(grids, alerts=pd.DataFrame({"code": ["1"]}))


def test_rows_without_geometry_are_counted_not_dropped(grids: gpd.GeoDataFrame) -> None:
    routes = gpd.GeoDataFrame({"grid_code": ["a", "b"]}, geometry=[grids.geometry.iloc[0].boundary, None],
                              crs=grids.crs)
    m = map_for_grids(grids, routes=routes, lang="en")
    assert _notes(m) == ["patrol routes: 1 features without geometry not drawn"]
    assert len(_layer_named(m, "patrol routes (2)")[0].data["features"]) == 1


def test_cli_reads_bom_alerts_and_colours_by_a_stats_field(county: dict[str, Path], grids: gpd.GeoDataFrame,
                                                          tmp_path: Path) -> None:
    alerts = pd.DataFrame({"grid_code": [grids["grid_code"].iloc[2]], "category_en": ["muck"], "observed": [9]})
    alerts.to_csv(tmp_path / "alerts.csv", index=False, encoding="utf-8-sig")  # Excel's byte-order mark
    stats = pd.DataFrame({"grid_code": grids["grid_code"], "per_100_households": np.arange(len(grids)) / 10})
    stats.to_csv(tmp_path / "stats.csv", index=False)
    out = tmp_path / "m.html"
    assert main(["--quiet", "map", str(county["grids"]), "--alerts", str(tmp_path / "alerts.csv"), "--stats",
                 str(tmp_path / "stats.csv"), "--color-by", "per_100_households", "--lang", "en",
                 "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "per_100_households" in html  # the legend caption and the tooltip field
    assert "category muck; observed 9" in html


def test_cli_refuses_a_stats_table_with_a_grid_twice(county: dict[str, Path], grids: gpd.GeoDataFrame,
                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = grids["grid_code"].iloc[0]
    pd.DataFrame({"grid_code": [code, code], "rate": [1.0, 2.0]}).to_csv(tmp_path / "stats.csv", index=False)
    out = tmp_path / "m.html"
    assert main(["--quiet", "map", str(county["grids"]), "--stats", str(tmp_path / "stats.csv"), "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "stats.csv" in err and code in err and "grid_code" in err
    assert not out.exists()


def test_file_colon_layer_names_a_layer(county: dict[str, Path], grids: gpd.GeoDataFrame, tmp_path: Path) -> None:
    from gridkit.maps.job import MapFiles, read_map_layers

    pts = grids.geometry.representative_point()
    comp = gpd.GeoDataFrame({"category": ["0118"] * len(pts)}, geometry=pts.to_numpy(), crs=grids.crs)
    write_layers(tmp_path / "comp.gpkg", {"near": comp.iloc[:3], "far": comp.iloc[3:8]})
    layers = read_map_layers(MapFiles(grids=f"{county['grids']}:grids", components=f"{tmp_path / 'comp.gpkg'}:far"))
    assert len(layers["grids"]) == len(grids) and len(layers["components"]) == 5
    assert {"communities", "buildings"} <= set(layers)  # taken from the grids file
    assert "buildings" not in read_map_layers(MapFiles(grids=str(county["grids"]), with_buildings=False))
    out = tmp_path / "m.html"
    assert main(["--quiet", "map", str(county["grids"]), "--components", f"{tmp_path / 'comp.gpkg'}:far",
                 "-o", str(out)]) == 0
    assert json.dumps("部件 · 公用设施 (5)") in out.read_text(encoding="utf-8")


def test_stats_join_keeps_the_grids_and_reads_the_colour_field_as_numbers(grids: gpd.GeoDataFrame) -> None:
    from gridkit.maps.job import grids_with_stats

    codes = grids["grid_code"].astype(str)
    stats = pd.DataFrame({"grid_code": codes[::-1].to_numpy(), "rate": ["1.5", None, *["2"] * (len(grids) - 2)],
                          "name": ["x"] * len(grids)})
    joined = grids_with_stats(grids, stats, numeric=("rate", "name"))
    assert joined.index.equals(grids.index) and joined["grid_code"].tolist() == codes.tolist()
    assert joined["rate"].dtype == float and joined["rate"].isna().sum() == 1
    assert joined.set_index("grid_code").loc[codes.iloc[-1], "rate"] == 1.5
    assert joined["name"].dtype != float  # not numbers: stays text


def test_cli_names_an_alerts_file_without_grid_code(county: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"code": ["1"], "observed": [3]}).to_csv(tmp_path / "alerts.csv", index=False)
    out = tmp_path / "m.html"
    assert main(["--quiet", "map", str(county["grids"]), "--alerts", str(tmp_path / "alerts.csv"), "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "alerts.csv" in err and "grid_code" in err and not out.exists()


def test_cli_converts_amap_coordinates_of_field_points(county: dict[str, Path], tmp_path: Path) -> None:
    lon, lat = 106.6201, 26.4652  # WGS84
    glon, glat = wgs84_to_gcj02(lon, lat)
    pd.DataFrame({"lon": [glon] * 2, "lat": [glat] * 2, "reported_at": ["2024-06-03T08:00:00"] * 2}).to_csv(
        tmp_path / "gcj.csv", index=False)
    out = tmp_path / "m.html"
    assert main(["--quiet", "map", str(county["grids"]), "--incidents", str(tmp_path / "gcj.csv"),
                 "--input-coords", "gcj02", "-o", str(out)]) == 0
    found = re.search(r"TDHeatmap\(\s*\[\s*\[\s*\[\s*([\d.]+),\s*([\d.]+)", out.read_text(encoding="utf-8"))
    assert found is not None
    assert abs(float(found.group(1)) - lat) < 1e-6 and abs(float(found.group(2)) - lon) < 1e-6


def test_basemap_choices() -> None:
    assert basemap_from("none") is None
    with pytest.raises(ParameterError, match="Tianditu"):
        basemap_from("tianditu")
    t = basemap_from("tianditu", tianditu_key="abc123", lang="en")
    assert len(t.tiles) == 2 and "tk=abc123" in t.tiles[0].url and "eva_w" in t.tiles[1].url
    assert basemap_from("OSM").coords == "wgs84"
    with pytest.raises(ParameterError, match="lacks"):
        basemap_from("http://127.0.0.1:8080/tiles.png")
    with pytest.raises(ParameterError, match="unknown basemap"):
        basemap_from("bing")


def test_local_tile_server_in_the_page(tmp_path: Path) -> None:
    out = save_map(map_for_grids(_box_grids(), basemap="http://127.0.0.1:8080/{z}/{x}/{y}.png"),
                   tmp_path / "m.html", offline=True)
    assert "http://127.0.0.1:8080/{z}/{x}/{y}.png" in out.read_text(encoding="utf-8")


def test_cli_usage_and_data_errors(county: dict[str, Path], tmp_path: Path, capsys) -> None:
    grids = str(county["grids"])
    assert main(["map", grids, "--basemap", "tianditu", "-o", str(tmp_path / "a.html")]) == 2
    assert "--tianditu-key" in capsys.readouterr().err
    assert main(["map", grids, "--color-by", "nothing", "-o", str(tmp_path / "b.html")]) == 2
    assert "nothing" in capsys.readouterr().err
    bad = tmp_path / "bad.gpkg"
    _box_grids().drop(columns="grid_code").to_file(bad)
    assert main(["map", str(bad), "-o", str(tmp_path / "c.html")]) == 3
    err = capsys.readouterr().err
    assert "bad.gpkg" in err and "grid_code" in err
    assert main(["map", grids, "-o", str(tmp_path / "d.png")]) == 2
    assert not list(tmp_path.glob("*.html"))  # nothing half-written


# ----------------------------------------------------------------------------- in a real browser


def test_offline_county_map_loads_with_no_network(browser: Browser, full_page: Path,
                                                  grids: gpd.GeoDataFrame) -> None:
    page = browser.open(full_page, wait_for=READY)
    try:
        assert page.blocked == [] and page.failed == [] and page.errors == []
        drawn = page.evaluate("""() => gridkit.layers.grids.getLayers()
            .filter(l => l._path && l._path.isConnected && l._path.getAttribute('d').length > 3).length""")
        assert drawn == len(grids)
        layers = page.evaluate("Object.keys(gridkit.layers)")
        assert {"grids", "communities", "buildings", "streets", "incidents", "tracks", "routes", "alerts",
                "bases", "components_0"} <= set(layers)
        alerted = page.evaluate("gridkit.layers.alerts.getLayers().length")
        assert alerted == 1
        assert page.evaluate("document.querySelector('.legend svg') !== null")
        assert page.evaluate("document.querySelectorAll('.timecontrol-date').length") == 1
        # components start unticked; ticking one in the layer control draws its clusters
        assert page.evaluate("document.querySelectorAll('.marker-cluster').length") == 0
        page.page.get_by_text(re.compile(r"部件 · 公用设施")).click()
        page.page.wait_for_selector(".marker-cluster", timeout=5000)
        assert page.evaluate("gridkit.map.hasLayer(gridkit.layers.components_0)")
        assert page.errors == [] and page.blocked == []
    finally:
        page.close()


def test_english_labels_and_a_grid_tooltip_on_hover(browser: Browser, county: dict[str, Path],
                                                    grids: gpd.GeoDataFrame) -> None:
    out = county["root"] / "en.html"
    assert main(["--quiet", "map", str(county["grids"]), "--lang", "en", "--offline", "-o", str(out)]) == 0
    page = browser.open(out, wait_for=READY)
    try:
        assert page.blocked == [] and page.errors == []
        names = page.evaluate("""() => Array.from(document.querySelectorAll(
            '.leaflet-control-layers-overlays label')).map(l => l.textContent.trim())""")
        assert any(n.startswith("grids (") for n in names) and any(n.startswith("buildings (") for n in names)
        assert any(n.startswith("communities (") for n in names)
        assert not any(re.search(r"[\u4e00-\u9fff]", n) for n in names)
        target = grids.sort_values("area_m2").iloc[len(grids) // 2]
        point = target.geometry.point_on_surface()
        xy = page.evaluate("""([lat, lon]) => { var m = gridkit.map; m.setView([lat, lon], 17, {animate: false});
            var p = m.latLngToContainerPoint([lat, lon]); var r = m.getContainer().getBoundingClientRect();
            return [p.x + r.left, p.y + r.top]; }""", [point.y, point.x])
        page.page.mouse.move(xy[0] + 1, xy[1] + 1)
        page.page.mouse.move(*xy)
        page.page.wait_for_selector(".leaflet-tooltip", timeout=5000)
        text = page.evaluate("document.querySelector('.leaflet-tooltip').textContent")
        assert target["grid_code"] in text and "households" in text
    finally:
        page.close()


def test_amap_basemap_shifts_overlays_by_the_gcj02_offset(browser: Browser, county: dict[str, Path],
                                                          grids: gpd.GeoDataFrame) -> None:
    out = county["root"] / "amap.html"
    assert main(["--quiet", "map", str(county["grids"]), "--basemap", "amap", "--offline", "-o", str(out)]) == 0
    page = browser.open(out, wait_for=READY)
    try:
        # the only requests are the Amap tiles, blocked here (aborted requests also count as failed)
        assert page.blocked and all("autonavi.com" in u for u in page.blocked)
        assert all("autonavi.com" in u for u in page.failed)
        assert all(e.startswith("Failed to load resource") for e in page.errors)
        code, (lat, lon) = page.evaluate("""() => { var l = gridkit.layers.grids.getLayers()[0];
            var v = l.getLatLngs()[0][0]; return [l.feature.properties.grid_code, [v.lat, v.lng]]; }""")
        ring = grids.set_index("grid_code").to_crs(4326).geometry[code].exterior.coords
        wlon, wlat = ring[0]
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        assert abs(lon - glon) < 2e-7 and abs(lat - glat) < 2e-7
        assert np.hypot(lon - wlon, lat - wlat) > 1e-3  # hundreds of metres, not rounding
        assert "GCJ-02" in page.evaluate("document.querySelector('.leaflet-control-attribution').textContent")
    finally:
        page.close()


def test_utc_datetimes_of_a_geopackage_are_shown_in_local_time(tmp_path: Path) -> None:
    """tracks.gpkg stores stop times as GeoPackage (UTC) datetimes; the map shows China Standard Time."""
    from gridkit.io import read_layer, write_layers
    from gridkit.maps._data import for_display

    stops = gpd.GeoDataFrame({"start": pd.to_datetime(["2024-06-26T00:43:30Z"], utc=True)},
                             geometry=gpd.points_from_xy([106.62], [26.46]), crs=4490)
    write_layers(tmp_path / "t.gpkg", {"stops": stops})
    back = read_layer(tmp_path / "t.gpkg", layer="stops")
    assert for_display(back, role="tracks")["start"].tolist() == [pd.Timestamp("2024-06-26 08:43:30")]
