"""The density raster :func:`gridkit.heat.heat_from_incidents` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
from affine import Affine
from numpy.typing import NDArray

__all__ = ["HeatSurface"]


@dataclass(frozen=True, repr=False)
class HeatSurface:
    """A kernel density raster in a metric CRS, north up (row 0 is the northern edge).

    Attributes
    ----------
    probability
        Probability density per m² at each cell centre; ``probability.sum() * cell_m**2``
        is the share of the kernel mass inside the raster (about 1 with the default padding).
    transform
        Affine transform from (col, row) to the CRS's (x, y), as rasterio uses it.
    crs
        The local metric CRS of the raster.
    cell_m
        Cell size in metres.
    bandwidth_m
        Standard deviation of the Gaussian kernel in metres.
    bandwidth_rule
        How the bandwidth was chosen: ``"scott"``, ``"silverman"``, ``"cv"`` or ``"fixed"``.
    n_incidents
        Incidents the surface was fitted to.
    detail
        How the bandwidth was found (spread of the points, CV grid and sample size, ...) and
        evaluated (``method``: ``"fft"`` or ``"exact"``; ``binning_factor``).
    """

    probability: NDArray[np.float64]
    transform: Affine
    crs: pyproj.CRS
    cell_m: float
    bandwidth_m: float
    bandwidth_rule: str
    n_incidents: int
    detail: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        rows, cols = self.shape
        method = self.detail.get("method", "")
        peak = float(self.density.max()) if self.probability.size else 0.0
        return (f"<HeatSurface: {self.n_incidents:,} incidents, {rows:,} x {cols:,} cells of {self.cell_m:g} m, "
                f"bandwidth {self.bandwidth_m:,.0f} m ({self.bandwidth_rule}{', ' + method if method else ''}), "
                f"peak {peak:,.1f} per km²>")

    @property
    def density(self) -> NDArray[np.float64]:
        """Incidents per km² at each cell centre (probability density x incidents x 10⁶)."""
        return self.probability * self.n_incidents * 1e6

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.probability.shape  # type: ignore[return-value]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the raster in its CRS."""
        rows, cols = self.shape
        west, north = self.transform.c, self.transform.f
        return west, north - rows * self.cell_m, west + cols * self.cell_m, north

    def centre_axes(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Cell-centre x of each column (west to east) and y of each row (north to south)."""
        rows, cols = self.shape
        west, _south, _east, north = self.bounds
        xs = west + (np.arange(cols, dtype=np.float64) + 0.5) * self.cell_m
        ys = north - (np.arange(rows, dtype=np.float64) + 0.5) * self.cell_m
        return xs.astype(np.float64), ys.astype(np.float64)

    def cell_centres(self) -> NDArray[np.float64]:
        """(rows x cols, 2) array of cell-centre coordinates, row by row from the north-west."""
        xs, ys = self.centre_axes()
        gx, gy = np.meshgrid(xs, ys)
        return np.column_stack([gx.ravel(), gy.ravel()])
