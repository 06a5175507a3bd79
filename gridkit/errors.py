"""One exception family for gridkit.

Every error carries what a user needs to fix the data: the file, the feature ids
affected, the field, and a hint. The command line maps these classes to exit codes
(:class:`InputDataError` and :class:`InputFileError` to 3, :class:`ParameterError`
to 2, :class:`OutputError` to 4); the library never exits.

Examples
--------
>>> err = InputDataError("households must be a whole number >= 0",
...                      path="b.gpkg", feature_ids=[4, 9], field="households",
...                      hint="fix or remove these rows")
>>> print(err)
b.gpkg: households must be a whole number >= 0 (field 'households'; features 4, 9). Fix: fix or remove these rows
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from os import PathLike
from typing import Any

__all__ = [
    "MAX_IDS_SHOWN",
    "DependencyError",
    "EmptyLayerError",
    "GeometryTypeError",
    "GridkitError",
    "InputDataError",
    "InputFileError",
    "MissingCRSError",
    "MissingFieldError",
    "OutputError",
    "ParameterError",
    "format_ids",
]

MAX_IDS_SHOWN = 10


def format_ids(ids: Iterable[Any], *, limit: int = MAX_IDS_SHOWN) -> str:
    """Format feature ids for a message: the first ``limit``, then how many more.

    >>> format_ids(range(14), limit=3)
    '0, 1, 2 and 11 more'
    """
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
    if len(ids) > limit:
        shown += f" and {len(ids) - limit} more"
    return shown


class GridkitError(Exception):
    """Base class of every error gridkit raises on purpose.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    path
        The file the problem is in, when there is one.
    feature_ids
        Ids (index labels or feature ids) of the offending features.
    field
        The attribute field concerned.
    hint
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        feature_ids: Sequence[Any] | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.feature_ids = list(feature_ids) if feature_ids is not None else []
        self.field = field
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        where = []
        if self.field:
            where.append(f"field {self.field!r}")
        if self.feature_ids:
            noun = "feature" if len(self.feature_ids) == 1 else "features"
            where.append(f"{noun} {format_ids(self.feature_ids)}")
        if where:
            text += f" ({'; '.join(where)})"
        if self.hint:
            text += f". Fix: {self.hint}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # keep the keyword arguments across pickling (Dask workers send errors back)
        return (_rebuild, (type(self), self.message, self.path, self.feature_ids, self.field, self.hint))


def _rebuild(cls: type[GridkitError], message: str, path: Any, ids: Any, field: Any, hint: Any) -> GridkitError:
    return cls(message, path=path, feature_ids=ids, field=field, hint=hint)


class InputDataError(GridkitError, ValueError):
    """The data in an input file breaks a rule gridkit needs (CLI exit code 3)."""


class InputFileError(GridkitError, OSError):
    """An input file is missing or cannot be read at all (CLI exit code 3)."""


class MissingCRSError(InputDataError):
    """A layer has no coordinate reference system and none was assumed."""


class EmptyLayerError(InputDataError):
    """A layer has no features."""


class GeometryTypeError(InputDataError):
    """Features have a geometry type the operation cannot use."""


class MissingFieldError(InputDataError):
    """A required attribute field is absent."""


class ParameterError(GridkitError, ValueError):
    """An option or argument is invalid (CLI exit code 2)."""


class OutputError(GridkitError, OSError):
    """An output cannot be written: the folder is not writable, the disk is full, or the
    path is a file where a folder is expected (or the other way round). Nothing partial
    is left behind (CLI exit code 4)."""


class DependencyError(GridkitError, ImportError):
    """An optional dependency is needed for this operation and is not installed."""
