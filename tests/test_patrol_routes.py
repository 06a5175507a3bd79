"""Patrol routes: street pieces per grid, the postman walk, shifts, and `gridkit patrol plan`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from gridkit_cli.main import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, box

from gridkit.crs import local_crs
from gridkit.datasets import get_path
from gridkit.errors import MissingFieldError
from gridkit.patrol import covering_walk, routes_for_grids, street_network, streets_for_grids
from gridkit.patrol.postman import odd_pairs, split_walk
from gridkit.patrol.route_outputs import write_routes

CRS = local_crs((106.6, 26.4, 106.7, 26.5))  # a CGCS2000 Gauss-Kruger zone
X0, Y0 = 366_000.0, 2_925_000.0


# --------------------------------------------------------------------------- fixtures


def lattice(cols: int, rows: int, dx: float, dy: float, *, drop: frozenset = frozenset()) -> nx.Graph:
    """A street lattice as a weighted networkx graph with coordinates (nodes (i, j))."""
    g = nx.Graph()
    for i in range(cols + 1):
        for j in range(rows + 1):
            g.add_node((i, j), xy=(X0 + i * dx, Y0 + j * dy))
    for i in range(cols + 1):
        for j in range(rows + 1):
            for di, dj, w in ((1, 0, dx), (0, 1, dy)):
                other = (i + di, j + dj)
                if other in g and frozenset({(i, j), other}) not in drop:
                    g.add_edge((i, j), other, weight=w)
    return g


def edge_lines(g: nx.Graph) -> list[LineString]:
    return [LineString([g.nodes[a]["xy"], g.nodes[b]["xy"]]) for a, b in g.edges]


def optimum_deadhead(g: nx.Graph) -> float:
    """Least extra distance of a closed walk over every edge: brute-force pairing of odd nodes."""
    odd = [n for n in g if g.degree(n) % 2]
    dist = dict(nx.all_pairs_dijkstra_path_length(g))

    @cache
    def best(mask: int) -> float:
        if mask == 0:
            return 0.0
        first = (mask & -mask).bit_length() - 1
        rest = mask & ~(1 << first)
        out = float("inf")
        for k in range(len(odd)):
            if rest >> k & 1:
                out = min(out, dist[odd[first]][odd[k]] + best(rest & ~(1 << k)))
        return out

    return best((1 << len(odd)) - 1)


def check_walk(net, walk, required: np.ndarray | None, start: int) -> None:
    """A continuous closed walk from ``start`` over every required edge (None: just a closed walk)."""
    assert walk.nodes[0] == walk.nodes[-1] == start
    for k, (e, fwd) in enumerate(zip(walk.edges, walk.forward)):
        a, b = (net.u[e], net.v[e]) if fwd else (net.v[e], net.u[e])
        assert (a, b) == (walk.nodes[k], walk.nodes[k + 1])
    assert walk.length_m == pytest.approx(net.length[walk.edges].sum())
    assert walk.deadhead_m >= 0
    if required is None:
        return
    assert set(required.tolist()) <= set(walk.edges)
    assert walk.length_m == pytest.approx(net.length[required].sum() + walk.deadhead_m)


# --------------------------------------------------------------------------- streets per grid


def test_streets_for_grids_edges_count_for_both_neighbours():
    grids = gpd.GeoDataFrame({"grid_code": ["A", "B"]}, crs=CRS,
                             geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 100, Y0, X0 + 200, Y0 + 100)])
    streets = gpd.GeoDataFrame({"name": ["edge", "across", "beside", "poke", "far"]}, crs=CRS, geometry=[
        LineString([(X0 + 100, Y0), (X0 + 100, Y0 + 100)]),            # on the shared edge
        LineString([(X0 + 50, Y0 + 50), (X0 + 150, Y0 + 50)]),         # crosses it
        LineString([(X0 + 150, Y0 + 103), (X0 + 200, Y0 + 103)]),      # 3 m north of B, along it
        LineString([(X0 + 20, Y0 + 100), (X0 + 20, Y0 + 140)]),        # leaves A northwards
        LineString([(X0 + 20, Y0 + 130), (X0 + 90, Y0 + 130)]),        # 30 m away: nobody's
    ])
    pieces = streets_for_grids(streets, grids.to_crs(4490), edge_tolerance_m=5.0)
    got = {(r.grid_code, r.name): r.length_m for r in pieces.itertuples()}
    assert set(got) == {("A", "edge"), ("B", "edge"), ("A", "across"), ("B", "across"), ("B", "beside")}
    assert got[("A", "edge")] == pytest.approx(100, abs=0.2) and got[("B", "edge")] == pytest.approx(100, abs=0.2)
    assert got[("A", "across")] == pytest.approx(50, abs=0.1)
    assert got[("B", "beside")] == pytest.approx(50, abs=0.2)
    assert set(pieces.columns) >= {"grid_code", "street_id", "length_m", "geometry"}
    assert pieces.crs == local_crs(grids.to_crs(4490))
    assert (shapely.get_type_id(pieces.geometry.to_numpy()) == 1).all()
    np.testing.assert_allclose(pieces.length_m, pieces.geometry.length)


def test_streets_for_grids_needs_the_grid_field():
    grids = gpd.GeoDataFrame({"code": ["A"]}, geometry=[box(X0, Y0, X0 + 10, Y0 + 10)], crs=CRS)
    streets = gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 5, Y0 + 5)])], crs=CRS)
    with pytest.raises(MissingFieldError, match="grid_code"):
        streets_for_grids(streets, grids)


# --------------------------------------------------------------------------- the postman walk


def test_lattice_route_is_the_known_optimum():
    g = lattice(4, 3, 100.0, 120.0)  # 3 x 4 blocks; 10 odd nodes on the sides
    assert sum(d % 2 for _, d in g.degree) == 10
    net = street_network(edge_lines(g))
    required = np.arange(len(net.u))
    start = int(np.argmin(np.hypot(net.x - X0, net.y - Y0)))
    walk = covering_walk(net, required, start=start)
    check_walk(net, walk, required, start)
    # independently: 2 x 100 m (bottom and top sides) + 2 x 120 m (left and right) + ... by brute force
    assert walk.deadhead_m == pytest.approx(optimum_deadhead(g))
    assert walk.length_m == pytest.approx(g.size(weight="weight") + optimum_deadhead(g))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(cols=st.integers(1, 4), rows=st.integers(1, 4),
       dx=st.integers(3_000, 20_000).map(lambda cm: cm / 100), dy=st.integers(3_000, 20_000).map(lambda cm: cm / 100),
       drop_share=st.floats(0, 0.5), seed=st.integers(0, 10_000), start_pick=st.integers(0, 1_000))
def test_route_covers_random_street_networks(cols, rows, dx, dy, drop_share, seed, start_pick):
    g = lattice(cols, rows, dx, dy)
    rng = np.random.default_rng(seed)
    for a, b in [tuple(g.edges)[k] for k in rng.permutation(g.number_of_edges())]:
        if rng.random() < drop_share:
            g.remove_edge(a, b)
            if not nx.is_connected(g):
                g.add_edge(a, b, weight=dx if a[1] == b[1] else dy)
    g.remove_nodes_from([n for n in list(g) if g.degree(n) == 0])
    net = street_network(edge_lines(g))
    required = np.arange(len(net.u))
    start = int(start_pick % net.n_nodes)
    walk = covering_walk(net, required, start=start)
    check_walk(net, walk, required, start)
    assert walk.length_m == pytest.approx(g.size(weight="weight") + walk.deadhead_m)
    if sum(d % 2 for _, d in g.degree) <= 14:
        assert walk.deadhead_m == pytest.approx(optimum_deadhead(g), abs=1e-6)


def test_candidate_matching_equals_exact_matching_on_a_large_lattice():
    g = lattice(12, 12, 80.0, 95.0, drop=frozenset(frozenset({(i, j), (i + 1, j)})
                                                  for i in range(0, 12, 2) for j in range(1, 12, 3)))
    odd = [n for n in g if g.degree(n) % 2]
    assert len(odd) > 40
    dist = dict(nx.all_pairs_dijkstra_path_length(g))
    d = np.array([[dist[a][b] for b in odd] for a in odd])
    pairs = odd_pairs(d)
    exact = odd_pairs(d, exact_up_to=10_000)
    assert sorted(i for p in pairs for i in p) == list(range(len(odd)))
    assert sum(d[i, j] for i, j in pairs) == pytest.approx(sum(d[i, j] for i, j in exact))


def test_a_piece_joined_through_outside_streets_or_reported():
    left = lattice(1, 1, 100.0, 100.0)
    right = nx.relabel_nodes(lattice(1, 1, 100.0, 100.0), lambda n: ("r", n))
    for n in right:
        x, y = right.nodes[n]["xy"]
        right.nodes[n]["xy"] = (x + 300, y)
    link = LineString([(X0 + 100, Y0), (X0 + 300, Y0)])  # a street outside the grid joining the two
    lines = edge_lines(left) + edge_lines(right)
    net = street_network(lines + [link])
    on_link = shapely.distance(net.midpoints(), link) < 1e-6
    required = np.flatnonzero(~on_link)
    start = int(np.argmin(np.hypot(net.x - X0, net.y - Y0)))
    walk = covering_walk(net, required, start=start, working=np.arange(len(net.u)))
    check_walk(net, walk, required, start)
    assert walk.deadhead_m == pytest.approx(400.0)  # the link, there and back
    alone = covering_walk(net, required, start=start)  # the link is not usable
    assert alone.unreached and set(alone.unreached) | set(alone.edges) >= set(required.tolist())
    assert net.length[alone.unreached].sum() == pytest.approx(400.0)
    assert alone.nodes[0] == alone.nodes[-1] == start


def test_priority_stop_is_reached_first_by_a_shortest_walk():
    g = lattice(3, 3, 100.0, 100.0)
    net = street_network(edge_lines(g))
    required = np.arange(len(net.u))
    start = int(np.argmin(np.hypot(net.x - X0, net.y - Y0)))
    stop = int(np.argmin(np.hypot(net.x - (X0 + 300), net.y - (Y0 + 200))))
    walk = covering_walk(net, required, start=start, stops=[stop])
    check_walk(net, walk, required, start)
    first = walk.nodes.index(stop)
    assert net.length[walk.edges[:first]].sum() == pytest.approx(500.0)


def test_shifts_are_closed_walks_within_the_limit():
    g = lattice(4, 3, 100.0, 120.0)
    net = street_network(edge_lines(g))
    required = np.arange(len(net.u))
    start = int(np.argmin(np.hypot(net.x - X0, net.y - Y0)))
    walk = covering_walk(net, required, start=start)
    for max_m in (900.0, 1500.0, 3000.0):
        parts = split_walk(net, walk, max_m=max_m, required=required, working=required)
        covered = set()
        for part in parts:
            check_walk(net, part, None, start)
            first_trip = _round_trip(g, net, part)
            assert part.length_m <= max(max_m, first_trip) + 1e-6
            covered |= set(part.edges)
        assert covered >= set(required.tolist())
        assert sum(p.covered_m for p in parts) == pytest.approx(net.length.sum())
    # a limit shorter than the farthest street's round trip: those shifts are longer, never empty
    parts = split_walk(net, walk, max_m=300.0, required=required, working=required)
    assert all(p.edges for p in parts) and any(p.length_m > 300 for p in parts)


def _round_trip(g: nx.Graph, net, part) -> float:
    """Walk from the base to the shift's first route edge, along it, and back (networkx)."""
    graph = nx.Graph()
    for e in range(len(net.u)):
        graph.add_edge(int(net.u[e]), int(net.v[e]), weight=float(net.length[e]))
    dist = nx.single_source_dijkstra_path_length(graph, part.nodes[0])
    return max(dist[int(net.u[e])] + net.length[e] + dist[int(net.v[e])] for e in part.edges)


# --------------------------------------------------------------------------- routes for grids


def _lattice_grids(g: nx.Graph, *, crs=CRS) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    xs, ys = zip(*(g.nodes[n]["xy"] for n in g))
    grids = gpd.GeoDataFrame({"grid_code": ["G1"]}, geometry=[box(min(xs), min(ys), max(xs), max(ys))], crs=crs)
    streets = gpd.GeoDataFrame({"name": [f"s{k}" for k in range(g.number_of_edges())]},
                               geometry=edge_lines(g), crs=crs)
    return grids, streets


def test_routes_for_grids_on_the_lattice(tmp_path):
    g = lattice(4, 3, 100.0, 120.0)
    grids, streets = _lattice_grids(g)
    base = gpd.GeoDataFrame({"grid_code": ["G1"]}, geometry=[Point(X0 + 203, Y0 + 118)], crs=CRS)
    base = pd.concat([base, gpd.GeoDataFrame({"grid_code": ["G9"]}, geometry=[Point(X0, Y0)], crs=CRS)],
                     ignore_index=True)
    outside = gpd.GeoDataFrame(geometry=[Point(X0 + 5000, Y0)], crs=CRS)
    plan = routes_for_grids(streets.to_crs(4490), grids.to_crs(4490), bases=base, priority=outside)
    assert set(plan.issues.issue) == {"base with an unknown grid code", "priority point outside every grid"}
    detail = plan.issues.set_index("issue")["detail"]
    assert detail["base with an unknown grid code"].startswith("features 1 of")
    r = plan.routes.iloc[0]
    assert r.coverage_share == 1.0
    assert r.deadhead_m == pytest.approx(optimum_deadhead(g), abs=0.2)
    assert r.length_m == pytest.approx(r.geometry.length, abs=0.2)
    assert r.est_minutes == pytest.approx(r.length_m / 4500 * 60, abs=0.1)
    coords = np.asarray(r.geometry.coords)
    assert tuple(coords[0]) == tuple(coords[-1]) == pytest.approx((X0 + 200, Y0 + 120))
    assert plan.bases.iloc[0].geometry.distance(Point(X0 + 200, Y0 + 120)) < 1e-6
    for line in edge_lines(g):  # every street walked
        assert r.geometry.distance(line.interpolate(0.5, normalized=True)) < 1e-6
    turns = plan.turns
    assert turns["cumulative_m"].iloc[-1] == pytest.approx(r.length_m, abs=0.2)
    assert set(turns["turn"]) <= {"start", "left", "right", "straight", "u-turn"}

    out = write_routes(plan, tmp_path / "out")
    written = gpd.read_file(out / "routes.gpkg", layer="routes")
    assert written.crs.to_epsg() == 4490
    bases = gpd.read_file(out / "routes.gpkg", layer="bases")
    assert len(bases) == 1
    assert pd.read_csv(out / "turns.csv").columns.tolist() == list(turns.columns)


def test_routes_shifts_and_reports(tmp_path):
    g = lattice(4, 3, 100.0, 120.0)
    grids, streets = _lattice_grids(g)
    lonely = box(X0 + 2000, Y0, X0 + 2100, Y0 + 100)  # a grid without streets
    grids = pd.concat([grids, gpd.GeoDataFrame({"grid_code": ["G2"]}, geometry=[lonely], crs=CRS)])
    calls = []
    plan = routes_for_grids(streets, grids, max_minutes=10, speed_kmh=6.0,  # 1 km per shift
                            progress=lambda done, total, label: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    g1 = plan.routes[plan.routes.grid_code == "G1"]
    assert len(g1) > 1 and list(g1["shift"]) == list(range(1, len(g1) + 1))
    assert g1["coverage_share"].sum() == pytest.approx(1.0, abs=1e-3)
    for geom, over, length in zip(g1.geometry, g1.over_limit, g1.length_m):
        assert geom.is_closed
        assert over == (length > 1000.0)
    assert set(plan.issues.loc[plan.issues.grid_code == "G2", "issue"]) == {"no streets"}
    assert np.isnan(plan.routes.loc[plan.routes.grid_code == "G2", "coverage_share"]).all()
    if g1.over_limit.any():
        assert "shifts over the limit" in set(plan.issues.issue)


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def county_grids(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("part")
    d = get_path("sample_county")
    code = main(["--quiet", "partition", str(d / "communities.gpkg"), "--buildings", str(d / "buildings.gpkg"),
                 "--streets", str(d / "streets.gpkg"), "--dedicated", str(d / "dedicated.gpkg"), "-o", str(out)])
    assert code == 0
    return out / "grids.gpkg"


def test_cli_plan_on_the_sample_county(county_grids, tmp_path):
    streets = get_path("sample_county", "streets.gpkg")
    hot = gpd.read_file(county_grids, layer="grids").head(3)
    priority = gpd.GeoDataFrame({"what": ["hotspot"] * 3}, geometry=hot.representative_point().to_numpy(),
                                crs=hot.crs)
    priority.to_file(tmp_path / "priority.gpkg")
    out = tmp_path / "plan"
    code = main(["--quiet", "patrol", "plan", str(county_grids), "--streets", str(streets), "-o", str(out),
                 "--priority", str(tmp_path / "priority.gpkg"), "--max-minutes", "90"])
    assert code == 0
    routes = gpd.read_file(out / "routes.gpkg", layer="routes")
    bases = gpd.read_file(out / "routes.gpkg", layer="bases")
    grids = gpd.read_file(county_grids, layer="grids")
    assert routes.crs == grids.crs
    assert routes.geometry.notna().all()  # every feature in the file has a geometry
    report = (out / "report.md").read_text()
    for missing in set(grids.grid_code) - set(routes.grid_code):  # no route only where no street: said so
        assert f"| {missing} | no streets |" in report
    with_streets = routes
    base_at = dict(zip(bases.grid_code, bases.geometry))
    for r in with_streets.itertuples():
        c = np.asarray(r.geometry.coords)
        assert np.allclose(c[0], c[-1]) and np.allclose(c[0], [base_at[r.grid_code].x, base_at[r.grid_code].y])
    coverage = routes.groupby("grid_code")["coverage_share"].sum(min_count=1).dropna()
    not_full = coverage[coverage < 0.9999].index
    assert all(code in report for code in not_full)  # partial coverage is always explained
    assert routes.loc[routes["stops"] > 0, "grid_code"].nunique() == 3
    turns = pd.read_csv(out / "turns.csv", dtype={"grid_code": str})
    last = turns.groupby(["grid_code", "shift"])["cumulative_m"].last()
    lengths = routes.set_index(["grid_code", "shift"])["length_m"]
    assert np.allclose(last.sort_index(), lengths.loc[last.index].sort_index(), atol=1.0)


def test_cli_plan_errors(county_grids, tmp_path):
    streets = str(get_path("sample_county", "streets.gpkg"))
    assert main(["--quiet", "patrol", "plan", str(county_grids), "--streets", streets, "-o", str(tmp_path / "x"),
                 "--grid", "999999999999999"]) == 2
    assert main(["--quiet", "patrol", "plan", str(county_grids), "--streets", streets, "-o", str(tmp_path / "x"),
                 "--grid-field", "nope"]) == 3
    assert not (tmp_path / "x").exists()


def test_cli_plan_on_helsinki_osm(tmp_path):
    lon0, lat0 = 24.937, 60.166
    grids = gpd.GeoDataFrame({"grid_code": ["990000001001001", "990000001001002"]}, crs=4326, geometry=[
        box(lon0, lat0, lon0 + 0.004, lat0 + 0.003), box(lon0 + 0.004, lat0, lon0 + 0.008, lat0 + 0.003)])
    grids.to_file(tmp_path / "grids.gpkg", layer="grids")
    out = tmp_path / "plan"
    code = main(["--quiet", "patrol", "plan", str(tmp_path / "grids.gpkg"),
                 "--osm", str(get_path("helsinki", "helsinki.osm.bz2")), "-o", str(out)])
    assert code == 0
    routes = gpd.read_file(out / "routes.gpkg", layer="routes")
    assert len(routes) == 2 and routes.crs.to_epsg() == 4326
    assert (routes.coverage_share > 0.8).all()
    assert all(g.is_closed for g in routes.geometry)
    report = (out / "report.md").read_text()
    for r in routes.itertuples():
        if r.coverage_share < 1:
            assert r.grid_code in report


def test_cli_plan_counts_only_the_routes_it_writes(county_grids, tmp_path, capsys):
    """The sample county has a grid without streets: it has no route, and the summary says so."""
    out = tmp_path / "plan"
    assert main(["--quiet", "patrol", "plan", str(county_grids), "--streets",
                 str(get_path("sample_county", "streets.gpkg")), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    routes = gpd.read_file(out / "routes.gpkg", layer="routes")
    grids = gpd.read_file(county_grids, layer="grids")
    without = sorted(set(grids.grid_code) - set(routes.grid_code))
    assert without  # the data this test is about
    first = printed.splitlines()[0]
    assert f"{len(grids)} grids, {len(routes)} routes" in first
    assert all(code in first for code in without) and "no route" in first
    summary = (out / "report.md").read_text().split("\n\n")[1]
    assert f"{len(routes)} routes (shifts)" in summary and all(code in summary for code in without)
    assert f"of {len(grids)} grids fully covered" in summary
