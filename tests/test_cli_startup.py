"""`gridkit --help`, `--version` and `gridkit VERB --help` import no heavy module.

The command starts at once because the parser is built from argparse-level modules only;
geopandas, osmnx, scikit-learn and the rest are imported by the verb that runs. Checked
in a fresh interpreter (the test process has long imported them all) by looking at
``sys.modules`` after the help has been printed: an import-time check, not a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("geopandas", "shapely", "pyogrio", "pyproj", "osmnx", "sklearn", "scipy", "numpy", "pandas",
         "pyarrow", "folium", "branca", "matplotlib", "networkx", "rasterio", "dask", "distributed",
         "playwright", "momepy", "osmium", "tqdm")

_PROBE = r"""
import contextlib, io, json, sys
from gridkit_cli.main import build_parser, main

argv = json.loads(sys.argv[1])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(argv) if argv is not None else (build_parser(), 0)[1]
    except SystemExit as stop:
        code = stop.code
heavy = json.loads(sys.argv[2])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
print(json.dumps({"code": code, "out": out.getvalue(), "loaded": loaded}))
"""


def probe(argv: list[str] | None) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)],
                          capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


def verbs() -> list[list[str]]:
    from gridkit_cli.main import build_parser

    found: list[list[str]] = []

    def walk(parser, prefix):
        for action in parser._actions:
            if getattr(action, "choices", None) and hasattr(action, "_name_parser_map"):
                for name, child in action.choices.items():
                    found.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return found


def test_building_the_parser_imports_no_heavy_module():
    result = probe(None)
    assert result["loaded"] == []


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []], ids=["help", "version", "bare"])
def test_top_level_help_and_version_import_no_heavy_module(argv):
    result = probe(argv)
    assert result["loaded"] == [], f"gridkit {' '.join(argv)} imported {result['loaded']}"
    if argv == ["--version"]:
        assert result["out"].startswith("gridkit ")
    else:
        assert "partition" in result["out"] and "heatmap" in result["out"]


def test_every_verb_help_imports_no_heavy_module():
    names = verbs()
    assert {"partition", "heatmap", "map", "export", "inspect", "synth"} <= {v[0] for v in names}
    assert ["patrol", "plan"] in names and ["patrol", "check"] in names
    for verb in names:
        result = probe([*verb, "--help"])
        assert result["code"] == 0, verb
        assert f"usage: gridkit {' '.join(verb)}" in result["out"], verb
        assert result["loaded"] == [], f"gridkit {' '.join(verb)} --help imported {result['loaded']}"


def test_export_format_choices_are_the_export_formats():
    from gridkit_cli.export_cmd import FORMAT_CHOICES

    from gridkit.export.layers import FORMATS

    assert list(FORMAT_CHOICES) == list(FORMATS)


def test_a_verb_still_imports_what_it_needs_when_it_runs(tmp_path):
    # the verb itself pulls in its job: inspect on a real file reads it with geopandas
    import geopandas as gpd
    import shapely

    path = tmp_path / "one.geojson"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(116, 39.9, 116.01, 39.91)], crs=4326).to_file(path)
    result = probe(["inspect", str(path)])
    assert result["code"] == 0
    assert "rows      1" in result["out"]
    assert "geopandas" in result["loaded"]
