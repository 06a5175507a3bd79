"""Plane geometry the generator shares: rotations and points along lines (numpy only)."""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["interpolate", "points_along", "rotate"]


def rotate(xy: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out: np.ndarray = np.stack([xy[..., 0] * c - xy[..., 1] * s, xy[..., 0] * s + xy[..., 1] * c], axis=-1)
    return out


def interpolate(lines: np.ndarray, which: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points ``dist`` metres along ``lines[which]`` and the unit direction there (numpy only).

    >>> line = shapely.linestrings([[0, 0], [10, 0], [10, 10]])
    >>> xy, direction = interpolate(np.array([line]), np.array([0, 0]), np.array([5.0, 15.0]))
    >>> xy.tolist(), direction.tolist()
    ([[5.0, 0.0], [10.0, 5.0]], [[1.0, 0.0], [0.0, 1.0]])
    """
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    step = np.hypot(*np.diff(coords, axis=0).T)
    step[idx[1:] != idx[:-1]] = 0.0  # no length between the end of one line and the next
    cum = np.concatenate([[0.0], np.cumsum(step)])
    first = np.searchsorted(idx, np.arange(len(lines)))
    last = np.searchsorted(idx, np.arange(len(lines)), side="right") - 1
    at = cum[first[which]] + np.clip(dist, 0, cum[last[which]] - cum[first[which]])
    seg = np.searchsorted(cum, at, side="right") - 1
    seg = np.clip(seg, first[which], last[which] - 1)
    delta = coords[seg + 1] - coords[seg]
    length = np.maximum(np.hypot(*delta.T), 1e-12)
    xy = coords[seg] + delta * ((at - cum[seg]) / length)[:, None]
    return xy, delta / length[:, None]


def points_along(
    lines: np.ndarray, spacing: float, offset: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Points every ``spacing`` metres along each line, alternately left and right at ``offset``."""
    length = shapely.length(lines)
    phase = rng.uniform(0, spacing, len(lines))
    n = np.where(length > phase, np.floor((length - phase) / spacing) + 1, 0).astype(np.int64)
    line = np.repeat(np.arange(len(lines)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    at, tangent = interpolate(lines, line, phase[line] + k * spacing)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    side = np.where(k % 2 == 0, 1.0, -1.0)
    return at + normal * (side * offset[line])[:, None] + rng.normal(0, 0.3, at.shape)

