"""The partition map as a sign-off page: the table behind it, and the page in a real Chromium offline."""

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

from gridkit.errors import MissingFieldError, ParameterError
from gridkit.maps import save_map
from gridkit.maps.signoff import RULE_COLOUR, TOLERANCE_COLOUR, signoff_map, signoff_table

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_county"
READY = "window.gridkit !== undefined"
TOWN = "520199001001"  # one city community of the sample county: a small part of the county
PLANTED_NOTE = "one tower of 900 households, planted by the test"


def _row_grids(households: list[int], dedicated: list[bool] | None = None, community: str = "520199001001"
               ) -> gpd.GeoDataFrame:
    n = len(households)
    return gpd.GeoDataFrame(
        {"grid_code": [f"{community}{i + 1:03d}" for i in range(n)], "community_code": community,
         "households": households, "dedicated": dedicated or [False] * n},
        geometry=[shapely.box(106.61 + 0.002 * i, 26.46, 106.612 + 0.002 * i, 26.462) for i in range(n)], crs=4490)


# ----------------------------------------------------------------------------- the table


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["520199001001", "520199001002", "520199201201"]),
                          st.integers(50, 900), st.booleans()), min_size=1, max_size=30),
       st.sampled_from([0.1, 0.2, 0.35]))
def test_deviation_is_from_the_mean_of_regular_grids(rows: list[tuple[str, int, bool]], tol: float) -> None:
    frame = pd.DataFrame(rows, columns=["community_code", "households", "dedicated"])
    frame["grid_code"] = [f"{c}{i:03d}" for i, c in enumerate(frame["community_code"])]
    frame.index = pd.Index(np.arange(len(frame)) * 3 + 7)  # an index that is not 0..n-1
    table = signoff_table(frame, tolerance=tol)
    assert table.index.equals(frame.index)
    for code, part in frame.groupby("community_code"):
        regular = part[~part["dedicated"]]
        got = table.loc[part.index]
        if len(regular):
            assert np.allclose(got["mean_households"], regular["households"].mean())
            assert (got["regular_grids"] == len(regular)).all()
            dev = got.loc[regular.index, "deviation"]
            assert np.allclose(dev, regular["households"] / regular["households"].mean() - 1)
            assert abs(float((dev * regular["households"].mean()).sum())) < 1e-6  # deviations cancel out
        assert got.loc[part["dedicated"], "deviation"].isna().all()
    regular = ~frame["dedicated"]
    assert (table.loc[regular, "within_tolerance"] == (table.loc[regular, "deviation"].abs() <= tol + 1e-9)).all()
    assert table.loc[~regular, "within_tolerance"].all()  # dedicated grids are not held to the mean
    outside = ~table["within_tolerance"]
    assert all(any("超出容差" in r for r in reasons) for reasons in table.loc[outside, "reasons"])
    assert not table["breaks_rule"].any()


def test_rule_reasons_from_bounds_and_issues_each_once() -> None:
    grids = _row_grids([300, 900, 310, 290]).assign(within_bounds=[True, False, True, True],
                                                     note=["", PLANTED_NOTE, "", ""])
    codes = grids["grid_code"].tolist()
    issues = pd.DataFrame([
        {"rule": "households_within_bounds", "community_code": TOWN, "grid_code": codes[1], "reason": PLANTED_NOTE},
        {"rule": "one_piece", "community_code": TOWN, "grid_code": codes[2], "reason": "the grid has 2 parts"},
    ])
    table = signoff_table(grids, issues=issues, tolerance=0.2, lang="en")
    assert table["breaks_rule"].tolist() == [False, True, True, False]
    assert table.loc[1, "reasons"][0] == f"households out of bounds: {PLANTED_NOTE}"
    assert sum(PLANTED_NOTE in r for r in table.loc[1, "reasons"]) == 1  # the bounds and the issue row: once
    assert table.loc[2, "reasons"][0] == "grid not in one piece: the grid has 2 parts"
    # without the issues table the grid's own note says why
    assert signoff_table(grids, lang="en").loc[1, "reasons"][0] == f"households out of bounds: {PLANTED_NOTE}"


def test_community_issues_and_unknown_grids_go_to_the_notes() -> None:
    grids = _row_grids([300, 310])
    issues = pd.DataFrame([
        {"rule": "tiles_community", "community_code": TOWN, "grid_code": "", "reason": "areas differ by 1e-3"},
        {"rule": "one_piece", "community_code": TOWN, "grid_code": "520199009009009", "reason": "2 parts"},
    ])
    m = signoff_map(grids, communities=None, issues=issues, lang="en")
    notes = next(c for c in m._children.values() if type(c).__name__ == "Notes").notes
    assert notes == [f"{TOWN}: grids do not tile the community, areas differ by 1e-3",
                     "1 issues name grid codes not in the grids: 520199009009009"]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(MissingFieldError, match="households"):
        signoff_map(_row_grids([300]).drop(columns="households"), communities=None)
    with pytest.raises(MissingFieldError, match="reason"):
        signoff_map(_row_grids([300]), communities=None, issues=pd.DataFrame({"rule": ["x"]}))
    with pytest.raises(ParameterError, match="tolerance"):
        signoff_map(_row_grids([300]), communities=None, tolerance=-0.1)
    with pytest.raises(ParameterError, match="building_zoom"):
        signoff_map(_row_grids([300]), communities=None, building_zoom=25)


def test_context_is_cut_to_the_grids_merged_and_quantised() -> None:
    grids = _row_grids([300, 310])
    far = shapely.box(107.5, 27.5, 107.501, 27.501)  # 100 km away
    near = [shapely.box(106.6101 + 0.0003 * i, 26.4601, 106.6103 + 0.0003 * i, 26.4603) for i in range(12)]
    buildings = gpd.GeoDataFrame(geometry=[*near, far], crs=4490)
    m = signoff_map(grids, communities=None, buildings=buildings, lang="en")
    layer = next(c for c in m._children.values() if str(getattr(c, "layer_name", "")).startswith("buildings"))
    assert layer.layer_name == "buildings (12) (from zoom 16)"
    features = layer.data["features"]
    assert len(features) < 12  # merged into a few shapes
    assert sum(len(f["geometry"]["coordinates"]) for f in features) == 12  # every footprint kept
    coords = np.concatenate([np.asarray(p, dtype=float).reshape(-1, 2) for f in features
                             for p in f["geometry"]["coordinates"]])
    assert np.allclose(coords, np.round(coords, 6), atol=1e-12, rtol=0)
    notes = next(c for c in m._children.values() if type(c).__name__ == "Notes").notes
    assert "buildings: 12 of 13 near the grids drawn" in notes


# ----------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("signoff")
    code = main(["--quiet", "partition", str(SAMPLE / "communities.gpkg"), "--buildings",
                 str(SAMPLE / "buildings.gpkg"), "--streets", str(SAMPLE / "streets.gpkg"), "--dedicated",
                 str(SAMPLE / "dedicated.gpkg"), "-o", str(root / "part")])
    assert code == 0
    gpkg = root / "part" / "grids.gpkg"
    return {"root": root, **{name: gpd.read_file(gpkg, layer=name) for name in ("grids", "communities", "buildings")},
            "streets": gpd.read_file(SAMPLE / "streets.gpkg")}


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.skip("needs playwright and /usr/bin/chromium")
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def town_page(county: dict) -> tuple[Path, gpd.GeoDataFrame, str]:
    """The sign-off page of one community's grids over the whole county's context, one grid planted out of bounds."""
    grids = county["grids"]
    town = grids[grids["community_code"] == TOWN].copy()
    planted = town.index[len(town) // 2]
    town.loc[planted, ["households", "within_bounds", "note"]] = [900, False, PLANTED_NOTE]
    m = signoff_map(town, communities=county["communities"], streets=county["streets"],
                    buildings=county["buildings"], tolerance=0.2)
    out = save_map(m, Path(county["root"]) / "signoff.html", offline=True)
    return out, town, str(town.loc[planted, "grid_code"])


def _screen_xy(page, lon: float, lat: float) -> list[float]:
    return page.evaluate("""([lat, lon]) => { var m = gridkit.map;
        var p = m.latLngToContainerPoint([lat, lon]); var r = m.getContainer().getBoundingClientRect();
        return [p.x + r.left, p.y + r.top]; }""", [lat, lon])


def test_signoff_page_offline_in_chromium(browser: Browser, town_page, county: dict) -> None:
    path, town, planted = town_page
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["'](?:https?:)?//""", html)
    page = browser.open(path, wait_for=READY)
    try:
        assert page.blocked == [] and page.failed == [] and page.errors == []
        drawn = page.evaluate("""() => gridkit.layers.grids.getLayers()
            .filter(l => l._path && l._path.isConnected && l._path.getAttribute('d').length > 3).length""")
        assert drawn == len(town)
        serials = page.evaluate("Array.from(document.querySelectorAll('.gridkit-serial span')).map(s => s.textContent)")
        assert sorted(serials) == sorted(town["grid_code"].str[-3:])
        stroke = page.evaluate("""(code) => gridkit.layers.grids.getLayers()
            .find(l => l.feature.properties.grid_code === code)._path.getAttribute('stroke')""", planted)
        assert stroke == RULE_COLOUR
        # the map opens at the grids: they are inside the view, and the view is a small part of the county
        view = page.evaluate("""() => { var b = gridkit.map.getBounds();
            return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }""")
        gx0, gy0, gx1, gy1 = town.to_crs(4326).total_bounds
        assert view[0] <= gx0 and view[1] <= gy0 and view[2] >= gx1 and view[3] >= gy1
        cx0, cy0, cx1, cy1 = county["communities"].to_crs(4326).total_bounds
        assert (view[2] - view[0]) * (view[3] - view[1]) < 0.2 * (cx1 - cx0) * (cy1 - cy0)
        # the planted grid's tooltip gives the reason
        spot = town.set_index("grid_code").to_crs(4326).geometry[planted].point_on_surface()
        xy = _screen_xy(page, spot.x, spot.y)
        page.page.mouse.move(xy[0] + 2, xy[1] + 2)
        page.page.mouse.move(*xy)
        page.page.wait_for_selector(".leaflet-tooltip", timeout=5000)
        tip = page.evaluate("document.querySelector('.leaflet-tooltip').textContent")
        assert planted in tip and PLANTED_NOTE in tip and "户数" in tip and "偏离平均" in tip
        assert page.evaluate("document.querySelector('.gridkit-legend') !== null")
        assert page.errors == []
    finally:
        page.close()


def test_buildings_from_street_zoom_and_tolerance_outlines(browser: Browser, town_page) -> None:
    path, town, _ = town_page
    page = browser.open(path, wait_for=READY)
    try:
        def buildings_at(zoom: int) -> bool:
            page.evaluate("(z) => gridkit.map.setZoom(z, {animate: false})", zoom)
            page.page.wait_for_timeout(200)
            return page.evaluate("gridkit.map.hasLayer(gridkit.layers.buildings)")

        assert not buildings_at(14) and buildings_at(17) and not buildings_at(15)
        assert buildings_at(16)
        strokes = page.evaluate("""() => gridkit.layers.grids.getLayers().map(
            l => [l.feature.properties.grid_code, l.options.color])""")
        table = signoff_table(town, tolerance=0.2).set_index(town["grid_code"])
        expected = {code: RULE_COLOUR if table.loc[code, "breaks_rule"] else
                    TOLERANCE_COLOUR if not table.loc[code, "within_tolerance"] else "#3b3b3b"
                    for code in town["grid_code"]}
        assert dict(strokes) == expected
        assert TOLERANCE_COLOUR in expected.values()  # the planted 900 pulls the others below the mean
        assert page.errors == [] and page.blocked == []
    finally:
        page.close()


def test_english_page_has_no_chinese_words(county: dict, tmp_path: Path) -> None:
    grids = county["grids"]
    m = signoff_map(grids, communities=county["communities"], streets=county["streets"], lang="en")
    html = save_map(m, tmp_path / "en.html").read_text(encoding="utf-8")
    legend = re.search(r'innerHTML = (".*?");', html)
    assert legend is not None and not re.search(r"[\u4e00-\u9fff]", legend.group(1).encode().decode("unicode_escape"))
