"""The report of a check: the verdict, the figures, every finding with its place, as data, Markdown and JSON."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from gridkit.check.checker import SEVERITIES, CheckResult
from gridkit.partition.report import package_versions, report_json
from gridkit.partition.rules import RULES, SOFT_RULES

__all__ = ["report_from_check", "report_json", "report_markdown"]

#: findings listed in report.md (all of them are in report.json and problems.gpkg)
_MD_ROWS = 300


def report_from_check(result: CheckResult, *, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The verdict, figures, rules with their findings per severity, each finding and its place, as JSON data.

    The place of a finding is a point on its geometry (``x``, ``y``) in the grids' CRS.
    """
    p = result.problems
    where = shapely.point_on_surface(p.geometry.to_numpy()) if len(p) else np.zeros(0, dtype=object)
    records = p.drop(columns=p.geometry.name).assign(x=shapely.get_x(where), y=shapely.get_y(where))
    records["households"] = records["households"].astype(object).where(records["households"].notna(), None)
    rules = {}
    for rule_id, rule in {**RULES, **SOFT_RULES}.items():
        mine = p[p["rule"] == rule_id]
        rules[rule_id] = {"text": rule.text, "binding": rule_id not in SOFT_RULES,
                          **{sev: int((mine["severity"] == sev).sum()) for sev in SEVERITIES}}
    g = result.grids
    per_community = []
    for code, part in g.groupby("community_code", sort=True):
        regular = part.loc[~part["dedicated"], "households"]
        mine = p[p["community_code"] == code]
        per_community.append({
            "community_code": code or "(outside every community)",
            "grids": len(part), "households": int(part["households"].sum()),
            "min_households": int(regular.min()) if len(regular) else 0,
            "max_households": int(regular.max()) if len(regular) else 0,
            **{sev: int((mine["severity"] == sev).sum()) for sev in SEVERITIES},
        })
    fig = dict(result.figures)
    return {
        "ok": result.ok,
        "strict": result.strict,
        "overall": fig,
        "severities": SEVERITIES,
        "rules": rules,
        "problems": records.to_dict("records"),
        "communities": per_community,
        "reproduce": {"parameters": parameters or {}, "versions": package_versions()},
    }


def report_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown for people."""
    o = report["overall"]
    verdict = ("**Every rule holds.**" if report["ok"] else
               "**Rules are broken** (see below; each place is in problems.gpkg).")
    lines = [
        "# Grid plan check (网格检查)", "",
        (f"{o['grids']} grids ({o['dedicated_grids']} dedicated) in {o['communities']} communities, "
        f"{o['households_in_grids']:,} households in grids, counted from {o['households_counted_as']}."), "",
        verdict, "",
        "| figure | value |", "| --- | --- |",
    ]
    if "households_in" in o:
        lines.append(f"| households in buildings / in grids / in no grid | {o['households_in']:,} / "
                     f"{o['households_in_grids']:,} / {o['households_outside_grids']:,} |")
        lines.append(f"| buildings cut by a grid boundary | {o['buildings_cut']:,} |")
    b = o["balance"]
    lines += [
        f"| gaps / overlaps between grids | {o['gap_area_m2']:,.1f} m² / {o['overlap_area_m2']:,.1f} m² |",
        (f"| grids within ±{o['tolerance']:.0%} of their community's mean (任务相当) | "
         f"{b['share_within_tolerance']:.1%} of {b['grids_counted']:,} |"),
        f"| median coefficient of variation per community | {b['median_cv']:.3f} |",
        (f"| findings: broken / unavoidable / soft | {o['findings']['broken']} / {o['findings']['unavoidable']} / "
        f"{o['findings']['soft']} |"),
        f"| CRS checked in / areas measured in | {o['crs']} / {o['metric_crs']} |",
        f"| run time | {o['seconds']:.1f} s |",
    ]
    if "households_in" not in o:
        lines += ["", ("No buildings were given: rule 5 (no building split, every household counted once) is not "
                  "checked, and the households are the grids' own field.")]
    if o.get("repaired"):
        lines += ["", "Invalid geometries repaired before checking (made valid, as gridkit's reader does): "
                  + ", ".join(f"{layer} {n}" for layer, n in o["repaired"].items()) + "."]
    lines += ["", "## Rules", "", "| rule | broken | unavoidable | soft |", "| --- | ---: | ---: | ---: |"]
    for rule_id, r in report["rules"].items():
        text = r["text"] + ("" if r["binding"] else " (soft)")
        lines.append(f"| {text} (`{rule_id}`) | {r['broken']} | {r['unavoidable']} | {r['soft']} |")
    lines += ["", "Severities: " + "; ".join(f"**{k}** {v}" for k, v in report["severities"].items()) + ".",
              "", "## Findings", ""]
    problems = report["problems"]
    if not problems:
        lines.append("None: every grid keeps every rule.")
    else:
        lines += ["| rule | severity | community | grid(s) | area m² | where (x, y) | why |",
                  "| --- | --- | --- | --- | ---: | --- | --- |"]
        for r in problems[:_MD_ROWS]:
            lines.append(f"| {r['rule']} | {r['severity']} | {r['community_code']} | {r['grid_codes']} | "
                         f"{r['area_m2']:,.1f} | {_xy(r['x'], r['y'])} | {r['reason']} |")
        if len(problems) > _MD_ROWS:
            lines += ["", f"… and {len(problems) - _MD_ROWS} more findings, all in report.json and problems.gpkg."]
    lines += ["", "## Communities", "", "| code | grids | households | min | max | broken | unavoidable | soft |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in report["communities"]:
        lines.append(f"| {c['community_code']} | {c['grids']} | {c['households']:,} | {c['min_households']} | "
                     f"{c['max_households']} | {c['broken']} | {c['unavoidable']} | {c['soft']} |")
    rep = report["reproduce"]
    lines += ["", "## Reproduce", "", f"Bounds {o['bounds']}; tolerance {o['tolerance']}.", "",
              "Parameters: `" + " ".join(f"{k}={v}" for k, v in rep["parameters"].items()) + "`", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in rep["versions"].items()), ""]
    return "\n".join(lines)


def _xy(x: float, y: float) -> str:
    if pd.isna(x) or pd.isna(y):
        return ""
    digits = 6 if abs(x) <= 360 and abs(y) <= 90 else 1
    return f"{x:.{digits}f}, {y:.{digits}f}"
