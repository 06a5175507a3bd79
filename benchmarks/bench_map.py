"""How long `gridkit map` takes to build, how big the page is, and how fast Chromium opens it.

Run on demand (not part of the test suite)::

    python benchmarks/bench_map.py [--households 18427 200000] [--seed 1] [--repeat 3]

For each size a synthetic county is generated (``gridkit.synth.county``) and partitioned (setup,
not timed), then:

- **gridkit**: ``map_for_grids`` with grids, communities, buildings, streets, components,
  incidents and GPS fixes, saved with ``offline=True``;
- **peer baseline**: the plain geopandas way, ``GeoDataFrame.explore`` for each of the same
  layers (every component and incident a circle marker, tracks as points), saved and then
  made offline with the same :func:`gridkit.maps.inline_assets` so that both pages load
  without network.

Both pages are opened in headless Chromium with the network blocked; the load time is
until the map's layers exist (``load`` event plus the first render). The table gives the
ratios baseline / gridkit.

A second table measures the partition's sign-off page (``signoff_map`` with streets,
buildings and the partition's issues) against the page ``gridkit partition`` wrote before it
(``map_for_grids`` with grids and communities only). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from _measure import Samples, Session, add_repeat


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def county_layers(households: int, seed: int) -> dict:
    from gridkit.partition.pipeline import partition
    from gridkit.synth.county import synth_county

    county = synth_county(seed=seed, households=households)
    result = partition(county["communities"], county["buildings"], streets=county["streets"],
                       dedicated=county.get("dedicated"), code_field="code", name_field="name")
    incidents = county["incidents"]
    tracks = county["tracks"]
    import geopandas as gpd

    if not isinstance(incidents, gpd.GeoDataFrame):
        incidents = gpd.GeoDataFrame(incidents, geometry=gpd.points_from_xy(incidents["lon"], incidents["lat"]),
                                     crs=4490)
    if not isinstance(tracks, gpd.GeoDataFrame):
        tracks = gpd.GeoDataFrame(tracks, geometry=gpd.points_from_xy(tracks["lon"], tracks["lat"]), crs=4490)
    return {"grids": result.grids, "communities": result.communities, "buildings": result.buildings,
            "streets": county["streets"], "components": county["components"], "incidents": incidents,
            "tracks": tracks, "issues": result.issues}


def gridkit_page(layers: dict, out: Path) -> float:
    from gridkit.maps import map_for_grids, save_map

    start = time.perf_counter()
    m = map_for_grids(layers["grids"], communities=layers["communities"], buildings=layers["buildings"],
                      streets=layers["streets"], components=layers["components"], incidents=layers["incidents"],
                      tracks=layers["tracks"])
    save_map(m, out, offline=True)
    return time.perf_counter() - start


def signoff_page(layers: dict, out: Path) -> float:
    from gridkit.maps import save_map, signoff_map

    start = time.perf_counter()
    m = signoff_map(layers["grids"], communities=layers["communities"], streets=layers["streets"],
                    buildings=layers["buildings"], issues=layers["issues"])
    save_map(m, out, offline=True)
    return time.perf_counter() - start


def overview_page(layers: dict, out: Path) -> float:
    from gridkit.maps import map_for_grids, save_map

    start = time.perf_counter()
    save_map(map_for_grids(layers["grids"], communities=layers["communities"]), out, offline=True)
    return time.perf_counter() - start


def baseline_page(layers: dict, out: Path) -> float:
    from gridkit.maps import inline_assets

    start = time.perf_counter()
    m = layers["grids"].explore(column="households", tiles=None, name="grids")
    layers["communities"].explore(m=m, style_kwds={"fill": False}, name="communities")
    layers["buildings"][["geometry"]].explore(m=m, color="grey", name="buildings")
    layers["streets"][["geometry"]].explore(m=m, color="black", name="streets")
    for key in ("components", "incidents", "tracks"):
        layers[key][["geometry"]].explore(m=m, marker_type="circle_marker", marker_kwds={"radius": 3}, name=key)
    html = m.get_root().render()
    out.write_text(inline_assets(html), encoding="utf-8")
    return time.perf_counter() - start


def load_seconds(browser, path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    page = browser.open(path, settle_ms=0, timeout_ms=600_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(0))))")
    took = time.perf_counter() - start
    problems = len(page.blocked) + len(page.failed) + len(page.errors)
    page.close()
    return took, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, nargs="+", default=[18_427, 200_000])
    parser.add_argument("--seed", type=int, default=1)
    add_repeat(parser)
    args = parser.parse_args(argv)
    session = Session(argv)
    from browser import Browser

    rows, signoff_rows = [], []
    with tempfile.TemporaryDirectory() as tmp, Browser() as browser:
        for n in args.households:
            _log(f"county of {n:,} households: synth + partition (setup)")
            layers = county_layers(n, args.seed)
            ours, theirs = Path(tmp) / f"gridkit_{n}.html", Path(tmp) / f"explore_{n}.html"
            sign, over = Path(tmp) / f"signoff_{n}.html", Path(tmp) / f"overview_{n}.html"
            s = Samples()
            problems = [0] * 4
            for i in range(args.repeat):
                _log(f"  run {i + 1}/{args.repeat}: gridkit map, geopandas explore, Chromium")
                s.add("ours", gridkit_page(layers, ours))
                s.add("theirs", baseline_page(layers, theirs))
                for key, path in (("l_ours", ours), ("l_theirs", theirs)):
                    took, bad = load_seconds(browser, path)
                    s.add(key, took)
                    problems[0 if key == "l_ours" else 1] += bad
                s.add("mb_ours", ours.stat().st_size / 1e6)
                s.add("mb_theirs", theirs.stat().st_size / 1e6)
                _log("  sign-off page and the overview partition wrote before")
                s.add("sign", signoff_page(layers, sign))
                s.add("over", overview_page(layers, over))
                for key, path in (("l_sign", sign), ("l_over", over)):
                    took, bad = load_seconds(browser, path)
                    s.add(key, took)
                    problems[2 if key == "l_sign" else 3] += bad
                s.add("mb_sign", sign.stat().st_size / 1e6)
                s.add("mb_over", over.stat().st_size / 1e6)
            rows.append(
                f"| {n:,} | {len(layers['grids']):,} | {len(layers['buildings']):,} | {len(layers['components']):,} "
                f"| {len(layers['incidents']):,} | {len(layers['tracks']):,} "
                f"| {s.cell('ours', unit=' s')} / {s.cell('theirs', unit=' s')} | {s.ratio('theirs', 'ours')} "
                f"| {s.median('mb_ours'):.1f} / {s.median('mb_theirs'):.1f} MB | {s.ratio('mb_theirs', 'mb_ours')} "
                f"| {s.cell('l_ours', unit=' s')} / {s.cell('l_theirs', unit=' s')} | {s.ratio('l_theirs', 'l_ours')} "
                f"| {problems[0]} / {problems[1]} |")
            signoff_rows.append(
                f"| {n:,} | {len(layers['grids']):,} | {len(layers['buildings']):,} | {len(layers['streets']):,} "
                f"| {s.cell('sign', unit=' s')} / {s.cell('over', unit=' s')} "
                f"| {s.median('mb_sign'):.1f} / {s.median('mb_over'):.1f} MB "
                f"| {s.cell('l_sign', unit=' s')} / {s.cell('l_over', unit=' s')} | {problems[2]} / {problems[3]} |")
    print(session.header(args.repeat))
    print("| households | grids | buildings | components | incidents | GPS fixes | build + save offline: "
          "gridkit / explore | explore / gridkit | page size | size ratio | Chromium load | load ratio "
          "| blocked+failed+errors (all runs) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print()
    print("| households | grids | buildings | streets | build + save offline: sign-off / overview | page size "
          "| Chromium load | blocked+failed+errors (all runs) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(signoff_rows))
    print()
    print("Ratios are explore / gridkit (above 1: gridkit is faster or smaller), median of the runs' own ratios; "
          "page sizes are the same every run.")
    return 0

if __name__ == "__main__":
    sys.exit(main())
