"""The weight of every page gridkit writes, on a county with all its layers and a district year of incidents.

Run on demand (not part of the test suite)::

    python benchmarks/bench_pages.py [--households 1000000] [--incidents-per-day 3000] [--days 365]
                                     [--seed 1] [--workdir DIR] [--repeat 3]

Setup (not timed): ``gridkit synth --households N --seed S --incidents-per-day I --days D``
and ``gridkit partition`` of it (which writes the sign-off page ``map.html``). Then, each
through the command line:

- ``gridkit map GRIDS --streets --components --incidents --tracks --offline``: every
  building (from ``grids.gpkg``), street, component, GPS fix and incident;
- the partition's sign-off page ``map.html`` (grids, streets, buildings, communities), built
  again by ``signoff_map`` as ``gridkit partition`` builds it (its time: build and save only);
- ``gridkit heatmap GRIDS INCIDENTS``: ``heatmap.html``.

Each page is opened in headless Chromium with the network blocked (``tests/browser.py``):
**drawn** is the time from navigation start until ``window.gridkit`` exists and two
animation frames have passed (every layer built and painted); **JS heap** is Chromium's
``JSHeapUsedSize`` then, and again after zooming to street zoom (17) at the centre of the
grids, where buildings are drawn. The table also gives the page's size and the budget it
states, how many console errors and blocked requests there were, and the goals of issue 14
(page < 20 MB, drawn < 5 s, heap < 300 MB). ``--workdir`` keeps the files (and reuses a
synth county and partition already there). The pages are built and opened ``--repeat`` times;
a figure is the median with the spread (fastest–slowest) in brackets, under the command and
the machine (load average before and after). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from _measure import Samples, Session, add_repeat

GOALS = {"size_mb": 20.0, "drawn_s": 5.0, "heap_mb": 300.0}
_DRAWN = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _gridkit(*args: str) -> float:
    from gridkit_cli.main import main

    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # its facts are progress here; stdout keeps the report
        code = main(["--quiet", *args])
    if code != 0:
        raise SystemExit(f"gridkit {' '.join(args)} exited with {code}")
    return time.perf_counter() - start


def build(work: Path, households: int, seed: int, per_day: int, days: int) -> dict[str, tuple[Path, float]]:
    county, part = work / "county", work / "part"
    if not (county / "incidents.csv").exists():
        _log(f"synth: {households:,} households, {per_day:,} incidents a day for {days} days")
        _gridkit("synth", "-o", str(county), "--households", str(households), "--seed", str(seed),
                 "--incidents-per-day", str(per_day), "--days", str(days))
    if not (part / "map.html").exists():
        _log("partition (writes the sign-off page map.html)")
        _gridkit("partition", str(county / "communities.gpkg"), "--buildings", str(county / "buildings.gpkg"),
                 "--streets", str(county / "streets.gpkg"), "--dedicated", str(county / "dedicated.gpkg"),
                 "-o", str(part))
    grids = str(part / "grids.gpkg")
    _log("sign-off page, as gridkit partition writes it (rebuilt from grids.gpkg and report.json)")
    signoff = signoff_page(part, county)
    _log("gridkit map with every layer")
    took = _gridkit("map", grids, "--streets", str(county / "streets.gpkg"), "--components",
                    str(county / "components.gpkg"), "--incidents", str(county / "incidents.csv"),
                    "--tracks", str(county / "tracks.csv"), "--offline", "-o", str(work / "overview.html"))
    pages = {"gridkit map (every layer)": (work / "overview.html", took),
             "partition map.html (sign-off)": signoff}
    _log("gridkit heatmap")
    took = _gridkit("heatmap", grids, str(county / "incidents.csv"), "-o", str(work / "heat"))
    pages["heatmap.html"] = (work / "heat" / "heatmap.html", took)
    return pages


def signoff_page(part: Path, county: Path) -> tuple[Path, float]:
    """The partition's ``map.html`` again, with the code under test (a reused partition may be older)."""
    import json

    import geopandas as gpd
    import pandas as pd

    from gridkit.maps import save_map, signoff_map

    layers = {name: gpd.read_file(part / "grids.gpkg", layer=name) for name in ("grids", "communities", "buildings")}
    issues = pd.DataFrame(json.loads((part / "report.json").read_text(encoding="utf-8"))["rules_not_met"])
    start = time.perf_counter()
    page = signoff_map(layers["grids"], communities=layers["communities"],
                       streets=gpd.read_file(county / "streets.gpkg"), buildings=layers["buildings"], issues=issues)
    out = save_map(page, part / "map.html", offline=True)
    return out, time.perf_counter() - start


def measure(browser, path: Path) -> dict[str, float]:
    page = browser.open(path, wait_for="window.gridkit !== undefined", settle_ms=0, timeout_ms=600_000)
    try:
        drawn_ms = float(page.evaluate(_DRAWN))
        cdp = page.page.context.new_cdp_session(page.page)
        cdp.send("Performance.enable")

        def heap() -> float:
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            return metrics["JSHeapUsedSize"] / 1e6

        opened = heap()
        page.evaluate("""() => { var m = gridkit.map, c = m.getCenter(); m.setView(c, 17, {animate: false}); }""")
        page.evaluate(_DRAWN)
        page.page.wait_for_timeout(300)
        street = heap()
        buildings = page.evaluate("""() => { var b = gridkit.layers.buildings;
            return b && gridkit.map.hasLayer(b) && b.drawn !== undefined ? b.drawn : -1; }""")
        html = path.read_text(encoding="utf-8")
        import re

        budget = re.search(r"""name=["']gridkit-size-budget["'] content=["'](\d+)""", html)
        return {"size_mb": path.stat().st_size / 1e6, "budget_mb": int(budget.group(1)) / 1e6 if budget else 0.0,
                "drawn_s": drawn_ms / 1000, "heap_mb": opened, "street_heap_mb": street,
                "buildings_drawn": float(buildings), "problems": float(len(page.errors) + len(page.blocked)
                                                                       + len(page.failed))}
    finally:
        page.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--incidents-per-day", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the files here (and reuse a county there)")
    add_repeat(parser)
    args = parser.parse_args(argv)
    session = Session(argv)
    from browser import Browser

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        runs: dict[str, list[dict[str, float]]] = {}
        with Browser() as browser:
            for i in range(args.repeat):
                _log(f"run {i + 1}/{args.repeat}")
                pages = build(work, args.households, args.seed, args.incidents_per_day, args.days)
                for name, (path, took) in pages.items():
                    _log(f"Chromium: {name}")
                    runs.setdefault(name, []).append({**measure(browser, path), "built_s": took})
        rows = []
        for name, got in runs.items():
            s = Samples()
            for r in got:
                for key, value in r.items():
                    s.add(key, value)
            r = got[0]
            problems = int(sum(s.values["problems"]))
            ok = all(s.median(k) < v for k, v in GOALS.items()) and problems == 0
            shown = "n/a" if r["buildings_drawn"] < 0 else f"{int(r['buildings_drawn']):,}"
            rows.append(f"| {name} | {s.cell('built_s', '.1f', ' s')} | {r['size_mb']:.1f} MB (budget "
                        f"{r['budget_mb']:.1f}) | {s.cell('drawn_s', '.2f', ' s')} | {s.cell('heap_mb', '.0f', ' MB')} "
                        f"| {s.cell('street_heap_mb', '.0f', ' MB')} | {shown} | {problems} | {'yes' if ok else 'NO'} |")
    print(session.header(args.repeat))
    print(f"county: {args.households:,} households, seed {args.seed}, {args.incidents_per_day:,} incidents a day "
          f"for {args.days} days")
    print()
    print("| page | built (CLI) | size | drawn in Chromium | JS heap drawn | JS heap at zoom 17 "
          "| building squares (250 m) drawn at 17 | errors+blocked (all runs) | within goals (medians) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print()
    print(f"goals: page < {GOALS['size_mb']:g} MB, drawn < {GOALS['drawn_s']:g} s, JS heap < {GOALS['heap_mb']:g} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
