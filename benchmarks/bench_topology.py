"""Exact topology of the written ``grids.gpkg``, and the partition's time, on real-sized inputs.

Run on demand (not part of the test suite)::

    python benchmarks/bench_topology.py [--cases sample helsinki synth] [--households 200000] [--repeat 3]

For each case it partitions in this process (timed), writes the outputs with
:func:`gridkit.partition.outputs.write_partition`, reads ``grids`` and ``communities``
back with pyogrio and counts, with exact GEOS predicates in the file's own CRS, what
a topology checker (QGIS, PostGIS ``ST_Overlaps``/``ST_CoveredBy``) would flag:

- ``overlaps``: pairs of grids that ``overlaps`` (neighbouring communities included);
- ``interiors``: pairs of grids whose interiors meet at all (``2********``);
- ``not covered``: grids not ``covered_by`` their community in the ``communities`` layer;
- ``union != community``: communities whose grids' union is not ``equals`` the outline;
- ``lost vertices``: vertices of the boundary file missing from the ``communities`` layer
  (only when the output CRS is the boundary file's).

It also times, alone, the rebuild of the grids in the output CRS
(:func:`gridkit.partition.noding.exact_output`), the part of the partition's time the
exact topology costs.

Cases: ``sample`` (data/sample_county, EPSG:4490), ``helsinki`` (data/helsinki, OSM
communities and buildings in EPSG:4326), ``synth`` (``gridkit synth --households N
--seed 1`` reprojected to its UTM zone, so the input is already metric).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from _measure import Samples, Session, add_repeat

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from gridkit.crs import local_crs
from gridkit.datasets import get_path
from gridkit.partition import partition
from gridkit.partition.outputs import write_partition

try:
    from gridkit.partition.noding import exact_output
except ImportError:  # a gridkit from before the rebuild: measured without it
    exact_output = None


def topology_counts(gpkg: Path, boundaries: gpd.GeoDataFrame | None) -> dict[str, int]:
    """What an exact topology check finds in ``grids.gpkg`` (read with pyogrio)."""
    grids = pyogrio.read_dataframe(gpkg, layer="grids")
    comm = pyogrio.read_dataframe(gpkg, layer="communities")
    g = grids.geometry.to_numpy()
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    overlaps = int(shapely.overlaps(g[i], g[j]).sum())
    interiors = int(shapely.relate_pattern(g[i], g[j], "2********").sum())
    outline = dict(zip(comm["community_code"], comm.geometry))
    home = np.asarray([outline[c] for c in grids["community_code"]], dtype=object)
    not_covered = int((~shapely.covered_by(g, home)).sum())
    unequal = 0
    for code, part in grids.groupby("community_code").geometry:
        unequal += int(not shapely.equals(shapely.union_all(part.to_numpy()), outline[code]))
    lost = -1
    if boundaries is not None and boundaries.crs == comm.crs:
        written = {tuple(xy) for xy in shapely.get_coordinates(comm.geometry.to_numpy())}
        lost = sum(tuple(xy) not in written for xy in shapely.get_coordinates(boundaries.geometry.to_numpy()))
    return {"grids": len(grids), "overlaps": overlaps, "interiors": interiors, "not_covered": not_covered,
            "unequal": unequal, "lost_vertices": lost}


def _sample() -> dict[str, gpd.GeoDataFrame | None]:
    s = get_path("sample_county")
    return {"communities": gpd.read_file(s / "communities.gpkg"), "buildings": gpd.read_file(s / "buildings.gpkg"),
            "streets": gpd.read_file(s / "streets.gpkg"), "dedicated": gpd.read_file(s / "dedicated.gpkg")}


def _helsinki() -> dict[str, gpd.GeoDataFrame | None]:
    from gridkit import osm

    path = get_path("helsinki", "helsinki.osm.bz2")
    buildings = osm.buildings_from_osm(path)
    buildings["households"] = osm.estimate_households(buildings).to_numpy()
    return {"communities": osm.communities_from_osm(path), "buildings": buildings,
            "streets": osm.streets_from_osm(path), "dedicated": None}


def _synth(households: int) -> dict[str, gpd.GeoDataFrame | None]:
    from gridkit.synth import synth_county

    county = synth_county(seed=1, households=households, incidents=False, tracks=False)
    utm = local_crs(county["communities"], system="utm")
    return {name: county[name].to_crs(utm) for name in ("communities", "buildings", "streets", "dedicated")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["sample", "helsinki", "synth"],
                        choices=["sample", "helsinki", "synth"])
    parser.add_argument("--households", type=int, default=200_000, help="households of the synth case")
    add_repeat(parser)
    args = parser.parse_args(argv)
    session = Session(argv)
    rows = []
    for case in args.cases:
        layers = {"sample": _sample, "helsinki": _helsinki}.get(case, lambda: _synth(args.households))()
        comm, buildings = layers["communities"], layers["buildings"]
        assert comm is not None and buildings is not None
        t = Samples()
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = partition(comm, buildings, streets=layers["streets"], dedicated=layers["dedicated"])
            t.add("partition", time.perf_counter() - t0)
            if exact_output is not None:  # the step that rebuilds the grids in the output CRS, alone
                t0 = time.perf_counter()
                exact_output(result.grids_metric, result.communities_metric, comm.geometry.to_numpy(), comm.crs,
                             comm.crs)
                t.add("rebuild", time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            write_partition(result, out)
            c = topology_counts(out / "grids.gpkg", comm)
        rows.append(f"| {case} | {comm.crs.to_string()} | {result.figures['metric_crs']} | {c['grids']} "
                    f"| {c['overlaps']} | {c['interiors']} | {c['not_covered']} | {c['unequal']} | "
                    f"{c['lost_vertices'] if c['lost_vertices'] >= 0 else 'n/a'} | {t.cell('partition', '.2f')} "
                    f"| {t.cell('rebuild', '.2f')} |")
        print(rows[-1], file=sys.stderr, flush=True)
    print(session.header(args.repeat))
    print("| case | CRS in | work CRS | grids | overlaps | interiors meet | not covered | union != community "
          "| lost vertices | partition s | of which exact rebuild s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
