"""Field names in exported files: the documented table, and names that fit a Shapefile.

The table ``gridkit/tables/field_names.csv`` maps every field gridkit writes to its
10-character Shapefile name, its Chinese name, and short Chinese names that fit the
10 bytes of a dBase field name in GBK (2 bytes a character) and in UTF-8 (3 bytes).
:func:`names_in_file` chooses the name of each column in one output file: the table's
name where it has one, the column's own name otherwise, and for names that do not fit
(or collide) a deterministic short name made unique with a numbered suffix.

Examples
--------
>>> names_in_file(["grid_code", "community_name", "households"], fmt="shp", fields="zh",
...               encoding="gbk", table=field_table())
{'grid_code': '网格编码', 'community_name': '社区名称', 'households': '户数'}
>>> names_in_file(["community_name", "a_very_long_field", "a_very_long_field_2"], fmt="shp",
...               fields="en", encoding="utf-8", table=field_table())
{'community_name': 'comm_name', 'a_very_long_field': 'a_very_lon', 'a_very_long_field_2': 'a_very_l_1'}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import pandas as pd

from gridkit.errors import InputDataError, InputFileError

#: Bytes a dBase (Shapefile attribute) field name may take.
SHP_NAME_BYTES = 10
#: Bytes a dBase text value may take.
SHP_TEXT_BYTES = 254

_COLUMNS = ("field", "shp_name", "name_zh", "shp_zh_gbk", "shp_zh_utf8")
_SHP_ZH = {"gbk": "shp_zh_gbk", "utf-8": "shp_zh_utf8"}


def field_table(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The field-name table, indexed by field: ``shp_name``, ``name_zh``, ``shp_zh_gbk``, ``shp_zh_utf8``.

    Parameters
    ----------
    path
        A city's own table in the same layout (UTF-8 CSV); the bundled one by default.

    Raises
    ------
    InputFileError
        The file is missing or not a CSV.
    InputDataError
        A column is missing, a field is listed twice, a name is not unique, or a
        Shapefile name does not fit 10 bytes in its encoding.

    Examples
    --------
    >>> field_table().loc["households", ["shp_name", "name_zh", "shp_zh_utf8"]].tolist()
    ['households', '户数', '户数']
    """
    where = "gridkit/tables/field_names.csv" if path is None else str(path)
    try:
        if path is None:
            with resources.files("gridkit").joinpath("tables", "field_names.csv").open("rb") as handle:
                table = pd.read_csv(handle, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            table = pd.read_csv(Path(path), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputFileError(f"cannot read the field-name table: {err}", path=where,
                             hint="give a UTF-8 CSV with the columns " + ", ".join(_COLUMNS)) from None
    _check_table(table, where)
    return table.set_index("field")


def _check_table(table: pd.DataFrame, where: str) -> None:
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise InputDataError(f"the field-name table lacks the columns {', '.join(missing)}", path=where,
                             hint="copy gridkit/tables/field_names.csv and edit it")
    rows = table.index + 2  # line numbers in the file: header is line 1
    for column in _COLUMNS:
        values = table[column].str.strip()
        empty = values == ""
        if empty.any():
            raise InputDataError("empty names in the field-name table", path=where, field=column,
                                 feature_ids=rows[empty.to_numpy()].tolist(),
                                 hint="fill them in (the ids are line numbers)")
        folded = values.str.casefold()
        twice = folded.duplicated(keep=False).to_numpy()
        if twice.any():
            raise InputDataError(
                f"names listed twice in the field-name table: {', '.join(sorted(set(values[twice])))}",
                path=where, field=column, feature_ids=rows[twice].tolist(),
                hint="every name must be unique in its column (Shapefiles ignore case)",
            )
    for column, encoding in (("shp_name", "ascii"), ("shp_zh_gbk", "gbk"), ("shp_zh_utf8", "utf-8")):
        too_long = ~table[column].map(lambda name, enc=encoding: fits(name, enc)).to_numpy(dtype=bool)
        if too_long.any():
            raise InputDataError(
                f"Shapefile names longer than {SHP_NAME_BYTES} bytes in {encoding}: "
                f"{', '.join(table[column][too_long])}",
                path=where, field=column, feature_ids=rows[too_long].tolist(),
                hint="shorten them (a Chinese character takes 2 bytes in GBK, 3 in UTF-8)",
            )


def fits(name: str, encoding: str, limit: int = SHP_NAME_BYTES) -> bool:
    """True when ``name`` encodes in ``encoding`` to at most ``limit`` bytes.

    >>> fits("网格编码", "gbk"), fits("网格编码", "utf-8")
    (True, False)
    """
    try:
        return len(name.encode(encoding)) <= limit
    except UnicodeEncodeError:
        return False


def cut_to_bytes(text: str, encoding: str, limit: int) -> str:
    """The longest prefix of ``text`` that encodes in at most ``limit`` bytes (whole characters).

    >>> cut_to_bytes("网格abc", "utf-8", 7)
    '网格a'
    """
    data = text.encode(encoding, errors="replace")
    if len(data) <= limit:
        return text
    cut = data[:limit].decode(encoding, errors="ignore")
    while len(cut.encode(encoding, errors="replace")) > limit:  # a decoder may keep a partial pair
        cut = cut[:-1]
    return cut


def preferred_name(column: str, *, fmt: str, fields: str, encoding: str, table: pd.DataFrame) -> str:
    """The name the table gives ``column`` in a file of format ``fmt``; its own name if not listed."""
    if column not in table.index:
        return column
    row = table.loc[column]
    if fmt == "shp":
        key = "shp_name" if fields == "en" else _SHP_ZH[encoding]
        return str(row[key])
    return str(row["name_zh"]) if fields == "zh" else column


def names_in_file(
    columns: Sequence[str], *, fmt: str, fields: str, encoding: str, table: pd.DataFrame,
    reserved: Sequence[str] = (),
) -> dict[str, str]:
    """The name of each column in the written file, unique ignoring case.

    Names come from :func:`preferred_name`. For a Shapefile a name must also encode in
    ``encoding`` to at most 10 bytes; the columns whose name fits keep it, in column
    order, and the others get their name cut to fit, with ``_1``, ``_2``, ... when the
    cut collides. ``reserved`` names (case-insensitive) are never used.
    """
    limit = SHP_NAME_BYTES if fmt == "shp" else None
    taken = {name.casefold() for name in reserved}
    chosen: dict[str, str] = {}
    wanted = {c: preferred_name(c, fmt=fmt, fields=fields, encoding=encoding, table=table) for c in columns}
    for column in columns:  # first pass: names that can be used as they are
        name = wanted[column]
        ok = limit is None or fits(name, encoding, limit)
        if ok and name.casefold() not in taken:
            chosen[column] = name
            taken.add(name.casefold())
    for column in columns:  # second pass: cut and number the rest
        if column in chosen:
            continue
        name = _encodable(wanted[column], encoding)
        candidate = name if limit is None else cut_to_bytes(name, encoding, limit)
        serial = 0
        while candidate.casefold() in taken or not candidate:
            serial += 1
            suffix = f"_{serial}"
            stem = name if limit is None else cut_to_bytes(name, encoding, limit - len(suffix))
            candidate = stem + suffix
        chosen[column] = candidate
        taken.add(candidate.casefold())
    return {column: chosen[column] for column in columns}


def _encodable(name: str, encoding: str) -> str:
    """``name`` with characters ``encoding`` cannot write replaced by ``_``."""
    return "".join(ch if _encodes(ch, encoding) else "_" for ch in name)


def _encodes(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
