"""Notice boards on the sample county: HTML for every grid, and PDF+PNG with one browser
for the run against the naive baseline of one browser launch per board (same pages).

    python benchmarks/bench_board.py [--render N]

Prints a markdown table and the command that made it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from gridkit._chromium import PageRenderer
from gridkit.board import boards_for_grids
from gridkit.board.workers import read_workers
from gridkit.datasets import get_path
from gridkit.io import read_layer
from gridkit.partition.outputs import write_partition
from gridkit.partition.pipeline import partition


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--render", type=int, default=8, help="boards rendered to PDF+PNG")
    parser.add_argument("--synth-households", type=int, default=0,
                        help="also time HTML boards for every grid of a synthetic county of this size")
    args = parser.parse_args()
    sample = get_path("sample_county")
    work = Path(tempfile.mkdtemp(prefix="bench_board_"))
    result = partition(read_layer(sample / "communities.gpkg"), read_layer(sample / "buildings.gpkg"),
                       streets=read_layer(sample / "streets.gpkg"), rng=0)
    write_partition(result, work / "part", parameters={})
    grids = read_layer(work / "part" / "grids.gpkg", layer="grids")
    common = {"buildings": read_layer(work / "part" / "grids.gpkg", layer="buildings"),
              "streets": read_layer(sample / "streets.gpkg"),
              "workers": read_workers(sample / "workers.csv")}
    rows = []

    t = time.perf_counter()
    boards_for_grids(grids, work / "html", formats=["html"], **common)
    html_s = time.perf_counter() - t
    rows.append((f"HTML, all {len(grids)} grids", html_s, html_s / len(grids), ""))

    codes = sorted(grids["grid_code"])[: args.render]
    t = time.perf_counter()
    boards_for_grids(grids, work / "print", grid_codes=codes, formats=["html", "pdf", "png"], **common)
    ours = time.perf_counter() - t
    rows.append((f"HTML+PDF+PNG, {len(codes)} grids, one browser (gridkit)", ours, ours / len(codes), "1.00"))

    t = time.perf_counter()
    for code in codes:  # baseline: a browser launched per board, same pages
        with PageRenderer() as renderer:
            renderer.render(work / "html" / f"{code}.html", pdf=work / f"{code}.pdf", png=work / f"{code}.png",
                            selector=".board")
    naive = time.perf_counter() - t
    rows.append((f"PDF+PNG, {len(codes)} grids, a browser per board (baseline)", naive, naive / len(codes),
                 f"{naive / ours:.2f}"))

    t = time.perf_counter()
    boards_for_grids(grids, work / "mpl", grid_codes=codes, formats=["pdf", "png"], renderer="matplotlib", **common)
    mpl = time.perf_counter() - t
    rows.append((f"PDF+PNG, {len(codes)} grids, matplotlib fallback", mpl, mpl / len(codes), f"{mpl / ours:.2f}"))

    if args.synth_households:
        from gridkit.synth.county import synth_county

        county = synth_county(seed=1, households=args.synth_households, incidents=False, tracks=False)
        big = partition(county["communities"], county["buildings"], streets=county["streets"])
        t = time.perf_counter()
        boards_for_grids(big.grids, work / "synth", formats=["html"], buildings=big.buildings,
                         streets=county["streets"])
        synth_s = time.perf_counter() - t
        rows.append((f"HTML, all {len(big.grids)} grids of a {args.synth_households:,}-household synthetic county",
                     synth_s, synth_s / len(big.grids), ""))

    print("| run | seconds | seconds per board | time / gridkit Chromium run |")
    print("| --- | ---: | ---: | ---: |")
    for name, total, per, ratio in rows:
        print(f"| {name} | {total:.2f} | {per:.3f} | {ratio} |")
    print(f"\n`python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`".rstrip("` ") + "`")


if __name__ == "__main__":
    main()
