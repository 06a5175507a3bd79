"""Notice boards on the sample county: HTML for every grid, and PDF+PNG with one browser
for the run against the naive baseline of one browser launch per board (same pages).

    python benchmarks/bench_board.py [--render N] [--synth-households N] [--repeat 3]

Prints the command that made it, the machine and a markdown table (median and spread of the runs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _measure import Samples, Session, add_repeat

from gridkit._chromium import PageRenderer
from gridkit.board import boards_for_grids
from gridkit.board.workers import read_workers
from gridkit.datasets import get_path
from gridkit.io import read_layer
from gridkit.partition.outputs import write_partition
from gridkit.partition.pipeline import partition


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--render", type=int, default=8, help="boards rendered to PDF+PNG")
    parser.add_argument("--synth-households", type=int, default=0,
                        help="also time HTML boards for every grid of a synthetic county of this size")
    add_repeat(parser)
    args = parser.parse_args(argv)
    session = Session(argv)
    sample = get_path("sample_county")
    work = Path(tempfile.mkdtemp(prefix="bench_board_"))
    result = partition(read_layer(sample / "communities.gpkg"), read_layer(sample / "buildings.gpkg"),
                       streets=read_layer(sample / "streets.gpkg"))
    write_partition(result, work / "part", parameters={})
    grids = read_layer(work / "part" / "grids.gpkg", layer="grids")
    common = {"buildings": read_layer(work / "part" / "grids.gpkg", layer="buildings"),
              "streets": read_layer(sample / "streets.gpkg"),
              "workers": read_workers(sample / "workers.csv")}
    codes = sorted(grids["grid_code"])[: args.render]
    big = county = None
    if args.synth_households:
        from gridkit.synth.county import synth_county

        county = synth_county(seed=1, households=args.synth_households, incidents=False, tracks=False)
        big = partition(county["communities"], county["buildings"], streets=county["streets"])
    s = Samples()
    for i in range(args.repeat):
        print(f"run {i + 1}/{args.repeat}", file=sys.stderr, flush=True)
        run = work / f"run{i}"
        t = time.perf_counter()
        boards_for_grids(grids, run / "html", formats=["html"], **common)
        s.add("html", time.perf_counter() - t)

        t = time.perf_counter()
        boards_for_grids(grids, run / "print", grid_codes=codes, formats=["html", "pdf", "png"], **common)
        s.add("ours", time.perf_counter() - t)

        t = time.perf_counter()
        for code in codes:  # baseline: a browser launched per board, same pages
            with PageRenderer() as renderer:
                renderer.render(run / "html" / f"{code}.html", pdf=run / f"{code}.pdf", png=run / f"{code}.png",
                                selector=".board")
        s.add("naive", time.perf_counter() - t)

        t = time.perf_counter()
        boards_for_grids(grids, run / "mpl", grid_codes=codes, formats=["pdf", "png"], renderer="matplotlib",
                         **common)
        s.add("mpl", time.perf_counter() - t)

        if big is not None and county is not None:
            t = time.perf_counter()
            boards_for_grids(big.grids, run / "synth", formats=["html"], buildings=big.buildings,
                             streets=county["streets"])
            s.add("synth", time.perf_counter() - t)
    for key, n in (("html", len(grids)), ("ours", len(codes)), ("naive", len(codes)), ("mpl", len(codes)),
                   ("synth", len(big.grids) if big is not None else 0)):
        for value in s.values.get(key, []):
            s.add(key + " per", value / n)
    rows = [(f"HTML, all {len(grids)} grids of the sample county", "html", ""),
            (f"HTML+PDF+PNG, {len(codes)} grids, one browser (gridkit)", "ours", "1.00"),
            (f"PDF+PNG, {len(codes)} grids, a browser launched per board (baseline)", "naive",
             s.ratio("naive", "ours", ".2f")),
            (f"PDF+PNG, {len(codes)} grids, matplotlib fallback", "mpl", s.ratio("mpl", "ours", ".2f"))]
    if big is not None:
        rows.append((f"HTML, all {len(big.grids)} grids of a {args.synth_households:,}-household synthetic county",
                     "synth", ""))
    print(session.header(args.repeat))
    print("| run | seconds | seconds per board | time / gridkit Chromium run |")
    print("| --- | ---: | ---: | ---: |")
    for name, key, ratio in rows:
        print(f"| {name} | {s.cell(key, '.2f')} | {s.cell(key + ' per', '.3f')} | {ratio} |")

if __name__ == "__main__":
    main()
