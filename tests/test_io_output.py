"""Outputs that cannot be written: exit 4 naming the path and a fix, nothing partial, no staging left.

Real conditions, in a real subprocess: a read-only folder with file permissions in force
(root bypasses them, so the command runs unprivileged) and a tiny full file system
(a tmpfs in a user namespace), for partition, attach, export and heatmap.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from cli_subprocess import run_verbs, tiny_filesystems, unprivileged
from gridkit_cli.main import main

from gridkit.datasets import get_path


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One community of the sample county with its buildings, a slice of its incidents, and its grids."""
    root = tmp_path_factory.mktemp("county")
    sample = get_path("sample_county")
    communities = gpd.read_file(sample / "communities.gpkg").iloc[:1]
    buildings = gpd.read_file(sample / "buildings.gpkg")
    buildings = buildings[buildings.representative_point().within(communities.union_all())]
    communities.to_file(root / "c.gpkg")
    buildings.to_file(root / "b.gpkg")
    pd.read_csv(sample / "incidents.csv", dtype=str).iloc[::80].to_csv(root / "i.csv", index=False)
    assert main(["--quiet", "partition", str(root / "c.gpkg"), "--buildings", str(root / "b.gpkg"),
                 "-o", str(root / "done")]) == 0
    return root


def verbs(county: Path, out: Path) -> dict[str, list[str]]:
    grids = str(county / "done" / "grids.gpkg")
    return {
        "partition": ["partition", str(county / "c.gpkg"), "--buildings", str(county / "b.gpkg"),
                      "-o", str(out / "part")],
        "attach": ["attach", grids, str(county / "i.csv"), "--as", "incidents", "-o", str(out / "att.gpkg")],
        "export shp": ["export", grids, "--layer", "grids", "--format", "shp", "-o", str(out / "shp" / "g.shp")],
        "heatmap": ["heatmap", grids, str(county / "i.csv"), "-o", str(out / "heat")],
    }


def assert_exit_4(results: list[dict], names: list[str], out: Path, expected: str) -> None:
    for name, result in zip(names, results, strict=True):
        err = result["err"]
        assert result["code"] == 4, (name, err)
        assert err.startswith("gridkit: error: ") and "Traceback" not in err and "internal error" not in err, name
        assert str(out) in err and expected in err and "Fix: " in err, (name, err)
        assert ".tmp-" not in err and ".gridkit-tmp-" not in err, (name, err)  # the user's path, not the staging


def test_read_only_folder_exit_4_for_every_verb(county: Path, tmp_path: Path) -> None:
    prefix, why = unprivileged()
    if prefix is None:
        pytest.skip(why)
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "notes.txt").write_text("mine")
    tmp_path.chmod(0o755)
    locked.chmod(0o555)
    try:
        todo = verbs(county, locked)
        results = run_verbs(list(todo.values()), cwd=tmp_path, prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert_exit_4(results, list(todo), locked, "is not writable")
    assert sorted(p.name for p in locked.iterdir()) == ["notes.txt"]


def test_full_disk_exit_4_and_nothing_partial(county: Path, tmp_path: Path) -> None:
    """16 KB free: every first write fails; 160 KB: a GeoPackage fails in GDAL's commit."""
    nearly, little = tmp_path / "full16", tmp_path / "full160"
    prefix, why = tiny_filesystems({nearly: (640, 16), little: (640, 160)})
    if prefix is None:
        pytest.skip(why)
    first, second = verbs(county, nearly), verbs(county, little)
    again = ["attach"]  # a GeoPackage failing in GDAL's commit (partition writes one too)
    *results, left = run_verbs([*first.values(), *(second[n] for n in again)], cwd=tmp_path, prefix=prefix,
                               listing=(nearly, little))
    assert_exit_4(results[:len(first)], list(first), nearly, "the disk is full")
    assert_exit_4(results[len(first):], again, little, "the disk is full")
    assert left["left"] == {str(nearly): ["filler"], str(little): ["filler"]}  # nothing partial, no staging


def test_output_path_of_the_wrong_kind_exit_4(county: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    a_folder = tmp_path / "folder.gpkg"
    a_folder.mkdir()
    grids = str(county / "done" / "grids.gpkg")
    cases = [  # the verbs that check nothing before computing fail as late as partition would
        (["export", grids, "--layer", "grids", "--format", "shp", "-o", str(a_file / "g.shp")], "is a file"),
        (["attach", grids, str(county / "i.csv"), "--as", "incidents", "-o", str(a_folder)], "folder"),
    ]
    for argv, expected in cases:
        assert main(["--quiet", *argv]) == 4, argv
        err = capsys.readouterr().err
        assert err.startswith("gridkit: error: ") and expected in err and "Fix: " in err, err
    assert a_file.read_text() == "x" and list(a_folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.gpkg", "taken"]


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "exit codes:" in text
    for line in ("0    success", "2    usage error", "3    bad input data", "4    the output cannot be written",
                 "130  interrupted"):
        assert line in text
