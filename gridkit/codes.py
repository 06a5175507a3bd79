"""Codes: statistical division codes, grid codes and component ids.

- A statistical division code (统计用区划代码) has 12 digits ``PPCCDD TTT VVV``: the
  6-digit county (GB/T 2260), a 3-digit township and a 3-digit village-level unit.
  Codes are text: gridkit always returns them as strings.
- A grid code is the community's 12-digit code plus a 3-digit serial, numbered in
  reading order inside the community (see :func:`reading_order`).
- A city component (部件) id is 16 digits (old scheme) or 17 digits (new scheme).
- The component and incident (事件) category tables live with the points they name, in
  :mod:`gridkit.incidents.categories`.

Examples
--------
>>> parse_division_code("110101001001").township_kind
'sub-district'
>>> kind_from_code("520102200201"), kind_from_class(111)
('rural', 'city')
>>> grid_codes("110101001001", [0, 100, 0], [100, 100, 0])
['110101001001001', '110101001001002', '110101001001003']
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from gridkit._types import PathLike
from gridkit.errors import InputDataError, ParameterError

__all__ = [
    "ComponentId",
    "DivisionCode",
    "codes_for_grids",
    "grid_codes",
    "kind_from_class",
    "kind_from_code",
    "kinds_from_classes",
    "kinds_from_codes",
    "parse_component_id",
    "parse_component_ids",
    "parse_division_code",
    "reading_order",
    "validate_division_code",
    "validate_division_codes",
]

log = logging.getLogger(__name__)

Kind = Literal["city", "rural"]
TownshipKind = Literal["sub-district", "town", "township", "farm", "other"]

# GB/T 2260 province-level codes (the first two digits of every division code)
_PROVINCES = frozenset(
    [
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82",
        # not GB/T 2260: gridkit gives "99" to areas that have no Chinese division code
        # (communities derived from OSM streets abroad, see gridkit.osm.communities_from_osm)
        "99",
    ]
)  # fmt: skip
# TTT ranges of the township part (inclusive); anything else is "other"
_TOWNSHIP_KINDS: tuple[tuple[int, int, TownshipKind], ...] = (
    (1, 99, "sub-district"),
    (100, 199, "town"),
    (200, 399, "township"),
    (400, 599, "farm"),
)
_MAX_SERIAL = 999
_CODE_HINT = (
    "write each code as 12 digits, province first (e.g. 110101001001); "
    "read the field as text and leave no cell empty"
)


# --------------------------------------------------------------------------- division codes


class DivisionCode(NamedTuple):
    """The parts of a 12-digit statistical division code, all strings."""

    province: str
    """2 digits (GB/T 2260 province)."""
    prefecture: str
    """4 digits (province + prefecture)."""
    county: str
    """6 digits (the GB/T 2260 county code)."""
    township: str
    """3 digits (TTT)."""
    village: str
    """3 digits (VVV)."""
    township_kind: TownshipKind
    """From TTT: 001-099 sub-district (街道), 100-199 town (镇), 200-399 township (乡),
    400-599 farm and similar, anything else other."""
    code: str
    """The whole 12-digit code."""


def validate_division_codes(
    values: pd.Series, *, path: PathLike | None = None, field: str | None = None
) -> pd.Series:
    """Check a column of 12-digit division codes and return them as text.

    Accepted: strings of 12 digits (surrounding spaces ignored) and whole numbers
    (a province code never starts with 0, so integers lose nothing; ``.0`` from a
    spreadsheet float is dropped). The first two digits must be a GB/T 2260
    province code.

    Parameters
    ----------
    values
        The codes, indexed by feature id.
    path, field
        Named in the error.

    Returns
    -------
    pd.Series
        Strings, indexed like ``values``.

    Raises
    ------
    InputDataError
        Naming every bad row (its index label) at once.

    Examples
    --------
    >>> validate_division_codes(pd.Series([110101001001, " 520102200201 "])).tolist()
    ['110101001001', '520102200201']
    >>> validate_division_codes(pd.Series(["1101", None], index=[7, 9]), path="c.gpkg", field="code")
    Traceback (most recent call last):
    ...
    gridkit.errors.InputDataError: c.gpkg: 2 values are not 12-digit statistical division codes (统计用区划代码), e.g. '1101', <empty> (field 'code'; features 7, 9). Fix: write each code as 12 digits, province first (e.g. 110101001001); read the field as text and leave no cell empty
    """
    text, ok = _division_text(values)
    if not ok.all():
        bad = values[~ok]
        raise InputDataError(
            f"{_n_values(len(bad), '12-digit statistical division code')} (统计用区划代码), e.g. {_examples(bad)}",
            path=path,
            feature_ids=list(bad.index),
            field=field,
            hint=_CODE_HINT,
        )
    return text.astype(str)


def validate_division_code(
    code: str | int,
    *,
    path: PathLike | None = None,
    feature_id: Hashable | None = None,
    field: str | None = None,
) -> str:
    """Check one 12-digit division code and return it as text.

    The same rules as :func:`validate_division_codes`.

    Raises
    ------
    InputDataError
        Naming the file, the feature and the field given.

    Examples
    --------
    >>> validate_division_code(110101001001)
    '110101001001'
    >>> validate_division_code("11010100100", path="c.shp", feature_id=3, field="code")
    Traceback (most recent call last):
    ...
    gridkit.errors.InputDataError: c.shp: '11010100100' is not a 12-digit statistical division code (统计用区划代码) (field 'code'; feature 3). Fix: write each code as 12 digits, province first (e.g. 110101001001); read the field as text and leave no cell empty
    """
    text, ok = _division_text(pd.Series([code], dtype=object))
    if not ok.iloc[0]:
        raise InputDataError(
            f"{code!r} is not a 12-digit statistical division code (统计用区划代码)",
            path=path,
            feature_ids=None if feature_id is None else [feature_id],
            field=field,
            hint=_CODE_HINT,
        )
    return str(text.iloc[0])


def parse_division_code(code: str | int) -> DivisionCode:
    """Split a 12-digit division code into its parts.

    Examples
    --------
    >>> parse_division_code("320508104213")
    DivisionCode(province='32', prefecture='3205', county='320508', township='104', village='213', township_kind='town', code='320508104213')
    """
    text = validate_division_code(code)
    return DivisionCode(
        province=text[:2],
        prefecture=text[:4],
        county=text[:6],
        township=text[6:9],
        village=text[9:],
        township_kind=_township_kind(int(text[6:9])),
        code=text,
    )


def kind_from_code(code: str | int) -> Kind | None:
    """City or rural from the village-level part (VVV) of a division code.

    VVV 001-199 is usually a residents' committee (居委会, city), 200-399 a
    villagers' committee (村委会, rural); anything else gives None. Prefer the
    urban/rural class (:func:`kind_from_class`) when the data has it.

    Examples
    --------
    >>> kind_from_code("110101001001"), kind_from_code("110101001400")
    ('city', None)
    """
    return _kind_from_village(int(validate_division_code(code)[9:]))


def kinds_from_codes(
    values: pd.Series, *, path: PathLike | None = None, field: str | None = None
) -> pd.Series:
    """:func:`kind_from_code` over a column: "city", "rural" or NA, indexed like ``values``.

    Examples
    --------
    >>> kinds_from_codes(pd.Series(["110101001001", "520102200201", "520102200401"])).tolist()
    ['city', 'rural', <NA>]
    """
    village = validate_division_codes(values, path=path, field=field).str[9:].astype(int).to_numpy()
    kinds = np.select([(village >= 1) & (village <= 199), (village >= 200) & (village <= 399)], ["city", "rural"], "")
    return pd.Series(kinds, index=values.index, dtype="string").replace("", pd.NA)


def kind_from_class(class_code: str | int | None) -> Kind | None:
    """City or rural from the urban/rural class code (城乡分类代码).

    1xx (111 main urban area … 123 special area) is city, 2xx (210 township centre,
    220 village) rural; anything that is not three digits starting 1 or 2 gives None.

    Examples
    --------
    >>> kind_from_class("121"), kind_from_class(220), kind_from_class("")
    ('city', 'rural', None)
    """
    kind = kinds_from_classes(pd.Series([class_code], dtype=object)).iloc[0]
    return None if pd.isna(kind) else kind


def kinds_from_classes(values: pd.Series) -> pd.Series:
    """:func:`kind_from_class` over a column: "city", "rural" or NA, indexed like ``values``.

    Examples
    --------
    >>> kinds_from_classes(pd.Series([111, 210, None])).tolist()
    ['city', 'rural', <NA>]
    """
    text = _as_text(values)
    valid = text.str.fullmatch(r"[12]\d\d").fillna(False).astype(bool)
    first = text.str[:1].where(valid)
    return first.map({"1": "city", "2": "rural"}).astype("string")


def _as_text(values: pd.Series) -> pd.Series:
    """Values as stripped text, without a spreadsheet's trailing ``.0``."""
    return values.astype("string").str.strip().str.replace(r"(?<=\d)\.0*$", "", regex=True)


def _division_text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = _as_text(values)
    ok = text.str.fullmatch(r"\d{12}").fillna(False).astype(bool) & text.str[:2].isin(_PROVINCES)
    return text, ok.astype(bool)


def _township_kind(township: int) -> TownshipKind:
    for low, high, kind in _TOWNSHIP_KINDS:
        if low <= township <= high:
            return kind
    return "other"


def _kind_from_village(village: int) -> Kind | None:
    if 1 <= village <= 199:
        return "city"
    if 200 <= village <= 399:
        return "rural"
    return None


def _n_values(n: int, what: str) -> str:
    return f"1 value is not a {what}" if n == 1 else f"{n} values are not {what}s"


def _examples(bad: pd.Series, limit: int = 3) -> str:
    shown = ", ".join("<empty>" if pd.isna(v) else repr(v) for v in bad.head(limit).astype(object))
    return shown + (", …" if len(bad) > limit else "")


# --------------------------------------------------------------------------- grid codes


def reading_order(x: ArrayLike, y: ArrayLike, *, row_height: float) -> NDArray[np.intp]:
    """The position of each point when read like a page: rows north to south, west to east.

    Row of a point = ``floor((ymax - y) / row_height)``, with ``ymax`` the
    northmost point's y; inside a row points run by x ascending, ties by y
    descending, then by input order. This is the numbering of the Beijing
    unit-grid rule (单元网格, serials west to east then north to south), also used
    by Xi'an's 2024 grid rule.

    Parameters
    ----------
    x, y
        Coordinates in a projected CRS (y north), e.g. grid centroids.
    row_height
        Height of a row, in the units of ``y``.

    Returns
    -------
    np.ndarray
        ``order[i]`` is the 0-based position of point ``i`` (a permutation of
        ``0 .. n-1``).

    Examples
    --------
    >>> reading_order([0, 10, 5], [0, 1, 30], row_height=20)  # the north point first
    array([1, 2, 0])
    """
    xs, ys = _points(x, y)
    height = _check_row_height(row_height)
    group = np.zeros(len(xs), dtype=np.intp)
    return _positions(group, xs, ys, np.array([height]))


def grid_codes(
    community_code: str | int, x: ArrayLike, y: ArrayLike, *, row_height: float | None = None
) -> list[str]:
    """15-digit codes for the grids of one community, in the order of ``x``/``y``.

    The community's 12-digit code plus a 3-digit serial 001… in
    :func:`reading_order`: the Beijing unit-grid rule (serials west to east, north to
    south), also Xi'an's 2024 rule.

    Parameters
    ----------
    community_code
        The community's 12-digit statistical division code.
    x, y
        One point per grid (e.g. a representative point) in a metric CRS.
    row_height
        Row height in metres; default ``sqrt(bbox area / n)`` of the points (the
        typical spacing of the grids), at least 1.

    Returns
    -------
    list of str
        ``codes[i]`` is the code of grid ``i``.

    Raises
    ------
    InputDataError
        A bad community code, or more than 999 grids.

    Examples
    --------
    >>> grid_codes(520102001003, [500, 0], [0, 0])
    ['520102001003002', '520102001003001']
    """
    code = validate_division_code(community_code)
    xs, ys = _points(x, y)
    communities = pd.Series(np.full(len(xs), code, dtype=object))
    return codes_for_grids(communities, xs, ys, row_height=row_height).tolist()


def codes_for_grids(
    communities: pd.Series,
    x: ArrayLike,
    y: ArrayLike,
    *,
    row_height: float | None = None,
    path: PathLike | None = None,
    field: str | None = None,
) -> pd.Series:
    """Grid codes for the grids of many communities at once, like :func:`grid_codes`.

    Parameters
    ----------
    communities
        Each grid's community division code, indexed by grid.
    x, y
        One point per grid, in the order of ``communities``, in a metric CRS.
    row_height
        One row height for all; default per community, as in :func:`grid_codes`.
    path, field
        Named in errors about the community codes.

    Returns
    -------
    pd.Series
        15-digit codes (strings) indexed like ``communities``.

    Examples
    --------
    >>> codes_for_grids(pd.Series(["110101001001", "110101001002", "110101001001"]),
    ...                 [0, 0, 100], [0, 0, 0]).tolist()
    ['110101001001001', '110101001002001', '110101001001002']
    """
    codes = validate_division_codes(communities, path=path, field=field)
    xs, ys = _points(x, y)
    if len(xs) != len(codes):
        raise ParameterError(f"{len(codes)} community codes but {len(xs)} points")
    keys, group = np.unique(codes.to_numpy(dtype=object), return_inverse=True)
    counts = np.bincount(group, minlength=len(keys))
    _check_serial_room(keys, counts, path=path, field=field)
    if row_height is None:
        heights = _default_row_heights(group, xs, ys, counts)
    else:
        heights = np.full(len(keys), _check_row_height(row_height))
    serial = _positions(group, xs, ys, heights) + 1
    out = codes + pd.Series(serial, index=codes.index).astype(str).str.zfill(3)
    log.debug("numbered %d grids in %d communities", len(out), len(keys))
    return out


def _points(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
    ys = np.atleast_1d(np.asarray(y, dtype=np.float64))
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ParameterError(f"x and y must be 1-D and of one length, got shapes {xs.shape} and {ys.shape}")
    bad = ~(np.isfinite(xs) & np.isfinite(ys))
    if bad.any():
        raise InputDataError(
            "grid points have missing or infinite coordinates",
            feature_ids=list(np.flatnonzero(bad)),
            hint="give every grid a point (e.g. geometry.representative_point())",
        )
    return xs, ys


def _check_row_height(row_height: float) -> float:
    height = float(row_height)
    if not (np.isfinite(height) and height > 0):
        raise ParameterError(f"row_height must be a positive number, got {row_height!r}")
    return height


def _check_serial_room(keys: NDArray[Any], counts: NDArray[np.intp], **where: Any) -> None:
    full = counts > _MAX_SERIAL
    if full.any():
        names = ", ".join(f"{k} ({c} grids)" for k, c in zip(keys[full], counts[full], strict=True))
        raise InputDataError(
            f"a 3-digit serial numbers at most {_MAX_SERIAL} grids per community: {names}",
            hint="use larger grids (a higher target) or split the community",
            **where,
        )


def _default_row_heights(
    group: NDArray[np.intp], x: NDArray[np.float64], y: NDArray[np.float64], counts: NDArray[np.intp]
) -> NDArray[np.float64]:
    frame = pd.DataFrame({"g": group, "x": x, "y": y}).groupby("g")
    span = frame.max() - frame.min()
    area = (span["x"] * span["y"]).to_numpy()
    return np.maximum(np.sqrt(area / counts), 1.0)


def _positions(
    group: NDArray[np.intp], x: NDArray[np.float64], y: NDArray[np.float64], heights: NDArray[np.float64]
) -> NDArray[np.intp]:
    """0-based reading-order position of each point inside its group."""
    n = len(x)
    if n == 0:
        return np.empty(0, dtype=np.intp)
    ymax = np.full(len(heights), -np.inf)
    np.maximum.at(ymax, group, y)
    row = np.floor((ymax[group] - y) / heights[group])
    order = np.lexsort((-y, x, row, group))  # last key sorts first; lexsort is stable
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    counts = np.bincount(group, minlength=len(heights))
    start = np.cumsum(counts) - counts
    return rank - start[group]


# --------------------------------------------------------------------------- component ids


class ComponentId(NamedTuple):
    """The parts of a city component (部件) id, all strings."""

    county: str
    """6-digit county code."""
    major: str
    """2-digit major class (01 public utilities … 06 other facilities)."""
    minor: str
    """2 digits (old scheme) or 3 digits (new scheme)."""
    serial: str
    """6-digit serial number."""
    category: str
    """``major + minor`` as written in the id: 4 digits (``"0118"``) in the old
    scheme, 5 digits (``"01118"``) in the new one. The bundled category table holds
    the old 4-digit codes; new-scheme categories find a name only in a table of your
    own with 5-digit codes (the new minors are not mapped onto the old ones)."""
    scheme: Literal["old", "new"]
    """``"old"``: 16 digits, CJ/T 214 / GB/T 30428.2; ``"new"``: 17 digits,
    GB/T 47678.5-2026 (reported)."""
    id: str
    """The whole id."""


_COMPONENT_HINT = "write component ids as text of 16 digits (old scheme) or 17 digits (new scheme)"


def parse_component_ids(
    values: pd.Series, *, path: PathLike | None = None, field: str | None = None
) -> pd.DataFrame:
    """Split a column of component ids; both schemes may be mixed.

    Returns
    -------
    pd.DataFrame
        The :class:`ComponentId` fields as string columns, indexed like ``values``.

    Raises
    ------
    InputDataError
        Naming every id that has neither 16 nor 17 digits.

    Examples
    --------
    >>> parse_component_ids(pd.Series(["3205080101000001", "32050801118000002"]))[["category", "scheme"]]
      category scheme
    0     0101    old
    1    01118    new
    """
    text = _as_text(values)
    ok = text.str.fullmatch(r"\d{16,17}").fillna(False).astype(bool)
    if not ok.all():
        bad = values[~ok]
        raise InputDataError(
            f"{_n_values(len(bad), '16- or 17-digit component id')} (部件编码), e.g. {_examples(bad)}",
            path=path,
            feature_ids=list(bad.index),
            field=field,
            hint=_COMPONENT_HINT,
        )
    text = text.astype(str)
    new = text.str.len() == 17
    minor = text.str[8:10].where(~new, text.str[8:11])
    parts = pd.DataFrame(
        {
            "county": text.str[:6],
            "major": text.str[6:8],
            "minor": minor,
            "serial": text.str[-6:],
        },
        index=values.index,
    ).astype("string")
    parts["category"] = parts["major"] + parts["minor"]
    parts["scheme"] = pd.Series(np.where(new, "new", "old"), index=values.index, dtype="string")
    parts["id"] = text.astype("string")
    return parts


def parse_component_id(
    component_id: str | int,
    *,
    path: PathLike | None = None,
    feature_id: Hashable | None = None,
    field: str | None = None,
) -> ComponentId:
    """Split a component id: old 16-digit or new 17-digit scheme.

    Old (CJ/T 214, GB/T 30428.2): county 6 + major 2 + minor 2 + serial 6.
    New (GB/T 47678.5-2026, reported): county 6 + major 2 + minor 3 + serial 6.

    Examples
    --------
    >>> parse_component_id("3205080101000001")  # a water-supply manhole cover
    ComponentId(county='320508', major='01', minor='01', serial='000001', category='0101', scheme='old', id='3205080101000001')
    >>> parse_component_id(32050801118000002).category
    '01118'
    """
    try:
        row = parse_component_ids(pd.Series([component_id], dtype=object), path=path, field=field).iloc[0]
    except InputDataError as err:
        raise InputDataError(
            f"{component_id!r} is not a 16- or 17-digit component id (部件编码)",
            path=path,
            feature_ids=None if feature_id is None else [feature_id],
            field=field,
            hint=_COMPONENT_HINT,
        ) from err
    return ComponentId(**{name: str(row[name]) for name in ComponentId._fields})  # type: ignore[arg-type]
