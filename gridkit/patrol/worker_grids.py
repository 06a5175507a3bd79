"""Which grid each worker's track is checked against.

The workers table is read and shared out by :mod:`gridkit.board.workers`, the same rule
the notice boards use: a row with a ``grid_code`` serves that grid; rows with only a
``community_code`` are shared out over the community's grids in ``grid_code`` order,
round-robin. A worker the table gives several grids is checked against the one of them
where the worker spent the most time; a worker the table does not give a grid (or a
table without either column) gets the grid where the worker spent the most time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gridkit.board.workers import workers_for_grids
from gridkit.errors import MissingFieldError

__all__ = ["NO_GRID", "grid_of_points", "grids_for_workers", "table_grids"]

#: The grid index of "no grid".
NO_GRID = -1


def grid_of_points(points: np.ndarray, polys: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The grid index holding each point (the smallest code on a shared edge), -1 outside all."""
    # bounding boxes first, then prepared point-in-polygon tests on coordinates
    ip, ig = shapely.STRtree(polys).query(points)
    xy = shapely.get_coordinates(points)
    keep = shapely.intersects_xy(polys[ig], xy[ip, 0], xy[ip, 1])
    ip, ig = ip[keep], ig[keep]
    out = np.full(len(points), NO_GRID, dtype=np.int64)
    if ip.size:
        rank = np.argsort(np.argsort(codes, kind="stable"), kind="stable")
        order = np.lexsort((rank[ig], ip))
        ip, ig = ip[order], ig[order]
        first = np.r_[True, ip[1:] != ip[:-1]]
        out[ip[first]] = ig[first]
    return out


def table_grids(workers: pd.DataFrame | None, grids: pd.DataFrame, codes: np.ndarray,
                grid_field: str) -> tuple[dict[str, list[int]], str]:
    """Worker id to the grid indices the workers table gives them, and a note on how grids were assigned.

    Parameters
    ----------
    workers
        The workers table (:func:`gridkit.board.workers.read_workers`), or None.
    grids
        The grids, with ``grid_field`` (and ``community_code`` for community-based tables).
    codes
        Grid codes by grid index.
    grid_field
        The grid code field of the grids and of the table.
    """
    if workers is None:
        return {}, "no workers table: each worker's grid is the one where the worker spent the most time"
    source = workers.attrs.get("source")
    if "worker_id" not in workers.columns:
        raise MissingFieldError("the workers table has no 'worker_id' column", path=source, field="worker_id",
                                hint="give a table with worker_id and grid_code (or community_code)")
    table = workers.rename(columns={grid_field: "grid_code"}) if grid_field != "grid_code" else workers.copy()
    table.attrs["source"] = source
    if not ({"grid_code", "community_code"} & set(table.columns)):
        return {}, (f"the workers table has neither {grid_field!r} nor 'community_code': each worker's grid is the "
                    "one where the worker spent the most time")
    given = [table[c].fillna("").astype(str).str.strip() if c in table.columns else pd.Series("", index=table.index)
             for c in ("grid_code", "community_code")]
    listed = (given[0] != "") | (given[1] != "")
    frame = pd.DataFrame({"grid_code": codes, "community_code": _communities(grids, len(codes))})
    assigned = workers_for_grids(frame, table[listed], contact=False) if listed.any() else None
    mapping: dict[str, list[int]] = {}
    shared = 0
    if assigned is not None:
        index_of = {c: i for i, c in enumerate(codes)}
        for wid, grid in zip(assigned["worker_id"], assigned["grid_code"], strict=True):
            mapping.setdefault(str(wid), []).append(index_of[grid])
        shared = int((assigned["assigned_by"] == "round-robin").sum())
    note = "grids from the workers table"
    if shared:
        note += (" (workers given by community shared out over its grids in grid_code order, round-robin, as on the "
                 "notice boards; a worker with several grids is checked against the one where they spent most time)")
    ids = set(table["worker_id"].fillna("").astype(str).str.strip())
    if len(mapping) < len(ids - {""}):
        note += "; workers without a grid in it get the grid where they spent the most time"
    return {k: sorted(set(v)) for k, v in mapping.items()}, note


def _communities(grids: pd.DataFrame, n: int) -> np.ndarray:
    if "community_code" in grids.columns:
        return grids["community_code"].fillna("").astype(str).to_numpy()
    return np.full(n, "", dtype=object)


def grids_for_workers(
    worker_ids: np.ndarray | pd.Index,
    worker_of_fix: np.ndarray,
    grid_of_fix: np.ndarray,
    weight: np.ndarray,
    table: dict[str, list[int]] | dict[str, int],
    codes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each worker's grid: from the table, else where the worker spent the most time.

    Parameters
    ----------
    worker_ids
        The workers, in the order ``worker_of_fix`` numbers them.
    worker_of_fix, grid_of_fix, weight
        Per fix: the worker's number, the grid index holding the fix (-1 outside every
        grid) and the time it stands for (seconds).
    table
        Worker id to the grid index (or indices) the table gives the worker; of several,
        the one where the worker spent the most time (ties: the smallest code).
    codes
        Grid codes by grid index (ties in time go to the smallest code).

    Returns
    -------
    grid, source : tuple of numpy.ndarray
        Per worker: the grid index (-1 when the worker was never inside a grid and the
        table has none) and ``"table"``, ``"most_time"`` or ``"none"``.

    Examples
    --------
    >>> import numpy as np
    >>> grid, source = grids_for_workers(np.array(["a", "b"]), np.array([0, 0, 0, 1]), np.array([1, 1, 0, 0]),
    ...                                  np.array([30.0, 30, 90, 10]), {"b": 1}, np.array(["g0", "g1"]))
    >>> grid.tolist(), source.tolist()
    ([0, 1], ['most_time', 'table'])
    """
    n = len(worker_ids)
    inside = grid_of_fix != NO_GRID
    frame = pd.DataFrame({"w": worker_of_fix[inside], "g": grid_of_fix[inside], "t": weight[inside]})
    sums = frame.groupby(["w", "g"], sort=True).agg(t=("t", "sum"), fixes=("t", "size")).reset_index()
    rank = np.argsort(np.argsort(codes, kind="stable"), kind="stable")
    # ties (and single fixes of zero weight) go to the smallest code; fixes break ties in time
    sums["rank"] = rank[sums["g"].to_numpy()] if len(sums) else np.zeros(0, dtype=np.int64)
    sums = sums.sort_values(["w", "t", "fixes", "rank"], ascending=[True, False, False, True], kind="stable")
    grid = np.full(n, NO_GRID, dtype=np.int64)
    best = sums.drop_duplicates("w")
    best = best[(best["t"] > 0) | (best["fixes"] > 0)]
    grid[best["w"].to_numpy()] = best["g"].to_numpy()
    source = np.where(grid != NO_GRID, "most_time", "none").astype(object)
    ids = np.asarray(worker_ids).astype(str)
    spent = {(int(w), int(g)): (float(t), int(f)) for w, g, t, f in
             zip(sums["w"], sums["g"], sums["t"], sums["fixes"], strict=True)}
    for k, wid in enumerate(ids):
        if wid not in table:
            continue
        choices = table[wid]
        options = [choices] if isinstance(choices, (int, np.integer)) else list(choices)
        # most time among the table's grids, then most fixes, then the smallest code
        grid[k] = min(options, key=lambda g: (-spent.get((k, g), (0.0, 0))[0], -spent.get((k, g), (0.0, 0))[1],
                                              rank[g]))
        source[k] = "table"
    return grid, source
