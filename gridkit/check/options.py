"""The options of a check, in one checked dataclass.

>>> CheckOptions(kind="rural", max_households=250).bounds()["rural"]
Bounds(min=100, max=250, target=200)
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, Literal

from gridkit.errors import ParameterError
from gridkit.partition.options import MAX_HOUSEHOLDS_PER_BUILDING, KindOption, PartitionOptions
from gridkit.partition.rules import Bounds

__all__ = ["Assign", "CheckOptions"]

Assign = Literal["overlap", "centroid"]


@dataclass(frozen=True)
class CheckOptions:
    """How :func:`gridkit.check.check_grids` reads a plan and which bounds it holds it to.

    Attributes
    ----------
    kind, min_households, max_households, target
        The bounds, as the partition takes them (defaults: city 200-500, rural 100-300;
        ``kind="auto"`` reads a ``kind`` field, a ``class_code`` field or digits 10-12 of
        the community code).
    tolerance
        Balance (任务相当): a grid more than this share from its community's mean is
        reported (a soft rule: it does not fail the check unless ``strict``).
    code_field, name_field, kind_field
        Fields of the communities layer (division code, name, kind).
    households_field
        Households of each building when buildings are given, else of each grid.
    grid_code_field, dedicated_field
        Fields of the grids layer: the grid code, and whether a grid is dedicated (专属网格,
        exempt from the bounds); a missing dedicated field means none is.
    assign
        How a building goes to a grid: ``"overlap"`` the grid holding its largest part
        (as the partition counts), ``"centroid"`` the grid holding its centroid.
    max_households_per_building
        Building counts above this are refused as implausible, as in the partition.
    strict
        Soft findings (balance, serials out of reading order) fail the check too.
    """

    kind: KindOption = "auto"
    min_households: int | None = None
    max_households: int | None = None
    target: int | None = None
    tolerance: float = 0.2
    code_field: str = "code"
    name_field: str = "name"
    kind_field: str = "kind"
    households_field: str = "households"
    grid_code_field: str = "grid_code"
    dedicated_field: str = "dedicated"
    assign: Assign = "overlap"
    max_households_per_building: int = MAX_HOUSEHOLDS_PER_BUILDING
    strict: bool = False

    def __post_init__(self) -> None:
        if self.assign not in ("overlap", "centroid"):
            raise ParameterError(f"assign must be overlap or centroid, got {self.assign!r}")
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, numbers.Real) or not (
                0 <= self.tolerance < 1):
            raise ParameterError(f"tolerance must be a share from 0 to below 1, got {self.tolerance!r}",
                                 hint="--tolerance 0.2 reports grids more than ±20 % from their community's mean")
        self.partition_options()  # kind, bounds and the ceiling checked as the partition checks them

    def partition_options(self) -> PartitionOptions:
        """The same bounds and field names as :class:`~gridkit.partition.options.PartitionOptions`."""
        return PartitionOptions(kind=self.kind, min_households=self.min_households,
                                max_households=self.max_households, target=self.target,
                                households_field=self.households_field, code_field=self.code_field,
                                name_field=self.name_field, kind_field=self.kind_field,
                                max_households_per_building=self.max_households_per_building,
                                tolerance=self.tolerance)

    def bounds(self) -> dict[str, Bounds]:
        """The household bounds of each kind."""
        return self.partition_options().bounds()

    def with_overrides(self, **overrides: Any) -> CheckOptions:
        """A copy with the named options changed; an unknown name is a :class:`ParameterError`."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ParameterError(f"unknown check option {', '.join(unknown)}",
                                 hint=f"the options are: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **overrides) if overrides else self
