"""Who serves which grid: workers from a table (by grid, or shared out over a community's
grids) or from fields of the grids themselves.

:func:`read_workers` is the one reader of a workers table and :func:`workers_for_grids`
the one rule that turns it into grids: the notice boards (``gridkit board``) and the
track check (``gridkit patrol check``) both use them, so a worker is checked against the
grid whose board shows them.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.errors import InputDataError, MissingFieldError
from gridkit.io.tables import read_table

__all__ = ["WORKER_FIELDS", "read_workers", "workers_for_grids", "workers_from_grids"]

logger = logging.getLogger(__name__)

#: Fields of a grids layer read as the worker, when no workers table is given.
WORKER_FIELDS = {"worker_id": ("worker_id",), "name": ("worker_name", "worker"), "phone": ("worker_phone",)}


def workers_from_grids(grids: pd.DataFrame) -> pd.DataFrame | None:
    """Workers named on the grids themselves (fields ``worker_name``/``worker``, ``worker_phone``,
    ``worker_id``), as a table keyed by ``grid_code``; None when the grids name none.
    """
    columns = {key: next((c for c in names if c in grids.columns), None) for key, names in WORKER_FIELDS.items()}
    if columns["name"] is None:
        return None
    table = pd.DataFrame({"grid_code": grids["grid_code"].astype(str).to_numpy()})
    for key, column in columns.items():
        table[key] = "" if column is None else grids[column].fillna("").astype(str).str.strip().to_numpy()
    if columns["worker_id"] is None:
        table["worker_id"] = table["grid_code"]
    table = table[table["name"] != ""].reset_index(drop=True)
    table["assigned_by"] = "grid field"
    return table


def read_workers(path: PathLike) -> pd.DataFrame:
    """A workers table (UTF-8 CSV: ``worker_id`` and ``grid_code`` or ``community_code``, with
    ``name`` and ``phone`` for the boards) as text columns; ``attrs["source"]`` is the path.

    Raises
    ------
    InputFileError
        Missing file, not UTF-8, not CSV.
    MissingFieldError
        No ``worker_id`` column.
    """
    table = read_table(path, columns=("worker_id",), what="workers table")
    table.attrs["source"] = str(path)
    return table


def workers_for_grids(grids: pd.DataFrame, workers: pd.DataFrame, *, contact: bool = True) -> pd.DataFrame:
    """Which worker serves which grid.

    Parameters
    ----------
    grids
        The grids, with ``grid_code`` and ``community_code``.
    workers
        A table with ``worker_id``, ``name``, ``phone`` and ``grid_code`` or
        ``community_code`` (text columns). A row with a ``grid_code`` serves that grid. Rows
        with only a ``community_code`` are shared out over the community's grids in
        ``grid_code`` order, round-robin, skipping grids that already have a worker of their
        own (unless every grid has one): with fewer workers than grids some serve two grids,
        with more some grids get two workers; every worker gets a grid.
    contact
        Whether ``name`` and ``phone`` are needed (a board prints them; a track check
        needs only who serves which grid, and fills them with ``""`` when absent).

    Returns
    -------
    pandas.DataFrame
        One row per (grid, worker): ``grid_code``, ``worker_id``, ``name``, ``phone``,
        ``assigned_by`` (``"grid_code"`` or ``"round-robin"``), in grid-code order.

    Raises
    ------
    MissingFieldError
        A needed column is absent.
    InputDataError
        A row names a grid or community the grids do not hold, or neither.

    Examples
    --------
    >>> grids = pd.DataFrame({"grid_code": ["520199001001001", "520199001001002", "520199001001003"],
    ...                       "community_code": "520199001001"})
    >>> crew = pd.DataFrame({"worker_id": ["W1", "W2"], "name": ["曹艳", "胡杰"], "phone": ["1", "2"],
    ...                      "community_code": "520199001001"})
    >>> workers_for_grids(grids, crew)[["grid_code", "worker_id"]].values.tolist()
    [['520199001001001', 'W1'], ['520199001001002', 'W2'], ['520199001001003', 'W1']]
    """
    path = workers.attrs.get("source")
    needed = ("worker_id", "name", "phone") if contact else ("worker_id",)
    missing = [c for c in needed if c not in workers.columns]
    if missing or not ({"grid_code", "community_code"} & set(workers.columns)):
        missing = missing or ["grid_code"]
        raise MissingFieldError(
            f"the workers table lacks column(s) {', '.join(missing)}", path=path, field=missing[0],
            hint=f"give it {', '.join(needed)} and grid_code (or community_code: the community's workers "
                 f"are then shared out over its grids); it has {', '.join(map(str, workers.columns))}",
        )
    table = workers.copy()
    for column in ("worker_id", "name", "phone", "grid_code", "community_code"):
        table[column] = table[column].fillna("").astype(str).str.strip() if column in table else ""
    codes = grids["grid_code"].astype(str)
    known_grids = set(codes)
    direct = table["grid_code"] != ""
    unknown = table.index[direct & ~table["grid_code"].isin(known_grids)]
    if len(unknown):
        raise InputDataError(
            f"workers name grid codes the grids do not hold: {', '.join(table.loc[unknown, 'grid_code'][:5])}",
            path=path, feature_ids=list(unknown), field="grid_code",
            hint="use the grid codes of the grids (grids.gpkg of 'gridkit partition'; rows count from 0 below the header)",
        )
    shared = ~direct
    orphans = table.index[shared & (table["community_code"] == "")]
    if len(orphans):
        raise InputDataError("workers with neither a grid_code nor a community_code", path=path,
                             feature_ids=list(orphans), field="grid_code", hint="fill in one of the two")
    communities = grids["community_code"].astype(str) if "community_code" in grids else pd.Series("", index=grids.index)
    unknown = table.index[shared & ~table["community_code"].isin(set(communities))]
    if len(unknown):
        raise InputDataError(
            "workers name communities that have no grid: "
            f"{', '.join(sorted(set(table.loc[unknown, 'community_code'])))}",
            path=path, feature_ids=list(unknown), field="community_code",
            hint="check the community codes (12 digits, kept as text) against the grids' community_code",
        )
    rows = [table.loc[direct, ["grid_code", "worker_id", "name", "phone"]].assign(assigned_by="grid_code")]
    staffed = set(table.loc[direct, "grid_code"])
    by_community = pd.DataFrame({"grid_code": codes.to_numpy(), "community_code": communities.to_numpy()})
    for community, crew in table[shared].groupby("community_code", sort=True):
        mine = sorted(by_community.loc[by_community["community_code"] == community, "grid_code"])
        open_grids = [g for g in mine if g not in staffed] or mine
        n = max(len(open_grids), len(crew))
        pairs = pd.DataFrame({
            "grid_code": [open_grids[k % len(open_grids)] for k in range(n)],
            "worker_id": crew["worker_id"].to_numpy()[np.arange(n) % len(crew)],
            "name": crew["name"].to_numpy()[np.arange(n) % len(crew)],
            "phone": crew["phone"].to_numpy()[np.arange(n) % len(crew)],
        })
        rows.append(pairs.assign(assigned_by="round-robin"))
    out = pd.concat(rows, ignore_index=True)
    out = out.sort_values(["grid_code", "assigned_by"], kind="stable").reset_index(drop=True)
    logger.info("workers for %d grids from %d rows (%d shared out round-robin)",
                out["grid_code"].nunique(), len(table), int(shared.sum()))
    return out
