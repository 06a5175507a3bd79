"""Component (部件) and incident (事件) categories: the code tables and the names of each point's category.

The component and incident category tables and the OSM tag mapping are data shipped in
``gridkit/tables/*.csv`` (read through :func:`gridkit.io.tables.read_table`); every reader
takes ``path=`` for a city's own table with the same columns. :func:`categories_for_points`
gives every component or incident its category code and names, in Chinese and English;
codes missing from the table are kept and named "unknown".

Examples
--------
>>> category_names(["0118", "9999"], component_categories(), lang="en").tolist()
['street light', <NA>]
>>> event_categories().set_index("code").loc["0505", "name_zh"]
'机动车乱停放'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.codes import parse_component_ids
from gridkit.errors import InputDataError, MissingFieldError, ParameterError
from gridkit.incidents._checks import as_text
from gridkit.io.tables import read_table

__all__ = [
    "UNKNOWN",
    "UNKNOWN_ZH",
    "PointKind",
    "categories_for_points",
    "category_names",
    "category_table",
    "component_categories",
    "event_categories",
    "osm_component_tags",
    "require_categories",
]

log = logging.getLogger(__name__)

#: The English name given to a category code that is not in the table.
UNKNOWN = "unknown"
#: The Chinese name given to a category code that is not in the table.
UNKNOWN_ZH = "未知"

PointKind = Literal["components", "incidents"]

_CATEGORY_COLUMNS = ("code", "major", "name_zh", "name_en", "major_zh", "major_en")
_OSM_COLUMNS = ("key", "value", "code")
_KIND_ZH = {"components": "部件", "incidents": "事件"}


# --------------------------------------------------------------------------- tables


def component_categories(path: PathLike | None = None) -> pd.DataFrame:
    """The city component (部件) category table.

    Columns ``code`` (``"0118"``; 2-digit rows name the majors), ``major``,
    ``name_zh``, ``name_en``, ``major_zh``, ``major_en``, all strings.

    Parameters
    ----------
    path
        A CSV (UTF-8) with these columns to use instead of the bundled table
        (old-scheme codes from CJ/T 214); extra columns are kept.

    Examples
    --------
    >>> table = component_categories()
    >>> table.set_index("code").loc["0118", ["name_zh", "major_en"]].tolist()
    ['路灯', 'public utilities']
    """
    return _category_table("component_categories", path, _CATEGORY_COLUMNS, unique=("code",))


def event_categories(path: PathLike | None = None) -> pd.DataFrame:
    """The incident (事件) category table, with the columns of :func:`component_categories`.

    Examples
    --------
    >>> event_categories().set_index("code").loc["0102", "name_en"]
    'exposed garbage'
    """
    return _category_table("event_categories", path, _CATEGORY_COLUMNS, unique=("code",))


def osm_component_tags(path: PathLike | None = None) -> pd.DataFrame:
    """The OSM tags that map onto component categories: columns ``key``, ``value``, ``code``.

    Examples
    --------
    >>> tags = osm_component_tags()
    >>> tags.loc[(tags["key"] == "highway") & (tags["value"] == "street_lamp"), "code"].item()
    '0118'
    """
    return _category_table("osm_component_tags", path, _OSM_COLUMNS, unique=("key", "value"))


def category_table(kind: PointKind, path: PathLike | None = None) -> pd.DataFrame:
    """The category table for ``kind``: :func:`component_categories` or :func:`event_categories`."""
    _check_kind(kind)
    return component_categories(path) if kind == "components" else event_categories(path)


def category_names(
    codes: pd.Series | Iterable[str], table: pd.DataFrame, *, lang: Literal["zh", "en"] = "zh"
) -> pd.Series:
    """Category names for codes, from a table such as :func:`component_categories`.

    Unknown codes give NA (the rows are kept). Codes are text: ``"0118"``, not 118.

    Returns
    -------
    pd.Series
        Strings, indexed like ``codes`` when it is a Series.

    Examples
    --------
    >>> category_names(pd.Series(["0305", "0118"], index=[3, 8]), component_categories())
    3    垃圾箱
    8     路灯
    Name: name_zh, dtype: string
    """
    if lang not in ("zh", "en"):
        raise ParameterError(f"unknown language {lang!r}", hint='use "zh" or "en"')
    column = f"name_{lang}"
    missing = [c for c in ("code", column) if c not in table.columns]
    if missing:
        raise MissingFieldError(
            f"the table lacks column(s) {', '.join(missing)}", field=missing[0],
            hint=f"give it the columns code, {column} (it has {', '.join(map(str, table.columns))})",
        )
    series = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    lookup = pd.Series(table[column].to_numpy(), index=table["code"].astype(str).to_numpy())
    lookup = lookup[~lookup.index.duplicated()]
    text = pd.Series(as_text(series), index=series.index, dtype="string").replace("", pd.NA)
    return text.map(lookup).astype("string").rename(column)


def _category_table(
    name: str, path: PathLike | None, columns: tuple[str, ...], *, unique: tuple[str, ...]
) -> pd.DataFrame:
    table = read_table(path, bundled=name, columns=columns, what=f"{name.replace('_', ' ')} table")
    where = path if path is not None else f"{name}.csv (bundled with gridkit)"
    bad = ~table["code"].str.fullmatch(r"\d{2,5}")
    if bad.any():
        raise InputDataError(
            f"category codes must be 2-5 digits, e.g. 0118, got {_examples(table.loc[bad, 'code'])}",
            path=where, feature_ids=list(table.index[bad]), field="code",
            hint="rows are counted from 0 below the header; keep leading zeros (save the column as text)",
        )
    dup = table.duplicated(list(unique), keep=False)
    if dup.any():
        raise InputDataError(
            f"the table lists the same {' + '.join(unique)} more than once",
            path=where, feature_ids=list(table.index[dup]), field=unique[0],
            hint="keep one row per code (rows counted from 0 below the header)",
        )
    log.debug("read %s: %d rows", name, len(table))
    return table


def _examples(bad: pd.Series, limit: int = 3) -> str:
    shown = ", ".join(repr(v) for v in bad.head(limit))
    return shown + (", …" if len(bad) > limit else "")


def _check_kind(kind: str) -> None:
    if kind not in ("components", "incidents"):
        raise ParameterError(f"kind must be components or incidents, got {kind!r}")


# --------------------------------------------------------------------------- categories of points


def categories_for_points(
    points: pd.DataFrame,
    *,
    kind: PointKind,
    table: pd.DataFrame | None = None,
    category_field: str = "category",
    id_field: str = "component_id",
    require_values: bool = True,
) -> pd.DataFrame:
    """Name the category of every component or incident, in Chinese and English.

    Parameters
    ----------
    points
        Components carry a 4-digit ``category`` (major + minor, ``"0118"``) and/or a
        16/17-digit ``component_id`` the category is read from (digits 7-10, or 7-11 in the
        new scheme); incidents carry a 4-digit ``category``. Where both are given the
        ``category`` field wins.
    kind
        ``"components"`` (部件, table :func:`component_categories`) or ``"incidents"``
        (事件, :func:`event_categories`).
    table
        A category table of your own, with the columns of those tables.
    category_field, id_field
        The fields to read.
    require_values
        Refuse points none of which has a category (below). False for one chunk of a
        larger file, whose other chunks may have them; the field must still be there.

    Returns
    -------
    pandas.DataFrame
        A copy of ``points`` (same index) with ``category`` (text, ``""`` when there is
        none), ``major`` (its first two digits), ``category_zh``, ``category_en``,
        ``major_zh``, ``major_en`` and ``category_known`` (bool). Rows are never dropped:
        a code missing from the table is kept, its names are ``"未知"`` / ``"unknown"``
        (the major's names are still given when the major is known), and
        ``attrs["unknown_categories"]`` counts the rows per unknown code.

    Raises
    ------
    MissingFieldError
        The points hold no category at all: no category field (components: nor a
        component id field), or not one row with a value in it. Such a file is not a
        layer of components or incidents (GPS tracks given as incidents, say).

    Examples
    --------
    >>> frame = pd.DataFrame({"category": ["0118", "118", "9901", None],
    ...                       "component_id": [None, None, None, "5201990305000001"]})
    >>> named = categories_for_points(frame, kind="components")
    >>> named[["category", "category_en", "major_en"]].values.tolist()
    [['0118', 'street light', 'public utilities'], ['0118', 'street light', 'public utilities'], ['9901', 'unknown', 'unknown'], ['0305', 'litter bin', 'city appearance and sanitation']]
    >>> named.attrs["unknown_categories"]
    {'9901': 1}
    """
    _check_kind(kind)
    if table is None:
        table = category_table(kind)
    category = _category_codes(points, kind, category_field, id_field, require_values=require_values)
    lookup = table.assign(code=table["code"].astype(str).str.strip()).drop_duplicates("code").set_index("code")
    # a few hundred codes at most: each distinct code is named once, then spread to its rows
    which, distinct = pd.factorize(category.to_numpy(dtype=object), use_na_sentinel=False)
    codes = pd.Series(distinct, dtype="str")
    major = codes.str[:2].where(codes.str.fullmatch(r"\d{4,5}"), "")
    known = codes.isin(lookup.index).to_numpy(dtype=bool)
    major_known = major.isin(lookup.index).to_numpy(dtype=bool)

    def spread(values: pd.Series) -> pd.Series:
        return pd.Series(pd.array(values.to_numpy(dtype=object), dtype="str").take(which), index=points.index)

    out = points.copy()
    out["category"] = category
    out["major"] = spread(major)
    for column, source, index_known, key in (
        ("category_zh", "name_zh", known, codes), ("category_en", "name_en", known, codes),
        ("major_zh", "name_zh", major_known, major), ("major_en", "name_en", major_known, major),
    ):
        names = key.map(lookup[source]).where(index_known)
        fallback = UNKNOWN_ZH if column.endswith("_zh") else UNKNOWN
        out[column] = spread(names.fillna(fallback).astype("str"))
    out["category_known"] = known[which]
    rows_of = np.bincount(which, minlength=len(distinct))
    unknown: dict[str, int] = {}
    for code, n in zip(distinct[~known], rows_of[~known]):
        name = "(none)" if code == "" else str(code)
        unknown[name] = unknown.get(name, 0) + int(n)
    out.attrs["unknown_categories"] = dict(sorted(unknown.items()))
    if len(unknown):
        log.warning("%d %s with a category not in the table: %s", sum(unknown.values()), kind,
                    ", ".join(f"{k} ({v})" for k, v in out.attrs["unknown_categories"].items()))
    return out


def require_categories(
    points: pd.DataFrame,
    *,
    kind: PointKind,
    category_field: str = "category",
    id_field: str = "component_id",
) -> None:
    """Refuse points that hold no category at all, as :func:`categories_for_points` does, before any work.

    Raises
    ------
    MissingFieldError
        No ``category_field`` (components: nor ``id_field``), or not one row with a value
        there; naming the file, the field looked for and the fields the file has.

    Examples
    --------
    >>> tracks = pd.DataFrame({"worker_id": ["W1"], "time": ["2024-06-26T08:30:00"]})
    >>> tracks.attrs["source"] = "tracks.csv"
    >>> require_categories(tracks, kind="incidents")
    Traceback (most recent call last):
    ...
    gridkit.errors.MissingFieldError: tracks.csv: the file holds no incident categories (事件类别): no field 'category' (its fields: worker_id, time) (field 'category'). Fix: give each incident its category code (4 digits, e.g. 0102) in a 'category' field; check that this is the incidents file
    """
    _check_kind(kind)
    _category_codes(points, kind, category_field, id_field)


def _category_codes(
    points: pd.DataFrame, kind: str, category_field: str, id_field: str, *, require_values: bool = True
) -> pd.Series:
    """The category code of each row as text: the category field, else parsed from the component id."""
    fields = [category_field] + ([id_field] if kind == "components" else [])
    present = [f for f in fields if f in points.columns]
    if not present:
        _no_categories(points, kind, fields, "no field " + " or ".join(repr(f) for f in fields))
    category = pd.Series("", index=points.index, dtype="str")
    if category_field in points.columns:
        category = pd.Series(as_text(points[category_field]), index=points.index, dtype="str")
        # a code read as a number lost its leading zero: 118 -> 0118 (no major is 00)
        category = category.where(~category.str.fullmatch(r"\d{3}"), category.str.zfill(4))
    if kind == "components" and id_field in points.columns:
        ids = pd.Series(as_text(points[id_field]), index=points.index, dtype="str")
        parseable = (category == "") & ids.str.fullmatch(r"\d{16,17}")
        if parseable.any():
            parsed = parse_component_ids(ids[parseable])["category"].astype("str")
            category = category.copy()
            category[parseable] = parsed
    if require_values and len(points) and (category == "").all():
        _no_categories(points, kind, fields, "no row has a value in " + " or ".join(repr(f) for f in present))
    return category


def _no_categories(points: pd.DataFrame, kind: str, fields: list[str], why: str) -> None:
    singular = kind[:-1]
    geometry = points.geometry.name if isinstance(points, gpd.GeoDataFrame) else None
    has = ", ".join(str(c) for c in points.columns if c != geometry)
    raise MissingFieldError(
        f"the file holds no {singular} categories ({_KIND_ZH[kind]}类别): {why} (its fields: {has or '(none)'})",
        path=points.attrs.get("source"), field=fields[0],
        hint=(f"give each {singular} its category code (4 digits, e.g. 0102) in a {fields[0]!r} field"
              + (f" or its 16/17-digit id in {fields[1]!r}" if len(fields) > 1 else "")
              + f"; check that this is the {kind} file"),
    )
