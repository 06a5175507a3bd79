"""Coordinates that cannot be what the CRS says, found before any geometry work.

Under a geographic CRS (EPSG:4326, EPSG:4490, …) a longitude lies in -180..180 and a
latitude in -90..90. Metres in a file that says degrees, a GeoJSON of projected
coordinates (GeoJSON is longitude/latitude by definition) and longitude/latitude
swapped all break that, or, for swapped data of western China (Xinjiang, Tibet), put
every feature in the Arctic while swapping them back puts every one in China. Under a
projected CRS, degrees are refused where the CRS's area of use says metres (a file of
longitudes/latitudes labelled EPSG:4547). :func:`check_lonlat` names the file, the
features and the likely cause, and says how to fix it.

Examples
--------
>>> import shapely
>>> from pyproj import CRS
>>> pts = shapely.points([(106.6, 26.5), (500_000.0, 2_930_000.0)])
>>> impossible_lonlat(pts, CRS.from_epsg(4490)).tolist()
[False, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import ProjError

from gridkit.errors import InputDataError

__all__ = ["check_lonlat", "degrees_in_projected", "impossible_lonlat", "projected_guess"]

# the land of China, with Hainan and the South China Sea islands, in degrees
_CHINA = (73.4, 3.5, 135.1, 53.6)
# western China (Xinjiang, Tibet, Qinghai, Gansu): the part whose swapped coordinates are still legal lon/lat
_CHINA_WEST = (73.4, 26.0, 96.5, 49.2)
_WEB_MERCATOR_CHINA = (8.17e6, 0.39e6, 1.504e7, 7.1e6)


def impossible_lonlat(values: np.ndarray, crs: CRS | None) -> np.ndarray:
    """Which geometries cannot be longitude/latitude: any coordinate beyond ±180 / ±90.

    All False for a projected CRS or none; missing and empty geometries are never flagged.
    """
    values = np.asarray(values, dtype=object)
    if crs is None or not crs.is_geographic or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    return _beyond(shapely.bounds(values))


def _beyond(bounds: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        x = np.abs(bounds[:, [0, 2]]) > 180
        y = np.abs(bounds[:, [1, 3]]) > 90
    return np.asarray(x.any(axis=1) | y.any(axis=1), dtype=bool)


def check_lonlat(
    values: np.ndarray,
    index: pd.Index,
    crs: CRS | None,
    *,
    path: Any,
    what: str,
    field: str = "geometry",
    fmt: str | None = None,
    note: str = "",
) -> None:
    """Refuse geometries whose coordinates cannot be in the geographic ``crs`` they are given.

    Parameters
    ----------
    values, index
        The geometries and their feature ids.
    crs
        The CRS the layer says (or was assumed) it is in. Under a projected CRS with a known
        area of use, only degrees where metres are expected are refused.
    path, what, field
        For the message: the file, the layer in words ("the boundaries layer") and the field.
    fmt
        The file's extension (``.geojson`` explains GeoJSON is lon/lat by definition).
    note
        Appended to the fix (e.g. how CSV rows are counted).

    Raises
    ------
    InputDataError
        Coordinates beyond ±180/±90, or every feature where swapped data of western China would be;
        under a projected CRS, every feature within ±180/±90 and outside the CRS's area of use
        (longitude/latitude in a file that says metres).
    """
    if crs is None or len(values) == 0:
        return
    values = np.asarray(values, dtype=object)
    if crs.is_projected:
        _check_degrees(values, index, crs, path=path, what=what, field=field, note=note)
        return
    if not crs.is_geographic:
        return
    name = crs.to_string()
    bounds = shapely.bounds(values)
    bad = _beyond(bounds)
    centres = np.column_stack([(bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2])
    if bad.any():
        xy = centres[bad]
        if _swapped_china(xy).mean() > 0.5:
            raise _swapped(path, what, index[bad], field, name, note)
        biggest = float(np.nanmax(np.abs(shapely.get_coordinates(values[bad]))))
        if biggest > 1_000:
            raise _metres(path, what, index[bad], field, name, xy, fmt, note)
        raise InputDataError(
            f"{what} has coordinates out of range for longitude/latitude (-180..180, -90..90) under {name}",
            path=path, feature_ids=index[bad].tolist(), field=field,
            hint=f"check longitude and latitude are not swapped; for projected coordinates pass --assume-crs "
                 f"with their CRS, or set the file's CRS (QGIS: Layer > Set CRS){note}",
        )
    filled = np.isfinite(centres).all(axis=1)
    if filled.any() and _in_box(centres[filled][:, ::-1], _CHINA_WEST).all():
        raise _swapped(path, what, index[filled], field, name, note)


def degrees_in_projected(values: np.ndarray, crs: CRS | None) -> bool:
    """Whether a layer under a projected ``crs`` holds longitudes/latitudes instead of metres.

    True when every coordinate lies within ±180/±90 and none inside the CRS's area of use
    (so a CRS without a known area of use is never doubted).

    >>> import shapely
    >>> from pyproj import CRS
    >>> degrees_in_projected(shapely.points([(114.1, 22.5)]), CRS.from_epsg(4547))
    True
    >>> degrees_in_projected(shapely.points([(500_000.0, 2_490_000.0)]), CRS.from_epsg(4547))
    False
    """
    if crs is None or not crs.is_projected or crs.area_of_use is None:
        return False
    coords = shapely.get_coordinates(np.asarray(values, dtype=object))
    if not len(coords) or not np.isfinite(coords).all():
        return False
    if np.abs(coords[:, 0]).max() > 180 or np.abs(coords[:, 1]).max() > 90:
        return False
    area = crs.area_of_use
    try:
        west, south, east, north = Transformer.from_crs(4326, crs, always_xy=True).transform_bounds(
            area.west, area.south, area.east, area.north)
    except ProjError:  # pragma: no cover - a CRS pyproj cannot bound: nothing to compare with
        return False
    inside = (coords[:, 0] >= west) & (coords[:, 0] <= east) & (coords[:, 1] >= south) & (coords[:, 1] <= north)
    return not bool(inside.any())


def _check_degrees(values: np.ndarray, index: pd.Index, crs: CRS, *, path: Any, what: str, field: str,
                   note: str) -> None:
    """Refuse a layer of longitudes/latitudes in a file whose CRS says projected metres."""
    if not degrees_in_projected(values, crs):
        return
    x, y = (float(v) for v in np.median(shapely.get_coordinates(values), axis=0))
    area = crs.area_of_use
    raise InputDataError(
        f"{what} cannot be in {crs.to_string()}: its coordinates (around x {x:.4f}, y {y:.4f}) are "
        f"longitude/latitude in degrees, far outside the CRS's area of use ({area.name if area else ''})",
        path=path, feature_ids=index.tolist(), field=field,
        hint="set the file's CRS to the geographic CRS the coordinates are in (EPSG:4490 for CGCS2000, "
             f"EPSG:4326 for WGS84; QGIS: Layer > Set CRS), or pass --assume-crs EPSG:4490{note}",
    )


def projected_guess(x: float, y: float) -> str:
    """Which projected CRS a point of China in metres is likely in, in words (empty when unsure).

    >>> projected_guess(36_500_000.0, 3_000_000.0)
    'CGCS2000 3-degree Gauss-Kruger zone 36 (EPSG:4524)'
    """
    return " or ".join(words for words, _ in _guesses(x, y))


def _guesses(x: float, y: float) -> list[tuple[str, str]]:
    """(words, an EPSG code to suggest) for each projected CRS the point may be in."""
    out = []
    zone = int(x // 1_000_000)
    if 25 <= zone <= 45 and 0 < y < 6.2e6:
        out.append((f"CGCS2000 3-degree Gauss-Kruger zone {zone} (EPSG:{4488 + zone})", f"EPSG:{4488 + zone}"))
    if 13 <= zone <= 23 and 0 < y < 6.2e6:
        out.append((f"CGCS2000 6-degree Gauss-Kruger zone {zone} (EPSG:{4478 + zone})", f"EPSG:{4478 + zone}"))
    if _in_box(np.array([[x, y]]), _WEB_MERCATOR_CHINA)[0]:
        out.append(("Web Mercator (EPSG:3857)", "EPSG:3857"))
    if 1e5 < x < 9e5 and 3e5 < y < 6.2e6:
        words = ("a 3-degree Gauss-Kruger zone by central meridian (CGCS2000, EPSG:4534-4554) "
                 "or UTM (WGS 84, EPSG:32643-32653)")
        out.append((words, "EPSG:4547"))
    return out


def _in_box(xy: np.ndarray, box: Sequence[float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.asarray((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1), dtype=bool)


def _swapped_china(xy: np.ndarray) -> np.ndarray:
    """Points that are in China once their two coordinates are swapped."""
    return _in_box(xy[:, ::-1], _CHINA)


def _swapped(path: Any, what: str, ids: pd.Index, field: str, crs: str, note: str) -> InputDataError:
    return InputDataError(
        f"{what} has latitude and longitude swapped: under {crs} its features lie north of China "
        "(latitude above 53.6°, or beyond 90°), and swapped back they lie in China",
        path=path, feature_ids=ids.tolist(), field=field,
        hint="write longitude first, then latitude (x = longitude); in QGIS swap them with the "
             f"'Swap X and Y coordinates' tool, in a CSV swap the two column names{note}",
    )


def _metres(path: Any, what: str, ids: pd.Index, field: str, crs: str, xy: np.ndarray, fmt: str | None,
            note: str) -> InputDataError:
    x, y = (float(v) for v in np.nanmedian(xy, axis=0))
    guesses = _guesses(x, y)
    which = f"; they look like {' or '.join(w for w, _ in guesses)}" if guesses else ""
    example = guesses[0][1] if guesses else "EPSG:4547"
    said = ("GeoJSON coordinates are longitude/latitude by definition (RFC 7946), but these"
            if fmt in (".geojson", ".json") else f"the file says {crs}, but these coordinates")
    return InputDataError(
        f"{what} cannot be longitude/latitude: {said} are projected metres (around x {x:,.0f}, "
        f"y {y:,.0f}){which}",
        path=path, feature_ids=ids.tolist(), field=field,
        hint=f"pass --assume-crs with the CRS they are in (e.g. --assume-crs {example}; it replaces a "
             "geographic CRS the coordinates cannot be in), or set the right CRS on the file "
             f"(QGIS: Layer > Set CRS){note}",
    )
