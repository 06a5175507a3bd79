"""The base of the hostile-input matrix: a small clip of data/sample_county, its grids, and the
command line of every verb over it.

Every hostile case (``hostile_cases.py``) is this base with one thing broken, run through the
real ``gridkit`` command (``hostile_run.py``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_county"
OSM = ROOT / "data" / "helsinki" / "helsinki.osm.bz2"
# one city community and one village of the sample county: enough for every verb, small enough
# that a case runs in about a second
CLIP_CODES = ("520199001001", "520199201201")
CLIP_WORKERS = ("W00001", "W00002")

VERBS = ("partition", "attach", "heatmap", "patrol plan", "patrol check", "map", "board", "export",
         "inspect", "communities")


def gridkit_command() -> list[str]:
    """The ``gridkit`` console script of this interpreter's environment (or ``python -m``)."""
    script = Path(sys.executable).parent / "gridkit"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "gridkit_cli.main"]


def run_gridkit(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``gridkit --quiet ARGS`` in ``cwd``."""
    return subprocess.run([*gridkit_command(), "--quiet", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


@dataclass
class Base:
    """The clipped sample county in ``folder`` (read only for the cases)."""

    folder: Path
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    def path(self, name: str) -> Path:
        return self.folder / name

    @cached_property
    def communities(self) -> gpd.GeoDataFrame:
        return gpd.read_file(self.path("communities.gpkg"))

    @cached_property
    def buildings(self) -> gpd.GeoDataFrame:
        return gpd.read_file(self.path("buildings.gpkg"))

    @cached_property
    def streets(self) -> gpd.GeoDataFrame:
        return gpd.read_file(self.path("streets.gpkg"))

    @cached_property
    def components(self) -> gpd.GeoDataFrame:
        return gpd.read_file(self.path("components.gpkg"))

    @cached_property
    def grids(self) -> gpd.GeoDataFrame:
        return gpd.read_file(self.path("grids.gpkg"), layer="grids")

    @cached_property
    def incidents(self) -> pd.DataFrame:
        return pd.read_csv(self.path("incidents.csv"), dtype=str, keep_default_na=False)

    @cached_property
    def tracks(self) -> pd.DataFrame:
        return pd.read_csv(self.path("tracks.csv"), dtype=str, keep_default_na=False)

    def reference(self, verb: str) -> Path:
        """The output folder of ``verb`` run on the base itself (made once, on first use)."""
        out = self.folder / "reference" / verb.replace(" ", "_")
        if not out.exists():
            argv = verb_argv(verb, self, out.parent, {})
            done = run_gridkit(argv, cwd=self.folder)
            if done.returncode != 0:
                raise RuntimeError(f"the reference {verb} run failed: {done.stderr}")
            produced = output_of(verb, out.parent)
            if produced != out:
                produced.rename(out)
        return out


def make_base(folder: Path, sample: Path = SAMPLE) -> Base:
    """Write the clip of ``sample`` to ``folder`` and partition it into ``folder/grids.gpkg``."""
    folder.mkdir(parents=True, exist_ok=True)
    comm = gpd.read_file(sample / "communities.gpkg")
    comm = comm[comm["code"].isin(CLIP_CODES)].reset_index(drop=True)
    area = comm.union_all()
    near = comm.to_crs(4545).buffer(150).to_crs(comm.crs).union_all()
    comm.to_file(folder / "communities.gpkg", layer="communities")
    for name in ("buildings", "streets", "components"):
        layer = gpd.read_file(sample / f"{name}.gpkg")
        keep = layer.intersects(area) if name == "buildings" else layer.intersects(near)
        layer[keep].reset_index(drop=True).to_file(folder / f"{name}.gpkg", layer=name)
    incidents = pd.read_csv(sample / "incidents.csv", dtype=str, keep_default_na=False)
    pts = gpd.points_from_xy(incidents["lon"].astype(float), incidents["lat"].astype(float), crs=comm.crs)
    incidents[pts.intersects(near)].to_csv(folder / "incidents.csv", index=False)
    tracks = pd.read_csv(sample / "tracks.csv", dtype=str, keep_default_na=False)
    tracks[tracks["worker_id"].isin(CLIP_WORKERS)].to_csv(folder / "tracks.csv", index=False)
    workers = pd.read_csv(sample / "workers.csv", dtype=str, keep_default_na=False)
    workers[workers["community_code"].isin(CLIP_CODES)].to_csv(folder / "workers.csv", index=False)
    base = Base(folder)
    done = run_gridkit(verb_argv("partition", base, folder, {}, output=folder / "_part"), cwd=folder)
    if done.returncode != 0:
        raise RuntimeError(f"partitioning the base failed: {done.stderr}")
    shutil.move(folder / "_part" / "grids.gpkg", folder / "grids.gpkg")
    shutil.rmtree(folder / "_part")
    return base


# ----------------------------------------------------------------------------- commands

# each verb's inputs (name -> base file) and its own output under OUT
_INPUTS: dict[str, dict[str, str]] = {
    "partition": {"boundaries": "communities.gpkg", "buildings": "buildings.gpkg", "streets": "streets.gpkg"},
    "attach": {"grids": "grids.gpkg", "points": "components.gpkg"},
    "heatmap": {"grids": "grids.gpkg", "incidents": "incidents.csv"},
    "patrol plan": {"grids": "grids.gpkg", "streets": "streets.gpkg"},
    "patrol check": {"grids": "grids.gpkg", "tracks": "tracks.csv"},
    "map": {"grids": "grids.gpkg"},
    "board": {"grids": "grids.gpkg"},
    "export": {"file": "communities.gpkg"},
    "inspect": {"file": "communities.gpkg"},
    "communities": {"osm": str(OSM)},
}

# the input each verb is mostly about: the one the generic cases (missing, zero-byte, ...) break
PRIMARY = {"partition": "boundaries", "attach": "points", "heatmap": "grids", "patrol plan": "streets",
           "patrol check": "tracks", "map": "grids", "board": "grids", "export": "file", "inspect": "file",
           "communities": "osm"}

_OUTPUT = {"partition": "part", "attach": "att.gpkg", "heatmap": "heat", "patrol plan": "plan",
           "patrol check": "check", "map": "map.html", "board": "boards", "export": "exp.gpkg",
           "communities": "communities.gpkg"}


def output_of(verb: str, out: Path) -> Path:
    """Where ``verb`` writes under ``out`` (inspect writes nothing: ``out`` itself)."""
    return out / _OUTPUT[verb] if verb in _OUTPUT else out


def verb_argv(verb: str, base: Base, out: Path, inputs: dict[str, str | Path], *,
              options: tuple[str, ...] = (), output: Path | None = None) -> list[str]:
    """The command line of ``verb`` on the base, with ``inputs`` replacing base files."""
    files = {k: str(base.path(v)) for k, v in _INPUTS[verb].items()}
    files.update({k: str(v) for k, v in inputs.items()})
    target = str(output if output is not None else output_of(verb, out))
    if verb == "partition":
        argv = ["partition", files["boundaries"], "--buildings", files["buildings"]]
        if files.get("streets"):
            argv += ["--streets", files["streets"]]
        if files.get("dedicated"):
            argv += ["--dedicated", files["dedicated"]]
        return [*argv, *options, "-o", target]
    if verb == "attach":
        kind = "incidents" if files["points"].endswith(".csv") else "components"
        return ["attach", files["grids"], files["points"], "--as", kind, *options, "-o", target]
    if verb == "heatmap":
        return ["heatmap", files["grids"], files["incidents"], *options, "-o", target]
    if verb == "patrol plan":
        return ["patrol", "plan", files["grids"], "--streets", files["streets"], *options, "-o", target]
    if verb == "patrol check":
        return ["patrol", "check", files["grids"], files["tracks"], *options, "-o", target]
    if verb == "map":
        extra = [a for k in ("incidents", "tracks", "components") if k in files for a in (f"--{k}", files[k])]
        return ["map", files["grids"], *extra, *options, "-o", target]
    if verb == "board":
        return ["board", files["grids"], "--format", "html", *options, "-o", target]
    if verb == "export":
        return ["export", files["file"], *options, "-o", target]
    if verb == "inspect":
        return ["inspect", files["file"], *options]
    if verb == "communities":
        return ["communities", "--osm", files["osm"], *options, "-o", target]
    raise ValueError(f"unknown verb {verb!r}")
