"""Notice boards (网格公示牌): real grids, real files, a real browser with the network blocked."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from browser import Browser
from gridkit_cli.main import main
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from gridkit import _chromium
from gridkit.board import board_html, boards_for_grids, read_contacts, stale_boards, workers_for_grids
from gridkit.board.scene import _scale_bar, svg_path
from gridkit.board.workers import read_workers
from gridkit.datasets import get_path
from gridkit.errors import DependencyError, InputDataError, MissingFieldError, ParameterError
from gridkit.io import read_layer

A3_PT = (1190.55, 841.89)
X0, Y0 = 500_000.0, 2_930_000.0  # EPSG:4545 (CGCS2000 GK CM 108°E), near Guiyang
SAMPLE = get_path("sample_county")
CHROMIUM = _chromium.find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (scripts/system-deps.sh)")


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def part(tmp_path_factory) -> Path:
    """grids.gpkg of the sample county, made by the partition command."""
    out = tmp_path_factory.mktemp("part")
    code = main(["--quiet", "partition", str(SAMPLE / "communities.gpkg"), "--buildings",
                 str(SAMPLE / "buildings.gpkg"), "--streets", str(SAMPLE / "streets.gpkg"), "-o", str(out)])
    assert code == 0
    return out / "grids.gpkg"


@pytest.fixture(scope="module")
def grids(part) -> gpd.GeoDataFrame:
    return read_layer(part, layer="grids")


def _expected_worker(grids: gpd.GeoDataFrame, code: str) -> str:
    """The worker round-robin gives a grid, worked out from workers.csv by hand."""
    crew = pd.read_csv(SAMPLE / "workers.csv", dtype=str)
    community = grids.loc[grids["grid_code"] == code, "community_code"].item()
    mine = sorted(grids.loc[grids["community_code"] == community, "grid_code"])
    names = crew.loc[crew["community_code"] == community, "name"].tolist()
    return names[mine.index(code) % len(names)]


def _photo(folder: Path, worker_id: str) -> Path:
    folder.mkdir(exist_ok=True)
    rgb = np.zeros((160, 120, 3), np.uint8)
    rgb[..., 0] = np.linspace(30, 220, 160)[:, None]
    rgb[..., 2] = 140
    path = folder / f"{worker_id}.png"
    Image.fromarray(rgb).save(path)
    return path


def _blocked_page_check(html: Path, script: str = "() => null"):
    """Load ``html`` in Chromium with every request but file: and data: aborted; return
    (failed requests, console errors, page text, the script's result)."""
    with Browser(width=1587, height=1123) as browser:
        loaded = browser.open(html, settle_ms=0)
        loaded.evaluate("document.fonts.ready.then(() => true)")
        text = loaded.page.inner_text("body")
        result = loaded.evaluate(script)
        failed, errors = loaded.blocked + loaded.failed, loaded.errors
    return failed, errors, text, result


_OVERFLOW = """() => {
  const out = [];
  const board = document.querySelector('.board').getBoundingClientRect();
  for (const el of document.querySelectorAll('.board *')) {
    if (el.closest('svg')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > board.right + 1 || r.bottom > board.bottom + 1 || r.left < board.left - 1) out.push(el.className || el.tagName);
    if (el.scrollHeight > el.clientHeight + 2 && getComputedStyle(el).overflow === 'hidden') out.push('clipped ' + (el.className || el.tagName));
  }
  const aside = document.querySelector('aside').getBoundingClientRect();
  const last = [...document.querySelectorAll('ol.duties li')].pop().getBoundingClientRect();
  if (last.bottom > aside.bottom + 1) out.push('duties below the column');
  const photo = document.querySelector('.photo img');
  return {problems: out, photo: photo ? photo.naturalWidth : null};
}"""


# ----------------------------------------------------------------------------- one board, all formats


@pytest.fixture(scope="module")
def board(grids, part, tmp_path_factory):
    """One sample board written as HTML, PDF and PNG, with a photo and community contacts."""
    folder = tmp_path_factory.mktemp("board")
    code = sorted(grids.loc[grids["community_code"] == "520199001001", "grid_code"])[10]
    table = read_workers(SAMPLE / "workers.csv")
    crew = workers_for_grids(grids, table)
    worker_id = crew.loc[crew["grid_code"] == code, "worker_id"].item()
    _photo(folder / "photos", worker_id)
    contacts = folder / "contacts.csv"
    contacts.write_text("community_code,name,phone\n520199001001,文昌社区居委会,0851-8800-1001\n"
                        ",街道综治中心,0851-8800-2000\n520199001002,凤凰社区居委会,0851-8800-1002\n", encoding="utf-8")
    paths = boards_for_grids(
        grids, folder / "out", grid_codes=[code], buildings=read_layer(part, layer="buildings"),
        streets=read_layer(SAMPLE / "streets.gpkg"), workers=table, contacts=read_contacts(contacts),
        photos=folder / "photos", issued=date(2026, 3, 5), renderer="chromium")
    return code, paths


@needs_chromium
def test_board_files_are_written_with_an_index(board):
    code, paths = board
    assert [p.name for p in paths] == [f"{code}.html", f"{code}.pdf", f"{code}.png", "index.html"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert f'href="{code}.pdf"' in paths[-1].read_text(encoding="utf-8")


@needs_chromium
def test_board_pdf_is_one_a3_landscape_page(board):
    info = subprocess.run(["pdfinfo", str(board[1][1])], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE)
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert abs(w - A3_PT[0]) <= 1 and abs(h - A3_PT[1]) <= 1
    text = subprocess.run(["pdftotext", str(board[1][1]), "-"], capture_output=True, text=True, check=True).stdout
    assert "网格公示牌" in text and f"文昌社区第{int(board[0][-3:])}网格" in text  # real text, CJK glyphs embedded


@needs_chromium
def test_board_png_has_a3_shape_and_is_not_blank(board):
    with Image.open(board[1][2]) as im:
        rgb = np.asarray(im.convert("RGB"))
    h, w, _ = rgb.shape
    assert abs(w / h - 420 / 297) < 0.005
    assert 2300 < w < 2700  # about 150 dpi across 420 mm
    non_white = (rgb < 235).any(axis=2).mean()
    colours = len(np.unique(rgb.reshape(-1, 3)[::7], axis=0))
    assert non_white > 0.3 and colours > 200
    # the map panel (left half, below the title band) is drawn, not empty
    panel = rgb[int(h * 0.2):int(h * 0.85), int(w * 0.05):int(w * 0.55)]
    assert len(np.unique(panel.reshape(-1, 3)[::11], axis=0)) > 30


@needs_chromium
def test_board_html_is_self_contained_and_loads_offline(board, grids):
    code, paths = board
    html = paths[0].read_text(encoding="utf-8")
    assert not re.search(r"https?:", html, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", html)
    assert not re.search(r"url\((?!#)", html)  # only references to the page's own filters (label halos)
    failed, errors, text, result = _blocked_page_check(paths[0], _OVERFLOW)
    assert failed == [] and errors == []
    row = grids.loc[grids["grid_code"] == code].iloc[0]
    serial = int(code[-3:])
    assert "网格公示牌" in text and f"文昌社区第{serial}网格" in text and code in text
    assert f"{int(row['households']):,}" in text
    assert f"约{round(row['households'] * 2.62):,}" in text
    assert _expected_worker(grids, code) in text
    assert "文昌社区居委会" in text and "街道综治中心" in text and "凤凰社区居委会" not in text
    assert "2026年3月5日" in text and "12345" in text
    assert result["problems"] == [] and result["photo"] == 120


def test_board_html_counts_and_population(tmp_path):
    grids = _lattice(2, 2)
    page = board_html("520102001001004", grids, issued=date(2024, 1, 2))
    assert 'data-value="约786"' in page  # 300 households x 2.62 = 786
    assert "520102001001004.html" in page and "第4网格" in page
    page = board_html("520102001001004", grids.assign(population=[1, 2, 3, 901]))
    assert 'data-value="901"' in page and "人口取自网格数据" in page
    page = board_html("520102001001004", grids, persons_per_household=3.0, lang="en")
    assert 'data-value="900"' in page and "Grid Notice Board" in page and "Grid 4" in page


def test_board_map_draws_the_grid_and_labels_its_neighbours():
    grids = _lattice(3, 3)
    page = board_html("520102001001005", grids)  # the centre cell
    svg = page[page.index('<svg class="map"'):page.index("</svg>", page.index('<svg class="map"'))]
    labels = re.findall(r'class="label-neighbour"[^>]*>([^<]+)<', svg)
    # every label names a real neighbour once; the four sharing an edge always have room
    assert len(labels) == len(set(labels)) and set(labels) <= {f"第{i}网格" for i in (1, 2, 3, 4, 6, 7, 8, 9)}
    assert {"第2网格", "第4网格", "第6网格", "第8网格"} <= set(labels)
    assert re.findall(r'class="label-grid"[^>]*>([^<]+)<', svg) == ["第5网格"]
    assert 'class="north"' in svg and 'class="scale"' in svg


def test_board_area_and_buildings_are_counted_when_the_grids_lack_them():
    grids = _lattice(1, 2).drop(columns=["area_m2"])
    houses = gpd.GeoDataFrame(geometry=[shapely.box(X0 + x, Y0 - 100, X0 + x + 8, Y0 - 92) for x in (20, 40, 260)],
                              crs=grids.crs)
    page = board_html("520102001001001", grids, buildings=houses.to_crs(4490))
    assert re.search(r'stat-area.*?data-value="40,000"', page)  # a 200 m x 200 m cell
    assert re.search(r'stat-buildings.*?data-value="2"', page)


def test_board_with_routes_marks_the_base():
    grids = _lattice(1, 1)
    route = gpd.GeoDataFrame({"grid_code": ["520102001001001"]},
                             geometry=[shapely.LineString([(X0 + 50, Y0 - 50), (X0 + 150, Y0 - 50)])], crs=grids.crs)
    page = board_html("520102001001001", grids, routes=route)
    assert "巡查起点" in page and "<circle" in page


def test_board_qr_points_at_the_published_url():
    grids = _lattice(1, 1)
    page = board_html("520102001001001", grids, base_url="https://grid.example.gov.cn/boards/")
    assert 'title="https://grid.example.gov.cn/boards/520102001001001.html"' in page
    assert 'class="qr-code"' in page


@needs_chromium
def test_crowded_board_still_fits_its_page(tmp_path):
    grids = _lattice(1, 2)
    workers = pd.DataFrame({"worker_id": ["A", "B", "C"], "name": ["欧阳建国", "司马秀英", "诸葛明"],
                            "phone": ["138-0000-0101", "138-0000-0102", "138-0000-0103"],
                            "grid_code": "520102001001001"})
    contacts = pd.DataFrame({"community_code": "520102001001", "grid_code": "",
                             "name": [f"社区服务站第{i}窗口（民政、社保、计生）" for i in range(6)],
                             "phone": [f"0851-8800-10{i:02d}" for i in range(6)]})
    page = tmp_path / "b.html"
    page.write_text(board_html("520102001001001", grids, workers=workers, contacts=contacts), encoding="utf-8")
    failed, errors, text, result = _blocked_page_check(page, _OVERFLOW)
    assert failed == [] and errors == [] and result["problems"] == []
    assert "诸葛明" in text and "社区服务站第5窗口" in text


def test_matplotlib_renderer_makes_a3_pdf_and_png(grids, tmp_path):
    code = grids["grid_code"].iat[0]
    paths = boards_for_grids(grids, tmp_path / "out", grid_codes=[code], renderer="matplotlib",
                             formats=["pdf", "png"])
    assert [p.name for p in paths] == [f"{code}.pdf", f"{code}.png", "index.html"]
    info = subprocess.run(["pdfinfo", str(paths[0])], capture_output=True, text=True, check=True).stdout
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE) and abs(w - A3_PT[0]) <= 1 and abs(h - A3_PT[1]) <= 1
    with Image.open(paths[1]) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert abs(rgb.shape[1] / rgb.shape[0] - 420 / 297) < 0.005 and (rgb < 235).any(axis=2).mean() > 0.2


def test_progress_counts_every_board_and_html_only_writes_no_print_files(tmp_path):
    calls = []
    grids = _lattice(2, 2)
    paths = boards_for_grids(grids, tmp_path / "out", formats=["html"], grid_codes=["520102001001003", "520102001001001"],
                             progress=lambda done, total, label: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    assert [p.name for p in paths] == ["520102001001003.html", "520102001001001.html", "index.html"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def test_unknown_grid_code_is_refused_before_writing(grids, tmp_path):
    with pytest.raises(ParameterError, match="999"):
        boards_for_grids(grids, tmp_path / "out", grid_codes=["520199001001999"], formats=["html"])
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- workers


def test_workers_shared_round_robin_by_hand():
    grids = pd.DataFrame({"grid_code": ["C3", "C1", "C2", "V1"], "community_code": ["c", "c", "c", "v"]})
    crew = pd.DataFrame({"worker_id": ["w1", "w2", "v1", "v2", "g"], "name": list("abcde"), "phone": "1",
                         "community_code": ["c", "c", "v", "v", ""], "grid_code": ["", "", "", "", "C2"]})
    out = workers_for_grids(grids, crew)
    pairs = sorted(zip(out["grid_code"], out["worker_id"], out["assigned_by"], strict=True))
    # C2 has its own worker: w1, w2 share C1 and C3; the village's two workers both serve V1
    assert pairs == [("C1", "w1", "round-robin"), ("C2", "g", "grid_code"), ("C3", "w2", "round-robin"),
                     ("V1", "v1", "round-robin"), ("V1", "v2", "round-robin")]


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 7), st.integers(1, 9)), min_size=1, max_size=4))
def test_round_robin_serves_every_grid_and_uses_every_worker(sizes):
    grids, crew = [], []
    for c, (n_grids, n_workers) in enumerate(sizes):
        grids += [(f"52010200100{c}{g:03d}", f"c{c}") for g in range(n_grids)]
        crew += [(f"w{c}-{w}", f"c{c}") for w in range(n_workers)]
    grids = pd.DataFrame(grids, columns=["grid_code", "community_code"]).sample(frac=1, random_state=1)
    crew = pd.DataFrame(crew, columns=["worker_id", "community_code"]).assign(name="某", phone="1")
    out = workers_for_grids(grids, crew)
    assert set(out["grid_code"]) == set(grids["grid_code"]) and set(out["worker_id"]) == set(crew["worker_id"])
    assert not out.duplicated(["grid_code", "worker_id"]).any()
    for c, (n_grids, n_workers) in enumerate(sizes):
        mine = out[out["worker_id"].str.startswith(f"w{c}-")]
        assert len(mine) == max(n_grids, n_workers)
        for key in ("grid_code", "worker_id"):
            counts = mine[key].value_counts()
            assert counts.max() - counts.min() <= 1


def test_workers_errors_name_rows_and_fields():
    grids = pd.DataFrame({"grid_code": ["520102001001001"], "community_code": ["520102001001"]})
    with pytest.raises(MissingFieldError, match="phone"):
        workers_for_grids(grids, pd.DataFrame({"worker_id": ["a"], "name": ["b"], "grid_code": ["x"]}))
    bad = pd.DataFrame({"worker_id": ["a", "b"], "name": ["甲", "乙"], "phone": ["1", "2"],
                        "grid_code": ["520102001001001", "520102001001777"]})
    with pytest.raises(InputDataError, match="520102001001777") as err:
        workers_for_grids(grids, bad)
    assert err.value.feature_ids == [1] and err.value.field == "grid_code"
    bad = pd.DataFrame({"worker_id": ["a"], "name": ["甲"], "phone": ["1"], "community_code": ["520102001009"]})
    with pytest.raises(InputDataError, match="520102001009"):
        workers_for_grids(grids, bad)


def test_contacts_without_a_phone_are_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("community_code,name,phone\n520102001001,居委会,\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="phone") as err:
        read_contacts(path)
    assert err.value.feature_ids == [0] and str(path) in str(err.value)


# ----------------------------------------------------------------------------- pieces


def test_find_chromium_honours_the_environment(monkeypatch, tmp_path):
    fake = tmp_path / "not-a-browser"
    fake.write_text("")
    monkeypatch.setenv(_chromium.ENV_VAR, str(fake))
    with pytest.raises(DependencyError, match=_chromium.ENV_VAR):
        _chromium.find_chromium()
    if CHROMIUM is not None:
        monkeypatch.setenv(_chromium.ENV_VAR, str(CHROMIUM))
        assert _chromium.find_chromium() == CHROMIUM


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.floats(5.0, 5e5))
def test_scale_bar_is_a_round_length_under_a_fifth_of_the_view(view_m):
    length, label = _scale_bar(view_m)
    mantissa = length / 10 ** np.floor(np.log10(length))
    assert round(mantissa, 9) in (1, 2, 5) and view_m / 12.5 < length <= view_m / 5 + 1e-9
    assert label.endswith("km" if length >= 1000 else " m")


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 30), st.booleans()),
                min_size=1, max_size=8))
def test_svg_path_has_one_subpath_per_ring_or_line(shapes):
    geoms = []
    for x, y, size, hole in shapes:
        box = shapely.box(x, y, x + size, y + size)
        geoms.append(box.difference(shapely.box(x + size / 4, y + size / 4, x + size / 2, y + size / 2)) if hole
                     and size > 3 else shapely.LineString([(x, y), (x + size, y + size / 3)]) if size % 2 else box)
    d = svg_path(geoms)
    rings = int(shapely.get_num_interior_rings(geoms).sum()) + sum(g.geom_type == "Polygon" for g in geoms)
    lines = sum(g.geom_type == "LineString" for g in geoms)
    assert d.count("M") == rings + lines and d.count("Z") == rings
    assert len(re.findall(r"[ML]", d)) == int(shapely.get_num_coordinates(geoms).sum())


# ----------------------------------------------------------------------------- command line


@needs_chromium
def test_cli_one_grid_all_formats(part, grids, tmp_path, capsys):
    code = max(grids.loc[grids["community_code"] == "520199001003", "grid_code"])
    out = tmp_path / "boards"
    rc = main(["--quiet", "board", str(part), "--grid", code, "--workers", str(SAMPLE / "workers.csv"),
               "--streets", str(SAMPLE / "streets.gpkg"), "--date", "2026-01-15", "-o", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 0
    assert "round-robin" in stdout and "chromium" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{code}.html", f"{code}.pdf", f"{code}.png", "index.html"])
    html = (out / f"{code}.html").read_text(encoding="utf-8")
    assert _expected_worker(grids, code) in html and "2026年1月15日" in html


def test_cli_all_grids_html_only(part, grids, tmp_path, capsys):
    out = tmp_path / "boards"
    rc = main(["--quiet", "board", str(part), "--format", "html", "--workers", str(SAMPLE / "workers.csv"),
               "-o", str(out)])
    assert rc == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{c}.html" for c in grids["grid_code"]] + ["index.html"])
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count("<tr>") == len(grids) + 1
    assert f"{len(grids)} boards" in capsys.readouterr().out
    for code in grids["grid_code"].iloc[::17]:
        assert _expected_worker(grids, code) in (out / f"{code}.html").read_text(encoding="utf-8")


def test_cli_reads_routes_and_bases_of_patrol_plan(tmp_path, capsys):
    grids = _lattice(1, 2)
    grids.to_file(tmp_path / "grids.gpkg", layer="grids")
    routes = gpd.GeoDataFrame({"grid_code": ["520102001001001", "520102001001002"]},
                              geometry=[shapely.LineString([(X0 + 20, Y0 - 20), (X0 + 180, Y0 - 20)]), None], crs=4545)
    bases = gpd.GeoDataFrame({"grid_code": ["520102001001001"]}, geometry=[shapely.Point(X0 + 100, Y0 - 100)], crs=4545)
    routes.to_file(tmp_path / "routes.gpkg", layer="routes")
    bases.to_file(tmp_path / "routes.gpkg", layer="bases")
    out = tmp_path / "boards"
    rc = main(["--quiet", "board", str(tmp_path / "grids.gpkg"), "--routes", str(tmp_path / "routes.gpkg"),
               "--format", "html", "-o", str(out)])
    assert rc == 0
    assert "520102001001002" in capsys.readouterr().out  # the grid without a route is named
    first = (out / "520102001001001.html").read_text(encoding="utf-8")
    second = (out / "520102001001002.html").read_text(encoding="utf-8")
    assert "巡查起点" in first and "巡查路线" in first and "巡查起点" not in second
    # the base is the point of the bases layer (the cell's centre), not the route's start
    cx, cy = map(float, re.search(r'<circle cx="([\d.]+)" cy="([\d.]+)"', first).groups())
    grid_path = re.search(r'<path d="(M[^"]+)" fill="#fff4de"', first).group(1)
    xs = [float(v) for v in re.findall(r"[ML]([\d.]+) ", grid_path)]
    ys = [float(v) for v in re.findall(r"[ML][\d.]+ ([\d.]+)", grid_path)]
    assert abs(cx - (min(xs) + max(xs)) / 2) < 1 and abs(cy - (min(ys) + max(ys)) / 2) < 1


def test_cli_bad_grid_code_exits_2_and_writes_nothing(part, tmp_path, capsys):
    out = tmp_path / "boards"
    rc = main(["board", str(part), "--grid", "520199001001999", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "520199001001999" in err and "grid_code" in err and "Traceback" not in err
    assert not out.exists()


def test_cli_workers_of_an_unknown_community_exit_3(part, tmp_path, capsys):
    crew = tmp_path / "w.csv"
    crew.write_text("worker_id,name,phone,community_code\nW1,张三,1,520199009009\n", encoding="utf-8")
    out = tmp_path / "boards"
    rc = main(["board", str(part), "--workers", str(crew), "--format", "html", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 3 and "w.csv" in err and "520199009009" in err and "community_code" in err
    assert not out.exists()


# ----------------------------------------------------------------------------- helpers


def _lattice(rows: int, cols: int, *, cell: float = 200.0) -> gpd.GeoDataFrame:
    """rows x cols square grids of one community, serials in reading order, 300 households each,
    in a local metric CRS near Guiyang (EPSG:4545)."""
    x0, y0 = X0, Y0
    boxes, codes = [], []
    for r in range(rows):
        for c in range(cols):
            boxes.append(shapely.box(x0 + c * cell, y0 - (r + 1) * cell, x0 + (c + 1) * cell, y0 - r * cell))
            codes.append(f"520102001001{len(codes) + 1:03d}")
    return gpd.GeoDataFrame({"grid_code": codes, "community_code": "520102001001", "community_name": "文昌社区",
                             "households": 300, "area_m2": cell * cell}, geometry=boxes, crs=4545)


# ----------------------------------------------------------------------------- fonts, renderers, stale boards


def _pdf_fonts(pdf: Path) -> list[str]:
    """The font types ``pdffonts`` lists for a PDF (poppler-utils)."""
    rows = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    return [re.split(r"\s{2,}", row.strip())[1] for row in rows if row.strip()]


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("renderer", [pytest.param("chromium", marks=needs_chromium), "matplotlib"])
def test_board_pdf_text_is_real_and_fonts_are_not_type3(grids, tmp_path, renderer):
    code = sorted(grids.loc[grids["community_code"] == "520199001002", "grid_code"])[1]
    paths = boards_for_grids(grids, tmp_path / "out", grid_codes=[code], renderer=renderer, formats=["pdf"],
                             streets=read_layer(SAMPLE / "streets.gpkg"))
    name = f"{grids.loc[grids['grid_code'] == code, 'community_name'].item()}第2网格"
    assert name in _pdf_text(paths[0])  # the grid's Chinese name, as text the PDF carries
    types = _pdf_fonts(paths[0])
    assert types and all(t in ("CID TrueType", "TrueType") for t in types), types  # no Type 3


def test_boards_refuse_in_one_line_on_a_machine_without_cjk_fonts(part, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    (empty / "DejaVuSans.ttf").write_bytes(Path(_dejavu()).read_bytes())  # a real font, without Chinese glyphs
    monkeypatch.setenv("GRIDKIT_FONTS", str(empty))
    out = tmp_path / "boards"
    for renderer in ("matplotlib", "auto"):
        rc = main(["board", str(part), "--grid", "520199001001001", "--renderer", renderer, "-o", str(out)])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1
        assert "no Chinese (CJK) TrueType font" in err and "GRIDKIT_FONTS" in err and "fonts-wqy-microhei" in err
        assert not out.exists()
    # HTML boards need no font here: the screen showing them has its own
    assert main(["--quiet", "board", str(part), "--grid", "520199001001001", "--format", "html", "-o", str(out)]) == 0


def test_boards_refuse_when_the_named_chromium_is_not_there(part, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(_chromium.ENV_VAR, str(tmp_path / "nowhere" / "chromium"))
    rc = main(["board", str(part), "--grid", "520199001001001", "--renderer", "chromium", "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and _chromium.ENV_VAR in err
    assert not (tmp_path / "b").exists()


def _dejavu() -> str:
    from matplotlib import font_manager

    return font_manager.findfont("DejaVu Sans")


def test_matplotlib_glyph_warnings_collapse_into_one_line(grids, tmp_path, caplog):
    code = grids["grid_code"].iat[0]
    odd = grids.assign(community_name=grids["community_name"].where(grids["grid_code"] != code, "\U00013000\U00013001社区"))
    with caplog.at_level("WARNING"):
        boards_for_grids(odd, tmp_path / "out", grid_codes=[code], renderer="matplotlib", formats=["pdf"])
    lines = [r.getMessage() for r in caplog.records if "print as boxes" in r.getMessage()]
    assert len(lines) == 1 and "2 characters" in lines[0]  # the two hieroglyphs, once, whatever the repeats


@needs_chromium
def test_cli_matplotlib_renderer_is_said_to_be_asked_for(part, tmp_path, capsys):
    rc = main(["--quiet", "board", str(part), "--grid", "520199001001001", "--format", "pdf",
               "--renderer", "matplotlib", "-o", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert rc == 0 and "matplotlib" in out
    assert "no Chromium found" not in out  # Chromium is installed: matplotlib was asked for


def test_old_boards_of_grids_that_no_longer_exist_are_removed(tmp_path):
    grids = _lattice(2, 2)
    out = tmp_path / "boards"
    first = boards_for_grids(grids, out, formats=["html"])
    (out / "notes.html").write_text("<p>the office's own page</p>", encoding="utf-8")
    (out / "520102001001004.pdf").write_bytes(b"%PDF-1.4 an old print")
    gone = "520102001001004"
    kept = grids[grids["grid_code"] != gone]
    assert [p.name for p in stale_boards(out, kept["grid_code"])] == [f"{gone}.html", f"{gone}.pdf"]
    second = boards_for_grids(kept, out, formats=["html"], grid_codes=["520102001001001"])
    names = sorted(p.name for p in out.iterdir())
    # the retired grid's board is gone; the boards of existing grids and other files stay
    assert names == sorted([p.name for p in first if gone not in p.name] + ["notes.html"])
    assert second[-1].name == "index.html" and gone not in (out / "index.html").read_text(encoding="utf-8")


def test_cli_says_which_old_boards_it_removed(part, grids, tmp_path, capsys):
    out = tmp_path / "boards"
    out.mkdir()
    (out / "520199001001099.html").write_text('<html><head><meta name="grid-code" content="520199001001099">',
                                              encoding="utf-8")
    rc = main(["--quiet", "board", str(part), "--grid", "520199001001001", "--format", "html", "-o", str(out)])
    assert rc == 0 and "removed 1 files of 1 boards" in capsys.readouterr().out
    assert not (out / "520199001001099.html").exists()


def test_demo_partition_only_points_at_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["--quiet", "demo", "--partition-only", "-o", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    named = re.findall(r"(\S+\.html)", last)
    assert named and all(Path(p).is_file() for p in named), last
    assert str(out / "partition" / "map.html") in last
