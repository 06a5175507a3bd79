"""How long `gridkit map` takes to build, how big the page is, and how fast Chromium opens it.

Run on demand (not part of the test suite)::

    python benchmarks/bench_map.py [--households 18427 200000] [--seed 1]

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
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def county_layers(households: int, seed: int) -> dict:
    from gridkit.partition.pipeline import partition
    from gridkit.synth.county import synth_county

    county = synth_county(seed=seed, households=households)
    result = partition(county["communities"], county["buildings"], streets=county["streets"],
                       dedicated=county.get("dedicated"), code_field="code", name_field="name", rng=seed)
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
    args = parser.parse_args(argv)
    from browser import Browser

    rows, signoff_rows = [], []
    with tempfile.TemporaryDirectory() as tmp, Browser() as browser:
        for n in args.households:
            _log(f"county of {n:,} households: synth + partition (setup)")
            layers = county_layers(n, args.seed)
            ours, theirs = Path(tmp) / f"gridkit_{n}.html", Path(tmp) / f"explore_{n}.html"
            _log("  gridkit map")
            t_ours = gridkit_page(layers, ours)
            _log("  geopandas explore")
            t_theirs = baseline_page(layers, theirs)
            _log("  Chromium")
            l_ours, p_ours = load_seconds(browser, ours)
            l_theirs, p_theirs = load_seconds(browser, theirs)
            mb_ours, mb_theirs = ours.stat().st_size / 1e6, theirs.stat().st_size / 1e6
            rows.append(
                f"| {n:,} | {len(layers['grids']):,} | {len(layers['buildings']):,} | {len(layers['components']):,} "
                f"| {len(layers['incidents']):,} | {len(layers['tracks']):,} "
                f"| {t_ours:.1f} s / {t_theirs:.1f} s ({t_theirs / t_ours:.1f}x) "
                f"| {mb_ours:.1f} / {mb_theirs:.1f} MB ({mb_theirs / mb_ours:.1f}x) "
                f"| {l_ours:.1f} s / {l_theirs:.1f} s ({l_theirs / l_ours:.1f}x) | {p_ours} / {p_theirs} |")
            _log("  sign-off page and the overview partition wrote before")
            sign, over = Path(tmp) / f"signoff_{n}.html", Path(tmp) / f"overview_{n}.html"
            t_sign, t_over = signoff_page(layers, sign), overview_page(layers, over)
            (l_sign, p_sign), (l_over, p_over) = load_seconds(browser, sign), load_seconds(browser, over)
            signoff_rows.append(
                f"| {n:,} | {len(layers['grids']):,} | {len(layers['buildings']):,} | {len(layers['streets']):,} "
                f"| {t_sign:.1f} s / {t_over:.1f} s | {sign.stat().st_size / 1e6:.1f} / {over.stat().st_size / 1e6:.1f} MB "
                f"| {l_sign:.1f} s / {l_over:.1f} s | {p_sign} / {p_over} |")
    print("command: python benchmarks/bench_map.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    print()
    print("| households | grids | buildings | components | incidents | GPS fixes | build + save offline: "
          "gridkit / explore | page size | Chromium load | blocked+failed+errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print()
    print("| households | grids | buildings | streets | build + save offline: sign-off / overview | page size "
          "| Chromium load | blocked+failed+errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(signoff_rows))
    print()
    print(f"{platform.platform()}, Python {platform.python_version()}, {platform.processor() or 'cpu'}; "
          "ratios are explore / gridkit (above 1: gridkit is faster or smaller)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
