"""The font printed boards are set in: a TrueType CJK font, found once, or a clear refusal.

A board PDF or PNG needs a font with Chinese glyphs, or every character prints as an
empty box. It also needs TrueType outlines (``glyf``): Chromium's PDF writer embeds an
OpenType-CFF font (Noto Sans CJK, Source Han Sans, as Debian's ``fonts-noto-cjk`` ships
them) as Type 3 bitmaps-in-procedures, which some print shops refuse, and matplotlib's
PDF backend can embed only TrueType outlines as CID fonts (``pdf.fonttype: 42``).

:func:`board_font` looks, in this order, in

1. the folders named by the environment variable ``GRIDKIT_FONTS`` (separated by
   ``os.pathsep``) and nowhere else, when it is set;
2. the font of the ``paperang-p2-fonts-cjk`` package (WenQuanYi Micro Hei, installed
   with gridkit from PyPI);
3. the system's fonts (what matplotlib's font search finds: ``/usr/share/fonts``,
   ``~/.fonts``, ...; Debian ``fonts-wqy-microhei`` or ``fonts-wqy-zenhei`` qualify).

The first font that has TrueType outlines and the glyphs of a board's Chinese words
is used. When there is none, :func:`board_font` raises a one-line
:class:`~gridkit.errors.DependencyError` saying what is missing and how to get it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from struct import error as struct_error

from gridkit.errors import DependencyError

__all__ = ["ENV_VAR", "FONT_HINT", "BoardFont", "board_font", "find_cjk_font"]

logger = logging.getLogger(__name__)

#: Environment variable naming the only folder(s) to look for a board font in.
ENV_VAR = "GRIDKIT_FONTS"
#: How to get a font the boards can be printed in.
FONT_HINT = ("pip install paperang-p2-fonts-cjk (WenQuanYi Micro Hei, installed with gridkit) "
             "or apt-get install fonts-wqy-microhei")
_PACKAGE = "paperang_p2_fonts_cjk"
_EXTENSIONS = (".ttf", ".ttc", ".otf", ".otc")
#: Characters every board prints: its title, the grid's name and the figures' labels.
_PROBE = "网格公示牌社区村第户人口面积楼栋员电话职责"


@dataclass(frozen=True)
class BoardFont:
    """A TrueType font with CJK glyphs: the file, the face in it and its family name."""

    path: Path
    index: int
    family: str


def board_font() -> BoardFont:
    """The font PDF and PNG boards are set in.

    Raises
    ------
    DependencyError
        No TrueType CJK font is found where :mod:`gridkit.board.fonts` looks.
    """
    found = find_cjk_font()
    if found is None:
        raise DependencyError(f"no Chinese (CJK) TrueType font found {_where()}: board PDF/PNG text would print "
                              "as empty boxes", hint=FONT_HINT)
    return found


def find_cjk_font() -> BoardFont | None:
    """The first TrueType CJK font where :mod:`gridkit.board.fonts` looks, or None."""
    return _find(os.environ.get(ENV_VAR, ""))


@lru_cache(maxsize=8)
def _find(env: str) -> BoardFont | None:
    for path in _candidates(env):
        font = _usable(path)
        if font is not None:
            logger.info("board font: %s (%s)", font.family, font.path)
            return font
    logger.info("no TrueType CJK font found %s", _where(env))
    return None


def _where(env: str | None = None) -> str:
    env = os.environ.get(ENV_VAR, "") if env is None else env
    if env.strip():
        return f"in {ENV_VAR}={env}"
    return f"in the {_PACKAGE.replace('_', '-')} package or the system's fonts"


def _candidates(env: str) -> list[Path]:
    if env.strip():
        return [p for folder in env.split(os.pathsep) if folder.strip() for p in _font_files(Path(folder.strip()))]
    found: list[Path] = []
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is not None and spec.origin:
        found += _font_files(Path(spec.origin).parent)
    from matplotlib import font_manager

    found += sorted(Path(p) for p in font_manager.findSystemFonts(fontext="ttf"))
    return found


def _font_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in _EXTENSIONS and p.is_file())


def _usable(path: Path) -> BoardFont | None:
    """The first face of ``path`` with TrueType outlines and every probe character, or None."""
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    try:
        with open(path, "rb") as handle:
            if path.suffix.lower() in (".ttc", ".otc"):
                faces = list(TTCollection(handle, lazy=True).fonts)
            else:
                faces = [TTFont(handle, lazy=True)]
            for index, face in enumerate(faces):
                if "glyf" not in face or "cmap" not in face:
                    continue
                cmap = face.getBestCmap() or {}
                if all(ord(ch) in cmap for ch in _PROBE):
                    family = face["name"].getBestFamilyName() or path.stem
                    return BoardFont(path=path, index=index, family=str(family))
    except (TTLibError, OSError, ValueError, AssertionError, KeyError, IndexError, struct_error):
        return None
    return None
