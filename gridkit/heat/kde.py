"""Gaussian kernel density on a regular grid of nodes: exact sums and binned FFT convolution.

Plain numpy arrays in, arrays out (no CRS, no geometry): :mod:`gridkit.heat.density` turns
incidents into points in metres and the result into a raster.

The isotropic Gaussian kernel is separable, ``K(dx, dy) = phi(dx) phi(dy)`` with
``phi(d) = exp(-d² / 2h²) / (h sqrt(2 pi))``, which gives two ways to evaluate it on the
nodes ``(x0 + i·cell, y0 + j·cell)``:

- :func:`kde_exact`: the sum over every point, as a matrix product
  ``D = Phi_y @ Phi_x.T`` (``Phi_x[i, p] = phi(x_i - x_p)``). Exact, O(points x nodes).
- :func:`kde_binned`: the points' weights are spread onto the nodes of a grid of spacing at
  most ``h / 4`` with cubic (4-point Lagrange) interpolation weights, then convolved with the
  kernel sampled on that grid (:func:`scipy.signal.fftconvolve`, one axis after the other).
  The result is the exact sum with each kernel ``phi(x_i - x)`` replaced by its cubic
  interpolation between nodes, so the error is O((spacing / h)⁴): at most about 0.25 % of the
  exact density wherever it exceeds 1 % of its peak, for any point set (tested against
  :func:`kde_exact`). Linear binning, as KDEpy's ``FFTKDE`` and most binned estimators use,
  is O((spacing / h)²): about 0.9 % for a lone point at ``cell = h / 10``. When the
  requested nodes are farther apart than ``h / 4`` the points are binned on a grid ``k``
  times finer and the convolution sampled back at the requested nodes.

Both are linear in the weights and accept a group per point (a week, say): one surface per
group, in one pass.

Examples
--------
>>> xy = np.array([[0.0, 0.0], [120.0, 40.0]])
>>> xs, ys = np.arange(-400.0, 520.0, 20.0), np.arange(-400.0, 440.0, 20.0)
>>> exact = kde_exact(xy, xs, ys, 100.0)
>>> binned = kde_binned(xy, xs[0], ys[0], 20.0, len(xs), len(ys), 100.0)
>>> bool(np.abs(binned - exact).max() < 1e-4 * exact.max())
True
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_BIN_SPACING", "TRUNCATE", "binning_factor", "kde_binned", "kde_exact"]

#: Largest binning grid spacing, in bandwidths (cubic binning error <= ~0.25 % at 1 % of the peak).
MAX_BIN_SPACING = 0.25
#: The sampled kernel reaches this many bandwidths either side (the rest of its mass is < 1e-14).
TRUNCATE = 8.0
_POINT_CHUNK = 2048  # points per matrix product in kde_exact
_MARGIN = 2  # nodes either side of a point that cubic weights reach


def binning_factor(cell: float, h: float) -> int:
    """How many times finer than ``cell`` the binning grid must be (spacing <= h / 4)."""
    return max(1, math.ceil(cell / (MAX_BIN_SPACING * h) - 1e-9))


def _phi(d: NDArray[np.float64], h: float) -> NDArray[np.float64]:
    out: NDArray[np.float64] = np.exp(-0.5 * (d / h) ** 2) / (h * math.sqrt(2.0 * math.pi))
    return out


def _groups(n: int, groups: NDArray[np.int64] | None, n_groups: int | None) -> tuple[NDArray[np.int64], int]:
    if groups is None:
        return np.zeros(n, dtype=np.int64), 1
    g = np.asarray(groups, dtype=np.int64)
    count = int(n_groups) if n_groups is not None else (int(g.max()) + 1 if n else 1)
    if n and (g.min() < 0 or g.max() >= count):
        raise ValueError("group numbers must lie in 0 .. n_groups - 1")
    return g, count


def kde_exact(
    xy: NDArray[np.float64],
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    h: float,
    *,
    weights: NDArray[np.float64] | None = None,
    groups: NDArray[np.int64] | None = None,
    n_groups: int | None = None,
) -> NDArray[np.float64]:
    """The sum of the weighted kernels of every point at every node ``(xs[i], ys[j])``.

    Parameters
    ----------
    xy
        (n, 2) point coordinates.
    xs, ys
        Node coordinates along x and y.
    h
        Kernel standard deviation, in the units of ``xy``.
    weights
        Weight per point (default 1).
    groups, n_groups
        A group number per point: one surface per group.

    Returns
    -------
    numpy.ndarray
        ``(len(ys), len(xs))`` (row ``j`` at ``ys[j]``), or ``(n_groups, len(ys), len(xs))``
        when ``groups`` is given. Not normalised: the weights' sum times a density.
    """
    xy = np.asarray(xy, dtype=np.float64)
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=np.float64)
    g, count = _groups(len(xy), groups, n_groups)
    out = np.zeros((count, len(ys), len(xs)))
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    for start in range(0, len(xy), _POINT_CHUNK):
        part = slice(start, start + _POINT_CHUNK)
        phi_x = _phi(xs[:, None] - xy[None, part, 0], h) * w[None, part]
        phi_y = _phi(ys[:, None] - xy[None, part, 1], h)
        for group in np.unique(g[part]):
            cols = g[part] == group
            out[group] += phi_y[:, cols] @ phi_x[:, cols].T
    return out if groups is not None else out[0]


def _cubic_weights(t: NDArray[np.float64]) -> NDArray[np.float64]:
    """(4, n) Lagrange weights of the nodes -1, 0, 1, 2 for positions ``t`` in [0, 1) from node 0."""
    a, b, c = t + 1, t - 1, t - 2
    return np.stack([-t * b * c / 6, a * b * c / 2, -a * t * c / 2, a * t * b / 6])


def _smooth(hist: NDArray[np.float64], spacing: float, h: float, axis: int, step: int, first: int,
            count: int) -> NDArray[np.float64]:
    """Convolve ``hist`` with the sampled kernel along ``axis`` and keep nodes ``first + step·i``."""
    from scipy.signal import fftconvolve

    size = hist.shape[axis]
    half = min(math.ceil(TRUNCATE * h / spacing), size)
    kernel = _phi(np.arange(-half, half + 1) * spacing, h)
    shape = [1] * hist.ndim
    shape[axis] = kernel.size
    full = fftconvolve(hist, kernel.reshape(shape), mode="same", axes=axis)
    keep = [slice(None)] * hist.ndim
    keep[axis] = slice(first, first + step * count, step)
    return np.ascontiguousarray(full[tuple(keep)])


def kde_binned(
    xy: NDArray[np.float64],
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    h: float,
    *,
    weights: NDArray[np.float64] | None = None,
    groups: NDArray[np.int64] | None = None,
    n_groups: int | None = None,
) -> NDArray[np.float64]:
    """:func:`kde_exact` at the nodes ``(x0 + i·cell, y0 + j·cell)`` by cubic binning and FFT.

    Points may lie anywhere within half a cell of the nodes' extent or beyond (the binning
    grid is widened to hold them). Negative values (interpolation and FFT rounding in the
    far tails, below 1e-12 of the peak) are set to 0.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)``, or ``(n_groups, ny, nx)`` when ``groups`` is given.
    """
    xy = np.asarray(xy, dtype=np.float64)
    w = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=np.float64)
    g, count = _groups(len(xy), groups, n_groups)
    k = binning_factor(cell, h)
    spacing = cell / k
    fx, fy = (xy[:, 0] - x0) / spacing, (xy[:, 1] - y0) / spacing
    # fine nodes from -left .. (n-1)k + right, so that every point's four nodes exist
    left_x = _MARGIN + max(0, math.ceil(-float(fx.min(initial=0.0))))
    left_y = _MARGIN + max(0, math.ceil(-float(fy.min(initial=0.0))))
    size_x = left_x + max((nx - 1) * k, math.ceil(float(fx.max(initial=0.0)))) + _MARGIN + 1
    size_y = left_y + max((ny - 1) * k, math.ceil(float(fy.max(initial=0.0)))) + _MARGIN + 1
    ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    wx, wy = _cubic_weights(fx - ix), _cubic_weights(fy - iy)
    base = (g * size_y + iy + left_y) * size_x + ix + left_x
    hist = np.zeros(count * size_y * size_x)
    for a in range(4):
        row_weight = w * wy[a]
        for b in range(4):
            hist += np.bincount(base + ((a - 1) * size_x + b - 1), weights=row_weight * wx[b], minlength=hist.size)
    stack = hist.reshape(count, size_y, size_x)
    stack = _smooth(stack, spacing, h, 2, k, left_x, nx)
    stack = _smooth(stack, spacing, h, 1, k, left_y, ny)
    np.maximum(stack, 0.0, out=stack)
    return stack if groups is not None else stack[0]
