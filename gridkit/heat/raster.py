"""Density rasters as files and for web maps: the GeoTIFF, and warping to Web Mercator.

:func:`heat_to_geotiff` writes a :class:`~gridkit.heat.surface.HeatSurface` as a single-band
float32 GeoTIFF with its CRS, transform, units and a declared nodata value (:data:`NODATA`;
densities are never negative, so it cannot collide with a value). :func:`to_web_mercator`
warps rasters of the local metric CRS to EPSG:3857, the CRS in which Leaflet draws image
overlays (a Gauss-Krüger raster laid on the map unwarped would be rotated by the meridian
convergence: hundreds of metres at the edge of a county).

Examples
--------
>>> import rasterio, shapely, tempfile
>>> import geopandas as gpd
>>> from gridkit.heat.density import heat_from_incidents
>>> pts = gpd.GeoDataFrame(geometry=shapely.points([106.62, 106.63], [26.47, 26.48]), crs=4490)
>>> out = heat_to_geotiff(heat_from_incidents(pts, bandwidth=200.0), Path(tempfile.mkdtemp()) / "heat.tif")
>>> with rasterio.open(out) as src:
...     src.crs.to_epsg(), src.res, src.tags()["units"], src.nodata
(4545, (50.0, 50.0), 'incidents per km2', -9999.0)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyproj
from affine import Affine
from numpy.typing import NDArray

from gridkit._types import PathLike
from gridkit.errors import ParameterError
from gridkit.heat.surface import HeatSurface

__all__ = ["NODATA", "WebRaster", "heat_to_geotiff", "to_web_mercator"]

log = logging.getLogger(__name__)

#: The nodata value declared in heat.tif (no cell holds it: densities are >= 0).
NODATA = -9999.0


def heat_to_geotiff(
    surface: HeatSurface, path: PathLike, *, values: Literal["density", "probability"] = "density"
) -> Path:
    """Write a surface as a single-band float32 GeoTIFF (CRS, transform, nodata, units in the tags).

    Written atomically (:func:`gridkit.io.atomic_dir`).

    Parameters
    ----------
    values
        ``"density"``: incidents per km²; ``"probability"``: probability density per m².
    """
    import rasterio

    from gridkit.io import atomic_dir

    if values not in ("density", "probability"):
        raise ParameterError(f"values must be density or probability, got {values!r}")
    data = (surface.density if values == "density" else surface.probability).astype(np.float32)
    units = "incidents per km2" if values == "density" else "probability per m2"
    path = Path(path)
    rows, cols = surface.shape
    with atomic_dir(path.parent) as tmp, rasterio.open(
        tmp / path.name, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
        crs=surface.crs.to_wkt(), transform=surface.transform, nodata=NODATA,
        compress="deflate", predictor=3, tiled=rows >= 256 and cols >= 256,
    ) as dst:
        dst.write(data, 1)
        dst.update_tags(
            units=units, bandwidth_m=f"{surface.bandwidth_m:.3f}", bandwidth_rule=surface.bandwidth_rule,
            incidents=str(surface.n_incidents), kernel="gaussian",
            method=str(surface.detail.get("method", "")),
        )
        dst.set_band_description(1, f"incident density ({units})")
    log.info("wrote %s (%d x %d)", path, rows, cols)
    return path


@dataclass(frozen=True)
class WebRaster:
    """Rasters warped to EPSG:3857: ``data`` (bands, rows, cols), north up, and their lon/lat box."""

    data: NDArray[np.float64]
    south: float
    west: float
    north: float
    east: float


def to_web_mercator(
    stack: NDArray[np.float64], transform: Affine, crs: pyproj.CRS, *, max_side: int = 1024
) -> WebRaster:
    """Warp bands of a north-up metric raster to Web Mercator (bilinear), about the same cell count.

    Parameters
    ----------
    stack
        ``(bands, rows, cols)`` or ``(rows, cols)``.
    transform, crs
        Of the source raster.
    max_side
        The warped raster has at most this many cells on its longer side.

    Returns
    -------
    WebRaster
        Cells outside the source are 0.
    """
    from rasterio.warp import Resampling, reproject

    bands = stack if stack.ndim == 3 else stack[None]
    _, rows, cols = bands.shape
    west, north = transform.c, transform.f
    east, south = west + cols * transform.a, north + rows * transform.e
    to_web = pyproj.Transformer.from_crs(crs, 3857, always_xy=True)
    x0, y0, x1, y1 = to_web.transform_bounds(west, south, east, north, densify_pts=21)
    # about the source's cell count, square cells, at most max_side a side
    size = math.sqrt((x1 - x0) * (y1 - y0) / (rows * cols))
    size = max(size, (x1 - x0) / max_side, (y1 - y0) / max_side)
    width, height = max(1, math.ceil((x1 - x0) / size)), max(1, math.ceil((y1 - y0) / size))
    dst_transform = Affine(size, 0.0, x0, 0.0, -size, y1)
    out = np.zeros((len(bands), height, width), dtype=np.float64)
    reproject(np.ascontiguousarray(bands, dtype=np.float64), out, src_transform=transform, src_crs=crs.to_wkt(),
              dst_transform=dst_transform, dst_crs="EPSG:3857", resampling=Resampling.bilinear,
              src_nodata=None, dst_nodata=0.0)
    to_lonlat = pyproj.Transformer.from_crs(3857, 4326, always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_lonlat.transform([x0, x0 + width * size], [y1 - height * size, y1])
    return WebRaster(out, south=float(lat0), west=float(lon0), north=float(lat1), east=float(lon1))
