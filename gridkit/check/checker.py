"""Check any grid plan against every rule: :func:`check_grids` and its :class:`CheckResult`.

The plan is checked as it is, in the CRS of the grids: GEOS predicates on the
geometries as given (a gap or overlap counts above :data:`gridkit.partition.rules.TOLERANCE`
of the area concerned); areas are measured in m² in the local metric CRS. Households
come from the buildings when they are given (each building in the grid holding its
largest part, or its centroid), else from a field of the grids. Each grid's community
is the one holding its largest part, so a plan without a community field is checked too.

Each finding has a severity: ``broken`` (a rule the plan breaks: the check fails),
``unavoidable`` (the data leaves no way to keep the rule there: a community or a part of
one below the minimum in one grid, one building above the maximum, a building reaching
outside its community, grids overlapping where their communities do, buildings outside
every community — reported, as the partition reports them)
and ``soft`` (balance and serials in reading order: reported, fail only with ``strict``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridkit.check.options import CheckOptions
from gridkit.errors import InputDataError, MissingFieldError
from gridkit.partition.reasons import DATA_REASONS
from gridkit.partition.rules import ISSUE_COLUMNS, RULES, SOFT_RULES, Plan, check_plan, cut_buildings
from gridkit.partition.units import assign_to_polygons
from gridkit.partition.validate import (
    Problems,
    check_overlaps,
    community_table,
    household_counts,
    layer_geometries,
)
from gridkit.partition.workload import workload

__all__ = ["PROBLEM_COLUMNS", "SEVERITIES", "CheckResult", "check_grids", "severity_of"]

log = logging.getLogger(__name__)

_POLYGONS = ("Polygon", "MultiPolygon")
_BUILDINGS = (*_POLYGONS, "Point", "MultiPoint")

#: what each severity means
SEVERITIES = {
    "broken": "a rule the plan breaks",
    "unavoidable": "the data leaves no way to keep the rule here (reported, does not fail the check)",
    "soft": "reported, not a rule a plan must keep (fails the check only with --strict)",
}

#: (rule, finding code) the data makes unavoidable, besides the bounds rule's data reasons
_UNAVOIDABLE = {("households_conserved", "outside_communities"), ("building_not_split", "split_across_community"),
                ("tiles_community", "communities_overlap")}

#: the columns of the problems layer, in file order
PROBLEM_COLUMNS = ["rule", "severity", "code", "community_code", "grid_code", "grid_codes", "households", "area_m2",
                   "reason", "geometry"]

_TRUE = {"1", "true", "t", "yes", "y", "是", "专属"}
_FALSE = {"0", "false", "f", "no", "n", "否", ""}


def severity_of(rule: str, code: str) -> str:
    """The severity of a finding (see :data:`SEVERITIES`).

    >>> severity_of("households_within_bounds", "community_below_min"), severity_of("one_piece", "parts")
    ('unavoidable', 'broken')
    """
    if rule in SOFT_RULES:
        return "soft"
    if (rule, code) in _UNAVOIDABLE or (rule == "households_within_bounds" and code in DATA_REASONS):
        return "unavoidable"
    return "broken"


@dataclass(repr=False)
class CheckResult:
    """What :func:`check_grids` found.

    Attributes
    ----------
    problems
        One row per finding (:data:`PROBLEM_COLUMNS`) in the grids' CRS: the rule, its
        severity, the finding's code, the community and grid(s), the grid's households,
        the area of the place in m², why in words, and the geometry of the place.
    grids
        The grids as checked, indexed like the input: ``grid_code`` (the code, or a name
        for a grid whose code is missing or shared), ``code_given``, ``community_code``
        (where the grid lies), ``kind``, ``households``, ``dedicated``, ``deviation`` from
        the community's mean, ``balanced`` and the geometry.
    figures
        Counts, households in/in grids/outside, gap and overlap areas, balance figures,
        bounds, CRSs and the run time.
    strict
        Whether soft findings fail the check.
    """

    problems: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    figures: dict[str, Any] = field(default_factory=dict)
    strict: bool = False

    @property
    def ok(self) -> bool:
        """True when the plan breaks no rule (with ``strict``: and has no soft finding)."""
        failing = {"broken", "soft"} if self.strict else {"broken"}
        return not self.problems["severity"].isin(failing).any()

    def summary(self) -> str:
        """The verdict and the findings per rule, in a few lines."""
        fig = self.figures
        lines = [(f"CheckResult: {'every rule holds' if self.ok else 'rules broken'} — {fig['grids']} grids in "
                 f"{fig['communities']} communities, {fig['households_in_grids']:,} households in grids")]
        if len(self.problems):
            counts = self.problems.groupby(["rule", "severity"], sort=False).size()
            lines.append("  " + ", ".join(f"{rule} {n} {sev}" for (rule, sev), n in counts.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def check_grids(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    options: CheckOptions | None = None,
    **overrides: Any,
) -> CheckResult:
    """Check a grid plan — gridkit's, hand-drawn, another tool's — against every rule.

    Parameters
    ----------
    grids
        Grid polygons, in any CRS (the check runs in it). Fields read when present: the
        grid code (``grid_code``), households (needed when no buildings are given) and
        ``dedicated``; see :class:`~gridkit.check.options.CheckOptions` for their names.
    communities
        Community/village polygons with a 12-digit division code (``code``).
    buildings
        Buildings (polygons or points) with a households field, or household points; the
        grids' households are then counted from them.
    options
        :class:`~gridkit.check.options.CheckOptions`: bounds (``kind``, ``min_households``,
        ``max_households``), ``tolerance`` (0.2), field names, ``assign``, ``strict``.
    **overrides
        Any option by name, e.g. ``tolerance=0.25``, ``kind="rural"``.

    Returns
    -------
    CheckResult

    Raises
    ------
    InputDataError
        Every problem of the inputs at once: no CRS, wrong geometry types, missing or
        bad code and households fields, overlapping communities.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from gridkit.datasets import get_path
    >>> from gridkit.partition import partition
    >>> sample = get_path("sample_county")
    >>> communities = gpd.read_file(sample / "communities.gpkg")
    >>> buildings = gpd.read_file(sample / "buildings.gpkg")
    >>> plan = partition(communities, buildings, streets=gpd.read_file(sample / "streets.gpkg"),
    ...                  dedicated=gpd.read_file(sample / "dedicated.gpkg"))
    >>> result = check_grids(plan.grids, communities, buildings=buildings)
    >>> result.ok, sorted(set(result.problems["severity"]))
    (True, ['soft', 'unavoidable'])
    >>> moved = plan.grids.copy()
    >>> moved.loc[0, "geometry"] = moved.geometry[0].buffer(-0.0002)  # leave a gap around grid 0
    >>> check_grids(moved, communities, buildings=buildings).ok
    False
    """
    started = time.perf_counter()
    opts = (options or CheckOptions()).with_overrides(**overrides)
    popts = opts.partition_options()
    problems = Problems()
    repaired: dict[str, int] = {}
    table = community_table(communities, popts, problems)
    comm_geoms = layer_geometries(communities, "communities", _POLYGONS, problems, repaired)
    grid_geoms = layer_geometries(grids, "grids", _POLYGONS, problems, repaired)
    dedicated = _dedicated(grids, opts.dedicated_field, problems)
    given_hh = _grid_households(grids, opts.households_field, problems, required=buildings is None)
    b_geoms = hh = None
    counted_as = f"the grids' field {opts.households_field!r}"
    if buildings is not None:
        hh, estimated = household_counts(buildings, popts, problems)
        b_geoms = layer_geometries(buildings, "buildings", _BUILDINGS, problems, repaired)
        counted_as = (f"buildings ({estimated or 'their ' + repr(opts.households_field) + ' field'}), each in "
                      f"the grid holding its {'largest part' if opts.assign == 'overlap' else 'centroid'}")
    problems.raise_if_any()
    assert table is not None and comm_geoms is not None and grid_geoms is not None
    crs = grids.crs
    comm_geoms = _to(comm_geoms, communities, crs, "communities", problems)
    if buildings is not None and b_geoms is not None:
        b_geoms = _to(b_geoms, buildings, crs, "buildings", problems)
    problems.raise_if_any()
    comm_code = table["community_code"].to_numpy()
    check_overlaps(comm_geoms, communities.index, comm_code, communities.attrs.get("source"), problems,
                    what="communities")
    problems.raise_if_any()

    where = assign_to_polygons(grid_geoms, comm_geoms)
    in_comm = where >= 0
    grid_comm = np.where(in_comm, comm_code[np.maximum(where, 0)], "")
    kind = np.where(in_comm, table["kind"].to_numpy()[np.maximum(where, 0)], "city")
    code_given, label = _labels(grids, opts.grid_code_field)
    n = len(grids)
    b_frame = None
    if buildings is not None and b_geoms is not None and hh is not None:
        points = b_geoms if opts.assign == "overlap" else shapely.centroid(b_geoms)
        in_grid = assign_to_polygons(points, grid_geoms)
        held = in_grid >= 0
        households = np.bincount(in_grid[held], weights=hh[held], minlength=n).round().astype(np.int64)
        parts = np.bincount(in_grid[held], minlength=n)
        b_frame = gpd.GeoDataFrame({"households": hh, "grid_code": np.where(held, label[np.maximum(in_grid, 0)], "")},
                                   geometry=b_geoms, crs=crs, index=buildings.index)
    else:
        assert given_hh is not None
        households = given_hh.to_numpy(dtype=np.int64)
        parts = None
    bounds = opts.bounds()
    comm_parts = shapely.get_parts(comm_geoms)
    piece = assign_to_polygons(grid_geoms, comm_parts)
    reason, note = _bound_reasons(households, kind, grid_comm, piece, dedicated, bounds, parts)
    checked = gpd.GeoDataFrame({
        "grid_code": label, "code_given": code_given, "community_code": grid_comm, "kind": kind,
        "households": households, "dedicated": dedicated, "reason": reason, "note": note,
    }, geometry=grid_geoms, crs=crs, index=grids.index)
    comm_frame = gpd.GeoDataFrame({"community_code": comm_code, "community_name": table["community_name"].to_numpy(),
                                   "kind": table["kind"].to_numpy()}, geometry=comm_geoms, crs=crs,
                                  index=communities.index)
    plan = Plan(checked, comm_frame, buildings=b_frame, bounds=bounds, tolerance=opts.tolerance)
    found = check_plan(plan, rules={**RULES, **SOFT_RULES})
    if buildings is not None and given_hh is not None:
        found = _concat(found, _field_mismatch(checked, given_hh))
    problems_layer = _problems_layer(found, plan)
    load = workload(checked, tolerance=opts.tolerance, max_households=pd.Series(kind, index=checked.index).map(
        lambda k: bounds[k].max), members=None if b_frame is None else b_frame[["grid_code", "households"]])
    checked.insert(checked.columns.get_loc("reason"), "deviation", load.grids["deviation"].to_numpy())
    checked.insert(checked.columns.get_loc("reason"), "balanced", load.grids["balanced"].to_numpy())
    figures = _figures(checked, comm_frame, b_frame, plan, problems_layer, load, opts, counted_as, repaired, started)
    result = CheckResult(problems=problems_layer, grids=checked.drop(columns=["reason", "note"]), figures=figures,
                         strict=opts.strict)
    log.info("checked %d grids in %d communities: %d findings, %s in %.1f s", n, len(comm_frame), len(problems_layer),
             "ok" if result.ok else "rules broken", figures["seconds"])
    return result


# ----------------------------------------------------------------------------- inputs


def _to(values: np.ndarray, layer: gpd.GeoDataFrame, crs: Any, role: str, problems: Problems) -> np.ndarray:
    """Geometries of ``layer`` in the grids' CRS (unchanged when already in it); unprojectable ones reported."""
    if layer.crs == crs:
        return values
    out = gpd.GeoSeries(values, index=layer.index, crs=layer.crs).to_crs(crs).to_numpy()
    xy, at = shapely.get_coordinates(out, return_index=True)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        problems.add(InputDataError(
            f"{len(np.unique(at[bad]))} {role} features cannot be moved to the grids' CRS {crs.to_string()}",
            path=layer.attrs.get("source"), feature_ids=list(layer.index[np.unique(at[bad])]), field="geometry",
            hint="check that each layer's CRS is the one its coordinates are in"))
    return out


def _labels(grids: gpd.GeoDataFrame, field_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Each grid's code as given, and a unique name: the code, or the code and the feature id when it is not."""
    if field_name in grids:
        given = grids[field_name].astype("string").fillna("").str.strip()
    else:
        given = pd.Series("", index=grids.index, dtype="string")
    shared = given.duplicated(keep=False) | (given == "")
    ids = pd.Series(grids.index.astype(str), index=grids.index)
    label = given.where(~shared, given.where(given != "", "no code") + " (feature " + ids + ")")
    return given.to_numpy(dtype=object), label.to_numpy(dtype=object)


def _dedicated(grids: gpd.GeoDataFrame, name: str, problems: Problems) -> np.ndarray:
    if name not in grids:
        return np.zeros(len(grids), dtype=bool)
    text = grids[name].astype("string").fillna("").str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        problems.add(InputDataError(
            f"{int(bad.sum())} values of {name!r} are not yes/no", path=grids.attrs.get("source"),
            feature_ids=list(grids.index[bad.to_numpy()]), field=name,
            hint="mark dedicated grids (专属网格) with 1/true/yes and the others 0/false/no or empty"))
    return text.isin(_TRUE).to_numpy()


def _grid_households(grids: gpd.GeoDataFrame, name: str, problems: Problems, *, required: bool) -> pd.Series | None:
    """The grids' households field (None when absent and not required); bad values reported when required."""
    path = grids.attrs.get("source")
    if name not in grids:
        if required:
            fields = ", ".join(map(str, grids.columns.drop(grids.geometry.name))) or "(none)"
            problems.add(MissingFieldError(
                f"the grids have no households field {name!r} and no buildings were given (fields: {fields})",
                path=path, field=name,
                hint="give --buildings FILE to count households from buildings, or name the grids' field with "
                     "--households-field"))
        return None
    values = pd.to_numeric(grids[name], errors="coerce").astype(float)
    whole = values.notna() & np.isfinite(values) & (values >= 0) & (values == values.round())
    if required and not whole.all():
        problems.add(InputDataError(
            f"{int((~whole).sum())} households values of the grids are not whole numbers >= 0", path=path,
            feature_ids=list(grids.index[~whole.to_numpy()]), field=name,
            hint="fill in each grid's households, or give --buildings FILE to count them"))
        return None
    return values.where(whole, -1).astype(np.int64)


def _bound_reasons(households: np.ndarray, kind: np.ndarray, comm: np.ndarray, piece: np.ndarray,
                   dedicated: np.ndarray, bounds: dict[str, Any], members: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Why each grid is outside the bounds, with the partition's data reason codes where the data forces it.

    ``community_below_min``: the community's regular households are below the minimum
    and it has one regular grid; ``part_below_min``: the same for one part of a community
    in several parts (``piece`` numbers the parts); ``no_grouping``: no number of grids
    divides them within the bounds; ``building_above_max``: the grid is one building
    (``members`` counts the buildings of each grid) above the maximum; otherwise
    ``outside_bounds``.
    """
    lo = np.array([bounds[k].min for k in kind], dtype=np.int64)
    hi = np.array([bounds[k].max for k in kind], dtype=np.int64)
    regular = ~dedicated
    frame = pd.DataFrame({"comm": comm, "hh": np.where(regular, households, 0), "regular": regular})
    total = frame.groupby("comm")["hh"].transform("sum").to_numpy()
    n_regular = frame.groupby("comm")["regular"].transform("sum").to_numpy()
    frame["piece"] = piece
    part_total = frame.groupby("piece")["hh"].transform("sum").to_numpy()
    part_regular = frame.groupby("piece")["regular"].transform("sum").to_numpy()
    several = frame.groupby("comm")["piece"].transform("nunique").to_numpy() > 1
    outside = regular & ((households < lo) | (households > hi))
    reason = np.where(outside, "outside_bounds", "").astype(object)
    note = np.where(outside, [f"{h} households, outside the bounds {a}-{b}" for h, a, b in zip(households, lo, hi)],
                    "").astype(object)
    no_k = -(-total // hi) > total // lo
    one_building = np.zeros(len(households), dtype=bool) if members is None else members == 1
    for mask, code, text in (
        (outside & several & (piece >= 0) & (part_total < lo) & (part_regular == 1), "part_below_min",
         "a part of the community cut off by its boundary holds only {p} households, below the minimum {a}"),
        (outside & no_k & (total >= lo), "no_grouping",
         "the community's {t} households cannot be divided into grids of {a}-{b}"),
        (outside & (total < lo) & (n_regular == 1), "community_below_min",
         "the community holds only {t} households, below the minimum {a}"),
        (outside & (households > hi) & one_building, "building_above_max",
         "one building holds {h} households, above the maximum {b}"),
    ):
        for k in np.flatnonzero(mask):
            reason[k] = code
            note[k] = text.format(t=int(total[k]), p=int(part_total[k]), a=lo[k], b=hi[k], h=int(households[k]))
    reason[dedicated] = "dedicated"
    return reason, note


# ----------------------------------------------------------------------------- findings


def _field_mismatch(grids: gpd.GeoDataFrame, given: pd.Series) -> gpd.GeoDataFrame:
    """Grids whose households field differs from what their buildings hold."""
    said = given.to_numpy(dtype=np.int64)
    differ = said != grids["households"].to_numpy()
    rows = [{"rule": "households_conserved", "code": "field_mismatch", "community_code": grids["community_code"].iat[k],
             "grid_code": grids["grid_code"].iat[k],
             "reason": (f"the grid's households field says {said[k] if said[k] >= 0 else 'nothing valid'}, "
                        f"its buildings hold {int(grids['households'].iat[k])}"),
             "geometry": grids.geometry.iat[k]} for k in np.flatnonzero(differ)]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=ISSUE_COLUMNS), geometry="geometry", crs=grids.crs)


def _concat(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if not len(b):
        return a
    if not len(a):
        return b
    return gpd.GeoDataFrame(pd.concat([a, b], ignore_index=True), geometry="geometry", crs=a.crs)


def _problems_layer(found: gpd.GeoDataFrame, plan: Plan) -> gpd.GeoDataFrame:
    """The findings with their severity, grid codes, the grid's households and the area of the place in m²."""
    out = pd.DataFrame({c: found[c].to_numpy() if c in found else np.full(len(found), "", dtype=object)
                        for c in ISSUE_COLUMNS if c != "geometry"})
    out["severity"] = [severity_of(r, c) for r, c in zip(out["rule"], out["code"])]
    codes = found["grid_codes"] if "grid_codes" in found else pd.Series("", index=found.index)
    codes = codes.fillna("").astype(str).to_numpy(dtype=object)
    out["grid_codes"] = np.where(codes == "", out["grid_code"].astype(str).to_numpy(dtype=object), codes)
    hh = pd.Series(plan.grids["households"].to_numpy(), index=plan.grids["grid_code"].astype(str).to_numpy())
    out["households"] = out["grid_code"].astype(str).map(hh).astype("Int64")
    geoms = found.geometry.to_numpy()
    out["area_m2"] = plan.area_m2(geoms).round(2) if len(geoms) else np.zeros(0)
    for c in ("rule", "severity", "code", "community_code", "grid_code", "grid_codes", "reason"):
        out[c] = out[c].fillna("").astype(str)
    return gpd.GeoDataFrame(out[PROBLEM_COLUMNS[:-1]], geometry=geoms, crs=plan.grids.crs)


def _figures(grids: gpd.GeoDataFrame, comm: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None, plan: Plan,
             found: gpd.GeoDataFrame, load: Any, opts: CheckOptions, counted_as: str, repaired: dict[str, int],
             started: float) -> dict[str, Any]:
    in_grids = int(grids["households"].sum())
    figures: dict[str, Any] = {
        "grids": len(grids),
        "communities": len(comm),
        "dedicated_grids": int(grids["dedicated"].sum()),
        "households_counted_as": counted_as,
        "households_in_grids": in_grids,
        "gap_area_m2": float(found.loc[found["code"] == "gap", "area_m2"].sum()),
        "overlap_area_m2": float(found.loc[found["code"] == "overlap", "area_m2"].sum()),
        "findings": {sev: int((found["severity"] == sev).sum()) for sev in SEVERITIES},
        "balance": load.overall(),
        "bounds": {k: vars(v) for k, v in opts.bounds().items()},
        "tolerance": opts.tolerance,
        "crs": grids.crs.to_string() if grids.crs is not None else None,
        "metric_crs": plan.measure_crs().to_string(),
        "repaired": dict(repaired),
    }
    if buildings is not None:
        hh = buildings["households"].to_numpy(dtype=np.int64)
        none = buildings["grid_code"].to_numpy() == ""
        figures.update({
            "buildings": len(buildings),
            "households_in": int(hh.sum()),
            "households_outside_grids": int(hh[none].sum()),
            "buildings_outside_grids": int(none.sum()),
            "buildings_cut": len(cut_buildings(plan)),
        })
        figures["households_conserved"] = figures["households_in"] == in_grids + figures["households_outside_grids"]
    figures["seconds"] = round(time.perf_counter() - started, 3)
    return figures
