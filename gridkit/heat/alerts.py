"""Early warning: grids whose incidents in the last days rise well above their own baseline.

For every grid, :func:`alerts_for_grids` counts the incidents reported in the last window
(default 7 days up to ``as_of``) and in each of the ``baseline_weeks`` windows of the same
length before it. The baseline rate is the mean of those counts, and a one-sided Poisson
test asks how likely a count at least as high as the one observed would be at that rate:
``p = P(X >= observed | X ~ Poisson(baseline))`` (``scipy.stats.poisson.sf``). A grid with
no incident in its baseline is tested against a floor of half an incident over the whole
baseline (``0.5 / baseline_weeks`` per window), so a quiet grid that suddenly has several
incidents is flagged rather than dividing by zero.

Many grids are tested at once, so the p-values are adjusted with the Benjamini-Hochberg
procedure (the false discovery rate is held at ``alpha`` over the grids tested: every grid
with an incident in the window or the baseline). A grid alerts when its adjusted p-value
(``q_value``) is at most ``alpha`` and it had at least ``min_count`` incidents in the window.

The category driving an alert is the one whose count in the window exceeds its own
baseline mean by the most (ties: the smaller code), named in Chinese and English from
:func:`gridkit.codes.event_categories`.

Examples
--------
>>> days = pd.date_range("2024-01-01", periods=63, freq="D")
>>> incidents = pd.DataFrame({
...     "grid_code": ["g1"] * 63 + ["g1"] * 12,
...     "category": ["0102"] * 63 + ["0505"] * 12,
...     "reported_at": list(days) + [days[-1]] * 12})
>>> table = alerts_for_grids(incidents)
>>> row = table.loc["g1"]
>>> int(row.observed), float(row.baseline_mean), bool(row.alert), row.category, row.category_en
(19, 7.0, True, '0505', 'illegal car parking')
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gridkit.errors import MissingFieldError, ParameterError
from gridkit.heat.select import reported_times
from gridkit.times import local_time

__all__ = ["ALERT_COLUMNS", "alerts_for_grids", "benjamini_hochberg"]

log = logging.getLogger(__name__)

#: Columns of the table :func:`alerts_for_grids` returns (the index is ``grid_code``).
ALERT_COLUMNS = (
    "community_code", "window_start", "window_end", "observed", "baseline_mean", "ratio", "p_value",
    "q_value", "alert", "category", "category_zh", "category_en", "category_observed",
    "category_baseline_mean",
)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given.

    ``q_(i) = min over j >= i of p_(j) * m / j`` for the p-values sorted ascending,
    capped at 1. Rejecting every hypothesis with ``q <= alpha`` holds the false
    discovery rate at ``alpha`` for independent (or positively dependent) tests.

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * (m / np.arange(1, m + 1))  # m / k >= 1, so q >= p even after rounding
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    return out


def alerts_for_grids(
    attached_incidents: pd.DataFrame,
    *,
    window_days: int = 7,
    baseline_weeks: int = 8,
    alpha: float = 0.01,
    as_of: str | pd.Timestamp | None = None,
    min_count: int = 3,
    grid_field: str = "grid_code",
    category_field: str = "category",
    time_field: str = "reported_at",
    categories: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Test every grid's count in the last window against its trailing baseline.

    Parameters
    ----------
    attached_incidents
        Incidents with ``grid_field`` (from :func:`gridkit.attach.attach_points`; rows with
        an empty code, outside every grid, are left out and logged), ``time_field`` and
        ``category_field``.
    window_days
        Length of the window and of each baseline window, in days.
    baseline_weeks
        How many windows before the last one make the baseline (8 one-week windows by
        default). Incidents before the baseline are ignored.
    alpha
        False discovery rate for the Benjamini-Hochberg adjustment.
    as_of
        End of the last window (inclusive); None: the latest reporting time. A date alone
        means the end of that day.
    min_count
        Smallest count in the window that can raise an alert.
    categories
        The category table naming the codes; None: :func:`gridkit.codes.event_categories`.

    Returns
    -------
    pandas.DataFrame
        One row per grid tested (any incident in the window or the baseline), indexed by
        ``grid_code``, columns :data:`ALERT_COLUMNS`, sorted by ``q_value`` then by
        ``observed`` (descending). ``attrs`` records the window, the number of grids
        tested, the incidents outside every grid and the parameters.

    Raises
    ------
    MissingFieldError
        A needed field is absent.
    InputDataError
        Reporting times that are not dates (naming the rows).
    ParameterError
        Out-of-range options.
    """
    from gridkit.incidents.categories import event_categories

    _check_options(window_days, baseline_weeks, alpha, min_count)
    for name in (grid_field, category_field):
        if name not in attached_incidents.columns:
            raise MissingFieldError(
                f"the incidents have no {name!r} field", field=name, path=attached_incidents.attrs.get("source"),
                hint="attach the incidents to the grids first (gridkit.attach.attach_points)",
            )
    times = reported_times(attached_incidents, field=time_field)
    grid = attached_incidents[grid_field].astype("string").fillna("").str.strip()
    category = attached_incidents[category_field].astype("string").fillna("").str.strip()

    if as_of is not None:
        end = local_time(as_of, name="as_of (--to)", end_of_day=True)
    elif times.empty:
        raise ParameterError("there are no incidents, so no latest date", hint="give as_of (--to on the command line)")
    else:
        end = pd.Timestamp(times.max())
    window = pd.Timedelta(days=window_days)
    # window k = 0 is the last one: (end - window, end]; k = 1..B the baseline windows
    k = np.floor((end - times).to_numpy() / window.to_timedelta64()).astype("float")
    k[(times > end).to_numpy()] = -1
    inside = grid != ""
    used = (k >= 0) & (k <= baseline_weeks) & inside.to_numpy()
    frame = pd.DataFrame({"grid": grid.to_numpy()[used], "category": category.to_numpy()[used],
                          "last": k[used] == 0})

    counts = frame.groupby("grid")["last"].agg(observed="sum", total="size")
    observed = counts["observed"].to_numpy(dtype=np.int64)
    baseline = (counts["total"].to_numpy() - observed) / baseline_weeks
    rate = np.maximum(baseline, 0.5 / baseline_weeks)
    p_value = stats.poisson.sf(observed - 1, rate)
    q_value = benjamini_hochberg(p_value)
    alert = (q_value <= alpha) & (observed >= min_count)

    driver = _drivers(frame, baseline_weeks)
    names = (categories if categories is not None else event_categories()).set_index("code")
    community = _community_codes(attached_incidents, grid, used)
    table = pd.DataFrame(
        {
            "community_code": community.reindex(counts.index).to_numpy(),
            "window_start": end - window,
            "window_end": end,
            "observed": observed,
            "baseline_mean": baseline,
            "ratio": np.where(baseline > 0, observed / np.where(baseline > 0, baseline, 1), np.inf),
            "p_value": p_value,
            "q_value": q_value,
            "alert": alert,
        },
        index=pd.Index(counts.index.astype(str), name="grid_code"),
    )
    table = table.join(driver)
    table["category_zh"] = table["category"].map(names["name_zh"]).astype("string")
    table["category_en"] = table["category"].map(names["name_en"]).astype("string")
    table = table[list(ALERT_COLUMNS)].sort_values(["q_value", "observed"], ascending=[True, False], kind="stable")
    n_outside = int((~inside).sum())
    table.attrs.update({
        "as_of": end, "window_days": window_days, "baseline_weeks": baseline_weeks, "alpha": alpha,
        "min_count": min_count, "grids_tested": len(table), "alerts": int(table["alert"].sum()),
        "incidents_outside_grids": n_outside, "incidents_used": int(used.sum()),
        "baseline_start": end - window * (baseline_weeks + 1),
    })
    if n_outside:
        log.info("%d incidents outside every grid are not tested", n_outside)
    log.info("early warning as of %s: %d of %d grids alert", end, table.attrs["alerts"], len(table))
    return table


def _check_options(window_days: Any, baseline_weeks: Any, alpha: Any, min_count: Any) -> None:
    for name, value in (("window_days", window_days), ("baseline_weeks", baseline_weeks)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ParameterError(f"{name} must be a whole number >= 1, got {value!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ParameterError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ParameterError(f"min_count must be a whole number >= 1, got {min_count!r}")


def _drivers(frame: pd.DataFrame, baseline_weeks: int) -> pd.DataFrame:
    """Per grid, the category with the largest excess of its window count over its baseline mean."""
    by = frame.groupby(["grid", "category"])["last"].agg(obs="sum", total="size").reset_index()
    by["base"] = (by["total"] - by["obs"]) / baseline_weeks
    by["excess"] = by["obs"] - by["base"]
    by = by.sort_values(["grid", "excess", "category"], ascending=[True, False, True], kind="stable")
    top = by.drop_duplicates("grid").set_index("grid")
    return pd.DataFrame({
        "category": top["category"].astype("string"),
        "category_observed": top["obs"].astype(np.int64),
        "category_baseline_mean": top["base"].astype(float),
    }).rename_axis("grid_code")


def _community_codes(incidents: pd.DataFrame, grid: pd.Series, used: np.ndarray) -> pd.Series:
    if "community_code" not in incidents.columns:
        return pd.Series(dtype="string")
    pairs = pd.DataFrame({"grid": grid.to_numpy()[used],
                          "community": incidents["community_code"].astype("string").to_numpy()[used]})
    return pairs.drop_duplicates("grid").set_index("grid")["community"]

