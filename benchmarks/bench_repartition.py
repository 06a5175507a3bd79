"""Three years of household changes, re-partitioned with ``--previous``: stability, rules and time.

Run on demand (not part of the test suite)::

    python benchmarks/bench_repartition.py [--households 200000] [--seed 1] [--repeat 3]

It builds the county ``gridkit synth --households N --seed S --no-incidents --no-tracks``
writes (in memory, with :func:`gridkit.synth.county.synth_county`), partitions it, then
lives three years, each re-partitioned against the year before
(``partition(..., previous=...)``) and, for the time, afresh:

- (a) 5 % of the buildings gain or lose up to half their households;
- (b) a new estate of 1,500 households (ten blocks of 150) is built in one community;
- (c) a village loses a third of its households: a hamlet moves away (its westernmost
  buildings holding a third of the households are emptied).

Per year it prints: the previous grids that still keep the bounds with the new
households, the share of previous grids unchanged in geometry and code (goal ≥ 90 % where
≥ 90 % still keep the rules), the kinds of change, whether every rule holds (bounds
broken only where the data makes it impossible), whether a retired code came back
(across all years), and the time against a fresh partition (goal within 2×): each partition
runs ``--repeat`` times, the median with the spread (fastest–slowest) in brackets, under the
command and the machine (load average before and after).
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _measure import Samples, Session, add_repeat


def _year_a(buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    b = buildings.copy()
    pick = rng.random(len(b)) < 0.05
    factor = rng.uniform(0.5, 1.5, int(pick.sum()))
    b.loc[pick, "households"] = np.maximum((b.loc[pick, "households"] * factor).round(), 0).astype(np.int64)
    return b


def _year_b(buildings: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, rng: np.random.Generator,
            result) -> tuple[gpd.GeoDataFrame, str]:
    """Ten blocks of 150 households where the city community has the most room away from buildings."""
    city = communities[communities["kind"] == "city"] if "kind" in communities else communities
    code = str(city["code"].iat[int(rng.integers(len(city)))])
    metric = buildings.estimate_utm_crs()
    comm = communities.to_crs(metric)
    boundary = comm.geometry.to_numpy()[np.flatnonzero(comm["code"].astype(str) == code)[0]]
    existing = buildings.to_crs(metric).geometry.to_numpy()
    minx, miny, maxx, maxy = boundary.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, 15.0), np.arange(miny, maxy, 15.0))
    pts = shapely.points(xs.ravel(), ys.ravel())
    pts = pts[shapely.contains(boundary.buffer(-30), pts)]
    tree = shapely.STRtree(existing)
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    centre = pts[int(np.argmax(dist))]
    cx, cy = centre.x, centre.y
    blocks = [shapely.box(cx + dx - 10, cy + dy - 6, cx + dx + 10, cy + dy + 6)
              for dx in (-36, -12, 12, 36, 60) for dy in (-12, 12)]
    new = gpd.GeoDataFrame({"households": np.full(len(blocks), 150, dtype=np.int64)}, geometry=blocks,
                           crs=metric).to_crs(buildings.crs)
    cols = [c for c in buildings.columns if c not in ("households", buildings.geometry.name)]
    for c in cols:
        new[c] = None
    out = pd.concat([buildings, new[buildings.columns]], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry=buildings.geometry.name, crs=buildings.crs), code


def _year_c(buildings: gpd.GeoDataFrame, result, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, str]:
    """A hamlet moves away: a village's westernmost buildings holding a third of its households are emptied.

    The village is the one with the most grids among those in one piece (a hamlet on an
    island of a village in several parts cannot merge with anything).
    """
    grids = result.grids
    comm = result.communities
    whole = set(comm.loc[shapely.get_num_geometries(comm.geometry.to_numpy()) == 1, "community_code"])
    rural = grids[(grids["kind"] == "rural") & grids["community_code"].isin(whole)]
    per = rural.groupby("community_code")["households"].agg(["size", "sum"]).sort_index()
    code = str(per.sort_values(["size", "sum"], ascending=False, kind="stable").index[0])
    b = buildings.copy()
    mine = np.flatnonzero((result.buildings["community_code"] == code).to_numpy())
    x = shapely.get_x(shapely.point_on_surface(b.geometry.to_numpy()[mine]))
    order = mine[np.argsort(x, kind="stable")]
    hh = b["households"].to_numpy()[order]
    gone = order[np.cumsum(hh) <= hh.sum() / 3]
    b.loc[b.index[gone], "households"] = 0
    return b, code


def _prev_keeping_bounds(prev, buildings: gpd.GeoDataFrame, bounds: dict) -> float:
    """Share of the previous grids still within the bounds with the new households (their old footprint)."""
    g = prev.grids
    where = shapely.STRtree(g.geometry.to_numpy()).query(
        shapely.point_on_surface(buildings.to_crs(g.crs).geometry.to_numpy()), predicate="intersects")
    first = np.full(len(buildings), -1)
    first[where[0][::-1]] = where[1][::-1]
    hh = np.bincount(first[first >= 0], weights=buildings["households"].to_numpy()[first >= 0], minlength=len(g))
    lo = g["kind"].map(lambda k: bounds[k]["min"]).to_numpy()
    hi = g["kind"].map(lambda k: bounds[k]["max"]).to_numpy()
    ok = ((hh >= lo) & (hh <= hi)) | g["dedicated"].to_numpy()
    return float(ok.mean())


def _rules_hold(result) -> tuple[bool, str]:
    from gridkit.partition.reasons import DATA_REASONS

    issues = result.issues
    hard = issues[~issues["rule"].isin(["households_within_bounds", "building_not_split"])]
    hard = hard[~((hard["rule"] == "households_conserved") & (hard["code"] == "outside_communities"))]
    g = result.grids.set_index("grid_code")
    bounds = issues[issues["rule"] == "households_within_bounds"]
    unexplained = [c for c in bounds["grid_code"] if g.loc[c, "reason"] not in DATA_REASONS]
    ok = len(hard) == 0 and not unexplained
    return ok, f"{len(bounds)} bound exceptions ({len(bounds) - len(unexplained)} from the data)"


def _unchanged(prev, result) -> float:
    a = pd.Series(shapely.normalize(prev.grids.geometry.to_numpy()), index=prev.grids["grid_code"].to_numpy())
    b = pd.Series(shapely.normalize(result.grids.geometry.to_numpy()), index=result.grids["grid_code"].to_numpy())
    both = a.index.intersection(b.index)
    same = shapely.equals_exact(a[both].to_numpy(), b[both].to_numpy(), 0)
    return float(same.sum()) / len(a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    add_repeat(parser)
    args = parser.parse_args(argv)
    session = Session(argv)

    from gridkit.partition.pipeline import partition
    from gridkit.synth.county import synth_county

    county = synth_county(seed=args.seed, households=args.households, incidents=False, tracks=False)
    comm, streets, dedicated = county["communities"], county["streets"], county["dedicated"]
    rng = np.random.default_rng(args.seed)
    opts = {"streets": streets, "dedicated": dedicated}
    year0 = Samples()
    for _ in range(args.repeat):
        start = time.perf_counter()
        prev = partition(comm, county["buildings"], **opts)
        year0.add("fresh", time.perf_counter() - start)
    n0 = len(prev.grids)
    buildings = county["buildings"]
    retired_ever: set[str] = set()
    rows = []
    ok_all = True
    for year in ("a", "b", "c"):
        if year == "a":
            buildings, what = _year_a(buildings, rng), "5 % of buildings ±50 % households"
        elif year == "b":
            buildings, code = _year_b(buildings, comm, rng, prev)
            what = f"new estate of 1,500 households in {code}"
        else:
            buildings, code = _year_c(buildings, prev, rng)
            what = f"village {code} loses a third of its households (a hamlet emptied)"
        keeping = _prev_keeping_bounds(prev, buildings, prev.figures["bounds"])
        t = Samples()
        for _ in range(args.repeat):  # alternating, so a change of load hits both
            start = time.perf_counter()
            result = partition(comm, buildings, **opts, previous=prev)
            t.add("previous", time.perf_counter() - start)
            start = time.perf_counter()
            partition(comm, buildings, **opts)
            t.add("fresh", time.perf_counter() - start)
        t_prev, t_fresh = t.median("previous"), t.median("fresh")
        rules_ok, rules_note = _rules_hold(result)
        reused = retired_ever & set(result.grids["grid_code"])
        codes = result.changes.codes
        retired_ever |= set(codes.loc[codes["status"] == "retired", "code"])
        share = _unchanged(prev, result)
        c = result.changes.figures["counts"]
        kinds = "/".join(str(c[k]) for k in ("kept", "reshaped", "split", "merged", "new", "retired"))
        ok_all &= rules_ok and not reused and (share >= 0.9 or keeping < 0.9) and t_prev <= 2 * t_fresh
        rows.append((year, what, f"{len(prev.grids):,} → {len(result.grids):,}", f"{keeping:.1%}", f"{share:.1%}",
                     kinds, f"{'yes' if rules_ok else 'NO'}: {rules_note}", "none" if not reused else
                     ", ".join(sorted(reused)), t.cell("previous", ".1f"), t.cell("fresh", ".1f"),
                     t.ratio("previous", "fresh", ".2f")))
        prev = result

    print(session.header(args.repeat))
    print(f"{args.households:,} households, {len(comm)} communities and villages; year 0: a fresh partition of "
          f"{n0:,} grids in {year0.cell('fresh', '.1f', ' s')}")
    print()
    print("| year | change | grids | previous grids keeping the bounds | unchanged (geometry and code) | "
          "kept/reshaped/split/merged/new/retired | every rule holds | retired code reused | "
          "--previous (s) | fresh (s) | ratio |")
    print("| --- | --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
