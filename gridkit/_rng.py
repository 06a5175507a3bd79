"""Randomness is explicit: every random step takes ``rng`` and normalises it here."""

from __future__ import annotations

import numpy as np

RNGLike = np.random.Generator | int | None


def as_rng(rng: RNGLike) -> np.random.Generator:
    """Return a Generator for ``rng`` (a Generator, a seed, or None for seed 0).

    None means seed 0, not fresh entropy: gridkit promises identical output for
    identical input.

    >>> bool(as_rng(3).integers(10) == as_rng(3).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)
