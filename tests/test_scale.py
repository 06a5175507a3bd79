"""The parallel paths: the partition in local processes and on a real Dask cluster gives the serial grids."""

from __future__ import annotations

import json
import logging
import os
import re
import socket

import geopandas as gpd
import numpy as np
import pytest
from distributed import LocalCluster
from gridkit_cli.main import main

from gridkit.datasets import get_path
from gridkit.errors import ParameterError
from gridkit.partition.pipeline import partition
from gridkit.scale import MIN_PARALLEL_ITEMS, Beside, auto_workers, available_cores, map_jobs
from gridkit.synth.county import synth_county


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def county():
    return synth_county(seed=7, communities=3, villages=2, incidents=False, tracks=False)


def _same_grids(a, b):
    assert list(a.grids["grid_code"]) == list(b.grids["grid_code"])
    assert a.grids.drop(columns="geometry").equals(b.grids.drop(columns="geometry"))
    assert a.grids.geometry.geom_equals_exact(b.grids.geometry, 0).all()
    assert (a.buildings["grid_code"].to_numpy() == b.buildings["grid_code"].to_numpy()).all()
    assert a.units.drop(columns="geometry").equals(b.units.drop(columns="geometry"))


def test_partition_on_a_running_scheduler_equals_serial(county, cluster):
    args = (county["communities"], county["buildings"])
    kwargs = {"streets": county["streets"], "dedicated": county["dedicated"]}
    serial = partition(*args, **kwargs)
    seen = []
    remote = partition(*args, **kwargs, scheduler=cluster.scheduler_address,
                       progress=lambda done, total, label: seen.append((done, total)))
    _same_grids(serial, remote)
    n = len(county["communities"])
    assert seen[-1] == (n, n) and len(seen) == n + 1


def test_map_jobs_keeps_job_order_on_the_cluster(cluster):
    jobs = list(np.random.default_rng(3).integers(-1000, 1000, size=40))
    assert map_jobs(abs, jobs, scheduler=cluster.scheduler_address) == [abs(j) for j in jobs]


def test_cli_workers_write_the_same_files(tmp_path):
    sample = {name: get_path("sample_county", f"{name}.gpkg")
              for name in ("communities", "buildings", "streets", "dedicated")}
    outs, pages, reports = {}, {}, {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        code = main(["--quiet", "partition", str(sample["communities"]), "--buildings", str(sample["buildings"]),
                     "--streets", str(sample["streets"]), "--dedicated", str(sample["dedicated"]),
                     "--workers", str(workers), "-o", str(out)])
        assert code == 0
        outs[workers] = gpd.read_file(out / "grids.gpkg", layer="grids")
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        del report["overall"]["seconds"], report["reproduce"]["parameters"]  # the time, the -o and --workers given
        pages[workers], reports[workers] = _without_ids((out / "map.html").read_text(encoding="utf-8")), report
    assert outs[1].drop(columns="geometry").equals(outs[2].drop(columns="geometry"))
    assert outs[1].geometry.geom_equals_exact(outs[2].geometry, 0).all()
    assert reports[1] == reports[2]
    assert pages[1] == pages[2]  # the page built beside the layers (2 workers) is the serial one


def _without_ids(page: str) -> str:
    """The page with folium's random element ids numbered in order of appearance."""
    ids: dict[str, str] = {}
    return re.sub(r"[0-9a-f]{32}", lambda m: ids.setdefault(m.group(0), f"id{len(ids)}"), page)


def test_unreachable_scheduler_is_a_usage_error(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sample = {name: get_path("sample_county", f"{name}.gpkg") for name in ("communities", "buildings")}
    out = tmp_path / "out"
    code = main(["--quiet", "partition", str(sample["communities"]), "--buildings", str(sample["buildings"]),
                 "--scheduler", f"tcp://127.0.0.1:{port}", "-o", str(out)])
    assert code == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err
    assert not out.exists()


def test_partition_in_local_processes_equals_serial(county):
    args = (county["communities"], county["buildings"])
    kwargs = {"streets": county["streets"], "dedicated": county["dedicated"]}
    seen = []
    parallel = partition(*args, **kwargs, workers=2, progress=lambda done, total, label: seen.append((done, total)))
    _same_grids(partition(*args, **kwargs, workers=1), parallel)
    n = len(county["communities"])
    assert seen[-1] == (n, n)


def _fails_on_odd(n: int) -> int:
    if n % 2:
        raise ParameterError(f"odd job {n}")
    return n


def test_an_error_in_a_worker_process_reaches_the_caller_as_itself():
    with pytest.raises(ParameterError, match="odd job 3"):
        map_jobs(_fails_on_odd, [0, 2, 3, 4], workers=2)
    assert map_jobs(_fails_on_odd, [0, 2, 4, 6], workers=2) == [0, 2, 4, 6]


def test_every_core_is_used_only_when_the_work_pays_for_it():
    cores = available_cores()
    assert auto_workers(1, 10 * MIN_PARALLEL_ITEMS) == 1
    assert auto_workers(50, MIN_PARALLEL_ITEMS - 1) == 1
    assert auto_workers(50, MIN_PARALLEL_ITEMS) == min(cores, 50)
    assert auto_workers(2, 10 * MIN_PARALLEL_ITEMS) == min(cores, 2)


def _logs_and_doubles(n: int) -> int:
    logging.getLogger("gridkit.test_scale").warning("doubling %d in process %d", n, os.getpid())
    return 2 * n


def _dies(n: int) -> int:
    if os.getpid() != n:  # in the child: end it without a word, as a crash would
        os._exit(3)
    return -n


def test_a_job_beside_gives_its_value_and_its_log_records_here(caplog):
    with caplog.at_level(logging.WARNING, logger="gridkit.test_scale"):
        assert Beside(_logs_and_doubles, 21).result() == 42
    messages = [r.getMessage() for r in caplog.records if r.name == "gridkit.test_scale"]
    assert len(messages) == 1 and messages[0].startswith("doubling 21 in process ")
    assert Beside(_logs_and_doubles, 4, enabled=False).result() == 8


def test_a_job_beside_that_fails_fails_here_as_itself():
    with pytest.raises(ParameterError, match="odd job 3"):
        Beside(_fails_on_odd, 3).result()
    # a child that dies without sending anything: the value is computed here
    assert Beside(_dies, os.getpid()).result() == -os.getpid()


def _beside_in_a_daemon(n: int) -> int:
    return Beside(_logs_and_doubles, n).result()


def test_a_job_beside_in_a_daemon_process_runs_there():
    """A daemonic process (a multiprocessing pool's, a Dask worker's) may not start a child: computed in place."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_beside_in_a_daemon, (5,)) == 10
