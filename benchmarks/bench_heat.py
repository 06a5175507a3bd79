"""Benchmark: incident density surfaces side by side, and the whole ``gridkit heatmap`` command.

Run on demand (not a test):

    python benchmarks/bench_heat.py [--county DIR] [--households 1000000] [--district 1100000] [--seed 1]
                                    [--peer-cells 200] [--skip-command] [--repeat 3]

Inputs, in one run:

- the bundled sample county (7,552 incidents);
- a ``gridkit synth`` county (``--county DIR`` holding its files, else synthesised here with
  ``--households``) and its grids (``DIR/part/grids.gpkg``, partitioned here when missing);
- a district's year of incidents, ``--district`` points (1.1 M: about 3,000 a day) generated
  with numpy around that county's grids (:func:`district_year`): each incident in a grid drawn
  by its households, spread around it, 15 % in a few dozen hot spots, reporting times over 365
  days with more on weekdays and in the daytime, categories from the event table.

Surfaces (Scott's bandwidth, 50 m cells over the grids' extent padded by 4 bandwidths, the
same projected points for every method):

- gridkit: ``heat_from_points(..., method="fft")`` (cubic binning + ``scipy.signal.fftconvolve``);
- scikit-learn ``KernelDensity`` (gridkit's method before the FFT, tree evaluation, rtol 1e-4);
- ``scipy.stats.gaussian_kde`` with the same isotropic kernel (covariance h² I);
- KDEpy ``FFTKDE`` (linear binning + FFT) on the same grid; data are divided by the bandwidth
  first (bw = 1): KDEpy truncates the kernel where it falls below an absolute 1e-4, which at
  bw = 490 (a peak of 6.6e-7) would cut almost all of it.

Times are wall seconds; scikit-learn and scipy are evaluated on ``--peer-cells`` random cells
and their time scaled to all cells (marked "extrapolated"). "max error" is the largest
difference from the brute-force sum over every incident, relative to it, on ``--peer-cells``
random cells where the exact density exceeds 1 % of the peak (the same cells for every method).

The whole command: ``gridkit heatmap`` on the county's incidents and on the district's year
(written to a CSV first), each in its own process, wall time and peak memory (``os.wait4``).

Every surface and command runs ``--repeat`` times; a time is the median with the spread
(fastest–slowest) in brackets. Printed first: the command and the machine, with the load
average before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _measure import Samples, Session, add_repeat

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample_county"


# --------------------------------------------------------------------------- inputs


def sample_inputs() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    df = pd.read_csv(SAMPLE / "incidents.csv", dtype={"category": str})
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4490)
    return pts, gpd.read_file(SAMPLE / "communities.gpkg")


def county_dir(args: argparse.Namespace, work: Path) -> Path:
    """A ``gridkit synth`` county with ``part/grids.gpkg`` (made here when not given)."""
    county = Path(args.county) if args.county else work / "county"
    gridkit = [sys.executable, "-m", "gridkit_cli.main"]
    if not (county / "incidents.csv").exists():
        print(f"synthesising a county of {args.households:,} households in {county} ...", file=sys.stderr)
        subprocess.run([*gridkit, "--quiet", "synth", "--households", str(args.households), "--seed",
                        str(args.seed), "--no-tracks", "-o", str(county)], check=True, stdout=sys.stderr)
    if not (county / "part" / "grids.gpkg").exists():
        print(f"partitioning {county} ...", file=sys.stderr)
        subprocess.run([*gridkit, "--quiet", "partition", str(county / "communities.gpkg"), "--buildings",
                        str(county / "buildings.gpkg"), "--streets", str(county / "streets.gpkg"),
                        "--dedicated", str(county / "dedicated.gpkg"), "-o", str(county / "part")], check=True,
                       stdout=sys.stderr)
    return county


def district_year(grids: gpd.GeoDataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` incidents of one year over ``grids``: lon, lat (WGS84), category, reported_at, incident_id."""
    from gridkit.crs import local_crs
    from gridkit.incidents.categories import event_categories

    rng = np.random.default_rng(seed)
    crs = local_crs(grids)
    local = grids.to_crs(crs)
    centres = shapely.get_coordinates(local.geometry.centroid.to_numpy())
    radius = np.sqrt(local.geometry.area.to_numpy() / math.pi)
    weight = pd.to_numeric(local.get("households", pd.Series(1.0, index=local.index)), errors="coerce")
    weight = weight.fillna(0).to_numpy(dtype=float) + 1.0
    grid = rng.choice(len(local), n, p=weight / weight.sum())
    xy = centres[grid] + rng.normal(0, 1, (n, 2)) * (0.6 * radius[grid])[:, None]
    hot = rng.random(n) < 0.15
    spots = centres[rng.choice(len(local), 40, replace=False)]
    xy[hot] = spots[rng.integers(0, len(spots), hot.sum())] + rng.normal(0, 80, (hot.sum(), 2))
    # weekdays twice as busy as weekends, daytime (7-20 h) three times as busy as night
    day = rng.choice(365, n, p=_day_weights())
    hour = rng.choice(24, n, p=_hour_weights())
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n)
    times = pd.Timestamp("2023-07-01") + pd.to_timedelta(seconds, unit="s")
    codes = event_categories()["code"].astype(str)
    minors = codes[codes.str.len() == 4].to_numpy()
    lonlat = gpd.GeoSeries(shapely.points(xy[:, 0], xy[:, 1]), crs=crs).to_crs(4326)
    return pd.DataFrame({
        "incident_id": np.arange(1, n + 1),
        "category": rng.choice(minors, n),
        "lon": np.round(lonlat.x.to_numpy(), 6), "lat": np.round(lonlat.y.to_numpy(), 6),
        "reported_at": times.strftime("%Y-%m-%dT%H:%M:%S"),
    })


def _day_weights() -> np.ndarray:
    weekday = (pd.Timestamp("2023-07-01") + pd.to_timedelta(np.arange(365), unit="D")).day_of_week.to_numpy()
    w = np.where(weekday < 5, 2.0, 1.0)
    return w / w.sum()


def _hour_weights() -> np.ndarray:
    w = np.where((np.arange(24) >= 7) & (np.arange(24) < 20), 3.0, 1.0)
    return w / w.sum()


# --------------------------------------------------------------------------- surfaces side by side


def _timed(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - start


def compare_surfaces(name: str, pts: gpd.GeoDataFrame, area: gpd.GeoDataFrame, peer_cells: int,
                     seed: int) -> list[dict[str, Any]]:
    from gridkit.crs import local_crs
    from gridkit.heat.density import heat_from_points, projected_points

    crs = local_crs(area)
    xy = projected_points(pts, crs)
    bounds = tuple(float(b) for b in area.to_crs(crs).total_bounds)
    heat_from_points(xy[:1000], crs=crs, cell_m=50.0, bandwidth=100.0, method="fft")  # imports, warm caches
    surface, seconds = _timed(heat_from_points, xy, crs=crs, area_bounds=bounds, cell_m=50.0, method="fft")
    h = surface.bandwidth_m
    centres = surface.cell_centres()
    ours = surface.probability.ravel()
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(ours > 0.02 * ours.max())
    cells = np.sort(rng.choice(candidates, min(peer_cells, len(candidates)), replace=False))
    exact = _brute_force(xy, centres[cells], h)
    keep = exact > 0.01 * exact.max()

    def error(values: np.ndarray) -> float:
        return float(np.max(np.abs(values[keep] - exact[keep]) / exact[keep]))

    base = {"input": name, "incidents": len(xy), "cells": ours.size, "bandwidth": h}
    rows = [{**base, "method": "gridkit (cubic binning + FFT)", "seconds": seconds, "note": "",
             "error": error(ours[cells])}]
    rows.append({**base, "method": "scikit-learn KernelDensity (rtol 1e-4)", **_sklearn(xy, centres, cells, h),
                 "note": "extrapolated"})
    rows[-1]["error"] = error(rows[-1].pop("values"))
    rows.append({**base, "method": "scipy.stats.gaussian_kde", **_scipy(xy, centres, cells, h), "note": "extrapolated"})
    rows[-1]["error"] = error(rows[-1].pop("values"))
    kdepy = _kdepy(xy, surface)
    if kdepy is None:
        rows.append({**base, "method": "KDEpy FFTKDE", "seconds": float("nan"), "note": "not installed",
                     "error": float("nan")})
    else:
        grid, kdepy_seconds = kdepy
        rows.append({**base, "method": "KDEpy FFTKDE (linear binning)", "seconds": kdepy_seconds, "note": "",
                     "error": error(grid.ravel()[cells])})
    return rows


def _brute_force(xy: np.ndarray, at: np.ndarray, h: float) -> np.ndarray:
    total = np.zeros(len(at))
    for start in range(0, len(xy), 50_000):
        p = xy[start:start + 50_000]
        d2 = (at[:, None, 0] - p[None, :, 0]) ** 2 + (at[:, None, 1] - p[None, :, 1]) ** 2
        total += np.exp(-d2 / (2 * h * h)).sum(axis=1)
    return total / (2 * math.pi * h * h * len(xy))


def _sklearn(xy: np.ndarray, centres: np.ndarray, cells: np.ndarray, h: float) -> dict[str, Any]:
    from sklearn.neighbors import KernelDensity

    start = time.perf_counter()
    kde = KernelDensity(kernel="gaussian", bandwidth=h, rtol=1e-4).fit(xy)
    fit = time.perf_counter() - start
    values, score = _timed(kde.score_samples, centres[cells])
    return {"seconds": fit + score * len(centres) / len(cells), "values": np.exp(values)}


def _scipy(xy: np.ndarray, centres: np.ndarray, cells: np.ndarray, h: float) -> dict[str, Any]:
    from scipy.stats import gaussian_kde

    kde = gaussian_kde(xy.T)
    # the same isotropic kernel as gridkit: covariance h² I (scipy caches the data covariance here)
    kde._data_covariance = np.eye(2) * h * h
    kde._data_cho_cov = np.eye(2) * h
    kde.set_bandwidth(1.0)
    values, seconds = _timed(kde.evaluate, centres[cells].T)
    return {"seconds": seconds * len(centres) / len(cells), "values": values}


def _kdepy(xy: np.ndarray, surface: Any) -> tuple[np.ndarray, float] | None:
    try:
        from KDEpy import FFTKDE
    except ImportError:
        return None
    h = surface.bandwidth_m
    xs, ys = surface.centre_axes()
    start = time.perf_counter()
    gx, gy = np.meshgrid(xs / h, ys[::-1] / h, indexing="ij")  # KDEpy wants the grid sorted by x, then y
    values = FFTKDE(kernel="gaussian", bw=1.0).fit(xy / h).evaluate(np.column_stack([gx.ravel(), gy.ravel()]))
    grid = values.reshape(len(xs), len(ys)).T[::-1] / (h * h)  # back to north-up rows, per m²
    return grid, time.perf_counter() - start


# --------------------------------------------------------------------------- the whole command


def run_command(grids: Path, incidents: Path, outdir: Path) -> tuple[float, float, dict[str, str]]:
    """``gridkit heatmap`` in its own process: wall seconds, peak resident GB, report figures."""
    argv = [sys.executable, "-m", "gridkit_cli.main", "--quiet", "heatmap", str(grids), str(incidents), "-o",
            str(outdir)]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"gridkit heatmap failed ({status}): {err}")
    page = (outdir / "heatmap.html").stat().st_size
    return seconds, usage.ru_maxrss / 2**20, {"page_mb": f"{page / 2**20:.1f}", "stdout": out.strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--county", help="a gridkit synth output folder (partitioned into DIR/part when needed)")
    parser.add_argument("--households", type=int, default=1_000_000, help="households of the county synthesised")
    parser.add_argument("--district", type=int, default=1_100_000, help="incidents of the district's year")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peer-cells", type=int, default=200, help="cells the peers and the brute force evaluate")
    parser.add_argument("--skip-command", action="store_true", help="surfaces only, not the whole command")
    add_repeat(parser)
    args = parser.parse_args(argv)
    session = Session(argv)
    from gridkit.io import read_layer

    with tempfile.TemporaryDirectory(prefix="bench_heat_") as tmp:
        work = Path(tmp)
        county = county_dir(args, work)
        grids_path = county / "part" / "grids.gpkg"
        grids = read_layer(grids_path, layer="grids")
        county_df = pd.read_csv(county / "incidents.csv", dtype={"category": str})
        county_pts = gpd.GeoDataFrame(county_df, geometry=gpd.points_from_xy(county_df.lon, county_df.lat), crs=4490)
        district = district_year(grids, args.district, args.seed)
        district_csv = work / "district_year.csv"
        district.to_csv(district_csv, index=False)
        district_pts = gpd.GeoDataFrame(district, geometry=gpd.points_from_xy(district.lon, district.lat), crs=4326)

        rows: list[dict[str, Any]] = []
        times = Samples()
        inputs = (("sample county", sample_inputs()),
                  (f"synth county ({len(grids):,} grids)", (county_pts, grids)),
                  ("district year", (district_pts, grids)))
        for i in range(args.repeat):
            for name, (pts, area) in inputs:
                print(f"surfaces: {name} ({i + 1}/{args.repeat}) ...", file=sys.stderr)
                got = compare_surfaces(name, pts, area, args.peer_cells, args.seed)
                for r in got:
                    times.add(f"{r['input']} {r['method']}", r["seconds"])
                if i == 0:
                    rows += got
        commands: list[tuple[str, Samples, dict[str, str]]] = []
        if not args.skip_command:
            for name, incidents in (("synth county", county / "incidents.csv"), ("district year", district_csv)):
                s = Samples()
                for i in range(args.repeat):
                    print(f"gridkit heatmap: {name} ({i + 1}/{args.repeat}) ...", file=sys.stderr)
                    seconds, gb, figures = run_command(grids_path, incidents, work / f"out_{len(commands)}_{i}")
                    s.add("wall", seconds)
                    s.add("gb", gb)
                commands.append((name, s, figures))

    print(session.header(args.repeat))
    print("| input | incidents | cells | bandwidth (m) | method | wall (s) | max error vs exact (cells > 1 % of peak) |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for r in rows:
        note = f" ({r['note']})" if r["note"] else ""
        print(f"| {r['input']} | {r['incidents']:,} | {r['cells']:,} | {r['bandwidth']:.0f} | {r['method']} | "
              f"{times.cell(r['input'] + ' ' + r['method'], '.2f')}{note} | {r['error']:.1e} |")
    if commands:
        print()
        print("| `gridkit heatmap` on | wall (s) | peak memory (GB) | heatmap.html (MB) |")
        print("| --- | ---: | ---: | ---: |")
        for name, s, figures in commands:
            print(f"| {name} | {s.cell('wall', '.1f')} | {s.cell('gb', '.2f')} | {figures['page_mb']} |")
    print()
    print(f"numpy {np.__version__}; errors are those of the first run (the same every run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
