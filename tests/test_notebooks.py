"""The analyst notebooks run top to bottom on the bundled data, in a real Jupyter kernel, offline.

Each notebook is executed with the network blocked inside the kernel (a first cell, added
here and not stored, makes every socket connection and name lookup to anything but the
local machine fail, and checks that it does). Every cell must print something and raise
nothing; every HTML output must load nothing from outside — checked in the HTML itself,
in each page embedded with ``<iframe srcdoc>``, and by opening each embedded map in
headless Chromium with every non-local request blocked.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from browser import Browser, chromium_available

from gridkit.maps import external_references

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: Figures each notebook must print (what it is there to show).
EXPECTED = {
    "01_partition_walkthrough": ["within ±20 % of their community's mean", "median community CV", "signoff.html"],
    "02_incidents_and_heatmaps": ["outside every grid", "mass 1.000", "raise an alert", "heatmap.html"],
    "03_patrol_and_tracks": ["fixes read", "kept; dropped", "patrol.html"],
    "04_helsinki_from_osm": ["households estimated", "components, 0 outside every grid", "helsinki.html"],
}

NETWORK_GUARD = '''
import socket as _socket

_LOCAL = {"localhost", "127.0.0.1", "::1", "", None}
_connect, _connect_ex, _getaddrinfo = _socket.socket.connect, _socket.socket.connect_ex, _socket.getaddrinfo


def _allowed(sock, address):
    return sock.family == _socket.AF_UNIX or (isinstance(address, tuple) and address[0] in _LOCAL)


def _guarded_connect(sock, address):
    if not _allowed(sock, address):
        raise ConnectionRefusedError(f"network blocked in the notebook test: {address!r}")
    return _connect(sock, address)


def _guarded_connect_ex(sock, address):
    if not _allowed(sock, address):
        raise ConnectionRefusedError(f"network blocked in the notebook test: {address!r}")
    return _connect_ex(sock, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL:
        raise _socket.gaierror(f"network blocked in the notebook test: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


_socket.socket.connect, _socket.socket.connect_ex = _guarded_connect, _guarded_connect_ex
_socket.getaddrinfo = _guarded_getaddrinfo
for _attempt in (lambda: _socket.socket().connect(("192.0.2.1", 80)),
                 lambda: _socket.create_connection(("example.org", 80), timeout=1)):
    try:
        _attempt()
    except OSError as exc:
        assert "network blocked" in str(exc), exc
    else:
        raise AssertionError("the network guard let a connection through")
print("network blocked")
'''

_SRCDOC = re.compile(r'srcdoc\s*=\s*"([^"]*)"', re.IGNORECASE)
# loads the tag check does not see: CSS url(...) / @import and Leaflet tile templates
_OTHER_LOADS = re.compile(r"""url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//|tileLayer\(\s*["'](?:https?:)?//""",
                          re.IGNORECASE)


def remote_loads(page: str) -> list[str]:
    """What an HTML output would fetch from outside, its ``srcdoc`` pages included (recursively)."""
    found = external_references(page) + [m.group(0) for m in _OTHER_LOADS.finditer(page)]
    for inner in _SRCDOC.findall(page):
        found += remote_loads(html.unescape(inner))
    return found


def test_the_offline_check_sees_what_a_plain_folium_map_loads():
    # folium's own notebook output loads Leaflet from CDNs and OpenStreetMap tiles: the check must say so
    import folium

    shown = folium.Map(location=[26.47, 106.62], zoom_start=13)._repr_html_()
    loads = remote_loads(shown)
    assert any("leaflet" in u for u in loads), loads
    assert any("tileLayer" in u for u in loads), loads


def _execute(path: Path, workdir: Path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), "clear execution counts"
    nb.cells.insert(0, nbformat.v4.new_code_cell(NETWORK_GUARD))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    guard, *cells = nb.cells
    assert "network blocked" in "".join(o.get("text", "") for o in guard.outputs)
    return [c for c in cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        yield None  # the notebooks still run; the test skips only the Chromium part, and says so
        return
    with Browser() as b:
        yield b


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline(path, tmp_path, browser):
    assert path.stem in EXPECTED, f"say in EXPECTED what {path.name} must print"
    cells = _execute(path, tmp_path)
    for cell in cells:
        assert cell.outputs, f"a cell printed nothing:\n{cell.source}"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{errors[0].ename}: {errors[0].evalue}\n{cell.source}"
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                   for c in cells for o in c.outputs)
    for expected in EXPECTED[path.stem]:
        assert expected in text, f"{path.name} no longer prints {expected!r}"
    pages = [o["data"]["text/html"] for c in cells for o in c.outputs if "text/html" in o.get("data", {})]
    for page in pages:
        assert remote_loads(page) == []
    maps = [p for p in pages if "srcdoc" in p and "leaflet" in p.lower()]
    assert maps, f"{path.name} shows no map"
    if browser is None:
        pytest.skip("the notebook ran offline; its maps were not opened: needs playwright and /usr/bin/chromium")
    for i, page in enumerate(maps):
        out = tmp_path / f"output_{i}.html"
        out.write_text(page, encoding="utf-8")
        shown = browser.open(out, wait_for="() => { const f = document.querySelector('iframe');"
                                           " return f && f.contentWindow.L && f.contentDocument"
                                           ".querySelector('.leaflet-container path, .leaflet-marker-icon'); }")
        try:
            assert shown.blocked == [] and shown.failed == [] and shown.errors == [], (
                shown.blocked, shown.failed, shown.errors)
        finally:
            shown.close()
