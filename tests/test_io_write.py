"""gridkit.io.write and the defects of issue 11 in the io area, each with a test that failed before its fix."""

from __future__ import annotations

import pickle
import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from gridkit_cli.main import main

from gridkit import io
from gridkit.errors import GridkitError, MissingFieldError, OutputError
from gridkit.export.layers import export_layers


def points(n: int = 2) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"n": np.arange(n)}, geometry=shapely.points(np.c_[106.6 + np.arange(n) / 100,
                                                                              np.full(n, 26.5)]), crs=4326)


def test_boundaries_without_the_code_field_are_told_to_use_code_field(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    comm = tmp_path / "c.gpkg"
    frame = gpd.GeoDataFrame({"区划代码": ["520102001001"]}, geometry=[shapely.box(106.6, 26.46, 106.61, 26.47)],
                             crs=4490)
    pyogrio.write_dataframe(frame, comm, driver="GPKG")
    pyogrio.write_dataframe(points().assign(households=[5, 6]), tmp_path / "b.gpkg", driver="GPKG")
    code = main(["--quiet", "partition", str(comm), "--buildings", str(tmp_path / "b.gpkg"), "-o",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3
    assert "'code'" in err and "区划代码" in err and "--code-field" in err and "--households-field" not in err
    with pytest.raises(MissingFieldError, match="--grid-field FIELD"):  # a caller names its own option
        io.read_layer(comm, required_fields=["grid_code"], field_options={"grid_code": "--grid-field"})


def test_kml_booleans_are_written_as_0_and_1(tmp_path: Path) -> None:
    layer = points(3).assign(within_bounds=[True, False, True])
    path = tmp_path / "grids.kml"
    export_layers({"grids": layer}, path, format="kml")
    text = path.read_text(encoding="utf-8")
    values = re.findall(r'<SimpleData name="within_bounds">([^<]*)</SimpleData>', text)
    assert values == ["1", "0", "1"]  # GDAL's KML readers take "true" as 0
    assert pyogrio.read_dataframe(path)["within_bounds"].astype(int).tolist() == [1, 0, 1]


def test_geopackage_stores_aware_datetimes_in_utc(tmp_path: Path) -> None:
    times = pd.to_datetime(["2024-06-01T08:30:00+08:00", "2024-06-01T23:30:00+08:00"]).tz_convert("Asia/Shanghai")
    mixed = pd.Series([pd.Timestamp("2024-06-01T08:30:00+08:00"), pd.Timestamp("2024-06-01T09:00:00+00:00")],
                      dtype=object)
    naive = pd.to_datetime(["2024-06-01T08:30:00", "2024-06-01T09:00:00"])
    layer = points().assign(reported_at=times, closed_at=mixed, local=naive)
    path = tmp_path / "incidents.gpkg"
    io.write_layers(path, {"incidents": layer})
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT reported_at, closed_at, local FROM incidents ORDER BY fid").fetchall()
    assert rows == [("2024-06-01T00:30:00.000Z", "2024-06-01T00:30:00.000Z", "2024-06-01T08:30:00.000"),
                    ("2024-06-01T15:30:00.000Z", "2024-06-01T09:00:00.000Z", "2024-06-01T09:00:00.000")]
    back = pyogrio.read_dataframe(path)
    assert (back["reported_at"] == times).all()  # the same instants
    assert layer["reported_at"].dt.tz.key == "Asia/Shanghai"  # the caller's frame is not changed


def test_output_error_is_a_gridkit_error_and_an_os_error() -> None:
    err = OutputError("cannot write: the disk is full", path="out/grids.gpkg", hint="free space")
    assert isinstance(err, GridkitError) and isinstance(err, OSError)
    assert str(err) == "out/grids.gpkg: cannot write: the disk is full. Fix: free space"
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is OutputError and str(back) == str(err)


def test_paths_of_the_wrong_kind_are_output_errors(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_folder.gpkg").mkdir()
    with pytest.raises(OutputError, match="folder is a file"):
        io.write_text(tmp_path / "a_file" / "report.md", "# r")
    with pytest.raises(OutputError, match="is a folder"):
        io.write_layers(tmp_path / "a_folder.gpkg", {"p": points()})
    with pytest.raises(OutputError, match="is a folder"):
        io.write_text(tmp_path / "a_folder.gpkg", "x")
    with pytest.raises(OutputError, match="a folder of that name is in the way"), io.atomic_dir(tmp_path) as tmp:
        (tmp / "a_folder.gpkg").write_text("would replace the folder")
    with pytest.raises(OutputError, match="a file of that name is in the way"), io.atomic_dir(tmp_path) as tmp:
        (tmp / "a_file").mkdir()
    assert (tmp_path / "a_file").read_text() == "x" and (tmp_path / "a_folder.gpkg").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "a_folder.gpkg"]


def test_a_new_folder_appears_in_one_rename(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with io.atomic_dir(out) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".run.tmp-")
        io.write_layers(tmp / "g.gpkg", {"g": points()})
        assert not out.exists()
    assert sorted(p.name for p in out.iterdir()) == ["g.gpkg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_other_errors_pass_unchanged(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), io.output_errors(tmp_path / "x"):
        _ = 1 / 0
    missing = tmp_path / "not-there" / "input.csv"
    with pytest.raises(FileNotFoundError), io.output_errors(tmp_path / "out"):
        missing.read_bytes()


def test_check_writable_refuses_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    io.check_writable(tmp_path / "new" / "deeper" / "run", folder=True)  # made later, by the writer
    io.check_writable(tmp_path / "a_file")  # an output file replaced later
    with pytest.raises(OutputError, match="folder is a file"):
        io.check_writable(tmp_path / "a_file", folder=True)
    with pytest.raises(OutputError, match="folder is a file"):
        io.check_writable(tmp_path / "a_file" / "run" / "grids.gpkg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
