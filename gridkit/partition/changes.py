"""What changed against the previous plan: per grid kept, reshaped, split, merged, new or retired.

:func:`changes_table` compares each community's new grids with its previous ones
through the units they share (:mod:`gridkit.partition.previous`) and the codes they
keep (:mod:`gridkit.partition.codes_history`). One row per new grid and per retired code
(:data:`CHANGE_COLUMNS`):

- ``kept``: the same code over the same units (the same geometry, where the previous
  grid followed the units);
- ``reshaped``: the same code, units moved in or out;
- ``split``: the code kept by the part of a previous grid that was divided, or a new
  code for another part (``related`` names the grid it came from);
- ``merged``: the code kept by a grid that took in most of a retired grid;
- ``new``: a new code over units no previous grid held;
- ``retired``: a previous code no grid keeps (``related``: where its units went).

``buildings_in``/``buildings_out`` count the buildings that joined or left the grid,
``fitted_m2`` the area fitting the previous grid to the units moved, ``locked`` whether
it was kept exactly. :func:`changes_markdown` is the report's section and
:func:`change_map` the offline page, one colour per kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridkit._types import PathLike
from gridkit.partition.community import CommunityGrids, CommunityJob

if TYPE_CHECKING:
    import folium

    from gridkit.partition.result import PartitionResult

__all__ = ["CHANGE_COLOURS", "CHANGE_COLUMNS", "Changes", "change_map", "changes_markdown", "changes_report",
           "changes_summary", "changes_table", "write_changes"]

#: the columns of ``changes.csv``
CHANGE_COLUMNS = ["grid_code", "community_code", "change", "related", "households_before", "households_after",
                  "buildings_in", "buildings_out", "fitted_m2", "locked", "note"]

#: one colour per kind of change, on the change map
CHANGE_COLOURS = {"kept": "#d9d9d9", "reshaped": "#fdae61", "split": "#d7191c", "merged": "#2c7bb6",
                  "new": "#1a9641", "retired": "#7b3294"}

_LABELS = {"kept": "kept 保留", "reshaped": "reshaped 调整", "split": "split 拆分", "merged": "merged 合并",
           "new": "new 新增", "retired": "retired 撤销"}


@dataclass
class Changes:
    """A re-partition against a previous plan: the change table, the codes table, retired outlines.

    Attributes
    ----------
    table
        :data:`CHANGE_COLUMNS`, one row per new grid and per retired code.
    codes
        Every code ever used (``code``, ``community_code``, ``status``, ``since``,
        ``retired``), with the grid's geometry (the previous one for a retired code, when
        known), in the output CRS.
    retired
        The previous outlines of the codes retired now, in the output CRS.
    figures
        Counts per kind, buildings that changed grid, area moved by fitting.
    building_previous
        Per input building, the code of the previous grid its unit was fitted to (``""``:
        none); the ``buildings`` layer carries it as ``previous_grid_code``.
    """

    table: pd.DataFrame
    codes: gpd.GeoDataFrame
    retired: gpd.GeoDataFrame
    figures: dict[str, Any] = field(default_factory=dict)
    building_previous: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))


def changes_table(jobs: Sequence[CommunityJob], done: Sequence[CommunityGrids], codes: np.ndarray,
                  kept: np.ndarray, households: np.ndarray) -> pd.DataFrame:
    """The change rows of every community that had previous grids (see the module text).

    ``codes``, ``kept`` (:class:`~gridkit.partition.codes_history.Recoded`) and
    ``households`` are per grid, in the order of the assembled grids.
    """
    rows: list[dict[str, Any]] = []
    offset = 0
    for job, out in zip(jobs, done):
        k = len(out.households)
        grid_rows = np.arange(offset, offset + k)
        offset += k
        prev, fit = job.previous, out.previous
        if prev is None or fit is None:
            if any(c is not None for c in (prev, fit)):  # pragma: no cover - set together
                raise AssertionError("previous grids without their fit")
            continue
        rows.extend(_community_rows(job, out, codes[grid_rows], kept[grid_rows], households[grid_rows]))
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _community_rows(job: CommunityJob, out: CommunityGrids, codes: np.ndarray, match: np.ndarray,
                    households: np.ndarray) -> list[dict[str, Any]]:
    assert job.previous is not None and out.previous is not None
    prev, fit = job.previous, out.previous
    n_prev, k = len(prev), len(codes)
    grid = out.units["grid"].to_numpy()
    prior = fit.unit_previous
    hh = out.units["households"].to_numpy(dtype=np.int64)
    # units per (new grid, previous grid)
    ok = prior >= 0
    share = np.zeros((k, n_prev), dtype=np.int64)
    np.add.at(share, (grid[ok], prior[ok]), 1)
    share_hh = np.zeros((k, n_prev), dtype=np.int64)
    np.add.at(share_hh, (grid[ok], prior[ok]), hh[ok])
    units_new = np.bincount(grid, minlength=k)
    units_old = share.sum(axis=0)
    taken = np.zeros(n_prev, dtype=bool)
    taken[match[match >= 0]] = True
    prior_hh = np.bincount(prior[ok], weights=hh[ok], minlength=n_prev).astype(np.int64)
    before = np.where(prev.households >= 0, prev.households, prior_hh)
    # where each previous grid's units went (most households, then most units)
    main_new = np.lexsort((-share, -share_hh), axis=0)[0] if k else np.zeros(n_prev, dtype=np.int64)
    # where each new grid's units came from
    main_old = np.lexsort((-share.T, -share_hh.T), axis=0)[0] if n_prev else np.zeros(k, dtype=np.int64)
    b_prev = fit.building_previous
    b_new = out.building_grid
    b_prev_code = np.where(b_prev >= 0, prev.codes[np.maximum(b_prev, 0)], "")
    b_new_code = codes[b_new]
    moved = b_prev_code != b_new_code
    gained = np.bincount(b_new[moved], minlength=k)
    lost_by_prev = np.bincount(b_prev[moved & (b_prev >= 0)], minlength=n_prev)
    rows = []
    for g in range(k):
        p = int(match[g])
        sources = [int(q) for q in np.flatnonzero(share[g]) if q != p]
        if p >= 0:
            if share[g, p] == units_new[g] == units_old[p]:
                kind = "kept"
            elif any(match[h] < 0 and main_old[h] == p and share[h, p] > 0 for h in range(k)):
                kind = "split"
            elif any(not taken[q] and main_new[q] == g for q in sources):
                kind = "merged"
            else:
                kind = "reshaped"
            if kind == "split":
                related = [str(codes[h]) for h in range(k) if match[h] < 0 and main_old[h] == p and share[h, p] > 0]
            elif kind == "merged":
                related = [str(prev.codes[q]) for q in sources if not taken[q] and main_new[q] == g]
            else:
                related = [str(prev.codes[q]) for q in sources]
            rows.append(_row(codes[g], job.code, kind, related, int(before[p]), int(households[g]), int(gained[g]),
                             int(lost_by_prev[p]), float(fit.moved_m2[p]), bool(prev.locked[p]),
                             _locked_note(bool(prev.locked[p]), float(fit.moved_m2[p]))))
        else:
            q = int(main_old[g]) if n_prev and share[g].any() else -1
            kind = "split" if q >= 0 else "new"
            rows.append(_row(codes[g], job.code, kind, [] if q < 0 else [str(prev.codes[q])], 0, int(households[g]),
                             int(gained[g]), 0, 0.0, False))
    for q in np.flatnonzero(~taken).tolist():
        into = sorted({str(codes[g]) for g in np.flatnonzero(share[:, q])})
        rows.append(_row(prev.codes[q], job.code, "retired", into, int(before[q]), 0, 0, int(lost_by_prev[q]),
                         float(fit.moved_m2[q]), bool(prev.locked[q])))
    return rows


def _locked_note(locked: bool, fitted: float) -> str:
    if not locked or fitted <= 0.5:
        return ""
    return (f"locked, drawn off the unit boundaries: its units are kept, its outline fitted to them "
            f"({fitted:,.0f} m² moved)")


def _row(code: str, community: str, kind: str, related: list[str], before: int, after: int, b_in: int, b_out: int,
         fitted: float, locked: bool, note: str = "") -> dict[str, Any]:
    return {"grid_code": str(code), "community_code": community, "change": kind, "related": ";".join(related),
            "households_before": before, "households_after": after, "buildings_in": b_in, "buildings_out": b_out,
            "fitted_m2": round(fitted, 1), "locked": locked, "note": note}


def changes_summary(table: pd.DataFrame, previous_grids: int, previous_area_m2: float) -> dict[str, Any]:
    """Counts per kind, buildings that changed grid, area fitting moved (JSON-ready)."""
    counts = {kind: int((table["change"] == kind).sum()) for kind in CHANGE_COLOURS}
    previous = int(previous_grids)
    moved = float(table["fitted_m2"].sum())
    return {
        "counts": counts,
        "previous_grids": previous,
        "buildings_changed_grid": int(table["buildings_in"].sum()),
        "fitted_m2": round(moved, 1),
        "fitted_share": moved / previous_area_m2 if previous_area_m2 > 0 else 0.0,
        "grids_fitted": int((table["fitted_m2"] > 0.5).sum()),
        "locked": int(table["locked"].sum()),
    }


def changes_markdown(changes: dict[str, Any]) -> list[str]:
    """The report's section on what changed (``changes`` is the report's ``changes`` entry)."""
    f = changes["summary"]
    c = f["counts"]
    lines = ["", "## Changes since the previous plan (动态调整)", "",
             (f"{c['kept']} grids kept, {c['reshaped']} reshaped, {c['split']} split, {c['merged']} merged, "
              f"{c['new']} new, {c['retired']} retired; {f['buildings_changed_grid']:,} buildings changed grid."),
             "",
             (f"Fitting the previous grids to the units moved {f['fitted_m2']:,.0f} m² "
              f"({f['fitted_share']:.2%} of their area) in {f['grids_fitted']} grids."
              if f["fitted_m2"] > 0 else "The previous grids follow the units: fitting moved no area."),
             ""]
    if changes.get("locked_breaking"):
        lines += ["Locked grids kept although they break a rule:", "", "| grid | rule | why |", "| --- | --- | --- |"]
        lines += [f"| {r['grid_code']} | {r['rule']} | {r['reason']} |" for r in changes["locked_breaking"]]
        lines.append("")
    moved = [r for r in changes["grids"] if r["change"] != "kept"]
    if moved:
        lines += ["| grid | change | related | households before | after | buildings in | out | fitted m² |",
                  "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in moved:
            lines.append(f"| {r['grid_code']} | {r['change']}{' (locked)' if r['locked'] else ''} | "
                         f"{r['related'] or '–'} | {r['households_before']} | {r['households_after']} | "
                         f"{r['buildings_in']} | {r['buildings_out']} | {r['fitted_m2']:,.0f} |")
    lines += ["", ("Every change per grid is in changes.csv; the codes table (layer `codes` of grids.gpkg) lists "
                   "every code ever used, a retired code is never given again.")]
    return lines


def change_map(grids: gpd.GeoDataFrame, changes: Changes, *, communities: gpd.GeoDataFrame | None = None
               ) -> folium.Map:
    """An offline page: the new grids filled by their kind of change, retired grids outlined, a legend.

    Save it with :func:`gridkit.maps.save_map` (``offline=True``).
    """
    import folium

    from gridkit.maps._data import for_display, to_geojson
    from gridkit.maps._page import page_map
    from gridkit.maps._signoff_parts import Legend

    kind = changes.table.drop_duplicates("grid_code", keep="first").set_index("grid_code")
    g = grids[["grid_code", "households", grids.geometry.name]].copy()
    g["change"] = g["grid_code"].map(kind["change"]).fillna("new")
    g["related"] = g["grid_code"].map(kind["related"]).fillna("")
    g["households_before"] = g["grid_code"].map(kind["households_before"]).fillna(0).astype(int)
    shown = for_display(g, role="grids", kinds=("polygon",))
    m = page_map(shown.total_bounds, None, "zh")

    def style(feature: dict) -> dict:
        colour = CHANGE_COLOURS.get(feature["properties"]["change"], "#ffffff")
        return {"fillColor": colour, "color": "#3b3b3b", "weight": 1, "fillOpacity": 0.7}

    cols = ["grid_code", "change", "related", "households_before", "households"]
    folium.GeoJson(to_geojson(shown, cols), name="grids 网格", style_function=style,
                   tooltip=folium.GeoJsonTooltip(fields=cols, aliases=["grid", "change", "related", "households before",
                                                                       "households after"])).add_to(m)
    if len(changes.retired):
        r = for_display(changes.retired[["grid_code", changes.retired.geometry.name]], role="retired grids",
                        kinds=("polygon",))
        folium.GeoJson(to_geojson(r, ["grid_code"]), name="retired 撤销",
                       style_function=lambda _: {"color": CHANGE_COLOURS["retired"], "weight": 3, "dashArray": "6 4",
                                                 "fill": False},
                       tooltip=folium.GeoJsonTooltip(fields=["grid_code"], aliases=["retired"])).add_to(m)
    if communities is not None:
        c = for_display(communities, role="communities", kinds=("polygon",))
        folium.GeoJson(to_geojson(c, []), name="communities 社区",
                       style_function=lambda _: {"color": "#252525", "weight": 3, "fill": False},
                       interactive=False).add_to(m)
    counts = changes.table["change"].value_counts()
    items = "".join(f'<div><span style="display:inline-block;width:14px;height:14px;background:{colour};'
                    f'margin-right:6px;vertical-align:middle"></span>{_LABELS[k]} ({int(counts.get(k, 0))})</div>'
                    for k, colour in CHANGE_COLOURS.items())
    Legend(f'<div style="background:rgba(255,255,255,0.9);padding:6px 9px;font-size:12px">'
           f"<b>changes 变化</b>{items}</div>").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def changes_report(result: PartitionResult) -> dict[str, Any] | None:
    """The report's ``changes`` entry: the summary, every change row, locked grids that break a rule."""
    ch = result.changes
    if ch is None:
        return None
    locked = set(ch.table.loc[ch.table["locked"].astype(bool), "grid_code"])
    breaking = result.issues[result.issues["grid_code"].isin(locked)]
    return {"summary": ch.figures, "grids": ch.table.to_dict("records"),
            "locked_breaking": breaking[["grid_code", "rule", "reason"]].to_dict("records")}


def write_changes(result: PartitionResult, outdir: PathLike) -> None:
    """Write ``changes.csv`` and the change map ``changes.html`` (offline) into ``outdir``."""
    from gridkit.io import write_text
    from gridkit.maps import save_map

    assert result.changes is not None
    out = Path(outdir)
    write_text(out / "changes.csv", result.changes.table[CHANGE_COLUMNS].to_csv(index=False))
    page = change_map(result.grids, result.changes, communities=result.communities)
    save_map(page, out / "changes.html", offline=True)
