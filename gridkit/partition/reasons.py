"""Why a grid is outside the household bounds, or exempt from them: codes with their text.

Every grid carries a ``reason`` code (``""`` when it keeps the bounds) and a ``note``, the
code's text filled in with the figures of that grid. Code decides; text explains. The
report, the map and :mod:`gridkit.partition.rules` classify grids by code only.

>>> note("building_above_max", households=800, max=500)
'one building holds 800 households, above the maximum 500'
>>> sorted(DATA_REASONS)[:2]
['building_above_max', 'community_below_min']
"""

from __future__ import annotations

from typing import Any

__all__ = ["DATA_REASONS", "REASONS", "explained_by_data", "note"]

#: reason code -> text; ``{name}`` fields are filled with the grid's figures by :func:`note`
REASONS: dict[str, str] = {
    "": "",
    "dedicated": "dedicated",
    "building_above_max": "one building holds {households} households, above the maximum {max}",
    "community_below_min": "the community holds only {households} households, below the minimum {min}",
    "part_below_min": ("a part of the community cut off by its boundary, a dedicated compound or a building "
                       "above the maximum holds only {households} households, below the minimum {min}"),
    "pocket": ("a building of {building} households and the {pocket} households reachable only through it "
               "must share a grid, above the maximum {max}"),
    "no_grouping": ("the buildings here hold {households} households in counts that no grouping of whole "
                    "buildings divides into grids of {min}-{max}"),
    "no_connected_split": ("the {households} households of these {units} units cannot be divided into connected "
                           "grids of {min}-{max} households of whole buildings"),
    "method_failed": "no split of the units met [{min}, {max}] here ({households} households)",
    "not_analysed": "{households} households, outside the bounds {min}-{max} (not analysed)",
}

#: a grid with one of these reasons is outside the bounds because the data leaves no way in
DATA_REASONS = frozenset({"building_above_max", "community_below_min", "part_below_min", "pocket", "no_grouping",
                          "no_connected_split"})


def note(code: str, **figures: Any) -> str:
    """The text of reason ``code`` with ``figures`` filled in.

    Raises
    ------
    KeyError
        For a code not in :data:`REASONS`.
    """
    return REASONS[code].format(**figures)


def explained_by_data(codes: Any) -> Any:
    """Whether each reason code says the data (not the method) puts a grid outside the bounds.

    Accepts one code or a pandas Series of codes (returns a boolean Series).

    >>> explained_by_data("pocket"), explained_by_data("method_failed")
    (True, False)
    """
    if isinstance(codes, str):
        return codes in DATA_REASONS
    return codes.isin(DATA_REASONS)
