"""Compare gridkit's household-balanced regionalization with peer tools.

Run on demand (not part of the test suite)::

    python benchmarks/compare_peers.py --units 500 2000 8000 [--tools ...] [--seed 0] [--timeout S]

For every size it builds one synthetic community (``benchmarks/_peer_data.py``), the
rook adjacency of its units (once, timed separately), and runs each tool on the same
units with the same bounds (200-500 households per region, target 300), one tool at a
time, each in its own freshly spawned process so that a per-tool time limit can be
enforced and the peak memory of that tool read. It prints the exact command, then a
Markdown table, then the adjacency build times and the environment. Progress goes to
stderr, so ``> table.md`` captures only the report.

Tools (``--tools`` names):

- ``gridkit``: ``gridkit.partition.regions_from_units`` with its default balance
  tolerance 0.2 (it builds its own adjacency inside the timed call).
- ``spopt-maxp``: PySAL spopt ``MaxPHeuristic`` (threshold 200 households, top_n=2).
- ``geoda-maxp-greedy``, ``geoda-maxp-tabu``: ``pygeoda.maxp_greedy`` / ``maxp_tabu``
  (min bound 200 households; pygeoda's API has no max bound).
- ``geoda-skater``: ``pygeoda.skater`` with k = round(H/300), min bound 200 households.
- ``kmeans-constrained``: ``KMeansConstrained`` on household-replicated centroids
  (see :func:`tool_kmeans_constrained`).
- ``sklearn-kmeans``: ``sklearn.cluster.KMeans`` on unit centroids weighted by
  households, k = ceil(H/350).
- ``gerrychain``: GerryChain ``recursive_tree_part`` (random spanning-tree cuts), k =
  round(H/300) parts of H/k households within ±20 %; a run over the time limit is
  reported as "no plan in N s".

Every row also gives the balance figures of gridkit's report: the median community CV
of households per region and the share of regions within ±20 % of their community's
mean (``benchmarks/_peer_report.py``).

The max-p and SKATER tools also need attributes to make regions homogeneous in; for
grids the goal is spatial compactness, so every one of them gets the unit centroid
coordinates (x, y) as its attributes.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import shlex
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from benchmarks._peer_data import make_community, neighbour_lists, rook_adjacency
from benchmarks._peer_report import Bounds, fmt_time, markdown_table, region_metrics

#: Seconds a spawned worker may take to import and receive its data before the
#: tool's own time limit starts.
STARTUP_LIMIT = 180.0

#: gridkit's balance tolerance (its default): grids within ±20 % of the community mean.
GRIDKIT_TOLERANCE = 0.2

#: GerryChain's epsilon: each part within this share of H / k.
GERRYCHAIN_EPSILON = 0.2

#: Upper bound on the number of household-replicated points given to
#: KMeansConstrained (its min-cost-flow has points × clusters arcs).
KMC_POINT_BUDGET = 20_000


@dataclass
class Prepared:
    """A tool ready to run: ``finish(run())`` gives one label per unit.

    Attributes
    ----------
    run : callable
        The library call alone; timed.
    finish : callable
        Turns the raw result into an int array of labels (``-1`` = unassigned).
    note : str
        Setting worth reporting (shown in the notes column).
    """

    run: Callable[[], Any]
    finish: Callable[[Any], np.ndarray]
    note: str = ""


class ToolUnavailable(Exception):
    """The tool's package (or gridkit's function) cannot be imported."""


ToolFn = Callable[[Any, np.ndarray, Bounds, int], Prepared]


def _centroid_xy(units: Any) -> np.ndarray:
    """Return ``(n, 2)`` centroid coordinates of the units."""
    c = units.geometry.centroid
    return np.column_stack([c.x.to_numpy(), c.y.to_numpy()])


def _households(units: Any) -> np.ndarray:
    """Return the households column as int64."""
    return units["households"].to_numpy(dtype=np.int64)


def _one_based(raw: Any) -> np.ndarray:
    """Labels from 1-based cluster ids where 0 means unassigned (pygeoda, spopt)."""
    lab = np.asarray(raw, dtype=np.int64)
    return np.where(lab > 0, lab, -1)


# --------------------------------------------------------------------------- tools


def tool_gridkit(units: Any, edges: np.ndarray, bounds: Bounds, seed: int) -> Prepared:
    """gridkit's ``regions_from_units`` (its own adjacency build is inside the timing).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units with a ``households`` column.
    edges : numpy.ndarray
        Rook pairs (unused: gridkit builds its own graph).
    bounds : Bounds
        Household bounds and target.
    seed : int
        Unused: gridkit's partition is deterministic and takes no seed.

    Returns
    -------
    Prepared
    """
    try:
        from gridkit.partition import regions_from_units
    except ImportError as exc:
        raise ToolUnavailable(f"gridkit.partition.regions_from_units: {exc}") from exc
    data = units.copy()

    def run() -> Any:
        return regions_from_units(
            data,
            households="households",
            min_households=bounds.min_households,
            max_households=bounds.max_households,
            target=bounds.target,
            tolerance=GRIDKIT_TOLERANCE,
        )

    return Prepared(
        run,
        lambda raw: np.asarray(raw, dtype=np.int64),
        f"tolerance={GRIDKIT_TOLERANCE:g}, own adjacency in timing",
    )


def tool_spopt_maxp(
    units: Any, edges: np.ndarray, bounds: Bounds, seed: int
) -> Prepared:
    """PySAL spopt ``MaxPHeuristic`` with threshold = min households, top_n = 2.

    Attributes are the centroid coordinates; the adjacency is a ``libpysal.weights.W``
    built from the shared rook pairs. spopt draws from NumPy's global generator, so it
    is seeded with ``np.random.seed(seed)``.

    Parameters
    ----------
    units, edges, bounds, seed
        As for :func:`tool_gridkit`.

    Returns
    -------
    Prepared
    """
    try:
        import libpysal
        from spopt.region import MaxPHeuristic
    except ImportError as exc:
        raise ToolUnavailable(f"spopt: {exc}") from exc
    n = len(units)
    nbrs = neighbour_lists(edges, n)
    w = libpysal.weights.W({i: nb for i, nb in enumerate(nbrs)}, silence_warnings=True)
    xy = _centroid_xy(units)
    gdf = units[["households", "geometry"]].copy()
    gdf["cx"], gdf["cy"] = xy[:, 0], xy[:, 1]
    model = MaxPHeuristic(
        gdf, w, ["cx", "cy"], "households", bounds.min_households, top_n=2
    )

    def run() -> Any:
        np.random.seed(seed)
        model.solve()
        return model.labels_

    return Prepared(run, _one_based, "threshold=200, top_n=2")


def _geoda_weights(edges: np.ndarray, n: int, workdir: str) -> Any:
    """Build a pygeoda Weight from rook pairs through a GAL file.

    pygeoda cannot take a neighbour dict; ``read_gal`` needs a header of the form
    ``0 N layer ID`` and the ids as a list of *strings*.
    """
    import pygeoda

    nbrs = neighbour_lists(edges, n)
    path = os.path.join(workdir, "rook.gal")
    with open(path, "w", encoding="ascii") as f:
        f.write(f"0 {n} units unit_id\n")
        f.writelines(
            f"{i} {len(nb)}\n{' '.join(map(str, nb))}\n" for i, nb in enumerate(nbrs)
        )
    w = pygeoda.read_gal(path, [str(i) for i in range(n)])
    if w.num_obs != n:
        raise RuntimeError(
            f"pygeoda read {w.num_obs} units from the GAL file, expected {n}"
        )
    return w


def _geoda_tool(which: str) -> ToolFn:
    """Make the tool function for one pygeoda algorithm (``greedy``, ``tabu``, ``skater``)."""

    def tool(units: Any, edges: np.ndarray, bounds: Bounds, seed: int) -> Prepared:
        try:
            import pygeoda
        except ImportError as exc:
            raise ToolUnavailable(f"pygeoda: {exc}") from exc
        n = len(units)
        w = _geoda_weights(edges, n, tempfile.mkdtemp(prefix="peers-gal-"))
        xy = _centroid_xy(units)
        data = [xy[:, 0].tolist(), xy[:, 1].tolist()]
        hh = _households(units)
        common = {
            "bound_variable": hh.tolist(),
            "min_bound": bounds.min_households,
            "random_seed": int(seed),
            "cpu_threads": os.cpu_count() or 1,
        }
        if which == "greedy":
            run = lambda: pygeoda.maxp_greedy(w, data, **common)
            note = "min_bound=200"
        elif which == "tabu":
            run = lambda: pygeoda.maxp_tabu(w, data, **common)
            note = "min_bound=200, tabu_length=10"
        else:
            k = max(1, round(int(hh.sum()) / bounds.target))
            run = lambda: pygeoda.skater(k, w, data, **common)
            note = f"k={k}, min_bound=200"
        return Prepared(run, lambda raw: _one_based(raw["Clusters"]), note)

    tool.__name__ = f"tool_geoda_{which}"
    tool.__doc__ = f"pygeoda {which} (centroid attributes, min bound on households)."
    return tool


tool_geoda_maxp_greedy = _geoda_tool("greedy")
tool_geoda_maxp_tabu = _geoda_tool("tabu")
tool_geoda_skater = _geoda_tool("skater")


def tool_kmeans_constrained(
    units: Any, edges: np.ndarray, bounds: Bounds, seed: int
) -> Prepared:
    """``KMeansConstrained`` on household-replicated unit centroids.

    KMeansConstrained bounds the number of *points* per cluster, not a weight. Each
    unit's centroid is therefore repeated once per ``q`` households
    (``max(1, round(h / q))`` copies) and the size bounds become
    ``ceil(200 / q)``..``floor(500 / q)`` copies, with ``q = ceil(H / 20000)`` so the
    min-cost-flow problem (points × clusters arcs) stays tractable (q = 1, exact
    households, for small communities). k = round(H / 300). Copies of one unit sit on
    the same spot and nearly always land in the same cluster; where they are split,
    the unit goes to the cluster holding most of its copies (the note counts such
    units). Households per region are then measured on the true counts. n_init=1
    (the default 10 multiplies an already long run time by ten).

    Parameters
    ----------
    units, edges, bounds, seed
        As for :func:`tool_gridkit`.

    Returns
    -------
    Prepared
    """
    try:
        from k_means_constrained import KMeansConstrained
    except ImportError as exc:
        raise ToolUnavailable(f"k-means-constrained: {exc}") from exc
    hh = _households(units)
    total = int(hh.sum())
    n = len(units)
    q = max(1, math.ceil(total / KMC_POINT_BUDGET))
    reps = np.maximum(1, np.rint(hh / q).astype(np.int64))
    owner = np.repeat(np.arange(n), reps)
    points = np.repeat(_centroid_xy(units), reps, axis=0)
    k = max(1, round(total / bounds.target))
    size_min = math.ceil(bounds.min_households / q)
    size_max = math.floor(bounds.max_households / q)
    model = KMeansConstrained(
        n_clusters=k, size_min=size_min, size_max=size_max, n_init=1, random_state=seed
    )
    note = f"k={k}, q={q} hh/point, {len(points)} points"

    def finish(raw: Any) -> np.ndarray:
        lab = np.asarray(raw, dtype=np.int64)
        counts = np.zeros((n, k), dtype=np.int64)
        np.add.at(counts, (owner, lab), 1)
        split = int(((counts > 0).sum(axis=1) > 1).sum())
        prepared.note = f"{note}, {split} units split (majority vote)"
        return counts.argmax(axis=1)

    prepared = Prepared(lambda: model.fit_predict(points), finish, note)
    return prepared


def tool_sklearn_kmeans(
    units: Any, edges: np.ndarray, bounds: Bounds, seed: int
) -> Prepared:
    """scikit-learn ``KMeans`` on centroids with households as sample weights.

    k = ceil(H / 350); n_init left at the library default.

    Parameters
    ----------
    units, edges, bounds, seed
        As for :func:`tool_gridkit`.

    Returns
    -------
    Prepared
    """
    try:
        from sklearn.cluster import KMeans
    except ImportError as exc:
        raise ToolUnavailable(f"scikit-learn: {exc}") from exc
    hh = _households(units)
    k = max(1, math.ceil(int(hh.sum()) / 350))
    xy = _centroid_xy(units)
    model = KMeans(n_clusters=k, random_state=seed)
    return Prepared(
        lambda: model.fit_predict(xy, sample_weight=hh.astype(float)),
        lambda raw: np.asarray(raw, dtype=np.int64),
        f"k={k}",
    )


def tool_gerrychain(
    units: Any, edges: np.ndarray, bounds: Bounds, seed: int
) -> Prepared:
    """GerryChain's ``recursive_tree_part``: k parts of H / k households ± epsilon.

    The rook graph becomes a ``gerrychain.Graph`` (``Graph.from_networkx``, households as
    the node attribute); k = round(H / 300), ``pop_target`` = H / k and ``epsilon`` =
    :data:`GERRYCHAIN_EPSILON` (0.2: every part within ±20 % of the mean, which is inside
    200-500 here). It draws random spanning trees until each cut is balanced, so it may
    not finish: the worker's time limit stops it, and the row says "no plan in N s".

    Parameters
    ----------
    units, edges, bounds, seed
        As for :func:`tool_gridkit`; ``seed`` is passed as ``rng``.

    Returns
    -------
    Prepared
    """
    try:
        import networkx as nx
        from gerrychain import Graph
        from gerrychain.partition import recursive_tree_part
        from gerrychain.tree import BipartitionWarning
    except ImportError as exc:
        raise ToolUnavailable(f"gerrychain: {exc}") from exc
    hh = _households(units)
    total = int(hh.sum())
    k = max(1, round(total / bounds.target))
    g: Any = nx.Graph()
    g.add_nodes_from((i, {"households": int(h)}) for i, h in enumerate(hh.tolist()))
    g.add_edges_from(map(tuple, edges.tolist()))
    graph = Graph.from_networkx(g)
    n = len(units)

    def run() -> Any:
        with warnings.catch_warnings():
            # one BipartitionWarning per 1,000 failed trees: the outcome is what counts
            warnings.simplefilter("ignore", BipartitionWarning)
            return recursive_tree_part(
                graph, list(range(k)), total / k, "households", GERRYCHAIN_EPSILON, rng=seed
            )

    def finish(raw: Any) -> np.ndarray:
        lab = np.full(n, -1, dtype=np.int64)
        for node, part in raw.items():
            lab[int(node)] = int(part)
        return lab

    return Prepared(run, finish, f"k={k}, epsilon={GERRYCHAIN_EPSILON:g}")


#: Tool name -> (display name, tool function). Order is the order of the table.
TOOLS: dict[str, tuple[str, ToolFn]] = {
    "gridkit": ("gridkit regions_from_units", tool_gridkit),
    "spopt-maxp": ("spopt MaxPHeuristic", tool_spopt_maxp),
    "geoda-maxp-greedy": ("pygeoda maxp_greedy", tool_geoda_maxp_greedy),
    "geoda-maxp-tabu": ("pygeoda maxp_tabu", tool_geoda_maxp_tabu),
    "geoda-skater": ("pygeoda skater", tool_geoda_skater),
    "kmeans-constrained": ("k-means-constrained", tool_kmeans_constrained),
    "sklearn-kmeans": ("sklearn KMeans (hh-weighted)", tool_sklearn_kmeans),
    "gerrychain": ("GerryChain recursive_tree_part", tool_gerrychain),
}

#: Tools that search until they find a plan: a timeout there means "no plan".
SEARCHING_TOOLS = frozenset({"gerrychain"})


# ------------------------------------------------------------------ worker process


def _rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux /proc, psutil fallback)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        import psutil

        return psutil.Process().memory_info().rss / 2**20


def _worker(
    conn: Any, name: str, units: Any, edges: np.ndarray, bounds: Bounds, seed: int
) -> None:
    """Run one tool in this (spawned) process and send the outcome through ``conn``."""
    conn.send(("started",))
    t0 = None
    try:
        prepared = TOOLS[name][1](units, edges, bounds, seed)
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        raw = prepared.run()
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        labels = prepared.finish(raw)
        conn.send(("ok", labels, seconds, prepared.note, peak, rss_before))
    except ToolUnavailable as exc:
        conn.send(("not available", str(exc)))
    except Exception as exc:  # noqa: BLE001 - report, do not crash the benchmark
        why, status = f"{type(exc).__name__}: {exc}", "error"
        if t0 is not None:
            spent = time.perf_counter() - t0
            if name in SEARCHING_TOOLS:
                why, status = f"gave up after {spent:.0f} s ({why})", "no plan"
            else:
                why = f"{why} after {spent:.1f} s"
        conn.send((status, why))
    finally:
        conn.close()


@dataclass
class ToolResult:
    """Outcome of one tool on one community (metrics filled when status is ``ok``)."""

    tool: str
    display: str
    n_units: int
    status: str
    note: str = ""
    seconds: float | None = None
    peak_rss_mib: float | None = None
    rss_before_mib: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def run_tool(
    name: str,
    units: Any,
    edges: np.ndarray,
    bounds: Bounds,
    seed: int,
    timeout: float | None,
) -> tuple[ToolResult, np.ndarray | None]:
    """Run one tool in a spawned process with a time limit.

    Parameters
    ----------
    name : str
        Key of :data:`TOOLS`.
    units : geopandas.GeoDataFrame
        The community's units.
    edges : numpy.ndarray
        Rook pairs of the units.
    bounds : Bounds
        Household bounds.
    seed : int
        Seed handed to the tool.
    timeout : float or None
        Seconds the tool may take (preparation + run) once its process is up.

    Returns
    -------
    result : ToolResult
        Status, time, memory (metrics still empty).
    labels : numpy.ndarray or None
        One label per unit, ``-1`` where the tool left a unit unassigned.
    """
    display = TOOLS[name][0]
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_worker, args=(send, name, units, edges, bounds, seed), daemon=True
    )
    proc.start()
    send.close()
    result = ToolResult(name, display, len(units), "error")
    labels = None
    try:
        if not recv.poll(STARTUP_LIMIT):
            result.status, result.note = (
                "error",
                f"worker not up after {STARTUP_LIMIT:.0f} s",
            )
        else:
            recv.recv()  # "started"
            if not recv.poll(timeout):
                result.status = "timeout"
                result.note = (
                    f"no plan in {timeout:g} s (stopped)" if name in SEARCHING_TOOLS else f"> {timeout:g} s"
                )
            else:
                msg = recv.recv()
                result.status = msg[0]
                if msg[0] == "ok":
                    (
                        _,
                        labels,
                        result.seconds,
                        result.note,
                        result.peak_rss_mib,
                        result.rss_before_mib,
                    ) = msg
                else:
                    result.note = msg[1]
    except EOFError:
        proc.join(5)
        result.status, result.note = "crashed", f"worker exit code {proc.exitcode}"
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        proc.join()
        recv.close()
    return result, labels


def _versions() -> dict[str, str]:
    """Versions of the packages involved (``not installed`` where missing)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in (
        "gridkit",
        "spopt",
        "libpysal",
        "pygeoda",
        "k-means-constrained",
        "ortools",
        "scikit-learn",
        "numpy",
        "shapely",
        "geopandas",
        "gerrychain",
        "networkx",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _machine() -> str:
    """One line on the CPU, cores and load (the machine may be shared)."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = (
        ", ".join(f"{x:.2f}" for x in os.getloadavg())
        if hasattr(os, "getloadavg")
        else "?"
    )
    return f"{model}, {os.cpu_count()} cores, load average at start {load}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--units",
        type=int,
        nargs="+",
        default=[500, 2000, 8000],
        help="community sizes in units (default: 500 2000 8000)",
    )
    parser.add_argument(
        "--tools",
        nargs="+",
        choices=list(TOOLS),
        default=list(TOOLS),
        help="tools to run (default: all)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="data and tool seed (default 0)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds per tool and size; 0 = no limit (default 300)",
    )
    parser.add_argument(
        "--json", type=Path, help="also write raw results to this JSON file"
    )
    args = parser.parse_args(argv)
    timeout = args.timeout if args.timeout > 0 else None
    bounds = Bounds()
    command = "python " + shlex.join(
        [sys.argv[0]] + (argv if argv is not None else sys.argv[1:])
    )
    machine = _machine()

    results: list[ToolResult] = []
    data_notes: list[str] = []
    for n in args.units:
        units = make_community(n, args.seed)
        t0 = time.perf_counter()
        edges, _ = rook_adjacency(units)
        adj_s = time.perf_counter() - t0
        total = int(units["households"].sum())
        data_notes.append(
            f"{n:,} units: {total:,} households (mean {total / n:.1f}, "
            f"{int((units['households'] >= 150).sum())} towers), {len(edges):,} rook pairs, "
            f"adjacency build {fmt_time(adj_s)} s (shared by all peers, not in their times)"
        )
        for name in args.tools:
            print(f"[{n} units] {name} ...", file=sys.stderr, flush=True)
            res, labels = run_tool(name, units, edges, bounds, args.seed, timeout)
            if res.status == "ok" and labels is not None:
                try:
                    res.metrics = region_metrics(units, edges, labels, bounds)
                except Exception as exc:  # noqa: BLE001 - bad labels are a finding
                    res.status, res.note = (
                        "error",
                        f"bad labels: {type(exc).__name__}: {exc}",
                    )
            took = f" {fmt_time(res.seconds)} s" if res.seconds is not None else ""
            print(f"    {res.status}{took} ({res.note})", file=sys.stderr, flush=True)
            results.append(res)

    versions = _versions()
    print(f"$ {command}\n")
    print(markdown_table(results, bounds))
    print()
    for line in data_notes:
        print(f"- {line}")
    print(f"- machine: {machine}")
    print("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if args.json:
        payload = {
            "command": command,
            "machine": machine,
            "versions": versions,
            "bounds": asdict(bounds),
            "data": data_notes,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
