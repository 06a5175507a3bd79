"""Local metric CRS choice and WGS84 ⇄ GCJ-02 ⇄ BD-09 conversions."""

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, Polygon, get_coordinates

from gridkit.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_coords,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    local_crs,
    to_local,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gridkit.errors import EmptyLayerError, MissingCRSError, ParameterError

GEOD = pyproj.Geod(ellps="WGS84")
# China's mainland, roughly, where round trips must hold
CHINA_LON = st.floats(73.5, 134.9, allow_nan=False)
CHINA_LAT = st.floats(18.2, 53.5, allow_nan=False)


def metres(lon1, lat1, lon2, lat2):
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def points(lonlat, crs=4326):
    return gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in lonlat], crs=crs)


def central_meridian(crs):
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    return params["Longitude of natural origin"]


# --------------------------------------------------------------------------- local_crs


@pytest.mark.parametrize(
    ("box", "epsg"),
    [
        ((116.2, 39.8, 116.6, 40.1), 4548),  # Beijing: CM 117E
        ((106.6, 26.5, 106.8, 26.7), 4545),  # Guiyang: CM 108E
        ((104.7, 26.5, 104.9, 26.7), 4544),  # Liupanshui, Guizhou: CM 105E
        ((75.9, 39.4, 76.1, 39.5), 4534),  # Kashgar: CM 75E
        ((24.9, 60.1, 25.0, 60.3), 32635),  # Helsinki: UTM 35N
        ((151.1, -34.0, 151.3, -33.8), 32756),  # Sydney: UTM 56S
        ((-58.5, -34.7, -58.3, -34.5), 32721),  # Buenos Aires: UTM 21S
    ],
)
def test_local_crs_from_box(box, epsg):
    assert local_crs(box).to_epsg() == epsg


def test_local_crs_of_a_layer_in_any_crs():
    guiyang = points([(106.62, 26.58), (106.75, 26.66)])
    assert local_crs(guiyang).to_epsg() == 4545
    # the same points in Web Mercator, and in CGCS2000 with lat/lon axis order
    assert local_crs(guiyang.to_crs(3857)).to_epsg() == 4545
    assert local_crs(guiyang.set_crs(4490, allow_override=True)).to_epsg() == 4545
    assert local_crs(guiyang.geometry).to_epsg() == 4545
    helsinki = points([(24.90, 60.15), (25.00, 60.20)]).to_crs(3067)  # ETRS-TM35FIN
    assert local_crs(helsinki).to_epsg() == 32635


def test_local_crs_systems():
    beijing = (116.2, 39.8, 116.6, 40.1)
    assert local_crs(beijing, system="utm").to_epsg() == 32650
    assert local_crs(beijing, system="cgcs2000").to_epsg() == 4548
    assert local_crs((24.9, 60.1, 25.0, 60.3), system="auto").to_epsg() == 32635
    # Tokyo is inside the GK longitudes but east of China's rough extent
    tokyo = (139.6, 35.6, 139.8, 35.8)
    assert local_crs(tokyo).to_epsg() == 32654
    with pytest.raises(ParameterError, match="139.7000"):
        local_crs(tokyo, system="cgcs2000")
    assert local_crs((136.2, 35.0, 136.4, 35.2), system="cgcs2000").to_epsg() == 4554  # Nagoya, CM 135E


def test_local_crs_refuses_bad_requests():
    with pytest.raises(ParameterError, match="unknown coordinate system"):
        local_crs((116, 39, 117, 40), system="gk")
    with pytest.raises(ParameterError, match="73.5-136.5"):
        local_crs((24.9, 60.1, 25.0, 60.3), system="cgcs2000")
    with pytest.raises(ParameterError, match="lon/lat degrees"):
        local_crs((500000, 4400000, 510000, 4410000))
    with pytest.raises(MissingCRSError):
        local_crs(gpd.GeoDataFrame(geometry=[Point(116, 39)]))
    with pytest.raises(EmptyLayerError):
        local_crs(gpd.GeoDataFrame(geometry=[], crs=4326))


@settings(max_examples=60, deadline=None)
@given(lon=st.floats(73.5, 136.49), lat=CHINA_LAT)
def test_gauss_kruger_zone_is_the_nearest_3_degree_meridian(lon, lat):
    crs = local_crs((lon, lat, lon, lat), system="cgcs2000")
    assert 4534 <= crs.to_epsg() <= 4554
    assert abs(central_meridian(crs) - lon) <= 1.5 + 1e-9


def test_to_local_projects_a_copy():
    layer = points([(116.40, 39.90), (116.41, 39.90)])
    local = to_local(layer)
    assert local.crs.to_epsg() == 4548 and layer.crs.to_epsg() == 4326
    assert local.geometry.iloc[0].distance(local.geometry.iloc[1]) == pytest.approx(855, abs=2)
    assert to_local(layer, crs=32650).crs.to_epsg() == 32650
    with pytest.raises(MissingCRSError):
        to_local(gpd.GeoDataFrame(geometry=[Point(116, 39)]), crs=32650)


# --------------------------------------------------------------------------- GCJ-02 / BD-09

# public reference values for (123°E, 45°N), from the test suite of the gcoord library
# (hujiulong/gcoord, test/unit/crs/*.spec.ts), 5 decimals
REFERENCE = [
    (wgs84_to_gcj02, (123.00607541, 45.00197815)),
    (gcj02_to_bd09, (123.00636499, 45.00636899)),
    (wgs84_to_bd09, (123.0124491, 45.0083293)),
    (bd09_to_gcj02, (122.99363304, 44.99365430)),
]


@pytest.mark.parametrize(("convert", "expected"), REFERENCE)
def test_published_reference_values(convert, expected):
    lon, lat = convert(123.0, 45.0)
    assert lon == pytest.approx(expected[0], abs=5e-6)
    assert lat == pytest.approx(expected[1], abs=5e-6)


def test_offset_is_a_few_hundred_metres_in_eastern_china_and_nothing_outside():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(105, 122, 2000), rng.uniform(22, 41, 2000)
    shift = metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert shift.min() > 100 and shift.max() < 700
    outside_lon = np.array([24.94, 151.2, -58.4, 139.7, 60.0])  # Helsinki, Sydney, BA, Tokyo, Iran
    outside_lat = np.array([60.17, -33.9, -34.6, 35.7, 30.0])
    for convert in (wgs84_to_gcj02, gcj02_to_wgs84):
        lon2, lat2 = convert(outside_lon, outside_lat)
        np.testing.assert_array_equal(lon2, outside_lon)
        np.testing.assert_array_equal(lat2, outside_lat)


def test_scalars_give_floats_and_arrays_give_arrays():
    lon, lat = wgs84_to_gcj02(116.4, 39.9)
    assert type(lon) is float and type(lat) is float
    lon, lat = bd09_to_wgs84([116.4, 121.5], [39.9, 31.2])
    assert isinstance(lon, np.ndarray) and lon.shape == (2,)
    lon, lat = gcj02_to_wgs84(np.full((2, 3), 116.4), np.full((2, 3), 39.9))
    assert lon.shape == (2, 3)
    with pytest.raises(ParameterError, match="shape"):
        wgs84_to_gcj02([1.0, 2.0], [1.0])


ROUND_TRIPS = [
    (wgs84_to_gcj02, gcj02_to_wgs84),
    (gcj02_to_bd09, bd09_to_gcj02),
    (wgs84_to_bd09, bd09_to_wgs84),
]


@pytest.mark.parametrize(("forward", "inverse"), ROUND_TRIPS)
@settings(max_examples=150, deadline=None)
@given(lon=CHINA_LON, lat=CHINA_LAT)
def test_round_trip_within_a_centimetre(forward, inverse, lon, lat):
    back = inverse(*forward(lon, lat))
    assert metres(lon, lat, *back) < 0.01
    # and the other way round: inverse first
    again = forward(*inverse(lon, lat))
    assert metres(lon, lat, *again) < 0.01


@pytest.mark.parametrize(("forward", "inverse"), ROUND_TRIPS)
def test_round_trip_vectorised_over_china(forward, inverse):
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(73.5, 134.9, 20_000), rng.uniform(18.2, 53.5, 20_000)
    error = metres(lon, lat, *inverse(*forward(lon, lat)))
    assert error.max() < 0.001


def test_nan_coordinates_stay_nan():
    lon, lat = gcj02_to_wgs84(np.array([116.4, np.nan]), np.array([39.9, np.nan]))
    assert np.isfinite(lon[0]) and np.isnan(lon[1]) and np.isnan(lat[1])


# --------------------------------------------------------------------------- convert_coords


def polygon_layer(crs=4326):
    return gpd.GeoDataFrame(
        {"name": ["a", "b", "c", "d"]},
        geometry=[
            Polygon([(116.40, 39.90), (116.41, 39.90), (116.41, 39.91), (116.40, 39.90)]),
            Polygon(
                [(121.4, 31.2), (121.5, 31.2), (121.5, 31.3), (121.4, 31.3)],
                holes=[[(121.44, 31.24), (121.46, 31.24), (121.46, 31.26)]],
            ),
            None,
            Polygon([(24.9, 60.1), (25.0, 60.1), (25.0, 60.2)]),  # Helsinki: unchanged
        ],
        index=[10, 20, 30, 40],
        crs=crs,
    )


def test_convert_coords_moves_every_vertex_and_keeps_the_input():
    layer = polygon_layer()
    before = layer.copy()
    gcj = convert_coords(layer, source="wgs84", target="gcj02")
    assert gcj is not layer and list(gcj.index) == [10, 20, 30, 40]
    assert gcj.crs == layer.crs and gcj["name"].tolist() == ["a", "b", "c", "d"]
    for old, new in zip(layer.geometry.iloc[[0, 1]], gcj.geometry.iloc[[0, 1]], strict=True):
        xy = get_coordinates(old)
        expected = np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        np.testing.assert_allclose(get_coordinates(new), expected, rtol=0, atol=1e-12)
        assert len(new.interiors) == len(old.interiors)
    assert gcj.geometry.iloc[2] is None
    assert gcj.geometry.iloc[3].equals(layer.geometry.iloc[3])
    assert layer.geometry.equals(before.geometry)  # input untouched


@pytest.mark.parametrize("via", ["gcj02", "bd09"])
def test_convert_coords_round_trip(via):
    layer = polygon_layer(crs=4490)
    back = convert_coords(convert_coords(layer, source="wgs84", target=via), source=via, target="wgs84")
    a = get_coordinates(layer.geometry.dropna())
    b = get_coordinates(back.geometry.dropna())
    assert metres(a[:, 0], a[:, 1], b[:, 0], b[:, 1]).max() < 0.001


def test_convert_coords_keeps_z_and_lines():
    layer = gpd.GeoDataFrame(
        geometry=[LineString([(116.40, 39.90, 5.0), (116.41, 39.91, 7.0)]), Point(116.4, 39.9)], crs=4326
    )
    bd = convert_coords(layer, source="wgs84", target="bd09")
    assert bd.geometry.iloc[0].has_z
    np.testing.assert_array_equal(get_coordinates(bd.geometry.iloc[0], include_z=True)[:, 2], [5.0, 7.0])
    assert not bd.geometry.iloc[1].has_z
    lon, _ = wgs84_to_bd09(116.4, 39.9)
    assert bd.geometry.iloc[1].x == pytest.approx(lon, abs=1e-12)


def test_convert_coords_refuses_projected_data_and_unknown_names():
    layer = polygon_layer()
    with pytest.raises(ParameterError, match="EPSG:4326 or EPSG:4490"):
        convert_coords(layer.to_crs(3857), source="wgs84", target="gcj02")
    with pytest.raises(ParameterError, match="no CRS"):
        convert_coords(layer.set_crs(None, allow_override=True), source="wgs84", target="gcj02")
    with pytest.raises(ParameterError, match="unknown coordinates target='mars'"):
        convert_coords(layer, source="wgs84", target="mars")
    same = convert_coords(layer, source="bd09", target="bd09")
    assert same is not layer and same.geometry.equals(layer.geometry)
