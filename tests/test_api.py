"""The public API an analyst finds: the main verbs from ``import gridkit``, results that print short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gridkit

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_county"


def test_import_gridkit_loads_no_subpackage():
    code = "import sys, gridkit; print(sorted(m for m in sys.modules if m.startswith('gridkit')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "['gridkit']"


@pytest.mark.parametrize("name", [n for n in gridkit.__all__ if n != "__version__"])
def test_every_public_name_resolves(name):
    value = getattr(gridkit, name)
    assert callable(value) or isinstance(value, type)
    assert name in dir(gridkit)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'partiton'"):
        gridkit.partiton  # noqa: B018


@pytest.fixture(scope="module")
def sample_result():
    communities = gridkit.read_layer(SAMPLE / "communities.gpkg")
    buildings = gridkit.read_layer(SAMPLE / "buildings.gpkg")
    streets = gridkit.read_layer(SAMPLE / "streets.gpkg")
    return gridkit.partition(communities, buildings, streets=streets)


def test_partition_package_is_the_verb(sample_result):
    from gridkit.partition import PartitionResult
    from gridkit.partition.pipeline import partition

    assert gridkit.partition.partition is partition
    assert isinstance(sample_result, PartitionResult)
    assert len(sample_result.grids) > 0
    assert sample_result.grids["households"].sum() == gridkit.read_layer(SAMPLE / "buildings.gpkg")["households"].sum()


def test_results_print_a_short_summary(sample_result):
    grids = sample_result.grids
    incidents = gridkit.read_points(SAMPLE / "incidents.csv")
    attached = gridkit.attach_points(incidents, grids)
    surface = gridkit.heat_from_incidents(incidents)
    for text in (repr(sample_result), repr(surface)):
        assert len(text.splitlines()) <= 30
        assert "GeoDataFrame" not in text and "array(" not in text
    assert "grids" in repr(sample_result)
    assert f"{len(incidents):,} incidents" in repr(surface)
    assert len(attached) == len(incidents)
