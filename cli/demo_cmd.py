"""`gridkit demo`: the whole pipeline on the bundled sample county, one verb after another."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo", help="run every verb on the bundled sample county",
        description="Partition data/sample_county into grids, attach its components and incidents, draw the "
                    "heatmap and alerts, plan patrol routes, check the GPS tracks, and write the offline map, "
                    "the notice boards and a Shapefile for a provincial platform; under maps/demo/ by default. "
                    "Each step prints the gridkit command it runs, so it can be repeated on other data.")
    p.add_argument("-o", "--outdir", default=str(Path("maps") / "demo"), help="output folder (default maps/demo)")
    p.add_argument("--partition-only", action="store_true", help="stop after the partition")
    p.set_defaults(func=run)


FIRST_GRID = "520199001001001"  # the first grid of the first community: every community has a serial 001


def steps(sample: Path, out: Path) -> list[tuple[str, list[str]]]:
    """The demo's commands: a title and the gridkit arguments of each step."""
    grids = str(out / "partition" / "grids.gpkg")
    streets = str(sample / "streets.gpkg")
    return [
        ("partition the communities into grids", [
            "partition", str(sample / "communities.gpkg"), "--buildings", str(sample / "buildings.gpkg"),
            "--streets", streets, "--dedicated", str(sample / "dedicated.gpkg"), "-o", str(out / "partition")]),
        ("attach city components (部件) to their grids", [
            "attach", grids, str(sample / "components.gpkg"), "--as", "components", "--streets", streets,
            "-o", str(out / "attach" / "components.gpkg")]),
        ("attach incidents (事件), case indicators and the evaluation table", [
            "attach", grids, str(sample / "incidents.csv"), "--as", "incidents",
            "-o", str(out / "attach" / "incidents.gpkg")]),
        ("incident heatmap and early warning", [
            "heatmap", grids, str(sample / "incidents.csv"), "-o", str(out / "heatmap")]),
        ("patrol routes along every street of each grid", [
            "patrol", "plan", grids, "--streets", streets, "-o", str(out / "patrol")]),
        ("check the grid workers' GPS tracks", [
            "patrol", "check", grids, str(sample / "tracks.csv"), "--streets", streets,
            "--workers", str(sample / "workers.csv"), "-o", str(out / "tracks")]),
        ("one offline map of everything", [
            "map", grids, "--streets", streets, "--components", str(sample / "components.gpkg"),
            "--incidents", str(sample / "incidents.csv"), "--alerts", str(out / "heatmap" / "alerts.csv"),
            "--routes", str(out / "patrol" / "routes.gpkg"), "--tracks", str(out / "tracks" / "tracks.gpkg"),
            "--offline", "-o", str(out / "map.html")]),
        ("notice boards (网格公示牌) for every grid, as web pages", [
            "board", grids, "--workers", str(sample / "workers.csv"), "--streets", streets,
            "--routes", str(out / "patrol" / "routes.gpkg"), "--format", "html", "-o", str(out / "boards")]),
        ("one board print-ready: A3 PDF and PNG", [
            "board", grids, "--grid", FIRST_GRID, "--workers", str(sample / "workers.csv"), "--streets", streets,
            "--routes", str(out / "patrol" / "routes.gpkg"), "--format", "html,pdf,png",
            "-o", str(out / "board_print")]),
        ("the grids as a GBK Shapefile with Chinese field names", [
            "export", grids, "--layer", "grids", "--format", "shp", "--encoding", "gbk", "--fields", "zh",
            "-o", str(out / "export" / "grids.shp")]),
    ]


def run(args: argparse.Namespace) -> int:
    from gridkit_cli.main import main

    from gridkit.datasets import get_path

    sample = get_path("sample_county")
    out = Path(args.outdir)
    print(f"sample county: {sample}")
    plan = steps(sample, out)
    if args.partition_only:
        plan = plan[:1]
    flags = [flag for flag, on in (("--quiet", args.quiet), ("--debug", args.debug)) if on]
    for n, (title, argv) in enumerate(plan, start=1):
        print(f"\n[{n}/{len(plan)}] {title}\n$ gridkit {' '.join(argv)}", flush=True)
        started = time.perf_counter()
        code = main([*flags, *argv])
        if code != 0:
            print(f"demo stopped: step {n} exited with {code}")
            return code
        print(f"({time.perf_counter() - started:.1f} s)")
    if args.partition_only:
        print(f"\ndemo done: open {out / 'partition' / 'map.html'} in a browser (the grids; report in "
              f"{out / 'partition' / 'report.md'})")
    else:
        print(f"\ndemo done: open {out / 'map.html'} and {out / 'boards' / 'index.html'} in a browser")
    return 0
