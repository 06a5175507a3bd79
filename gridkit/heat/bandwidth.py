"""Gaussian kernel bandwidths in metres: Scott's and Silverman's rules, or cross-validation.

Examples
--------
>>> xy = np.random.default_rng(0).normal(0, 100, (64, 2))
>>> h, detail = bandwidth_for_points(xy, rule="silverman")
>>> bool(0 < h <= detail["sigma"] * 64 ** (-1 / 6))
True
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gridkit._rng import RNGLike, as_rng
from gridkit.errors import InputDataError, ParameterError

__all__ = ["BANDWIDTH_RULES", "BandwidthRule", "bandwidth_for_points"]

log = logging.getLogger(__name__)

BandwidthRule = Literal["scott", "silverman", "cv"]
#: The rules :func:`bandwidth_for_points` knows.
BANDWIDTH_RULES = ("scott", "silverman", "cv")
_IQR_PER_SIGMA = 1.349  # interquartile range of a standard normal


def bandwidth_for_points(
    xy: NDArray[np.float64],
    *,
    rule: BandwidthRule = "scott",
    cv_max_points: int = 2000,
    cv_folds: int = 5,
    cv_steps: int = 20,
    rng: RNGLike = None,
) -> tuple[float, dict[str, Any]]:
    """A Gaussian kernel bandwidth in the units of ``xy`` (metres for projected points).

    The kernel is isotropic, so one bandwidth serves both axes; the spread ``sigma`` is
    the pooled standard deviation ``sqrt((var_x + var_y) / 2)``.

    - ``"scott"``: ``h = sigma * n ** (-1/6)`` (Scott's factor ``n ** (-1 / (d + 4))``, d = 2).
    - ``"silverman"``: ``h = A * n ** (-1/6)`` with Silverman's robust spread
      ``A = min(sigma, IQR / 1.349)`` per axis, pooled. In two dimensions Silverman's
      factor ``(n (d + 2) / 4) ** (-1 / (d + 4))`` equals Scott's, so the rules differ only
      by the robust spread, which is smaller for clustered points with long tails.
    - ``"cv"``: the bandwidth maximising the held-out log-likelihood (``GridSearchCV`` over
      ``cv_steps`` values spaced evenly in log scale from Scott's ``h / 20`` to ``2 h``,
      ``cv_folds``-fold shuffled cross-validation). At most ``cv_max_points`` points, a
      random subsample drawn with ``rng``, take part: the search costs O(sample²) per
      candidate, and the bandwidth found for the sample is scaled to all ``n`` points by
      Scott's factor ``(n / sample) ** (-1/6)``.

    Returns
    -------
    (float, dict)
        The bandwidth and what it was computed from (``sigma``, ``n``; for CV the grid,
        the sample size and the score of each candidate).

    Examples
    --------
    >>> xy = np.random.default_rng(0).normal(0, 100, (64, 2))
    >>> h, detail = bandwidth_for_points(xy)
    >>> round(h / detail["sigma"], 4) == round(64 ** (-1 / 6), 4)
    True
    """
    if rule not in BANDWIDTH_RULES:
        raise ParameterError(f"unknown bandwidth rule {rule!r}", hint="use scott, silverman, cv or metres")
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    if n < 2:
        raise InputDataError(
            f"a bandwidth rule needs at least 2 incidents, got {n}",
            hint="give the bandwidth in metres (--bandwidth 150) or widen the filters",
        )
    sigma = float(np.sqrt(xy.var(axis=0, ddof=1).mean()))
    if not sigma > 0:
        raise InputDataError(
            "all incidents are at the same place: their spread is zero",
            hint="give the bandwidth in metres (--bandwidth 150)",
        )
    factor = n ** (-1.0 / 6.0)
    detail: dict[str, Any] = {"sigma": sigma, "n": n}
    if rule == "scott":
        return sigma * factor, detail
    if rule == "silverman":
        std = xy.std(axis=0, ddof=1)
        iqr = np.subtract(*np.percentile(xy, [75, 25], axis=0)) / _IQR_PER_SIGMA
        spread = np.where(iqr > 0, np.minimum(std, iqr), std)
        robust = float(np.sqrt((spread**2).mean()))
        detail["robust_sigma"] = robust
        return robust * factor, detail
    return _cv_bandwidth(xy, sigma * factor, cv_max_points, cv_folds, cv_steps, as_rng(rng), detail)


def _cv_bandwidth(
    xy: NDArray[np.float64], h_scott: float, max_points: int, folds: int, steps: int,
    rng: np.random.Generator, detail: dict[str, Any],
) -> tuple[float, dict[str, Any]]:
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KernelDensity

    n = len(xy)
    if max_points < 2 * folds:
        raise ParameterError(f"cv_max_points must be at least {2 * folds}, got {max_points}")
    sample = xy if n <= max_points else xy[np.sort(rng.choice(n, max_points, replace=False))]
    m = len(sample)
    folds = min(folds, m)
    # the grid is relative to Scott's bandwidth for the sample
    h_sample = h_scott * (m / n) ** (-1.0 / 6.0)
    grid = h_sample * np.logspace(np.log10(1 / 20), np.log10(2), steps)
    search = GridSearchCV(
        KernelDensity(kernel="gaussian"), {"bandwidth": grid},
        cv=KFold(folds, shuffle=True, random_state=int(rng.integers(2**31 - 1))),
    )
    search.fit(sample)
    best = float(search.best_params_["bandwidth"])
    h = best * (n / m) ** (-1.0 / 6.0)
    at_edge = bool(best in (grid[0], grid[-1]))
    if at_edge:
        log.warning("cross-validated bandwidth %.1f m is at the edge of the searched grid", best)
    detail.update({
        "cv_sample": m, "cv_folds": folds, "cv_grid": [float(g) for g in grid],
        "cv_scores": [float(s) for s in search.cv_results_["mean_test_score"]],
        "cv_best_for_sample": best, "cv_at_grid_edge": at_edge,
    })
    return h, detail
