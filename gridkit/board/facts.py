"""What a notice board says about its grid: figures, workers, hotlines and duties.

Everything here is plain data checked at the door; :mod:`gridkit.board.scene` draws the
map and :mod:`gridkit.board.page` lays the facts out on the page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import InputDataError, InputFileError, MissingFieldError, ParameterError
from gridkit.io.tables import read_table

__all__ = [
    "BoardFacts",
    "Contact",
    "Worker",
    "board_duties",
    "facts_for_grids",
    "national_hotlines",
    "read_contacts",
]

logger = logging.getLogger(__name__)

Lang = Literal["zh", "en"]

#: Average persons per household in China (7th national census, 2020).
PERSONS_PER_HOUSEHOLD = 2.62
#: Fields of a grids layer read as a population count, in order of preference.
POPULATION_FIELDS = ("population", "人口")
_PHOTO_EXTS = (".jpg", ".jpeg", ".png")


MAX_COUNT = 10**9  # households or people of one grid: far beyond any real grid, far below int64 limits
MAX_PERSONS_PER_HOUSEHOLD = 50.0

@dataclass(frozen=True)
class Worker:
    """A grid worker (网格员) as the board shows them."""

    worker_id: str
    name: str
    phone: str
    photo: Path | None = None


@dataclass(frozen=True)
class Contact:
    """A hotline on the board: who answers and the number."""

    name: str
    phone: str


@dataclass(frozen=True)
class BoardFacts:
    """Everything written on one grid's board, apart from the map."""

    grid_code: str
    community_code: str
    community_name: str
    serial: int | None
    dedicated_name: str
    households: int
    population: int
    population_estimated: bool
    persons_per_household: float
    area_m2: float
    buildings: int | None
    workers: tuple[Worker, ...]
    contacts: tuple[Contact, ...]
    national: tuple[Contact, ...]
    duties: tuple[str, ...]
    issued: date
    url: str
    lang: Lang = "zh"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        """The grid's name: ``文昌社区第3网格`` (``文昌社区 Grid 3`` in English)."""
        if self.serial is None:
            base = f"{self.community_name} {self.grid_code}"
        elif self.lang == "zh":
            base = f"{self.community_name}第{self.serial}网格"
        else:
            base = f"{self.community_name} Grid {self.serial}"
        if self.dedicated_name:
            base += f"（{self.dedicated_name}）" if self.lang == "zh" else f" ({self.dedicated_name})"
        return base


# ----------------------------------------------------------------------------- tables


def board_duties(path: PathLike | None = None, *, lang: Lang = "zh") -> list[str]:
    """The duties of a grid worker printed on every board.

    Parameters
    ----------
    path
        A UTF-8 CSV with columns ``order`` and ``zh`` (and ``en`` for English boards;
        an empty ``en`` falls back to ``zh``) to use instead of the bundled list
        (``gridkit/tables/board_duties.csv``).
    lang
        ``"zh"`` or ``"en"``.

    Examples
    --------
    >>> board_duties()[0][:4]
    '信息采集'
    >>> board_duties(lang="en")[1].split(":")[0]
    'Patrols and visits'
    """
    _check_lang(lang)
    table = read_table(path, bundled="board_duties", columns=("order", "zh"), what="duties table")
    order = pd.to_numeric(table["order"], errors="coerce")
    if order.isna().any():
        raise InputDataError("the order column must hold numbers", path=path, field="order",
                             feature_ids=list(table.index[order.isna()]),
                             hint="number the duties 1, 2, 3 ... (rows count from 0 below the header)")
    table = table.assign(_order=order).sort_values("_order", kind="stable")
    text = table["zh"]
    if lang == "en" and "en" in table.columns:
        text = table["en"].where(table["en"] != "", table["zh"])
    return [t for t in text.tolist() if t]


def national_hotlines(*, lang: Lang = "zh") -> list[Contact]:
    """The national emergency and service numbers (110, 119, 120, 12345).

    Examples
    --------
    >>> [c.phone for c in national_hotlines()]
    ['110', '119', '120', '12345']
    """
    _check_lang(lang)
    table = read_table(None, bundled="board_hotlines", columns=("phone", "zh", "en"), what="hotlines table")
    return [Contact(name, phone) for name, phone in zip(table[lang], table["phone"], strict=True)]


def read_contacts(path: PathLike) -> pd.DataFrame:
    """Community hotlines from a CSV with columns ``community_code``, ``name``, ``phone``.

    A row with an empty ``community_code`` is printed on every board (a street office or a
    county hotline). An optional ``grid_code`` column limits a row to one grid.
    """
    table = read_table(path, columns=("community_code", "name", "phone"), what="contacts table")
    bad = table.index[(table["name"] == "") | (table["phone"] == "")]
    if len(bad):
        raise InputDataError("every contact needs a name and a phone number", path=path, feature_ids=list(bad),
                             field="phone", hint="fill in or delete these rows (rows count from 0 below the header)")
    if "grid_code" not in table.columns:
        table["grid_code"] = ""
    return table


def _photo(photos: Path | None, worker_id: str) -> Path | None:
    if photos is None or not worker_id:
        return None
    for ext in _PHOTO_EXTS:
        for name in (worker_id + ext, worker_id + ext.upper()):
            if (photos / name).is_file():
                return photos / name
    return None


# ----------------------------------------------------------------------------- facts


def facts_for_grids(
    grids: gpd.GeoDataFrame,
    *,
    area_m2: pd.Series,
    buildings: pd.Series,
    workers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    duties: Sequence[str] = (),
    photos: PathLike | None = None,
    lang: Lang = "zh",
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    issued: date | None = None,
    base_url: str | None = None,
) -> dict[str, BoardFacts]:
    """The facts of every grid's board, keyed by grid code.

    ``area_m2`` and ``buildings`` are Series indexed like ``grids`` (the area and the
    number of buildings); ``workers`` comes from :func:`workers_for_grids` (or
    :func:`workers_from_grids`) and ``contacts`` from :func:`read_contacts`.
    """
    _check_lang(lang)
    if not 0 < persons_per_household < MAX_PERSONS_PER_HOUSEHOLD:
        raise ParameterError(f"persons per household must be > 0 and below {MAX_PERSONS_PER_HOUSEHOLD}, "
                             f"got {persons_per_household}", hint="e.g. 2.62 (the 2020 census average)")
    photo_dir = None if photos is None else Path(photos)
    if photo_dir is not None and not photo_dir.is_dir():
        raise InputFileError("the photos folder does not exist", path=photo_dir,
                             hint="give a folder of <worker_id>.jpg or .png files")
    issued = issued or date.today()
    households = _households(grids)
    population, estimated = _population(grids, households, persons_per_household)
    by_grid = {} if workers is None else {code: rows for code, rows in workers.groupby("grid_code", sort=False)}
    national = tuple(national_hotlines(lang=lang))
    facts: dict[str, BoardFacts] = {}
    hh = households.to_numpy(dtype=np.int64)
    people = population.to_numpy(dtype=np.int64)
    for i, (label, row) in enumerate(grids.iterrows()):
        code = str(row["grid_code"])
        community = str(row.get("community_code", "") or "")
        crew = by_grid.get(code)
        team: tuple[Worker, ...] = ()
        if crew is not None:
            team = tuple(Worker(w, n, p, _photo(photo_dir, w)) for w, n, p in
                         zip(crew["worker_id"], crew["name"], crew["phone"], strict=True))
        facts[code] = BoardFacts(
            grid_code=code,
            community_code=community,
            community_name=_text(row.get("community_name")) or community,
            serial=int(code[-3:]) if len(code) == 15 and code.isdigit() else None,
            dedicated_name=_text(row.get("dedicated_name")) if bool(row.get("dedicated", False)) else "",
            households=int(hh[i]),
            population=int(people[i]),
            population_estimated=estimated,
            persons_per_household=persons_per_household,
            area_m2=float(area_m2.loc[label]),
            buildings=_count(buildings.loc[label]),
            workers=team,
            contacts=_contacts_for(contacts, code, community),
            national=national,
            duties=tuple(duties),
            issued=issued,
            url=_url(base_url, code),
            lang=lang,
        )
    return facts


def _count(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _households(grids: gpd.GeoDataFrame) -> pd.Series:
    if "households" not in grids.columns:
        raise MissingFieldError("the grids have no households field", path=grids.attrs.get("source"),
                                field="households", hint="use the grids layer written by 'gridkit partition'")
    return _whole_counts(grids, "households", hint="fix these grids")


def _population(grids: gpd.GeoDataFrame, households: pd.Series, pph: float) -> tuple[pd.Series, bool]:
    column = next((c for c in POPULATION_FIELDS if c in grids.columns), None)
    if column is None:
        return (households * pph).round().astype(np.int64), True
    return _whole_counts(grids, column, hint=f"fix these grids, or drop the field to estimate households x {pph}"), False


def _whole_counts(grids: gpd.GeoDataFrame, column: str, *, hint: str) -> pd.Series:
    """``column`` as int64, refusing what no grid holds: not a number, negative, fractional, infinite
    or at least :data:`MAX_COUNT` (a count printed on a board is never rounded, wrapped or invented)."""
    values = pd.to_numeric(grids[column], errors="coerce").astype(float)
    numbers = values.to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers >= MAX_COUNT) | (numbers != np.round(numbers))
    if bad.any():
        raise InputDataError(f"{column} must be a whole number from 0 to below {MAX_COUNT:,}",
                             path=grids.attrs.get("source"), feature_ids=list(grids.index[bad]), field=column,
                             hint=hint)
    return pd.Series(numbers.astype(np.int64), index=grids.index, name=column)


def _contacts_for(contacts: pd.DataFrame | None, grid_code: str, community: str) -> tuple[Contact, ...]:
    if contacts is None:
        return ()
    hit = (((contacts["community_code"] == community) | (contacts["community_code"] == ""))
           & ((contacts["grid_code"] == grid_code) | (contacts["grid_code"] == "")))
    rows = contacts[hit]
    return tuple(Contact(n, p) for n, p in zip(rows["name"], rows["phone"], strict=True))


def _url(base_url: str | None, grid_code: str) -> str:
    """The address the QR code points at: the page's file name, under ``base_url`` when given
    (``{grid_code}`` in it is replaced by the code)."""
    name = f"{grid_code}.html"
    if not base_url:
        return name
    if "{grid_code}" in base_url:
        return base_url.replace("{grid_code}", grid_code)
    return base_url.rstrip("/") + "/" + name


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def _check_lang(lang: str) -> None:
    if lang not in ("zh", "en"):
        raise ParameterError(f"unknown language {lang!r}", hint='use "zh" or "en"')
