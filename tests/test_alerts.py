"""Early warning: Poisson test against each grid's trailing baseline, Benjamini-Hochberg adjusted."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from gridkit.errors import InputDataError, MissingFieldError, ParameterError
from gridkit.heat.alerts import ALERT_COLUMNS, alerts_for_grids, benjamini_hochberg

START = pd.Timestamp("2024-01-01")
DAYS = 63  # 9 weeks: 8 baseline windows + the last one
AS_OF = "2024-03-03"  # the last day: the window is 2024-02-26 (exclusive, end of day) to 2024-03-03


def poisson_incidents(rng: np.random.Generator, *, grids: int = 40, spike: tuple[int, float] | None = None):
    """Daily Poisson counts per grid over 63 days; optionally extra 0505 incidents in one grid's last week."""
    rates = rng.uniform(0.2, 3.0, grids)
    counts = rng.poisson(rates[:, None], (grids, DAYS))
    grid = np.repeat(np.arange(grids), counts.sum(axis=1))
    day = np.concatenate([np.repeat(np.arange(DAYS), row) for row in counts])
    category = rng.choice(["0101", "0102", "0501"], len(grid))
    if spike is not None:
        which, extra = spike
        n = rng.poisson(extra)
        grid = np.concatenate([grid, np.full(n, which)])
        day = np.concatenate([day, rng.integers(DAYS - 7, DAYS, n)])
        category = np.concatenate([category, np.full(n, "0505")])
    seconds = rng.uniform(0, 86_400, len(grid))
    return pd.DataFrame({
        "grid_code": [f"5201990010010{g:02d}" for g in grid],
        "community_code": "520199001001",
        "category": category,
        "reported_at": START + pd.to_timedelta(day, "D") + pd.to_timedelta(seconds, "s"),
    })


def test_alert_fires_on_injected_spike_and_names_its_category():
    rng = np.random.default_rng(20240630)
    spiked = alerts_for_grids(poisson_incidents(rng, spike=(7, 25.0)), as_of=AS_OF)
    assert spiked.index[spiked["alert"]].tolist() == ["520199001001007"]
    row = spiked.loc["520199001001007"]
    assert (row.category, row.category_zh, row.category_en) == ("0505", "机动车乱停放", "illegal car parking")
    assert row.observed > 3 * row.baseline_mean
    assert list(spiked.columns) == list(ALERT_COLUMNS)


def test_silent_without_the_spike():
    rng = np.random.default_rng(20240630)
    quiet = alerts_for_grids(poisson_incidents(rng), as_of=AS_OF)
    assert not quiet["alert"].any()
    assert quiet.attrs["grids_tested"] == 40 and quiet.attrs["alerts"] == 0


def test_stationary_series_alert_no_more_than_alpha_allows():
    """Under no change, any alert in a run is a false discovery: BH keeps P(any) <= alpha per run."""
    alpha, seeds = 0.01, 50
    runs_with_alert, raw_rejections, tests = 0, 0, 0
    for seed in range(seeds):
        table = alerts_for_grids(poisson_incidents(np.random.default_rng(seed)), as_of=AS_OF, alpha=alpha)
        runs_with_alert += bool(table["alert"].any())
        raw_rejections += int((table["p_value"] <= alpha).sum())
        tests += len(table)
    # a binomial bound on runs at rate alpha that fails by chance with probability 0.001
    assert runs_with_alert <= stats.binom.isf(0.001, seeds, alpha)
    # the unadjusted test is calibrated: the rejection rate at alpha stays near alpha
    assert raw_rejections / tests <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / tests)


def test_hand_computed_window_baseline_and_p_value():
    as_of = pd.Timestamp("2024-03-03 12:00")
    # baseline: 2 incidents in each of the 8 weeks before the window; window: 8 incidents
    times = [as_of - pd.Timedelta(days=7 * k + 1) for k in range(1, 9) for _ in range(2)]
    times += [as_of - pd.Timedelta(hours=h) for h in range(8)]
    times += [as_of + pd.Timedelta(hours=1)]  # after as_of: ignored
    times += [as_of - pd.Timedelta(days=7 * 9 + 1)]  # before the baseline: ignored
    df = pd.DataFrame({"grid_code": "g", "category": "0102", "reported_at": times})
    table = alerts_for_grids(df, as_of=as_of)
    row = table.loc["g"]
    assert (row.observed, row.baseline_mean, row.ratio) == (8, 2.0, 4.0)
    hand = 1 - sum(math.exp(-2) * 2**k / math.factorial(k) for k in range(8))  # P(X >= 8), X ~ Poisson(2)
    assert row.p_value == pytest.approx(hand, rel=1e-9)
    assert row.q_value == pytest.approx(hand, rel=1e-9)  # one grid: BH leaves p as it is
    assert bool(row.alert) is (hand <= 0.01)
    assert table.attrs["incidents_used"] == 24


def test_window_edges():
    as_of = pd.Timestamp("2024-03-03 00:00")
    edge = [as_of, as_of - pd.Timedelta(days=7), as_of - pd.Timedelta(days=7) + pd.Timedelta(seconds=1)]
    df = pd.DataFrame({"grid_code": "g", "category": "0102", "reported_at": edge})
    row = alerts_for_grids(df, as_of=as_of).loc["g"]
    # (as_of - 7 days, as_of]: the first and third are in the window, the second in the baseline
    assert row.observed == 2 and row.baseline_mean == pytest.approx(1 / 8)


def test_a_date_as_of_means_the_end_of_that_day():
    df = pd.DataFrame({"grid_code": "g", "category": "0102", "reported_at": ["2024-03-03T23:59:00"]})
    assert alerts_for_grids(df, as_of="2024-03-03").loc["g", "observed"] == 1
    assert alerts_for_grids(df, as_of="2024-03-02").empty


def test_quiet_grid_with_sudden_incidents_alerts_against_the_floor():
    as_of = pd.Timestamp("2024-03-03")
    three = pd.DataFrame({"grid_code": "q", "category": "0401", "reported_at": [as_of] * 3})
    row = alerts_for_grids(three, as_of=as_of).loc["q"]
    assert row.baseline_mean == 0 and math.isinf(row.ratio)
    assert row.p_value == pytest.approx(stats.poisson.sf(2, 0.5 / 8))
    assert bool(row.alert)
    two = alerts_for_grids(three.iloc[:2], as_of=as_of)
    assert not two["alert"].any()  # below min_count, however small p is


def test_incidents_outside_grids_are_not_tested_but_counted():
    df = pd.DataFrame({"grid_code": ["", "", "g"], "category": "0102",
                       "reported_at": ["2024-03-01", "2024-03-02", "2024-03-02"]})
    table = alerts_for_grids(df)
    assert table.index.tolist() == ["g"]
    assert table.attrs["incidents_outside_grids"] == 2


def test_driving_category_is_the_largest_excess_over_its_own_baseline():
    as_of = pd.Timestamp("2024-03-03")
    base = [(as_of - pd.Timedelta(days=8 + k), "0102") for k in range(0, 56, 2)]  # 28 in the baseline: 3.5/week
    window = [(as_of - pd.Timedelta(hours=h), "0102") for h in range(6)]  # 6 vs 3.5: excess 2.5
    window += [(as_of - pd.Timedelta(hours=h), "0301") for h in range(3)]  # 3 vs 0: excess 3
    df = pd.DataFrame(base + window, columns=["reported_at", "category"]).assign(grid_code="g")
    row = alerts_for_grids(df, as_of=as_of).loc["g"]
    assert (row.category, row.category_observed, row.category_baseline_mean) == ("0301", 3, 0.0)


def test_unknown_category_code_is_kept_without_a_name():
    df = pd.DataFrame({"grid_code": "g", "category": "0999", "reported_at": ["2024-03-03"] * 4})
    row = alerts_for_grids(df).loc["g"]
    assert row.category == "0999" and pd.isna(row.category_zh) and pd.isna(row.category_en)


@pytest.mark.parametrize("option", [{"window_days": 0}, {"baseline_weeks": -1}, {"alpha": 1.5}, {"min_count": 0},
                                    {"as_of": "not a date"}])
def test_bad_options(option):
    df = pd.DataFrame({"grid_code": "g", "category": "0102", "reported_at": ["2024-03-03"]})
    with pytest.raises(ParameterError):
        alerts_for_grids(df, **option)


def test_bad_data_names_rows_and_field():
    df = pd.DataFrame({"grid_code": "g", "category": "0102", "reported_at": ["2024-03-03", "yesterday", ""]})
    df.attrs["source"] = "incidents.csv"
    with pytest.raises(InputDataError) as err:
        alerts_for_grids(df)
    assert err.value.feature_ids == [1] and err.value.field == "reported_at"
    with pytest.raises(MissingFieldError):
        alerts_for_grids(df.drop(columns="category"))


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1009), min_size=1, max_size=30), st.sampled_from([0.01, 0.05, 0.2]))
def test_benjamini_hochberg_matches_the_step_up_rule(numerators, alpha):
    # p = i / 1009 (a prime): p * m / k never equals alpha exactly, so rounding cannot flip a decision
    p = np.array(numerators) / 1009
    m = len(p)
    ranked = np.sort(p)
    passing = np.flatnonzero(ranked <= np.arange(1, m + 1) * alpha / m)
    threshold = ranked[passing[-1]] if passing.size else -1.0
    q = benjamini_hochberg(p)
    assert np.array_equal(q <= alpha, p <= threshold)
    assert np.all(q >= p) and np.all(q <= 1)


def test_nothing_in_range_gives_an_empty_table_with_its_window():
    df = pd.DataFrame({"grid_code": ["g", ""], "category": "0102", "reported_at": ["2024-03-03", "2024-03-04"]})
    table = alerts_for_grids(df, as_of="2020-01-01")
    assert table.empty and list(table.columns) == list(ALERT_COLUMNS)
    assert table.attrs["grids_tested"] == 0 and table.attrs["incidents_outside_grids"] == 1
    assert table.attrs["as_of"] == pd.Timestamp("2020-01-02") - pd.Timedelta(1, "ns")


def test_as_of_with_an_offset_is_converted_to_local_time():
    df = pd.DataFrame({"grid_code": "g", "category": "0102",
                       "reported_at": ["2024-03-03T23:00:00", "2024-03-03T23:45:00"]})
    table = alerts_for_grids(df, as_of="2024-03-03T15:30:00Z")  # 23:30 in Beijing
    assert table.loc["g", "observed"] == 1
    assert table.attrs["as_of"] == pd.Timestamp("2024-03-03T23:30:00")
