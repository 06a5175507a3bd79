"""How fast ``gridkit patrol plan`` plans routes for 1,000+ grids, against networkx's own eulerize.

Run on demand (not part of the test suite)::

    python benchmarks/bench_patrol_routes.py [--households 400000] [--seed 1] [--workdir DIR] [--repeat 3]

Preparation (cached in ``--workdir``, default ``/tmp/gridkit-bench-patrol-routes``): a
synthetic county (``gridkit synth --households 400000``: about 1,350 grids) and its grids
(``gridkit partition``).

Then, each in a fresh Python process (peak memory its own):

- ``plan``: ``routes_for_grids`` on every grid (streets cut per grid, one noded network,
  base at the household-weighted centre, postman route per grid, turn-by-turn) plus
  ``write_routes`` (routes.gpkg, turns.csv, report.md): the whole job of
  ``gridkit patrol plan``.
- ``peer``: on the same per-grid street graphs (the grid's own streets only, grids whose
  streets are connected), the routing step alone, two ways: gridkit's
  ``covering_walk`` (minimum-weight matching of the odd nodes on walking distances)
  and networkx ``eulerize`` + ``eulerian_circuit`` (eulerize pairs the odd nodes by
  *hop count*, so its tour is optimal for unweighted graphs only). The table gives the
  time ratio and the total deadhead ratio (networkx / gridkit; above 1 means networkx
  walks more).

The script prints the command, and Markdown tables. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _measure import Samples, Session, add_repeat


def prepare(workdir: Path, households: int, seed: int) -> Path:
    """Write the county and its grids into ``workdir`` (once); return the grids path."""
    county = workdir / "county"
    grids = workdir / "part" / "grids.gpkg"
    if not (county / "streets.gpkg").exists():
        _log(f"synth county of {households:,} households")
        subprocess.run(["gridkit", "--quiet", "synth", "-o", str(county), "--seed", str(seed), "--households",
                        str(households), "--no-incidents", "--no-tracks"], check=True, stdout=subprocess.DEVNULL)
    if not grids.exists():
        _log("partition")
        subprocess.run(["gridkit", "--quiet", "partition", str(county / "communities.gpkg"), "--buildings",
                        str(county / "buildings.gpkg"), "--streets", str(county / "streets.gpkg"), "--dedicated",
                        str(county / "dedicated.gpkg"), "-o", str(workdir / "part")], check=True,
                       stdout=subprocess.DEVNULL)
    return grids


def run_plan(workdir: Path) -> dict:
    import geopandas as gpd

    from gridkit.patrol import routes_for_grids, write_routes
    from gridkit.patrol.route_outputs import plan_figures

    grids_path = workdir / "part" / "grids.gpkg"
    t0 = time.perf_counter()
    grids = gpd.read_file(grids_path, layer="grids")
    buildings = gpd.read_file(grids_path, layer="buildings")
    streets = gpd.read_file(workdir / "county" / "streets.gpkg")
    t1 = time.perf_counter()
    plan = routes_for_grids(streets, grids, buildings=buildings)
    t2 = time.perf_counter()
    write_routes(plan, workdir / "plan")
    t3 = time.perf_counter()
    f = plan_figures(plan)
    return {"read_s": t1 - t0, "plan_s": t2 - t1, "write_s": t3 - t2, "figures": f,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_peer(workdir: Path) -> dict:
    import geopandas as gpd
    import networkx as nx
    import numpy as np
    from scipy import sparse
    from scipy.sparse import csgraph

    from gridkit.patrol.network import street_network
    from gridkit.patrol.postman import covering_walk
    from gridkit.patrol.routes import _required_edges
    from gridkit.patrol.streets import streets_for_grids

    grids_path = workdir / "part" / "grids.gpkg"
    grids = gpd.read_file(grids_path, layer="grids")
    streets = gpd.read_file(workdir / "county" / "streets.gpkg")
    pieces = streets_for_grids(streets, grids)
    net = street_network(streets.to_crs(pieces.crs).geometry.to_numpy(), split_at=pieces.geometry.to_numpy())
    required = _required_edges(net, pieces, grids["grid_code"].astype(str).to_numpy())
    cases = []
    for code, req in required.items():  # the grid's own streets, connected
        nodes, inv = np.unique(np.r_[net.u[req], net.v[req]], return_inverse=True)
        m = len(req)
        adj = sparse.csr_matrix((np.ones(m), (inv[:m], inv[m:])), shape=(len(nodes), len(nodes)))
        if csgraph.connected_components(adj, directed=False)[0] == 1:
            cases.append((code, req, int(nodes[0])))
    _log(f"peer: {len(cases)} of {len(required)} grids have connected streets")

    t0 = time.perf_counter()
    ours = [covering_walk(net, req, start=base) for _, req, base in cases]
    t1 = time.perf_counter()
    theirs = []
    for _, req, base in cases:
        g = nx.MultiGraph()
        g.add_edges_from((int(net.u[e]), int(net.v[e]), {"length": float(net.length[e])}) for e in req)
        eg = nx.eulerize(g) if not nx.is_eulerian(g) else g
        walk = list(nx.eulerian_circuit(eg, source=base, keys=True))
        # eulerize adds the repeated streets without data: each is the shortest street between its ends
        shortest: dict = {}
        for u, v, d in g.edges(data="length"):
            key = (min(u, v), max(u, v))
            shortest[key] = min(d, shortest.get(key, np.inf))
        theirs.append(sum(eg.edges[u, v, k].get("length", shortest[(min(u, v), max(u, v))]) for u, v, k in walk))
    t2 = time.perf_counter()
    required_m = sum(float(net.length[req].sum()) for _, req, _ in cases)
    ours_m = sum(w.length_m for w in ours)
    theirs_m = sum(theirs)
    return {"grids": len(cases), "gridkit_s": t1 - t0, "networkx_s": t2 - t1, "required_km": required_m / 1000,
            "gridkit_deadhead_km": (ours_m - required_m) / 1000, "networkx_deadhead_km": (theirs_m - required_m) / 1000,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default="/tmp/gridkit-bench-patrol-routes")
    ap.add_argument("--run", choices=["plan", "peer"], help=argparse.SUPPRESS)
    add_repeat(ap)
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    if args.run:
        result = run_plan(workdir) if args.run == "plan" else run_peer(workdir)
        print(json.dumps(result))
        return 0
    session = Session(argv)
    workdir.mkdir(parents=True, exist_ok=True)
    prepare(workdir, args.households, args.seed)
    runs: dict[str, list[dict]] = {"plan": [], "peer": []}
    for i in range(args.repeat):
        for mode in ("plan", "peer"):
            _log(f"running {mode} ({i + 1}/{args.repeat})")
            out = subprocess.run([sys.executable, __file__, "--workdir", str(workdir), "--run", mode],
                                 check=True, capture_output=True, text=True)
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(session.header(args.repeat))
    print(report(runs))
    return 0


def report(runs: dict[str, list[dict]]) -> str:
    """The Markdown tables: figures of the first run, times and memory as median (min–max) over the runs."""
    p, q = runs["plan"][0], runs["peer"][0]
    f = p["figures"]
    s = Samples()
    for key in ("plan_s", "read_s", "write_s", "peak_mb"):
        for run in runs["plan"]:
            s.add(key, run[key])
    for key in ("gridkit_s", "networkx_s"):
        for run in runs["peer"]:
            s.add(key, run[key])
    lines = [
        "| job | grids | streets km | routes km | deadhead | coverage | time | peak memory |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        (f"| routes_for_grids | {f['grids']:,} | {f['required_km']:,.0f} | {f['route_km']:,.0f} | "
         f"{f['deadhead_share']:.1%} | {f['coverage_share']:.2%} | {s.cell('plan_s', unit=' s')} | {s.cell('peak_mb', '.0f', ' MB')} |"),
        f"| read grids, buildings, streets (GeoPackage) | | | | | | {s.cell('read_s', unit=' s')} | |",
        f"| write routes.gpkg, turns.csv, report.md | | | | | | {s.cell('write_s', unit=' s')} | |",
        "",
        (f"Routing step only, {q['grids']:,} grids with connected streets ({q['required_km']:,.0f} km), "
         "the grid's own streets:"),
        "",
        "| method | time | deadhead km | deadhead / streets |",
        "| --- | --- | --- | --- |",
        (f"| gridkit covering_walk (weighted matching) | {s.cell('gridkit_s', unit=' s')} | {q['gridkit_deadhead_km']:,.1f} | "
         f"{q['gridkit_deadhead_km'] / q['required_km']:.1%} |"),
        (f"| networkx eulerize + eulerian_circuit | {s.cell('networkx_s', unit=' s')} | {q['networkx_deadhead_km']:,.1f} | "
         f"{q['networkx_deadhead_km'] / q['required_km']:.1%} |"),
        (f"| ratio networkx / gridkit | {s.ratio('networkx_s', 'gridkit_s', '.2f')} | "
         f"{q['networkx_deadhead_km'] / q['gridkit_deadhead_km']:.2f} | |"),
    ]
    return "\n".join(lines)


def _log(msg: str) -> None:
    print(f"[bench_patrol_routes] {msg}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
