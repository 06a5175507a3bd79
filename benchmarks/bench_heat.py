"""Benchmark: incident density surfaces (gridkit.heat.density) against scipy's gaussian_kde on the same cells.

Run on demand (not a test):

    python benchmarks/bench_heat.py [--households 200000] [--seed 1]

Inputs: the bundled sample county (7,552 incidents) and a synthetic county of
``--households`` households (``gridkit.synth.county``, about 0.42 incidents per household). For each,
``heat_from_incidents`` (scikit-learn KernelDensity, tree-based, rtol 1e-8; Scott's bandwidth,
50 m cells over the grids' extent padded by 4 bandwidths) is timed, then the peer: scipy's
``gaussian_kde`` (brute force over every point and cell, given the same isotropic kernel), and the largest
difference between the two surfaces is printed relative to the peak density.
On the large county scipy is evaluated on a random 2,000 cells and its time scaled to all cells
(marked "extrapolated").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gridkit.heat.density import heat_from_incidents

ROOT = Path(__file__).resolve().parents[1]


def _incidents_sample() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    import pandas as pd

    df = pd.read_csv(ROOT / "data" / "sample_county" / "incidents.csv", dtype={"category": str})
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4490)
    area = gpd.read_file(ROOT / "data" / "sample_county" / "communities.gpkg")
    return pts, area


def _incidents_synth(households: int, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    from gridkit.synth.county import synth_county

    county = synth_county(seed=seed, households=households, tracks=False)
    df = county["incidents"]
    pts = df if isinstance(df, gpd.GeoDataFrame) else gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4490)
    return pts, county["communities"]


def _peer(surface, pts: gpd.GeoDataFrame, max_cells: int | None) -> tuple[float, float, float, bool]:
    from scipy.stats import gaussian_kde

    xy = shapely.get_coordinates(pts.to_crs(surface.crs).geometry.to_numpy())
    kde = gaussian_kde(xy.T)
    # the same isotropic kernel as gridkit: covariance h² I (scipy caches the data covariance here)
    kde._data_covariance = np.eye(2) * surface.bandwidth_m**2
    kde._data_cho_cov = np.eye(2) * surface.bandwidth_m
    kde.set_bandwidth(1.0)
    centres = surface.cell_centres()
    ours = surface.probability.ravel()
    extrapolated = max_cells is not None and len(centres) > max_cells
    idx = np.arange(len(centres))
    if extrapolated:
        idx = np.sort(np.random.default_rng(0).choice(len(centres), max_cells, replace=False))
    t, cpu = time.perf_counter(), time.process_time()
    theirs = kde(centres[idx].T)
    seconds = (time.perf_counter() - t) * len(centres) / len(idx)
    cpu_seconds = (time.process_time() - cpu) * len(centres) / len(idx)
    rel = float(np.max(np.abs(theirs - ours[idx])) / ours.max())
    return seconds, cpu_seconds, rel, extrapolated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rows = []
    for name, (pts, area), peer_cells in (
        ("sample_county", _incidents_sample(), None),
        (f"synth {args.households:,} households", _incidents_synth(args.households, args.seed), 2000),
    ):
        heat_from_incidents(pts.iloc[:10], bandwidth=100.0)  # warm up imports
        t, cpu = time.perf_counter(), time.process_time()
        surface = heat_from_incidents(pts, area=area, bandwidth="scott", cell_m=50.0)
        ours, ours_cpu = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        heat_from_incidents(pts, area=area, bandwidth="cv", cell_m=50.0)
        ours_cv = time.perf_counter() - t
        theirs, theirs_cpu, rel, extrapolated = _peer(surface, pts, peer_cells)
        rows.append((name, len(pts), surface.probability.size, surface.bandwidth_m, ours, ours_cpu, ours_cv, theirs,
                     theirs_cpu, extrapolated, theirs_cpu / ours_cpu, rel))
    print(f"command: python benchmarks/bench_heat.py {' '.join(sys.argv[1:])}".rstrip())
    print()
    print("| input | incidents | cells | Scott bandwidth (m) | gridkit, Scott: wall / CPU (s) | gridkit, CV: wall (s) | "
          "scipy gaussian_kde: wall / CPU (s) | CPU ratio | max difference / peak |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, n, cells, h, ours, ours_cpu, ours_cv, theirs, theirs_cpu, extrapolated, ratio, rel in rows:
        mark = " (extrapolated)" if extrapolated else ""
        print(f"| {name} | {n:,} | {cells:,} | {h:.0f} | {ours:.1f} / {ours_cpu:.1f} | {ours_cv:.1f} | "
              f"{theirs:.1f} / {theirs_cpu:.1f}{mark} | {ratio:.1f}x | {rel:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
