"""Coordinate systems: the local metric CRS, and WGS84 ⇄ GCJ-02 ⇄ BD-09.

All geometry work in gridkit happens in a local metric CRS chosen by
:func:`local_crs`: a CGCS2000 3-degree Gauss-Krüger zone inside China
(EPSG:4534-4554, central meridians 75°E to 135°E, false easting 500 000 m, no zone
prefix) and a WGS84 UTM zone elsewhere.

Web maps in China show GCJ-02 (Amap, Tencent) or BD-09 (Baidu) coordinates. The
conversions here follow the public, unofficial formulas: GCJ-02 adds a smooth offset
of a few hundred metres inside a rough bounding box of China (and nothing outside
it); BD-09 is a small rotation and scaling of GCJ-02. The inverses are solved by
fixed-point iteration to well below a centimetre. Keep data in WGS84/CGCS2000 and
convert only for display on those basemaps.

Examples
--------
>>> local_crs((116.2, 39.8, 116.5, 40.0)).name  # Beijing
'CGCS2000 / 3-degree Gauss-Kruger CM 117E'
>>> lon, lat = wgs84_to_gcj02(116.4, 39.9)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(abs(back[0] - 116.4) + abs(back[1] - 39.9), 9)
0.0
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from gridkit._types import CoordSystem
from gridkit.errors import EmptyLayerError, MissingCRSError, ParameterError

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_coords",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "layers_in_crs",
    "local_crs",
    "to_local",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
    "work_crs",
]

log = logging.getLogger(__name__)

System = Literal["auto", "utm", "cgcs2000"]
Bounds: TypeAlias = tuple[float, float, float, float]
Lonlat: TypeAlias = tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]

_SYSTEMS = ("auto", "utm", "cgcs2000")
_COORDS = ("wgs84", "gcj02", "bd09")
_GEOGRAPHIC_EPSG = (4326, 4490)

# China's rough extent for system="auto" (lon/lat degrees)
_CHINA_AUTO = (73.0, 18.0, 135.0, 54.0)
# longitudes CGCS2000 3-degree zones 25-45 (EPSG:4534-4554) can serve
_GK_LON_RANGE = (73.5, 136.5)
_GK_FIRST_ZONE, _GK_LAST_ZONE, _GK_FIRST_EPSG = 25, 45, 4534
# a projected CRS is worked in as it is when its scale is this close to 1 at the data (UTM: 0.04 %)
_MAX_SCALE_ERROR = 0.01

# GCJ-02: Krasovsky 1940 ellipsoid and the rough box outside which no offset applies
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323
_GCJ_BOX = (72.004, 0.8293, 137.8347, 55.8271)
# BD-09 constants of the public formula
_BD_XPI = math.pi * 3000.0 / 180.0
_BD_DLON, _BD_DLAT = 0.0065, 0.006
# fixed-point inverse: stop when every point moves less than this (degrees, ~1 µm)
_INVERSE_TOL_DEG = 1e-11
_INVERSE_MAX_ITER = 12


# --------------------------------------------------------------------------- local CRS


def local_crs(data: gpd.GeoDataFrame | gpd.GeoSeries | Bounds, *, system: System = "auto") -> pyproj.CRS:
    """The local metric CRS for a layer or a lon/lat bounding box.

    The centre of the data's bounding box decides the zone.

    Parameters
    ----------
    data
        A GeoDataFrame or GeoSeries in any CRS, or ``(minx, miny, maxx, maxy)`` in
        lon/lat degrees.
    system
        ``"cgcs2000"``: CGCS2000 3-degree Gauss-Krüger, zone ``round(lon / 3)``,
        EPSG:4534-4554 (central meridian in the name, false easting 500 000 m,
        northing the first axis); only for centres between 73.5°E and 136.5°E.
        ``"utm"``: the WGS84 UTM zone of the centre (EPSG:326xx north, 327xx south;
        the standard 6-degree zones, without the Norway/Svalbard exceptions, so the
        central meridian is always the nearest one).
        ``"auto"``: ``"cgcs2000"`` when the centre lies in China's rough extent
        (73-135°E, 18-54°N, a box that also takes in neighbours such as Korea or
        northern Vietnam), ``"utm"`` otherwise.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    ParameterError
        Unknown ``system``; ``"cgcs2000"`` outside 73.5-136.5°E; a malformed box.
    MissingCRSError
        A layer without a CRS.
    EmptyLayerError
        A layer without any geometry.

    Examples
    --------
    >>> local_crs((106.6, 26.5, 106.8, 26.7)).to_epsg()  # Guiyang: CM 108°E
    4545
    >>> local_crs((24.9, 60.1, 25.0, 60.2)).to_epsg()  # Helsinki: UTM 35N
    32635
    >>> local_crs((116.2, 39.8, 116.5, 40.0), system="utm").to_epsg()
    32650
    """
    if system not in _SYSTEMS:
        raise ParameterError(f"unknown coordinate system {system!r}", hint=f"use one of {', '.join(_SYSTEMS)}")
    lon, lat = _centre_lonlat(data)
    if system == "auto":
        system = "cgcs2000" if _in_box(lon, lat, _CHINA_AUTO) else "utm"
    epsg = _gauss_kruger_epsg(lon) if system == "cgcs2000" else _utm_epsg(lon, lat)
    log.debug("local CRS for centre (%.5f, %.5f): EPSG:%d", lon, lat, epsg)
    return pyproj.CRS.from_epsg(epsg)


def work_crs(data: gpd.GeoDataFrame | gpd.GeoSeries, *, system: System = "auto") -> pyproj.CRS:
    """The CRS to measure and cut a layer in: its own when that is a local metric one, else :func:`local_crs`.

    A projected CRS in metres whose scale at the centre of the data is within 1 % of true
    (a UTM or Gauss-Krüger zone, a national grid such as ETRS-TM35FIN) is kept, so the
    work adds no round trip and every vertex of the input stays as it is. Web Mercator
    (EPSG:3857, scale 1/cos(latitude)) and geographic CRSs are replaced by the local one.

    Parameters
    ----------
    data
        A layer with a CRS.
    system
        Passed to :func:`local_crs` when the layer's own CRS is not kept.

    Examples
    --------
    >>> from shapely import Point
    >>> pts = gpd.GeoDataFrame(geometry=[Point(116.40, 39.90)], crs=4326)
    >>> work_crs(pts.to_crs(32650)).to_epsg(), work_crs(pts).to_epsg(), work_crs(pts.to_crs(3857)).to_epsg()
    (32650, 4548, 4548)
    """
    crs = None if data.crs is None else pyproj.CRS.from_user_input(data.crs)
    if crs is not None and crs.is_projected and _metre_axes(crs):
        lon, lat = _centre_lonlat(data)
        try:
            factors = pyproj.Proj(crs).get_factors(lon, lat)
            scale = (factors.meridional_scale, factors.parallel_scale)
        except (pyproj.exceptions.ProjError, RuntimeError):  # pragma: no cover - PROJ cannot say
            scale = (math.inf, math.inf)
        if all(math.isfinite(k) and abs(k - 1.0) <= _MAX_SCALE_ERROR for k in scale):
            return crs
    return local_crs(data, system=system)


def _metre_axes(crs: pyproj.CRS) -> bool:
    axes = crs.axis_info[:2]
    return len(axes) == 2 and all(a.unit_name in ("metre", "meter") and a.unit_conversion_factor == 1.0 for a in axes)


def layers_in_crs(layers: Mapping[str, gpd.GeoDataFrame], crs: object) -> dict[str, gpd.GeoDataFrame]:
    """The layers of one file, each in ``crs`` (moved where it is in another), so the file has one CRS.

    Layers without a CRS are refused: a file's layers cannot be made to agree without it.

    Examples
    --------
    >>> from shapely import Point
    >>> pts = gpd.GeoDataFrame(geometry=[Point(116.40, 39.90)], crs=4326)
    >>> out = layers_in_crs({"a": pts, "b": pts.to_crs(32650)}, 4490)
    >>> {name: layer.crs.to_epsg() for name, layer in out.items()}
    {'a': 4490, 'b': 4490}
    """
    target = pyproj.CRS.from_user_input(crs)
    out = {}
    for name, layer in layers.items():
        if layer.crs is None:
            raise _missing_crs(layer)
        out[name] = layer if layer.crs == target else layer.to_crs(target)
    return out


def to_local(
    gdf: gpd.GeoDataFrame, *, crs: pyproj.CRS | str | int | None = None, system: System = "auto"
) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` projected to ``crs``, or to its :func:`local_crs`.

    Parameters
    ----------
    gdf
        A layer with a CRS.
    crs
        The target CRS; None chooses it with :func:`local_crs`.
    system
        Passed to :func:`local_crs` when ``crs`` is None.

    Examples
    --------
    >>> from shapely import Point
    >>> pts = gpd.GeoDataFrame(geometry=[Point(116.40, 39.90), Point(116.41, 39.90)], crs=4326)
    >>> local = to_local(pts)
    >>> local.crs.to_epsg(), round(float(local.distance(local.geometry.iloc[0]).iloc[1]))
    (4548, 855)
    """
    if crs is None:
        crs = local_crs(gdf, system=system)
    elif gdf.crs is None:
        raise _missing_crs(gdf)
    return gdf.to_crs(crs)


def _centre_lonlat(data: gpd.GeoDataFrame | gpd.GeoSeries | Bounds) -> tuple[float, float]:
    if isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries):
        return _layer_centre(data)
    return _box_centre(data)


def _layer_centre(layer: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[float, float]:
    if layer.crs is None:
        raise _missing_crs(layer)
    minx, miny, maxx, maxy = layer.total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise EmptyLayerError(
            "the layer has no geometry to choose a local CRS from",
            path=layer.attrs.get("source"),
            hint="check that the file holds features with geometries",
        )
    to_lonlat = pyproj.Transformer.from_crs(layer.crs, 4326, always_xy=True)
    lon, lat = to_lonlat.transform((minx + maxx) / 2, (miny + maxy) / 2)
    return float(lon), float(lat)


def _box_centre(box: Bounds) -> tuple[float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ParameterError(
            f"expected a GeoDataFrame, a GeoSeries or a (minx, miny, maxx, maxy) box, got {box!r}"
        ) from None
    ok = np.all(np.isfinite([minx, miny, maxx, maxy])) and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    if not ok:
        raise ParameterError(
            f"the box {box!r} is not (minx, miny, maxx, maxy) in lon/lat degrees",
            hint="give longitudes in -180..180 and latitudes in -90..90, min before max",
        )
    return (minx + maxx) / 2, (miny + maxy) / 2


def _missing_crs(layer: gpd.GeoDataFrame | gpd.GeoSeries) -> MissingCRSError:
    return MissingCRSError(
        "the layer has no coordinate reference system",
        path=layer.attrs.get("source"),
        hint="set one with gdf.set_crs(...) (or --assume-crs on the command line)",
    )


def _in_box(lon: float, lat: float, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def _gauss_kruger_epsg(lon: float) -> int:
    low, high = _GK_LON_RANGE
    if not low <= lon <= high:
        raise ParameterError(
            f"CGCS2000 3-degree Gauss-Krüger zones cover {low}-{high}°E; the data's centre is at {lon:.4f}°",
            hint='use system="utm" or system="auto" for data outside China',
        )
    zone = math.floor(lon / 3.0 + 0.5)  # round half up: 73.5°E -> zone 25
    zone = min(max(zone, _GK_FIRST_ZONE), _GK_LAST_ZONE)
    return _GK_FIRST_EPSG + zone - _GK_FIRST_ZONE


def _utm_epsg(lon: float, lat: float) -> int:
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


# --------------------------------------------------------------------------- GCJ-02 / BD-09


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Lonlat:
    """WGS84 lon/lat to GCJ-02 (Amap, Tencent); unchanged outside China's rough box.

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of the same shape.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, arrays otherwise.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(123.0, 45.0)
    >>> round(lon, 6), round(lat, 6)
    (123.006075, 45.001978)
    >>> wgs84_to_gcj02(24.94, 60.17)  # Helsinki: no offset
    (24.94, 60.17)
    """
    x, y, scalar = _as_arrays(lon, lat)
    dlon, dlat = _gcj_offset(x, y)
    return _out(x + dlon, y + dlat, scalar)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Lonlat:
    """GCJ-02 lon/lat back to WGS84, by fixed-point iteration (error far below 1 cm).

    Solves ``wgs84_to_gcj02(w) == g`` with ``w <- w + (g - wgs84_to_gcj02(w))``; the
    offset changes by a few millimetres per metre, so each step gains about three
    decimal places and three or four steps suffice.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(106.7, 26.6))
    >>> round(lon, 9), round(lat, 9)
    (106.7, 26.6)
    """
    x, y, scalar = _as_arrays(lon, lat)
    wlon, wlat = _invert(wgs84_to_gcj02, x, y, x.copy(), y.copy())
    return _out(wlon, wlat, scalar)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Lonlat:
    """GCJ-02 lon/lat to BD-09 (Baidu), by the public formula.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(123.0, 45.0)
    >>> round(lon, 6), round(lat, 6)
    (123.006365, 45.006369)
    """
    x, y, scalar = _as_arrays(lon, lat)
    r = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_XPI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_XPI)
    return _out(r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT, scalar)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Lonlat:
    """BD-09 lon/lat back to GCJ-02.

    Starts from the public closed-form inverse (off by up to about 0.25 m) and
    refines it by fixed-point iteration on :func:`gcj02_to_bd09`.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09(116.4, 39.9))
    >>> round(lon, 9), round(lat, 9)
    (116.4, 39.9)
    """
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = _bd09_to_gcj02_closed_form(x, y)
    glon, glat = _invert(gcj02_to_bd09, x, y, gx, gy)
    return _out(glon, glat, scalar)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Lonlat:
    """WGS84 lon/lat to BD-09 (through GCJ-02).

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(123.0, 45.0)
    >>> round(lon, 5), round(lat, 5)
    (123.01245, 45.00833)
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Lonlat:
    """BD-09 lon/lat back to WGS84 (through GCJ-02).

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(113.3, 23.1))
    >>> round(lon, 9), round(lat, 9)
    (113.3, 23.1)
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        raise ParameterError(f"lon and lat differ in shape: {x.shape} and {y.shape}")
    return x, y, x.ndim == 0


def _out(x: NDArray[np.float64], y: NDArray[np.float64], scalar: bool) -> Lonlat:
    if scalar:
        return float(x), float(y)
    return x, y


def _gcj_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The GCJ-02 shift (degrees) at WGS84 ``lon``, ``lat``; zero outside the box."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    shared = (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0
    north = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + shared
        + (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * 2.0 / 3.0
    )
    east = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + shared
        + (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * 2.0 / 3.0
    )
    # metres on the Krasovsky ellipsoid to degrees: meridian and parallel radii
    phi = np.radians(lat)
    w2 = 1.0 - _KRASOVSKY_E2 * np.sin(phi) ** 2
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_E2) / (w2 * np.sqrt(w2))
    parallel_radius = _KRASOVSKY_A / np.sqrt(w2) * np.cos(phi)
    dlat = np.degrees(north / meridian_radius)
    dlon = np.degrees(east / parallel_radius)
    inside = _inside_gcj_box(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _inside_gcj_box(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    west, south, east, north = _GCJ_BOX
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def _bd09_to_gcj02_closed_form(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_XPI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_XPI)
    return r * np.cos(theta), r * np.sin(theta)


def _invert(
    forward: Callable[[ArrayLike, ArrayLike], Lonlat],
    target_lon: NDArray[np.float64],
    target_lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve ``forward(lon, lat) == target`` by fixed-point steps from a first guess."""
    for _ in range(_INVERSE_MAX_ITER):
        flon, flat = forward(lon, lat)
        step_lon = target_lon - np.asarray(flon)
        step_lat = target_lat - np.asarray(flat)
        lon = lon + step_lon
        lat = lat + step_lat
        moved = np.nanmax(np.abs(np.concatenate([np.ravel(step_lon), np.ravel(step_lat)])), initial=0.0)
        if not moved > _INVERSE_TOL_DEG:  # also stops on all-NaN input
            break
    return lon, lat


# --------------------------------------------------------------------------- layers

_STEPS: dict[tuple[str, str], Callable[[ArrayLike, ArrayLike], Lonlat]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
}


def convert_coords(gdf: gpd.GeoDataFrame, *, source: CoordSystem, target: CoordSystem) -> gpd.GeoDataFrame:
    """A copy of a lon/lat layer with every coordinate moved between WGS84, GCJ-02 and BD-09.

    Points, lines and polygons alike (every vertex, Z kept). The CRS label stays
    EPSG:4326/4490: GCJ-02 and BD-09 have no EPSG code, so say on the map which one
    the data is in. Only the active geometry column is converted.

    Parameters
    ----------
    gdf
        A layer in EPSG:4326 or EPSG:4490. It is not modified.
    source, target
        ``"wgs84"`` (also for CGCS2000 data: the two differ by centimetres),
        ``"gcj02"`` or ``"bd09"``.

    Raises
    ------
    ParameterError
        An unknown ``source``/``target``, or a layer that is not in lon/lat degrees.

    Examples
    --------
    >>> from shapely import Point
    >>> pts = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(123.0, 45.0)], crs=4326)
    >>> gcj = convert_coords(pts, source="wgs84", target="gcj02")
    >>> p = gcj.geometry.iloc[0]
    >>> round(p.x, 6), round(p.y, 6), pts.geometry.iloc[0].x
    (123.006075, 45.001978, 123.0)
    """
    for name, value in (("source", source), ("target", target)):
        if value not in _COORDS:
            raise ParameterError(f"unknown coordinates {name}={value!r}", hint=f"use one of {', '.join(_COORDS)}")
    _require_lonlat(gdf)
    out = gdf.copy()
    if source == target:
        return out
    step = _STEPS[(source, target)]

    def move(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        moved = coords.copy()
        lon, lat = step(coords[:, 0], coords[:, 1])
        moved[:, 0], moved[:, 1] = lon, lat
        return moved

    values = shapely.transform(out.geometry.values, move, include_z=None)
    out[out.geometry.name] = gpd.GeoSeries(values, index=out.index, crs=gdf.crs)
    log.info("converted %d geometries from %s to %s", len(out), source, target)
    return out


def _require_lonlat(gdf: gpd.GeoDataFrame) -> None:
    epsg = None if gdf.crs is None else gdf.crs.to_epsg()
    if epsg not in _GEOGRAPHIC_EPSG:
        got = "no CRS" if gdf.crs is None else f"CRS {gdf.crs.to_string()}"
        raise ParameterError(
            f"GCJ-02/BD-09 conversion needs lon/lat data in EPSG:4326 or EPSG:4490, got {got}",
            path=gdf.attrs.get("source"),
            hint="convert first with gdf.to_crs(4326)",
        )
