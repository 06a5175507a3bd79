"""The town: a jittered street lattice, its blocks, lanes, diagonals, block kinds and street names.

Everything is in the metric CRS (:data:`gridkit.synth.constants.WORK_CRS`). Community
rows and columns of blocks are laid out first; community boundaries run along lattice
lines (secondary streets); the centre is denser than the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from gridkit.synth.constants import COUNTY_NAME, HOUSEHOLDS_PER_COMMUNITY
from gridkit.synth.names import line_names, suffix, zh_number
from gridkit.synth.tables import COMPOUND_KIND, K_SITE, zone_kind_p
from gridkit.synth.tables import names as name_lists

__all__ = ["StreetNames", "Town", "build_town", "choose_rows", "lane_lines"]

_T = np.array([0.0, 0.25, 0.5, 0.75, 1.0])  # vertices along each lattice edge (0.5: lane junctions)


@dataclass
class StreetNames:
    """Names and classes of the lattice lines; the market and night-market lines."""

    ew: list[str]  # east-west line j
    ew_class: np.ndarray
    ns: list[str]  # north-south line i (a root: the suffix depends on its class)
    ns_class: np.ndarray  # (nx+1, community rows)
    market: int | None
    night: int | None


@dataclass
class Town:
    """The town: street lattice, blocks, faces and what lives where (metric CRS)."""

    nodes: np.ndarray  # (nx+1, ny+1, 2) street junctions
    hedges: np.ndarray  # (nx, ny+1, 5, 2) east-west edges, node (i, j) to (i+1, j)
    vedges: np.ndarray  # (nx+1, ny, 5, 2) north-south edges, node (i, j) to (i, j+1)
    comm: np.ndarray  # (nx, ny) community index of each block
    row_breaks: np.ndarray  # block rows where a community row starts, and ny
    col_breaks: list[np.ndarray]  # per community row: block columns where a community starts, and nx
    targets: np.ndarray  # households per community
    curved: np.ndarray  # east-west lines that curve
    diagonals: list[tuple[int, int, int]]  # (i0, j0, blocks) of each diagonal avenue
    lanes: np.ndarray  # (nx, ny) 0 none, 1 north-south through lane, 2 east-west, 3 dead end
    kind: np.ndarray  # (nx, ny) block kind
    zone: np.ndarray  # (nx, ny) 0 centre, 1 middle, 2 edge
    compounds: list[tuple[int, str, str]]  # (block, kind, name) of dedicated compounds
    site: int  # block index of the construction site
    quads: np.ndarray  # (nx*ny,) block polygons, index i*ny + j
    faces: np.ndarray  # street-enclosed faces (blocks split by lanes and diagonals)
    face_block: np.ndarray  # block index of each face
    names: StreetNames = field(init=False)

    @property
    def nx(self) -> int:
        return self.comm.shape[0]

    @property
    def ny(self) -> int:
        return self.comm.shape[1]


def build_town(n_comm: int, targets: np.ndarray, centre: np.ndarray, rng: np.random.Generator) -> Town:
    """Lay out the street lattice, blocks, lanes, diagonals, block kinds and special blocks."""
    targets = targets * (1 + np.clip(rng.normal(0, 0.03, len(targets)), -0.05, 0.05))
    side = max(3, round(6 * np.sqrt(targets.mean() / HOUSEHOLDS_PER_COMMUNITY)))
    comm, row_breaks, col_breaks = _layout(n_comm, side, rng)
    nx, ny = comm.shape
    curved = _pick_curved(ny, rng)
    nodes, hedges, vedges = _lattice(nx, ny, centre, curved, rng)
    diagonals = _pick_diagonals(nx, ny, n_comm, rng)
    lanes = _pick_lanes(nodes, diagonals, rng)
    zone = _zones(nx, ny)
    kind = _block_kinds(zone, rng)
    compounds, site = _pick_specials(kind, zone, lanes, n_comm, rng)
    kind = kind.copy()
    for block, ckind, _ in compounds:
        kind.flat[block] = COMPOUND_KIND[ckind]
    if site >= 0:
        kind.flat[site] = K_SITE
    quads = _quads(hedges, vedges)
    faces, face_block = _faces(hedges, vedges, nodes, diagonals, lanes, quads)
    town = Town(nodes, hedges, vedges, comm, row_breaks, col_breaks, targets, curved, diagonals, lanes,
                 kind, zone, compounds, site, quads, faces, face_block)
    town.names = _street_names(town, rng)
    return town


def _layout(n_comm: int, side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Community index per block: rows of communities, column breaks shifted per row."""
    n_rows = max(1, round(np.sqrt(n_comm)))
    counts = np.full(n_rows, n_comm // n_rows)
    counts[: n_comm % n_rows] += 1
    nx = int(counts.max()) * side
    heights = np.maximum(side + rng.integers(-1, 2, n_rows), 2)
    row_breaks = np.concatenate([[0], np.cumsum(heights)])
    comm = np.empty((nx, int(row_breaks[-1])), dtype=np.int64)
    col_breaks = []
    first = 0
    for r, k in enumerate(counts):
        cuts = _column_cuts(nx, int(k), rng)
        col_breaks.append(cuts)
        for c in range(k):
            comm[cuts[c]:cuts[c + 1], row_breaks[r]:row_breaks[r + 1]] = first + c
        first += k
    return comm, row_breaks, col_breaks


def _column_cuts(nx: int, k: int, rng: np.random.Generator) -> np.ndarray:
    cuts = np.linspace(0, nx, k + 1).round().astype(np.int64)
    if k > 1:
        moved = cuts.copy()
        moved[1:-1] += rng.integers(-1, 2, k - 1)
        if np.diff(moved).min() >= 2:
            cuts = moved
    return cuts


def _pick_curved(ny: int, rng: np.random.Generator) -> np.ndarray:
    if ny < 3:
        return np.array([], dtype=np.int64)
    n = max(1, ny // 10)
    return np.sort(rng.choice(np.arange(1, ny), size=min(n, ny - 1), replace=False))


def _lattice(
    nx: int, ny: int, centre: np.ndarray, curved: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jittered street junctions and the edges between them (5 vertices each)."""
    widths = rng.uniform(90, 230, nx)
    heights = rng.uniform(90, 230, ny)
    xs = centre[0] - widths.sum() / 2 + np.concatenate([[0.0], np.cumsum(widths)])
    ys = centre[1] - heights.sum() / 2 + np.concatenate([[0.0], np.cumsum(heights)])
    nodes = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1) + rng.uniform(-12, 12, (nx + 1, ny + 1, 2))
    waves = [(j, rng.uniform(20, 30), rng.uniform(1200, 1800), rng.uniform(0, 2 * np.pi)) for j in curved]
    for j, amp, wavelength, phase in waves:
        nodes[:, j, 1] += amp * np.sin(2 * np.pi * nodes[:, j, 0] / wavelength + phase)
    t = _T[:, None]
    hedges = nodes[:-1, :, None, :] * (1 - t) + nodes[1:, :, None, :] * t
    vedges = nodes[:, :-1, None, :] * (1 - t) + nodes[:, 1:, None, :] * t
    for j, amp, wavelength, phase in waves:
        x = hedges[:, j, :, 0]
        wave = amp * np.sin(2 * np.pi * x / wavelength + phase)
        hedges[:, j, :, 1] += wave - (wave[:, :1] * (1 - _T) + wave[:, -1:] * _T)
    return nodes, hedges, vedges


def _pick_diagonals(nx: int, ny: int, n_comm: int, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Diagonal avenues running south-west to north-east through block corners."""
    k = min(nx, ny) // 2
    if k < 2:
        return []
    used = np.zeros((nx, ny), dtype=bool)
    out = []
    for _ in range(max(1, n_comm // 40)):
        i0, j0 = int(rng.integers(0, nx - k + 1)), int(rng.integers(0, ny - k + 1))
        steps = np.arange(k)
        if used[i0 + steps, j0 + steps].any():
            continue
        used[i0 + steps, j0 + steps] = True
        out.append((i0, j0, k))
    return out


def _pick_lanes(nodes: np.ndarray, diagonals: list[tuple[int, int, int]], rng: np.random.Generator) -> np.ndarray:
    """Lanes (巷): through lanes splitting blocks over 200 m, some dead-end service lanes."""
    width = np.linalg.norm(nodes[1:, :-1] - nodes[:-1, :-1], axis=-1)
    height = np.linalg.norm(nodes[:-1, 1:] - nodes[:-1, :-1], axis=-1)
    diag = np.zeros(width.shape, dtype=bool)
    for i0, j0, k in diagonals:
        diag[i0 + np.arange(k), j0 + np.arange(k)] = True
    lanes = np.zeros(width.shape, dtype=np.int64)
    split_ns = (width > 215) & (width >= height) & ~diag
    split_ew = (height > 215) & ~split_ns & ~diag
    lanes[split_ns] = 1
    lanes[split_ew] = 2
    lanes[(lanes == 0) & ~diag & (rng.random(width.shape) < 0.1)] = 3
    lanes[diag] = -1
    return lanes


def _zones(nx: int, ny: int) -> np.ndarray:
    u = np.abs((np.arange(nx) + 0.5) / nx * 2 - 1)
    v = np.abs((np.arange(ny) + 0.5) / ny * 2 - 1)
    rho = np.maximum(u[:, None], v[None, :])
    return np.digitize(rho, [0.35, 0.7])


def _block_kinds(zone: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return choose_rows(zone_kind_p()[zone.ravel()], rng).reshape(zone.shape)


def choose_rows(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per row of a probability matrix (rows need not be normalised)."""
    cum = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cum[:, -1]
    return (u[:, None] >= cum).sum(axis=1)


def _pick_specials(
    kind: np.ndarray, zone: np.ndarray, lanes: np.ndarray, n_comm: int, rng: np.random.Generator
) -> tuple[list[tuple[int, str, str]], int]:
    """Blocks of the dedicated compounds (school, hospital, government) and the building site."""
    plain = np.flatnonzero((lanes == 0).ravel())
    order = rng.permutation(plain)
    zones = zone.ravel()[order]
    wanted: list[tuple[str, str, tuple[int, ...]]] = [("government", f"{COUNTY_NAME}人民政府", (0,))]
    wanted += [("school", f"{COUNTY_NAME}第{zh_number(k + 1)}中学", (1, 0)) for k in range(max(1, n_comm // 4))]
    hospitals = ["人民医院", "中医院"] + [f"第{zh_number(k + 2)}人民医院" for k in range(n_comm)]
    wanted += [("hospital", f"{COUNTY_NAME}{hospitals[k]}", (0, 1)) for k in range(max(1, n_comm // 12))]
    taken: list[tuple[int, str, str]] = []
    free = np.ones(len(order), dtype=bool)
    for ckind, name, zone_ok in wanted:
        hits = np.flatnonzero(free & np.isin(zones, zone_ok))
        if len(hits) == 0:
            hits = np.flatnonzero(free)
        if len(hits) == 0:
            break
        free[hits[0]] = False
        taken.append((int(order[hits[0]]), ckind, name))
    site_hits = np.flatnonzero(free & (zones >= 1))
    site_hits = site_hits if len(site_hits) else np.flatnonzero(free)
    site = int(order[site_hits[0]]) if len(site_hits) else -1
    return taken, site


def _quads(hedges: np.ndarray, vedges: np.ndarray) -> np.ndarray:
    """Block polygons from their four edges, index ``i * ny + j``."""
    bottom, top = hedges[:, :-1], hedges[:, 1:, ::-1]
    left, right = vedges[:-1, :, ::-1], vedges[1:]
    ring = np.concatenate([bottom[:, :, :4], right[:, :, :4], top[:, :, :4], left[:, :, :4], bottom[:, :, :1]], axis=2)
    return shapely.polygons(ring.reshape(-1, 17, 2))


def lane_lines(town_hedges: np.ndarray, town_vedges: np.ndarray, lanes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lane coordinates (n, 2, 2) and their block indices; dead ends reach 45 % into the block."""
    ii, jj = np.nonzero(lanes > 0)
    kind = lanes[ii, jj]
    south, north = town_hedges[ii, jj, 2], town_hedges[ii, jj + 1, 2]
    west, east = town_vedges[ii, jj, 2], town_vedges[ii + 1, jj, 2]
    start = np.where((kind == 2)[:, None], west, south)
    end = np.where((kind == 2)[:, None], east, north)
    end = np.where((kind == 3)[:, None], start + 0.45 * (north - south), end)
    return np.stack([start, end], axis=1), ii * lanes.shape[1] + jj


def _faces(
    hedges: np.ndarray,
    vedges: np.ndarray,
    nodes: np.ndarray,
    diagonals: list[tuple[int, int, int]],
    lanes: np.ndarray,
    quads: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Street-enclosed faces (polygonized half-edges, diagonals, through lanes) and their blocks."""
    halves = [hedges[..., 0:3, :], hedges[..., 2:5, :], vedges[..., 0:3, :], vedges[..., 2:5, :]]
    pieces = [shapely.linestrings(np.concatenate([h.reshape(-1, 3, 2) for h in halves]))]
    for i0, j0, k in diagonals:
        steps = np.arange(k)
        seg = np.stack([nodes[i0 + steps, j0 + steps], nodes[i0 + steps + 1, j0 + steps + 1]], axis=1)
        pieces.append(shapely.linestrings(seg))
    coords, _ = lane_lines(hedges, vedges, np.where(lanes == 3, 0, lanes))
    pieces.append(shapely.linestrings(coords) if len(coords) else np.array([], dtype=object))
    faces = shapely.get_parts(shapely.polygonize(np.concatenate(pieces)))
    points = shapely.point_on_surface(faces)
    hit_face, hit_block = shapely.STRtree(quads).query(points, predicate="within")
    if len(hit_face) != len(faces) or len(np.unique(hit_face)) != len(faces):
        raise RuntimeError("synthetic street faces do not map one-to-one onto blocks")
    face_block = np.empty(len(faces), dtype=np.int64)
    face_block[hit_face] = hit_block
    return faces, face_block


def _street_names(town: Town, rng: np.random.Generator) -> StreetNames:
    """Name and class of every east-west line and north-south line piece."""
    nx, ny = town.nx, town.ny
    ew_roots = list(rng.permutation(name_lists()["east_west_root"]))
    ns_roots = list(rng.permutation(name_lists()["north_south_root"]))
    ew = line_names(ew_roots, ny + 1, "纬")
    ns = line_names(ns_roots, nx + 1, "经")
    ew_class = _line_classes(ny, set(town.row_breaks[1:-1].tolist()), rng)
    ew_primary = ny // 2
    ew[0], ew[ny], ew[ew_primary] = "环城南", "环城北", "人民"
    ns[0], ns[nx] = "环城西", "环城东"
    for j in town.curved:
        ew[j] = "滨河"
    ns_class = np.empty((nx + 1, len(town.row_breaks) - 1), dtype=object)
    for r, cuts in enumerate(town.col_breaks):
        ns_class[:, r] = _line_classes(nx, set(cuts[1:-1].tolist()), rng)
    ns[nx // 2] = "中山"
    market, night = _market_lines(ew_class, ny)
    ew_names = [suffix(n, c) for n, c in zip(ew, ew_class)]
    if market is not None:
        ew_names[market] = "菜市街"
    if night is not None:
        ew_names[night] = "美食街"
    return StreetNames(ew_names, ew_class, ns, ns_class, market, night)


def _line_classes(n_blocks: int, breaks: set[int], rng: np.random.Generator) -> np.ndarray:
    """Class of each lattice line: outline and community breaks secondary, centre primary."""
    classes = np.where(rng.random(n_blocks + 1) < 0.5, "tertiary", "residential").astype(object)
    for k in breaks | {0, n_blocks}:
        classes[k] = "secondary"
    centre = n_blocks // 2
    classes[np.arange(n_blocks + 1) % 12 == centre % 12] = "primary"
    classes[[0, n_blocks]] = "secondary"
    return classes


def _market_lines(ew_class: np.ndarray, ny: int) -> tuple[int | None, int | None]:
    """Two non-arterial east-west lines near the centre for the market and the night market."""
    minor = [j for j in range(1, ny) if ew_class[j] in ("tertiary", "residential")]
    minor.sort(key=lambda j: (abs(j - ny / 2), j))
    market = minor[0] if minor else None
    night = minor[1] if len(minor) > 1 else None
    return market, night

