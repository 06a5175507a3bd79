"""Exact topology of the written grids.gpkg, in its own CRS, as an intake check sees it.

Every check reads the file back with pyogrio (not gridkit's readers) and uses exact GEOS
predicates in the file's CRS: no two grids overlap (neighbouring communities
included), every grid is covered by its community in the ``communities`` layer, the
grids of a community union to exactly that outline, and every vertex of the boundary
file is in the written outlines unchanged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from gridkit_cli.main import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridkit.crs import work_crs
from gridkit.datasets import get_path
from gridkit.partition import partition
from gridkit.partition.outputs import write_partition

#: where the generated counties lie: Guiyang, in UTM 48N metres
UTM = 32648
X0, Y0 = 670_000.0, 2_945_000.0


def _star(rng: np.random.Generator, cx: float, cy: float, radius: float, n: int) -> shapely.Polygon:
    angles = (np.arange(n) + rng.uniform(-0.35, 0.35, n)) * (2 * np.pi / n)
    radii = radius * rng.uniform(0.6, 1.0, n)
    return shapely.Polygon(np.c_[cx + radii * np.cos(angles), cy + radii * np.sin(angles)])


def generated_county(seed: int, crs: int, *, chords: int, t_junction: bool, streets: bool,
                     enclave: bool = False) -> dict[str, gpd.GeoDataFrame]:
    """Communities tiling a star-shaped town (cut by random chords), in ``crs``.

    With ``t_junction`` one more community is drawn in ``crs`` as the difference of a
    polygon and the town, so its border carries vertices the town's side lacks; with
    ``enclave`` a community lies in a hole of the largest one.
    """
    rng = np.random.default_rng(seed)
    radius = rng.uniform(500, 900)
    town = _star(rng, X0, Y0, radius, 16)
    lines = [town.exterior]
    for _ in range(chords):
        a, b = rng.uniform(0, 2 * np.pi, 2)
        p = (X0 + 1.2 * radius * np.cos(a), Y0 + 1.2 * radius * np.sin(a))
        q = (X0 + 1.2 * radius * np.cos(b), Y0 + 1.2 * radius * np.sin(b))
        mid = (X0 + rng.normal(0, radius * 0.2), Y0 + rng.normal(0, radius * 0.2))
        lines.append(shapely.LineString([p, mid, q]))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.unary_union(lines)))))
    faces = faces[shapely.within(shapely.point_on_surface(faces), town)]
    faces = faces[shapely.area(faces) > 0.03 * town.area]
    if enclave:
        big = int(np.argmax(shapely.area(faces)))
        centre = shapely.point_on_surface(faces[big])
        inner = _star(rng, centre.x, centre.y, np.sqrt(faces[big].area) * 0.12, 10)
        if shapely.contains_properly(faces[big], inner):
            faces = np.r_[faces, [inner]]
            faces[big] = shapely.Polygon(faces[big].exterior, [inner.exterior])
    comm = gpd.GeoDataFrame({"code": [f"520102001{i + 1:03d}" for i in range(len(faces))],
                             "name": [f"社区{i + 1}" for i in range(len(faces))]}, geometry=faces, crs=UTM).to_crs(crs)
    if t_junction:
        extra = gpd.GeoSeries([_star(rng, X0, Y0 - 1.5 * radius, radius * 0.8, 9)], crs=UTM).to_crs(crs).iat[0]
        extra = shapely.difference(extra, shapely.union_all(comm.geometry.to_numpy()))
        extra = max(shapely.get_parts(extra), key=shapely.area)
        comm = gpd.GeoDataFrame({"code": [*comm["code"], "520102001201"], "name": [*comm["name"], "龙井村"]},
                                geometry=[*comm.geometry, extra], crs=crs)
    area = shapely.union_all(gpd.GeoSeries(comm.geometry, crs=crs).to_crs(UTM).to_numpy())
    minx, miny, maxx, maxy = area.bounds
    street_lines = []
    if streets:
        spacing = rng.uniform(120, 260)
        street_lines += [shapely.LineString([(minx - 30, y), (maxx + 30, y + rng.normal(0, 30))])
                         for y in np.arange(miny + spacing / 2, maxy, spacing)]
        street_lines += [shapely.LineString([(x, miny - 30), (x + rng.normal(0, 30), maxy + 30)])
                         for x in np.arange(minx + spacing / 2, maxx, spacing)]
    xy = rng.uniform([minx, miny], [maxx, maxy], (1400, 2))
    w = rng.uniform(6, 20, len(xy))
    boxes = shapely.box(xy[:, 0] - w / 2, xy[:, 1] - w / 3, xy[:, 0] + w / 2, xy[:, 1] + w / 3)
    boxes = boxes[shapely.within(boxes, area)][:500]
    hh = rng.integers(0, 30, len(boxes))
    buildings = gpd.GeoDataFrame({"households": hh}, geometry=boxes, crs=UTM).to_crs(crs)
    roads = gpd.GeoDataFrame({"name": [f"路{i}" for i in range(len(street_lines))]},
                             geometry=street_lines or [shapely.LineString([(minx, miny), (minx + 1, miny)])],
                             crs=UTM).to_crs(crs)
    return {"communities": comm, "buildings": buildings, "streets": roads}


def check_written(gpkg: Path, boundaries: gpd.GeoDataFrame | None = None) -> None:
    """Exact topology of ``gpkg`` as read by pyogrio, in its own CRS."""
    grids = pyogrio.read_dataframe(gpkg, layer="grids")
    comm = pyogrio.read_dataframe(gpkg, layer="communities")
    assert grids.crs == comm.crs
    g = grids.geometry.to_numpy()
    assert shapely.is_valid(g).all()
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    i, j = i[i < j], j[i < j]
    overlapping = [(grids["grid_code"].iat[a], grids["grid_code"].iat[b]) for a, b in zip(i, j)
                   if shapely.relate_pattern(g[a], g[b], "2********")]
    assert overlapping == [], f"{len(overlapping)} pairs of grids overlap, e.g. {overlapping[:3]}"
    assert not shapely.overlaps(g[i], g[j]).any()
    outline = dict(zip(comm["community_code"], comm.geometry))
    home = np.asarray([outline[c] for c in grids["community_code"]], dtype=object)
    outside = grids["grid_code"][~shapely.covered_by(g, home)].tolist()
    assert outside == [], f"{len(outside)} grids not covered by their community, e.g. {outside[:3]}"
    for code, part in grids.groupby("community_code").geometry:
        assert shapely.equals(shapely.union_all(part.to_numpy()), outline[code]), code
    assert set(comm["community_code"]) == set(grids["community_code"])
    if boundaries is not None:
        assert boundaries.crs == comm.crs
        written = {tuple(xy) for xy in shapely.get_coordinates(comm.geometry.to_numpy())}
        in_grids = {tuple(xy) for xy in shapely.get_coordinates(g)}
        given_xy = [tuple(xy) for xy in shapely.get_coordinates(boundaries.geometry.to_numpy())]
        assert [xy for xy in given_xy if xy not in written] == []
        assert [xy for xy in given_xy if xy not in in_grids] == []


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), crs=st.sampled_from([4326, 4490, 3857, UTM]), chords=st.integers(1, 3),
       t_junction=st.booleans(), streets=st.booleans(), enclave=st.booleans())
def test_written_grids_tile_exactly_in_their_crs(seed, crs, chords, t_junction, streets, enclave):
    case = generated_county(seed, crs, chords=chords, t_junction=t_junction, streets=streets, enclave=enclave)
    result = partition(case["communities"], case["buildings"], streets=case["streets"], kind="city",
                       min_households=40, max_households=120, target=80)
    assert int(result.grids["households"].sum()) == int(case["buildings"]["households"].sum())
    with tempfile.TemporaryDirectory() as tmp:
        write_partition(result, Path(tmp) / "out")
        check_written(Path(tmp) / "out" / "grids.gpkg", case["communities"])


@pytest.mark.parametrize("crs", [4326, UTM])
def test_to_crs_output_still_tiles(tmp_path, crs):
    case = generated_county(7, 4490, chords=2, t_junction=True, streets=True)
    result = partition(case["communities"], case["buildings"], streets=case["streets"], kind="city",
                       min_households=40, max_households=120, target=80, output_crs=crs)
    write_partition(result, tmp_path / "out")
    info = pyogrio.read_info(tmp_path / "out" / "grids.gpkg", layer="grids")
    assert info["crs"] == f"EPSG:{crs}"
    check_written(tmp_path / "out" / "grids.gpkg")


def test_a_metric_input_is_worked_in_as_it_is():
    case = generated_county(3, UTM, chords=2, t_junction=False, streets=True)
    result = partition(case["communities"], case["buildings"], streets=case["streets"], kind="city",
                       min_households=40, max_households=120, target=80)
    assert result.figures["metric_crs"] == "EPSG:32648"
    # no round trip: the grids as written are the grids as measured (less the border vertices no cut ends at)
    written, measured = result.grids.geometry.to_numpy(), result.grids_metric.geometry.to_numpy()
    assert shapely.area(shapely.symmetric_difference(written, measured)).max() < 1e-6
    # every vertex written is one measured, or a node placed on the border within a micrometre of it
    kept = shapely.points(shapely.get_coordinates(measured))
    placed = shapely.points(shapely.get_coordinates(written))
    assert shapely.STRtree(kept).query_nearest(placed, return_distance=True)[1].max() < 1e-6
    web = generated_county(3, 3857, chords=2, t_junction=False, streets=False)
    assert work_crs(web["communities"]).to_epsg() == 4545  # Web Mercator is 12 % off scale here: not kept


def test_the_sample_county_tiles_exactly(tmp_path):
    sample = get_path("sample_county")
    assert main(["--quiet", "partition", str(sample / "communities.gpkg"), "--buildings",
                 str(sample / "buildings.gpkg"), "--streets", str(sample / "streets.gpkg"), "--dedicated",
                 str(sample / "dedicated.gpkg"), "-o", str(tmp_path / "out")]) == 0
    check_written(tmp_path / "out" / "grids.gpkg", pyogrio.read_dataframe(sample / "communities.gpkg"))


@pytest.mark.slow
def test_helsinki_tiles_exactly(tmp_path):
    osm = get_path("helsinki", "helsinki.osm.bz2")
    communities = tmp_path / "communities.gpkg"
    assert main(["--quiet", "communities", "--osm", str(osm), "-o", str(communities)]) == 0
    assert main(["--quiet", "partition", str(communities), "--buildings", str(osm), "--estimate-households",
                 "--osm", str(osm), "-o", str(tmp_path / "out")]) == 0
    check_written(tmp_path / "out" / "grids.gpkg", pyogrio.read_dataframe(communities))
