"""Can a set of whole-building household counts be divided within the bounds at all?

Used to explain a grid outside the bounds: when even ignoring geography no grouping of
the buildings gives every grid between the bounds, the data is the reason, not the method.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["packable"]


def packable(items: Sequence[int], lo: int, hi: int, *, budget: int = 50_000) -> bool | None:
    """Whether ``items`` can be grouped so that every group's sum lies in ``[lo, hi]``.

    Exact search over groupings (largest items first, groups kept in canonical order);
    returns None when the search budget runs out (treat as unknown).

    >>> packable([222, 44, 30, 21], 100, 300)
    False
    >>> packable([150, 60, 60, 30], 100, 300)
    True
    """
    values = sorted((int(v) for v in items if v > 0), reverse=True)
    total = sum(values)
    if total == 0:
        return False
    if values and values[0] > hi:
        return False
    steps = 0
    seen: set[tuple[int, tuple[int, ...]]] = set()

    def place(i: int, groups: tuple[int, ...]) -> bool | None:
        nonlocal steps
        steps += 1
        if steps > budget:
            return None
        if i == len(values):
            return all(g >= lo for g in groups)
        remaining = sum(values[i:])
        short = sum(max(0, lo - g) for g in groups)
        if short > remaining:
            return False
        key = (i, tuple(sorted(groups)))
        if key in seen:
            return False
        seen.add(key)
        unknown = False
        tried: set[int] = set()
        for j, g in enumerate(groups):
            if g in tried or g + values[i] > hi:
                continue
            tried.add(g)
            got = place(i + 1, groups[:j] + (g + values[i],) + groups[j + 1:])
            if got:
                return True
            unknown |= got is None
        got = place(i + 1, groups + (values[i],))
        if got:
            return True
        unknown |= got is None
        return None if unknown else False

    return place(0, ())
