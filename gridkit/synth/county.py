"""Realistic synthetic counties for demos, tests and benchmarks.

The model is a Guizhou county seat that divided its urban communities (社区) of about
4,250 households each into grids of about 300 households, with a few rural villages (村)
around it. The town is a jittered street lattice with a curved street, a diagonal
avenue, through lanes (巷) and dead-end service lanes; community boundaries run along
arterial streets; buildings sit inside street blocks with a setback from every street;
villages are hamlets of low-rise houses along a few rural roads, one village has a
detached part (飞地) and one has only about 60 households.

Everything is generated in the CGCS2000 3-degree Gauss-Krüger zone 36 (EPSG:4545,
central meridian 108°E) and returned in CGCS2000 geographic coordinates (EPSG:4490).
The same seed gives identical frames and byte-identical files.

Examples
--------
>>> county = synth_county(seed=1, communities=1, villages=1, incidents=False, tracks=False)
>>> sorted(county)
['buildings', 'communities', 'components', 'dedicated', 'streets', 'workers']
>>> county["communities"][["code", "kind", "class_code"]].to_dict("records")[0]
{'code': '520199001001', 'kind': 'city', 'class_code': '111'}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gridkit._progress import Progress, no_progress
from gridkit._rng import RNGLike, as_rng
from gridkit.errors import ParameterError
from gridkit.incidents.cases import deadlines_for_categories

__all__ = [
    "COUNTY_CODE",
    "FILES",
    "HOUSEHOLDS_PER_COMMUNITY",
    "OUTPUT_CRS",
    "WORK_CRS",
    "synth_county",
    "write_county",
]

log = logging.getLogger(__name__)

WORK_CRS = "EPSG:4545"
"""CGCS2000 / 3-degree Gauss-Krüger CM 108E: the metric CRS the county is built in."""
OUTPUT_CRS = "EPSG:4490"
"""CGCS2000 geographic: the CRS of every returned layer and written file."""
COUNTY_CODE = "520199"
"""A fictional county code in the format of Guiyang's (5201xx); 520199 is not assigned."""
COUNTY_NAME = "黔峰县"
HOUSEHOLDS_PER_COMMUNITY = 4250
CENTRE_LONLAT = (106.62, 26.47)

FILES = {
    "communities": "communities.gpkg",
    "streets": "streets.gpkg",
    "buildings": "buildings.gpkg",
    "dedicated": "dedicated.gpkg",
    "components": "components.gpkg",
    "incidents": "incidents.csv",
    "tracks": "tracks.csv",
    "workers": "workers.csv",
}
"""File name of each layer in a written county (GeoPackage layers are named like the key)."""

_FILE_DATE = "2024-07-01T00:00:00Z"  # gpkg_contents.last_change, fixed so files are reproducible
_YEAR_START = np.datetime64("2023-07-01T00:00:00", "s")
_NOW = np.datetime64("2024-07-01T00:00:00", "s")
_TRACK_DAYS = ("2024-06-26", "2024-06-27", "2024-06-28")
_MAX_INCIDENTS = 200_000
_INCIDENTS_PER_HOUSEHOLD = 0.42

HALF_WIDTH = {"primary": 15.0, "secondary": 12.0, "tertiary": 9.0, "residential": 6.0, "service": 4.0, "track": 3.0}
"""Half the width of each street class in metres: buildings stay beyond it plus a margin."""
_MARGIN = 3.0  # metres between a street's edge and a building
_INNER = HALF_WIDTH["residential"] + _MARGIN  # every building at least this far from a block edge
_T = np.array([0.0, 0.25, 0.5, 0.75, 1.0])  # vertices along each lattice edge (0.5: lane junctions)

# building types and their ranges: footprint length/depth (m), levels
_WALKUP, _TOWER, _LOWRISE, _SHOP, _OFFICE, _SCHOOL, _HOSPITAL, _GOVERNMENT = range(8)
_BT_USE = np.array(["residential", "residential", "residential", "shop", "office", "school", "hospital", "government"])
_BT_LEN = np.array([[13, 56], [22, 30], [9, 12], [12, 30], [18, 40], [30, 48], [25, 40], [30, 50]], float)
_BT_DEP = np.array([[10, 13], [18, 26], [8, 10], [10, 20], [12, 18], [12, 16], [14, 20], [14, 18]], float)
_BT_LEVELS = np.array([[5, 7], [15, 33], [1, 3], [1, 3], [4, 12], [3, 5], [4, 10], [4, 8]])

# block kinds: cell size (m) and the mix of building types in their cells
_K_WALKUP, _K_TOWER, _K_LOWRISE, _K_COMMERCIAL, _K_SCHOOL, _K_HOSPITAL, _K_GOVERNMENT, _K_SITE = range(8)
_COMPOUND_KIND = {"school": _K_SCHOOL, "hospital": _K_HOSPITAL, "government": _K_GOVERNMENT}
_KIND_CELL = np.array([[62, 30], [46, 46], [18, 16], [36, 30], [60, 36], [50, 40], [60, 40], [1e9, 1e9]], float)
_KIND_MIX = np.array([
    [0.90, 0.00, 0.00, 0.10, 0.00, 0, 0, 0],
    [0.00, 0.85, 0.00, 0.10, 0.05, 0, 0, 0],
    [0.00, 0.00, 0.95, 0.05, 0.00, 0, 0, 0],
    [0.00, 0.00, 0.00, 0.60, 0.40, 0, 0, 0],
    [0.00, 0.00, 0.00, 0.00, 0.00, 1, 0, 0],
    [0.00, 0.00, 0.00, 0.00, 0.00, 0, 1, 0],
    [0.00, 0.00, 0.00, 0.00, 0.00, 0, 0, 1],
    [1.00, 0.00, 0.00, 0.00, 0.00, 0, 0, 0],
])
# block kind probabilities (walkup, tower, lowrise, commercial) in the centre, middle, edge zones
_ZONE_KIND_P = np.array([[0.30, 0.45, 0.00, 0.25], [0.50, 0.30, 0.15, 0.05], [0.40, 0.20, 0.40, 0.00]])



def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_COMMUNITY_ROOTS = _words(
    "文昌 凤凰 东门 西门 南门 北关 城关 新华 和平 人民 建设 团结 胜利 光明 幸福 阳明 翠屏 碧云 锦江 滨河 "
    "中山 东山 西山 南山 北山 龙泉 花溪 桂花 育才 学府 书院 府前 兴隆 富强 朝阳 永乐 太平 青云 长春 红旗"
)
_VILLAGE_ROOTS = _words("龙井 石板 高坡 大寨 杨柳 新寨 水口 坝子 青山 松林 茶园 岩脚 红岩 马场 白泥 麻塘")
_HAMLETS = _words("上寨 下寨 中寨 大坪 田坝 坡脚 岩头 水井湾 杨家湾 王家寨 罗家院 陈家坝 小河边 大土 平寨 新房子")
_EW_ROOTS = _words("建设 文化 新华 和平 民主 团结 公园 朝阳 育才 光明 兴隆 富强 书院 学府 凤凰 桂花 府前 青云 翠微 长春")
_NS_ROOTS = _words("延安 东风 红旗 胜利 幸福 龙泉 花溪 丹桂 杏花 桃园 永乐 太平 文昌 黔灵 南门 北门 东门 西门 沙坝 狮山")
_DIAGONAL_NAMES = ("解放路", "迎宾路", "振华路", "健康路")
_ESTATE_ROOTS = _words("阳光 金桥 锦绣 华府 御景 翠湖 明珠 富丽 香榭 紫荆 滨江 怡景 盛世 天悦 云顶 桂苑 丽都 金色 康乐 安居")
_ESTATE_SUFFIX = ("花园", "小区", "家园", "苑", "新村", "公寓")
_SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢")
_GIVEN = _words("芳 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 华 平 刚 桂英 霞 辉 鑫 婷 宇 浩 雪 玲 波 红 建国 志红 文 琴")
_ZH_DIGITS = "零一二三四五六七八九"

# components: category, name, street classes, spacing (m), offset (fraction of half width), town only
_COMPONENT_RULES = (
    ("0118", "路灯", ("primary", "secondary", "tertiary", "residential", "service"), 35.0, 0.9, True),
    ("0118", "路灯", ("tertiary",), 50.0, 0.9, False),
    ("0113", "消防设施", ("primary", "secondary", "tertiary", "residential"), 120.0, 0.85, True),
    ("0101", "上水井盖", ("primary", "secondary", "tertiary", "residential"), 90.0, 0.3, True),
    ("0102", "污水井盖", ("primary", "secondary", "tertiary", "residential"), 90.0, 0.1, True),
    ("0103", "雨水井盖", ("primary", "secondary", "tertiary", "residential"), 90.0, 0.5, True),
    ("0105", "电力井盖", ("primary", "secondary", "tertiary"), 110.0, 0.7, True),
    ("0104", "雨水箅子", ("primary", "secondary", "tertiary"), 50.0, 0.75, True),
    ("0305", "垃圾箱", ("primary", "secondary", "tertiary"), 70.0, 0.95, True),
    ("0407", "街头坐椅", ("primary", "secondary"), 200.0, 0.95, True),
    ("0203", "公交站亭", ("primary", "secondary"), 500.0, 0.95, True),
    ("0209", "交通标志牌", ("primary", "secondary", "tertiary"), 250.0, 0.95, True),
    ("0117", "立杆", ("residential", "service"), 50.0, 0.9, True),
    ("0117", "立杆", ("track", "residential"), 60.0, 0.9, False),
    ("0301", "公共厕所", ("secondary", "tertiary"), 800.0, 0.95, True),
    ("0123", "邮筒", ("primary", "secondary"), 600.0, 0.95, True),
)

_LEVELS = ("grid", "community", "street", "district")
_LEVEL_P = np.array([0.70, 0.20, 0.08, 0.02])
_LEVEL_SPEED = np.array([0.3, 0.6, 0.9, 1.2])  # median duration as a share of the time limit
_HOUR_DAY = np.array([1, 1, 1, 1, 1, 2, 4, 8, 12, 12, 11, 10, 8, 8, 10, 11, 11, 10, 8, 6, 4, 3, 2, 1], float)
_HOUR_MARKET = np.array([0, 0, 0, 0, 1, 4, 10, 14, 14, 12, 10, 8, 6, 4, 3, 3, 4, 5, 4, 2, 1, 0, 0, 0], float)
_HOUR_NIGHT = np.array([6, 4, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 8, 12, 14, 14, 10], float)
# incident sources: share of the year's incidents, categories and their weights, hours
_SOURCES = {
    "streets": (0.70, {"0102": 22, "0104": 12, "0505": 15, "0506": 6, "0201": 12, "0501": 8, "0101": 7,
                       "0103": 6, "0301": 4, "0302": 3, "0401": 3, "0402": 3}, _HOUR_DAY),
    "market": (0.12, {"0501": 35, "0102": 25, "0505": 20, "0506": 10, "0103": 10}, _HOUR_MARKET),
    "night": (0.08, {"0501": 35, "0102": 30, "0505": 25, "0301": 10}, _HOUR_NIGHT),
    "site": (0.07, {"0302": 40, "0301": 30, "0103": 20, "0104": 10}, _HOUR_DAY),
}
_SPIKE = (45, {"0101": 50, "0103": 50})


# --------------------------------------------------------------------------- public API


def synth_county(
    *,
    seed: RNGLike = 0,
    communities: int | None = None,
    villages: int = 4,
    households: int | None = None,
    incidents: bool = True,
    tracks: bool = True,
    progress: Progress | None = None,
) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Generate a synthetic county: a county seat of urban communities and villages around it.

    Parameters
    ----------
    seed
        Seed or generator; the same seed gives identical frames.
    communities
        Urban communities (社区). None: 4, or ``households / 4250`` when ``households``
        is given.
    villages
        Rural villages (村) around the town, 0-12. With two or more, the second has only
        about 60 households (below the rural minimum of 100, the infeasible case) and
        the first has a detached part (a MultiPolygon).
    households
        Households in the town in total, spread over the communities. None: about
        4,250 per community. Scales to millions for benchmarks.
    incidents
        Generate a year of incidents (``incidents`` key); about 0.42 per household, at
        most 200,000.
    tracks
        Generate three days of GPS fixes of eight grid workers (``tracks`` key).
    progress
        Called as ``progress(done, total, label)`` after each stage.

    Returns
    -------
    dict
        ``communities``, ``streets``, ``buildings``, ``dedicated``, ``components``
        (GeoDataFrames in EPSG:4490), ``workers`` and, when asked for, ``incidents`` and
        ``tracks`` (DataFrames with ``lon``/``lat`` in EPSG:4490). See ``FILES``.
    """
    n_comm, targets = _check_parameters(communities, villages, households)
    rng = as_rng(seed)
    step = _stepper(progress, 6 + incidents + tracks)
    town = _build_town(n_comm, targets, _centre(), rng)
    step("streets and blocks")
    vill = _build_villages(town, villages, rng)
    streets = _streets_frame(town, vill)
    step("villages")
    buildings, dedicated = _town_buildings(town, streets, rng)
    buildings = pd.concat([buildings, _village_buildings(vill, streets, rng)], ignore_index=True)
    step("buildings")
    comms = _communities_frame(town, vill)
    buildings = _finish_buildings(buildings, comms)
    components = _components(streets, rng)
    step("components")
    workers = _workers(comms, buildings, rng)
    step("workers")
    out: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {
        "communities": _to_output(comms.drop(columns=["index"])),
        "streets": _to_output(streets[["name", "highway", "geometry"]]),
        "buildings": _to_output(buildings.drop(columns=["community"])),
        "dedicated": _to_output(_dedicated_frame(dedicated, comms)),
        "components": _to_output(components),
    }
    if incidents:
        out["incidents"] = _incidents(town, vill, streets, int(buildings["households"].sum()), rng)
        step("incidents")
    if tracks:
        out["tracks"] = _tracks(town, workers, comms, rng)
        step("tracks")
    out["workers"] = workers
    step("done")
    log.info("synthetic county: %d communities, %d villages, %d buildings, %d households",
             n_comm, villages, len(buildings), int(buildings["households"].sum()))
    return out


def write_county(
    county: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    outdir: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write a county from :func:`synth_county` into ``outdir``, one file per layer.

    Each file is written under a temporary name beside its target and moved into place
    when complete, so no half-written file remains after a crash. GeoPackages get a
    fixed modification date, so the same county gives byte-identical files.

    Parameters
    ----------
    county
        Layers keyed as in ``FILES``.
    outdir
        Folder to write into (created when missing).
    progress
        Called as ``progress(done, total, label)`` after each file.

    Returns
    -------
    dict
        The path of each file written, keyed like ``county``.

    Examples
    --------
    >>> import tempfile
    >>> county = synth_county(seed=1, communities=1, villages=0, incidents=False, tracks=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     sorted(path.name for path in write_county(county, tmp).values())
    ['buildings.gpkg', 'communities.gpkg', 'components.gpkg', 'dedicated.gpkg', 'streets.gpkg', 'workers.csv']
    """
    unknown = sorted(set(county) - set(FILES))
    if unknown:
        raise ParameterError(f"unknown county layers {unknown}", hint=f"use the keys {', '.join(FILES)}")
    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    report = progress or no_progress
    written: dict[str, Path] = {}
    for done, (key, frame) in enumerate(county.items(), start=1):
        path = folder / FILES[key]
        _write_atomic(frame, path, layer=key)
        written[key] = path
        report(done, len(county), FILES[key])
    return written


# --------------------------------------------------------------------------- parameters


def _check_parameters(
    communities: int | None, villages: int, households: int | None
) -> tuple[int, np.ndarray]:
    """Number of communities and the household total of each (before jitter)."""
    if communities is not None and not 1 <= communities <= 5000:
        raise ParameterError(f"communities must be 1-5000, got {communities}", field="communities")
    if not 0 <= villages <= 12:
        raise ParameterError(f"villages must be 0-12, got {villages}", field="villages")
    if households is not None and not 100 <= households <= 20_000_000:
        raise ParameterError(f"households must be 100-20,000,000, got {households}", field="households")
    if households is None:
        n = 4 if communities is None else communities
        return n, np.full(n, float(HOUSEHOLDS_PER_COMMUNITY))
    n = communities if communities is not None else max(1, round(households / HOUSEHOLDS_PER_COMMUNITY))
    if households < 100 * n:
        raise ParameterError(f"{households} households are too few for {n} communities",
                             field="households", hint="give at least 100 households per community")
    return n, np.full(n, households / n)


def _stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    report = progress or no_progress
    state = {"done": 0}

    def step(label: str) -> None:
        state["done"] = min(state["done"] + 1, total)
        report(state["done"], total, label)

    return step


def _centre() -> np.ndarray:
    to_work = Transformer.from_crs(OUTPUT_CRS, WORK_CRS, always_xy=True)
    x, y = to_work.transform(*CENTRE_LONLAT)
    return np.array([round(x, -2), round(y, -2)])


# --------------------------------------------------------------------------- town lattice


@dataclass
class _StreetNames:
    """Names and classes of the lattice lines; the market and night-market lines."""

    ew: list[str]  # east-west line j
    ew_class: np.ndarray
    ns: list[str]  # north-south line i (a root: the suffix depends on its class)
    ns_class: np.ndarray  # (nx+1, community rows)
    market: int | None
    night: int | None


@dataclass
class _Town:
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
    names: _StreetNames = field(init=False)

    @property
    def nx(self) -> int:
        return self.comm.shape[0]

    @property
    def ny(self) -> int:
        return self.comm.shape[1]


def _build_town(n_comm: int, targets: np.ndarray, centre: np.ndarray, rng: np.random.Generator) -> _Town:
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
        kind.flat[block] = _COMPOUND_KIND[ckind]
    if site >= 0:
        kind.flat[site] = _K_SITE
    quads = _quads(hedges, vedges)
    faces, face_block = _faces(hedges, vedges, nodes, diagonals, lanes, quads)
    town = _Town(nodes, hedges, vedges, comm, row_breaks, col_breaks, targets, curved, diagonals, lanes,
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
    return _choose_rows(_ZONE_KIND_P[zone.ravel()], rng).reshape(zone.shape)


def _choose_rows(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
    wanted += [("school", f"{COUNTY_NAME}第{_zh_number(k + 1)}中学", (1, 0)) for k in range(max(1, n_comm // 4))]
    hospitals = ["人民医院", "中医院"] + [f"第{_zh_number(k + 2)}人民医院" for k in range(n_comm)]
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


def _lane_lines(town_hedges: np.ndarray, town_vedges: np.ndarray, lanes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    coords, _ = _lane_lines(hedges, vedges, np.where(lanes == 3, 0, lanes))
    pieces.append(shapely.linestrings(coords) if len(coords) else np.array([], dtype=object))
    faces = shapely.get_parts(shapely.polygonize(np.concatenate(pieces)))
    points = shapely.point_on_surface(faces)
    hit_face, hit_block = shapely.STRtree(quads).query(points, predicate="within")
    if len(hit_face) != len(faces) or len(np.unique(hit_face)) != len(faces):
        raise RuntimeError("synthetic street faces do not map one-to-one onto blocks")
    face_block = np.empty(len(faces), dtype=np.int64)
    face_block[hit_face] = hit_block
    return faces, face_block


# --------------------------------------------------------------------------- names


def _zh_number(n: int) -> str:
    """Chinese numeral for 0-999.

    >>> [_zh_number(n) for n in (3, 10, 12, 40, 101, 115)]
    ['三', '十', '十二', '四十', '一百零一', '一百一十五']
    """
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _ZH_DIGITS[tens]) + "十" + (_ZH_DIGITS[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = _ZH_DIGITS[hundreds] + "百"
        if rest == 0:
            return head
        if rest < 10:
            return head + "零" + _ZH_DIGITS[rest]
        return head + _ZH_DIGITS[rest // 10] + "十" + (_ZH_DIGITS[rest % 10] if rest % 10 else "")
    return str(n)


def _line_names(roots: list[str], count: int, prefix: str) -> list[str]:
    """Roots first, then numbered names (经一路, 纬二路 ...)."""
    names = list(roots[:count])
    names += [f"{prefix}{_zh_number(k + 1)}" for k in range(count - len(names))]
    return names


def _street_names(town: _Town, rng: np.random.Generator) -> _StreetNames:
    """Name and class of every east-west line and north-south line piece."""
    nx, ny = town.nx, town.ny
    ew_roots = list(rng.permutation(_EW_ROOTS))
    ns_roots = list(rng.permutation(_NS_ROOTS))
    ew = _line_names(ew_roots, ny + 1, "纬")
    ns = _line_names(ns_roots, nx + 1, "经")
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
    ew_names = [_suffix(n, c) for n, c in zip(ew, ew_class)]
    if market is not None:
        ew_names[market] = "菜市街"
    if night is not None:
        ew_names[night] = "美食街"
    return _StreetNames(ew_names, ew_class, ns, ns_class, market, night)


def _line_classes(n_blocks: int, breaks: set[int], rng: np.random.Generator) -> np.ndarray:
    """Class of each lattice line: outline and community breaks secondary, centre primary."""
    classes = np.where(rng.random(n_blocks + 1) < 0.5, "tertiary", "residential").astype(object)
    for k in breaks | {0, n_blocks}:
        classes[k] = "secondary"
    centre = n_blocks // 2
    classes[np.arange(n_blocks + 1) % 12 == centre % 12] = "primary"
    classes[[0, n_blocks]] = "secondary"
    return classes


def _suffix(root: str, highway: str) -> str:
    return root + ("街" if highway == "residential" else "路")


def _market_lines(ew_class: np.ndarray, ny: int) -> tuple[int | None, int | None]:
    """Two non-arterial east-west lines near the centre for the market and the night market."""
    minor = [j for j in range(1, ny) if ew_class[j] in ("tertiary", "residential")]
    minor.sort(key=lambda j: (abs(j - ny / 2), j))
    market = minor[0] if minor else None
    night = minor[1] if len(minor) > 1 else None
    return market, night


# --------------------------------------------------------------------------- streets


def _town_streets(town: _Town) -> pd.DataFrame:
    """One row per east-west line, per north-south line piece, diagonal and lane."""
    names = town.names
    rows: list[dict[str, object]] = []
    for j in range(town.ny + 1):
        coords = np.concatenate([town.hedges[:, j, :4].reshape(-1, 2), town.hedges[-1:, j, 4]])
        rows.append({"name": names.ew[j], "highway": names.ew_class[j], "geometry": coords})
    for i in range(town.nx + 1):
        for r in range(len(town.row_breaks) - 1):
            lo, hi = town.row_breaks[r], town.row_breaks[r + 1]
            coords = np.concatenate([town.vedges[i, lo:hi, :4].reshape(-1, 2), town.vedges[i, hi - 1:hi, 4]])
            highway = names.ns_class[i, r]
            main = "residential" if (names.ns_class[i] == "residential").all() else "tertiary"
            rows.append({"name": _suffix(names.ns[i], main), "highway": highway, "geometry": coords})
    for d, (i0, j0, k) in enumerate(town.diagonals):
        steps = np.arange(k + 1)
        name = _DIAGONAL_NAMES[d] if d < len(_DIAGONAL_NAMES) else f"斜{_zh_number(d + 1)}街"
        rows.append({"name": name, "highway": "tertiary", "geometry": town.nodes[i0 + steps, j0 + steps]})
    rows += _lane_rows(town)
    frame = pd.DataFrame(rows)
    frame["geometry"] = [shapely.linestrings(c) for c in frame["geometry"]]
    return frame


def _lane_rows(town: _Town) -> list[dict[str, object]]:
    coords, blocks = _lane_lines(town.hedges, town.vedges, np.maximum(town.lanes, 0))
    counters: dict[str, int] = {}
    rows = []
    for line, block in zip(coords, blocks):
        parent = town.names.ew[block % town.ny]
        counters[parent] = counters.get(parent, 0) + 1
        dead_end = town.lanes.flat[block] == 3
        rows.append({"name": f"{parent}{_zh_number(counters[parent])}巷",
                     "highway": "service" if dead_end else "residential", "geometry": line})
    return rows


def _streets_frame(town: _Town, vill: _Villages) -> gpd.GeoDataFrame:
    frame = pd.concat([_town_streets(town).assign(town=True), vill.roads.assign(town=False)], ignore_index=True)
    frame["geometry"] = _node_crossings(frame["geometry"].to_numpy(), frame["town"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=WORK_CRS)


def _node_crossings(lines: np.ndarray, town: np.ndarray) -> np.ndarray:
    """Give both lines a shared vertex wherever a village road crosses another street between vertices.

    Town streets already meet only at shared vertices; village tracks may cross.
    """
    lines = lines.copy()
    a, b = shapely.STRtree(lines).query(lines, predicate="intersects")
    pick = (a < b) & ~(town[a] & town[b])
    extra: dict[int, list[np.ndarray]] = {}
    for i, j in zip(a[pick], b[pick]):
        for point in shapely.get_coordinates(shapely.intersection(lines[i], lines[j])):
            extra.setdefault(int(i), []).append(point)
            extra.setdefault(int(j), []).append(point)
    for k, points in extra.items():
        lines[k] = _with_vertices(lines[k], np.array(points))
    return lines


def _with_vertices(line: shapely.Geometry, points: np.ndarray) -> shapely.Geometry:
    """``line`` with ``points`` (lying on it) inserted as vertices in order along it.

    >>> _with_vertices(shapely.LineString([(0, 0), (10, 0)]), np.array([[4.0, 0.0], [10.0, 0.0]])).wkt
    'LINESTRING (0 0, 4 0, 10 0)'
    """
    coords = shapely.get_coordinates(line)
    new = points[~(np.abs(points[:, None] - coords[None]).sum(axis=2) < 1e-9).any(axis=1)]
    if len(new) == 0:
        return line
    at = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
    where = shapely.line_locate_point(line, shapely.points(new))
    merged = np.concatenate([coords, new])
    order = np.argsort(np.concatenate([at, where]), kind="stable")
    return shapely.linestrings(merged[order])


def _street_segments(streets: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Two-point segments of every street and the clearance a building needs from each."""
    coords, idx = shapely.get_coordinates(streets.geometry.to_numpy(), return_index=True)
    same = idx[:-1] == idx[1:]
    segs = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    half = streets["highway"].map(HALF_WIDTH).to_numpy(dtype=float)
    return segs, half[idx[:-1][same]] + _MARGIN


def _clear_of_streets(polys: np.ndarray, streets: gpd.GeoDataFrame) -> np.ndarray:
    """True for each polygon at least its street's half width plus the margin from every street."""
    segs, clearance = _street_segments(streets)
    tree = shapely.STRtree(segs)
    pi, si = tree.query(polys, predicate="dwithin", distance=float(clearance.max()))
    close = shapely.distance(polys[pi], segs[si]) < clearance[si]
    ok = np.ones(len(polys), dtype=bool)
    ok[pi[close]] = False
    return ok


# --------------------------------------------------------------------------- town buildings


@dataclass
class _Cells:
    """Candidate building cells inside faces, in each face's rotated frame."""

    face: np.ndarray
    u: np.ndarray
    v: np.ndarray
    width: np.ndarray
    depth: np.ndarray


def _face_frames(town: _Town) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inner polygon (setback from every edge), centre and orientation of each face."""
    inner = shapely.buffer(town.faces, -_INNER, join_style="mitre")
    centre = shapely.get_coordinates(shapely.centroid(town.faces))
    i, j = np.divmod(town.face_block, town.ny)
    edge = town.nodes[i + 1, j] - town.nodes[i, j]
    angle = np.arctan2(edge[:, 1], edge[:, 0])
    return inner, centre, angle


def _rotated_bounds(geoms: np.ndarray, centre: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(n, 4) bounds of each geometry in its own frame rotated by ``-angle`` about ``centre``."""
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    uv = _rotate(coords - centre[idx], -angle[idx])
    bounds = np.full((len(geoms), 4), np.nan)
    if len(idx):
        frame = pd.DataFrame({"g": idx, "u": uv[:, 0], "v": uv[:, 1]}).groupby("g")
        lo, hi = frame.min(), frame.max()
        bounds[lo.index, 0], bounds[lo.index, 1] = lo["u"], lo["v"]
        bounds[hi.index, 2], bounds[hi.index, 3] = hi["u"], hi["v"]
    return bounds


def _rotate(xy: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out: np.ndarray = np.stack([xy[..., 0] * c - xy[..., 1] * s, xy[..., 0] * s + xy[..., 1] * c], axis=-1)
    return out


def _cells(bounds: np.ndarray, cell: np.ndarray) -> _Cells:
    """A centred lattice of cells over each face's rotated bounds (array operations only)."""
    span = np.nan_to_num(bounds[:, 2:] - bounds[:, :2], nan=0.0)
    count = np.floor(span / cell).astype(np.int64).clip(0)
    n = count[:, 0] * count[:, 1]
    face = np.repeat(np.arange(len(bounds)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    a, b = k % np.maximum(count[face, 0], 1), k // np.maximum(count[face, 0], 1)
    origin = bounds[face, :2] + (span[face] - count[face] * cell[face]) / 2
    u = origin[:, 0] + (a + 0.5) * cell[face, 0]
    v = origin[:, 1] + (b + 0.5) * cell[face, 1]
    return _Cells(face, u, v, cell[face, 0], cell[face, 1])


def _footprints(
    cells: _Cells, btype: np.ndarray, centre: np.ndarray, angle: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rectangular footprints of the given types jittered inside their cells (world coordinates), and lengths."""
    n = len(btype)
    length = np.minimum(rng.uniform(_BT_LEN[btype, 0], _BT_LEN[btype, 1]), cells.width - 6)
    depth = np.minimum(rng.uniform(_BT_DEP[btype, 0], _BT_DEP[btype, 1]), cells.depth - 6)
    du = rng.uniform(-1, 1, n) * (cells.width - 6 - length) / 2
    dv = rng.uniform(-1, 1, n) * (cells.depth - 6 - depth) / 2
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    size = np.stack([length, depth], axis=1)
    local = corners[None] * size[:, None] + np.stack([cells.u + du, cells.v + dv], axis=1)[:, None]
    world = _rotate(local, angle[cells.face][:, None]) + centre[cells.face][:, None]
    return shapely.polygons(world), length


def _households(btype: np.ndarray, length: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Levels and households per building from its type (and length for walk-ups)."""
    n = len(btype)
    levels = rng.integers(_BT_LEVELS[btype, 0], _BT_LEVELS[btype, 1] + 1)
    walkup_levels = rng.choice([5, 6, 7], size=n, p=[0.15, 0.75, 0.10])
    levels = np.where(btype == _WALKUP, walkup_levels, levels)
    stairwells = np.clip(np.round(length / 10), 1, 5)
    hh = np.zeros(n, dtype=np.int64)
    hh = np.where(btype == _WALKUP, np.clip(levels * 2 * stairwells, 12, 60), hh)
    hh = np.where(btype == _TOWER, np.clip(levels * rng.integers(4, 7, n), 90, 200), hh)
    hh = np.where(btype == _LOWRISE, np.clip(levels * rng.integers(1, 4, n), 1, 8), hh)
    return levels.astype(np.int64), hh.astype(np.int64)


def _town_buildings(
    town: _Town, streets: gpd.GeoDataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Buildings in the town's faces, chosen so each community meets its household target."""
    compounds = _compound_polygons(town)
    kind = town.kind
    for _ in range(4):
        frame = _candidate_buildings(town, kind, streets, compounds, rng)
        capacity = frame.groupby("community")["households"].sum().reindex(range(len(town.targets)), fill_value=0)
        short = np.flatnonzero(capacity.to_numpy() < 1.1 * town.targets)
        if len(short) == 0:
            break
        kind = _densify(town, kind, short, rng)
    else:
        log.warning("communities %s hold fewer households than their targets", short.tolist())
    block = frame["block"].to_numpy()
    chosen = _select_to_target(frame, town.targets, rng.random(town.nx * town.ny)[block], rng)
    frame = _non_residential(frame, chosen, rng)
    frame["name"] = _town_building_names(frame, compounds, rng)
    return frame.drop(columns=["block"]), compounds.drop(columns=["block"])


def _candidate_buildings(
    town: _Town, kind: np.ndarray, streets: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Every footprint that fits a cell of its block, clear of streets and compound edges."""
    inner, centre, angle = _face_frames(town)
    shapely.prepare(inner)
    face_kind = kind.ravel()[town.face_block]
    cells = _cells(_rotated_bounds(inner, centre, angle), _KIND_CELL[face_kind])
    btype = _choose_rows(_KIND_MIX[face_kind[cells.face]], rng)
    polys, length = _footprints(cells, btype, centre, angle, rng)
    keep = (shapely.contains_properly(inner[cells.face], polys) & _clear_of_streets(polys, streets)
            & _inside_compounds(town, compounds, cells.face, polys))
    levels, hh = _households(btype, length, rng)
    block = town.face_block[cells.face[keep]]
    return pd.DataFrame({"community": town.comm.ravel()[block], "btype": btype[keep], "levels": levels[keep],
                         "households": hh[keep], "geometry": polys[keep], "block": block})


def _densify(town: _Town, kind: np.ndarray, short: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turn half the walk-up, low-rise and commercial blocks of short communities into towers."""
    grow = np.isin(town.comm, short) & np.isin(kind, [_K_WALKUP, _K_LOWRISE, _K_COMMERCIAL])
    return np.where(grow & (rng.random(kind.shape) < 0.5), _K_TOWER, kind)


def _compound_polygons(town: _Town) -> gpd.GeoDataFrame:
    """Dedicated compounds: a school's or hospital's whole block; a government compound inside its block."""
    rows = []
    for block, ckind, name in town.compounds:
        geom = shapely.coverage_union_all(town.faces[town.face_block == block])
        if ckind == "government":
            geom = shapely.buffer(geom, -HALF_WIDTH["primary"], join_style="mitre")
        rows.append({"name": name, "kind": ckind, "community": int(town.comm.flat[block]),
                     "block": block, "geometry": geom})
    frame = gpd.GeoDataFrame(rows, columns=["name", "kind", "community", "block", "geometry"],
                             geometry="geometry", crs=WORK_CRS)
    return frame[~frame.geometry.is_empty].reset_index(drop=True)


def _inside_compounds(
    town: _Town, compounds: gpd.GeoDataFrame, cell_face: np.ndarray, polys: np.ndarray
) -> np.ndarray:
    """False for a building in a compound's block that is not wholly inside the compound."""
    ok = np.ones(len(polys), dtype=bool)
    block_of_cell = town.face_block[cell_face]
    for block, geom in zip(compounds["block"], compounds.geometry):
        mine = np.flatnonzero(block_of_cell == block)
        ok[mine] = shapely.contains_properly(geom, polys[mine])
    return ok


def _select_to_target(
    frame: pd.DataFrame, targets: np.ndarray, block_u: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Keep buildings in a random order (whole blocks first) until each community meets its target."""
    key = 0.5 * block_u + 0.5 * rng.random(len(frame))
    key = np.where(frame["btype"].to_numpy() >= _SCHOOL, -1.0, key)
    order = np.lexsort((key, frame["community"].to_numpy()))
    comm = frame["community"].to_numpy()[order]
    hh = frame["households"].to_numpy()[order]
    middle = pd.Series(hh).groupby(comm).cumsum().to_numpy() - hh / 2
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[order] = middle < targets[comm]
    return chosen


def _non_residential(frame: pd.DataFrame, chosen: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Keep the chosen buildings and a third of the others as shops and offices (no households)."""
    spare = ~chosen & (frame["households"].to_numpy() > 0) & (rng.random(len(frame)) < 0.3)
    btype = frame["btype"].to_numpy()
    new = np.where(btype == _TOWER, _OFFICE, np.where(rng.random(len(frame)) < 0.5, _SHOP, _OFFICE))
    new = np.where(btype == _LOWRISE, _SHOP, new)
    levels = rng.integers(_BT_LEVELS[new, 0], _BT_LEVELS[new, 1] + 1)
    levels = np.where(btype == _TOWER, frame["levels"].to_numpy(), levels)
    out = frame.assign(btype=np.where(spare, new, btype), levels=np.where(spare, levels, frame["levels"]),
                       households=np.where(spare, 0, frame["households"]))
    return out[chosen | spare].reset_index(drop=True)


def _town_building_names(frame: pd.DataFrame, compounds: gpd.GeoDataFrame, rng: np.random.Generator) -> np.ndarray:
    """Estate names for towers and some walk-ups (阳光花园3栋), compound names for compounds."""
    block = frame["block"].to_numpy()
    btype = frame["btype"].to_numpy()
    blocks = np.unique(block)
    estate = pd.Series(_estate_names(len(blocks), rng), index=blocks)
    named = pd.Series(rng.random(len(blocks)) < 0.6, index=blocks)
    compound_name = pd.Series(compounds["name"].to_numpy(), index=compounds["block"].to_numpy())
    residential = np.isin(btype, [_WALKUP, _TOWER])
    serial = pd.Series(residential).groupby(block).cumsum().to_numpy().astype(int)
    names = np.full(len(frame), None, dtype=object)
    use_estate = residential & (named.reindex(block).to_numpy() | (btype == _TOWER))
    names[use_estate] = [f"{e}{s}栋" for e, s in zip(estate.reindex(block[use_estate]), serial[use_estate])]
    special = btype >= _SCHOOL
    serial_all = pd.Series(special).groupby(block).cumsum().to_numpy().astype(int)
    labels = {_SCHOOL: "教学楼", _HOSPITAL: "号楼", _GOVERNMENT: "号楼"}
    names[special] = [f"{compound_name.get(b, COUNTY_NAME)}{s}{labels[t]}" if t != _SCHOOL
                      else f"{compound_name.get(b, COUNTY_NAME)}{_zh_number(s)}号{labels[t]}"
                      for b, s, t in zip(block[special], serial_all[special], btype[special])]
    return names


def _estate_names(n: int, rng: np.random.Generator) -> list[str]:
    roots = rng.permutation(_ESTATE_ROOTS)
    combos = [r + s for s in _ESTATE_SUFFIX for r in roots]
    return [combos[k % len(combos)] + (f"{_zh_number(k // len(combos) + 1)}期" if k >= len(combos) else "")
            for k in range(n)]


# --------------------------------------------------------------------------- villages


@dataclass
class _Villages:
    """Rural villages: polygons, hamlet centres, roads and household targets (metric CRS)."""

    polygons: list[shapely.Geometry]
    names: list[str]
    targets: np.ndarray
    hamlets: list[np.ndarray]  # (k, 2) hamlet centres per village
    hamlet_names: list[list[str]]
    roads: pd.DataFrame  # name, highway, geometry


def _build_villages(town: _Town, n: int, rng: np.random.Generator) -> _Villages:
    empty_roads = pd.DataFrame({"name": [], "highway": [], "geometry": []})
    if n == 0:
        return _Villages([], [], np.zeros(0), [], [], empty_roads)
    outline = shapely.coverage_union_all(town.quads)
    centre = shapely.get_coordinates(shapely.centroid(outline))[0]
    polygons, sectors, radius = _village_polygons(outline, centre, n, rng)
    targets = rng.integers(150, 560, n).astype(float)
    if n >= 2:
        targets[1] = 60
    names = [f"{r}村" for r in rng.permutation(_VILLAGE_ROOTS)[:n]]
    hamlets, hamlet_names = _hamlets(polygons, centre, sectors, radius, rng)
    if n >= 2:
        polygons[0], extra = _detached_part(polygons, centre, sectors, radius, rng)
        hamlets[0] = np.vstack([hamlets[0], extra])
        hamlet_names[0].append(_HAMLETS[-1])
    roads = _village_roads(town, names, hamlets, hamlet_names, n >= 2, rng)
    return _Villages(polygons, names, targets, hamlets, hamlet_names, roads)


def _ray_distance(centre: np.ndarray, outline: shapely.Geometry, angles: np.ndarray) -> np.ndarray:
    """Distance from the centre to the far side of the outline along each angle."""
    far = centre + 1e6 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    rays = shapely.linestrings(np.stack([np.broadcast_to(centre, far.shape), far], axis=1))
    hits = shapely.intersection(rays, shapely.get_exterior_ring(outline))
    coords, idx = shapely.get_coordinates(hits, return_index=True)
    dist = np.zeros(len(angles))
    np.maximum.at(dist, idx, np.hypot(*(coords - centre).T))
    return dist


def _village_polygons(
    outline: shapely.Geometry, centre: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[list[shapely.Geometry], np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Sectors of a ring around the town; neighbours share their boundary ray exactly."""
    gap = 150.0
    start = rng.uniform(0, 2 * np.pi)
    weights = rng.uniform(0.7, 1.3, n)
    bounds = start + 2 * np.pi * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    base = float(_ray_distance(centre, outline, np.linspace(0, 2 * np.pi, 73)).max()) + 2500
    terms = [(m, rng.uniform(-0.05, 0.05), rng.uniform(0, 2 * np.pi)) for m in (2, 3, 4)]

    def radius(theta: np.ndarray) -> np.ndarray:
        wave = np.zeros_like(theta, dtype=float)
        for m, a, p in terms:
            wave += a * np.sin(m * theta + p)
        return base * (1 + wave)

    def inner(theta: np.ndarray) -> np.ndarray:
        return _ray_distance(centre, outline, theta) + gap

    def polar(r: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return centre + r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)

    ray_in = polar(inner(bounds[:n]), bounds[:n])
    ray_out = polar(radius(bounds[:n]), bounds[:n])
    if n == 1:
        theta = bounds[0] + np.linspace(0, 2 * np.pi, 240, endpoint=False)
        ring_out, ring_in = polar(radius(theta), theta), polar(inner(theta), theta)
        return [shapely.Polygon(ring_out, holes=[ring_in[::-1]])], bounds, radius
    polygons = []
    for k in range(n):
        theta = np.linspace(bounds[k], bounds[k + 1], 60)[1:-1]
        k2 = (k + 1) % n
        ring = np.concatenate([ray_in[k:k + 1], ray_out[k:k + 1], polar(radius(theta), theta),
                               ray_out[k2:k2 + 1], ray_in[k2:k2 + 1], polar(inner(theta), theta)[::-1],
                               ray_in[k:k + 1]])
        polygons.append(shapely.Polygon(ring))
    return polygons, bounds, radius


def _hamlets(
    polygons: list[shapely.Geometry], centre: np.ndarray, sectors: np.ndarray, radius: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], list[list[str]]]:
    """Two to four hamlet centres per village, well inside it and apart from each other."""
    out, names = [], []
    for k, poly in enumerate(polygons):
        core = shapely.buffer(poly, -300)
        lo, hi = sectors[k], sectors[k + 1]
        points: list[np.ndarray] = []
        for _ in range(400):
            if len(points) >= int(rng.integers(2, 5)) and len(points) >= 2:
                break
            theta = rng.uniform(lo + 0.15 * (hi - lo), hi - 0.15 * (hi - lo))
            r = rng.uniform(0.3, 0.85) * float(radius(np.array([theta]))[0])
            p = centre + r * np.array([np.cos(theta), np.sin(theta)])
            if shapely.contains_xy(core, *p) and all(np.hypot(*(p - q)) > 700 for q in points):
                points.append(p)
        out.append(np.array(points).reshape(-1, 2))
        names.append(list(rng.permutation(_HAMLETS[:-1])[: len(points)]))
    return out, names


def _detached_part(
    polygons: list[shapely.Geometry], centre: np.ndarray, sectors: np.ndarray, radius: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> tuple[shapely.Geometry, np.ndarray]:
    """A small detached part (飞地) of the first village, beyond the second village's outer edge."""
    theta = (sectors[1] + sectors[2]) / 2
    r = float(radius(np.array([theta]))[0]) + 500
    rect = np.array([[-210, -150], [210, -150], [210, 150], [-210, 150], [-210, -150]], float)
    others = shapely.union_all(polygons)
    while True:
        mid = centre + r * np.array([np.cos(theta), np.sin(theta)])
        part = shapely.Polygon(_rotate(rect, theta + np.pi / 2) + mid)
        if not shapely.intersects(part.buffer(100), others):
            break
        r += 100
    return shapely.MultiPolygon([polygons[0], part]), mid[None]


def _village_roads(
    town: _Town, names: list[str], hamlets: list[np.ndarray], hamlet_names: list[list[str]],
    detached: bool, rng: np.random.Generator,
) -> pd.DataFrame:
    """A road from the town's edge to each village, tracks between hamlets, a street in each.

    With ``detached``, the last hamlet of the first village lies in its detached part and
    its track comes from the nearest hamlet of any village.
    """
    edge_nodes = _outline_nodes(town.nodes)
    rows: list[dict[str, object]] = []
    for k, (name, points, hnames) in enumerate(zip(names, hamlets, hamlet_names)):
        start = edge_nodes[np.argmin(np.hypot(*(edge_nodes - points[0]).T))]
        rows.append({"name": f"{name[:-1]}路", "highway": "tertiary", "geometry": _wiggle(start, points[0], rng)})
        chain = points[:-1] if detached and k == 0 else points
        for a, b, hname in zip(chain[:-1], chain[1:], hnames[1:]):
            rows.append({"name": f"{hname}路", "highway": "track", "geometry": _wiggle(a, b, rng)})
        if detached and k == 0:
            others = np.concatenate([points[:-1], *hamlets[1:]])
            near = others[np.argmin(np.hypot(*(others - points[-1]).T))]
            rows.append({"name": f"{hnames[-1]}路", "highway": "track", "geometry": _wiggle(near, points[-1], rng)})
        for p, hname in zip(points, hnames):
            turn = rng.uniform(0, np.pi)
            half = 150 * np.array([np.cos(turn), np.sin(turn)])
            rows.append({"name": f"{hname}街", "highway": "residential",
                         "geometry": shapely.linestrings([p - half, p, p + half])})
    return pd.DataFrame(rows, columns=["name", "highway", "geometry"])


def _outline_nodes(nodes: np.ndarray) -> np.ndarray:
    return np.concatenate([nodes[:, 0], nodes[:, -1], nodes[0, 1:-1], nodes[-1, 1:-1]])


def _wiggle(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> shapely.Geometry:
    """A gently winding road from ``a`` to ``b`` (ends exactly at both)."""
    t = np.linspace(0, 1, 9)
    normal = np.array([a[1] - b[1], b[0] - a[0]]) / max(np.hypot(*(b - a)), 1.0)
    bend = rng.uniform(-0.08, 0.08) * np.hypot(*(b - a)) * np.sin(np.pi * t)
    coords = a + t[:, None] * (b - a) + bend[:, None] * normal
    coords[0], coords[-1] = a, b
    return shapely.linestrings(coords)


def _village_buildings(vill: _Villages, streets: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Low-rise houses clustered round the hamlets, a committee office and a school."""
    frames = [_village_houses(k, vill, streets, rng) for k in range(len(vill.polygons))]
    columns = ["community", "btype", "levels", "households", "geometry", "name"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _village_houses(k: int, vill: _Villages, streets: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cell, reach = 24.0, 220.0
    offsets = np.arange(-reach, reach + cell, cell)
    grid = np.stack(np.meshgrid(offsets, offsets), axis=-1).reshape(-1, 2)
    grid = grid[np.hypot(*grid.T) <= reach]
    centres, hamlet = [], []
    for h, point in enumerate(vill.hamlets[k]):
        centres.append(point + _rotate(grid, rng.uniform(0, np.pi / 2)))
        hamlet.append(np.full(len(grid), h))
    xy, ham = np.concatenate(centres), np.concatenate(hamlet)
    n = len(xy)
    size = np.stack([rng.uniform(9, 14, n), rng.uniform(8, 12, n)], axis=1)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    local = _rotate(corners[None] * size[:, None], rng.uniform(-0.2, 0.2, n)[:, None])
    polys = shapely.polygons(local + (xy + rng.uniform(-2, 2, (n, 2)))[:, None])
    inside = shapely.buffer(vill.polygons[k], -3.0)
    keep = shapely.contains_properly(inside, polys) & _clear_of_streets(polys, streets) & _no_overlap(polys)
    dist = np.hypot(*(xy - vill.hamlets[k][ham]).T)
    levels = rng.choice([1, 2, 3], size=n, p=[0.35, 0.5, 0.15])
    hh = np.clip(rng.choice([1, 1, 1, 1, 2, 2, 3], size=n), 1, 8)
    frame = pd.DataFrame({"community": -1 - k, "btype": _LOWRISE, "levels": levels, "households": hh,
                          "geometry": polys, "name": None, "key": dist / 90 + rng.exponential(0.5, n)})[keep]
    frame = frame.sort_values("key", kind="stable")
    frame = frame[(frame["households"].cumsum() - frame["households"] / 2) < vill.targets[k]]
    return _village_specials(frame.drop(columns=["key"]), vill.names[k]).reset_index(drop=True)


def _no_overlap(polys: np.ndarray) -> np.ndarray:
    """False for the later of any two overlapping polygons."""
    a, b = shapely.STRtree(polys).query(polys, predicate="intersects")
    ok = np.ones(len(polys), dtype=bool)
    ok[b[a < b]] = False
    return ok


def _village_specials(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The first two houses (nearest a hamlet centre) become the committee office and school."""
    frame = frame.copy()
    labels = [(_OFFICE, f"{name}村民委员会", 2), (_SCHOOL, f"{name}小学", 3)]
    for row, (btype, label, levels) in zip(frame.index[:2], labels):
        frame.at[row, "btype"] = btype
        frame.at[row, "households"] = 0
        frame.at[row, "levels"] = levels
        frame.at[row, "name"] = label
    return frame


# --------------------------------------------------------------------------- layers


def _communities_frame(town: _Town, vill: _Villages) -> gpd.GeoDataFrame:
    """Urban communities (numbered north to south, west to east) then villages, all MultiPolygons."""
    n = len(town.targets)
    blocks = town.comm.ravel()
    geoms = np.array([shapely.coverage_union_all(town.quads[blocks == c]) for c in range(n)], dtype=object)
    xy = shapely.get_coordinates(shapely.centroid(geoms))
    order = np.lexsort((xy[:, 0], -np.round(xy[:, 1], -2)))
    urban = pd.DataFrame({
        "index": order,
        "code": [f"{COUNTY_CODE}{k // 12 + 1:03d}{k % 12 + 1:03d}" for k in range(n)],
        "name": [_community_name(k) for k in range(n)],
        "kind": "city", "class_code": "111", "geometry": geoms[order],
    })
    n_v = len(vill.polygons)
    first_half = (n_v + 1) // 2
    rural = pd.DataFrame({
        "index": -1 - np.arange(n_v),
        "code": [f"{COUNTY_CODE}{101 if k < first_half else 201:03d}"
                 f"{201 + (k if k < first_half else k - first_half):03d}" for k in range(n_v)],
        "name": vill.names, "kind": "rural", "class_code": "220", "geometry": vill.polygons,
    })
    frame = pd.concat([urban, rural], ignore_index=True)
    frame["geometry"] = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in frame["geometry"]]
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=WORK_CRS)


def _dedicated_frame(compounds: gpd.GeoDataFrame, comms: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    code = pd.Series(comms["code"].to_numpy(), index=comms["index"].to_numpy())
    frame = compounds.assign(community_code=code.reindex(compounds["community"].to_numpy()).to_numpy())
    return frame[["name", "kind", "community_code", "geometry"]]


def _community_name(k: int) -> str:
    root = _COMMUNITY_ROOTS[k % len(_COMMUNITY_ROOTS)]
    cycle = k // len(_COMMUNITY_ROOTS)
    return f"{root}{_zh_number(cycle + 1) if cycle else ''}社区"


def _finish_buildings(buildings: pd.DataFrame, comms: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ids in reading order per community, the ``use`` field and the community position."""
    position = pd.Series(np.arange(len(comms)), index=comms["index"].to_numpy())
    frame = buildings.assign(community=position.reindex(buildings["community"].to_numpy()).to_numpy())
    xy = shapely.get_coordinates(shapely.centroid(frame["geometry"].to_numpy()))
    frame = frame.iloc[np.lexsort((xy[:, 0], -np.round(xy[:, 1], -1), frame["community"].to_numpy()))]
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame({
        "building_id": [f"B{k:07d}" for k in range(1, len(frame) + 1)],
        "households": frame["households"].to_numpy(dtype=np.int64),
        "levels": frame["levels"].to_numpy(dtype=np.int64),
        "use": _BT_USE[frame["btype"].to_numpy(dtype=np.int64)],
        "name": frame["name"].to_numpy(dtype=object),
        "community": frame["community"].to_numpy(dtype=np.int64),
    })
    return gpd.GeoDataFrame(out, geometry=frame["geometry"].to_numpy(), crs=WORK_CRS)


def _to_output(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry="geometry", crs=WORK_CRS).to_crs(OUTPUT_CRS)


def _lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    to_out = Transformer.from_crs(WORK_CRS, OUTPUT_CRS, always_xy=True)
    lon, lat = to_out.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lon), np.asarray(lat)


# --------------------------------------------------------------------------- components


def _interpolate(lines: np.ndarray, which: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points ``dist`` metres along ``lines[which]`` and the unit direction there (numpy only).

    >>> line = shapely.linestrings([[0, 0], [10, 0], [10, 10]])
    >>> xy, direction = _interpolate(np.array([line]), np.array([0, 0]), np.array([5.0, 15.0]))
    >>> xy.tolist(), direction.tolist()
    ([[5.0, 0.0], [10.0, 5.0]], [[1.0, 0.0], [0.0, 1.0]])
    """
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    step = np.hypot(*np.diff(coords, axis=0).T)
    step[idx[1:] != idx[:-1]] = 0.0  # no length between the end of one line and the next
    cum = np.concatenate([[0.0], np.cumsum(step)])
    first = np.searchsorted(idx, np.arange(len(lines)))
    last = np.searchsorted(idx, np.arange(len(lines)), side="right") - 1
    at = cum[first[which]] + np.clip(dist, 0, cum[last[which]] - cum[first[which]])
    seg = np.searchsorted(cum, at, side="right") - 1
    seg = np.clip(seg, first[which], last[which] - 1)
    delta = coords[seg + 1] - coords[seg]
    length = np.maximum(np.hypot(*delta.T), 1e-12)
    xy = coords[seg] + delta * ((at - cum[seg]) / length)[:, None]
    return xy, delta / length[:, None]


def _points_along(
    lines: np.ndarray, spacing: float, offset: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Points every ``spacing`` metres along each line, alternately left and right at ``offset``."""
    length = shapely.length(lines)
    phase = rng.uniform(0, spacing, len(lines))
    n = np.where(length > phase, np.floor((length - phase) / spacing) + 1, 0).astype(np.int64)
    line = np.repeat(np.arange(len(lines)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    at, tangent = _interpolate(lines, line, phase[line] + k * spacing)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    side = np.where(k % 2 == 0, 1.0, -1.0)
    return at + normal * (side * offset[line])[:, None] + rng.normal(0, 0.3, at.shape)


def _components(streets: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """City components (部件) along the streets, ids in the 16-digit old scheme."""
    lines = streets.geometry.to_numpy()
    half = streets["highway"].map(HALF_WIDTH).to_numpy(dtype=float)
    frames = []
    for code, name, classes, spacing, share, town_only in _COMPONENT_RULES:
        mask = streets["highway"].isin(classes).to_numpy() & (streets["town"].to_numpy() == town_only)
        xy = _points_along(lines[mask], spacing, half[mask] * share, rng)
        frames.append(pd.DataFrame({"category": code, "name_zh": name, "x": xy[:, 0], "y": xy[:, 1]}))
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.iloc[np.lexsort((frame["x"], -frame["y"].round(-1), frame["category"]))].reset_index(drop=True)
    serial = frame.groupby("category").cumcount().to_numpy() + 1
    frame.insert(0, "component_id", [f"{COUNTY_CODE}{c}{s:06d}" for c, s in zip(frame["category"], serial)])
    geometry = shapely.points(frame[["x", "y"]].to_numpy())
    return gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=geometry, crs=WORK_CRS)


# --------------------------------------------------------------------------- workers


def _workers(comms: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One grid worker per expected grid: households / 300 in a community, / 200 in a village."""
    hh = buildings.groupby("community")["households"].sum().reindex(np.arange(len(comms)), fill_value=0)
    per = np.where(comms["kind"] == "city", 300, 200)
    count = np.maximum(1, np.round(hh.to_numpy() / per)).astype(np.int64)
    codes = np.repeat(comms["code"].to_numpy(), count)
    n = len(codes)
    names = [s + g for s, g in zip(rng.choice(_SURNAMES, n), rng.choice(_GIVEN, n))]
    k = np.arange(1, n + 1)
    return pd.DataFrame({
        "worker_id": [f"W{i:05d}" for i in k],
        "name": names,
        "phone": [f"1{38 + i // 10000}-0000-{i % 10000:04d}" for i in k],
        "community_code": codes,
    })


# --------------------------------------------------------------------------- incidents


def _incidents(
    town: _Town, vill: _Villages, streets: gpd.GeoDataFrame, households: int, rng: np.random.Generator
) -> pd.DataFrame:
    """A year of incidents (事件) with hotspots, seasonality and a spike in the last seven days."""
    total = min(_MAX_INCIDENTS, round(_INCIDENTS_PER_HOUSEHOLD * households))
    places = _hotspot_places(town)
    parts = []
    for source, (share, cats, hours) in _SOURCES.items():
        n = round(total * share)
        category = _weighted_choice(list(cats), np.array(list(cats.values()), float), n, rng)
        day = _incident_days(category, source, rng)
        parts.append(_incident_rows(category, day, hours, _incident_places(source, n, places, streets, rng), rng))
    spike_n, spike_cats = _SPIKE
    category = _weighted_choice(list(spike_cats), np.array(list(spike_cats.values()), float), spike_n, rng)
    day = rng.integers(_year_days() - 7, _year_days(), spike_n)
    xy = places["spike"] + rng.normal(0, 25, (spike_n, 2))
    parts.append(_incident_rows(category, day, _HOUR_DAY, xy, rng))
    return _incident_table(pd.concat(parts, ignore_index=True), rng)


def _year_days() -> int:
    return int((_NOW - _YEAR_START) // np.timedelta64(1, "D"))


def _weighted_choice(items: list[str], weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(items)[rng.choice(len(items), size=n, p=weights / weights.sum())]


def _seasonal(category: str, months: np.ndarray) -> np.ndarray:
    """Relative incident rate by month: rainy-season damage, dry-season dust, festival trade."""
    factor = np.ones(len(months))
    rainy = (months >= 5) & (months <= 9)
    if category in ("0401", "0402", "0104"):
        factor[rainy] = 2.2
    if category == "0302":
        factor[(months >= 11) | (months <= 3)] = 1.6
    if category in ("0102", "0501"):
        factor[months == 2] = 1.6
    if category in ("0501", "0505", "0506"):
        factor[(months >= 6) & (months <= 8)] *= 1.2
    return factor


def _incident_days(category: np.ndarray, source: str, rng: np.random.Generator) -> np.ndarray:
    """Day of the year of each incident, by its category's seasonal and weekly profile."""
    n_days = _year_days()
    dates = _YEAR_START.astype("datetime64[D]") + np.arange(n_days)
    months = dates.astype("datetime64[M]").astype(int) % 12 + 1
    weekday = (dates.astype(int) + 3) % 7  # 0 Monday
    weekly = np.where(weekday >= 5, 0.85, 1.0)
    if source == "site":
        weekly = weekly * ((np.arange(n_days) >= 60) & (np.arange(n_days) < 300))
    day = np.empty(len(category), dtype=np.int64)
    for code in np.unique(category):
        p = _seasonal(str(code), months) * weekly
        mask = category == code
        day[mask] = rng.choice(n_days, size=int(mask.sum()), p=p / p.sum())
    return day


def _hotspot_places(town: _Town) -> dict[str, Any]:
    """Lines and points the hotspots are drawn around."""
    def stretch(j: int | None) -> shapely.Geometry:
        if j is None:
            j = town.ny // 2
        lo = max(0, town.nx // 2 - 2)
        return shapely.linestrings(town.hedges[lo:lo + 4, j, :4].reshape(-1, 2))

    site = town.quads[town.site] if town.site >= 0 else town.quads[0]
    spike_block = int(np.flatnonzero(town.comm.ravel() == min(1, len(town.targets) - 1))[-1])
    return {
        "market": stretch(town.names.market),
        "night": stretch(town.names.night),
        "site": shapely.get_exterior_ring(site),
        "spike": shapely.get_coordinates(shapely.centroid(town.quads[spike_block]))[0],
    }


def _incident_places(
    source: str, n: int, places: dict[str, Any], streets: gpd.GeoDataFrame, rng: np.random.Generator
) -> np.ndarray:
    """Coordinates of ``n`` incidents from one source: along streets or around a hotspot."""
    if source == "streets":
        lines = streets.geometry.to_numpy()
        half = streets["highway"].map(HALF_WIDTH).to_numpy(dtype=float)
        weight = shapely.length(lines) * np.where(streets["town"], 1.0, 0.3)
        pick = rng.choice(len(streets), size=n, p=weight / weight.sum())
        spread = half[pick] / 2 + 2
    else:
        lines = np.array([places[source]], dtype=object)
        pick = np.zeros(n, dtype=np.int64)
        spread = np.full(n, 10.0 if source == "site" else 6.0)
    at, _ = _interpolate(lines, pick, rng.random(n) * shapely.length(lines)[pick])
    return at + rng.normal(0, 1, (n, 2)) * spread[:, None]


def _incident_rows(
    category: np.ndarray, day: np.ndarray, hours: np.ndarray, xy: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    n = len(category)
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    reported = _YEAR_START + seconds.astype("timedelta64[s]")
    return pd.DataFrame({"category": category, "x": xy[:, 0], "y": xy[:, 1], "reported": reported})


def _incident_table(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Case workflow times, status and level; ids by report time; lon/lat in EPSG:4490."""
    frame = frame.iloc[np.lexsort((frame["x"].to_numpy(), frame["reported"].to_numpy()))].reset_index(drop=True)
    frame = frame[frame["reported"] < _NOW].reset_index(drop=True)
    n = len(frame)
    reported = frame["reported"].to_numpy().astype("datetime64[s]")
    level = rng.choice(4, size=n, p=_LEVEL_P)
    delay = np.where(level == 0, rng.integers(120, 1800, n), rng.integers(600, 7200, n))
    registered = reported + delay.astype("timedelta64[s]")
    due = deadlines_for_categories(frame["category"].to_numpy(), registered)  # the time-limit table
    limit = (due - registered).astype(np.int64).astype(float)  # seconds
    duration = np.exp(rng.normal(np.log(limit * _LEVEL_SPEED[level]), 0.7)).clip(300)
    closed = registered + duration.astype(np.int64).astype("timedelta64[s]")
    status = _status(registered, duration)
    not_registered = status == "reported"
    not_closed = status != "closed"
    day = reported.astype("datetime64[D]")
    serial = pd.Series(day).groupby(day).cumcount().to_numpy() + 1
    stamp = np.char.replace(np.datetime_as_string(day, unit="D").astype(str), "-", "")
    lon, lat = _lonlat(frame[["x", "y"]].to_numpy())
    return pd.DataFrame({
        "incident_id": [f"{COUNTY_CODE}{d}{s:04d}" for d, s in zip(stamp, serial)],
        "category": frame["category"].to_numpy(),
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "reported_at": _iso(reported),
        "registered_at": _iso(registered, blank=not_registered),
        "closed_at": _iso(closed, blank=not_closed),
        "due_at": _iso(due, blank=not_registered),
        "status": status,
        "level": np.asarray(_LEVELS)[level],
    })


def _status(registered: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """Workflow stage at the end of the year, from how far each case has got."""
    elapsed = (_NOW - registered).astype(np.int64)
    share = elapsed / duration
    status = np.select([elapsed < 0, share < 0.1, share < 0.4, share < 0.9, share < 1.0],
                       ["reported", "registered", "dispatched", "handling", "verified"], "closed")
    return status.astype(object)


def _iso(times: np.ndarray, blank: np.ndarray | None = None) -> np.ndarray:
    text = np.datetime_as_string(times.astype("datetime64[s]"), unit="s").astype(object)
    if blank is not None:
        text[blank] = ""
    return text


# --------------------------------------------------------------------------- tracks


def _tracks(town: _Town, workers: pd.DataFrame, comms: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Three working days of 30-second GPS fixes of eight grid workers walking their streets."""
    urban = comms[comms["kind"] == "city"]
    chosen = _track_workers(workers, urban["code"].tolist())
    index_of = dict(zip(urban["code"], urban["index"]))
    frames = []
    for worker_id, code in chosen:
        frames.append(_worker_track(town, int(index_of[code]), worker_id, rng))
    frame = pd.concat(frames, ignore_index=True)
    lon, lat = _lonlat(frame[["x", "y"]].to_numpy())
    return pd.DataFrame({"worker_id": frame["worker_id"], "time": _iso(frame["time"].to_numpy()),
                         "lon": np.round(lon, 7), "lat": np.round(lat, 7)})


def _track_workers(workers: pd.DataFrame, codes: list[str]) -> list[tuple[str, str]]:
    """Eight workers taken in turn from the urban communities."""
    by_code = {c: workers.loc[workers["community_code"] == c, "worker_id"].tolist() for c in codes}
    chosen: list[tuple[str, str]] = []
    rank = 0
    while len(chosen) < 8 and any(len(v) > rank for v in by_code.values()):
        chosen += [(v[rank], c) for c, v in by_code.items() if len(v) > rank][: 8 - len(chosen)]
        rank += 1
    return chosen


def _worker_track(town: _Town, community: int, worker_id: str, rng: np.random.Generator) -> pd.DataFrame:
    ii, jj = np.nonzero(town.comm == community)
    box = (ii.min(), ii.max() + 1, jj.min(), jj.max() + 1)
    frames = []
    for day in _TRACK_DAYS:
        times = np.concatenate([np.datetime64(f"{day}T08:30:00") + np.arange(420) * np.timedelta64(30, "s"),
                                np.datetime64(f"{day}T14:00:00") + np.arange(420) * np.timedelta64(30, "s")])
        step = _walking_steps(len(times), rng)
        path = _random_walk(town, box, float(step.sum()) + 50, rng)
        xy = _along_path(path, np.cumsum(step))
        frames.append(pd.DataFrame({"time": times, "x": xy[:, 0], "y": xy[:, 1]}))
    frame = pd.concat(frames, ignore_index=True)
    frame[["x", "y"]] += rng.normal(0, 3.5, (len(frame), 2))
    jumps = rng.choice(len(frame), size=int(rng.integers(1, 3)), replace=False)
    away = rng.uniform(0, 2 * np.pi, len(jumps))
    frame.loc[jumps, "x"] += rng.uniform(300, 900, len(jumps)) * np.cos(away)
    frame.loc[jumps, "y"] += rng.uniform(300, 900, len(jumps)) * np.sin(away)
    dupes = rng.choice(len(frame), size=int(rng.integers(3, 7)), replace=False)
    frame = pd.concat([frame, frame.loc[dupes]]).sort_values("time", kind="stable").reset_index(drop=True)
    return frame.assign(worker_id=worker_id)


def _walking_steps(n: int, rng: np.random.Generator) -> np.ndarray:
    """Metres walked between fixes: about 1.2 m/s, with stops of a few minutes."""
    stopped = np.zeros(n, dtype=bool)
    u = rng.random(n)
    for k in range(1, n):
        stopped[k] = u[k] < (0.75 if stopped[k - 1] else 0.05)
    speed = rng.normal(1.2, 0.15, n).clip(0.6, 1.8)
    return np.where(stopped, 0.0, speed * 30)


def _random_walk(
    town: _Town, box: tuple[int, int, int, int], length: float, rng: np.random.Generator
) -> np.ndarray:
    """Vertices of a walk along the lattice streets of a community's node box."""
    i0, i1, j0, j1 = box
    i, j = int(rng.integers(i0, i1 + 1)), int(rng.integers(j0, j1 + 1))
    parts, total, prev = [town.nodes[i, j][None]], 0.0, (-1, -1)
    while total < length:
        options = [(a, b) for a, b in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1))
                   if i0 <= a <= i1 and j0 <= b <= j1 and (a, b) != prev]
        a, b = options[int(rng.integers(len(options)))]
        edge = _edge(town, (i, j), (a, b))
        parts.append(edge[1:])
        total += float(np.hypot(*np.diff(edge, axis=0).T).sum())
        prev, i, j = (i, j), a, b
    return np.concatenate(parts)


def _edge(town: _Town, a: tuple[int, int], b: tuple[int, int]) -> np.ndarray:
    (i, j), (k, m) = a, b
    if j == m:
        coords = town.hedges[min(i, k), j]
        return coords if k > i else coords[::-1]
    coords = town.vedges[i, min(j, m)]
    return coords if m > j else coords[::-1]


def _along_path(path: np.ndarray, distance: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    return np.stack([np.interp(distance, cum, path[:, 0]), np.interp(distance, cum, path[:, 1])], axis=1)


# --------------------------------------------------------------------------- writing


def _write_atomic(frame: pd.DataFrame, path: Path, *, layer: str) -> None:
    """Write one layer to a temporary file beside ``path``, then move it into place."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    tmp.unlink(missing_ok=True)
    try:
        if isinstance(frame, gpd.GeoDataFrame):
            _write_gpkg(frame, tmp, layer)
        else:
            frame.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal"), tmp.with_name(tmp.name + "-wal")):
            leftover.unlink(missing_ok=True)


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    import pyogrio

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FILE_DATE})
    try:
        frame.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
