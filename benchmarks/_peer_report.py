"""Quality figures and the Markdown table of ``benchmarks/compare_peers.py``.

:func:`region_metrics` measures one labelling of the units (bounds, contiguity,
compactness, balance); :func:`markdown_table` renders every tool's row. The balance
figures follow the definition of gridkit's report (``gridkit.partition.workload``): a
region is *balanced* when its households lie within ``tolerance`` (±20 %) of the mean
households of the regions of its community; the CV is std / mean (ddof 0) per community,
and the median is taken over communities with at least two regions. The peer data hold
one community, so the median community CV is that community's CV; a ``community``
column in the units would make it a true median.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BALANCE_TOLERANCE", "Bounds", "balance_metrics", "fmt_time", "markdown_table", "region_metrics"]

#: Share of the community mean a balanced region may differ by (gridkit's default tolerance).
BALANCE_TOLERANCE = 0.2


@dataclass(frozen=True)
class Bounds:
    """Household bounds every tool is asked to meet.

    Attributes
    ----------
    min_households, max_households : int
        Inclusive bounds on households per region.
    target : int
        Households a region should have; sets the number of regions where a tool
        needs one.
    """

    min_households: int = 200
    max_households: int = 500
    target: int = 300


def balance_metrics(
    per_region: np.ndarray, region_community: np.ndarray, *, tolerance: float = BALANCE_TOLERANCE
) -> dict[str, float]:
    """Median community CV and share of regions within ``tolerance`` of their community's mean.

    Parameters
    ----------
    per_region : numpy.ndarray
        Households of each region.
    region_community : numpy.ndarray
        The community of each region (any hashable labels).
    tolerance : float
        Share of the community mean a balanced region may differ by.

    Returns
    -------
    dict
        ``cv_median`` (median over communities with two or more regions of std/mean,
        ddof 0; 0 when there is none), ``balanced`` (share of the regions of those
        communities within the tolerance; 1 when there is none), ``communities``
        (how many communities were counted).

    Examples
    --------
    >>> m = balance_metrics(np.array([300.0, 310.0, 200.0]), np.array(["a", "a", "a"]))
    >>> round(m["balanced"], 3), round(m["cv_median"], 3)
    (0.667, 0.184)
    """
    per_region = np.asarray(per_region, dtype=float)
    _, comm = np.unique(np.asarray(region_community), return_inverse=True)
    count = np.bincount(comm)
    mean = np.bincount(comm, weights=per_region) / count
    sq = np.bincount(comm, weights=(per_region - mean[comm]) ** 2) / count
    cv = np.sqrt(sq) / np.where(mean > 0, mean, 1.0)
    several = count >= 2
    counted = several[comm]
    m = mean[comm]
    within = np.abs(per_region - m) <= tolerance * m + 1e-9
    return {
        "cv_median": float(np.median(cv[several])) if several.any() else 0.0,
        "balanced": float(within[counted].mean()) if counted.any() else 1.0,
        "communities": int(several.sum()),
    }


def region_metrics(units: Any, edges: np.ndarray, labels: np.ndarray, bounds: Bounds) -> dict[str, float]:
    """Quality figures of a labelling.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units with ``households`` and Polygon geometry (a coverage); an optional
        ``community`` column groups them for the balance figures.
    edges : numpy.ndarray
        ``(m, 2)`` rook pairs.
    labels : numpy.ndarray
        One int label per unit; negative = unassigned.
    bounds : Bounds
        Household bounds.

    Returns
    -------
    dict
        ``regions``, ``unassigned`` (units), ``within`` (share of regions within
        bounds), ``contiguous`` (share of regions connected in the rook graph),
        ``pp_mean``/``pp_min`` (Polsby-Popper 4πA/P² of the dissolved regions),
        ``cv`` (std/mean of households per region, ddof=0), ``hh_min``/``hh_max``,
        ``cv_median`` and ``balanced`` (:func:`balance_metrics`).
    """
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = np.asarray(labels, dtype=np.int64)
    n = len(units)
    if labels.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {labels.shape}")
    assigned = labels >= 0
    region = np.full(n, -1, dtype=np.int64)
    _, region[assigned] = np.unique(labels[assigned], return_inverse=True)
    p = int(region.max()) + 1 if assigned.any() else 0
    hh = units["households"].to_numpy(dtype=np.int64)
    per = np.bincount(region[assigned], weights=hh[assigned], minlength=p)

    # Contiguity: components of the graph keeping only edges inside one region.
    a, b = edges[:, 0], edges[:, 1]
    intra = (region[a] == region[b]) & (region[a] >= 0)
    g = coo_matrix((np.ones(intra.sum()), (a[intra], b[intra])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    pairs = np.unique(np.column_stack([region[assigned], comp[assigned]]), axis=0)
    pieces = np.bincount(pairs[:, 0], minlength=p)

    # Polsby-Popper of dissolved regions (coverage union per region).
    geoms = units.geometry.values
    order = np.argsort(region, kind="stable")
    order = order[region[order] >= 0]
    cuts = np.flatnonzero(np.diff(region[order])) + 1
    groups = np.split(order, cuts)
    dissolved = np.array([shapely.coverage_union_all(np.asarray(geoms[idx])) for idx in groups])
    area, perim = shapely.area(dissolved), shapely.length(dissolved)
    pp = 4.0 * np.pi * area / perim**2

    # Community of each region: that of its first unit (regions never span two in these data).
    community = units["community"].to_numpy() if "community" in units.columns else np.zeros(n, dtype=np.int64)
    region_community = np.array([community[idx[0]] for idx in groups])

    return {
        "regions": p,
        "unassigned": int((~assigned).sum()),
        "within": float(np.mean((per >= bounds.min_households) & (per <= bounds.max_households))),
        "contiguous": float(np.mean(pieces == 1)),
        "pp_mean": float(pp.mean()),
        "pp_min": float(pp.min()),
        "cv": float(per.std() / per.mean()),
        "hh_min": float(per.min()),
        "hh_max": float(per.max()),
        **{k: v for k, v in balance_metrics(per, region_community).items() if k != "communities"},
    }


def fmt_time(s: float | None) -> str:
    """Seconds with sensible precision (``—`` for none)."""
    if s is None:
        return "—"
    return f"{s:.3f}" if s < 1 else f"{s:.2f}" if s < 10 else f"{s:.1f}"


def markdown_table(results: list[Any], bounds: Bounds) -> str:
    """Render the results as one Markdown table (rows grouped by size).

    Parameters
    ----------
    results : list of compare_peers.ToolResult
        All runs, in order.
    bounds : Bounds
        For the column header.

    Returns
    -------
    str
    """
    lo, hi = bounds.min_households, bounds.max_households
    tol = f"±{100 * BALANCE_TOLERANCE:.0f} %"
    head = ["units", "tool", "regions", f"in [{lo}, {hi}]", "contiguous", "PP mean", "PP min",
            "community CV (median)", f"within {tol} of mean", "hh min–max", "time s", "× gridkit",
            "peak MiB (Δ)", "notes"]
    align = ["---:", "---"] + ["---:"] * (len(head) - 3) + ["---"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    ref: dict[int, float] = {
        r.n_units: r.seconds for r in results if r.tool == "gridkit" and r.status == "ok" and r.seconds is not None
    }
    for r in results:
        m = r.metrics
        if r.status == "ok":
            base = ref.get(r.n_units)
            ratio = f"{r.seconds / base:.1f}×" if base and r.seconds is not None else "—"
            mem = "—"
            if r.peak_rss_mib is not None:
                delta = max(0.0, r.peak_rss_mib - (r.rss_before_mib or 0.0))
                mem = f"{r.peak_rss_mib:.0f} (+{delta:.0f})"
            note = r.note
            if m.get("unassigned"):
                note = f"{note}; {m['unassigned']} units unassigned".lstrip("; ")
            cells = [
                f"{r.n_units:,}", r.display, f"{m['regions']:,}", f"{100 * m['within']:.1f} %",
                f"{100 * m['contiguous']:.1f} %", f"{m['pp_mean']:.3f}", f"{m['pp_min']:.3f}",
                f"{m['cv_median']:.3f}", f"{100 * m['balanced']:.1f} %",
                f"{m['hh_min']:.0f}–{m['hh_max']:.0f}", fmt_time(r.seconds), ratio, mem, note,
            ]
        else:
            cells = [f"{r.n_units:,}", r.display] + ["—"] * 8 + [r.status, "—", "—", r.note]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)
