"""The one reader of small CSV tables: the bundled ones in ``gridkit/tables`` and the user's own.

Category tables, time limits, holidays, board duties and hotlines, field names and OSM
tag mappings all come through :func:`read_table`, so they share one set of messages: a
missing file, text that is not UTF-8, text that is not CSV, or a missing column each
name the file and say how to fix it. Values are kept as stripped text (codes keep their
leading zeros); the caller checks what its table means.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import InputFileError, MissingFieldError

__all__ = ["bundled_table_path", "read_table"]

log = logging.getLogger(__name__)


def bundled_table_path(name: str) -> Path:
    """Where the bundled table ``name`` (without ``.csv``) lies."""
    return Path(str(resources.files("gridkit").joinpath("tables", f"{name}.csv")))


def read_table(
    path: PathLike | None,
    *,
    bundled: str | None = None,
    columns: Sequence[str] = (),
    what: str = "table",
) -> pd.DataFrame:
    """A UTF-8 CSV table as stripped text columns, with ``columns`` checked to be present.

    Parameters
    ----------
    path
        The user's table, or None for the bundled table ``bundled``.
    bundled
        Name of the bundled table in ``gridkit/tables`` (without ``.csv``).
    columns
        Columns the table must have; they come first, in this order, other columns after.
    what
        What the table is, for messages ("holiday table").

    Examples
    --------
    >>> read_table(None, bundled="event_categories", columns=("code", "name_zh")).iloc[0]["code"]
    '01'
    """
    if path is None:
        if bundled is None:
            raise ValueError("read_table needs a path or the name of a bundled table")
        source: Path = bundled_table_path(bundled)
        where: str | Path = f"{bundled}.csv (bundled with gridkit)"
    else:
        source = where = Path(path)
        if not source.is_file():
            raise InputFileError(f"the {what} file does not exist", path=source, hint="check the path")
    try:
        table = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"the {what} is not UTF-8 text", path=where, hint="save the CSV as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputFileError(f"the {what} cannot be read as CSV ({err})", path=where,
                             hint="save it as comma-separated text with a header row") from None
    table.columns = [str(c).strip() for c in table.columns]
    for column in table.columns:
        table[column] = table[column].str.strip()
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise MissingFieldError(
            f"the {what} lacks column(s) {', '.join(missing)} (it has {', '.join(map(str, table.columns))})",
            path=where, field=missing[0], hint=f"give it the columns {', '.join(columns)}",
        )
    if columns:
        table = table[[*columns, *(c for c in table.columns if c not in columns)]]
    log.debug("read %s: %d rows", where, len(table))
    return table
