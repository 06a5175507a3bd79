"""Generated communities for partition tests: random polygons, streets, buildings."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

CRS = 4545  # CGCS2000 3-degree Gauss-Krüger, central meridian 108°E (Guizhou)
X0, Y0 = 500_000.0, 2_900_000.0


def random_polygon(rng: np.random.Generator, cx: float, cy: float, radius: float, n: int = 14) -> shapely.Polygon:
    """A star-shaped irregular polygon."""
    # jittered even angles: star-shaped around the centre, so always a simple polygon
    angles = (np.arange(n) + rng.uniform(-0.35, 0.35, n)) * (2 * np.pi / n)
    radii = radius * rng.uniform(0.55, 1.0, n)
    return shapely.Polygon(np.c_[cx + radii * np.cos(angles), cy + radii * np.sin(angles)])


def make_case(
    seed: int,
    *,
    streets: bool = True,
    kind: str = "city",
    households: int = 3000,
    multipart: bool = False,
    hole: bool = False,
    towers: bool = True,
    points: bool = False,
) -> dict[str, gpd.GeoDataFrame]:
    """One or two communities with buildings (polygons or household points) and streets."""
    rng = np.random.default_rng(seed)
    radius = 250 + np.sqrt(households) * 8
    main = random_polygon(rng, X0, Y0, radius)
    if hole:
        main = main.difference(shapely.Point(X0 + radius * 0.1, Y0).buffer(radius * 0.15))
    if multipart:
        island = random_polygon(rng, X0 + radius * 2.2, Y0, radius * 0.35, n=8)
        main = shapely.MultiPolygon([main, island])
    neighbour = random_polygon(rng, X0, Y0 - 2.1 * radius, radius * 0.8)
    neighbour = neighbour.difference(main)
    vvv = "001" if kind == "city" else "201"
    other = "002" if kind == "city" else "202"
    communities = gpd.GeoDataFrame(
        {"code": [f"520102001{vvv}", f"520102001{other}"], "name": ["文昌社区", "龙井村"]},
        geometry=[main, neighbour], crs=CRS,
    )
    lines = []
    if streets:
        minx, miny, maxx, maxy = shapely.total_bounds(communities.geometry.to_numpy())
        spacing = rng.uniform(90, 220)
        for y in np.arange(miny + spacing / 2, maxy, spacing):
            lines.append(shapely.LineString([(minx - 50, y), ((minx + maxx) / 2, y + rng.normal(0, 25)),
                                             (maxx + 50, y + rng.normal(0, 25))]))
        for x in np.arange(minx + spacing / 2, maxx, spacing * rng.uniform(0.8, 1.5)):
            lines.append(shapely.LineString([(x, miny - 50), (x + rng.normal(0, 40), maxy + 50)]))
        # a dead-end lane
        lines.append(shapely.LineString([(X0, Y0), (X0 + radius * 0.3, Y0 + radius * 0.2)]))
    street_layer = gpd.GeoDataFrame({"name": [f"路{i}" for i in range(len(lines))]}, geometry=lines, crs=CRS)

    n_build = max(int(households / 25), 3)
    minx, miny, maxx, maxy = shapely.total_bounds(communities.geometry.to_numpy())
    xy = rng.uniform([minx, miny], [maxx, maxy], (n_build * 4, 2))
    if points:
        geoms = shapely.points(xy)
    else:
        w = rng.uniform(6, 25, len(xy))
        geoms = shapely.box(xy[:, 0] - w / 2, xy[:, 1] - w / 3, xy[:, 0] + w / 2, xy[:, 1] + w / 3)
    inside = shapely.intersects(geoms, shapely.union_all(communities.geometry.to_numpy()))
    geoms = geoms[inside][:n_build]
    hh = rng.integers(1, 50, len(geoms))
    hh[rng.random(len(geoms)) < 0.1] = 0  # shops
    if towers:
        big = rng.random(len(geoms)) < 0.03
        hh[big] = rng.integers(90, 320, big.sum())
    buildings = gpd.GeoDataFrame({"households": hh, "levels": 6}, geometry=geoms, crs=CRS)
    return {"communities": communities, "buildings": buildings, "streets": street_layer}
