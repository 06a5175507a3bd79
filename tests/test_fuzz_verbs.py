"""Fuzz of the readers and of every verb's library entry point (issue 17, deliver 7).

Random small layers — valid and invalid geometries (bow-ties, self-touching rings, collapsed
rings, empty and missing geometries, the wrong type) and random attribute tables (numbers,
infinities, NaN, text, Chinese, empty) — go through :func:`gridkit.io.read_layer` from files
on disk and through ``attach_points``, ``grid_stats``, ``heat_from_incidents``,
``routes_for_grids``, ``check_tracks``, ``export_layer`` and ``board_html``. Nothing may escape
but a :class:`~gridkit.errors.GridkitError`, and every count they return is a whole number
>= 0 (no negative or overflowing count). The partition has its own fuzz
(``test_partition_fuzz.py``).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from gridkit.errors import GridkitError

X0, Y0 = 500_000.0, 2_930_000.0  # EPSG:4545 (CGCS2000 / 3-degree GK CM 108E), near 106.6E 26.47N
FUZZ = settings(max_examples=20, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# ----------------------------------------------------------------------------- strategies

_off = st.floats(-600, 600, allow_nan=False, allow_infinity=False)
_size = st.floats(0.5, 300, allow_nan=False)


@st.composite
def polygons(draw: st.DrawFn, valid: bool = False) -> shapely.Geometry | None:
    x, y, w, h = X0 + draw(_off), Y0 + draw(_off), draw(_size), draw(_size)
    shape = draw(st.sampled_from(["box", "multi"] if valid else
                                 ["box", "box", "box", "bowtie", "selftouch", "collapsed", "empty", "none",
                                  "multi", "spike"]))
    if shape == "box":
        return shapely.box(x, y, x + w, y + h)
    if shape == "bowtie":
        return shapely.Polygon([(x, y), (x + w, y + h), (x + w, y), (x, y + h)])
    if shape == "selftouch":
        return shapely.Polygon([(x, y), (x + w, y), (x + w / 2, y + h / 2), (x + w, y + h), (x, y + h),
                                (x + w / 2, y + h / 2)])
    if shape == "collapsed":
        return shapely.Polygon([(x, y), (x + w, y), (x + 2 * w, y)])
    if shape == "empty":
        return shapely.Polygon()
    if shape == "none":
        return None
    if shape == "spike":
        return shapely.Polygon([(x, y), (x + w, y), (x + w, y + h), (x + w / 2, y + h), (x + w / 2, y + 3 * h),
                                (x + w / 2, y + h), (x, y + h)])
    return shapely.MultiPolygon([shapely.box(x, y, x + w, y + h), shapely.box(x + w / 2, y, x + 2 * w, y + h)])


@st.composite
def lines(draw: st.DrawFn, valid: bool = False) -> shapely.Geometry | None:
    x, y = X0 + draw(_off), Y0 + draw(_off)
    shape = draw(st.sampled_from(["line", "loop", "multi"] if valid else
                                 ["line", "line", "line", "zero", "loop", "none", "multi"]))
    if shape == "line":
        return shapely.LineString([(x, y), (x + draw(_off), y + draw(_off)), (x + draw(_off), y + draw(_off))])
    if shape == "zero":
        return shapely.LineString([(x, y), (x, y)])
    if shape == "loop":
        return shapely.LineString([(x, y), (x + 50, y), (x + 50, y + 50), (x, y)])
    if shape == "none":
        return None
    return shapely.MultiLineString([[(x, y), (x + 80, y)], [(x, y + 40), (x + 80, y + 40)]])


@st.composite
def points(draw: st.DrawFn, valid: bool = False) -> shapely.Geometry | None:
    shape = draw(st.sampled_from(["point"] if valid else ["point"] * 6 + ["empty", "none", "multi"]))
    x, y = X0 + draw(_off), Y0 + draw(_off)
    if shape == "point":
        return shapely.Point(x, y)
    if shape == "empty":
        return shapely.Point()
    if shape == "none":
        return None
    return shapely.MultiPoint([(x, y), (x + 5, y)])


def geometries(valid: bool = False) -> st.SearchStrategy[shapely.Geometry | None]:
    return st.one_of(polygons(valid), lines(valid), points(valid))


_values = st.one_of(
    st.integers(-10, 10_000), st.integers(2**53, 2**62),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.text(alphabet="0123456789网格编码社区 ,;'\"-:T", max_size=10), st.none(),
)
FIELDS = ("grid_code", "community_code", "households", "category", "incident_id", "component_id", "name",
          "code", "reported_at", "worker_id")


@st.composite
def tables(draw: st.DrawFn, n: int) -> dict[str, list[object]]:
    names = draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True))
    cols: dict[str, list[object]] = {}
    for name in names:
        kind = draw(st.sampled_from(["ints", "text", "mixed", "codes"]))
        if kind == "ints":
            cols[name] = draw(st.lists(st.integers(-5, 600), min_size=n, max_size=n))
        elif kind == "codes":
            cols[name] = [f"520199001{i % 7:03d}" + ("00" + str(i % 3)) * (name == "grid_code") for i in range(n)]
        elif kind == "text":
            cols[name] = draw(st.lists(st.text(alphabet="0123456789网格 -:T", max_size=12), min_size=n, max_size=n))
        else:
            cols[name] = draw(st.lists(_values, min_size=n, max_size=n))
    return cols


@st.composite
def layers(draw: st.DrawFn, geometry: Callable[[bool], st.SearchStrategy[shapely.Geometry | None]] = geometries,
           min_size: int = 0, max_size: int = 8, grids: bool = False) -> gpd.GeoDataFrame:
    """A layer of ``geometry`` (valid only in half the layers) and random fields; ``grids``: with
    ``grid_code`` (unique but now and then repeated or empty) and ``households`` most of the time."""
    n = draw(st.integers(min_size, max_size))
    valid = draw(st.booleans())
    geoms = draw(st.lists(geometry(valid), min_size=n, max_size=n))
    crs = draw(st.sampled_from([4545, 4545, 4490, 4326]))
    cols = draw(tables(n))
    if grids and draw(st.integers(0, 5)):
        codes = [f"520199001001{i + 1:03d}" for i in range(n)]
        if n > 1 and not draw(st.integers(0, 4)):
            codes[-1] = draw(st.sampled_from([codes[0], "", "x"]))
        cols["grid_code"] = codes
        cols.setdefault("households", draw(st.lists(st.integers(0, 600), min_size=n, max_size=n)))
        cols.setdefault("community_code", ["520199001001"] * n)
    gdf = gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs=4545), crs=4545)
    return gdf if crs == 4545 else gdf.to_crs(crs)


def _quiet() -> warnings.catch_warnings:  # type: ignore[type-arg]
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")
    return ctx


def _no_escape(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``call(...)``'s result, or None when it raised a GridkitError; anything else fails the test."""
    try:
        result = call(*args, **kwargs)
    except GridkitError as err:
        event(f"{call.__name__}: {type(err).__name__}")
        return None
    event(f"{call.__name__}: ran")
    return result


def _whole_nonnegative(value: object, what: str) -> None:
    assert isinstance(value, (int, np.integer)) and not isinstance(value, bool), f"{what} = {value!r} is not a count"
    assert 0 <= int(value) < 2**53, f"{what} = {value!r}"


def _counts_of(frame: pd.DataFrame, columns: list[str]) -> None:
    for col in columns:
        values = frame[col].to_numpy()
        assert np.issubdtype(values.dtype, np.integer), f"{col} is {values.dtype}, not whole numbers"
        assert (values >= 0).all() and (values < 2**53).all(), f"{col}: {values}"


# ----------------------------------------------------------------------------- readers

def _write(gdf: gpd.GeoDataFrame, folder: Path, fmt: str, crs_kept: bool) -> Path | None:
    """``gdf`` in format ``fmt`` (or None when the format cannot hold it: that is not gridkit's concern)."""
    path = folder / f"layer.{fmt}"
    ctx = _quiet()
    try:
        if fmt == "csv":
            frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
            if len(gdf) and (gdf.geom_type == "Point").all():
                frame["lon"], frame["lat"] = gdf.to_crs(4326).geometry.x, gdf.to_crs(4326).geometry.y
            else:
                frame["wkt"] = gdf.geometry.to_wkt()
            frame.to_csv(path, index=False)
        else:
            out = gdf if crs_kept else gdf.set_crs(None, allow_override=True)
            out.to_file(path, engine="pyogrio", **({"layer": "layer"} if fmt == "gpkg" else {}))
    except Exception:  # noqa: BLE001  (the writer's limits: mixed types in a Shapefile, ...)
        return None
    finally:
        ctx.__exit__(None, None, None)
    return path


@FUZZ
@given(gdf=layers(), fmt=st.sampled_from(["gpkg", "geojson", "shp", "csv"]),
       crs_kept=st.sampled_from([True, True, True, False]),
       damage=st.sampled_from([None, None, None, "truncate", "zero", "junk"]),
       want=st.sampled_from(["any", "polygon", "line", "point"]),
       required=st.lists(st.sampled_from(FIELDS), max_size=2))
def test_read_layer_raises_only_gridkit_errors(gdf, fmt, crs_kept, damage, want, required):
    from gridkit.io import read_layer

    with tempfile.TemporaryDirectory() as folder:
        path = _write(gdf, Path(folder), fmt, crs_kept)
        assume(path is not None)
        assert path is not None
        if damage == "truncate":
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        elif damage == "zero":
            path.write_bytes(b"")
        elif damage == "junk":
            path.write_bytes(bytes(range(256)) * 4)
        got = _no_escape(read_layer, path, geometry=want, required_fields=required)
        if got is not None:
            assert isinstance(got, gpd.GeoDataFrame) and got.crs is not None
            _whole_nonnegative(got.attrs["repaired"], "repaired")
            assert len(got) <= max(len(gdf), 1) * 4  # parts of a repaired geometry, never a runaway


# ----------------------------------------------------------------------------- verbs


def _grids(draw_layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return draw_layer


@FUZZ
@given(grids=layers(polygons, max_size=6, grids=True), pts=layers(geometries, max_size=12))
def test_attach_and_grid_stats_raise_only_gridkit_errors(grids, pts):
    from gridkit.incidents.attach import attach_points
    from gridkit.incidents.stats import grid_stats

    ctx = _quiet()
    try:
        attached = _no_escape(attach_points, pts, grids)
        if attached is None:
            return
        assert attached.index.equals(pts.index)
        assert (attached["outside_m"].to_numpy() >= 0).all()
        stats = _no_escape(grid_stats, grids, attached)
    finally:
        ctx.__exit__(None, None, None)
    if stats is not None:
        _counts_of(stats, [c for c in stats.columns if c == "count" or c.startswith("count_")])
        assert int(stats["count"].sum()) == int((attached["grid_code"] != "").sum())


@FUZZ
@given(pts=layers(points, max_size=15), bandwidth=st.sampled_from(["scott", "silverman", 80.0, 0.0, -5.0]),
       cell=st.sampled_from([50.0, 5.0, 0.0, float("nan")]))
def test_heat_raises_only_gridkit_errors(pts, bandwidth, cell):
    from gridkit.heat.density import heat_from_incidents

    ctx = _quiet()
    try:
        surface = _no_escape(heat_from_incidents, pts, bandwidth=bandwidth, cell_m=cell, max_cells=200_000)
    finally:
        ctx.__exit__(None, None, None)
    if surface is not None:
        assert np.isfinite(surface.probability).all() and (surface.probability >= 0).all()
        _whole_nonnegative(int(surface.probability.size), "cells")


@FUZZ
@given(grids=layers(polygons, min_size=1, max_size=4, grids=True), streets=layers(lines, max_size=8))
def test_routes_raise_only_gridkit_errors(grids, streets):
    from gridkit.patrol import routes_for_grids
    from gridkit.patrol.route_outputs import plan_figures

    ctx = _quiet()
    try:
        plan = _no_escape(routes_for_grids, streets, grids, grid_field="grid_code")
        figures = plan_figures(plan) if plan is not None else {}
    finally:
        ctx.__exit__(None, None, None)
    for key, value in figures.items():
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            _whole_nonnegative(value, key)
        elif isinstance(value, float):  # a share of nothing (no street length) is NaN, said as such
            assert not value < 0 and value != np.inf, f"{key} = {value}"


@st.composite
def fixes(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 30))
    start = pd.Timestamp("2024-06-26 08:30")
    secs = draw(st.lists(st.integers(-3600, 5 * 86400), min_size=n, max_size=n))
    if draw(st.booleans()):
        secs = sorted(secs)
    far = draw(st.sampled_from([pd.Timedelta(0), pd.Timedelta(days=3650)]))
    lon = draw(st.lists(st.floats(106.59, 106.64), min_size=n, max_size=n))
    lat = draw(st.lists(st.floats(26.45, 26.49), min_size=n, max_size=n))
    workers = draw(st.lists(st.sampled_from(["W1", "W2", "网格员3"]), min_size=n, max_size=n))
    return pd.DataFrame({"worker_id": workers, "time": [start + pd.Timedelta(seconds=s) + far for s in secs],
                         "lon": lon, "lat": lat, "source": "fuzz.csv", "row": range(n)})


@settings(FUZZ, max_examples=10)
@given(track=fixes(), grids=layers(polygons, min_size=1, max_size=4, grids=True))
def test_track_check_raises_only_gridkit_errors(track, grids):
    from gridkit.patrol.coverage import check_tracks

    ctx = _quiet()
    try:
        result = _no_escape(check_tracks, track, grids, now="2025-01-01")
    finally:
        ctx.__exit__(None, None, None)
    if result is None:
        return
    for key, value in result.figures.items():
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            _whole_nonnegative(value, key)
    _counts_of(result.days, ["fixes", "stops", "excursions"])
    passed = result.days["buildings_passed"].to_numpy(dtype=float)  # NaN: no buildings given, not measured
    if not np.isnan(passed).all():
        assert (passed >= 0).all() and (passed == np.round(passed)).all(), passed
    assert len(result.tracks) + len(result.dropped) >= 0
    assert int(result.days["fixes"].sum()) + len(result.dropped) == len(track)


@FUZZ
@given(gdf=layers(), fmt=st.sampled_from(["gpkg", "shp", "geojson", "parquet", "kml", "csv"]),
       encoding=st.sampled_from(["utf-8", "gbk"]), fields=st.sampled_from(["en", "zh"]),
       split=st.booleans(), to_crs=st.sampled_from([None, "4490", "gcj02", "EPSG:4549"]))
def test_export_raises_only_gridkit_errors(gdf, fmt, encoding, fields, split, to_crs):
    from gridkit.export.layers import export_layer

    with tempfile.TemporaryDirectory() as folder:
        ctx = _quiet()
        try:
            written = _no_escape(export_layer, gdf, Path(folder) / f"out.{fmt}", format=fmt, encoding=encoding,
                                 fields=fields, split_geometry=split, to_crs=to_crs)
        finally:
            ctx.__exit__(None, None, None)
        left = sorted(p.name for p in Path(folder).iterdir())
        if written is None:
            assert not left, f"an export that failed left {left}"
        else:
            assert Path(written).exists()


@FUZZ
@given(grids=layers(polygons, min_size=1, max_size=4, grids=True), buildings=layers(polygons, max_size=6),
       lang=st.sampled_from(["zh", "en"]), persons=st.sampled_from([2.62, 0.0, -1.0, float("inf")]))
def test_board_html_raises_only_gridkit_errors(grids, buildings, lang, persons):
    from gridkit.board.build import board_html

    code = str(grids["grid_code"].iloc[0]) if "grid_code" in grids.columns else "520199001001001"
    ctx = _quiet()
    try:
        page = _no_escape(board_html, code, grids, buildings=buildings, lang=lang, persons_per_household=persons,
                          issued=date(2024, 6, 30))
    finally:
        ctx.__exit__(None, None, None)
    if page is not None:
        assert page.startswith("<!DOCTYPE html>") and "http://" not in page.replace("http://www.w3.org", "")


@pytest.mark.parametrize("value", [np.inf, -1, 1e19, 2.5, "many"])
def test_board_refuses_household_counts_no_grid_has(value):
    """Found by the fuzz: ``inf`` households raised a pandas IntCastingNaNError, ``1e19`` printed
    -9,223,372,036,854,775,808 households on the board, 2.5 was rounded without a word."""
    from gridkit.board.build import board_html
    from gridkit.errors import InputDataError

    grids = gpd.GeoDataFrame({"grid_code": ["520199001001001", "520199001001002"], "households": [300, value]},
                             geometry=[shapely.box(X0, Y0, X0 + 300, Y0 + 300),
                                       shapely.box(X0 + 300, Y0, X0 + 600, Y0 + 300)], crs=4545)
    with pytest.raises(InputDataError) as err:
        board_html("520199001001001", grids, issued=date(2024, 6, 30))
    assert err.value.field == "households" and err.value.feature_ids == [1]


def test_board_refuses_an_infinite_household_size():
    from gridkit.board.build import board_html
    from gridkit.errors import ParameterError

    grids = gpd.GeoDataFrame({"grid_code": ["520199001001001"], "households": [300]},
                             geometry=[shapely.box(X0, Y0, X0 + 300, Y0 + 300)], crs=4545)
    with pytest.raises(ParameterError, match="persons per household"):
        board_html("520199001001001", grids, persons_per_household=float("inf"), issued=date(2024, 6, 30))
    assert "300" in board_html("520199001001001", grids, issued=date(2024, 6, 30))


def test_board_draws_invalid_grids_and_buildings_repaired():
    """Found by the fuzz: a bow-tie grid or a self-touching building raised a GEOS TopologyException
    (and a 3-point ring an IllegalArgumentException) from the library's ``board_html``."""
    from gridkit.board.build import board_html

    bowtie = shapely.Polygon([(X0, Y0), (X0 + 300, Y0 + 300), (X0 + 300, Y0), (X0, Y0 + 300)])
    grids = gpd.GeoDataFrame({"grid_code": ["520199001001001"], "households": [300]}, geometry=[bowtie], crs=4545)
    touching = shapely.Polygon([(X0 + 10, Y0 + 10), (X0 + 60, Y0 + 10), (X0 + 35, Y0 + 35), (X0 + 60, Y0 + 60),
                                (X0 + 10, Y0 + 60), (X0 + 35, Y0 + 35)])
    collapsed = shapely.from_wkt(f"POLYGON (({X0 + 70} {Y0 + 70}, {X0 + 90} {Y0 + 70}, {X0 + 70} {Y0 + 70}))")
    buildings = gpd.GeoDataFrame({"households": [20, 5]}, geometry=[touching, collapsed], crs=4545)
    page = board_html("520199001001001", grids, buildings=buildings, issued=date(2024, 6, 30))
    assert "520199001001001" in page and "<svg" in page
    empty = gpd.GeoDataFrame({"grid_code": ["520199001001001"], "households": [300]},
                             geometry=[shapely.from_wkt(f"POLYGON (({X0} {Y0}, {X0 + 9} {Y0}, {X0 + 18} {Y0}, {X0} {Y0}))")],
                             crs=4545)
    with pytest.raises(GridkitError, match="no area left"):
        board_html("520199001001001", empty, issued=date(2024, 6, 30))
