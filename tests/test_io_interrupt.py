"""Ctrl-C and kill -9 in a real subprocess: "gridkit: interrupted", exit 130, nothing partial; stale staging removed."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from gridkit_cli.main import main

from gridkit import io
from gridkit.datasets import get_path

STARTER = """
import sys
from gridkit_cli.main import main
print("ready", flush=True)
sys.exit(main(sys.argv[1:]))
"""
PARTITION_FILES = ["grids.gpkg", "map.html", "report.json", "report.md"]


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("county")
    sample = get_path("sample_county")
    communities = gpd.read_file(sample / "communities.gpkg").iloc[:1]
    buildings = gpd.read_file(sample / "buildings.gpkg")
    buildings = buildings[buildings.representative_point().within(communities.union_all())]
    communities.to_file(root / "c.gpkg")
    buildings.to_file(root / "b.gpkg")
    pd.read_csv(sample / "incidents.csv", dtype=str).iloc[::10].to_csv(root / "i.csv", index=False)
    return root


def start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", STARTER, "--quiet", *argv], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def wait_for(folder: Path, prefix: str, proc: subprocess.Popen[str], timeout: float = 120) -> Path | None:
    """The first entry of ``folder`` starting with ``prefix``, polled while ``proc`` runs."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        found = [p for p in folder.iterdir() if p.name.startswith(prefix)] if folder.exists() else []
        if found:
            return found[0]
        time.sleep(0.002)
    return None


def partition_argv(county: Path, out: Path) -> list[str]:
    return ["partition", str(county / "c.gpkg"), "--buildings", str(county / "b.gpkg"), "-o", str(out)]


@pytest.mark.parametrize("delay", [0.05, 0.8])
def test_ctrl_c_before_the_progress_bar(county: Path, tmp_path: Path, delay: float) -> None:
    """Right after start (the parser is built, files are read): no traceback, exit 130, no output."""
    out = tmp_path / "run"
    proc = start(partition_argv(county, out), tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().endswith("gridkit: interrupted") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_writing_leaves_nothing_partial(county: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = start(partition_argv(county, out), tmp_path)
    staging = wait_for(tmp_path, ".run.tmp-", proc)
    assert staging is not None, "the run ended before it wrote anything"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().endswith("gridkit: interrupted") and "Traceback" not in err
    left = sorted(p.name for p in tmp_path.iterdir())
    # the signal lands before the move (nothing there) or, held back, after it (everything there)
    assert left == [] or (left == ["run"] and sorted(p.name for p in out.iterdir()) == PARTITION_FILES)


def test_kill_during_a_write_then_the_next_run_removes_the_staging(county: Path, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    grids = tmp_path / "part"
    assert main(["--quiet", *partition_argv(county, grids)]) == 0
    out = tmp_path / "attached"
    out.mkdir()
    argv = ["attach", str(grids / "grids.gpkg"), str(county / "i.csv"), "--as", "incidents",
            "-o", str(out / "out.gpkg")]
    proc = start(argv, tmp_path)
    staging = wait_for(out, ".gridkit-tmp-", proc)
    assert staging is not None, "the run ended before it wrote anything"
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert staging.exists() and not (out / "out.gpkg").exists()  # what kill -9 leaves
    with caplog.at_level(logging.WARNING, logger="gridkit.io"):
        assert main(["--quiet", *argv]) == 0
    assert "removed 1 temporary folder" in caplog.text and staging.name in caplog.text
    assert sorted(p.name for p in out.iterdir()) == ["out.gpkg", "out_evaluation.md", "out_evaluation_grids.csv"]


def polygons() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(106.6, 26.5, 106.61, 26.51)], crs=4326)


def test_staging_of_a_live_run_is_kept_and_of_a_dead_one_removed(tmp_path: Path) -> None:
    live = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        kept = tmp_path / f".g.gpkg.tmp-{live.pid}-0badcafe"
        stale = tmp_path / f".g.gpkg.tmp-{dead.pid}-0badcafe"
        old = tmp_path / ".g.gpkg.tmp-k2j3h4"  # an earlier gridkit's name, without a process id
        other = tmp_path / f".h.gpkg.tmp-{dead.pid}-0badcafe"  # staging of another output: not ours to judge
        for folder in (kept, stale, old, other):
            folder.mkdir()
            (folder / "g.gpkg").write_bytes(b"half")
        io.write_layers(tmp_path / "g.gpkg", {"g": polygons()})
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["g.gpkg", kept.name, other.name])
    finally:
        live.kill()
        live.wait()


def test_writing_into_a_folder_removes_the_dead_staging_of_any_earlier_output(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = [tmp_path / f".gridkit-tmp-{dead.pid}-0badcafe", tmp_path / ".out.gpkg.tmp-k2j3h4ab",
            tmp_path / ".gridkit-export-3fa2b1-x8y7z6w5"]  # kill -9 of this gridkit, and of earlier ones
    for folder in left:
        folder.mkdir()
    (tmp_path / ".config").mkdir()  # a hidden folder of the user's: not a staging folder
    with io.atomic_dir(tmp_path) as staging:
        io.write_text(staging / "report.md", "# r")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config", "report.md"]
