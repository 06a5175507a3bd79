"""Pages with a weight budget: a synthetic county with every layer, opened in Chromium with the network blocked.

The county is small enough for the suite (about 10,000 households, a quarter of a year of
incidents) but goes through the paths a large one takes: components past ``--max-points``
drawn on a canvas, buildings (every one) from street zoom, incident cells enlarged to fit
``max_heat_cells``. The packing of coordinates is checked as a property.
"""

from __future__ import annotations

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

from gridkit.maps._canvas import CanvasLayer, pack_geometries, unpack_geometries
from gridkit.maps._packed import pack_features
from gridkit.maps.budget import MAP_BUDGET_BYTES, page_size, stamp_size

READY = "window.gridkit !== undefined"
MAX_POINTS = 500  # far below the county's components: the canvas path


# ----------------------------------------------------------------------------- packing (no browser)


def _polygon(draw, x0: float, y0: float) -> shapely.Polygon:
    n = draw(st.integers(3, 9))
    angles = np.sort(np.array(draw(st.lists(st.floats(0, 2 * np.pi - 0.01), min_size=n, max_size=n, unique=True))))
    radii = np.array(draw(st.lists(st.floats(2e-5, 4e-4), min_size=n, max_size=n)))
    ring = np.column_stack([x0 + radii * np.cos(angles), y0 + radii * np.sin(angles)])
    polygon = shapely.make_valid(shapely.Polygon(ring))
    hole = shapely.box(x0 - 4e-6, y0 - 4e-6, x0 + 4e-6, y0 + 4e-6)
    if draw(st.booleans()) and polygon.contains(hole.buffer(2e-6)):
        polygon = polygon.difference(hole)
    return polygon


@st.composite
def layers(draw):
    kind = draw(st.sampled_from(["polygon", "line", "point"]))
    n = draw(st.integers(1, 12))
    out = []
    for _ in range(n):
        x0, y0 = draw(st.floats(73.0, 135.0)), draw(st.floats(18.0, 53.0))
        if kind == "polygon":
            parts = [_polygon(draw, x0 + 1e-3 * i, y0) for i in range(draw(st.integers(1, 3)))]
            geom = shapely.union_all([p for p in parts if p.area > 1e-10])  # above about 1 m²
            if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
                continue
        elif kind == "line":
            steps = np.array(draw(st.lists(st.tuples(st.floats(-3e-4, 3e-4), st.floats(-3e-4, 3e-4)),
                                           min_size=2, max_size=8)))
            geom = shapely.LineString(np.cumsum(steps, axis=0) + [x0, y0])
        else:
            k = draw(st.integers(1, 4))
            geom = shapely.MultiPoint([(x0 + 1e-4 * i, y0 - 1e-4 * i) for i in range(k)]) if k > 1 \
                else shapely.Point(x0, y0)
        out.append(geom)
    return kind, np.array(out, dtype=object)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(layers())
def test_packed_coordinates_decode_to_the_input_within_half_a_quantum(layer) -> None:
    kind, geoms = layer
    packed = pack_geometries(geoms)
    assert len(packed["f"]) == len(geoms)
    back = unpack_geometries(packed, kind)
    for original, decoded in zip(geoms, back, strict=True):
        # same vertices in the same order (a ring's closing vertex is left out and put back)
        a, b = shapely.get_coordinates(original), shapely.get_coordinates(decoded)
        assert a.shape == b.shape
        assert shapely.get_num_interior_rings(shapely.get_parts(original)).sum() == \
            shapely.get_num_interior_rings(shapely.get_parts(decoded)).sum()
        assert np.abs(a - b).max() <= 0.5e-6 + 1e-9
        assert decoded.geom_type.replace("Multi", "") == original.geom_type.replace("Multi", "")


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.0)), min_size=2, max_size=6),
                min_size=1, max_size=5))
def test_packed_geojson_steps_add_up_to_the_vertices(lines: list[list[tuple[float, float]]]) -> None:
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"n": i}, "geometry": {"type": "MultiLineString", "coordinates": [line, line]}}
        for i, line in enumerate(lines)]}
    packed = pack_features(data)
    per = round(1 / packed["q"])
    for i, (feature, line) in enumerate(zip(packed["f"], lines, strict=True)):
        assert feature["g"]["t"] == "MultiLineString" and feature["p"] == {"n": i}
        steps = np.concatenate([np.asarray(part).reshape(-1, 2) for part in feature["g"]["c"]])
        vertices = np.cumsum(steps, axis=0) / per  # the steps run on through the whole feature
        assert np.abs(vertices - np.array(line + line)).max() <= 0.5 / per + 1e-9


def test_a_stamped_page_states_its_own_size_and_budget() -> None:
    html = stamp_size("<html><head></head><body>" + "x" * 5000 + "</body></html>", budget_bytes=3 * 2**20)
    assert page_size(html) == len(html.encode("utf-8"))
    assert 'name="gridkit-size-budget" content="3145728"' in html and "(budget 3 MB)" in html


# ----------------------------------------------------------------------------- a synthetic county, in Chromium


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pages")
    src, part = root / "county", root / "part"
    assert main(["--quiet", "synth", "-o", str(src), "--households", "10000", "--seed", "3",
                 "--incidents-per-day", "150", "--days", "90"]) == 0
    assert main(["--quiet", "partition", str(src / "communities.gpkg"), "--buildings", str(src / "buildings.gpkg"),
                 "--streets", str(src / "streets.gpkg"), "-o", str(part)]) == 0
    return {"root": root, "src": src, "grids": part / "grids.gpkg", "signoff": part / "map.html"}


@pytest.fixture(scope="module")
def overview(county: dict[str, Path]) -> Path:
    out = county["root"] / "overview.html"
    src = county["src"]
    assert main(["--quiet", "map", str(county["grids"]), "--streets", str(src / "streets.gpkg"),
                 "--components", str(src / "components.gpkg"), "--incidents", str(src / "incidents.csv"),
                 "--tracks", str(src / "tracks.csv"), "--max-points", str(MAX_POINTS), "--lang", "en",
                 "--offline", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.skip("needs playwright and /usr/bin/chromium")
    with Browser() as b:
        yield b


def _toggle_every_layer(page) -> list[str]:
    """Untick and tick again every overlay of the layer control; the names of those that did not follow."""
    stuck = []
    count = page.evaluate("document.querySelectorAll('.leaflet-control-layers-overlays input').length")
    assert count >= 3
    click = "(n) => document.querySelectorAll('.leaflet-control-layers-overlays input')[n].click()"
    for n in range(count):
        name = page.evaluate("(n) => document.querySelectorAll('.leaflet-control-layers-overlays label')[n]"
                             ".textContent.trim()", n)
        on_map = """(n) => { var id = document.querySelectorAll('.leaflet-control-layers-overlays input')[n].layerId;
            var hit = Object.values(gridkit.layers).find(l => L.stamp(l) === id);
            return hit === undefined ? null : gridkit.map.hasLayer(hit); }"""
        before = page.evaluate(on_map, n)
        if before is None:
            stuck.append(f"{name} (not in window.gridkit)")
            continue
        page.evaluate(click, n)  # a click on the control's checkbox, as a user's
        middle = page.evaluate(on_map, n)
        page.evaluate(click, n)
        after = page.evaluate(on_map, n)
        if not (middle is (not before) and after is before):
            stuck.append(name)
    return stuck


def test_county_page_loads_offline_under_its_budget_and_says_what_it_aggregates(browser: Browser,
                                                                                 overview: Path,
                                                                                 county: dict[str, Path]) -> None:
    html = overview.read_text(encoding="utf-8")
    assert page_size(html) == overview.stat().st_size <= MAP_BUDGET_BYTES
    components = gpd.read_file(county["src"] / "components.gpkg")
    buildings = gpd.read_file(county["grids"], layer="buildings")
    page = browser.open(overview, wait_for=READY)
    try:
        assert page.blocked == [] and page.failed == [] and page.errors == []
        assert page.evaluate("document.getElementById('gridkit-page-size').textContent").endswith(
            f"(budget {MAP_BUDGET_BYTES // 2**20} MB)")
        notes = page.evaluate("document.querySelector('.gridkit-notes').textContent")
        assert f"all {len(components):,} components drawn" in notes
        assert "summed per week on cells of about" in notes
        assert "evenly sampled" not in notes  # nothing sampled away
        # every building and every component is in the page: the canvas layers hold them all
        held = page.evaluate("""() => { var out = {buildings: 0, components: 0};
            Object.entries(gridkit.layers).forEach(([k, l]) => {
                if (k === 'buildings') { out.buildings = l.total; out.shapes = l.points; }
                if (k.startsWith('components_')) { out.components += l.points; } });
            return out; }""")
        assert held["components"] == len(components)
        assert held["buildings"] >= 1 and held["shapes"] >= 4 * len(buildings)  # merged squares, every vertex
        # at the opening (district) zoom the components are counted per square, none left out
        page.evaluate("""() => Object.entries(gridkit.layers).forEach(([k, l]) => {
            if (k.startsWith('components_')) { gridkit.map.addLayer(l); } })""")
        x0, y0, x1, y1 = components.to_crs(4326).total_bounds
        page.evaluate("(b) => gridkit.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {animate: false})", [x0, y0, x1, y1])
        page.page.wait_for_timeout(200)
        zoom, total = page.evaluate("""() => [gridkit.map.getZoom(), Object.entries(gridkit.layers)
            .filter(([k, l]) => k.startsWith('components_')).reduce((s, [k, l]) => s + l.counted, 0)]""")
        assert zoom < 16 and total == len(components)
        assert page.errors == []
    finally:
        page.close()


def test_buildings_appear_at_street_zoom_and_every_layer_toggles(browser: Browser, overview: Path,
                                                                county: dict[str, Path]) -> None:
    buildings = gpd.read_file(county["grids"], layer="buildings").to_crs(4326)
    big = buildings.geometry.iloc[int(np.argmax(shapely.area(buildings.geometry.to_numpy())))]
    spot = big.representative_point()
    page = browser.open(overview, wait_for=READY)
    try:
        assert page.evaluate("gridkit.map.getZoom()") < 16
        assert not page.evaluate("gridkit.map.hasLayer(gridkit.layers.buildings)")
        assert page.evaluate("document.querySelectorAll('canvas.gridkit-canvas').length") >= 1  # streets
        page.evaluate("([lat, lon]) => gridkit.map.setView([lat, lon], 18, {animate: false})", [spot.y, spot.x])
        page.page.wait_for_timeout(200)
        assert page.evaluate("gridkit.map.hasLayer(gridkit.layers.buildings)")
        assert page.evaluate("gridkit.layers.buildings.drawn") >= 1
        # the canvas is painted where the building is (grey fill), and not in a blank corner of the view
        pixel = """([lat, lon]) => { var l = gridkit.layers.buildings, c = l._canvas, m = gridkit.map;
            var p = m.latLngToContainerPoint([lat, lon]), r = window.devicePixelRatio || 1;
            return Array.from(c.getContext('2d').getImageData(Math.round(p.x * r), Math.round(p.y * r), 1, 1).data); }"""
        assert page.evaluate(pixel, [spot.y, spot.x])[3] > 0
        stuck = _toggle_every_layer(page)
        assert stuck == []
        # back to district zoom: the buildings go off again
        page.evaluate("() => gridkit.map.setZoom(13, {animate: false})")
        page.page.wait_for_timeout(200)
        assert not page.evaluate("gridkit.map.hasLayer(gridkit.layers.buildings)")
        assert page.errors == [] and page.blocked == []
    finally:
        page.close()


def test_signoff_page_of_the_county_loads_offline_and_toggles(browser: Browser, county: dict[str, Path]) -> None:
    html = county["signoff"].read_text(encoding="utf-8")
    assert page_size(html) == county["signoff"].stat().st_size
    grids = gpd.read_file(county["grids"], layer="grids").to_crs(4326)
    page = browser.open(county["signoff"], wait_for=READY)
    try:
        assert page.blocked == [] and page.failed == [] and page.errors == []
        assert page.evaluate("gridkit.layers.grids.getLayers().length") == len(grids)
        spot = grids.geometry.iloc[0].representative_point()
        page.evaluate("([lat, lon]) => gridkit.map.setView([lat, lon], 17, {animate: false})", [spot.y, spot.x])
        page.page.wait_for_timeout(200)
        assert page.evaluate("gridkit.map.hasLayer(gridkit.layers.buildings) && gridkit.layers.buildings.drawn") >= 1
        assert _toggle_every_layer(page) == []
        assert page.errors == []
    finally:
        page.close()


def test_cli_warns_past_the_page_budget_and_still_writes_the_page(county: dict[str, Path], tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.html"
    assert main(["--quiet", "map", str(county["grids"]), "--page-budget", "0.05", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"warning: .*m\.html is [\d.]+ MB, over its budget of 0\.1 MB", err)
    assert err.count("over its budget") == 1
    assert 'name="gridkit-size-budget" content="52429"' in out.read_text(encoding="utf-8")
    assert main(["--quiet", "map", str(county["grids"]), "--page-budget", "0", "-o", str(tmp_path / "z.html")]) == 2
    assert not (tmp_path / "z.html").exists()


def test_incident_cells_grow_until_the_cell_weeks_fit() -> None:
    from gridkit.maps import map_for_grids

    rng = np.random.default_rng(5)
    n = 4000
    pts = gpd.GeoDataFrame({"reported_at": pd.Timestamp("2024-03-04") + pd.to_timedelta(rng.integers(0, 60, n), "D")},
                           geometry=gpd.points_from_xy(106.6 + rng.random(n) * 0.05, 26.4 + rng.random(n) * 0.05),
                           crs=4326)
    grids = gpd.GeoDataFrame({"grid_code": ["520199001001001"], "households": [300]},
                             geometry=[shapely.box(106.6, 26.4, 106.65, 26.45)], crs=4326)
    m = map_for_grids(grids, incidents=pts, lang="en", max_heat_cells=300)
    heat = next(c for c in m._children.values() if str(getattr(c, "layer_name", "")).startswith("incident heat"))
    rows = sum(len(frame) for frame in heat.data)
    assert 0 < rows <= 300
    notes = next(c for c in m._children.values() if type(c).__name__ == "Notes").notes
    cell = int(re.search(r"cells of about (\d+) m", " ".join(notes)).group(1))
    assert cell >= 100 and cell % 50 == 0  # 50 m doubled
    assert f"{n:,} incidents" in " ".join(notes)
    assert f"incident cells enlarged from 50 m to {cell} m: at most 300 cell-weeks keep the page light" in notes


def test_canvas_layer_data_is_every_feature() -> None:
    geoms = np.array([shapely.box(106.6 + 1e-3 * i, 26.4, 106.6005 + 1e-3 * i, 26.4005) for i in range(5)] + [None],
                     dtype=object)
    layer = CanvasLayer(geoms, name="b", style={})
    assert layer.kind == "polygon" and len(layer.packed["f"]) == 5 and len(layer.data["features"]) == 5


def test_save_map_logs_a_warning_past_the_budget_which_partition_shows(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    from gridkit.maps import save_map, signoff_map

    grids = gpd.GeoDataFrame({"grid_code": ["520199001001001"], "households": [300]},
                             geometry=[shapely.box(106.6, 26.4, 106.61, 26.41)], crs=4490)
    with caplog.at_level("WARNING", logger="gridkit.maps.offline"):
        out = save_map(signoff_map(grids, communities=None), tmp_path / "s.html", budget_bytes=10_000)
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "over its budget" in caplog.records[0].message
    assert page_size(out.read_text(encoding="utf-8")) == out.stat().st_size > 10_000
