"""Heat: KDE surfaces in metres (exact and binned FFT), weekly surfaces, GeoTIFF/PNG output, filters,
the offline page in a real browser (small and large inputs), the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from browser import Browser
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.crs import local_crs
from gridkit.errors import EmptyLayerError, InputDataError, MissingCRSError, ParameterError
from gridkit.heat.bandwidth import bandwidth_for_points
from gridkit.heat.density import heat_from_incidents, heat_from_points
from gridkit.heat.frames import week_numbers, weekly_heat
from gridkit.heat.raster import NODATA, heat_to_geotiff
from gridkit.heat.rates import rates_for_grids
from gridkit.heat.select import filter_incidents

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_county"
GK = 4545  # CGCS2000 / 3-degree Gauss-Kruger CM 108E, the sample county's zone
X0, Y0 = 362_000.0, 2_929_000.0


def gk_points(xy) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(geometry=shapely.points(xy[:, 0], xy[:, 1]), crs=GK)


# --------------------------------------------------------------------------- the surface


@settings(derandomize=True, max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 2000), st.floats(0, 2000)), min_size=1, max_size=30),
    st.floats(50, 400),
    st.sampled_from([2.0, 3.0, 10.0]),
    st.sampled_from(["exact", "fft"]),
)
def test_kde_integrates_to_one_over_the_padded_area(offsets, bandwidth, cells_per_bandwidth, method):
    pts = gk_points(np.array(offsets) + [X0, Y0])
    surface = heat_from_incidents(pts, bandwidth=bandwidth, cell_m=bandwidth / cells_per_bandwidth, crs=GK,
                                  method=method)
    assert surface.detail["method"] == method
    mass = surface.probability.sum() * surface.cell_m**2
    assert mass == pytest.approx(1.0, abs=1e-3)
    # incidents per km² integrate to the number of incidents
    assert surface.density.sum() * surface.cell_m**2 / 1e6 == pytest.approx(len(pts), rel=1e-3)
    assert surface.crs.to_epsg() == GK and np.isfinite(surface.probability).all()


@settings(derandomize=True, max_examples=10, deadline=None)
@given(st.integers(3, 60), st.integers(0, 2**32 - 1), st.sampled_from(["scott", "silverman"]))
def test_rule_bandwidths_integrate_to_one(n, seed, rule):
    rng = np.random.default_rng(seed)
    pts = gk_points(rng.normal(0, rng.uniform(50, 800), (n, 2)) + [X0, Y0])
    h, _ = bandwidth_for_points(shapely.get_coordinates(pts.geometry.to_numpy()), rule=rule)
    surface = heat_from_incidents(pts, bandwidth=rule, cell_m=h / 3)
    assert surface.bandwidth_m == pytest.approx(h)
    assert surface.bandwidth_rule == rule
    assert surface.probability.sum() * surface.cell_m**2 == pytest.approx(1.0, abs=1e-3)


def test_single_point_peak_is_the_gaussian_maximum():
    h, cell = 100.0, 10.0
    # a point at a cell centre (the raster snaps to multiples of the cell size)
    surface = heat_from_incidents(gk_points([X0 + 5.0, Y0 + 5.0]), bandwidth=h, cell_m=cell)
    peak = 1 / (2 * math.pi * h**2)
    assert surface.probability.max() == pytest.approx(peak, rel=1e-4)
    row, col = np.unravel_index(surface.probability.argmax(), surface.shape)
    centre = surface.cell_centres()[row * surface.shape[1] + col]
    assert centre.tolist() == [X0 + 5.0, Y0 + 5.0]
    # one bandwidth away along x the density falls by exp(-1/2)
    assert surface.probability[row, col + 10] == pytest.approx(peak * math.exp(-0.5), rel=1e-4)
    assert surface.density.max() == pytest.approx(peak * 1e6, rel=1e-4)


def test_surface_matches_a_brute_force_sum_of_gaussians():
    rng = np.random.default_rng(11)
    xy = rng.normal(0, 150, (50, 2)) + [X0, Y0]
    h = 90.0
    surface = heat_from_incidents(gk_points(xy), bandwidth=h, cell_m=30.0, crs=GK)
    c = surface.cell_centres()
    d2 = ((c[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    brute = np.exp(-d2 / (2 * h**2)).sum(axis=1) / (2 * math.pi * h**2 * len(xy))
    np.testing.assert_allclose(surface.probability.ravel(), brute, rtol=2e-4, atol=1e-12 * brute.max())


def test_scott_and_silverman_by_hand():
    xy = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 300.0], [100.0, 300.0], [50.0, 150.0]])
    var_x = np.var(xy[:, 0], ddof=1)
    var_y = np.var(xy[:, 1], ddof=1)
    sigma = math.sqrt((var_x + var_y) / 2)
    h, detail = bandwidth_for_points(xy, rule="scott")
    assert h == pytest.approx(sigma * 5 ** (-1 / 6)) and detail["sigma"] == pytest.approx(sigma)
    # Silverman: per axis min(SD, IQR/1.349); IQRs are 100 and 300 here
    a_x = min(math.sqrt(var_x), 100 / 1.349)
    a_y = min(math.sqrt(var_y), 300 / 1.349)
    h_s, _ = bandwidth_for_points(xy, rule="silverman")
    assert h_s == pytest.approx(math.sqrt((a_x**2 + a_y**2) / 2) * 5 ** (-1 / 6))


def test_cross_validation_prefers_narrow_kernels_for_tight_clusters():
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, 3000, (6, 2))
    xy = np.concatenate([c + rng.normal(0, 20, (150, 2)) for c in centres])
    h_cv, detail = bandwidth_for_points(xy, rule="cv", rng=1, cv_max_points=600)
    h_scott, _ = bandwidth_for_points(xy, rule="scott")
    assert detail["cv_sample"] == 600 and len(detail["cv_grid"]) == len(detail["cv_scores"])
    assert 5 < h_cv < h_scott / 2  # the clusters are 20 m wide; Scott smooths across them
    assert bandwidth_for_points(xy, rule="cv", rng=1, cv_max_points=600)[0] == h_cv  # same rng, same answer


def brute_force(xy: np.ndarray, centres: np.ndarray, h: float) -> np.ndarray:
    """The Gaussian KDE at ``centres`` as the plain sum over every point (no separability, no binning)."""
    d2 = ((centres[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-d2 / (2 * h**2)).sum(axis=1) / (2 * math.pi * h**2 * len(xy))


@st.composite
def point_sets(draw):
    """1-40 points: uniform over up to 3 km, or tight clusters, or repeated positions."""
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["uniform", "clusters", "repeats"]))
    if kind == "uniform":
        xy = rng.uniform(0, draw(st.floats(10, 3000)), (n, 2))
    elif kind == "clusters":
        centres = rng.uniform(0, 3000, (draw(st.integers(1, 4)), 2))
        xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, draw(st.floats(1, 200)), (n, 2))
    else:
        xy = np.repeat(rng.uniform(0, 1000, (max(1, n // 5), 2)), 5, axis=0)
    return xy + [X0, Y0]


@settings(derandomize=True, max_examples=80, deadline=None)
@given(point_sets(), st.floats(20, 500), st.floats(1.2, 15.0))
def test_fft_surface_equals_the_brute_force_sum_within_half_a_percent(xy, h, cells_per_bandwidth):
    """Wherever the exact density exceeds 1 % of its peak, the binned FFT surface is within 0.5 % of it."""
    cell = h / cells_per_bandwidth
    surface = heat_from_points(xy, crs=pyproj.CRS(GK), bandwidth=h, cell_m=cell, method="fft")
    assert surface.detail["method"] == "fft"
    exact = brute_force(xy, surface.cell_centres(), h).reshape(surface.shape)
    where = exact > 0.01 * exact.max()
    error = np.abs(surface.probability - exact)[where] / exact[where]
    assert error.max() <= 0.005
    assert (surface.probability >= 0).all()
    assert surface.probability.sum() * cell**2 == pytest.approx(1.0, abs=1e-3)


def test_auto_sums_exactly_for_small_inputs_and_bins_large_ones():
    rng = np.random.default_rng(3)
    small = heat_from_points(rng.normal(0, 300, (50, 2)) + [X0, Y0], crs=pyproj.CRS(GK), bandwidth=120.0,
                             cell_m=40.0)
    large = heat_from_points(rng.normal(0, 300, (50_000, 2)) + [X0, Y0], crs=pyproj.CRS(GK), bandwidth=120.0,
                             cell_m=30.0)
    assert small.detail["method"] == "exact" and large.detail["method"] == "fft"
    assert large.detail["binning_factor"] == 1
    coarse = heat_from_points(rng.normal(0, 300, (50_000, 2)) + [X0, Y0], crs=pyproj.CRS(GK), bandwidth=120.0,
                              cell_m=100.0, method="fft")
    assert coarse.detail["binning_factor"] == 4  # bins at most a quarter of a bandwidth apart


def test_surface_covers_the_area_and_lonlat_input_is_projected():
    grids = gpd.read_file(SAMPLE / "communities.gpkg")
    pts = gpd.GeoDataFrame(geometry=shapely.points([106.62], [26.47]), crs=4490)
    surface = heat_from_incidents(pts, area=grids, bandwidth=100.0, cell_m=100.0)
    west, south, east, north = surface.bounds
    gx0, gy0, gx1, gy1 = grids.to_crs(surface.crs).total_bounds
    assert west <= gx0 and south <= gy0 and east >= gx1 and north >= gy1
    assert surface.crs == local_crs(pts)


@pytest.mark.parametrize(
    ("points", "kwargs", "error"),
    [
        (gk_points(np.empty((0, 2))), {}, EmptyLayerError),
        (gk_points([[X0, Y0]]), {"bandwidth": "scott"}, InputDataError),  # one point: no spread
        (gk_points([[X0, Y0], [X0, Y0]]), {}, InputDataError),  # zero spread
        (gk_points([[X0, Y0]]), {"bandwidth": -5.0}, ParameterError),
        (gk_points([[X0, Y0]]), {"bandwidth": "wide"}, ParameterError),
        (gk_points([[X0, Y0]]), {"bandwidth": 100.0, "cell_m": 0}, ParameterError),
        (gk_points([[X0, Y0], [X0 + 50_000, Y0]]), {"bandwidth": 100.0, "cell_m": 1.0}, ParameterError),
        (gk_points([[X0, Y0]]), {"bandwidth": 100.0, "method": "fast"}, ParameterError),
        (gk_points([[X0, Y0]]).set_crs(None, allow_override=True), {"bandwidth": 100.0, "crs": GK}, MissingCRSError),
    ],
)
def test_bad_surface_input(points, kwargs, error):
    with pytest.raises(error):
        heat_from_incidents(points, **kwargs)


def test_non_point_geometries_name_the_rows():
    layer = gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0), shapely.box(X0, Y0, X0 + 1, Y0 + 1)], crs=GK,
                             index=[10, 11])
    with pytest.raises(InputDataError) as err:
        heat_from_incidents(layer, bandwidth=50.0)
    assert err.value.feature_ids == [11]


# --------------------------------------------------------------------------- GeoTIFF


def test_geotiff_round_trip(tmp_path):
    lonlat = np.array([[106.615, 26.465], [106.62, 26.47], [106.63, 26.48], [106.625, 26.471]])
    pts = gpd.GeoDataFrame(geometry=shapely.points(lonlat[:, 0], lonlat[:, 1]), crs=4490)
    surface = heat_from_incidents(pts, bandwidth="scott", cell_m=25.0)
    path = heat_to_geotiff(surface, tmp_path / "heat.tif")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == local_crs(pts).to_epsg() == surface.crs.to_epsg()
        assert src.count == 1 and src.dtypes[0] == "float32"
        assert src.transform == surface.transform and src.res == (25.0, 25.0)
        data = src.read(1)
        bounds = src.bounds
        tags = src.tags()
    assert np.isfinite(data).all() and data.shape == surface.shape
    np.testing.assert_allclose(data, surface.density.astype(np.float32))
    xy = shapely.get_coordinates(pts.to_crs(surface.crs).geometry.to_numpy())
    assert (xy[:, 0] > bounds.left).all() and (xy[:, 0] < bounds.right).all()
    assert (xy[:, 1] > bounds.bottom).all() and (xy[:, 1] < bounds.top).all()
    assert tags["units"] == "incidents per km2" and float(tags["bandwidth_m"]) == pytest.approx(surface.bandwidth_m)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heat.tif"]  # no temporary file left


# --------------------------------------------------------------------------- filters and rates


def _incidents() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"category": ["0101", "0102", "0501", "0505", "01", "0101"],
         "reported_at": ["2024-01-31T23:59:59", "2024-02-01T00:00:00", "2024-02-10T12:00", "2024-02-29T23:00",
                         "2024-03-01T00:00:00", "2024-03-02"]},
        geometry=shapely.points(np.full(6, X0), np.full(6, Y0)), crs=GK, index=[5, 6, 7, 8, 9, 10],
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"categories": "01"}, [5, 6, 9, 10]),
        ({"categories": "0101,0505"}, [5, 8, 10]),
        ({"categories": ["05"]}, [7, 8]),
        ({"start": "2024-02-01", "end": "2024-02-29"}, [6, 7, 8]),
        ({"start": "2024-02-10T12:00"}, [7, 8, 9, 10]),
        ({"end": "2024-02-29T22:00"}, [5, 6, 7]),
        ({"categories": "05", "end": "2024-02-20"}, [7]),
    ],
)
def test_filters(kwargs, expected):
    out = filter_incidents(_incidents(), **kwargs)
    assert out.index.tolist() == expected


@pytest.mark.parametrize("kwargs", [{"categories": "1"}, {"categories": "01a"}, {"categories": ""},
                                    {"start": "soon"}, {"start": "2024-03-01", "end": "2024-02-01"}])
def test_bad_filters(kwargs):
    with pytest.raises(ParameterError):
        filter_incidents(_incidents(), **kwargs)


def test_rates_by_hand():
    grids = gpd.GeoDataFrame(
        {"grid_code": ["g1", "g2", "g3"], "households": [250, 0, 100]},
        geometry=[shapely.box(X0, Y0, X0 + 500, Y0 + 400), shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 400),
                  shapely.box(X0, Y0 + 400, X0 + 1000, Y0 + 1400)], crs=GK,
    )
    attached = pd.DataFrame({"grid_code": ["g1"] * 5 + ["g2"] * 2 + [""] * 4})
    rates = rates_for_grids(attached, grids)
    assert rates.index.tolist() == ["g1", "g2", "g3"]
    assert rates["incidents"].tolist() == [5, 2, 0]
    assert rates["area_km2"].tolist() == pytest.approx([0.2, 0.2, 1.0], rel=1e-3)
    assert rates.loc["g1", "per_100_households"] == pytest.approx(2.0)
    assert math.isnan(rates.loc["g2", "per_100_households"])
    assert rates["per_km2"].tolist() == pytest.approx([25.0, 10.0, 0.0], rel=1e-3)


# --------------------------------------------------------------------------- the command, on the sample county


def run_cli(*argv: str) -> int:
    from gridkit_cli.main import main

    return main(["--quiet", *map(str, argv)])


@pytest.fixture(scope="module")
def sample_grids(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("part")
    assert run_cli("partition", SAMPLE / "communities.gpkg", "--buildings", SAMPLE / "buildings.gpkg",
                   "--streets", SAMPLE / "streets.gpkg", "--dedicated", SAMPLE / "dedicated.gpkg", "-o", out) == 0
    return out / "grids.gpkg"


@pytest.fixture(scope="module")
def heat_run(sample_grids, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("heat") / "out"
    assert run_cli("heatmap", sample_grids, SAMPLE / "incidents.csv", "-o", out) == 0
    return out


def sample_incidents() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "incidents.csv", dtype={"category": str}, parse_dates=["reported_at"])


def test_cli_writes_every_output_on_the_sample_county(heat_run):
    from gridkit.heat.job import OUTPUT_FILES

    assert sorted(p.name for p in heat_run.iterdir()) == sorted(OUTPUT_FILES)
    incidents = sample_incidents()
    with rasterio.open(heat_run / "heat.tif") as src:
        assert src.crs.to_epsg() == GK
        assert int(src.tags()["incidents"]) == len(incidents)
        assert np.isfinite(src.read(1)).all() and src.nodata == NODATA
        b = src.bounds
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(incidents.lon, incidents.lat), crs=4490).to_crs(GK)
    x0, y0, x1, y1 = pts.total_bounds
    assert b.left < x0 and b.bottom < y0 and b.right > x1 and b.top > y1
    for png in ("heat.png", "choropleth.png"):
        assert (heat_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the sample has a spike of 0101/0103 incidents in 西门社区 (520199001004) in its last 7 days
    alerts = pd.read_csv(heat_run / "alerts.csv", dtype=str, encoding="utf-8-sig")
    assert len(alerts) >= 1
    top = alerts.iloc[0]
    assert top.community_code == "520199001004" and top.category in {"0101", "0103"}
    assert top.category_zh in {"私搭乱建", "积存垃圾渣土"}
    assert pd.Timestamp(top.window_end) == incidents.reported_at.max()
    report = (heat_run / "report.md").read_text(encoding="utf-8")
    assert "rule `scott`" in report and top.grid_code in report and "Benjamini-Hochberg" in report


def test_cli_filters_by_category_and_date(sample_grids, tmp_path):
    out = tmp_path / "filtered"
    assert run_cli("heatmap", sample_grids, SAMPLE / "incidents.csv", "-o", out, "--category", "0101,0103",
                   "--from", "2024-06-01", "--to", "2024-06-30", "--bandwidth", "120", "--cell-m", "40") == 0
    incidents = sample_incidents()
    kept = incidents[incidents.category.isin(["0101", "0103"])
                     & (incidents.reported_at >= "2024-06-01") & (incidents.reported_at < "2024-07-01")]
    with rasterio.open(out / "heat.tif") as src:
        assert int(src.tags()["incidents"]) == len(kept) > 0
        assert float(src.tags()["bandwidth_m"]) == 120.0 and src.res == (40.0, 40.0)
    alerts = pd.read_csv(out / "alerts.csv", dtype=str, encoding="utf-8-sig")
    assert set(alerts.category) <= {"0101", "0103"} and len(alerts) >= 1
    assert (alerts.window_end == "2024-06-30T23:59:59").all()  # --to ends the last window
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "category 0101,0103" in report and f"{len(kept):,} kept by the filters" in report


def _bad_csv(tmp_path: Path, row: int, field: str, value: str) -> Path:
    df = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, nrows=50)
    df.loc[row, field] = value
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("row", "field", "value"), [(17, "reported_at", "last tuesday"), (4, "category", ""),
                                                     (31, "lon", "east"), (8, "category", "A1")])
def test_cli_bad_input_exits_3_naming_file_row_and_field(sample_grids, tmp_path, capsys, row, field, value):
    bad = _bad_csv(tmp_path, row, field, value)
    out = tmp_path / "out"
    assert run_cli("heatmap", sample_grids, bad, "-o", out) == 3
    message = capsys.readouterr().err
    assert str(bad) in message and field in message and f"feature {row}" in message
    assert not out.exists()


def test_cli_usage_errors_exit_2(sample_grids, tmp_path):
    out = tmp_path / "out"
    assert run_cli("heatmap", sample_grids, SAMPLE / "incidents.csv", "-o", out, "--bandwidth", "wide") == 2
    assert run_cli("heatmap", sample_grids, SAMPLE / "incidents.csv", "-o", out, "--category", "0402",
                   "--from", "2030-01-01") == 2  # nothing left to map
    assert not out.exists()


# --------------------------------------------------------------------------- the page, in a real browser


LAYER_LABELS = {"grids": "网格 grids", "per_100_households": "per 100 households", "per_km2": "incidents per km²",
                "heat": "事件热力 incident heat", "heat_by_week": "heat by ISO week"}


def _check_page(browser: Browser, path: Path, n_grids: int) -> dict:
    """Open a heat page with the network blocked; toggle every layer; step the week slider."""
    loaded = browser.open(path, wait_for="window.gridkit !== undefined", settle_ms=0)
    page = loaded.page
    page.wait_for_function("() => [...document.querySelectorAll('img.gk-heat')].every(i => i.complete)")
    seen: dict = {"outlines": page.locator(".leaflet-gkgrids-pane path.leaflet-interactive").count()}
    seen["heat_pixels"] = page.evaluate("""() => {
        const img = document.querySelector('img.gk-heat'), c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    toggles = {}
    for key, text in LAYER_LABELS.items():
        before = page.evaluate(f"() => window.gridkit.map.hasLayer(window.gridkit.layers[{key!r}])")
        page.locator(".leaflet-control-layers-overlays label", has_text=text).click()
        after = page.evaluate(f"() => window.gridkit.map.hasLayer(window.gridkit.layers[{key!r}])")
        toggles[key] = (before, after)
    seen["toggles"] = toggles
    seen["fills"] = page.evaluate("""() => new Set([...document.querySelectorAll('.leaflet-gkrates-pane path')]
        .map(p => p.getAttribute('fill')).filter(f => f && f !== 'none')).size""")
    seen["slider_visible"] = page.locator(".gridkit-weeks").is_visible()
    last = page.locator(".gk-week-label").inner_text()
    page.locator(".gk-week").fill("1")
    seen["weeks"] = (last, page.locator(".gk-week-label").inner_text(),
                     page.evaluate("() => document.querySelector('img.gk-heat-week').src.slice(0, 22)"))
    seen["n_weeks"] = page.evaluate("() => window.gridkit.labels.length")
    seen["title"] = page.title()
    seen["size_note"] = page.locator("#gridkit-size").inner_text()
    seen["problems"] = (loaded.blocked, loaded.failed, loaded.errors)
    page.close()
    return seen


def test_heatmap_page_renders_offline_in_chromium(heat_run, sample_grids):
    n_grids = len(gpd.read_file(sample_grids, layer="grids"))
    with Browser(width=1000, height=800) as browser:
        seen = _check_page(browser, heat_run / "heatmap.html", n_grids)
    assert seen["problems"] == ([], [], [])
    assert seen["outlines"] == n_grids  # one outline per grid
    assert seen["heat_pixels"] > 1000
    # every layer toggles: grids and heat start shown, the others hidden
    assert seen["toggles"] == {"grids": (True, False), "per_100_households": (False, True), "per_km2": (False, True),
                               "heat": (True, False), "heat_by_week": (False, True)}
    assert seen["fills"] >= 3  # the choropleth classes
    assert seen["slider_visible"]
    # the sample runs from 2023-07-01 (ISO week 26 of 2023) to 2024-06-30 (week 26 of 2024)
    assert seen["weeks"][0].startswith("2024-W26") and seen["weeks"][1].startswith("2023-W27")
    assert seen["weeks"][2] == "data:image/png;base64,"
    assert "incident heat map" in seen["title"] and "budget 8 MB" in seen["size_note"]


def _year_of_incidents(grids: gpd.GeoDataFrame, n: int, seed: int) -> gpd.GeoDataFrame:
    """``n`` incidents over a year around the grids' centres (a few hot spots), numpy only."""
    rng = np.random.default_rng(seed)
    centres = shapely.get_coordinates(grids.to_crs(GK).geometry.centroid.to_numpy())
    at = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 150, (n, 2))
    hot = rng.random(n) < 0.2
    at[hot] = centres[rng.integers(0, 3, hot.sum())] + rng.normal(0, 60, (hot.sum(), 2))
    seconds = rng.integers(0, 365 * 86_400, n)
    return gpd.GeoDataFrame(
        {"category": rng.choice(["0101", "0102", "0501", "0505"], n),
         "reported_at": (pd.Timestamp("2023-07-01") + pd.to_timedelta(seconds, "s")).astype("datetime64[s]")},
        geometry=shapely.points(at[:, 0], at[:, 1]), crs=GK,
    ).to_crs(4490)


def test_page_stays_light_with_a_large_input_and_loads_in_chromium(sample_grids, heat_run, tmp_path):
    from gridkit.heat.job import heatmap_outputs
    from gridkit.heat.page import PAGE_BUDGET_BYTES

    grids = gpd.read_file(sample_grids, layer="grids")
    many = _year_of_incidents(grids, 400_000, seed=5)
    summary = heatmap_outputs(grids, many, tmp_path / "big")
    page = tmp_path / "big" / "heatmap.html"
    small = (heat_run / "heatmap.html").stat().st_size
    assert summary["incidents_used"] == 400_000 and summary["page_bytes"] == page.stat().st_size
    assert summary["page_bytes"] < PAGE_BUDGET_BYTES and not summary["page_over_budget"]
    assert summary["page_bytes"] < 1.5 * small  # 53 times the sample's incidents, about the same page
    with Browser(width=1000, height=800) as browser:
        seen = _check_page(browser, page, len(grids))
    assert seen["problems"] == ([], [], [])
    assert seen["outlines"] == len(grids) and seen["heat_pixels"] > 1000
    assert seen["n_weeks"] == summary["weeks_shown"] == 53
    assert all(before != after for before, after in seen["toggles"].values())


# --------------------------------------------------------------------------- weekly surfaces


@pytest.mark.parametrize("n", [40, 30_000])  # exact, then binned FFT
def test_weekly_surfaces_add_up_to_the_surface(n):
    rng = np.random.default_rng(n)
    xy = rng.normal(0, 400, (n, 2)) + [X0, Y0]
    times = pd.Series(pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 60 * 86_400, n), "s"))
    surface = heat_from_points(xy, crs=pyproj.CRS(GK), bandwidth=200.0, cell_m=20.0)
    weeks = weekly_heat(xy, times, surface)
    assert weeks.step == 2 and weeks.density.shape[1:] == weeks.overall.shape
    assert weeks.counts.sum() == n and len(weeks.labels) == weeks.weeks_total == len(weeks.counts)
    total = weeks.density.sum(axis=0)
    where = weeks.overall > 0.01 * weeks.overall.max()
    assert np.abs(total - weeks.overall)[where].max() <= 0.005 * weeks.overall[where].max()
    # the frames sit on the surface's cell centres: every 2nd one, from the north-west corner
    xs, ys = surface.centre_axes()
    assert weeks.transform.c + weeks.transform.a / 2 == pytest.approx(xs[0])
    assert weeks.transform.f + weeks.transform.e / 2 == pytest.approx(ys[0])


def test_iso_weeks_span_the_year_boundary_with_empty_weeks_and_a_cut():
    times = pd.Series(pd.to_datetime(["2024-12-30T08:00", "2025-01-05T23:59", "2025-01-20T00:00", "2024-12-23T00:00"]))
    number, mondays = week_numbers(times)
    assert number.tolist() == [1, 1, 4, 0]
    assert [str(m.date()) for m in mondays] == ["2024-12-23", "2024-12-30", "2025-01-06", "2025-01-13", "2025-01-20"]
    xy = np.array([[X0, Y0], [X0 + 100, Y0], [X0, Y0 + 100], [X0 + 50, Y0 + 50]])
    surface = heat_from_points(xy, crs=pyproj.CRS(GK), bandwidth=100.0, cell_m=25.0)
    weeks = weekly_heat(xy, times, surface, max_weeks=3)
    assert weeks.labels == ["2025-W02", "2025-W03", "2025-W04"] and weeks.weeks_total == 5
    assert weeks.counts.tolist() == [0, 0, 1] and weeks.density[0].max() == 0.0


# --------------------------------------------------------------------------- one parse, one CRS per run


def test_a_run_parses_the_times_once_and_chooses_the_crs_once(sample_grids, tmp_path, monkeypatch):
    import sys

    import gridkit.crs
    import gridkit.heat.density
    import gridkit.heat.rates
    import gridkit.heat.select
    import gridkit.incidents.attach
    from gridkit.heat.job import HeatmapOptions, heatmap_job

    parses, choices = [], []
    real_times, real_crs = gridkit.heat.select.local_times, gridkit.crs.local_crs

    def counting_times(values, **kwargs):
        parses.append(pd.api.types.is_datetime64_any_dtype(values))
        return real_times(values, **kwargs)

    def counting_crs(data, **kwargs):
        choices.append(sys._getframe(1).f_globals["__name__"])
        return real_crs(data, **kwargs)

    monkeypatch.setattr(gridkit.heat.select, "local_times", counting_times)
    for module in (gridkit.crs, gridkit.heat.density, gridkit.heat.rates, gridkit.incidents.attach):
        monkeypatch.setattr(module, "local_crs", counting_crs)
    options = HeatmapOptions(start="2023-08-01", end="2024-06-30")  # both filters read the times
    heatmap_job(sample_grids, SAMPLE / "incidents.csv", tmp_path / "out", options=options)
    assert parses == [False, True, True, True]  # parsed once; the filters and the alerts get datetimes
    # the heat package chooses the CRS once, in the job (attach_points measures outside points in its own)
    assert [c for c in choices if c.startswith("gridkit.heat")] == ["gridkit.heat.job"]


def test_cli_warns_when_the_page_is_over_its_budget(sample_grids, tmp_path, capsys, monkeypatch):
    import gridkit.heat.page

    monkeypatch.setattr(gridkit.heat.page, "PAGE_BUDGET_BYTES", 100_000)
    assert run_cli("heatmap", sample_grids, SAMPLE / "incidents.csv", "-o", tmp_path / "out") == 0
    err = capsys.readouterr().err
    assert "warning: heatmap.html is" in err and "over its budget of 0.1 MB" in err
    assert "budget" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_figures_use_the_noto_cjk_font_when_installed():
    from matplotlib import font_manager

    from gridkit.heat.figures import cjk_font_family

    installed = [p for p in font_manager.findSystemFonts() if Path(p).name == "NotoSansCJK-Regular.ttc"]
    if not installed:
        pytest.skip("fonts-noto-cjk is not installed (scripts/system-deps.sh installs it)")
    assert cjk_font_family() == "Noto Sans CJK SC"
    font = font_manager.FontProperties(family=cjk_font_family())
    path = font_manager.findfont(font, fallback_to_default=False)
    from matplotlib.ft2font import FT2Font

    face = FT2Font(path)
    assert all(face.get_char_index(ord(ch)) for ch in "事件密度每百户平方公里无住户")


# --------------------------------------------------------------------------- defects (issue 11)


def test_geotiff_declares_nodata(tmp_path):
    pts = gk_points([[X0, Y0], [X0 + 300.0, Y0 + 200.0]])
    path = heat_to_geotiff(heat_from_incidents(pts, bandwidth=100.0, cell_m=25.0), tmp_path / "heat.tif")
    with rasterio.open(path) as src:
        nodata = src.nodata
        data = src.read(1)
    assert nodata is not None and nodata < 0  # densities are never negative: the value cannot collide
    assert nodata == NODATA
    assert not (data == nodata).any() and (data >= 0).all()


def test_bad_category_hint_points_at_a_file_in_the_repository(sample_grids, tmp_path, capsys):
    import re

    bad = _bad_csv(tmp_path, 8, "category", "A1")
    assert run_cli("heatmap", sample_grids, bad, "-o", tmp_path / "out") == 3
    message = capsys.readouterr().err
    named = re.findall(r"[\w./-]+\.(?:md|csv)\b", message.replace(str(bad), ""))
    assert named, message
    root = Path(__file__).resolve().parents[1]
    assert all((root / name).is_file() for name in named), (named, message)
