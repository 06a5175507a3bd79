"""The options of a partition, in one checked dataclass.

>>> opts = PartitionOptions(kind="rural", max_households=250)
>>> opts.bounds()["rural"]
Bounds(min=100, max=250, target=200)
>>> PartitionOptions().with_overrides(workers=2).workers
2
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, Literal

from gridkit.errors import ParameterError
from gridkit.partition.rules import Bounds, bounds_for

__all__ = ["MAX_HOUSEHOLDS_PER_BUILDING", "KindOption", "PartitionOptions"]

KindOption = Literal["auto", "city", "rural"]

#: The default ceiling on the households of one building (or one household point): above
#: any real building (the largest Chinese residential towers hold about 1,000-3,000
#: households), far below where counts overflow. Raise it with
#: ``max_households_per_building`` (``--max-households-per-building``) for real data beyond it.
MAX_HOUSEHOLDS_PER_BUILDING = 5_000

# no option may let a county's households leave the range where float sums are exact
_CEILING_LIMIT = 10**9


@dataclass(frozen=True)
class PartitionOptions:
    """How :func:`gridkit.partition.pipeline.partition` divides communities.

    Attributes
    ----------
    kind
        ``"auto"`` reads the kind from a ``kind`` field, a ``class_code`` field
        (城乡分类代码) or digits 10-12 of the code; or force ``"city"``/``"rural"``.
    min_households, max_households, target
        Override the bounds of every kind (defaults: city 200-500, target 300;
        rural 100-300, target 200).
    households_field, code_field, name_field, kind_field, dedicated_name_field
        Field names in the inputs.
    max_households_per_building
        Households one building (or household point) may hold; a count above it is
        refused as implausible (default :data:`MAX_HOUSEHOLDS_PER_BUILDING`).
    output_crs
        CRS of the returned layers; default the communities' CRS.
    tolerance
        任务相当: the grids of a community are balanced to within this share of their
        community's mean households (0.2: ±20 %), as far as whole buildings, streets and the
        bounds allow; the report gives, per community, the share within it and why the
        others are not. 0 still balances as far as possible, None keeps the bisection's grids.
    grids
        Grids wanted per community (dedicated grids included): a number for every
        community, or the name of a field of the boundary layer holding it (empty or 0:
        chosen from the target). Met when the bounds allow it; the report says why not.
    workers, scheduler
        Divide the communities in ``workers`` local processes (None: every core of the
        machine when the county is big enough to pay for it, see
        :func:`gridkit.scale.auto_workers`), or on the Dask scheduler at ``scheduler``
        (``"tcp://host:8786"``); the grids are identical to a serial run.
    """

    kind: KindOption = "auto"
    min_households: int | None = None
    max_households: int | None = None
    target: int | None = None
    households_field: str = "households"
    code_field: str = "code"
    name_field: str = "name"
    kind_field: str = "kind"
    dedicated_name_field: str = "name"
    max_households_per_building: int = MAX_HOUSEHOLDS_PER_BUILDING
    output_crs: Any = None
    tolerance: float | None = 0.2
    grids: int | str | None = None
    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("auto", "city", "rural"):
            raise ParameterError(f"kind must be auto, city or rural, got {self.kind!r}")
        if self.workers is not None and (not _whole(self.workers) or self.workers < 1):
            raise ParameterError(f"workers must be at least 1, got {self.workers!r}")
        ceiling = self.max_households_per_building
        if not _whole(ceiling) or not 1 <= ceiling <= _CEILING_LIMIT:
            raise ParameterError(
                f"max_households_per_building must be a whole number from 1 to {_CEILING_LIMIT:,}, got {ceiling!r}",
                hint="--max-households-per-building 8000, for example",
            )
        if self.tolerance is not None and (isinstance(self.tolerance, bool) or not isinstance(
                self.tolerance, numbers.Real) or not 0 <= self.tolerance < 1):
            raise ParameterError(f"tolerance must be a share from 0 to below 1, got {self.tolerance!r}",
                                 hint="--tolerance 0.2 balances grids to within ±20 % of their community's mean")
        if self.grids is not None and not isinstance(self.grids, str) and (not _whole(self.grids) or self.grids < 1):
            raise ParameterError(f"grids must be a whole number of at least 1 or a field name, got {self.grids!r}",
                                 hint="--grids 12, or --grids grid_count naming a field of the boundary file")
        self.bounds()  # bounds that cannot hold are a usage error before any work

    def bounds(self) -> dict[str, Bounds]:
        """The household bounds of each kind, overrides applied."""
        return {k: bounds_for(k, min=self.min_households, max=self.max_households, target=self.target)
                for k in ("city", "rural")}

    def with_overrides(self, **overrides: Any) -> PartitionOptions:
        """A copy with the named options changed; an unknown name is a :class:`ParameterError`."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ParameterError(f"unknown partition option {', '.join(unknown)}",
                                 hint=f"the options are: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **overrides) if overrides else self


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
