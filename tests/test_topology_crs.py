"""Every layer of every vector file gridkit writes is in one CRS, across the verbs.

The inputs come in as many CRSs as a county office mixes: boundaries in CGCS2000
(EPSG:4490), buildings in WGS84, streets and components in UTM, dedicated compounds in
Web Mercator, incidents and GPS fixes as lon/lat CSV. Each verb runs through the
command line; every layer of every vector file it wrote is opened with
``pyogrio.read_info``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from gridkit_cli.main import main

from gridkit.datasets import get_path

VECTOR = {".gpkg", ".shp", ".geojson", ".parquet", ".kml", ".fgb"}


def crs_of_layers(path: Path) -> dict[str, str | None]:
    return {name: pyogrio.read_info(path, layer=name)["crs"] for name, _ in pyogrio.list_layers(path)}


def vector_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in VECTOR)


def assert_one_crs(folder: Path, expected: str) -> list[Path]:
    files = vector_files(folder)
    for path in files:
        found = crs_of_layers(path)
        assert set(found.values()) == {expected}, f"{path.relative_to(folder)}: {found}"
    return files


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The sample county with its layers moved to different CRSs, partitioned once."""
    sample = get_path("sample_county")
    folder = tmp_path_factory.mktemp("mixed")
    moved = {"communities": 4490, "buildings": 4326, "streets": 32648, "dedicated": 3857, "components": 32648}
    for name, crs in moved.items():
        gpd.read_file(sample / f"{name}.gpkg").to_crs(crs).to_file(folder / f"{name}.gpkg")
    for name in ("incidents.csv", "tracks.csv", "workers.csv"):
        (folder / name).write_bytes((sample / name).read_bytes())
    out = folder / "partition"
    assert main(["--quiet", "partition", str(folder / "communities.gpkg"), "--buildings",
                 str(folder / "buildings.gpkg"), "--streets", str(folder / "streets.gpkg"), "--dedicated",
                 str(folder / "dedicated.gpkg"), "-o", str(out)]) == 0
    return folder


def test_partition_writes_one_crs(mixed):
    files = assert_one_crs(mixed / "partition", "EPSG:4490")
    assert [p.name for p in files] == ["grids.gpkg"]
    assert set(crs_of_layers(files[0])) == {"grids", "buildings", "units", "communities"}


@pytest.mark.parametrize("what,points", [("components", "components.gpkg"), ("incidents", "incidents.csv")])
def test_attach_writes_one_crs(mixed, tmp_path, what, points):
    out = tmp_path / f"{what}.gpkg"
    assert main(["--quiet", "attach", str(mixed / "partition" / "grids.gpkg"), str(mixed / points), "--as", what,
                 "-o", str(out)]) == 0
    assert assert_one_crs(tmp_path, "EPSG:4490") == [out]


def test_heatmap_vector_outputs_in_one_crs(mixed, tmp_path):
    assert main(["--quiet", "heatmap", str(mixed / "partition" / "grids.gpkg"), str(mixed / "incidents.csv"),
                 "--cell-m", "100", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "heat.tif").is_file()
    assert_one_crs(tmp_path, "EPSG:4490")  # the heatmap writes a raster and tables; any vector file would count


def test_patrol_plan_and_check_write_one_crs(mixed, tmp_path):
    grids = str(mixed / "partition" / "grids.gpkg")
    assert main(["--quiet", "patrol", "plan", grids, "--streets", str(mixed / "streets.gpkg"),
                 "-o", str(tmp_path / "plan")]) == 0
    assert [p.name for p in assert_one_crs(tmp_path / "plan", "EPSG:4490")] == ["routes.gpkg"]
    assert main(["--quiet", "patrol", "check", grids, str(mixed / "tracks.csv"), "--streets",
                 str(mixed / "streets.gpkg"), "--workers", str(mixed / "workers.csv"),
                 "-o", str(tmp_path / "check")]) == 0
    assert [p.name for p in assert_one_crs(tmp_path / "check", "EPSG:4490")] == ["tracks.gpkg"]


@pytest.mark.parametrize("fmt,crs", [("gpkg", "EPSG:4549"), ("gpkg", None), ("shp", "EPSG:4549")])
def test_export_writes_one_crs(mixed, tmp_path, fmt, crs):
    out = tmp_path / ("grids.gpkg" if fmt == "gpkg" else "shp")
    args = ["--quiet", "export", str(mixed / "partition" / "grids.gpkg"), "--all-layers", "--format", fmt,
            "-o", str(out)]
    files = (main([*args, "--to-crs", crs]) if crs else main(args)) == 0
    assert files
    written = assert_one_crs(tmp_path, crs or "EPSG:4490")
    assert len(written) == (1 if fmt == "gpkg" else 4)


def test_library_output_crs_reaches_every_layer(tmp_path):
    from gridkit.partition import partition
    from gridkit.partition.outputs import write_partition

    sample = get_path("sample_county")
    layers = {n: gpd.read_file(sample / f"{n}.gpkg") for n in ("communities", "buildings", "streets")}
    result = partition(layers["communities"], layers["buildings"].to_crs(4326), streets=layers["streets"],
                       output_crs=32648)
    write_partition(result, tmp_path / "out")
    assert_one_crs(tmp_path / "out", "EPSG:32648")


def test_export_of_a_file_with_layers_in_two_crss_writes_one(tmp_path):
    sample = get_path("sample_county")
    mixed_file = tmp_path / "mixed.gpkg"
    pyogrio.write_dataframe(gpd.read_file(sample / "communities.gpkg"), mixed_file, layer="communities")
    pyogrio.write_dataframe(gpd.read_file(sample / "streets.gpkg").to_crs(32648), mixed_file, layer="streets",
                            append=True)
    assert set(crs_of_layers(mixed_file).values()) == {"EPSG:4490", "EPSG:32648"}
    out = tmp_path / "out"
    assert main(["--quiet", "export", str(mixed_file), "--all-layers", "--format", "gpkg",
                 "-o", str(out / "all.gpkg")]) == 0
    assert crs_of_layers(out / "all.gpkg") == {"communities": "EPSG:4490", "streets": "EPSG:4490"}
