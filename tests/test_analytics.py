"""Case indicators, deadlines in working time and the evaluation ranking (gridkit.incidents.cases, .evaluation).

The expected figures are worked out by hand in the comments, not copied from a run.
"""

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridkit.errors import InputDataError, MissingFieldError, ParameterError
from gridkit.incidents import cases as an
from gridkit.incidents import evaluation as ev
from gridkit.times import local_times

T = pd.Timestamp


def wh(start, amount, unit="working_hours", calendar=None):
    return pd.Timestamp(an.add_working_time([np.datetime64(start)], amount, unit, calendar=calendar)[0])


# --------------------------------------------------------------------------- working calendar


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        ("2024-06-07T17:00", 2, "working_hours", "2024-06-10T10:00"),  # Fri 17-18, Mon 09-10
        ("2024-06-04T22:00", 1, "working_hours", "2024-06-05T10:00"),  # night: the clock starts at 09:00
        ("2024-06-04T11:30", 1, "working_hours", "2024-06-04T13:30"),  # 11:30-12:00, lunch, 13:00-13:30
        ("2024-06-04T17:00", 1, "working_hours", "2024-06-04T18:00"),  # ends at the end of the day
        ("2024-06-04T12:30", 3, "working_hours", "2024-06-04T16:00"),  # registered at lunch
        ("2024-06-08T10:00", 1, "working_hours", "2024-06-10T10:00"),  # Saturday
        ("2024-06-07T10:00", 1, "working_days", "2024-06-10T10:00"),  # 8 working hours = Mon 10:00
        ("2024-06-07T10:00", 2.5, "working_days", "2024-06-11T15:00"),  # 20 h: 16 h to Tue 10:00, +4 h past lunch
        ("2024-06-07T23:00", 4, "hours", "2024-06-08T03:00"),  # calendar hours run at night
        ("2024-06-07T09:00", 0.5, "working_hours", "2024-06-07T09:30"),
    ],
)
def test_deadlines_hand_computed(start, amount, unit, expected):
    assert wh(start, amount, unit) == T(expected)


def test_holidays_and_make_up_days_from_a_csv(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("date,kind\n2024-10-01,holiday\n2024-10-02,holiday\n2024-10-03,holiday\n"
                    "2024-10-04,holiday\n2024-10-07,holiday\n2024-10-12,workday\n", encoding="utf-8")
    cal = an.calendar_from_csv(path)
    # Mon 30 Sep 17:00 + 2 working hours: 17-18 on Monday, then 1-7 Oct off, Tue 8 Oct 09-10
    assert wh("2024-09-30T17:00", 2, calendar=cal) == T("2024-10-08T10:00")
    # Fri 11 Oct 17:00 + 2 h: Saturday 12 Oct is a make-up working day (调休)
    assert wh("2024-10-11T17:00", 2, calendar=cal) == T("2024-10-12T10:00")
    assert wh("2024-10-11T17:00", 2) == T("2024-10-14T10:00")  # without the calendar: Monday
    assert an.calendar_from_csv("cn").is_working_day(date(2024, 10, 12))


def test_holiday_csv_errors_name_the_rows(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("date,kind\n2024-10-01,holiday\n1 Oct,holiday\n2024-10-12,swap\n", encoding="utf-8")
    with pytest.raises(InputDataError) as exc:
        an.calendar_from_csv(path)
    assert "h.csv" in str(exc.value) and "feature 1" in str(exc.value) and "'date'" in str(exc.value)


def _working_seconds_between(start, end, cal):
    """Brute force: working seconds between two minute-aligned times, minute by minute."""
    periods = [(int(a[:2]) * 60 + int(a[3:]), int(b[:2]) * 60 + int(b[3:])) for a, b in cal.periods]
    working_day: dict[date, bool] = {}
    total, t = 0, start
    while t < end:
        minute = t.hour * 60 + t.minute
        if t.date() not in working_day:
            working_day[t.date()] = cal.is_working_day(t.date())
        if working_day[t.date()] and any(a <= minute < b for a, b in periods):
            total += 60
        t += timedelta(minutes=1)
    return total


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    offset=st.integers(0, 14 * 24 * 60 - 1),
    minutes=st.integers(1, 3 * 8 * 60),
    holiday=st.integers(0, 13),
)
def test_deadline_is_the_first_time_with_that_much_working_time(offset, minutes, holiday):
    cal = an.WorkingCalendar(holidays=frozenset([date(2024, 6, 3) + timedelta(days=holiday)]))
    start = datetime(2024, 6, 3) + timedelta(minutes=offset)
    due = wh(start, minutes / 60, calendar=cal).to_pydatetime()
    assert _working_seconds_between(start, due, cal) == minutes * 60
    # the first such time: the minute before the deadline is working time
    assert _working_seconds_between(due - timedelta(minutes=1), due, cal) == 60


def test_calendar_rejects_bad_periods():
    with pytest.raises(ParameterError):
        an.WorkingCalendar(periods=(("13:00", "12:00"),))
    with pytest.raises(ParameterError):
        an.add_working_time([np.datetime64("2024-06-03T09:00")], 0, "hours")
    with pytest.raises(ParameterError):
        an.add_working_time([np.datetime64("2024-06-03T09:00")], 1, "fortnights")


# --------------------------------------------------------------------------- time limits


def test_time_limit_lookup_category_then_major_then_star(tmp_path):
    path = tmp_path / "limits.csv"
    path.write_text("category,limit,unit\n0102,2,working_hours\n01,1,working_days\n*,3,hours\n", encoding="utf-8")
    limits = an.time_limits(path)
    reg = "2024-06-03T09:00"  # a Monday
    incidents = pd.DataFrame({"category": ["0102", "0104", "0505", None], "reported_at": [reg] * 4})
    due = an.due_times(incidents, limits=limits)
    # 0102: 2 working hours; 0104: its major 01, 1 working day (8 h from 09:00 = 18:00);
    # 0505 and no category: the * row, 3 calendar hours
    assert due.tolist() == [T("2024-06-03T11:00"), T("2024-06-03T18:00"), T("2024-06-03T12:00"),
                            T("2024-06-03T12:00")]


def test_time_limit_table_errors(tmp_path):
    path = tmp_path / "limits.csv"
    path.write_text("category,limit,unit\n0102,2,fortnights\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="unit"):
        an.time_limits(path)
    path.write_text("category,limit\n0102,2\n", encoding="utf-8")
    with pytest.raises(MissingFieldError):
        an.time_limits(path)


def test_bundled_limits_cover_every_event_category():
    from gridkit.incidents.categories import event_categories

    table = an.time_limits()
    codes = event_categories()["code"]
    incidents = pd.DataFrame({"category": codes, "reported_at": "2024-06-03T09:00"})
    assert an.due_times(incidents, limits=table).notna().all()


# --------------------------------------------------------------------------- indicators


def _city_month():
    """A month like a city's report: 972 due, 911 closed, 737 of them on time (DOMAIN.md).

    Every case is registered on 2024-06-03 at 09:00 and due 24 h later. Cases 0-736 close
    after 2 h (on time), 737-910 after 30 h (late), 911-971 stay open; 20 more cases are
    registered on 2024-06-29 and not due by the evaluation time, 5 of them already closed.
    """
    n_due, n_new = 972, 20
    reported = ["2024-06-03T09:00:00"] * n_due + ["2024-06-29T09:00:00"] * n_new
    due = ["2024-06-04T09:00:00"] * n_due + ["2024-07-05T09:00:00"] * n_new
    closed = (["2024-06-03T11:00:00"] * 737 + ["2024-06-04T15:00:00"] * 174 + [""] * 61
              + ["2024-06-29T10:00:00"] * 5 + [""] * 15)
    status = ["closed" if c else "handling" for c in closed]
    return pd.DataFrame({"grid_code": "G", "reported_at": reported, "registered_at": reported,
                         "due_at": due, "closed_at": closed, "status": status})


def test_city_report_arithmetic():
    cases = an.cases_from_incidents(_city_month(), as_of="2024-06-30T18:00")
    k = an.case_indicators(cases).loc["G"]
    assert (k["reported"], k["due"], k["closed"], k["closed_on_time"]) == (992, 972, 911, 737)
    assert round(100 * k["closure_rate"], 2) == 93.72  # 911 / 972
    assert round(100 * k["on_time_rate"], 2) == 75.82  # 737 / 972
    assert k["closed_total"] == 911 + 5
    assert k["backlog"] == 61 + 15 and k["overdue"] == 61
    # median hours to close over the 916 closed: 737 + 5 take 2 h or 1 h, so the median is 2 h
    assert k["median_hours"] == 2.0


def _small_fixture():
    """Nine cases in two grids, every figure worked out by hand below."""
    rows = [
        # id, grid, category, reported, registered, closed, due, status, level
        (1, "A", "0102", "2024-06-03T08:00", "2024-06-03T08:10", "2024-06-03T10:00", "", "closed", "grid"),
        (2, "A", "0102", "2024-06-03T09:00", "2024-06-03T09:05", "2024-06-03T16:00", "", "closed", "community"),
        (3, "A", "0505", "2024-06-04T10:00", "2024-06-04T10:30", "", "", "handling", "grid"),
        (4, "A", "0401", "2024-06-05T20:00", "2024-06-05T20:10", "2024-06-06T08:00", "2024-06-06T20:10",
         "closed", "district"),
        (5, "B", "0101", "2024-06-06T09:00", "2024-06-06T09:30", "", "", "dispatched", "street"),
        (6, "B", "0104", "2024-06-06T14:00", "", "", "", "reported", "grid"),
        (7, "B", "0201", "2024-06-07T09:00", "2024-06-07T09:00", "2024-06-07T09:45", "", "closed", "grid"),
        (8, "", "0102", "2024-06-03T09:00", "2024-06-03T09:00", "2024-06-03T10:00", "", "closed", "grid"),
        (9, "A", "0102", "2024-06-10T09:00", "2024-06-10T09:00", "", "", "handling", "grid"),
    ]
    cols = ["incident_id", "grid_code", "category", "reported_at", "registered_at", "closed_at", "due_at",
            "status", "level"]
    return pd.DataFrame(rows, columns=cols).set_index("incident_id")


def test_small_fixture_by_hand():
    # as of Fri 2024-06-07 12:00 (case 9 is reported later: out of scope)
    cases = an.cases_from_incidents(_small_fixture(), as_of="2024-06-07T12:00")
    due = cases["due_at"]
    # 1: 0102 = 4 working hours from 08:10 -> clock starts 09:00 -> 09-12 + 13-14 = Mon 14:00; closed 10:00
    assert due[1] == T("2024-06-03T14:00")
    # 2: from 09:05: 09:05-12:00 (2h55) + 13:00-14:05 = 14:05; closed 16:00: late
    assert due[2] == T("2024-06-03T14:05")
    # 3: 0505 = 2 working hours from Tue 10:30 -> 12:30 falls in lunch: 10:30-12:00 + 13:00-13:30
    assert due[3] == T("2024-06-04T13:30")
    # 4: due_at given; 5: 0101 = 5 working days from Thu 09:30 -> Thu 13 June 09:30
    assert due[4] == T("2024-06-06T20:10") and due[5] == T("2024-06-13T09:30")
    # 6: not registered: no deadline; 7: 0201 = 1 working day (8 h) from Fri 09:00 -> Fri 18:00
    assert pd.isna(due[6]) and due[7] == T("2024-06-07T18:00")
    k = an.case_indicators(cases, index=["A", "B", ""])
    a, b, out = k.loc["A"], k.loc["B"], k.loc[""]
    # grid A: cases 1-4 in scope; due 1, 2, 3 (4 is due at 20:10 on Thursday: due too) -> 4 due
    assert (a["reported"], a["registered"], a["due"]) == (4, 4, 4)
    # closed among due: 1, 2, 4; on time: 1 (10:00 <= 14:00) and 4 (08:00 <= 20:10); 2 is late
    assert (a["closed"], a["closed_on_time"], a["backlog"], a["overdue"]) == (3, 2, 1, 1)
    assert a["closure_rate"] == pytest.approx(3 / 4) and a["on_time_rate"] == pytest.approx(2 / 4)
    # hours to close: 2 h, 7 h, 12 h -> median 7
    assert a["median_hours"] == 7.0
    assert (a["level_grid"], a["level_community"], a["level_district"], a["level_street"]) == (2, 1, 1, 0)
    # grid B: 5 not due until 13 June, 6 unregistered, 7 closed early (not due until 18:00)
    assert (b["reported"], b["registered"], b["due"], b["closed"], b["closed_total"]) == (3, 2, 0, 0, 1)
    assert np.isnan(b["closure_rate"]) and np.isnan(b["on_time_rate"])
    assert b["backlog"] == 2 and b["median_hours"] == 0.75
    # the case outside every grid is counted under ""
    assert (out["reported"], out["due"], out["closed_on_time"]) == (1, 1, 1)


def test_default_as_of_is_the_latest_time_and_month_restricts():
    fixture = _small_fixture()
    cases = an.cases_from_incidents(fixture)
    assert cases.attrs["as_of"] == T("2024-06-10T09:00")  # reported_at of case 9
    june = an.cases_from_incidents(fixture, month="2024-06")
    assert june["in_scope"].sum() == 9
    may = an.cases_from_incidents(fixture, month="2024-05")
    assert may["in_scope"].sum() == 0
    assert may.attrs["as_of"] == T("2024-06-01")  # the end of the month, before the data's end


def test_reopened_case_is_open():
    fixture = _small_fixture()
    fixture.loc[1, "status"] = "handling"  # reopened: keeps its old closed_at
    cases = an.cases_from_incidents(fixture, as_of="2024-06-07T12:00")
    assert not cases.loc[1, "closed"] and cases.loc[1, "overdue"]


@pytest.mark.parametrize(
    ("change", "field", "rows"),
    [
        ({"reported_at": {3: "yesterday", 7: "2024-13-40"}}, "reported_at", "features 3, 7"),
        ({"closed_at": {2: "not a time"}}, "closed_at", "feature 2"),
        ({"closed_at": {1: ""}}, "closed_at", "feature 1"),  # status closed, no closed_at
        ({"closed_at": {7: "2024-06-01T00:00"}}, "closed_at", "feature 7"),  # before the report
    ],
)
def test_bad_times_name_rows_and_field(change, field, rows):
    fixture = _small_fixture()
    for column, values in change.items():
        for row, value in values.items():
            fixture.loc[row, column] = value
    fixture.attrs["source"] = "incidents.csv"
    with pytest.raises(InputDataError) as exc:
        an.cases_from_incidents(fixture)
    text = str(exc.value)
    assert "incidents.csv" in text and f"'{field}'" in text and rows in text


def test_times_with_offsets_are_read_as_china_time():
    frame = pd.DataFrame({"reported_at": ["2024-06-03T01:00:00Z", "2024-06-03T09:30:00+08:00"]})
    cases = an.cases_from_incidents(frame)
    assert cases["reported_at"].tolist() == [T("2024-06-03T09:00"), T("2024-06-03T09:30")]


def test_local_times_mixed_with_offsets_keep_their_clock():
    # one platform exports UTC, another local time: the local ones must not move by 8 hours
    frame = pd.DataFrame({"reported_at": ["2024-06-03T01:00:00Z", "2024-06-03T10:00:00", "2024-06-04"]})
    cases = an.cases_from_incidents(frame)
    assert cases["reported_at"].tolist() == [T("2024-06-03T09:00"), T("2024-06-03T10:00"), T("2024-06-04T00:00")]


# --------------------------------------------------------------------------- ranking


def test_rank_order_and_ties():
    kpis = pd.DataFrame(
        {"on_time_rate": [0.8, 0.9, 0.9, 0.9, np.nan, 0.9], "closure_rate": [1.0, 0.95, 1.0, 1.0, np.nan, 1.0],
         "backlog": [0, 0, 3, 1, 0, 1]},
        index=list("abcdef"),
    )
    # d and f tie (0.9, 1.0, 1) -> rank 1; then c (backlog 3) -> 3; b (closure 0.95) -> 4; a -> 5; e last
    assert ev.rank_rows(kpis).to_dict() == {"a": 5, "b": 4, "c": 3, "d": 1, "e": 6, "f": 1}


def test_evaluation_table_and_markdown():
    cases = an.cases_from_incidents(_small_fixture(), as_of="2024-06-07T12:00")
    table = ev.evaluation_table(cases, index=["A", "B", "C"])
    # A has due cases; B and C have none (NaN rates): after A, by backlog (C 0, B 2)
    assert table.index.tolist() == ["A", "C", "B"]
    assert table["rank"].tolist() == [1, 2, 3]
    assert table.loc["C", "reported"] == 0
    text = ev.evaluation_markdown({"Grids": table}, as_of=cases.attrs["as_of"])
    assert "| A | 1 | 4 | 4 | 4 | 3 | 2 | 75.00 % | 50.00 % |" in text


# --------------------------------------------------------------------------- one source of truth


def test_synthetic_deadlines_follow_the_time_limit_table():
    from gridkit.synth import synth_county

    incidents = synth_county(seed=3, communities=1, villages=0, tracks=False)["incidents"]
    given = local_times(incidents["due_at"], field="due_at")
    from_table = an.due_times(incidents.drop(columns="due_at"))
    registered = incidents["registered_at"] != ""
    assert registered.sum() > 1000 and given[~registered].isna().all()
    assert (given[registered] == from_table[registered]).all()


@pytest.mark.parametrize("as_of", ["", "  ", "soon"])
def test_evaluation_time_is_read_by_the_time_parser(as_of):
    incidents = pd.DataFrame({"grid_code": ["G1"], "category": ["0102"], "reported_at": ["2024-06-03T09:00"]})
    with pytest.raises(ParameterError, match="as-of|as_of"):
        an.cases_from_incidents(incidents, as_of=as_of)
    utc = an.cases_from_incidents(incidents, as_of="2024-06-03T01:30:00Z")
    assert utc.attrs["as_of"] == T("2024-06-03T09:30")
