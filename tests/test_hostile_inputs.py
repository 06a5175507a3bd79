"""The hostile-input matrix of issue 17 as tests: every case about input data, through the real
``gridkit`` command, ends as docs/errors.md ("hostile inputs") says — exit 0 with the documented
repair or report, or exit 2/3 with a message naming the file, the field or features and a fix,
and nothing written.

The cases are built in ``hostile_cases.py`` (shared with ``benchmarks/hostile_matrix.py``, which
also runs the cases about output locations and interrupts). Each case is one ``gridkit`` process,
forked from a warm interpreter (``hostile_zygote.py``) to keep the file within its time budget.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from hostile_base import make_base
from hostile_cases import Case, input_cases
from hostile_run import Zygote, run_case

from gridkit.errors import InputDataError
from gridkit.heat.job import HeatmapOptions, heatmap_outputs, read_heatmap_inputs
from gridkit.patrol.coverage import check_tracks
from gridkit.patrol.tracks import read_tracks

# cases whose documented behaviour is not yet what gridkit does (reported in docs/errors.md)
_ELSEWHERE: dict[str, str] = {}


def _param(case: Case) -> object:
    reasons = [why for key, why in _ELSEWHERE.items() if case.id.startswith(key)]
    marks = [pytest.mark.xfail(reason=reasons[0], strict=False)] if reasons else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base(tmp_path_factory.mktemp("hostile") / "base")


@pytest.fixture(scope="module")
def gridkit():
    warm = Zygote()
    yield warm
    warm.close()


@pytest.mark.parametrize("case", [_param(c) for c in input_cases()])
def test_hostile_input_ends_as_documented(case, base, gridkit, tmp_path):
    outcome = run_case(case, base, tmp_path, gridkit)
    assert outcome.ok, outcome.explain()


# ----------------------------------------------------------------------------- library defects the matrix found

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_county"


def _sample_grids():
    comm = gpd.read_file(SAMPLE / "communities.gpkg")
    return comm.rename(columns={"code": "grid_code"}).assign(households=300)


def test_heatmap_refuses_repeated_incident_ids(tmp_path):
    rows = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False).iloc[:40]
    pd.concat([rows, rows.iloc[[3]]]).to_csv(tmp_path / "inc.csv", index=False)
    _sample_grids().to_file(tmp_path / "grids.gpkg", layer="grids")
    with pytest.raises(InputDataError) as err:
        read_heatmap_inputs(tmp_path / "grids.gpkg", tmp_path / "inc.csv")
    assert err.value.field == "incident_id" and err.value.feature_ids == [3, 40]


def test_heatmap_reports_incidents_reported_after_the_run(tmp_path):
    rows = pd.read_csv(SAMPLE / "incidents.csv", dtype=str, keep_default_na=False).iloc[:150]
    rows.to_csv(tmp_path / "inc.csv", index=False)
    _sample_grids().to_file(tmp_path / "grids.gpkg", layer="grids")
    grids, incidents = read_heatmap_inputs(tmp_path / "grids.gpkg", tmp_path / "inc.csv")
    now = "2023-07-04T00:00:00"
    later = int((pd.to_datetime(rows["reported_at"]) > pd.Timestamp(now)).sum())
    assert 0 < later < len(rows)
    summary = heatmap_outputs(grids, incidents, tmp_path / "out", options=HeatmapOptions(now=now))
    assert summary["incidents_in_future"] == later
    assert f"{later:,} incidents are reported after this run" in summary["future_note"]
    assert summary["future_note"] in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    quiet = heatmap_outputs(grids, incidents, tmp_path / "out2", options=HeatmapOptions(now="2030-01-01"))
    assert quiet["incidents_in_future"] == 0 and quiet["future_note"] == ""


def test_track_check_refuses_repeated_grid_codes():
    fixes = read_tracks(SAMPLE / "tracks.csv").iloc[:200]
    grids = _sample_grids()
    grids.loc[1, "grid_code"] = grids.loc[0, "grid_code"]
    with pytest.raises(InputDataError) as err:
        check_tracks(fixes, grids)
    assert err.value.field == "grid_code" and err.value.feature_ids == [0, 1]
