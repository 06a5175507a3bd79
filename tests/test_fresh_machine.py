"""The first README command on a machine with neither CJK system fonts nor Chromium.

A new user's machine often has neither. The test hides both from ``gridkit demo`` in a
private mount namespace (``unshare``: an empty ``/usr/share/fonts``, ``/usr/bin/chromium``
covered by ``/dev/null``) and a fresh matplotlib cache, then reads the board PDF as a print
shop would: its text must carry the grid's Chinese name, and the log may not drown in
per-glyph font warnings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import geopandas as gpd
import pytest

BARE = ("mount -t tmpfs none /usr/share/fonts && "
        "{{ [ ! -e /usr/bin/chromium ] || mount --bind /dev/null /usr/bin/chromium; }} && exec \"$@\"")


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    run = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /usr/share/fonts"],
                         capture_output=True, check=False)
    return run.returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="needs unshare with user and mount namespaces")
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (scripts/system-deps.sh)")
def test_demo_boards_are_readable_without_system_fonts_or_chromium(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "GRIDKIT_CHROMIUM": ""}
    gridkit = [sys.executable, "-c", "import sys; from gridkit_cli.main import main; sys.exit(main())"]
    run = subprocess.run(["unshare", "-rm", "sh", "-c", BARE.format(), "bare", *gridkit, "demo", "-o", str(out)],
                         capture_output=True, text=True, env=env, check=False, timeout=900)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert log.count("missing from font") <= 1, log[-3000:]
    grids = gpd.read_file(out / "partition" / "grids.gpkg", layer="grids")
    pdfs = sorted((out / "board_print").glob("*.pdf"))
    assert pdfs, sorted(p.name for p in out.iterdir())
    code = pdfs[0].stem
    name = grids.loc[grids["grid_code"] == code, "community_name"].iloc[0]
    text = subprocess.run(["pdftotext", str(pdfs[0]), "-"], capture_output=True, text=True, check=True).stdout
    assert name in text, text[:500]
    assert "matplotlib" in log  # the board step said which renderer it used, since Chromium was hidden
