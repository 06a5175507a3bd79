"""The quality report of a partition: figures, rules not met and why, how to reproduce."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridkit.partition.changes import changes_markdown, changes_report
from gridkit.partition.reasons import REASONS, explained_by_data
from gridkit.partition.result import PartitionResult
from gridkit.partition.rules import RULES, one_piece, tiling_error
from gridkit.partition.workload import BALANCE_REASONS

__all__ = ["feasible_communities", "package_versions", "report_from_result", "report_json", "report_markdown"]

_PACKAGES = ("gridkit", "numpy", "pandas", "shapely", "geopandas", "pyproj", "pyogrio", "scipy", "networkx")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "geos": ".".join(map(str, shapely.geos_version))}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def report_from_result(result: PartitionResult, *, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a planner needs to defend the partition, as JSON-ready data."""
    grids = result.grids_metric
    fig = result.figures
    tiling = tiling_error(grids, result.communities_metric)
    feasible_comm = feasible_communities(grids)
    in_feasible = grids["community_code"].isin(feasible_comm)
    regular = ~grids["dedicated"]
    balance = fig.get("balance_communities")
    reasons = fig.get("balance_reasons")
    outside_tol: dict[str, list[Any]] = {}
    if reasons is not None:
        off = grids.assign(balance_reason=reasons).loc[lambda g: ~g["balanced"].astype(bool)]
        _records_by(off, ["grid_code", "households", "deviation", "balance_reason"], outside_tol)
    rules_not_met: dict[str, list[Any]] = {}
    _records_by(result.issues, ["rule", "code", "grid_code", "reason"], rules_not_met)
    # every figure per community from one pass over the grids, not one filter per community
    codes = grids["community_code"]
    per = grids.groupby(codes, sort=True)
    first = per[["community_name", "kind"]].first()
    households = per["households"].sum()
    sizes = per.size()
    dedicated_grids = per["dedicated"].sum()
    regular_hh = grids.loc[~grids["dedicated"].astype(bool), "households"].groupby(codes[~grids["dedicated"].astype(bool)])
    hh_min, hh_median, hh_max = regular_hh.min(), regular_hh.median(), regular_hh.max()
    per_community = []
    for code in sizes.index:
        load = balance.loc[code] if balance is not None and code in balance.index else None
        has_regular = code in hh_min.index
        per_community.append({
            "community_code": code,
            "community_name": str(first.at[code, "community_name"]),
            "kind": str(first.at[code, "kind"]),
            "households": int(households[code]),
            "grids": int(sizes[code]),
            "dedicated_grids": int(dedicated_grids[code]),
            "min_households": int(hh_min[code]) if has_regular else 0,
            "median_households": float(hh_median[code]) if has_regular else 0.0,
            "max_households": int(hh_max[code]) if has_regular else 0,
            "feasible": code in feasible_comm,
            "tiling_error": float(tiling[code]),
            "mean_households": None if load is None else float(load["mean"]),
            "cv": None if load is None else float(load["cv"]),
            "share_within_tolerance": (None if load is None or pd.isna(load["share_within_tolerance"])
                                       else float(load["share_within_tolerance"])),
            "outside_tolerance": outside_tol.get(code, []) if reasons is not None else [],
            "rules_not_met": rules_not_met.get(code, []),
        })
    pieces_ok = one_piece(grids)
    boundary_m = fig["grid_boundary_m"]
    overall = {
        "communities": len(result.communities_metric),
        "grids": len(grids),
        "dedicated_grids": int(grids["dedicated"].sum()),
        "households_in": fig["households_in"],
        "households_in_grids": fig["households_in_grids"],
        "households_outside": fig["households_outside"],
        "buildings_outside": fig["buildings_outside"],
        "buildings_cut_by_grid_boundary": fig["buildings_cut"],
        "households_counted_as": fig["households_counted_as"],
        "geometries_repaired": dict(fig.get("repaired", {})),
        "households_conserved": fig["households_in"] == fig["households_in_grids"] + fig["households_outside"],
        "share_within_bounds": _share(grids.loc[regular, "within_bounds"]),
        "share_within_bounds_feasible": _share(grids.loc[regular & in_feasible, "within_bounds"]),
        "share_one_piece": _share(pieces_ok),
        "mean_compactness": float(grids["compactness"].mean()) if len(grids) else 0.0,
        "share_boundary_on_streets": fig["grid_boundary_on_streets_m"] / boundary_m if boundary_m else 1.0,
        "max_tiling_error": float(tiling.max()) if len(tiling) else 0.0,
        "balanced": fig.get("tolerance") is not None,
        **{f"balance_{k}": v for k, v in fig.get("balance", {}).items()},
        "seconds": round(fig["seconds"], 3),
    }
    changes = changes_report(result)
    return {
        "overall": overall,
        **({"changes": changes} if changes is not None else {}),
        "rules": {rule_id: rule.text for rule_id, rule in RULES.items()},
        "reasons": {code: text for code, text in REASONS.items() if code},
        "rules_not_met": result.issues.to_dict("records"),
        "balance_reasons": {code: text for code, text in BALANCE_REASONS.items() if code},
        "requested_grids_not_met": fig.get("requested_grids", []),
        "communities": per_community,
        "reproduce": {
            "parameters": parameters or {},
            "bounds": fig["bounds"],
            "metric_crs": fig["metric_crs"],
            "versions": package_versions(),
        },
    }


def _records_by(frame: pd.DataFrame, columns: list[str], into: dict[str, list[Any]]) -> None:
    """``frame[columns]`` as records, appended in row order to ``into[community_code]``."""
    records = frame[columns].to_dict("records")
    for code, record in zip(frame["community_code"].tolist(), records, strict=True):
        into.setdefault(code, []).append(record)


def _share(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else 1.0


def feasible_communities(grids: pd.DataFrame) -> set[str]:
    """Communities where the data lets every grid keep the bounds.

    A community is infeasible when one of its grids is outside the bounds for a reason
    of the data (:data:`gridkit.partition.reasons.DATA_REASONS`, read from the ``reason``
    code); a grid the method failed on leaves its community feasible, so the share
    within bounds in feasible communities shows the method's failures.
    """
    explained = (~grids["within_bounds"].astype(bool)) & explained_by_data(grids["reason"].astype(str))
    return set(grids["community_code"]) - set(grids.loc[explained, "community_code"])


def report_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown for people."""
    o = report["overall"]
    lines = [
        "# Grid partition report (网格划分报告)",
        "",
        (f"{o['communities']} communities, {o['grids']} grids ({o['dedicated_grids']} dedicated), "
         f"{o['households_in_grids']:,} households in grids."),
        "",
        *([f"Households were counted as: {o['households_counted_as']}.", ""] if o["households_counted_as"] else []),
        *([("Invalid geometries repaired (made valid, as gridkit's reader does): "
            + ", ".join(f"{layer} {n}" for layer, n in o["geometries_repaired"].items()) + "."), ""]
          if o.get("geometries_repaired") else []),
        "| figure | value |",
        "| --- | --- |",
        f"| grids within the household bounds (feasible communities) | {o['share_within_bounds_feasible']:.1%} |",
        f"| grids within the household bounds (all) | {o['share_within_bounds']:.1%} |",
        f"| grids in one piece | {o['share_one_piece']:.1%} |",
        f"| mean compactness (Polsby-Popper) | {o['mean_compactness']:.3f} |",
        f"| grid boundary on streets (between grids) | {o['share_boundary_on_streets']:.1%} |",
        f"| largest tiling error (share of community area) | {o['max_tiling_error']:.2e} |",
        *_balance_rows(o),
        (f"| households in / in grids / outside every community | {o['households_in']:,} / "
         f"{o['households_in_grids']:,} / {o['households_outside']:,} |"),
        f"| buildings cut by a grid boundary | {o['buildings_cut_by_grid_boundary']:,} |",
        f"| run time | {o['seconds']:.1f} s |",
        "",
        "## Communities",
        "",
        "| code | name | kind | households | grids | min | median | max | rules not met |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in report["communities"]:
        lines.append(
            f"| {c['community_code']} | {c['community_name']} | {c['kind']} | {c['households']:,} | {c['grids']} | "
            f"{c['min_households']} | {c['median_households']:g} | {c['max_households']} | {len(c['rules_not_met'])} |"
        )
    lines += _balance_section(report)
    if "changes" in report:
        lines += changes_markdown(report["changes"])
    lines += ["", "## Rules not met", ""]
    if not report["rules_not_met"]:
        lines.append("Every grid keeps every rule.")
    else:
        lines += ["| rule | community | grid | why |", "| --- | --- | --- | --- |"]
        for r in report["rules_not_met"]:
            lines.append(f"| {r['rule']} | {r['community_code']} | {r['grid_code']} | {r['reason']} |")
    rep = report["reproduce"]
    lines += ["", "## Reproduce", "", (f"Bounds {rep['bounds']}; metric CRS {rep['metric_crs']}. The method is "
              "deterministic: the same inputs and options give the same grids and codes."),
              "", "Parameters: `" + " ".join(f"{k}={v}" for k, v in rep["parameters"].items()) + "`", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in rep["versions"].items()), ""]
    return "\n".join(lines)


def _balance_rows(o: dict[str, Any]) -> list[str]:
    if "balance_tolerance" not in o:
        return []
    tol = o["balance_tolerance"]
    how = "" if o.get("balanced", True) else " (not balanced: --no-balance)"
    return [(f"| grids within ±{tol:.0%} of their community's mean (任务相当){how} | "
            f"{o['balance_share_within_tolerance']:.1%} of {o['balance_grids_counted']:,} |"),
            (f"| median / mean coefficient of variation per community | {o['balance_median_cv']:.3f} / "
            f"{o['balance_mean_cv']:.3f} |")]


def _balance_section(report: dict[str, Any]) -> list[str]:
    """Per community: mean, CV, share within the tolerance; grids outside it and why; grid counts asked for."""
    o = report["overall"]
    if "balance_tolerance" not in o:
        return []
    tol = o["balance_tolerance"]
    lines = ["", f"## Balance (任务相当, tolerance ±{tol:.0%} of the community's mean)", "",
             ("The mean leaves out dedicated grids and grids of one building above the maximum; "
             "communities with one regular grid are not counted."), "",
             "| code | mean households | CV | within tolerance |", "| --- | ---: | ---: | ---: |"]
    for c in report["communities"]:
        if c.get("mean_households") is None:
            continue
        share = "–" if c["share_within_tolerance"] is None else f"{c['share_within_tolerance']:.0%}"
        lines.append(f"| {c['community_code']} | {c['mean_households']:.0f} | {c['cv']:.3f} | {share} |")
    outside = [(c["community_code"], g) for c in report["communities"] for g in c.get("outside_tolerance", [])
               if g["balance_reason"] not in ("dedicated", "single_grid")]
    if outside:
        lines += ["", "Grids outside the tolerance:", "", "| grid | households | from the mean | why |",
                  "| --- | ---: | ---: | --- |"]
        for _, g in outside:
            lines.append(f"| {g['grid_code']} | {g['households']} | {g['deviation']:+.0%} | "
                         f"{BALANCE_REASONS[g['balance_reason']]} |")
    if report.get("requested_grids_not_met"):
        lines += ["", "Grid counts asked for and not met:", "", "| community | asked | made | why |",
                  "| --- | ---: | ---: | --- |"]
        for r in report["requested_grids_not_met"]:
            lines.append(f"| {r['community_code']} | {r['requested']} | {r['grids']} | {r['reason']} |")
    return lines


def report_json(report: dict[str, Any]) -> str:
    """The report as JSON text (numpy numbers as plain numbers)."""
    return json.dumps(report, ensure_ascii=False, indent=2, default=_np_default)


def _np_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")
